/*
 * tracker_udp: BEP 15 announces for the whole session. Loop thread only.
 *
 * One uv_udp_t per address family (opened on first use, bound to an
 * ephemeral port) carries every announce; replies are matched to their
 * call by transaction id (random, from libsodium) and source address, and
 * a reply that matches no call is dropped. Each call: resolve the host
 * (uv_getaddrinfo, off the loop), connect unless a connection id for that
 * tracker address is younger than 60 s, announce. A request unanswered
 * after base * 2^n is sent again with n + 1, up to n = max_n (BEP 15:
 * base 15 s, max_n 8), and then the call fails with -ETIMEDOUT.
 *
 * Owns the sockets, one timer for every retransmission, the calls in
 * flight and a small cache of connection ids (BTD_UDP_CONN_CACHE entries).
 * Replies are read into one buffer of BTD_UDP_MAX_DATAGRAM bytes; a larger
 * datagram is malformed.
 */
#ifndef BTD_TRACKER_UDP_H
#define BTD_TRACKER_UDP_H

#include <stdint.h>
#include <uv.h>

#include "announce.h"
#include "announce_call.h"

#define BTD_UDP_RETRANSMIT_BASE_MS 15000
#define BTD_UDP_MAX_N 8
/*
 * Retransmissions of one announce by default: 15 s then 30 s (45 s in all),
 * after which the call fails so that BEP 12 can fall through to the next
 * tracker; the announcer's back-off tries this one again later. BEP 15
 * allows n up to 8 (hours of silence on one dead tracker).
 */
#define BTD_UDP_DEFAULT_MAX_N 1
#define BTD_UDP_CONN_ID_TTL_MS 60000
#define BTD_UDP_CONN_CACHE 64
#define BTD_UDP_MAX_DATAGRAM 65536 /* bytes */

struct btd_tracker_udp;

/* Creates the client; sockets open on first use. 0 or -ENOMEM. */
int btd_tracker_udp_open(struct btd_tracker_udp **ret, uv_loop_t *loop);
/*
 * Cancels every call in flight that has a callback (none runs); detached
 * calls get up to grace_ms (BTD_ANNOUNCE_CLOSE_GRACE_MS usually; 0: none)
 * to finish. Then closes the sockets; the memory goes when the handles
 * have closed. NULL is a no-op.
 */
void btd_tracker_udp_close(struct btd_tracker_udp *u, uint32_t grace_ms);
/*
 * Retransmission for calls started from now on (tests shrink it): base in
 * ms, n up to max_n (at most BTD_UDP_MAX_N).
 */
void btd_tracker_udp_set_retransmit(struct btd_tracker_udp *u, uint32_t base_ms, unsigned max_n);

/*
 * Starts an announce of req to url ("udp://host:port[/...]"). The callback
 * runs later from the loop, never from inside this call. Returns the call
 * (see announce_call.h) or NULL (ENOMEM, a URL without host or port, or
 * the client is closing).
 */
struct btd_announce_call *btd_tracker_udp_announce(struct btd_tracker_udp *u, const char *url,
                                                   const struct bt_announce_req *req,
                                                   btd_announce_cb cb, void *data);

#endif
