/* btd: arguments and configuration into a session; signals; sd_notify. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "btd-version.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "session.h"

struct app {
    uv_loop_t *loop;
    struct btd_session *session;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer; /* defers a shutdown asked over the socket */
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
    "SIGTERM or SIGINT: announce `stopped` to trackers and exit 0.\n";

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

static void on_session_closed(void *data)
{
    struct app *app = data;

    app->session = NULL;
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->stop_timer, NULL);
}

static void stop(void *data)
{
    struct app *app = data;

    if (app->stopping)
        return;
    app->stopping = true;
    btd_notice("shutting down");
    sd_notify_msg("STOPPING=1");
    btd_session_close(app->session, on_session_closed, app);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    stop(h->data);
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

/* Applies one flag through the config table, so flags and file agree on types. */
static int set_flag(struct btd_config *cfg, const char *key, const char *value)
{
    struct bt_error err = {{0}};

    if (btd_config_set(cfg, key, value, &err) < 0) {
        fprintf(stderr, "btd: --%s: %s\n", key, err.msg);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct btd_config *cfg)
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
    static const char *const keys[128] = {
        ['s'] = "socket_path", ['S'] = "state_dir", ['d'] = "download_dir",
        ['p'] = "port",        ['l'] = "log_level",
    };
    struct bt_error err = {{0}};
    int c;

    /* The file first, wherever --config stands, so that flags win. */
    while ((c = getopt_long(argc, argv, "c:s:d:p:l:hV", opts, NULL)) != -1) {
        if (c == 'c' && btd_config_load(cfg, optarg, &err) < 0) {
            fprintf(stderr, "btd: %s\n", err.msg);
            return 2;
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
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:d:p:l:hV", opts, NULL)) != -1) {
        if (c > 0 && c < 128 && keys[c] && set_flag(cfg, keys[c], optarg) < 0)
            return 2;
    }
    return -1;
}

static int run(struct btd_config *cfg)
{
    struct app app = {.loop = uv_default_loop()};
    struct bt_error err = {{0}};
    char line[64];
    int r;

    r = btd_session_new(&app.session, app.loop, cfg, &err);
    if (r < 0) {
        btd_err("%s", err.msg);
        return 1;
    }
    app.session->request_shutdown = stop_soon;
    app.session->request_shutdown_data = &app;
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_init(app.loop, &app.sigterm);
    uv_timer_init(app.loop, &app.stop_timer);
    app.sigint.data = app.sigterm.data = app.stop_timer.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    btd_notice("btd %s ready: socket=%s port=%u download-dir=%s", BTD_VERSION, cfg->socket_path,
               (unsigned)app.session->listen_port, cfg->download_dir);
    snprintf(line, sizeof(line), "READY=1\nSTATUS=port %u", (unsigned)app.session->listen_port);
    sd_notify_msg(line);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    btd_notice("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct btd_config cfg;
    enum btd_log_level level;
    int r;

    signal(SIGPIPE, SIG_IGN);
    if (bt_crypto_init() < 0 || btd_config_init(&cfg) < 0) {
        fputs("btd: cannot initialise\n", stderr);
        return 1;
    }
    r = parse_args(argc, argv, &cfg);
    if (r >= 0) {
        btd_config_deinit(&cfg);
        return r;
    }
    if (btd_log_parse_level(cfg.log_level, &level) < 0) {
        fprintf(stderr,
                "btd: log_level: \"%s\" is not one of error, warning, notice, info, "
                "debug\n",
                cfg.log_level);
        btd_config_deinit(&cfg);
        return 2;
    }
    btd_log_set_level(level);
    r = run(&cfg);
    btd_config_deinit(&cfg);
    return r;
}
