/*
 * storage-internal: what storage.c (reads, writes, deletes) and
 * storage_move.c (moving a torrent's files to another directory) share.
 * Same threads as storage.h: the helpers below run on any thread and touch
 * only the directory descriptor and the layout, which never change.
 */
#ifndef BTD_STORAGE_INTERNAL_H
#define BTD_STORAGE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "storage.h"

/* One file of the layout, copied from the metainfo. */
struct sfile {
    char *path;       /* owned: "name/dir/file", components joined with '/' */
    char *comps;      /* same allocation as path: the components, NUL-separated */
    const char *leaf; /* into comps: the last component */
    uint32_t ncomps;
    uint64_t length; /* bytes */
    uint64_t offset; /* bytes from the start of the torrent's data */
    bool pad;        /* BEP 47 padding: never on disk */
};

/* What a descriptor was opened for. */
enum btd_fd_kind {
    BTD_FD_READ,   /* O_RDONLY */
    BTD_FD_WRITE,  /* O_RDWR: also fit for reading */
    BTD_FD_DIRECT, /* O_RDWR | O_DIRECT: aligned writes past the page cache, and nothing else */
};

/* One cached descriptor. The cache hands out dup()s, so closing an entry never
 * pulls a descriptor from under a worker that is using it. A file may have
 * two entries: a direct one and a buffered one. */
struct cached_fd {
    int fd;                /* owned; -1 for a free slot */
    uint32_t file;         /* index into files */
    enum btd_fd_kind kind; /* what it was opened for */
    uint64_t used;         /* LRU stamp, higher is more recent */
    bool noatime;          /* O_NOATIME took: reading through it writes nothing */
};

struct btd_storage {
    atomic_uint refs;
    int dirfd;           /* owned: the download directory */
    struct sfile *files; /* owned */
    uint32_t file_count;
    uint64_t total_length;      /* bytes */
    atomic_bool *dirty;         /* owned; one per file: written since the last sync */
    atomic_bool *seen;          /* owned; one per file: it existed (opened, or found by a stat) */
    atomic_bool empties_done;   /* the zero-length files were created */
    atomic_bool no_direct;      /* the file system refused O_DIRECT: buffered writes only */
    atomic_bool no_nowait;      /* the file system refused RWF_NOWAIT: reads on workers only */
    atomic_bool retired;        /* its torrent is gone: descriptors are closed after each use */
    pthread_mutex_t lock;       /* protects cache and stamp */
    pthread_mutex_t write_lock; /* one pwrite at a time (see btd_storage_write) */
    struct cached_fd cache[BTD_STORAGE_MAX_OPEN];
    uint64_t stamp;
};

/*
 * fd (opened O_NONBLOCK, so that a FIFO does not hold the open) if it is a
 * regular file, its status flags then set to status_flags (O_NONBLOCK off);
 * else it is closed and -BTD_STORAGE_ENOTREG (or -errno) returned. A
 * negative fd is returned as it is.
 */
int btd__storage_regular(int fd, int status_flags);
/*
 * After an O_NONBLOCK open failed with EAGAIN (a lease, whose break that
 * open started): sleeps 10 ms and adds them to *waited_ms, true; false
 * once about the kernel's lease-break-time has been waited. Opening again
 * without O_NONBLOCK would wait in the kernel, and a FIFO put in the
 * file's place meanwhile would then hold the thread.
 */
bool btd__storage_lease_wait(int *waited_ms);
/*
 * The directory holding f's leaf beneath s's directory, walked component by
 * component with O_NOFOLLOW (each created first when create), so a symlink
 * in the way makes it fail. Returns a descriptor for btd__storage_close_dir
 * (it may be s's own), or -errno.
 */
int btd__storage_open_parent(const struct btd_storage *s, const struct sfile *f, bool create);
void btd__storage_close_dir(const struct btd_storage *s, int fd);
/*
 * Removes the directories beneath s's directory that hold its files, deepest
 * first, where they are empty (as btd_storage_delete does after the files).
 * 0 or the first -errno.
 */
int btd__storage_remove_dirs(const struct btd_storage *s);

#endif
