/*
 * bandwidth: rate limits as token buckets. Loop thread only.
 *
 * Each direction has one bucket in the session (the global limit) and one
 * in each torrent (its own limit); a peer may move payload only while both
 * of its buckets hold tokens. Tokens accrue at the bucket's rate, up to a
 * quarter of a second's worth. Data moved takes its tokens even when that
 * drives the bucket below zero (a socket read of up to 64 KiB, a 16 KiB
 * block): the debt is paid before the bucket opens again, so over a window
 * of seconds the average stays at the rate. A rate of 0 means unlimited and
 * costs nothing.
 *
 * Download: a peer whose buckets are empty stops reading its socket (the
 * sender's TCP window fills and it slows down). Upload: a peer's queued
 * requests go to the workers only while its buckets hold tokens. Throttled
 * peers are woken by the session's bandwidth timer, which runs only while
 * somebody waits.
 */
#ifndef BTD_BANDWIDTH_H
#define BTD_BANDWIDTH_H

#include <stdbool.h>
#include <stdint.h>

#define BTD_BANDWIDTH_WAKE_MS 50 /* how often throttled peers are looked at */

enum btd_bw_dir {
    BTD_BW_DOWN = 0,
    BTD_BW_UP = 1,
};

struct btd_bucket {
    uint64_t rate;  /* bytes/s; 0 = unlimited */
    int64_t tokens; /* bytes; below zero while in debt */
    uint64_t stamp; /* ms on the loop clock of the last refill */
    uint64_t milli; /* thousandths of a byte carried between refills */
};

struct btd_peer;
struct btd_session;

/* A new rate (0 = unlimited) starts with an empty bucket, debt forgiven. */
void btd_bucket_set_rate(struct btd_bucket *b, uint64_t rate, uint64_t now);
/* True if data may move: unlimited, or tokens left after refilling to now. */
bool btd_bucket_open(struct btd_bucket *b, uint64_t now);
/* Takes bytes (nothing when unlimited); the bucket may go into debt. */
void btd_bucket_take(struct btd_bucket *b, uint64_t bytes);

/* May p receive (DOWN) or send (UP) payload now: its session and torrent buckets. */
bool btd_bandwidth_allow(struct btd_peer *p, enum btd_bw_dir d);
/* p moved bytes in direction d: charged to its session and torrent buckets. */
void btd_bandwidth_use(struct btd_peer *p, enum btd_bw_dir d, uint64_t bytes);
/*
 * Somebody found a bucket empty: the session's timer calls
 * btd_peer_bandwidth_wake on every peer every BTD_BANDWIDTH_WAKE_MS until
 * nobody waits any more.
 */
void btd_bandwidth_wait(struct btd_session *s);
/* The session's limits changed (config, session.set): new rates, everyone woken. */
void btd_bandwidth_configure(struct btd_session *s);

#endif
