#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metainfo.h"
#include "sha1.h"
#include "tap.h"
#include "testdata.h"

#define H20 "aaaaaaaaaaaaaaaaaaaa"
#define H40 H20 "bbbbbbbbbbbbbbbbbbbb"
#define H60 H40 "cccccccccccccccccccc"

/* A valid single-file info: 40000 bytes in 3 pieces of 16384. */
#define SINGLE_INFO "d6:lengthi40000e4:name8:file.bin12:piece lengthi16384e6:pieces60:" H60 "e"

static int parse_str(struct bt_metainfo **m, const char *s, struct bt_error *err)
{
    return bt_metainfo_parse(m, (const uint8_t *)s, strlen(s), err);
}

static void hex(char out[41], const uint8_t h[20])
{
    size_t i;

    for (i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Parses "prefix.N" keys; false if key is not one. */
static bool indexed(const char *key, const char *prefix, size_t *ret)
{
    size_t len = strlen(prefix);
    char *end;

    if (strncmp(key, prefix, len) != 0 || key[len] != '.' || key[len + 1] == '\0')
        return false;
    *ret = strtoul(key + len + 1, &end, 10);
    return *end == '\0';
}

static void join_tier(char *out, size_t size, const struct bt_tier *t)
{
    size_t i, pos = 0;

    out[0] = '\0';
    for (i = 0; i < t->count && pos < size; i++)
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s", i ? " " : "", t->urls[i]);
}

static size_t count_pads(const struct bt_metainfo *m)
{
    size_t i, n = 0;

    for (i = 0; i < m->file_count; i++)
        n += m->files[i].pad;
    return n;
}

static bool scalar_value(const struct bt_metainfo *m, const char *key, char *out, size_t size)
{
    const struct {
        const char *key;
        int64_t v;
    } nums[] = {
        {"piece_length", (int64_t)m->piece_length},
        {"piece_count", m->piece_count},
        {"file_count", (int64_t)m->file_count},
        {"total_length", (int64_t)m->total_length},
        {"tiers", (int64_t)m->tier_count},
        {"web_seeds", (int64_t)m->web_seed_count},
        {"creation_date", m->creation_date},
        {"private", m->is_private},
        {"multi_file", m->multi_file},
        {"pad_files", (int64_t)count_pads(m)},
    };
    const struct {
        const char *key;
        const char *v;
    } strs[] = {
        {"name", m->name},
        {"comment", m->comment},
        {"created_by", m->created_by},
    };
    size_t i;

    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcmp(key, nums[i].key) == 0) {
            snprintf(out, size, "%" PRId64, nums[i].v);
            return true;
        }
    }
    for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strcmp(key, strs[i].key) == 0) {
            snprintf(out, size, "%s", strs[i].v ? strs[i].v : "");
            return true;
        }
    }
    return false;
}

/* Writes the parsed value that an .expect key names into out; false for an unknown key. */
static bool actual_value(const struct bt_metainfo *m, const char *key, char *out, size_t size)
{
    size_t i;

    if (scalar_value(m, key, out, size))
        return true;
    if (strcmp(key, "info_hash") == 0 && size >= 41)
        hex(out, m->info_hash);
    else if (indexed(key, "path", &i) && i < m->file_count)
        snprintf(out, size, "%s", m->files[i].path);
    else if (indexed(key, "length", &i) && i < m->file_count)
        snprintf(out, size, "%" PRIu64, m->files[i].length);
    else if (indexed(key, "offset", &i) && i < m->file_count)
        snprintf(out, size, "%" PRIu64, m->files[i].offset);
    else if (indexed(key, "pad", &i) && i < m->file_count)
        snprintf(out, size, "%d", m->files[i].pad);
    else if (indexed(key, "tier", &i) && i < m->tier_count)
        join_tier(out, size, &m->tiers[i]);
    else if (indexed(key, "web_seed", &i) && i < m->web_seed_count)
        snprintf(out, size, "%s", m->web_seeds[i]);
    else
        return false;
    return true;
}

static void check_expect(const struct bt_metainfo *m, const char *expect)
{
    const char *line = expect;
    char key[64], actual[512];

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        const char *eq = strchr(line, '=');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        CHECK_MSG(eq && eq < line + len && (size_t)(eq - line) < sizeof(key),
                  "bad .expect line: %.*s", (int)len, line);
        if (eq && eq < line + len && (size_t)(eq - line) < sizeof(key)) {
            snprintf(key, sizeof(key), "%.*s", (int)(eq - line), line);
            CHECK_MSG(actual_value(m, key, actual, sizeof(actual)), "unknown key %s", key);
            len -= (size_t)(eq + 1 - line);
            CHECK_MSG(strlen(actual) == len && memcmp(actual, eq + 1, len) == 0,
                      "%s: expected \"%.*s\", got \"%s\"", key, (int)len, eq + 1, actual);
        }
        line = eol ? eol + 1 : NULL;
    }
}

/* Promises every accepted torrent keeps, whatever its .expect says. */
static void check_invariants(const struct bt_metainfo *m, const uint8_t *data, size_t len)
{
    struct bt_metainfo *again = NULL;
    uint8_t h[20];
    uint64_t off = 0;
    size_t i;

    for (i = 0; i < m->file_count; i++) {
        CHECK(m->files[i].offset == off);
        off += m->files[i].length;
    }
    CHECK(off == m->total_length);
    CHECK(m->piece_count > 0);
    CHECK((uint64_t)(m->piece_count - 1) * m->piece_length < m->total_length);
    CHECK((uint64_t)m->piece_count * m->piece_length >= m->total_length);
    bt_sha1(h, m->info_raw, m->info_len);
    CHECK(memcmp(h, m->info_hash, 20) == 0);
    CHECK(memmem(data, len, m->info_raw, m->info_len) != NULL);
    CHECK(bt_metainfo_parse_info(&again, m->info_raw, m->info_len, NULL) == 0);
    if (again) {
        CHECK(memcmp(again->info_hash, m->info_hash, 20) == 0);
        CHECK(again->tier_count == 0 && again->file_count == m->file_count);
    }
    bt_metainfo_free(again);
}

static void on_valid(const char *name, const uint8_t *data, size_t len, const char *expect)
{
    struct bt_metainfo *m = NULL;
    struct bt_error err = {""};
    int r = bt_metainfo_parse(&m, data, len, &err);

    CHECK_MSG(r == 0, "%s: %d %s", name, r, err.msg);
    if (r < 0)
        return;
    check_invariants(m, data, len);
    if (expect)
        check_expect(m, expect);
    bt_metainfo_free(m);
}

static void on_invalid(const char *name, const uint8_t *data, size_t len, const char *want)
{
    static struct bt_metainfo untouched;
    struct bt_metainfo *m = &untouched; /* ret_* is written only on success */
    struct bt_error err = {""};
    int r = bt_metainfo_parse(&m, data, len, &err);

    CHECK_MSG(r == -EBADMSG, "%s: returned %d", name, r);
    CHECK(m == &untouched);
    CHECK_MSG(want != NULL, "%s: no .err file", name);
    CHECK_MSG(want && strstr(err.msg, want), "%s: message \"%s\" lacks \"%s\"", name, err.msg,
              want ? want : "");
    CHECK(strchr(err.msg, '\n') == NULL);
    if (r == 0)
        bt_metainfo_free(m);
}

static void test_info_hash_is_over_raw_bytes_of_unsorted_info(void)
{
    const char *info = "d4:name1:x6:lengthi100e6:pieces20:" H20 "12:piece lengthi16384ee";
    char torrent[256];
    struct bt_metainfo *m = NULL;
    uint8_t want[20];

    snprintf(torrent, sizeof(torrent), "d8:announce4:http4:info%se", info);
    bt_sha1(want, info, strlen(info));
    CHECK(parse_str(&m, torrent, NULL) == 0);
    if (!m)
        return;
    CHECK(memcmp(m->info_hash, want, 20) == 0);
    CHECK(m->info_len == strlen(info) && memcmp(m->info_raw, info, m->info_len) == 0);
    bt_metainfo_free(m);
}

static void test_multi_file_offsets(void)
{
    const char *t = "d4:infod5:filesld6:lengthi1000e4:pathl1:aeed6:lengthi0e4:pathl1:bee"
                    "d6:lengthi20000e4:pathl3:dir1:ceee4:name3:top12:piece lengthi16384e"
                    "6:pieces40:" H40 "ee";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (!m)
        return;
    CHECK(m->multi_file && m->file_count == 3 && m->total_length == 21000);
    CHECK(strcmp(m->files[0].path, "top/a") == 0 && m->files[0].offset == 0);
    CHECK(strcmp(m->files[1].path, "top/b") == 0 && m->files[1].offset == 1000);
    CHECK(strcmp(m->files[2].path, "top/dir/c") == 0 && m->files[2].offset == 1000);
    CHECK(m->files[2].length == 20000 && m->piece_count == 2);
    CHECK(m->tier_count == 0 && m->web_seed_count == 0);
    bt_metainfo_free(m);
}

static void test_padding_files_recognised(void)
{
    /* Two pad files with the same path are fine: they are never written. */
    const char *t = "d4:infod5:filesld6:lengthi1000e4:pathl1:aee"
                    "d4:attr1:p6:lengthi15384e4:pathl4:.pad5:15384ee"
                    "d6:lengthi1000e4:pathl1:bee"
                    "d4:attr2:xp6:lengthi15384e4:pathl4:.pad5:15384ee"
                    "d4:attr1:x6:lengthi10e4:pathl1:ceee"
                    "4:name1:p12:piece lengthi16384e6:pieces60:" H60 "ee";
    struct bt_metainfo *m = NULL;
    struct bt_error err = {""};

    CHECK_MSG(parse_str(&m, t, &err) == 0, "%s", err.msg);
    if (!m)
        return;
    CHECK(m->file_count == 5);
    CHECK(!m->files[0].pad && m->files[1].pad && !m->files[2].pad && m->files[3].pad);
    CHECK(!m->files[4].pad);
    CHECK(strcmp(m->files[1].path, "p/.pad/15384") == 0);
    CHECK(m->files[2].offset == 16384 && m->files[4].offset == 32768);
    bt_metainfo_free(m);
}

static void test_announce_list_tiers_win_over_announce(void)
{
    const char *t = "d8:announce8:http://a13:announce-listll8:http://b0:8:http://cel"
                    "el8:http://dee4:info" SINGLE_INFO "e";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (!m)
        return;
    CHECK(m->tier_count == 2);
    CHECK(m->tiers[0].count == 2 && strcmp(m->tiers[0].urls[0], "http://b") == 0);
    CHECK(strcmp(m->tiers[0].urls[1], "http://c") == 0);
    CHECK(m->tiers[1].count == 1 && strcmp(m->tiers[1].urls[0], "http://d") == 0);
    bt_metainfo_free(m);
}

static void test_announce_is_one_tier_when_list_is_empty(void)
{
    const char *t = "d8:announce8:http://a13:announce-listllel0:ee4:info" SINGLE_INFO "e";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (!m)
        return;
    CHECK(m->tier_count == 1 && m->tiers[0].count == 1);
    CHECK(strcmp(m->tiers[0].urls[0], "http://a") == 0);
    bt_metainfo_free(m);
}

static void test_url_list_single_string(void)
{
    const char *t = "d4:info" SINGLE_INFO "8:url-list13:http://seed/fe";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (!m)
        return;
    CHECK(m->web_seed_count == 1 && strcmp(m->web_seeds[0], "http://seed/f") == 0);
    bt_metainfo_free(m);
}

static void test_last_piece_size(void)
{
    const char *exact = "d4:infod6:lengthi32768e4:name1:x12:piece lengthi16384e"
                        "6:pieces40:" H40 "ee";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, "d4:info" SINGLE_INFO "e", NULL) == 0);
    if (m) {
        CHECK(m->piece_count == 3);
        CHECK(bt_metainfo_piece_size(m, 0) == 16384 && bt_metainfo_piece_size(m, 1) == 16384);
        CHECK(bt_metainfo_piece_size(m, 2) == 40000 - 32768);
        CHECK(bt_metainfo_piece_size(m, 3) == 0);
    }
    bt_metainfo_free(m);
    m = NULL;
    CHECK(parse_str(&m, exact, NULL) == 0);
    if (m) {
        CHECK(m->piece_count == 2 && bt_metainfo_piece_size(m, 1) == 16384);
        CHECK(bt_metainfo_piece_size(m, UINT32_MAX) == 0);
    }
    bt_metainfo_free(m);
}

static void test_parse_info_bare_dict(void)
{
    const char *info = SINGLE_INFO;
    struct bt_metainfo *m = NULL;
    struct bt_error err = {""};
    uint8_t want[20];

    bt_sha1(want, info, strlen(info));
    CHECK(bt_metainfo_parse_info(&m, (const uint8_t *)info, strlen(info), NULL) == 0);
    if (m) {
        CHECK(memcmp(m->info_hash, want, 20) == 0);
        CHECK(strcmp(m->name, "file.bin") == 0 && m->tier_count == 0);
        CHECK(m->info_len == strlen(info) && memcmp(m->info_raw, info, m->info_len) == 0);
    }
    bt_metainfo_free(m);
    m = NULL;
    info = "d6:lengthi40000e4:name2:..12:piece lengthi16384e6:pieces60:" H60 "e";
    CHECK(bt_metainfo_parse_info(&m, (const uint8_t *)info, strlen(info), &err) == -EBADMSG);
    CHECK(m == NULL && strcmp(err.msg, "info.name: \"..\" is not allowed") == 0);
    CHECK(bt_metainfo_parse_info(&m, (const uint8_t *)"le", 2, &err) == -EBADMSG);
    CHECK(strcmp(err.msg, "info: not a dictionary") == 0);
}

static void test_rejects_oversized_input_before_parsing(void)
{
    size_t len = BT_METAINFO_MAX_SIZE + 1;
    uint8_t *big = calloc(1, len);
    struct bt_metainfo *m = NULL;
    struct bt_error err = {""};

    CHECK(big != NULL);
    if (!big)
        return;
    CHECK(bt_metainfo_parse(&m, big, len, &err) == -EMSGSIZE && m == NULL);
    CHECK(strstr(err.msg, "above the maximum") != NULL);
    CHECK(bt_metainfo_parse_info(&m, big, len, NULL) == -EMSGSIZE && m == NULL);
    free(big);
}

static void test_free_null_is_a_no_op(void)
{
    bt_metainfo_free(NULL);
    CHECK(true);
}

static void test_keeps_extras_and_ignores_wrong_types(void)
{
    const char *t = "d7:comment2:hi10:created by3:me213:creation datei1700000000e"
                    "4:info" SINGLE_INFO "e";
    const char *bad = "d7:commenti1e10:created byle13:creation date3:now4:info" SINGLE_INFO "e";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (m) {
        CHECK(strcmp(m->comment, "hi") == 0 && strcmp(m->created_by, "me2") == 0);
        CHECK(m->creation_date == 1700000000 && !m->is_private && !m->multi_file);
    }
    bt_metainfo_free(m);
    m = NULL;
    CHECK(parse_str(&m, bad, NULL) == 0);
    if (m)
        CHECK(!m->comment && !m->created_by && m->creation_date == 0);
    bt_metainfo_free(m);
}

static void test_accepts_non_utf8_names(void)
{
    const char *t = "d4:infod6:lengthi40000e4:name4:\xff\xfe\x80x12:piece lengthi16384e"
                    "6:pieces60:" H60 "ee";
    struct bt_metainfo *m = NULL;

    CHECK(parse_str(&m, t, NULL) == 0);
    if (m)
        CHECK(strcmp(m->name, "\xff\xfe\x80x") == 0 && strcmp(m->files[0].path, m->name) == 0);
    bt_metainfo_free(m);
}

static void test_conflict_message_stays_one_line(void)
{
    const char *t = "d4:infod5:filesld6:lengthi1e4:pathl3:a\nbeed6:lengthi1e4:pathl3:a\nbeee"
                    "4:name1:d12:piece lengthi16384e6:pieces20:" H20 "ee";
    const char *want = "info.files[1].path: \"d/a?b\" is also the path of info.files[0]";
    struct bt_metainfo *m = NULL;
    struct bt_error err = {""};

    CHECK(parse_str(&m, t, &err) == -EBADMSG && m == NULL);
    CHECK_MSG(strcmp(err.msg, want) == 0, "%s", err.msg);
}

static void test_every_truncation_is_refused(void)
{
    const char *t = "d8:announce8:http://a13:announce-listll8:http://bee4:infod5:filesld6:length"
                    "i1000e4:pathl1:aeed4:attr1:p6:lengthi15384e4:pathl4:.pad1:1eed6:lengthi9e"
                    "4:pathl1:beee4:name1:p12:piece lengthi16384e6:pieces40:" H40 "e"
                    "8:url-listl3:x:yee";
    struct bt_metainfo *m = NULL;
    size_t len = strlen(t), i;
    int failures = 0;

    CHECK(bt_metainfo_parse(&m, (const uint8_t *)t, len, NULL) == 0);
    bt_metainfo_free(m);
    for (i = 0; i < len; i++) {
        uint8_t *copy = malloc(i + 1); /* exact size, so ASan sees any overread */

        m = NULL;
        memcpy(copy, t, i);
        failures += bt_metainfo_parse(&m, copy, i, NULL) < 0 && m == NULL;
        free(copy);
    }
    CHECK(failures == (int)len);
}

int main(void)
{
    testdata_run("metainfo", ".torrent", on_valid, on_invalid);
    TAP_RUN(test_info_hash_is_over_raw_bytes_of_unsorted_info);
    TAP_RUN(test_multi_file_offsets);
    TAP_RUN(test_padding_files_recognised);
    TAP_RUN(test_announce_list_tiers_win_over_announce);
    TAP_RUN(test_announce_is_one_tier_when_list_is_empty);
    TAP_RUN(test_url_list_single_string);
    TAP_RUN(test_last_piece_size);
    TAP_RUN(test_parse_info_bare_dict);
    TAP_RUN(test_rejects_oversized_input_before_parsing);
    TAP_RUN(test_free_null_is_a_no_op);
    TAP_RUN(test_keeps_extras_and_ignores_wrong_types);
    TAP_RUN(test_accepts_non_utf8_names);
    TAP_RUN(test_conflict_message_stays_one_line);
    TAP_RUN(test_every_truncation_is_refused);
    return tap_done();
}
