/*
 * set: `btctl set KEY VALUE` changes a setting of the running daemon
 * (session.set); with --torrent ID, one torrent's own limit (torrent.set).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ratio.h"
#include "remote.h"

static const char set_help[] =
    "  -t, --torrent ID  set a limit of one torrent: download_limit, upload_limit,\n"
    "                    seed_ratio_limit, seed_idle_limit\n"
    "      --json        print btd's reply: the session (or the torrent's status)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Keys of the daemon (as in the configuration file; the change lasts until\n"
    "btd restarts or reloads its file):\n"
    "  download_limit, upload_limit                  bytes/s for all torrents\n"
    "  torrent_download_limit, torrent_upload_limit  bytes/s, for torrents added next\n"
    "  max_peers_torrent, max_peers_global, max_half_open, max_peers_per_ip\n"
    "  log_level                                     error, warning, notice, info, debug\n"
    "  encryption                                    prefer_plaintext, prefer_encrypted,\n"
    "                                                require (for new connections)\n"
    "  watch_dir                                     a directory to add .torrent and .magnet\n"
    "                                                files from; \"\" stops watching\n"
    "  seed_ratio_limit                              a seed stops once it uploaded this many\n"
    "                                                times what it downloaded (1.5)\n"
    "  seed_idle_limit                               a seed stops after this long without\n"
    "                                                uploading (90, 30m, 2h, 1d)\n"
    "  direct_writes                                 true: verified pieces are written past\n"
    "                                                the page cache (O_DIRECT); false: through it\n"
    "\n"
    "Rate limits are bytes/s with optional binary units (500K, 2M, 1G); 0 or\n"
    "`unlimited` removes a limit. A ratio has at most two decimals. For one\n"
    "torrent, `global` follows the daemon's seed_ratio_limit or seed_idle_limit\n"
    "again, and 0 or `unlimited` lets it seed on whatever the daemon's says.\n"
    "A torrent that stopped at its goal is in state `finished`: raising the limit\n"
    "does not restart it, `btctl resume ID` does.\n";

static const struct option set_options[] = {
    {"torrent", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * A seeding goal: a ratio or a duration, 0 or "unlimited" for none, null
 * for "global". NULL if VALUE is none of these; *ret_form names what is
 * expected.
 */
static json_t *seed_goal_json(const char *key, const char *value, const char **ret_form)
{
    bool ratio = strcmp(key, "seed_ratio_limit") == 0;
    uint64_t n;
    int64_t h;

    *ret_form = ratio ? "a ratio (like 1.5), unlimited or global"
                      : "a duration (like 90, 30m or 2h), unlimited or global";
    if (strcmp(value, "unlimited") == 0)
        return json_integer(0);
    if (strcmp(value, "global") == 0)
        return json_null();
    if (ratio)
        return bt_ratio_parse(value, &h) == 0 ? json_real((double)h / 100.0) : NULL;
    return btctl_parse_duration(value, &n) == 0 ? json_integer((json_int_t)n) : NULL;
}

/*
 * The JSON for VALUE: a seeding goal, a byte count for other limits, an
 * integer, else a string. NULL if it is not what KEY takes (*ret_form says).
 */
static json_t *value_json(const char *key, const char *value, const char **ret_form)
{
    uint64_t n;

    if (strcmp(key, "seed_ratio_limit") == 0 || strcmp(key, "seed_idle_limit") == 0)
        return seed_goal_json(key, value, ret_form);
    *ret_form = "a size (like 500K or 2M)";
    if (ends_with(key, "_limit")) {
        if (strcmp(value, "unlimited") == 0)
            return json_integer(0);
        if (btctl_parse_size(value, &n) < 0 || n > (uint64_t)INT64_MAX)
            return NULL;
        return json_integer((json_int_t)n);
    }
    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
        return json_boolean(strcmp(value, "true") == 0);
    if (btctl_parse_size(value, &n) == 0 && strspn(value, "0123456789") == strlen(value))
        return json_integer((json_int_t)n);
    return json_string(value);
}

static int show_session_set(const json_t *result)
{
    (void)result;
    puts("ok");
    return BTCTL_EXIT_OK;
}

static int show_torrent_set(const json_t *st)
{
    char goals[128];

    btctl_remote_seed_goals(goals, sizeof(goals), st);
    btctl_remote_print_torrent(stdout, st);
    printf(": download limit %lld B/s, upload limit %lld B/s (0 = unlimited); %s\n",
           (long long)btctl_remote_int(st, "download_limit", 0),
           (long long)btctl_remote_int(st, "upload_limit", 0), goals);
    return BTCTL_EXIT_OK;
}

static int run_set(struct btctl *ctl, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_set_command;
    const char *torrent = NULL, *key, *value, *form;
    json_t *params, *v;
    int c, r;

    for (;;) {
        c = getopt_long(argc, argv, "ht:", set_options, NULL);
        if (c == -1)
            break;
        if (c == 't') {
            torrent = optarg;
            continue;
        }
        r = btctl_remote_option(ctl, cmd, c);
        if (r >= 0)
            return r;
    }
    if (argc - optind != 2)
        return btctl_usage_error(cmd, "give a KEY and a VALUE");
    key = argv[optind];
    value = argv[optind + 1];
    if (torrent && !*torrent)
        return btctl_usage_error(cmd, "--torrent: an empty ID");
    v = value_json(key, value, &form);
    if (!v) { /* one line: the usage would not say more */
        btctl_errorf("set: %s: \"%s\" is not %s", key, value, form);
        return BTCTL_EXIT_USAGE;
    }
    params = torrent ? btctl_remote_id_params(torrent) : json_object();
    json_object_set_new(params, key, v);
    if (torrent)
        return btctl_remote_show(ctl, "torrent.set", params, show_torrent_set);
    return btctl_remote_show(ctl, "session.set", params, show_session_set);
}

const struct btctl_command btctl_set_command = {
    .name = "set",
    .run = run_set,
    .usage = "[--torrent ID] KEY VALUE [--json]",
    .summary = "change a limit, seeding goal or setting of the daemon (or of one torrent)",
    .help = set_help,
};
