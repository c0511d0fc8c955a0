/*
 * storage: one torrent's data on disk. Maps pieces onto file spans, creates
 * files sparse on first write, and opens every path beneath the download
 * directory's descriptor (openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
 * or component by component with O_NOFOLLOW where openat2 is missing), so a
 * symlink planted in the download directory cannot redirect a write.
 * Padding files (BEP 47) are never written or read: reads fill zeros.
 *
 * Threads: created and released on the loop thread; read/write/sync run
 * on worker threads and are safe to call concurrently (the open-file cache
 * has its own lock). Reference counted: each worker job holds a reference,
 * so a torrent removed while jobs run frees its storage on the last unref.
 * Holds a private copy of the file layout; it never points into the torrent.
 */
#ifndef BTD_STORAGE_H
#define BTD_STORAGE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "metainfo.h"
#include "sha1.h"

#define BTD_STORAGE_MAX_OPEN 32 /* file descriptors cached per torrent */
#define BTD_STORAGE_ALIGN 4096  /* direct writes: buffer, offset and length are multiples of it */
/* The errno for a file of the layout that is not a regular file (a FIFO, a socket, a device). */
#define BTD_STORAGE_ENOTREG ENXIO

/* strerror(err) for an errno of this module: BTD_STORAGE_ENOTREG is "not a regular file". */
const char *btd_storage_strerror(int err);

struct btd_storage;

/*
 * Opens the download directory dir (created if missing, with parents) and
 * copies the layout from m. Nothing else is created until the first write.
 */
int btd_storage_new(struct btd_storage **ret, const char *dir, const struct bt_metainfo *m);
struct btd_storage *btd_storage_ref(struct btd_storage *s);
void btd_storage_unref(struct btd_storage *s);

/*
 * Process-wide, any thread: whether writes go past the page cache
 * (O_DIRECT) where buffer, file offset and length allow (BTD_STORAGE_ALIGN);
 * on by default. The config key direct_writes.
 */
void btd_storage_set_direct_writes(bool on);

/*
 * Writes len bytes at torrent offset off (spanning files). 0 or -errno
 * (ENOSPC, EIO, EROFS, EFBIG, ...; -ENOENT when a file this storage has
 * seen (opened, or found by btd_storage_stat) is gone: what it held is
 * lost, and a write never creates it afresh with a hole where that was.
 * That goes on until btd_storage_stat finds the file missing (a check,
 * which learns what is left); then the next write creates it). On a
 * failure that is one file's, *fail_file (if not NULL) is set to that
 * file's index in metainfo order, else left alone. Worker thread.
 */
int btd_storage_write(struct btd_storage *s, uint64_t off, const uint8_t *data, size_t len,
                      uint32_t *fail_file);
/*
 * Reads len bytes at torrent offset off. 0, -ENOENT when a file does not
 * exist (not yet, or deleted, even while this storage had it open),
 * -ENODATA when a file is too short, or -errno; *fail_file as for a write.
 * Worker thread.
 */
int btd_storage_read(struct btd_storage *s, uint64_t off, uint8_t *out, size_t len,
                     uint32_t *fail_file);

#define BTD_STORAGE_CACHED_IOV 16 /* iovecs btd_storage_read_cached takes at most */

/*
 * Reads the bytes at torrent offset off into iov[0..n) (as many as their
 * lengths add up to; n at most BTD_STORAGE_CACHED_IOV) only if nothing has
 * to wait: the storage's lock free, each file's descriptor already open
 * (by an earlier read or write) with O_NOATIME, and every byte in the page
 * cache (asked with cachestat(2) or mincore(2) first, then read with
 * preadv2 and RWF_NOWAIT). 0, or -EAGAIN when any part would wait, or
 * fails, or the file was deleted: then btd_storage_read on a worker does
 * it, and reports what is wrong. The loop thread's way to serve an upload
 * without a worker; any thread.
 */
int btd_storage_read_cached(struct btd_storage *s, uint64_t off, const struct iovec *iov, int n);
/*
 * Feeds the len bytes at torrent offset off to sha, straight from the page
 * cache through a mapping where the file allows it (see mapped.h), else by
 * reading; padding as zeros. Returns as btd_storage_read; on an error sha
 * holds part of the span. Worker thread.
 */
int btd_storage_hash(struct btd_storage *s, uint64_t off, size_t len, struct bt_sha1 *sha,
                     uint32_t *fail_file);
/*
 * SHA-1 of n spans of len bytes each, at torrent offsets off[i], in lanes
 * of width (bt_sha1_lanes_width(), n <= width): out[i], and status[i] 0 or
 * -errno as btd_storage_read's for span i (fail_file[i] set on a failure;
 * out[i] is then of no use). Each span is read into a buffer a chunk at a
 * time, all spans in step. Returns 0, or -EINVAL, -ENOTSUP (width) or
 * -ENOMEM for the whole call. Worker thread.
 */
int btd_storage_hash_lanes(struct btd_storage *s, unsigned width, unsigned n, const uint64_t *off,
                           size_t len, uint8_t (*out)[BT_SHA1_LEN], int *status,
                           uint32_t *fail_file);
/* fdatasync every file written since the last sync. Worker thread. */
int btd_storage_sync(struct btd_storage *s);
/*
 * Size and modification time (ns since the epoch) of file i, in metainfo
 * order. A padding file reads as 0, 0. 0, -ENOENT when the file does not
 * exist, or -errno. Any thread.
 */
int btd_storage_stat(struct btd_storage *s, uint32_t i, uint64_t *ret_size, int64_t *ret_mtime_ns);
/* Closes cached descriptors (e.g. before a recheck or on pause). Any thread. */
void btd_storage_close_files(struct btd_storage *s);
/*
 * Its torrent is gone: closes the cached descriptors, and jobs still
 * running close what they open instead of caching it, so the last
 * reference (dropped on the loop) has nothing to close. Worker thread.
 */
void btd_storage_retire(struct btd_storage *s);
/* Deletes the torrent's files and the directories it created if empty. Worker thread. */
int btd_storage_delete(struct btd_storage *s);

/* What btd_storage_move did; filled in every case. */
struct btd_storage_move_report {
    uint32_t moved;   /* files renamed within one file system */
    uint32_t copied;  /* files copied to another file system (then their sources deleted) */
    uint32_t skipped; /* files not in the source directory (not written yet), or not regular */
    uint32_t failed;  /* the file (metainfo order) the move failed on, or UINT32_MAX */
    const char *op;   /* static: what failed on it ("renaming", "copying", ...), or NULL */
    uint32_t stuck;   /* a file left in to's directory by a failed move back, or UINT32_MAX */
    uint32_t parts;   /* recovery: partial copies (NAME.btd-part) deleted */
};

/* A file as a resume record saw it. */
struct btd_storage_seen {
    uint64_t size;    /* bytes */
    int64_t mtime_ns; /* ns since the epoch */
    bool exists;
};

/*
 * Moves the torrent's files from from's directory to to's (two storages of
 * one layout): each file is renamed when both are on one file system, else
 * copied (with its mode and times, fsync) into a new file; directories are
 * created beneath to's directory, never through a symlink, and no existing
 * file there is replaced (-EEXIST). Only the layout's files move; what else
 * the directories hold stays. A file missing from the source (not written
 * yet) is skipped.
 *
 * What was written through from is synced first (fdatasync), as a rename
 * keeps the pages it has. All or nothing: the sources of copies are
 * deleted only once every file is in place. On a failure every file
 * already moved is moved back (renamed back; copies deleted), the
 * directories created for them are removed, and
 * the -errno of the failure is returned with report->failed and op set; if
 * a rename back fails too (it should not: same file system), report->stuck
 * names the file left in to's directory. On success the source directories
 * the torrent's files were in are removed when empty. Neither storage may
 * be written meanwhile. cancel (may be NULL), once set from another thread,
 * stops the move before the next file or copied MiB: -ECANCELED, and the
 * files are moved back as for a failure. Worker thread.
 */
int btd_storage_move(struct btd_storage *from, struct btd_storage *to, const atomic_bool *cancel,
                     struct btd_storage_move_report *report);

/*
 * After a crash during a move from home's directory to away's: puts the
 * torrent's files back in home's (both storages of one layout). For each
 * file: a partial copy NAME.btd-part in away is deleted; a NAME in away
 * whose size and mtime are what seen[i] (the record written before the
 * move) says is the torrent's, and is renamed back (copied, synced, then
 * deleted across file systems) — or just deleted when home holds it as seen
 * too (a finished copy whose source was not yet deleted). Anything else in
 * away is not the torrent's and stays. The empty directories of the
 * layout in away are removed. report: moved, copied, skipped (spares
 * deleted), parts; on a failure (a file left in away) its -errno with
 * failed, op and stuck naming the first such file; the others are still
 * done. Worker thread (or the loop before it turns).
 */
int btd_storage_move_recover(struct btd_storage *home, struct btd_storage *away,
                             const struct btd_storage_seen *seen,
                             struct btd_storage_move_report *report);

/* Tests only: false makes btd_storage_read_cached ask mincore instead of cachestat. */
void btd__storage_use_cachestat(bool on);
/* Tests only: false forces the component-by-component walk instead of openat2. */
void btd__storage_use_openat2(bool on);
/* Tests only: an errno > 0 makes opening a file for direct writes fail with it; 0 undoes it. */
void btd__storage_direct_open_fails(int err);

#endif
