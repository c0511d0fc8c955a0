#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bt_rpc_framer_init(struct bt_rpc_framer *f, size_t max)
{
    memset(f, 0, sizeof(*f));
    f->max = max ? max : BT_RPC_MAX_LINE;
}

void bt_rpc_framer_deinit(struct bt_rpc_framer *f)
{
    free(f->data);
    memset(f, 0, sizeof(*f));
}

static int framer_grow(struct bt_rpc_framer *f, size_t need)
{
    size_t cap = f->cap ? f->cap : 1024;
    char *p;

    while (cap < need)
        cap *= 2;
    if (cap == f->cap)
        return 0;
    p = realloc(f->data, cap);
    if (!p)
        return -ENOMEM;
    f->data = p;
    f->cap = cap;
    return 0;
}

int bt_rpc_framer_feed(struct bt_rpc_framer *f, const void *p, size_t n)
{
    const char *in = p;
    int result = 0, r;

    while (n > 0) {
        const char *nl = memchr(in, '\n', n);
        size_t chunk = nl ? (size_t)(nl - in) + 1 : n;
        size_t body = nl ? chunk - 1 : chunk; /* bytes of line content */

        if (f->skipping) {
            f->skipping = !nl;
        } else if (body > f->max - f->partial) {
            f->len -= f->partial; /* drop the over-long line */
            f->partial = 0;
            f->skipping = !nl;
            result = -EMSGSIZE;
        } else {
            r = framer_grow(f, f->len + chunk);
            if (r < 0)
                return r;
            memcpy(f->data + f->len, in, chunk);
            f->len += chunk;
            f->partial = nl ? 0 : f->partial + chunk;
        }
        in += chunk;
        n -= chunk;
    }
    return result;
}

int bt_rpc_framer_next(struct bt_rpc_framer *f, char **ret_line)
{
    size_t complete = f->len - f->partial, len;
    char *nl, *line;

    nl = complete ? memchr(f->data, '\n', complete) : NULL;
    if (!nl)
        return -EAGAIN;
    len = (size_t)(nl - f->data);
    line = malloc(len + 1);
    if (!line)
        return -ENOMEM;
    memcpy(line, f->data, len);
    memmove(f->data, nl + 1, f->len - len - 1);
    f->len -= len + 1;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    *ret_line = line;
    return len > INT32_MAX ? INT32_MAX : (int)len;
}

static bool valid_id(json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

int bt_rpc_parse_request(const char *line, size_t len, struct bt_rpc_request *ret, json_t **ret_id,
                         struct bt_error *err)
{
    json_error_t jerr;
    json_t *root, *id, *method, *params, *version;

    *ret_id = json_null();
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return bt_error_set(err, BT_RPC_PARSE_ERROR, "parse error: %s at column %d", jerr.text,
                            jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_INVALID_REQUEST, "request must be a JSON object");
    }
    id = json_object_get(root, "id");
    if (id && valid_id(id))
        *ret_id = json_incref(id);
    version = json_object_get(root, "jsonrpc");
    method = json_object_get(root, "method");
    params = json_object_get(root, "params");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_INVALID_REQUEST, "jsonrpc: must be \"2.0\"");
    }
    if (id && !valid_id(id)) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_INVALID_REQUEST, "id: must be a string or an integer");
    }
    if (!json_is_string(method)) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_INVALID_REQUEST, "method: must be a string");
    }
    if (params && !json_is_object(params)) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params: must be an object");
    }
    if (!params) {
        params = json_object();
        json_object_set_new(root, "params", params);
    }
    ret->root = root;
    ret->id = id;
    ret->method = json_string_value(method);
    ret->params = params;
    return 0;
}

void bt_rpc_request_deinit(struct bt_rpc_request *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}

/* Dumps obj (stolen) as one line with a trailing newline. */
static char *dump_line(json_t *obj)
{
    char *s, *line;
    size_t len;

    if (!obj)
        return NULL;
    s = json_dumps(obj, JSON_COMPACT | BT_RPC_REAL_PRECISION);
    json_decref(obj);
    if (!s)
        return NULL;
    len = strlen(s);
    line = realloc(s, len + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}

char *bt_rpc_result_line(json_t *id, json_t *result)
{
    return dump_line(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                               "result", result ? result : json_null()));
}

char *bt_rpc_error_line(json_t *id, int code, const char *message)
{
    return dump_line(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                               id ? id : json_null(), "error", "code", code, "message", message));
}

char *bt_rpc_request_line(int64_t id, const char *method, json_t *params)
{
    json_t *req =
        json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method);

    if (req && params)
        json_object_set(req, "params", params);
    json_decref(params);
    return dump_line(req);
}

int bt_rpc_parse_response(const char *line, size_t len, json_t **ret_result, struct bt_error *err)
{
    json_error_t jerr;
    json_t *root, *result, *error, *code, *msg;
    int r;

    root = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_PARSE_ERROR, "malformed reply from the daemon");
    }
    result = json_object_get(root, "result");
    error = json_object_get(root, "error");
    if (result && !error) {
        *ret_result = json_incref(result);
        json_decref(root);
        return 0;
    }
    code = json_object_get(error, "code");
    msg = json_object_get(error, "message");
    if (!json_is_integer(code) || json_integer_value(code) == 0) {
        json_decref(root);
        return bt_error_set(err, BT_RPC_PARSE_ERROR, "malformed reply from the daemon");
    }
    r = bt_error_set(err, (int)json_integer_value(code), "%s",
                     json_is_string(msg) ? json_string_value(msg) : "unknown error");
    json_decref(root);
    return r;
}

static int param_get(json_t *params, const char *key, bool required, json_t **ret,
                     struct bt_error *err)
{
    json_t *v = json_object_get(params, key);

    if (!v || json_is_null(v)) {
        *ret = NULL;
        if (required)
            return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: missing", key);
        return 0;
    }
    *ret = v;
    return 0;
}

int bt_rpc_param_string(json_t *params, const char *key, bool required, const char **ret,
                        struct bt_error *err)
{
    json_t *v;
    int r = param_get(params, key, required, &v, err);

    if (r < 0 || !v)
        return r;
    if (!json_is_string(v))
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: must be a string", key);
    *ret = json_string_value(v);
    return 0;
}

int bt_rpc_param_bool(json_t *params, const char *key, bool required, bool *ret,
                      struct bt_error *err)
{
    json_t *v;
    int r = param_get(params, key, required, &v, err);

    if (r < 0 || !v)
        return r;
    if (!json_is_boolean(v))
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: must be true or false", key);
    *ret = json_is_true(v);
    return 0;
}

int bt_rpc_param_int(json_t *params, const char *key, bool required, int64_t min, int64_t max,
                     int64_t *ret, struct bt_error *err)
{
    json_t *v;
    int r = param_get(params, key, required, &v, err);

    if (r < 0 || !v)
        return r;
    if (!json_is_integer(v))
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: must be an integer", key);
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: must be between %lld and %lld",
                            key, (long long)min, (long long)max);
    *ret = json_integer_value(v);
    return 0;
}

int bt_rpc_param_strings(json_t *params, const char *key, bool required, json_t **ret,
                         struct bt_error *err)
{
    json_t *v, *item;
    size_t i;
    int r = param_get(params, key, required, &v, err);

    if (r < 0 || !v)
        return r;
    if (!json_is_array(v))
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: must be an array of strings",
                            key);
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s[%zu]: must be a string", key,
                                i);
    }
    *ret = v;
    return 0;
}
