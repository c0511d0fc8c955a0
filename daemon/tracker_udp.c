#include "tracker_udp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "crypto.h"
#include "log.h"
#include "macro.h"

#define HOST_MAX 256    /* bytes of a tracker host name, NUL included */
#define MESSAGE_MAX 384 /* bytes of an error line we build */

enum call_state {
    RESOLVING,  /* uv_getaddrinfo in flight */
    CONNECTING, /* a connect request in flight */
    ANNOUNCING, /* an announce request in flight */
};

enum sock_state {
    SOCK_NONE, /* not opened yet */
    SOCK_OPEN,
    SOCK_BROKEN, /* could not open (no IPv6, say); closing or closed */
};

struct udp_call {
    struct btd_announce_call base; /* first: the public head */
    struct btd_tracker_udp *u;     /* borrowed; NULL once cancelled while resolving */
    uv_getaddrinfo_t dns;          /* in flight while state is RESOLVING */
    enum call_state state;
    bool cancelled;               /* cancelled while resolving: on_resolved frees it */
    struct bt_announce_req req;   /* a copy */
    char host[HOST_MAX];          /* from the URL */
    uint16_t port;                /* from the URL */
    struct bt_peer_addr tracker;  /* the resolved address */
    uint64_t connection_id;       /* valid in ANNOUNCING */
    uint64_t conn_expires;        /* uv_now() milliseconds: connection_id is stale after */
    uint32_t tid;                 /* transaction id of the request in flight */
    unsigned n;                   /* retransmissions so far in this stage */
    uint32_t base_ms;             /* milliseconds: first wait for a reply */
    unsigned max_n;               /* retransmissions allowed per stage */
    uint64_t deadline;            /* uv_now() milliseconds: resend or give up */
    btd_announce_cb cb;           /* NULL: detached, nobody waits */
    void *data;                   /* borrowed, handed to cb */
    struct udp_call *prev, *next; /* the client's calls in flight */
};

struct conn_entry {
    struct bt_peer_addr addr; /* the tracker */
    uint64_t id;
    uint64_t expires; /* uv_now() milliseconds; 0: an empty slot */
};

struct btd_tracker_udp {
    uv_loop_t *loop;                             /* borrowed */
    uv_udp_t sock[2];                            /* [0] IPv4, [1] IPv6 */
    enum sock_state sock_state[2];               /* of sock[0] and sock[1] */
    uv_timer_t timer;                            /* the earliest deadline of all calls */
    uv_timer_t grace;                            /* bounds the wait for detached calls at close */
    struct udp_call *calls;                      /* in flight, cancelled ones excluded */
    struct conn_entry cache[BTD_UDP_CONN_CACHE]; /* connection ids by tracker address */
    uint32_t base_ms;                            /* milliseconds, for new calls */
    unsigned max_n;                              /* for new calls */
    unsigned open_handles;              /* uv handles not closed yet; the memory goes at 0 */
    bool closing;                       /* close was asked */
    bool stopped;                       /* the handles are closing */
    uint8_t rbuf[BTD_UDP_MAX_DATAGRAM]; /* every datagram lands here */
};

static void finish_close(struct btd_tracker_udp *u);
static void arm_timer(struct btd_tracker_udp *u);

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void call_link(struct btd_tracker_udp *u, struct udp_call *c)
{
    c->prev = NULL;
    c->next = u->calls;
    if (u->calls)
        u->calls->prev = c;
    u->calls = c;
}

static void call_unlink(struct btd_tracker_udp *u, struct udp_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        u->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Removes c from the client; frees it now, or when its DNS request returns. */
static void call_drop(struct udp_call *c)
{
    call_unlink(c->u, c);
    if (c->state == RESOLVING) {
        c->cancelled = true;
        c->u = NULL;
        uv_cancel((uv_req_t *)&c->dns); /* fails if already running: fine */
        return;
    }
    free(c);
}

static void on_cancel(struct btd_announce_call *base)
{
    struct udp_call *c = (struct udp_call *)base;
    struct btd_tracker_udp *u = c->u;

    call_drop(c);
    if (u->closing && !u->calls)
        finish_close(u);
}

/* Ends c: it leaves the client, then its callback runs (which may close the client). */
static void call_finish(struct udp_call *c, int status, const struct bt_announce_result *res,
                        const char *msg)
{
    struct btd_tracker_udp *u = c->u;
    btd_announce_cb cb = c->cb;
    void *data = c->data;

    call_unlink(u, c);
    free(c);
    if (!cb && status < 0)
        btd_debug("tracker_udp: a detached announce failed: %s", msg);
    if (cb)
        cb(data, status, res, msg);
    if (u->closing && !u->calls)
        finish_close(u);
}

__attribute__((format(printf, 3, 4))) static void call_fail(struct udp_call *c, int status,
                                                            const char *fmt, ...)
{
    char msg[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    call_finish(c, status, NULL, msg);
}

static struct conn_entry *cache_find(struct btd_tracker_udp *u, const struct bt_peer_addr *a)
{
    uint64_t now = uv_now(u->loop);
    size_t i;

    for (i = 0; i < BTD_UDP_CONN_CACHE; i++) {
        struct conn_entry *e = &u->cache[i];

        if (e->expires > now && btd_addr_equal(&e->addr, a))
            return e;
    }
    return NULL;
}

/* Remembers a connection id: its own slot, an expired one, else the one expiring first. */
static void cache_put(struct btd_tracker_udp *u, const struct bt_peer_addr *a, uint64_t id,
                      uint64_t expires)
{
    struct conn_entry *slot = cache_find(u, a);
    uint64_t now = uv_now(u->loop);
    size_t i;

    for (i = 0; !slot && i < BTD_UDP_CONN_CACHE; i++) {
        if (u->cache[i].expires <= now)
            slot = &u->cache[i];
    }
    if (!slot) {
        slot = &u->cache[0];
        for (i = 1; i < BTD_UDP_CONN_CACHE; i++) {
            if (u->cache[i].expires < slot->expires)
                slot = &u->cache[i];
        }
    }
    slot->addr = *a;
    slot->id = id;
    slot->expires = expires;
}

static void cache_forget(struct btd_tracker_udp *u, const struct bt_peer_addr *a)
{
    struct conn_entry *e = cache_find(u, a);

    if (e)
        e->expires = 0;
}

/* A transaction id no other call is waiting on. */
static uint32_t new_tid(struct btd_tracker_udp *u)
{
    struct udp_call *o;
    uint32_t tid;

    for (;;) {
        bt_random_bytes(&tid, sizeof(tid));
        for (o = u->calls; o; o = o->next) {
            if (o->state != RESOLVING && o->tid == tid)
                break;
        }
        if (!o)
            return tid;
    }
}

/*
 * Sends the request of c's stage and sets its deadline. A new stage gets a
 * new transaction id; a retransmission keeps it, so a late reply to an
 * earlier copy still counts.
 */
static void call_send(struct udp_call *c, bool new_stage)
{
    struct btd_tracker_udp *u = c->u;
    uv_udp_t *sock = &u->sock[c->tracker.family == 6 ? 1 : 0];
    struct sockaddr_storage sa;
    uint8_t pkt[98];
    uv_buf_t buf;
    int r;

    if (new_stage)
        c->tid = new_tid(u);
    if (c->state == CONNECTING) {
        bt_udp_connect_req(pkt, c->tid);
        buf = uv_buf_init((char *)pkt, 16);
    } else {
        bt_udp_announce_req(pkt, c->connection_id, c->tid, &c->req);
        buf = uv_buf_init((char *)pkt, 98);
    }
    btd_addr_to_sockaddr(&c->tracker, &sa);
    /* Synchronous: nothing to keep alive. A lost send is a lost datagram. */
    r = uv_udp_try_send(sock, &buf, 1, (const struct sockaddr *)&sa);
    if (r < 0)
        btd_debug("tracker_udp: send to %s failed: %s", c->host, uv_strerror(r));
    c->deadline = uv_now(u->loop) + ((uint64_t)c->base_ms << c->n);
}

/* Enters a stage (connect, or announce with a cached id) and sends its first request. */
static void call_begin_stage(struct udp_call *c)
{
    struct btd_tracker_udp *u = c->u;
    struct conn_entry *e = cache_find(u, &c->tracker);

    c->n = 0;
    if (e) {
        c->state = ANNOUNCING;
        c->connection_id = e->id;
        c->conn_expires = e->expires;
    } else {
        c->state = CONNECTING;
    }
    call_send(c, true);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct btd_tracker_udp *u = handle->data;

    if (--u->open_handles == 0)
        free(u);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct btd_tracker_udp *u = handle->data;

    *buf = uv_buf_init((char *)u->rbuf, sizeof(u->rbuf));
}

/* Acts on a reply that belongs to c. */
static void call_reply(struct udp_call *c, const uint8_t *p, size_t len, int family)
{
    struct bt_announce_result res = {.seeders = -1, .leechers = -1};
    struct btd_tracker_udp *u = c->u;
    struct bt_error err = {""};
    uint64_t cid = 0;
    int r;

    r = bt_udp_parse_reply(p, len, c->tid, family, &cid, &res, &err);
    if (r < 0) {
        call_fail(c, r == -ENOMEM ? r : -EBADMSG, "malformed reply: %s", err.msg);
    } else if (r == BT_UDP_ERROR) {
        char msg[MESSAGE_MAX];

        cache_forget(u, &c->tracker); /* the error may be about our connection id */
        snprintf(msg, sizeof(msg), "tracker refused: %s",
                 res.failure[0] ? res.failure : "(no message)");
        call_finish(c, -EREMOTEIO, &res, msg);
    } else if (c->state == CONNECTING && r == BT_UDP_CONNECT) {
        c->connection_id = cid;
        c->conn_expires = uv_now(u->loop) + BTD_UDP_CONN_ID_TTL_MS;
        cache_put(u, &c->tracker, cid, c->conn_expires);
        c->state = ANNOUNCING;
        c->n = 0;
        call_send(c, true);
    } else if (c->state == ANNOUNCING && r == BT_UDP_ANNOUNCE) {
        call_finish(c, 0, &res, NULL);
    } else {
        call_fail(c, -EBADMSG, "malformed reply: action %d in answer to a%s request", r,
                  c->state == CONNECTING ? " connect" : "n announce");
    }
    bt_announce_result_deinit(&res);
}

static void on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    struct btd_tracker_udp *u = handle->data;
    int family = handle == &u->sock[1] ? 6 : 4;
    struct bt_peer_addr from;
    struct udp_call *c;
    uint32_t tid;

    if (nread < 8 || !addr || btd_addr_from_sockaddr(addr, &from) < 0)
        return; /* an error, nothing, or too short to name a transaction */
    tid = get_be32((const uint8_t *)buf->base + 4);
    for (c = u->calls; c; c = c->next) {
        if (c->state != RESOLVING && c->tid == tid && btd_addr_equal(&c->tracker, &from))
            break;
    }
    if (!c) {
        btd_debug("tracker_udp: dropped %zd bytes with an unknown transaction id", nread);
        return;
    }
    if (flags & UV_UDP_PARTIAL)
        call_fail(c, -EMSGSIZE, "reply larger than %d bytes", BTD_UDP_MAX_DATAGRAM);
    else
        call_reply(c, (const uint8_t *)buf->base, (size_t)nread, family);
    arm_timer(u);
}

/* Opens the socket of one family on first use. 0 or a negative errno. */
static int sock_open(struct btd_tracker_udp *u, int idx)
{
    struct sockaddr_storage any;
    uv_udp_t *s = &u->sock[idx];
    int r;

    if (u->sock_state[idx] == SOCK_OPEN)
        return 0;
    if (u->sock_state[idx] == SOCK_BROKEN)
        return -EAFNOSUPPORT;
    u->sock_state[idx] = SOCK_BROKEN;
    r = uv_udp_init(u->loop, s);
    if (r < 0)
        return r;
    s->data = u;
    u->open_handles++;
    if (idx == 1)
        r = uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
    else
        r = uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
    if (r == 0)
        r = uv_udp_bind(s, (const struct sockaddr *)&any, idx == 1 ? UV_UDP_IPV6ONLY : 0);
    if (r == 0)
        r = uv_udp_recv_start(s, on_alloc, on_recv);
    if (r < 0) {
        uv_close((uv_handle_t *)s, on_handle_closed);
        return r;
    }
    u->sock_state[idx] = SOCK_OPEN;
    return 0;
}

/* Picks the first resolved address whose family has a socket. */
static int pick_address(struct btd_tracker_udp *u, const struct addrinfo *ai,
                        struct bt_peer_addr *ret)
{
    int r = -EAFNOSUPPORT;

    for (; ai; ai = ai->ai_next) {
        if (btd_addr_from_sockaddr(ai->ai_addr, ret) < 0)
            continue;
        r = sock_open(u, ret->family == 6 ? 1 : 0);
        if (r == 0)
            return 0;
    }
    return r;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct udp_call *c = container_of(req, struct udp_call, dns);
    struct btd_tracker_udp *u = c->u;
    int r = status;

    if (c->cancelled) {
        uv_freeaddrinfo(ai);
        free(c);
        return;
    }
    if (r == 0)
        r = pick_address(u, ai, &c->tracker);
    uv_freeaddrinfo(ai);
    if (status < 0) {
        call_fail(c, -EHOSTUNREACH, "cannot resolve %s: %s", c->host, uv_strerror(status));
        return;
    }
    if (r < 0) {
        call_fail(c, r, "no usable address for %s: %s", c->host, uv_strerror(r));
        return;
    }
    c->tracker.port = c->port;
    call_begin_stage(c);
    arm_timer(u);
}

/* Resends or fails every call whose deadline has passed. */
static void on_timer(uv_timer_t *timer)
{
    struct btd_tracker_udp *u = timer->data;
    uint64_t now = uv_now(u->loop);
    struct udp_call *c;
    bool stale;

    for (;;) {
        for (c = u->calls; c; c = c->next) {
            if (c->state != RESOLVING && c->deadline <= now)
                break;
        }
        if (!c)
            break;
        if (c->n >= c->max_n) {
            call_fail(c, -ETIMEDOUT, "no reply from %s:%u (%u requests sent)", c->host,
                      (unsigned)c->port, c->n + 1);
            if (u->stopped)
                return;
            continue;
        }
        c->n++;
        stale = c->state == ANNOUNCING && c->conn_expires <= now;
        if (stale) {
            c->state = CONNECTING; /* the connection id went stale while we waited */
            cache_forget(u, &c->tracker);
        }
        call_send(c, stale);
    }
    arm_timer(u);
}

static void arm_timer(struct btd_tracker_udp *u)
{
    uint64_t now = uv_now(u->loop), first = UINT64_MAX;
    struct udp_call *c;

    if (u->stopped)
        return;
    for (c = u->calls; c; c = c->next) {
        if (c->state != RESOLVING && c->deadline < first)
            first = c->deadline;
    }
    if (first == UINT64_MAX)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_timer, first > now ? first - now : 0, 0);
}

struct btd_announce_call *btd_tracker_udp_announce(struct btd_tracker_udp *u, const char *url,
                                                   const struct bt_announce_req *req,
                                                   btd_announce_cb cb, void *data)
{
    struct addrinfo hints;
    struct udp_call *c;
    char port[8];

    if (u->closing)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (bt_announce_udp_url(url, c->host, sizeof(c->host), &c->port) < 0) {
        free(c);
        return NULL;
    }
    c->base.cancel = on_cancel;
    c->u = u;
    c->req = *req;
    c->base_ms = u->base_ms;
    c->max_n = u->max_n;
    c->cb = cb;
    c->data = data;
    c->state = RESOLVING;
    snprintf(port, sizeof(port), "%u", (unsigned)c->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    if (uv_getaddrinfo(u->loop, &c->dns, on_resolved, c->host, port, &hints) < 0) {
        free(c);
        return NULL;
    }
    call_link(u, c);
    return &c->base;
}

void btd_tracker_udp_set_retransmit(struct btd_tracker_udp *u, uint32_t base_ms, unsigned max_n)
{
    u->base_ms = base_ms > 0 ? base_ms : 1;
    u->max_n = max_n < BTD_UDP_MAX_N ? max_n : BTD_UDP_MAX_N; /* base << max_n must not overflow */
}

int btd_tracker_udp_open(struct btd_tracker_udp **ret, uv_loop_t *loop)
{
    struct btd_tracker_udp *u = calloc(1, sizeof(*u));

    if (!u)
        return -ENOMEM;
    u->loop = loop;
    u->base_ms = BTD_UDP_RETRANSMIT_BASE_MS;
    u->max_n = BTD_UDP_DEFAULT_MAX_N;
    uv_timer_init(loop, &u->timer);
    uv_timer_init(loop, &u->grace);
    u->timer.data = u;
    u->grace.data = u;
    u->open_handles = 2;
    *ret = u;
    return 0;
}

/* Drops every call and closes every handle; the memory goes in the last close callback. */
static void finish_close(struct btd_tracker_udp *u)
{
    int i;

    if (u->stopped)
        return;
    u->stopped = true;
    while (u->calls)
        call_drop(u->calls);
    for (i = 0; i < 2; i++) {
        if (u->sock_state[i] == SOCK_OPEN) {
            u->sock_state[i] = SOCK_BROKEN;
            uv_close((uv_handle_t *)&u->sock[i], on_handle_closed);
        }
    }
    uv_close((uv_handle_t *)&u->timer, on_handle_closed);
    uv_close((uv_handle_t *)&u->grace, on_handle_closed);
}

static void on_grace(uv_timer_t *timer)
{
    struct btd_tracker_udp *u = timer->data;

    if (u->calls)
        btd_debug("tracker_udp: %s", "giving up on detached announces at close");
    finish_close(u);
}

void btd_tracker_udp_close(struct btd_tracker_udp *u, uint32_t grace_ms)
{
    struct udp_call *c, *next;

    if (!u || u->closing)
        return;
    u->closing = true;
    for (c = u->calls; c; c = next) {
        next = c->next;
        if (c->cb)
            call_drop(c);
    }
    if (!u->calls || grace_ms == 0)
        finish_close(u);
    else
        uv_timer_start(&u->grace, on_grace, grace_ms, 0);
}
