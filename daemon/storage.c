#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "mapped.h"
#include "sha1_lanes.h"
#include "storage-internal.h"

/* How long an open waits for a lease to be broken: the kernel's lease-break-time is 45 s. */
#define LEASE_WAIT_MS 50000

/* Process-wide: cleared when the kernel says openat2 does not exist. */
static atomic_bool use_openat2 = true;
/* Process-wide: the direct_writes setting. */
static atomic_bool direct_writes = true;
/* Process-wide, tests only: the errno opening a direct descriptor fails with. */
static atomic_int direct_open_fails;

void btd__storage_use_openat2(bool on)
{
    atomic_store(&use_openat2, on);
}

void btd__storage_direct_open_fails(int err)
{
    atomic_store(&direct_open_fails, err);
}

void btd_storage_set_direct_writes(bool on)
{
    atomic_store(&direct_writes, on);
}

static int copy_file(struct sfile *dst, const struct bt_file *src)
{
    size_t n = strlen(src->path);
    char *c;

    if (n == 0 || n > BT_METAINFO_MAX_PATH)
        return -EINVAL;
    dst->path = malloc(2 * (n + 1));
    if (!dst->path)
        return -ENOMEM;
    memcpy(dst->path, src->path, n + 1);
    dst->comps = dst->path + n + 1;
    memcpy(dst->comps, src->path, n + 1);
    dst->leaf = dst->comps;
    dst->ncomps = 1;
    for (c = dst->comps; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        dst->leaf = c + 1;
        dst->ncomps++;
    }
    dst->length = src->length;
    dst->offset = src->offset;
    dst->pad = src->pad;
    return 0;
}

static int copy_layout(struct btd_storage *s, const struct bt_metainfo *m)
{
    uint64_t expect = 0;
    size_t i;
    int r;

    if (m->file_count == 0 || m->file_count > BT_METAINFO_MAX_FILES)
        return -EINVAL;
    s->files = calloc(m->file_count, sizeof(*s->files));
    s->dirty = calloc(m->file_count, sizeof(*s->dirty));
    s->seen = calloc(m->file_count, sizeof(*s->seen));
    if (!s->files || !s->dirty || !s->seen)
        return -ENOMEM;
    for (i = 0; i < m->file_count; i++) {
        if (m->files[i].offset != expect)
            return -EINVAL;
        r = copy_file(&s->files[i], &m->files[i]);
        if (r < 0)
            return r;
        s->file_count = (uint32_t)i + 1;
        expect += m->files[i].length;
    }
    if (expect != m->total_length)
        return -EINVAL;
    s->total_length = expect;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    char *c;
    int r = 0;

    if (!p)
        return -ENOMEM;
    for (c = p + 1; *c && r == 0; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            r = -errno;
        *c = '/';
    }
    if (r == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
        r = -errno;
    free(p);
    return r;
}

static void storage_destroy(struct btd_storage *s)
{
    uint32_t i;

    btd_storage_close_files(s);
    if (s->dirfd >= 0)
        close(s->dirfd);
    for (i = 0; i < s->file_count; i++)
        free(s->files[i].path);
    free(s->files);
    free(s->dirty);
    free(s->seen);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->write_lock);
    free(s);
}

int btd_storage_new(struct btd_storage **ret, const char *dir, const struct bt_metainfo *m)
{
    struct btd_storage *s;
    struct statfs fs;
    size_t i;
    int r;

    if (!dir || !*dir || !m)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    atomic_init(&s->refs, 1);
    atomic_init(&s->empties_done, false);
    atomic_init(&s->no_direct, false);
    atomic_init(&s->no_nowait, false);
    atomic_init(&s->retired, false);
    s->dirfd = -1;
    for (i = 0; i < BTD_STORAGE_MAX_OPEN; i++)
        s->cache[i].fd = -1;
    r = pthread_mutex_init(&s->lock, NULL);
    if (r != 0) {
        free(s);
        return -r;
    }
    r = pthread_mutex_init(&s->write_lock, NULL);
    if (r != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -r;
    }
    r = copy_layout(s, m);
    if (r == 0)
        r = mkdir_p(dir);
    if (r == 0) {
        s->dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (s->dirfd < 0)
            r = -errno;
    }
    /* tmpfs takes O_DIRECT (Linux 6.6 on) but keeps the data in memory all the same. */
    if (r == 0 && fstatfs(s->dirfd, &fs) == 0 && fs.f_type == TMPFS_MAGIC)
        atomic_store(&s->no_direct, true);
    if (r < 0) {
        storage_destroy(s);
        return r;
    }
    *ret = s;
    return 0;
}

struct btd_storage *btd_storage_ref(struct btd_storage *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void btd_storage_unref(struct btd_storage *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        storage_destroy(s);
}

const char *btd_storage_strerror(int err)
{
    return err == BTD_STORAGE_ENOTREG ? "not a regular file" : strerror(err);
}

bool btd__storage_lease_wait(int *waited_ms)
{
    if (*waited_ms >= LEASE_WAIT_MS)
        return false;
    nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    *waited_ms += 10;
    return true;
}

int btd__storage_regular(int fd, int status_flags)
{
    struct stat st;
    int err;

    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode))
        err = -BTD_STORAGE_ENOTREG;
    else if (fcntl(fd, F_SETFL, status_flags) < 0)
        err = -errno;
    else
        return fd;
    close(fd);
    return err;
}

/*
 * Opening beneath the download directory. No path is ever resolved through
 * a symlink: openat2 refuses them (RESOLVE_NO_SYMLINKS) and cannot leave the
 * directory (RESOLVE_BENEATH); the walk opens one component at a time with
 * O_NOFOLLOW. Either way a planted symlink makes the open fail.
 */

void btd__storage_close_dir(const struct btd_storage *s, int fd)
{
    if (fd >= 0 && fd != s->dirfd)
        close(fd);
}

int btd__storage_open_parent(const struct btd_storage *s, const struct sfile *f, bool create)
{
    const char *c = f->comps;
    int dfd = s->dirfd;
    int next, err;
    uint32_t i;

    for (i = 0; i + 1 < f->ncomps; i++) {
        if (create && mkdirat(dfd, c, 0755) < 0 && errno != EEXIST) {
            err = -errno;
            btd__storage_close_dir(s, dfd);
            return err;
        }
        next = openat(dfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        err = -errno;
        btd__storage_close_dir(s, dfd);
        if (next < 0)
            return err;
        dfd = next;
        c += strlen(c) + 1;
    }
    return dfd;
}

static int open_walk(const struct btd_storage *s, const struct sfile *f, int flags, bool mkdirs)
{
    int pfd = btd__storage_open_parent(s, f, mkdirs);
    int fd, err;

    if (pfd < 0)
        return pfd;
    fd = openat(pfd, f->leaf, flags | O_NOFOLLOW | O_CLOEXEC, 0644);
    err = -errno;
    btd__storage_close_dir(s, pfd);
    return fd < 0 ? err : fd;
}

static int open_beneath(const struct btd_storage *s, const struct sfile *f, int flags)
{
    struct open_how how;
    long fd;

    if (atomic_load(&use_openat2)) {
        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
        how.mode = (flags & O_CREAT) ? 0644 : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
        fd = syscall(SYS_openat2, s->dirfd, f->path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS)
            atomic_store(&use_openat2, false);
        else if (errno != EPERM) /* some seccomp filters answer EPERM */
            return -errno;
    }
    return open_walk(s, f, flags, false);
}

static const int kind_flags[] = {
    [BTD_FD_READ] = O_RDONLY,
    [BTD_FD_WRITE] = O_RDWR | O_CREAT,
    [BTD_FD_DIRECT] = O_RDWR | O_CREAT | O_DIRECT, /* not O_WRONLY: that waits on a FIFO */
};

/*
 * Opens file f for reading or for writing (created, with its directories).
 * Only a regular file is opened: anything else (a directory too) is
 * -BTD_STORAGE_ENOTREG. The open itself does not wait (O_NONBLOCK, taken off
 * once the file is known to be regular), so a FIFO planted in the download
 * directory cannot hold a worker. A file this storage has seen is not
 * created again: gone, it is -ENOENT (see btd_storage_write).
 */
static int open_file(const struct btd_storage *s, uint32_t i, enum btd_fd_kind kind)
{
    const struct sfile *f = &s->files[i];
    int flags = kind_flags[kind] | O_NONBLOCK;
    int fd, waited_ms = 0;

    if (kind == BTD_FD_DIRECT && atomic_load(&direct_open_fails))
        return -atomic_load(&direct_open_fails);
    if (atomic_load(&s->seen[i]))
        flags &= ~O_CREAT; /* it was there: gone now is "missing", not "to create" */
    fd = open_beneath(s, f, flags);
    if (fd == -ENOENT && (flags & O_CREAT))
        fd = open_walk(s, f, flags, true);
    /*
     * A lease (an NFS delegation, a Samba oplock): the failed open started
     * its break; tried again without waiting in the open itself, so that a
     * FIFO put there meanwhile cannot hold the worker either.
     */
    while (fd == -EAGAIN && btd__storage_lease_wait(&waited_ms))
        fd = open_beneath(s, f, flags);
    if (fd == -EISDIR)
        return -BTD_STORAGE_ENOTREG;
    fd = btd__storage_regular(fd, flags & O_DIRECT);
    if (fd < 0)
        return fd;
    atomic_store(&s->seen[i], true);
    /*
     * Our reads leave the access time alone: updating it writes the inode,
     * which can wait on the journal, and btd_storage_read_cached runs on
     * the loop thread. Refused (EPERM) on a file we do not own: its reads
     * then stay on workers (cached_fd.noatime).
     */
    (void)fcntl(fd, F_SETFL, (flags & O_DIRECT) | O_NOATIME);
    return fd;
}

/* Does a descriptor opened for have serve for want? */
static bool kind_fits(enum btd_fd_kind have, enum btd_fd_kind want)
{
    if (want == BTD_FD_READ)
        return have != BTD_FD_DIRECT;
    return have == want;
}

/* The cached entry of file fit for kind, marked as just used, or NULL. s->lock held. */
static struct cached_fd *cache_find(struct btd_storage *s, uint32_t file, enum btd_fd_kind kind)
{
    size_t i;

    for (i = 0; i < BTD_STORAGE_MAX_OPEN; i++) {
        struct cached_fd *e = &s->cache[i];

        if (e->fd >= 0 && e->file == file && kind_fits(e->kind, kind)) {
            e->used = ++s->stamp;
            return e;
        }
    }
    return NULL;
}

/* A dup() of a cached descriptor of file fit for kind, or -ENOENT on a miss. */
static int cache_get(struct btd_storage *s, uint32_t file, enum btd_fd_kind kind)
{
    struct cached_fd *e;
    int fd = -ENOENT;

    pthread_mutex_lock(&s->lock);
    e = cache_find(s, file, kind);
    if (e) {
        fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            fd = -errno;
    }
    pthread_mutex_unlock(&s->lock);
    return fd;
}

/*
 * The entry already holding file (its direct one when direct, else its
 * buffered one), else a free slot, else the least recently used.
 */
static struct cached_fd *cache_slot(struct btd_storage *s, uint32_t file, bool direct)
{
    struct cached_fd *free_slot = NULL, *lru = NULL;
    size_t i;

    for (i = 0; i < BTD_STORAGE_MAX_OPEN; i++) {
        struct cached_fd *e = &s->cache[i];

        if (e->fd >= 0 && e->file == file && (e->kind == BTD_FD_DIRECT) == direct)
            return e;
        if (e->fd < 0 && !free_slot)
            free_slot = e;
        if (e->fd >= 0 && (!lru || e->used < lru->used))
            lru = e;
    }
    return free_slot ? free_slot : lru;
}

/*
 * Descriptors are closed after the lock is let go: the last close of a
 * deleted file frees it, which takes a second for a few GiB, and the loop
 * thread's btd_storage_read_cached must find the lock free.
 */
static void close_quietly(int fd)
{
    if (fd >= 0)
        close(fd);
}

/*
 * Caches fd (just opened) and returns a dup() of it for the caller. When
 * another worker cached the same file meanwhile, the storage is retired, or
 * dup fails, fd itself is returned uncached. Either way the caller closes
 * what it gets.
 */
static int cache_put(struct btd_storage *s, uint32_t file, enum btd_fd_kind kind, int fd)
{
    bool noatime = (fcntl(fd, F_GETFL) & O_NOATIME) != 0;
    struct cached_fd *e;
    int d, evicted = -1;

    pthread_mutex_lock(&s->lock);
    e = cache_slot(s, file, kind == BTD_FD_DIRECT);
    if (atomic_load(&s->retired) || (e->fd >= 0 && e->file == file && kind_fits(e->kind, kind))) {
        pthread_mutex_unlock(&s->lock);
        return fd;
    }
    d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d >= 0) {
        evicted = e->fd;
        *e = (struct cached_fd){
            .fd = fd, .file = file, .kind = kind, .used = ++s->stamp, .noatime = noatime};
    }
    pthread_mutex_unlock(&s->lock);
    close_quietly(evicted);
    return d >= 0 ? d : fd;
}

#define EVERY_FILE UINT32_MAX

/* Closes the cached descriptors of file (or of EVERY_FILE), after letting the lock go. */
static void cache_drop(struct btd_storage *s, uint32_t file)
{
    int fds[BTD_STORAGE_MAX_OPEN];
    size_t i, n = 0;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < BTD_STORAGE_MAX_OPEN; i++) {
        if (s->cache[i].fd >= 0 && (file == EVERY_FILE || s->cache[i].file == file)) {
            fds[n++] = s->cache[i].fd;
            s->cache[i].fd = -1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    while (n > 0)
        close(fds[--n]);
}

/* Is the file behind fd still in a directory? (st_nlink 0: deleted, held open by us alone.) */
static bool still_linked(int fd)
{
    struct statx st;

    /* What the kernel knows, without asking an NFS server or a FUSE daemon (loop thread too). */
    return statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_NLINK, &st) < 0 ||
           st.stx_nlink > 0;
}

/*
 * A descriptor of its own for file index i, which the caller closes. A
 * cached descriptor whose file was deleted meanwhile is dropped and
 * -ENOENT returned, also for a write: the pieces the file held are gone,
 * and creating it afresh would hide that.
 */
static int file_fd(struct btd_storage *s, uint32_t i, enum btd_fd_kind kind)
{
    int fd = cache_get(s, i, kind);

    if (fd >= 0 && still_linked(fd))
        return fd;
    if (fd >= 0) {
        close(fd);
        cache_drop(s, i);
        return -ENOENT;
    }
    /* A miss: a file seen before and deleted since is -ENOENT from open_file. */
    fd = open_file(s, i, kind);
    if (fd == -EMFILE || fd == -ENFILE) {
        btd_storage_close_files(s);
        fd = open_file(s, i, kind);
    }
    if (fd < 0)
        return fd;
    return cache_put(s, i, kind, fd);
}

void btd_storage_close_files(struct btd_storage *s)
{
    cache_drop(s, EVERY_FILE);
}

/*
 * Bytes per pwrite. The kernel sizes the page-cache folio it allocates by
 * the write: a 1 MiB pwrite asks for 1 MiB folios, which come from large
 * free blocks, and on a VM whose host takes back free guest memory (free
 * page reporting) every such folio is first touched on the host's time.
 * Measured here (Debian 12 guest, 6.18 kernel, file deleted 5 s before):
 * writing 1 GiB took 2.9 s of system time in 1 MiB writes, 1.65 s in
 * 256 KiB, 0.39 s in 64 KiB and 0.29 s in 16 KiB. btd's 1 GiB download
 * (bench/, medians of 3): 4.3 CPU s in 1 MiB writes, 2.4 in 64 KiB, 1.75
 * in 16 KiB, about 2.2 in 4 KiB (the syscalls start to count).
 */
#define WRITE_CHUNK (16u * 1024)

/*
 * Writes n bytes at p to fd at off, at most chunk bytes per pwrite, adding
 * what was written to *done (if not NULL). 0 or -errno.
 */
static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off, size_t chunk, size_t *done)
{
    size_t k = 0;
    ssize_t w;

    while (k < n) {
        w = pwrite(fd, p + k, n - k < chunk ? n - k : chunk, (off_t)(off + k));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        k += (size_t)w;
        if (done)
            *done += (size_t)w;
    }
    return 0;
}

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
    ssize_t got;

    while (n > 0) {
        got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return -ENODATA;
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* The first file that holds a byte at or after off: offset + length > off. */
static uint32_t find_file(const struct btd_storage *s, uint64_t off)
{
    uint32_t lo = 0, hi = s->file_count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct sfile *f = &s->files[mid];

        if (f->offset + f->length > off)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static bool span_ok(const struct btd_storage *s, uint64_t off, size_t len)
{
    return off <= s->total_length && (uint64_t)len <= s->total_length - off;
}

/* What each_span does with one file's part of a span: n bytes at in, done bytes into the span. */
typedef int (*span_fn)(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                       void *arg);

/*
 * Calls fn for each file's part of the len bytes at torrent offset off, in
 * order, until one fails; on a failure *fail_file (if not NULL) is set to
 * that file's index. 0 or fn's -errno; -EINVAL if the span is past the end.
 */
static int each_span(struct btd_storage *s, uint64_t off, size_t len, span_fn fn, void *arg,
                     uint32_t *fail_file)
{
    size_t done = 0;
    uint32_t i;
    int r = 0;

    if (!span_ok(s, off, len))
        return -EINVAL;
    for (i = find_file(s, off); r == 0 && done < len && i < s->file_count; i++) {
        const struct sfile *f = &s->files[i];
        uint64_t in = off + done - f->offset;
        size_t n = len - done;

        if (f->length == 0)
            continue;
        if ((uint64_t)n > f->length - in)
            n = (size_t)(f->length - in);
        r = fn(s, i, in, done, n, arg);
        if (r < 0 && fail_file)
            *fail_file = i;
        done += n;
    }
    return r;
}

/* Zero-length files hold no piece, so no write reaches them: create them all
 * with the torrent's first write, so a finished download has every file. */
static int create_empty_files(struct btd_storage *s, uint32_t *fail_file)
{
    uint32_t i;
    int fd;

    if (atomic_load(&s->empties_done) || atomic_exchange(&s->empties_done, true))
        return 0;
    for (i = 0; i < s->file_count; i++) {
        if (s->files[i].length != 0 || s->files[i].pad)
            continue;
        fd = open_file(s, i, BTD_FD_WRITE);
        if (fd < 0) {
            atomic_store(&s->empties_done, false);
            if (fail_file)
                *fail_file = i;
            return fd;
        }
        close(fd);
    }
    return 0;
}

/*
 * Bytes a direct write copies at a time into an aligned buffer of its
 * thread's, when the piece's bytes for a file do not sit at the alignment
 * its blocks do (a file that starts at an odd torrent offset). A copy costs
 * less than the page cache's: no page to allocate, no dirty page to flush.
 */
#define BOUNCE_SIZE (128u * 1024)

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;
static bool bounce_ready;

static void bounce_init(void)
{
    bounce_ready = pthread_key_create(&bounce_key, free) == 0; /* freed as the thread ends */
}

/* This thread's BOUNCE_SIZE aligned buffer, or NULL (no memory). */
static uint8_t *bounce_buffer(void)
{
    uint8_t *b;

    pthread_once(&bounce_once, bounce_init);
    if (!bounce_ready)
        return NULL;
    b = pthread_getspecific(bounce_key);
    if (b)
        return b;
    b = aligned_alloc(BTD_STORAGE_ALIGN, BOUNCE_SIZE);
    if (b && pthread_setspecific(bounce_key, b) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

/*
 * Writes the n bytes at p (n and in multiples of BTD_STORAGE_ALIGN) to file
 * i at in past the page cache (O_DIRECT), when direct writes are on: from p
 * itself when it is aligned, else through the thread's bounce buffer.
 * Returns the bytes written that way, from the start (0 when none could be:
 * the caller writes the rest through the page cache), or -errno. A file
 * system that refuses O_DIRECT (EINVAL) turns direct writes off for the
 * storage.
 */
static ssize_t write_direct(struct btd_storage *s, uint32_t i, const uint8_t *p, size_t n,
                            uint64_t in)
{
    uint8_t *bounce = NULL;
    size_t done = 0, k;
    int fd, r = 0;

    if (n == 0 || !atomic_load(&direct_writes) || atomic_load(&s->no_direct))
        return 0;
    if ((uintptr_t)p % BTD_STORAGE_ALIGN) {
        bounce = bounce_buffer();
        if (!bounce)
            return 0;
    }
    fd = file_fd(s, i, BTD_FD_DIRECT);
    if (fd == -EINVAL)
        atomic_store(&s->no_direct, true);
    if (fd < 0)
        return fd == -EINVAL ? 0 : fd;
    if (!bounce)
        r = pwrite_all(fd, p, n, in, SIZE_MAX, &done);
    while (bounce && r == 0 && done < n) {
        k = n - done < BOUNCE_SIZE ? n - done : BOUNCE_SIZE;
        memcpy(bounce, p + done, k);
        r = pwrite_all(fd, bounce, k, in + done, k, &done);
    }
    close(fd);
    if (r == -EINVAL) { /* an alignment the device wants and we do not give */
        atomic_store(&s->no_direct, true);
        return (ssize_t)done;
    }
    return r < 0 ? r : (ssize_t)done;
}

/* Writes n bytes at p to file i at in through the page cache. 0 or -errno. */
static int write_cached(struct btd_storage *s, uint32_t i, const uint8_t *p, size_t n, uint64_t in)
{
    int fd, r;

    if (n == 0)
        return 0;
    fd = file_fd(s, i, BTD_FD_WRITE);
    if (fd < 0)
        return fd;
    r = pwrite_all(fd, p, n, in, WRITE_CHUNK, NULL);
    close(fd);
    return r;
}

/*
 * A file's part of a piece: its whole blocks past the page cache
 * (write_direct), the partial blocks at either end through it.
 */
static int write_span(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                      void *arg)
{
    const uint8_t *data = (const uint8_t *)arg + done;
    size_t head = (size_t)((BTD_STORAGE_ALIGN - in % BTD_STORAGE_ALIGN) % BTD_STORAGE_ALIGN);
    size_t body;
    ssize_t direct;
    int r;

    if (s->files[i].pad)
        return 0;
    if (head > n)
        head = n;
    body = (n - head) & ~(size_t)(BTD_STORAGE_ALIGN - 1);
    direct = write_direct(s, i, data + head, body, in + head);
    if (direct < 0)
        return (int)direct;
    if (direct == 0) {
        r = write_cached(s, i, data, n, in);
    } else {
        r = write_cached(s, i, data, head, in);
        if (r == 0)
            r = write_cached(s, i, data + head + (size_t)direct, n - head - (size_t)direct,
                             in + head + (uint64_t)direct);
    }
    if (r == 0)
        atomic_store(&s->dirty[i], true);
    return r;
}

int btd_storage_write(struct btd_storage *s, uint64_t off, const uint8_t *data, size_t len,
                      uint32_t *fail_file)
{
    int r;

    if (!span_ok(s, off, len))
        return -EINVAL;
    r = create_empty_files(s, fail_file);
    if (r < 0)
        return r;
    /*
     * One writer at a time: concurrent pwrites into one file contend on its
     * inode lock, and the kernel spins on it (perf: ~6 % of a download's
     * CPU in rwsem_spin_on_owner); waiting here sleeps instead. Hashing,
     * the bulk of a worker's time, still runs in parallel.
     */
    pthread_mutex_lock(&s->write_lock);
    r = each_span(s, off, len, write_span, (void *)data, fail_file);
    pthread_mutex_unlock(&s->write_lock);
    return r;
}

static int read_span(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                     void *arg)
{
    uint8_t *out = (uint8_t *)arg + done;
    int fd, r;

    if (s->files[i].pad) {
        memset(out, 0, n);
        return 0;
    }
    fd = file_fd(s, i, BTD_FD_READ);
    if (fd < 0)
        return fd;
    r = pread_all(fd, out, n, in);
    close(fd);
    return r;
}

int btd_storage_read(struct btd_storage *s, uint64_t off, uint8_t *out, size_t len,
                     uint32_t *fail_file)
{
    return each_span(s, off, len, read_span, out, fail_file);
}

/* The iovecs btd_storage_read_cached reads into, and the bytes they hold. */
struct scatter {
    const struct iovec *iov;
    int n;
};

/* The bytes [at, at + len) of sc as at most BTD_STORAGE_CACHED_IOV iovecs in part; their count. */
static int scatter_part(const struct scatter *sc, size_t at, size_t len, struct iovec *part)
{
    size_t start = 0, skip, take;
    int i, k = 0;

    for (i = 0; i < sc->n && len > 0; start += sc->iov[i].iov_len, i++) {
        if (start + sc->iov[i].iov_len <= at)
            continue;
        skip = at - start;
        take = sc->iov[i].iov_len - skip < len ? sc->iov[i].iov_len - skip : len;
        part[k++] =
            (struct iovec){.iov_base = (uint8_t *)sc->iov[i].iov_base + skip, .iov_len = take};
        at += take;
        len -= take;
    }
    return k;
}

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* Linux 6.5; the same number on every architecture but alpha */
#endif

struct cachestat_range {
    uint64_t off, len;
};

struct cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static atomic_bool use_cachestat = true;

void btd__storage_use_cachestat(bool on)
{
    atomic_store(&use_cachestat, on);
}

/*
 * Are all the pages of [off, off + len) of fd in the page cache? Asked
 * without reading, so without starting any I/O (a read with RWF_NOWAIT
 * that misses returns EAGAIN, but only after starting readahead, which can
 * wait on the block layer or on the file's extent tree): cachestat(2), or
 * mincore(2) on a mapping of them that is never touched, before Linux 6.5
 * or where a seccomp filter refuses cachestat (EPERM: systemd before 254
 * does not know it). mincore says "resident" for every page of a file the
 * caller may not write; the callers only ask about files whose O_NOATIME
 * took, which needs the same ownership.
 */
static bool resident(int fd, uint64_t off, size_t len)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off & ~(page - 1);
    size_t pages = (size_t)((off + len - start + page - 1) / page), i;
    struct cachestat_range range = {.off = start, .len = pages * page};
    struct cachestat cs;
    unsigned char vec[1024];
    bool all = true;
    void *map;

    if (atomic_load(&use_cachestat)) {
        if (syscall(__NR_cachestat, fd, &range, &cs, 0) == 0)
            return cs.nr_cache >= pages;
        if (errno != ENOSYS && errno != EPERM)
            return false;
        atomic_store(&use_cachestat, false);
    }
    if (pages > sizeof(vec))
        return false;
    map = mmap(NULL, pages * page, PROT_READ, MAP_SHARED, fd, (off_t)start);
    if (map == MAP_FAILED)
        return false;
    all = mincore(map, pages * page, vec) == 0;
    for (i = 0; all && i < pages; i++)
        all = vec[i] & 1;
    munmap(map, pages * page);
    return all;
}

/*
 * Bytes past a cached read that must be resident too. Reading a page that
 * carries the kernel's readahead mark starts the next readahead window
 * (RWF_NOWAIT does not stop that): when that window is in the page cache
 * already, nothing is read from the disk. A window is at most the device's
 * read_ahead_kb (128 KiB by default; this guard covers up to 1 MiB of it).
 */
#define READAHEAD_GUARD (2u * 1024 * 1024)

/*
 * File i's part of a cached read. The storage's lock is only tried (a
 * worker may hold it) and held over the read, so the loop thread neither
 * waits for it nor closes a descriptor (the last close of a deleted file
 * frees it: slow). Only a descriptor that leaves atime alone is used.
 */
static int read_span_cached(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                            void *arg)
{
    struct iovec part[BTD_STORAGE_CACHED_IOV];
    int k = scatter_part(arg, done, n, part), j;
    struct cached_fd *e = NULL;
    ssize_t got = -1;
    size_t guard;

    if (s->files[i].pad) {
        for (j = 0; j < k; j++)
            memset(part[j].iov_base, 0, part[j].iov_len);
        return 0;
    }
    if (pthread_mutex_trylock(&s->lock) != 0)
        return -EAGAIN;
    e = cache_find(s, i, BTD_FD_READ);
    guard = s->files[i].length - (in + n) < READAHEAD_GUARD
                ? (size_t)(s->files[i].length - (in + n))
                : READAHEAD_GUARD;
    if (e && e->noatime && still_linked(e->fd) && resident(e->fd, in, n + guard)) {
        got = preadv2(e->fd, part, k, (off_t)in, RWF_NOWAIT);
        if (got < 0 && errno == EOPNOTSUPP) /* no RWF_NOWAIT here: not worth asking again */
            atomic_store(&s->no_nowait, true);
    }
    pthread_mutex_unlock(&s->lock);
    /* Short: a page evicted since resident(), or counted there while its read was in flight. */
    return got == (ssize_t)n ? 0 : -EAGAIN;
}

int btd_storage_read_cached(struct btd_storage *s, uint64_t off, const struct iovec *iov, int n)
{
    struct scatter sc = {.iov = iov, .n = n};
    size_t len = 0;
    int i;

    if (n < 0 || n > BTD_STORAGE_CACHED_IOV || atomic_load(&s->no_nowait))
        return -EAGAIN;
    for (i = 0; i < n; i++)
        len += iov[i].iov_len;
    return each_span(s, off, len, read_span_cached, &sc, NULL) < 0 ? -EAGAIN : 0;
}

/* Bytes a hash reads at a time where a file cannot be mapped, and of zeros for padding. */
#define HASH_CHUNK (128u * 1024)

/* Feeds n bytes of file i at in to sha by reading them, HASH_CHUNK at a time. */
static int hash_by_reading(struct btd_storage *s, uint32_t i, uint64_t in, size_t n,
                           struct bt_sha1 *sha)
{
    size_t cap = n < HASH_CHUNK ? n : HASH_CHUNK, k, done;
    uint8_t *chunk = malloc(cap);
    int r = chunk ? 0 : -ENOMEM;

    for (done = 0; r == 0 && done < n; done += k) {
        k = n - done < cap ? n - done : cap;
        r = read_span(s, i, in + done, 0, k, chunk);
        if (r == 0)
            bt_sha1_update(sha, chunk, k);
    }
    free(chunk);
    return r;
}

static int hash_span(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                     void *arg)
{
    static const uint8_t zeros[4096];
    struct bt_sha1 *sha = arg;
    size_t k, fed;
    int fd, r;

    (void)done;
    if (s->files[i].pad) {
        for (; n > 0; n -= k) {
            k = n < sizeof(zeros) ? n : sizeof(zeros);
            bt_sha1_update(sha, zeros, k);
        }
        return 0;
    }
    fd = file_fd(s, i, BTD_FD_READ);
    if (fd < 0)
        return fd;
    r = btd_mapped_hash(fd, in, n, sha, &fed);
    close(fd);
    if (r < 0 && r != -ENODATA && r != -EIO)
        r = hash_by_reading(s, i, in + fed, n - fed, sha);
    return r;
}

int btd_storage_hash(struct btd_storage *s, uint64_t off, size_t len, struct bt_sha1 *sha,
                     uint32_t *fail_file)
{
    return each_span(s, off, len, hash_span, sha, fail_file);
}

_Static_assert(HASH_CHUNK % BT_SHA1_BLOCK == 0, "lanes are fed whole blocks but for the last");

/*
 * Asks the kernel to read a span ahead: lanes read their spans side by side,
 * a chunk of each at a time (Linux reads up to read_ahead_kb of it now).
 */
static int advise_span(struct btd_storage *s, uint32_t i, uint64_t in, size_t done, size_t n,
                       void *arg)
{
    int fd;

    (void)done;
    (void)arg;
    if (s->files[i].pad)
        return 0;
    fd = file_fd(s, i, BTD_FD_READ);
    if (fd >= 0) {
        posix_fadvise(fd, (off_t)in, (off_t)n, POSIX_FADV_WILLNEED);
        close(fd);
    }
    return 0;
}

struct lanes_read {
    struct btd_storage *s;
    const uint64_t *off;
    int *status;
    uint32_t *fail_file;
};

/* A lane whose read fails keeps the verdict in its status and is read no more. */
static int lanes_read(void *arg, unsigned lane, uint64_t at, uint8_t *dst, size_t n)
{
    struct lanes_read *lr = arg;

    lr->status[lane] = btd_storage_read(lr->s, lr->off[lane] + at, dst, n, &lr->fail_file[lane]);
    return lr->status[lane] != 0;
}

int btd_storage_hash_lanes(struct btd_storage *s, unsigned width, unsigned n, const uint64_t *off,
                           size_t len, uint8_t (*out)[BT_SHA1_LEN], int *status,
                           uint32_t *fail_file)
{
    struct lanes_read lr = {.s = s, .off = off, .status = status, .fail_file = fail_file};
    size_t chunk = len < HASH_CHUNK ? len : HASH_CHUNK;
    uint8_t *buf;
    unsigned i;
    int r;

    if (n == 0 || n > width)
        return -EINVAL;
    buf = malloc(chunk ? chunk * n : 1);
    if (!buf)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        status[i] = 0;
        each_span(s, off[i], len, advise_span, NULL, NULL);
    }
    r = bt_sha1_lanes_digest(width, n, len, chunk, buf, lanes_read, &lr, out);
    free(buf);
    return r;
}

int btd_storage_sync(struct btd_storage *s)
{
    uint32_t i;
    int fd, r, first = 0;

    for (i = 0; i < s->file_count; i++) {
        if (!atomic_exchange(&s->dirty[i], false))
            continue;
        fd = file_fd(s, i, BTD_FD_READ);
        if (fd == -ENOENT)
            continue; /* deleted meanwhile: nothing to flush */
        r = fd < 0 ? fd : 0;
        if (fd >= 0 && fdatasync(fd) < 0)
            r = -errno;
        if (fd >= 0)
            close(fd);
        if (r < 0) {
            atomic_store(&s->dirty[i], true);
            if (first == 0)
                first = r;
        }
    }
    return first;
}

int btd_storage_stat(struct btd_storage *s, uint32_t i, uint64_t *ret_size, int64_t *ret_mtime_ns)
{
    struct stat st;
    int fd, r = 0;

    if (i >= s->file_count)
        return -EINVAL;
    if (s->files[i].pad) {
        *ret_size = 0;
        *ret_mtime_ns = 0;
        return 0;
    }
    fd = open_file(s, i, BTD_FD_READ);
    if (fd == -ENOENT)
        atomic_store(&s->seen[i], false); /* a check learns it is gone: writes create it again */
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0)
        r = -errno;
    close(fd);
    if (r < 0)
        return r;
    *ret_size = (uint64_t)st.st_size;
    *ret_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

/* Removes f if it is a regular file; a symlink or anything else is left alone. */
static int delete_file(const struct btd_storage *s, const struct sfile *f)
{
    struct stat st;
    int pfd = btd__storage_open_parent(s, f, false);
    int r = 0;

    if (pfd < 0)
        return pfd == -ENOENT ? 0 : pfd;
    if (fstatat(pfd, f->leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = errno == ENOENT ? 0 : -errno;
    else if (!S_ISREG(st.st_mode))
        r = -EEXIST;
    else if (unlinkat(pfd, f->leaf, 0) < 0 && errno != ENOENT)
        r = -errno;
    btd__storage_close_dir(s, pfd);
    return r;
}

/*
 * Removes the directory made of f's first depth components if it is empty.
 * A symlink in its place is not followed (unlinkat fails with ENOTDIR).
 */
static int delete_dir(const struct btd_storage *s, const struct sfile *f, uint32_t depth)
{
    struct sfile d = *f;
    const char *c = f->comps;
    uint32_t i;
    int pfd, r = 0;

    for (i = 0; i + 1 < depth; i++)
        c += strlen(c) + 1;
    d.ncomps = depth;
    d.leaf = c;
    pfd = btd__storage_open_parent(s, &d, false);
    if (pfd < 0)
        return pfd == -ENOENT ? 0 : pfd;
    if (unlinkat(pfd, c, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY)
        r = -errno;
    btd__storage_close_dir(s, pfd);
    return r;
}

/* Bytes of f's path taken by its first depth components (no trailing '/'). */
static size_t prefix_len(const struct sfile *f, uint32_t depth)
{
    const char *c = f->comps;
    size_t n = 0;
    uint32_t i;

    for (i = 0; i < depth; i++) {
        n += strlen(c) + (i ? 1 : 0);
        c += strlen(c) + 1;
    }
    return n;
}

/* True if f and g share the directory made of their first depth components. */
static bool same_dir(const struct sfile *f, const struct sfile *g, uint32_t depth)
{
    size_t n = prefix_len(f, depth);

    return prefix_len(g, depth) == n && memcmp(f->path, g->path, n) == 0;
}

int btd__storage_remove_dirs(const struct btd_storage *s)
{
    const struct sfile *prev;
    uint32_t i, depth, max_depth = 0;
    int r, first = 0;

    for (i = 0; i < s->file_count; i++) {
        if (s->files[i].ncomps > max_depth)
            max_depth = s->files[i].ncomps;
    }
    /* Deepest first, so a parent is empty by the time its turn comes. Files
     * of one directory are usually neighbours: each directory is tried once
     * per run of neighbours that share it. */
    for (depth = max_depth; depth > 1; depth--) {
        prev = NULL;
        for (i = 0; i < s->file_count; i++) {
            const struct sfile *f = &s->files[i];

            if (f->pad || f->ncomps < depth)
                continue;
            if (prev && same_dir(f, prev, depth - 1))
                continue;
            prev = f;
            r = delete_dir(s, f, depth - 1);
            if (r < 0 && first == 0)
                first = r;
        }
    }
    return first;
}

void btd_storage_retire(struct btd_storage *s)
{
    atomic_store(&s->retired, true); /* before the close: cache_put reads it under the lock */
    btd_storage_close_files(s);
}

int btd_storage_delete(struct btd_storage *s)
{
    uint32_t i;
    int r, first = 0;

    btd_storage_retire(s);
    for (i = 0; i < s->file_count; i++) {
        if (s->files[i].pad)
            continue;
        r = delete_file(s, &s->files[i]);
        if (r < 0 && first == 0)
            first = r;
    }
    r = btd__storage_remove_dirs(s);
    return first ? first : r;
}
