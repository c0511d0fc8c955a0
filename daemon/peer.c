#include "peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "extension.h"
#include "log.h"
#include "macro.h"
#include "peer-internal.h"
#include "peer_mse.h"
#include "session.h"
#include "upload.h"
#include "wire.h"

#define READ_CHUNK (64u * 1024) /* bytes offered to each read */
#define CONNECT_TIMEOUT_MS 10000
#define HANDSHAKE_TIMEOUT_MS 20000
#define IDLE_TIMEOUT_MS 180000
#define KEEPALIVE_MS 90000

struct write_req {
    uv_write_t req;
    struct btd_peer *peer; /* borrowed; valid: the handle outlives its writes */
    size_t len;            /* bytes */
    uint8_t *data;         /* owned */
};

#define MAX_CORK ((size_t)4 << 20) /* bytes of output held for one loop turn */

static void on_closed(uv_handle_t *h)
{
    struct btd_peer *p = (struct btd_peer *)h;

    bt_bitfield_deinit(&p->have);
    bt_buf_deinit(&p->out);
    free(p->early_bits);
    free(p->rbuf);
    if (p->mse)
        explicit_bzero(p->mse, sizeof(*p->mse)); /* the RC4 states */
    free(p->mse);
    free(p);
}

/* Takes an unmatched incoming peer off the session's list. */
static void unlink_incoming(struct btd_peer *p)
{
    struct btd_peer **pp;

    for (pp = &p->session->incoming; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->session->nincoming--;
            p->next = NULL;
            return;
        }
    }
}

void btd_peer_close(struct btd_peer *p, const char *reason)
{
    struct btd_torrent *t = p->torrent;

    if (p->state == BTD_PEER_CLOSING)
        return;
    if (!t && p->incoming) {
        unlink_incoming(p);
        btd_debug("peer=%s closed before its handshake matched: %s", p->name, reason);
    }
    if (p->state == BTD_PEER_CONNECTING && t)
        t->session->half_open--;
    btd_peer_mse_closing(p);
    p->state = BTD_PEER_CLOSING;
    p->close_reason = reason;
    if (p->dirty) {
        struct btd_peer **pp;

        for (pp = &p->session->dirty; *pp; pp = &(*pp)->dirty_next) {
            if (*pp == p) {
                *pp = p->dirty_next;
                break;
            }
        }
        p->dirty = false;
    }
    if (t) {
        btd_debug("ih=%.8s peer=%s closed: %s", t->hex, p->name, reason);
        btd__peer_release_requests(p);
        btd_torrent_peer_closed(t, p);
        p->torrent = NULL;
    }
    uv_close((uv_handle_t *)&p->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct btd_peer *p = w->peer;

    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        btd_peer_close(p, "write failed");
        return;
    }
    /* The socket took bytes: blocks held back by BTD_UPLOAD_MAX_UNSENT may go now. */
    if (p->state == BTD_PEER_ACTIVE && p->torrent && p->nserves)
        btd_upload_pump(p);
}

/* Hands the corked output to uv_write in one request. */
static void flush(struct btd_peer *p)
{
    struct write_req *w;
    uv_buf_t buf;

    if (p->state == BTD_PEER_CLOSING || p->out.len == 0)
        return;
    w = malloc(sizeof(*w));
    if (!w) {
        btd_peer_close(p, "out of memory");
        return;
    }
    w->peer = p;
    w->data = bt_buf_steal(&p->out, &w->len);
    btd_peer_mse_sending(p, w->data + p->out_sealed, w->len - p->out_sealed);
    p->out_sealed = 0;
    buf = uv_buf_init((char *)w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &buf, 1, on_written) < 0) {
        free(w->data);
        free(w);
        btd_peer_close(p, "write failed");
        return;
    }
    p->last_send = uv_now(p->tcp.loop);
}

void btd_peer_flush_all(struct btd_session *s)
{
    struct btd_peer *p;

    while (s->dirty) {
        p = s->dirty;
        s->dirty = p->dirty_next;
        p->dirty = false;
        flush(p);
    }
}

static void mark_dirty(struct btd_peer *p)
{
    if (!p->dirty) {
        p->dirty = true;
        p->dirty_next = p->session->dirty;
        p->session->dirty = p;
    }
}

/* Sends two spans as one write (a header and its payload); copies both. */
void btd__peer_send2(struct btd_peer *p, const void *a, size_t alen, const void *b, size_t blen)
{
    if (p->state == BTD_PEER_CLOSING || p->state == BTD_PEER_CONNECTING)
        return;
    if (p->out.len + alen + blen > MAX_CORK)
        flush(p);
    if (bt_buf_append(&p->out, a, alen) < 0 || bt_buf_append(&p->out, b, blen) < 0) {
        btd_peer_close(p, "out of memory");
        return;
    }
    mark_dirty(p);
}

size_t btd__peer_unsent(const struct btd_peer *p)
{
    return p->out.len + uv_stream_get_write_queue_size((const uv_stream_t *)&p->tcp);
}

uint8_t *btd__peer_send_room(struct btd_peer *p, size_t n)
{
    if (p->state == BTD_PEER_CLOSING || p->state == BTD_PEER_CONNECTING)
        return NULL;
    if (p->out.len + n > MAX_CORK)
        flush(p);
    if (p->state == BTD_PEER_CLOSING) /* the flush failed */
        return NULL;
    if (bt_buf_reserve(&p->out, n) < 0) {
        btd_peer_close(p, "out of memory");
        return NULL;
    }
    return p->out.data + p->out.len;
}

void btd__peer_send_commit(struct btd_peer *p, size_t n)
{
    p->out.len += n;
    mark_dirty(p);
}

void btd__peer_send_sealed(struct btd_peer *p, const void *a, size_t alen)
{
    if (p->state == BTD_PEER_CLOSING || p->state == BTD_PEER_CONNECTING)
        return;
    if (bt_buf_append(&p->out, a, alen) < 0) {
        btd_peer_close(p, "out of memory");
        return;
    }
    p->out_sealed = p->out.len;
    mark_dirty(p);
}

void btd__peer_send_simple(struct btd_peer *p, enum bt_wire_type type, uint32_t index,
                           uint32_t begin, uint32_t length)
{
    struct bt_wire_msg msg = {.type = type, .index = index, .begin = begin, .length = length};
    uint8_t out[BT_WIRE_FIXED_MAX];
    int n = bt_wire_encode(out, &msg);

    if (n > 0)
        btd__peer_send2(p, out, (size_t)n, NULL, 0);
}

static void encode_handshake(struct btd_peer *p, uint8_t out[BT_WIRE_HANDSHAKE_LEN])
{
    struct bt_wire_handshake hs;

    memset(&hs, 0, sizeof(hs));
    bt_wire_reserved_set(hs.reserved, BT_WIRE_FEATURE_EXTENDED | BT_WIRE_FEATURE_FAST);
    memcpy(hs.info_hash, p->torrent->info_hash, 20);
    memcpy(hs.peer_id, p->torrent->session->peer_id, 20);
    bt_wire_handshake_encode(out, &hs);
}

static void send_handshake(struct btd_peer *p)
{
    uint8_t out[BT_WIRE_HANDSHAKE_LEN];

    encode_handshake(p, out);
    btd__peer_send2(p, out, sizeof(out), NULL, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct btd_peer *p = (struct btd_peer *)h;

    (void)suggested;
    if (p->rcap - p->rlen < READ_CHUNK) {
        size_t cap = p->rlen + READ_CHUNK;
        uint8_t *nb = realloc(p->rbuf, cap);

        if (!nb) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        p->rbuf = nb;
        p->rcap = cap;
    }
    buf->base = (char *)p->rbuf + p->rlen;
    buf->len = p->rcap - p->rlen;
}

/*
 * An incoming peer's first 48 bytes name a torrent: attach to it and answer
 * with our handshake. 1 when attached, 0 for more input, < 0 when closed.
 */
static int match_incoming(struct btd_peer *p)
{
    struct bt_wire_handshake hs;
    struct btd_torrent *t;
    int r = bt_wire_handshake_parse_head(p->rbuf, p->rlen, &hs);

    if (r <= 0)
        return r;
    t = btd_session_find_hash(p->session, hs.info_hash);
    if (!t) {
        btd_peer_close(p, "handshake for a torrent we do not have");
        return -EPROTO;
    }
    if (!btd_peer_mse_matches(p, hs.info_hash)) {
        btd_peer_close(p, "handshake for another torrent than its MSE key");
        return -EPROTO;
    }
    unlink_incoming(p);
    r = bt_bitfield_init(&p->have, t->meta ? t->meta->piece_count : 0);
    if (r == 0)
        r = btd_torrent_attach(t, p);
    if (r < 0) {
        btd_peer_close(p, r == -EPERM        ? "refused: banned or paused"
                          : r == -EADDRINUSE ? "refused: too many connections from that address"
                                             : "refused: too many peers");
        return r;
    }
    btd_debug("ih=%.8s peer=%s incoming connection%s", t->hex, p->name, p->mse ? " (MSE)" : "");
    send_handshake(p);
    return 1;
}

static int on_handshake(struct btd_peer *p)
{
    struct btd_torrent *t;
    struct bt_wire_handshake hs;
    int r = p->torrent ? 1 : match_incoming(p);

    if (r <= 0)
        return r;
    t = p->torrent;
    r = bt_wire_handshake_parse(p->rbuf, p->rlen, &hs);
    if (r <= 0)
        return r;
    if (memcmp(hs.info_hash, t->info_hash, 20) != 0) {
        btd_peer_close(p, "handshake for another torrent");
        return -EPROTO;
    }
    if (memcmp(hs.peer_id, t->session->peer_id, 20) == 0) {
        t->book[p->book_key].self = true; /* ourselves: never dial again */
        btd_peer_close(p, "connected to ourselves");
        return -EPROTO;
    }
    memcpy(p->peer_id, hs.peer_id, 20);
    p->features = bt_wire_reserved_features(hs.reserved);
    p->state = BTD_PEER_ACTIVE;
    t->book[p->book_key].fails = 0;
    if (p->features & BT_WIRE_FEATURE_EXTENDED)
        btd_ext_send_handshake(p);
    btd_fast_send_have_state(p);
    btd_debug("ih=%.8s peer=%s handshake done", t->hex, p->name);
    return r;
}

/* Parses and dispatches every complete message in rbuf. */
static void process_input(struct btd_peer *p)
{
    struct bt_wire_limits lim = {0};
    struct bt_wire_msg msg;
    size_t off = 0;
    int r;

    if (p->state == BTD_PEER_HANDSHAKE) {
        r = btd_peer_mse_input(p);
        if (r <= 0) {
            if (r < 0 && p->state != BTD_PEER_CLOSING)
                btd_peer_close(p, "bad MSE handshake");
            return;
        }
        r = on_handshake(p);
        if (r <= 0) {
            if (r < 0 && p->state != BTD_PEER_CLOSING)
                btd_peer_close(p, "bad handshake");
            return;
        }
        off = (size_t)r;
    }
    lim.bitfield_len = (uint32_t)bt_bitfield_bytes(p->have.npieces);
    while (p->state == BTD_PEER_ACTIVE) {
        r = bt_wire_parse(p->rbuf + off, p->rlen - off, &lim, &msg);
        if (r == 0)
            break;
        if (r < 0) {
            btd_peer_close(p, r == -EMSGSIZE ? "message over the size limit" : "bad message");
            return;
        }
        off += (size_t)r;
        btd__peer_dispatch(p, &msg);
    }
    if (p->state == BTD_PEER_CLOSING)
        return;
    memmove(p->rbuf, p->rbuf + off, p->rlen - off);
    p->rlen -= off;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct btd_peer *p = (struct btd_peer *)stream;

    (void)buf;
    if (p->state == BTD_PEER_CLOSING)
        return;
    if (nread < 0) {
        btd_peer_close(p, nread == UV_EOF ? "peer closed the connection" : "read failed");
        return;
    }
    if (nread == 0)
        return;
    btd_peer_mse_received(p, p->rbuf + p->rlen, (size_t)nread);
    p->rlen += (size_t)nread;
    p->last_recv = uv_now(stream->loop);
    btd_bandwidth_use(p, BTD_BW_DOWN, (uint64_t)nread);
    process_input(p);
    /* Their requests of this read, served together (consecutive ones in one read). */
    if (p->state == BTD_PEER_ACTIVE && p->nserves)
        btd_upload_pump(p);
    if (p->state != BTD_PEER_CLOSING && !btd_bandwidth_allow(p, BTD_BW_DOWN)) {
        uv_read_stop(stream); /* the sender's window fills: it slows down */
        p->read_throttled = true;
        p->throttled_at = uv_now(stream->loop);
        btd_bandwidth_wait(p->session);
    }
}

bool btd_peer_bandwidth_wake(struct btd_peer *p)
{
    uint64_t now = uv_now(p->tcp.loop);
    uint32_t i;

    if (p->state == BTD_PEER_CLOSING)
        return false;
    if (p->send_throttled && p->torrent) {
        p->send_throttled = false;
        btd_upload_pump(p);
    }
    if (p->read_throttled && btd_bandwidth_allow(p, BTD_BW_DOWN)) {
        /*
         * Time we did not read does not count against their requests: each
         * is aged only by what it spent before we stopped (a request sent
         * while we were not reading counts from now).
         */
        for (i = 0; i < p->nreqs; i++) {
            uint64_t from =
                p->reqs[i].sent_at > p->throttled_at ? p->reqs[i].sent_at : p->throttled_at;

            p->reqs[i].sent_at += now - from;
        }
        p->read_throttled = false;
        if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) < 0) {
            btd_peer_close(p, "read failed");
            return false;
        }
    }
    return p->read_throttled || p->send_throttled;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct btd_peer *p = container_of(req, struct btd_peer, connect_req);

    if (p->state == BTD_PEER_CLOSING)
        return;
    if (p->torrent)
        p->torrent->session->half_open--;
    if (status < 0) {
        p->state = BTD_PEER_HANDSHAKE; /* not CONNECTING: half_open already counted down */
        btd_peer_close(p, "connect failed");
        return;
    }
    p->state = BTD_PEER_HANDSHAKE;
    p->last_recv = uv_now(p->tcp.loop);
    if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) < 0) {
        btd_peer_close(p, "read failed");
        return;
    }
    if (btd_peer_mse_dial(p)) {
        uint8_t hs[BT_WIRE_HANDSHAKE_LEN];

        encode_handshake(p, hs);
        if (btd_peer_mse_start(p, hs, sizeof(hs)) < 0)
            btd_peer_close(p, "out of memory");
        return;
    }
    send_handshake(p);
}

int btd_peer_connect(struct btd_torrent *t, uint32_t book_key, const struct bt_peer_addr *addr,
                     struct btd_peer **ret)
{
    struct btd_peer *p = calloc(1, sizeof(*p));
    struct sockaddr_storage ss;
    int r;

    if (!p)
        return -ENOMEM;
    r = bt_bitfield_init(&p->have, t->meta ? t->meta->piece_count : 0);
    if (r == 0)
        r = uv_tcp_init(t->session->loop, &p->tcp);
    if (r < 0) {
        bt_bitfield_deinit(&p->have);
        free(p);
        return r;
    }
    p->session = t->session;
    p->serial = ++t->session->next_serial;
    bt_buf_init(&p->out, 0);
    p->torrent = t;
    p->book_key = book_key;
    p->addr = *addr;
    btd_addr_format(addr, p->name, sizeof(p->name));
    p->am_choking = p->peer_choking = true;
    p->depth = BTD_PEER_MIN_REQUESTS;
    p->connected_at = uv_now(t->session->loop);
    p->state = BTD_PEER_CONNECTING;
    p->next = t->peers;
    t->peers = p;
    t->npeers++;
    t->session->peer_count++;
    t->session->half_open++;
    uv_tcp_nodelay(&p->tcp, 1);
    btd_addr_to_sockaddr(addr, &ss);
    r = 0;
    if (t->session->bind_out_set && t->session->bind_out.ss_family == ss.ss_family)
        r = uv_tcp_bind(&p->tcp, (struct sockaddr *)&t->session->bind_out, 0);
    if (r == 0)
        r = uv_tcp_connect(&p->connect_req, &p->tcp, (struct sockaddr *)&ss, on_connect);
    if (r < 0)
        btd_peer_close(p, "connect failed");
    *ret = p;
    return 0;
}

int btd_peer_accept(struct btd_session *s, uv_stream_t *server)
{
    struct btd_peer *p = calloc(1, sizeof(*p));
    struct sockaddr_storage ss;
    int len = sizeof(ss), r;

    if (!p)
        return -ENOMEM;
    r = uv_tcp_init(s->loop, &p->tcp);
    if (r < 0) {
        free(p);
        return r;
    }
    p->session = s;
    p->serial = ++s->next_serial;
    bt_buf_init(&p->out, 0);
    p->incoming = true;
    p->state = BTD_PEER_HANDSHAKE;
    p->am_choking = p->peer_choking = true;
    p->depth = BTD_PEER_MIN_REQUESTS;
    p->connected_at = p->last_recv = uv_now(s->loop);
    p->next = s->incoming;
    s->incoming = p;
    s->nincoming++;
    r = uv_accept(server, (uv_stream_t *)&p->tcp);
    if (r == 0)
        r = uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len);
    if (r == 0)
        r = btd_addr_from_sockaddr((struct sockaddr *)&ss, &p->addr);
    if (r == 0) {
        btd_addr_format(&p->addr, p->name, sizeof(p->name));
        uv_tcp_nodelay(&p->tcp, 1);
        r = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    }
    if (r < 0)
        btd_peer_close(p, "accept failed");
    return r;
}

void btd_peer_tick(struct btd_peer *p, uint64_t now)
{
    if (p->state == BTD_PEER_CONNECTING && now - p->connected_at > CONNECT_TIMEOUT_MS) {
        btd_peer_close(p, "connect timed out");
        return;
    }
    if (p->state == BTD_PEER_HANDSHAKE && now - p->connected_at > HANDSHAKE_TIMEOUT_MS) {
        btd_peer_close(p, "handshake timed out");
        return;
    }
    if (p->state != BTD_PEER_ACTIVE)
        return;
    if (now - p->last_recv > IDLE_TIMEOUT_MS) {
        btd_peer_close(p, "idle");
        return;
    }
    if (now - p->last_send > KEEPALIVE_MS)
        btd__peer_send_simple(p, BT_WIRE_KEEPALIVE, 0, 0, 0);
    btd__peer_tick_requests(p, now);
}
