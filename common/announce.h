/*
 * announce: the sans-I/O half of talking to trackers. Pure; any thread.
 *
 * - HTTP (BEP 3, BEP 23): builds the announce URL query and parses the
 *   bencoded reply (compact and dictionary peer lists, IPv4 and IPv6
 *   "peers6", failure reason, warning message, interval, min interval,
 *   complete/incomplete).
 * - UDP (BEP 15): encodes connect and announce requests, decodes connect,
 *   announce and error replies, checking action and transaction id.
 *
 * Results own their memory (bt_announce_result_deinit). Peer lists are
 * capped at BT_ANNOUNCE_MAX_PEERS (peers past the cap are dropped; the
 * count is bounded before anything is allocated); a reply is capped at
 * BT_ANNOUNCE_MAX_REPLY bytes by the caller before parsing. Failure and
 * warning texts are cut at BT_ANNOUNCE_MAX_MESSAGE bytes, control
 * characters replaced by '?', so they are safe to log as one line.
 */
#ifndef BT_ANNOUNCE_H
#define BT_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BT_ANNOUNCE_MAX_PEERS 2000
#define BT_ANNOUNCE_MAX_REPLY ((size_t)1 << 20) /* bytes */

#define BT_ANNOUNCE_MAX_MESSAGE 512 /* bytes kept of a failure or warning text */

struct bt_peer_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t ip[16]; /* network order; IPv4 in the first 4 bytes */
    uint16_t port;  /* host order */
};

/*
 * An IPv6 address that is an IPv4 one in disguise (::ffff:a.b.c.d, as a
 * dual-stack socket or a peers6 list may give it) becomes that IPv4
 * address, so one peer is known by one address.
 */
void bt_peer_addr_unmap(struct bt_peer_addr *a);

enum bt_announce_event {
    BT_EVENT_NONE = 0,
    BT_EVENT_COMPLETED = 1,
    BT_EVENT_STARTED = 2,
    BT_EVENT_STOPPED = 3, /* BEP 15 numbering */
};

struct bt_announce_req {
    uint8_t info_hash[20];
    uint8_t peer_id[20];
    uint16_t port;
    uint64_t uploaded;   /* bytes */
    uint64_t downloaded; /* bytes */
    uint64_t left;       /* bytes */
    enum bt_announce_event event;
    uint32_t numwant;
    uint32_t key; /* random, fixed per session */
};

struct bt_announce_result {
    char *failure;              /* owned or NULL: the tracker refused */
    char *warning;              /* owned or NULL */
    uint32_t interval;          /* seconds, 0 if absent */
    uint32_t min_interval;      /* seconds, 0 if absent */
    int32_t seeders;            /* -1 if unknown */
    int32_t leechers;           /* -1 if unknown */
    struct bt_peer_addr *peers; /* owned */
    size_t peer_count;
};

void bt_announce_result_deinit(struct bt_announce_result *r);

/*
 * Appends the query for req to base_url (which may already have a '?'),
 * into a new string the caller frees; NULL on ENOMEM.
 */
char *bt_announce_http_url(const char *base_url, const struct bt_announce_req *req);
/* Parses an HTTP tracker reply body. 0 or -EBADMSG with err. */
int bt_announce_http_parse(const uint8_t *body, size_t len, struct bt_announce_result *ret,
                           struct bt_error *err);

#define BT_UDP_PROTOCOL_ID 0x41727101980ULL

enum bt_udp_action {
    BT_UDP_CONNECT = 0,
    BT_UDP_ANNOUNCE = 1,
    BT_UDP_ERROR = 3,
};

/*
 * Splits "udp://host:port[/path]" into host (an IPv6 literal loses its
 * brackets) and port (1..65535, required). 0 or -EINVAL (not udp://, no
 * port, host empty or longer than host_size - 1).
 */
int bt_announce_udp_url(const char *url, char *host, size_t host_size, uint16_t *ret_port);

/* Writes a 16-byte connect request. */
void bt_udp_connect_req(uint8_t out[16], uint32_t transaction_id);
/* Writes a 98-byte announce request. */
void bt_udp_announce_req(uint8_t out[98], uint64_t connection_id, uint32_t transaction_id,
                         const struct bt_announce_req *req);
/*
 * Decodes a reply to the request with transaction_id. Returns the action
 * (0 connect, 1 announce, 3 error) or -EBADMSG (short, wrong transaction
 * id, unknown action). connect fills *ret_connection_id; announce fills
 * ret (peers of the given family, 4 or 6); error fills ret->failure.
 */
int bt_udp_parse_reply(const uint8_t *buf, size_t len, uint32_t transaction_id, int family,
                       uint64_t *ret_connection_id, struct bt_announce_result *ret,
                       struct bt_error *err);

#endif
