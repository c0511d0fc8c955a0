#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout.h"
#include "sha1_lanes.h"
#include "storage-internal.h"
#include "tap.h"
#include "tmpdir.h"

/*
 * The layout most tests use: a nested directory, a padding file, an empty
 * file, with their torrent offsets.
 */
static struct bt_file layout_files[] = {
    {.path = "t/a.bin", .length = 1500},                /* 0..1500 */
    {.path = "t/.pad/548", .length = 548, .pad = true}, /* 1500..2048 */
    {.path = "t/sub/dir/b.bin", .length = 3000},        /* 2048..5048 */
    {.path = "t/empty", .length = 0},                   /* 5048 */
    {.path = "t/c.bin", .length = 700},                 /* 5048..5748 */
};
#define TOTAL 5748

static bool file_equals(const char *root, const char *rel, const uint8_t *want, size_t n)
{
    char path[512];
    uint8_t *got = malloc(n + 1);
    FILE *f;
    size_t r;
    bool ok;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "rb");
    if (!f || !got) {
        free(got);
        if (f)
            fclose(f);
        return false;
    }
    r = fread(got, 1, n + 1, f);
    fclose(f);
    ok = r == n && memcmp(got, want, n) == 0;
    free(got);
    return ok;
}

static bool dir_is_empty(const char *path)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", path);
    return system(cmd) == 0;
}

static void test_writes_across_file_boundaries_read_back(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL], back[TOTAL], want[TOTAL];
    char dir[64];
    size_t off;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 1);
    memcpy(want, data, sizeof(want));
    memset(want + 1500, 0, 548);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    for (off = 0; off < TOTAL; off += 1000) {
        size_t n = TOTAL - off < 1000 ? TOTAL - off : 1000;

        CHECK(btd_storage_write(s, off, data + off, n, NULL) == 0);
    }
    CHECK(btd_storage_sync(s) == 0);
    memset(back, 0xaa, sizeof(back));
    CHECK(btd_storage_read(s, 0, back, TOTAL, NULL) == 0);
    CHECK(memcmp(back, want, TOTAL) == 0);
    CHECK(btd_storage_read(s, 1400, back, 800, NULL) == 0);
    CHECK(memcmp(back, want + 1400, 800) == 0);
    CHECK(btd_storage_read(s, 5000, back, 748, NULL) == 0);
    CHECK(memcmp(back, want + 5000, 748) == 0);
    CHECK(file_equals(dir, "t/a.bin", data, 1500));
    CHECK(file_equals(dir, "t/sub/dir/b.bin", data + 2048, 3000));
    CHECK(file_equals(dir, "t/c.bin", data + 5048, 700));
    CHECK(file_size(dir, "t/empty") == 0);
    CHECK(file_size(dir, "t/.pad") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* The SHA-1 btd_storage_hash feeds for span [off, off + n), or -errno. */
static int hash_span(struct btd_storage *s, uint64_t off, size_t n, uint8_t out[BT_SHA1_LEN],
                     uint32_t *file)
{
    struct bt_sha1 sha;
    int r;

    if (bt_sha1_init(&sha) < 0)
        return -ENOMEM;
    r = btd_storage_hash(s, off, n, &sha, file);
    bt_sha1_final(&sha, out);
    return r;
}

/* Hashing reads what a read gives, padding as zeros, across files; a short file is ENODATA. */
static void test_hash_matches_what_is_read(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL], want[TOTAL], got[BT_SHA1_LEN], expect[BT_SHA1_LEN];
    static const size_t spans[][2] = {{0, TOTAL}, {1000, 2000}, {1600, 10}, {5000, 748}};
    uint32_t file = UINT32_MAX;
    char path[128];
    size_t i;
    int r;

    tmpdir_make(path, sizeof(path), "storage");
    fill(data, sizeof(data), 3);
    memcpy(want, data, sizeof(want));
    memset(want + 1500, 0, 548);
    CHECK(btd_storage_new(&s, path, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    for (i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        CHECK(hash_span(s, spans[i][0], spans[i][1], got, NULL) == 0);
        bt_sha1(expect, want + spans[i][0], spans[i][1]);
        CHECK_MSG(memcmp(got, expect, BT_SHA1_LEN) == 0, "span %zu", i);
    }
    CHECK(truncate(strcat(path, "/t/sub/dir/b.bin"), 2000) == 0);
    r = hash_span(s, 0, TOTAL, got, &file);
    CHECK_MSG(r == -ENODATA && file == 2, "short file: %d, file %u", r, file);
    CHECK(unlink(path) == 0);
    r = hash_span(s, 2048, 100, got, &file);
    CHECK_MSG(r == -ENOENT, "missing file: %d", r);
    CHECK(hash_span(s, TOTAL - 4, 8, got, NULL) == -EINVAL);
    btd_storage_unref(s);
    *strstr(path, "/t/") = '\0';
    tmpdir_remove(path);
}

/*
 * Spans hashed in lanes (every width this CPU runs) give what one at a
 * time gives: across files, padding and chunks; a lane whose file is short
 * or gone fails alone, naming its file.
 */
static void test_hash_lanes_match_one_at_a_time(void)
{
    static struct bt_file files[] = {
        {.path = "l/x.bin", .length = 2600000},
        {.path = "l/.pad/1000", .length = 1000, .pad = true},
        {.path = "l/y.bin", .length = 1048653},
    };
    static const unsigned widths[] = {16, 8};
    const size_t total = 2600000 + 1000 + 1048653, len = 300 * 1024 + 77;
    struct bt_metainfo m = layout(files, 3);
    uint8_t *data = malloc(total), out[BT_SHA1_LANES_MAX][BT_SHA1_LEN], want[BT_SHA1_LEN];
    uint64_t off[BT_SHA1_LANES_MAX];
    int status[BT_SHA1_LANES_MAX];
    uint32_t file[BT_SHA1_LANES_MAX];
    struct btd_storage *s = NULL;
    unsigned w, i, n, tested = 0;
    char dir[64], path[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    CHECK(data != NULL && btd_storage_new(&s, dir, &m) == 0);
    if (!data || !s)
        goto out;
    fill(data, total, 5);
    memset(data + 2600000, 0, 1000);
    CHECK(btd_storage_write(s, 0, data, total, NULL) == 0);
    for (i = 0; i < BT_SHA1_LANES_MAX; i++)
        off[i] = (uint64_t)i * 150001;
    for (w = 0; w < 2; w++) {
        if (!bt_sha1_lanes_supported(widths[w]))
            continue;
        tested++;
        n = widths[w];
        off[n - 1] = 2600000 - 1000; /* the last lane spans x, the padding and y */
        CHECK(btd_storage_hash_lanes(s, n, n, off, len, out, status, file) == 0);
        for (i = 0; i < n; i++) {
            bt_sha1(want, data + off[i], len);
            CHECK_MSG(status[i] == 0 && memcmp(out[i], want, BT_SHA1_LEN) == 0,
                      "width %u lane %u: status %d", n, i, status[i]);
        }
        CHECK(btd_storage_hash_lanes(s, n, n + 1, off, len, out, status, file) == -EINVAL);
    }
    CHECK(tested > 0 || bt_sha1_lanes_width() == 1);
    snprintf(path, sizeof(path), "%s/l/y.bin", dir);
    CHECK(truncate(path, 1000) == 0);
    for (w = 0; w < 2 && tested; w++) {
        if (!bt_sha1_lanes_supported(widths[w]))
            continue;
        n = widths[w] - 1; /* the last lane idle */
        off[n - 1] = 2600000 - 1000;
        CHECK(btd_storage_hash_lanes(s, widths[w], n, off, len, out, status, file) == 0);
        CHECK_MSG(status[n - 1] == -ENODATA && file[n - 1] == 2, "short: %d, file %u",
                  status[n - 1], file[n - 1]);
        bt_sha1(want, data + off[0], len);
        CHECK(status[0] == 0 && memcmp(out[0], want, BT_SHA1_LEN) == 0);
    }
    CHECK(unlink(path) == 0);
    if (tested && bt_sha1_lanes_supported(8)) {
        off[6] = 6 * 150001;
        off[7] = 2600000 + 1000;
        CHECK(btd_storage_hash_lanes(s, 8, 8, off, len, out, status, file) == 0);
        CHECK_MSG(status[7] == -ENOENT && file[7] == 2, "gone: %d, file %u", status[7], file[7]);
        CHECK(status[6] == 0);
    }
out:
    btd_storage_unref(s);
    free(data);
    tmpdir_remove(dir);
}

static void test_rejects_span_past_the_end(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t buf[16] = {0};
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "storage");
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, TOTAL - 8, buf, 16, NULL) == -EINVAL);
    CHECK(btd_storage_read(s, UINT64_MAX - 4, buf, 16, NULL) == -EINVAL);
    CHECK(file_size(dir, "t") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void test_creates_missing_download_dir_with_parents(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    char dir[64], deep[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    snprintf(deep, sizeof(deep), "%s/x/y/z", dir);
    CHECK(btd_storage_new(&s, deep, &m) == 0);
    CHECK(file_size(dir, "x/y/z") >= 0);
    CHECK(file_size(dir, "x/y/z/t") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void check_missing_file_reads_enoent(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t buf[100];
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "storage");
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_read(s, 0, buf, sizeof(buf), NULL) == -ENOENT);
    CHECK(btd_storage_read(s, 2100, buf, sizeof(buf), NULL) == -ENOENT);
    CHECK(file_size(dir, "t") == -1);
    /* A file shorter than the span: -ENODATA. */
    CHECK(btd_storage_write(s, 0, buf, 10, NULL) == 0);
    CHECK(btd_storage_read(s, 0, buf, 20, NULL) == -ENODATA);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void test_reading_missing_file_gives_enoent_and_creates_nothing(void)
{
    check_missing_file_reads_enoent();
}

static void test_reading_missing_file_gives_enoent_without_openat2(void)
{
    btd__storage_use_openat2(false);
    check_missing_file_reads_enoent();
    btd__storage_use_openat2(true);
}

/* Plants a symlink at dir/link_rel pointing to a fresh temp dir (or to a file
 * inside it when as_file), writes span [off, off+n), expects failure and an
 * untouched target. */
static void check_symlink_blocks(const char *link_rel, const char *mkdirs, bool as_file,
                                 uint64_t off, size_t n)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    char dir[64], other[64], path[256], target[256];
    int r;

    tmpdir_make(dir, sizeof(dir), "storage");
    tmpdir_make(other, sizeof(other), "storage");
    if (mkdirs) {
        snprintf(path, sizeof(path), "%s/%s", dir, mkdirs);
        CHECK(mkdir(path, 0755) == 0);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, link_rel);
    snprintf(target, sizeof(target), "%s%s", other, as_file ? "/victim" : "");
    CHECK(symlink(target, path) == 0);
    fill(data, sizeof(data), 2);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    r = btd_storage_write(s, off, data + off, n, NULL);
    CHECK_MSG(r < 0, "write through %s returned %d", link_rel, r);
    tap_diag("write at %llu through a symlink at %s: %s", (unsigned long long)off, link_rel,
             strerror(-r));
    CHECK(dir_is_empty(other));
    r = btd_storage_read(s, off, data, n, NULL);
    CHECK(r < 0 && r != -ENOENT);
    CHECK(btd_storage_delete(s) < 0);
    CHECK(file_size(dir, link_rel) >= 0); /* the link itself is left alone */
    btd_storage_unref(s);
    tmpdir_remove(dir);
    tmpdir_remove(other);
}

static void check_all_symlinks(void)
{
    check_symlink_blocks("t", NULL, false, 0, 100);
    check_symlink_blocks("t", NULL, false, 2048, 100);
    check_symlink_blocks("t/sub", "t", false, 2048, 3000);
    check_symlink_blocks("t/a.bin", "t", true, 0, 1500);
}

static void test_symlink_in_download_dir_blocks_writes(void)
{
    check_all_symlinks();
}

static void test_symlink_in_download_dir_blocks_writes_without_openat2(void)
{
    btd__storage_use_openat2(false);
    check_all_symlinks();
    btd__storage_use_openat2(true);
}

#define MANY 40
#define MANY_LEN 100

static struct bt_file many_files[MANY];
static char many_paths[MANY][32];

static struct bt_metainfo many_layout(void)
{
    size_t i;

    for (i = 0; i < MANY; i++) {
        snprintf(many_paths[i], sizeof(many_paths[i]), "m/d%zu/f%zu", i % 3, i);
        many_files[i].path = many_paths[i];
        many_files[i].length = MANY_LEN;
        many_files[i].pad = false;
    }
    return layout(many_files, MANY);
}

static void test_more_files_than_the_cache_holds(void)
{
    struct bt_metainfo m = many_layout();
    struct btd_storage *s = NULL;
    uint8_t data[MANY * MANY_LEN], back[MANY * MANY_LEN];
    char dir[64];
    size_t i, round;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 3);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    /* Each file in two halves, far apart in time, so entries get evicted. */
    for (round = 0; round < 2; round++) {
        for (i = 0; i < MANY; i++) {
            size_t off = i * MANY_LEN + round * 50;

            CHECK(btd_storage_write(s, off, data + off, 50, NULL) == 0);
        }
    }
    for (i = 0; i < MANY; i++) {
        CHECK(btd_storage_read(s, i * MANY_LEN, back, MANY_LEN, NULL) == 0);
        CHECK(memcmp(back, data + i * MANY_LEN, MANY_LEN) == 0);
        CHECK(file_equals(dir, many_paths[i], data + i * MANY_LEN, MANY_LEN));
    }
    CHECK(btd_storage_sync(s) == 0);
    btd_storage_close_files(s);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0);
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

struct writer {
    struct btd_storage *s;
    const uint8_t *data;
    unsigned id;
    int failures;
};

#define THREADS 4
#define CHUNK 70 /* bytes: spans cross file boundaries */

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    size_t off;
    uint8_t back[CHUNK];
    size_t total = MANY * MANY_LEN;

    for (off = (size_t)w->id * CHUNK; off < total; off += THREADS * CHUNK) {
        size_t n = total - off < CHUNK ? total - off : CHUNK;

        if (btd_storage_write(w->s, off, w->data + off, n, NULL) != 0)
            w->failures++;
        if (btd_storage_read(w->s, off, back, n, NULL) != 0 || memcmp(back, w->data + off, n) != 0)
            w->failures++;
        if (off % 7 == 0)
            btd_storage_close_files(w->s);
    }
    return NULL;
}

static void test_concurrent_writes_from_threads(void)
{
    struct bt_metainfo m = many_layout();
    struct btd_storage *s = NULL;
    struct writer w[THREADS];
    pthread_t th[THREADS];
    uint8_t data[MANY * MANY_LEN], back[MANY * MANY_LEN];
    char dir[64];
    unsigned i;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 4);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    for (i = 0; i < THREADS; i++) {
        w[i] = (struct writer){.s = btd_storage_ref(s), .data = data, .id = i};
        CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].failures == 0);
        btd_storage_unref(w[i].s);
    }
    CHECK(btd_storage_sync(s) == 0);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0);
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void test_delete_removes_files_and_empty_dirs(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 5);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    CHECK(file_size(dir, "t/sub/dir/b.bin") == 3000);
    CHECK(btd_storage_delete(s) == 0);
    CHECK(file_size(dir, "t") == -1);
    CHECK(file_size(dir, ".") >= 0);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void test_delete_keeps_dirs_holding_foreign_files(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    char dir[64], path[128];
    FILE *f;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 6);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    snprintf(path, sizeof(path), "%s/t/sub/mine.txt", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(btd_storage_delete(s) == 0);
    CHECK(file_size(dir, "t/sub/mine.txt") == 0);
    CHECK(file_size(dir, "t/sub/dir") == -1);
    CHECK(file_size(dir, "t/a.bin") == -1);
    CHECK(file_size(dir, "t/empty") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

static void test_single_file_torrent(void)
{
    struct bt_file one[] = {{.path = "single.iso", .length = 4000}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    uint8_t data[4000], back[4000];
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 7);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 3000, data + 3000, 1000, NULL) == 0);
    CHECK(file_size(dir, "single.iso") == 4000); /* sparse: a hole before */
    CHECK(btd_storage_write(s, 0, data, 3000, NULL) == 0);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0);
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    CHECK(btd_storage_delete(s) == 0);
    CHECK(file_size(dir, "single.iso") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/*
 * A retired storage (its torrent removed) keeps no descriptor: retiring
 * closes the cached ones, and reads and writes still running afterwards
 * close what they open, so the last reference has nothing left to close.
 */
static void test_retired_storage_caches_no_descriptor(void)
{
    struct bt_file one[] = {{.path = "gone.iso", .length = 4000}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    uint8_t data[4000], back[4000];
    char dir[64];
    int before, cached, retired;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 9);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    before = open_fds();
    CHECK(btd_storage_write(s, 0, data, sizeof(data), NULL) == 0);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0);
    cached = open_fds();
    CHECK(cached > before);
    btd_storage_retire(s);
    retired = open_fds();
    CHECK(retired < cached);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0);
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    CHECK(btd_storage_write(s, 100, data, 100, NULL) == 0);
    CHECK(open_fds() == retired);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/*
 * A file deleted while its descriptor is cached writes (and reads) as
 * missing, naming it, rather than into the deleted file or a new empty one.
 * It stays missing (no write creates it afresh with a hole where its pieces
 * were) through a sync, closed descriptors and repeated writes, until a
 * stat (a check) finds it gone; then the next write creates it.
 */
static void test_file_deleted_under_a_cached_descriptor_is_missing(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL], back[100];
    uint32_t file = 77;
    char dir[64], path[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 3);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    CHECK(btd_storage_read(s, 2100, back, sizeof(back), &file) == 0);
    CHECK(file == 77); /* untouched on success */
    snprintf(path, sizeof(path), "%s/t/sub/dir/b.bin", dir);
    CHECK(unlink(path) == 0);
    CHECK(btd_storage_write(s, 2048, data + 2048, 100, &file) == -ENOENT);
    CHECK(file == 2);
    CHECK(file_size(dir, "t/sub/dir/b.bin") == -1);
    file = 77;
    CHECK(btd_storage_read(s, 2100, back, sizeof(back), &file) == -ENOENT);
    CHECK(file == 2);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == 0); /* the others still read */
    CHECK(btd_storage_write(s, 2048, data + 2048, 100, NULL) == -ENOENT); /* said again */
    CHECK(btd_storage_sync(s) == 0);
    btd_storage_close_files(s);
    CHECK(btd_storage_write(s, 2148, data + 2148, 100, NULL) == -ENOENT);
    CHECK(file_size(dir, "t/sub/dir/b.bin") == -1);
    {
        uint64_t size;
        int64_t mtime;

        CHECK(btd_storage_stat(s, 2, &size, &mtime) == -ENOENT); /* the check */
    }
    CHECK(btd_storage_write(s, 2048, data + 2048, 100, NULL) == 0);
    CHECK(file_size(dir, "t/sub/dir/b.bin") == 100);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* A file that was there when checked (a stat), never opened since, then deleted: missing too. */
static void test_file_found_by_a_check_then_deleted_is_missing(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    uint64_t size;
    int64_t mtime;
    char dir[64], path[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 6);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    btd_storage_unref(s);
    s = NULL;
    CHECK(btd_storage_new(&s, dir, &m) == 0); /* a restart */
    CHECK(btd_storage_stat(s, 4, &size, &mtime) == 0 && size == 700);
    snprintf(path, sizeof(path), "%s/t/c.bin", dir);
    CHECK(unlink(path) == 0);
    CHECK(btd_storage_write(s, 5100, data + 5100, 100, NULL) == -ENOENT);
    CHECK(file_size(dir, "t/c.bin") == -1);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* A write that fails names its file: a directory stands where c.bin should be. */
static void test_failed_write_names_its_file(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    uint32_t file = 77;
    char dir[64], path[128];
    int r;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 4);
    snprintf(path, sizeof(path), "%s/t", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof(path), "%s/t/c.bin", dir);
    CHECK(mkdir(path, 0755) == 0);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    r = btd_storage_write(s, 4000, data + 4000, TOTAL - 4000, &file);
    CHECK_MSG(r == -BTD_STORAGE_ENOTREG, "write over a directory: %d", r);
    CHECK(file == 4);
    CHECK(rmdir(path) == 0);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/*
 * Direct writes. A file of 9 pages and 1000 bytes (d.bin, after pre.bin of
 * pre bytes, or alone), written as 3-page pieces from an aligned buffer (or
 * one skewed off it): the whole pages inside a piece go past the page cache,
 * the pages a piece boundary or the file's end cuts through it. Seen with
 * mincore(): a page written through the cache stays resident, one written
 * past it is not.
 */
#define PAGE 4096u
#define PIECE (3 * PAGE)
#define DIRECT_LEN (9 * PAGE + 1000)

/* Which of the file's pages are in the page cache: resident[i] for page i. */
static bool page_residency(const char *root, const char *rel, bool resident[10])
{
    unsigned char vec[10];
    char path[512];
    void *map;
    int fd;
    bool ok;
    size_t i;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    map = mmap(NULL, DIRECT_LEN, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return false;
    ok = mincore(map, DIRECT_LEN, vec) == 0;
    for (i = 0; ok && i < 10; i++)
        resident[i] = vec[i] & 1;
    munmap(map, DIRECT_LEN);
    return ok;
}

/* Would page j of d.bin, after pre bytes of other files, be written past the cache? */
static bool goes_direct(size_t pre, size_t j)
{
    size_t lo = (pre + j * PAGE), hi = lo + PAGE; /* torrent offsets */

    return (j + 1) * PAGE <= DIRECT_LEN && lo / PIECE == (hi - 1) / PIECE;
}

static bool on_tmpfs(const char *dir)
{
    struct statfs fs;

    return statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

/*
 * Does dir's file system keep O_DIRECT writes out of the page cache? Some
 * refuse O_DIRECT, tmpfs takes it and keeps the data in memory all the same:
 * btd writes through the cache on both.
 */
static bool direct_supported(const char *dir)
{
    char path[512];
    int fd;

    if (on_tmpfs(dir))
        return false;
    snprintf(path, sizeof(path), "%s/probe", dir);
    fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return fd >= 0;
}

/*
 * Writes pre bytes of pre.bin and DIRECT_LEN of d.bin, pattern seed, as
 * PIECE-sized pieces from a buffer skew bytes past an alignment, reads them
 * back, and reports the residency of d.bin's pages. False if anything failed.
 */
static bool write_pieces(const char *dir, size_t pre, size_t skew, unsigned seed, bool resident[10])
{
    struct bt_file two[] = {{.path = "t/pre.bin", .length = pre},
                            {.path = "t/d.bin", .length = DIRECT_LEN}};
    struct bt_metainfo m = layout(two, 2);
    struct btd_storage *s = NULL;
    size_t total = pre + DIRECT_LEN, off;
    uint8_t *buf = aligned_alloc(PAGE, 24 * PAGE), *data, *back;
    bool ok = buf != NULL && total + skew <= 12 * PAGE;

    if (!ok) {
        free(buf);
        return false;
    }
    data = buf + skew;
    back = buf + 12 * PAGE;
    fill(data, total, seed);
    ok = btd_storage_new(&s, dir, &m) == 0;
    for (off = 0; ok && off < total; off += PIECE) {
        size_t n = total - off < PIECE ? total - off : PIECE;

        ok = btd_storage_write(s, off, data + off, n, NULL) == 0;
    }
    ok = ok && btd_storage_sync(s) == 0;
    ok = ok && page_residency(dir, "t/d.bin", resident);
    ok = ok && btd_storage_read(s, 0, back, total, NULL) == 0;
    ok = ok && memcmp(back, data, total) == 0;
    ok = ok && file_size(dir, "t/d.bin") == DIRECT_LEN;
    btd_storage_unref(s);
    free(buf);
    return ok;
}

/* Pages written past the cache where goes_direct() says, through it elsewhere. */
static void check_direct(size_t pre, size_t skew, unsigned seed)
{
    bool resident[10];
    char dir[64];
    size_t j;

    tmpdir_make(dir, sizeof(dir), "storage");
    if (!direct_supported(dir)) {
        tap_diag("skipped: %s cannot be opened O_DIRECT", dir);
        tmpdir_remove(dir);
        return;
    }
    CHECK(write_pieces(dir, pre, skew, seed, resident));
    for (j = 0; j < 10; j++)
        CHECK_MSG(resident[j] != goes_direct(pre, j), "pre %zu skew %zu: page %zu %s", pre, skew, j,
                  resident[j] ? "in the page cache" : "not in the page cache");
    tmpdir_remove(dir);
}

static void test_aligned_writes_go_past_the_page_cache(void)
{
    check_direct(0, 0, 11);
    CHECK(!goes_direct(0, 9) && goes_direct(0, 8)); /* only the 1000-byte tail is cached */
}

/* A piece buffer off the alignment: its bytes are copied to an aligned one on the way. */
static void test_unaligned_buffer_goes_past_the_page_cache(void)
{
    check_direct(0, 512, 12);
}

/* A file at an odd torrent offset: the pages pieces cut through are cached, the rest not. */
static void test_file_at_an_odd_offset_goes_past_the_cache_where_it_can(void)
{
    check_direct(1000, 0, 13);
    CHECK(goes_direct(1000, 0) && !goes_direct(1000, 2) && goes_direct(1000, 3));
}

/* Turned off, or refused by the file system (EINVAL), every write goes through the cache. */
static void test_writes_go_through_the_cache_when_off_or_refused(void)
{
    bool resident[10];
    char dir[64];
    size_t j;

    tmpdir_make(dir, sizeof(dir), "storage");
    btd_storage_set_direct_writes(false);
    CHECK(write_pieces(dir, 1000, 0, 14, resident));
    btd_storage_set_direct_writes(true);
    for (j = 0; j < 10; j++)
        CHECK_MSG(resident[j], "off: page %zu is not in the page cache", j);
    tmpdir_remove(dir);
    tmpdir_make(dir, sizeof(dir), "storage");
    btd__storage_direct_open_fails(EINVAL);
    CHECK(write_pieces(dir, 0, 0, 15, resident));
    btd__storage_direct_open_fails(0);
    for (j = 0; j < 10; j++)
        CHECK_MSG(resident[j], "refused: page %zu is not in the page cache", j);
    tmpdir_remove(dir);
}

/* On tmpfs btd does not try: the pages would stay in memory anyway. */
static void test_tmpfs_writes_through_the_cache(void)
{
    char dir[] = "/dev/shm/btd-test-storage-XXXXXX";
    bool resident[10];
    size_t j;

    if (!mkdtemp(dir)) {
        tap_diag("skipped: no /dev/shm");
        return;
    }
    if (!on_tmpfs(dir)) {
        tap_diag("skipped: /dev/shm is not tmpfs");
        tmpdir_remove(dir);
        return;
    }
    btd__storage_direct_open_fails(EIO); /* had a direct open been tried, the write would fail */
    CHECK(write_pieces(dir, 0, 0, 16, resident));
    btd__storage_direct_open_fails(0);
    for (j = 0; j < 10; j++)
        CHECK_MSG(resident[j], "tmpfs: page %zu is not in the page cache", j);
    tmpdir_remove(dir);
}

/*
 * A file deleted while only a descriptor of another kind is cached (a
 * buffered one, say, and now a direct write comes): still missing, not
 * created afresh with a hole where the earlier pieces were.
 */
static void test_file_deleted_under_another_kind_of_descriptor_is_missing(void)
{
    struct bt_file one[] = {{.path = "d.bin", .length = 2 * PIECE}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    uint8_t *buf = aligned_alloc(PAGE, 2 * PIECE);
    uint8_t back[16];
    uint32_t file = 77;
    char dir[64], path[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(buf, 2 * PIECE, 17);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    btd_storage_set_direct_writes(false);
    CHECK(btd_storage_write(s, 0, buf, PIECE, NULL) == 0); /* a buffered descriptor cached */
    btd_storage_set_direct_writes(true);
    snprintf(path, sizeof(path), "%s/d.bin", dir);
    CHECK(unlink(path) == 0);
    CHECK(btd_storage_write(s, PIECE, buf + PIECE, PIECE, &file) == -ENOENT);
    CHECK(file == 0);
    CHECK(file_size(dir, "d.bin") == -1);
    CHECK(btd_storage_read(s, 0, back, sizeof(back), NULL) == -ENOENT); /* said, not hidden */
    btd_storage_unref(s);
    free(buf);
    tmpdir_remove(dir);
}

static volatile sig_atomic_t lease_broken;

static void on_lease_break(int sig)
{
    (void)sig;
    lease_broken = 1;
}

/*
 * A file under a read lease held by another process (an NFS delegation, a
 * Samba oplock): the write's open starts the lease's break, waits for it
 * without blocking in open(), and goes on once the holder lets go.
 */
static void test_write_waits_for_a_lease_to_break(void)
{
    struct bt_file one[] = {{.path = "l.bin", .length = PIECE}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    uint8_t data[PIECE];
    int ready[2], status = 0;
    char dir[64], path[128], c;
    pid_t child;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 18);
    snprintf(path, sizeof(path), "%s/l.bin", dir);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    CHECK(pipe(ready) == 0);
    child = fork();
    if (child == 0) { /* the holder: a read lease, given up 200 ms after its break starts */
        int fd = open(path, O_RDONLY);

        signal(SIGIO, on_lease_break);
        alarm(20); /* however the parent fares, the holder is gone within 20 s */
        if (fd < 0 || fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
            _exit(2);
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        while (!lease_broken)
            pause();
        usleep(200 * 1000);
        fcntl(fd, F_SETLEASE, F_UNLCK);
        _exit(0);
    }
    close(ready[1]);
    CHECK(read(ready[0], &c, 1) == 1); /* the lease is held */
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, sizeof(data), NULL) == 0);
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(file_equals(dir, "l.bin", data, sizeof(data)));
    close(ready[0]);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* Any other failure to open for a direct write is the write's failure, naming the file. */
static void test_direct_open_failure_fails_the_write(void)
{
    struct bt_file one[] = {{.path = "d.bin", .length = DIRECT_LEN}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    uint8_t *buf = aligned_alloc(PAGE, 3 * PAGE);
    uint32_t file = 77;
    char dir[64];

    tmpdir_make(dir, sizeof(dir), "storage");
    if (on_tmpfs(dir)) { /* no direct open is tried there */
        printf("# %s is on tmpfs: writes go through the cache, no direct open fails\n", dir);
        free(buf);
        tmpdir_remove(dir);
        return;
    }
    fill(buf, 3 * PAGE, 15);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    btd__storage_direct_open_fails(ENOSPC);
    CHECK(btd_storage_write(s, 0, buf, 3 * PAGE, &file) == -ENOSPC);
    btd__storage_direct_open_fails(0);
    CHECK(file == 0);
    CHECK(btd_storage_write(s, 0, buf, 3 * PAGE, NULL) == 0);
    btd_storage_unref(s);
    free(buf);
    tmpdir_remove(dir);
}

/* A FIFO where a file should be: every way in says so at once (no open waits for a writer). */
static void test_fifo_is_not_a_regular_file(void)
{
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL];
    uint64_t size;
    int64_t mtime;
    uint32_t file = 77;
    char dir[64], path[128];

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 5);
    snprintf(path, sizeof(path), "%s/t", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof(path), "%s/t/c.bin", dir);
    CHECK(mkfifo(path, 0644) == 0);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_stat(s, 4, &size, &mtime) == -BTD_STORAGE_ENOTREG);
    CHECK(btd_storage_read(s, 5048, data, 100, &file) == -BTD_STORAGE_ENOTREG);
    CHECK(file == 4);
    file = 77;
    CHECK(btd_storage_write(s, 5048, data, 700, &file) == -BTD_STORAGE_ENOTREG);
    CHECK(file == 4);
    CHECK(btd_storage_write(s, 0, data, 1500, NULL) == 0); /* the other files are fine */
    CHECK(unlink(path) == 0);
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

/* Does dir's file system answer preadv2 with RWF_NOWAIT? (tmpfs says EOPNOTSUPP.) */
static bool nowait_supported(const char *dir)
{
    char path[512], c;
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    int fd;
    bool ok;

    snprintf(path, sizeof(path), "%s/nowait-probe", dir);
    fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return false;
    ok = write(fd, "x", 1) == 1 && preadv2(fd, &iov, 1, 0, RWF_NOWAIT) == 1;
    close(fd);
    unlink(path);
    if (!ok)
        printf("# %s: no RWF_NOWAIT reads here (tmpfs?), cached reads are not tried\n", dir);
    return ok;
}

/*
 * btd_storage_read_cached reads only through descriptors already open, into
 * iovecs across file boundaries (padding as zeros), touching nothing
 * outside them; a deleted file is -EAGAIN (a worker's read reports it), and
 * so is a storage whose lock a worker holds: the loop thread does not wait.
 */
static void test_cached_read_scatters_what_is_open(void)
{
    static const size_t sizes[] = {1000, 16, 2000, 1, 2731}; /* TOTAL, in 5 pieces */
    struct bt_metainfo m = layout(layout_files, 5);
    struct btd_storage *s = NULL;
    uint8_t data[TOTAL], want[TOTAL], out[TOTAL + 5 * 7];
    struct iovec iov[5];
    size_t i, at = 0, from = 0;
    char dir[64], path[128];
    bool gaps_kept = true, same = true;

    tmpdir_make(dir, sizeof(dir), "storage");
    fill(data, sizeof(data), 11);
    memcpy(want, data, sizeof(want));
    memset(want + 1500, 0, 548);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, TOTAL, NULL) == 0);
    CHECK(btd_storage_sync(s) == 0);
    btd_storage_close_files(s);
    memset(out, 0xee, sizeof(out));
    for (i = 0; i < 5; i++) { /* 7 bytes of gap after each */
        iov[i] = (struct iovec){.iov_base = out + at, .iov_len = sizes[i]};
        at += sizes[i] + 7;
    }
    CHECK(btd_storage_read_cached(s, 0, iov, 5) == -EAGAIN); /* nothing open: no open() */
    CHECK(btd_storage_read(s, 0, data, TOTAL, NULL) == 0);   /* a worker's read opens them */
    if (!nowait_supported(dir))
        goto out;
    pthread_mutex_lock(&s->lock); /* a worker in the descriptor cache */
    CHECK(btd_storage_read_cached(s, 0, iov, 5) == -EAGAIN);
    pthread_mutex_unlock(&s->lock);
    CHECK(btd_storage_read_cached(s, 0, iov, 5) == 0);
    for (i = 0, at = 0; i < 5; i++) {
        same = same && memcmp(out + at, want + from, sizes[i]) == 0;
        gaps_kept =
            gaps_kept && memcmp(out + at + sizes[i], "\xee\xee\xee\xee\xee\xee\xee", 7) == 0;
        at += sizes[i] + 7;
        from += sizes[i];
    }
    CHECK(same);
    CHECK(gaps_kept);
    CHECK(btd_storage_read_cached(s, 1400, iov, 1) == 0); /* a.bin's end, then padding */
    CHECK(memcmp(out, want + 1400, sizes[0]) == 0);
    snprintf(path, sizeof(path), "%s/t/sub/dir/b.bin", dir);
    CHECK(unlink(path) == 0);
    CHECK(btd_storage_read_cached(s, 2000, iov, 1) == -EAGAIN); /* b.bin is gone */
    CHECK(btd_storage_read_cached(s, 0, iov, 1) == 0);          /* a.bin is not */
    CHECK(btd_storage_read(s, 2048, out, 10, NULL) == -ENOENT); /* what the worker says */
out:
    btd_storage_unref(s);
    tmpdir_remove(dir);
}

#define COLD_LEN (64u * 1024)

/* How many of path's first COLD_LEN bytes' pages are in the page cache, or -1. */
static int cached_pages(const char *path)
{
    unsigned char vec[COLD_LEN / 4096];
    int fd = open(path, O_RDONLY | O_NOATIME); /* a mapping counts as an access */
    void *map;
    int n = 0;
    size_t i;

    if (fd < 0)
        return -1;
    map = mmap(NULL, COLD_LEN, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return -1;
    if (mincore(map, COLD_LEN, vec) < 0)
        n = -1;
    for (i = 0; n >= 0 && i < sizeof(vec); i++)
        n += vec[i] & 1;
    munmap(map, COLD_LEN);
    return n;
}

/* Drops path's pages from the page cache; false if some stay (tmpfs keeps them). */
static bool evict(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOATIME);

    if (fd < 0)
        return false;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return cached_pages(path) == 0;
}

/* Drops the second half of path's pages; false if they stay. */
static bool drop_second_half(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOATIME);

    if (fd < 0)
        return false;
    posix_fadvise(fd, COLD_LEN / 2, COLD_LEN / 2, POSIX_FADV_DONTNEED);
    close(fd);
    return cached_pages(path) == (int)(COLD_LEN / 4096 / 2);
}

/* Do path's pages stay out of the page cache for 300 ms? (A readahead started is in by then.) */
static bool stays_out(const char *path)
{
    struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
    int i;

    for (i = 0; i < 30; i++) {
        if (cached_pages(path) != 0)
            return false;
        nanosleep(&tick, NULL);
    }
    return true;
}

/*
 * Bytes not in the page cache are not read, so no disk read is started:
 * -EAGAIN, the pages stay out (a miss of a read with RWF_NOWAIT alone would
 * have started readahead), and a worker's read brings them in. Asked by
 * cachestat or, with it off, by mincore. Reads leave the access time alone
 * (O_NOATIME), even where relatime would update it: an atime write could
 * wait on the journal.
 */
static void check_cold_read(bool cachestat)
{
    struct bt_file one[] = {{.path = "cold.bin", .length = COLD_LEN}};
    struct bt_metainfo m = layout(one, 1);
    struct btd_storage *s = NULL;
    static uint8_t data[COLD_LEN], out[COLD_LEN];
    struct iovec iov = {.iov_base = out, .iov_len = COLD_LEN};
    struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_nsec = UTIME_OMIT}};
    char dir[64], path[128];
    struct stat st;

    btd__storage_use_cachestat(cachestat);
    tmpdir_make(dir, sizeof(dir), "storage");
    snprintf(path, sizeof(path), "%s/cold.bin", dir);
    fill(data, sizeof(data), 12);
    CHECK(btd_storage_new(&s, dir, &m) == 0);
    CHECK(btd_storage_write(s, 0, data, COLD_LEN, NULL) == 0);
    CHECK(btd_storage_sync(s) == 0);
    btd_storage_close_files(s);
    CHECK(utimensat(AT_FDCWD, path, old, 0) == 0); /* an atime of 2001: relatime would renew it */
    CHECK(btd_storage_read(s, 0, out, COLD_LEN, NULL) == 0);
    CHECK(stat(path, &st) == 0 && st.st_atim.tv_sec == old[0].tv_sec);
    if (!nowait_supported(dir))
        goto out;
    if (!evict(path)) {
        printf("# the page cache keeps %s: the cold read is not tried\n", path);
    } else {
        CHECK(btd_storage_read_cached(s, 0, &iov, 1) == -EAGAIN);
        CHECK(stays_out(path)); /* no readahead was started */
        CHECK(btd_storage_read(s, 0, out, COLD_LEN, NULL) == 0);
    }
    memset(out, 0, sizeof(out));
    CHECK(btd_storage_read_cached(s, 0, &iov, 1) == 0);
    CHECK(memcmp(out, data, COLD_LEN) == 0);
    CHECK(stat(path, &st) == 0 && st.st_atim.tv_sec == old[0].tv_sec);
    if (drop_second_half(path)) { /* resident bytes with a cold tail: the readahead guard */
        iov.iov_len = 4096;
        CHECK(btd_storage_read_cached(s, 0, &iov, 1) == -EAGAIN);
        CHECK(cached_pages(path) == (int)(COLD_LEN / 4096 / 2));
    }
out:
    btd_storage_unref(s);
    tmpdir_remove(dir);
    btd__storage_use_cachestat(true);
}

static void test_cached_read_does_not_start_a_disk_read(void)
{
    check_cold_read(true);
}

static void test_cached_read_does_not_start_a_disk_read_without_cachestat(void)
{
    check_cold_read(false);
}

int main(void)
{
    TAP_RUN(test_writes_across_file_boundaries_read_back);
    TAP_RUN(test_rejects_span_past_the_end);
    TAP_RUN(test_hash_matches_what_is_read);
    TAP_RUN(test_hash_lanes_match_one_at_a_time);
    TAP_RUN(test_creates_missing_download_dir_with_parents);
    TAP_RUN(test_reading_missing_file_gives_enoent_and_creates_nothing);
    TAP_RUN(test_reading_missing_file_gives_enoent_without_openat2);
    TAP_RUN(test_symlink_in_download_dir_blocks_writes);
    TAP_RUN(test_symlink_in_download_dir_blocks_writes_without_openat2);
    TAP_RUN(test_more_files_than_the_cache_holds);
    TAP_RUN(test_concurrent_writes_from_threads);
    TAP_RUN(test_delete_removes_files_and_empty_dirs);
    TAP_RUN(test_delete_keeps_dirs_holding_foreign_files);
    TAP_RUN(test_single_file_torrent);
    TAP_RUN(test_retired_storage_caches_no_descriptor);
    TAP_RUN(test_file_deleted_under_a_cached_descriptor_is_missing);
    TAP_RUN(test_file_found_by_a_check_then_deleted_is_missing);
    TAP_RUN(test_failed_write_names_its_file);
    TAP_RUN(test_aligned_writes_go_past_the_page_cache);
    TAP_RUN(test_unaligned_buffer_goes_past_the_page_cache);
    TAP_RUN(test_file_at_an_odd_offset_goes_past_the_cache_where_it_can);
    TAP_RUN(test_writes_go_through_the_cache_when_off_or_refused);
    TAP_RUN(test_tmpfs_writes_through_the_cache);
    TAP_RUN(test_file_deleted_under_another_kind_of_descriptor_is_missing);
    TAP_RUN(test_direct_open_failure_fails_the_write);
    TAP_RUN(test_fifo_is_not_a_regular_file);
    TAP_RUN(test_write_waits_for_a_lease_to_break);
    TAP_RUN(test_cached_read_scatters_what_is_open);
    TAP_RUN(test_cached_read_does_not_start_a_disk_read);
    TAP_RUN(test_cached_read_does_not_start_a_disk_read_without_cachestat);
    return tap_done();
}
