#include "bencode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal: the input ended inside a value (only reported by parse_prefix). */
#define NEED_MORE (-EAGAIN)

struct parser {
    const uint8_t *buf;
    size_t len;
    size_t pos; /* bytes consumed */
    struct bt_bnode *nodes;
    uint32_t n;
    uint32_t cap;
    uint32_t max_nodes;
    uint32_t max_depth;
    struct bt_error *err;
};

static int fail(struct parser *p, int code, const char *what)
{
    if (code == NEED_MORE)
        return code;
    return bt_error_set(p->err, code, "bencode: offset %zu: %s", p->pos, what);
}

static int truncated(struct parser *p)
{
    (void)p;
    return NEED_MORE;
}

static int push_node(struct parser *p, uint8_t type, uint32_t *ret_idx)
{
    struct bt_bnode *nodes;
    uint32_t cap;

    if (p->n >= p->max_nodes)
        return fail(p, -EMSGSIZE, "too many values");
    if (p->n == p->cap) {
        cap = p->cap ? p->cap * 2 : 64;
        if (cap > p->max_nodes)
            cap = p->max_nodes;
        nodes = realloc(p->nodes, (size_t)cap * sizeof(*nodes));
        if (!nodes)
            return fail(p, -ENOMEM, "out of memory");
        p->nodes = nodes;
        p->cap = cap;
    }
    memset(&p->nodes[p->n], 0, sizeof(p->nodes[0]));
    p->nodes[p->n].type = type;
    p->nodes[p->n].raw_off = p->pos;
    *ret_idx = p->n++;
    return 0;
}

static void close_node(struct parser *p, uint32_t idx)
{
    p->nodes[idx].next = p->n;
    p->nodes[idx].raw_len = p->pos - p->nodes[idx].raw_off;
}

/* "i" [-] digits "e": no leading zeros, no "-0", within int64. */
static int parse_int(struct parser *p, uint32_t idx)
{
    uint64_t mag = 0, limit;
    bool neg = false;
    size_t digits = 0;

    p->pos++; /* 'i' */
    if (p->pos < p->len && p->buf[p->pos] == '-') {
        neg = true;
        p->pos++;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
        unsigned d = p->buf[p->pos] - '0';

        if (digits == 1 && mag == 0)
            return fail(p, -EBADMSG, "leading zero in integer");
        if (mag > (limit - d) / 10)
            return fail(p, -EBADMSG, "integer out of range");
        mag = mag * 10 + d;
        digits++;
        p->pos++;
    }
    if (p->pos >= p->len)
        return truncated(p);
    if (p->buf[p->pos] != 'e')
        return fail(p, -EBADMSG, "unexpected byte in integer");
    if (digits == 0)
        return fail(p, -EBADMSG, "integer without digits");
    if (neg && mag == 0)
        return fail(p, -EBADMSG, "negative zero");
    p->pos++;
    if (neg)
        p->nodes[idx].v.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        p->nodes[idx].v.i = (int64_t)mag;
    close_node(p, idx);
    return 0;
}

/* digits ":" bytes; the length is checked against what remains. */
static int parse_str(struct parser *p, uint32_t idx)
{
    size_t n = 0, digits = 0;

    while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
        if (digits == 1 && n == 0)
            return fail(p, -EBADMSG, "leading zero in string length");
        if (n > (SIZE_MAX - 9) / 10)
            return fail(p, -EBADMSG, "string length out of range");
        n = n * 10 + (size_t)(p->buf[p->pos] - '0');
        digits++;
        p->pos++;
    }
    if (p->pos >= p->len)
        return truncated(p);
    if (p->buf[p->pos] != ':')
        return fail(p, -EBADMSG, "expected ':' after string length");
    p->pos++;
    if (n > p->len - p->pos) {
        /* A complete document can never hold it; a prefix may still grow. */
        return truncated(p);
    }
    p->nodes[idx].v.s.off = p->pos;
    p->nodes[idx].v.s.len = n;
    p->pos += n;
    close_node(p, idx);
    return 0;
}

static int parse_value(struct parser *p, uint32_t depth);

static int cmp_keys(const void *a, const void *b, void *arg)
{
    const struct parser *p = arg;
    const struct bt_bnode *ka = &p->nodes[*(const uint32_t *)a];
    const struct bt_bnode *kb = &p->nodes[*(const uint32_t *)b];
    size_t n = ka->v.s.len < kb->v.s.len ? ka->v.s.len : kb->v.s.len;
    int c = memcmp(p->buf + ka->v.s.off, p->buf + kb->v.s.off, n);

    if (c)
        return c;
    return (ka->v.s.len > kb->v.s.len) - (ka->v.s.len < kb->v.s.len);
}

/*
 * Refuses duplicate keys. Sorted dictionaries (the usual case) take one
 * pass; unsorted ones are sorted by index first, O(n log n).
 */
static int check_duplicates(struct parser *p, uint32_t dict)
{
    uint32_t count = p->nodes[dict].count, i, k, prev = 0;
    bool sorted = true;
    uint32_t *keys;
    int r = 0;

    if (count < 2)
        return 0;
    k = dict + 1;
    for (i = 0; i < count; i++) {
        if (i > 0) {
            int c = cmp_keys(&prev, &k, p);

            if (c == 0)
                return bt_error_set(p->err, -EBADMSG, "bencode: offset %zu: duplicate key",
                                    p->nodes[k].raw_off);
            if (c > 0)
                sorted = false;
        }
        prev = k;
        k = p->nodes[k + 1].next;
    }
    if (sorted)
        return 0;
    keys = malloc((size_t)count * sizeof(*keys));
    if (!keys)
        return fail(p, -ENOMEM, "out of memory");
    k = dict + 1;
    for (i = 0; i < count; i++) {
        keys[i] = k;
        k = p->nodes[k + 1].next;
    }
    qsort_r(keys, count, sizeof(*keys), cmp_keys, p);
    for (i = 1; i < count && r == 0; i++) {
        if (cmp_keys(&keys[i - 1], &keys[i], p) == 0)
            r = bt_error_set(p->err, -EBADMSG, "bencode: offset %zu: duplicate key",
                             p->nodes[keys[i]].raw_off);
    }
    free(keys);
    return r;
}

static int parse_container(struct parser *p, uint32_t idx, uint32_t depth)
{
    bool dict = p->nodes[idx].type == BT_BDICT;
    uint32_t count = 0;
    int r;

    if (depth >= p->max_depth)
        return fail(p, -EMSGSIZE, "nesting too deep");
    p->pos++; /* 'l' or 'd' */
    for (;;) {
        if (p->pos >= p->len)
            return truncated(p);
        if (p->buf[p->pos] == 'e')
            break;
        if (dict && (p->buf[p->pos] < '0' || p->buf[p->pos] > '9'))
            return fail(p, -EBADMSG, "dictionary key is not a string");
        r = parse_value(p, depth + 1);
        if (r < 0)
            return r;
        if (dict) {
            if (p->pos >= p->len)
                return truncated(p);
            if (p->buf[p->pos] == 'e')
                return fail(p, -EBADMSG, "dictionary key without a value");
            r = parse_value(p, depth + 1);
            if (r < 0)
                return r;
        }
        count++;
    }
    p->pos++;
    p->nodes[idx].count = count;
    close_node(p, idx);
    return dict ? check_duplicates(p, idx) : 0;
}

static int parse_value(struct parser *p, uint32_t depth)
{
    uint32_t idx;
    uint8_t c, type;
    int r;

    if (p->pos >= p->len)
        return truncated(p);
    c = p->buf[p->pos];
    if (c == 'i')
        type = BT_BINT;
    else if (c >= '0' && c <= '9')
        type = BT_BSTR;
    else if (c == 'l')
        type = BT_BLIST;
    else if (c == 'd')
        type = BT_BDICT;
    else
        return fail(p, -EBADMSG, "unexpected byte");
    r = push_node(p, type, &idx);
    if (r < 0)
        return r;
    if (type == BT_BINT)
        return parse_int(p, idx);
    if (type == BT_BSTR)
        return parse_str(p, idx);
    return parse_container(p, idx, depth);
}

static int parse(struct bt_bdoc *doc, const uint8_t *buf, size_t len,
                 const struct bt_bencode_limits *limits, struct bt_error *err)
{
    struct parser p = {
        .buf = buf,
        .len = len,
        .max_nodes = BT_BENCODE_DEFAULT_MAX_NODES,
        .max_depth = BT_BENCODE_MAX_DEPTH,
        .err = err,
    };
    int r;

    memset(doc, 0, sizeof(*doc));
    if (limits && limits->max_nodes)
        p.max_nodes = limits->max_nodes;
    if (limits && limits->max_depth && limits->max_depth < BT_BENCODE_MAX_DEPTH)
        p.max_depth = limits->max_depth;
    r = parse_value(&p, 0);
    if (r < 0) {
        free(p.nodes);
        return r;
    }
    doc->buf = buf;
    doc->len = p.pos;
    doc->nodes = p.nodes;
    doc->n = p.n;
    return 0;
}

int bt_bencode_parse(struct bt_bdoc *doc, const uint8_t *buf, size_t len,
                     const struct bt_bencode_limits *limits, struct bt_error *err)
{
    int r = parse(doc, buf, len, limits, err);

    if (r == NEED_MORE)
        return bt_error_set(err, -EBADMSG, "bencode: offset %zu: truncated input", len);
    if (r < 0)
        return r;
    if (doc->len != len) {
        r = bt_error_set(err, -EBADMSG, "bencode: offset %zu: trailing bytes after the value",
                         doc->len);
        bt_bdoc_deinit(doc);
    }
    return r;
}

int bt_bencode_parse_prefix(struct bt_bdoc *doc, const uint8_t *buf, size_t len,
                            const struct bt_bencode_limits *limits, struct bt_error *err)
{
    int r;

    if (len > INT32_MAX)
        len = INT32_MAX; /* the return value must hold the count */
    r = parse(doc, buf, len, limits, err);
    if (r == NEED_MORE)
        return 0;
    if (r < 0)
        return r;
    return (int)doc->len;
}

void bt_bdoc_deinit(struct bt_bdoc *doc)
{
    free(doc->nodes);
    memset(doc, 0, sizeof(*doc));
}

const struct bt_bnode *bt_bnode_child(const struct bt_bdoc *doc, const struct bt_bnode *n)
{
    (void)doc;
    if (!n || (n->type != BT_BLIST && n->type != BT_BDICT) || n->count == 0)
        return NULL;
    return n + 1;
}

const struct bt_bnode *bt_bnode_next(const struct bt_bdoc *doc, const struct bt_bnode *parent,
                                     const struct bt_bnode *n)
{
    if (!n || !parent || n->next >= parent->next)
        return NULL;
    return &doc->nodes[n->next];
}

bool bt_bstr_eq(const struct bt_bdoc *doc, const struct bt_bnode *n, const char *s)
{
    size_t len = strlen(s);

    return n && n->type == BT_BSTR && n->v.s.len == len &&
           memcmp(doc->buf + n->v.s.off, s, len) == 0;
}

const struct bt_bnode *bt_bdict_get(const struct bt_bdoc *doc, const struct bt_bnode *d,
                                    const char *key)
{
    const struct bt_bnode *k;

    if (!d || d->type != BT_BDICT)
        return NULL;
    for (k = bt_bnode_child(doc, d); k; k = bt_bnode_next(doc, d, k + 1)) {
        if (bt_bstr_eq(doc, k, key))
            return k + 1;
    }
    return NULL;
}

const struct bt_bnode *bt_blist_at(const struct bt_bdoc *doc, const struct bt_bnode *l, uint32_t i)
{
    const struct bt_bnode *it;

    if (!l || l->type != BT_BLIST || i >= l->count)
        return NULL;
    it = bt_bnode_child(doc, l);
    while (it && i-- > 0)
        it = bt_bnode_next(doc, l, it);
    return it;
}

char *bt_bstr_dup(const struct bt_bdoc *doc, const struct bt_bnode *n)
{
    char *s;

    if (!n || n->type != BT_BSTR)
        return NULL;
    s = malloc(n->v.s.len + 1);
    if (!s)
        return NULL;
    memcpy(s, doc->buf + n->v.s.off, n->v.s.len);
    s[n->v.s.len] = '\0';
    return s;
}

/* The encoder. */

void bt_benc_init(struct bt_benc *e, struct bt_buf *out)
{
    memset(e, 0, sizeof(*e));
    e->out = out;
}

static void benc_fail(struct bt_benc *e, int code)
{
    if (e->error == 0)
        e->error = code;
}

static void benc_append(struct bt_benc *e, const void *p, size_t n)
{
    int r;

    if (e->error)
        return;
    r = bt_buf_append(e->out, p, n);
    if (r < 0)
        benc_fail(e, r);
}

/* Checks that a value may be written here and updates the dict state. */
static bool benc_value_ok(struct bt_benc *e)
{
    if (e->error)
        return false;
    if (e->depth > 0 && e->stack[e->depth - 1].is_dict) {
        if (!e->stack[e->depth - 1].want_value) {
            benc_fail(e, -EINVAL);
            return false;
        }
        e->stack[e->depth - 1].want_value = false;
    }
    return true;
}

static void benc_str_raw(struct bt_benc *e, const void *p, size_t len)
{
    char hdr[24];
    int n = snprintf(hdr, sizeof(hdr), "%zu:", len);

    benc_append(e, hdr, (size_t)n);
    benc_append(e, p, len);
}

void bt_benc_int(struct bt_benc *e, int64_t v)
{
    char tmp[32];
    int n;

    if (!benc_value_ok(e))
        return;
    n = snprintf(tmp, sizeof(tmp), "i%" PRId64 "e", v);
    benc_append(e, tmp, (size_t)n);
}

void bt_benc_str(struct bt_benc *e, const void *p, size_t len)
{
    if (!benc_value_ok(e))
        return;
    benc_str_raw(e, p, len);
}

void bt_benc_cstr(struct bt_benc *e, const char *s)
{
    bt_benc_str(e, s, strlen(s));
}

void bt_benc_raw(struct bt_benc *e, const void *p, size_t len)
{
    if (!benc_value_ok(e))
        return;
    benc_append(e, p, len);
}

static void benc_open(struct bt_benc *e, bool dict)
{
    if (!benc_value_ok(e))
        return;
    if (e->depth >= BT_BENCODE_MAX_DEPTH) {
        benc_fail(e, -EINVAL);
        return;
    }
    memset(&e->stack[e->depth], 0, sizeof(e->stack[0]));
    e->stack[e->depth].is_dict = dict;
    e->depth++;
    benc_append(e, dict ? "d" : "l", 1);
}

void bt_benc_list(struct bt_benc *e)
{
    benc_open(e, false);
}

void bt_benc_dict(struct bt_benc *e)
{
    benc_open(e, true);
}

void bt_benc_key(struct bt_benc *e, const char *key)
{
    size_t len = strlen(key), off;
    char hdr[24];
    int n;

    if (e->error)
        return;
    if (e->depth == 0 || !e->stack[e->depth - 1].is_dict || e->stack[e->depth - 1].want_value) {
        benc_fail(e, -EINVAL);
        return;
    }
    if (e->stack[e->depth - 1].has_key) {
        size_t plen = e->stack[e->depth - 1].last_key_len;
        const uint8_t *prev = e->out->data + e->stack[e->depth - 1].last_key_off;
        int c = memcmp(prev, key, plen < len ? plen : len);

        if (c > 0 || (c == 0 && plen >= len)) {
            benc_fail(e, -EINVAL); /* out of order or duplicate */
            return;
        }
    }
    n = snprintf(hdr, sizeof(hdr), "%zu:", len);
    benc_append(e, hdr, (size_t)n);
    off = e->out->len;
    benc_append(e, key, len);
    if (e->error)
        return;
    e->stack[e->depth - 1].last_key_off = off;
    e->stack[e->depth - 1].last_key_len = len;
    e->stack[e->depth - 1].has_key = true;
    e->stack[e->depth - 1].want_value = true;
}

void bt_benc_end(struct bt_benc *e)
{
    if (e->error)
        return;
    if (e->depth == 0 || (e->stack[e->depth - 1].is_dict && e->stack[e->depth - 1].want_value)) {
        benc_fail(e, -EINVAL);
        return;
    }
    e->depth--;
    benc_append(e, "e", 1);
}

int bt_benc_finish(struct bt_benc *e)
{
    if (e->error)
        return e->error;
    return e->depth == 0 ? 0 : -EINVAL;
}
