/*
 * torrent_cmds: `btctl list`, `status [ID]`, `pause ID`, `resume ID`,
 * `verify ID` and `remove ID`: the torrents btd holds, as a table or key: value blocks,
 * and the changes of state.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"
#include "format.h"
#include "remote.h"

/* A line built in pieces; too long a line is cut, never overrun. */
struct line {
    char buf[512];
    size_t len;
};

static void line_addf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_addf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len >= sizeof(l->buf) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    l->len += (size_t)n;
    if (l->len >= sizeof(l->buf))
        l->len = sizeof(l->buf) - 1;
}

/* The ETA of a status: "-" when unknown or done. */
static void format_eta(char out[BTCTL_DURATION_LEN], const json_t *st)
{
    btctl_format_duration(out, btctl_remote_is_complete(st) ? -1 : btctl_remote_int(st, "eta", -1));
}

/* list */

static const char list_help[] =
    "      --json   print btd's reply: an array of status objects\n"
    "  -h, --help   show this help\n"
    "\n"
    "One line per torrent: its ID, state, verified share, size, download and\n"
    "upload rates, connected peers, estimated time left and name.\n";

static void list_row(const json_t *st, const char **cells, char (*scratch)[BTCTL_REMOTE_CELL_LEN])
{
    snprintf(scratch[0], BTCTL_REMOTE_CELL_LEN, "%lld", (long long)btctl_remote_int(st, "id", 0));
    cells[0] = scratch[0];
    cells[1] = btctl_remote_str(st, "state", "?");
    btctl_format_percent(scratch[2], btctl_remote_real(st, "progress", 0.0));
    cells[2] = scratch[2];
    btctl_format_size(scratch[3], (uint64_t)btctl_remote_int(st, "size", 0));
    cells[3] = scratch[3];
    btctl_format_rate(scratch[4], (uint64_t)btctl_remote_int(st, "download_rate", 0));
    cells[4] = scratch[4];
    btctl_format_rate(scratch[5], (uint64_t)btctl_remote_int(st, "upload_rate", 0));
    cells[5] = scratch[5];
    snprintf(scratch[6], BTCTL_REMOTE_CELL_LEN, "%lld",
             (long long)btctl_remote_int(st, "peers", 0));
    cells[6] = scratch[6];
    format_eta(scratch[7], st);
    cells[7] = scratch[7];
    cells[8] = btctl_remote_str(st, "name", "?");
}

static int show_list(const json_t *result)
{
    static const char *const header[] = {
        "ID", "STATE", "PROGRESS", "SIZE", "DOWN", "UP", "PEERS", "ETA", "NAME",
    };
    /* Numbers to the right: ID, PROGRESS, SIZE, DOWN, UP, PEERS, ETA. */
    uint32_t right = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7;

    return btctl_remote_print_rows(result, header, 9, right, list_row, "no torrents");
}

static int run_list(struct btctl *ctl, int argc, char **argv)
{
    const char *id = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, &btctl_list_command, argc, argv, true, &id);
    if (r >= 0)
        return r;
    if (id)
        return btctl_usage_error(&btctl_list_command, "unexpected argument '%s'", id);
    return btctl_remote_show(ctl, "torrent.list", NULL, show_list);
}

const struct btctl_command btctl_list_command = {
    .name = "list",
    .run = run_list,
    .usage = "[--json]",
    .summary = "list the torrents, one line each",
    .help = list_help,
};

/* status */

static const char status_help[] =
    "      --json   print btd's reply: the status object (an array of them\n"
    "               without ID), trackers included\n"
    "  -h, --help   show this help\n"
    "\n"
    "ID is the number `btctl list` shows, the info-hash or a unique prefix of\n"
    "it (6+ hex digits). Without ID, every torrent, separated by blank lines.\n";

static int add_kv(struct btctl_table *t, const char *key, const char *value)
{
    return btctl_table_add(t, (const char *const[]){key, value});
}

/* Progress, transfer and peers: the lines with numbers. */
static int add_transfer(struct btctl_table *t, const json_t *st)
{
    char pct[BTCTL_PERCENT_LEN], a[BTCTL_SIZE_LEN], b[BTCTL_SIZE_LEN];
    char rate[BTCTL_RATE_LEN], eta[BTCTL_DURATION_LEN];
    struct line l = {{0}, 0};
    int r = 0;

    btctl_format_percent(pct, btctl_remote_real(st, "progress", 0.0));
    btctl_format_size(a, (uint64_t)btctl_remote_int(st, "verified_bytes", 0));
    btctl_format_size(b, (uint64_t)btctl_remote_int(st, "size", 0));
    line_addf(&l, "%s (%s of %s verified, %lld pieces)", pct, a, b,
              (long long)btctl_remote_int(st, "pieces", 0));
    r |= add_kv(t, "Progress:", l.buf);
    if (btctl_remote_int(st, "wanted_bytes", -1) >= 0 &&
        btctl_remote_int(st, "wanted_bytes", 0) < btctl_remote_int(st, "size", 0)) {
        btctl_format_size(a, (uint64_t)btctl_remote_int(st, "wanted_bytes", 0));
        btctl_format_size(b, (uint64_t)btctl_remote_int(st, "left_bytes", 0));
        l.len = 0;
        line_addf(&l, "%s in the pieces of the wanted files, %s left (`btctl files`)", a, b);
        r |= add_kv(t, "Wanted:", l.buf);
    }
    btctl_format_rate(rate, (uint64_t)btctl_remote_int(st, "download_rate", 0));
    btctl_format_size(a, (uint64_t)btctl_remote_int(st, "downloaded_bytes", 0));
    l.len = 0;
    line_addf(&l, "%s (%s downloaded)", rate, a);
    r |= add_kv(t, "Download:", l.buf);
    btctl_format_rate(rate, (uint64_t)btctl_remote_int(st, "upload_rate", 0));
    btctl_format_size(a, (uint64_t)btctl_remote_int(st, "uploaded_bytes", 0));
    l.len = 0;
    line_addf(&l, "%s (%s uploaded)", rate, a);
    r |= add_kv(t, "Upload:", l.buf);
    l.len = 0;
    line_addf(&l, "%lld", (long long)btctl_remote_int(st, "peers", 0));
    r |= add_kv(t, "Peers:", l.buf);
    format_eta(eta, st);
    r |= add_kv(t, "ETA:", eta);
    return r;
}

/* Health: errors, hash failures and the work queues. */
static int add_health(struct btctl_table *t, const json_t *st)
{
    const json_t *jobs = json_object_get(st, "jobs");
    const char *error = btctl_remote_str(st, "error", NULL);
    char wasted[BTCTL_SIZE_LEN];
    struct line l = {{0}, 0};
    long long unemployed = (long long)btctl_remote_int(jobs, "unemployed", 0);
    int r = 0;

    if (error)
        r |= add_kv(t, "Error:", error);
    line_addf(&l, "%lld", (long long)btctl_remote_int(st, "hash_failures", 0));
    if (json_object_get(st, "wasted_bytes")) {
        btctl_format_size(wasted, (uint64_t)btctl_remote_int(st, "wasted_bytes", 0));
        line_addf(&l, " (%s wasted)", wasted);
    }
    r |= add_kv(t, "Hash failures:", l.buf);
    l.len = 0;
    line_addf(&l, "%lld unclaimed, %lld pending pieces; %lld unemployed peer%s",
              (long long)btctl_remote_int(jobs, "unclaimed", 0),
              (long long)btctl_remote_int(jobs, "pending", 0), unemployed,
              unemployed == 1 ? "" : "s");
    r |= add_kv(t, "Jobs:", l.buf);
    return r;
}

/* Seeding: the ratio, the goals in force, and the one that finished the torrent. */
static int add_seeding(struct btctl_table *t, const json_t *st)
{
    static const char *const why[][2] = {
        {"ratio", "it reached its ratio limit; `btctl resume` seeds on"},
        {"idle", "it uploaded nothing for its idle limit; `btctl resume` seeds on"},
    };
    const char *finished = btctl_remote_str(st, "finished", NULL);
    const json_t *ratio = json_object_get(st, "ratio");
    char goals[160], idle[BTCTL_DURATION_LEN];
    struct line l = {{0}, 0};
    size_t i;
    int r = 0;

    if (json_is_number(ratio))
        line_addf(&l, "%.2f", json_number_value(ratio));
    else
        line_addf(&l, "-");
    r |= add_kv(t, "Ratio:", l.buf);
    btctl_remote_seed_goals(goals, sizeof(goals), st);
    l.len = 0;
    line_addf(&l, "%s", goals);
    if (strcmp(btctl_remote_str(st, "state", ""), "seeding") == 0 &&
        btctl_remote_int(st, "seed_idle_limit", 0) > 0) {
        btctl_format_duration(idle, btctl_remote_int(st, "seed_idle_seconds", 0));
        line_addf(&l, "; idle for %s", idle);
    }
    r |= add_kv(t, "Seeding goal:", l.buf);
    for (i = 0; finished && i < sizeof(why) / sizeof(why[0]); i++) {
        if (strcmp(finished, why[i][0]) == 0)
            r |= add_kv(t, "Finished:", why[i][1]);
    }
    return r;
}

static int add_status(struct btctl_table *t, const json_t *st)
{
    char id[24];
    int r = 0;

    snprintf(id, sizeof(id), "%lld", (long long)btctl_remote_int(st, "id", 0));
    r |= add_kv(t, "Name:", btctl_remote_str(st, "name", "?"));
    r |= add_kv(t, "ID:", id);
    r |= add_kv(t, "Info-hash:", btctl_remote_str(st, "info_hash", "?"));
    r |= add_kv(t, "State:", btctl_remote_str(st, "state", "?"));
    r |= add_transfer(t, st);
    r |= add_seeding(t, st);
    r |= add_kv(t, "Directory:", btctl_remote_str(st, "dir", "?"));
    if (json_object_get(st, "moving_to"))
        r |= add_kv(t, "Moving to:", btctl_remote_str(st, "moving_to", "?"));
    r |= add_health(t, st);
    return r < 0 ? -ENOMEM : 0;
}

/* "peers 5, seeders 3, leechers 2; announced 2m10s ago, next in 27m50s" */
static void tracker_details(struct line *l, const json_t *tk, time_t now)
{
    long long seeders = (long long)btctl_remote_int(tk, "seeders", -1);
    long long leechers = (long long)btctl_remote_int(tk, "leechers", -1);
    int64_t last = btctl_remote_int(tk, "last_announce", 0);
    int64_t next = btctl_remote_int(tk, "next_announce", 0);
    char when[BTCTL_DURATION_LEN];

    line_addf(l, "peers %lld", (long long)btctl_remote_int(tk, "peers", 0));
    if (seeders >= 0)
        line_addf(l, ", seeders %lld", seeders);
    if (leechers >= 0)
        line_addf(l, ", leechers %lld", leechers);
    if (last > 0) {
        btctl_format_duration(when, now > last ? now - last : 0);
        line_addf(l, "; announced %s ago", when);
    } else {
        line_addf(l, "; not announced yet");
    }
    if (json_is_true(json_object_get(tk, "updating"))) {
        line_addf(l, ", announcing now");
    } else if (next > 0) {
        btctl_format_duration(when, next > now ? next - now : 0);
        line_addf(l, ", next in %s", when);
    }
}

static void print_sanitized(const char *prefix, const char *text)
{
    char *s = btctl_sanitize(text);

    printf("%s%s\n", prefix, s ? s : "?");
    free(s);
}

static void print_trackers(const json_t *trackers)
{
    const json_t *tk;
    struct line l;
    time_t now = time(NULL);
    size_t i;

    if (json_array_size(trackers) == 0)
        return;
    fputs("Trackers:\n", stdout);
    json_array_foreach(trackers, i, tk)
    {
        l.len = 0;
        l.buf[0] = '\0';
        line_addf(&l, "  tier %lld: ", (long long)btctl_remote_int(tk, "tier", 0) + 1);
        print_sanitized(l.buf, btctl_remote_str(tk, "url", "?"));
        l.len = 0;
        tracker_details(&l, tk, now);
        printf("    %s\n", l.buf);
        if (btctl_remote_str(tk, "last_error", NULL))
            print_sanitized("    error: ", btctl_remote_str(tk, "last_error", NULL));
        if (btctl_remote_str(tk, "last_warning", NULL))
            print_sanitized("    warning: ", btctl_remote_str(tk, "last_warning", NULL));
    }
}

static int show_status(const json_t *st)
{
    struct btctl_table t;
    int r;

    btctl_table_init(&t, 2);
    r = add_status(&t, st);
    if (r == 0)
        btctl_table_print(&t, stdout, "");
    btctl_table_deinit(&t);
    if (r < 0) {
        btctl_errorf("status: %s", strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    print_trackers(json_object_get(st, "trackers"));
    return BTCTL_EXIT_OK;
}

/* Appends torrent.get of each torrent of list to all. Returns the exit status. */
static int get_each(const struct btctl *ctl, const json_t *list, json_t *all)
{
    const json_t *item;
    json_t *st;
    char id[24];
    size_t i;
    int r;

    json_array_foreach(list, i, item)
    {
        snprintf(id, sizeof(id), "%lld", (long long)btctl_remote_int(item, "id", 0));
        r = btctl_call(ctl, "torrent.get", btctl_remote_id_params(id), &st);
        if (r != BTCTL_EXIT_OK)
            return r;
        json_array_append_new(all, st);
    }
    return BTCTL_EXIT_OK;
}

static int show_all(const json_t *all)
{
    const json_t *st;
    size_t i;
    int r;

    if (json_array_size(all) == 0)
        fputs("no torrents\n", stderr);
    json_array_foreach(all, i, st)
    {
        if (i > 0)
            putchar('\n');
        r = show_status(st);
        if (r != BTCTL_EXIT_OK)
            return r;
    }
    return BTCTL_EXIT_OK;
}

/* Every torrent's full status: torrent.get for each of torrent.list. */
static int status_all(const struct btctl *ctl)
{
    json_t *list = NULL;
    json_t *all;
    int r;

    r = btctl_call(ctl, "torrent.list", NULL, &list);
    if (r != BTCTL_EXIT_OK)
        return r;
    all = json_array();
    r = all ? get_each(ctl, list, all) : BTCTL_EXIT_FAIL;
    json_decref(list);
    if (r == BTCTL_EXIT_OK)
        r = ctl->json ? btctl_remote_print_json(all) : show_all(all);
    json_decref(all);
    return r;
}

static int run_status(struct btctl *ctl, int argc, char **argv)
{
    const char *id = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, &btctl_status_command, argc, argv, true, &id);
    if (r >= 0)
        return r;
    if (!id)
        return status_all(ctl);
    return btctl_remote_show(ctl, "torrent.get", btctl_remote_id_params(id), show_status);
}

const struct btctl_command btctl_status_command = {
    .name = "status",
    .run = run_status,
    .usage = "[ID] [--json]",
    .summary = "show one torrent (or every one) in detail, trackers included",
    .help = status_help,
};

/* pause, resume */

static const char pause_help[] = "      --json   print btd's reply: the torrent's status object\n"
                                 "  -h, --help   show this help\n"
                                 "\n"
                                 "Prints `ID \"NAME\": STATE`, the state the torrent is in now.\n";

static int show_state(const json_t *st)
{
    btctl_remote_print_torrent(stdout, st);
    printf(": %s\n", btctl_remote_str(st, "state", "?"));
    return BTCTL_EXIT_OK;
}

static int run_state_change(struct btctl *ctl, const struct btctl_command *cmd, const char *method,
                            int argc, char **argv)
{
    const char *id = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, cmd, argc, argv, false, &id);
    if (r >= 0)
        return r;
    return btctl_remote_show(ctl, method, btctl_remote_id_params(id), show_state);
}

static int run_pause(struct btctl *ctl, int argc, char **argv)
{
    return run_state_change(ctl, &btctl_pause_command, "torrent.pause", argc, argv);
}

static int run_resume(struct btctl *ctl, int argc, char **argv)
{
    return run_state_change(ctl, &btctl_resume_command, "torrent.resume", argc, argv);
}

const struct btctl_command btctl_pause_command = {
    .name = "pause",
    .run = run_pause,
    .usage = "ID [--json]",
    .summary = "stop a torrent's transfers, keeping what it has",
    .help = pause_help,
};

static const char resume_help[] =
    "      --json   print btd's reply: the torrent's status object\n"
    "  -h, --help   show this help\n"
    "\n"
    "Prints `ID \"NAME\": STATE`, the state the torrent is in now. A torrent in\n"
    "state `finished` (it met its seeding goal) seeds again: if its ratio goal\n"
    "is still met, the torrent gets no ratio limit of its own (set one with\n"
    "`btctl set --torrent ID seed_ratio_limit R`); its idle clock starts at 0.\n";

const struct btctl_command btctl_resume_command = {
    .name = "resume",
    .run = run_resume,
    .usage = "ID [--json]",
    .summary = "start a paused or finished torrent again",
    .help = resume_help,
};

/* verify */

static const char verify_help[] =
    "      --json   print btd's reply: the torrent's status object\n"
    "  -h, --help   show this help\n"
    "\n"
    "btd reads every piece back from disk and keeps only those that pass their\n"
    "hash; the rest are downloaded again. Peers are dropped while it checks\n"
    "(state `checking`); `btctl wait ID` follows it.\n";

static int run_verify(struct btctl *ctl, int argc, char **argv)
{
    return run_state_change(ctl, &btctl_verify_command, "torrent.verify", argc, argv);
}

const struct btctl_command btctl_verify_command = {
    .name = "verify",
    .run = run_verify,
    .usage = "ID [--json]",
    .summary = "check a torrent's data on disk again",
    .help = verify_help,
};

/* remove */

static const char remove_help[] =
    "      --delete-data  delete the downloaded files too\n"
    "      --json         print btd's reply: {id, info_hash, deleted_data}\n"
    "  -h, --help         show this help\n"
    "\n"
    "Without --delete-data the files stay where they are.\n";

static const struct option remove_options[] = {
    {"delete-data", no_argument, NULL, 'd'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int show_removed(const json_t *result)
{
    printf("removed %lld (%s)%s\n", (long long)btctl_remote_int(result, "id", 0),
           btctl_remote_str(result, "info_hash", "?"),
           json_is_true(json_object_get(result, "deleted_data")) ? ", data deleted" : "");
    return BTCTL_EXIT_OK;
}

static int run_remove(struct btctl *ctl, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_remove_command;
    bool delete_data = false;
    const char *id;
    json_t *params;
    int c;
    int r;

    for (;;) {
        c = getopt_long(argc, argv, "h", remove_options, NULL);
        if (c == -1)
            break;
        if (c == 'd') {
            delete_data = true;
            continue;
        }
        r = btctl_remote_option(ctl, cmd, c);
        if (r >= 0)
            return r;
    }
    r = btctl_remote_take_id(cmd, argc, argv, false, &id);
    if (r >= 0)
        return r;
    params = btctl_remote_id_params(id);
    if (delete_data)
        json_object_set_new(params, "delete_data", json_true());
    return btctl_remote_show(ctl, "torrent.remove", params, show_removed);
}

const struct btctl_command btctl_remove_command = {
    .name = "remove",
    .run = run_remove,
    .usage = "ID [--delete-data] [--json]",
    .summary = "forget a torrent (and with --delete-data, its files)",
    .help = remove_help,
};
