/*
 * layout: what the storage tests share. A multi-file torrent's metainfo
 * over a table of files (offsets filled in, 1 KiB pieces), patterned data,
 * and the size of a file on disk. Header-only, like tmpdir.h.
 */
#ifndef BT_TEST_LAYOUT_H
#define BT_TEST_LAYOUT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "metainfo.h"

__attribute__((unused)) static struct bt_metainfo layout(struct bt_file *files, size_t n)
{
    struct bt_metainfo m;
    uint64_t off = 0;
    size_t i;

    memset(&m, 0, sizeof(m));
    for (i = 0; i < n; i++) {
        files[i].offset = off;
        off += files[i].length;
    }
    m.files = files;
    m.file_count = n;
    m.total_length = off;
    m.piece_length = 1024;
    m.piece_count = (uint32_t)((off + 1023) / 1024);
    m.multi_file = true;
    return m;
}

__attribute__((unused)) static void fill(uint8_t *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
}

/* The size of root/rel, or -1 if it does not exist (lstat: links not followed). */
__attribute__((unused)) static long long file_size(const char *root, const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return lstat(path, &st) < 0 ? -1 : (long long)st.st_size;
}

#endif
