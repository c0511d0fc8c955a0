/* Message handlers and the request pipeline of one peer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "extension.h"
#include "extmsg.h"
#include "fast.h"
#include "log.h"
#include "peer-internal.h"
#include "session.h"
#include "sha1.h"
#include "torrent.h"

static bool peer_has(const void *key, uint32_t piece)
{
    return bt_bitfield_test(&((const struct btd_peer *)key)->have, piece);
}

/* While they choke us: only their allowed-fast pieces (BEP 6). */
static bool peer_has_allowed(const void *key, uint32_t piece)
{
    return peer_has(key, piece) && btd_fast_allowed_in(key, piece);
}

static bool peer_requested(const void *key, uint32_t piece, uint32_t block)
{
    const struct btd_peer *p = key;
    uint32_t i;

    for (i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].piece == piece && p->reqs[i].begin / BTD_BLOCK_SIZE == block)
            return true;
    }
    return false;
}

void btd__peer_update_interest(struct btd_peer *p)
{
    bool want = p->interesting > 0;

    if (want == p->am_interested)
        return;
    p->am_interested = want;
    btd__peer_send_simple(p, want ? BT_WIRE_INTERESTED : BT_WIRE_NOT_INTERESTED, 0, 0, 0);
}

void btd_peer_fill_requests(struct btd_peer *p)
{
    struct btd_torrent *t = p->torrent;
    struct btd_picker_peer who = {.key = p, .has = peer_has, .requested = peer_requested};
    uint32_t piece, begin, len;
    int r;

    /* Checking: a magnet's peers kept through the stat of its files ask for nothing yet. */
    if (!t || p->state != BTD_PEER_ACTIVE || !p->am_interested || p->snubbed || t->paused ||
        !t->meta || t->state == BTD_TORRENT_CHECKING)
        return;
    if (p->peer_choking) {
        if (p->nallowed_in == 0)
            return;
        who.has = peer_has_allowed;
    }
    while (p->nreqs < p->depth && p->state == BTD_PEER_ACTIVE) {
        r = btd_picker_next(&t->picker, &who, &piece, &begin, &len);
        if (r <= 0)
            break;
        p->reqs[p->nreqs++] = (struct btd_request){
            .piece = piece, .begin = begin, .len = len, .sent_at = uv_now(p->tcp.loop)};
        btd__peer_send_simple(p, BT_WIRE_REQUEST, piece, begin, len);
    }
}

void btd__peer_release_requests(struct btd_peer *p)
{
    struct btd_torrent *t = p->torrent;
    uint32_t i;

    if (!t)
        return;
    for (i = 0; i < p->nreqs; i++)
        btd_picker_cancel(&t->picker, p->reqs[i].piece, p->reqs[i].begin);
    p->nreqs = 0;
    btd_picker_peer_gone(&t->picker, p);
}

static void remove_request(struct btd_peer *p, uint32_t i)
{
    memmove(&p->reqs[i], &p->reqs[i + 1], (p->nreqs - i - 1) * sizeof(p->reqs[0]));
    p->nreqs--;
}

void btd__peer_drop_request(struct btd_peer *p, uint32_t i)
{
    btd_picker_cancel(&p->torrent->picker, p->reqs[i].piece, p->reqs[i].begin);
    remove_request(p, i);
}

void btd_peer_cancel_block(struct btd_peer *p, uint32_t piece, uint32_t begin)
{
    uint32_t i;

    for (i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].piece == piece && p->reqs[i].begin == begin) {
            btd__peer_send_simple(p, BT_WIRE_CANCEL, piece, begin, p->reqs[i].len);
            btd_picker_cancel(&p->torrent->picker, piece, begin);
            remove_request(p, i);
            return;
        }
    }
}

/*
 * Two seeds have nothing to give each other, nor has a seed to us once we
 * have every piece we want (a partial seed: files skipped), nor a peer that
 * says it wants nothing (BEP 21 upload_only) to us then: the connection
 * goes. True if closed.
 */
bool btd__peer_close_if_both_seeding(struct btd_peer *p)
{
    if (!p->torrent->meta || !btd_picker_complete(&p->torrent->picker))
        return false;
    if (bt_bitfield_count(&p->have) == p->have.npieces)
        btd_peer_close(p, btd_picker_all_had(&p->torrent->picker)
                              ? "both seeding"
                              : "a seed, and we want no more of it");
    else if (p->ext_upload_only)
        btd_peer_close(p, "it wants nothing (upload_only), nor do we");
    else
        return false;
    return true;
}

void btd_peer_have(struct btd_peer *p, uint32_t piece)
{
    if (p->state != BTD_PEER_ACTIVE)
        return;
    btd__peer_send_simple(p, BT_WIRE_HAVE, piece, 0, 0);
    if (btd__peer_close_if_both_seeding(p))
        return;
    if (bt_bitfield_test(&p->have, piece) && p->torrent->picker.prio[piece] != BTD_PRIO_SKIP &&
        p->interesting > 0) {
        p->interesting--;
        btd__peer_update_interest(p);
    }
}

void btd__peer_set_reqq(struct btd_peer *p, uint32_t reqq)
{
    uint32_t most;

    if (reqq)
        p->ext_reqq = reqq; /* a later extension handshake without it keeps the one said */
    most = btd__peer_max_depth(p);
    if (p->depth > most)
        p->depth = most;
    /* Said after we asked for more: it drops those, so others are asked instead. */
    while (p->nreqs > most && p->state == BTD_PEER_ACTIVE)
        btd_peer_cancel_block(p, p->reqs[p->nreqs - 1].piece, p->reqs[p->nreqs - 1].begin);
}

uint32_t btd__peer_max_depth(const struct btd_peer *p)
{
    /* BEP 10: a peer that says reqq drops the requests beyond it (unsaid: 250, libtorrent's). */
    return p->ext_reqq && p->ext_reqq < BTD_PEER_MAX_REQUESTS ? p->ext_reqq : BTD_PEER_MAX_REQUESTS;
}

/* The deepest p's pipeline grows: its max depth, within the torrent's request share. */
static uint32_t depth_cap(const struct btd_peer *p)
{
    uint32_t most = btd__peer_max_depth(p), share = p->torrent ? p->torrent->request_share : 0;

    return share && share < most ? share : most;
}

void btd__peer_tick_requests(struct btd_peer *p, uint64_t now)
{
    uint64_t rate = (uint64_t)p->down.per_second;
    uint64_t want = BTD_PEER_MIN_REQUESTS + rate / BTD_BLOCK_SIZE; /* a second of its blocks */
    uint32_t most = depth_cap(p);

    /* The smoothed rate lags (a new peer's first tick sees part of a second, weighted 0.4):
     * the depth slow start reached is at most halved per tick. */
    if (want < p->depth / 2)
        want = p->depth / 2;
    if (want < BTD_PEER_MIN_REQUESTS)
        want = BTD_PEER_MIN_REQUESTS;
    p->depth = want > most ? most : (uint32_t)want;
    if (p->snubbed && now - p->snubbed_at > BTD_PEER_SNUB_MS)
        p->snubbed = false;
    if (p->nreqs > 0 && now > p->reqs[0].sent_at &&
        now - p->reqs[0].sent_at > BTD_PEER_REQUEST_TIMEOUT_MS) {
        btd_info("ih=%.8s peer=%s request timed out, giving its %u requests to others",
                 p->torrent->hex, p->name, p->nreqs);
        while (p->nreqs > 0)
            btd_peer_cancel_block(p, p->reqs[0].piece, p->reqs[0].begin);
        btd_picker_peer_gone(&p->torrent->picker, p);
        p->snubbed = true;
        p->snubbed_at = now;
        return;
    }
    btd_peer_fill_requests(p);
}

/* They have piece i: availability, interest (in the pieces we want and lack). */
void btd__peer_learn_piece(struct btd_peer *p, uint32_t i)
{
    struct btd_picker *pk = &p->torrent->picker;

    btd_picker_peer_has(pk, i);
    if (pk->state[i] != BTD_PIECE_HAVE && pk->prio[i] != BTD_PRIO_SKIP)
        p->interesting++;
}

void btd_peer_selection_changed(struct btd_peer *p)
{
    const struct btd_picker *pk = &p->torrent->picker;
    uint32_t i;

    if (p->state != BTD_PEER_ACTIVE || !p->torrent->meta || p->have.npieces != pk->piece_count)
        return; /* without the piece count yet: btd_peer_metadata_arrived counts */
    p->interesting = 0;
    for (i = 0; i < pk->piece_count && i < p->have.npieces; i++) {
        if (pk->state[i] != BTD_PIECE_HAVE && pk->prio[i] != BTD_PRIO_SKIP &&
            bt_bitfield_test(&p->have, i))
            p->interesting++;
    }
    btd__peer_update_interest(p);
    btd_peer_fill_requests(p);
}

static void on_choke(struct btd_peer *p, const struct bt_wire_msg *m)
{
    (void)m;
    p->peer_choking = true;
    if (btd_fast_on(p))
        return; /* BEP 6: each request is answered or rejected, none silently dropped */
    while (p->nreqs > 0) {
        btd_picker_cancel(&p->torrent->picker, p->reqs[0].piece, p->reqs[0].begin);
        remove_request(p, 0);
    }
    btd_picker_peer_gone(&p->torrent->picker, p);
}

static void on_unchoke(struct btd_peer *p, const struct bt_wire_msg *m)
{
    (void)m;
    p->peer_choking = false;
    btd_peer_fill_requests(p);
}

static void on_interested(struct btd_peer *p, const struct bt_wire_msg *m)
{
    p->peer_interested = m->type == BT_WIRE_INTERESTED;
    if (p->peer_interested)
        btd_upload_interested(p);
}

static void on_have(struct btd_peer *p, const struct bt_wire_msg *m)
{
    if (m->index >= p->have.npieces) {
        btd_peer_close(p, "have for a piece out of range");
        return;
    }
    if (bt_bitfield_test(&p->have, m->index))
        return;
    bt_bitfield_set(&p->have, m->index);
    btd__peer_learn_piece(p, m->index);
    if (btd__peer_close_if_both_seeding(p))
        return;
    btd__peer_update_interest(p);
    btd_peer_fill_requests(p);
}

/*
 * A bitfield may come again later (aria2c sends one instead of haves when it
 * is as short): what it adds is learnt, and a piece it no longer lists is
 * kept (a peer never loses a piece).
 */
static void on_bitfield(struct btd_peer *p, const struct bt_wire_msg *m)
{
    struct bt_bitfield bf = {0};
    uint32_t i;

    if (bt_bitfield_init(&bf, p->have.npieces) < 0 ||
        bt_bitfield_from_wire(&bf, m->data, m->data_len) < 0) {
        bt_bitfield_deinit(&bf);
        btd_peer_close(p, "malformed bitfield");
        return;
    }
    for (i = 0; i < bf.npieces; i++) {
        if (bt_bitfield_test(&bf, i) && !bt_bitfield_test(&p->have, i)) {
            bt_bitfield_set(&p->have, i);
            btd__peer_learn_piece(p, i);
        }
    }
    bt_bitfield_deinit(&bf);
    if (btd__peer_close_if_both_seeding(p))
        return;
    btd__peer_update_interest(p);
    btd_peer_fill_requests(p);
}

static void on_piece(struct btd_peer *p, const struct bt_wire_msg *m)
{
    struct btd_torrent *t = p->torrent;
    struct btd_job *job = NULL;
    bool dup = false;
    uint32_t i;
    int r;

    for (i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].piece == m->index && p->reqs[i].begin == m->begin &&
            p->reqs[i].len == m->data_len)
            break;
    }
    if (i == p->nreqs)
        return; /* not asked for (or cancelled): never stored */
    /*
     * Slow start: a block that comes while every slot is taken opens one
     * more, so from 4 the pipeline doubles each round trip (at 4 requests
     * until the first tick, a fast seeder idled between them and woke for
     * each: 4x its context switches, 1.5x its CPU). It goes on between
     * ticks, so a peer held back by its bandwidth has 1 to 2 s of blocks
     * asked for. Not while the tick has just set the depth below nreqs.
     */
    if (p->nreqs == p->depth && p->depth < depth_cap(p))
        p->depth++;
    remove_request(p, i);
    btd_picker_cancel(&t->picker, m->index, m->begin);
    p->downloaded += m->data_len;
    p->down.bytes_this_second += m->data_len;
    t->downloaded += m->data_len;
    t->down.bytes_this_second += m->data_len;
    t->session->downloaded += m->data_len;
    p->snubbed = false;
    r = btd_picker_block(&t->picker, p->book_key, m->index, m->begin, m->data,
                         (uint32_t)m->data_len, &job, &dup);
    if (r < 0) {
        btd_peer_close(p, "block that does not fit its piece");
        return;
    }
    if (!dup && t->picker.unclaimed == 0) {
        struct btd_peer *o;

        for (o = t->peers; o; o = o->next) {
            if (o != p)
                btd_peer_cancel_block(o, m->index, m->begin);
        }
    }
    if (r == 1)
        btd_torrent_piece_complete(t, job);
    if (p->state == BTD_PEER_ACTIVE)
        btd_peer_fill_requests(p);
}

static void on_request(struct btd_peer *p, const struct bt_wire_msg *m)
{
    btd_upload_request(p, m->index, m->begin, m->length);
}

static void on_cancel(struct btd_peer *p, const struct bt_wire_msg *m)
{
    btd_upload_cancel(p, m->index, m->begin, m->length);
}

static void on_ignored(struct btd_peer *p, const struct bt_wire_msg *m)
{
    (void)p;
    (void)m;
}

/* The most pieces a torrent can have: its metadata is at most BT_EXT_METADATA_MAX bytes. */
#define EARLY_MAX_BYTES ((BT_EXT_METADATA_MAX / BT_SHA1_LEN + 7) / 8)

/* A bitfield, have or have all before the metadata: kept in early_bits. */
static void note_early(struct btd_peer *p, const struct bt_wire_msg *m)
{
    uint32_t byte = m->index / 8;
    uint8_t *nb;

    if (m->type == BT_WIRE_HAVE_ALL && (p->features & BT_WIRE_FEATURE_FAST)) {
        p->early_all = true;
    } else if (m->type == BT_WIRE_BITFIELD && m->data_len <= EARLY_MAX_BYTES) {
        nb = realloc(p->early_bits, m->data_len ? m->data_len : 1);
        if (!nb) {
            btd_peer_close(p, "out of memory");
            return;
        }
        memcpy(nb, m->data, m->data_len);
        p->early_bits = nb;
        p->early_len = (uint32_t)m->data_len;
    } else if (m->type == BT_WIRE_HAVE && byte < EARLY_MAX_BYTES) {
        if (byte >= p->early_len) {
            nb = realloc(p->early_bits, byte + 1);
            if (!nb) {
                btd_peer_close(p, "out of memory");
                return;
            }
            memset(nb + p->early_len, 0, byte + 1 - p->early_len);
            p->early_bits = nb;
            p->early_len = byte + 1;
        }
        p->early_bits[byte] |= (uint8_t)(0x80u >> (m->index % 8));
    } else if (m->type == BT_WIRE_BITFIELD || m->type == BT_WIRE_HAVE ||
               m->type == BT_WIRE_HAVE_ALL) {
        btd_peer_close(p, "piece announcement over the metadata's limits");
    }
}

bool btd_peer_metadata_arrived(struct btd_peer *p)
{
    uint32_t n = p->torrent->meta->piece_count, i;
    size_t full = bt_bitfield_bytes(n);
    bool beyond = p->early_len > full;

    for (i = n; !beyond && i < p->early_len * 8u; i++)
        beyond = p->early_bits[i / 8] & (0x80u >> (i % 8));
    bt_bitfield_deinit(&p->have);
    if (beyond || bt_bitfield_init(&p->have, n) < 0) {
        btd_peer_close(p, beyond ? "announced pieces beyond the torrent's" : "out of memory");
        return false;
    }
    for (i = 0; i < n; i++) {
        if (p->early_all || (i / 8 < p->early_len && (p->early_bits[i / 8] & (0x80u >> (i % 8))))) {
            bt_bitfield_set(&p->have, i);
            btd__peer_learn_piece(p, i);
        }
    }
    free(p->early_bits);
    p->early_bits = NULL;
    p->early_len = 0;
    p->early_all = false;
    if (btd__peer_close_if_both_seeding(p))
        return false;
    btd__peer_update_interest(p);
    btd_peer_fill_requests(p);
    return p->state != BTD_PEER_CLOSING;
}

typedef void (*handler_fn)(struct btd_peer *p, const struct bt_wire_msg *m);

static const handler_fn handlers[] = {
    [BT_WIRE_CHOKE] = on_choke,
    [BT_WIRE_UNCHOKE] = on_unchoke,
    [BT_WIRE_INTERESTED] = on_interested,
    [BT_WIRE_NOT_INTERESTED] = on_interested,
    [BT_WIRE_HAVE] = on_have,
    [BT_WIRE_BITFIELD] = on_bitfield,
    [BT_WIRE_REQUEST] = on_request,
    [BT_WIRE_PIECE] = on_piece,
    [BT_WIRE_CANCEL] = on_cancel,
    [BT_WIRE_PORT] = on_ignored,
    [BT_WIRE_EXTENDED] = btd_ext_on_message,
    [BT_WIRE_SUGGEST] = btd_fast_on_suggest,
    [BT_WIRE_HAVE_ALL] = btd_fast_on_have_all,
    [BT_WIRE_HAVE_NONE] = btd_fast_on_have_none,
    [BT_WIRE_REJECT] = btd_fast_on_reject,
    [BT_WIRE_ALLOWED_FAST] = btd_fast_on_allowed_fast,
};

void btd__peer_dispatch(struct btd_peer *p, const struct bt_wire_msg *msg)
{
    size_t n = sizeof(handlers) / sizeof(handlers[0]);

    /*
     * Without metadata there are no pieces to talk about: what they have is
     * kept for later, and the rest but the extension protocol and the
     * choke and interest messages is not heard.
     */
    if (!p->torrent->meta && msg->type != BT_WIRE_EXTENDED && msg->type != BT_WIRE_CHOKE &&
        msg->type != BT_WIRE_UNCHOKE && msg->type != BT_WIRE_INTERESTED &&
        msg->type != BT_WIRE_NOT_INTERESTED) {
        note_early(p, msg);
        return;
    }
    if ((size_t)msg->type < n && handlers[msg->type])
        handlers[msg->type](p, msg);
    /* keep-alive, unknown ids and extensions we did not advertise: nothing to do */
}
