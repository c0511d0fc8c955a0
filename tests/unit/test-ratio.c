#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ratio.h"
#include "tap.h"

static void test_parses_decimals_into_hundredths(void)
{
    static const struct {
        const char *text;
        int64_t want;
    } ok[] = {
        {"0", 0},     {"1", 100},
        {"1.5", 150}, {"1.50", 150},
        {"0.25", 25}, {"2.", 200},
        {"0.01", 1},  {"10000", BT_RATIO_MAX},
        {"007", 700}, {"10000.00", 1000000},
    };
    int64_t v;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = -1;
        CHECK_MSG(bt_ratio_parse(ok[i].text, &v) == 0 && v == ok[i].want, "\"%s\" -> %lld",
                  ok[i].text, (long long)v);
    }
}

static void test_rejects_what_is_not_a_two_place_decimal(void)
{
    static const char *const bad[] = {"",   "-1", "+1",  ".5",   "1.234", "1,5", "1e2",
                                      " 1", "1 ", "abc", "1.5x", "inf",   "nan", "0x10"};
    int64_t v = 42;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(bt_ratio_parse(bad[i], &v) == -EINVAL, "\"%s\" accepted", bad[i]);
    CHECK(v == 42); /* written only on success */
    CHECK(bt_ratio_parse("10000.01", &v) == -ERANGE);
    CHECK(bt_ratio_parse("99999999999999999999999", &v) == -ERANGE);
    CHECK(v == 42);
}

static void test_doubles_round_their_binary_error_but_not_a_third_place(void)
{
    int64_t v = -1;

    CHECK(bt_ratio_from_double(1.1, &v) == 0 && v == 110);
    CHECK(bt_ratio_from_double(0.29, &v) == 0 && v == 29); /* 28.999999999999996 */
    CHECK(bt_ratio_from_double(2.0, &v) == 0 && v == 200);
    CHECK(bt_ratio_from_double(0.0, &v) == 0 && v == 0);
    CHECK(bt_ratio_from_double(10000.0, &v) == 0 && v == BT_RATIO_MAX);
    v = 7;
    CHECK(bt_ratio_from_double(1.234, &v) == -EINVAL);
    CHECK(bt_ratio_from_double(-0.5, &v) == -EINVAL);
    CHECK(bt_ratio_from_double(NAN, &v) == -EINVAL);
    CHECK(bt_ratio_from_double(10000.01, &v) == -ERANGE);
    CHECK(bt_ratio_from_double(1e300, &v) == -ERANGE);
    CHECK(v == 7);
}

static void test_formats_the_shortest_decimal(void)
{
    char out[BT_RATIO_TEXT_LEN];

    bt_ratio_format(out, 150);
    CHECK(strcmp(out, "1.5") == 0);
    bt_ratio_format(out, 200);
    CHECK(strcmp(out, "2") == 0);
    bt_ratio_format(out, 25);
    CHECK(strcmp(out, "0.25") == 0);
    bt_ratio_format(out, 5);
    CHECK(strcmp(out, "0.05") == 0);
    bt_ratio_format(out, 0);
    CHECK(strcmp(out, "0") == 0);
    bt_ratio_format(out, BT_RATIO_MAX);
    CHECK(strcmp(out, "10000") == 0);
}

static void test_baseline_is_the_larger_of_downloaded_and_wanted(void)
{
    CHECK(bt_ratio_baseline(0, 1000) == 1000);    /* seeded from data it never downloaded */
    CHECK(bt_ratio_baseline(1500, 1000) == 1500); /* pieces fetched twice */
    CHECK(bt_ratio_baseline(0, 0) == 0);
}

static void test_goal_bytes_round_up_and_saturate(void)
{
    CHECK(bt_ratio_goal_bytes(1000, 100) == 1000);
    CHECK(bt_ratio_goal_bytes(1000, 150) == 1500);
    CHECK(bt_ratio_goal_bytes(3, 50) == 2);  /* 1.5 bytes: 2 are needed */
    CHECK(bt_ratio_goal_bytes(101, 1) == 2); /* 1.01 bytes */
    CHECK(bt_ratio_goal_bytes(0, 200) == 0); /* nothing to give back for */
    CHECK(bt_ratio_goal_bytes(1000, 0) == 0);
    CHECK(bt_ratio_goal_bytes(UINT64_MAX, BT_RATIO_MAX) == UINT64_MAX);
    CHECK(bt_ratio_goal_bytes(UINT64_MAX / 2, 200) == UINT64_MAX - 1); /* exact near the top */
    CHECK(bt_ratio_goal_bytes((uint64_t)3 << 60, 1) == ((uint64_t)3 << 60) / 100 + 1);
}

static void test_ratio_goal_is_met_at_the_exact_byte(void)
{
    struct bt_seed_state s = {
        .uploaded = 1499, .downloaded = 0, .wanted = 1000, .ratio_limit = 150};

    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_NONE);
    s.uploaded = 1500;
    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_RATIO);
    s.downloaded = 2000; /* downloaded more than its size: held to that */
    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_NONE);
    s.uploaded = 3000;
    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_RATIO);
}

static void test_no_limit_never_stops(void)
{
    struct bt_seed_state s = {.uploaded = UINT64_MAX, .wanted = 1, .idle = UINT64_MAX};

    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_NONE);
}

static void test_idle_goal_counts_seconds(void)
{
    struct bt_seed_state s = {.wanted = 1000, .idle = 2, .idle_limit = 3, .ratio_limit = 200};

    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_NONE);
    s.idle = 3;
    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_IDLE);
    s.uploaded = 2000; /* both met: the ratio is named */
    CHECK(bt_seed_goal_met(&s) == BT_SEED_GOAL_RATIO);
}

static void test_goal_names_round_trip(void)
{
    CHECK(strcmp(bt_seed_goal_name(BT_SEED_GOAL_RATIO), "ratio") == 0);
    CHECK(strcmp(bt_seed_goal_name(BT_SEED_GOAL_IDLE), "idle") == 0);
    CHECK(bt_seed_goal_name(BT_SEED_GOAL_NONE) == NULL);
    CHECK(bt_seed_goal_from_name("ratio") == BT_SEED_GOAL_RATIO);
    CHECK(bt_seed_goal_from_name("idle") == BT_SEED_GOAL_IDLE);
    CHECK(bt_seed_goal_from_name("paused") == BT_SEED_GOAL_NONE);
    CHECK(bt_seed_goal_from_name(NULL) == BT_SEED_GOAL_NONE);
}

int main(void)
{
    TAP_RUN(test_parses_decimals_into_hundredths);
    TAP_RUN(test_rejects_what_is_not_a_two_place_decimal);
    TAP_RUN(test_doubles_round_their_binary_error_but_not_a_third_place);
    TAP_RUN(test_formats_the_shortest_decimal);
    TAP_RUN(test_baseline_is_the_larger_of_downloaded_and_wanted);
    TAP_RUN(test_goal_bytes_round_up_and_saturate);
    TAP_RUN(test_ratio_goal_is_met_at_the_exact_byte);
    TAP_RUN(test_no_limit_never_stops);
    TAP_RUN(test_idle_goal_counts_seconds);
    TAP_RUN(test_goal_names_round_trip);
    return tap_done();
}
