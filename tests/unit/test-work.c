#include "work.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha1.h"
#include "sha1_lanes.h"
#include "tap.h"
#include "tmpdir.h"

#define PIECES 20
#define PLEN 1024
#define TOTAL (PIECES * PLEN)
#define TORRENT_ID 77

struct ctx {
    struct btd_work_pool *pool;
    struct btd_storage *storage;
    int calls;
    int bad_id;
    size_t max_inflight;
    int status[PIECES];
    bool hash_ok[PIECES];
    bool seen[PIECES];
    uint8_t *read_buf;   /* taken from a READ result */
    uint32_t take_piece; /* the READ result to take: piece + 1, or 0 for the first */
    size_t read_len;
    bool free_pool_in_cb;
    bool read_back_in_cb;
};

static uint8_t data[TOTAL];

static struct btd_storage *new_storage(const char *dir)
{
    static struct bt_file file = {.path = "w.bin", .length = TOTAL};
    struct bt_metainfo m;
    struct btd_storage *s = NULL;

    memset(&m, 0, sizeof(m));
    m.files = &file;
    m.file_count = 1;
    m.total_length = TOTAL;
    m.piece_length = PLEN;
    m.piece_count = PIECES;
    if (btd_storage_new(&s, dir, &m) < 0) {
        fprintf(stderr, "btd_storage_new failed\n");
        exit(1);
    }
    return s;
}

static void on_done(void *arg, struct btd_work_result *res)
{
    struct ctx *c = arg;
    size_t inflight = btd_work_pool_inflight(c->pool);

    c->calls++;
    if (inflight > c->max_inflight)
        c->max_inflight = inflight;
    if (res->torrent_id != TORRENT_ID || res->piece >= PIECES ||
        res->user != (void *)&data[res->piece]) {
        c->bad_id++;
        return;
    }
    c->seen[res->piece] = true;
    c->status[res->piece] = res->status;
    c->hash_ok[res->piece] = res->hash_ok;
    if (res->kind == BTD_WORK_READ && res->status == 0 && !c->read_buf &&
        (c->take_piece == 0 || c->take_piece == res->piece + 1)) {
        c->read_buf = res->buf; /* taken */
        c->read_len = res->len;
        res->buf = NULL;
    }
    if (res->kind == BTD_WORK_VERIFY_WRITE && c->read_back_in_cb && res->hash_ok)
        btd_work_read(c->pool, TORRENT_ID, c->storage, res->piece, res->offset, res->len,
                      res->user);
    if (c->free_pool_in_cb) {
        btd_work_pool_free(c->pool);
        c->free_pool_in_cb = false;
    }
}

static void hash_of(uint32_t piece, uint8_t out[20])
{
    bt_sha1(out, data + (size_t)piece * PLEN, PLEN);
}

/* Submits VERIFY_WRITE for every piece; odd pieces carry a wrong hash when bad_odd. */
static void submit_all(struct ctx *c, bool bad_odd)
{
    uint32_t i;

    for (i = 0; i < PIECES; i++) {
        uint8_t h[20];
        uint8_t *buf = malloc(PLEN);

        memcpy(buf, data + (size_t)i * PLEN, PLEN);
        hash_of(i, h);
        if (bad_odd && i % 2 == 1)
            h[0] ^= 0xff;
        CHECK(btd_work_verify_write(c->pool, TORRENT_ID, c->storage, i, (uint64_t)i * PLEN, buf,
                                    PLEN, h, &data[i]) == 0);
    }
}

static void setup(struct ctx *c, uv_loop_t *loop, const char *dir)
{
    memset(c, 0, sizeof(*c));
    c->storage = new_storage(dir);
    CHECK(btd_work_pool_new(&c->pool, loop, on_done, c) == 0);
}

static void teardown(struct ctx *c, uv_loop_t *loop, const char *dir)
{
    btd_work_pool_free(c->pool);
    btd_storage_unref(c->storage);
    free(c->read_buf);
    CHECK(uv_loop_close(loop) == 0);
    tmpdir_remove(dir);
}

/* Bytes of piece i as they stand in the file (zeros past its end). */
static void disk_piece(const char *dir, uint32_t i, uint8_t *out)
{
    char path[256];
    ssize_t n;
    int fd;

    memset(out, 0, PLEN);
    snprintf(path, sizeof(path), "%s/w.bin", dir);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    n = pread(fd, out, PLEN, (off_t)i * PLEN);
    (void)n;
    close(fd);
}

static void test_verify_write_reports_hash_and_keeps_only_good_pieces(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];
    uint8_t piece[PLEN], zero[PLEN] = {0};
    uint32_t i;

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    submit_all(&c, true);
    CHECK(btd_work_pool_inflight(c.pool) == BTD_WORK_MAX_INFLIGHT);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == PIECES);
    CHECK(c.bad_id == 0);
    CHECK(c.max_inflight <= BTD_WORK_MAX_INFLIGHT);
    CHECK(btd_work_pool_inflight(c.pool) == 0);
    for (i = 0; i < PIECES; i++) {
        CHECK(c.seen[i] && c.status[i] == 0);
        CHECK_MSG(c.hash_ok[i] == (i % 2 == 0), "piece %u", i);
        disk_piece(dir, i, piece);
        if (i % 2 == 0)
            CHECK(memcmp(piece, data + (size_t)i * PLEN, PLEN) == 0);
        else
            CHECK(memcmp(piece, zero, PLEN) == 0);
    }
    teardown(&c, &loop, dir);
}

static void test_read_returns_written_bytes(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    submit_all(&c, false);
    uv_run(&loop, UV_RUN_DEFAULT);
    memset(c.seen, 0, sizeof(c.seen));
    c.take_piece = 3 + 1;
    CHECK(btd_work_read(c.pool, TORRENT_ID, c.storage, 3, 3 * PLEN + 100, 500, &data[3]) == 0);
    CHECK(btd_work_read(c.pool, TORRENT_ID, c.storage, 4, 4 * PLEN, 16, &data[4]) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.seen[3] && c.status[3] == 0);
    CHECK(c.seen[4] && c.status[4] == 0);
    CHECK(c.read_buf != NULL && c.read_len == 500);
    CHECK(c.read_buf && memcmp(c.read_buf, data + 3 * PLEN + 100, 500) == 0);
    teardown(&c, &loop, dir);
}

static void test_read_of_missing_file_reports_enoent(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    CHECK(btd_work_read(c.pool, TORRENT_ID, c.storage, 2, 2 * PLEN, PLEN, &data[2]) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.seen[2] && c.status[2] == -ENOENT);
    CHECK(c.read_buf == NULL);
    teardown(&c, &loop, dir);
}

/* Writes every piece through the pool, then corrupts a byte of piece 5 on disk. */
static void write_all_corrupt_fifth(struct ctx *c, uv_loop_t *loop, const char *dir)
{
    char path[128];
    int fd;

    submit_all(c, false);
    uv_run(loop, UV_RUN_DEFAULT);
    snprintf(path, sizeof(path), "%s/w.bin", dir);
    fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "X", 1, 5 * PLEN + 7) == 1);
    close(fd);
    memset(c->seen, 0, sizeof(c->seen));
}

static void test_check_detects_corrupted_piece(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];
    uint8_t h[20];
    uint32_t i;

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    write_all_corrupt_fifth(&c, &loop, dir);
    for (i = 0; i < PIECES; i++) {
        hash_of(i, h);
        CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, i, (uint64_t)i * PLEN, PLEN, h,
                             &data[i]) == 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (i = 0; i < PIECES; i++) {
        CHECK(c.seen[i] && c.status[i] == 0);
        CHECK_MSG(c.hash_ok[i] == (i != 5), "piece %u", i);
    }
    teardown(&c, &loop, dir);
}

static void test_check_of_missing_data_is_a_missing_piece(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64], path[128];
    uint8_t h[20];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    hash_of(0, h);
    CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, 0, 0, PLEN, h, &data[0]) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.seen[0] && c.status[0] == 0 && !c.hash_ok[0]);
    /* A file too short for the last piece: -ENODATA, also just missing. */
    submit_all(&c, false);
    uv_run(&loop, UV_RUN_DEFAULT);
    memset(c.seen, 0, sizeof(c.seen));
    snprintf(path, sizeof(path), "%s/w.bin", dir);
    CHECK(truncate(path, TOTAL - 10) == 0);
    hash_of(PIECES - 1, h);
    CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, PIECES - 1, (uint64_t)(PIECES - 1) * PLEN,
                         PLEN, h, &data[PIECES - 1]) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.seen[PIECES - 1] && c.status[PIECES - 1] == 0 && !c.hash_ok[PIECES - 1]);
    teardown(&c, &loop, dir);
}

/*
 * CHECKs queued between hold and release run in gangs hashed in lanes
 * (fewer jobs in flight than pieces) and give every piece the verdict one
 * at a time gives: a corrupted piece fails, a short file is a missing
 * piece, a piece of another length does not join a gang.
 */
static void test_held_checks_run_in_gangs_with_the_same_verdicts(void)
{
    unsigned width = bt_sha1_lanes_width();
    uv_loop_t loop;
    struct ctx c;
    char dir[64], path[128];
    uint8_t h[20];
    uint32_t i;

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    write_all_corrupt_fifth(&c, &loop, dir);
    snprintf(path, sizeof(path), "%s/w.bin", dir);
    CHECK(truncate(path, TOTAL - 10) == 0);
    c.max_inflight = 0;
    btd_work_hold(c.pool);
    for (i = 0; i < PIECES; i++) {
        size_t len = i == 11 ? PLEN - 64 : PLEN;

        bt_sha1(h, data + (size_t)i * PLEN, len);
        CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, i, (uint64_t)i * PLEN, len, h,
                             &data[i]) == 0);
    }
    CHECK(btd_work_pool_inflight(c.pool) == 0);
    btd_work_release(c.pool);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 2 * PIECES && c.bad_id == 0); /* the writes, then each check once */
    for (i = 0; i < PIECES; i++) {
        CHECK(c.seen[i] && c.status[i] == 0);
        CHECK_MSG(c.hash_ok[i] == (i != 5 && i != PIECES - 1), "piece %u", i);
    }
    /* gangs: 0..10, 11 alone, 12..19 (as far as the lanes reach) */
    if (width > 1)
        CHECK_MSG(c.max_inflight <= 3 + 11 / width + 8 / width, "%zu in flight", c.max_inflight);
    tap_diag("SHA-1 lanes: %u; at most %zu jobs in flight", width, c.max_inflight);
    teardown(&c, &loop, dir);
}

static void test_callback_may_submit_more_jobs(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    c.read_back_in_cb = true;
    submit_all(&c, true);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == PIECES + PIECES / 2);
    CHECK(c.max_inflight <= BTD_WORK_MAX_INFLIGHT);
    CHECK(c.read_buf != NULL && c.read_len == PLEN);
    teardown(&c, &loop, dir);
}

static void test_free_with_jobs_in_flight_drops_results(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    submit_all(&c, false);
    btd_work_pool_free(c.pool);
    btd_storage_unref(c.storage); /* the jobs hold their own references */
    c.storage = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 0);
    CHECK(uv_loop_close(&loop) == 0);
    tmpdir_remove(dir);
}

static void test_free_from_inside_a_callback(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    c.free_pool_in_cb = true;
    submit_all(&c, false);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 1);
    btd_storage_unref(c.storage);
    CHECK(uv_loop_close(&loop) == 0);
    tmpdir_remove(dir);
}

/* The pool freed by the first result of a gang: the rest of the gang is dropped, nothing leaks. */
static void test_free_from_inside_a_gang(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];
    uint8_t h[20];
    uint32_t i;

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    submit_all(&c, false);
    uv_run(&loop, UV_RUN_DEFAULT);
    c.calls = 0;
    c.free_pool_in_cb = true;
    btd_work_hold(c.pool);
    btd_work_hold(c.pool); /* nested: only the outer release starts them */
    for (i = 0; i < PIECES; i++) {
        hash_of(i, h);
        CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, i, (uint64_t)i * PLEN, PLEN, h,
                             &data[i]) == 0);
    }
    btd_work_release(c.pool);
    CHECK(btd_work_pool_inflight(c.pool) == 0);
    btd_work_release(c.pool);
    CHECK(btd_work_pool_inflight(c.pool) > 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 1);
    btd_storage_unref(c.storage);
    CHECK(uv_loop_close(&loop) == 0);
    tmpdir_remove(dir);
}

static void test_refuses_oversized_jobs(void)
{
    uv_loop_t loop;
    struct ctx c;
    char dir[64];
    uint8_t h[20] = {0};

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    CHECK(btd_work_read(c.pool, TORRENT_ID, c.storage, 0, 0, (size_t)1 << 30, NULL) == -EMSGSIZE);
    CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, 0, 0, (size_t)1 << 30, h, NULL) ==
          -EMSGSIZE);
    CHECK(btd_work_verify_write(c.pool, TORRENT_ID, c.storage, 0, 0, malloc(16), (size_t)1 << 30, h,
                                NULL) == -EMSGSIZE);
    CHECK(btd_work_pool_inflight(c.pool) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 0);
    teardown(&c, &loop, dir);
}

struct drain {
    struct ctx *c;
    int idle;        /* idle callbacks */
    int calls;       /* results delivered before the idle callback */
    bool free_there; /* the idle callback frees the pool */
};

static void on_idle(void *arg)
{
    struct drain *d = arg;

    d->idle++;
    d->calls = d->c->calls;
    if (d->free_there) {
        btd_work_pool_free(d->c->pool);
        d->c->pool = NULL;
    }
}

static void test_drain_lands_writes_and_drops_queued_checks(void)
{
    struct drain d = {.free_there = true};
    uint8_t h[20];
    uv_loop_t loop;
    struct ctx c;
    char dir[64];
    uint32_t i;

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    d.c = &c;
    for (i = 0; i < PIECES / 2; i++) {
        uint8_t *buf = malloc(PLEN);

        memcpy(buf, data + (size_t)i * PLEN, PLEN);
        hash_of(i, h);
        CHECK(btd_work_verify_write(c.pool, TORRENT_ID, c.storage, i, (uint64_t)i * PLEN, buf, PLEN,
                                    h, &data[i]) == 0);
    }
    for (; i < PIECES; i++) {
        hash_of(i, h);
        CHECK(btd_work_check(c.pool, TORRENT_ID, c.storage, i, (uint64_t)i * PLEN, PLEN, h,
                             &data[i]) == 0);
    }
    btd_work_pool_drain(c.pool, on_idle, &d);
    CHECK(d.idle == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_MSG(d.idle == 1 && d.calls == PIECES / 2 && c.calls == PIECES / 2, "idle %d calls %d/%d",
              d.idle, d.calls, c.calls);
    for (i = 0; i < PIECES; i++)
        CHECK_MSG(c.seen[i] == (i < PIECES / 2) && (i >= PIECES / 2 || c.hash_ok[i]), "piece %u",
                  i);
    btd_storage_unref(c.storage);
    CHECK(uv_loop_close(&loop) == 0);
    tmpdir_remove(dir);
}

static void test_drain_of_an_idle_pool_says_so_at_once(void)
{
    struct drain d = {0};
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    d.c = &c;
    btd_work_pool_drain(c.pool, on_idle, &d);
    CHECK(d.idle == 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(d.idle == 1);
    teardown(&c, &loop, dir);
}

/* What a CALL's functions saw, in order. */
struct call_arg {
    struct ctx *c;
    int ran;        /* fn ran (on a worker) */
    int done;       /* done ran */
    int freed;      /* free_arg ran */
    int pool_calls; /* the pool's callback had run this often when done ran */
    bool data_ok;   /* done got the pool's data, the job's torrent id and arg */
    int status;     /* the result's status done saw */
};

static int call_fn(void *arg, struct btd_storage *s)
{
    struct call_arg *a = arg;

    a->ran++;
    return s ? -EXDEV : -ENOTSUP; /* a status of fn's own, to be passed through */
}

static void call_done(void *pool_data, struct btd_work_result *res)
{
    struct call_arg *a = res->user;

    a->done++;
    a->pool_calls = a->c->calls;
    a->data_ok = pool_data == a->c && res->kind == BTD_WORK_CALL && res->torrent_id == TORRENT_ID;
    a->status = res->status;
}

static void call_free(void *arg)
{
    ((struct call_arg *)arg)->freed++;
}

static const struct btd_work_call_ops call_ops = {
    .fn = call_fn, .done = call_done, .free_arg = call_free};
static const struct btd_work_call_ops call_ops_no_done = {.fn = call_fn, .free_arg = call_free};

static void test_call_result_goes_to_its_own_callback(void)
{
    struct call_arg a = {0}, b = {0}, quiet = {0};
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    a.c = b.c = quiet.c = &c;
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, &call_ops, &a) == 0);
    CHECK(btd_work_call(c.pool, TORRENT_ID, NULL, &call_ops, &b) == 0);
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, &call_ops_no_done, &quiet) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_MSG(c.calls == 0, "the pool's callback ran %d time(s) for CALL jobs", c.calls);
    CHECK(a.ran == 1 && a.done == 1 && a.freed == 1 && a.data_ok && a.pool_calls == 0);
    CHECK(a.status == -EXDEV);
    CHECK(b.ran == 1 && b.done == 1 && b.freed == 1 && b.data_ok && b.status == -ENOTSUP);
    CHECK(quiet.ran == 1 && quiet.done == 0 && quiet.freed == 1);
    /* The pool's own jobs still go to the pool's callback. */
    CHECK(btd_work_read(c.pool, TORRENT_ID, c.storage, 0, 0, 16, &data[0]) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.calls == 1 && c.seen[0] && a.done == 1 && b.done == 1);
    teardown(&c, &loop, dir);
}

static void test_call_refused_frees_its_arg(void)
{
    struct call_arg a = {0};
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    a.c = &c;
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, NULL, &a) == -EINVAL);
    CHECK(btd_work_call(NULL, TORRENT_ID, c.storage, &call_ops, &a) == -EINVAL);
    CHECK(a.freed == 1 && a.ran == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(a.done == 0 && c.calls == 0);
    teardown(&c, &loop, dir);
}

static const struct btd_work_call_ops call_ops_droppable = {
    .fn = call_fn, .done = call_done, .free_arg = call_free, .drop_when_draining = true};

static void test_drain_drops_queued_read_only_calls(void)
{
    struct call_arg keep = {0}, drop = {0}, running = {0};
    struct drain d = {0};
    uv_loop_t loop;
    struct ctx c;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "work");
    uv_loop_init(&loop);
    setup(&c, &loop, dir);
    d.c = &c;
    keep.c = drop.c = running.c = &c;
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, &call_ops_droppable, &running) == 0);
    submit_all(&c, false); /* fills the slots: the next two calls wait in the queue */
    CHECK(btd_work_pool_inflight(c.pool) == BTD_WORK_MAX_INFLIGHT);
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, &call_ops_droppable, &drop) == 0);
    CHECK(btd_work_call(c.pool, TORRENT_ID, c.storage, &call_ops, &keep) == 0);
    btd_work_pool_drain(c.pool, on_idle, &d);
    CHECK(drop.freed == 1 && drop.ran == 0); /* dropped at once */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(d.idle == 1 && c.calls == PIECES);
    CHECK_MSG(drop.ran == 0 && drop.done == 0 && drop.freed == 1, "dropped call: ran %d done %d",
              drop.ran, drop.done);
    CHECK(keep.ran == 1 && keep.done == 1 && keep.freed == 1);
    CHECK(running.ran == 1 && running.done == 1 && running.freed == 1); /* it was not queued */
    teardown(&c, &loop, dir);
}

int main(void)
{
    size_t i;

    for (i = 0; i < TOTAL; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 10) * 101 + 1);
    TAP_RUN(test_verify_write_reports_hash_and_keeps_only_good_pieces);
    TAP_RUN(test_read_returns_written_bytes);
    TAP_RUN(test_read_of_missing_file_reports_enoent);
    TAP_RUN(test_check_detects_corrupted_piece);
    TAP_RUN(test_check_of_missing_data_is_a_missing_piece);
    TAP_RUN(test_held_checks_run_in_gangs_with_the_same_verdicts);
    TAP_RUN(test_callback_may_submit_more_jobs);
    TAP_RUN(test_free_with_jobs_in_flight_drops_results);
    TAP_RUN(test_free_from_inside_a_callback);
    TAP_RUN(test_free_from_inside_a_gang);
    TAP_RUN(test_refuses_oversized_jobs);
    TAP_RUN(test_drain_lands_writes_and_drops_queued_checks);
    TAP_RUN(test_drain_of_an_idle_pool_says_so_at_once);
    TAP_RUN(test_call_result_goes_to_its_own_callback);
    TAP_RUN(test_call_refused_frees_its_arg);
    TAP_RUN(test_drain_drops_queued_read_only_calls);
    return tap_done();
}
