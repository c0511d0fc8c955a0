/*
 * control: the Unix-domain JSON-RPC 2.0 socket. Loop thread only.
 *
 * Listens on a path (mode 0660: owner and group only), accepts clients,
 * frames their input into lines (common/rpc), looks the method up in the
 * table of methods.c and writes one response line per request. A client
 * that sends an over-long line gets an error and is disconnected; a
 * client that vanishes mid-request costs nothing. Caps: BTD_CONTROL_MAX_CLIENTS
 * connections, BT_RPC_MAX_LINE bytes per request line.
 *
 * Access is checked twice: by the file mode, and on every connection by
 * the peer's credentials (SO_PEERCRED, SO_PEERGROUPS): root, btd's own
 * user and members of the socket file's group are served; anyone else is
 * disconnected unanswered and logged (at most one line a second).
 *
 * Descriptors: when fewer than a few are left (peers are kept out of the
 * last ones, fds.h), a new client closes the one idle the longest; when
 * accept() fails for want of one, the waiting clients are closed at once
 * through the reserve descriptor rather than left hanging.
 *
 * Owned by the session; clients are owned by the control.
 */
#ifndef BTD_CONTROL_H
#define BTD_CONTROL_H

#include <jansson.h>
#include <uv.h>

#include "error.h"

#define BTD_CONTROL_MAX_CLIENTS 64

struct btd_session;
struct btd_control;

/*
 * A method: reads params (borrowed), sets *ret_result to a new reference on
 * success and returns 0, or returns a BT_RPC_* code with a message in err.
 */
typedef int (*btd_method_cb)(struct btd_session *s, json_t *params, json_t **ret_result,
                             struct bt_error *err);

struct btd_method {
    const char *name;
    btd_method_cb handler;
};

/* The table, in methods.c; ends with a NULL name. */
extern const struct btd_method btd_methods[];

/*
 * Binds and listens on path. A socket already there that answers belongs
 * to another btd: -EADDRINUSE, "another btd is running on PATH". A stale
 * one (connection refused: its btd died) is replaced.
 */
int btd_control_open(struct btd_control **ret, uv_loop_t *loop, struct btd_session *s,
                     const char *path, struct bt_error *err);
/*
 * Stops listening, disconnects clients, unlinks the path (if it is still
 * the socket this control bound); frees when the handles close.
 */
void btd_control_close(struct btd_control *c);

#endif
