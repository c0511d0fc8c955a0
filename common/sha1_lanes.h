/*
 * sha1_lanes: SHA-1 of several messages of one length at once, one message
 * per vector lane: 16 with AVX-512, 8 with AVX2. Written from FIPS 180-4
 * (OpenSSL has no multi-buffer digest to call). x86 only: elsewhere the
 * width is 1 and callers hash one message at a time.
 *
 * One message at a time, SHA-1 is a chain of dependent rounds: OpenSSL with
 * the SHA extensions does ~1.6 GB/s per core on the Xeon we measure on,
 * and the SHA unit is busy all along (two to four messages interleaved
 * through it gained 2-4 %). 16 lanes of AVX-512 do ~5.8 GB/s, 8 of AVX2
 * ~2.6 GB/s: a recheck hashes many pieces of one length, so it runs them
 * in lanes. Empty lanes cost what full ones do, hence bt_sha1_lanes_min.
 *
 * Any thread; the state belongs to its caller. Pure: no allocation.
 */
#ifndef BT_SHA1_LANES_H
#define BT_SHA1_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "sha1.h"

#define BT_SHA1_LANES_MAX 16
#define BT_SHA1_BLOCK 64 /* bytes: bt_sha1_lanes_update feeds whole blocks */

struct bt_sha1_lanes {
    uint32_t h[5][BT_SHA1_LANES_MAX]; /* word-major: h[w][lane] */
    uint64_t len;                     /* bytes fed to every lane */
    unsigned width;                   /* lanes: 16 or 8 */
};

/*
 * Lanes this CPU runs at once: 16 with AVX-512 (F and BW), 8 with AVX2 when
 * it has no SHA extensions (with them one message at a time is about as
 * fast as 8 lanes), else 1: hash one message at a time with bt_sha1.
 */
unsigned bt_sha1_lanes_width(void);
/* Whether a width (16 or 8) runs on this CPU: the tests try each that does. */
int bt_sha1_lanes_supported(unsigned width);
/*
 * Fewest messages worth hashing in lanes of width: below it one at a time
 * is as fast (5 of 16 against SHA-NI; 3 of 8 against OpenSSL without it,
 * ~0.8 GB/s).
 */
unsigned bt_sha1_lanes_min(unsigned width);

/* Starts every lane; width 16 or 8, supported by this CPU (-ENOTSUP if not). */
int bt_sha1_lanes_init(struct bt_sha1_lanes *l, unsigned width);
/*
 * Feeds len bytes, a multiple of BT_SHA1_BLOCK, at p[i] to lane i for every
 * i < width (lanes nobody reads still need readable bytes: pass p[0]).
 */
void bt_sha1_lanes_update(struct bt_sha1_lanes *l, const uint8_t *const p[], size_t len);
/*
 * Feeds the last rest_len bytes (any length) at rest[i] to lane i and
 * writes the digests of lanes 0..n-1 (lanes past n: pass rest[0]).
 */
void bt_sha1_lanes_final(struct bt_sha1_lanes *l, const uint8_t *const rest[], size_t rest_len,
                         unsigned n, uint8_t out[][BT_SHA1_LEN]);

/*
 * Reads n bytes of lane's message, from byte at, into dst: 0; > 0 when that
 * lane is lost (it is read no more, and its digest is of no use); < 0 to
 * stop the whole run, which returns it.
 */
typedef int (*bt_sha1_lanes_read_fn)(void *arg, unsigned lane, uint64_t at, uint8_t *dst, size_t n);

/*
 * Digests of n messages (n <= width) of len bytes each, read through read
 * chunk bytes of each at a time (whole blocks, unless chunk >= len), lane
 * i's into buf + i * chunk (buf: n * chunk bytes). Reads every lane at
 * least once, even for len 0, and stops early once every lane is lost. 0,
 * what read returned < 0, -EINVAL or -ENOTSUP.
 */
int bt_sha1_lanes_digest(unsigned width, unsigned n, uint64_t len, size_t chunk, uint8_t *buf,
                         bt_sha1_lanes_read_fn read, void *arg, uint8_t out[][BT_SHA1_LEN]);

#endif
