/*
 * work: jobs for the libuv worker pool. Loop thread submits and receives;
 * the work itself runs on a worker thread and touches only what the job
 * owns (its buffer, a storage reference, the expected hash).
 *
 * Each job refers back to its torrent by id, never by pointer: the loop
 * re-validates in the completion callback (the torrent may be gone). The
 * number of jobs in flight is capped per pool (BTD_WORK_MAX_INFLIGHT)
 * because libuv's pool is shared with DNS requests; jobs over the cap wait
 * in a FIFO and are submitted as others finish.
 */
#ifndef BTD_WORK_H
#define BTD_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "storage.h"

/*
 * libuv runs 4 threads: 4 jobs run and 2 wait in libuv's own queue, so a
 * worker that finishes starts the next without a round trip through the
 * loop (which, with both cores hashing, first has to be scheduled): a 2 GiB
 * recheck took 1.40 s with 3 in flight, 1.18 s with 4 and 1.07 s with 6. A
 * UDP tracker's DNS lookup queues behind at most the 2 waiting jobs.
 */
#define BTD_WORK_MAX_INFLIGHT 6
#define BTD_WORK_NO_FILE UINT32_MAX /* a result's status is no one file's */

struct btd_work_pool;

enum btd_work_kind {
    BTD_WORK_VERIFY_WRITE, /* SHA-1 the buffer; if it matches, write it */
    BTD_WORK_READ,         /* read a span (a block to upload) */
    BTD_WORK_CHECK,        /* read a piece back from disk and SHA-1 it (recheck) */
    BTD_WORK_DELETE,       /* delete the torrent's files (torrent.remove delete_data) */
    BTD_WORK_CALL,         /* a function of another module, with its own callback (a resume save) */
};

/* What a finished job reports back, on the loop thread. */
struct btd_work_result {
    enum btd_work_kind kind;
    uint32_t torrent_id; /* the session's id of the torrent, to look it up again */
    uint32_t piece;
    uint64_t offset; /* READ: torrent offset read */
    uint8_t *buf;    /* owned by the result during the callback; taken if set to NULL */
    size_t len;      /* bytes */
    bool hash_ok;    /* VERIFY_WRITE and CHECK */
    int status;      /* 0 or -errno from storage */
    uint32_t file;   /* the file (metainfo order) a failed status is about, or BTD_WORK_NO_FILE */
    void *user;      /* opaque, passed through */
    const struct btd_storage *storage; /* borrowed: the job's, to compare (a moved torrent) */
};

typedef void (*btd_work_done_cb)(void *data, struct btd_work_result *res);

/* cb gets every job's result but a CALL's (which goes to the CALL's own done). */
int btd_work_pool_new(struct btd_work_pool **ret, uv_loop_t *loop, btd_work_done_cb cb, void *data);
/*
 * Frees the pool when no job is in flight, else marks it and frees on the
 * last completion (whose results are dropped). Queued jobs are dropped.
 */
void btd_work_pool_free(struct btd_work_pool *p);
size_t btd_work_pool_inflight(const struct btd_work_pool *p);
/*
 * Shutting down, before btd_work_pool_free: queued READ and CHECK jobs, and
 * CALLs whose ops say drop_when_draining, are dropped (their free_arg runs,
 * their done does not); the other jobs (writes of verified pieces above all) run and
 * their results are delivered as usual. idle(data) runs once nothing is
 * queued or in flight, from inside this call if nothing is; it may free
 * the pool.
 */
void btd_work_pool_drain(struct btd_work_pool *p, void (*idle)(void *data), void *data);

/*
 * Jobs submitted between btd_work_hold and btd_work_release (nested) only
 * queue; the release starts what fits. A recheck queues its CHECK jobs so:
 * started one by one they would run one by one, queued they run in gangs
 * of the CPU's SHA-1 lanes (sha1_lanes.h), each gang on one worker. No
 * loop iteration and no btd_work_pool_free between the two.
 */
void btd_work_hold(struct btd_work_pool *p);
void btd_work_release(struct btd_work_pool *p);

/*
 * Submits a job. buf is stolen, also when submission fails (freed by the
 * pool if the result's buf is not taken); storage is referenced for the
 * job's life; hash is copied. len is at most BT_METAINFO_MAX_PIECE_LENGTH
 * (-EMSGSIZE). The result's buf is the piece (VERIFY_WRITE) or the bytes
 * read (READ; NULL when the read failed); CHECK reads and hashes in chunks
 * and gives no buffer. CHECK reports a piece whose file is missing or short
 * as hash_ok false with status 0.
 */
int btd_work_verify_write(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                          uint32_t piece, uint64_t offset, uint8_t *buf, size_t len,
                          const uint8_t hash[20], void *user);
int btd_work_read(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                  uint32_t piece, uint64_t offset, size_t len, void *user);
int btd_work_check(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                   uint32_t piece, uint64_t offset, size_t len, const uint8_t hash[20], void *user);

/*
 * A function of another module as a job (btd_work_call): fn(arg, s) runs on
 * a worker (s may be NULL) and its return is the result's status; then
 * done(data, res), if set, runs on the loop thread in place of the pool's
 * callback (data is the pool's, res->user is arg, valid during the call).
 * free_arg, if set, frees arg afterwards, also when the result is dropped.
 */
struct btd_work_call_ops {
    int (*fn)(void *arg, struct btd_storage *s);
    btd_work_done_cb done;
    void (*free_arg)(void *arg);
    bool drop_when_draining; /* read-only work: dropped like READ and CHECK (pool_drain) */
};

/* Submits a CALL; ops must outlive the job (a static const). arg is stolen, also on failure
 * (freed with ops->free_arg, so not when ops is NULL). */
int btd_work_call(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                  const struct btd_work_call_ops *ops, void *arg);

/* Deletes the torrent's files and empty directories; status in the result. */
int btd_work_delete(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s);

#endif
