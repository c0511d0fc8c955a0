/*
 * files: `btctl files ID`, a torrent's files with what is wanted of each,
 * and the options that change it (torrent.set); and the file lists those
 * options and `btctl add --skip/--only` take ("0,3-5", "all").
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "format.h"
#include "metainfo.h"
#include "remote.h"

/* Reads a file index at *s (decimal, at most BT_METAINFO_MAX_FILES); advances *s. */
static int parse_index(const char **s, uint32_t *ret)
{
    uint64_t n = 0;
    const char *p = *s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n >= BT_METAINFO_MAX_FILES)
            return -ERANGE;
    }
    *s = p;
    *ret = (uint32_t)n;
    return 0;
}

int btctl_file_list_add(json_t **list, const char *s)
{
    uint32_t first, last, i;
    const char *p = s;
    int r;

    if (strcmp(s, "all") == 0) {
        json_decref(*list);
        *list = json_string("all");
        return *list ? 0 : -ENOMEM;
    }
    if (!*list)
        *list = json_array();
    if (!*list)
        return -ENOMEM;
    for (;;) {
        r = parse_index(&p, &first);
        last = first;
        if (r == 0 && *p == '-') {
            p++;
            r = parse_index(&p, &last);
        }
        if (r < 0 || last < first || (*p != ',' && *p != '\0'))
            return r == -ERANGE ? r : -EINVAL;
        for (i = first; json_is_array(*list) && i <= last; i++) {
            if (json_array_size(*list) >= BT_METAINFO_MAX_FILES)
                return -ERANGE;
            json_array_append_new(*list, json_integer(i));
        }
        if (*p == '\0')
            return 0;
        p++;
    }
}

int btctl_file_list_option(const struct btctl_command *cmd, const char *opt, json_t **list,
                           const char *arg)
{
    int r = btctl_file_list_add(list, arg);

    if (r == -ENOMEM) {
        btctl_errorf("%s: %s", cmd->name, strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    if (r < 0)
        return btctl_usage_error(cmd,
                                 "%s: '%s' is not a list of file indices (e.g. 0,3-5 or all%s)",
                                 opt, arg, r == -ERANGE ? "; indices below 100000" : "");
    return -1;
}

static const char files_help[] =
    "      --want LIST    download these files (LIST: indices as listed, e.g. 0,3-5, or all)\n"
    "      --skip LIST    do not download these files\n"
    "      --high LIST    fetch these files' pieces before the others\n"
    "      --normal LIST  give these files the normal priority (the default)\n"
    "      --low LIST     fetch these files' pieces after the others\n"
    "      --json         print btd's reply: [{index, path, size, offset, wanted,\n"
    "                     priority, done}]\n"
    "  -h, --help         show this help\n"
    "\n"
    "GET says whether a file is wanted; DONE is the share of it in verified\n"
    "pieces. The options change the torrent first (all of them or none), then\n"
    "show its files. A skipped file is not fetched, but a piece that it shares\n"
    "with a wanted file is downloaded whole and its bytes written to both files.\n"
    "A file already on disk is never deleted when it is skipped. Wanting a file\n"
    "of a complete torrent makes it download again. Paths are relative to the\n"
    "torrent's directory (`btctl status ID`); padding files are not listed.\n";

enum {
    OPT_WANT = 0x100,
    OPT_SKIP,
    OPT_HIGH,
    OPT_NORMAL,
    OPT_LOW,
};

/* Each option, the torrent.set key it fills. */
static const struct {
    int opt;
    const char *name;
    const char *key;
} list_opts[] = {
    {OPT_WANT, "--want", "files_wanted"},  {OPT_SKIP, "--skip", "files_skipped"},
    {OPT_HIGH, "--high", "priority_high"}, {OPT_NORMAL, "--normal", "priority_normal"},
    {OPT_LOW, "--low", "priority_low"},
};
#define N_LISTS (sizeof(list_opts) / sizeof(list_opts[0]))

static const struct option files_options[] = {
    {"want", required_argument, NULL, OPT_WANT},
    {"skip", required_argument, NULL, OPT_SKIP},
    {"high", required_argument, NULL, OPT_HIGH},
    {"normal", required_argument, NULL, OPT_NORMAL},
    {"low", required_argument, NULL, OPT_LOW},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void file_row(const json_t *f, const char **cells, char (*scratch)[BTCTL_REMOTE_CELL_LEN])
{
    int64_t size = btctl_remote_int(f, "size", 0), done = btctl_remote_int(f, "done", 0);

    snprintf(scratch[0], BTCTL_REMOTE_CELL_LEN, "%lld", (long long)btctl_remote_int(f, "index", 0));
    cells[0] = scratch[0];
    btctl_format_percent(scratch[1], size > 0 ? (double)done / (double)size : 1.0);
    cells[1] = scratch[1];
    cells[2] = json_is_false(json_object_get(f, "wanted")) ? "no" : "yes";
    cells[3] = btctl_remote_str(f, "priority", "normal");
    btctl_format_size(scratch[4], (uint64_t)size);
    cells[4] = scratch[4];
    cells[5] = btctl_remote_str(f, "path", "?");
}

static int show_files(const json_t *files)
{
    static const char *const header[] = {"#", "DONE", "GET", "PRIORITY", "SIZE", "PATH"};

    return btctl_remote_print_rows(files, header, 6, 1u << 0 | 1u << 1 | 1u << 4, file_row,
                                   "no files");
}

/* Parses the options into lists[N_LISTS]; returns -1 to go on, else the exit status. */
static int parse_files_args(struct btctl *ctl, int argc, char **argv, json_t **lists,
                            const char **ret_id)
{
    const struct btctl_command *cmd = &btctl_files_command;
    size_t i;
    int c, r;

    for (;;) {
        c = getopt_long(argc, argv, "h", files_options, NULL);
        if (c == -1)
            break;
        for (i = 0; i < N_LISTS && list_opts[i].opt != c; i++)
            ;
        if (i < N_LISTS)
            r = btctl_file_list_option(cmd, list_opts[i].name, &lists[i], optarg);
        else
            r = btctl_remote_option(ctl, cmd, c);
        if (r >= 0)
            return r;
    }
    return btctl_remote_take_id(cmd, argc, argv, false, ret_id);
}

static int run_files(struct btctl *ctl, int argc, char **argv)
{
    json_t *lists[N_LISTS] = {NULL}, *params = NULL, *result = NULL;
    const char *id = NULL;
    bool change = false;
    size_t i;
    int r;

    r = parse_files_args(ctl, argc, argv, lists, &id);
    if (r < 0) {
        params = btctl_remote_id_params(id);
        for (i = 0; params && i < N_LISTS; i++) {
            if (lists[i] && json_object_set(params, list_opts[i].key, lists[i]) == 0)
                change = true;
        }
        r = params ? -1 : BTCTL_EXIT_FAIL;
    }
    for (i = 0; i < N_LISTS; i++)
        json_decref(lists[i]);
    if (r >= 0)
        return r;
    if (change) {
        r = btctl_call(ctl, "torrent.set", params, &result);
        json_decref(result);
        if (r != BTCTL_EXIT_OK)
            return r;
    } else {
        json_decref(params);
    }
    return btctl_remote_show(ctl, "torrent.files", btctl_remote_id_params(id), show_files);
}

const struct btctl_command btctl_files_command = {
    .name = "files",
    .run = run_files,
    .usage = "ID [--want LIST] [--skip LIST] [--high LIST] [--normal LIST] [--low LIST] [--json]",
    .summary = "list a torrent's files; choose which to download and in what order",
    .help = files_help,
};
