/*
 * picker_prio: piece priorities and the claim's choice (picker.h). A claim
 * walks the bands from HIGH to LOW; within a band, only that band's runs of
 * pieces, from a random place, stopping at a piece as rare as the rarest
 * unclaimed one of the band: a claim costs the same however many pieces
 * other bands hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "picker-internal.h"

int btd__picker_build_runs(struct btd_picker *p, const uint8_t *prio)
{
    struct btd_picker_run *runs[BTD_PICKER_BANDS] = {NULL};
    uint32_t n[BTD_PICKER_BANDS] = {0}, size[BTD_PICKER_BANDS] = {0}, i, b;

    for (i = 0; i < p->piece_count; i++) {
        if (prio[i] != BTD_PRIO_SKIP && (i == 0 || prio[i - 1] != prio[i]))
            n[prio[i] - 1]++;
    }
    for (b = 0; b < BTD_PICKER_BANDS; b++) {
        runs[b] = malloc((n[b] ? n[b] : 1) * sizeof(*runs[b]));
        if (!runs[b]) {
            while (b-- > 0)
                free(runs[b]);
            return -ENOMEM;
        }
        n[b] = 0;
    }
    for (i = 0; i < p->piece_count; i++) {
        if (prio[i] == BTD_PRIO_SKIP)
            continue;
        b = prio[i] - 1u;
        if (i == 0 || prio[i - 1] != prio[i])
            runs[b][n[b]++] = (struct btd_picker_run){.first = i, .count = 0, .pos = size[b]};
        runs[b][n[b] - 1].count++;
        size[b]++;
    }
    for (b = 0; b < BTD_PICKER_BANDS; b++) {
        free(p->runs[b]);
        p->runs[b] = runs[b];
        p->nruns[b] = n[b];
        p->band_size[b] = size[b];
    }
    return 0;
}

int btd_picker_set_priorities(struct btd_picker *p, const uint8_t *prio)
{
    uint32_t i;
    int r = btd__picker_build_runs(p, prio);

    if (r < 0)
        return r;
    for (i = 0; i < p->piece_count; i++) {
        if (p->prio[i] == prio[i])
            continue;
        btd__picker_tally(p, i, false);
        p->prio[i] = prio[i];
        btd__picker_tally(p, i, true);
    }
    return 0;
}

/* Bytes of count pieces, the last piece (maybe short) among them if with_last. */
static uint64_t pieces_bytes(const struct btd_picker *p, uint32_t count, bool with_last)
{
    uint64_t bytes = (uint64_t)count * p->piece_length;

    if (with_last)
        bytes -= p->piece_length - btd_picker_piece_size(p, p->piece_count - 1);
    return bytes;
}

uint64_t btd_picker_wanted_bytes(const struct btd_picker *p)
{
    uint32_t last = p->piece_count - 1;

    return pieces_bytes(p, p->wanted, p->piece_count && p->prio[last] != BTD_PRIO_SKIP);
}

uint64_t btd_picker_wanted_have_bytes(const struct btd_picker *p)
{
    uint32_t last = p->piece_count - 1;

    return pieces_bytes(p, p->wanted_have,
                        p->piece_count && p->prio[last] != BTD_PRIO_SKIP &&
                            p->state[last] == BTD_PIECE_HAVE);
}

static uint32_t next_random(struct btd_picker *p)
{
    uint32_t x = p->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return p->rng = x;
}

/* The run of runs[0..n) that holds its band's pos-th piece. */
static uint32_t run_at(const struct btd_picker_run *runs, uint32_t n, uint32_t pos)
{
    uint32_t lo = 0, hi = n, mid;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        if (runs[mid].pos <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/*
 * The rarest unclaimed piece of band b the peer has; a random start breaks
 * ties. The scan stops at a piece as rare as the band's rarest unclaimed
 * one (from rare[b]), or held by this peer alone.
 */
static int64_t rarest_in_band(struct btd_picker *p, const struct btd_picker_peer *peer, uint32_t b)
{
    const struct btd_picker_run *runs = p->runs[b];
    uint32_t total = p->band_size[b], pos = next_random(p) % total;
    uint32_t r = run_at(runs, p->nruns[b], pos), piece = runs[r].first + (pos - runs[r].pos);
    uint32_t i, best_avail = UINT32_MAX, floor = 0;
    int64_t best = -1;

    while (floor < BTD_PICKER_AVAIL_BUCKETS - 1 && p->rare[b][floor] == 0)
        floor++;
    if (floor < 1)
        floor = 1; /* a piece this peer has is held by one peer at least */
    for (i = 0; i < total; i++) {
        p->scanned++;
        if (p->state[piece] == BTD_PIECE_UNCLAIMED && p->avail[piece] < best_avail &&
            peer->has(peer->key, piece)) {
            best = piece;
            best_avail = p->avail[piece];
            if (best_avail <= floor)
                break;
        }
        if (++piece == runs[r].first + runs[r].count) {
            r = r + 1 < p->nruns[b] ? r + 1 : 0;
            piece = runs[r].first;
        }
    }
    return best;
}

int64_t btd__picker_pick(struct btd_picker *p, const struct btd_picker_peer *peer)
{
    uint32_t b;
    int64_t piece;

    for (b = BTD_PICKER_BANDS; b-- > 0;) {
        if (p->band_unclaimed[b] == 0)
            continue;
        piece = rarest_in_band(p, peer, b);
        if (piece >= 0)
            return piece;
    }
    return -1;
}
