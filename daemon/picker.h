/*
 * picker: one torrent's piece job queues. Loop thread only; no I/O.
 *
 * Every wanted piece is in exactly one queue:
 *   unclaimed  - wanted, no buffer, nobody working on it;
 *   pending    - a job: a piece buffer with blocks requested or received,
 *                owned by one peer (or orphaned when that peer left);
 *   verifying  - complete, handed to a worker for SHA-1 + write;
 *   have       - verified and on disk.
 * A peer with nothing to do is "unemployed" (the torrent counts those).
 *
 * Picking: a peer first continues its own jobs, then adopts an orphaned
 * job, then claims an unclaimed piece it has, while fewer than max_jobs
 * pieces are in flight: of the highest priority it can serve, the rarest
 * (random tie-break). With every buffer taken, it asks for free blocks of
 * other peers' jobs (pieces it has), so max_jobs bounds memory, not the
 * number of peers sending at once. A piece of priority SKIP (it touches no wanted file)
 * is never claimed, and is counted in neither `unclaimed` nor the rarity
 * histograms; a torrent is complete when every piece not SKIP is had. When nothing is
 * unclaimed (end game) it may also request blocks of other peers' jobs
 * that it has not requested itself; the first copy wins and the torrent
 * cancels the others.
 *
 * Bounded memory: at most max_jobs piece buffers exist at once.
 * Peers are opaque keys (void *) to the picker: it never dereferences them.
 */
#ifndef BTD_PICKER_H
#define BTD_PICKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BTD_BLOCK_SIZE 16384u /* bytes per request */

/* A piece's priority: the highest of the wanted files it touches (picker_prio.c). */
enum btd_piece_prio {
    BTD_PRIO_SKIP = 0, /* touches no wanted file: never claimed */
    BTD_PRIO_LOW,
    BTD_PRIO_NORMAL, /* every piece's at init */
    BTD_PRIO_HIGH,
};
#define BTD_PICKER_BANDS 3 /* LOW, NORMAL, HIGH: band = priority - 1 */

/* What the user chose for one file of a torrent. */
struct btd_file_choice {
    bool wanted;  /* false: skipped (its pieces are fetched only for other files) */
    uint8_t prio; /* BTD_PRIO_LOW, BTD_PRIO_NORMAL or BTD_PRIO_HIGH */
};

/* Pieces first .. first + count - 1, the pos-th of their band onwards. */
struct btd_picker_run {
    uint32_t first, count;
    uint32_t pos; /* pieces of the band in the runs before this one */
};

enum btd_piece_state {
    BTD_PIECE_UNCLAIMED = 0,
    BTD_PIECE_PENDING,
    BTD_PIECE_VERIFYING,
    BTD_PIECE_HAVE,
};

struct btd_job {
    struct btd_job *next;
    uint32_t index;
    uint32_t size; /* bytes in this piece */
    uint32_t nblocks;
    uint32_t received;   /* blocks in buf */
    uint8_t *buf;        /* owned: size bytes, NULL once handed to a worker */
    uint8_t *reqs;       /* owned: per block, requests outstanding (saturates at 255) */
    uint8_t *got;        /* owned: per block, 1 once received */
    uint32_t first_free; /* no block below it is free to ask for (free_block's start) */
    const void *owner;   /* borrowed key of the peer on it; NULL = orphaned */
    uint32_t *src;       /* owned: per block, address-book id of its sender (blame) */
};

#define BTD_PICKER_AVAIL_BUCKETS 64 /* more than max_peers_torrent's default (50) */

struct btd_picker {
    uint32_t piece_count;
    uint64_t piece_length; /* bytes */
    uint64_t total_length; /* bytes */
    uint8_t *state;        /* owned: enum btd_piece_state per piece */
    uint16_t *avail;       /* owned: connected peers that have each piece */
    struct btd_job *jobs;  /* owned: pending jobs, newest first */
    uint32_t njobs;        /* pending + verifying pieces (each holds a buffer) */
    uint32_t max_jobs;
    uint32_t unclaimed;   /* pieces in BTD_PIECE_UNCLAIMED, SKIP ones left out */
    uint32_t have;        /* pieces in BTD_PIECE_HAVE, SKIP ones included */
    uint8_t *prio;        /* owned: enum btd_piece_prio per piece */
    uint32_t wanted;      /* pieces whose priority is not SKIP */
    uint32_t wanted_have; /* ... of them in BTD_PIECE_HAVE */
    /*
     * Unclaimed pieces not SKIP, by band and availability (the last
     * bucket: that many or more): the claim's scan stops at a piece no
     * unclaimed piece of its band is rarer than, instead of reading every
     * piece (O(pieces) per claim).
     */
    uint32_t rare[BTD_PICKER_BANDS][BTD_PICKER_AVAIL_BUCKETS];
    uint32_t band_unclaimed[BTD_PICKER_BANDS];
    /*
     * Each band's pieces as runs in piece order (files are contiguous, so
     * there are few): a claim walks its band only, however small.
     */
    struct btd_picker_run *runs[BTD_PICKER_BANDS]; /* owned */
    uint32_t nruns[BTD_PICKER_BANDS];
    uint32_t band_size[BTD_PICKER_BANDS]; /* pieces */
    uint64_t scanned; /* pieces claims looked at since init: the claim cost, for tests */
    uint32_t rng;     /* xorshift32 state: where a claim's scan starts (ties) */
    uint8_t **pool;   /* owned: spare piece buffers (piece_length bytes each) */
    uint32_t npool;
    bool halted; /* no block is handed out (the torrent stopped downloading: a disk fault) */
};

/* Why a peer may be asked for a block: the peer's pieces as a callback. */
typedef bool (*btd_picker_has_cb)(const void *peer, uint32_t piece);
/* True if peer already has a request out for (piece, block). End game only. */
typedef bool (*btd_picker_requested_cb)(const void *peer, uint32_t piece, uint32_t block);

struct btd_picker_peer {
    const void *key; /* borrowed: the peer */
    btd_picker_has_cb has;
    btd_picker_requested_cb requested;
};

/* All pieces start unclaimed, of priority NORMAL. 0 or -ENOMEM. */
int btd_picker_init(struct btd_picker *p, uint32_t piece_count, uint64_t piece_length,
                    uint64_t total_length, uint32_t max_jobs);
void btd_picker_deinit(struct btd_picker *p);

uint32_t btd_picker_piece_size(const struct btd_picker *p, uint32_t piece);
/*
 * Marks an unclaimed piece as verified on disk (resume, recheck); a piece
 * with a job in flight is left alone.
 */
void btd_picker_set_have(struct btd_picker *p, uint32_t piece);

/* Availability: call as peers announce and leave. */
void btd_picker_peer_has(struct btd_picker *p, uint32_t piece);
void btd_picker_peer_lost(struct btd_picker *p, uint32_t piece);

/*
 * Chooses the next block for peer. Returns 1 with the block in ret_*,
 * 0 if there is nothing it can do (or the picker is halted), -ENOMEM. The block's request count is
 * raised; release it with btd_picker_cancel if it never arrives.
 */
int btd_picker_next(struct btd_picker *p, const struct btd_picker_peer *peer, uint32_t *ret_piece,
                    uint32_t *ret_begin, uint32_t *ret_len);
/* A request for (piece, begin) will not be answered (choke, timeout, drop). */
void btd_picker_cancel(struct btd_picker *p, uint32_t piece, uint32_t begin);
/* peer is gone: its jobs become orphans. Call after cancelling its requests. */
void btd_picker_peer_gone(struct btd_picker *p, const void *peer);

/*
 * A block arrived. Returns 1 when it completed its piece (the job is then
 * in VERIFYING and returned in *ret_job), 0 when stored or a duplicate
 * (end game: *ret_dup true), -EBADMSG when (piece, begin, len) does not
 * name a block we want (never requested, wrong size, piece not pending).
 * source_key identifies the sender for blame (an address-book id).
 */
int btd_picker_block(struct btd_picker *p, uint32_t source_key, uint32_t piece, uint32_t begin,
                     const uint8_t *data, uint32_t len, struct btd_job **ret_job, bool *ret_dup);
/*
 * Takes the buffer of a job in VERIFYING (for the hash+write job). Every
 * piece buffer is piece_length bytes, whatever the piece's size, so that
 * buffers can be reused.
 */
uint8_t *btd_picker_take_buffer(struct btd_job *job);
/*
 * Gives a piece buffer back for reuse (kept up to max_jobs, else freed):
 * reusing buffers spares a page fault per page of every new piece.
 */
void btd_picker_recycle(struct btd_picker *p, uint8_t *buf);
/* Forgets every block a banned sender gave to pending pieces (fetched again). */
void btd_picker_drop_source(struct btd_picker *p, uint32_t source_key);
/*
 * Every pending job (with the blocks it holds) goes back to unclaimed; jobs
 * being verified keep theirs. Call with no requests outstanding.
 */
void btd_picker_drop_jobs(struct btd_picker *p);
/*
 * Before a recheck: every verified piece and every pending job (with the
 * blocks it holds) goes back to unclaimed, and a halted picker runs again.
 * Pieces being verified keep their jobs: their verdict still comes. Call
 * with no requests outstanding.
 */
void btd_picker_forget(struct btd_picker *p);
/* The verdict on a VERIFYING piece: have on success, back to unclaimed on failure. */
void btd_picker_verified(struct btd_picker *p, uint32_t piece, bool ok);

/*
 * Sets every piece's priority (prio: piece_count enum btd_piece_prio).
 * Jobs in flight are left to finish whatever their piece's new priority.
 * 0, or -ENOMEM with nothing changed.
 */
int btd_picker_set_priorities(struct btd_picker *p, const uint8_t *prio);
/* Bytes of the pieces not SKIP, and of those of them verified. */
uint64_t btd_picker_wanted_bytes(const struct btd_picker *p);
uint64_t btd_picker_wanted_have_bytes(const struct btd_picker *p);

/* The pending job for piece, or NULL. */
struct btd_job *btd_picker_job(const struct btd_picker *p, uint32_t piece);
/* True if peer owns a pending job. */
bool btd_picker_has_job(const struct btd_picker *p, const void *peer);
/* Bytes of verified data. */
uint64_t btd_picker_have_bytes(const struct btd_picker *p);
/* True once every wanted piece (not SKIP) is verified: done, for the user. */
static inline bool btd_picker_complete(const struct btd_picker *p)
{
    return p->wanted_have == p->wanted;
}
/* True once every piece of the torrent is verified: a seed. */
static inline bool btd_picker_all_had(const struct btd_picker *p)
{
    return p->have == p->piece_count;
}

#endif
