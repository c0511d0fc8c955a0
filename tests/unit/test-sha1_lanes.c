#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "sha1_lanes.h"
#include "tap.h"

static const unsigned widths[] = {16, 8};

/* Deterministic bytes, different for every lane. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/*
 * Hashes n messages of len bytes in lanes of width, fed in two updates
 * and a final, each message at an odd address; compares every digest with
 * bt_sha1's. Returns the mismatches.
 */
static unsigned mismatches(unsigned width, unsigned n, size_t len)
{
    struct bt_sha1_lanes l;
    uint8_t *buf = malloc(BT_SHA1_LANES_MAX * (len + 3));
    uint8_t out[BT_SHA1_LANES_MAX][BT_SHA1_LEN], want[BT_SHA1_LEN];
    const uint8_t *p[BT_SHA1_LANES_MAX];
    size_t whole = len - len % BT_SHA1_BLOCK, first = whole / 2 - whole / 2 % BT_SHA1_BLOCK;
    unsigned i, bad = 0;

    if (!buf || bt_sha1_lanes_init(&l, width) < 0) {
        free(buf);
        return n;
    }
    for (i = 0; i < width; i++) {
        p[i] = buf + i * (len + 3) + (i % 3) + 1;
        fill((uint8_t *)p[i], len, i + 1);
    }
    for (i = n; i < width; i++)
        p[i] = p[0];
    bt_sha1_lanes_update(&l, p, first);
    for (i = 0; i < width; i++)
        p[i] += first;
    bt_sha1_lanes_update(&l, p, whole - first);
    for (i = 0; i < width; i++)
        p[i] += whole - first;
    bt_sha1_lanes_final(&l, p, len - whole, n, out);
    for (i = 0; i < n; i++) {
        bt_sha1(want, buf + i * (len + 3) + (i % 3) + 1, len);
        if (memcmp(want, out[i], BT_SHA1_LEN) != 0)
            bad++;
    }
    free(buf);
    return bad;
}

static void test_lanes_match_one_at_a_time(void)
{
    static const size_t lens[] = {0,   1,   55,  56,   63,    64,    65,         119,   120,
                                  127, 128, 129, 4095, 16384, 16385, 65536 + 63, 262144};
    unsigned w, k, tested = 0, bad;

    for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        if (!bt_sha1_lanes_supported(widths[w])) {
            tap_diag("this CPU has no %u-lane SHA-1: not tested", widths[w]);
            continue;
        }
        tested++;
        for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            bad = mismatches(widths[w], widths[w], lens[k]);
            CHECK_MSG(bad == 0, "width %u, %zu bytes: %u of %u lanes wrong", widths[w], lens[k],
                      bad, widths[w]);
            bad = mismatches(widths[w], widths[w] - 3, lens[k]); /* lanes left idle */
            CHECK_MSG(bad == 0, "width %u, %u lanes, %zu bytes: %u wrong", widths[w], widths[w] - 3,
                      lens[k], bad);
        }
    }
    CHECK(tested > 0 || bt_sha1_lanes_width() == 1);
}

/*
 * Random lane counts, lengths and splits of the whole blocks over three
 * updates; slots past n are left alone.
 */
static void test_lanes_random_splits(void)
{
    static uint8_t buf[BT_SHA1_LANES_MAX][3000];
    uint8_t out[BT_SHA1_LANES_MAX + 1][BT_SHA1_LEN], want[BT_SHA1_LEN], sentinel[BT_SHA1_LEN];
    const uint8_t *p[BT_SHA1_LANES_MAX];
    struct bt_sha1_lanes l;
    uint32_t seed = 7;
    unsigned w, run, i, n, bad = 0, runs = 0;
    size_t len, whole, a, b;

    memset(sentinel, 0x5a, sizeof(sentinel));
    for (i = 0; i < BT_SHA1_LANES_MAX; i++)
        fill(buf[i], sizeof(buf[i]), 100 + i);
    for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        for (run = 0; run < 300 && bt_sha1_lanes_init(&l, widths[w]) == 0; run++, runs++) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 8) % widths[w];
            len = (seed >> 12) % sizeof(buf[0]);
            whole = len / BT_SHA1_BLOCK;
            a = whole ? (seed >> 3) % (whole + 1) : 0;
            b = whole - a ? (seed >> 5) % (whole - a + 1) : 0;
            for (i = 0; i < widths[w]; i++)
                p[i] = buf[i < n ? i : 0];
            bt_sha1_lanes_update(&l, p, a * BT_SHA1_BLOCK);
            for (i = 0; i < widths[w]; i++)
                p[i] += a * BT_SHA1_BLOCK;
            bt_sha1_lanes_update(&l, p, b * BT_SHA1_BLOCK);
            for (i = 0; i < widths[w]; i++)
                p[i] += b * BT_SHA1_BLOCK;
            for (i = 0; i <= BT_SHA1_LANES_MAX; i++)
                memcpy(out[i], sentinel, BT_SHA1_LEN);
            bt_sha1_lanes_final(&l, p, len - (a + b) * BT_SHA1_BLOCK, n, out);
            for (i = 0; i < n; i++) {
                bt_sha1(want, buf[i], len);
                bad += memcmp(want, out[i], BT_SHA1_LEN) != 0;
            }
            bad += memcmp(out[n], sentinel, BT_SHA1_LEN) != 0;
        }
    }
    CHECK_MSG(bad == 0, "%u of %u runs wrong", bad, runs);
    CHECK(runs > 0 || bt_sha1_lanes_width() == 1);
}

static void test_lanes_known_vector(void)
{
    static const uint8_t abc_sha1[BT_SHA1_LEN] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81,
                                                  0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                                                  0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    const uint8_t *p[BT_SHA1_LANES_MAX];
    uint8_t out[BT_SHA1_LANES_MAX][BT_SHA1_LEN];
    struct bt_sha1_lanes l;
    unsigned w, i;

    for (i = 0; i < BT_SHA1_LANES_MAX; i++)
        p[i] = (const uint8_t *)"abc";
    for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        if (bt_sha1_lanes_init(&l, widths[w]) < 0)
            continue;
        bt_sha1_lanes_final(&l, p, 3, widths[w], out);
        for (i = 0; i < widths[w]; i++)
            CHECK_MSG(memcmp(out[i], abc_sha1, BT_SHA1_LEN) == 0, "width %u lane %u", widths[w], i);
    }
}

/* Messages for the driver: lane i's is msg + i * stride; reads are logged, lanes can be lost. */
struct driver_src {
    const uint8_t *msg;
    size_t stride;
    uint64_t lose_at[BT_SHA1_LANES_MAX]; /* a read from here on loses the lane; UINT64_MAX: never */
    unsigned stop_lane;                  /* its read from stop_at stops the run; width: never */
    uint64_t stop_at;
    unsigned reads[BT_SHA1_LANES_MAX];
    unsigned bad_reads; /* a read past a lost lane, or of the wrong size */
    bool lost[BT_SHA1_LANES_MAX];
    size_t chunk;
    uint64_t len;
};

static int driver_read(void *arg, unsigned lane, uint64_t at, uint8_t *dst, size_t n)
{
    struct driver_src *d = arg;
    size_t want = d->len - at < d->chunk ? (size_t)(d->len - at) : d->chunk;

    d->reads[lane]++;
    if (d->lost[lane] || n != want)
        d->bad_reads++;
    if (lane == d->stop_lane && at >= d->stop_at)
        return -EIO;
    if (at >= d->lose_at[lane]) {
        d->lost[lane] = true;
        return 1;
    }
    memcpy(dst, d->msg + lane * d->stride + at, n);
    return 0;
}

static void driver_reset(struct driver_src *d, unsigned width)
{
    unsigned i;

    for (i = 0; i < BT_SHA1_LANES_MAX; i++) {
        d->lose_at[i] = UINT64_MAX;
        d->reads[i] = 0;
        d->lost[i] = false;
    }
    d->stop_lane = width;
    d->bad_reads = 0;
}

/*
 * bt_sha1_lanes_digest: right digests for whole chunks, a short last
 * chunk, one chunk over the whole message and an empty one; a lost lane is
 * read no more and the others still come out right; every lane lost ends
 * the run; a read's error stops it; bad arguments are refused.
 */
static void test_digest_driver(void)
{
    static const struct {
        uint64_t len;
        size_t chunk;
    } cases[] = {{4096, 1024}, {5000, 1024}, {777, 4096}, {0, 64}, {131072, 16384}};
    size_t stride = 131072;
    uint8_t *msg = malloc(BT_SHA1_LANES_MAX * stride), *buf = malloc(BT_SHA1_LANES_MAX * 16384);
    uint8_t out[BT_SHA1_LANES_MAX][BT_SHA1_LEN], want[BT_SHA1_LEN];
    struct driver_src d = {.stride = stride};
    unsigned w, c, i, n, width, total, upto;

    if (!msg || !buf) {
        CHECK(0);
        free(msg);
        free(buf);
        return;
    }
    fill(msg, BT_SHA1_LANES_MAX * stride, 7);
    d.msg = msg;
    for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        width = widths[w];
        if (!bt_sha1_lanes_supported(width)) {
            CHECK(bt_sha1_lanes_digest(width, 1, 64, 64, buf, driver_read, &d, out) == -ENOTSUP);
            continue;
        }
        for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            n = bt_sha1_lanes_min(width) + c % 3;
            d.len = cases[c].len;
            d.chunk = cases[c].chunk < d.len ? cases[c].chunk : (size_t)d.len;
            driver_reset(&d, width);
            d.lose_at[1] = d.len / 2; /* lane 1 lost half way (at once when short) */
            memset(out, 0, sizeof(out));
            CHECK(bt_sha1_lanes_digest(width, n, d.len, cases[c].chunk, buf, driver_read, &d,
                                       out) == 0);
            CHECK_MSG(d.bad_reads == 0, "width %u case %u", width, c);
            total = d.len ? (unsigned)((d.len + d.chunk - 1) / d.chunk) : 1;
            for (i = 0; i < n; i++) {
                if (i == 1)
                    continue;
                bt_sha1(want, msg + i * stride, (size_t)d.len);
                CHECK_MSG(memcmp(out[i], want, BT_SHA1_LEN) == 0, "width %u case %u lane %u", width,
                          c, i);
                CHECK(d.reads[i] == total);
            }
            /* up to and with the first read at or past lose_at */
            upto = d.len ? (unsigned)((d.lose_at[1] + d.chunk - 1) / d.chunk) + 1 : 1;
            CHECK_MSG(d.reads[1] == (upto < total ? upto : total), "width %u case %u", width, c);
        }
        /* Every lane lost: the run ends at that chunk, and no digest is written. */
        d.len = 8192;
        d.chunk = 1024;
        driver_reset(&d, width);
        for (i = 0; i < width; i++)
            d.lose_at[i] = i < 3 ? 1024 : 2048;
        memset(out, 0xaa, sizeof(out));
        CHECK(bt_sha1_lanes_digest(width, width, d.len, d.chunk, buf, driver_read, &d, out) == 0);
        CHECK(d.bad_reads == 0 && d.reads[0] == 2 && d.reads[width - 1] == 3);
        CHECK(out[0][0] == 0xaa && out[width - 1][BT_SHA1_LEN - 1] == 0xaa);
        /* A read's error stops the run and is returned. */
        driver_reset(&d, width);
        d.stop_lane = 2;
        d.stop_at = 3072;
        CHECK(bt_sha1_lanes_digest(width, width, d.len, d.chunk, buf, driver_read, &d, out) ==
              -EIO);
        CHECK(d.reads[2] == 4 && d.reads[3] == 3);
        CHECK(bt_sha1_lanes_digest(width, 0, 64, 64, buf, driver_read, &d, out) == -EINVAL);
        CHECK(bt_sha1_lanes_digest(width, width + 1, 64, 64, buf, driver_read, &d, out) == -EINVAL);
        CHECK(bt_sha1_lanes_digest(width, 1, 256, 100, buf, driver_read, &d, out) == -EINVAL);
        CHECK(bt_sha1_lanes_digest(width, 1, 256, 0, buf, driver_read, &d, out) == -EINVAL);
    }
    free(msg);
    free(buf);
}

static void test_width_is_one_this_cpu_runs(void)
{
    struct bt_sha1_lanes l;
    unsigned w = bt_sha1_lanes_width();

    CHECK(w == 1 || w == 8 || w == 16);
    CHECK(w == 1 || bt_sha1_lanes_supported(w));
    CHECK(w != 1 || bt_sha1_lanes_init(&l, 16) == -ENOTSUP);
    CHECK(bt_sha1_lanes_init(&l, 4) == -ENOTSUP);
    CHECK(bt_sha1_lanes_min(16) == 5);
    CHECK(bt_sha1_lanes_min(8) == 3);
}

int main(void)
{
    TAP_RUN(test_lanes_match_one_at_a_time);
    TAP_RUN(test_lanes_random_splits);
    TAP_RUN(test_lanes_known_vector);
    TAP_RUN(test_digest_driver);
    TAP_RUN(test_width_is_one_this_cpu_runs);
    return tap_done();
}
