/*
 * info: `btctl info FILE.torrent`, what a torrent file holds, as aligned
 * text or (--json) one JSON object. Works without the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "ctl.h"
#include "format.h"
#include "metainfo.h"

static const char info_help[] =
    "      --json   print a JSON object: name, info_hash, total_size, piece_length,\n"
    "               piece_count, private, trackers (a list of tiers), web_seeds,\n"
    "               comment, created_by, creation_date, files [{path, size, pad}]\n"
    "  -h, --help   show this help\n"
    "\n"
    "Files are numbered from 0 as `btctl add --skip` takes them; padding files\n"
    "(BEP 47) are counted but neither listed nor numbered in the text output.\n";

/*
 * A new JSON string. Text that is not UTF-8 (torrents are not always) has
 * every non-ASCII byte replaced with '?', since JSON cannot carry it.
 */
static json_t *json_text(const char *s)
{
    json_t *j;
    char *copy;

    if (!s)
        return json_null();
    j = json_string(s);
    if (j)
        return j;
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *json_trackers(const struct bt_metainfo *m)
{
    json_t *tiers = json_array();

    for (size_t t = 0; t < m->tier_count; t++) {
        json_t *tier = json_array();

        for (size_t i = 0; i < m->tiers[t].count; i++)
            json_array_append_new(tier, json_text(m->tiers[t].urls[i]));
        json_array_append_new(tiers, tier);
    }
    return tiers;
}

static json_t *json_files(const struct bt_metainfo *m)
{
    json_t *files = json_array();

    for (size_t i = 0; i < m->file_count; i++) {
        json_t *f = json_object();

        json_object_set_new(f, "path", json_text(m->files[i].path));
        json_object_set_new(f, "size", json_integer((json_int_t)m->files[i].length));
        json_object_set_new(f, "pad", json_boolean(m->files[i].pad));
        json_array_append_new(files, f);
    }
    return files;
}

static int print_json(const struct bt_metainfo *m, const char *hex)
{
    json_t *o = json_object();
    json_t *seeds = json_array();
    char *s;

    for (size_t i = 0; i < m->web_seed_count; i++)
        json_array_append_new(seeds, json_text(m->web_seeds[i]));
    json_object_set_new(o, "name", json_text(m->name));
    json_object_set_new(o, "info_hash", json_string(hex));
    json_object_set_new(o, "total_size", json_integer((json_int_t)m->total_length));
    json_object_set_new(o, "piece_length", json_integer((json_int_t)m->piece_length));
    json_object_set_new(o, "piece_count", json_integer((json_int_t)m->piece_count));
    json_object_set_new(o, "private", json_boolean(m->is_private));
    json_object_set_new(o, "trackers", json_trackers(m));
    json_object_set_new(o, "web_seeds", seeds);
    json_object_set_new(o, "comment", json_text(m->comment));
    json_object_set_new(o, "created_by", json_text(m->created_by));
    json_object_set_new(o, "creation_date",
                        m->creation_date ? json_integer((json_int_t)m->creation_date)
                                         : json_null());
    json_object_set_new(o, "files", json_files(m));
    s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!s) {
        btctl_errorf("info: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    printf("%s\n", s);
    free(s);
    return BTCTL_EXIT_OK;
}

/* The key: value block at the top. */
static int add_summary(struct btctl_table *t, const struct bt_metainfo *m, const char *hex)
{
    char size[BTCTL_SIZE_LEN];
    char line[128];
    char date[64];
    struct tm tm;
    time_t when = (time_t)m->creation_date;
    int r = 0;

    r |= btctl_table_add(t, (const char *const[]){"Name:", m->name});
    r |= btctl_table_add(t, (const char *const[]){"Info-hash:", hex});
    btctl_format_size(size, m->total_length);
    snprintf(line, sizeof(line), "%s (%llu bytes)", size, (unsigned long long)m->total_length);
    r |= btctl_table_add(t, (const char *const[]){"Size:", line});
    btctl_format_size(size, m->piece_length);
    snprintf(line, sizeof(line), "%lu of %s", (unsigned long)m->piece_count, size);
    r |= btctl_table_add(t, (const char *const[]){"Pieces:", line});
    r |= btctl_table_add(t, (const char *const[]){"Private:", m->is_private ? "yes" : "no"});
    if (m->created_by)
        r |= btctl_table_add(t, (const char *const[]){"Created by:", m->created_by});
    if (m->creation_date && gmtime_r(&when, &tm) &&
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
        r |= btctl_table_add(t, (const char *const[]){"Created on:", date});
    if (m->comment)
        r |= btctl_table_add(t, (const char *const[]){"Comment:", m->comment});
    return r < 0 ? -ENOMEM : 0;
}

/*
 * Index (as `btctl add --skip` and btd's torrent.files number them), size
 * and path of the real files; returns how many padding files were left out.
 */
static int add_files(struct btctl_table *t, const struct bt_metainfo *m, size_t *ret_pads)
{
    char size[BTCTL_SIZE_LEN], index[24];
    size_t pads = 0;

    btctl_table_align_right(t, 0);
    btctl_table_align_right(t, 1);
    for (size_t i = 0; i < m->file_count; i++) {
        if (m->files[i].pad) {
            pads++;
            continue;
        }
        snprintf(index, sizeof(index), "%zu", i - pads);
        btctl_format_size(size, m->files[i].length);
        if (btctl_table_add(t, (const char *const[]){index, size, m->files[i].path}) < 0)
            return -ENOMEM;
    }
    *ret_pads = pads;
    return 0;
}

static void print_lists(const struct bt_metainfo *m)
{
    char *s;

    if (m->tier_count > 0)
        fputs("\nTrackers:\n", stdout);
    for (size_t t = 0; t < m->tier_count; t++) {
        for (size_t i = 0; i < m->tiers[t].count; i++) {
            s = btctl_sanitize(m->tiers[t].urls[i]);
            printf("  tier %zu: %s\n", t + 1, s ? s : "?");
            free(s);
        }
    }
    if (m->web_seed_count > 0)
        fputs("\nWeb seeds:\n", stdout);
    for (size_t i = 0; i < m->web_seed_count; i++) {
        s = btctl_sanitize(m->web_seeds[i]);
        printf("  %s\n", s ? s : "?");
        free(s);
    }
}

static int print_text(const struct bt_metainfo *m, const char *hex)
{
    struct btctl_table summary;
    struct btctl_table files;
    size_t pads = 0;
    int r;

    btctl_table_init(&summary, 2);
    btctl_table_init(&files, 3);
    r = add_summary(&summary, m, hex);
    if (r == 0)
        r = add_files(&files, m, &pads);
    if (r == 0) {
        btctl_table_print(&summary, stdout, "");
        print_lists(m);
        printf("\nFiles (%zu):\n", m->file_count - pads);
        btctl_table_print(&files, stdout, "  ");
        if (pads > 0)
            printf("  (%zu padding file%s not shown)\n", pads, pads == 1 ? "" : "s");
    }
    btctl_table_deinit(&summary);
    btctl_table_deinit(&files);
    if (r < 0) {
        btctl_errorf("info: %s", strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    return BTCTL_EXIT_OK;
}

static const struct option info_options[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int show(const struct btctl *ctl, const char *path)
{
    struct bt_metainfo *m = NULL;
    struct bt_error err = {{0}};
    char hex[41];
    uint8_t *buf;
    size_t len;
    int r;

    r = btctl_read_file(path, BT_METAINFO_MAX_SIZE, &buf, &len);
    if (r == -EMSGSIZE) {
        btctl_errorf("info: %s: larger than the %zu MiB a torrent may be", path,
                     BT_METAINFO_MAX_SIZE >> 20);
        return BTCTL_EXIT_FAIL;
    }
    if (r < 0) {
        btctl_errorf("info: %s: %s", path, strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    r = bt_metainfo_parse(&m, buf, len, &err);
    free(buf);
    if (r < 0) {
        btctl_errorf("info: %s: %s", path, err.msg[0] ? err.msg : strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    bt_hex_encode(hex, m->info_hash, sizeof(m->info_hash));
    r = ctl->json ? print_json(m, hex) : print_text(m, hex);
    bt_metainfo_free(m);
    return r;
}

static int run_info(struct btctl *ctl, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_info_command;
    int c;

    for (;;) {
        c = getopt_long(argc, argv, "h", info_options, NULL);
        if (c == -1)
            break;
        if (c == 'j')
            ctl->json = true;
        else if (c == 'h')
            return btctl_help(cmd);
        else
            return btctl_usage_error(cmd, NULL);
    }
    if (optind >= argc)
        return btctl_usage_error(cmd, "missing FILE.torrent");
    if (optind + 1 < argc)
        return btctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    return show(ctl, argv[optind]);
}

const struct btctl_command btctl_info_command = {
    .name = "info",
    .run = run_info,
    .usage = "FILE.torrent [--json]",
    .summary = "show what a .torrent file holds (no daemon needed)",
    .help = info_help,
};
