/*
 * tracker: one torrent's announcer. Loop thread only.
 *
 * Holds the torrent's trackers in BEP 12 tiers (shuffled within a tier once,
 * a tracker that answers moves to the front of its tier, a failing one falls
 * through to the next), schedules announces at the tracker's interval
 * (clamped) with exponential back-off and jitter on failure, and sends the
 * started / completed / stopped events with the numbers the torrent reports
 * through its stats callback. Peers found are handed to the on_peers
 * callback. HTTP(S) goes through tracker_http (libcurl multi on the uv loop),
 * udp:// through tracker_udp (BEP 15), both shared by the whole session.
 *
 * Owned by its torrent; the session owns the http and udp clients.
 */
#ifndef BTD_TRACKER_H
#define BTD_TRACKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "announce.h"
#include "metainfo.h"

struct btd_tracker_http;
struct btd_tracker_udp;
struct btd_tracker;

/* What a torrent tells its announcer, asked fresh before every announce. */
struct btd_tracker_stats {
    uint64_t uploaded;   /* bytes */
    uint64_t downloaded; /* bytes, verified payload */
    uint64_t left;       /* bytes still wanted */
    uint32_t numwant;    /* peers wanted */
};

struct btd_tracker_callbacks {
    void (*get_stats)(void *data, struct btd_tracker_stats *ret);
    /* peers: borrowed for the call. */
    void (*on_peers)(void *data, const struct bt_peer_addr *peers, size_t count);
    void *data;
};

/* The state of one tracker, for torrent.get. Strings borrowed. */
struct btd_tracker_info {
    const char *url;
    uint32_t tier;
    const char *last_error;   /* NULL if the last announce worked */
    const char *last_warning; /* NULL if none */
    int64_t last_announce;    /* seconds since the epoch, 0 if never */
    int64_t next_announce;    /* seconds since the epoch, 0 if none scheduled */
    uint32_t peers;           /* peers in the last reply */
    int32_t seeders;          /* -1 if unknown */
    int32_t leechers;         /* -1 if unknown */
    bool updating;            /* a request is in flight */
};

/*
 * Scheduling knobs, all in milliseconds; btd_tracker_new starts from
 * BTD_TRACKER_TUNING_DEFAULT and tests shrink them. A tracker's interval is
 * clamped to [interval_min, interval_max] and its min interval capped at
 * interval_max; a failed round (every tracker of every tier failed) waits
 * backoff_base * 2^(failures - 1), at most backoff_max, +-25 % jitter.
 */
struct btd_tracker_tuning {
    uint32_t interval_default; /* ms, when a tracker gives no interval */
    uint32_t interval_min;     /* ms */
    uint32_t interval_max;     /* ms */
    uint32_t backoff_base;     /* ms */
    uint32_t backoff_max;      /* ms */
};

#define BTD_TRACKER_TUNING_DEFAULT                                                                 \
    ((struct btd_tracker_tuning){1800 * 1000, 60 * 1000, 3600 * 1000, 15 * 1000, 1800 * 1000})
#define BTD_TRACKER_MAX 200 /* trackers kept per torrent; more are ignored */

/*
 * Creates the announcer; nothing is sent before btd_tracker_start. Trackers
 * are copied from tiers (the metainfo's, or a magnet's tr list as one tier
 * each: pass tiers built by the caller) and shuffled within each tier once;
 * unsupported schemes stay listed with an error and are never asked.
 * info_hash and peer_id are copied; http and udp are borrowed (NULL: that
 * kind of tracker is unsupported) and must outlive the announcer's calls.
 */
int btd_tracker_new(struct btd_tracker **ret, uv_loop_t *loop, struct btd_tracker_http *http,
                    struct btd_tracker_udp *udp, const struct bt_tier *tiers, size_t tier_count,
                    const uint8_t info_hash[20], const uint8_t peer_id[20], uint16_t port,
                    const struct btd_tracker_callbacks *cb);
/* Replaces the scheduling knobs (for announces scheduled from now on). */
void btd_tracker_set_tuning(struct btd_tracker *t, const struct btd_tracker_tuning *tuning);
/* Starts announcing (event=started). Idempotent; after stop, starts again. */
void btd_tracker_start(struct btd_tracker *t);
/* Sends `completed` once (the download finished), after `started` has been acknowledged. */
void btd_tracker_completed(struct btd_tracker *t);
/*
 * Cancels any announce in flight, stops scheduling and sends `stopped` to
 * each tracker that may list us: those that acknowledged `started`, and the
 * one whose announce was in flight. Detached calls: best effort, not waited
 * for, they outlive the announcer.
 */
void btd_tracker_stop(struct btd_tracker *t);

/*
 * The `stopped` announces of a shutdown, followed together. Each
 * announcer's btd_tracker_stop_into() adds its calls; on_change runs after
 * each answer or failure (from the loop, never from inside stop_into), and
 * the owner gives up on the rest with btd_tracker_stopping_deinit(), which
 * must come before the clients close. Embedded in its owner (the session);
 * zero it, then set on_change and data.
 */
struct btd_stop_call;
struct btd_tracker_stopping {
    uint32_t sent;                 /* `stopped` announces started */
    uint32_t answered;             /* ... that the tracker acknowledged */
    uint32_t failed;               /* ... that failed (error, refusal, time-out) */
    struct btd_stop_call *pending; /* owned: the calls in flight; NULL when all have ended */
    void (*on_change)(void *data); /* may call btd_tracker_stopping_deinit */
    void *data;
};

/* btd_tracker_stop, with each `stopped` followed by g (borrowed; it outlives the announcer). */
void btd_tracker_stop_into(struct btd_tracker *t, struct btd_tracker_stopping *g);
/* Cancels the calls still pending (each is logged as unanswered); the counts stay. */
void btd_tracker_stopping_deinit(struct btd_tracker_stopping *g);
/*
 * Asks for an announce now (more peers wanted), respecting the tracker's
 * min interval; nothing while a request is in flight or during back-off.
 */
void btd_tracker_reannounce(struct btd_tracker *t);
/* Number of trackers, and the state of tracker i (i < count). */
size_t btd_tracker_count(const struct btd_tracker *t);
void btd_tracker_get_info(const struct btd_tracker *t, size_t i, struct btd_tracker_info *ret);
/*
 * Frees the announcer: in-flight requests are cancelled (their callbacks
 * never run). A `stopped` already sent is allowed to finish on its own.
 * No callback runs after this; the memory goes when the announcer's timer
 * has closed (on a later loop iteration). NULL is a no-op.
 */
void btd_tracker_free(struct btd_tracker *t);

#endif
