#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "announce_call.h"
#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "macro.h"
#include "tracker_http.h"
#include "tracker_udp.h"

enum kind {
    KIND_UNSUPPORTED,
    KIND_HTTP,
    KIND_UDP,
};

struct entry {
    char *url;     /* owned */
    uint32_t tier; /* 0-based, as in the metainfo */
    enum kind kind;
    char *last_error;      /* owned or NULL */
    char *last_warning;    /* owned or NULL */
    int64_t last_announce; /* seconds since the epoch, 0 if never */
    uint32_t peers;        /* in the last reply */
    int32_t seeders;       /* -1 if unknown */
    int32_t leechers;      /* -1 if unknown */
    bool contacted;        /* acknowledged `started`: it gets `stopped` */
};

struct btd_tracker {
    uv_timer_t timer;              /* the next announce; first: freed in its close callback */
    uv_loop_t *loop;               /* borrowed */
    struct btd_tracker_http *http; /* borrowed, may be NULL */
    struct btd_tracker_udp *udp;   /* borrowed, may be NULL */
    struct entry *entries;         /* owned; tier by tier, shuffled within a tier */
    size_t count;
    struct btd_tracker_callbacks cb;
    struct btd_tracker_tuning tuning;
    uint8_t info_hash[20];
    uint8_t peer_id[20];
    char hex[41];                   /* info_hash in hex, for logs */
    uint16_t port;                  /* announced listen port */
    uint32_t key;                   /* random, the same for every announce of this torrent */
    struct btd_announce_call *call; /* the announce in flight, or NULL */
    size_t current;                 /* the entry asked by call */
    enum bt_announce_event event;   /* of call */
    bool running;                   /* between start and stop */
    bool started_sent;              /* some tracker acknowledged `started` */
    bool completed_pending;         /* `completed` is owed */
    bool completed_sent;
    uint32_t failures;        /* consecutive failed rounds */
    uint64_t next_ms;         /* uv_now() of the scheduled announce, 0 if none */
    uint64_t last_ok_ms;      /* uv_now() of the last success, 0 if none */
    uint64_t min_interval_ms; /* the last success's min interval */
};

static void announce_from(struct btd_tracker *t, size_t i);

static void set_text(char **slot, const char *text)
{
    free(*slot);
    *slot = text ? strdup(text) : NULL;
}

static enum kind kind_of(const struct btd_tracker *t, const char *url)
{
    if ((strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) && t->http)
        return KIND_HTTP;
    if (strncasecmp(url, "udp://", 6) == 0 && t->udp)
        return KIND_UDP;
    return KIND_UNSUPPORTED;
}

static void shuffle(struct entry *e, size_t n)
{
    struct entry tmp;
    size_t i, j;

    for (i = n; i > 1; i--) {
        j = bt_random_uniform((uint32_t)i);
        tmp = e[i - 1];
        e[i - 1] = e[j];
        e[j] = tmp;
    }
}

/* Copies the tiers into t->entries, shuffling each tier. 0 or -ENOMEM. */
static int copy_tiers(struct btd_tracker *t, const struct bt_tier *tiers, size_t tier_count)
{
    size_t i, j, total = 0, first;

    for (i = 0; i < tier_count; i++)
        total += tiers[i].count;
    if (total > BTD_TRACKER_MAX) {
        btd_warn("ih=%.8s %zu trackers, keeping the first %d", t->hex, total, BTD_TRACKER_MAX);
        total = BTD_TRACKER_MAX;
    }
    t->entries = calloc(total ? total : 1, sizeof(*t->entries));
    if (!t->entries)
        return -ENOMEM;
    for (i = 0; i < tier_count && t->count < total; i++) {
        first = t->count;
        for (j = 0; j < tiers[i].count && t->count < total; j++) {
            struct entry *e = &t->entries[t->count];

            e->url = strdup(tiers[i].urls[j]);
            if (!e->url)
                return -ENOMEM;
            e->tier = (uint32_t)i;
            e->seeders = e->leechers = -1;
            e->kind = kind_of(t, e->url);
            t->count++;
            if (e->kind != KIND_UNSUPPORTED)
                continue;
            e->last_error = strdup("unsupported scheme");
            btd_warn("ih=%.8s tracker=%s unsupported scheme, skipped", t->hex, e->url);
        }
        shuffle(&t->entries[first], t->count - first);
    }
    return 0;
}

static void on_closed(uv_handle_t *handle)
{
    struct btd_tracker *t = container_of((uv_timer_t *)handle, struct btd_tracker, timer);
    size_t i;

    for (i = 0; i < t->count; i++) {
        free(t->entries[i].url);
        free(t->entries[i].last_error);
        free(t->entries[i].last_warning);
    }
    free(t->entries);
    free(t);
}

int btd_tracker_new(struct btd_tracker **ret, uv_loop_t *loop, struct btd_tracker_http *http,
                    struct btd_tracker_udp *udp, const struct bt_tier *tiers, size_t tier_count,
                    const uint8_t info_hash[20], const uint8_t peer_id[20], uint16_t port,
                    const struct btd_tracker_callbacks *cb)
{
    struct btd_tracker *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->http = http;
    t->udp = udp;
    t->cb = *cb;
    t->tuning = BTD_TRACKER_TUNING_DEFAULT;
    memcpy(t->info_hash, info_hash, 20);
    memcpy(t->peer_id, peer_id, 20);
    bt_hex_encode(t->hex, info_hash, 20);
    t->port = port;
    bt_random_bytes(&t->key, sizeof(t->key));
    uv_timer_init(loop, &t->timer);
    r = copy_tiers(t, tiers, tier_count);
    if (r < 0) {
        uv_close((uv_handle_t *)&t->timer, on_closed);
        return r;
    }
    *ret = t;
    return 0;
}

void btd_tracker_set_tuning(struct btd_tracker *t, const struct btd_tracker_tuning *tuning)
{
    t->tuning = *tuning;
}

static void on_timer(uv_timer_t *timer)
{
    struct btd_tracker *t = container_of(timer, struct btd_tracker, timer);

    t->next_ms = 0;
    if (t->running && !t->call)
        announce_from(t, 0);
}

static void schedule(struct btd_tracker *t, uint64_t delay_ms)
{
    t->next_ms = uv_now(t->loop) + delay_ms;
    uv_timer_start(&t->timer, on_timer, delay_ms, 0);
}

static void unschedule(struct btd_tracker *t)
{
    t->next_ms = 0;
    uv_timer_stop(&t->timer);
}

/* The event the next announce to e carries: each tracker hears `started` first. */
static enum bt_announce_event next_event(const struct btd_tracker *t, const struct entry *e)
{
    if (!e->contacted)
        return BT_EVENT_STARTED;
    if (t->completed_pending)
        return BT_EVENT_COMPLETED;
    return BT_EVENT_NONE;
}

static void build_req(struct btd_tracker *t, enum bt_announce_event event,
                      struct bt_announce_req *req)
{
    struct btd_tracker_stats st = {0};

    if (t->cb.get_stats)
        t->cb.get_stats(t->cb.data, &st);
    memset(req, 0, sizeof(*req));
    memcpy(req->info_hash, t->info_hash, 20);
    memcpy(req->peer_id, t->peer_id, 20);
    req->port = t->port;
    req->uploaded = st.uploaded;
    req->downloaded = st.downloaded;
    req->left = st.left;
    req->event = event;
    req->numwant = event == BT_EVENT_STOPPED ? 0 : st.numwant;
    req->key = t->key;
}

static struct btd_announce_call *send_to(struct btd_tracker *t, const struct entry *e,
                                         const struct bt_announce_req *req, btd_announce_cb cb,
                                         void *data)
{
    if (e->kind == KIND_HTTP)
        return btd_tracker_http_announce(t->http, e->url, req, cb, data);
    if (e->kind == KIND_UDP)
        return btd_tracker_udp_announce(t->udp, e->url, req, cb, data);
    return NULL;
}

/* The wait after a failed round: exponential, capped, +-25 % jitter. */
static uint64_t backoff_ms(const struct btd_tracker *t)
{
    uint64_t d = t->tuning.backoff_base;
    uint32_t i;

    for (i = 1; i < t->failures && d < t->tuning.backoff_max; i++)
        d *= 2;
    if (d > t->tuning.backoff_max)
        d = t->tuning.backoff_max;
    return d * (75 + bt_random_uniform(51)) / 100;
}

static void round_failed(struct btd_tracker *t)
{
    uint64_t delay;

    t->failures++;
    delay = backoff_ms(t);
    if (t->failures == 1)
        btd_warn("ih=%.8s no tracker answered; retrying in %llu s", t->hex,
                 (unsigned long long)(delay / 1000));
    else
        btd_debug("ih=%.8s no tracker answered (%u rounds); retrying in %llu s", t->hex,
                  t->failures, (unsigned long long)(delay / 1000));
    schedule(t, delay);
}

/* Records a failure of entry e; repeated identical errors log at debug level. */
static void entry_failed(struct btd_tracker *t, struct entry *e, const char *msg)
{
    if (!e->last_error || strcmp(e->last_error, msg) != 0)
        btd_warn("ih=%.8s tracker=%s announce failed: %s", t->hex, e->url, msg);
    else
        btd_debug("ih=%.8s tracker=%s announce failed again: %s", t->hex, e->url, msg);
    set_text(&e->last_error, msg);
}

/* Moves entry i to the front of its tier (BEP 12); returns its new index. */
static size_t promote(struct btd_tracker *t, size_t i)
{
    struct entry e = t->entries[i];
    size_t s = i;

    while (s > 0 && t->entries[s - 1].tier == e.tier)
        s--;
    memmove(&t->entries[s + 1], &t->entries[s], (i - s) * sizeof(e));
    t->entries[s] = e;
    return s;
}

/* The wait before the next regular announce after a success. */
static uint64_t interval_ms(const struct btd_tracker *t, const struct bt_announce_result *res)
{
    const struct btd_tracker_tuning *tu = &t->tuning;
    uint64_t iv = res->interval ? (uint64_t)res->interval * 1000 : tu->interval_default;

    if (iv < tu->interval_min)
        iv = tu->interval_min;
    if (iv > tu->interval_max)
        iv = tu->interval_max;
    if (iv < t->min_interval_ms)
        iv = t->min_interval_ms;
    return iv;
}

static void announce_ok(struct btd_tracker *t, struct entry *e,
                        const struct bt_announce_result *res)
{
    uint64_t min_iv = (uint64_t)res->min_interval * 1000;

    free(e->last_error);
    e->last_error = NULL;
    e->peers = (uint32_t)res->peer_count;
    e->seeders = res->seeders;
    e->leechers = res->leechers;
    e->contacted = true;
    t->failures = 0;
    if (t->event == BT_EVENT_STARTED)
        t->started_sent = true;
    if (t->event == BT_EVENT_COMPLETED) {
        t->completed_pending = false;
        t->completed_sent = true;
    }
    t->last_ok_ms = uv_now(t->loop);
    t->min_interval_ms = min_iv > t->tuning.interval_max ? t->tuning.interval_max : min_iv;
    btd_info("ih=%.8s tracker=%s announced: %zu peers, interval %u s", t->hex, e->url,
             res->peer_count, res->interval);
    promote(t, t->current);
    if (t->completed_pending)
        schedule(t, 0);
    else
        schedule(t, interval_ms(t, res));
}

static void on_announce_done(void *data, int status, const struct bt_announce_result *res,
                             const char *msg)
{
    struct btd_tracker *t = data;
    struct entry *e = &t->entries[t->current];

    t->call = NULL;
    e->last_announce = (int64_t)time(NULL);
    if (res && res->warning && (!e->last_warning || strcmp(e->last_warning, res->warning)))
        btd_warn("ih=%.8s tracker=%s warning: %s", t->hex, e->url, res->warning);
    if (res)
        set_text(&e->last_warning, res->warning);
    if (status < 0) {
        entry_failed(t, e, msg);
        announce_from(t, t->current + 1);
        return;
    }
    announce_ok(t, e, res);
    /* Last: the torrent may free the announcer from inside on_peers. */
    if (res->peer_count > 0 && t->cb.on_peers)
        t->cb.on_peers(t->cb.data, res->peers, res->peer_count);
}

/* Asks the first usable tracker at index i or later; a failed round when none is left. */
static void announce_from(struct btd_tracker *t, size_t i)
{
    struct bt_announce_req req;
    struct entry *e;

    unschedule(t);
    for (; i < t->count; i++) {
        e = &t->entries[i];
        if (e->kind == KIND_UNSUPPORTED)
            continue;
        t->event = next_event(t, e);
        build_req(t, t->event, &req);
        t->current = i;
        t->call = send_to(t, e, &req, on_announce_done, t);
        if (t->call)
            return;
        entry_failed(t, e, "cannot start a request (invalid URL?)");
    }
    round_failed(t);
}

static bool any_supported(const struct btd_tracker *t)
{
    size_t i;

    for (i = 0; i < t->count; i++) {
        if (t->entries[i].kind != KIND_UNSUPPORTED)
            return true;
    }
    return false;
}

void btd_tracker_start(struct btd_tracker *t)
{
    if (t->running)
        return;
    t->running = true;
    t->started_sent = false;
    t->failures = 0;
    if (any_supported(t))
        announce_from(t, 0);
}

void btd_tracker_completed(struct btd_tracker *t)
{
    if (t->completed_sent || t->completed_pending)
        return;
    t->completed_pending = true;
    /* In flight: its callback schedules `completed`. Before `started`: it follows it. */
    if (t->running && !t->call && t->started_sent)
        announce_from(t, 0);
}

/* One `stopped` a stopping group waits for. */
struct btd_stop_call {
    struct btd_tracker_stopping *g;    /* borrowed */
    struct btd_announce_call *call;    /* the client's, in flight while this record lives */
    char hex[9];                       /* the torrent's info-hash prefix, for logs */
    char *url;                         /* owned */
    struct btd_stop_call *prev, *next; /* g's pending calls */
};

static void stop_call_free(struct btd_stop_call *sc)
{
    struct btd_tracker_stopping *g = sc->g;

    if (sc->prev)
        sc->prev->next = sc->next;
    else
        g->pending = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    free(sc->url);
    free(sc);
}

static void on_stopped_done(void *data, int status, const struct bt_announce_result *res,
                            const char *msg)
{
    struct btd_stop_call *sc = data;
    struct btd_tracker_stopping *g = sc->g;

    if (status == 0) {
        g->answered++;
        btd_debug("ih=%s tracker=%s acknowledged stopped", sc->hex, sc->url);
    } else {
        g->failed++;
        btd_info("ih=%s tracker=%s announcing stopped failed: %s", sc->hex, sc->url, msg);
    }
    stop_call_free(sc);
    if (g->on_change)
        g->on_change(g->data);
}

/* Sends `stopped` to e, followed by g if not NULL (else detached). */
static void send_stopped(struct btd_tracker *t, const struct entry *e,
                         struct btd_tracker_stopping *g)
{
    struct bt_announce_req req;
    struct btd_stop_call *sc = NULL;

    build_req(t, BT_EVENT_STOPPED, &req);
    if (g) {
        sc = calloc(1, sizeof(*sc));
        if (sc)
            sc->url = strdup(e->url);
        if (!sc || !sc->url) {
            free(sc);
            sc = NULL; /* out of memory: sent detached, not followed */
        }
    }
    if (!sc) {
        if (!send_to(t, e, &req, NULL, NULL))
            btd_debug("ih=%.8s tracker=%s cannot send stopped", t->hex, e->url);
        return;
    }
    sc->g = g;
    memcpy(sc->hex, t->hex, 8);
    sc->call = send_to(t, e, &req, on_stopped_done, sc);
    if (!sc->call) {
        btd_debug("ih=%.8s tracker=%s cannot send stopped", t->hex, e->url);
        free(sc->url);
        free(sc);
        return;
    }
    sc->next = g->pending;
    if (g->pending)
        g->pending->prev = sc;
    g->pending = sc;
    g->sent++;
}

static void stop(struct btd_tracker *t, struct btd_tracker_stopping *g)
{
    size_t i, asked = t->count;

    if (!t->running)
        return;
    t->running = false;
    if (t->call)
        asked = t->current; /* it may have heard `started` even if its answer never came */
    btd_announce_call_cancel(t->call);
    t->call = NULL;
    unschedule(t);
    for (i = 0; i < t->count; i++) {
        struct entry *e = &t->entries[i];

        if (!e->contacted && i != asked)
            continue;
        e->contacted = false;
        send_stopped(t, e, g);
    }
    t->started_sent = false;
}

void btd_tracker_stop(struct btd_tracker *t)
{
    stop(t, NULL);
}

void btd_tracker_stop_into(struct btd_tracker *t, struct btd_tracker_stopping *g)
{
    stop(t, g);
}

void btd_tracker_stopping_deinit(struct btd_tracker_stopping *g)
{
    struct btd_stop_call *sc;

    while (g->pending) {
        sc = g->pending;
        btd_info("ih=%s tracker=%s no answer to stopped", sc->hex, sc->url);
        btd_announce_call_cancel(sc->call);
        stop_call_free(sc);
    }
}

void btd_tracker_reannounce(struct btd_tracker *t)
{
    uint64_t now, earliest;

    if (!t->running || t->call || t->failures > 0 || !t->started_sent)
        return;
    now = uv_now(t->loop);
    earliest = t->last_ok_ms + t->min_interval_ms;
    if (earliest <= now)
        announce_from(t, 0);
    else if (t->next_ms == 0 || t->next_ms > earliest)
        schedule(t, earliest - now);
}

size_t btd_tracker_count(const struct btd_tracker *t)
{
    return t->count;
}

void btd_tracker_get_info(const struct btd_tracker *t, size_t i, struct btd_tracker_info *ret)
{
    const struct entry *e = &t->entries[i];
    uint64_t now = uv_now(t->loop);

    memset(ret, 0, sizeof(*ret));
    ret->url = e->url;
    ret->tier = e->tier;
    ret->last_error = e->last_error;
    ret->last_warning = e->last_warning;
    ret->last_announce = e->last_announce;
    if (t->next_ms && e->kind != KIND_UNSUPPORTED)
        ret->next_announce =
            (int64_t)time(NULL) + (int64_t)((t->next_ms > now ? t->next_ms - now : 0) / 1000);
    ret->peers = e->peers;
    ret->seeders = e->seeders;
    ret->leechers = e->leechers;
    ret->updating = t->call && t->current == i;
}

void btd_tracker_free(struct btd_tracker *t)
{
    if (!t)
        return;
    btd_announce_call_cancel(t->call);
    t->call = NULL;
    t->running = false;
    uv_close((uv_handle_t *)&t->timer, on_closed);
}
