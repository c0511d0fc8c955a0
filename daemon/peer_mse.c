#include "peer_mse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mse.h"
#include "peer-internal.h"
#include "peer.h"
#include "session.h"
#include "torrent.h"

static enum btd_encryption mode(const struct btd_peer *p)
{
    return btd_config_encryption(p->session->cfg);
}

/*
 * B's lookup: the torrent whose HASH('req2', info-hash) they sent. One
 * SHA-1 per torrent per incoming MSE connection.
 */
static bool find_torrent(void *data, const uint8_t req2[20], uint8_t ret_skey[20])
{
    struct btd_session *s = data;
    struct btd_torrent *t;
    uint8_t h[20];

    for (t = s->torrents; t; t = t->next) {
        bt_mse_req2(h, t->info_hash);
        if (memcmp(h, req2, 20) == 0) {
            memcpy(ret_skey, t->info_hash, 20);
            return true;
        }
    }
    return false;
}

bool btd_peer_mse_dial(const struct btd_peer *p)
{
    const struct btd_addr_entry *e = btd_torrent_book_entry(p->torrent, p->book_key);
    bool flip = e && e->mse_flip;

    switch (mode(p)) {
    case BTD_ENCRYPTION_REQUIRE:
        return true;
    case BTD_ENCRYPTION_PREFER_ENCRYPTED:
        return !flip;
    case BTD_ENCRYPTION_PREFER_PLAINTEXT:
        break;
    }
    return flip;
}

/* Hands what the state machine wrote to the peer's output. */
static void send_out(struct btd_peer *p, struct bt_buf *out)
{
    if (out->len)
        btd__peer_send_sealed(p, out->data, out->len);
    bt_buf_deinit(out);
}

int btd_peer_mse_start(struct btd_peer *p, const uint8_t *hs, size_t hs_len)
{
    uint32_t allowed =
        mode(p) == BTD_ENCRYPTION_PREFER_PLAINTEXT ? BT_MSE_RC4 | BT_MSE_PLAINTEXT : BT_MSE_RC4;
    struct bt_buf out;
    int r;

    p->mse = malloc(sizeof(*p->mse));
    if (!p->mse)
        return -ENOMEM;
    bt_buf_init(&out, 0);
    r = bt_mse_init_initiator(p->mse, p->torrent->info_hash, allowed, hs, hs_len, &out);
    if (r == 0)
        send_out(p, &out);
    else
        bt_buf_deinit(&out);
    btd_debug("ih=%.8s peer=%s MSE handshake started", p->torrent->hex, p->name);
    return r;
}

/* An incoming connection's first bytes: plaintext, or the start of MSE. 1, 0 or < 0. */
static int classify_incoming(struct btd_peer *p)
{
    enum btd_encryption m = mode(p);
    int r;

    if (p->rlen == 0)
        return 0;
    r = bt_mse_is_plaintext(p->rbuf, p->rlen);
    if (r < 0)
        return 0;
    if (r == 1) {
        if (m != BTD_ENCRYPTION_REQUIRE)
            return 1;
        btd_peer_close(p, "plaintext handshake refused (encryption is require)");
        return -EPROTO;
    }
    p->mse = malloc(sizeof(*p->mse));
    if (!p->mse) {
        btd_peer_close(p, "out of memory");
        return -ENOMEM;
    }
    bt_mse_init_receiver(p->mse,
                         m == BTD_ENCRYPTION_REQUIRE ? BT_MSE_RC4 : BT_MSE_RC4 | BT_MSE_PLAINTEXT,
                         m == BTD_ENCRYPTION_PREFER_PLAINTEXT, find_torrent, p->session);
    return 0;
}

int btd_peer_mse_input(struct btd_peer *p)
{
    struct bt_buf out;
    int r;

    if (!p->mse) {
        if (!p->incoming || p->torrent)
            return 1; /* dialled in plaintext, or matched a plaintext handshake */
        r = classify_incoming(p);
        if (r != 0 || !p->mse)
            return r;
    }
    if (bt_mse_done(p->mse))
        return 1;
    bt_buf_init(&out, 0);
    r = bt_mse_feed(p->mse, p->rbuf, p->rlen, &out);
    send_out(p, &out);
    if (r < 0) {
        btd_peer_close(p, p->mse->error ? p->mse->error : "MSE: bad handshake");
        return r;
    }
    memmove(p->rbuf, p->rbuf + r, p->rlen - (size_t)r);
    p->rlen -= (size_t)r;
    if (!bt_mse_done(p->mse))
        return 0;
    bt_mse_decrypt(p->mse, p->rbuf, p->rlen); /* what came with the end of the handshake */
    btd_debug("%s%.8s%speer=%s MSE handshake done (%s)", p->torrent ? "ih=" : "",
              p->torrent ? p->torrent->hex : "", p->torrent ? " " : "", p->name,
              p->mse->selected == BT_MSE_RC4 ? "RC4" : "plaintext payload");
    return 1;
}

void btd_peer_mse_received(struct btd_peer *p, uint8_t *buf, size_t n)
{
    if (p->mse && bt_mse_done(p->mse))
        bt_mse_decrypt(p->mse, buf, n);
}

void btd_peer_mse_sending(struct btd_peer *p, uint8_t *buf, size_t n)
{
    if (p->mse && bt_mse_done(p->mse))
        bt_mse_encrypt(p->mse, buf, n);
}

bool btd_peer_mse_matches(const struct btd_peer *p, const uint8_t info_hash[20])
{
    return !p->mse || memcmp(p->mse->skey, info_hash, 20) == 0;
}

bool btd_peer_mse_encrypted(const struct btd_peer *p)
{
    return p->mse && bt_mse_done(p->mse) && p->mse->selected == BT_MSE_RC4;
}

void btd_peer_mse_closing(struct btd_peer *p)
{
    struct btd_addr_entry *e;

    if (p->incoming || !p->torrent || p->state != BTD_PEER_HANDSHAKE)
        return;
    e = btd_torrent_book_entry(p->torrent, p->book_key);
    if (e)
        e->mse_flip = !e->mse_flip;
}
