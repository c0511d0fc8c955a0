/*
 * btd: arguments and configuration into a session; signals; sd_notify.
 * Loop thread only (after start-up).
 *
 * The configuration is built-in defaults, then the --config file, then the
 * flags. The flags are kept for the life of the process, so that a reload
 * (SIGHUP) rebuilds the configuration the same way: a flag still wins over
 * the file after a reload. Only the keys that may change while btd runs
 * are taken from a reload; the others wait for a restart.
 *
 * systemd (Type=notify) hears READY=1 once the control socket listens,
 * STATUS= every STATUS_INTERVAL ms, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1 at shutdown.
 *
 * SIGTERM, SIGINT or session.shutdown close the session, which takes up to
 * BTD_SHUTDOWN_DEADLINE_MS (trackers hear `stopped`, pieces being written
 * land, records are saved). A process still running EXIT_MARGIN ms after
 * that (a worker stuck in a write, a name lookup that never returns: libuv
 * would wait for them) exits 0 at once; the records were written by then.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "activation.h"
#include "btd-version.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "session.h"
#include "torrent.h"

#define STATUS_INTERVAL 5000 /* ms between STATUS= lines to systemd */
#define EXIT_MARGIN 3000     /* ms after the shutdown deadline: exit whatever still runs */

/* The flags that set a configuration key: short option, long option, key. */
static const struct flag_opt {
    int letter;
    const char *name;
    const char *key;
} flag_opts[] = {
    {'s', "socket", "socket_path"},        {'S', "state-dir", "state_dir"},
    {'d', "download-dir", "download_dir"}, {'p', "port", "port"},
    {'l', "log-level", "log_level"},
};

#define N_FLAGS (sizeof(flag_opts) / sizeof(flag_opts[0]))

/* The command line, kept for reloads. Strings are borrowed from argv. */
struct args {
    const char *config_path;     /* the last --config, NULL: none */
    const char *values[N_FLAGS]; /* by flag_opts index; the last one given, NULL: not given */
};

struct app {
    uv_loop_t *loop;
    struct btd_session *session;
    struct btd_config *cfg;  /* borrowed: main's; the session reads it */
    const struct args *args; /* borrowed */
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t stop_timer;   /* defers a shutdown asked over the socket */
    uv_timer_t status_timer; /* STATUS= to systemd */
    uv_timer_t exit_timer;   /* unreferenced: the last resort of a shutdown */
    bool stopping;
};

static const char usage[] =
    "usage: btd [--config FILE] [--socket PATH] [--state-dir DIR] [--download-dir DIR]\n"
    "           [--port N] [--log-level LEVEL]\n"
    "\n"
    "The BitTorrent download daemon. Drive it with btctl.\n"
    "\n"
    "  -c, --config FILE        read settings from FILE (JSON; see conf/btd.conf)\n"
    "  -s, --socket PATH        control socket (default $RUNTIME_DIRECTORY/btd.sock,\n"
    "                           $XDG_RUNTIME_DIR/btd.sock or /tmp/btd-$UID.sock)\n"
    "      --state-dir DIR      where metainfo copies and resume records live\n"
    "  -d, --download-dir DIR   default directory for downloads\n"
    "  -p, --port N             peer port (0 picks a free one)\n"
    "  -l, --log-level LEVEL    error, warning, notice, info or debug\n"
    "  -h, --help               this text\n"
    "  -V, --version            print the version\n"
    "\n"
    "Flags override the file, the file overrides built-in defaults.\n"
    "SIGTERM or SIGINT: announce `stopped` to trackers, save state and exit 0 (within 5 s).\n"
    "SIGHUP: read FILE again; limits, peer caps, log level, encryption and watch_dir change at\n"
    "once.\n";

/* Tells systemd (Type=notify) something, if it is listening. */
static void sd_notify_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        btd_debug("sd_notify: %s", strerror(errno));
    close(fd);
}

/* A rate for people: "0 B/s", "300 KiB/s", "1.2 MiB/s". */
static void format_rate(char *buf, size_t size, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;

    while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        bytes /= 1024;
        u++;
    }
    if (u > 0 && bytes < 10)
        snprintf(buf, size, "%.1f %s/s", bytes, units[u]);
    else
        snprintf(buf, size, "%.0f %s/s", bytes, units[u]);
}

/* "STATUS=3 torrents, 12 peers, down 1.2 MiB/s, up 300 KiB/s", after prefix. */
static void notify_status(struct app *app, const char *prefix)
{
    const struct btd_session *s = app->session;
    const struct btd_torrent *t;
    double down = 0, up = 0;
    char line[256], down_s[32], up_s[32];

    for (t = s->torrents; t; t = t->next) {
        down += t->down.per_second;
        up += t->up.per_second;
    }
    format_rate(down_s, sizeof(down_s), down);
    format_rate(up_s, sizeof(up_s), up);
    snprintf(line, sizeof(line), "%sSTATUS=%u torrent%s, %u peer%s, down %s, up %s", prefix,
             (unsigned)s->torrent_count, s->torrent_count == 1 ? "" : "s", (unsigned)s->peer_count,
             s->peer_count == 1 ? "" : "s", down_s, up_s);
    sd_notify_msg(line);
}

static void on_status_timer(uv_timer_t *h)
{
    struct app *app = h->data;

    if (!app->stopping)
        notify_status(app, "");
}

/*
 * Defaults, then the file, then the flags, into cfg (initialised here).
 * On error cfg holds nothing and err says why, naming the file or the flag.
 */
static int build_config(struct btd_config *cfg, const struct args *a, struct bt_error *err)
{
    char opt[32];
    size_t i;
    int r;

    r = btd_config_init(cfg);
    if (r < 0)
        return bt_error_set(err, r, "cannot initialise the configuration: %s", strerror(-r));
    if (a->config_path) {
        r = btd_config_load(cfg, a->config_path, err);
        if (r < 0) {
            btd_config_deinit(cfg);
            return r;
        }
    }
    for (i = 0; i < N_FLAGS; i++) {
        if (!a->values[i])
            continue;
        r = btd_config_set(cfg, flag_opts[i].key, a->values[i], err);
        if (r < 0) {
            snprintf(opt, sizeof(opt), "--%s", flag_opts[i].name);
            bt_error_prefix(err, opt);
            btd_config_deinit(cfg);
            return r;
        }
    }
    return 0;
}

/* SIGHUP: the file again, over the running configuration's live keys. */
static void reload(struct app *app)
{
    struct btd_config fresh;
    struct bt_error err = {{0}};
    char line[64], fixed[256];
    int r;

    if (!app->args->config_path) {
        btd_notice("SIGHUP: no configuration file to reload (btd started without --config)");
        return;
    }
    snprintf(line, sizeof(line), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)(uv_hrtime() / 1000));
    sd_notify_msg(line);
    r = build_config(&fresh, app->args, &err);
    if (r == 0) {
        r = btd_config_copy_live(app->cfg, &fresh, fixed, sizeof(fixed));
        if (r < 0)
            bt_error_set(&err, r, "%s", strerror(-r));
        btd_config_deinit(&fresh);
    }
    if (r < 0) {
        btd_err("configuration not reloaded, the old one stays: %s", err.msg);
    } else {
        btd_session_apply_config(app->session);
        btd_notice("configuration reloaded from %s", app->args->config_path);
        if (fixed[0])
            btd_warn("configuration %s: %s changed but can only change when btd restarts",
                     app->args->config_path, fixed);
    }
    notify_status(app, "READY=1\n");
}

static void on_session_closed(void *data)
{
    struct app *app = data;

    app->session = NULL;
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->sighup, NULL);
    uv_close((uv_handle_t *)&app->stop_timer, NULL);
    uv_close((uv_handle_t *)&app->status_timer, NULL);
}

static void on_exit_timer(uv_timer_t *h)
{
    btd_warn("shutdown: still busy %d ms after the deadline (a stuck write or name lookup); "
             "exiting now",
             EXIT_MARGIN);
    fflush(NULL);
    _exit(0);
}

static void stop(void *data)
{
    struct app *app = data;

    if (app->stopping)
        return;
    app->stopping = true;
    btd_notice("shutting down");
    sd_notify_msg("STOPPING=1");
    uv_timer_stop(&app->status_timer);
    uv_timer_start(&app->exit_timer, on_exit_timer, BTD_SHUTDOWN_DEADLINE_MS + EXIT_MARGIN, 0);
    btd_session_close(app->session, on_session_closed, app);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *app = h->data;

    if (signum != SIGHUP)
        stop(app);
    else if (!app->stopping)
        reload(app);
}

static void on_stop_timer(uv_timer_t *h)
{
    stop(h->data);
}

/* session.shutdown: stop on the next turn of the loop, after the reply is written. */
static void stop_soon(void *data)
{
    struct app *app = data;

    uv_timer_start(&app->stop_timer, on_stop_timer, 0, 0);
}

/* Fills a from argv; returns an exit status, or -1 to run. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 's'},
        {"state-dir", required_argument, NULL, 'S'},
        {"download-dir", required_argument, NULL, 'd'},
        {"port", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    size_t i;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt_long(argc, argv, "c:s:d:p:l:hV", opts, NULL)) != -1) {
        if (c == 'c')
            a->config_path = optarg;
        for (i = 0; i < N_FLAGS; i++) {
            if (c == flag_opts[i].letter)
                a->values[i] = optarg;
        }
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == 'V') {
            printf("btd %s\n", BTD_VERSION);
            return 0;
        }
        if (c == '?') {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "btd: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return -1;
}

/*
 * Every torrent holds a descriptor or two and every peer one: the soft limit
 * (1024 under systemd by default) goes up to the hard one, as systemd asks
 * of programs that need many (capped at BTD_NOFILE_MAX).
 */
#define BTD_NOFILE_MAX ((rlim_t)1 << 20)

static void raise_nofile(void)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    want =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > BTD_NOFILE_MAX ? BTD_NOFILE_MAX : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            btd_info("descriptor limit raised to %llu", (unsigned long long)want);
    }
}

static int run(struct btd_config *cfg, const struct args *args)
{
    struct app app = {.loop = uv_default_loop(), .cfg = cfg, .args = args};
    struct bt_error err = {{0}};
    int r;

    raise_nofile();
    btd_activation_init();
    r = btd_session_new(&app.session, app.loop, cfg, &err);
    btd_activation_finish();
    if (r < 0) {
        btd_err("btd: %s", err.msg);
        uv_run(app.loop, UV_RUN_DEFAULT); /* lets the failed session's handles close */
        uv_loop_close(app.loop);
        return 1;
    }
    app.session->request_shutdown = stop_soon;
    app.session->request_shutdown_data = &app;
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sighup);
    uv_timer_init(app.loop, &app.stop_timer);
    uv_timer_init(app.loop, &app.status_timer);
    uv_timer_init(app.loop, &app.exit_timer);
    uv_unref((uv_handle_t *)&app.exit_timer); /* never what keeps the loop running */
    app.sigint.data = app.sigterm.data = app.sighup.data = &app;
    app.stop_timer.data = app.status_timer.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sighup, on_signal, SIGHUP);
    btd_notice("btd %s ready: socket=%s port=%u download-dir=%s", BTD_VERSION, cfg->socket_path,
               (unsigned)app.session->listen_port, cfg->download_dir);
    /* The control socket listens (btd_session_new): a client that connects now is answered. */
    notify_status(&app, "READY=1\n");
    if (getenv("NOTIFY_SOCKET"))
        uv_timer_start(&app.status_timer, on_status_timer, STATUS_INTERVAL, STATUS_INTERVAL);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&app.exit_timer, NULL);
    uv_run(app.loop, UV_RUN_NOWAIT); /* its close callback */
    uv_loop_close(app.loop);
    btd_notice("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct btd_config cfg;
    struct bt_error err = {{0}};
    struct args args;
    enum btd_log_level level;
    int r;

    signal(SIGPIPE, SIG_IGN);
    if (bt_crypto_init() < 0) {
        fputs("btd: cannot initialise\n", stderr);
        return 1;
    }
    r = parse_args(argc, argv, &args);
    if (r >= 0)
        return r;
    if (build_config(&cfg, &args, &err) < 0) {
        fprintf(stderr, "btd: %s\n", err.msg);
        return 2;
    }
    if (btd_log_parse_level(cfg.log_level, &level) == 0)
        btd_log_set_level(level); /* the table checked it; never fails */
    r = run(&cfg, &args);
    btd_config_deinit(&cfg);
    return r;
}
