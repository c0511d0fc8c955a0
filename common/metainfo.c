#include "metainfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "sha1.h"

/*
 * Bencode values accepted in one document. The decoder grows its node array
 * as it goes, so memory follows the input; the cap leaves room for
 * BT_METAINFO_MAX_FILES files with a few path components each.
 */
#define MAX_NODES (1u << 22)
#define FIELD_MAX 64      /* bytes of a formatted field name such as info.files[12].path */
#define SHOWN_PATH_MAX 96 /* bytes of a path quoted in an error message */

struct ctx {
    const struct bt_bdoc *doc;
    struct bt_metainfo *m;
    struct bt_error *err;
};

enum component_problem {
    COMPONENT_OK,
    COMPONENT_EMPTY,
    COMPONENT_DOT,
    COMPONENT_DOTDOT,
    COMPONENT_SLASH,
    COMPONENT_BACKSLASH,
    COMPONENT_NUL,
};

/* Indexed by enum component_problem: how info.name and a path component read when refused. */
static const struct {
    const char *name;
    const char *path;
} problems[] = {
    {"", ""},
    {"must not be empty", "empty component is not allowed"},
    {"\".\" is not allowed", "component \".\" is not allowed"},
    {"\"..\" is not allowed", "component \"..\" is not allowed"},
    {"must not contain '/'", "component containing '/' is not allowed"},
    {"must not contain '\\'", "component containing '\\' is not allowed"},
    {"must not contain NUL", "component containing NUL is not allowed"},
};

static int no_memory(struct ctx *c)
{
    return bt_error_set(c->err, -ENOMEM, "out of memory");
}

static const char *type_noun(enum bt_btype type)
{
    switch (type) {
    case BT_BINT:
        return "an integer";
    case BT_BSTR:
        return "a string";
    case BT_BLIST:
        return "a list";
    case BT_BDICT:
        return "a dictionary";
    }
    return "a value";
}

/* Checks that n (maybe NULL) is present and of type. */
static int need(struct ctx *c, const struct bt_bnode *n, enum bt_btype type, const char *field)
{
    if (!n)
        return bt_error_set(c->err, -EBADMSG, "%s: missing", field);
    if (n->type != type)
        return bt_error_set(c->err, -EBADMSG, "%s: not %s", field, type_noun(type));
    return 0;
}

static bool has_nul(const struct ctx *c, const struct bt_bnode *s)
{
    return memchr(bt_bstr_ptr(c->doc, s), '\0', s->v.s.len) != NULL;
}

/* A name or path component that is safe to join with '/' under the download directory. */
static enum component_problem check_component(const uint8_t *p, size_t len)
{
    if (len == 0)
        return COMPONENT_EMPTY;
    if (len == 1 && p[0] == '.')
        return COMPONENT_DOT;
    if (len == 2 && p[0] == '.' && p[1] == '.')
        return COMPONENT_DOTDOT;
    if (memchr(p, '\0', len))
        return COMPONENT_NUL;
    if (memchr(p, '/', len))
        return COMPONENT_SLASH;
    if (memchr(p, '\\', len))
        return COMPONENT_BACKSLASH;
    return COMPONENT_OK;
}

/* Copies s into out for an error message: bounded, control bytes shown as '?'. */
static void shown_path(char out[SHOWN_PATH_MAX], const char *s)
{
    size_t i;

    for (i = 0; s[i] && i < SHOWN_PATH_MAX - 4; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static int parse_name(struct ctx *c, const struct bt_bnode *info)
{
    const struct bt_bnode *n = bt_bdict_get(c->doc, info, "name");
    enum component_problem p;
    int r;

    r = need(c, n, BT_BSTR, "info.name");
    if (r < 0)
        return r;
    p = check_component(bt_bstr_ptr(c->doc, n), n->v.s.len);
    if (p != COMPONENT_OK)
        return bt_error_set(c->err, -EBADMSG, "info.name: %s", problems[p].name);
    if (n->v.s.len > BT_METAINFO_MAX_PATH)
        return bt_error_set(c->err, -EBADMSG, "info.name: longer than %d bytes",
                            BT_METAINFO_MAX_PATH);
    c->m->name = bt_bstr_dup(c->doc, n);
    return c->m->name ? 0 : no_memory(c);
}

static int parse_piece_length(struct ctx *c, const struct bt_bnode *info)
{
    const struct bt_bnode *n = bt_bdict_get(c->doc, info, "piece length");
    int64_t v;
    int r;

    r = need(c, n, BT_BINT, "info.piece length");
    if (r < 0)
        return r;
    v = n->v.i;
    if (v <= 0)
        return bt_error_set(c->err, -EBADMSG, "info.piece length: must be positive");
    if (v < BT_METAINFO_MIN_PIECE_LENGTH)
        return bt_error_set(c->err, -EBADMSG,
                            "info.piece length: %" PRId64 " is below the minimum of %d", v,
                            BT_METAINFO_MIN_PIECE_LENGTH);
    if ((uint64_t)v > BT_METAINFO_MAX_PIECE_LENGTH)
        return bt_error_set(c->err, -EBADMSG,
                            "info.piece length: %" PRId64 " is above the maximum of %" PRIu64, v,
                            BT_METAINFO_MAX_PIECE_LENGTH);
    c->m->piece_length = (uint64_t)v;
    return 0;
}

static int parse_single(struct ctx *c, const struct bt_bnode *length)
{
    struct bt_metainfo *m = c->m;

    if (length->type != BT_BINT)
        return bt_error_set(c->err, -EBADMSG, "info.length: not an integer");
    if (length->v.i < 0)
        return bt_error_set(c->err, -EBADMSG, "info.length: must not be negative");
    if ((uint64_t)length->v.i > BT_METAINFO_MAX_TOTAL)
        return bt_error_set(c->err, -EBADMSG,
                            "info.length: %" PRId64 " bytes is above the maximum of %" PRIu64,
                            length->v.i, BT_METAINFO_MAX_TOTAL);
    m->files = calloc(1, sizeof(*m->files));
    if (!m->files)
        return no_memory(c);
    m->file_count = 1;
    m->files[0].path = strdup(m->name);
    if (!m->files[0].path)
        return no_memory(c);
    m->files[0].length = (uint64_t)length->v.i;
    m->total_length = m->files[0].length;
    return 0;
}

/* Checks every component of a file's path and returns the joined length ("name/a/b"). */
static int check_path(struct ctx *c, const struct bt_bnode *path, size_t i, size_t *ret_len)
{
    const struct bt_bnode *comp;
    enum component_problem p;
    size_t joined = strlen(c->m->name);
    uint32_t k = 0;

    for (comp = bt_bnode_child(c->doc, path); comp; comp = bt_bnode_next(c->doc, path, comp)) {
        if (comp->type != BT_BSTR)
            return bt_error_set(c->err, -EBADMSG, "info.files[%zu].path[%" PRIu32 "]: not a string",
                                i, k);
        p = check_component(bt_bstr_ptr(c->doc, comp), comp->v.s.len);
        if (p != COMPONENT_OK)
            return bt_error_set(c->err, -EBADMSG, "info.files[%zu].path: %s", i, problems[p].path);
        joined += 1 + comp->v.s.len;
        if (joined > BT_METAINFO_MAX_PATH)
            return bt_error_set(c->err, -EBADMSG,
                                "info.files[%zu].path: joined path is longer than %d bytes", i,
                                BT_METAINFO_MAX_PATH);
        k++;
    }
    *ret_len = joined;
    return 0;
}

static int parse_path(struct ctx *c, const struct bt_bnode *file, size_t i, char **ret_path)
{
    const struct bt_bnode *path = bt_bdict_get(c->doc, file, "path");
    const struct bt_bnode *comp;
    char field[FIELD_MAX];
    size_t len, pos;
    char *s;
    int r;

    snprintf(field, sizeof(field), "info.files[%zu].path", i);
    r = need(c, path, BT_BLIST, field);
    if (r < 0)
        return r;
    if (path->count == 0)
        return bt_error_set(c->err, -EBADMSG, "%s: empty list", field);
    r = check_path(c, path, i, &len);
    if (r < 0)
        return r;
    s = malloc(len + 1);
    if (!s)
        return no_memory(c);
    pos = strlen(c->m->name);
    memcpy(s, c->m->name, pos);
    for (comp = bt_bnode_child(c->doc, path); comp; comp = bt_bnode_next(c->doc, path, comp)) {
        s[pos++] = '/';
        memcpy(s + pos, bt_bstr_ptr(c->doc, comp), comp->v.s.len);
        pos += comp->v.s.len;
    }
    s[pos] = '\0';
    *ret_path = s;
    return 0;
}

static int parse_file(struct ctx *c, const struct bt_bnode *file, size_t i)
{
    struct bt_file *f = &c->m->files[i];
    const struct bt_bnode *length, *attr;
    char field[FIELD_MAX];
    int r;

    if (file->type != BT_BDICT)
        return bt_error_set(c->err, -EBADMSG, "info.files[%zu]: not a dictionary", i);
    length = bt_bdict_get(c->doc, file, "length");
    snprintf(field, sizeof(field), "info.files[%zu].length", i);
    r = need(c, length, BT_BINT, field);
    if (r < 0)
        return r;
    if (length->v.i < 0)
        return bt_error_set(c->err, -EBADMSG, "%s: must not be negative", field);
    if ((uint64_t)length->v.i > BT_METAINFO_MAX_TOTAL - c->m->total_length)
        return bt_error_set(c->err, -EBADMSG,
                            "%s: total length is above the maximum of %" PRIu64 " bytes", field,
                            BT_METAINFO_MAX_TOTAL);
    r = parse_path(c, file, i, &f->path);
    if (r < 0)
        return r;
    attr = bt_bdict_get(c->doc, file, "attr");
    if (attr && attr->type == BT_BSTR)
        f->pad = memchr(bt_bstr_ptr(c->doc, attr), 'p', attr->v.s.len) != NULL;
    f->length = (uint64_t)length->v.i;
    f->offset = c->m->total_length;
    c->m->total_length += f->length;
    return 0;
}

struct path_ref {
    const char *path;
    size_t index; /* into m->files */
};

/* Path order in which '/' sorts before every other byte: "a", "a/b", "a-c". */
static int cmp_path_ref(const void *pa, const void *pb)
{
    const struct path_ref *a = pa, *b = pb;
    const unsigned char *x = (const unsigned char *)a->path;
    const unsigned char *y = (const unsigned char *)b->path;
    int rx, ry;

    while (*x && *x == *y) {
        x++;
        y++;
    }
    if (*x == *y)
        return a->index < b->index ? -1 : a->index > b->index;
    rx = *x == '\0' ? 0 : *x == '/' ? 1 : *x + 2;
    ry = *y == '\0' ? 0 : *y == '/' ? 1 : *y + 2;
    return rx - ry;
}

/*
 * In that order every "p/..." follows "p" directly (after copies of "p"), so
 * comparing neighbours finds both duplicates and a file used as a directory.
 */
static int check_neighbours(struct ctx *c, const struct path_ref *prev, const struct path_ref *cur)
{
    size_t len = strlen(prev->path);
    char shown[SHOWN_PATH_MAX];

    shown_path(shown, prev->path);
    if (strcmp(prev->path, cur->path) == 0)
        return bt_error_set(c->err, -EBADMSG,
                            "info.files[%zu].path: \"%s\" is also the path of info.files[%zu]",
                            cur->index, shown, prev->index);
    if (strncmp(prev->path, cur->path, len) == 0 && cur->path[len] == '/')
        return bt_error_set(c->err, -EBADMSG,
                            "info.files[%zu].path: \"%s\" is a file in"
                            " info.files[%zu] and a directory here",
                            cur->index, shown, prev->index);
    return 0;
}

/*
 * Two files must not land on the same path, nor one inside the other.
 * Padding files are never written, so they take no part.
 */
static int check_conflicts(struct ctx *c)
{
    const struct bt_metainfo *m = c->m;
    struct path_ref *refs;
    size_t i, n = 0;
    int r = 0;

    refs = calloc(m->file_count, sizeof(*refs));
    if (!refs)
        return no_memory(c);
    for (i = 0; i < m->file_count; i++) {
        if (m->files[i].pad)
            continue;
        refs[n].path = m->files[i].path;
        refs[n].index = i;
        n++;
    }
    qsort(refs, n, sizeof(*refs), cmp_path_ref);
    for (i = 1; i < n && r == 0; i++)
        r = check_neighbours(c, &refs[i - 1], &refs[i]);
    free(refs);
    return r;
}

static int parse_files(struct ctx *c, const struct bt_bnode *files)
{
    struct bt_metainfo *m = c->m;
    const struct bt_bnode *f;
    size_t i = 0;
    int r;

    if (files->type != BT_BLIST)
        return bt_error_set(c->err, -EBADMSG, "info.files: not a list");
    if (files->count == 0)
        return bt_error_set(c->err, -EBADMSG, "info.files: empty list");
    if (files->count > BT_METAINFO_MAX_FILES)
        return bt_error_set(c->err, -EBADMSG,
                            "info.files: %" PRIu32 " files is above the maximum of %d",
                            files->count, BT_METAINFO_MAX_FILES);
    m->files = calloc(files->count, sizeof(*m->files));
    if (!m->files)
        return no_memory(c);
    m->file_count = files->count;
    m->multi_file = true;
    for (f = bt_bnode_child(c->doc, files); f; f = bt_bnode_next(c->doc, files, f)) {
        r = parse_file(c, f, i);
        if (r < 0)
            return r;
        i++;
    }
    return check_conflicts(c);
}

static int parse_layout(struct ctx *c, const struct bt_bnode *info)
{
    const struct bt_bnode *length = bt_bdict_get(c->doc, info, "length");
    const struct bt_bnode *files = bt_bdict_get(c->doc, info, "files");
    int r;

    if (length && files)
        return bt_error_set(c->err, -EBADMSG, "info: has both length and files");
    if (!length && !files)
        return bt_error_set(c->err, -EBADMSG, "info: has neither length nor files");
    r = files ? parse_files(c, files) : parse_single(c, length);
    if (r < 0)
        return r;
    if (c->m->total_length == 0)
        return bt_error_set(c->err, -EBADMSG, "info: total length is 0; nothing to download");
    return 0;
}

static int parse_pieces(struct ctx *c, const struct bt_bnode *info)
{
    const struct bt_bnode *n = bt_bdict_get(c->doc, info, "pieces");
    struct bt_metainfo *m = c->m;
    uint64_t want;
    size_t have;
    int r;

    r = need(c, n, BT_BSTR, "info.pieces");
    if (r < 0)
        return r;
    if (n->v.s.len % BT_SHA1_LEN != 0)
        return bt_error_set(c->err, -EBADMSG, "info.pieces: %zu bytes is not a multiple of %d",
                            n->v.s.len, BT_SHA1_LEN);
    have = n->v.s.len / BT_SHA1_LEN;
    want = m->total_length / m->piece_length + (m->total_length % m->piece_length != 0);
    if (have != want || have > UINT32_MAX)
        return bt_error_set(c->err, -EBADMSG,
                            "info.pieces: %zu hashes, but %" PRIu64 " bytes in pieces of %" PRIu64
                            " need %" PRIu64,
                            have, m->total_length, m->piece_length, want);
    m->pieces = malloc(n->v.s.len);
    if (!m->pieces)
        return no_memory(c);
    memcpy(m->pieces, bt_bstr_ptr(c->doc, n), n->v.s.len);
    m->piece_count = (uint32_t)have;
    return 0;
}

/* Everything under `info`, shared by .torrent files and BEP 9 metadata. */
static int parse_info(struct ctx *c, const struct bt_bnode *info)
{
    const struct bt_bnode *priv;
    struct bt_metainfo *m = c->m;
    int r;

    if (info->type != BT_BDICT)
        return bt_error_set(c->err, -EBADMSG, "info: not a dictionary");
    r = parse_name(c, info);
    if (r == 0)
        r = parse_piece_length(c, info);
    if (r == 0)
        r = parse_layout(c, info);
    if (r == 0)
        r = parse_pieces(c, info);
    if (r < 0)
        return r;
    priv = bt_bdict_get(c->doc, info, "private");
    m->is_private = priv && priv->type == BT_BINT && priv->v.i == 1;
    m->info_raw = malloc(info->raw_len);
    if (!m->info_raw)
        return no_memory(c);
    memcpy(m->info_raw, bt_bnode_raw(c->doc, info), info->raw_len);
    m->info_len = info->raw_len;
    bt_sha1(m->info_hash, m->info_raw, m->info_len);
    return 0;
}

/* A tracker or web seed URL: a string without NUL. Empty ones are skipped by the callers. */
static int check_url(struct ctx *c, const struct bt_bnode *n, const char *field)
{
    int r = need(c, n, BT_BSTR, field);

    if (r < 0)
        return r;
    if (has_nul(c, n))
        return bt_error_set(c->err, -EBADMSG, "%s: must not contain NUL", field);
    return 0;
}

/* Appends the copy of a non-empty URL string to urls[*count]; room is there. */
static int add_url(struct ctx *c, char **urls, size_t *count, const struct bt_bnode *n)
{
    if (n->v.s.len == 0)
        return 0;
    urls[*count] = bt_bstr_dup(c->doc, n);
    if (!urls[*count])
        return no_memory(c);
    (*count)++;
    return 0;
}

/* Validates announce-list[ti] and counts its non-empty URLs. */
static int check_tier(struct ctx *c, const struct bt_bnode *tier, uint32_t ti, size_t *ret_urls)
{
    const struct bt_bnode *u;
    char field[FIELD_MAX];
    uint32_t ui = 0;
    size_t urls = 0;
    int r;

    snprintf(field, sizeof(field), "announce-list[%" PRIu32 "]", ti);
    r = need(c, tier, BT_BLIST, field);
    if (r < 0)
        return r;
    for (u = bt_bnode_child(c->doc, tier); u; u = bt_bnode_next(c->doc, tier, u)) {
        snprintf(field, sizeof(field), "announce-list[%" PRIu32 "][%" PRIu32 "]", ti, ui);
        r = check_url(c, u, field);
        if (r < 0)
            return r;
        urls += u->v.s.len != 0;
        ui++;
    }
    *ret_urls = urls;
    return 0;
}

static int add_tier(struct ctx *c, const struct bt_bnode *list, size_t urls)
{
    struct bt_tier *t = &c->m->tiers[c->m->tier_count];
    const struct bt_bnode *u;
    int r;

    t->urls = calloc(urls, sizeof(*t->urls));
    if (!t->urls)
        return no_memory(c);
    c->m->tier_count++;
    for (u = bt_bnode_child(c->doc, list); u; u = bt_bnode_next(c->doc, list, u)) {
        r = add_url(c, t->urls, &t->count, u);
        if (r < 0)
            return r;
    }
    return 0;
}

/* BEP 12: non-empty tiers of announce-list, in order. */
static int parse_announce_list(struct ctx *c, const struct bt_bnode *list)
{
    const struct bt_bnode *tier;
    size_t urls, tiers = 0;
    uint32_t ti = 0;
    int r;

    r = need(c, list, BT_BLIST, "announce-list");
    if (r < 0)
        return r;
    for (tier = bt_bnode_child(c->doc, list); tier; tier = bt_bnode_next(c->doc, list, tier)) {
        r = check_tier(c, tier, ti++, &urls);
        if (r < 0)
            return r;
        tiers += urls != 0;
    }
    if (tiers == 0)
        return 0;
    c->m->tiers = calloc(tiers, sizeof(*c->m->tiers));
    if (!c->m->tiers)
        return no_memory(c);
    ti = 0;
    for (tier = bt_bnode_child(c->doc, list); tier; tier = bt_bnode_next(c->doc, list, tier)) {
        r = check_tier(c, tier, ti++, &urls);
        if (r == 0 && urls != 0)
            r = add_tier(c, tier, urls);
        if (r < 0)
            return r;
    }
    return 0;
}

/* announce-list if it has a URL, else announce as one tier, else no trackers (DHT only). */
static int parse_trackers(struct ctx *c, const struct bt_bnode *root)
{
    const struct bt_bnode *announce = bt_bdict_get(c->doc, root, "announce");
    const struct bt_bnode *list = bt_bdict_get(c->doc, root, "announce-list");
    struct bt_metainfo *m = c->m;
    int r;

    if (announce) {
        r = check_url(c, announce, "announce");
        if (r < 0)
            return r;
    }
    if (list) {
        r = parse_announce_list(c, list);
        if (r < 0)
            return r;
    }
    if (m->tier_count > 0 || !announce || announce->v.s.len == 0)
        return 0;
    m->tiers = calloc(1, sizeof(*m->tiers));
    if (!m->tiers)
        return no_memory(c);
    m->tier_count = 1;
    m->tiers[0].urls = calloc(1, sizeof(*m->tiers[0].urls));
    if (!m->tiers[0].urls)
        return no_memory(c);
    return add_url(c, m->tiers[0].urls, &m->tiers[0].count, announce);
}

/* BEP 19: url-list is one string or a list of strings; empty ones are skipped. */
static int parse_web_seeds(struct ctx *c, const struct bt_bnode *root)
{
    const struct bt_bnode *list = bt_bdict_get(c->doc, root, "url-list");
    struct bt_metainfo *m = c->m;
    const struct bt_bnode *u;
    char field[FIELD_MAX];
    uint32_t i = 0;
    int r;

    if (!list)
        return 0;
    if (list->type == BT_BSTR) {
        r = check_url(c, list, "url-list");
        if (r < 0)
            return r;
        m->web_seeds = calloc(1, sizeof(*m->web_seeds));
        return m->web_seeds ? add_url(c, m->web_seeds, &m->web_seed_count, list) : no_memory(c);
    }
    if (list->type != BT_BLIST)
        return bt_error_set(c->err, -EBADMSG, "url-list: not a string or a list of strings");
    for (u = bt_bnode_child(c->doc, list); u; u = bt_bnode_next(c->doc, list, u)) {
        snprintf(field, sizeof(field), "url-list[%" PRIu32 "]", i++);
        r = check_url(c, u, field);
        if (r < 0)
            return r;
    }
    if (list->count == 0)
        return 0;
    m->web_seeds = calloc(list->count, sizeof(*m->web_seeds));
    if (!m->web_seeds)
        return no_memory(c);
    for (u = bt_bnode_child(c->doc, list); u; u = bt_bnode_next(c->doc, list, u)) {
        r = add_url(c, m->web_seeds, &m->web_seed_count, u);
        if (r < 0)
            return r;
    }
    return 0;
}

/* An optional text field: kept if it is a string without NUL, ignored otherwise. */
static int parse_text(struct ctx *c, const struct bt_bnode *root, const char *key, char **ret)
{
    const struct bt_bnode *n = bt_bdict_get(c->doc, root, key);

    if (!n || n->type != BT_BSTR || has_nul(c, n))
        return 0;
    *ret = bt_bstr_dup(c->doc, n);
    return *ret ? 0 : no_memory(c);
}

static int parse_extras(struct ctx *c, const struct bt_bnode *root)
{
    const struct bt_bnode *date = bt_bdict_get(c->doc, root, "creation date");
    int r;

    if (date && date->type == BT_BINT)
        c->m->creation_date = date->v.i;
    r = parse_text(c, root, "comment", &c->m->comment);
    if (r == 0)
        r = parse_text(c, root, "created by", &c->m->created_by);
    return r;
}

static int parse_doc(struct bt_bdoc *doc, const uint8_t *buf, size_t len, struct bt_error *err)
{
    const struct bt_bencode_limits limits = {.max_nodes = MAX_NODES};

    if (len > BT_METAINFO_MAX_SIZE)
        return bt_error_set(err, -EMSGSIZE, "torrent: %zu bytes is above the maximum of %zu", len,
                            BT_METAINFO_MAX_SIZE);
    return bt_bencode_parse(doc, buf, len, &limits, err);
}

static int parse_torrent(struct ctx *c, bool bare)
{
    const struct bt_bnode *root = bt_bdoc_root(c->doc);
    const struct bt_bnode *info;
    int r;

    if (bare)
        return parse_info(c, root);
    if (root->type != BT_BDICT)
        return bt_error_set(c->err, -EBADMSG, "torrent: not a dictionary");
    info = bt_bdict_get(c->doc, root, "info");
    if (!info)
        return bt_error_set(c->err, -EBADMSG, "info: missing");
    r = parse_info(c, info);
    if (r == 0)
        r = parse_trackers(c, root);
    if (r == 0)
        r = parse_web_seeds(c, root);
    if (r == 0)
        r = parse_extras(c, root);
    return r;
}

static int parse_any(struct bt_metainfo **ret, const uint8_t *buf, size_t len, struct bt_error *err,
                     bool bare)
{
    struct bt_bdoc doc;
    struct ctx c = {.doc = &doc, .err = err};
    int r;

    r = parse_doc(&doc, buf, len, err);
    if (r < 0)
        return r;
    c.m = calloc(1, sizeof(*c.m));
    r = c.m ? parse_torrent(&c, bare) : no_memory(&c);
    bt_bdoc_deinit(&doc);
    if (r < 0) {
        bt_metainfo_free(c.m);
        return r;
    }
    *ret = c.m;
    return 0;
}

int bt_metainfo_parse(struct bt_metainfo **ret, const uint8_t *buf, size_t len,
                      struct bt_error *err)
{
    return parse_any(ret, buf, len, err, false);
}

int bt_metainfo_parse_info(struct bt_metainfo **ret, const uint8_t *buf, size_t len,
                           struct bt_error *err)
{
    return parse_any(ret, buf, len, err, true);
}

static void free_strings(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void bt_metainfo_free(struct bt_metainfo *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->file_count; i++)
        free(m->files[i].path);
    free(m->files);
    for (i = 0; i < m->tier_count; i++)
        free_strings(m->tiers[i].urls, m->tiers[i].count);
    free(m->tiers);
    free_strings(m->web_seeds, m->web_seed_count);
    free(m->name);
    free(m->pieces);
    free(m->comment);
    free(m->created_by);
    free(m->info_raw);
    free(m);
}

uint64_t bt_metainfo_piece_size(const struct bt_metainfo *m, uint32_t i)
{
    if (i >= m->piece_count)
        return 0;
    if ((uint64_t)i + 1 < m->piece_count)
        return m->piece_length;
    return m->total_length - (uint64_t)i * m->piece_length;
}
