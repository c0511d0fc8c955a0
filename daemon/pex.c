#include "pex.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "extension.h"
#include "extmsg.h"
#include "log.h"
#include "peer.h"
#include "session.h"
#include "torrent.h"

bool btd_pex_allowed(const struct btd_torrent *t)
{
    return !t->meta || !t->meta->is_private;
}

/* The address p listens on, if we know it: where we dialled, or what its `p` said. */
static bool listen_addr(const struct btd_peer *p, struct bt_peer_addr *ret)
{
    if (p->state != BTD_PEER_ACTIVE)
        return false;
    *ret = p->addr;
    if (p->incoming) {
        if (!p->ext_port)
            return false;
        ret->port = p->ext_port;
    }
    return true;
}

static bool contains(const struct bt_peer_addr *a, size_t n, const struct bt_peer_addr *x)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (btd_addr_equal(&a[i], x))
            return true;
    }
    return false;
}

/* Tells p what changed among our peers since its last message. */
static void send_update(struct btd_torrent *t, struct btd_peer *p)
{
    struct bt_peer_addr now[BT_EXT_PEX_MAX], added[BT_EXT_PEX_MAX], dropped[BT_EXT_PEX_MAX];
    size_t nnow = 0, nadded = 0, ndropped = 0, i;
    struct btd_peer *o;
    struct bt_buf b;

    for (o = t->peers; o && nnow < BT_EXT_PEX_MAX; o = o->next) {
        if (o != p && listen_addr(o, &now[nnow]))
            nnow++;
    }
    for (i = 0; i < nnow; i++) {
        if (!contains(p->pex_told, p->npex_told, &now[i]))
            added[nadded++] = now[i];
    }
    for (i = 0; i < p->npex_told && ndropped < BT_EXT_PEX_MAX; i++) {
        if (!contains(now, nnow, &p->pex_told[i]))
            dropped[ndropped++] = p->pex_told[i];
    }
    memcpy(p->pex_told, now, nnow * sizeof(now[0]));
    p->npex_told = (uint32_t)nnow;
    if (nadded == 0 && ndropped == 0)
        return;
    bt_buf_init(&b, 0);
    if (bt_ext_pex_encode(&b, added, nadded, dropped, ndropped) == 0)
        btd_ext_send(p, p->ext_pex, b.data, b.len, NULL, 0);
    bt_buf_deinit(&b);
}

void btd_pex_tick(struct btd_torrent *t)
{
    uint64_t now = uv_now(t->session->loop);
    struct btd_peer *p;

    if (!btd_pex_allowed(t))
        return;
    for (p = t->peers; p; p = p->next) {
        if (p->state != BTD_PEER_ACTIVE || !p->ext_pex || now < p->pex_due)
            continue;
        p->pex_due = now + BTD_PEX_INTERVAL_MS;
        send_update(t, p);
    }
}

void btd_pex_on_message(struct btd_peer *p, const uint8_t *payload, size_t len)
{
    struct bt_peer_addr added[BT_EXT_PEX_MAX], dropped[1];
    struct btd_torrent *t = p->torrent;
    size_t nadded, ndropped, room;

    if (!btd_pex_allowed(t))
        return; /* a private torrent takes peers from its trackers alone */
    if (bt_ext_pex_parse(payload, len, added, BT_EXT_PEX_MAX, &nadded, dropped, 0, &ndropped) < 0) {
        btd_peer_close(p, "malformed ut_pex message");
        return;
    }
    room = p->pex_taken < BTD_PEX_MAX_FROM_PEER ? BTD_PEX_MAX_FROM_PEER - p->pex_taken : 0;
    if (nadded > room)
        nadded = room;
    p->pex_taken += (uint32_t)nadded;
    btd_debug("ih=%.8s peer=%s pex: %zu peers", t->hex, p->name, nadded);
    if (nadded)
        btd_torrent_add_peers(t, added, nadded);
}
