/*
 * create: `btctl create PATH -o OUT.torrent`, a v1 torrent from a file or a
 * directory. Works without the daemon.
 *
 * The payload is scanned (payload.c), hashed on every core (hasher.c) and
 * written as canonical bencode (sorted keys) through a temporary file and a
 * rename. Trackers: each --tracker is one tier, URLs joined by ',' share
 * it; a single URL gives `announce` alone, like mktorrent.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bencode.h"
#include "btd-version.h"
#include "codec.h"
#include "ctl.h"
#include "hasher.h"
#include "metainfo.h"
#include "payload.h"
#include "sha1.h"

#define MIN_PIECE_LENGTH ((uint64_t)16 << 10) /* bytes */
#define MAX_PIECE_LENGTH ((uint64_t)16 << 20) /* bytes */
#define TARGET_PIECES 2000
#define PROGRESS_MIN_SIZE ((uint64_t)64 << 20) /* bytes: smaller payloads hash silently */

struct create_opts {
    const char *path;
    const char *out;
    char **urls;      /* owned; every tracker URL, in order */
    size_t *url_tier; /* owned; the tier (0-based) of each URL */
    size_t url_count;
    size_t tier_count;
    const char **seeds; /* owned array of borrowed argv strings */
    size_t seed_count;
    uint64_t piece_length; /* bytes; 0: choose from the size */
    const char *comment;
    const char *created_by;
    bool is_private;
    bool no_date;
    bool force;
};

static void opts_deinit(struct create_opts *o)
{
    for (size_t i = 0; i < o->url_count; i++)
        free(o->urls[i]);
    free(o->urls);
    free(o->url_tier);
    free(o->seeds);
}

/* Adds the ','-separated URLs of one --tracker as a new tier. 0, -EINVAL or -ENOMEM. */
static int add_tier(struct create_opts *o, const char *arg)
{
    const char *s = arg;

    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char **urls;
        size_t *tiers;

        if (len == 0)
            return -EINVAL;
        urls = realloc(o->urls, (o->url_count + 1) * sizeof(*urls));
        if (!urls)
            return -ENOMEM;
        o->urls = urls;
        tiers = realloc(o->url_tier, (o->url_count + 1) * sizeof(*tiers));
        if (!tiers)
            return -ENOMEM;
        o->url_tier = tiers;
        o->urls[o->url_count] = strndup(s, len);
        if (!o->urls[o->url_count])
            return -ENOMEM;
        o->url_tier[o->url_count] = o->tier_count;
        o->url_count++;
        if (!comma)
            break;
        s = comma + 1;
    }
    o->tier_count++;
    return 0;
}

/* "262144", "256K", "1M": bytes, a power of two in [16 KiB, 16 MiB]. */
static int parse_piece_length(const char *s, uint64_t *ret)
{
    uint64_t v;

    if (btctl_parse_size(s, &v) < 0 || v < MIN_PIECE_LENGTH || v > MAX_PIECE_LENGTH ||
        (v & (v - 1)) != 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The smallest power of two in [16 KiB, 16 MiB] giving at most TARGET_PIECES pieces. */
static uint64_t default_piece_length(uint64_t total)
{
    uint64_t pl = MIN_PIECE_LENGTH;

    while (pl < MAX_PIECE_LENGTH && (total + pl - 1) / pl > TARGET_PIECES)
        pl <<= 1;
    return pl;
}

static const char create_help[] =
    "  -o, --output FILE      where to write the torrent (required)\n"
    "  -t, --tracker URL[,URL...]\n"
    "                         an announce URL; each --tracker is a new tier,\n"
    "                         URLs separated by ',' share one tier\n"
    "      --piece-length N   bytes, a power of two from 16K to 16M (K/M suffix);\n"
    "                         default: the smallest giving at most 2000 pieces\n"
    "  -p, --private          set the private flag (BEP 27)\n"
    "  -c, --comment TEXT     a comment\n"
    "  -w, --web-seed URL     a web seed (BEP 19); repeatable\n"
    "      --created-by TEXT  default \"btd/" BTD_VERSION "\"; \"\" leaves it out\n"
    "      --no-date          leave out the creation date\n"
    "  -f, --force            replace OUT if it exists\n"
    "  -h, --help             show this help\n"
    "\n"
    "A directory is walked recursively; files go in bytewise order of their\n"
    "path, empty directories are ignored, symlinks and special files inside\n"
    "it are skipped with a warning. Hashing uses every CPU; a progress bar is\n"
    "drawn on a terminal for payloads over 64 MiB. Prints the info-hash on\n"
    "the first line, then the path written.\n";

enum {
    OPT_PIECE_LENGTH = 0x100,
    OPT_CREATED_BY,
    OPT_NO_DATE,
    OPT_JSON,
};

static const struct option create_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"tracker", required_argument, NULL, 't'},
    {"piece-length", required_argument, NULL, OPT_PIECE_LENGTH},
    {"private", no_argument, NULL, 'p'},
    {"comment", required_argument, NULL, 'c'},
    {"web-seed", required_argument, NULL, 'w'},
    {"created-by", required_argument, NULL, OPT_CREATED_BY},
    {"no-date", no_argument, NULL, OPT_NO_DATE},
    {"force", no_argument, NULL, 'f'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option; returns -1 to go on, else an exit status. */
static int apply_option(struct btctl *ctl, struct create_opts *o, int c)
{
    const struct btctl_command *cmd = &btctl_create_command;

    int r;

    switch (c) {
    case 'o':
        o->out = optarg;
        break;
    case 't':
        r = add_tier(o, optarg);
        if (r == -ENOMEM) {
            btctl_errorf("create: %s", strerror(ENOMEM));
            return BTCTL_EXIT_FAIL;
        }
        if (r < 0)
            return btctl_usage_error(cmd, "--tracker: empty URL in '%s'", optarg);
        break;
    case OPT_PIECE_LENGTH:
        if (parse_piece_length(optarg, &o->piece_length) < 0)
            return btctl_usage_error(cmd, "--piece-length: %s: not a power of two 16K..16M",
                                     optarg);
        break;
    case 'p':
        o->is_private = true;
        break;
    case 'c':
        o->comment = optarg;
        break;
    case 'w':
        o->seeds[o->seed_count++] = optarg;
        break;
    case OPT_CREATED_BY:
        o->created_by = optarg;
        break;
    case OPT_NO_DATE:
        o->no_date = true;
        break;
    case 'f':
        o->force = true;
        break;
    case OPT_JSON:
        ctl->json = true;
        break;
    case 'h':
        return btctl_help(cmd);
    default:
        return btctl_usage_error(cmd, NULL);
    }
    return -1;
}

/* Returns -1 when the options are good, else an exit status. */
static int parse_args(struct btctl *ctl, struct create_opts *o, int argc, char **argv)
{
    const struct btctl_command *cmd = &btctl_create_command;
    int c;
    int r;

    o->created_by = "btd/" BTD_VERSION;
    o->seeds = calloc((size_t)argc, sizeof(*o->seeds));
    if (!o->seeds) {
        btctl_errorf("create: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    for (;;) {
        c = getopt_long(argc, argv, "o:t:pc:w:fh", create_options, NULL);
        if (c == -1)
            break;
        r = apply_option(ctl, o, c);
        if (r >= 0)
            return r;
    }
    if (optind >= argc)
        return btctl_usage_error(cmd, "missing PATH");
    if (optind + 1 < argc)
        return btctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (!o->out)
        return btctl_usage_error(cmd, "missing -o OUT.torrent");
    o->path = argv[optind];
    return -1;
}

/* info: files or length, name, piece length, pieces, private. Keys in sorted order. */
static void encode_info(struct bt_benc *e, const struct btctl_payload *p, uint64_t piece_length,
                        const uint8_t *pieces, size_t pieces_len, bool is_private)
{
    bt_benc_dict(e);
    if (p->is_dir) {
        bt_benc_key(e, "files");
        bt_benc_list(e);
        for (size_t i = 0; i < p->count; i++) {
            const char *s = p->files[i].rel;

            bt_benc_dict(e);
            bt_benc_key(e, "length");
            bt_benc_int(e, (int64_t)p->files[i].length);
            bt_benc_key(e, "path");
            bt_benc_list(e);
            for (;;) {
                const char *slash = strchr(s, '/');

                bt_benc_str(e, s, slash ? (size_t)(slash - s) : strlen(s));
                if (!slash)
                    break;
                s = slash + 1;
            }
            bt_benc_end(e);
            bt_benc_end(e);
        }
        bt_benc_end(e);
    } else {
        bt_benc_key(e, "length");
        bt_benc_int(e, (int64_t)p->total);
    }
    bt_benc_key(e, "name");
    bt_benc_cstr(e, p->name);
    bt_benc_key(e, "piece length");
    bt_benc_int(e, (int64_t)piece_length);
    bt_benc_key(e, "pieces");
    bt_benc_str(e, pieces, pieces_len);
    if (is_private) {
        bt_benc_key(e, "private");
        bt_benc_int(e, 1);
    }
    bt_benc_end(e);
}

/* The whole torrent around the encoded info. Keys in sorted order. */
static void encode_torrent(struct bt_benc *e, const struct create_opts *o,
                           const struct bt_buf *info)
{
    bt_benc_dict(e);
    if (o->url_count > 0) {
        bt_benc_key(e, "announce");
        bt_benc_cstr(e, o->urls[0]);
    }
    if (o->url_count > 1) {
        bt_benc_key(e, "announce-list");
        bt_benc_list(e);
        for (size_t t = 0; t < o->tier_count; t++) {
            bt_benc_list(e);
            for (size_t i = 0; i < o->url_count; i++) {
                if (o->url_tier[i] == t)
                    bt_benc_cstr(e, o->urls[i]);
            }
            bt_benc_end(e);
        }
        bt_benc_end(e);
    }
    if (o->comment && *o->comment) {
        bt_benc_key(e, "comment");
        bt_benc_cstr(e, o->comment);
    }
    if (o->created_by && *o->created_by) {
        bt_benc_key(e, "created by");
        bt_benc_cstr(e, o->created_by);
    }
    if (!o->no_date) {
        bt_benc_key(e, "creation date");
        bt_benc_int(e, (int64_t)time(NULL));
    }
    bt_benc_key(e, "info");
    bt_benc_raw(e, info->data, info->len);
    if (o->seed_count > 0) {
        bt_benc_key(e, "url-list");
        bt_benc_list(e);
        for (size_t i = 0; i < o->seed_count; i++)
            bt_benc_cstr(e, o->seeds[i]);
        bt_benc_end(e);
    }
    bt_benc_end(e);
}

/* What a finished torrent is, for the output. */
struct made {
    uint8_t info_hash[BT_SHA1_LEN];
    uint64_t piece_length; /* bytes */
    size_t piece_count;
};

/* Encodes info and the torrent into out. 0 or -errno. */
static int encode(const struct create_opts *o, const struct btctl_payload *p, const uint8_t *pieces,
                  struct made *m, struct bt_buf *out)
{
    struct bt_buf info;
    struct bt_benc e;
    int r;

    bt_buf_init(&info, 0);
    bt_benc_init(&e, &info);
    encode_info(&e, p, m->piece_length, pieces, m->piece_count * BT_SHA1_LEN, o->is_private);
    r = bt_benc_finish(&e);
    if (r == 0) {
        bt_sha1(m->info_hash, info.data, info.len);
        bt_benc_init(&e, out);
        encode_torrent(&e, o, &info);
        r = bt_benc_finish(&e);
    }
    bt_buf_deinit(&info);
    return r;
}

static int print_result(const struct btctl *ctl, const struct create_opts *o,
                        const struct btctl_payload *p, const struct made *m)
{
    char hex[2 * BT_SHA1_LEN + 1];
    json_t *obj;
    char *s;

    bt_hex_encode(hex, m->info_hash, BT_SHA1_LEN);
    if (!ctl->json) {
        printf("%s\n%s\n", hex, o->out);
        return BTCTL_EXIT_OK;
    }
    obj = json_object();
    json_object_set_new(obj, "info_hash", json_string(hex));
    json_object_set_new(obj, "path", json_string(o->out));
    json_object_set_new(obj, "name", json_string(p->name));
    json_object_set_new(obj, "total_size", json_integer((json_int_t)p->total));
    json_object_set_new(obj, "piece_length", json_integer((json_int_t)m->piece_length));
    json_object_set_new(obj, "piece_count", json_integer((json_int_t)m->piece_count));
    json_object_set_new(obj, "file_count", json_integer((json_int_t)p->count));
    s = json_dumps(obj, JSON_INDENT(2));
    json_decref(obj);
    if (!s) {
        btctl_errorf("create: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    printf("%s\n", s);
    free(s);
    return BTCTL_EXIT_OK;
}

/* Hashes, encodes and writes. Returns the exit status. */
static int make_torrent(const struct btctl *ctl, const struct create_opts *o,
                        const struct btctl_payload *p)
{
    struct made m = {.piece_length = o->piece_length};
    bool progress;
    struct bt_error err = {{0}};
    struct bt_buf out;
    uint8_t *pieces;
    int r;

    if (m.piece_length == 0)
        m.piece_length = default_piece_length(p->total);
    m.piece_count = (size_t)((p->total + m.piece_length - 1) / m.piece_length);
    if (m.piece_count > BT_METAINFO_MAX_SIZE / BT_SHA1_LEN) {
        btctl_errorf("create: %s: %zu pieces is too many; choose a larger --piece-length", o->path,
                     m.piece_count);
        return BTCTL_EXIT_FAIL;
    }
    pieces = malloc(m.piece_count * BT_SHA1_LEN);
    if (!pieces) {
        btctl_errorf("create: %s", strerror(ENOMEM));
        return BTCTL_EXIT_FAIL;
    }
    progress = p->total > PROGRESS_MIN_SIZE && isatty(STDERR_FILENO);
    r = btctl_hash_pieces(p, m.piece_length, pieces, progress, &err);
    if (r < 0) {
        free(pieces);
        btctl_errorf("create: %s", err.msg);
        return BTCTL_EXIT_FAIL;
    }
    bt_buf_init(&out, BT_METAINFO_MAX_SIZE);
    r = encode(o, p, pieces, &m, &out);
    free(pieces);
    if (r == 0)
        r = btctl_write_file_atomic(o->out, out.data, out.len, o->force);
    bt_buf_deinit(&out);
    if (r == -EEXIST) {
        btctl_errorf("create: %s: %s (use --force to replace it)", o->out, strerror(EEXIST));
        return BTCTL_EXIT_FAIL;
    }
    if (r < 0) {
        btctl_errorf("create: %s: %s", o->out, strerror(-r));
        return BTCTL_EXIT_FAIL;
    }
    return print_result(ctl, o, p, &m);
}

static int run_create(struct btctl *ctl, int argc, char **argv)
{
    struct create_opts o = {0};
    struct btctl_payload p;
    struct bt_error err = {{0}};
    struct stat st;
    int status;

    status = parse_args(ctl, &o, argc, argv);
    if (status >= 0)
        goto out;
    if (!o.force && lstat(o.out, &st) == 0) {
        btctl_errorf("create: %s: %s (use --force to replace it)", o.out, strerror(EEXIST));
        status = BTCTL_EXIT_FAIL;
        goto out;
    }
    if (btctl_payload_scan(&p, o.path, &err) < 0) {
        btctl_errorf("create: %s", err.msg);
        status = BTCTL_EXIT_FAIL;
        goto out;
    }
    status = make_torrent(ctl, &o, &p);
    btctl_payload_deinit(&p);
out:
    opts_deinit(&o);
    return status;
}

const struct btctl_command btctl_create_command = {
    .name = "create",
    .run = run_create,
    .usage = "PATH -o OUT.torrent [--tracker URL[,URL...]]... [--piece-length N] [--private]\n"
             "       [--comment TEXT] [--web-seed URL]... [--created-by TEXT] [--no-date]"
             " [--force]",
    .summary = "make a .torrent from a file or a directory",
    .help = create_help,
};
