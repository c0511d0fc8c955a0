#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "activation.h"
#include "addr.h"
#include "codec.h"
#include "control.h"
#include "crypto.h"
#include "fds.h"
#include "log.h"
#include "macro.h"
#include "magnet.h"
#include "peer.h"
#include "resume.h"
#include "rpc.h"
#include "session-internal.h"
#include "storage.h"
#include "torrent.h"
#include "tracker_http.h"
#include "tracker_udp.h"
#include "watch.h"
#include "work.h"

#define PEER_ID_PREFIX "-BT0001-"
static void on_work_done(void *data, struct btd_work_result *res)
{
    struct btd_session *s = data;
    struct btd_torrent *t;

    if (s->closing && res->kind != BTD_WORK_VERIFY_WRITE)
        return; /* shutting down: only a written piece still counts */
    t = btd_session_find_id(s, res->torrent_id);
    if (t)
        btd_torrent_work_done(t, res);
}

static void on_tick(uv_timer_t *timer)
{
    struct btd_session *s = container_of(timer, struct btd_session, tick);
    uint64_t now = uv_now(s->loop);
    struct btd_peer *p, *next;
    struct btd_torrent *t;

    for (p = s->incoming; p; p = next) {
        next = p->next;
        btd_peer_tick(p, now); /* handshake time-out */
    }
    for (t = s->torrents; t; t = t->next)
        btd_torrent_tick(t);
    btd__session_save_next(s);
}

static void on_check(uv_check_t *h)
{
    btd_peer_flush_all(container_of(h, struct btd_session, flush));
}

static void on_peer_connection(uv_stream_t *server, int status)
{
    struct btd_session *s = container_of((uv_tcp_t *)server, struct btd_session, listener);
    bool room;
    uv_tcp_t *tmp;

    if ((status == UV_EMFILE || status == UV_ENFILE) && !s->closing) {
        btd_fds_shed(server); /* or libuv calls us again at once, and again */
        btd_fds_warn("peer connections closed unaccepted");
        return;
    }
    if (status < 0 || s->closing)
        return;
    room = btd_fds_room(); /* descriptors left for the control socket and the files */
    if (room && s->nincoming < (uint32_t)s->cfg->max_half_open &&
        s->peer_count < (uint32_t)s->cfg->max_peers_global) {
        btd_peer_accept(s, server);
        return;
    }
    if (!room)
        btd_fds_warn("peer connections turned away, to keep some for the control socket");
    /* Over the caps: accept and close at once so the backlog does not fill. */
    tmp = malloc(sizeof(*tmp));
    if (!tmp || uv_tcp_init(s->loop, tmp) < 0) {
        free(tmp);
        return;
    }
    uv_accept(server, (uv_stream_t *)tmp);
    uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

/* Binds and listens on host:port; 0 or a libuv error. */
static int listen_on(struct btd_session *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    int r, len = sizeof(ss);

    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return UV_EINVAL;
    r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 128, on_peer_connection);
    if (r == 0)
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return r;
    s->listen_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* A specific listen address is also the source of our connections. */
    if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) {
        s->bind_out = ss;
        ((struct sockaddr_in *)&s->bind_out)->sin_port = 0; /* same offset in sockaddr_in6 */
        s->bind_out_set = true;
    }
    return 0;
}

static bool v6only(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0 && on;
}

/* The peer port systemd passed: listen_address and port are not used. */
static int adopt_listener(struct btd_session *s, int fd, struct bt_error *err)
{
    struct sockaddr_storage ss;
    int r = uv_tcp_open(&s->listener, fd), len = sizeof(ss);

    if (r < 0) {
        close(fd);
        return bt_error_set(err, r, "peer port from systemd: %s", uv_strerror(r));
    }
    r = uv_listen((uv_stream_t *)&s->listener, 128, on_peer_connection);
    if (r == 0)
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return bt_error_set(err, r, "peer port from systemd: %s", uv_strerror(r));
    s->listen_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    btd_notice("peer port %u from systemd", (unsigned)s->listen_port);
    if (ss.ss_family == AF_INET6 && v6only(fd))
        btd_warn("peer port %u from systemd takes IPv6 peers only (BindIPv6Only=both in the "
                 "socket unit lets IPv4 peers in too)",
                 (unsigned)s->listen_port);
    return 0;
}

/*
 * The peer port (or systemd's, see activation.h). "::" (the default) is
 * dual-stack: IPv6 peers and IPv4 ones (as ::ffff:a.b.c.d, which addr.c
 * reads as IPv4); on a host without IPv6 it falls back to 0.0.0.0.
 */
static int listen_open(struct btd_session *s, struct bt_error *err)
{
    const char *host = s->cfg->listen_address;
    int port = (int)s->cfg->port, r, fd = btd_activation_take(BTD_ACTIVATION_PEERS);
    struct sockaddr_in6 probe;

    if (fd >= 0)
        return adopt_listener(s, fd, err);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&probe) != 0 &&
        uv_ip6_addr(host, port, &probe) != 0)
        return bt_error_set(err, -EINVAL, "listen_address: \"%s\" is not an IP address", host);
    r = listen_on(s, host, port);
    if (r == UV_EAFNOSUPPORT && strcmp(host, "::") == 0) {
        /* No socket was made (libuv makes it in the bind): the handle takes another. */
        btd_notice("no IPv6 here: listening for peers on 0.0.0.0 only");
        r = listen_on(s, "0.0.0.0", port);
    }
    if (r < 0)
        return bt_error_set(err, r, "cannot listen for peers on %s port %d: %s", host, port,
                            uv_strerror(r));
    return 0;
}

/* Watches cfg->watch_dir, or stops watching: after a start, a reload or session.set. */
static void apply_watch_dir(struct btd_session *s)
{
    const char *want = s->cfg->watch_dir;

    if (s->watch && want && strcmp(btd_watch_dir(s->watch), want) == 0)
        return;
    btd_watch_close(s->watch);
    s->watch = NULL;
    if (want && want[0])
        btd_watch_open(&s->watch, s, want);
}

int btd_session_new(struct btd_session **ret, uv_loop_t *loop, struct btd_config *cfg,
                    struct bt_error *err)
{
    struct btd_session *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->cfg = cfg;
    s->state_lock = -1;
    s->next_id = 1;
    s->listen_port = (uint16_t)cfg->port;
    memcpy(s->peer_id, PEER_ID_PREFIX, 8);
    bt_random_bytes(s->peer_id + 8, 12);
    bt_random_bytes(&s->tracker_key, sizeof(s->tracker_key));
    uv_timer_init(loop, &s->tick);
    uv_tcp_init(loop, &s->listener);
    uv_timer_init(loop, &s->bw_timer);
    uv_check_init(loop, &s->flush);
    uv_check_start(&s->flush, on_check);
    r = btd_work_pool_new(&s->work, loop, on_work_done, s);
    if (r == 0)
        r = btd_tracker_http_open(&s->http, loop);
    if (r == 0)
        r = btd_tracker_udp_open(&s->udp, loop);
    if (r < 0) {
        bt_error_set(err, r, "cannot start: %s", strerror(-r));
        btd_session_close(s, NULL, NULL);
        return r;
    }
    r = btd_resume_lock(cfg->state_dir, &s->state_lock, err);
    if (r == 0)
        r = listen_open(s, err);
    if (r == 0)
        r = btd_control_open(&s->control, loop, s, cfg->socket_path, err);
    if (r < 0) {
        btd_session_close(s, NULL, NULL);
        return r;
    }
    btd__session_restore_all(s);
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    btd_bandwidth_configure(s);
    btd_storage_set_direct_writes(s->cfg->direct_writes != 0);
    apply_watch_dir(s);
    *ret = s;
    return 0;
}

/* The session's own handles close in any order; the last one frees it. */
static void on_handle_closed(uv_handle_t *h)
{
    struct btd_session *s = h->data;
    void (*cb)(void *) = s->on_closed;
    void *data = s->on_closed_data;

    if (--s->closing_handles > 0)
        return;
    free(s);
    if (cb)
        cb(data);
}

/*
 * Shutting down, second step: every `stopped` has ended and the workers are
 * idle, or the deadline has come. The records are written only now, so
 * that they list the pieces the workers have just written.
 */
static void close_finish(struct btd_session *s)
{
    struct btd_tracker_stopping *g = &s->stopping;
    uint64_t elapsed = uv_now(s->loop) - s->stop_started;
    struct btd_torrent *t;
    uint32_t grace;

    if (s->stop_done)
        return;
    s->stop_done = true;
    uv_timer_stop(&s->stop_timer);
    if (g->sent > 0)
        btd_notice("stopped: %u of %u trackers answered (%u failed, %u no answer) in %llu ms",
                   g->answered, g->sent, g->failed, g->sent - g->answered - g->failed,
                   (unsigned long long)elapsed);
    btd_tracker_stopping_deinit(g);
    if (!s->work_idle)
        btd_warn("shutdown: %zu worker job(s) still running after %d ms; their pieces are not "
                 "recorded",
                 btd_work_pool_inflight(s->work), BTD_SHUTDOWN_DEADLINE_MS);
    if (s->state_lock >= 0)
        btd__session_save_all_now(s);
    while (s->torrents) {
        t = s->torrents;
        s->torrents = t->next;
        btd_torrent_free(t);
    }
    if (s->work)
        btd_work_pool_free(s->work);
    /* `stopped` sent by a pause or a removal just before: what is left of the deadline. */
    grace = elapsed < BTD_SHUTDOWN_DEADLINE_MS ? (uint32_t)(BTD_SHUTDOWN_DEADLINE_MS - elapsed) : 0;
    btd_tracker_http_close(s->http, grace);
    btd_tracker_udp_close(s->udp, grace);
    uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
    if (s->state_lock >= 0)
        close(s->state_lock); /* releases the lock */
    s->state_lock = -1;
}

static void maybe_finish(struct btd_session *s)
{
    if (s->work_idle && !s->stopping.pending)
        close_finish(s);
}

static void on_stopping_change(void *data)
{
    maybe_finish(data);
}

static void on_work_idle(void *data)
{
    struct btd_session *s = data;

    s->work_idle = true;
    maybe_finish(s);
}

static void on_stop_deadline(uv_timer_t *timer)
{
    close_finish(container_of(timer, struct btd_session, stop_timer));
}

void btd_session_close(struct btd_session *s, void (*cb)(void *data), void *data)
{
    struct btd_torrent *t;

    if (s->closing)
        return;
    s->closing = true;
    s->on_closed = cb;
    s->on_closed_data = data;
    uv_update_time(s->loop); /* the deadline counts from now, not from the last poll */
    s->stop_started = uv_now(s->loop);
    /* No new work: no control client, no watched file, no peer, no request, no announce but
     * `stopped`. */
    btd_control_close(s->control);
    btd_watch_close(s->watch);
    s->watch = NULL;
    while (s->incoming)
        btd_peer_close(s->incoming, "shutting down");
    s->stopping.on_change = on_stopping_change;
    s->stopping.data = s;
    for (t = s->torrents; t; t = t->next) {
        while (t->peers)
            btd_peer_close(t->peers, "shutting down");
        btd_torrent_cancel_move(t); /* the data goes back where the records say it is */
        if (t->tracker)
            btd_tracker_stop_into(t->tracker, &s->stopping);
    }
    uv_timer_stop(&s->tick);
    s->tick.data = s->listener.data = s->flush.data = s->bw_timer.data = s;
    s->closing_handles = 5; /* these four and stop_timer */
    uv_close((uv_handle_t *)&s->bw_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    uv_close((uv_handle_t *)&s->listener, on_handle_closed);
    uv_close((uv_handle_t *)&s->flush, on_handle_closed);
    uv_timer_init(s->loop, &s->stop_timer);
    s->stop_timer.data = s;
    /* The pieces being hashed and written land (queued reads and checks are dropped). */
    if (s->work)
        btd_work_pool_drain(s->work, on_work_idle, s);
    else
        s->work_idle = true;
    maybe_finish(s);
    if (!s->stop_done)
        uv_timer_start(&s->stop_timer, on_stop_deadline, BTD_SHUTDOWN_DEADLINE_MS, 0);
}

struct btd_torrent *btd_session_find_hash(struct btd_session *s, const uint8_t info_hash[20])
{
    struct btd_torrent *t;

    for (t = s->torrents; t; t = t->next) {
        if (memcmp(t->info_hash, info_hash, 20) == 0)
            return t;
    }
    return NULL;
}

struct btd_torrent *btd_session_find_id(struct btd_session *s, uint32_t id)
{
    struct btd_torrent *t;

    for (t = s->torrents; t; t = t->next) {
        if (t->id == id)
            return t;
    }
    return NULL;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

struct btd_torrent *btd_session_find(struct btd_session *s, const char *id, int *ret_code,
                                     struct bt_error *err)
{
    struct btd_torrent *t, *found = NULL;
    size_t len = strlen(id);

    if (all_digits(id) && len < 10) {
        found = btd_session_find_id(s, (uint32_t)strtoul(id, NULL, 10));
        if (found)
            return found;
    }
    /* Digits only may still be a hex prefix ("12345678"). */
    if (len >= 6 && len <= 40) {
        for (t = s->torrents; t; t = t->next) {
            if (strncasecmp(t->hex, id, len) != 0)
                continue;
            if (found) {
                *ret_code = bt_error_set(err, BT_RPC_AMBIGUOUS_ID,
                                         "\"%s\" matches more than one torrent", id);
                return NULL;
            }
            found = t;
        }
        if (found)
            return found;
    }
    *ret_code = bt_error_set(err, BT_RPC_NO_SUCH_TORRENT, "no torrent \"%s\"", id);
    return NULL;
}

static void add_direct_peers(struct btd_torrent *t, const char *const *peers, size_t n)
{
    struct bt_peer_addr a;
    size_t i;

    for (i = 0; i < n; i++) {
        if (btd_addr_parse(peers[i], &a) == 0)
            btd_torrent_add_peers(t, &a, 1);
    }
}

/* BT_RPC_DUPLICATE_TORRENT if the info-hash is there already, else 0. */
static int check_new(struct btd_session *s, const uint8_t info_hash[20], struct bt_error *err)
{
    struct btd_torrent *t = btd_session_find_hash(s, info_hash);

    return t ? bt_error_set(err, BT_RPC_DUPLICATE_TORRENT, "torrent %s is already added (id %u)",
                            t->hex, t->id)
             : 0;
}

/* Puts t on the list in id order. */
static void insert(struct btd_session *s, struct btd_torrent *t)
{
    struct btd_torrent **tail;

    if (t->id >= s->next_id)
        s->next_id = t->id + 1;
    for (tail = &s->torrents; *tail && (*tail)->id < t->id; tail = &(*tail)->next)
        ;
    t->next = *tail;
    *tail = t;
    s->torrent_count++;
}

/* Adds m (stolen) under id. */
int btd__session_add_torrent(struct btd_session *s, struct bt_metainfo *m, uint32_t id,
                             const char *dir, bool paused, const struct btd_resume *rec,
                             struct btd_torrent **ret, struct bt_error *err)
{
    struct btd_torrent *t;
    char hex[41];
    int r = check_new(s, m->info_hash, err);

    if (r) {
        bt_metainfo_free(m);
        return r;
    }
    bt_hex_encode(hex, m->info_hash, 20);
    r = btd_torrent_new(&t, s, id, m, dir ? dir : s->cfg->download_dir, paused, rec);
    if (r < 0) {
        bt_metainfo_free(m);
        return bt_error_set(err, BT_RPC_IO_ERROR, "cannot add %s: %s", hex, strerror(-r));
    }
    insert(s, t);
    *ret = t;
    return 0;
}

/* Adds a magnet under id; rec (may be NULL) gives its dir and paused flag. */
int btd__session_add_magnet(struct btd_session *s, const struct bt_magnet *mg, const char *uri,
                            uint32_t id, const char *dir, bool paused, const struct btd_resume *rec,
                            struct btd_torrent **ret, struct bt_error *err)
{
    struct btd_torrent *t;
    char hex[41];
    size_t i;
    int r = check_new(s, mg->info_hash, err);

    if (r)
        return r;
    bt_hex_encode(hex, mg->info_hash, 20);
    if (rec) {
        dir = rec->dir;
        paused = rec->paused;
    }
    r = btd_torrent_new_magnet(&t, s, id, mg, uri, dir ? dir : s->cfg->download_dir, paused);
    if (r < 0)
        return bt_error_set(err, BT_RPC_IO_ERROR, "cannot add %s: %s", hex, strerror(-r));
    if (rec) {
        t->added_at = rec->added_at;
        btd_torrent_set_limits(t, rec->download_limit, rec->upload_limit);
        btd_torrent_set_seed_limits(t, rec->seed_ratio_limit, rec->seed_idle_limit);
        t->pending_selection = rec->pending_selection ? strdup(rec->pending_selection) : NULL;
    }
    insert(s, t);
    for (i = 0; i < mg->peer_count; i++)
        add_direct_peers(t, (const char *const *)&mg->peers[i], 1); /* x.pe */
    *ret = t;
    return 0;
}

int btd_session_add_magnet(struct btd_session *s, const char *uri, const char *dir, bool paused,
                           const char *const *peers, size_t npeers, struct btd_torrent **ret,
                           struct bt_error *err)
{
    struct bt_magnet *mg = NULL;
    struct btd_torrent *t;
    char link[BT_MAGNET_LINK_LEN];
    int r = bt_magnet_parse(&mg, uri, err);

    if (r < 0)
        return BT_RPC_INVALID_PARAMS;
    uri = bt_magnet_link(link, uri); /* a bare info-hash is kept as the link it names */
    r = btd__session_add_magnet(s, mg, uri, s->next_id, dir, paused, NULL, &t, err);
    bt_magnet_free(mg);
    if (r)
        return r;
    btd_notice("ih=%.8s added magnet \"%s\" id=%u dir=%s", t->hex, btd_torrent_name(t), t->id,
               t->dir);
    t->resume_dirty = t->resume_soon = true;
    btd__session_save_next(s);
    add_direct_peers(t, peers, npeers);
    *ret = t;
    return 0;
}

int btd_session_add(struct btd_session *s, struct bt_metainfo *m, const uint8_t *raw,
                    size_t raw_len, const char *dir, bool paused, const char *const *peers,
                    size_t npeers, struct btd_torrent **ret, struct bt_error *err)
{
    struct btd_torrent *t;
    int r = btd__session_add_torrent(s, m, s->next_id, dir, paused, NULL, &t, err);

    if (r)
        return r;
    btd_notice("ih=%.8s added \"%s\" id=%u dir=%s", t->hex, btd_torrent_name(t), t->id, t->dir);
    t->meta_raw = malloc(raw_len ? raw_len : 1);
    if (t->meta_raw) {
        memcpy(t->meta_raw, raw, raw_len);
        t->meta_raw_len = raw_len;
    }
    t->resume_dirty = t->resume_soon = true;
    btd__session_save_next(s);
    add_direct_peers(t, peers, npeers);
    *ret = t;
    return 0;
}

void btd_session_apply_config(struct btd_session *s)
{
    enum btd_log_level level;

    if (btd_log_parse_level(s->cfg->log_level, &level) == 0)
        btd_log_set_level(level);
    btd_bandwidth_configure(s);
    btd_storage_set_direct_writes(s->cfg->direct_writes != 0);
    apply_watch_dir(s);
}

/* Worker thread: a removed torrent's descriptors closed here rather than on the loop. */
static int close_files(void *arg, struct btd_storage *st)
{
    (void)arg;
    btd_storage_retire(st);
    return 0;
}

static const struct btd_work_call_ops close_files_ops = {.fn = close_files};

/*
 * The last close of a file deleted behind btd's back frees its blocks:
 * about 1.2 s for 4 GiB on ext4. The job retires the storage: its
 * descriptors, and those of jobs still running, are closed on workers, so
 * the last reference (the loop's, in some job's end) has nothing to close
 * (a deletion retires it too). If the job cannot be queued, they are
 * closed on the loop as the torrent is freed.
 */
static void release_files(struct btd_session *s, struct btd_torrent *t, bool delete_data)
{
    if (!t->storage)
        return; /* a magnet without its metadata: no files */
    if (delete_data) {
        if (btd_work_delete(s->work, t->id, t->storage) < 0)
            btd_warn("ih=%.8s cannot queue the deletion of its data", t->hex);
        return;
    }
    if (btd_work_call(s->work, t->id, t->storage, &close_files_ops, NULL) < 0)
        btd_debug("ih=%.8s its files are closed on the loop", t->hex);
}

void btd_session_remove(struct btd_session *s, struct btd_torrent *t, bool delete_data)
{
    struct btd_torrent **pp;

    for (pp = &s->torrents; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            s->torrent_count--;
            break;
        }
    }
    btd_notice("ih=%.8s removed%s", t->hex, delete_data ? " with its data" : "");
    btd_resume_forget(s->cfg->state_dir, t->hex);
    release_files(s, t, delete_data);
    btd_torrent_free(t);
}
