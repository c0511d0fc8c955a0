/*
 * move: `btctl move ID DIR [--no-move]`, a torrent's data to another
 * directory (torrent.move). A relative DIR is taken from the current
 * directory, as for `add --dir`.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "remote.h"

static const char move_help[] =
    "      --no-move  do not move the files: DIR holds the data already (a copy, or\n"
    "                 moved by hand); btd only points the torrent at DIR and checks it\n"
    "      --json     print btd's reply: the torrent's status object\n"
    "  -h, --help     show this help\n"
    "\n"
    "btd moves the torrent's own files (by its file list; nothing else in the\n"
    "directory) to DIR, creating directories as needed: a rename on one file\n"
    "system, else a copy that is synced before the source is deleted. The\n"
    "torrent shows state `moving` and has no peers meanwhile, then goes on as\n"
    "before (seeding, downloading or paused) from DIR, and remembers DIR across\n"
    "restarts. A move that fails (a full disk, no permission, a file of the same\n"
    "name in DIR) moves back what it moved: the data stays where it was and the\n"
    "torrent is in state `error` saying why (`btctl resume ID` carries on there).\n"
    "`btctl wait ID` waits for the move of a complete torrent to end.\n";

static const struct option move_options[] = {
    {"no-move", no_argument, NULL, 'n'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int show_moved(const json_t *st)
{
    const char *to = btctl_remote_str(st, "moving_to", NULL);

    btctl_remote_print_torrent(stdout, st);
    printf(": %s, %s %s\n", btctl_remote_str(st, "state", "?"), to ? "moving to" : "in",
           to ? to : btctl_remote_str(st, "dir", "?"));
    return BTCTL_EXIT_OK;
}

static int run_move(struct btctl *ctl, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_move_command;
    bool move_data = true;
    const char *id;
    json_t *params;
    char *dir;
    int c, r;

    for (;;) {
        c = getopt_long(argc, argv, "h", move_options, NULL);
        if (c == -1)
            break;
        if (c == 'n') {
            move_data = false;
            continue;
        }
        r = btctl_remote_option(ctl, cmd, c);
        if (r >= 0)
            return r;
    }
    if (argc - optind < 2)
        return btctl_usage_error(cmd, "give an ID and a directory");
    if (argc - optind > 2)
        return btctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
    id = argv[optind];
    if (!id[0] || !argv[optind + 1][0])
        return btctl_usage_error(cmd, "%s", !id[0] ? "empty ID" : "empty directory");
    dir = btctl_absolute_dir(argv[optind + 1]);
    if (!dir) {
        btctl_errorf("move: %s: %s", argv[optind + 1], strerror(errno));
        return BTCTL_EXIT_FAIL;
    }
    params = btctl_remote_id_params(id);
    json_object_set_new(params, "dir", json_string(dir));
    if (!move_data)
        json_object_set_new(params, "move_data", json_false());
    free(dir);
    return btctl_remote_show(ctl, "torrent.move", params, show_moved);
}

const struct btctl_command btctl_move_command = {
    .name = "move",
    .run = run_move,
    .usage = "ID DIR [--no-move] [--json]",
    .summary = "move a torrent's data to another directory",
    .help = move_help,
};
