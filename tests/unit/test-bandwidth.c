#include "bandwidth.h"
#include "tap.h"

static void test_unlimited_is_always_open(void)
{
    struct btd_bucket b = {0};

    btd_bucket_set_rate(&b, 0, 1000);
    btd_bucket_take(&b, (uint64_t)1 << 40);
    CHECK(btd_bucket_open(&b, 1000));
    CHECK(b.tokens == 0);
}

static void test_new_rate_starts_empty(void)
{
    struct btd_bucket b = {0};

    btd_bucket_set_rate(&b, 1000, 5000);
    CHECK(!btd_bucket_open(&b, 5000));
    CHECK(btd_bucket_open(&b, 5001)); /* one byte after a millisecond */
    CHECK(b.tokens == 1);
}

static void test_tokens_accrue_at_the_rate_without_losing_fractions(void)
{
    struct btd_bucket b = {0};
    uint64_t now;

    btd_bucket_set_rate(&b, 1500, 0); /* 1.5 bytes per ms */
    for (now = 1; now <= 200; now++)
        btd_bucket_open(&b, now); /* refilled every ms: the halves add up */
    CHECK(b.tokens == 300);
}

static void test_burst_is_capped_at_a_quarter_second(void)
{
    struct btd_bucket b = {0};

    btd_bucket_set_rate(&b, 4000, 0);
    btd_bucket_open(&b, 60000); /* a minute idle */
    CHECK(b.tokens == 1001);
}

static void test_debt_is_paid_before_reopening(void)
{
    struct btd_bucket b = {0};

    btd_bucket_set_rate(&b, 1000, 0);
    CHECK(btd_bucket_open(&b, 100)); /* 100 bytes */
    btd_bucket_take(&b, 16384);      /* a whole block on credit */
    CHECK(!btd_bucket_open(&b, 100));
    CHECK(!btd_bucket_open(&b, 16384)); /* -16284 + 16284 = 0: still closed */
    CHECK(btd_bucket_open(&b, 16385));
}

static void test_average_holds_over_a_window(void)
{
    struct btd_bucket b = {0};
    uint64_t now, moved = 0;

    /* A greedy mover taking 64 KiB whenever the bucket opens, checked every 5 ms. */
    btd_bucket_set_rate(&b, 1 << 20, 0);
    for (now = 0; now <= 10000; now += 5) {
        if (btd_bucket_open(&b, now)) {
            btd_bucket_take(&b, 65536);
            moved += 65536;
        }
    }
    CHECK(moved <= 10 * (1 << 20) + 65536 + (1 << 18));
    CHECK(moved >= 10 * (1 << 20) - 65536);
}

int main(void)
{
    TAP_RUN(test_unlimited_is_always_open);
    TAP_RUN(test_new_rate_starts_empty);
    TAP_RUN(test_tokens_accrue_at_the_rate_without_losing_fractions);
    TAP_RUN(test_burst_is_capped_at_a_quarter_second);
    TAP_RUN(test_debt_is_paid_before_reopening);
    TAP_RUN(test_average_holds_over_a_window);
    return tap_done();
}
