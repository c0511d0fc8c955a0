/*
 * The announcer (daemon/tracker.c) against a fake BEP 15 tracker that
 * lives on the same uv loop: events and the numbers they carry, interval
 * clamping, back-off, unsupported schemes, freeing with a request in
 * flight, `stopped` followed to its end at shutdown (answered, timed
 * out, given up on). Times are shrunk through btd_tracker_tuning; bounds
 * are loose.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "crypto.h"
#include "log.h"
#include "tap.h"
#include "tracker.h"
#include "tracker_http.h"
#include "tracker_udp.h"

#define MAX_SEEN 64

enum fake_mode {
    FAKE_ANSWER, /* connect, then announce replies with one peer */
    FAKE_REFUSE, /* action 3 to every announce */
    FAKE_SILENT, /* never answers */
};

struct seen {
    uint32_t event;
    uint64_t downloaded, left, uploaded;
    uint16_t port;
    uint64_t at; /* uv_now() ms */
};

struct fake {
    uv_udp_t sock;
    enum fake_mode mode;
    uint32_t interval; /* seconds, in announce replies */
    struct seen seen[MAX_SEEN];
    size_t nseen;   /* announces received */
    size_t packets; /* datagrams received, connects included */
    bool decoys;    /* precede each reply by one with another transaction id */
    uint8_t buf[2048];
};

struct env {
    uv_loop_t loop;
    struct fake fake;
    struct btd_tracker_http *http;
    struct btd_tracker_udp *udp;
    struct btd_tracker *t;
    char url[64];
    struct btd_tracker_stats stats; /* what get_stats reports */
    size_t peers_calls;
    size_t peers_seen;
    struct bt_peer_addr last_peer; /* the last peer handed out */
    struct btd_tracker_stopping stopping;
    size_t stop_changes; /* on_change calls */
};

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void on_fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fake *f = h->data;

    *buf = uv_buf_init((char *)f->buf, sizeof(f->buf));
}

static void fake_reply(struct fake *f, uint8_t *p, size_t len, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    uint8_t decoy[64];

    if (f->decoys) {
        /* The same reply for another transaction, with another peer: to be ignored. */
        memcpy(decoy, p, len);
        decoy[7] ^= 1;
        if (len >= 26)
            memcpy(decoy + 20, "\x06\x06\x06\x06\x1a\x0a", 6);
        b = uv_buf_init((char *)decoy, (unsigned)len);
        uv_udp_try_send(&f->sock, &b, 1, to);
        b = uv_buf_init((char *)p, (unsigned)len);
    }
    uv_udp_try_send(&f->sock, &b, 1, to);
}

static void on_fake_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                         unsigned flags)
{
    struct fake *f = h->data;
    const uint8_t *p = (const uint8_t *)buf->base;
    uint8_t out[64] = {0};

    if (n > 0 && from)
        f->packets++;
    if (n < 16 || !from || f->mode == FAKE_SILENT)
        return;
    memcpy(out + 4, p + 12, 4); /* transaction id */
    if (be(p + 8, 4) == 0) {    /* connect */
        put32(out, 0);
        memcpy(out + 8, "\x00\x00\x00\x00\x00\x00\x12\x34", 8);
        fake_reply(f, out, 16, from);
        return;
    }
    if (n != 98 || be(p, 8) != 0x1234)
        return;
    if (f->nseen < MAX_SEEN) {
        struct seen *s = &f->seen[f->nseen];

        s->downloaded = be(p + 56, 8);
        s->left = be(p + 64, 8);
        s->uploaded = be(p + 72, 8);
        s->event = (uint32_t)be(p + 80, 4);
        s->port = (uint16_t)be(p + 96, 2);
        s->at = uv_now(h->loop);
    }
    f->nseen++;
    if (f->mode == FAKE_REFUSE) {
        put32(out, 3);
        memcpy(out + 8, "go away", 7);
        fake_reply(f, out, 15, from);
        return;
    }
    put32(out, 1);
    put32(out + 8, f->interval);
    put32(out + 12, 1); /* leechers */
    put32(out + 16, 2); /* seeders */
    memcpy(out + 20, "\x0a\x00\x00\x01\x1a\xe1", 6);
    fake_reply(f, out, 26, from);
}

static void on_stats(void *data, struct btd_tracker_stats *ret)
{
    struct env *e = data;

    *ret = e->stats;
}

static void on_peers(void *data, const struct bt_peer_addr *peers, size_t count)
{
    struct env *e = data;

    e->peers_calls++;
    e->peers_seen += count;
    if (count > 0)
        e->last_peer = peers[count - 1];
}

static void env_init(struct env *e, enum fake_mode mode, const char *extra_url)
{
    static const uint8_t ih[20] = {1, 2, 3};
    static const uint8_t pid[20] = "-BT0001-testtesttest";
    struct btd_tracker_callbacks cb = {.get_stats = on_stats, .on_peers = on_peers, .data = e};
    struct btd_tracker_tuning tun = BTD_TRACKER_TUNING_DEFAULT;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char *urls[2];
    struct bt_tier tier = {.urls = urls, .count = 0};

    memset(e, 0, sizeof(*e));
    uv_loop_init(&e->loop);
    uv_udp_init(&e->loop, &e->fake.sock);
    e->fake.sock.data = &e->fake;
    e->fake.mode = mode;
    e->fake.interval = 1800;
    uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&ss);
    uv_udp_bind(&e->fake.sock, (struct sockaddr *)&ss, 0);
    uv_udp_getsockname(&e->fake.sock, (struct sockaddr *)&ss, &len);
    uv_udp_recv_start(&e->fake.sock, on_fake_alloc, on_fake_recv);
    snprintf(e->url, sizeof(e->url), "udp://127.0.0.1:%u/announce",
             (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
    CHECK(btd_tracker_http_open(&e->http, &e->loop) == 0);
    CHECK(btd_tracker_udp_open(&e->udp, &e->loop) == 0);
    btd_tracker_udp_set_retransmit(e->udp, 100, 2);
    if (extra_url)
        urls[tier.count++] = (char *)extra_url;
    urls[tier.count++] = e->url;
    e->stats = (struct btd_tracker_stats){.uploaded = 7, .downloaded = 8, .left = 9, .numwant = 5};
    CHECK(btd_tracker_new(&e->t, &e->loop, e->http, e->udp, &tier, 1, ih, pid, 6881, &cb) == 0);
    tun.interval_min = 50;
    tun.interval_max = 150; /* the fake's 1800 s becomes 150 ms */
    tun.backoff_base = 40;
    tun.backoff_max = 160;
    btd_tracker_set_tuning(e->t, &tun);
}

static void on_tick(uv_timer_t *t)
{
}

/* Runs the loop until cond(e) holds or ms pass (a tick keeps it from blocking); true if held. */
static bool run_until(struct env *e, bool (*cond)(struct env *), uint64_t ms)
{
    uv_timer_t tick;
    uint64_t end;
    bool held;

    uv_timer_init(&e->loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uv_update_time(&e->loop);
    end = uv_now(&e->loop) + ms;
    while (!cond(e) && uv_now(&e->loop) < end)
        uv_run(&e->loop, UV_RUN_ONCE);
    held = cond(e);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    return held;
}

static bool never(struct env *e)
{
    return false;
}

static void run_for(struct env *e, uint64_t ms)
{
    run_until(e, never, ms);
}

static void env_deinit(struct env *e)
{
    btd_tracker_free(e->t);
    btd_tracker_http_close(e->http, BTD_ANNOUNCE_CLOSE_GRACE_MS);
    btd_tracker_udp_close(e->udp, BTD_ANNOUNCE_CLOSE_GRACE_MS);
    uv_close((uv_handle_t *)&e->fake.sock, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&e->loop) == 0);
}

static bool seen1(struct env *e)
{
    return e->fake.nseen >= 1 && e->peers_calls >= 1;
}

static bool seen2(struct env *e)
{
    return e->fake.nseen >= 2;
}

static bool seen3(struct env *e)
{
    return e->fake.nseen >= 3;
}

static bool seen4(struct env *e)
{
    return e->fake.nseen >= 4;
}

static void test_events_carry_the_torrents_numbers(void)
{
    struct seen *s;
    struct env e;

    env_init(&e, FAKE_ANSWER, NULL);
    s = e.fake.seen;
    btd_tracker_start(e.t);
    CHECK(run_until(&e, seen1, 3000));
    CHECK(s[0].event == BT_EVENT_STARTED && s[0].uploaded == 7 && s[0].downloaded == 8 &&
          s[0].left == 9 && s[0].port == 6881);
    CHECK(e.peers_seen == 1);
    e.stats.left = 0;
    e.stats.downloaded = 17;
    CHECK(run_until(&e, seen2, 3000));
    CHECK_MSG(s[1].event == BT_EVENT_NONE && s[1].left == 0 && s[1].downloaded == 17,
              "event %u left %llu", s[1].event, (unsigned long long)s[1].left);
    /* The tracker asked for 1800 s; the clamp (150 ms here) wins. */
    CHECK_MSG(s[1].at - s[0].at >= 140 && s[1].at - s[0].at < 1500, "%llu ms",
              (unsigned long long)(s[1].at - s[0].at));
    btd_tracker_completed(e.t);
    CHECK(run_until(&e, seen3, 3000));
    CHECK(s[2].event == BT_EVENT_COMPLETED);
    btd_tracker_stop(e.t);
    CHECK(run_until(&e, seen4, 3000));
    CHECK(s[3].event == BT_EVENT_STOPPED && s[3].left == 0);
    run_for(&e, 400);
    CHECK_MSG(e.fake.nseen == 4, "%zu announces after stop", e.fake.nseen);
    env_deinit(&e);
}

static void test_failed_rounds_back_off(void)
{
    struct btd_tracker_info info;
    struct env e;
    size_t i;

    env_init(&e, FAKE_REFUSE, NULL);
    btd_tracker_start(e.t);
    run_for(&e, 1000);
    /* Waits of ~40, 80, 160, 160, ... ms (+-25 %): about 7 rounds in a second. */
    CHECK_MSG(e.fake.nseen >= 4 && e.fake.nseen <= 12, "%zu announces", e.fake.nseen);
    for (i = 0; i < e.fake.nseen && i < MAX_SEEN; i++)
        CHECK(e.fake.seen[i].event == BT_EVENT_STARTED);
    btd_tracker_get_info(e.t, 0, &info);
    CHECK(info.last_error && strcmp(info.last_error, "tracker refused: go away") == 0);
    CHECK((info.next_announce > 0 || info.updating) && e.peers_calls == 0);
    env_deinit(&e);
}

static void test_unsupported_scheme_is_skipped(void)
{
    struct btd_tracker_info info;
    struct env e;
    size_t i;

    env_init(&e, FAKE_ANSWER, "wss://tracker.example/announce");
    CHECK(btd_tracker_count(e.t) == 2);
    btd_tracker_start(e.t);
    CHECK(run_until(&e, seen1, 3000));
    for (i = 0; i < btd_tracker_count(e.t); i++) {
        btd_tracker_get_info(e.t, i, &info);
        if (strncmp(info.url, "wss:", 4) == 0)
            CHECK(info.last_error && strcmp(info.last_error, "unsupported scheme") == 0);
        else
            CHECK(info.last_error == NULL && info.peers == 1 && info.seeders == 2 &&
                  info.leechers == 1 && info.last_announce > 0);
    }
    env_deinit(&e);
}

static void test_free_with_a_request_in_flight(void)
{
    struct btd_tracker_info info;
    struct env e;

    env_init(&e, FAKE_SILENT, NULL);
    btd_tracker_start(e.t);
    run_for(&e, 150);
    CHECK(e.fake.packets >= 1);
    btd_tracker_get_info(e.t, 0, &info);
    CHECK(info.updating);
    /* env_deinit frees the announcer now: the call is cancelled, nothing leaks. */
    env_deinit(&e);
}

static void test_reannounce_asks_at_once(void)
{
    struct btd_tracker_tuning tun = BTD_TRACKER_TUNING_DEFAULT;
    struct seen *s;
    struct env e;

    env_init(&e, FAKE_ANSWER, NULL);
    s = e.fake.seen;
    tun.interval_min = tun.interval_max = 5000;
    btd_tracker_set_tuning(e.t, &tun);
    btd_tracker_start(e.t);
    CHECK(run_until(&e, seen1, 3000));
    btd_tracker_reannounce(e.t); /* the tracker set no min interval */
    CHECK(run_until(&e, seen2, 1000));
    CHECK(e.fake.nseen < 2 || s[1].event == BT_EVENT_NONE);
    env_deinit(&e);
}

static void test_replies_for_other_transactions_are_ignored(void)
{
    struct env e;

    env_init(&e, FAKE_ANSWER, NULL);
    e.fake.decoys = true;
    btd_tracker_start(e.t);
    CHECK(run_until(&e, seen1, 3000));
    CHECK(e.peers_calls == 1 && e.peers_seen == 1);
    CHECK_MSG(memcmp(e.last_peer.ip, "\x0a\x00\x00\x01", 4) == 0 && e.last_peer.port == 6881,
              "peer %u.%u.%u.%u:%u", e.last_peer.ip[0], e.last_peer.ip[1], e.last_peer.ip[2],
              e.last_peer.ip[3], (unsigned)e.last_peer.port);
    env_deinit(&e);
}

static void on_stop_change(void *data)
{
    struct env *e = data;

    e->stop_changes++;
}

static void stop_into(struct env *e)
{
    e->stopping.on_change = on_stop_change;
    e->stopping.data = e;
    btd_tracker_stop_into(e->t, &e->stopping);
}

static bool stopping_ended(struct env *e)
{
    return e->stopping.pending == NULL;
}

static void test_shutdown_waits_for_the_stopped_answer(void)
{
    struct env e;

    env_init(&e, FAKE_ANSWER, NULL);
    btd_tracker_start(e.t);
    CHECK(run_until(&e, seen1, 3000));
    stop_into(&e);
    CHECK(e.stopping.sent == 1 && e.stopping.pending && e.stop_changes == 0);
    /* The group outlives its announcer: the answer still counts. */
    btd_tracker_free(e.t);
    e.t = NULL;
    CHECK(run_until(&e, stopping_ended, 3000));
    CHECK_MSG(e.stopping.answered == 1 && e.stopping.failed == 0 && e.stop_changes == 1,
              "answered %u failed %u changes %zu", e.stopping.answered, e.stopping.failed,
              e.stop_changes);
    CHECK(e.fake.nseen == 2 && e.fake.seen[1].event == BT_EVENT_STOPPED);
    btd_tracker_stopping_deinit(&e.stopping);
    env_deinit(&e);
}

static void test_shutdown_stops_a_tracker_that_never_answered(void)
{
    struct env e;

    env_init(&e, FAKE_SILENT, NULL);
    btd_tracker_start(e.t);
    run_for(&e, 50);
    CHECK(e.fake.packets == 1); /* `started` went out, no answer */
    stop_into(&e);
    CHECK_MSG(e.stopping.sent == 1, "%u sent", e.stopping.sent);
    run_for(&e, 50);
    CHECK_MSG(e.fake.packets == 2, "%zu packets", e.fake.packets); /* its connect */
    /* The owner's deadline: the call is cancelled, its callback never runs. */
    btd_tracker_stopping_deinit(&e.stopping);
    CHECK(e.stopping.pending == NULL && e.stopping.answered == 0 && e.stopping.failed == 0);
    run_for(&e, 300);
    CHECK(e.stop_changes == 0 && e.fake.packets == 2);
    env_deinit(&e);
}

static void test_shutdown_counts_a_time_out(void)
{
    struct env e;

    env_init(&e, FAKE_SILENT, NULL);
    btd_tracker_start(e.t);
    run_for(&e, 50);
    stop_into(&e);
    /* Retransmissions after 100 and 200 ms, failure after 400 more. */
    CHECK(run_until(&e, stopping_ended, 3000));
    CHECK_MSG(e.stopping.failed == 1 && e.stopping.answered == 0 && e.stop_changes == 1,
              "answered %u failed %u", e.stopping.answered, e.stopping.failed);
    env_deinit(&e);
}

int main(void)
{
    if (bt_crypto_init() != 0)
        return 1;
    btd_log_set_level(BTD_LOG_ERR);
    TAP_RUN(test_events_carry_the_torrents_numbers);
    TAP_RUN(test_failed_rounds_back_off);
    TAP_RUN(test_unsupported_scheme_is_skipped);
    TAP_RUN(test_free_with_a_request_in_flight);
    TAP_RUN(test_reannounce_asks_at_once);
    TAP_RUN(test_replies_for_other_transactions_are_ignored);
    TAP_RUN(test_shutdown_waits_for_the_stopped_answer);
    TAP_RUN(test_shutdown_stops_a_tracker_that_never_answered);
    TAP_RUN(test_shutdown_counts_a_time_out);
    return tap_done();
}
