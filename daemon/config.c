#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum key_type {
    KEY_STRING,
    KEY_INT
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset; /* into struct btd_config */
    int64_t min, max;
};

#define STR(field) #field, KEY_STRING, offsetof(struct btd_config, field), 0, 0
#define INT(field, lo, hi) #field, KEY_INT, offsetof(struct btd_config, field), lo, hi

static const struct key keys[] = {
    {STR(download_dir)},
    {STR(state_dir)},
    {STR(socket_path)},
    {STR(listen_address)},
    {INT(port, 0, 65535)},
    {STR(log_level)},
    {INT(max_peers_torrent, 1, 10000)},
    {INT(max_peers_global, 1, 100000)},
    {INT(max_half_open, 1, 1000)},
    {INT(download_limit, 0, INT64_MAX)},
    {INT(upload_limit, 0, INT64_MAX)},
    {INT(pieces_in_flight, 1, 1024)},
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
    c->listen_address = strdup("0.0.0.0");
    c->log_level = strdup("info");
    c->port = 6881;
    c->max_peers_torrent = 50;
    c->max_peers_global = 400;
    c->max_half_open = 32;
    c->pieces_in_flight = 64;
    if (!c->download_dir || !c->state_dir || !c->socket_path || !c->listen_address ||
        !c->log_level) {
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

static int apply_json(struct btd_config *c, const struct key *k, json_t *v, struct bt_error *err)
{
    char *s;

    if (k->type == KEY_STRING) {
        if (!json_is_string(v))
            return bt_error_set(err, -EINVAL, "%s: must be a string", k->name);
        s = strdup(json_string_value(v));
        if (!s)
            return -ENOMEM;
        free(*str_field(c, k));
        *str_field(c, k) = s;
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

int btd_config_load(struct btd_config *c, const char *path, struct bt_error *err)
{
    struct btd_config tmp;
    json_error_t jerr;
    const char *name;
    json_t *root, *v;
    int r = 0;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bt_error_set(err, -EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return bt_error_set(err, -EINVAL, "%s: must hold a JSON object", path);
    }
    r = config_copy(&tmp, c);
    json_object_foreach(root, name, v)
    {
        const struct key *k = find_key(name);

        if (r < 0)
            break;
        if (!k)
            r = bt_error_set(err, -EINVAL, "unknown key \"%s\"", name);
        else
            r = apply_json(&tmp, k, v, err);
    }
    json_decref(root);
    if (r < 0) {
        bt_error_prefix(err, path);
        btd_config_deinit(&tmp); /* safe after a failed copy: its strings are NULL */
        return r;
    }
    btd_config_deinit(c);
    *c = tmp;
    return 0;
}

int btd_config_set(struct btd_config *c, const char *key, const char *value, struct bt_error *err)
{
    const struct key *k = find_key(key);
    json_t *v;
    char *end;
    long long n;
    int r;

    if (!k)
        return bt_error_set(err, -ENOENT, "unknown key \"%s\"", key);
    if (k->type == KEY_STRING) {
        v = json_string(value);
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
