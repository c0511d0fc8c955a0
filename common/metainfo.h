/*
 * metainfo: a .torrent file (BEP 3, v1) turned into a struct. Pure; any thread.
 *
 * Understands single- and multi-file torrents, announce + announce-list
 * tiers (BEP 12), url-list web seeds (BEP 19), private (BEP 27) and BEP 47
 * padding files (attr containing 'p'). A torrent that is invalid or whose
 * paths could land outside the download directory is refused with one line
 * naming the field; it is never silently rewritten.
 *
 * The struct owns every pointer in it. Paths are relative to the download
 * directory, components joined with '/': "name" for a single-file torrent,
 * "name/dir/file" for a multi-file one. Every component is non-empty, not
 * "." or "..", and has no '/', '\\' or NUL, so joining is lossless. No two
 * files other than padding files share a path, and no file's path is a
 * directory of another's. Names need not be UTF-8. The payload is never empty
 * (total_length > 0, piece_count > 0).
 */
#ifndef BT_METAINFO_H
#define BT_METAINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BT_METAINFO_MAX_FILES 100000
#define BT_METAINFO_MAX_PIECE_LENGTH ((uint64_t)1 << 28) /* bytes, 256 MiB */
#define BT_METAINFO_MIN_PIECE_LENGTH 1024                /* bytes */
#define BT_METAINFO_MAX_SIZE ((size_t)64 << 20)          /* bytes of .torrent accepted */
#define BT_METAINFO_MAX_PATH 4096                        /* bytes of one joined path */
#define BT_METAINFO_MAX_TOTAL ((uint64_t)1 << 50)        /* bytes of payload, 1 PiB */

struct bt_file {
    char *path;      /* owned; relative to the download dir, see above */
    uint64_t length; /* bytes */
    uint64_t offset; /* bytes from the start of the torrent's data */
    bool pad;        /* BEP 47 padding file: never written, never read */
};

struct bt_tier {
    char **urls; /* owned, in file order */
    size_t count;
};

struct bt_metainfo {
    uint8_t info_hash[20]; /* SHA-1 of the exact bytes of `info` */
    char *name;            /* owned; info.name */
    uint64_t piece_length; /* bytes */
    uint32_t piece_count;
    uint8_t *pieces;       /* owned; piece_count * 20 bytes of SHA-1 */
    uint64_t total_length; /* bytes, padding files included */
    struct bt_file *files; /* owned; file_count entries, in info order */
    size_t file_count;
    bool multi_file;       /* info.files was present */
    bool is_private;       /* info.private == 1 */
    struct bt_tier *tiers; /* owned; announce-list, or announce as one tier */
    size_t tier_count;
    char **web_seeds; /* owned; url-list */
    size_t web_seed_count;
    char *comment;         /* owned or NULL */
    char *created_by;      /* owned or NULL */
    int64_t creation_date; /* seconds since the epoch, 0 if absent */
    uint8_t *info_raw;     /* owned; the exact bytes of `info` (BEP 9 serves them) */
    size_t info_len;
};

/* Parses a whole .torrent file. 0, or -EBADMSG/-EMSGSIZE/-ENOMEM with err. */
int bt_metainfo_parse(struct bt_metainfo **ret, const uint8_t *buf, size_t len,
                      struct bt_error *err);
/*
 * Parses a bare info dictionary (metadata fetched by BEP 9): no trackers,
 * and the info-hash is computed from buf itself.
 */
int bt_metainfo_parse_info(struct bt_metainfo **ret, const uint8_t *buf, size_t len,
                           struct bt_error *err);
void bt_metainfo_free(struct bt_metainfo *m);

/* Bytes in piece i (the last one may be short). i < piece_count. */
uint64_t bt_metainfo_piece_size(const struct bt_metainfo *m, uint32_t i);

#endif
