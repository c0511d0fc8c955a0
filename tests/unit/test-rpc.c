#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "tap.h"

static void test_framer_splits_lines_across_feeds(void)
{
    struct bt_rpc_framer f;
    char *line = NULL;

    bt_rpc_framer_init(&f, 0);
    CHECK(bt_rpc_framer_feed(&f, "{\"a\":", 5) == 0);
    CHECK(bt_rpc_framer_next(&f, &line) == -EAGAIN);
    CHECK(bt_rpc_framer_feed(&f, "1}\r\n{\"b\":2}\n{\"c\"", 16) == 0);
    CHECK(bt_rpc_framer_next(&f, &line) == 7);
    CHECK(line && strcmp(line, "{\"a\":1}") == 0);
    free(line);
    CHECK(bt_rpc_framer_next(&f, &line) == 7);
    CHECK(line && strcmp(line, "{\"b\":2}") == 0);
    free(line);
    CHECK(bt_rpc_framer_next(&f, &line) == -EAGAIN);
    CHECK(f.partial == 4);
    bt_rpc_framer_deinit(&f);
}

static void test_framer_drops_oversized_line_and_keeps_neighbours(void)
{
    struct bt_rpc_framer f;
    char *line = NULL;

    bt_rpc_framer_init(&f, 8);
    CHECK(bt_rpc_framer_feed(&f, "ok1\n0123456", 11) == 0);
    CHECK(bt_rpc_framer_feed(&f, "789abc", 6) == -EMSGSIZE);
    CHECK(bt_rpc_framer_feed(&f, "def\nok2\n", 8) == 0);
    CHECK(bt_rpc_framer_next(&f, &line) == 3 && strcmp(line, "ok1") == 0);
    free(line);
    CHECK(bt_rpc_framer_next(&f, &line) == 3 && strcmp(line, "ok2") == 0);
    free(line);
    CHECK(bt_rpc_framer_next(&f, &line) == -EAGAIN);
    bt_rpc_framer_deinit(&f);
}

static int parse(const char *s, struct bt_rpc_request *req, json_t **id, struct bt_error *err)
{
    return bt_rpc_parse_request(s, strlen(s), req, id, err);
}

static void test_request_parses_method_params_and_id(void)
{
    struct bt_rpc_request req;
    struct bt_error err = {{0}};
    json_t *id = NULL;
    const char *dir = NULL;

    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"torrent.add\","
                "\"params\":{\"dir\":\"/x\"}}",
                &req, &id, &err) == 0);
    CHECK(strcmp(req.method, "torrent.add") == 0);
    CHECK(json_integer_value(req.id) == 7 && json_integer_value(id) == 7);
    CHECK(bt_rpc_param_string(req.params, "dir", true, &dir, &err) == 0);
    CHECK(dir && strcmp(dir, "/x") == 0);
    json_decref(id);
    bt_rpc_request_deinit(&req);
}

static void test_request_errors_have_standard_codes(void)
{
    struct bt_rpc_request req;
    struct bt_error err = {{0}};
    json_t *id = NULL;

    CHECK(parse("{not json", &req, &id, &err) == BT_RPC_PARSE_ERROR);
    CHECK(json_is_null(id));
    CHECK(parse("[1,2]", &req, &id, &err) == BT_RPC_INVALID_REQUEST);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":3}", &req, &id, &err) == BT_RPC_INVALID_REQUEST);
    CHECK(json_integer_value(id) == 3);
    json_decref(id);
    CHECK(parse("{\"jsonrpc\":\"1.0\",\"method\":\"x\"}", &req, &id, &err) ==
          BT_RPC_INVALID_REQUEST);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":[1]}", &req, &id, &err) ==
          BT_RPC_INVALID_PARAMS);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"method\":\"y\"}", &req, &id, &err) ==
          BT_RPC_PARSE_ERROR);
}

static void test_param_readers_name_the_key(void)
{
    json_t *p = json_pack("{s:i, s:s, s:[s,i]}", "n", 5, "s", "x", "peers", "a:1", 2);
    struct bt_error err = {{0}};
    int64_t n = 0;
    bool b = false;
    json_t *arr = NULL;

    CHECK(bt_rpc_param_int(p, "n", true, 0, 10, &n, &err) == 0 && n == 5);
    CHECK(bt_rpc_param_int(p, "n", true, 6, 10, &n, &err) == BT_RPC_INVALID_PARAMS);
    CHECK(strcmp(err.msg, "params.n: must be between 6 and 10") == 0);
    CHECK(bt_rpc_param_bool(p, "s", true, &b, &err) == BT_RPC_INVALID_PARAMS);
    CHECK(strcmp(err.msg, "params.s: must be true or false") == 0);
    CHECK(bt_rpc_param_bool(p, "absent", false, &b, &err) == 0 && !b);
    CHECK(bt_rpc_param_string(p, "absent", true, NULL, &err) == BT_RPC_INVALID_PARAMS);
    CHECK(strcmp(err.msg, "params.absent: missing") == 0);
    CHECK(bt_rpc_param_strings(p, "peers", false, &arr, &err) == BT_RPC_INVALID_PARAMS);
    CHECK(strcmp(err.msg, "params.peers[1]: must be a string") == 0);
    json_decref(p);
}

static void test_response_round_trip(void)
{
    json_t *id = json_integer(9), *result = NULL;
    struct bt_error err = {{0}};
    char *line;

    line = bt_rpc_result_line(id, json_pack("{s:i}", "id", 1));
    CHECK(line && line[strlen(line) - 1] == '\n' && strchr(line, '\n') == line + strlen(line) - 1);
    CHECK(bt_rpc_parse_response(line, strlen(line), &result, &err) == 0);
    CHECK(json_integer_value(json_object_get(result, "id")) == 1);
    json_decref(result);
    free(line);
    line = bt_rpc_error_line(id, BT_RPC_NO_SUCH_TORRENT, "no torrent 42");
    CHECK(bt_rpc_parse_response(line, strlen(line), &result, &err) == BT_RPC_NO_SUCH_TORRENT);
    CHECK(strcmp(err.msg, "no torrent 42") == 0);
    free(line);
    CHECK(bt_rpc_parse_response("garbage", 7, &result, &err) == BT_RPC_PARSE_ERROR);
    json_decref(id);
}

static void test_request_line_is_one_line(void)
{
    char *line = bt_rpc_request_line(1, "session.get", json_pack("{s:s}", "k", "a\nb"));

    CHECK(line && strchr(line, '\n') == line + strlen(line) - 1);
    CHECK(strstr(line, "\"method\":\"session.get\"") != NULL);
    free(line);
}

int main(void)
{
    TAP_RUN(test_framer_splits_lines_across_feeds);
    TAP_RUN(test_framer_drops_oversized_line_and_keeps_neighbours);
    TAP_RUN(test_request_parses_method_params_and_id);
    TAP_RUN(test_request_errors_have_standard_codes);
    TAP_RUN(test_param_readers_name_the_key);
    TAP_RUN(test_response_round_trip);
    TAP_RUN(test_request_line_is_one_line);
    return tap_done();
}
