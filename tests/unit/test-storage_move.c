#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "storage.h"
#include "tap.h"
#include "tmpdir.h"

/* A nested directory, a padding file, an empty file (as in test-storage.c). */
static struct bt_file layout_files[] = {
    {.path = "t/a.bin", .length = 1500},         {.path = "t/.pad/548", .length = 548, .pad = true},
    {.path = "t/sub/dir/b.bin", .length = 3000}, {.path = "t/empty", .length = 0},
    {.path = "t/c.bin", .length = 700},
};
#define NFILES 5
#define TOTAL 5748

static void write_file(const char *root, const char *rel, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The torrent's data as a storage on root reads it: whole and equal to data. */
static bool data_at(const char *root, const uint8_t *data)
{
    struct bt_metainfo m = layout(layout_files, NFILES);
    struct btd_storage *s = NULL;
    uint8_t got[TOTAL];
    bool ok;

    if (btd_storage_new(&s, root, &m) < 0)
        return false;
    ok = btd_storage_read(s, 0, got, TOTAL, NULL) == 0 && memcmp(got, data, TOTAL) == 0 &&
         file_size(root, "t/empty") == 0;
    btd_storage_unref(s);
    return ok;
}

/* A torrent written whole in root/src, and a storage for root/dst; data gets its bytes. */
static void setup(const char *root, const char *dst, struct btd_storage **from,
                  struct btd_storage **to, uint8_t *data)
{
    struct bt_metainfo m = layout(layout_files, NFILES);
    char src[256];

    snprintf(src, sizeof(src), "%s/src", root);
    fill(data, TOTAL, 3);
    memset(data + 1500, 0, 548); /* padding reads as zeros */
    CHECK(btd_storage_new(from, src, &m) == 0);
    CHECK(btd_storage_write(*from, 0, data, TOTAL, NULL) == 0);
    CHECK(btd_storage_new(to, dst, &m) == 0);
}

static void test_same_fs_renames_only_the_torrents_files(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], src[128], dst[128];
    uint8_t data[TOTAL];

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst/deeper", root);
    setup(root, dst, &from, &to, data);
    write_file(src, "t/sub/foreign.txt", "not the torrent's");
    write_file(src, "other.txt", "neither");
    CHECK(btd_storage_move(from, to, NULL, &rep) == 0);
    CHECK(rep.moved == 4 && rep.copied == 0 && rep.skipped == 0);
    CHECK(rep.failed == UINT32_MAX && rep.stuck == UINT32_MAX);
    CHECK(data_at(dst, data));
    CHECK(file_size(src, "t/a.bin") == -1 && file_size(src, "t/sub/dir") == -1);
    CHECK(file_size(src, "t/empty") == -1 && file_size(src, "t/.pad") == -1);
    CHECK(file_size(src, "t/sub/foreign.txt") == 17 && file_size(src, "other.txt") == 7);
    CHECK(file_size(dst, "t/sub/foreign.txt") == -1 && file_size(dst, "other.txt") == -1);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

/* A directory on another file system than /tmp (a tmpfs at /dev/shm), or false. */
static bool other_fs_dir(char *buf, size_t n)
{
    struct stat a, b;

    snprintf(buf, n, "/dev/shm/btd-test-move-XXXXXX");
    if (stat("/tmp", &a) < 0 || stat("/dev/shm", &b) < 0 || a.st_dev == b.st_dev)
        return false;
    return mkdtemp(buf) != NULL;
}

static void test_cross_fs_copies_then_deletes_the_sources(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], src[128], shm[64], dst[128];
    uint8_t data[TOTAL];

    if (!other_fs_dir(shm, sizeof(shm))) {
        tap_diag("skipped: no other file system at /dev/shm");
        return;
    }
    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", shm);
    setup(root, dst, &from, &to, data);
    write_file(src, "t/foreign.txt", "stays");
    CHECK(btd_storage_move(from, to, NULL, &rep) == 0);
    CHECK(rep.copied == 4 && rep.moved == 0);
    CHECK(data_at(dst, data));
    CHECK(file_size(src, "t/a.bin") == -1 && file_size(src, "t/sub") == -1);
    CHECK(file_size(src, "t/c.bin") == -1 && file_size(src, "t/foreign.txt") == 5);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
    tmpdir_remove(shm);
}

/* dst holds a file of the torrent's already (c.bin, the last): nothing may be lost or replaced. */
static void check_rolls_back(const char *root, const char *dst)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char src[128], dir[256];
    uint8_t data[TOTAL];

    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dir, sizeof(dir), "%s/t", dst);
    CHECK(mkdir(dst, 0755) == 0 && mkdir(dir, 0755) == 0);
    write_file(dst, "t/c.bin", "someone else's");
    setup(root, dst, &from, &to, data);
    CHECK(btd_storage_move(from, to, NULL, &rep) == -EEXIST);
    CHECK_MSG(rep.failed == 4, "failed on file %u", rep.failed);
    CHECK(rep.op != NULL && rep.stuck == UINT32_MAX);
    CHECK(data_at(src, data));
    CHECK(file_size(dst, "t/c.bin") == 14);
    CHECK(file_size(dst, "t/a.bin") == -1 && file_size(dst, "t/sub") == -1);
    CHECK(file_size(dst, "t/empty") == -1);
    btd_storage_unref(from);
    btd_storage_unref(to);
}

static void test_failure_half_way_moves_everything_back(void)
{
    char root[64], dst[128];

    tmpdir_make(root, sizeof(root), "move");
    snprintf(dst, sizeof(dst), "%s/dst", root);
    check_rolls_back(root, dst);
    tmpdir_remove(root);
}

static void test_failure_half_way_across_fs_deletes_the_copies(void)
{
    char root[64], shm[64], dst[128];

    if (!other_fs_dir(shm, sizeof(shm))) {
        tap_diag("skipped: no other file system at /dev/shm");
        return;
    }
    tmpdir_make(root, sizeof(root), "move");
    snprintf(dst, sizeof(dst), "%s/dst", shm);
    check_rolls_back(root, dst);
    tmpdir_remove(root);
    tmpdir_remove(shm);
}

static bool dir_is_empty_or_missing(const char *path)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' 2>/dev/null)\"", path);
    return system(cmd) == 0;
}

/* A symlink planted in the target (a directory, or a file's name) is never followed. */
static void check_symlink_in_target(const char *link_rel, const char *points_to)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], src[128], dst[128], out[128], link[256], dir[256];
    uint8_t data[TOTAL];
    int r;

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    snprintf(out, sizeof(out), "%s/outside", root);
    snprintf(dir, sizeof(dir), "%s/t", dst);
    snprintf(link, sizeof(link), "%s/%s", dst, link_rel);
    CHECK(mkdir(dst, 0755) == 0 && mkdir(dir, 0755) == 0 && mkdir(out, 0755) == 0);
    snprintf(dir, sizeof(dir), "%s/%s", out, points_to);
    CHECK(symlink(dir, link) == 0);
    setup(root, dst, &from, &to, data);
    r = btd_storage_move(from, to, NULL, &rep);
    CHECK_MSG(r < 0, "move through %s: %d", link_rel, r);
    CHECK(rep.stuck == UINT32_MAX);
    CHECK(data_at(src, data));
    CHECK_MSG(dir_is_empty_or_missing(out), "something was written in %s", out);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

static void test_symlink_in_target_is_not_followed(void)
{
    check_symlink_in_target("t/sub", "");
    check_symlink_in_target("t/c.bin", "c.bin");
    check_symlink_in_target("t/a.bin", "a.bin");
}

static void test_missing_files_are_skipped(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    struct bt_metainfo m = layout(layout_files, NFILES);
    char root[64], src[128], dst[128];
    uint8_t data[TOTAL];

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    fill(data, TOTAL, 4);
    CHECK(btd_storage_new(&from, src, &m) == 0);
    CHECK(btd_storage_write(from, 0, data, 1500, NULL) == 0); /* a.bin and the empty file */
    CHECK(btd_storage_new(&to, dst, &m) == 0);
    CHECK(btd_storage_move(from, to, NULL, &rep) == 0);
    CHECK_MSG(rep.moved == 2 && rep.skipped == 2, "moved %u skipped %u", rep.moved, rep.skipped);
    CHECK(file_size(dst, "t/a.bin") == 1500 && file_size(dst, "t/empty") == 0);
    CHECK(file_size(dst, "t/sub") == -1 && file_size(src, "t") == -1);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

static void test_same_directory_is_refused(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], src[128];
    uint8_t data[TOTAL];

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src/", root); /* another spelling of the same directory */
    setup(root, src, &from, &to, data);
    CHECK(btd_storage_move(from, to, NULL, &rep) == -EALREADY);
    CHECK(data_at(src, data));
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

static void test_cancel_stops_and_moves_back(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], src[128], dst[128];
    atomic_bool cancel = true;
    uint8_t data[TOTAL];

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    setup(root, dst, &from, &to, data);
    CHECK(btd_storage_move(from, to, &cancel, &rep) == -ECANCELED);
    CHECK(rep.failed == 0 && rep.moved == 0);
    CHECK(data_at(src, data));
    CHECK(file_size(dst, "t") == -1);
    atomic_store(&cancel, false);
    CHECK(btd_storage_move(from, to, &cancel, &rep) == 0);
    CHECK(data_at(dst, data));
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

/* What a record written before the move saw: the files as they are in from. */
static void seen_now(struct btd_storage *from, struct btd_storage_seen *seen)
{
    uint32_t i;

    for (i = 0; i < NFILES; i++) {
        seen[i] = (struct btd_storage_seen){0};
        seen[i].exists = btd_storage_stat(from, i, &seen[i].size, &seen[i].mtime_ns) == 0 &&
                         !layout_files[i].pad;
    }
}

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A crash half way through a same-fs move: some files renamed, a part left, one not ours. */
static void test_recover_renames_back_and_leaves_what_is_not_ours(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_seen seen[NFILES];
    struct btd_storage_move_report rep;
    char root[64], src[128], dst[128];
    uint8_t data[TOTAL];
    int r;

    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    setup(root, dst, &from, &to, data);
    seen_now(from, seen);
    CHECK(sh("mkdir -p %1$s/t/sub/dir && mv %2$s/t/a.bin %2$s/t/empty %1$s/t/", dst, src) == 0);
    write_file(dst, "t/c.bin.btd-part", "half a copy");
    write_file(dst, "t/sub/dir/b.bin", "someone else's"); /* b.bin is still in src */
    r = btd_storage_move_recover(from, to, seen, &rep);
    CHECK_MSG(r == 0, "recover: %d", r);
    CHECK_MSG(rep.moved == 2 && rep.copied == 0 && rep.parts == 1, "moved %u copied %u parts %u",
              rep.moved, rep.copied, rep.parts);
    CHECK(data_at(src, data));
    CHECK(file_size(dst, "t/a.bin") == -1 && file_size(dst, "t/empty") == -1);
    CHECK(file_size(dst, "t/c.bin.btd-part") == -1);
    CHECK(file_size(dst, "t/sub/dir/b.bin") == 14);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
}

/* A crash during a cross-fs move: a copy done (source kept), one source deleted, a part. */
static void test_recover_across_fs_copies_back_and_drops_spares(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_seen seen[NFILES];
    struct btd_storage_move_report rep;
    char root[64], src[128], shm[64], dst[128];
    uint8_t data[TOTAL];
    int r;

    if (!other_fs_dir(shm, sizeof(shm))) {
        tap_diag("skipped: no other file system at /dev/shm");
        return;
    }
    tmpdir_make(root, sizeof(root), "move");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", shm);
    setup(root, dst, &from, &to, data);
    btd_storage_sync(from);
    btd_storage_close_files(from);
    seen_now(from, seen);
    CHECK(sh("mkdir -p %1$s/t/sub/dir && cp -p %2$s/t/a.bin %2$s/t/c.bin %1$s/t/", dst, src) == 0);
    CHECK(sh("rm %2$s/t/c.bin && head -c 100 %2$s/t/sub/dir/b.bin > %1$s/t/sub/dir/b.bin.btd-part",
             dst, src) == 0);
    r = btd_storage_move_recover(from, to, seen, &rep);
    CHECK_MSG(r == 0, "recover: %d", r);
    CHECK_MSG(rep.copied == 1 && rep.skipped == 1 && rep.parts == 1, "copied %u spares %u parts %u",
              rep.copied, rep.skipped, rep.parts);
    CHECK(data_at(src, data));
    CHECK_MSG(dir_is_empty_or_missing(dst), "%s is not empty", dst);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
    tmpdir_remove(shm);
}

/* A copy that fails half way leaves no part and no file of the final name. */
static void test_copy_goes_through_a_part_file(void)
{
    struct btd_storage *from = NULL, *to = NULL;
    struct btd_storage_move_report rep;
    char root[64], shm[64], dst[128];
    atomic_bool cancel = false;
    uint8_t data[TOTAL];

    if (!other_fs_dir(shm, sizeof(shm))) {
        tap_diag("skipped: no other file system at /dev/shm");
        return;
    }
    tmpdir_make(root, sizeof(root), "move");
    snprintf(dst, sizeof(dst), "%s/dst", shm);
    setup(root, dst, &from, &to, data);
    CHECK(sh("mkdir -p %1$s/t && touch %1$s/t/a.bin.btd-part", dst) == 0);
    CHECK(btd_storage_move(from, to, &cancel, &rep) == -EEXIST); /* a part is never replaced */
    CHECK(file_size(dst, "t/a.bin") == -1 && file_size(dst, "t/a.bin.btd-part") == 0);
    CHECK(sh("rm %s/t/a.bin.btd-part", dst) == 0);
    CHECK(btd_storage_move(from, to, &cancel, &rep) == 0);
    CHECK(data_at(dst, data));
    CHECK(file_size(dst, "t/a.bin.btd-part") == -1 && file_size(dst, "t/c.bin.btd-part") == -1);
    btd_storage_unref(from);
    btd_storage_unref(to);
    tmpdir_remove(root);
    tmpdir_remove(shm);
}

int main(void)
{
    TAP_RUN(test_same_fs_renames_only_the_torrents_files);
    TAP_RUN(test_cross_fs_copies_then_deletes_the_sources);
    TAP_RUN(test_failure_half_way_moves_everything_back);
    TAP_RUN(test_failure_half_way_across_fs_deletes_the_copies);
    TAP_RUN(test_symlink_in_target_is_not_followed);
    TAP_RUN(test_missing_files_are_skipped);
    TAP_RUN(test_same_directory_is_refused);
    TAP_RUN(test_cancel_stops_and_moves_back);
    TAP_RUN(test_recover_renames_back_and_leaves_what_is_not_ours);
    TAP_RUN(test_recover_across_fs_copies_back_and_drops_spares);
    TAP_RUN(test_copy_goes_through_a_part_file);
    return tap_done();
}
