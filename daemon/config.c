#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ratio.h"

enum key_type {
    KEY_STRING,
    KEY_INT,
    KEY_RATIO, /* a JSON number, at most two decimals: an int64_t of hundredths (ratio.h) */
    KEY_BOOL   /* true or false: an int64_t of 1 or 0 */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset;                           /* into struct btd_config */
    int64_t min, max;                        /* integers (a ratio's range is ratio.h's) */
    bool live;                               /* may change while btd runs (session.set, reload) */
    const char *(*check)(const char *value); /* strings: NULL if fine, else why not */
    /*
     * Strings, changes while btd runs only (session.set): 0 if fine, else
     * -errno with why[size] written. A file's value is checked by check
     * alone, as a missing directory at start is a warning, not an error.
     */
    int (*check_live)(const char *value, char *why, size_t size);
};

static const char *check_log_level(const char *value)
{
    enum btd_log_level level;

    return btd_log_parse_level(value, &level) == 0
               ? NULL
               : "must be one of error, warning, notice, info, debug";
}

static const char *const encryption_names[] = {"prefer_plaintext", "prefer_encrypted", "require"};

static const char *check_encryption(const char *value)
{
    size_t i;

    for (i = 0; i < sizeof(encryption_names) / sizeof(encryption_names[0]); i++) {
        if (strcmp(value, encryption_names[i]) == 0)
            return NULL;
    }
    return "must be one of prefer_plaintext, prefer_encrypted, require";
}

static const char *check_watch_dir(const char *value)
{
    return value[0] == '\0' || value[0] == '/' ? NULL
                                               : "must be an absolute path, or \"\" for none";
}

/* A watch_dir given while btd runs must be a directory now. */
static int check_watch_dir_live(const char *value, char *why, size_t size)
{
    struct stat st;

    if (value[0] == '\0')
        return 0;
    if (stat(value, &st) < 0) {
        int err = errno;

        snprintf(why, size, "%s: %s", value, strerror(err));
        return -err;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, size, "%s: not a directory", value);
        return -ENOTDIR;
    }
    return 0;
}

enum btd_encryption btd_config_encryption(const struct btd_config *c)
{
    if (c->encryption && strcmp(c->encryption, "require") == 0)
        return BTD_ENCRYPTION_REQUIRE;
    if (c->encryption && strcmp(c->encryption, "prefer_encrypted") == 0)
        return BTD_ENCRYPTION_PREFER_ENCRYPTED;
    return BTD_ENCRYPTION_PREFER_PLAINTEXT;
}

#define STR(field) .name = #field, .type = KEY_STRING, .offset = offsetof(struct btd_config, field)
#define INT(field, lo, hi)                                                                         \
    .name = #field, .type = KEY_INT, .offset = offsetof(struct btd_config, field), .min = lo,      \
    .max = hi
#define RATIO(field) .name = #field, .type = KEY_RATIO, .offset = offsetof(struct btd_config, field)
#define BOOL(field) .name = #field, .type = KEY_BOOL, .offset = offsetof(struct btd_config, field)
#define LIVE .live = true
#define MAX_RATE ((int64_t)1 << 40) /* bytes/s: a terabyte a second is no limit */

static const struct key keys[] = {
    {STR(download_dir)},
    {STR(state_dir)},
    {STR(socket_path)},
    {STR(listen_address)},
    {INT(port, 0, 65535)},
    {STR(log_level), LIVE, .check = check_log_level},
    {INT(max_peers_torrent, 1, 10000), LIVE},
    {INT(max_peers_global, 1, 100000), LIVE},
    {INT(max_half_open, 1, 1000), LIVE},
    {INT(download_limit, 0, MAX_RATE), LIVE},
    {INT(upload_limit, 0, MAX_RATE), LIVE},
    {INT(torrent_download_limit, 0, MAX_RATE), LIVE},
    {INT(torrent_upload_limit, 0, MAX_RATE), LIVE},
    {INT(max_peers_per_ip, 1, 1000), LIVE},
    {INT(pieces_in_flight, 1, 1024)},
    {INT(piece_memory, 1 << 20, (int64_t)1 << 32)},
    {STR(encryption), LIVE, .check = check_encryption},
    {STR(watch_dir), LIVE, .check = check_watch_dir, .check_live = check_watch_dir_live},
    {RATIO(seed_ratio_limit), LIVE},
    {INT(seed_idle_limit, 0, INT32_MAX), LIVE},
    {BOOL(direct_writes), LIVE},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static char **str_field(struct btd_config *c, const struct key *k)
{
    return (char **)((char *)c + k->offset);
}

static int64_t *int_field(struct btd_config *c, const struct key *k)
{
    return (int64_t *)((char *)c + k->offset);
}

static const struct key *find_key(const char *name)
{
    size_t i;

    for (i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

/* $XDG_x_HOME-style default: base/suffix, or fallback when base is unset. */
static char *path_under(const char *env, const char *home_rel, const char *suffix)
{
    const char *base = getenv(env), *home = getenv("HOME");
    char *out = NULL;

    if (base && base[0] == '/') {
        if (asprintf(&out, "%s/%s", base, suffix) < 0)
            return NULL;
    } else if (home && home[0] == '/') {
        if (asprintf(&out, "%s/%s/%s", home, home_rel, suffix) < 0)
            return NULL;
    } else if (asprintf(&out, "/tmp/btd-%u/%s", (unsigned)getuid(), suffix) < 0) {
        return NULL;
    }
    return out;
}

static char *default_socket(void)
{
    const char *rt = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
    char *out = NULL;

    if (rt && rt[0] == '/') {
        if (asprintf(&out, "%s/btd.sock", rt) < 0)
            return NULL;
    } else if (xdg && xdg[0] == '/') {
        if (asprintf(&out, "%s/btd.sock", xdg) < 0)
            return NULL;
    } else if (asprintf(&out, "/tmp/btd-%u.sock", (unsigned)getuid()) < 0) {
        return NULL;
    }
    return out;
}

int btd_config_init(struct btd_config *c)
{
    const char *sd_state = getenv("STATE_DIRECTORY");

    memset(c, 0, sizeof(*c));
    c->download_dir = path_under("XDG_DOWNLOAD_DIR", "Downloads", "btd");
    c->state_dir = sd_state && sd_state[0] == '/'
                       ? strdup(sd_state)
                       : path_under("XDG_STATE_HOME", ".local/state", "btd");
    c->socket_path = default_socket();
    c->listen_address = strdup("::");
    c->log_level = strdup("info");
    c->encryption = strdup("prefer_plaintext");
    c->watch_dir = strdup("");
    c->port = 6881;
    c->max_peers_torrent = 50;
    c->max_peers_global = 400;
    c->max_half_open = 32;
    c->max_peers_per_ip = 4;
    c->pieces_in_flight = 64;
    c->piece_memory = 8 << 20;
    c->direct_writes = 1;
    if (!c->download_dir || !c->state_dir || !c->socket_path || !c->listen_address ||
        !c->log_level || !c->encryption || !c->watch_dir) {
        btd_config_deinit(c);
        return -ENOMEM;
    }
    return 0;
}

void btd_config_deinit(struct btd_config *c)
{
    size_t i;

    for (i = 0; i < N_KEYS; i++) {
        if (keys[i].type == KEY_STRING) {
            free(*str_field(c, &keys[i]));
            *str_field(c, &keys[i]) = NULL;
        }
    }
}

/* Copies every string so that a failed load can be thrown away whole. */
static int config_copy(struct btd_config *dst, const struct btd_config *src)
{
    size_t i;

    *dst = *src;
    for (i = 0; i < N_KEYS; i++) {
        if (keys[i].type == KEY_STRING)
            *str_field(dst, &keys[i]) = NULL;
    }
    for (i = 0; i < N_KEYS; i++) {
        const char *s = *str_field((struct btd_config *)src, &keys[i]);

        if (keys[i].type != KEY_STRING || !s)
            continue;
        *str_field(dst, &keys[i]) = strdup(s);
        if (!*str_field(dst, &keys[i])) {
            btd_config_deinit(dst);
            return -ENOMEM;
        }
    }
    return 0;
}

static int apply_ratio(struct btd_config *c, const struct key *k, json_t *v, struct bt_error *err)
{
    int64_t n;

    if (!json_is_number(v) || bt_ratio_from_double(json_number_value(v), &n) < 0)
        return bt_error_set(err, -EINVAL,
                            "%s: must be a ratio from 0 to %d with at most two decimals (like 1.5)",
                            k->name, BT_RATIO_MAX / 100);
    *int_field(c, k) = n;
    return 0;
}

static int apply_json(struct btd_config *c, const struct key *k, json_t *v, struct bt_error *err)
{
    char *s;

    if (k->type == KEY_STRING) {
        if (!json_is_string(v))
            return bt_error_set(err, -EINVAL, "%s: must be a string", k->name);
        if (k->check && k->check(json_string_value(v)))
            return bt_error_set(err, -EINVAL, "%s: %s", k->name, k->check(json_string_value(v)));
        s = strdup(json_string_value(v));
        if (!s)
            return -ENOMEM;
        free(*str_field(c, k));
        *str_field(c, k) = s;
        return 0;
    }
    if (k->type == KEY_RATIO)
        return apply_ratio(c, k, v, err);
    if (k->type == KEY_BOOL) {
        if (!json_is_boolean(v))
            return bt_error_set(err, -EINVAL, "%s: must be true or false", k->name);
        *int_field(c, k) = json_is_true(v);
        return 0;
    }
    if (!json_is_integer(v))
        return bt_error_set(err, -EINVAL, "%s: must be an integer", k->name);
    if (json_integer_value(v) < k->min || json_integer_value(v) > k->max)
        return bt_error_set(err, -EINVAL, "%s: must be between %" PRId64 " and %" PRId64, k->name,
                            k->min, k->max);
    *int_field(c, k) = json_integer_value(v);
    return 0;
}

static int live_check(const struct key *k, const char *value, struct bt_error *err)
{
    char why[BT_ERROR_MAX];
    int r = k->check_live(value, why, sizeof(why));

    return r < 0 ? bt_error_set(err, r, "%s: %s", k->name, why) : 0;
}

int btd_config_update(struct btd_config *c, json_t *obj, bool live_only, struct bt_error *err)
{
    struct btd_config tmp;
    const char *name;
    json_t *v;
    int r;

    if (!json_is_object(obj))
        return bt_error_set(err, -EINVAL, "must be a JSON object");
    r = config_copy(&tmp, c);
    json_object_foreach(obj, name, v)
    {
        const struct key *k = find_key(name);

        if (r < 0)
            break;
        if (!k)
            r = bt_error_set(err, -ENOENT, "unknown key \"%s\"", name);
        else if (live_only && !k->live)
            r = bt_error_set(err, -EPERM, "%s: cannot change while btd runs", name);
        else
            r = apply_json(&tmp, k, v, err);
        if (r == 0 && k && live_only && k->check_live && k->type == KEY_STRING)
            r = live_check(k, *str_field(&tmp, k), err);
    }
    if (r < 0) {
        btd_config_deinit(&tmp); /* safe after a failed copy: its strings are NULL */
        return r;
    }
    btd_config_deinit(c);
    *c = tmp;
    return 0;
}

int btd_config_load(struct btd_config *c, const char *path, struct bt_error *err)
{
    json_error_t jerr;
    json_t *root;
    int r;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bt_error_set(err, -EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return bt_error_set(err, -EINVAL, "%s: must hold a JSON object", path);
    }
    r = btd_config_update(c, root, false, err);
    json_decref(root);
    if (r < 0)
        bt_error_prefix(err, path);
    return r;
}

int btd_config_set(struct btd_config *c, const char *key, const char *value, struct bt_error *err)
{
    const struct key *k = find_key(key);
    json_t *v;
    char *end;
    long long n;
    int64_t ratio;
    int r;

    if (!k)
        return bt_error_set(err, -ENOENT, "unknown key \"%s\"", key);
    if (k->type == KEY_STRING) {
        v = json_string(value);
    } else if (k->type == KEY_RATIO) {
        if (bt_ratio_parse(value, &ratio) < 0)
            return bt_error_set(err, -EINVAL,
                                "%s: \"%s\" is not a ratio from 0 to %d with at most two "
                                "decimals (like 1.5)",
                                key, value, BT_RATIO_MAX / 100);
        v = json_real((double)ratio / 100.0);
    } else if (k->type == KEY_BOOL) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
            return bt_error_set(err, -EINVAL, "%s: \"%s\" is not true or false", key, value);
        v = json_boolean(strcmp(value, "true") == 0);
    } else {
        errno = 0;
        n = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return bt_error_set(err, -EINVAL, "%s: \"%s\" is not an integer", key, value);
        v = json_integer(n);
    }
    if (!v)
        return -ENOMEM;
    r = apply_json(c, k, v, err);
    json_decref(v);
    return r;
}

static bool same_value(const struct btd_config *a, const struct btd_config *b, const struct key *k)
{
    const char *sa, *sb;

    if (k->type != KEY_STRING)
        return *int_field((struct btd_config *)a, k) == *int_field((struct btd_config *)b, k);
    sa = *str_field((struct btd_config *)a, k);
    sb = *str_field((struct btd_config *)b, k);
    return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
}

int btd_config_copy_live(struct btd_config *dst, const struct btd_config *src, char *ret_fixed,
                         size_t size)
{
    struct btd_config tmp;
    size_t i, used = 0;
    const char *from;
    char *s;

    if (config_copy(&tmp, dst) < 0)
        return -ENOMEM;
    for (i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];

        if (!k->live)
            continue;
        if (k->type != KEY_STRING) {
            *int_field(&tmp, k) = *int_field((struct btd_config *)src, k);
            continue;
        }
        from = *str_field((struct btd_config *)src, k);
        s = from ? strdup(from) : NULL;
        if (from && !s) {
            btd_config_deinit(&tmp);
            return -ENOMEM;
        }
        free(*str_field(&tmp, k));
        *str_field(&tmp, k) = s;
    }
    if (size > 0)
        ret_fixed[0] = '\0';
    for (i = 0; i < N_KEYS && size > 0; i++) {
        if (keys[i].live || same_value(dst, src, &keys[i]))
            continue;
        used +=
            (size_t)snprintf(ret_fixed + used, size - used, "%s%s", used ? ", " : "", keys[i].name);
        if (used >= size)
            break;
    }
    btd_config_deinit(dst);
    *dst = tmp;
    return 0;
}
