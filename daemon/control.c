#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "fds.h"
#include "log.h"
#include "rpc.h"

struct client {
    uv_pipe_t pipe;              /* first: the handle's memory is the client's */
    struct btd_control *control; /* borrowed */
    struct client *next;
    struct bt_rpc_framer framer;
    uint64_t active_at; /* ms, loop clock: connected or last sent us bytes */
    bool closing;
    bool throttled; /* reading stopped until its replies drain */
};

/*
 * Descriptors kept free by closing idle clients: a new client evicts the
 * longest idle one when fewer are left, so the socket keeps accepting.
 */
#define SPARE_FDS 4

/* Bytes of replies queued for one client before btd stops reading its requests. */
#define MAX_QUEUED ((size_t)16 << 20)

struct btd_control {
    uv_pipe_t server;
    struct btd_session *session; /* borrowed */
    struct client *clients;
    unsigned nclients;
    char *path; /* owned */
    dev_t dev;  /* the socket file we bound: unlinked at close only if still ours */
    ino_t ino;
    gid_t group;             /* the socket file's group: its members may connect */
    uint64_t warned_at;      /* ms, loop clock: last refusal logged */
    unsigned quiet_refusals; /* refusals not logged since then */
    bool warned;
    bool closing;
    bool activated; /* the socket came from systemd: its file is not ours to remove */
};

/* A peer in more supplementary groups than this is checked on its primary group alone. */
#define MAX_PEER_GROUPS 4096

struct write_req {
    uv_write_t req;
    char *line; /* owned */
};

static void process_lines(struct client *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_client_closed(uv_handle_t *h)
{
    struct client *c = (struct client *)h;

    bt_rpc_framer_deinit(&c->framer);
    free(c);
}

static void client_close(struct client *c)
{
    struct client **pp;

    if (c->closing)
        return;
    c->closing = true;
    for (pp = &c->control->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->control->nclients--;
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct client *c = (struct client *)req->handle;

    free(w->line);
    free(w);
    if (status < 0 || c->closing || !c->throttled)
        return; /* a client that went away is closed by its read callback */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_QUEUED / 2)
        return;
    c->throttled = false;
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
        client_close(c);
    else
        process_lines(c);
}

static void client_send(struct client *c, char *line)
{
    struct write_req *w;
    uv_buf_t buf;

    if (!line)
        return;
    w = malloc(sizeof(*w));
    if (!w) {
        free(line);
        return;
    }
    w->line = line;
    buf = uv_buf_init(line, (unsigned)strlen(line));
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
        free(line);
        free(w);
        client_close(c);
    }
}

static const struct btd_method *find_method(const char *name)
{
    const struct btd_method *m;

    for (m = btd_methods; m->name; m++) {
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

static void handle_line(struct client *c, const char *line, size_t len)
{
    struct bt_rpc_request req;
    struct bt_error err = {{0}};
    const struct btd_method *m;
    json_t *id = NULL, *result = NULL;
    int r;

    r = bt_rpc_parse_request(line, len, &req, &id, &err);
    if (r != 0) {
        client_send(c, bt_rpc_error_line(id, r, err.msg));
        json_decref(id);
        return;
    }
    m = find_method(req.method);
    if (!m) {
        r = BT_RPC_METHOD_NOT_FOUND;
        bt_error_set(&err, r, "no such method: %s", req.method);
    } else {
        r = m->handler(c->control->session, req.params, &result, &err);
    }
    if (req.id && r == 0)
        client_send(c, bt_rpc_result_line(id, result));
    else if (req.id)
        client_send(c, bt_rpc_error_line(id, r, err.msg[0] ? err.msg : "internal error"));
    else
        json_decref(result);
    json_decref(id);
    bt_rpc_request_deinit(&req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(65536);
    buf->len = buf->base ? 65536 : 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = (struct client *)stream;
    int r;

    if (nread < 0) {
        free(buf->base);
        client_close(c);
        return;
    }
    c->active_at = uv_now(c->pipe.loop);
    r = bt_rpc_framer_feed(&c->framer, buf->base, (size_t)nread);
    free(buf->base);
    if (r == -EMSGSIZE) {
        client_send(c, bt_rpc_error_line(NULL, BT_RPC_INVALID_REQUEST, "request line too long"));
        client_close(c);
        return;
    }
    process_lines(c);
}

/*
 * Answers the buffered requests; a client that does not read its replies
 * is throttled: btd stops reading from it until they drain.
 */
static void process_lines(struct client *c)
{
    char *line;
    int r = 0;

    while (!c->closing && !c->throttled) {
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_QUEUED) {
            c->throttled = true;
            uv_read_stop((uv_stream_t *)&c->pipe);
            break;
        }
        r = bt_rpc_framer_next(&c->framer, &line);
        if (r < 0)
            break;
        handle_line(c, line, (size_t)r);
        free(line);
    }
    if (r == -ENOMEM)
        client_close(c);
}

/* Is gid among the peer's supplementary groups (SO_PEERGROUPS, Linux 4.13)? */
static bool peer_in_group(int fd, gid_t gid)
{
    gid_t small[64], *groups = small;
    socklen_t len = sizeof(small);
    bool found = false;
    size_t i;
    int r;

    r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
    if (r < 0 && errno == ERANGE && len <= MAX_PEER_GROUPS * sizeof(gid_t)) {
        groups = malloc(len);
        r = groups ? getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) : -1;
    }
    for (i = 0; r == 0 && i < len / sizeof(gid_t) && !found; i++)
        found = groups[i] == gid;
    if (groups != small)
        free(groups);
    return found;
}

/*
 * May this client speak to btd? Root, btd's own user, and the members of
 * the socket file's group (primary or supplementary), as the file mode
 * 0660 says; checked again here in case the mode was widened.
 */
static bool client_allowed(struct btd_control *ctl, struct client *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;
    uint64_t now;

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        btd_warn("control: refused a client whose credentials cannot be read: %s", strerror(errno));
        return false;
    }
    if (cred.uid == 0 || cred.uid == geteuid() || cred.gid == ctl->group ||
        peer_in_group(fd, ctl->group))
        return true;
    now = uv_now(c->pipe.loop);
    if (ctl->warned && now - ctl->warned_at < 1000) {
        ctl->quiet_refusals++; /* one line a second at most */
        return false;
    }
    if (ctl->quiet_refusals)
        btd_warn("control: refused uid=%u pid=%d (and %u more since the last line)",
                 (unsigned)cred.uid, (int)cred.pid, ctl->quiet_refusals);
    else
        btd_warn("control: refused uid=%u pid=%d", (unsigned)cred.uid, (int)cred.pid);
    ctl->warned = true;
    ctl->warned_at = now;
    ctl->quiet_refusals = 0;
    return false;
}

/*
 * Few descriptors left (peers are kept out of the last ones; these are
 * taken by clients): the client idle the longest, with no reply on its
 * way, is closed to make room. new is not a candidate.
 */
static void evict_idle(struct btd_control *ctl, struct client *new)
{
    struct client *c, *oldest = NULL;

    for (c = ctl->clients; c; c = c->next) {
        if (c == new || uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > 0)
            continue;
        if (!oldest || c->active_at < oldest->active_at)
            oldest = c;
    }
    if (!oldest)
        return;
    btd_fds_warn("closing the longest idle control client to keep the socket answering");
    client_close(oldest);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct btd_control *ctl = (struct btd_control *)server;
    struct client *c;

    if ((status == UV_EMFILE || status == UV_ENFILE) && !ctl->closing) {
        /* Closed at once rather than left waiting (and the listener spinning). */
        btd_fds_shed(server);
        btd_fds_warn("control connections closed unanswered");
        return;
    }
    if (status < 0 || ctl->closing)
        return;
    c = calloc(1, sizeof(*c));
    if (!c || uv_pipe_init(server->loop, &c->pipe, 0) < 0) {
        free(c);
        return;
    }
    c->control = ctl;
    bt_rpc_framer_init(&c->framer, 0);
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 || !client_allowed(ctl, c) ||
        ctl->nclients >= BTD_CONTROL_MAX_CLIENTS) {
        if (ctl->nclients >= BTD_CONTROL_MAX_CLIENTS)
            btd_warn("control: too many clients (%u), refusing one", ctl->nclients);
        c->closing = true;
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    c->next = ctl->clients;
    ctl->clients = c;
    ctl->nclients++;
    c->active_at = uv_now(server->loop);
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
        client_close(c);
    else if (btd_fds_left() < SPARE_FDS)
        evict_idle(ctl, c);
}

static void on_server_closed(uv_handle_t *h)
{
    struct btd_control *c = (struct btd_control *)h;

    btd_fds_deinit();
    free(c->path);
    free(c);
}

/*
 * Makes room for our socket at path: nothing there is fine; a socket that
 * nobody accepts on (left by a btd that was killed) is removed; a socket
 * that answers is another btd's, and -EADDRINUSE. Anything else: -errno.
 */
static int clear_stale(const char *path, struct bt_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, r;

    if (lstat(path, &st) < 0) {
        r = -errno;
        return r == -ENOENT ? 0 : bt_error_set(err, r, "control socket %s: %s", path, strerror(-r));
    }
    if (!S_ISSOCK(st.st_mode))
        return bt_error_set(err, -EEXIST, "control socket %s: the path exists and is not a socket",
                            path);
    if (strlen(path) >= sizeof(sa.sun_path))
        return bt_error_set(err, -ENAMETOOLONG, "control socket %s: path too long", path);
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        return bt_error_set(err, r, "control socket %s: %s", path, strerror(-r));
    }
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    close(fd);
    if (r == 0 || r == -EAGAIN || r == -EINPROGRESS) /* EAGAIN: its backlog is full */
        return bt_error_set(err, -EADDRINUSE, "another btd is running on %s", path);
    if (r != -ECONNREFUSED)
        return bt_error_set(err, r,
                            "control socket %s: cannot tell whether another btd uses it: %s", path,
                            strerror(-r));
    if (unlink(path) < 0 && errno != ENOENT) {
        r = -errno;
        return bt_error_set(err, r, "control socket %s: cannot remove the stale socket: %s", path,
                            strerror(-r));
    }
    btd_info("control: removed the stale socket %s", path);
    return 0;
}

/* Binds path (a stale socket there is replaced) and remembers the file, to unlink it at close. */
static int bind_path(struct btd_control *c, const char *path, struct bt_error *err)
{
    struct stat st;
    int r = clear_stale(path, err);

    if (r < 0)
        return r;
    r = uv_pipe_bind(&c->server, path);
    if (r < 0)
        return bt_error_set(err, r, "control socket %s: %s", path, uv_strerror(r));
    if (chmod(path, 0660) < 0 || stat(path, &st) < 0) {
        r = -errno;
        unlink(path);
        return bt_error_set(err, r, "control socket %s: %s", path, strerror(-r));
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->group = st.st_gid;
    return 0;
}

/* Takes the socket systemd passed (its file is systemd's: never unlinked here). */
static int adopt(struct btd_control *c, int fd, const char *path, struct bt_error *err)
{
    char real[4096];
    size_t len = sizeof(real);
    struct stat st;
    int r = uv_pipe_open(&c->server, fd);

    if (r < 0) {
        close(fd);
        return bt_error_set(err, r, "control socket from systemd: %s", uv_strerror(r));
    }
    c->group = getegid(); /* unless the socket's file says otherwise */
    if (uv_pipe_getsockname(&c->server, real, &len) == 0 && len > 0 && real[0] == '/') {
        if (strcmp(real, path) != 0)
            btd_notice("control socket from systemd: %s (socket_path %s is not used)", real, path);
        if (stat(real, &st) == 0)
            c->group = st.st_gid;
    }
    c->activated = true;
    return 0;
}

int btd_control_open(struct btd_control **ret, uv_loop_t *loop, struct btd_session *s,
                     const char *path, struct bt_error *err)
{
    struct btd_control *c = calloc(1, sizeof(*c));
    int fd, r;

    if (!c)
        return -ENOMEM;
    c->session = s;
    c->path = strdup(path);
    if (!c->path || uv_pipe_init(loop, &c->server, 0) < 0) {
        free(c->path);
        free(c);
        return -ENOMEM;
    }
    r = btd_fds_init(); /* the reserve descriptor: a warning, not a reason to stop */
    if (r < 0)
        btd_warn("control: cannot keep a reserve descriptor: %s", strerror(-r));
    fd = btd_activation_take(BTD_ACTIVATION_CONTROL);
    r = fd >= 0 ? adopt(c, fd, path, err) : bind_path(c, path, err);
    if (r == 0) {
        r = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
        if (r < 0)
            bt_error_set(err, r, "control socket %s: %s", path, uv_strerror(r));
    }
    if (r < 0) {
        if (!c->activated && c->ino)
            unlink(path);
        c->closing = true;
        uv_close((uv_handle_t *)&c->server, on_server_closed);
        return r;
    }
    *ret = c;
    return 0;
}

void btd_control_close(struct btd_control *c)
{
    struct stat st;

    if (!c || c->closing)
        return;
    c->closing = true;
    while (c->clients)
        client_close(c->clients);
    if (!c->activated && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
        unlink(c->path); /* not a socket another btd bound there since */
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}
