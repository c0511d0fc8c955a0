#include "mapped.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the thread that is hashing through a mapping goes on SIGBUS; NULL when it is not. */
static __thread sigjmp_buf *guard;
static struct sigaction previous; /* the handler before ours, for a SIGBUS not ours */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    (void)uc;
    if (guard)
        siglongjmp(*guard, 1);
    /* Not a mapping of ours: the fault repeats on return, under the old handler. */
    sigaction(sig, &previous, NULL);
}

static void install(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus};

    /* SA_NODEFER: the jump leaves the handler without restoring the signal mask. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    installed = sigaction(SIGBUS, &sa, &previous) == 0;
}

int btd_mapped_guard(void (*fn)(void *arg), void *arg)
{
    sigjmp_buf env;
    int r;

    pthread_once(&install_once, install);
    if (!installed)
        return -ENODEV;
    if (sigsetjmp(env, 0) == 0) {
        guard = &env;
        fn(arg);
        r = 0;
    } else {
        r = -EFAULT;
    }
    guard = NULL;
    return r;
}

struct update {
    struct bt_sha1 *sha;
    const uint8_t *p;
    size_t n;
};

static void update(void *arg)
{
    struct update *u = arg;

    bt_sha1_update(u->sha, u->p, u->n);
}

/*
 * Bytes mapped at a time. The pages a mapping touches count in the
 * process's RSS until it is unmapped, so a whole piece (up to 16 MiB) per
 * worker would show as that much more memory. Smaller windows cost more
 * (hashing 2 GiB of cached 4 MiB pieces on 2 threads, best of 6: 1.49 CPU s
 * in 2 or 4 MiB windows, 1.57 in 1 MiB, 1.81 in 256 KiB, and 1.59 by
 * pread of 128 KiB chunks).
 */
#define MAP_WINDOW (2048u * 1024)

int btd_mapped_hash(int fd, uint64_t off, size_t len, struct bt_sha1 *sha, size_t *ret_fed)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start, begin = off, end = off + len;
    struct update u = {.sha = sha};
    struct stat st;
    size_t maplen;
    uint8_t *map;
    int r = 0;

    *ret_fed = 0;
    pthread_once(&install_once, install);
    if (!installed)
        return -ENODEV;
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < end)
        return -ENODATA;
    for (; r == 0 && off < end; off += u.n) {
        start = off & ~(page - 1);
        maplen = end - start < MAP_WINDOW ? (size_t)(end - start) : MAP_WINDOW;
        map = mmap(NULL, maplen, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)start);
        if (map == MAP_FAILED)
            return -errno;
        *ret_fed = (size_t)(off - begin);
        u.p = map + (off - start);
        u.n = maplen - (size_t)(off - start);
        r = btd_mapped_guard(update, &u);
        munmap(map, maplen);
    }
    /* A page that could not be had: the file shrank, or the disk failed to read it. */
    if (r == -EFAULT)
        r = fstat(fd, &st) == 0 && (uint64_t)st.st_size < end ? -ENODATA : -EIO;
    if (r == 0)
        *ret_fed = len;
    return r;
}
