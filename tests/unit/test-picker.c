#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "picker.h"
#include "tap.h"

/* A fake peer: which pieces it has and which blocks it has requested. */
struct fake {
    bool has[64];
    bool req[64][8];
};

static bool fake_has(const void *key, uint32_t piece)
{
    return ((const struct fake *)key)->has[piece];
}

static bool fake_requested(const void *key, uint32_t piece, uint32_t block)
{
    return ((const struct fake *)key)->req[piece][block];
}

static struct btd_picker_peer who(struct fake *f)
{
    return (struct btd_picker_peer){.key = f, .has = fake_has, .requested = fake_requested};
}

static int next(struct btd_picker *p, struct fake *f, uint32_t *piece, uint32_t *begin,
                uint32_t *len)
{
    struct btd_picker_peer w = who(f);
    int r = btd_picker_next(p, &w, piece, begin, len);

    if (r == 1)
        f->req[*piece][*begin / BTD_BLOCK_SIZE] = true;
    return r;
}

static void test_claims_rarest_piece_first(void)
{
    struct btd_picker p;
    struct fake a = {0};
    uint32_t piece, begin, len, i;

    CHECK(btd_picker_init(&p, 8, 32768, 8 * 32768, 4) == 0);
    for (i = 0; i < 8; i++) {
        a.has[i] = true;
        btd_picker_peer_has(&p, i);
        btd_picker_peer_has(&p, i);
    }
    btd_picker_peer_lost(&p, 5); /* piece 5 is the rarest */
    CHECK(next(&p, &a, &piece, &begin, &len) == 1);
    CHECK(piece == 5 && begin == 0 && len == BTD_BLOCK_SIZE);
    CHECK(p.unclaimed == 7 && p.njobs == 1);
    /* Its own job continues before a new piece is claimed. */
    CHECK(next(&p, &a, &piece, &begin, &len) == 1);
    CHECK(piece == 5 && begin == BTD_BLOCK_SIZE);
    btd_picker_deinit(&p);
}

static void test_only_pieces_the_peer_has(void)
{
    struct btd_picker p;
    struct fake a = {0};
    uint32_t piece, begin, len;

    CHECK(btd_picker_init(&p, 4, 16384, 4 * 16384, 4) == 0);
    CHECK(next(&p, &a, &piece, &begin, &len) == 0);
    a.has[2] = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece == 2);
    CHECK(next(&p, &a, &piece, &begin, &len) == 0);
    btd_picker_deinit(&p);
}

static void test_jobs_in_flight_are_bounded(void)
{
    struct btd_picker p;
    struct fake a = {0};
    uint32_t piece, begin, len, i, n = 0;

    CHECK(btd_picker_init(&p, 16, 16384, 16 * 16384, 3) == 0);
    for (i = 0; i < 16; i++)
        a.has[i] = true;
    while (next(&p, &a, &piece, &begin, &len) == 1)
        n++;
    CHECK(n == 3 && p.njobs == 3 && p.unclaimed == 13);
    btd_picker_deinit(&p);
}

static void test_full_budget_peers_help_with_other_jobs(void)
{
    struct btd_picker p;
    struct fake a = {0}, b = {0}, c = {0}, d = {0};
    uint32_t piece, begin, len, x, y, i, n = 0;

    CHECK(btd_picker_init(&p, 8, 65536, 8 * 65536, 2) == 0);
    for (i = 0; i < 8; i++)
        a.has[i] = b.has[i] = c.has[i] = true;
    CHECK(next(&p, &a, &x, &begin, &len) == 1 && begin == 0);
    CHECK(next(&p, &c, &y, &begin, &len) == 1 && y != x && begin == 0);
    CHECK(p.njobs == 2);
    /* b claims nothing: it asks for free blocks of the oldest job first, then of the other. */
    CHECK(next(&p, &b, &piece, &begin, &len) == 1 && piece == x && begin == BTD_BLOCK_SIZE);
    while (next(&p, &b, &piece, &begin, &len) == 1)
        n++;
    CHECK(n == 5 && p.njobs == 2 && p.unclaimed == 6);
    CHECK(btd_picker_job(&p, x)->owner == &a && btd_picker_job(&p, y)->owner == &c);
    /* Only with pieces it has, and only free blocks. */
    d.has[x] = true;
    CHECK(next(&p, &d, &piece, &begin, &len) == 0);
    btd_picker_cancel(&p, x, 2 * BTD_BLOCK_SIZE);
    CHECK(next(&p, &d, &piece, &begin, &len) == 1 && piece == x && begin == 2 * BTD_BLOCK_SIZE);
    btd_picker_deinit(&p);
}

static void test_orphaned_job_is_adopted_before_new_claims(void)
{
    struct btd_picker p;
    struct fake a = {0}, b = {0};
    uint32_t piece, begin, len, first;

    CHECK(btd_picker_init(&p, 4, 32768, 4 * 32768, 4) == 0);
    a.has[1] = b.has[1] = b.has[2] = true;
    CHECK(next(&p, &a, &first, &begin, &len) == 1 && first == 1);
    btd_picker_cancel(&p, first, begin);
    btd_picker_peer_gone(&p, &a);
    CHECK(btd_picker_job(&p, 1)->owner == NULL);
    CHECK(next(&p, &b, &piece, &begin, &len) == 1);
    CHECK(piece == 1 && begin == 0);
    CHECK(btd_picker_job(&p, 1)->owner == &b);
    btd_picker_deinit(&p);
}

static void test_complete_piece_goes_to_verifying_then_have(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct fake a = {0};
    struct btd_job *job = NULL;
    uint32_t piece, begin, len;
    bool dup;
    uint8_t *buf;

    CHECK(btd_picker_init(&p, 2, 32768, 32768 + 100, 4) == 0);
    a.has[1] = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece == 1 && len == 100);
    CHECK(btd_picker_block(&p, 7, 1, 0, block, 99, &job, &dup) == -EBADMSG);
    CHECK(btd_picker_block(&p, 7, 1, 0, block, 100, &job, &dup) == 1 && job);
    CHECK(p.state[1] == BTD_PIECE_VERIFYING && job->src[0] == 7);
    buf = btd_picker_take_buffer(job);
    CHECK(buf != NULL && job->buf == NULL);
    free(buf);
    btd_picker_verified(&p, 1, true);
    CHECK(p.state[1] == BTD_PIECE_HAVE && p.have == 1 && p.njobs == 0);
    CHECK(btd_picker_have_bytes(&p) == 100);
    btd_picker_deinit(&p);
}

static void test_failed_piece_returns_to_unclaimed(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct fake a = {0};
    struct btd_job *job = NULL;
    uint32_t piece, begin, len;
    bool dup;

    CHECK(btd_picker_init(&p, 1, 16384, 16384, 4) == 0);
    a.has[0] = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1);
    CHECK(btd_picker_block(&p, 1, 0, 0, block, 16384, &job, &dup) == 1);
    free(btd_picker_take_buffer(job));
    btd_picker_verified(&p, 0, false);
    CHECK(p.state[0] == BTD_PIECE_UNCLAIMED && p.unclaimed == 1 && p.have == 0);
    CHECK(btd_picker_have_bytes(&p) == 0);
    btd_picker_deinit(&p);
}

static void test_halted_picker_hands_out_nothing_and_drops_pending_jobs(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct fake a = {0};
    struct btd_job *job = NULL;
    uint32_t piece, begin, len, verifying;
    bool dup;
    uint8_t *buf;

    CHECK(btd_picker_init(&p, 4, 16384, 4 * 16384, 4) == 0);
    a.has[0] = a.has[1] = a.has[2] = a.has[3] = true;
    CHECK(next(&p, &a, &verifying, &begin, &len) == 1);
    CHECK(btd_picker_block(&p, 1, verifying, 0, block, 16384, &job, &dup) == 1);
    buf = btd_picker_take_buffer(job); /* being verified: keeps its job */
    CHECK(next(&p, &a, &piece, &begin, &len) == 1);
    btd_picker_cancel(&p, piece, begin);
    btd_picker_peer_gone(&p, &a);
    p.halted = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 0);
    btd_picker_drop_jobs(&p);
    CHECK(p.njobs == 1 && p.unclaimed == 3 && p.state[piece] == BTD_PIECE_UNCLAIMED);
    CHECK(p.state[verifying] == BTD_PIECE_VERIFYING && btd_picker_job(&p, verifying));
    free(buf);
    btd_picker_verified(&p, verifying, true);
    CHECK(p.have == 1 && p.njobs == 0);
    p.halted = false;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece != verifying);
    btd_picker_deinit(&p);
}

static void test_end_game_shares_pending_blocks_and_first_copy_wins(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct fake a = {0}, b = {0};
    struct btd_job *job = NULL;
    uint32_t piece, begin, len, bpiece, bbegin;
    bool dup;

    CHECK(btd_picker_init(&p, 1, 16384, 16384, 4) == 0);
    a.has[0] = b.has[0] = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1);
    CHECK(p.unclaimed == 0);
    /* b has nothing unclaimed: end game gives it a's block too. */
    CHECK(next(&p, &b, &bpiece, &bbegin, &len) == 1 && bpiece == piece && bbegin == begin);
    /* ...but not twice. */
    CHECK(next(&p, &b, &bpiece, &bbegin, &len) == 0);
    CHECK(btd_picker_block(&p, 2, 0, 0, block, 16384, &job, &dup) == 1 && !dup);
    CHECK(btd_picker_block(&p, 1, 0, 0, block, 16384, &job, &dup) == 0 && dup);
    free(btd_picker_take_buffer(job));
    btd_picker_verified(&p, 0, true);
    CHECK(btd_picker_complete(&p));
    btd_picker_deinit(&p);
}

static void test_unrequested_piece_is_refused(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct btd_job *job = NULL;
    bool dup;

    CHECK(btd_picker_init(&p, 2, 16384, 32768, 4) == 0);
    CHECK(btd_picker_block(&p, 1, 0, 0, block, 16384, &job, &dup) == -EBADMSG);
    CHECK(btd_picker_block(&p, 1, 9, 0, block, 16384, &job, &dup) == -EBADMSG);
    btd_picker_deinit(&p);
}

/*
 * rare[] counts exactly the unclaimed pieces not SKIP, each in its band and
 * its availability's bucket; the other counts match the states too.
 */
static bool rare_consistent(const struct btd_picker *p)
{
    uint32_t want[BTD_PICKER_BANDS][BTD_PICKER_AVAIL_BUCKETS] = {{0}}, i;
    uint32_t unclaimed = 0, have = 0, wanted = 0, wanted_have = 0;

    for (i = 0; i < p->piece_count; i++) {
        bool skip = p->prio[i] == BTD_PRIO_SKIP;

        if (p->state[i] == BTD_PIECE_UNCLAIMED && !skip) {
            unclaimed++;
            want[p->prio[i] - 1][p->avail[i] < BTD_PICKER_AVAIL_BUCKETS - 1
                                     ? p->avail[i]
                                     : BTD_PICKER_AVAIL_BUCKETS - 1]++;
        }
        have += p->state[i] == BTD_PIECE_HAVE;
        wanted += !skip;
        wanted_have += !skip && p->state[i] == BTD_PIECE_HAVE;
    }
    return memcmp(want, p->rare, sizeof(want)) == 0 && unclaimed == p->unclaimed &&
           have == p->have && wanted == p->wanted && wanted_have == p->wanted_have;
}

static void test_rarity_counts_follow_every_change(void)
{
    static uint8_t block[BTD_BLOCK_SIZE];
    struct btd_picker p;
    struct fake a = {0};
    struct btd_job *job = NULL;
    uint32_t piece, begin, len, i, k;
    bool dup;

    CHECK(btd_picker_init(&p, 8, BTD_BLOCK_SIZE, 8 * BTD_BLOCK_SIZE, 2) == 0);
    CHECK(rare_consistent(&p));
    for (i = 0; i < 8; i++) {
        a.has[i] = true;
        for (k = 0; k <= i * 10; k++) /* piece 7: 71 peers, in the last bucket */
            btd_picker_peer_has(&p, i);
    }
    btd_picker_set_have(&p, 3);
    CHECK(rare_consistent(&p) && p.unclaimed == 7 && p.have == 1);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece == 0); /* the rarest */
    CHECK(btd_picker_block(&p, 1, 0, 0, block, BTD_BLOCK_SIZE, &job, &dup) == 1);
    btd_picker_peer_lost(&p, 0); /* a verifying piece's availability moves no count */
    btd_picker_peer_lost(&p, 7);
    btd_picker_peer_has(&p, 6);
    CHECK(rare_consistent(&p));
    free(btd_picker_take_buffer(job));
    btd_picker_verified(&p, 0, false); /* back to unclaimed, with its new availability */
    CHECK(rare_consistent(&p) && p.unclaimed == 7);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece == 0); /* still the rarest */
    btd_picker_drop_jobs(&p);
    CHECK(rare_consistent(&p) && p.unclaimed == 7);
    btd_picker_forget(&p);
    CHECK(rare_consistent(&p) && p.unclaimed == 8 && p.have == 0);
    btd_picker_deinit(&p);
}

/* Counts has() calls: a claim among equally available pieces reads one or two, not all. */
static unsigned has_calls;

static bool counting_has(const void *key, uint32_t piece)
{
    (void)key;
    (void)piece;
    has_calls++;
    return true;
}

static void test_claim_stops_at_a_piece_as_rare_as_any(void)
{
    struct btd_picker p;
    struct btd_picker_peer w = {.key = &p, .has = counting_has};
    uint32_t piece, begin, len, i, n = 100000;

    CHECK(btd_picker_init(&p, n, BTD_BLOCK_SIZE, (uint64_t)n * BTD_BLOCK_SIZE, n) == 0);
    for (i = 0; i < n; i++) { /* two seeders */
        btd_picker_peer_has(&p, i);
        btd_picker_peer_has(&p, i);
    }
    for (i = 0; i < 1000; i++)
        CHECK(btd_picker_next(&p, &w, &piece, &begin, &len) == 1);
    /* Each claim stopped at the first unclaimed piece: one has() call each. */
    CHECK(has_calls == 1000);
    CHECK(p.njobs == 1000 && p.unclaimed == n - 1000);
    btd_picker_deinit(&p);
}

/* Priorities for pieces: prio[i] for i < n. */
static void set_prios(struct btd_picker *p, const char *spec)
{
    uint8_t prio[64];
    uint32_t i;

    for (i = 0; i < p->piece_count; i++)
        prio[i] = spec[i] == 's'   ? BTD_PRIO_SKIP
                  : spec[i] == 'l' ? BTD_PRIO_LOW
                  : spec[i] == 'h' ? BTD_PRIO_HIGH
                                   : BTD_PRIO_NORMAL;
    CHECK(btd_picker_set_priorities(p, prio) == 0);
}

static void test_skipped_piece_is_never_claimed(void)
{
    struct btd_picker p;
    struct fake a = {0};
    uint32_t piece, begin, len, i, claimed = 0;

    CHECK(btd_picker_init(&p, 8, BTD_BLOCK_SIZE, 8 * BTD_BLOCK_SIZE, 8) == 0);
    for (i = 0; i < 8; i++) {
        a.has[i] = true;
        btd_picker_peer_has(&p, i);
    }
    btd_picker_peer_lost(&p, 1); /* the rarest, but skipped */
    set_prios(&p, "ssnnnnss");
    CHECK(rare_consistent(&p) && p.unclaimed == 4 && p.wanted == 4);
    CHECK(!btd_picker_complete(&p));
    while (next(&p, &a, &piece, &begin, &len) == 1) {
        CHECK(piece >= 2 && piece <= 5);
        claimed++;
    }
    CHECK(claimed == 4 && p.unclaimed == 0);
    btd_picker_drop_jobs(&p);
    for (i = 2; i <= 5; i++)
        btd_picker_set_have(&p, i);
    CHECK(btd_picker_complete(&p) && !btd_picker_all_had(&p) && rare_consistent(&p));
    /* Wanting piece 7 again: not complete, and it is claimed. */
    set_prios(&p, "ssnnnnsn");
    CHECK(!btd_picker_complete(&p) && rare_consistent(&p) && p.unclaimed == 1);
    memset(a.req, 0, sizeof(a.req));
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && piece == 7);
    btd_picker_deinit(&p);
}

static void test_higher_priority_is_claimed_before_rarer(void)
{
    struct btd_picker p;
    struct fake a = {0}, b = {0};
    uint32_t piece, begin, len, i, order[8];

    CHECK(btd_picker_init(&p, 8, BTD_BLOCK_SIZE, 8 * BTD_BLOCK_SIZE, 8) == 0);
    for (i = 0; i < 8; i++) {
        a.has[i] = true;
        btd_picker_peer_has(&p, i);
        btd_picker_peer_has(&p, i);
    }
    btd_picker_peer_lost(&p, 0); /* rarest of all, but low */
    btd_picker_peer_lost(&p, 4); /* the rarest of the normal ones */
    set_prios(&p, "llnnnnhh");
    CHECK(rare_consistent(&p));
    for (i = 0; i < 8; i++) {
        CHECK(next(&p, &a, &order[i], &begin, &len) == 1 && begin == 0);
        a.req[order[i]][1] = true; /* one-block pieces: nothing more to ask of it */
    }
    CHECK((order[0] == 6 && order[1] == 7) || (order[0] == 7 && order[1] == 6));
    CHECK(order[2] == 4);
    for (i = 3; i < 6; i++)
        CHECK(order[i] >= 2 && order[i] <= 5);
    CHECK(order[6] == 0 && order[7] == 1);
    btd_picker_drop_jobs(&p);
    /* A peer without the high pieces gets the best it has, not nothing. */
    b.has[3] = true;
    b.has[0] = true;
    CHECK(next(&p, &b, &piece, &begin, &len) == 1 && piece == 3);
    btd_picker_deinit(&p);
}

static void test_bytes_count_wanted_pieces(void)
{
    struct btd_picker p;
    uint64_t pl = 32768, total = 8 * pl - 100; /* the last piece is short */

    CHECK(btd_picker_init(&p, 8, pl, total, 4) == 0);
    CHECK(btd_picker_wanted_bytes(&p) == total && btd_picker_wanted_have_bytes(&p) == 0);
    set_prios(&p, "nsssssnh");
    CHECK(btd_picker_wanted_bytes(&p) == 3 * pl - 100);
    btd_picker_set_have(&p, 7);
    btd_picker_set_have(&p, 3); /* had, but not wanted */
    CHECK(btd_picker_wanted_have_bytes(&p) == pl - 100);
    CHECK(btd_picker_have_bytes(&p) == 2 * pl - 100);
    set_prios(&p, "nsssssns");
    CHECK(btd_picker_wanted_bytes(&p) == 2 * pl && btd_picker_wanted_have_bytes(&p) == 0);
    CHECK(rare_consistent(&p));
    btd_picker_deinit(&p);
}

/*
 * The cost of a claim stays flat with priorities: a small high band among
 * 100,000 pieces is found without walking the others, and the claims after
 * it still read one has() each.
 */
static void test_claim_cost_stays_flat_with_priorities(void)
{
    struct btd_picker p;
    struct btd_picker_peer w = {.key = &p, .has = counting_has};
    uint32_t piece, begin, len, i, n = 100000;
    uint8_t *prio = malloc(n);

    CHECK(prio != NULL);
    CHECK(btd_picker_init(&p, n, BTD_BLOCK_SIZE, (uint64_t)n * BTD_BLOCK_SIZE, n) == 0);
    for (i = 0; i < n; i++) {
        btd_picker_peer_has(&p, i);
        btd_picker_peer_has(&p, i);
        prio[i] = i < 10000 ? BTD_PRIO_SKIP : BTD_PRIO_NORMAL;
    }
    memset(prio + 50000, BTD_PRIO_HIGH, 100);
    CHECK(btd_picker_set_priorities(&p, prio) == 0);
    has_calls = 0;
    for (i = 0; i < 100; i++) {
        CHECK(btd_picker_next(&p, &w, &piece, &begin, &len) == 1);
        CHECK(piece >= 50000 && piece < 50100);
    }
    /* One has() per claim; at most the band walked each time, never the torrent. */
    CHECK(has_calls == 100);
    CHECK(p.scanned <= 100 * 100);
    p.scanned = 0;
    for (i = 0; i < 1000; i++) {
        CHECK(btd_picker_next(&p, &w, &piece, &begin, &len) == 1);
        CHECK(piece >= 10000 && (piece < 50000 || piece >= 50100));
    }
    CHECK(has_calls == 1100);
    CHECK(p.scanned < 1000 * 10); /* 1 % of the band taken: about one piece per claim */
    CHECK(rare_consistent(&p));
    btd_picker_deinit(&p);
    free(prio);
}

static void test_cancelled_block_is_handed_out_again(void)
{
    struct btd_picker p;
    struct fake a = {0};
    uint32_t piece, begin, len;

    CHECK(btd_picker_init(&p, 1, 4 * BTD_BLOCK_SIZE, 4 * BTD_BLOCK_SIZE, 1) == 0);
    a.has[0] = true;
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && begin == 0);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && begin == BTD_BLOCK_SIZE);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && begin == 2 * BTD_BLOCK_SIZE);
    btd_picker_cancel(&p, 0, 0);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && begin == 0);
    CHECK(next(&p, &a, &piece, &begin, &len) == 1 && begin == 3 * BTD_BLOCK_SIZE);
    btd_picker_deinit(&p);
}

int main(void)
{
    if (bt_crypto_init() < 0)
        return 1;
    TAP_RUN(test_claims_rarest_piece_first);
    TAP_RUN(test_only_pieces_the_peer_has);
    TAP_RUN(test_jobs_in_flight_are_bounded);
    TAP_RUN(test_full_budget_peers_help_with_other_jobs);
    TAP_RUN(test_orphaned_job_is_adopted_before_new_claims);
    TAP_RUN(test_complete_piece_goes_to_verifying_then_have);
    TAP_RUN(test_failed_piece_returns_to_unclaimed);
    TAP_RUN(test_halted_picker_hands_out_nothing_and_drops_pending_jobs);
    TAP_RUN(test_end_game_shares_pending_blocks_and_first_copy_wins);
    TAP_RUN(test_unrequested_piece_is_refused);
    TAP_RUN(test_rarity_counts_follow_every_change);
    TAP_RUN(test_claim_stops_at_a_piece_as_rare_as_any);
    TAP_RUN(test_cancelled_block_is_handed_out_again);
    TAP_RUN(test_skipped_piece_is_never_claimed);
    TAP_RUN(test_higher_priority_is_claimed_before_rarer);
    TAP_RUN(test_bytes_count_wanted_pieces);
    TAP_RUN(test_claim_cost_stays_flat_with_priorities);
    return tap_done();
}
