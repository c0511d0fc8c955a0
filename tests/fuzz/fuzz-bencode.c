/*
 * fuzz-bencode: libFuzzer target for the bencode decoder and encoder.
 *
 * Parses the input whole and as a prefix (with tight limits), walks every
 * node through the navigation API, and when the document re-encodes (its
 * keys are sorted) parses the encoder's output again and checks that it is
 * the same tree. Any disagreement aborts, so libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "buf.h"
#include "error.h"
#include "fuzz.h"

/* Visits n and its subtree; returns the number of nodes seen. */
static uint32_t walk(const struct bt_bdoc *doc, const struct bt_bnode *n, int depth)
{
    const struct bt_bnode *c;
    uint32_t seen = 1, items = 0;

    FUZZ_ASSERT(depth <= BT_BENCODE_MAX_DEPTH + 1);
    FUZZ_ASSERT(n >= doc->nodes && n < doc->nodes + doc->n);
    FUZZ_ASSERT(n->raw_off + n->raw_len <= doc->len);
    switch (n->type) {
    case BT_BINT:
        break;
    case BT_BSTR: {
        char *s;

        FUZZ_ASSERT(n->v.s.off + n->v.s.len <= n->raw_off + n->raw_len);
        s = bt_bstr_dup(doc, n);
        if (s) {
            FUZZ_ASSERT(bt_bstr_eq(doc, n, s) == (strlen(s) == n->v.s.len));
            free(s);
        }
        break;
    }
    case BT_BLIST:
    case BT_BDICT:
        for (c = bt_bnode_child(doc, n); c; c = bt_bnode_next(doc, n, c)) {
            if (n->type == BT_BDICT && items % 2 == 0)
                FUZZ_ASSERT(c->type == BT_BSTR);
            seen += walk(doc, c, depth + 1);
            items++;
        }
        FUZZ_ASSERT(items == (n->type == BT_BDICT ? 2 * n->count : n->count));
        if (n->type == BT_BDICT)
            (void)bt_bdict_get(doc, n, "info");
        else if (n->count)
            FUZZ_ASSERT(bt_blist_at(doc, n, n->count - 1) != NULL);
        break;
    default:
        FUZZ_ASSERT(!"unknown node type");
    }
    FUZZ_ASSERT(n->next == (uint32_t)(n - doc->nodes) + seen);
    return seen;
}

/*
 * Writes n and its subtree with the encoder. bt_benc_key() takes a C string,
 * so a key holding a NUL cannot be written: *skip is then set.
 */
static void encode(struct bt_benc *e, const struct bt_bdoc *doc, const struct bt_bnode *n,
                   bool *skip)
{
    const struct bt_bnode *c;
    uint32_t i = 0;

    switch (n->type) {
    case BT_BINT:
        bt_benc_int(e, n->v.i);
        break;
    case BT_BSTR:
        bt_benc_str(e, bt_bstr_ptr(doc, n), n->v.s.len);
        break;
    case BT_BLIST:
        bt_benc_list(e);
        for (c = bt_bnode_child(doc, n); c; c = bt_bnode_next(doc, n, c))
            encode(e, doc, c, skip);
        bt_benc_end(e);
        break;
    case BT_BDICT:
        bt_benc_dict(e);
        for (c = bt_bnode_child(doc, n); c; c = bt_bnode_next(doc, n, c), i++) {
            char *key;

            if (i % 2) {
                encode(e, doc, c, skip);
                continue;
            }
            key = bt_bstr_dup(doc, c);
            if (key && strlen(key) == c->v.s.len)
                bt_benc_key(e, key);
            else
                *skip = true;
            free(key);
        }
        bt_benc_end(e);
        break;
    }
}

/* Two documents hold the same values, node by node. */
static void check_same(const struct bt_bdoc *a, const struct bt_bdoc *b)
{
    FUZZ_ASSERT(a->n == b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        const struct bt_bnode *x = &a->nodes[i], *y = &b->nodes[i];

        FUZZ_ASSERT(x->type == y->type);
        FUZZ_ASSERT(x->count == y->count);
        FUZZ_ASSERT(x->next == y->next);
        if (x->type == BT_BINT)
            FUZZ_ASSERT(x->v.i == y->v.i);
        if (x->type == BT_BSTR) {
            FUZZ_ASSERT(x->v.s.len == y->v.s.len);
            FUZZ_ASSERT(memcmp(bt_bstr_ptr(a, x), bt_bstr_ptr(b, y), x->v.s.len) == 0);
        }
    }
}

static void round_trip(const struct bt_bdoc *doc)
{
    struct bt_buf out;
    struct bt_benc e;
    struct bt_bdoc again = {0};
    bool skip = false;

    bt_buf_init(&out, 0);
    bt_benc_init(&e, &out);
    encode(&e, doc, bt_bdoc_root(doc), &skip);
    if (bt_benc_finish(&e) == 0 && !skip) {
        FUZZ_ASSERT(bt_bencode_parse(&again, out.data, out.len, NULL, NULL) == 0);
        check_same(doc, &again);
        FUZZ_ASSERT(out.len <= doc->len);
        bt_bdoc_deinit(&again);
    }
    bt_buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct bt_bencode_limits tight = {.max_nodes = 64, .max_depth = 4};
    struct bt_bdoc doc = {0};
    struct bt_error err = {{0}};
    int r;

    r = bt_bencode_parse(&doc, data, size, NULL, &err);
    if (r == 0) {
        FUZZ_ASSERT(doc.n > 0 && doc.len == size);
        FUZZ_ASSERT(walk(&doc, bt_bdoc_root(&doc), 1) == doc.n);
        round_trip(&doc);
    } else {
        FUZZ_ASSERT(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
        FUZZ_ASSERT(doc.n == 0);
        FUZZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        FUZZ_ASSERT(r == -ENOMEM || err.msg[0] != '\0');
    }
    bt_bdoc_deinit(&doc);

    memset(&doc, 0, sizeof(doc));
    r = bt_bencode_parse_prefix(&doc, data, size, &tight, NULL);
    if (r > 0) {
        FUZZ_ASSERT((size_t)r <= size && doc.len == (size_t)r && doc.n <= tight.max_nodes);
        FUZZ_ASSERT(walk(&doc, bt_bdoc_root(&doc), 1) == doc.n);
    }
    bt_bdoc_deinit(&doc);
    return 0;
}
