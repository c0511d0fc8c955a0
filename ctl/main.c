/*
 * btctl: global options and dispatch through the command table.
 *
 *     btctl [--json] [--socket PATH] COMMAND [ARGS...]
 *
 * A new command is one entry in `commands` below; its file exports a
 * struct btctl_command.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btd-version.h"
#include "ctl.h"

static const struct btctl_command *const commands[] = {
    /* The daemon's commands, in the order `btctl --help` lists them. */
    &btctl_add_command,
    &btctl_list_command,
    &btctl_status_command,
    &btctl_wait_command,
    &btctl_jobs_command,
    &btctl_peers_command,
    &btctl_files_command,
    &btctl_pause_command,
    &btctl_resume_command,
    &btctl_verify_command,
    &btctl_move_command,
    &btctl_remove_command,
    &btctl_session_command,
    &btctl_set_command,
    &btctl_shutdown_command,
    /* The commands that work on files alone. */
    &btctl_create_command,
    &btctl_info_command,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct btctl_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    }
    return NULL;
}

static void print_usage(FILE *f)
{
    fputs("usage: btctl [--json] [--socket PATH] COMMAND [ARGS...]\n", f);
}

static int print_help(void)
{
    size_t width = 0;

    print_usage(stdout);
    fputs("\nControl btd, the BitTorrent daemon, and work with .torrent files.\n\n"
          "Commands:\n",
          stdout);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t n = strlen(commands[i]->name);

        if (n > width)
            width = n;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-*s  %s\n", (int)width, commands[i]->name, commands[i]->summary);
    fputs("\nOptions:\n"
          "  --json         print results as JSON\n"
          "  --socket PATH  the daemon's control socket (also $BTD_SOCKET)\n"
          "  -h, --help     show this help; `btctl COMMAND --help` for a command\n"
          "  -V, --version  show the version\n",
          stdout);
    return BTCTL_EXIT_OK;
}

enum {
    OPT_JSON = 0x100,
    OPT_SOCKET,
};

static const struct option global_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Parses the options before the command. Returns -1 to go on, else an exit status. */
static int parse_global(struct btctl *ctl, int argc, char **argv)
{
    int c;

    opterr = 1;
    for (;;) {
        c = getopt_long(argc, argv, "+hV", global_options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_JSON:
            ctl->json = true;
            break;
        case OPT_SOCKET:
            ctl->socket = optarg;
            break;
        case 'h':
            return print_help();
        case 'V':
            printf("btctl %s\n", BTD_VERSION);
            return BTCTL_EXIT_OK;
        default:
            print_usage(stderr);
            return BTCTL_EXIT_USAGE;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct btctl ctl = {0};
    const struct btctl_command *cmd;
    char prog[64];
    const char *env;
    int first;
    int r;

    env = getenv("BTD_SOCKET");
    if (env && *env)
        ctl.socket = env;
    argv[0] = "btctl";
    r = parse_global(&ctl, argc, argv);
    if (r >= 0)
        return r;
    if (optind >= argc) {
        btctl_errorf("no command given");
        print_usage(stderr);
        fputs("Try 'btctl --help' for the list of commands.\n", stderr);
        return BTCTL_EXIT_USAGE;
    }
    cmd = find_command(argv[optind]);
    if (!cmd) {
        btctl_errorf("unknown command '%s'", argv[optind]);
        fputs("Try 'btctl --help' for the list of commands.\n", stderr);
        return BTCTL_EXIT_USAGE;
    }
    /* getopt prints argv[0] in its messages: make them read "btctl: NAME: ...". */
    snprintf(prog, sizeof(prog), "btctl: %s", cmd->name);
    first = optind;
    argv[first] = prog;
    optind = 0; /* glibc: a full re-initialisation for the command's own options */
    return cmd->run(&ctl, argc - first, argv + first);
}
