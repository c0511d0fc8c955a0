/*
 * tracker_http: HTTP(S) announces through libcurl's multi-socket interface,
 * driven by the session's uv loop (a uv_poll_t per socket curl opens, one
 * uv_timer_t for curl's timeout). Loop thread only; no blocking call, no
 * second thread or loop (curl's own threaded resolver aside).
 *
 * One client per session; it owns the curl multi handle, the easy handle
 * of every call in flight and the uv handles. Each transfer: GET with
 * compact=1, User-Agent "btd/<version>", TLS verified, http and https
 * only (redirects too, at most 3), connect time-out 15 s and total 30 s
 * (overridable), the body capped at BT_ANNOUNCE_MAX_REPLY bytes (the
 * transfer is aborted as soon as it grows past that), a fresh connection
 * each time (no keep-alive: announces are minutes apart). At most 32
 * transfers run at once; more wait in curl's queue. This is the only file
 * that speaks CURLcode.
 */
#ifndef BTD_TRACKER_HTTP_H
#define BTD_TRACKER_HTTP_H

#include <stdint.h>
#include <uv.h>

#include "announce.h"
#include "announce_call.h"

#define BTD_HTTP_CONNECT_TIMEOUT_MS 15000
#define BTD_HTTP_TIMEOUT_MS 30000
#define BTD_HTTP_MAX_REDIRECTS 3

struct btd_tracker_http;

/* Creates the client on loop. 0, -ENOMEM or -EIO (curl would not start). */
int btd_tracker_http_open(struct btd_tracker_http **ret, uv_loop_t *loop);
/*
 * Cancels every call in flight that has a callback (none runs); detached
 * calls get up to grace_ms (BTD_ANNOUNCE_CLOSE_GRACE_MS usually; 0: none)
 * to finish. Then stops curl and closes the uv handles; the memory goes
 * when they have closed. NULL is a no-op.
 */
void btd_tracker_http_close(struct btd_tracker_http *h, uint32_t grace_ms);
/* Time-outs for transfers started from now on (milliseconds; tests shrink them). */
void btd_tracker_http_set_timeouts(struct btd_tracker_http *h, uint32_t connect_ms,
                                   uint32_t total_ms);

/*
 * Starts an announce of req to url (http:// or https://). The callback runs
 * later from the loop, never from inside this call. Returns the call (see
 * announce_call.h) or NULL on ENOMEM or a URL curl refuses.
 */
struct btd_announce_call *btd_tracker_http_announce(struct btd_tracker_http *h, const char *url,
                                                    const struct bt_announce_req *req,
                                                    btd_announce_cb cb, void *data);

#endif
