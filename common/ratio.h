/*
 * ratio: share ratios and seeding goals. Pure arithmetic; any thread.
 *
 * A ratio is an integer count of hundredths (1.5 is 150, as libtorrent's
 * share_ratio_limit holds it), so that a goal compares exactly: no float
 * decides whether a torrent stops. Users write ratios as decimals with at
 * most two places ("1.5", "2", "0.25").
 *
 * The ratio of a torrent is uploaded / baseline, where the baseline is
 * max(downloaded, wanted bytes): libtorrent's uploaded / max(downloaded,
 * total size), with the wanted bytes for the size (Transmission's "size
 * when done"), so a torrent seeded from data it never downloaded, or one
 * whose download cost more than its size (pieces fetched twice), is held to
 * the larger of the two.
 */
#ifndef BT_RATIO_H
#define BT_RATIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_RATIO_MAX 1000000 /* hundredths: a ratio of 10,000 at most */
#define BT_RATIO_TEXT_LEN 24 /* any int64_t as a ratio and its NUL */

/*
 * A decimal ratio ("1.5", "2", "0.25", "3.") into hundredths. 0, -EINVAL
 * (not a plain decimal, or more than two places), -ERANGE (over BT_RATIO_MAX).
 */
int bt_ratio_parse(const char *text, int64_t *ret_hundredths);
/* A JSON number into hundredths: the same rules (a binary 1.1 is 110). */
int bt_ratio_from_double(double value, int64_t *ret_hundredths);
/* hundredths as the shortest decimal: "1.5", "2", "0.25". */
void bt_ratio_format(char out[BT_RATIO_TEXT_LEN], int64_t hundredths);

/* What uploaded bytes are measured against: max(downloaded, wanted). */
uint64_t bt_ratio_baseline(uint64_t downloaded, uint64_t wanted);
/*
 * The bytes to upload for limit (hundredths, > 0) of baseline: the least n
 * with n * 100 >= baseline * limit. UINT64_MAX if that does not fit.
 */
uint64_t bt_ratio_goal_bytes(uint64_t baseline, int64_t limit);

/* Why a seeding torrent stops. */
enum bt_seed_goal {
    BT_SEED_GOAL_NONE,  /* it seeds on */
    BT_SEED_GOAL_RATIO, /* it uploaded its ratio limit's worth */
    BT_SEED_GOAL_IDLE,  /* it uploaded nothing for its idle limit */
};

/* A seeding torrent as the goals see it. */
struct bt_seed_state {
    uint64_t uploaded;   /* bytes of payload, in all */
    uint64_t downloaded; /* bytes of payload, in all */
    uint64_t wanted;     /* bytes of the wanted pieces */
    uint64_t idle;       /* seconds seeding without uploading a byte */
    int64_t ratio_limit; /* hundredths; 0 = none */
    int64_t idle_limit;  /* seconds; 0 = none */
};

/* The goal s has met, the ratio first when both are; NONE while it has met neither. */
enum bt_seed_goal bt_seed_goal_met(const struct bt_seed_state *s);
/* "ratio", "idle", or NULL for NONE. */
const char *bt_seed_goal_name(enum bt_seed_goal goal);
/* The goal named so (bt_seed_goal_name), or NONE for NULL or any other name. */
enum bt_seed_goal bt_seed_goal_from_name(const char *name);

#endif
