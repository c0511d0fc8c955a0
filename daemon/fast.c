#include "fast.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer-internal.h"
#include "peer.h"
#include "session.h"
#include "torrent.h"

bool btd_fast_on(const struct btd_peer *p)
{
    return (p->features & BT_WIRE_FEATURE_FAST) != 0;
}

static void send_allowed(struct btd_peer *p)
{
    const struct btd_torrent *t = p->torrent;
    uint32_t set[BTD_FAST_ALLOWED], n, i;

    if (!t->meta || p->addr.family != 4 || t->picker.have == 0)
        return; /* BEP 6 defines the set for IPv4 only */
    n = bt_wire_allowed_fast(p->addr.ip, t->info_hash, t->meta->piece_count, BTD_FAST_ALLOWED, set);
    for (i = 0; i < n; i++) {
        p->allowed_out[p->nallowed_out++] = set[i];
        btd__peer_send_simple(p, BT_WIRE_ALLOWED_FAST, set[i], 0, 0);
    }
}

/* Our bitfield, built from the picker. */
static void send_bitfield(struct btd_peer *p)
{
    const struct btd_picker *pk = &p->torrent->picker;
    uint8_t hdr[BT_WIRE_BITFIELD_HEADER_LEN], *bits;
    size_t len = bt_bitfield_bytes(pk->piece_count);
    uint32_t i;

    bits = calloc(1, len ? len : 1);
    if (!bits) {
        btd_peer_close(p, "out of memory");
        return;
    }
    for (i = 0; i < pk->piece_count; i++) {
        if (pk->state[i] == BTD_PIECE_HAVE)
            bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
    bt_wire_bitfield_header(hdr, len);
    btd__peer_send2(p, hdr, sizeof(hdr), bits, len);
    free(bits);
}

void btd_fast_send_have_state(struct btd_peer *p)
{
    const struct btd_picker *pk = &p->torrent->picker;

    if (!btd_fast_on(p)) {
        if (pk->have > 0) /* BEP 3: nothing to send when we have nothing */
            send_bitfield(p);
        return;
    }
    if (pk->have == 0)
        btd__peer_send_simple(p, BT_WIRE_HAVE_NONE, 0, 0, 0);
    else if (pk->have == pk->piece_count)
        btd__peer_send_simple(p, BT_WIRE_HAVE_ALL, 0, 0, 0);
    else
        send_bitfield(p);
    send_allowed(p);
}

static bool in_set(const uint32_t *set, uint32_t n, uint32_t piece)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (set[i] == piece)
            return true;
    }
    return false;
}

bool btd_fast_allowed_out(const struct btd_peer *p, uint32_t piece)
{
    return in_set(p->allowed_out, p->nallowed_out, piece);
}

bool btd_fast_allowed_in(const struct btd_peer *p, uint32_t piece)
{
    return in_set(p->allowed_in, p->nallowed_in, piece);
}

void btd_fast_reject(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
    if (btd_fast_on(p))
        btd__peer_send_simple(p, BT_WIRE_REJECT, piece, begin, len);
}

/* A message only the Fast extension allows: closes p and returns false without it. */
static bool require_fast(struct btd_peer *p, const struct bt_wire_msg *m)
{
    if (btd_fast_on(p))
        return true;
    btd_debug("ih=%.8s peer=%s sent %s without the Fast extension", p->torrent->hex, p->name,
              bt_wire_type_name(m->type));
    btd_peer_close(p, "Fast extension message without the extension");
    return false;
}

void btd_fast_on_have_all(struct btd_peer *p, const struct bt_wire_msg *m)
{
    uint32_t i;

    if (!require_fast(p, m))
        return;
    if (bt_bitfield_count(&p->have) > 0) {
        btd_peer_close(p, "have all after other pieces");
        return;
    }
    for (i = 0; i < p->have.npieces; i++) {
        bt_bitfield_set(&p->have, i);
        btd__peer_learn_piece(p, i);
    }
    if (btd__peer_close_if_both_seeding(p))
        return;
    btd__peer_update_interest(p);
    btd_peer_fill_requests(p);
}

void btd_fast_on_have_none(struct btd_peer *p, const struct bt_wire_msg *m)
{
    require_fast(p, m); /* nothing to learn */
}

void btd_fast_on_reject(struct btd_peer *p, const struct bt_wire_msg *m)
{
    uint32_t i;

    if (!require_fast(p, m))
        return;
    for (i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].piece == m->index && p->reqs[i].begin == m->begin &&
            p->reqs[i].len == m->length) {
            btd__peer_drop_request(p, i);
            return;
        }
    }
    /* BEP 6: a reject for a request never sent closes the connection. */
    btd_peer_close(p, "reject for a request we did not send");
}

void btd_fast_on_allowed_fast(struct btd_peer *p, const struct bt_wire_msg *m)
{
    if (!require_fast(p, m))
        return;
    if (!p->torrent->meta || m->index >= p->torrent->meta->piece_count ||
        btd_fast_allowed_in(p, m->index) || p->nallowed_in >= BTD_FAST_ALLOWED_IN)
        return; /* out of range or too many: ignored, as BEP 6 allows */
    p->allowed_in[p->nallowed_in++] = m->index;
    btd_peer_fill_requests(p);
}

void btd_fast_on_suggest(struct btd_peer *p, const struct bt_wire_msg *m)
{
    require_fast(p, m); /* advice only */
}
