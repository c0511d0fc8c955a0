#include "selection.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

/* Which of a file's choices a selection list sets. */
enum sel_op {
    SEL_ONLY = 1, /* every other file skipped, these wanted */
    SEL_WANT,
    SEL_SKIP,
    SEL_HIGH,
    SEL_NORMAL,
    SEL_LOW,
};

struct sel_key {
    const char *key;
    enum sel_op op;
};

static const struct sel_key set_keys[] = {
    {"files_wanted", SEL_WANT},      {"files_skipped", SEL_SKIP}, {"priority_high", SEL_HIGH},
    {"priority_normal", SEL_NORMAL}, {"priority_low", SEL_LOW},   {NULL, 0},
};

static const struct sel_key add_keys[] = {
    {"only", SEL_ONLY},          {"skip", SEL_SKIP},
    {"priority_high", SEL_HIGH}, {"priority_normal", SEL_NORMAL},
    {"priority_low", SEL_LOW},   {NULL, 0},
};

static const struct sel_key *key_table(enum btd_selection_keys keys)
{
    return keys == BTD_SELECTION_ADD ? add_keys : set_keys;
}

bool btd_selection_named(json_t *params, enum btd_selection_keys which)
{
    const struct sel_key *keys;

    for (keys = key_table(which); keys->key; keys++) {
        if (json_object_get(params, keys->key))
            return true;
    }
    return false;
}

bool btd_selection_key(const char *key, enum btd_selection_keys which)
{
    const struct sel_key *keys;

    for (keys = key_table(which); keys->key; keys++) {
        if (strcmp(keys->key, key) == 0)
            return true;
    }
    return false;
}

/* A selection being applied: m's files as torrent.files lists them, and what named each. */
struct sel {
    struct btd_file_choice *c; /* borrowed: the file choices, or NULL to check only */
    uint32_t *map;             /* owned: metainfo index of each listed file */
    uint32_t n;                /* files listed */
    const char **named; /* owned, 2 per listed file: the key that set its wanted flag, its prio */
};

/* Sets listed file i as op says; a file set one way by a key and another by another is refused. */
static int sel_one(struct sel *sl, const struct sel_key *k, uint32_t i, struct bt_error *err)
{
    struct btd_file_choice dummy, *c = sl->c ? &sl->c[sl->map[i]] : &dummy;
    bool wanted_op = k->op == SEL_ONLY || k->op == SEL_WANT || k->op == SEL_SKIP;
    const char **named = &sl->named[2 * i + (wanted_op ? 0 : 1)];

    if (*named && *named != k->key)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s: file %u is also in %s", k->key,
                            i, *named);
    *named = k->key;
    if (wanted_op)
        c->wanted = k->op != SEL_SKIP;
    else
        c->prio = k->op == SEL_HIGH  ? BTD_PRIO_HIGH
                  : k->op == SEL_LOW ? BTD_PRIO_LOW
                                     : BTD_PRIO_NORMAL;
    return 0;
}

/* params[k->key]: "all" or a list of file indices, applied. */
static int sel_list(struct sel *sl, const struct sel_key *k, json_t *v, struct bt_error *err)
{
    json_t *item;
    size_t j;
    uint32_t i;
    int r = 0;

    if (k->op == SEL_ONLY && sl->c) {
        for (i = 0; i < sl->n; i++)
            sl->c[sl->map[i]].wanted = false;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
        for (i = 0; i < sl->n && r == 0; i++)
            r = sel_one(sl, k, i, err);
        return r;
    }
    if (!json_is_array(v))
        return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                            "params.%s: not a list of file indices or \"all\"", k->key);
    json_array_foreach(v, j, item)
    {
        json_int_t f = json_is_integer(item) ? json_integer_value(item) : -1;

        if (!json_is_integer(item) || f < 0)
            return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.%s[%zu]: not a file index",
                                k->key, j);
        if (f >= (json_int_t)sl->n)
            return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                                "params.%s[%zu]: no file %lld (the torrent's files are 0 to %u)",
                                k->key, j, (long long)f, sl->n - 1);
        r = sel_one(sl, k, (uint32_t)f, err);
        if (r)
            return r;
    }
    return 0;
}

int btd_selection_apply(json_t *params, enum btd_selection_keys which, const struct bt_metainfo *m,
                        struct btd_file_choice *c, bool *ret_any, struct bt_error *err)
{
    size_t nfiles = m ? m->file_count : BT_METAINFO_MAX_FILES, i;
    struct sel sl = {.c = m ? c : NULL};
    const struct sel_key *k;
    json_t *v;
    int r = 0;

    *ret_any = false;
    if (!btd_selection_named(params, which))
        return 0;
    sl.map = calloc(nfiles ? nfiles : 1, sizeof(*sl.map));
    sl.named = calloc(2 * (nfiles ? nfiles : 1), sizeof(*sl.named));
    if (!sl.map || !sl.named)
        r = bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    for (i = 0; r == 0 && i < nfiles; i++) {
        if (!m || !m->files[i].pad)
            sl.map[sl.n++] = (uint32_t)i;
    }
    for (k = key_table(which); r == 0 && k->key; k++) {
        v = json_object_get(params, k->key);
        if (!v)
            continue;
        *ret_any = true;
        r = sel_list(&sl, k, v, err);
    }
    free(sl.map);
    free(sl.named);
    return r;
}

char *btd_selection_text(json_t *params, enum btd_selection_keys which)
{
    const struct sel_key *k;
    json_t *o = json_object(), *v;
    char *text = NULL;

    for (k = key_table(which); o && k->key; k++) {
        v = json_object_get(params, k->key);
        if (v)
            json_object_set(o, k->key, v);
    }
    if (o && json_object_size(o) > 0)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

int btd_selection_apply_text(const char *text, enum btd_selection_keys which,
                             const struct bt_metainfo *m, struct btd_file_choice *c,
                             struct bt_error *err)
{
    json_t *o = json_loads(text, 0, NULL);
    bool any;
    int r;

    if (!o)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "not JSON");
    r = btd_selection_apply(o, which, m, c, &any, err);
    json_decref(o);
    return r;
}
