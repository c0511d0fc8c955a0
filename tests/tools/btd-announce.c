/*
 * btd-announce: a test driver for the tracker clients. Runs a uv loop and
 * announces through the daemon's real code, without a session.
 *
 *   btd-announce [options] URL
 *       One announce through btd_tracker_http or btd_tracker_udp. Prints
 *       "interval N", "min_interval N", "seeders N", "leechers N" and then
 *       the peers, one "ip:port" a line; a warning goes to stderr. On
 *       failure: "btd-announce: MESSAGE" on stderr, exit 1.
 *   btd-announce [options] --tier "URL URL..." [--tier ...]
 *       The announcer (btd_tracker) over those tiers: runs until it hands
 *       out peers (then stop, which sends `stopped`) or --deadline-ms.
 *       Prints the peers, then "tracker I tier=T peers=N error=E url=U"
 *       per tracker. Exit 0 if peers came, 1 otherwise.
 *
 * Options: --info-hash HEX (required), --port N, --event
 * started|completed|stopped|none, --left N, --udp-base-ms N, --udp-max-n N,
 * --http-timeout-ms N, --cancel-after-ms N (cancel or free what is in
 * flight after N ms, then exit 0), --deadline-ms N, --backoff-ms N,
 * --log-level LEVEL. Exit 3 if a uv handle was left open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "addr.h"
#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "metainfo.h"
#include "tracker.h"
#include "tracker_http.h"
#include "tracker_udp.h"

#define MAX_TIERS 8

struct opts {
    const char *url;
    uint8_t info_hash[20];
    uint16_t port;
    enum bt_announce_event event;
    uint64_t left;
    uint32_t udp_base_ms;
    unsigned udp_max_n;
    uint32_t http_timeout_ms;
    uint64_t cancel_after_ms;
    uint64_t deadline_ms;
    uint32_t backoff_ms;
    struct bt_tier tiers[MAX_TIERS];
    size_t tier_count;
};

struct run {
    uv_loop_t loop;
    uv_timer_t timer; /* --cancel-after-ms or --deadline-ms */
    struct opts *o;
    struct btd_tracker_http *http;
    struct btd_tracker_udp *udp;
    struct btd_announce_call *call; /* one-announce mode */
    struct btd_tracker *tracker;    /* announcer mode */
    int status;                     /* exit status */
    bool done;
};

static void print_peers(const struct bt_peer_addr *peers, size_t n)
{
    char text[BTD_ADDR_STRLEN];
    size_t i;

    for (i = 0; i < n; i++) {
        btd_addr_format(&peers[i], text, sizeof(text));
        printf("%s\n", text);
    }
    fflush(stdout);
}

static void finish(struct run *r, int status)
{
    if (r->done)
        return;
    r->done = true;
    r->status = status;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, NULL);
    btd_tracker_http_close(r->http, BTD_ANNOUNCE_CLOSE_GRACE_MS);
    btd_tracker_udp_close(r->udp, BTD_ANNOUNCE_CLOSE_GRACE_MS);
}

static void on_announced(void *data, int status, const struct bt_announce_result *res,
                         const char *msg)
{
    struct run *r = data;

    r->call = NULL;
    if (res && res->warning)
        fprintf(stderr, "warning: %s\n", res->warning);
    if (status < 0) {
        fprintf(stderr, "btd-announce: %s\n", msg);
        finish(r, 1);
        return;
    }
    printf("interval %u\nmin_interval %u\nseeders %d\nleechers %d\n", res->interval,
           res->min_interval, res->seeders, res->leechers);
    print_peers(res->peers, res->peer_count);
    finish(r, 0);
}

static void print_trackers(struct run *r)
{
    struct btd_tracker_info info;
    size_t i;

    for (i = 0; i < btd_tracker_count(r->tracker); i++) {
        btd_tracker_get_info(r->tracker, i, &info);
        printf("tracker %zu tier=%u peers=%u error=%s url=%s\n", i, info.tier, info.peers,
               info.last_error ? info.last_error : "-", info.url);
    }
    fflush(stdout);
}

static void end_announcer(struct run *r, int status, bool stop)
{
    print_trackers(r);
    if (stop)
        btd_tracker_stop(r->tracker);
    btd_tracker_free(r->tracker);
    r->tracker = NULL;
    finish(r, status);
}

static void on_stats(void *data, struct btd_tracker_stats *ret)
{
    struct run *r = data;

    ret->uploaded = 0;
    ret->downloaded = 0;
    ret->left = r->o->left;
    ret->numwant = 50;
}

static void on_peers(void *data, const struct bt_peer_addr *peers, size_t count)
{
    struct run *r = data;

    print_peers(peers, count);
    end_announcer(r, 0, true);
}

static void on_timer(uv_timer_t *timer)
{
    struct run *r = timer->data;

    if (r->o->cancel_after_ms) {
        /* Whatever is in flight is dropped here; nothing may leak or call back. */
        btd_announce_call_cancel(r->call);
        r->call = NULL;
        if (r->tracker) {
            btd_tracker_free(r->tracker);
            r->tracker = NULL;
        }
        printf("cancelled\n");
        finish(r, 0);
        return;
    }
    fprintf(stderr, "btd-announce: no peers before the deadline\n");
    end_announcer(r, 1, false);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* Splits a space-separated --tier argument into a new tier. */
static int add_tier(struct opts *o, char *arg)
{
    struct bt_tier *t;
    char *save = NULL, *url;

    if (o->tier_count >= MAX_TIERS)
        return -EINVAL;
    t = &o->tiers[o->tier_count++];
    t->urls = calloc(strlen(arg) / 2 + 1, sizeof(char *));
    if (!t->urls)
        return -ENOMEM;
    for (url = strtok_r(arg, " ", &save); url; url = strtok_r(NULL, " ", &save))
        t->urls[t->count++] = url;
    return 0;
}

static int parse_event(const char *s, enum bt_announce_event *ret)
{
    static const char *const names[] = {"none", "completed", "started", "stopped"};
    int i;

    for (i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum bt_announce_event)i;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_option(struct opts *o, const char *name, char *val)
{
    uint64_t v = 0;
    enum btd_log_level level;

    if (strcmp(name, "--info-hash") == 0)
        return bt_hex_decode(o->info_hash, 20, val, strlen(val));
    if (strcmp(name, "--event") == 0)
        return parse_event(val, &o->event);
    if (strcmp(name, "--tier") == 0)
        return add_tier(o, val);
    if (strcmp(name, "--log-level") == 0) {
        if (btd_log_parse_level(val, &level) < 0)
            return -EINVAL;
        btd_log_set_level(level);
        return 0;
    }
    if (parse_u64(val, UINT32_MAX, &v) < 0)
        return -EINVAL;
    if (strcmp(name, "--port") == 0 && v <= UINT16_MAX)
        o->port = (uint16_t)v;
    else if (strcmp(name, "--left") == 0)
        o->left = v;
    else if (strcmp(name, "--udp-base-ms") == 0)
        o->udp_base_ms = (uint32_t)v;
    else if (strcmp(name, "--udp-max-n") == 0)
        o->udp_max_n = (unsigned)v;
    else if (strcmp(name, "--http-timeout-ms") == 0)
        o->http_timeout_ms = (uint32_t)v;
    else if (strcmp(name, "--cancel-after-ms") == 0)
        o->cancel_after_ms = v;
    else if (strcmp(name, "--deadline-ms") == 0)
        o->deadline_ms = v;
    else if (strcmp(name, "--backoff-ms") == 0)
        o->backoff_ms = (uint32_t)v;
    else
        return -EINVAL;
    return 0;
}

static int parse_args(struct opts *o, int argc, char **argv)
{
    bool have_hash = false;
    int i;

    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            o->url = argv[i];
            continue;
        }
        if (i + 1 >= argc || parse_option(o, argv[i], argv[i + 1]) < 0) {
            fprintf(stderr, "btd-announce: bad option %s\n", argv[i]);
            return -EINVAL;
        }
        have_hash |= strcmp(argv[i], "--info-hash") == 0;
        i++;
    }
    if (!have_hash || (!o->url && o->tier_count == 0)) {
        fprintf(stderr, "usage: btd-announce --info-hash HEX [options] URL|--tier \"URLS\"\n");
        return -EINVAL;
    }
    return 0;
}

static int start_one(struct run *r, struct bt_announce_req *req)
{
    if (strncmp(r->o->url, "udp://", 6) == 0)
        r->call = btd_tracker_udp_announce(r->udp, r->o->url, req, on_announced, r);
    else
        r->call = btd_tracker_http_announce(r->http, r->o->url, req, on_announced, r);
    return r->call ? 0 : -EINVAL;
}

static int start_announcer(struct run *r, const uint8_t peer_id[20])
{
    struct btd_tracker_callbacks cb = {.get_stats = on_stats, .on_peers = on_peers, .data = r};
    struct btd_tracker_tuning tuning = BTD_TRACKER_TUNING_DEFAULT;
    int rc;

    rc = btd_tracker_new(&r->tracker, &r->loop, r->http, r->udp, r->o->tiers, r->o->tier_count,
                         r->o->info_hash, peer_id, r->o->port, &cb);
    if (rc < 0)
        return rc;
    if (r->o->backoff_ms) {
        tuning.backoff_base = r->o->backoff_ms;
        tuning.backoff_max = r->o->backoff_ms * 4;
    }
    btd_tracker_set_tuning(r->tracker, &tuning);
    btd_tracker_start(r->tracker);
    return 0;
}

static int run(struct opts *o)
{
    struct bt_announce_req req = {0};
    struct run r = {.o = o};
    int rc;

    uv_loop_init(&r.loop);
    uv_timer_init(&r.loop, &r.timer);
    r.timer.data = &r;
    rc = btd_tracker_http_open(&r.http, &r.loop);
    if (rc == 0)
        rc = btd_tracker_udp_open(&r.udp, &r.loop);
    if (rc < 0)
        return 2;
    if (o->udp_base_ms)
        btd_tracker_udp_set_retransmit(r.udp, o->udp_base_ms, o->udp_max_n);
    if (o->http_timeout_ms)
        btd_tracker_http_set_timeouts(r.http, o->http_timeout_ms, o->http_timeout_ms);
    memcpy(req.info_hash, o->info_hash, 20);
    memcpy(req.peer_id, "-BA0001-", 8);
    bt_random_bytes(req.peer_id + 8, 12);
    bt_random_bytes(&req.key, sizeof(req.key));
    req.port = o->port;
    req.left = o->left;
    req.event = o->event;
    req.numwant = 50;
    rc = o->tier_count ? start_announcer(&r, req.peer_id) : start_one(&r, &req);
    if (rc < 0) {
        fprintf(stderr, "btd-announce: cannot start: %s\n", strerror(-rc));
        finish(&r, 1);
    } else if (o->cancel_after_ms || o->deadline_ms) {
        uv_timer_start(&r.timer, on_timer, o->cancel_after_ms ? o->cancel_after_ms : o->deadline_ms,
                       0);
    }
    uv_run(&r.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&r.loop) != 0) {
        fprintf(stderr, "btd-announce: uv handles left open\n");
        return 3;
    }
    return r.status;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .port = 6881, .event = BT_EVENT_STARTED, .left = 1000, .udp_max_n = BTD_UDP_MAX_N};
    size_t i;
    int status;

    btd_log_set_level(BTD_LOG_WARNING);
    if (bt_crypto_init() != 0)
        return 2;
    if (parse_args(&o, argc, argv) < 0)
        status = 2;
    else
        status = run(&o);
    for (i = 0; i < o.tier_count; i++)
        free(o.tiers[i].urls);
    return status;
}
