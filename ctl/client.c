#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc.h"

#define REPLY_TIMEOUT_MS 60000

const char *btctl_socket_path(const struct btctl *ctl, char *buf, size_t size)
{
    const char *env = getenv("BTD_SOCKET"), *rt = getenv("XDG_RUNTIME_DIR");

    if (ctl->socket)
        return ctl->socket;
    if (env && env[0])
        return env;
    if (rt && rt[0] == '/')
        snprintf(buf, size, "%s/btd.sock", rt);
    else
        snprintf(buf, size, "/tmp/btd-%u.sock", (unsigned)getuid());
    return buf;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        btctl_errorf("socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        btctl_errorf("socket: %s", strerror(errno));
        return -1;
    }
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (r < 0) {
        int e = errno;

        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            btctl_errorf("btd is not running (no daemon at %s); start it with `btd` or "
                         "`systemctl start btd`, or point --socket at its socket",
                         path);
        else if (e == EACCES)
            btctl_errorf("%s: permission denied (the socket is for btd's user and group)", path);
        else
            btctl_errorf("cannot connect to btd at %s: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one line into a new string, bounded in size and time. */
static char *read_line(int fd)
{
    struct bt_rpc_framer f;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[65536], *line = NULL;

    bt_rpc_framer_init(&f, 0);
    while (!line) {
        ssize_t n;

        if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0)
            break;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || bt_rpc_framer_feed(&f, buf, (size_t)n) < 0)
            break;
        if (bt_rpc_framer_next(&f, &line) < 0)
            line = NULL;
    }
    bt_rpc_framer_deinit(&f);
    return line;
}

int btctl_call(const struct btctl *ctl, const char *method, json_t *params, json_t **ret_result)
{
    struct bt_error err = {{0}};
    char pathbuf[256], *req, *line;
    const char *path = btctl_socket_path(ctl, pathbuf, sizeof(pathbuf));
    int fd, r;

    req = bt_rpc_request_line(1, method, params);
    if (!req) {
        btctl_errorf("out of memory");
        return BTCTL_EXIT_FAIL;
    }
    fd = connect_to(path);
    if (fd < 0) {
        free(req);
        return BTCTL_EXIT_FAIL;
    }
    r = send_all(fd, req, strlen(req));
    free(req);
    line = r == 0 ? read_line(fd) : NULL;
    close(fd);
    if (!line) {
        btctl_errorf("no reply from btd at %s", path);
        return BTCTL_EXIT_FAIL;
    }
    r = bt_rpc_parse_response(line, strlen(line), ret_result, &err);
    free(line);
    if (r != 0) {
        btctl_errorf("%s", err.msg);
        return BTCTL_EXIT_FAIL;
    }
    return BTCTL_EXIT_OK;
}
