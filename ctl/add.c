/*
 * add: `btctl add FILE.torrent|URL|MAGNET`, hands a torrent to btd.
 *
 * The .torrent is read (or fetched from an http(s) URL) here and sent
 * base64-encoded (btd may run as another user and need not see our
 * files), and a relative --dir is made absolute against our working
 * directory, since btd's is not ours. The info-hash is printed alone on
 * the first line, for scripts (`head -n1`).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "crypto.h"
#include "ctl.h"
#include "error.h"
#include "fetch.h"
#include "magnet.h"
#include "metainfo.h"
#include "remote.h"

static const char add_help[] =
    "      --dir DIR         download into DIR (default: btd's download directory);\n"
    "                        a relative DIR is taken from the current directory\n"
    "      --paused          add the torrent paused (`btctl resume ID` starts it)\n"
    "      --peer HOST:PORT  connect to this peer too (repeatable; no tracker needed)\n"
    "      --skip LIST       do not download these files (LIST: indices as `btctl info`\n"
    "                        numbers the files, padding left out: 0,3-5 or all)\n"
    "      --only LIST       download these files only, skip the others\n"
    "      --json            print btd's reply as JSON: {id, info_hash, name}\n"
    "  -h, --help            show this help\n"
    "\n"
    "Prints the info-hash on the first line, then `added ID \"NAME\"`. The ID,\n"
    "the info-hash or a unique prefix of it (6+ hex digits) names the torrent\n"
    "in the other commands. An http:// or https:// URL is fetched here (redirects\n"
    "followed, 60 s at most). A magnet URI is passed to btd as it is (btd fetches\n"
    "the metadata from peers: state `metadata`); a bare info-hash (40 hex digits\n"
    "or 32 base32) is taken as the magnet of that hash (peers from --peer only).\n"
    "--skip and --only are applied before anything is fetched (`btctl files ID\n"
    "--want LIST` changes them later); for a magnet, once its metadata arrived\n"
    "(lists that do not fit its files then pause it: see `btctl files`).\n";

enum {
    OPT_DIR = 0x100,
    OPT_PAUSED,
    OPT_PEER,
    OPT_SKIP,
    OPT_ONLY,
};

static const struct option add_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"paused", no_argument, NULL, OPT_PAUSED},
    {"peer", required_argument, NULL, OPT_PEER},
    {"skip", required_argument, NULL, OPT_SKIP},
    {"only", required_argument, NULL, OPT_ONLY},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct add_opts {
    const char *source; /* borrowed: the .torrent path or URL, or the magnet URI */
    const char *dir;    /* borrowed; NULL for btd's default */
    bool paused;
    json_t *peers; /* owned: array of "host:port" strings */
    json_t *skip;  /* owned or NULL: --skip's files ("all" or an array) */
    json_t *only;  /* owned or NULL: --only's files */
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct btctl *ctl, struct add_opts *o, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_add_command;
    int c;
    int r;

    for (;;) {
        c = getopt_long(argc, argv, "h", add_options, NULL);
        if (c == -1)
            break;
        if (c == OPT_DIR) {
            if (optarg[0] == '\0')
                return btctl_usage_error(cmd, "--dir: empty directory");
            o->dir = optarg;
        } else if (c == OPT_PAUSED) {
            o->paused = true;
        } else if (c == OPT_PEER) {
            if (strchr(optarg, ':') == NULL)
                return btctl_usage_error(cmd, "--peer: '%s' is not HOST:PORT", optarg);
            json_array_append_new(o->peers, json_string(optarg));
        } else if (c == OPT_SKIP || c == OPT_ONLY) {
            r = btctl_file_list_option(cmd, c == OPT_SKIP ? "--skip" : "--only",
                                       c == OPT_SKIP ? &o->skip : &o->only, optarg);
            if (r >= 0)
                return r;
        } else {
            r = btctl_remote_option(ctl, cmd, c);
            if (r >= 0)
                return r;
        }
    }
    if (optind >= argc)
        return btctl_usage_error(cmd, "missing FILE.torrent, URL or MAGNET");
    if (optind + 1 < argc)
        return btctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    o->source = argv[optind];
    return -1;
}

/*
 * Parses the torrent here too, so that a file that is not one is reported
 * with its path rather than as btd's bare complaint. Returns the exit status.
 */
static int check_torrent(const char *path, const uint8_t *buf, size_t len)
{
    struct bt_metainfo *m = NULL;
    struct bt_error err = {{0}};
    int r;

    r = bt_metainfo_parse(&m, buf, len, &err);
    if (r < 0) {
        btctl_errorf("add: %s: not a valid torrent: %s", path, err.msg[0] ? err.msg : strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    bt_metainfo_free(m);
    return BTCTL_EXIT_OK;
}

/* Sets params.metainfo to the base64 of the file at path, or fetched from a URL. Returns the
 * exit status. */
static int set_metainfo(json_t *params, const char *path)
{
    char why[256] = "";
    uint8_t *buf;
    size_t len;
    size_t n;
    char *b64;
    int r;

    if (btctl_is_url(path))
        r = btctl_fetch(path, BT_METAINFO_MAX_SIZE, &buf, &len, why, sizeof(why));
    else
        r = btctl_read_file(path, BT_METAINFO_MAX_SIZE, &buf, &len);
    if (r == -EMSGSIZE) {
        btctl_errorf("add: %s: larger than the %zu MiB a torrent may be", path,
                     BT_METAINFO_MAX_SIZE >> 20);
        return BTCTL_EXIT_FAIL;
    }
    if (r < 0) {
        btctl_errorf("add: %s: %s", path, why[0] ? why : strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    r = check_torrent(path, buf, len);
    if (r != BTCTL_EXIT_OK) {
        free(buf);
        return r;
    }
    n = bt_base64_encoded_len(len);
    b64 = malloc(n);
    if (b64) {
        bt_base64_encode(b64, n, buf, len);
        r = json_object_set_new(params, "metainfo", json_string(b64));
    }
    free(b64);
    free(buf);
    if (!b64 || r < 0) {
        btctl_errorf("add: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    return BTCTL_EXIT_OK;
}

/*
 * A bare info-hash that is not also a file's name: 40 hex digits or 32
 * base32 characters (btd reads it as the magnet link naming it).
 */
static bool is_bare_hash(const char *s)
{
    return bt_magnet_is_bare_hash(s) && access(s, F_OK) != 0;
}

/* The params of torrent.add, in *ret_params (new). Returns the exit status. */
static int build_params(const struct add_opts *o, json_t **ret_params)
{
    json_t *params = json_object();
    char *dir;
    int r = BTCTL_EXIT_OK;

    if (!params) {
        btctl_errorf("add: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    if (strncmp(o->source, "magnet:", 7) == 0 || is_bare_hash(o->source))
        json_object_set_new(params, "magnet", json_string(o->source));
    else
        r = set_metainfo(params, o->source);
    if (r == BTCTL_EXIT_OK && o->dir) {
        dir = btctl_absolute_dir(o->dir);
        if (!dir) {
            btctl_errorf("add: --dir %s: %s", o->dir, strerror(errno));
            r = BTCTL_EXIT_FAIL;
        } else {
            json_object_set_new(params, "dir", json_string(dir));
            free(dir);
        }
    }
    if (r != BTCTL_EXIT_OK) {
        json_decref(params);
        return r;
    }
    if (o->paused)
        json_object_set_new(params, "paused", json_true());
    if (json_array_size(o->peers) > 0)
        json_object_set(params, "peers", o->peers);
    if (o->skip)
        json_object_set(params, "skip", o->skip);
    if (o->only)
        json_object_set(params, "only", o->only);
    *ret_params = params;
    return BTCTL_EXIT_OK;
}

static int show_added(const json_t *result)
{
    const char *hash = btctl_remote_str(result, "info_hash", NULL);

    if (!hash) {
        btctl_errorf("add: unexpected reply from btd");
        return BTCTL_EXIT_FAIL;
    }
    printf("%s\nadded ", hash);
    btctl_remote_print_torrent(stdout, result);
    putchar('\n');
    return BTCTL_EXIT_OK;
}

static int run_add(struct btctl *ctl, int argc, char **argv)
{
    struct add_opts o = {0};
    json_t *params = NULL;
    int r;

    if (bt_crypto_init() < 0) {
        btctl_errorf("add: cannot initialise libsodium");
        return BTCTL_EXIT_FAIL;
    }
    o.peers = json_array();
    if (!o.peers) {
        btctl_errorf("add: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    r = parse_args(ctl, &o, argc, argv);
    if (r < 0)
        r = build_params(&o, &params);
    json_decref(o.peers);
    json_decref(o.skip);
    json_decref(o.only);
    if (!params)
        return r;
    return btctl_remote_show(ctl, "torrent.add", params, show_added);
}

const struct btctl_command btctl_add_command = {
    .name = "add",
    .run = run_add,
    .usage = "FILE.torrent|URL|MAGNET [--dir DIR] [--paused] [--peer HOST:PORT]... [--skip LIST] "
             "[--only LIST] [--json]",
    .summary = "give a torrent to btd to download (prints its info-hash)",
    .help = add_help,
};
