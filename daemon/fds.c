#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static int reserve = -1;   /* owned: /dev/null, given up to shed connections */
static unsigned users;     /* btd_fds_init calls not yet matched by a deinit */
static uint64_t limit;     /* RLIMIT_NOFILE's soft limit; 0 = none */
static uint64_t warned_at; /* ms, monotonic: the last line logged */
static unsigned quiet;     /* events since then, not logged */
static bool warned;

static int reserve_open(void)
{
    if (reserve < 0)
        reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return reserve < 0 ? -errno : 0;
}

int btd_fds_init(void)
{
    struct rlimit rl;

    users++;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        limit = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
    return reserve_open();
}

void btd_fds_deinit(void)
{
    if (users == 0 || --users > 0)
        return;
    if (reserve >= 0)
        close(reserve);
    reserve = -1;
}

static uint64_t headroom(void)
{
    uint64_t h = limit / 8;

    if (h < BTD_FDS_HEADROOM_MIN)
        h = BTD_FDS_HEADROOM_MIN;
    return h > BTD_FDS_HEADROOM_MAX ? BTD_FDS_HEADROOM_MAX : h;
}

/*
 * The kernel hands out the lowest free descriptor: when that is n, at
 * least n are in use, so at most limit - n are left.
 */
uint64_t btd_fds_left(void)
{
    int fd;

    if (limit == 0)
        return UINT64_MAX;
    /*
     * Probing dups an open descriptor; it never takes the reserve back (a
     * reserve taken back here would hold the last descriptor a listener
     * needs, and it would spin on EMFILE).
     */
    fd = fcntl(reserve >= 0 ? reserve : STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    close(fd);
    return (uint64_t)fd < limit ? limit - (uint64_t)fd : 0;
}

bool btd_fds_room(void)
{
    uint64_t left = btd_fds_left();

    if (reserve < 0 && left > 2 * headroom())
        reserve_open(); /* plenty again: the reserve is back for the next shortage */
    return left > headroom();
}

int btd_fds_shed(uv_stream_t *server)
{
    uv_os_fd_t lfd;
    int fd, n = 0, r;

    r = uv_fileno((uv_handle_t *)server, &lfd);
    if (r < 0)
        return r;
    if (reserve >= 0)
        close(reserve);
    reserve = -1;
    r = 0;
    while (n < BTD_FDS_SHED_MAX) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0) {
            r = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
            break;
        }
        close(fd);
        n++;
    }
    /*
     * Nothing was waiting (libuv's own spare got there first): the reserve
     * stays closed, so that the listener's next accept finds a descriptor
     * instead of failing again at once; btd_fds_room reopens it once
     * descriptors are plentiful again.
     */
    if (n > 0)
        reserve_open();
    return n > 0 ? n : r;
}

void btd_fds_warn(const char *what)
{
    uint64_t now = uv_hrtime() / 1000000;

    if (warned && now - warned_at < BTD_FDS_WARN_MS) {
        quiet++;
        return;
    }
    if (quiet > 0)
        btd_warn("out of file descriptors (limit %llu): %s (and %u times more since the last line)",
                 (unsigned long long)limit, what, quiet);
    else
        btd_warn("out of file descriptors (limit %llu): %s", (unsigned long long)limit, what);
    warned = true;
    warned_at = now;
    quiet = 0;
}
