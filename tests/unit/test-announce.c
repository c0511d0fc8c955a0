#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "crypto.h"
#include "tap.h"
#include "testdata.h"

#define HTTP_BASE "http://tracker.example/announce"

/* An info-hash with bytes to escape (NUL, high bytes, '&', ' ') and bytes to keep. */
static const uint8_t weird_hash[20] = {0x00, 0x01, 0x7f, 0x80, 0xff, '&', ' ', '%', '=', '?',
                                       'a',  'Z',  '0',  '-',  '.',  '_', '~', '/', '+', 0x12};
#define WEIRD_HASH_ESC "%00%01%7F%80%FF%26%20%25%3D%3FaZ0-._~%2F%2B%12"

static void make_req(struct bt_announce_req *req)
{
    memset(req, 0, sizeof(*req));
    memcpy(req->info_hash, weird_hash, 20);
    memcpy(req->peer_id, "-BT0001-abcdefghijkl", 20);
    req->port = 6881;
    req->uploaded = 1;
    req->downloaded = 2;
    req->left = 12345678901ULL;
    req->event = BT_EVENT_STARTED;
    req->numwant = 50;
    req->key = 0xdeadbeef;
}

static void format_peer(char *out, size_t size, const struct bt_peer_addr *a)
{
    char ip[INET6_ADDRSTRLEN];

    inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, ip, sizeof(ip));
    if (a->family == 6)
        snprintf(out, size, "[%s]:%u", ip, (unsigned)a->port);
    else
        snprintf(out, size, "%s:%u", ip, (unsigned)a->port);
}

static int parse_str(const char *body, struct bt_announce_result *r, struct bt_error *err)
{
    return bt_announce_http_parse((const uint8_t *)body, strlen(body), r, err);
}

static void test_url_escapes_info_hash_and_peer_id(void)
{
    struct bt_announce_req req;
    char *url;

    make_req(&req);
    url = bt_announce_http_url(HTTP_BASE, &req);
    CHECK(url != NULL);
    if (!url)
        return;
    CHECK_MSG(strcmp(url,
                     HTTP_BASE "?info_hash=" WEIRD_HASH_ESC
                               "&peer_id=-BT0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2"
                               "&left=12345678901&compact=1&key=deadbeef&numwant=50"
                               "&event=started") == 0,
              "url: %s", url);
    free(url);
}

static void test_url_appends_to_existing_query(void)
{
    struct bt_announce_req req;
    char *url;

    make_req(&req);
    url = bt_announce_http_url("http://t.example/a?passkey=s3cret", &req);
    CHECK(url && strncmp(url, "http://t.example/a?passkey=s3cret&info_hash=%00", 47) == 0);
    free(url);
    url = bt_announce_http_url("http://t.example/a?", &req);
    CHECK(url && strncmp(url, "http://t.example/a?info_hash=", 29) == 0);
    free(url);
    url = bt_announce_http_url("http://t.example/a?x=1&", &req);
    CHECK(url && strncmp(url, "http://t.example/a?x=1&info_hash=", 33) == 0);
    free(url);
}

static void test_url_drops_fragment(void)
{
    struct bt_announce_req req;
    char *url;

    make_req(&req);
    url = bt_announce_http_url("http://t.example/a#frag", &req);
    CHECK(url && strncmp(url, "http://t.example/a?info_hash=", 29) == 0);
    CHECK(url && !strchr(url, '#'));
    free(url);
}

static void test_url_event_names(void)
{
    static const struct {
        enum bt_announce_event ev;
        const char *want; /* NULL: no event parameter */
    } cases[] = {
        {BT_EVENT_NONE, NULL},
        {BT_EVENT_STARTED, "&event=started"},
        {BT_EVENT_COMPLETED, "&event=completed"},
        {BT_EVENT_STOPPED, "&event=stopped"},
    };
    struct bt_announce_req req;
    size_t i;

    make_req(&req);
    req.numwant = 0;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *url;

        req.event = cases[i].ev;
        url = bt_announce_http_url(HTTP_BASE, &req);
        CHECK(url != NULL);
        if (!url)
            continue;
        CHECK(!strstr(url, "numwant"));
        if (cases[i].want)
            CHECK_MSG(strstr(url, cases[i].want) && url[strlen(url) - 1] != '&', "%s", url);
        else
            CHECK_MSG(!strstr(url, "event="), "%s", url);
        free(url);
    }
}

static void test_parses_compact_peers(void)
{
    static const uint8_t body[] = "d8:completei2e10:incompletei7e8:intervali1800e"
                                  "12:min intervali60e5:peers12:\x0a\x00\x00\x01\x1a\xe1"
                                  "\xc0\xa8\x01\x02\xc8\xd5"
                                  "e";
    struct bt_announce_result r;
    struct bt_error err = {""};
    char text[64];

    CHECK(bt_announce_http_parse(body, sizeof(body) - 1, &r, &err) == 0);
    CHECK(r.failure == NULL && r.warning == NULL);
    CHECK(r.interval == 1800 && r.min_interval == 60);
    CHECK(r.seeders == 2 && r.leechers == 7);
    CHECK(r.peer_count == 2);
    if (r.peer_count == 2) {
        format_peer(text, sizeof(text), &r.peers[0]);
        CHECK_MSG(strcmp(text, "10.0.0.1:6881") == 0, "%s", text);
        format_peer(text, sizeof(text), &r.peers[1]);
        CHECK_MSG(strcmp(text, "192.168.1.2:51413") == 0, "%s", text);
    }
    bt_announce_result_deinit(&r);
}

static void test_parses_dictionary_peers(void)
{
    struct bt_announce_result r;
    struct bt_error err = {""};
    char text[64];

    CHECK(parse_str("d8:intervali60e5:peersld2:ip9:127.0.0.14:porti1111eed2:ip3:::17:peer id"
                    "20:AAAAAAAAAAAAAAAAAAAA4:porti2222eed2:ip11:example.org4:porti1eeee",
                    &r, &err) == 0);
    CHECK_MSG(r.peer_count == 2, "%zu peers", r.peer_count);
    if (r.peer_count == 2) {
        format_peer(text, sizeof(text), &r.peers[0]);
        CHECK(strcmp(text, "127.0.0.1:1111") == 0);
        format_peer(text, sizeof(text), &r.peers[1]);
        CHECK(strcmp(text, "[::1]:2222") == 0);
    }
    bt_announce_result_deinit(&r);
}

/* Parses a reply whose peers6 holds ip6 port 6881 alone; true if it gave one peer. */
static bool parse_one_peer6(const char *ip6, struct bt_announce_result *r)
{
    uint8_t body[128];
    struct bt_error err = {""};
    size_t n = 0;

    n += (size_t)snprintf((char *)body, sizeof(body), "d8:intervali5e5:peers0:6:peers618:");
    inet_pton(AF_INET6, ip6, body + n);
    body[n + 16] = 0x1a;
    body[n + 17] = 0xe1;
    n += 18;
    body[n++] = 'e';
    CHECK(bt_announce_http_parse(body, n, r, &err) == 0);
    CHECK(r->peer_count == 1);
    return r->peer_count == 1;
}

static void test_parses_peers6(void)
{
    struct bt_announce_result r;
    char text[64];

    if (parse_one_peer6("2001:db8::7", &r)) {
        CHECK(r.peers[0].family == 6);
        format_peer(text, sizeof(text), &r.peers[0]);
        CHECK_MSG(strcmp(text, "[2001:db8::7]:6881") == 0, "%s", text);
    }
    bt_announce_result_deinit(&r);
}

/* ::ffff:a.b.c.d in peers6 is the IPv4 peer a.b.c.d, not a second address for it. */
static void test_peers6_v4_mapped_is_ipv4(void)
{
    struct bt_announce_result r;
    char text[64];

    if (parse_one_peer6("::ffff:192.0.2.9", &r)) {
        CHECK(r.peers[0].family == 4);
        format_peer(text, sizeof(text), &r.peers[0]);
        CHECK_MSG(strcmp(text, "192.0.2.9:6881") == 0, "%s", text);
    }
    bt_announce_result_deinit(&r);
}

static void test_failure_reason_is_a_result(void)
{
    struct bt_announce_result r;
    struct bt_error err = {""};

    CHECK(parse_str("d14:failure reason12:unregistered15:warning message3:hm!e", &r, &err) == 0);
    CHECK(r.failure && strcmp(r.failure, "unregistered") == 0);
    CHECK(r.warning && strcmp(r.warning, "hm!") == 0);
    CHECK(r.peer_count == 0 && r.peers == NULL);
    bt_announce_result_deinit(&r);
}

static void test_warning_kept_with_peers(void)
{
    static const uint8_t body[] = "d8:intervali9e5:peers6:\x01\x02\x03\x04\x00\x50"
                                  "15:warning message3:olde";
    struct bt_announce_result r;
    struct bt_error err = {""};

    CHECK(bt_announce_http_parse(body, sizeof(body) - 1, &r, &err) == 0);
    CHECK(r.warning && strcmp(r.warning, "old") == 0 && r.failure == NULL);
    CHECK(r.peer_count == 1 && r.peers[0].port == 80);
    bt_announce_result_deinit(&r);
}

static void test_messages_are_sanitised_and_capped(void)
{
    size_t big = 3000, i;
    char *body = malloc(big + 64);
    struct bt_announce_result r;
    struct bt_error err = {""};
    int n;

    CHECK(parse_str("d14:failure reason10:a\nb\tc\x1b[md\x7f"
                    "e",
                    &r, &err) == 0);
    CHECK_MSG(r.failure && strcmp(r.failure, "a?b?c?[md?") == 0, "%s", r.failure);
    bt_announce_result_deinit(&r);
    if (!body)
        return;
    n = snprintf(body, 64, "d14:failure reason%zu:", big);
    for (i = 0; i < big; i++)
        body[(size_t)n + i] = 'x';
    memcpy(body + (size_t)n + big, "e", 2);
    CHECK(parse_str(body, &r, &err) == 0);
    CHECK(r.failure && strlen(r.failure) == BT_ANNOUNCE_MAX_MESSAGE);
    bt_announce_result_deinit(&r);
    free(body);
}

static void test_rejects_malformed_replies(void)
{
    static const char *const bodies[] = {
        "",
        "not bencode at all",
        "d8:interval",
        "le",
        "d5:peers7:1234567e",
        "d5:peersi3ee",
        "d6:peers617:12345678901234567e",
        "d8:interval4:soone",
        "d8:intervali-1ee",
        "d5:peersld2:ip7:1.2.3.4eee",
        "d8:intervali1eeXYZ",
    };
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct bt_announce_result r = {.failure = (char *)"untouched"};
        struct bt_error err = {""};
        int rc = parse_str(bodies[i], &r, &err);

        CHECK_MSG(rc == -EBADMSG, "case %zu: %d", i, rc);
        CHECK_MSG(err.msg[0] != '\0' && !strchr(err.msg, '\n'), "case %zu: '%s'", i, err.msg);
        CHECK_MSG(strcmp(r.failure, "untouched") == 0, "case %zu: ret written", i);
    }
}

static void test_trailing_newline_accepted(void)
{
    struct bt_announce_result r;
    struct bt_error err = {""};

    CHECK(parse_str("d8:intervali30e5:peers0:e\r\n", &r, &err) == 0);
    CHECK(r.interval == 30);
    bt_announce_result_deinit(&r);
}

static void test_caps_peer_count(void)
{
    size_t want = BT_ANNOUNCE_MAX_PEERS + 500, len = want * 6, i;
    uint8_t *body = malloc(len + 64);
    struct bt_announce_result r;
    struct bt_error err = {""};
    int n;

    CHECK(body != NULL);
    if (!body)
        return;
    n = snprintf((char *)body, 64, "d5:peers%zu:", len);
    for (i = 0; i < want; i++) {
        uint8_t *p = body + (size_t)n + 6 * i;

        p[0] = 10;
        p[1] = (uint8_t)(i >> 16);
        p[2] = (uint8_t)(i >> 8);
        p[3] = (uint8_t)i;
        p[4] = 0x1a;
        p[5] = 0xe1;
    }
    body[(size_t)n + len] = 'e';
    CHECK(bt_announce_http_parse(body, (size_t)n + len + 1, &r, &err) == 0);
    CHECK_MSG(r.peer_count == BT_ANNOUNCE_MAX_PEERS, "%zu", r.peer_count);
    bt_announce_result_deinit(&r);
    free(body);
}

static void test_caps_values_in_a_reply(void)
{
    size_t n = 70000, i, len = 0;
    char *body = malloc(2 * n + 64);
    struct bt_announce_result r;
    struct bt_error err = {""};

    CHECK(body != NULL);
    if (!body)
        return;
    len += (size_t)snprintf(body, 64, "d8:intervali1e4:junkl");
    for (i = 0; i < n; i++) {
        body[len++] = '0';
        body[len++] = ':';
    }
    body[len++] = 'e';
    body[len++] = 'e';
    CHECK(bt_announce_http_parse((const uint8_t *)body, len, &r, &err) == -EBADMSG);
    CHECK_MSG(strstr(err.msg, "too many values") != NULL, "%s", err.msg);
    free(body);
}

static void test_udp_connect_request_bytes(void)
{
    static const uint8_t want[16] = {0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80,
                                     0x00, 0x00, 0x00, 0x00, 0xca, 0xfe, 0xba, 0xbe};
    uint8_t out[16];

    bt_udp_connect_req(out, 0xcafebabe);
    CHECK(memcmp(out, want, 16) == 0);
}

static void test_udp_announce_request_bytes(void)
{
    struct bt_announce_req req;
    uint8_t out[98], want[98];

    make_req(&req);
    memset(want, 0, sizeof(want));
    memcpy(want, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);      /* connection id */
    memcpy(want + 8, "\x00\x00\x00\x01", 4);                  /* action: announce */
    memcpy(want + 12, "\x11\x22\x33\x44", 4);                 /* transaction id */
    memcpy(want + 16, weird_hash, 20);                        /* info_hash */
    memcpy(want + 36, "-BT0001-abcdefghijkl", 20);            /* peer_id */
    memcpy(want + 56, "\x00\x00\x00\x00\x00\x00\x00\x02", 8); /* downloaded */
    memcpy(want + 64, "\x00\x00\x00\x02\xdf\xdc\x1c\x35", 8); /* left 12345678901 */
    memcpy(want + 72, "\x00\x00\x00\x00\x00\x00\x00\x01", 8); /* uploaded */
    memcpy(want + 80, "\x00\x00\x00\x02", 4);                 /* event: started */
    memcpy(want + 88, "\xde\xad\xbe\xef", 4);                 /* key */
    memcpy(want + 92, "\x00\x00\x00\x32", 4);                 /* num_want 50 */
    memcpy(want + 96, "\x1a\xe1", 2);                         /* port 6881 */
    bt_udp_announce_req(out, 0x0102030405060708ULL, 0x11223344, &req);
    CHECK(memcmp(out, want, 98) == 0);
    req.numwant = 0;
    bt_udp_announce_req(out, 0x0102030405060708ULL, 0x11223344, &req);
    CHECK(memcmp(out + 92, "\xff\xff\xff\xff", 4) == 0); /* -1: the tracker's default */
}

static void test_udp_connect_reply(void)
{
    static const uint8_t reply[16] = {0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8};
    struct bt_announce_result r = {0};
    struct bt_error err = {""};
    uint64_t cid = 0;

    CHECK(bt_udp_parse_reply(reply, 16, 0xcafebabe, 4, &cid, &r, &err) == BT_UDP_CONNECT);
    CHECK(cid == 0x0102030405060708ULL);
}

static void test_udp_rejects_wrong_transaction_id(void)
{
    static const uint8_t reply[16] = {0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbf, 1, 2, 3, 4, 5, 6, 7, 8};
    struct bt_announce_result r = {0};
    struct bt_error err = {""};
    uint64_t cid = 42;

    CHECK(bt_udp_parse_reply(reply, 16, 0xcafebabe, 4, &cid, &r, &err) == -EBADMSG);
    CHECK(strstr(err.msg, "transaction id") != NULL);
    CHECK(cid == 42);
}

static void test_udp_rejects_short_packets(void)
{
    uint8_t buf[64] = {0};
    struct bt_announce_result r = {0};
    struct bt_error err = {""};
    uint64_t cid;
    size_t len;

    for (len = 0; len < 8; len++)
        CHECK_MSG(bt_udp_parse_reply(buf, len, 0, 4, &cid, &r, &err) == -EBADMSG, "%zu", len);
    buf[3] = BT_UDP_CONNECT;
    CHECK(bt_udp_parse_reply(buf, 15, 0, 4, &cid, &r, &err) == -EBADMSG);
    buf[3] = BT_UDP_ANNOUNCE;
    CHECK(bt_udp_parse_reply(buf, 19, 0, 4, &cid, &r, &err) == -EBADMSG);
    CHECK(bt_udp_parse_reply(buf, 20 + 7, 0, 4, &cid, &r, &err) == -EBADMSG);
    CHECK(bt_udp_parse_reply(buf, 20 + 6, 0, 6, &cid, &r, &err) == -EBADMSG);
    buf[3] = 2; /* scrape: never asked for */
    CHECK(bt_udp_parse_reply(buf, 20, 0, 4, &cid, &r, &err) == -EBADMSG);
    CHECK(strstr(err.msg, "unknown action") != NULL);
}

static void test_udp_announce_reply(void)
{
    uint8_t buf[20 + 2 * 18] = {0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0x07, 0x08, 0, 0, 0, 3, 0, 0, 0, 4};
    struct bt_announce_result r;
    struct bt_error err = {""};
    uint64_t cid;
    char text[64];

    memcpy(buf + 20, "\x7f\x00\x00\x01\x04\x57\x7f\x00\x00\x02\x08\xae", 12);
    CHECK(bt_udp_parse_reply(buf, 32, 9, 4, &cid, &r, &err) == BT_UDP_ANNOUNCE);
    CHECK(r.interval == 1800 && r.leechers == 3 && r.seeders == 4 && r.peer_count == 2);
    if (r.peer_count == 2) {
        format_peer(text, sizeof(text), &r.peers[1]);
        CHECK_MSG(strcmp(text, "127.0.0.2:2222") == 0, "%s", text);
    }
    bt_announce_result_deinit(&r);
    memset(buf + 20, 0, 36);
    buf[20 + 15] = 1; /* ::1 */
    buf[20 + 17] = 80;
    buf[20 + 18 + 15] = 2;
    buf[20 + 18 + 17] = 81;
    CHECK(bt_udp_parse_reply(buf, sizeof(buf), 9, 6, &cid, &r, &err) == BT_UDP_ANNOUNCE);
    CHECK(r.peer_count == 2 && r.peers[0].family == 6);
    if (r.peer_count == 2) {
        format_peer(text, sizeof(text), &r.peers[1]);
        CHECK_MSG(strcmp(text, "[::2]:81") == 0, "%s", text);
    }
    bt_announce_result_deinit(&r);
}

static void test_udp_error_action(void)
{
    static const uint8_t reply[] = "\x00\x00\x00\x03\x00\x00\x00\x05"
                                   "Requested download is not authorized";
    struct bt_announce_result r;
    struct bt_error err = {""};
    uint64_t cid;

    CHECK(bt_udp_parse_reply(reply, sizeof(reply) - 1, 5, 4, &cid, &r, &err) == BT_UDP_ERROR);
    CHECK(r.failure && strcmp(r.failure, "Requested download is not authorized") == 0);
    bt_announce_result_deinit(&r);
    /* A trailing NUL, as some trackers send, is not part of the message. */
    CHECK(bt_udp_parse_reply(reply, sizeof(reply), 5, 4, &cid, &r, &err) == BT_UDP_ERROR);
    CHECK(r.failure && strcmp(r.failure, "Requested download is not authorized") == 0);
    bt_announce_result_deinit(&r);
}

static void test_udp_url_parts(void)
{
    static const struct {
        const char *url;
        const char *host; /* NULL: refused */
        uint16_t port;
    } cases[] = {
        {"udp://tracker.example:6969/announce", "tracker.example", 6969},
        {"udp://127.0.0.1:80", "127.0.0.1", 80},
        {"udp://[::1]:1337/announce?x=1", "::1", 1337},
        {"udp://tracker.example/announce", NULL, 0},
        {"udp://tracker.example:0/", NULL, 0},
        {"udp://tracker.example:65536/", NULL, 0},
        {"udp://:80/", NULL, 0},
        {"udp://[::1]/", NULL, 0},
        {"udp://host:80x", NULL, 0},
        {"http://tracker.example:80/", NULL, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[64] = "";
        uint16_t port = 0;
        int r = bt_announce_udp_url(cases[i].url, host, sizeof(host), &port);

        if (cases[i].host)
            CHECK_MSG(r == 0 && strcmp(host, cases[i].host) == 0 && port == cases[i].port,
                      "%s -> %d %s %u", cases[i].url, r, host, (unsigned)port);
        else
            CHECK_MSG(r == -EINVAL, "%s accepted", cases[i].url);
    }
}

/* Checks one key=value line of a .expect file against r. */
static void check_expect_line(const char *name, const struct bt_announce_result *r, const char *key,
                              const char *want)
{
    char got[BT_ANNOUNCE_MAX_MESSAGE + 64] = "(unknown key)";
    unsigned long idx;

    if (strcmp(key, "peers") == 0)
        snprintf(got, sizeof(got), "%zu", r->peer_count);
    else if (strcmp(key, "interval") == 0)
        snprintf(got, sizeof(got), "%u", (unsigned)r->interval);
    else if (strcmp(key, "min_interval") == 0)
        snprintf(got, sizeof(got), "%u", (unsigned)r->min_interval);
    else if (strcmp(key, "seeders") == 0)
        snprintf(got, sizeof(got), "%d", (int)r->seeders);
    else if (strcmp(key, "leechers") == 0)
        snprintf(got, sizeof(got), "%d", (int)r->leechers);
    else if (strcmp(key, "failure") == 0)
        snprintf(got, sizeof(got), "%s", r->failure ? r->failure : "-");
    else if (strcmp(key, "warning") == 0)
        snprintf(got, sizeof(got), "%s", r->warning ? r->warning : "-");
    else if (strncmp(key, "peer.", 5) == 0) {
        idx = strtoul(key + 5, NULL, 10);
        if (idx < r->peer_count)
            format_peer(got, sizeof(got), &r->peers[idx]);
        else
            snprintf(got, sizeof(got), "(missing)");
    }
    CHECK_MSG(strcmp(got, want) == 0, "%s: %s is \"%s\", want \"%s\"", name, key, got, want);
}

static void check_valid_case(const char *name, const uint8_t *data, size_t len, const char *expect)
{
    struct bt_announce_result r;
    struct bt_error err = {""};
    char *copy, *line, *save = NULL;
    int rc = bt_announce_http_parse(data, len, &r, &err);

    CHECK_MSG(rc == 0, "%s: %d %s", name, rc, err.msg);
    if (rc != 0)
        return;
    copy = expect ? strdup(expect) : NULL;
    for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');

        if (!eq)
            continue;
        *eq = '\0';
        check_expect_line(name, &r, line, eq + 1);
    }
    free(copy);
    bt_announce_result_deinit(&r);
}

static void check_invalid_case(const char *name, const uint8_t *data, size_t len, const char *want)
{
    struct bt_announce_result r;
    struct bt_error err = {""};
    int rc = bt_announce_http_parse(data, len, &r, &err);

    CHECK_MSG(rc == -EBADMSG, "%s: parse returned %d", name, rc);
    CHECK_MSG(want != NULL, "%s: no .err file", name);
    if (want)
        CHECK_MSG(strstr(err.msg, want) != NULL, "%s: got \"%s\", want \"%s\"", name, err.msg,
                  want);
    CHECK_MSG(!strchr(err.msg, '\n'), "%s: message is not one line", name);
    if (rc == 0)
        bt_announce_result_deinit(&r);
}

int main(void)
{
    if (bt_crypto_init() != 0)
        return 1;
    TAP_RUN(test_url_escapes_info_hash_and_peer_id);
    TAP_RUN(test_url_appends_to_existing_query);
    TAP_RUN(test_url_drops_fragment);
    TAP_RUN(test_url_event_names);
    TAP_RUN(test_parses_compact_peers);
    TAP_RUN(test_parses_dictionary_peers);
    TAP_RUN(test_parses_peers6);
    TAP_RUN(test_peers6_v4_mapped_is_ipv4);
    TAP_RUN(test_failure_reason_is_a_result);
    TAP_RUN(test_warning_kept_with_peers);
    TAP_RUN(test_messages_are_sanitised_and_capped);
    TAP_RUN(test_rejects_malformed_replies);
    TAP_RUN(test_trailing_newline_accepted);
    TAP_RUN(test_caps_peer_count);
    TAP_RUN(test_caps_values_in_a_reply);
    TAP_RUN(test_udp_connect_request_bytes);
    TAP_RUN(test_udp_announce_request_bytes);
    TAP_RUN(test_udp_connect_reply);
    TAP_RUN(test_udp_rejects_wrong_transaction_id);
    TAP_RUN(test_udp_rejects_short_packets);
    TAP_RUN(test_udp_announce_reply);
    TAP_RUN(test_udp_error_action);
    TAP_RUN(test_udp_url_parts);
    testdata_run("announce", ".bin", check_valid_case, check_invalid_case);
    return tap_done();
}
