/*
 * wait: `btctl wait ID`, until a torrent is complete.
 *
 * Polls torrent.get every --interval seconds (0.5 on a terminal, 1
 * otherwise). On a terminal one progress line is redrawn in place; else a
 * plain line per poll, when it changed, for logs and scripts:
 *
 *     progress 42.0% 1.20 MiB/s peers 2 eta 10s
 *
 * Complete means seeding, or everything verified and not re-checking or moving.
 * Exit 0 when complete, 1 if the torrent errors or btd cannot be asked,
 * 2 on time-out (--timeout) or a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "format.h"
#include "remote.h"

#define MAX_SECONDS 1e9  /* bound of --timeout and --interval */
#define EXIT_TIMED_OUT 2 /* wait's own exit status */

static const char wait_help[] =
    "      --timeout SECONDS   give up after SECONDS (exit 2); default: never\n"
    "      --interval SECONDS  time between polls; default 0.5 on a terminal, else 1\n"
    "      --json              no progress; print the last status object at the end\n"
    "  -h, --help              show this help\n"
    "\n"
    "Waits until the torrent is complete (seeding, or every piece verified).\n"
    "On a terminal it draws a progress bar; otherwise it prints a line per\n"
    "poll when something changed: `progress 42.0% 1.20 MiB/s peers 2 eta 10s`.\n"
    "Exit status: 0 complete, 1 the torrent failed (its error is printed) or\n"
    "btd could not be reached, 2 timed out.\n";

enum {
    OPT_TIMEOUT = 0x100,
    OPT_INTERVAL,
};

static const struct option wait_options[] = {
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct waiter {
    const struct btctl *ctl;
    const char *id;  /* borrowed from argv */
    double timeout;  /* seconds; negative: none */
    double interval; /* seconds between polls */
    bool tty;        /* draw a progress bar on stdout */
    struct btctl_progress bar;
    char last[256]; /* the last plain line printed */
};

/* Seconds as a finite number in [0, MAX_SECONDS]. 0 or -EINVAL. */
static int parse_seconds(const char *s, double *ret)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0.0 || v > MAX_SECONDS)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* One option of wait's own; -1 to go on, else the exit status. */
static int apply_option(struct btctl *ctl, struct waiter *w, int c)
{
    const struct btctl_command *cmd = &btctl_wait_command;

    if (c == OPT_TIMEOUT) {
        if (parse_seconds(optarg, &w->timeout) < 0)
            return btctl_usage_error(cmd, "--timeout: '%s' is not a number of seconds", optarg);
    } else if (c == OPT_INTERVAL) {
        if (parse_seconds(optarg, &w->interval) < 0 || w->interval < 0.01)
            return btctl_usage_error(cmd, "--interval: '%s' is not a number of seconds >= 0.01",
                                     optarg);
    } else {
        return btctl_remote_option(ctl, cmd, c);
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct btctl *ctl, struct waiter *w, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_wait_command;
    int c;
    int r;

    for (;;) {
        c = getopt_long(argc, argv, "h", wait_options, NULL);
        if (c == -1)
            break;
        r = apply_option(ctl, w, c);
        if (r >= 0)
            return r;
    }
    return btctl_remote_take_id(cmd, argc, argv, false, &w->id);
}

static double monotonic_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
    struct timespec ts;

    if (s <= 0.0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* "42.0%<sep>1.20 MiB/s<sep>peers 2<sep>eta 10s", and the state unless downloading. */
static void format_numbers(char *out, size_t size, const json_t *st, const char *sep)
{
    const char *state = btctl_remote_str(st, "state", "?");
    char pct[BTCTL_PERCENT_LEN], rate[BTCTL_RATE_LEN], eta[BTCTL_DURATION_LEN];
    char *s = btctl_sanitize(state);
    bool downloading = strcmp(state, "downloading") == 0;

    btctl_format_percent(pct, btctl_remote_real(st, "progress", 0.0));
    btctl_format_rate(rate, (uint64_t)btctl_remote_int(st, "download_rate", 0));
    btctl_format_duration(eta, btctl_remote_int(st, "eta", -1));
    snprintf(out, size, "%s%s%s%speers %lld%seta %s%s%s", pct, sep, rate, sep,
             (long long)btctl_remote_int(st, "peers", 0), sep, eta, downloading ? "" : sep,
             downloading ? "" : (s ? s : "?"));
    free(s);
}

static void report(struct waiter *w, const json_t *st)
{
    char line[256];

    if (w->ctl->json)
        return;
    if (w->tty) {
        format_numbers(line, sizeof(line), st, "  ");
        btctl_progress_draw(&w->bar, btctl_remote_real(st, "progress", 0.0), line);
        return;
    }
    memcpy(line, "progress ", sizeof("progress "));
    format_numbers(line + strlen(line), sizeof(line) - strlen(line), st, " ");
    if (strcmp(line, w->last) == 0)
        return;
    memcpy(w->last, line, sizeof(line));
    puts(line);
    fflush(stdout);
}

/* The end: the status as JSON with --json, else a line. Returns status. */
static int finish(struct waiter *w, const json_t *st, int status)
{
    char size[BTCTL_SIZE_LEN];

    btctl_progress_finish(&w->bar);
    if (w->ctl->json) {
        if (btctl_remote_print_json(st) != BTCTL_EXIT_OK)
            return BTCTL_EXIT_FAIL;
    } else if (status == BTCTL_EXIT_OK) {
        btctl_format_size(size, (uint64_t)btctl_remote_int(st, "size", 0));
        btctl_remote_print_torrent(stdout, st);
        printf(": complete, %s\n", size);
    }
    return status;
}

/* -1 to go on polling, else the exit status after the last word. */
static int check(struct waiter *w, const json_t *st)
{
    const char *state = btctl_remote_str(st, "state", "");
    char *name;
    char *error;

    if (btctl_remote_is_complete(st))
        return finish(w, st, BTCTL_EXIT_OK);
    if (strcmp(state, "error") != 0)
        return -1;
    name = btctl_sanitize(btctl_remote_str(st, "name", "?"));
    error = btctl_sanitize(btctl_remote_str(st, "error", "unknown error"));
    btctl_progress_finish(&w->bar);
    btctl_errorf("wait: %lld \"%s\": %s", (long long)btctl_remote_int(st, "id", 0),
                 name ? name : "?", error ? error : "?");
    free(name);
    free(error);
    return finish(w, st, BTCTL_EXIT_FAIL);
}

static int timed_out(struct waiter *w, const json_t *st)
{
    char pct[BTCTL_PERCENT_LEN];
    char *state = btctl_sanitize(btctl_remote_str(st, "state", "?"));

    btctl_progress_finish(&w->bar);
    btctl_format_percent(pct, btctl_remote_real(st, "progress", 0.0));
    btctl_errorf("wait: timed out after %g s (%s, %s)", w->timeout, state ? state : "?", pct);
    free(state);
    return finish(w, st, EXIT_TIMED_OUT);
}

/* Polls until done; returns the exit status. */
static int wait_loop(struct waiter *w)
{
    double deadline = monotonic_seconds() + w->timeout;
    double now;
    json_t *st;
    int r;

    for (;;) {
        r = btctl_call(w->ctl, "torrent.get", btctl_remote_id_params(w->id), &st);
        if (r != BTCTL_EXIT_OK)
            return r;
        r = check(w, st);
        if (r < 0)
            report(w, st);
        now = monotonic_seconds();
        if (r < 0 && w->timeout >= 0.0 && now >= deadline)
            r = timed_out(w, st);
        json_decref(st);
        if (r >= 0)
            return r;
        if (w->timeout >= 0.0 && deadline - now < w->interval)
            sleep_seconds(deadline - now);
        else
            sleep_seconds(w->interval);
    }
}

static void erase_bar(void *data)
{
    btctl_progress_finish(data);
}

static int run_wait(struct btctl *ctl, int argc, char **argv)
{
    struct waiter w = {.ctl = ctl, .timeout = -1.0};
    int r;

    r = parse_args(ctl, &w, argc, argv);
    if (r >= 0)
        return r;
    w.tty = !ctl->json && isatty(STDOUT_FILENO);
    if (w.interval <= 0.0)
        w.interval = w.tty ? 0.5 : 1.0;
    btctl_progress_init(&w.bar, stdout, 0);
    /* An error from the client (btd gone mid-wait) must not land on the bar. */
    btctl_set_error_hook(erase_bar, &w.bar);
    r = wait_loop(&w);
    btctl_set_error_hook(NULL, NULL);
    return r;
}

const struct btctl_command btctl_wait_command = {
    .name = "wait",
    .run = run_wait,
    .usage = "ID [--timeout SECONDS] [--interval SECONDS] [--json]",
    .summary = "wait until a torrent is complete, showing its progress",
    .help = wait_help,
};
