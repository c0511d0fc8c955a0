#include <errno.h>
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

/* rare[] counts exactly the unclaimed pieces, each in its availability's bucket. */
static bool rare_consistent(const struct btd_picker *p)
{
    uint32_t want[BTD_PICKER_AVAIL_BUCKETS] = {0}, i;

    for (i = 0; i < p->piece_count; i++) {
        if (p->state[i] == BTD_PIECE_UNCLAIMED)
            want[p->avail[i] < BTD_PICKER_AVAIL_BUCKETS - 1 ? p->avail[i]
                                                            : BTD_PICKER_AVAIL_BUCKETS - 1]++;
    }
    return memcmp(want, p->rare, sizeof(want)) == 0;
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
    TAP_RUN(test_orphaned_job_is_adopted_before_new_claims);
    TAP_RUN(test_complete_piece_goes_to_verifying_then_have);
    TAP_RUN(test_failed_piece_returns_to_unclaimed);
    TAP_RUN(test_halted_picker_hands_out_nothing_and_drops_pending_jobs);
    TAP_RUN(test_end_game_shares_pending_blocks_and_first_copy_wins);
    TAP_RUN(test_unrequested_piece_is_refused);
    TAP_RUN(test_rarity_counts_follow_every_change);
    TAP_RUN(test_claim_stops_at_a_piece_as_rare_as_any);
    TAP_RUN(test_cancelled_block_is_handed_out_again);
    return tap_done();
}
