#include "magnet.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

#define MAGNET_PREFIX "magnet:?"
#define BTIH_PREFIX "urn:btih:"
#define BTMH_PREFIX "urn:btmh:"
#define QUOTE_MAX 48 /* bytes of a value echoed in an error message */

struct parser {
    struct bt_magnet *m;  /* borrowed: the result being filled */
    struct bt_error *err; /* borrowed, may be NULL */
    char *key;            /* owned scratch: the decoded key, uri length + 1 bytes */
    char *val;            /* owned scratch: the decoded value, uri length + 1 bytes */
    size_t index;         /* 1-based number of the parameter being parsed */
    bool have_btih;
    bool saw_btmh;
};

struct handler {
    const char *key;
    bool plus_is_space; /* '+' in the raw value decodes to ' ' */
    int (*fn)(struct parser *p, const char *key, const char *val, size_t len);
};

/* Copies at most QUOTE_MAX bytes of s into out, '?' for anything not printable ASCII. */
static const char *quote(char out[QUOTE_MAX + 4], const char *s)
{
    size_t n = strlen(s);
    size_t i;

    for (i = 0; i < n && i < QUOTE_MAX; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > QUOTE_MAX) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static int add_unique(struct parser *p, char ***items, size_t *count, const char *key,
                      const char *val)
{
    char **grown;
    char *copy;

    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*items)[i], val) == 0)
            return 0;
    }
    if (*count >= BT_MAGNET_MAX_ITEMS)
        return bt_error_set(p->err, -EMSGSIZE, "%s: more than %d entries", key,
                            BT_MAGNET_MAX_ITEMS);
    copy = strdup(val);
    if (!copy)
        return bt_error_set(p->err, -ENOMEM, "%s: out of memory", key);
    grown = realloc(*items, (*count + 1) * sizeof(*grown));
    if (!grown) {
        free(copy);
        return bt_error_set(p->err, -ENOMEM, "%s: out of memory", key);
    }
    grown[*count] = copy;
    *items = grown;
    (*count)++;
    return 0;
}

static int parse_btih(struct parser *p, const char *key, const char *hash, size_t len)
{
    uint8_t ih[20];
    int r;

    if (len == 40) {
        r = bt_hex_decode(ih, sizeof(ih), hash, len);
        if (r < 0)
            return bt_error_set(p->err, -EINVAL, "%s: btih has a character that is not hex", key);
    } else if (len == 32) {
        r = bt_base32_decode(ih, sizeof(ih), hash, len);
        if (r < 0)
            return bt_error_set(p->err, -EINVAL, "%s: btih is not valid base32", key);
    } else {
        return bt_error_set(p->err, -EINVAL,
                            "%s: btih must be 40 hex digits or 32 base32 characters, "
                            "got %zu characters",
                            key, len);
    }
    if (p->have_btih && memcmp(ih, p->m->info_hash, sizeof(ih)) != 0)
        return bt_error_set(p->err, -EINVAL, "%s: conflicting btih values name two torrents", key);
    memcpy(p->m->info_hash, ih, sizeof(ih));
    p->have_btih = true;
    return 0;
}

static int on_xt(struct parser *p, const char *key, const char *val, size_t len)
{
    size_t plen = strlen(BTIH_PREFIX);

    if (len >= plen && strncasecmp(val, BTIH_PREFIX, plen) == 0)
        return parse_btih(p, key, val + plen, len - plen);
    if (len >= strlen(BTMH_PREFIX) && strncasecmp(val, BTMH_PREFIX, strlen(BTMH_PREFIX)) == 0)
        p->saw_btmh = true;
    return 0; /* other hash kinds (urn:sha1:, urn:ed2k:, ...) are ignored */
}

static int on_dn(struct parser *p, const char *key, const char *val, size_t len)
{
    if (len == 0 || p->m->name)
        return 0; /* the first non-empty dn wins */
    p->m->name = strdup(val);
    if (!p->m->name)
        return bt_error_set(p->err, -ENOMEM, "%s: out of memory", key);
    return 0;
}

static int on_tr(struct parser *p, const char *key, const char *val, size_t len)
{
    if (len == 0)
        return bt_error_set(p->err, -EINVAL, "%s: empty tracker URL", key);
    return add_unique(p, &p->m->trackers, &p->m->tracker_count, key, val);
}

static int on_ws(struct parser *p, const char *key, const char *val, size_t len)
{
    if (len == 0)
        return bt_error_set(p->err, -EINVAL, "%s: empty web seed URL", key);
    return add_unique(p, &p->m->web_seeds, &p->m->web_seed_count, key, val);
}

/* True if port[0..len) is a decimal number in 1..65535 (no sign, no spaces). */
static bool valid_port(const char *port, size_t len)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (port[i] < '0' || port[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static bool all_chars_in(const char *s, size_t len, const char *extra, bool alnum)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        if (alnum)
            ok = ok || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!ok && (c == '\0' || !strchr(extra, c)))
            return false;
    }
    return true;
}

/* Checks "host:port" or "[v6addr]:port"; returns NULL or what is wrong. */
static const char *check_peer(const char *val, size_t len)
{
    const char *colon;
    const char *host = val;
    size_t host_len;

    if (val[0] == '[') {
        const char *close = memchr(val, ']', len);

        if (!close)
            return "missing ']' after IPv6 address";
        host = val + 1;
        host_len = (size_t)(close - host);
        if (host_len == 0)
            return "empty host";
        if (!memchr(host, ':', host_len) || !all_chars_in(host, host_len, ":.", false))
            return "bad IPv6 address";
        if (close[1] != ':')
            return "expected ':' and a port after ']'";
        colon = close + 1;
    } else {
        colon = strrchr(val, ':');
        if (!colon)
            return "expected host:port";
        host_len = (size_t)(colon - host);
        if (host_len == 0)
            return "empty host";
        if (memchr(host, ':', host_len))
            return "an IPv6 address must be written [addr]:port";
        if (!all_chars_in(host, host_len, ".-_", true))
            return "bad character in host";
    }
    if (!valid_port(colon + 1, len - (size_t)(colon + 1 - val)))
        return "port must be a number in 1..65535";
    return NULL;
}

static int on_peer(struct parser *p, const char *key, const char *val, size_t len)
{
    char q[QUOTE_MAX + 4];
    const char *why;

    if (len == 0)
        return bt_error_set(p->err, -EINVAL, "%s: empty peer address", key);
    why = check_peer(val, len);
    if (why)
        return bt_error_set(p->err, -EINVAL, "%s: %s, got \"%s\"", key, why, quote(q, val));
    return add_unique(p, &p->m->peers, &p->m->peer_count, key, val);
}

static const struct handler handlers[] = {
    {"xt", false, on_xt},     {"dn", true, on_dn},  {"tr", false, on_tr},
    {"x.pe", false, on_peer}, {"ws", false, on_ws},
};

/* The handler for a decoded key, with an index suffix (".1", ".23") ignored. */
static const struct handler *find_handler(const char *key)
{
    size_t len = strlen(key);
    const char *dot = strrchr(key, '.');

    if (dot && dot > key && dot[1] != '\0' && strspn(dot + 1, "0123456789") == strlen(dot + 1))
        len = (size_t)(dot - key);
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (strlen(handlers[i].key) == len && memcmp(handlers[i].key, key, len) == 0)
            return &handlers[i];
    }
    return NULL;
}

/*
 * Percent-decodes raw[0..len) into out; with plus_is_space a literal '+' becomes ' '
 * (an escaped "%2B" stays '+'). Returns the decoded length or -EINVAL.
 */
static int decode(char *out, const char *raw, size_t len, bool plus_is_space)
{
    size_t o = 0;
    size_t start = 0;

    if (!plus_is_space)
        return bt_url_unescape(out, raw, len);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && raw[i] != '+')
            continue;
        int r = bt_url_unescape(out + o, raw + start, i - start);

        if (r < 0)
            return r;
        o += (size_t)r;
        if (i < len)
            out[o++] = ' ';
        start = i + 1;
    }
    out[o] = '\0';
    return (int)o;
}

static int parse_param(struct parser *p, const char *seg, size_t len)
{
    const char *eq = memchr(seg, '=', len);
    size_t key_len = eq ? (size_t)(eq - seg) : len;
    const char *raw = eq ? eq + 1 : seg + len;
    size_t raw_len = len - (size_t)(raw - seg);
    const struct handler *h;
    int r;

    if (key_len == 0)
        return bt_error_set(p->err, -EINVAL, "parameter %zu: empty key", p->index);
    r = bt_url_unescape(p->key, seg, key_len);
    if (r < 0)
        return bt_error_set(p->err, -EINVAL, "parameter %zu: malformed percent-escape in key",
                            p->index);
    if ((size_t)r != strlen(p->key))
        return bt_error_set(p->err, -EINVAL, "parameter %zu: NUL byte in key", p->index);
    h = find_handler(p->key);
    if (!h)
        return 0; /* unknown keys are ignored, value and all */
    r = decode(p->val, raw, raw_len, h->plus_is_space);
    if (r < 0)
        return bt_error_set(p->err, -EINVAL,
                            "%s: malformed percent-escape ('%%' must be followed by two hex "
                            "digits)",
                            h->key);
    if ((size_t)r != strlen(p->val))
        return bt_error_set(p->err, -EINVAL, "%s: NUL byte in value", h->key);
    return h->fn(p, h->key, p->val, (size_t)r);
}

static int parse_query(struct parser *p, const char *query, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && query[i] != '&')
            continue;
        if (i > start) {
            int r;

            p->index++;
            r = parse_param(p, query + start, i - start);
            if (r < 0)
                return r;
        }
        start = i + 1;
    }
    if (p->have_btih)
        return 0;
    if (p->saw_btmh)
        return bt_error_set(p->err, -EINVAL, "xt: v2-only magnet links are not supported");
    return bt_error_set(p->err, -EINVAL, "xt: missing urn:btih: (the link names no torrent)");
}

bool bt_magnet_is_bare_hash(const char *s)
{
    size_t n = strlen(s);

    return (n == 40 && strspn(s, "0123456789abcdefABCDEF") == n) ||
           (n == 32 &&
            strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz234567") == n);
}

const char *bt_magnet_link(char out[BT_MAGNET_LINK_LEN], const char *uri)
{
    if (!uri || !bt_magnet_is_bare_hash(uri))
        return uri;
    snprintf(out, BT_MAGNET_LINK_LEN, "%sxt=urn:btih:%s", MAGNET_PREFIX, uri);
    return out;
}

int bt_magnet_parse(struct bt_magnet **ret, const char *uri, struct bt_error *err)
{
    struct parser p = {.err = err};
    size_t plen = strlen(MAGNET_PREFIX);
    char link[BT_MAGNET_LINK_LEN];
    size_t len;
    int r;

    if (!uri)
        return bt_error_set(err, -EINVAL, "magnet: no URI");
    uri = bt_magnet_link(link, uri);
    len = strnlen(uri, BT_MAGNET_MAX_LEN + 1);
    if (len > BT_MAGNET_MAX_LEN)
        return bt_error_set(err, -EMSGSIZE, "magnet: URI longer than %d bytes", BT_MAGNET_MAX_LEN);
    if (len < plen || strncasecmp(uri, MAGNET_PREFIX, plen) != 0)
        return bt_error_set(err, -EINVAL,
                            "magnet: not a magnet URI (must start with \"%s\") or an info-hash",
                            MAGNET_PREFIX);
    p.m = calloc(1, sizeof(*p.m));
    p.key = malloc(len + 1);
    p.val = malloc(len + 1);
    if (!p.m || !p.key || !p.val)
        r = bt_error_set(err, -ENOMEM, "magnet: out of memory");
    else
        r = parse_query(&p, uri + plen, len - plen);
    free(p.key);
    free(p.val);
    if (r < 0) {
        bt_magnet_free(p.m);
        return r;
    }
    *ret = p.m;
    return 0;
}

static void free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

void bt_magnet_free(struct bt_magnet *m)
{
    if (!m)
        return;
    free(m->name);
    free_list(m->trackers, m->tracker_count);
    free_list(m->peers, m->peer_count);
    free_list(m->web_seeds, m->web_seed_count);
    free(m);
}
