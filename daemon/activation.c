#include "activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define FDS_START 3 /* SD_LISTEN_FDS_START */
#define FDS_MAX 16  /* sockets we look at */

static int fds[FDS_MAX]; /* -1 once taken */
static int nfds;

static int parse_count(const char *s, long *ret)
{
    char *end;
    long v;

    if (!s || !*s)
        return -ENOENT;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int btd_activation_init(void)
{
    long pid, n, i;

    nfds = 0;
    if (parse_count(getenv("LISTEN_PID"), &pid) < 0 || pid != (long)getpid() ||
        parse_count(getenv("LISTEN_FDS"), &n) < 0)
        n = 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (i = 0; i < n; i++) {
        if (i < FDS_MAX) {
            fds[nfds++] = FDS_START + (int)i;
            fcntl(FDS_START + (int)i, F_SETFD, FD_CLOEXEC);
        } else {
            close(FDS_START + (int)i);
        }
    }
    if (n > FDS_MAX)
        btd_warn("socket activation: %ld sockets passed, the first %d looked at, the rest closed",
                 n, FDS_MAX);
    return nfds;
}

/* Is fd a listening stream socket of kind? */
static bool is_kind(int fd, enum btd_activation_kind kind)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0, listening = 0;
    socklen_t ilen = sizeof(int);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 || type != SOCK_STREAM)
        return false;
    ilen = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) < 0 || !listening)
        return false;
    if (kind == BTD_ACTIVATION_CONTROL)
        return ss.ss_family == AF_UNIX;
    return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

int btd_activation_take(enum btd_activation_kind kind)
{
    int i, fd;

    for (i = 0; i < nfds; i++) {
        if (fds[i] >= 0 && is_kind(fds[i], kind)) {
            fd = fds[i];
            fds[i] = -1;
            return fd;
        }
    }
    return -ENOENT;
}

void btd_activation_finish(void)
{
    int i;

    for (i = 0; i < nfds; i++) {
        if (fds[i] < 0)
            continue;
        btd_warn("socket activation: descriptor %d was not used (one control socket, a listening "
                 "Unix stream socket, and one peer port, a listening TCP socket, are); closed",
                 fds[i]);
        close(fds[i]);
        fds[i] = -1;
    }
    nfds = 0;
}
