#include <errno.h>
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
    TAP_RUN(test_width_is_one_this_cpu_runs);
    return tap_done();
}
