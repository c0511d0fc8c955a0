/*
 * session_cmds: `btctl session` (the daemon as a whole: version, port,
 * totals, limits) and `btctl shutdown`.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "format.h"
#include "remote.h"

/* session */

static const char session_help[] =
    "      --json   print btd's reply: {version, listen_port, torrents, peers,\n"
    "               download_rate, upload_rate, downloaded_bytes, uploaded_bytes,\n"
    "               download_dir, socket, download_limit, upload_limit, ...,\n"
    "               log_level, encryption, watch_dir, seed_ratio_limit,\n"
    "               seed_idle_limit, direct_writes}\n"
    "  -h, --help   show this help\n";

/* "1.20 MiB/s (3.00 GiB in total)" */
static void format_traffic(char *out, size_t size, const json_t *s, const char *rate_key,
                           const char *total_key)
{
    char rate[BTCTL_RATE_LEN];
    char total[BTCTL_SIZE_LEN];

    btctl_format_rate(rate, (uint64_t)btctl_remote_int(s, rate_key, 0));
    btctl_format_size(total, (uint64_t)btctl_remote_int(s, total_key, 0));
    snprintf(out, size, "%s (%s in total)", rate, total);
}

/* A limit in bytes/s; 0 (or none) is "unlimited". */
static void format_limit(char out[BTCTL_RATE_LEN], const json_t *s, const char *key)
{
    int64_t limit = btctl_remote_int(s, key, 0);

    if (limit <= 0)
        snprintf(out, BTCTL_RATE_LEN, "unlimited");
    else
        btctl_format_rate(out, (uint64_t)limit);
}

static int add_session(struct btctl_table *t, const json_t *s)
{
    char port[16], torrents[24], peers[24], down[64], up[64];
    char down_limit[BTCTL_RATE_LEN], up_limit[BTCTL_RATE_LEN], goals[128];
    int r = 0;

    snprintf(port, sizeof(port), "%lld", (long long)btctl_remote_int(s, "listen_port", 0));
    snprintf(torrents, sizeof(torrents), "%lld", (long long)btctl_remote_int(s, "torrents", 0));
    snprintf(peers, sizeof(peers), "%lld", (long long)btctl_remote_int(s, "peers", 0));
    format_traffic(down, sizeof(down), s, "download_rate", "downloaded_bytes");
    format_traffic(up, sizeof(up), s, "upload_rate", "uploaded_bytes");
    format_limit(down_limit, s, "download_limit");
    format_limit(up_limit, s, "upload_limit");
    r |= btctl_table_add(t, (const char *const[]){"Version:", btctl_remote_str(s, "version", "?")});
    r |= btctl_table_add(t, (const char *const[]){"Listen port:", port});
    r |= btctl_table_add(t, (const char *const[]){"Torrents:", torrents});
    r |= btctl_table_add(t, (const char *const[]){"Peers:", peers});
    r |= btctl_table_add(t, (const char *const[]){"Download:", down});
    r |= btctl_table_add(t, (const char *const[]){"Upload:", up});
    r |= btctl_table_add(t, (const char *const[]){"Download limit:", down_limit});
    r |= btctl_table_add(t, (const char *const[]){"Upload limit:", up_limit});
    btctl_remote_seed_goals(goals, sizeof(goals), s);
    r |= btctl_table_add(t, (const char *const[]){"Seeding goal:", goals});
    r |= btctl_table_add(
        t, (const char *const[]){"Encryption:", btctl_remote_str(s, "encryption", "?")});
    r |= btctl_table_add(
        t, (const char *const[]){"Download dir:", btctl_remote_str(s, "download_dir", "?")});
    r |= btctl_table_add(t, (const char *const[]){"Socket:", btctl_remote_str(s, "socket", "?")});
    r |= btctl_table_add(
        t, (const char *const[]){"Disk writes:", json_is_false(json_object_get(s, "direct_writes"))
                                                     ? "through the page cache"
                                                     : "direct (past the page cache)"});
    if (btctl_remote_str(s, "watch_dir", "")[0])
        r |= btctl_table_add(
            t, (const char *const[]){"Watch dir:", btctl_remote_str(s, "watch_dir", "")});
    return r < 0 ? -ENOMEM : 0;
}

static int show_session(const json_t *s)
{
    struct btctl_table t;
    int r;

    btctl_table_init(&t, 2);
    r = add_session(&t, s);
    if (r == 0)
        btctl_table_print(&t, stdout, "");
    btctl_table_deinit(&t);
    if (r < 0) {
        btctl_errorf("session: %s", strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    return BTCTL_EXIT_OK;
}

/* For the commands that take no argument but --json and --help. */
static int parse_none(struct btctl *ctl, const struct btctl_command *cmd, int argc, char **argv)
{
    const char *extra = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, cmd, argc, argv, true, &extra);
    if (r < 0 && extra)
        return btctl_usage_error(cmd, "unexpected argument '%s'", extra);
    return r;
}

static int run_session(struct btctl *ctl, int argc, char **argv)
{
    int r = parse_none(ctl, &btctl_session_command, argc, argv);

    if (r >= 0)
        return r;
    return btctl_remote_show(ctl, "session.get", NULL, show_session);
}

const struct btctl_command btctl_session_command = {
    .name = "session",
    .run = run_session,
    .usage = "[--json]",
    .summary = "show the daemon: version, listening port, totals, limits",
    .help = session_help,
};

/* shutdown */

static const char shutdown_help[] =
    "      --json   print btd's reply: {shutting_down}\n"
    "  -h, --help   show this help\n"
    "\n"
    "btd announces `stopped` to the trackers, saves its resume data and\n"
    "exits; the command returns as soon as btd has accepted the request.\n";

static int show_shutdown(const json_t *result)
{
    (void)result;
    puts("btd is shutting down");
    return BTCTL_EXIT_OK;
}

static int run_shutdown(struct btctl *ctl, int argc, char **argv)
{
    int r = parse_none(ctl, &btctl_shutdown_command, argc, argv);

    if (r >= 0)
        return r;
    return btctl_remote_show(ctl, "session.shutdown", NULL, show_shutdown);
}

const struct btctl_command btctl_shutdown_command = {
    .name = "shutdown",
    .run = run_shutdown,
    .usage = "[--json]",
    .summary = "ask btd to stop",
    .help = shutdown_help,
};
