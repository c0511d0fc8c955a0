/*
 * announce_call: one announce in flight, HTTP or UDP, as the announcer sees
 * it. Loop thread only.
 *
 * btd_tracker_http_announce() and btd_tracker_udp_announce() return a call;
 * it belongs to the client that made it. It ends when its callback runs
 * (the call is already freed then: drop the pointer before or inside the
 * callback, never cancel it there). Until then its starter may cancel it:
 * the callback never runs and the client releases the memory (at once, or
 * when an outstanding DNS request returns). Closing a client cancels its
 * calls, so a starter must not cancel after the client is closed.
 *
 * A call started with a NULL callback is detached: nobody waits for it or
 * may cancel it (the returned pointer only says it started), the client
 * frees it when it ends, and closing the client gives it a grace period
 * (BTD_ANNOUNCE_CLOSE_GRACE_MS, or what the closer says) to finish. That
 * is how `stopped` is sent by an announcer that is paused or removed.
 */
#ifndef BTD_ANNOUNCE_CALL_H
#define BTD_ANNOUNCE_CALL_H

#include <stddef.h>

#include "announce.h"

#define BTD_ANNOUNCE_CLOSE_GRACE_MS 2000

/*
 * The outcome of one announce.
 * - status 0: res is the tracker's answer (res->failure is NULL);
 *   error_message is NULL.
 * - status < 0 (-errno): error_message is one line for a person (never
 *   NULL). -EREMOTEIO: the tracker refused ("failure reason", BEP 15
 *   action 3), and res carries its failure and any warning; -ETIMEDOUT,
 *   -EBADMSG (malformed reply), -EMSGSIZE (reply over the cap), -EIO and
 *   others: res is NULL.
 * res and error_message are borrowed for the duration of the call.
 */
typedef void (*btd_announce_cb)(void *data, int status, const struct bt_announce_result *res,
                                const char *error_message);

/* The head every client's call starts with: how to cancel it. */
struct btd_announce_call {
    void (*cancel)(struct btd_announce_call *call);
};

/* Cancels a call in flight; its callback never runs. NULL is a no-op. */
static inline void btd_announce_call_cancel(struct btd_announce_call *call)
{
    if (call)
        call->cancel(call);
}

#endif
