#include "work.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "sha1_lanes.h"

/* One job. Owned by the pool's queue while it waits, by libuv while it runs. */
struct job {
    struct job *next; /* FIFO link while queued */
    struct job *gang; /* CHECK: the jobs hashed in lanes with this one (a chain), owned */
    uv_work_t req;
    struct btd_work_pool *pool;  /* borrowed; touched only on the loop thread */
    struct btd_storage *storage; /* one reference */
    enum btd_work_kind kind;
    uint32_t torrent_id;
    uint32_t piece;
    uint64_t offset; /* bytes into the torrent */
    uint8_t *buf;    /* owned; NULL until a READ allocates it (CHECK reads in chunks) */
    size_t len;      /* bytes */
    uint8_t hash[BT_SHA1_LEN];
    bool hash_ok;  /* written by the worker */
    int status;    /* written by the worker */
    uint32_t file; /* written by the worker: the file a failure is about, or BTD_WORK_NO_FILE */
    void *user;
    const struct btd_work_call_ops *ops; /* CALL: borrowed; frees user with the job */
};

struct btd_work_pool {
    uv_loop_t *loop; /* borrowed */
    btd_work_done_cb cb;
    void *data;       /* passed to cb */
    size_t inflight;  /* jobs handed to libuv and not completed */
    struct job *head; /* FIFO of jobs waiting for a slot */
    struct job *tail;
    unsigned lanes;           /* SHA-1 lanes of this CPU: CHECK jobs run in gangs of that many */
    unsigned held;            /* btd_work_hold calls not yet released: submissions only queue */
    bool closing;             /* btd_work_pool_free was called: drop results, free on the last */
    void (*idle)(void *data); /* set by btd_work_pool_drain until it has run */
    void *idle_data;
};

int btd_work_pool_new(struct btd_work_pool **ret, uv_loop_t *loop, btd_work_done_cb cb, void *data)
{
    struct btd_work_pool *p;

    if (!loop || !cb)
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->cb = cb;
    p->data = data;
    p->lanes = bt_sha1_lanes_width();
    *ret = p;
    return 0;
}

size_t btd_work_pool_inflight(const struct btd_work_pool *p)
{
    return p->inflight;
}

static void job_free(struct job *job)
{
    if (job->ops && job->ops->free_arg)
        job->ops->free_arg(job->user);
    free(job->buf);
    btd_storage_unref(job->storage);
    free(job);
}

void btd_work_pool_free(struct btd_work_pool *p)
{
    struct job *job;

    if (!p || p->closing)
        return;
    p->closing = true;
    while (p->head) {
        job = p->head;
        p->head = job->next;
        job_free(job);
    }
    p->tail = NULL;
    if (p->inflight == 0)
        free(p);
}

/*
 * Worker thread: only the job (and its gang) is touched. A CHECK's verdict
 * from the digest of its piece and the status of reading it.
 */
static void check_verdict(struct job *job, int status, const uint8_t digest[BT_SHA1_LEN])
{
    job->status = status;
    /* Not on disk yet: for a recheck the piece is missing, not an error. */
    if (status == -ENOENT || status == -ENODATA) {
        job->status = 0;
        job->file = BTD_WORK_NO_FILE;
        return;
    }
    job->hash_ok = status == 0 && memcmp(digest, job->hash, BT_SHA1_LEN) == 0;
}

/* Hashes a CHECK job's piece from disk; the result has no buffer. */
static void check_piece(struct job *job)
{
    uint8_t digest[BT_SHA1_LEN];
    struct bt_sha1 sha;
    int r = bt_sha1_init(&sha);

    if (r < 0) {
        job->status = r;
        return;
    }
    r = btd_storage_hash(job->storage, job->offset, job->len, &sha, &job->file);
    bt_sha1_final(&sha, digest);
    check_verdict(job, r, digest);
}

/* A gang of CHECK jobs (same storage and length): their pieces hashed in lanes. */
static void check_gang(struct job *job)
{
    struct job *m[BT_SHA1_LANES_MAX], *j;
    uint64_t off[BT_SHA1_LANES_MAX];
    uint8_t digest[BT_SHA1_LANES_MAX][BT_SHA1_LEN];
    int status[BT_SHA1_LANES_MAX];
    uint32_t file[BT_SHA1_LANES_MAX];
    unsigned n = 0, i;
    int r;

    for (j = job; j && n < BT_SHA1_LANES_MAX; j = j->gang) {
        m[n] = j;
        off[n++] = j->offset;
    }
    /* gather_gang made it of bt_sha1_lanes_min (at least) of the pool's lanes, this CPU's */
    r = btd_storage_hash_lanes(job->storage, bt_sha1_lanes_width(), n, off, job->len, digest,
                               status, file);
    if (r < 0) { /* no lanes after all (-ENOMEM): one at a time */
        for (i = 0; i < n; i++)
            check_piece(m[i]);
        return;
    }
    for (i = 0; i < n; i++) {
        if (status[i] < 0)
            m[i]->file = file[i];
        check_verdict(m[i], status[i], digest[i]);
    }
}

static void on_work(uv_work_t *req)
{
    struct job *job = req->data;
    uint8_t digest[BT_SHA1_LEN];

    if (job->kind == BTD_WORK_DELETE) {
        job->status = btd_storage_delete(job->storage);
        return;
    }
    if (job->kind == BTD_WORK_CALL) {
        job->status = job->ops->fn(job->user, job->storage);
        return;
    }
    if (job->kind == BTD_WORK_CHECK) {
        if (job->gang)
            check_gang(job);
        else
            check_piece(job);
        return;
    }
    if (job->kind != BTD_WORK_VERIFY_WRITE) {
        job->buf = malloc(job->len ? job->len : 1);
        if (!job->buf) {
            job->status = -ENOMEM;
            return;
        }
        job->status = btd_storage_read(job->storage, job->offset, job->buf, job->len, &job->file);
    }
    if (job->kind != BTD_WORK_VERIFY_WRITE && job->status < 0) {
        free(job->buf);
        job->buf = NULL;
        return;
    }
    if (job->kind == BTD_WORK_READ)
        return;
    bt_sha1(digest, job->buf, job->len);
    job->hash_ok = memcmp(digest, job->hash, BT_SHA1_LEN) == 0;
    if (job->kind == BTD_WORK_VERIFY_WRITE && job->hash_ok)
        job->status = btd_storage_write(job->storage, job->offset, job->buf, job->len, &job->file);
}

static void on_after_work(uv_work_t *req, int status);

/* Draining and nothing left: tells the drainer (who may free the pool). */
static void check_idle(struct btd_work_pool *p)
{
    void (*idle)(void *data) = p->idle;

    if (!idle || p->inflight > 0 || p->head)
        return;
    p->idle = NULL;
    idle(p->idle_data);
}

/* Hands job's result to its callback. */
static void deliver(struct btd_work_pool *p, struct job *job)
{
    struct btd_work_result res = {
        .kind = job->kind,
        .torrent_id = job->torrent_id,
        .piece = job->piece,
        .offset = job->offset,
        .buf = job->buf,
        .len = job->len,
        .hash_ok = job->hash_ok,
        .status = job->status,
        .file = job->status < 0 ? job->file : BTD_WORK_NO_FILE,
        .user = job->user,
        .storage = job->storage,
    };

    job->buf = NULL;
    /* may submit more, or free the pool */
    if (job->kind != BTD_WORK_CALL)
        p->cb(p->data, &res);
    else if (job->ops->done)
        job->ops->done(p->data, &res);
    free(res.buf);
}

/*
 * Delivers the results of job and its gang (while the pool is not closing)
 * and frees them. Returns false if the pool is closing, and frees it after
 * its last job.
 */
static bool complete(struct job *job)
{
    struct btd_work_pool *p = job->pool;
    struct job *next;

    for (; job; job = next) {
        next = job->gang;
        if (!p->closing)
            deliver(p, job);
        job_free(job);
    }
    p->inflight--; /* only now: a free from inside cb must not free p under us */
    if (!p->closing)
        return true;
    if (p->inflight == 0)
        free(p);
    return false;
}

/*
 * CHECK jobs queued right behind job, of its storage and length, join its
 * gang, up to the CPU's SHA-1 lanes: one worker hashes their pieces at
 * once (check_gang).
 */
static void gather_gang(struct btd_work_pool *p, struct job *job)
{
    struct job **end = &job->gang, *j;
    unsigned n = 1;

    for (j = p->head; n < p->lanes && j && j->kind == BTD_WORK_CHECK &&
                      j->storage == job->storage && j->len == job->len;
         j = j->next)
        n++;
    if (n < bt_sha1_lanes_min(p->lanes))
        return; /* too few for lanes: each on a thread of its own */
    while (--n > 0) {
        *end = p->head;
        p->head = p->head->next;
        (*end)->next = NULL;
        end = &(*end)->gang;
    }
    if (!p->head)
        p->tail = NULL;
}

/* Hands queued jobs to libuv while there is room. */
static void pump(struct btd_work_pool *p)
{
    struct job *job;
    int r;

    while (!p->held && p->inflight < BTD_WORK_MAX_INFLIGHT && p->head) {
        job = p->head;
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        job->next = NULL;
        if (job->kind == BTD_WORK_CHECK && p->lanes > 1)
            gather_gang(p, job);
        p->inflight++;
        r = uv_queue_work(p->loop, &job->req, on_work, on_after_work);
        for (struct job *j = job; r < 0 && j; j = j->gang)
            j->status = r;
        if (r < 0 && !complete(job))
            return;
    }
}

static void on_after_work(uv_work_t *req, int status)
{
    struct job *job = req->data;
    struct btd_work_pool *p = job->pool;

    for (struct job *j = job; status == UV_ECANCELED && j; j = j->gang) {
        j->status = UV_ECANCELED;
        j->hash_ok = false;
    }
    if (complete(job)) {
        pump(p);
        check_idle(p);
    }
}

/* Starts job now if there is room and nobody waits, else queues it. */
static int submit(struct btd_work_pool *p, struct job *job)
{
    int r;

    if (p->inflight < BTD_WORK_MAX_INFLIGHT && !p->head && !p->held) {
        p->inflight++;
        r = uv_queue_work(p->loop, &job->req, on_work, on_after_work);
        if (r < 0) {
            p->inflight--;
            job_free(job);
        }
        return r;
    }
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    return 0;
}

static struct job *job_new(struct btd_work_pool *p, enum btd_work_kind kind, uint32_t torrent_id,
                           struct btd_storage *s, uint32_t piece, uint64_t offset, size_t len,
                           void *user)
{
    struct job *job = calloc(1, sizeof(*job));

    if (!job)
        return NULL;
    job->req.data = job;
    job->pool = p;
    job->storage = btd_storage_ref(s);
    job->kind = kind;
    job->torrent_id = torrent_id;
    job->piece = piece;
    job->offset = offset;
    job->len = len;
    job->user = user;
    job->file = BTD_WORK_NO_FILE;
    return job;
}

static int check_args(const struct btd_work_pool *p, const struct btd_storage *s, size_t len)
{
    if (!p || !s)
        return -EINVAL;
    if (p->closing)
        return -ESHUTDOWN;
    if ((uint64_t)len > BT_METAINFO_MAX_PIECE_LENGTH)
        return -EMSGSIZE;
    return 0;
}

void btd_work_hold(struct btd_work_pool *p)
{
    p->held++;
}

void btd_work_release(struct btd_work_pool *p)
{
    if (p->held > 0 && --p->held == 0 && !p->closing)
        pump(p);
}

int btd_work_verify_write(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                          uint32_t piece, uint64_t offset, uint8_t *buf, size_t len,
                          const uint8_t hash[20], void *user)
{
    struct job *job;
    int r = check_args(p, s, len);

    if (r == 0 && (!buf || !hash))
        r = -EINVAL;
    if (r < 0) {
        free(buf);
        return r;
    }
    job = job_new(p, BTD_WORK_VERIFY_WRITE, torrent_id, s, piece, offset, len, user);
    if (!job) {
        free(buf);
        return -ENOMEM;
    }
    job->buf = buf;
    memcpy(job->hash, hash, BT_SHA1_LEN);
    return submit(p, job);
}

int btd_work_read(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                  uint32_t piece, uint64_t offset, size_t len, void *user)
{
    struct job *job;
    int r = check_args(p, s, len);

    if (r < 0)
        return r;
    job = job_new(p, BTD_WORK_READ, torrent_id, s, piece, offset, len, user);
    if (!job)
        return -ENOMEM;
    return submit(p, job);
}

int btd_work_check(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                   uint32_t piece, uint64_t offset, size_t len, const uint8_t hash[20], void *user)
{
    struct job *job;
    int r = check_args(p, s, len);

    if (r == 0 && !hash)
        r = -EINVAL;
    if (r < 0)
        return r;
    job = job_new(p, BTD_WORK_CHECK, torrent_id, s, piece, offset, len, user);
    if (!job)
        return -ENOMEM;
    memcpy(job->hash, hash, BT_SHA1_LEN);
    return submit(p, job);
}

int btd_work_delete(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s)
{
    struct job *job;
    int r = check_args(p, s, 0);

    if (r < 0)
        return r;
    job = job_new(p, BTD_WORK_DELETE, torrent_id, s, 0, 0, 0, NULL);
    if (!job)
        return -ENOMEM;
    return submit(p, job);
}

int btd_work_call(struct btd_work_pool *p, uint32_t torrent_id, struct btd_storage *s,
                  const struct btd_work_call_ops *ops, void *arg)
{
    struct job *job = NULL;
    int r = !p ? -EINVAL : p->closing ? -ESHUTDOWN : 0; /* s may be NULL */

    if (r == 0 && (!ops || !ops->fn))
        r = -EINVAL;
    if (r == 0) {
        job = job_new(p, BTD_WORK_CALL, torrent_id, s, 0, 0, 0, arg);
        if (!job)
            r = -ENOMEM;
    }
    if (r < 0) {
        if (ops && ops->free_arg)
            ops->free_arg(arg);
        return r;
    }
    job->ops = ops;
    return submit(p, job);
}

void btd_work_pool_drain(struct btd_work_pool *p, void (*idle)(void *data), void *data)
{
    struct job **pp = &p->head, *job;

    p->tail = NULL;
    while (*pp) {
        job = *pp;
        if (job->kind == BTD_WORK_READ || job->kind == BTD_WORK_CHECK ||
            (job->kind == BTD_WORK_CALL && job->ops->drop_when_draining)) {
            *pp = job->next;
            job_free(job);
        } else {
            p->tail = job;
            pp = &job->next;
        }
    }
    p->idle = idle;
    p->idle_data = data;
    check_idle(p);
}
