#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "magnet.h"
#include "tap.h"
#include "testdata.h"

#define HASH_HEX "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
#define HASH_B32 "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"

/* Parses the first line of a corpus file; ret and err as bt_magnet_parse. */
static int parse_case(const uint8_t *data, size_t len, struct bt_magnet **ret, struct bt_error *err)
{
    char *uri = strndup((const char *)data, strcspn((const char *)data, "\r\n"));
    int r;

    CHECK(uri != NULL);
    if (!uri)
        return -ENOMEM;
    r = bt_magnet_parse(ret, uri, err);
    free(uri);
    return r;
}

static void check_invalid_case(const char *name, const uint8_t *data, size_t len, const char *want)
{
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};
    int r = parse_case(data, len, &m, &err);

    CHECK_MSG(r == -EINVAL || r == -EMSGSIZE, "%s: parse returned %d", name, r);
    CHECK_MSG(m == NULL, "%s: ret written on failure", name);
    CHECK_MSG(want != NULL, "%s: no .err file", name);
    if (want)
        CHECK_MSG(strstr(err.msg, want) != NULL, "%s: got \"%s\", want \"%s\"", name, err.msg,
                  want);
    CHECK_MSG(!strchr(err.msg, '\n'), "%s: message is not one line", name);
    bt_magnet_free(m);
}

/* The list entry named by key "<prefix><index>", or NULL when key is not of that form. */
static const char *list_item(const char *key, const char *prefix, char **items, size_t count,
                             int *found)
{
    size_t plen = strlen(prefix);
    char *end;
    unsigned long i;

    if (strncmp(key, prefix, plen) != 0 || key[plen] < '0' || key[plen] > '9')
        return NULL;
    i = strtoul(key + plen, &end, 10);
    if (*end != '\0')
        return NULL;
    *found = 1;
    return i < count ? items[i] : "(missing)";
}

static int count_of(const char *key, const struct bt_magnet *m, size_t *ret)
{
    if (strcmp(key, "trackers") == 0)
        *ret = m->tracker_count;
    else if (strcmp(key, "peers") == 0)
        *ret = m->peer_count;
    else if (strcmp(key, "web_seeds") == 0)
        *ret = m->web_seed_count;
    else
        return 0;
    return 1;
}

/* Checks one key=value line of a .expect file against m. */
static void check_expect(const char *name, const struct bt_magnet *m, const char *key,
                         const char *want)
{
    char hex[41];
    const char *got = NULL;
    int found = 0;
    size_t count;

    if (strcmp(key, "info_hash") == 0) {
        bt_hex_encode(hex, m->info_hash, sizeof(m->info_hash));
        CHECK_MSG(strcmp(hex, want) == 0, "%s: info_hash %s, want %s", name, hex, want);
        return;
    }
    if (strcmp(key, "name") == 0) {
        CHECK_MSG(m->name ? strcmp(m->name, want) == 0 : want[0] == '\0',
                  "%s: name \"%s\", want \"%s\"", name, m->name ? m->name : "(null)", want);
        return;
    }
    if (count_of(key, m, &count)) {
        CHECK_MSG(count == strtoul(want, NULL, 10), "%s: %s %zu, want %s", name, key, count, want);
        return;
    }
    got = list_item(key, "tracker", m->trackers, m->tracker_count, &found);
    if (!found)
        got = list_item(key, "peer", m->peers, m->peer_count, &found);
    if (!found)
        got = list_item(key, "web_seed", m->web_seeds, m->web_seed_count, &found);
    CHECK_MSG(found, "%s: unknown expect key \"%s\"", name, key);
    if (found)
        CHECK_MSG(strcmp(got, want) == 0, "%s: %s \"%s\", want \"%s\"", name, key, got, want);
}

/* Checks each key=value line of a .expect file against m. */
static void check_expect_file(const char *name, const struct bt_magnet *m, const char *expect)
{
    char *copy = strdup(expect);
    char *line = copy;

    CHECK(copy != NULL);
    while (line && *line) {
        size_t len = strcspn(line, "\n");
        char *next = line + len + (line[len] == '\n');
        char *eq;

        line[len] = '\0';
        eq = strchr(line, '=');
        if (len > 0) {
            CHECK_MSG(eq != NULL, "%s: bad expect line \"%s\"", name, line);
            if (eq) {
                *eq = '\0';
                check_expect(name, m, line, eq + 1);
            }
        }
        line = next;
    }
    free(copy);
}

static void check_valid_case(const char *name, const uint8_t *data, size_t len, const char *expect)
{
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};
    int r = parse_case(data, len, &m, &err);

    CHECK_MSG(r == 0 && m, "%s: parse returned %d: %s", name, r, err.msg);
    CHECK_MSG(expect != NULL, "%s: no .expect file", name);
    if (r == 0 && m && expect)
        check_expect_file(name, m, expect);
    bt_magnet_free(m);
}

/* Parses uri, expecting success; returns the result (free it) or NULL. */
static struct bt_magnet *parse_ok(const char *uri)
{
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};
    int r = bt_magnet_parse(&m, uri, &err);

    CHECK_MSG(r == 0, "parse returned %d: %s", r, err.msg);
    return r == 0 ? m : NULL;
}

static void test_hex_and_base32_give_same_info_hash(void)
{
    struct bt_magnet *a = parse_ok("magnet:?xt=urn:btih:" HASH_HEX);
    struct bt_magnet *b = parse_ok("magnet:?xt=urn:btih:" HASH_B32);
    struct bt_magnet *c = parse_ok("magnet:?xt=urn:btih:" HASH_B32 "&xt=urn:btih:" HASH_HEX);

    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(memcmp(a->info_hash, b->info_hash, 20) == 0);
        CHECK(memcmp(a->info_hash, c->info_hash, 20) == 0);
    }
    bt_magnet_free(a);
    bt_magnet_free(b);
    bt_magnet_free(c);
}

/* A bare info-hash, hex or base32, is the magnet link naming it; anything around it is not. */
static void test_bare_info_hash(void)
{
    struct bt_magnet *a = parse_ok(HASH_HEX);
    struct bt_magnet *b = parse_ok(HASH_B32);
    struct bt_magnet *c = parse_ok("magnet:?xt=urn:btih:" HASH_HEX);
    struct bt_magnet *bad = NULL;
    struct bt_error err = {{0}};

    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(memcmp(a->info_hash, c->info_hash, 20) == 0);
        CHECK(memcmp(b->info_hash, c->info_hash, 20) == 0);
        CHECK(a->name == NULL && a->tracker_count == 0 && a->peer_count == 0);
    }
    CHECK(bt_magnet_parse(&bad, " " HASH_HEX, &err) == -EINVAL);
    CHECK(bt_magnet_parse(&bad, HASH_HEX "0", &err) == -EINVAL);
    CHECK(bt_magnet_parse(&bad, HASH_B32 "&tr=udp://a:1", &err) == -EINVAL);
    CHECK(strstr(err.msg, "not a magnet URI") != NULL);
    CHECK(bad == NULL);
    bt_magnet_free(a);
    bt_magnet_free(b);
    bt_magnet_free(c);
}

static void test_indexed_tracker_keys(void)
{
    struct bt_magnet *m =
        parse_ok("magnet:?xt.1=urn:btih:" HASH_HEX "&tr.1=udp://a:1&tr.2=udp://b:2&tr=udp://c:3"
                 "&tr.x=udp://ignored:4&tr.=udp://ignored:5");

    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(m->tracker_count == 3);
    if (m->tracker_count == 3) {
        CHECK(strcmp(m->trackers[0], "udp://a:1") == 0);
        CHECK(strcmp(m->trackers[1], "udp://b:2") == 0);
        CHECK(strcmp(m->trackers[2], "udp://c:3") == 0);
    }
    bt_magnet_free(m);
}

static void test_drops_duplicate_trackers(void)
{
    struct bt_magnet *m = parse_ok("magnet:?xt=urn:btih:" HASH_HEX
                                   "&tr=http://t/a&tr=http://t/b&tr=http%3A%2F%2Ft%2Fa"
                                   "&tr=http://t/b&tr=http://t/c");

    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(m->tracker_count == 3);
    if (m->tracker_count == 3) {
        CHECK(strcmp(m->trackers[0], "http://t/a") == 0);
        CHECK(strcmp(m->trackers[1], "http://t/b") == 0);
        CHECK(strcmp(m->trackers[2], "http://t/c") == 0);
    }
    bt_magnet_free(m);
}

/* Builds "magnet:?xt=...&tr=http://t/0&tr=http://t/1..." with n trackers, distinct or not. */
static char *uri_with_trackers(size_t n, int distinct)
{
    size_t cap = 128 + n * 32;
    char *uri = malloc(cap);
    size_t o;

    if (!uri)
        return NULL;
    o = (size_t)snprintf(uri, cap, "magnet:?xt=urn:btih:%s", HASH_HEX);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(uri + o, cap - o, "&tr=http://t/%zu", distinct ? i : 0);
    return uri;
}

static void test_caps_tracker_count(void)
{
    char *at_cap = uri_with_trackers(BT_MAGNET_MAX_ITEMS, 1);
    char *over = uri_with_trackers(BT_MAGNET_MAX_ITEMS + 1, 1);
    char *repeated = uri_with_trackers(BT_MAGNET_MAX_ITEMS * 2, 0);
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};

    CHECK(at_cap && over && repeated);
    if (at_cap && over && repeated) {
        m = parse_ok(at_cap);
        CHECK(m && m->tracker_count == BT_MAGNET_MAX_ITEMS);
        bt_magnet_free(m);
        m = parse_ok(repeated);
        CHECK(m && m->tracker_count == 1);
        bt_magnet_free(m);
        m = NULL;
        CHECK(bt_magnet_parse(&m, over, &err) == -EMSGSIZE);
        CHECK(m == NULL);
        CHECK_MSG(strstr(err.msg, "tr: more than 256 entries") != NULL, "got %s", err.msg);
    }
    free(at_cap);
    free(over);
    free(repeated);
}

/* Builds a valid magnet URI of exactly len bytes, padded with an unknown key. */
static char *uri_of_length(size_t len)
{
    char *uri = malloc(len + 1);
    int o;

    if (!uri)
        return NULL;
    o = snprintf(uri, len + 1, "magnet:?xt=urn:btih:%s&pad=", HASH_HEX);
    memset(uri + o, 'a', len - (size_t)o);
    uri[len] = '\0';
    return uri;
}

static void test_caps_uri_length(void)
{
    char *at_cap = uri_of_length(BT_MAGNET_MAX_LEN);
    char *over = uri_of_length(BT_MAGNET_MAX_LEN + 1);
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};

    CHECK(at_cap && over);
    if (at_cap && over) {
        m = parse_ok(at_cap);
        CHECK(m != NULL);
        bt_magnet_free(m);
        m = NULL;
        CHECK(bt_magnet_parse(&m, over, &err) == -EMSGSIZE);
        CHECK(m == NULL);
        CHECK_MSG(strstr(err.msg, "longer than 65536 bytes") != NULL, "got %s", err.msg);
    }
    free(at_cap);
    free(over);
}

static void test_error_leaves_ret_untouched(void)
{
    struct bt_magnet dummy;
    struct bt_magnet *m = &dummy;

    /* Fails late, after a name, trackers, peers and web seeds were allocated. */
    const char *uri = "magnet:?dn=x&tr=http://t/&x.pe=1.2.3.4:5&ws=http://w/"
                      "&xt=urn:btih:" HASH_HEX "&x.pe=1.2.3.4:0";

    CHECK(bt_magnet_parse(&m, uri, NULL) == -EINVAL);
    CHECK(m == &dummy);
}

static void test_accepts_null_error(void)
{
    struct bt_magnet *m = NULL;

    CHECK(bt_magnet_parse(&m, "magnet:?xt=urn:btih:" HASH_HEX, NULL) == 0);
    CHECK(m != NULL);
    bt_magnet_free(m);
    m = NULL;
    CHECK(bt_magnet_parse(&m, "magnet:?", NULL) == -EINVAL);
    CHECK(m == NULL);
}

static void test_rejects_null_uri(void)
{
    struct bt_magnet *m = NULL;
    struct bt_error err = {""};

    CHECK(bt_magnet_parse(&m, NULL, &err) == -EINVAL);
    CHECK(m == NULL);
    CHECK(err.msg[0] != '\0');
}

static void test_free_null_is_noop(void)
{
    bt_magnet_free(NULL);
    CHECK(1);
}

int main(void)
{
    testdata_run("magnet", ".txt", check_valid_case, check_invalid_case);
    TAP_RUN(test_hex_and_base32_give_same_info_hash);
    TAP_RUN(test_bare_info_hash);
    TAP_RUN(test_indexed_tracker_keys);
    TAP_RUN(test_drops_duplicate_trackers);
    TAP_RUN(test_caps_tracker_count);
    TAP_RUN(test_caps_uri_length);
    TAP_RUN(test_error_leaves_ret_untouched);
    TAP_RUN(test_accepts_null_error);
    TAP_RUN(test_rejects_null_uri);
    TAP_RUN(test_free_null_is_noop);
    return tap_done();
}
