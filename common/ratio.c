#include "ratio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int bt_ratio_parse(const char *text, int64_t *ret_hundredths)
{
    const char *p = text;
    int64_t whole = 0, frac = 0;
    int places = 0;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > BT_RATIO_MAX / 100)
            return -ERANGE;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++places > 2)
                return -EINVAL;
            frac = frac * 10 + (*p - '0');
        }
    }
    if (*p)
        return -EINVAL;
    if (places == 1)
        frac *= 10; /* "1.5" is 150 */
    if (whole * 100 + frac > BT_RATIO_MAX)
        return -ERANGE;
    *ret_hundredths = whole * 100 + frac;
    return 0;
}

int bt_ratio_from_double(double value, int64_t *ret_hundredths)
{
    double x = value * 100.0, diff;
    int64_t n;

    if (!(value >= 0.0)) /* negative or NaN */
        return -EINVAL;
    if (x > (double)BT_RATIO_MAX + 0.5)
        return -ERANGE;
    n = (int64_t)(x + 0.5);
    diff = x - (double)n;
    if (diff > 1e-6 || diff < -1e-6) /* a third decimal, not a binary fraction's error */
        return -EINVAL;
    if (n > BT_RATIO_MAX)
        return -ERANGE;
    *ret_hundredths = n;
    return 0;
}

void bt_ratio_format(char out[BT_RATIO_TEXT_LEN], int64_t hundredths)
{
    int64_t whole = hundredths / 100, frac = hundredths % 100;

    if (hundredths < 0)
        snprintf(out, BT_RATIO_TEXT_LEN, "?");
    else if (frac == 0)
        snprintf(out, BT_RATIO_TEXT_LEN, "%lld", (long long)whole);
    else if (frac % 10 == 0)
        snprintf(out, BT_RATIO_TEXT_LEN, "%lld.%lld", (long long)whole, (long long)(frac / 10));
    else
        snprintf(out, BT_RATIO_TEXT_LEN, "%lld.%02lld", (long long)whole, (long long)frac);
}

uint64_t bt_ratio_baseline(uint64_t downloaded, uint64_t wanted)
{
    return downloaded > wanted ? downloaded : wanted;
}

uint64_t bt_ratio_goal_bytes(uint64_t baseline, int64_t limit)
{
    uint64_t q = baseline / 100, r = baseline % 100, l = (uint64_t)limit, whole, part;

    if (limit <= 0)
        return 0;
    if (q > UINT64_MAX / l)
        return UINT64_MAX;
    whole = q * l;
    part = (r * l + 99) / 100; /* r * l < 100 * 2^63: fits */
    return whole > UINT64_MAX - part ? UINT64_MAX : whole + part;
}

enum bt_seed_goal bt_seed_goal_met(const struct bt_seed_state *s)
{
    uint64_t base = bt_ratio_baseline(s->downloaded, s->wanted);

    if (s->ratio_limit > 0 && s->uploaded >= bt_ratio_goal_bytes(base, s->ratio_limit))
        return BT_SEED_GOAL_RATIO;
    if (s->idle_limit > 0 && s->idle >= (uint64_t)s->idle_limit)
        return BT_SEED_GOAL_IDLE;
    return BT_SEED_GOAL_NONE;
}

const char *bt_seed_goal_name(enum bt_seed_goal goal)
{
    return goal == BT_SEED_GOAL_RATIO ? "ratio" : goal == BT_SEED_GOAL_IDLE ? "idle" : NULL;
}

enum bt_seed_goal bt_seed_goal_from_name(const char *name)
{
    if (name && strcmp(name, "ratio") == 0)
        return BT_SEED_GOAL_RATIO;
    if (name && strcmp(name, "idle") == 0)
        return BT_SEED_GOAL_IDLE;
    return BT_SEED_GOAL_NONE;
}
