#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "sha1.h"
#include "tap.h"
#include "testdata.h"

static int parse_str(struct bt_bdoc *doc, const char *s, struct bt_error *err)
{
    return bt_bencode_parse(doc, (const uint8_t *)s, strlen(s), NULL, err);
}

static void test_parses_integer_extremes(void)
{
    struct bt_bdoc doc;

    CHECK(parse_str(&doc, "i-9223372036854775808e", NULL) == 0);
    CHECK(doc.nodes[0].type == BT_BINT && doc.nodes[0].v.i == INT64_MIN);
    bt_bdoc_deinit(&doc);
    CHECK(parse_str(&doc, "i9223372036854775807e", NULL) == 0);
    CHECK(doc.nodes[0].v.i == INT64_MAX);
    bt_bdoc_deinit(&doc);
    CHECK(parse_str(&doc, "i-42e", NULL) == 0);
    CHECK(doc.nodes[0].v.i == -42);
    bt_bdoc_deinit(&doc);
}

static void test_dict_lookup_and_iteration(void)
{
    struct bt_bdoc doc;
    const struct bt_bnode *root, *a, *l, *it;
    int n = 0;

    CHECK(parse_str(&doc, "d1:ali1ei2ei3ee1:b3:xyze", NULL) == 0);
    root = bt_bdoc_root(&doc);
    CHECK(root && root->type == BT_BDICT && root->count == 2);
    l = bt_bdict_get(&doc, root, "a");
    CHECK(l && l->type == BT_BLIST && l->count == 3);
    for (it = bt_bnode_child(&doc, l); it; it = bt_bnode_next(&doc, l, it))
        CHECK(it->type == BT_BINT && it->v.i == ++n);
    CHECK(n == 3);
    CHECK(bt_blist_at(&doc, l, 2)->v.i == 3);
    CHECK(bt_blist_at(&doc, l, 3) == NULL);
    a = bt_bdict_get(&doc, root, "b");
    CHECK(bt_bstr_eq(&doc, a, "xyz"));
    CHECK(bt_bdict_get(&doc, root, "c") == NULL);
    CHECK(bt_bdict_get(&doc, l, "a") == NULL);
    bt_bdoc_deinit(&doc);
}

static void test_raw_span_is_exact_bytes_of_unsorted_dict(void)
{
    const char *in = "d4:infod1:zi1e1:ai2ee3:fooi1ee";
    struct bt_bdoc doc;
    const struct bt_bnode *info;

    CHECK(parse_str(&doc, in, NULL) == 0);
    info = bt_bdict_get(&doc, bt_bdoc_root(&doc), "info");
    CHECK(info && info->raw_len == strlen("d1:zi1e1:ai2ee"));
    CHECK(memcmp(bt_bnode_raw(&doc, info), "d1:zi1e1:ai2ee", info->raw_len) == 0);
    bt_bdoc_deinit(&doc);
}

static void test_string_length_checked_before_allocation(void)
{
    struct bt_bdoc doc;
    struct bt_error err = {{0}};

    /* A 2^60-byte string claim in 20 bytes must fail, not allocate. */
    CHECK(parse_str(&doc, "1152921504606846976:x", &err) == -EBADMSG);
    CHECK(strstr(err.msg, "truncated") != NULL);
}

static void test_node_limit_refuses_large_documents(void)
{
    struct bt_bencode_limits lim = {.max_nodes = 4};
    struct bt_bdoc doc;
    struct bt_error err = {{0}};

    CHECK(bt_bencode_parse(&doc, (const uint8_t *)"li1ei2ei3ee", 11, &lim, &err) == 0);
    bt_bdoc_deinit(&doc);
    CHECK(bt_bencode_parse(&doc, (const uint8_t *)"li1ei2ei3ei4ee", 14, &lim, &err) == -EMSGSIZE);
    CHECK(strstr(err.msg, "too many values") != NULL);
}

static void test_prefix_parse_reports_consumed_and_need_more(void)
{
    const char *msg = "d8:msg_typei1e5:piecei0eeRAWDATA";
    struct bt_bdoc doc;

    CHECK(bt_bencode_parse_prefix(&doc, (const uint8_t *)msg, strlen(msg), NULL, NULL) == 25);
    bt_bdoc_deinit(&doc);
    CHECK(bt_bencode_parse_prefix(&doc, (const uint8_t *)msg, 10, NULL, NULL) == 0);
    CHECK(bt_bencode_parse_prefix(&doc, (const uint8_t *)"x", 1, NULL, NULL) == -EBADMSG);
}

static void test_encoder_writes_canonical_bytes(void)
{
    static const char want[] = "d1:ai-7e1:bl2:xy2:\0ze1:cdee";
    struct bt_buf b;
    struct bt_benc e;

    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_dict(&e);
    bt_benc_key(&e, "a");
    bt_benc_int(&e, -7);
    bt_benc_key(&e, "b");
    bt_benc_list(&e);
    bt_benc_cstr(&e, "xy");
    bt_benc_str(&e, "\0z", 2);
    bt_benc_end(&e);
    bt_benc_key(&e, "c");
    bt_benc_raw(&e, "de", 2);
    bt_benc_end(&e);
    CHECK(bt_benc_finish(&e) == 0);
    CHECK(b.len == sizeof(want) - 1);
    CHECK(memcmp(b.data, want, sizeof(want) - 1) == 0);
    bt_buf_deinit(&b);
}

static void test_encoder_refuses_unsorted_and_duplicate_keys(void)
{
    struct bt_buf b;
    struct bt_benc e;

    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_dict(&e);
    bt_benc_key(&e, "b");
    bt_benc_int(&e, 1);
    bt_benc_key(&e, "a");
    bt_benc_int(&e, 2);
    bt_benc_end(&e);
    CHECK(bt_benc_finish(&e) == -EINVAL);
    bt_buf_deinit(&b);

    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_dict(&e);
    bt_benc_key(&e, "ab");
    bt_benc_int(&e, 1);
    bt_benc_key(&e, "ab");
    bt_benc_int(&e, 2);
    bt_benc_end(&e);
    CHECK(bt_benc_finish(&e) == -EINVAL);
    bt_buf_deinit(&b);

    /* A prefix sorts first: "a" < "ab". */
    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_dict(&e);
    bt_benc_key(&e, "a");
    bt_benc_int(&e, 1);
    bt_benc_key(&e, "ab");
    bt_benc_int(&e, 2);
    bt_benc_end(&e);
    CHECK(bt_benc_finish(&e) == 0);
    bt_buf_deinit(&b);
}

static void test_encoder_refuses_value_without_key_and_open_containers(void)
{
    struct bt_buf b;
    struct bt_benc e;

    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_dict(&e);
    bt_benc_int(&e, 1);
    CHECK(bt_benc_finish(&e) == -EINVAL);
    bt_buf_deinit(&b);

    bt_buf_init(&b, 0);
    bt_benc_init(&e, &b);
    bt_benc_list(&e);
    CHECK(bt_benc_finish(&e) == -EINVAL);
    bt_buf_deinit(&b);
}

static void test_encoder_respects_buffer_cap(void)
{
    struct bt_buf b;
    struct bt_benc e;

    bt_buf_init(&b, 8);
    bt_benc_init(&e, &b);
    bt_benc_cstr(&e, "0123456789");
    CHECK(bt_benc_finish(&e) == -EMSGSIZE);
    bt_buf_deinit(&b);
}

/* Re-encodes a parsed document; canonical inputs must come back byte for byte. */
static void reencode(struct bt_benc *e, const struct bt_bdoc *doc, const struct bt_bnode *n)
{
    const struct bt_bnode *c;
    char key[256];

    switch (n->type) {
    case BT_BINT:
        bt_benc_int(e, n->v.i);
        return;
    case BT_BSTR:
        bt_benc_str(e, bt_bstr_ptr(doc, n), n->v.s.len);
        return;
    case BT_BLIST:
        bt_benc_list(e);
        for (c = bt_bnode_child(doc, n); c; c = bt_bnode_next(doc, n, c))
            reencode(e, doc, c);
        bt_benc_end(e);
        return;
    default:
        bt_benc_dict(e);
        for (c = bt_bnode_child(doc, n); c; c = bt_bnode_next(doc, n, c + 1)) {
            size_t len = c->v.s.len < sizeof(key) - 1 ? c->v.s.len : sizeof(key) - 1;

            memcpy(key, bt_bstr_ptr(doc, c), len);
            key[len] = '\0';
            bt_benc_key(e, key);
            reencode(e, doc, c + 1);
        }
        bt_benc_end(e);
    }
}

static void check_valid_case(const char *name, const uint8_t *data, size_t len, const char *side)
{
    struct bt_bdoc doc;
    struct bt_error err = {{0}};
    int r = bt_bencode_parse(&doc, data, len, NULL, &err);

    (void)side;
    CHECK_MSG(r == 0, "%s: %s", name, err.msg);
    if (r < 0)
        return;
    CHECK(doc.len == len && doc.nodes[0].raw_len == len);
    if (strncmp(name, "canonical-", 10) == 0) {
        struct bt_buf b;
        struct bt_benc e;

        bt_buf_init(&b, 0);
        bt_benc_init(&e, &b);
        reencode(&e, &doc, bt_bdoc_root(&doc));
        CHECK(bt_benc_finish(&e) == 0);
        CHECK(b.len == len && memcmp(b.data, data, len) == 0);
        bt_buf_deinit(&b);
    }
    bt_bdoc_deinit(&doc);
}

static void check_invalid_case(const char *name, const uint8_t *data, size_t len,
                               const char *expect)
{
    struct bt_bdoc doc;
    struct bt_error err = {{0}};
    int r = bt_bencode_parse(&doc, data, len, NULL, &err);

    CHECK_MSG(expect != NULL, "%s: no .err file", name);
    CHECK_MSG(r < 0, "%s parsed but must not", name);
    if (r == 0) {
        bt_bdoc_deinit(&doc);
        return;
    }
    CHECK_MSG(expect && strstr(err.msg, expect) != NULL, "%s: got \"%s\", want \"%s\"", name,
              err.msg, expect);
    CHECK(strchr(err.msg, '\n') == NULL);
}

int main(void)
{
    TAP_RUN(test_parses_integer_extremes);
    TAP_RUN(test_dict_lookup_and_iteration);
    TAP_RUN(test_raw_span_is_exact_bytes_of_unsorted_dict);
    TAP_RUN(test_string_length_checked_before_allocation);
    TAP_RUN(test_node_limit_refuses_large_documents);
    TAP_RUN(test_prefix_parse_reports_consumed_and_need_more);
    TAP_RUN(test_encoder_writes_canonical_bytes);
    TAP_RUN(test_encoder_refuses_unsorted_and_duplicate_keys);
    TAP_RUN(test_encoder_refuses_value_without_key_and_open_containers);
    TAP_RUN(test_encoder_respects_buffer_cap);
    testdata_run("bencode", ".bin", check_valid_case, check_invalid_case);
    return tap_done();
}
