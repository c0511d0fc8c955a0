/*
 * remote: options, params, JSON fields and tables shared by the daemon
 * commands (see remote.h).
 */
#include "remote.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "format.h"
#include "ratio.h"
#include "rpc.h"

int btctl_remote_option(struct btctl *ctl, const struct btctl_command *cmd, int c)
{
    if (c == 'j') {
        ctl->json = true;
        return -1;
    }
    if (c == 'h')
        return btctl_help(cmd);
    return btctl_usage_error(cmd, NULL);
}

static const struct option id_options[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int btctl_remote_parse_id(struct btctl *ctl, const struct btctl_command *cmd, int argc, char **argv,
                          bool optional, const char **ret_id)
{
    int c;
    int r;

    for (;;) {
        c = getopt_long(argc, argv, "h", id_options, NULL);
        if (c == -1)
            break;
        r = btctl_remote_option(ctl, cmd, c);
        if (r >= 0)
            return r;
    }
    return btctl_remote_take_id(cmd, argc, argv, optional, ret_id);
}

int btctl_remote_take_id(const struct btctl_command *cmd, int argc, char **argv, bool optional,
                         const char **ret_id)
{
    if (optind >= argc) {
        if (!optional)
            return btctl_usage_error(cmd, "missing ID");
        *ret_id = NULL;
        return -1;
    }
    if (optind + 1 < argc)
        return btctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (argv[optind][0] == '\0')
        return btctl_usage_error(cmd, "empty ID");
    *ret_id = argv[optind];
    return -1;
}

json_t *btctl_remote_id_params(const char *id)
{
    return json_pack("{s:s}", "id", id);
}

int btctl_remote_print_json(const json_t *value)
{
    char *s = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY | BT_RPC_REAL_PRECISION);

    if (!s) {
        btctl_errorf("%s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    puts(s);
    free(s);
    return BTCTL_EXIT_OK;
}

int btctl_remote_show(const struct btctl *ctl, const char *method, json_t *params,
                      int (*show)(const json_t *result))
{
    json_t *result = NULL;
    int r;

    r = btctl_call(ctl, method, params, &result);
    if (r != BTCTL_EXIT_OK)
        return r;
    r = ctl->json ? btctl_remote_print_json(result) : show(result);
    json_decref(result);
    return r;
}

int64_t btctl_remote_int(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return dflt;
}

double btctl_remote_real(const json_t *o, const char *key, double dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

const char *btctl_remote_str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : dflt;
}

bool btctl_remote_is_complete(const json_t *status)
{
    const char *state = btctl_remote_str(status, "state", "");

    return strcmp(state, "seeding") == 0 ||
           (btctl_remote_real(status, "progress", 0.0) >= 1.0 && strcmp(state, "checking") != 0 &&
            strcmp(state, "moving") != 0);
}

void btctl_remote_print_torrent(FILE *f, const json_t *torrent)
{
    char *name = btctl_sanitize(btctl_remote_str(torrent, "name", "?"));

    fprintf(f, "%lld \"%s\"", (long long)btctl_remote_int(torrent, "id", 0), name ? name : "?");
    free(name);
}

static int add_row(struct btctl_table *t, const json_t *item, size_t ncols,
                   void (*row)(const json_t *item, const char **cells,
                               char (*scratch)[BTCTL_REMOTE_CELL_LEN]))
{
    char scratch[BTCTL_REMOTE_MAX_COLS][BTCTL_REMOTE_CELL_LEN];
    const char *cells[BTCTL_REMOTE_MAX_COLS] = {NULL};

    for (size_t i = 0; i < ncols; i++)
        scratch[i][0] = '\0';
    row(item, cells, scratch);
    return btctl_table_add(t, cells);
}

int btctl_remote_print_rows(const json_t *array, const char *const *header, size_t ncols,
                            uint32_t right,
                            void (*row)(const json_t *item, const char **cells,
                                        char (*scratch)[BTCTL_REMOTE_CELL_LEN]),
                            const char *empty)
{
    struct btctl_table t;
    const json_t *item;
    size_t i;
    int r;

    if (!json_is_array(array) || ncols > BTCTL_REMOTE_MAX_COLS) {
        btctl_errorf("unexpected reply from btd");
        return BTCTL_EXIT_FAIL;
    }
    if (json_array_size(array) == 0) {
        fprintf(stderr, "%s\n", empty);
        return BTCTL_EXIT_OK;
    }
    btctl_table_init(&t, ncols);
    t.right = right;
    r = btctl_table_add(&t, header);
    json_array_foreach(array, i, item)
    {
        if (r == 0)
            r = add_row(&t, item, ncols, row);
    }
    if (r == 0)
        btctl_table_print(&t, stdout, "");
    btctl_table_deinit(&t);
    if (r < 0) {
        btctl_errorf("%s", strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    return BTCTL_EXIT_OK;
}

/* " (global)" or " (torrent)": whose a limit of a status is; "" in session.get. */
static const char *limit_from(const json_t *o, const char *key)
{
    const char *from = btctl_remote_str(o, key, NULL);

    return !from ? "" : strcmp(from, "global") == 0 ? " (global)" : " (torrent)";
}

void btctl_remote_seed_goals(char *out, size_t size, const json_t *o)
{
    char ratio[BT_RATIO_TEXT_LEN] = "", idle[BTCTL_DURATION_LEN] = "";
    int64_t h = 0, secs = btctl_remote_int(o, "seed_idle_limit", 0);
    const char *rfrom = limit_from(o, "seed_ratio_limit_from");
    const char *ifrom = limit_from(o, "seed_idle_limit_from");
    bool rown = strcmp(rfrom, " (torrent)") == 0, iown = strcmp(ifrom, " (torrent)") == 0;

    if (bt_ratio_from_double(btctl_remote_real(o, "seed_ratio_limit", 0.0), &h) == 0 && h > 0)
        bt_ratio_format(ratio, h);
    if (secs > 0)
        btctl_format_duration(idle, secs);
    if (!ratio[0] && !idle[0]) {
        snprintf(out, size, "seeds on: no ratio or idle limit%s", rown || iown ? " (torrent)" : "");
        return;
    }
    snprintf(out, size, "seeds until %s%s%s%s%s%s%s%s", ratio[0] ? "ratio " : "", ratio,
             ratio[0] ? rfrom : "", ratio[0] && idle[0] ? " or " : "", idle, idle[0] ? " idle" : "",
             idle[0] ? ifrom : "",
             !ratio[0] && rown  ? "; no ratio limit (torrent)"
             : !idle[0] && iown ? "; no idle limit (torrent)"
                                : "");
}
