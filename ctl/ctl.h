/*
 * ctl: what every btctl command shares. Single-threaded (the main thread).
 *
 * A command is one entry of the table in main.c: its name, a one-line
 * summary for `btctl --help`, its usage and option help for
 * `btctl COMMAND --help`, and a handler that gets argv with argv[0] set to
 * "btctl: NAME" (so getopt's own messages read right) and returns the exit
 * status. Exit statuses: 0 success, 1 failure (one line on stderr, starting
 * "btctl: "), 2 usage error.
 */
#ifndef BTCTL_CTL_H
#define BTCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BTCTL_EXIT_OK = 0,
    BTCTL_EXIT_FAIL = 1,
    BTCTL_EXIT_USAGE = 2,
};

struct btctl {
    bool json;          /* --json: print results as JSON */
    const char *socket; /* borrowed: --socket or $BTD_SOCKET; NULL for the default */
};

struct btctl_command {
    const char *name;
    int (*run)(struct btctl *ctl, int argc, char **argv);
    const char *usage;   /* the arguments after "btctl NAME " */
    const char *summary; /* one line for `btctl --help` */
    const char *help;    /* the options and notes, shown by `btctl NAME --help` */
};

extern const struct btctl_command btctl_create_command;
extern const struct btctl_command btctl_set_command;
extern const struct btctl_command btctl_verify_command;
extern const struct btctl_command btctl_move_command;
extern const struct btctl_command btctl_info_command;
/* The daemon's commands: add.c, torrent_cmds.c, inspect.c, wait.c, session_cmds.c. */
extern const struct btctl_command btctl_add_command;
extern const struct btctl_command btctl_list_command;
extern const struct btctl_command btctl_status_command;
extern const struct btctl_command btctl_pause_command;
extern const struct btctl_command btctl_resume_command;
extern const struct btctl_command btctl_remove_command;
extern const struct btctl_command btctl_jobs_command;
extern const struct btctl_command btctl_peers_command;
extern const struct btctl_command btctl_files_command;
extern const struct btctl_command btctl_wait_command;
extern const struct btctl_command btctl_session_command;
extern const struct btctl_command btctl_shutdown_command;

/* Prints "btctl: " and the message and a newline on stderr. */
void btctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Makes btctl_errorf call fn(data) before it prints, e.g. to erase a
 * progress line drawn on the terminal. fn NULL removes the hook.
 */
void btctl_set_error_hook(void (*fn)(void *data), void *data);
/* Prints the full usage and help of cmd on stdout; returns BTCTL_EXIT_OK. */
int btctl_help(const struct btctl_command *cmd);
/*
 * Prints "btctl: NAME: message" (when fmt is not NULL), the usage line and a
 * hint on stderr; returns BTCTL_EXIT_USAGE.
 */
int btctl_usage_error(const struct btctl_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* dir made absolute against the working directory: a new string, or NULL (errno set). */
char *btctl_absolute_dir(const char *dir);

/*
 * A byte count: digits with an optional binary unit, "262144", "256K",
 * "256KiB", "1M", "2G", "1T" (case-insensitive, "B" optional). 0 or -EINVAL.
 */
int btctl_parse_size(const char *s, uint64_t *ret);
/*
 * A duration in seconds: digits with an optional unit, "90", "90s", "30m",
 * "2h", "1d". 0 or -EINVAL (also past INT32_MAX seconds).
 */
int btctl_parse_duration(const char *s, uint64_t *ret);
/*
 * Reads a whole file into a new buffer (caller frees; NUL-terminated past
 * len). 0, -EMSGSIZE when it is longer than max bytes, or -errno.
 */
int btctl_read_file(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len);
/*
 * Writes data to path through "path.tmp" and a rename, so readers never see
 * a partial file. Without overwrite an existing path is an error (-EEXIST).
 */
int btctl_write_file_atomic(const char *path, const void *data, size_t len, bool overwrite);

#endif
