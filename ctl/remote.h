/*
 * remote: what btctl's daemon commands share. Main thread only.
 *
 * The options every one of them takes (--json, --help), the `ID` argument
 * and its {id} params, printing a result as JSON, and reading fields of a
 * result. A field that is missing or of another type (an older or newer
 * btd) reads as the caller's default: btctl shows what it can and never
 * trusts the daemon's JSON to have a shape.
 */
#ifndef BTCTL_REMOTE_H
#define BTCTL_REMOTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"

/*
 * Handles an option every daemon command knows, as its table spells them
 * ({"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}):
 * 'j' (--json) sets
 * ctl->json and returns -1 (go on); 'h' prints the help; anything else is a
 * usage error. Returns -1 or the exit status.
 */
int btctl_remote_option(struct btctl *ctl, const struct btctl_command *cmd, int c);

/*
 * Parses `NAME [--json] [ID]` for the commands with no options of their
 * own. *ret_id is the ID (borrowed from argv), or NULL when optional and not
 * given. Returns -1 to go on, else the exit status.
 */
int btctl_remote_parse_id(struct btctl *ctl, const struct btctl_command *cmd, int argc, char **argv,
                          bool optional, const char **ret_id);

/*
 * Takes the one ID argument left after the options (argv[optind]): a usage
 * error when it is missing (unless optional), empty or followed by more.
 * Returns -1 to go on, else the exit status.
 */
int btctl_remote_take_id(const struct btctl_command *cmd, int argc, char **argv, bool optional,
                         const char **ret_id);

/* New params {"id": id}; the ID goes as a string (number, info-hash or prefix). */
json_t *btctl_remote_id_params(const char *id);

/* Prints a JSON value on stdout, indented by two. Returns the exit status. */
int btctl_remote_print_json(const json_t *value);

/*
 * Calls method with params (stolen) and shows the result: raw with --json,
 * else through show(result), which returns the exit status. Returns the
 * exit status.
 */
int btctl_remote_show(const struct btctl *ctl, const char *method, json_t *params,
                      int (*show)(const json_t *result));

/* Field key of object o, or dflt when missing or of another type. */
int64_t btctl_remote_int(const json_t *o, const char *key, int64_t dflt);
/*
 * The seeding goals of a status or of session.get (seed_ratio_limit,
 * seed_idle_limit and, in a status, whose they are) in words: "seeds until
 * ratio 1.5 (global) or 30m00s idle (torrent)", "seeds on: no ratio or idle
 * limit". Cut to fit size.
 */
void btctl_remote_seed_goals(char *out, size_t size, const json_t *o);
/* A number (real or integer) field. */
double btctl_remote_real(const json_t *o, const char *key, double dflt);
/* A string field (borrowed from o). */
const char *btctl_remote_str(const json_t *o, const char *key, const char *dflt);

/*
 * Whether a torrent status is complete: seeding, or every byte verified
 * and not being checked again or moved.
 */
bool btctl_remote_is_complete(const json_t *status);

/* Prints `ID "NAME"` of a torrent result (name sanitized), no newline. */
void btctl_remote_print_torrent(FILE *f, const json_t *torrent);

/*
 * Prints a table (see format.h): the header row, then one row per item of
 * array, filled by row(item, cells, scratch): each of the ncols cells is
 * set to a string borrowed from item or written into its scratch[i]. Bit i
 * of right aligns column i to the right. An empty array prints `empty` on
 * stderr instead. Returns the exit status.
 */
#define BTCTL_REMOTE_MAX_COLS 12
#define BTCTL_REMOTE_CELL_LEN 64 /* bytes of scratch per cell */
int btctl_remote_print_rows(const json_t *array, const char *const *header, size_t ncols,
                            uint32_t right,
                            void (*row)(const json_t *item, const char **cells,
                                        char (*scratch)[BTCTL_REMOTE_CELL_LEN]),
                            const char *empty);

/*
 * File lists (files.c), as `btctl files --skip` and `btctl add --only`
 * take them: "all", or indices and ranges joined by commas ("0,3-5"),
 * each below BT_METAINFO_MAX_FILES. btctl_file_list_add appends s to
 * *list (an array, created if NULL; "all" replaces it with the string
 * "all", as btd takes it): 0, -EINVAL (not a list), -ERANGE, -ENOMEM.
 */
int btctl_file_list_add(json_t **list, const char *s);
/*
 * The same for option opt of cmd with a user's arg: -1 to go on, else the
 * exit status (a usage error naming opt and arg).
 */
int btctl_file_list_option(const struct btctl_command *cmd, const char *opt, json_t **list,
                           const char *arg);

#endif
