/*
 * rpc: JSON-RPC 2.0 over newline-delimited frames, for btd's control socket
 * and btctl. Pure; any thread. The one file that knows JSON-RPC's shapes;
 * it speaks Jansson.
 *
 * Framing: one JSON object per line, requests and responses alike, so that
 * `socat - UNIX-CONNECT:PATH` is a valid client. A line is at most
 * BT_RPC_MAX_LINE bytes; a longer one is an error and the framer drops the
 * connection's input up to the next newline.
 *
 * Jansson ownership is written at every function: new (caller releases with
 * json_decref), borrowed (valid while its parent is), stolen (the callee
 * takes the reference, even on failure).
 */
#ifndef BT_RPC_H
#define BT_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BT_RPC_MAX_LINE ((size_t)64 << 20) /* bytes: a .torrent in base64 fits */
/*
 * How reals are written: 15 significant digits, so a ratio of 1.1 reads
 * 1.1 and not Jansson's default 1.1000000000000001 (every decimal of 15
 * digits or fewer survives the trip through a double).
 */
#define BT_RPC_REAL_PRECISION JSON_REAL_PRECISION(15)

/* Error codes: JSON-RPC's own, then btd's (-32000..-32099 is the server range). */
enum {
    BT_RPC_PARSE_ERROR = -32700,
    BT_RPC_INVALID_REQUEST = -32600,
    BT_RPC_METHOD_NOT_FOUND = -32601,
    BT_RPC_INVALID_PARAMS = -32602,
    BT_RPC_INTERNAL_ERROR = -32603,
    BT_RPC_NO_SUCH_TORRENT = -32001,
    BT_RPC_DUPLICATE_TORRENT = -32002,
    BT_RPC_BAD_TORRENT = -32003,
    BT_RPC_AMBIGUOUS_ID = -32004,
    BT_RPC_IO_ERROR = -32005,
    BT_RPC_UNSUPPORTED = -32006,
    BT_RPC_BUSY = -32007, /* the torrent's state does not allow it now */
};

/* Line framer: feed bytes, take complete lines. */
struct bt_rpc_framer {
    char *data;     /* owned */
    size_t len;     /* bytes buffered */
    size_t cap;     /* bytes allocated */
    size_t max;     /* bytes per line; 0: BT_RPC_MAX_LINE */
    size_t partial; /* bytes of the unfinished last line (at the end of data) */
    bool skipping;  /* an over-long line is being discarded up to its newline */
};

void bt_rpc_framer_init(struct bt_rpc_framer *f, size_t max);
void bt_rpc_framer_deinit(struct bt_rpc_framer *f);
/*
 * Appends input. 0, -ENOMEM, or -EMSGSIZE when a line exceeds max: that
 * line is dropped (through its newline) and the lines around it are kept.
 */
int bt_rpc_framer_feed(struct bt_rpc_framer *f, const void *p, size_t n);
/*
 * Takes the next complete line (without its '\n', NUL-terminated, '\r'
 * stripped) into a new string the caller frees. Returns its length, or -EAGAIN
 * when no complete line is buffered, or -ENOMEM.
 */
int bt_rpc_framer_next(struct bt_rpc_framer *f, char **ret_line);

struct bt_rpc_request {
    json_t *root;       /* new: the whole parsed object */
    json_t *id;         /* borrowed from root; NULL for a notification */
    const char *method; /* borrowed from root */
    json_t *params;     /* borrowed from root: an object (an empty one if absent) */
};

/*
 * Parses one request line. On failure returns a JSON-RPC error code
 * (BT_RPC_PARSE_ERROR or BT_RPC_INVALID_REQUEST), fills err, and sets
 * *ret_id to a new reference to the request's id if one could be read
 * (else json_null()), so the caller can still answer.
 */
int bt_rpc_parse_request(const char *line, size_t len, struct bt_rpc_request *ret, json_t **ret_id,
                         struct bt_error *err);
void bt_rpc_request_deinit(struct bt_rpc_request *req);

/* Response lines, '\n'-terminated, new strings the caller frees (NULL on ENOMEM). */
char *bt_rpc_result_line(json_t *id, json_t *result);               /* id borrowed, result stolen */
char *bt_rpc_error_line(json_t *id, int code, const char *message); /* id borrowed */
/* A request line for a client. params stolen (NULL: no params). */
char *bt_rpc_request_line(int64_t id, const char *method, json_t *params);

/*
 * Parses a response line for a client. On success *ret_result is a new
 * reference and 0 is returned. A JSON-RPC error reply returns its code
 * (negative, non-zero) with the message in err; a malformed reply returns
 * BT_RPC_PARSE_ERROR.
 */
int bt_rpc_parse_response(const char *line, size_t len, json_t **ret_result, struct bt_error *err);

/*
 * Parameter readers: each returns 0 (value present and of the right type, or
 * absent and optional: *ret untouched), or BT_RPC_INVALID_PARAMS with
 * "params.KEY: must be a string" in err. Strings are borrowed from params.
 */
int bt_rpc_param_string(json_t *params, const char *key, bool required, const char **ret,
                        struct bt_error *err);
int bt_rpc_param_bool(json_t *params, const char *key, bool required, bool *ret,
                      struct bt_error *err);
int bt_rpc_param_int(json_t *params, const char *key, bool required, int64_t min, int64_t max,
                     int64_t *ret, struct bt_error *err);
/* An array of strings; *ret borrowed. */
int bt_rpc_param_strings(json_t *params, const char *key, bool required, json_t **ret,
                         struct bt_error *err);

#endif
