#include "announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "buf.h"
#include "codec.h"

#define COMPACT4_LEN 6   /* bytes per IPv4 peer: address, port */
#define COMPACT6_LEN 18  /* bytes per IPv6 peer */
#define UDP_HEADER_LEN 8 /* bytes: action, transaction id */
#define UDP_ANNOUNCE_REPLY_MIN 20
#define URL_MAX ((size_t)8192) /* bytes of an announce URL we build */
#define REPLY_MAX_NODES 65536  /* bencode values in a reply: bounds the parser's memory */

static const char *const event_names[] = {
    [BT_EVENT_NONE] = NULL,
    [BT_EVENT_COMPLETED] = "completed",
    [BT_EVENT_STARTED] = "started",
    [BT_EVENT_STOPPED] = "stopped",
};

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void bt_announce_result_deinit(struct bt_announce_result *r)
{
    if (!r)
        return;
    free(r->failure);
    free(r->warning);
    free(r->peers);
    memset(r, 0, sizeof(*r));
    r->seeders = -1;
    r->leechers = -1;
}

/*
 * A new NUL-terminated copy of a tracker's text: at most
 * BT_ANNOUNCE_MAX_MESSAGE bytes (not cutting a UTF-8 sequence), control
 * characters replaced by '?'. NULL on ENOMEM.
 */
static char *message_dup(const uint8_t *p, size_t len)
{
    char *s;
    size_t i;

    if (len > BT_ANNOUNCE_MAX_MESSAGE) {
        len = BT_ANNOUNCE_MAX_MESSAGE;
        while (len > 0 && (p[len] & 0xc0) == 0x80)
            len--;
    }
    while (len > 0 && p[len - 1] == '\0')
        len--;
    s = malloc(len + 1);
    if (!s)
        return NULL;
    for (i = 0; i < len; i++)
        s[i] = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
    s[len] = '\0';
    return s;
}

/* The separator between the base URL and our parameters. */
static const char *query_separator(const char *base, size_t len)
{
    if (!memchr(base, '?', len))
        return "?";
    if (base[len - 1] == '?' || base[len - 1] == '&')
        return "";
    return "&";
}

char *bt_announce_http_url(const char *base_url, const struct bt_announce_req *req)
{
    size_t base_len = strcspn(base_url, "#"); /* a fragment is never sent */
    char ih[3 * 20 + 1], pid[3 * 20 + 1];
    const char *event = NULL;
    struct bt_buf b;
    int r;

    if ((size_t)req->event < sizeof(event_names) / sizeof(event_names[0]))
        event = event_names[req->event];
    bt_url_escape(ih, req->info_hash, 20);
    bt_url_escape(pid, req->peer_id, 20);
    bt_buf_init(&b, URL_MAX);
    r = bt_buf_append(&b, base_url, base_len);
    if (r == 0)
        r = bt_buf_printf(&b,
                          "%sinfo_hash=%s&peer_id=%s&port=%u&uploaded=%" PRIu64
                          "&downloaded=%" PRIu64 "&left=%" PRIu64 "&compact=1&key=%08" PRIx32,
                          query_separator(base_url, base_len), ih, pid, (unsigned)req->port,
                          req->uploaded, req->downloaded, req->left, req->key);
    if (r == 0 && req->numwant > 0)
        r = bt_buf_printf(&b, "&numwant=%" PRIu32, req->numwant);
    if (r == 0 && event)
        r = bt_buf_printf(&b, "&event=%s", event);
    if (r == 0)
        r = bt_buf_append(&b, "", 1);
    if (r != 0) {
        bt_buf_deinit(&b);
        return NULL;
    }
    return (char *)bt_buf_steal(&b, NULL);
}

/* Reads an optional non-negative integer key, clamped to UINT32_MAX. */
static int get_u32(const struct bt_bdoc *doc, const struct bt_bnode *root, const char *key,
                   uint32_t *ret, struct bt_error *err)
{
    const struct bt_bnode *n = bt_bdict_get(doc, root, key);

    if (!n)
        return 0;
    if (n->type != BT_BINT)
        return bt_error_set(err, -EBADMSG, "%s: not an integer", key);
    if (n->v.i < 0)
        return bt_error_set(err, -EBADMSG, "%s: negative", key);
    *ret = n->v.i > UINT32_MAX ? UINT32_MAX : (uint32_t)n->v.i;
    return 0;
}

/* Reads an optional count (complete, incomplete); absent or negative is -1. */
static int get_count(const struct bt_bdoc *doc, const struct bt_bnode *root, const char *key,
                     int32_t *ret, struct bt_error *err)
{
    const struct bt_bnode *n = bt_bdict_get(doc, root, key);

    if (!n)
        return 0;
    if (n->type != BT_BINT)
        return bt_error_set(err, -EBADMSG, "%s: not an integer", key);
    if (n->v.i >= 0)
        *ret = n->v.i > INT32_MAX ? INT32_MAX : (int32_t)n->v.i;
    return 0;
}

/* Reads an optional text key (failure reason, warning message) into *ret. */
static int get_text(const struct bt_bdoc *doc, const struct bt_bnode *root, const char *key,
                    char **ret, struct bt_error *err)
{
    const struct bt_bnode *n = bt_bdict_get(doc, root, key);

    if (!n)
        return 0;
    if (n->type != BT_BSTR)
        return bt_error_set(err, -EBADMSG, "%s: not a string", key);
    *ret = message_dup(bt_bstr_ptr(doc, n), n->v.s.len);
    return *ret ? 0 : bt_error_set(err, -ENOMEM, "%s: out of memory", key);
}

/* Appends the compact peers of p[0..len) (6 or 18 bytes each) while room remains. */
void bt_peer_addr_unmap(struct bt_peer_addr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (a->family != 6 || memcmp(a->ip, mapped, sizeof(mapped)) != 0)
        return;
    memmove(a->ip, a->ip + 12, 4);
    memset(a->ip + 4, 0, 12);
    a->family = 4;
}

static void add_compact(struct bt_announce_result *r, const uint8_t *p, size_t len, int family)
{
    size_t step = family == 6 ? COMPACT6_LEN : COMPACT4_LEN;
    size_t iplen = family == 6 ? 16 : 4;
    size_t i;

    for (i = 0; i + step <= len && r->peer_count < BT_ANNOUNCE_MAX_PEERS; i += step) {
        struct bt_peer_addr *a = &r->peers[r->peer_count];

        memset(a, 0, sizeof(*a));
        a->family = (uint8_t)family;
        memcpy(a->ip, p + i, iplen);
        a->port = get_be16(p + i + iplen);
        bt_peer_addr_unmap(a);
        if (a->port != 0)
            r->peer_count++;
    }
}

/* One {ip, port} entry of a dictionary peer list; unusable addresses are skipped. */
static int add_dict_peer(const struct bt_bdoc *doc, const struct bt_bnode *d,
                         struct bt_announce_result *r, size_t index, struct bt_error *err)
{
    const struct bt_bnode *ip = bt_bdict_get(doc, d, "ip");
    const struct bt_bnode *port = bt_bdict_get(doc, d, "port");
    struct bt_peer_addr *a = &r->peers[r->peer_count];
    char text[INET6_ADDRSTRLEN];

    if (d->type != BT_BDICT || !ip || ip->type != BT_BSTR || !port || port->type != BT_BINT)
        return bt_error_set(err, -EBADMSG, "peers[%zu]: not a dictionary with ip and port", index);
    if (port->v.i <= 0 || port->v.i > UINT16_MAX || ip->v.s.len >= sizeof(text))
        return 0;
    memcpy(text, bt_bstr_ptr(doc, ip), ip->v.s.len);
    text[ip->v.s.len] = '\0';
    memset(a, 0, sizeof(*a));
    a->port = (uint16_t)port->v.i;
    if (inet_pton(AF_INET, text, a->ip) == 1)
        a->family = 4;
    else if (inet_pton(AF_INET6, text, a->ip) == 1)
        a->family = 6;
    else
        return 0; /* a host name: we do not resolve peers */
    bt_peer_addr_unmap(a);
    r->peer_count++;
    return 0;
}

static int parse_peers(const struct bt_bdoc *doc, const struct bt_bnode *root,
                       struct bt_announce_result *r, struct bt_error *err)
{
    const struct bt_bnode *peers = bt_bdict_get(doc, root, "peers");
    const struct bt_bnode *peers6 = bt_bdict_get(doc, root, "peers6");
    size_t want = 0, index = 0;
    const struct bt_bnode *it;
    int rc;

    if (peers && peers->type == BT_BSTR) {
        if (peers->v.s.len % COMPACT4_LEN != 0)
            return bt_error_set(err, -EBADMSG, "peers: %zu bytes is not a multiple of 6",
                                peers->v.s.len);
        want += peers->v.s.len / COMPACT4_LEN;
    } else if (peers && peers->type == BT_BLIST) {
        want += peers->count;
    } else if (peers) {
        return bt_error_set(err, -EBADMSG, "peers: neither a string nor a list");
    }
    if (peers6 && peers6->type != BT_BSTR)
        return bt_error_set(err, -EBADMSG, "peers6: not a string");
    if (peers6 && peers6->v.s.len % COMPACT6_LEN != 0)
        return bt_error_set(err, -EBADMSG, "peers6: %zu bytes is not a multiple of 18",
                            peers6->v.s.len);
    if (peers6)
        want += peers6->v.s.len / COMPACT6_LEN;
    if (want > BT_ANNOUNCE_MAX_PEERS)
        want = BT_ANNOUNCE_MAX_PEERS;
    if (want == 0)
        return 0;
    r->peers = calloc(want, sizeof(*r->peers));
    if (!r->peers)
        return bt_error_set(err, -ENOMEM, "peers: out of memory");
    if (peers && peers->type == BT_BSTR)
        add_compact(r, bt_bstr_ptr(doc, peers), peers->v.s.len, 4);
    if (peers && peers->type == BT_BLIST) {
        for (it = bt_bnode_child(doc, peers); it; it = bt_bnode_next(doc, peers, it)) {
            if (r->peer_count >= want)
                break;
            rc = add_dict_peer(doc, it, r, index++, err);
            if (rc < 0)
                return rc;
        }
    }
    if (peers6 && r->peer_count < want)
        add_compact(r, bt_bstr_ptr(doc, peers6), peers6->v.s.len, 6);
    return 0;
}

/* Fills r from a parsed reply dictionary. */
static int parse_reply_dict(const struct bt_bdoc *doc, const struct bt_bnode *root,
                            struct bt_announce_result *r, struct bt_error *err)
{
    int rc;

    rc = get_text(doc, root, "failure reason", &r->failure, err);
    if (rc == 0)
        rc = get_text(doc, root, "warning message", &r->warning, err);
    if (rc < 0 || r->failure)
        return rc; /* a refusal needs nothing else */
    rc = get_u32(doc, root, "interval", &r->interval, err);
    if (rc == 0)
        rc = get_u32(doc, root, "min interval", &r->min_interval, err);
    if (rc == 0)
        rc = get_count(doc, root, "complete", &r->seeders, err);
    if (rc == 0)
        rc = get_count(doc, root, "incomplete", &r->leechers, err);
    if (rc == 0)
        rc = parse_peers(doc, root, r, err);
    return rc;
}

int bt_announce_http_parse(const uint8_t *body, size_t len, struct bt_announce_result *ret,
                           struct bt_error *err)
{
    static const struct bt_bencode_limits limits = {.max_nodes = REPLY_MAX_NODES};
    struct bt_announce_result r = {.seeders = -1, .leechers = -1};
    struct bt_bdoc doc = {0};
    const struct bt_bnode *root;
    size_t end;
    int rc;

    if (len == 0)
        return bt_error_set(err, -EBADMSG, "empty reply");
    rc = bt_bencode_parse_prefix(&doc, body, len, &limits, err);
    if (rc == 0)
        rc = bt_error_set(err, -EBADMSG, "reply ends inside a value");
    if (rc < 0) {
        bt_error_prefix(err, "not bencoded");
        return -EBADMSG;
    }
    /* Some trackers end the body with a newline; anything else is garbage. */
    for (end = (size_t)rc; end < len && body[end] && strchr(" \t\r\n", body[end]); end++)
        ;
    root = bt_bdoc_root(&doc);
    if (end < len)
        rc = bt_error_set(err, -EBADMSG, "not bencoded: bytes after the reply at offset %zu", end);
    else if (root->type != BT_BDICT)
        rc = bt_error_set(err, -EBADMSG, "reply is not a dictionary");
    else
        rc = parse_reply_dict(&doc, root, &r, err);
    bt_bdoc_deinit(&doc);
    if (rc < 0) {
        bt_announce_result_deinit(&r);
        return rc == -ENOMEM ? rc : -EBADMSG;
    }
    *ret = r;
    return 0;
}

int bt_announce_udp_url(const char *url, char *host, size_t host_size, uint16_t *ret_port)
{
    const char *p, *hend, *pend;
    unsigned long port = 0;
    size_t hlen;

    if (strncmp(url, "udp://", 6) != 0)
        return -EINVAL;
    p = url + 6;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend || hend[1] != ':')
            return -EINVAL;
        p++;
        pend = hend + 2;
    } else {
        hend = p + strcspn(p, ":/?#");
        if (*hend != ':')
            return -EINVAL;
        pend = hend + 1;
    }
    hlen = (size_t)(hend - p);
    if (hlen == 0 || hlen >= host_size)
        return -EINVAL;
    for (; *pend >= '0' && *pend <= '9'; pend++) {
        port = port * 10 + (unsigned long)(*pend - '0');
        if (port > UINT16_MAX)
            return -EINVAL;
    }
    if (port == 0 || (*pend != '\0' && !strchr("/?#", *pend)))
        return -EINVAL;
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    *ret_port = (uint16_t)port;
    return 0;
}

void bt_udp_connect_req(uint8_t out[16], uint32_t transaction_id)
{
    put_be64(out, BT_UDP_PROTOCOL_ID);
    put_be32(out + 8, BT_UDP_CONNECT);
    put_be32(out + 12, transaction_id);
}

void bt_udp_announce_req(uint8_t out[98], uint64_t connection_id, uint32_t transaction_id,
                         const struct bt_announce_req *req)
{
    put_be64(out, connection_id);
    put_be32(out + 8, BT_UDP_ANNOUNCE);
    put_be32(out + 12, transaction_id);
    memcpy(out + 16, req->info_hash, 20);
    memcpy(out + 36, req->peer_id, 20);
    put_be64(out + 56, req->downloaded);
    put_be64(out + 64, req->left);
    put_be64(out + 72, req->uploaded);
    put_be32(out + 80, (uint32_t)req->event);
    put_be32(out + 84, 0); /* IP address: the sender's */
    put_be32(out + 88, req->key);
    put_be32(out + 92, req->numwant > 0 ? req->numwant : UINT32_MAX); /* -1: default */
    put_be16(out + 96, req->port);
}

static int udp_parse_announce(const uint8_t *buf, size_t len, int family,
                              struct bt_announce_result *ret, struct bt_error *err)
{
    struct bt_announce_result r = {.seeders = -1, .leechers = -1};
    size_t step = family == 6 ? COMPACT6_LEN : COMPACT4_LEN;
    size_t n;

    if (len == UDP_HEADER_LEN) /* what opentracker sends for a hash it does not track */
        return bt_error_set(err, -EBADMSG,
                            "announce reply: empty (the tracker does not track this torrent?)");
    if (len < UDP_ANNOUNCE_REPLY_MIN)
        return bt_error_set(err, -EBADMSG, "announce reply: %zu bytes, want at least 20", len);
    if ((len - UDP_ANNOUNCE_REPLY_MIN) % step != 0)
        return bt_error_set(err, -EBADMSG,
                            "announce reply: %zu bytes of peers is not a "
                            "multiple of %zu",
                            len - UDP_ANNOUNCE_REPLY_MIN, step);
    r.interval = get_be32(buf + 8);
    r.leechers = get_be32(buf + 12) > INT32_MAX ? INT32_MAX : (int32_t)get_be32(buf + 12);
    r.seeders = get_be32(buf + 16) > INT32_MAX ? INT32_MAX : (int32_t)get_be32(buf + 16);
    n = (len - UDP_ANNOUNCE_REPLY_MIN) / step;
    if (n > BT_ANNOUNCE_MAX_PEERS)
        n = BT_ANNOUNCE_MAX_PEERS;
    if (n > 0) {
        r.peers = calloc(n, sizeof(*r.peers));
        if (!r.peers)
            return bt_error_set(err, -ENOMEM, "announce reply: out of memory");
        add_compact(&r, buf + UDP_ANNOUNCE_REPLY_MIN, n * step, family);
    }
    *ret = r;
    return BT_UDP_ANNOUNCE;
}

int bt_udp_parse_reply(const uint8_t *buf, size_t len, uint32_t transaction_id, int family,
                       uint64_t *ret_connection_id, struct bt_announce_result *ret,
                       struct bt_error *err)
{
    uint32_t action;

    if (len < UDP_HEADER_LEN)
        return bt_error_set(err, -EBADMSG, "reply: %zu bytes, want at least 8", len);
    action = get_be32(buf);
    if (get_be32(buf + 4) != transaction_id)
        return bt_error_set(err, -EBADMSG, "reply: transaction id %08" PRIx32 ", want %08" PRIx32,
                            get_be32(buf + 4), transaction_id);
    switch (action) {
    case BT_UDP_CONNECT:
        if (len < 16)
            return bt_error_set(err, -EBADMSG, "connect reply: %zu bytes, want 16", len);
        *ret_connection_id = get_be64(buf + 8);
        return BT_UDP_CONNECT;
    case BT_UDP_ANNOUNCE:
        return udp_parse_announce(buf, len, family, ret, err);
    case BT_UDP_ERROR:
        memset(ret, 0, sizeof(*ret));
        ret->seeders = ret->leechers = -1;
        ret->failure = message_dup(buf + UDP_HEADER_LEN, len - UDP_HEADER_LEN);
        if (!ret->failure)
            return bt_error_set(err, -ENOMEM, "error reply: out of memory");
        return BT_UDP_ERROR;
    default:
        return bt_error_set(err, -EBADMSG, "reply: unknown action %" PRIu32, action);
    }
}
