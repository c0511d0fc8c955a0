#include "mapped.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The thread's guard while it reads a mapping: where to jump, and the bytes it covers. */
struct guard {
    sigjmp_buf env;
    const uint8_t *lo, *hi;
};

static __thread struct guard *volatile guard; /* NULL when the thread reads no mapping */
static struct sigaction previous;             /* the handler before ours, for a SIGBUS not ours */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;

/* A SIGBUS that is not a guarded page's: what the handler before ours would have done. */
static void pass_on(int sig, siginfo_t *info, void *uc)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uc);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    if (previous.sa_handler == SIG_IGN && info->si_code <= 0)
        return; /* sent by someone, and ignored before we came */
    /* The default action: a fault repeats on return, a signal sent is raised again. */
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (info->si_code <= 0)
        raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
    struct guard *g = guard;
    const uint8_t *at = info->si_addr;

    /* Only a fault (si_code > 0: the kernel's, not a kill) on the guarded bytes jumps. */
    if (g && info->si_code > 0 && at >= g->lo && at < g->hi)
        siglongjmp(g->env, 1);
    pass_on(sig, info, uc);
}

static void install(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus};

    /* SA_NODEFER: the jump leaves the handler without restoring the signal mask. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    installed = sigaction(SIGBUS, &sa, &previous) == 0;
}

int btd_mapped_guard(const void *map, size_t len, void (*fn)(void *arg), void *arg)
{
    struct guard g = {.lo = map, .hi = (const uint8_t *)map + len};
    sigset_t bus;
    int r;

    pthread_once(&install_once, install);
    if (!installed)
        return -ENODEV;
    /* A thread that blocks SIGBUS would die of the fault instead: let it in. */
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
    if (sigsetjmp(g.env, 0) == 0) {
        guard = &g;
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

int btd_mapped_hash(int fd, uint64_t off, size_t len, struct bt_sha1 *sha, size_t *fed)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start, begin = off, end = off + len;
    struct update u = {.sha = sha};
    struct stat st;
    size_t maplen;
    uint8_t *map;
    int r = 0;

    *fed = 0;
    pthread_once(&install_once, install);
    if (!installed)
        return -ENODEV;
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < end)
        return -ENODATA;
    for (; r == 0 && off < end; off += u.n) {
        *fed = (size_t)(off - begin); /* what the windows before this one gave */
        start = off & ~(page - 1);
        maplen = end - start < MAP_WINDOW ? (size_t)(end - start) : MAP_WINDOW;
        map = mmap(NULL, maplen, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)start);
        if (map == MAP_FAILED)
            return -errno;
        u.p = map + (off - start);
        u.n = maplen - (size_t)(off - start);
        r = btd_mapped_guard(map, maplen, update, &u);
        munmap(map, maplen);
    }
    /* A page that could not be had: the file shrank, or the disk failed to read it. */
    if (r == -EFAULT)
        r = fstat(fd, &st) == 0 && (uint64_t)st.st_size < end ? -ENODATA : -EIO;
    if (r == 0)
        *fed = len;
    return r;
}
