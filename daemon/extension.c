#include "extension.h"

#include <stdlib.h>
#include <string.h>

#include "extmsg.h"
#include "log.h"
#include "metadata.h"
#include "peer-internal.h"
#include "pex.h"
#include "session.h"
#include "torrent.h"

#include "btd-version.h"

void btd_ext_send(struct btd_peer *p, uint8_t their_id, const uint8_t *payload, size_t len,
                  const uint8_t *extra, size_t extra_len)
{
    uint8_t hdr[BT_WIRE_EXTENDED_HEADER_LEN];
    struct bt_buf body;

    if (bt_wire_extended_header(hdr, their_id, len + extra_len) < 0)
        return;
    bt_buf_init(&body, 0);
    if (bt_buf_append(&body, payload, len) < 0 ||
        (extra_len && bt_buf_append(&body, extra, extra_len) < 0)) {
        bt_buf_deinit(&body);
        btd_peer_close(p, "out of memory");
        return;
    }
    btd__peer_send2(p, hdr, sizeof(hdr), body.data, body.len);
    bt_buf_deinit(&body);
}

void btd_ext_send_handshake(struct btd_peer *p)
{
    struct btd_torrent *t = p->torrent;
    struct bt_ext_handshake ours = {
        .ut_metadata = BT_EXT_ID_METADATA,
        .ut_pex = btd_pex_allowed(t) ? BT_EXT_ID_PEX : 0,
        .port = t->session->listen_port,
        .reqq = BTD_UPLOAD_MAX_QUEUE,
        .metadata_size = t->meta ? (uint32_t)t->meta->info_len : 0,
        /* BEP 21: a partial seed (files skipped, the wanted ones had) wants nothing. */
        .upload_only =
            t->meta && btd_picker_complete(&t->picker) && !btd_picker_all_had(&t->picker),
    };
    struct bt_buf b;

    snprintf(ours.client, sizeof(ours.client), "btd %s", BTD_VERSION);
    bt_buf_init(&b, 0);
    if (bt_ext_handshake_encode(&b, &ours, p->addr.ip, p->addr.family == 6 ? 16 : 4) == 0)
        btd_ext_send(p, BT_EXT_ID_HANDSHAKE, b.data, b.len, NULL, 0);
    bt_buf_deinit(&b);
}

static void on_handshake(struct btd_peer *p, const struct bt_wire_msg *m)
{
    struct bt_ext_handshake hs;
    int r = bt_ext_handshake_parse(m->data, m->data_len, &hs);

    if (r < 0) {
        btd_peer_close(p, r == -EMSGSIZE ? "extension handshake over the limits"
                                         : "malformed extension handshake");
        return;
    }
    p->ext_metadata = hs.ut_metadata;
    p->ext_pex = hs.ut_pex;
    p->ext_md_size = hs.metadata_size;
    btd__peer_set_reqq(p, hs.reqq);
    p->ext_port = hs.port;
    p->ext_upload_only = hs.upload_only;
    if (hs.ut_pex)
        p->pex_due = uv_now(p->tcp.loop) + BTD_PEX_FIRST_MS;
    memcpy(p->client, hs.client, sizeof(p->client));
    btd_debug("ih=%.8s peer=%s extensions: client \"%s\" ut_metadata=%u metadata_size=%u%s",
              p->torrent->hex, p->name, hs.client, hs.ut_metadata, hs.metadata_size,
              hs.upload_only ? " upload_only" : "");
    if (hs.upload_only && btd__peer_close_if_both_seeding(p))
        return;
    if (hs.ut_metadata)
        btd_metadata_peer_ready(p);
}

void btd_ext_on_message(struct btd_peer *p, const struct bt_wire_msg *m)
{
    if (!(p->features & BT_WIRE_FEATURE_EXTENDED)) {
        btd_peer_close(p, "extended message without the extension bit");
        return;
    }
    switch (m->ext_id) {
    case BT_EXT_ID_HANDSHAKE:
        on_handshake(p, m);
        break;
    case BT_EXT_ID_METADATA:
        btd_metadata_on_message(p, m->data, m->data_len);
        break;
    case BT_EXT_ID_PEX:
        btd_pex_on_message(p, m->data, m->data_len);
        break;
    default:
        break; /* an id we never gave: ignored, as BEP 10 asks */
    }
}
