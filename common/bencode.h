/*
 * bencode: a strict BEP 3 decoder and a canonical encoder. Pure; any thread.
 *
 * The decoder turns a byte buffer into a flat array of nodes in document
 * order (a container is followed by its whole subtree). Nodes borrow the
 * input: a document is valid only while the buffer it was parsed from is.
 * Every node keeps its raw span, so the info-hash is SHA-1 over the exact
 * bytes of `info` as they stood in the file.
 *
 * Strictness: integers have no leading zeros, no "-0", fit in int64;
 * string lengths are checked against what remains before anything is
 * allocated; nesting is limited (depth) and so is the node count; duplicate
 * dictionary keys and non-string keys are refused; unsorted keys are
 * accepted (real torrents have them); trailing bytes after the top value
 * are refused by bt_bencode_parse (bt_bencode_parse_prefix allows them).
 *
 * The encoder writes into a struct bt_buf. Dictionary keys must be written
 * in sorted order; a key out of order or a duplicate makes the encoder fail
 * with -EINVAL, so its output is always canonical.
 */
#ifndef BT_BENCODE_H
#define BT_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define BT_BENCODE_MAX_DEPTH 64
#define BT_BENCODE_DEFAULT_MAX_NODES (1u << 20)

enum bt_btype {
    BT_BINT = 1,
    BT_BSTR,
    BT_BLIST,
    BT_BDICT,
};

struct bt_bnode {
    uint8_t type;   /* enum bt_btype */
    uint32_t count; /* list: items; dict: key/value pairs (children = 2 * count) */
    uint32_t next;  /* index of the first node after this subtree */
    size_t raw_off; /* bytes: where this value starts in the input */
    size_t raw_len; /* bytes: the whole encoded value, "d...e" included */
    union {
        int64_t i; /* BT_BINT */
        struct {
            size_t off; /* bytes: the string's content in the input */
            size_t len;
        } s; /* BT_BSTR */
    } v;
};

struct bt_bdoc {
    const uint8_t *buf;     /* borrowed: the parsed input */
    size_t len;             /* bytes consumed by the top value */
    struct bt_bnode *nodes; /* owned */
    uint32_t n;             /* nodes used; nodes[0] is the top value */
};

struct bt_bencode_limits {
    uint32_t max_nodes; /* 0: BT_BENCODE_DEFAULT_MAX_NODES */
    uint32_t max_depth; /* 0 or over BT_BENCODE_MAX_DEPTH: BT_BENCODE_MAX_DEPTH */
};

/*
 * Parses exactly one value filling all of buf. limits may be NULL.
 * Returns 0, or -EBADMSG (malformed), -EMSGSIZE (a limit), -ENOMEM, with a
 * message naming the offset in err. On failure doc is left empty.
 */
int bt_bencode_parse(struct bt_bdoc *doc, const uint8_t *buf, size_t len,
                     const struct bt_bencode_limits *limits, struct bt_error *err);
/*
 * Parses one value at the start of buf and allows bytes after it (the BEP 9
 * metadata message carries raw data after a dictionary). Returns bytes
 * consumed (> 0), 0 if buf ends inside the value, < 0 if invalid.
 */
int bt_bencode_parse_prefix(struct bt_bdoc *doc, const uint8_t *buf, size_t len,
                            const struct bt_bencode_limits *limits, struct bt_error *err);
void bt_bdoc_deinit(struct bt_bdoc *doc);

/* Navigation. Every node pointer is into doc->nodes. */
static inline const struct bt_bnode *bt_bdoc_root(const struct bt_bdoc *doc)
{
    return doc->n ? &doc->nodes[0] : NULL;
}
/* The first child of a list or dict (for a dict: the first key), or NULL. */
const struct bt_bnode *bt_bnode_child(const struct bt_bdoc *doc, const struct bt_bnode *n);
/* The next sibling inside the same container; NULL past the last one. */
const struct bt_bnode *bt_bnode_next(const struct bt_bdoc *doc, const struct bt_bnode *parent,
                                     const struct bt_bnode *n);
/* The value under key in a dict, or NULL (also when d is not a dict). */
const struct bt_bnode *bt_bdict_get(const struct bt_bdoc *doc, const struct bt_bnode *d,
                                    const char *key);
/* The i-th item of a list, or NULL. O(i). */
const struct bt_bnode *bt_blist_at(const struct bt_bdoc *doc, const struct bt_bnode *l, uint32_t i);

/* String helpers: the bytes of a BT_BSTR node (not NUL-terminated). */
static inline const uint8_t *bt_bstr_ptr(const struct bt_bdoc *doc, const struct bt_bnode *n)
{
    return doc->buf + n->v.s.off;
}
/* True if n is a string equal to the NUL-terminated s. */
bool bt_bstr_eq(const struct bt_bdoc *doc, const struct bt_bnode *n, const char *s);
/* A new NUL-terminated copy of a string node (caller frees), or NULL. */
char *bt_bstr_dup(const struct bt_bdoc *doc, const struct bt_bnode *n);
/* The raw encoded bytes of any node (the span in the input). */
static inline const uint8_t *bt_bnode_raw(const struct bt_bdoc *doc, const struct bt_bnode *n)
{
    return doc->buf + n->raw_off;
}

/*
 * The encoder wraps a bt_buf and remembers the last key at each depth, so
 * keys out of order fail. Errors are sticky: write everything, then check
 * bt_benc_finish() once (-EINVAL misuse, -EMSGSIZE/-ENOMEM from the buf).
 */
struct bt_benc {
    struct bt_buf *out; /* borrowed */
    int depth;
    int error; /* first error, sticky */
    struct {
        bool is_dict;
        bool want_value;     /* dict: a key was written, its value is next */
        size_t last_key_off; /* bytes into out of the previous key's content */
        size_t last_key_len;
        bool has_key;
    } stack[BT_BENCODE_MAX_DEPTH];
};

void bt_benc_init(struct bt_benc *e, struct bt_buf *out);
void bt_benc_int(struct bt_benc *e, int64_t v);
void bt_benc_str(struct bt_benc *e, const void *p, size_t len);
void bt_benc_cstr(struct bt_benc *e, const char *s);
/* Appends already encoded bytes as one value (e.g. a raw `info` span). */
void bt_benc_raw(struct bt_benc *e, const void *p, size_t len);
void bt_benc_list(struct bt_benc *e);
void bt_benc_dict(struct bt_benc *e);
/* In a dict: writes the key; it must sort after the previous key. */
void bt_benc_key(struct bt_benc *e, const char *key);
void bt_benc_end(struct bt_benc *e);
/* 0 if everything written was valid and all containers are closed. */
int bt_benc_finish(struct bt_benc *e);

#endif
