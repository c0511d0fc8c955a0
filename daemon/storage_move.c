/*
 * storage_move: a torrent's files from one download directory to another
 * (btd_storage_move in storage.h). Worker thread; both storages idle.
 *
 * Each file is renamed (renameat2 RENAME_NOREPLACE) or, across file
 * systems, copied into a new file (O_EXCL|O_NOFOLLOW, holes kept, fsync)
 * whose source is deleted only once every file is in place, so a failure
 * half way can move everything back: renames are undone, copies deleted.
 * A copy is written as NAME.btd-part and renamed to NAME once whole and
 * synced: a file of the final name in the target is always complete, which
 * btd_storage_move_recover relies on after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage-internal.h"

#define COPY_CHUNK (1u << 20) /* bytes per copy_file_range or read */
#define PART_SUFFIX ".btd-part"
#define PART_MAX 256 /* bytes of a part name, NUL included (NAME_MAX + 1) */

enum done_how {
    NOT_MOVED = 0,
    RENAMED,
    COPIED,
};

struct mover {
    struct btd_storage *from, *to; /* borrowed */
    uint8_t *how;                  /* owned: enum done_how per file */
    struct btd_storage_move_report *rep;
    const atomic_bool *cancel; /* borrowed, or NULL */
};

static bool cancelled(const atomic_bool *cancel)
{
    return cancel && atomic_load(cancel);
}

static int fail(struct mover *m, uint32_t i, const char *op, int r)
{
    m->rep->failed = i;
    m->rep->op = op;
    return r;
}

/* fsync of the directory pfd (an O_PATH descriptor) names; best effort. */
static void sync_dir(int pfd)
{
    int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Copies n bytes at off from in to out: copy_file_range, else read and write. */
static int copy_range(int in, int out, uint64_t off, uint64_t n, uint8_t **buf,
                      const atomic_bool *cancel)
{
    loff_t ioff = (loff_t)off, ooff = (loff_t)off;
    ssize_t k, w;
    bool plain = false;

    while (n > 0) {
        size_t want = n < COPY_CHUNK ? (size_t)n : COPY_CHUNK;

        if (cancelled(cancel))
            return -ECANCELED;

        k = plain ? -1 : copy_file_range(in, &ioff, out, &ooff, want, 0);
        if (k < 0 && !plain &&
            (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
             errno == EPERM)) {
            plain = true;
            continue;
        }
        if (plain) {
            if (!*buf && !(*buf = malloc(COPY_CHUNK)))
                return -ENOMEM;
            k = pread(in, *buf, want, ioff);
            for (w = 0; k > 0 && w < k;) {
                ssize_t d = pwrite(out, *buf + w, (size_t)(k - w), ooff + w);

                if (d < 0 && errno == EINTR)
                    continue;
                if (d <= 0)
                    return d < 0 ? -errno : -EIO;
                w += d;
            }
            ioff += k > 0 ? k : 0;
            ooff += k > 0 ? k : 0;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return -ENODATA; /* the source shrank under us */
        n -= (uint64_t)k;
    }
    return 0;
}

/* Copies the data of in (size bytes) into out, leaving its holes as holes. */
static int copy_data(int in, int out, uint64_t size, const atomic_bool *cancel)
{
    uint8_t *buf = NULL;
    off_t data, hole = 0;
    int r = 0;

    if (ftruncate(out, (off_t)size) < 0)
        return -errno;
    while (r == 0 && (uint64_t)hole < size) {
        data = lseek(in, hole, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* only a hole is left */
        if (data < 0) {
            data = hole; /* SEEK_DATA unsupported: all of it is data */
            hole = (off_t)size;
        } else {
            hole = lseek(in, data, SEEK_HOLE);
            if (hole < 0 || (uint64_t)hole > size)
                hole = (off_t)size;
        }
        r = copy_range(in, out, (uint64_t)data, (uint64_t)(hole - data), &buf, cancel);
    }
    free(buf);
    return r;
}

/* The temporary name of leaf's copy: leaf (cut to fit NAME_MAX) and ".btd-part". */
static void part_name(const char *leaf, char out[PART_MAX])
{
    size_t keep = PART_MAX - sizeof(PART_SUFFIX), n = strlen(leaf);

    n = n < keep ? n : keep;
    memcpy(out, leaf, n);
    memcpy(out + n, PART_SUFFIX, sizeof(PART_SUFFIX));
}

/*
 * Copies the regular file leaf (st) from spfd into a new file in dpfd: into
 * leaf.btd-part, renamed to leaf once whole and synced. None is left on a failure.
 */
static int copy_file(int spfd, int dpfd, const char *leaf, const struct stat *st,
                     const atomic_bool *cancel)
{
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    char part[PART_MAX];
    struct stat there;
    int in, out, r = 0, waited_ms = 0;

    if (fstatat(dpfd, leaf, &there, AT_SYMLINK_NOFOLLOW) == 0)
        return -EEXIST; /* said before copying, not after */
    part_name(leaf, part);
    in = openat(spfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    while (in < 0 && errno == EAGAIN && btd__storage_lease_wait(&waited_ms)) /* see open_file */
        in = openat(spfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    in = btd__storage_regular(in < 0 ? -errno : in, 0); /* st said regular: it still is */
    if (in < 0)
        return in;
    out = openat(dpfd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 st->st_mode & 0777);
    if (out < 0) {
        r = -errno;
        close(in);
        return r;
    }
    r = copy_data(in, out, (uint64_t)st->st_size, cancel);
    if (r == 0 && (fchmod(out, st->st_mode & 0777) < 0 || futimens(out, times) < 0))
        r = -errno;
    if (r == 0 && fsync(out) < 0)
        r = -errno;
    if (close(out) < 0 && r == 0)
        r = -errno;
    close(in);
    if (r == 0 && renameat2(dpfd, part, dpfd, leaf, RENAME_NOREPLACE) < 0)
        r = -errno;
    if (r < 0)
        unlinkat(dpfd, part, 0);
    else
        sync_dir(dpfd);
    return r;
}

/* Renames leaf from spfd to dpfd without replacing anything; -EXDEV across file systems. */
static int rename_file(int spfd, int dpfd, const char *leaf)
{
    if (renameat2(spfd, leaf, dpfd, leaf, RENAME_NOREPLACE) < 0)
        return -errno;
    sync_dir(dpfd);
    sync_dir(spfd);
    return 0;
}

/* Moves file i (renamed or copied, its source kept); a file not in the source is skipped. */
static int move_one(struct mover *m, uint32_t i)
{
    const struct sfile *f = &m->from->files[i];
    const char *op;
    int spfd, dpfd, r;
    struct stat st;

    spfd = btd__storage_open_parent(m->from, f, false);
    if (spfd == -ENOENT || spfd == -ENOTDIR) {
        m->rep->skipped++;
        return 0;
    }
    if (spfd < 0)
        return fail(m, i, "opening the directory of", spfd);
    r = fstatat(spfd, f->leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    if (r < 0 || !S_ISREG(st.st_mode)) { /* not written yet, or not ours (a symlink, ...) */
        btd__storage_close_dir(m->from, spfd);
        if (r < 0 && r != -ENOENT)
            return fail(m, i, "examining", r);
        m->rep->skipped++;
        return 0;
    }
    dpfd = btd__storage_open_parent(m->to, &m->to->files[i], true);
    if (dpfd < 0) {
        btd__storage_close_dir(m->from, spfd);
        return fail(m, i, "creating the directory of", dpfd);
    }
    op = "renaming";
    r = rename_file(spfd, dpfd, f->leaf);
    if (r == 0) {
        m->how[i] = RENAMED;
        m->rep->moved++;
    } else if (r == -EXDEV) {
        op = "copying";
        r = copy_file(spfd, dpfd, f->leaf, &st, m->cancel);
        m->how[i] = r == 0 ? COPIED : NOT_MOVED;
        m->rep->copied += r == 0;
    }
    if (r < 0)
        fail(m, i, op, r);
    btd__storage_close_dir(m->to, dpfd);
    btd__storage_close_dir(m->from, spfd);
    return r;
}

/* Undoes file i's move: renamed back, or its copy deleted (the source is still there). */
static int move_back(struct mover *m, uint32_t i)
{
    const struct sfile *f = &m->from->files[i];
    int spfd, dpfd, r = 0;

    dpfd = btd__storage_open_parent(m->to, &m->to->files[i], false);
    if (dpfd < 0)
        return dpfd;
    if (m->how[i] == COPIED) {
        if (unlinkat(dpfd, f->leaf, 0) < 0 && errno != ENOENT)
            r = -errno;
        btd__storage_close_dir(m->to, dpfd);
        return r;
    }
    spfd = btd__storage_open_parent(m->from, f, true);
    r = spfd < 0 ? spfd : rename_file(dpfd, spfd, f->leaf);
    if (spfd >= 0)
        btd__storage_close_dir(m->from, spfd);
    btd__storage_close_dir(m->to, dpfd);
    return r;
}

/* Deletes the source of the copied file i (its copy is in place). */
static int delete_source(struct mover *m, uint32_t i)
{
    const struct sfile *f = &m->from->files[i];
    int spfd = btd__storage_open_parent(m->from, f, false), r = 0;

    if (spfd < 0)
        return spfd;
    if (unlinkat(spfd, f->leaf, 0) < 0 && errno != ENOENT)
        r = -errno;
    btd__storage_close_dir(m->from, spfd);
    return r;
}

static bool same_dir(const struct btd_storage *a, const struct btd_storage *b)
{
    struct stat sa, sb;

    return fstat(a->dirfd, &sa) == 0 && fstat(b->dirfd, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int check_layouts(const struct btd_storage *from, const struct btd_storage *to)
{
    uint32_t i;

    if (from->file_count != to->file_count)
        return -EINVAL;
    for (i = 0; i < from->file_count; i++) {
        if (strcmp(from->files[i].path, to->files[i].path) != 0)
            return -EINVAL;
    }
    return same_dir(from, to) ? -EALREADY : 0;
}

int btd_storage_move(struct btd_storage *from, struct btd_storage *to, const atomic_bool *cancel,
                     struct btd_storage_move_report *report)
{
    struct mover m = {.from = from, .to = to, .rep = report, .cancel = cancel};
    uint32_t i, n;
    int r;

    *report = (struct btd_storage_move_report){.failed = UINT32_MAX, .stuck = UINT32_MAX};
    r = check_layouts(from, to);
    if (r < 0)
        return r;
    /* A renamed file keeps its pages: what the torrent wrote must be on the disk first,
     * as the next record (written through the new storage) lists its pieces. */
    r = btd_storage_sync(from);
    if (r < 0)
        return r;
    m.how = calloc(from->file_count, 1);
    if (!m.how)
        return -ENOMEM;
    btd_storage_close_files(from);
    btd_storage_close_files(to);
    for (n = 0; r == 0 && n < from->file_count; n++) {
        if (cancelled(cancel))
            r = fail(&m, n, "moving", -ECANCELED);
        else if (!from->files[n].pad)
            r = move_one(&m, n);
    }
    if (r < 0) {
        for (i = 0; i < n; i++) {
            if (m.how[i] != NOT_MOVED && move_back(&m, i) < 0 && m.how[i] == RENAMED &&
                report->stuck == UINT32_MAX)
                report->stuck = i;
        }
        btd__storage_remove_dirs(to);
        free(m.how);
        return r;
    }
    for (i = 0; i < from->file_count; i++) {
        if (m.how[i] == COPIED)
            delete_source(&m, i); /* a source left behind is a spare copy, not a loss */
    }
    btd__storage_remove_dirs(from);
    free(m.how);
    return 0;
}

/* file i's size and mtime in pfd, if it is a regular file there. */
static bool stat_leaf(int pfd, const char *leaf, struct btd_storage_seen *ret)
{
    struct stat st;

    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        return false;
    ret->size = (uint64_t)st.st_size;
    ret->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    ret->exists = true;
    return true;
}

/* Same size, and mtimes within 2 s (a copy to a coarser file system may round them). */
static bool same_seen(const struct btd_storage_seen *a, const struct btd_storage_seen *b)
{
    int64_t d = a->mtime_ns - b->mtime_ns;

    return a->exists && b->exists && a->size == b->size && d > -2000000000 && d < 2000000000;
}

/* Moves file i of away's directory (apfd) back into home's: renamed, else copied and deleted. */
static int bring_back(struct mover *m, uint32_t i, int apfd, const struct btd_storage_seen *seen)
{
    const struct sfile *f = &m->from->files[i];
    struct btd_storage_seen here = {0};
    struct stat st;
    int hpfd, r;

    hpfd = btd__storage_open_parent(m->to, &m->to->files[i], true);
    if (hpfd < 0)
        return hpfd;
    if (stat_leaf(hpfd, f->leaf, &here) && same_seen(&here, seen)) {
        /* A whole copy on both sides (the move was deleting its sources): drop the spare. */
        r = unlinkat(apfd, f->leaf, 0) < 0 ? -errno : 0;
        m->rep->skipped += r == 0;
    } else {
        r = rename_file(apfd, hpfd, f->leaf);
        m->rep->moved += r == 0;
        if (r == -EXDEV && fstatat(apfd, f->leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
            r = -errno;
        else if (r == -EXDEV) {
            r = copy_file(apfd, hpfd, f->leaf, &st, NULL);
            if (r == 0 && unlinkat(apfd, f->leaf, 0) < 0)
                r = -errno;
            m->rep->copied += r == 0;
        }
    }
    btd__storage_close_dir(m->to, hpfd);
    return r;
}

/* Recovers file i: its leftover part deleted, and brought back if away holds it as seen. */
static int recover_one(struct mover *m, uint32_t i, const struct btd_storage_seen *seen)
{
    const struct sfile *f = &m->from->files[i];
    struct btd_storage_seen there = {0};
    char part[PART_MAX];
    int apfd, r = 0;

    apfd = btd__storage_open_parent(m->from, f, false);
    if (apfd == -ENOENT || apfd == -ENOTDIR)
        return 0; /* nothing of it went there */
    if (apfd < 0)
        return apfd;
    part_name(f->leaf, part);
    if (unlinkat(apfd, part, 0) == 0)
        m->rep->parts++;
    /* Only the file the record saw comes back: anything else in away is not ours. */
    if (stat_leaf(apfd, f->leaf, &there) && same_seen(&there, seen))
        r = bring_back(m, i, apfd, seen);
    btd__storage_close_dir(m->from, apfd);
    return r;
}

int btd_storage_move_recover(struct btd_storage *home, struct btd_storage *away,
                             const struct btd_storage_seen *seen,
                             struct btd_storage_move_report *report)
{
    struct mover m = {.from = away, .to = home, .rep = report};
    uint32_t i;
    int r = 0, ri;

    *report = (struct btd_storage_move_report){.failed = UINT32_MAX, .stuck = UINT32_MAX};
    if (home->file_count != away->file_count)
        return -EINVAL;
    if (same_dir(home, away))
        return 0;
    btd_storage_close_files(home);
    btd_storage_close_files(away);
    for (i = 0; i < away->file_count; i++) {
        if (away->files[i].pad)
            continue;
        ri = recover_one(&m, i, &seen[i]);
        if (ri < 0 && r == 0) {
            r = fail(&m, i, "moving back", ri);
            report->stuck = i;
        }
    }
    btd__storage_remove_dirs(away);
    return r;
}
