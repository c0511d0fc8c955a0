/*
 * hasher: piece hashing spread over worker threads (see hasher.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "hasher.h"
#include "sha1.h"
#include "sha1_lanes.h"

struct hasher {
    const struct btctl_payload *p; /* borrowed */
    uint64_t piece_length;         /* bytes */
    uint32_t piece_count;
    uint8_t *pieces;           /* borrowed; each worker writes only its own pieces */
    atomic_uint_fast32_t done; /* pieces hashed */
    atomic_bool stop;          /* set on the first error */
    pthread_mutex_t lock;      /* guards running, error and err */
    pthread_cond_t cond;       /* signalled when a worker ends */
    unsigned running;
    int error; /* the first error, 0 if none */
    struct bt_error err;
};

/* Bytes of each piece read at a time while pieces are hashed in lanes. */
#define LANE_CHUNK ((uint64_t)128 << 10)
_Static_assert(LANE_CHUNK % BT_SHA1_BLOCK == 0, "lanes are fed whole blocks but for the last");

struct worker {
    struct hasher *h; /* borrowed */
    uint32_t first;   /* pieces [first, end) */
    uint32_t end;
    size_t file; /* index of the open file, or SIZE_MAX */
    int fd;
    uint8_t *buf; /* owned; one chunk, or one LANE_CHUNK per lane */
    pthread_t tid;
};

static void fail(struct hasher *h, int code, const char *path, const char *reason)
{
    pthread_mutex_lock(&h->lock);
    if (h->error == 0)
        h->error = bt_error_set(&h->err, code, "%s: %s", path, reason);
    pthread_mutex_unlock(&h->lock);
    atomic_store(&h->stop, true);
}

/* Index of the file holding byte pos: the first whose end lies past pos. */
static size_t find_file(const struct btctl_payload *p, uint64_t pos)
{
    size_t lo = 0;
    size_t hi = p->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p->files[mid].offset + p->files[mid].length > pos)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int open_file(struct worker *w, size_t i)
{
    const char *path = w->h->p->files[i].fs_path;
    int e;

    if (w->file == i)
        return 0;
    if (w->fd >= 0)
        close(w->fd);
    w->file = SIZE_MAX;
    w->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0) {
        e = errno;
        fail(w->h, -e, path, strerror(e));
        return -e;
    }
    w->file = i;
    return 0;
}

/*
 * Reads len bytes of the payload at pos, across files; with buf NULL, asks
 * the kernel to read them ahead instead. 0, or -errno (reported).
 */
static int read_span(struct worker *w, uint64_t pos, uint8_t *buf, size_t len)
{
    const struct btctl_payload *p = w->h->p;
    size_t i = find_file(p, pos);

    while (len > 0 && i < p->count) {
        const struct btctl_payload_file *f = &p->files[i];
        uint64_t in_file = pos - f->offset;
        size_t n = len;
        ssize_t got;
        int r;

        if (f->offset + f->length <= pos) {
            i++; /* an empty file */
            continue;
        }
        if (f->length - in_file < n)
            n = (size_t)(f->length - in_file);
        r = open_file(w, i);
        if (r < 0)
            return r;
        if (!buf) { /* ahead: lanes read pieces side by side */
            posix_fadvise(w->fd, (off_t)in_file, (off_t)n, POSIX_FADV_WILLNEED);
            pos += n;
            len -= n;
            continue;
        }
        got = pread(w->fd, buf, n, (off_t)in_file);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r = -errno;
            fail(w->h, r, f->fs_path, strerror(-r));
            return r;
        }
        if (got == 0) {
            fail(w->h, -EIO, f->fs_path, "file shrank while being hashed");
            return -EIO;
        }
        buf += got;
        pos += (uint64_t)got;
        len -= (size_t)got;
    }
    return 0;
}

static int hash_piece(struct worker *w, uint32_t i, size_t bufsize)
{
    struct hasher *h = w->h;
    uint64_t pos = (uint64_t)i * h->piece_length;
    uint64_t left = h->p->total - pos;
    struct bt_sha1 sha;
    int r;

    if (left > h->piece_length)
        left = h->piece_length;
    r = bt_sha1_init(&sha);
    if (r < 0) {
        fail(h, r, h->p->name, strerror(-r));
        return r;
    }
    while (left > 0) {
        size_t n = left < bufsize ? (size_t)left : bufsize;

        r = read_span(w, pos, w->buf, n);
        if (r < 0) {
            bt_sha1_deinit(&sha);
            return r;
        }
        bt_sha1_update(&sha, w->buf, n);
        pos += n;
        left -= n;
    }
    bt_sha1_final(&sha, h->pieces + (size_t)i * BT_SHA1_LEN);
    return 0;
}

struct lanes_read {
    struct worker *w;
    uint64_t pos; /* the first piece's offset in the payload */
    bool failed;  /* a read failed: it reported why */
};

static int lanes_read(void *arg, unsigned lane, uint64_t at, uint8_t *dst, size_t n)
{
    struct lanes_read *lr = arg;
    int r = -ECANCELED; /* another worker failed: it reported why */

    if (!atomic_load(&lr->w->h->stop))
        r = read_span(lr->w, lr->pos + lane * lr->w->h->piece_length + at, dst, n);
    lr->failed = r < 0;
    return r;
}

/* Hashes the n whole pieces from first at once, in lanes of width. 0, or -errno (reported). */
static int hash_lanes(struct worker *w, uint32_t first, unsigned n, unsigned width)
{
    struct hasher *h = w->h;
    struct lanes_read lr = {.w = w, .pos = (uint64_t)first * h->piece_length};
    uint64_t plen = h->piece_length;
    size_t chunk = (size_t)(plen < LANE_CHUNK ? plen : LANE_CHUNK);
    int r;

    for (unsigned j = 0; plen > chunk && j < n; j++) /* one call reads up to read_ahead_kb */
        read_span(w, lr.pos + j * plen, NULL, (size_t)plen);
    r = bt_sha1_lanes_digest(width, n, plen, chunk, w->buf, lanes_read, &lr,
                             (uint8_t(*)[BT_SHA1_LEN])(h->pieces + (size_t)first * BT_SHA1_LEN));
    if (r < 0 && !lr.failed)
        fail(h, r, h->p->name, strerror(-r));
    return r;
}

/*
 * Pieces to hash next from i: a run of whole pieces in lanes when there
 * are enough of them (bt_sha1_lanes_min), else 1 (the last, short piece
 * always alone).
 */
static unsigned next_run(const struct worker *w, uint32_t i, unsigned width)
{
    uint32_t whole = (uint32_t)(w->h->p->total / w->h->piece_length);
    uint32_t end = w->end < whole ? w->end : whole;
    unsigned n = end > i ? (unsigned)(end - i < width ? end - i : width) : 0;

    return width > 1 && n >= bt_sha1_lanes_min(width) ? n : 1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct hasher *h = w->h;
    unsigned width = bt_sha1_lanes_width(), n;
    size_t bufsize =
        (size_t)(h->piece_length < BTCTL_HASHER_CHUNK ? h->piece_length : BTCTL_HASHER_CHUNK);
    size_t lanes = width * (size_t)(h->piece_length < LANE_CHUNK ? h->piece_length : LANE_CHUNK);

    w->buf = malloc(width > 1 && lanes > bufsize ? lanes : bufsize);
    if (!w->buf)
        fail(h, -ENOMEM, h->p->name, strerror(ENOMEM));
    for (uint32_t i = w->first; w->buf && i < w->end; i += n) {
        n = next_run(w, i, width);
        if (atomic_load(&h->stop) ||
            (n > 1 ? hash_lanes(w, i, n, width) : hash_piece(w, i, bufsize)) < 0)
            break;
        atomic_fetch_add(&h->done, n);
    }
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    w->buf = NULL;
    pthread_mutex_lock(&h->lock);
    h->running--;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static unsigned thread_count(uint32_t pieces)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    if (n > BTCTL_HASHER_MAX_THREADS)
        n = BTCTL_HASHER_MAX_THREADS;
    if ((uint64_t)n > pieces)
        n = (long)pieces;
    return (unsigned)n;
}

/* Redraws the bar until every worker has ended. */
static void watch(struct hasher *h)
{
    struct btctl_progress bar;
    struct timespec until;

    btctl_progress_init(&bar, stderr, h->p->total);
    pthread_mutex_lock(&h->lock);
    while (h->running > 0) {
        uint64_t bytes = (uint64_t)atomic_load(&h->done) * h->piece_length;

        pthread_mutex_unlock(&h->lock);
        btctl_progress_update(&bar, bytes < h->p->total ? bytes : h->p->total);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        pthread_mutex_lock(&h->lock);
        if (h->running > 0)
            pthread_cond_timedwait(&h->cond, &h->lock, &until);
    }
    pthread_mutex_unlock(&h->lock);
    if (h->error == 0)
        btctl_progress_update(&bar, h->p->total);
    btctl_progress_finish(&bar);
}

/* Starts the workers; returns how many started (all, unless an error was recorded). */
static unsigned start_workers(struct hasher *h, struct worker *ws, unsigned n)
{
    unsigned started = 0;

    for (unsigned k = 0; k < n; k++) {
        int r;

        ws[k].h = h;
        ws[k].first = (uint32_t)((uint64_t)h->piece_count * k / n);
        ws[k].end = (uint32_t)((uint64_t)h->piece_count * (k + 1) / n);
        ws[k].file = SIZE_MAX;
        ws[k].fd = -1;
        pthread_mutex_lock(&h->lock);
        h->running++;
        pthread_mutex_unlock(&h->lock);
        r = pthread_create(&ws[k].tid, NULL, worker_main, &ws[k]);
        if (r != 0) {
            pthread_mutex_lock(&h->lock);
            h->running--;
            pthread_mutex_unlock(&h->lock);
            fail(h, -r, "pthread_create", strerror(r));
            break;
        }
        started++;
    }
    return started;
}

int btctl_hash_pieces(const struct btctl_payload *p, uint64_t piece_length, uint8_t *pieces,
                      bool progress, struct bt_error *err)
{
    struct worker ws[BTCTL_HASHER_MAX_THREADS];
    struct hasher h = {
        .p = p,
        .piece_length = piece_length,
        .piece_count = (uint32_t)((p->total + piece_length - 1) / piece_length),
        .pieces = pieces,
    };
    pthread_condattr_t ca;
    unsigned started;

    atomic_init(&h.done, 0);
    atomic_init(&h.stop, false);
    pthread_mutex_init(&h.lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h.cond, &ca);
    pthread_condattr_destroy(&ca);
    memset(ws, 0, sizeof(ws));
    started = start_workers(&h, ws, thread_count(h.piece_count));
    if (progress)
        watch(&h);
    for (unsigned k = 0; k < started; k++)
        pthread_join(ws[k].tid, NULL);
    pthread_cond_destroy(&h.cond);
    pthread_mutex_destroy(&h.lock);
    if (h.error < 0 && err)
        *err = h.err;
    return h.error;
}
