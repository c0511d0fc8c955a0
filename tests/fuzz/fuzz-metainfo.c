/*
 * fuzz-metainfo: libFuzzer target for the .torrent parser.
 *
 * Feeds the input to bt_metainfo_parse (a whole file) and to
 * bt_metainfo_parse_info (a bare info dictionary, as BEP 9 delivers it).
 * When either accepts, the promises of metainfo.h are checked: every path
 * stays inside the download directory, file offsets add up, the pieces
 * cover the payload exactly. A broken promise aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "metainfo.h"
#include "sha1.h"

/* A relative path of non-empty components, none "." or "..". */
static void check_path(const char *path)
{
    const char *p = path, *slash;

    FUZZ_ASSERT(path && *path && *path != '/');
    FUZZ_ASSERT(strlen(path) <= BT_METAINFO_MAX_PATH);
    for (;;) {
        size_t len;

        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        FUZZ_ASSERT(len > 0);
        FUZZ_ASSERT(!(len == 1 && p[0] == '.'));
        FUZZ_ASSERT(!(len == 2 && p[0] == '.' && p[1] == '.'));
        if (!slash)
            break;
        p = slash + 1;
    }
}

static void check(const struct bt_metainfo *m)
{
    uint8_t hash[BT_SHA1_LEN];
    uint64_t offset = 0;

    FUZZ_ASSERT(m->name && *m->name);
    FUZZ_ASSERT(m->piece_length >= BT_METAINFO_MIN_PIECE_LENGTH);
    FUZZ_ASSERT(m->piece_length <= BT_METAINFO_MAX_PIECE_LENGTH);
    FUZZ_ASSERT(m->file_count > 0 && m->file_count <= BT_METAINFO_MAX_FILES);
    FUZZ_ASSERT(m->total_length <= BT_METAINFO_MAX_TOTAL);
    FUZZ_ASSERT(m->info_raw && m->info_len > 0);
    for (size_t i = 0; i < m->file_count; i++) {
        check_path(m->files[i].path);
        FUZZ_ASSERT(m->files[i].offset == offset);
        offset += m->files[i].length;
    }
    FUZZ_ASSERT(offset == m->total_length);
    if (m->piece_count > 0) {
        uint32_t last = m->piece_count - 1;
        uint64_t tail = bt_metainfo_piece_size(m, last);

        FUZZ_ASSERT(m->pieces);
        FUZZ_ASSERT(tail > 0 && tail <= m->piece_length);
        FUZZ_ASSERT((uint64_t)last * m->piece_length + tail == m->total_length);
        FUZZ_ASSERT(bt_metainfo_piece_size(m, 0) == (last ? m->piece_length : tail));
    } else {
        FUZZ_ASSERT(m->total_length == 0);
    }
    bt_sha1(hash, m->info_raw, m->info_len);
    FUZZ_ASSERT(memcmp(hash, m->info_hash, sizeof(hash)) == 0);
    for (size_t i = 0; i < m->tier_count; i++) {
        for (size_t j = 0; j < m->tiers[i].count; j++)
            FUZZ_ASSERT(m->tiers[i].urls[j] != NULL);
    }
    for (size_t i = 0; i < m->web_seed_count; i++)
        FUZZ_ASSERT(m->web_seeds[i] != NULL);
}

static void check_refusal(int r, const struct bt_metainfo *m, const struct bt_error *err)
{
    FUZZ_ASSERT(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
    FUZZ_ASSERT(m == NULL);
    FUZZ_ASSERT(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    FUZZ_ASSERT(r == -ENOMEM || err->msg[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_metainfo *m = NULL;
    struct bt_error err = {{0}};
    int r;

    r = bt_metainfo_parse(&m, data, size, &err);
    if (r == 0) {
        check(m);
        bt_metainfo_free(m);
    } else {
        check_refusal(r, m, &err);
    }

    m = NULL;
    memset(&err, 0, sizeof(err));
    r = bt_metainfo_parse_info(&m, data, size, &err);
    if (r == 0) {
        check(m);
        FUZZ_ASSERT(m->tier_count == 0);
        FUZZ_ASSERT(m->info_len == size && memcmp(m->info_raw, data, size) == 0);
        bt_metainfo_free(m);
    } else {
        check_refusal(r, m, &err);
    }
    return 0;
}
