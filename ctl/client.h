/*
 * client: btctl's side of the control socket. A plain blocking Unix-domain
 * stream socket; one JSON-RPC request line out, one response line in.
 * Main thread only.
 */
#ifndef BTCTL_CLIENT_H
#define BTCTL_CLIENT_H

#include <jansson.h>

#include "ctl.h"

/* The socket path btctl uses: --socket, $BTD_SOCKET, or btd's default. */
const char *btctl_socket_path(const struct btctl *ctl, char *buf, size_t size);

/*
 * Calls method with params (stolen; NULL for none). On success returns 0
 * and *ret_result is a new reference. On failure prints one line on stderr
 * ("btctl: ...", naming the daemon's message or why it could not be
 * reached, with a hint to start btd) and returns BTCTL_EXIT_FAIL.
 */
int btctl_call(const struct btctl *ctl, const char *method, json_t *params, json_t **ret_result);

#endif
