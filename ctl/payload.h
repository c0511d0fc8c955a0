/*
 * payload: the files `btctl create` puts in a torrent. Main thread only;
 * once scanned, a payload is read-only and the hashing threads share it.
 *
 * A regular file gives a single-file payload. A directory is walked
 * recursively: regular files are kept (empty ones too), sorted bytewise by
 * their path below the directory, so the same tree always gives the same
 * torrent; empty directories leave no trace; symlinks and special files are
 * skipped with a warning on stderr (a symlink given as PATH itself is
 * followed). Limits are those btd's own parser accepts: BT_METAINFO_MAX_FILES
 * files, BT_METAINFO_MAX_PATH bytes of joined path, BT_METAINFO_MAX_TOTAL
 * bytes in all.
 */
#ifndef BTCTL_PAYLOAD_H
#define BTCTL_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct btctl_payload_file {
    char *rel;       /* owned; path below the directory, '/'-joined; the name if single */
    char *fs_path;   /* owned; the path to open */
    uint64_t length; /* bytes */
    uint64_t offset; /* bytes from the start of the payload */
};

struct btctl_payload {
    char *name;                       /* owned; basename of PATH: info.name */
    bool is_dir;                      /* a directory: info.files, else info.length */
    struct btctl_payload_file *files; /* owned; count entries in torrent order */
    size_t count;
    size_t cap;
    uint64_t total; /* bytes */
};

/*
 * Scans path into p (zeroed by the call). 0, or -errno with "PATH: reason"
 * in err; an empty payload (no bytes at all) is -ENODATA.
 */
int btctl_payload_scan(struct btctl_payload *p, const char *path, struct bt_error *err);
void btctl_payload_deinit(struct btctl_payload *p);

#endif
