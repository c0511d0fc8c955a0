#include "metadata.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ban.h"
#include "bencode.h"
#include "extension.h"
#include "extmsg.h"
#include "log.h"
#include "magnet.h"
#include "metainfo.h"
#include "peer.h"
#include "session.h"
#include "sha1.h"
#include "torrent.h"

int btd_metadata_new(struct btd_metadata **ret)
{
    struct btd_metadata *md = calloc(1, sizeof(*md));

    if (!md)
        return -ENOMEM;
    *ret = md;
    return 0;
}

/* Forgets the size and every piece: the next peer's metadata_size counts. */
static void reset(struct btd_metadata *md)
{
    free(md->buf);
    free(md->got);
    free(md->asked_at);
    free(md->asked_of);
    free(md->src);
    md->buf = md->got = NULL;
    md->asked_at = md->asked_of = NULL;
    md->src = NULL;
    md->size = md->npieces = md->received = 0;
}

void btd_metadata_free(struct btd_metadata *md)
{
    if (!md)
        return;
    reset(md);
    free(md);
}

static int set_size(struct btd_metadata *md, uint32_t size)
{
    uint32_t n = bt_ext_metadata_pieces(size);

    md->buf = malloc(size);
    md->got = calloc(n, 1);
    md->asked_at = calloc(n, sizeof(*md->asked_at));
    md->asked_of = calloc(n, sizeof(*md->asked_of));
    md->src = calloc(n, sizeof(*md->src));
    if (!md->buf || !md->got || !md->asked_at || !md->asked_of || !md->src) {
        reset(md);
        return -ENOMEM;
    }
    md->size = size;
    md->npieces = n;
    return 0;
}

static uint32_t piece_len(const struct btd_metadata *md, uint32_t piece)
{
    uint32_t begin = piece * BT_EXT_METADATA_PIECE;

    return md->size - begin < BT_EXT_METADATA_PIECE ? md->size - begin : BT_EXT_METADATA_PIECE;
}

static void send_md(struct btd_peer *p, enum bt_ext_md_type type, uint32_t piece, uint32_t total,
                    const uint8_t *data, size_t len)
{
    struct bt_buf b;

    bt_buf_init(&b, 0);
    if (bt_ext_metadata_encode(&b, type, piece, total) == 0)
        btd_ext_send(p, p->ext_metadata, b.data, b.len, data, len);
    bt_buf_deinit(&b);
}

static bool usable(const struct btd_metadata *md, const struct btd_peer *p)
{
    return p->state == BTD_PEER_ACTIVE && p->ext_metadata && !p->md_bad &&
           p->ext_md_size == md->size && md->size > 0;
}

/* Pieces asked and not answered nor timed out. */
static uint32_t busy_total(const struct btd_metadata *md, uint64_t now)
{
    uint32_t i, n = 0;

    for (i = 0; i < md->npieces; i++)
        n += !md->got[i] && md->asked_at[i] && now - md->asked_at[i] < BTD_METADATA_TIMEOUT_MS;
    return n;
}

/* Whether p was asked for, or sent, a piece of this fetch. */
static bool asked_any(const struct btd_metadata *md, const struct btd_peer *p, uint64_t now)
{
    uint32_t i;

    for (i = 0; i < md->npieces; i++) {
        if (md->asked_of[i] == p->serial &&
            (md->got[i] || (md->asked_at[i] && now - md->asked_at[i] < BTD_METADATA_TIMEOUT_MS)))
            return true;
    }
    return false;
}

/* Asks every usable peer for pieces nobody is working on, up to BTD_METADATA_PER_PEER each. */
static void request_more(struct btd_torrent *t)
{
    struct btd_metadata *md = t->md;
    uint64_t now = uv_now(t->session->loop);
    struct btd_peer *p;
    uint32_t i, busy;

    for (p = t->peers; p && md && md->size; p = p->next) {
        if (!usable(md, p))
            continue;
        if (md->one_peer && md->received + busy_total(md, now) > 0 && !asked_any(md, p, now))
            continue; /* one sender per fetch: the one already asked */
        for (i = busy = 0; i < md->npieces; i++)
            busy += !md->got[i] && md->asked_at[i] && md->asked_of[i] == p->serial;
        for (i = 0; i < md->npieces && busy < BTD_METADATA_PER_PEER; i++) {
            if (md->got[i] || (md->asked_at[i] && now - md->asked_at[i] < BTD_METADATA_TIMEOUT_MS))
                continue;
            md->asked_at[i] = now;
            md->asked_of[i] = p->serial;
            send_md(p, BT_EXT_MD_REQUEST, i, 0, NULL, 0);
            busy++;
        }
    }
}

void btd_metadata_peer_ready(struct btd_peer *p)
{
    struct btd_torrent *t = p->torrent;
    struct btd_metadata *md = t->md;

    if (!md || !p->ext_md_size)
        return;
    if (md->size == 0 && set_size(md, p->ext_md_size) < 0)
        return;
    if (p->ext_md_size != md->size) {
        btd_info("ih=%.8s peer=%s says the metadata is %u bytes, others %u: not asked", t->hex,
                 p->name, p->ext_md_size, md->size);
        p->md_bad = true;
        return;
    }
    request_more(t);
}

void btd_metadata_peer_gone(struct btd_torrent *t, const struct btd_peer *p)
{
    struct btd_metadata *md = t->md;
    uint32_t i;

    for (i = 0; md && i < md->npieces; i++) {
        if (md->asked_of[i] != p->serial)
            continue;
        md->asked_at[i] = 0;
        if (md->one_peer && md->got[i]) { /* one sender per fetch: the next one starts over */
            md->got[i] = 0;
            md->received--;
        }
    }
}

void btd_metadata_tick(struct btd_torrent *t)
{
    if (t->md && t->md->size)
        request_more(t);
}

/* The .torrent for the state directory: the magnet's trackers and the info dictionary. */
static int build_torrent(const struct btd_torrent *t, const uint8_t *info, size_t len,
                         struct bt_buf *out)
{
    struct bt_magnet *mg = NULL;
    struct bt_benc e;
    size_t i;

    if (t->magnet)
        bt_magnet_parse(&mg, t->magnet, NULL);
    bt_benc_init(&e, out);
    bt_benc_dict(&e);
    if (mg && mg->tracker_count) {
        bt_benc_key(&e, "announce");
        bt_benc_cstr(&e, mg->trackers[0]);
        bt_benc_key(&e, "announce-list");
        bt_benc_list(&e);
        for (i = 0; i < mg->tracker_count; i++) {
            bt_benc_list(&e);
            bt_benc_cstr(&e, mg->trackers[i]);
            bt_benc_end(&e);
        }
        bt_benc_end(&e);
    }
    bt_benc_key(&e, "info");
    bt_benc_raw(&e, info, len);
    bt_benc_end(&e);
    bt_magnet_free(mg);
    return bt_benc_finish(&e);
}

/* The hash failed: a sole sender is banned; with several, fetch from one at a time. */
static void blame_senders(struct btd_torrent *t)
{
    struct btd_metadata *md = t->md;
    uint32_t i;
    bool sole = true;

    for (i = 1; i < md->npieces; i++)
        sole = sole && md->src[i] == md->src[0];
    if (sole)
        btd_ban_blame(t, md->src[0], BTD_BAN_BLAME);
    else
        md->one_peer = true;
}

static void complete(struct btd_torrent *t)
{
    struct btd_metadata *md = t->md;
    struct bt_error err = {{0}};
    struct bt_metainfo *m = NULL;
    uint8_t digest[BT_SHA1_LEN];
    struct bt_buf raw;
    uint8_t *data;
    size_t raw_len;
    int r;

    bt_sha1(digest, md->buf, md->size);
    if (memcmp(digest, t->info_hash, 20) != 0) {
        md->hash_fails++;
        btd_warn("ih=%.8s the metadata from peers does not match the info-hash; fetching it "
                 "again",
                 t->hex);
        blame_senders(t);
        reset(md);
        return;
    }
    bt_buf_init(&raw, 0);
    r = build_torrent(t, md->buf, md->size, &raw);
    if (r == 0)
        r = bt_metainfo_parse(&m, raw.data, raw.len, &err);
    if (r < 0) {
        /* The same rules as a .torrent file: a bad one is refused, not fixed up. */
        btd_err("ih=%.8s the metadata is not a valid torrent: %s", t->hex, err.msg);
        btd_torrent_fail(t, err.msg[0] ? err.msg : "the metadata is not a valid torrent");
        bt_buf_deinit(&raw);
        reset(md);
        return;
    }
    data = bt_buf_steal(&raw, &raw_len); /* before raw_len is read */
    btd_torrent_set_metadata(t, m, data, raw_len);
}

static void on_data(struct btd_peer *p, const struct bt_ext_metadata *msg)
{
    struct btd_torrent *t = p->torrent;
    struct btd_metadata *md = t->md;
    uint32_t i = msg->piece;

    if (!md || !md->size || i >= md->npieces || md->got[i] || md->asked_of[i] != p->serial)
        return; /* not asked of this peer (or too late): ignored */
    if (msg->total_size != md->size || msg->data_len != piece_len(md, i)) {
        btd_info("ih=%.8s peer=%s sent a metadata piece of the wrong size: not asked again", t->hex,
                 p->name);
        p->md_bad = true;
        md->asked_at[i] = 0;
        request_more(t);
        return;
    }
    memcpy(md->buf + (size_t)i * BT_EXT_METADATA_PIECE, msg->data, msg->data_len);
    md->got[i] = 1;
    md->src[i] = p->book_key;
    if (++md->received == md->npieces)
        complete(t);
    else
        request_more(t);
}

static void on_request(struct btd_peer *p, const struct bt_ext_metadata *msg)
{
    const struct bt_metainfo *m = p->torrent->meta;
    size_t begin = (size_t)msg->piece * BT_EXT_METADATA_PIECE;

    if (!m || begin >= m->info_len) {
        send_md(p, BT_EXT_MD_REJECT, msg->piece, 0, NULL, 0);
        return;
    }
    send_md(p, BT_EXT_MD_DATA, msg->piece, (uint32_t)m->info_len, m->info_raw + begin,
            m->info_len - begin < BT_EXT_METADATA_PIECE ? m->info_len - begin
                                                        : BT_EXT_METADATA_PIECE);
}

void btd_metadata_on_message(struct btd_peer *p, const uint8_t *payload, size_t len)
{
    struct btd_torrent *t = p->torrent;
    struct bt_ext_metadata msg;
    int r = bt_ext_metadata_parse(payload, len, &msg);

    if (r < 0) {
        btd_peer_close(p, "malformed ut_metadata message");
        return;
    }
    if (!p->ext_metadata)
        return; /* they never said they speak it: we could not answer */
    if (msg.type == BT_EXT_MD_REQUEST) {
        on_request(p, &msg);
    } else if (msg.type == BT_EXT_MD_DATA) {
        on_data(p, &msg);
    } else if (msg.type == BT_EXT_MD_REJECT && t->md && msg.piece < t->md->npieces &&
               t->md->asked_of[msg.piece] == p->serial) {
        t->md->asked_at[msg.piece] = 0;
        if (++p->md_rejects >= BTD_METADATA_MAX_REJECTS)
            p->md_bad = true;
        request_more(t);
    }
}
