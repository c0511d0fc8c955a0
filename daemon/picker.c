#include "picker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "picker-internal.h"
#include "storage.h"

int btd_picker_init(struct btd_picker *p, uint32_t piece_count, uint64_t piece_length,
                    uint64_t total_length, uint32_t max_jobs)
{
    memset(p, 0, sizeof(*p));
    p->piece_count = piece_count;
    p->piece_length = piece_length;
    p->total_length = total_length;
    p->max_jobs = max_jobs ? max_jobs : 1;
    p->state = calloc(piece_count ? piece_count : 1, sizeof(*p->state));
    p->avail = calloc(piece_count ? piece_count : 1, sizeof(*p->avail));
    p->prio = malloc(piece_count ? piece_count : 1);
    p->pool = calloc(p->max_jobs, sizeof(*p->pool));
    if (!p->state || !p->avail || !p->prio || !p->pool) {
        btd_picker_deinit(p);
        return -ENOMEM;
    }
    memset(p->prio, BTD_PRIO_NORMAL, piece_count);
    if (btd__picker_build_runs(p, p->prio) < 0) {
        btd_picker_deinit(p);
        return -ENOMEM;
    }
    p->unclaimed = p->wanted = piece_count;
    p->band_unclaimed[BTD_PRIO_NORMAL - 1] = piece_count;
    p->rare[BTD_PRIO_NORMAL - 1][0] = piece_count;
    bt_random_bytes(&p->rng, sizeof(p->rng));
    p->rng |= 1; /* xorshift's state is never 0 */
    return 0;
}

static uint32_t bucket(uint16_t avail)
{
    return avail < BTD_PICKER_AVAIL_BUCKETS - 1 ? avail : BTD_PICKER_AVAIL_BUCKETS - 1;
}

void btd__picker_tally(struct btd_picker *p, uint32_t piece, bool add)
{
    uint32_t d = add ? 1 : UINT32_MAX; /* +1 or -1, modulo 2^32 */
    uint8_t prio = p->prio[piece];

    if (p->state[piece] == BTD_PIECE_UNCLAIMED && prio != BTD_PRIO_SKIP) {
        p->unclaimed += d;
        p->band_unclaimed[prio - 1] += d;
        p->rare[prio - 1][bucket(p->avail[piece])] += d;
    } else if (p->state[piece] == BTD_PIECE_HAVE) {
        p->have += d;
        p->wanted_have += prio != BTD_PRIO_SKIP ? d : 0;
    }
    p->wanted += prio != BTD_PRIO_SKIP ? d : 0;
}

/* Every change of a piece's state: keeps the counts and rare right. */
static void set_state(struct btd_picker *p, uint32_t piece, enum btd_piece_state state)
{
    btd__picker_tally(p, piece, false);
    p->state[piece] = (uint8_t)state;
    btd__picker_tally(p, piece, true);
}

/* Every change of a piece's availability. */
static void set_avail(struct btd_picker *p, uint32_t piece, uint16_t avail)
{
    btd__picker_tally(p, piece, false);
    p->avail[piece] = avail;
    btd__picker_tally(p, piece, true);
}

static void job_free(struct btd_job *j)
{
    if (!j)
        return;
    free(j->buf);
    free(j->reqs);
    free(j->got);
    free(j->src);
    free(j);
}

void btd_picker_deinit(struct btd_picker *p)
{
    struct btd_job *j, *next;
    uint32_t i;

    for (j = p->jobs; j; j = next) {
        next = j->next;
        job_free(j);
    }
    while (p->npool > 0)
        free(p->pool[--p->npool]);
    free(p->pool);
    free(p->state);
    free(p->avail);
    free(p->prio);
    for (i = 0; i < BTD_PICKER_BANDS; i++)
        free(p->runs[i]);
    memset(p, 0, sizeof(*p));
}

uint32_t btd_picker_piece_size(const struct btd_picker *p, uint32_t piece)
{
    uint64_t start = (uint64_t)piece * p->piece_length;
    uint64_t left = p->total_length - start;

    return (uint32_t)(left < p->piece_length ? left : p->piece_length);
}

void btd_picker_set_have(struct btd_picker *p, uint32_t piece)
{
    /* A piece with a job is left to the job: its own verdict comes. */
    if (piece >= p->piece_count || p->state[piece] != BTD_PIECE_UNCLAIMED)
        return;
    set_state(p, piece, BTD_PIECE_HAVE);
}

void btd_picker_peer_has(struct btd_picker *p, uint32_t piece)
{
    if (piece < p->piece_count && p->avail[piece] < UINT16_MAX)
        set_avail(p, piece, p->avail[piece] + 1);
}

void btd_picker_peer_lost(struct btd_picker *p, uint32_t piece)
{
    if (piece < p->piece_count && p->avail[piece] > 0)
        set_avail(p, piece, p->avail[piece] - 1);
}

struct btd_job *btd_picker_job(const struct btd_picker *p, uint32_t piece)
{
    struct btd_job *j;

    for (j = p->jobs; j; j = j->next) {
        if (j->index == piece)
            return j;
    }
    return NULL;
}

bool btd_picker_has_job(const struct btd_picker *p, const void *peer)
{
    struct btd_job *j;

    for (j = p->jobs; j; j = j->next) {
        if (j->owner == peer && j->buf)
            return true;
    }
    return false;
}

uint64_t btd_picker_have_bytes(const struct btd_picker *p)
{
    uint64_t bytes = (uint64_t)p->have * p->piece_length;
    uint32_t last = p->piece_count - 1;

    /* The last piece may be short. */
    if (p->piece_count && p->state[last] == BTD_PIECE_HAVE)
        bytes -= p->piece_length - btd_picker_piece_size(p, last);
    return bytes;
}

/* First block of j that nobody has asked for and that has not arrived. */
static int free_block(struct btd_job *j)
{
    uint32_t b;

    for (b = j->first_free; b < j->nblocks; b++) {
        if (!j->got[b] && j->reqs[b] == 0)
            break;
    }
    j->first_free = b;
    return b < j->nblocks ? (int)b : -1;
}

/* Block b may be free again (its request was cancelled, or its data dropped). */
static void block_freed(struct btd_job *j, uint32_t b)
{
    if (b < j->first_free)
        j->first_free = b;
}

/* A piece buffer, aligned for direct writes (see btd_storage_write). */
static uint8_t *new_buffer(uint32_t piece_length)
{
    size_t n = ((size_t)piece_length + BTD_STORAGE_ALIGN - 1) & ~(size_t)(BTD_STORAGE_ALIGN - 1);

    return aligned_alloc(BTD_STORAGE_ALIGN, n);
}

static struct btd_job *job_new(struct btd_picker *p, uint32_t piece, const void *owner)
{
    struct btd_job *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->index = piece;
    j->size = btd_picker_piece_size(p, piece);
    j->nblocks = (j->size + BTD_BLOCK_SIZE - 1) / BTD_BLOCK_SIZE;
    j->buf = p->npool > 0 ? p->pool[--p->npool] : new_buffer(p->piece_length);
    j->reqs = calloc(j->nblocks ? j->nblocks : 1, 1);
    j->got = calloc(j->nblocks ? j->nblocks : 1, 1);
    j->src = calloc(j->nblocks ? j->nblocks : 1, sizeof(*j->src));
    if (!j->buf || !j->reqs || !j->got || !j->src) {
        job_free(j);
        return NULL;
    }
    j->owner = owner;
    j->next = p->jobs;
    p->jobs = j;
    p->njobs++;
    set_state(p, piece, BTD_PIECE_PENDING);
    return j;
}

static int take(struct btd_job *j, uint32_t block, uint32_t *ret_piece, uint32_t *ret_begin,
                uint32_t *ret_len)
{
    uint32_t begin = block * BTD_BLOCK_SIZE;

    if (j->reqs[block] < UINT8_MAX)
        j->reqs[block]++;
    *ret_piece = j->index;
    *ret_begin = begin;
    *ret_len = j->size - begin < BTD_BLOCK_SIZE ? j->size - begin : BTD_BLOCK_SIZE;
    return 1;
}

/* End game: a block of someone else's job that this peer has not asked for. */
static int endgame_block(struct btd_picker *p, const struct btd_picker_peer *peer,
                         struct btd_job **ret_job)
{
    struct btd_job *j;
    uint32_t b;

    for (j = p->jobs; j; j = j->next) {
        if (!j->buf || !peer->has(peer->key, j->index))
            continue;
        for (b = 0; b < j->nblocks; b++) {
            if (j->got[b] || peer->requested(peer->key, j->index, b))
                continue;
            *ret_job = j;
            return (int)b;
        }
    }
    return -1;
}

int btd_picker_next(struct btd_picker *p, const struct btd_picker_peer *peer, uint32_t *ret_piece,
                    uint32_t *ret_begin, uint32_t *ret_len)
{
    struct btd_job *j, *help;
    int64_t piece;
    int b, help_block = -1;

    if (p->halted)
        return 0;
    /* Its own jobs first, then orphans it can serve. */
    for (j = p->jobs; j; j = j->next) {
        if (j->buf && j->owner == peer->key) {
            b = free_block(j);
            if (b >= 0)
                return take(j, (uint32_t)b, ret_piece, ret_begin, ret_len);
        }
    }
    for (j = p->jobs; j; j = j->next) {
        if (j->buf && !j->owner && peer->has(peer->key, j->index)) {
            b = free_block(j);
            if (b >= 0) {
                j->owner = peer->key;
                return take(j, (uint32_t)b, ret_piece, ret_begin, ret_len);
            }
        }
    }
    if (p->njobs < p->max_jobs) {
        piece = btd__picker_pick(p, peer);
        if (piece >= 0) {
            j = job_new(p, (uint32_t)piece, peer->key);
            if (!j)
                return -ENOMEM;
            return take(j, 0, ret_piece, ret_begin, ret_len);
        }
    }
    /* Every buffer taken: help with another peer's job rather than stand
     * idle, the oldest first (jobs are newest first), which frees its buffer soonest. */
    help = NULL;
    for (j = p->jobs; j; j = j->next) {
        if (j->buf && j->owner != peer->key && peer->has(peer->key, j->index)) {
            b = free_block(j);
            if (b >= 0) {
                help = j;
                help_block = b;
            }
        }
    }
    if (help)
        return take(help, (uint32_t)help_block, ret_piece, ret_begin, ret_len);
    if (p->unclaimed > 0 || !peer->requested)
        return 0;
    b = endgame_block(p, peer, &j);
    if (b < 0)
        return 0;
    return take(j, (uint32_t)b, ret_piece, ret_begin, ret_len);
}

void btd_picker_cancel(struct btd_picker *p, uint32_t piece, uint32_t begin)
{
    struct btd_job *j = btd_picker_job(p, piece);
    uint32_t block = begin / BTD_BLOCK_SIZE;

    if (j && j->buf && block < j->nblocks && j->reqs[block] > 0 && j->reqs[block] < UINT8_MAX) {
        j->reqs[block]--;
        block_freed(j, block);
    }
}

void btd_picker_peer_gone(struct btd_picker *p, const void *peer)
{
    struct btd_job *j;

    for (j = p->jobs; j; j = j->next) {
        if (j->owner == peer)
            j->owner = NULL;
    }
}

int btd_picker_block(struct btd_picker *p, uint32_t source_key, uint32_t piece, uint32_t begin,
                     const uint8_t *data, uint32_t len, struct btd_job **ret_job, bool *ret_dup)
{
    struct btd_job *j = btd_picker_job(p, piece);
    uint32_t block = begin / BTD_BLOCK_SIZE, want;

    *ret_dup = false;
    if (piece < p->piece_count &&
        (p->state[piece] == BTD_PIECE_HAVE || p->state[piece] == BTD_PIECE_VERIFYING)) {
        *ret_dup = true; /* end game: another copy won */
        return 0;
    }
    if (!j || begin % BTD_BLOCK_SIZE != 0 || block >= j->nblocks)
        return -EBADMSG;
    want = j->size - begin < BTD_BLOCK_SIZE ? j->size - begin : BTD_BLOCK_SIZE;
    if (len != want)
        return -EBADMSG;
    if (j->got[block]) {
        *ret_dup = true;
        return 0;
    }
    memcpy(j->buf + begin, data, len);
    j->got[block] = 1;
    j->received++;
    j->src[block] = source_key;
    if (j->received < j->nblocks)
        return 0;
    set_state(p, piece, BTD_PIECE_VERIFYING);
    *ret_job = j;
    return 1;
}

void btd_picker_drop_source(struct btd_picker *p, uint32_t source_key)
{
    struct btd_job *j;
    uint32_t b;

    for (j = p->jobs; j; j = j->next) {
        for (b = 0; j->buf && b < j->nblocks; b++) {
            if (j->got[b] && j->src[b] == source_key) {
                j->got[b] = 0;
                j->received--;
                block_freed(j, b);
            }
        }
    }
}

void btd_picker_recycle(struct btd_picker *p, uint8_t *buf)
{
    if (buf && p->npool < p->max_jobs)
        p->pool[p->npool++] = buf;
    else
        free(buf);
}

uint8_t *btd_picker_take_buffer(struct btd_job *job)
{
    uint8_t *buf = job->buf;

    job->buf = NULL;
    return buf;
}

void btd_picker_drop_jobs(struct btd_picker *p)
{
    struct btd_job **pp = &p->jobs, *j;

    while ((j = *pp)) {
        if (p->state[j->index] != BTD_PIECE_PENDING) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        p->njobs--;
        set_state(p, j->index, BTD_PIECE_UNCLAIMED);
        btd_picker_recycle(p, btd_picker_take_buffer(j));
        job_free(j);
    }
}

void btd_picker_forget(struct btd_picker *p)
{
    uint32_t i;

    btd_picker_drop_jobs(p);
    p->halted = false;
    for (i = 0; i < p->piece_count; i++) {
        if (p->state[i] == BTD_PIECE_HAVE)
            set_state(p, i, BTD_PIECE_UNCLAIMED);
    }
}

void btd_picker_verified(struct btd_picker *p, uint32_t piece, bool ok)
{
    struct btd_job **pp, *j;

    for (pp = &p->jobs; *pp; pp = &(*pp)->next) {
        if ((*pp)->index == piece)
            break;
    }
    j = *pp;
    if (!j || p->state[piece] != BTD_PIECE_VERIFYING)
        return;
    *pp = j->next;
    p->njobs--;
    job_free(j);
    set_state(p, piece, ok ? BTD_PIECE_HAVE : BTD_PIECE_UNCLAIMED);
}
