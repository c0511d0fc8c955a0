#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "testdata.h"
#include "wire.h"

static const uint8_t info_hash[20] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,
                                      10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
static const uint8_t peer_id[21] = "-BT0001-abcdefghijkl";

static int parse_bytes(const void *p, size_t len, const struct bt_wire_limits *lim,
                       struct bt_wire_msg *m)
{
    return bt_wire_parse(p, len, lim, m);
}

/* One line describing a message, as in the corpus' .expect files. */
static void describe(const struct bt_wire_msg *m, char *out, size_t n)
{
    const char *name = bt_wire_type_name(m->type);

    switch (m->type) {
    case BT_WIRE_HAVE:
    case BT_WIRE_SUGGEST:
    case BT_WIRE_ALLOWED_FAST:
        snprintf(out, n, "%s index=%u", name, m->index);
        break;
    case BT_WIRE_REQUEST:
    case BT_WIRE_CANCEL:
    case BT_WIRE_REJECT:
        snprintf(out, n, "%s index=%u begin=%u length=%u", name, m->index, m->begin, m->length);
        break;
    case BT_WIRE_PIECE:
        snprintf(out, n, "%s index=%u begin=%u len=%zu", name, m->index, m->begin, m->data_len);
        break;
    case BT_WIRE_PORT:
        snprintf(out, n, "%s port=%u", name, m->port);
        break;
    case BT_WIRE_BITFIELD:
        snprintf(out, n, "%s len=%zu", name, m->data_len);
        break;
    case BT_WIRE_EXTENDED:
        snprintf(out, n, "%s ext=%u len=%zu", name, m->ext_id, m->data_len);
        break;
    case BT_WIRE_UNKNOWN:
        snprintf(out, n, "%s id=%u len=%zu", name, m->id, m->data_len);
        break;
    default:
        snprintf(out, n, "%s", name);
        break;
    }
}

static void describe_handshake(const struct bt_wire_handshake *hs, char *out, size_t n)
{
    unsigned f = bt_wire_reserved_features(hs->reserved);

    snprintf(out, n, "handshake features=%s%s%s%s", f ? "" : "none",
             f & BT_WIRE_FEATURE_EXTENDED ? "extended" : "",
             f & BT_WIRE_FEATURE_FAST ? (f & BT_WIRE_FEATURE_EXTENDED ? ",fast" : "fast") : "",
             f & BT_WIRE_FEATURE_DHT ? (f & 3 ? ",dht" : "dht") : "");
}

static const char *errno_name(int r)
{
    switch (r) {
    case -EBADMSG:
        return "EBADMSG";
    case -EMSGSIZE:
        return "EMSGSIZE";
    case -EPROTO:
        return "EPROTO";
    default:
        return "other";
    }
}

static bool is_handshake_case(const char *name)
{
    return strncmp(name, "handshake", 9) == 0;
}

/* Parses a corpus file with the parser its name calls for; describes the result. */
static int parse_case(const char *name, const uint8_t *data, size_t len, char *desc, size_t n)
{
    struct bt_wire_handshake hs;
    struct bt_wire_msg m;
    int r;

    desc[0] = '\0';
    if (is_handshake_case(name)) {
        r = bt_wire_handshake_parse(data, len, &hs);
        if (r > 0)
            describe_handshake(&hs, desc, n);
    } else {
        r = bt_wire_parse(data, len, NULL, &m);
        if (r > 0)
            describe(&m, desc, n);
    }
    if (r == 0)
        snprintf(desc, n, "need more");
    return r;
}

static void on_valid(const char *name, const uint8_t *data, size_t len, const char *expect)
{
    char desc[256], ignored[256];
    bool need_more = expect && strcmp(expect, "need more") == 0;
    size_t i;
    int r;

    r = parse_case(name, data, len, desc, sizeof(desc));
    if (need_more)
        CHECK_MSG(r == 0, "%s: got %d, want 0 (need more)", name, r);
    else
        CHECK_MSG(r > 0 && (size_t)r == len, "%s: got %d, want %zu", name, r, len);
    if (expect)
        CHECK_MSG(strcmp(desc, expect) == 0, "%s: got \"%s\", want \"%s\"", name, desc, expect);
    /* Every shorter prefix of a valid message asks for more input. */
    for (i = 0; i < len; i++) {
        r = parse_case(name, data, i, ignored, sizeof(ignored));
        CHECK_MSG(r == 0, "%s: prefix of %zu bytes gave %d", name, i, r);
        if (r != 0)
            break;
    }
}

static void on_invalid(const char *name, const uint8_t *data, size_t len, const char *err)
{
    char desc[256], got[128];
    int r = parse_case(name, data, len, desc, sizeof(desc));

    snprintf(got, sizeof(got), "%s (%s)", errno_name(r), r < 0 ? strerror(-r) : "no error");
    CHECK_MSG(r < 0, "%s: accepted (%d) as %s", name, r, desc);
    CHECK_MSG(err != NULL, "%s: no .err file", name);
    if (err)
        CHECK_MSG(strstr(got, err) != NULL, "%s: got %s, want %s", name, got, err);
}

static void test_handshake_round_trips_with_feature_bits(void)
{
    struct bt_wire_handshake hs, back;
    uint8_t out[BT_WIRE_HANDSHAKE_LEN];

    memset(&hs, 0, sizeof(hs));
    memcpy(hs.info_hash, info_hash, 20);
    memcpy(hs.peer_id, peer_id, 20);
    bt_wire_reserved_set(hs.reserved,
                         BT_WIRE_FEATURE_EXTENDED | BT_WIRE_FEATURE_FAST | BT_WIRE_FEATURE_DHT);
    CHECK(bt_wire_handshake_encode(out, &hs) == BT_WIRE_HANDSHAKE_LEN);
    CHECK(out[0] == 19 && memcmp(out + 1, "BitTorrent protocol", 19) == 0);
    CHECK(bt_wire_handshake_parse(out, sizeof(out), &back) == BT_WIRE_HANDSHAKE_LEN);
    CHECK(memcmp(&hs, &back, sizeof(hs)) == 0);
    CHECK(bt_wire_reserved_features(back.reserved) ==
          (BT_WIRE_FEATURE_EXTENDED | BT_WIRE_FEATURE_FAST | BT_WIRE_FEATURE_DHT));
}

static void test_reserved_bits_sit_where_beps_put_them(void)
{
    uint8_t r[8] = {0};
    static const uint8_t want[8] = {0, 0, 0, 0, 0, 0x10, 0, 0x05};

    bt_wire_reserved_set(r, BT_WIRE_FEATURE_EXTENDED);
    CHECK(r[5] == 0x10);
    bt_wire_reserved_set(r, BT_WIRE_FEATURE_FAST | BT_WIRE_FEATURE_DHT);
    CHECK(memcmp(r, want, 8) == 0);
    memset(r, 0, 8);
    r[7] = 0x04;
    CHECK(bt_wire_reserved_features(r) == BT_WIRE_FEATURE_FAST);
    memset(r, 0xff, 8);
    r[5] = 0xef;
    r[7] = 0xfa;
    CHECK(bt_wire_reserved_features(r) == 0);
}

static void test_handshake_head_matches_torrent_before_peer_id(void)
{
    struct bt_wire_handshake hs, head;
    uint8_t out[BT_WIRE_HANDSHAKE_LEN];
    size_t i;

    memset(&hs, 0, sizeof(hs));
    memcpy(hs.info_hash, info_hash, 20);
    memcpy(hs.peer_id, peer_id, 20);
    hs.reserved[5] = 0x10;
    bt_wire_handshake_encode(out, &hs);
    for (i = 0; i < BT_WIRE_HANDSHAKE_HEAD_LEN; i++)
        CHECK(bt_wire_handshake_parse_head(out, i, &head) == 0);
    memset(&head, 0xaa, sizeof(head));
    CHECK(bt_wire_handshake_parse_head(out, 48, &head) == BT_WIRE_HANDSHAKE_HEAD_LEN);
    CHECK(memcmp(head.info_hash, info_hash, 20) == 0);
    CHECK(head.reserved[5] == 0x10);
    CHECK(head.peer_id[0] == 0xaa); /* untouched */
    CHECK(bt_wire_handshake_parse(out, 48, &head) == 0);
    CHECK(bt_wire_handshake_parse_head(out, sizeof(out), &head) == BT_WIRE_HANDSHAKE_HEAD_LEN);
}

static void test_handshake_rejects_bad_protocol_string_before_it_completes(void)
{
    struct bt_wire_handshake hs;
    uint8_t bad[21] = "\x13"
                      "BitTorrent protocol";

    CHECK(bt_wire_handshake_parse((const uint8_t *)"\x13", 1, &hs) == 0);
    CHECK(bt_wire_handshake_parse((const uint8_t *)"\x14", 1, &hs) == -EBADMSG);
    CHECK(bt_wire_handshake_parse_head((const uint8_t *)"\x00", 1, &hs) == -EBADMSG);
    bad[3] = 'X';
    CHECK(bt_wire_handshake_parse(bad, 3, &hs) == 0);
    CHECK(bt_wire_handshake_parse(bad, 4, &hs) == -EBADMSG);
    CHECK(bt_wire_handshake_parse_head(bad, 20, &hs) == -EBADMSG);
    CHECK(bt_wire_handshake_parse(bad, 0, &hs) == 0);
}

static void test_keepalive_is_four_zero_bytes(void)
{
    struct bt_wire_msg m = {.type = BT_WIRE_KEEPALIVE}, back;
    uint8_t out[BT_WIRE_FIXED_MAX];

    CHECK(bt_wire_encode(out, &m) == 4);
    CHECK(memcmp(out, "\0\0\0\0", 4) == 0);
    CHECK(parse_bytes(out, 4, NULL, &back) == 4);
    CHECK(back.type == BT_WIRE_KEEPALIVE && back.data == NULL && back.data_len == 0);
}

static void test_fixed_messages_round_trip(void)
{
    static const struct bt_wire_msg msgs[] = {
        {.type = BT_WIRE_CHOKE},
        {.type = BT_WIRE_UNCHOKE},
        {.type = BT_WIRE_INTERESTED},
        {.type = BT_WIRE_NOT_INTERESTED},
        {.type = BT_WIRE_HAVE, .index = 0x01020304},
        {.type = BT_WIRE_REQUEST, .index = 1, .begin = 0x4000, .length = 0x4000},
        {.type = BT_WIRE_CANCEL, .index = 0xffffffff, .begin = 2, .length = 3},
        {.type = BT_WIRE_PORT, .port = 51413},
        {.type = BT_WIRE_SUGGEST, .index = 9},
        {.type = BT_WIRE_HAVE_ALL},
        {.type = BT_WIRE_HAVE_NONE},
        {.type = BT_WIRE_REJECT, .index = 5, .begin = 6, .length = 7},
        {.type = BT_WIRE_ALLOWED_FAST, .index = 42},
    };
    static const int sizes[] = {5, 5, 5, 5, 9, 17, 17, 7, 9, 5, 5, 17, 9};
    uint8_t out[BT_WIRE_FIXED_MAX];
    struct bt_wire_msg back;
    size_t i;
    int n;

    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        n = bt_wire_encode(out, &msgs[i]);
        CHECK_MSG(n == sizes[i], "%s: encoded %d bytes", bt_wire_type_name(msgs[i].type), n);
        CHECK(out[4] == (uint8_t)msgs[i].type);
        CHECK(parse_bytes(out, (size_t)n, NULL, &back) == n);
        CHECK(back.type == msgs[i].type && back.id == (uint8_t)msgs[i].type);
        CHECK(back.index == msgs[i].index && back.begin == msgs[i].begin);
        CHECK(back.length == msgs[i].length && back.port == msgs[i].port);
    }
}

static void test_integers_are_big_endian(void)
{
    struct bt_wire_msg m = {.type = BT_WIRE_HAVE, .index = 0x0a0b0c0d};
    static const uint8_t want[9] = {0, 0, 0, 5, 4, 0x0a, 0x0b, 0x0c, 0x0d};
    uint8_t out[BT_WIRE_FIXED_MAX];

    CHECK(bt_wire_encode(out, &m) == 9);
    CHECK(memcmp(out, want, 9) == 0);
    m = (struct bt_wire_msg){.type = BT_WIRE_PORT, .port = 0x1ae1};
    CHECK(bt_wire_encode(out, &m) == 7);
    CHECK(out[5] == 0x1a && out[6] == 0xe1);
}

static void test_encode_refuses_messages_with_a_variable_part(void)
{
    uint8_t out[BT_WIRE_FIXED_MAX];

    CHECK(bt_wire_encode(out, &(struct bt_wire_msg){.type = BT_WIRE_PIECE}) == -EINVAL);
    CHECK(bt_wire_encode(out, &(struct bt_wire_msg){.type = BT_WIRE_BITFIELD}) == -EINVAL);
    CHECK(bt_wire_encode(out, &(struct bt_wire_msg){.type = BT_WIRE_EXTENDED}) == -EINVAL);
    CHECK(bt_wire_encode(out, &(struct bt_wire_msg){.type = BT_WIRE_UNKNOWN}) == -EINVAL);
    CHECK(bt_wire_encode(out, &(struct bt_wire_msg){.type = (enum bt_wire_type)11}) == -EINVAL);
}

static void test_rejects_4gib_length_from_prefix_alone(void)
{
    struct bt_wire_head h;
    struct bt_wire_msg m;

    CHECK(parse_bytes("\xff\xff\xff\xff", 4, NULL, &m) == -EMSGSIZE);
    CHECK(bt_wire_parse_head((const uint8_t *)"\xff\xff\xff\xff", 4, NULL, &h) == -EMSGSIZE);
    CHECK(parse_bytes("\xff\xff\xff", 3, NULL, &m) == 0);
}

static void test_rejects_piece_longer_than_cap_from_head(void)
{
    uint8_t head[BT_WIRE_PIECE_HEADER_LEN];
    struct bt_wire_head h;
    struct bt_wire_msg m;

    CHECK(bt_wire_piece_header(head, 0, 0, 16385) == BT_WIRE_PIECE_HEADER_LEN);
    CHECK(parse_bytes(head, 4, NULL, &m) == 0); /* under the overall cap: wait for the id */
    CHECK(parse_bytes(head, 5, NULL, &m) == -EMSGSIZE);
    CHECK(bt_wire_parse_head(head, 5, NULL, &h) == -EMSGSIZE);
    CHECK(bt_wire_piece_header(head, 0, 0, 16384) == BT_WIRE_PIECE_HEADER_LEN);
    CHECK(bt_wire_parse_head(head, sizeof(head), NULL, &h) == BT_WIRE_PIECE_HEADER_LEN);
}

static void test_piece_head_reports_block_for_direct_read(void)
{
    uint8_t head[BT_WIRE_PIECE_HEADER_LEN];
    struct bt_wire_head h;
    size_t i;

    CHECK(bt_wire_piece_header(head, 7, 0x8000, 16384) == BT_WIRE_PIECE_HEADER_LEN);
    for (i = 0; i < sizeof(head); i++)
        CHECK(bt_wire_parse_head(head, i, NULL, &h) == 0);
    CHECK(bt_wire_parse_head(head, sizeof(head), NULL, &h) == BT_WIRE_PIECE_HEADER_LEN);
    CHECK(h.type == BT_WIRE_PIECE && h.id == 7 && h.index == 7 && h.begin == 0x8000);
    CHECK(h.len == 16384 + 9 && h.head_len == 13 && h.rest_len == 16384);
}

static void test_head_of_other_messages_is_five_bytes(void)
{
    struct bt_wire_msg m = {.type = BT_WIRE_REQUEST, .index = 1};
    uint8_t out[BT_WIRE_FIXED_MAX];
    struct bt_wire_head h;

    bt_wire_encode(out, &m);
    CHECK(bt_wire_parse_head(out, 5, NULL, &h) == 5);
    CHECK(h.type == BT_WIRE_REQUEST && h.len == 13 && h.rest_len == 12);
    CHECK(bt_wire_parse_head((const uint8_t *)"\0\0\0\0", 4, NULL, &h) == 4);
    CHECK(h.type == BT_WIRE_KEEPALIVE && h.rest_len == 0);
}

static void test_piece_header_and_block_parse_back(void)
{
    uint8_t buf[BT_WIRE_PIECE_HEADER_LEN + 5];
    struct bt_wire_msg m;

    CHECK(bt_wire_piece_header(buf, 3, 16384, 5) == BT_WIRE_PIECE_HEADER_LEN);
    memcpy(buf + BT_WIRE_PIECE_HEADER_LEN, "hello", 5);
    CHECK(parse_bytes(buf, sizeof(buf) - 1, NULL, &m) == 0);
    CHECK(parse_bytes(buf, sizeof(buf), NULL, &m) == (int)sizeof(buf));
    CHECK(m.type == BT_WIRE_PIECE && m.index == 3 && m.begin == 16384);
    CHECK(m.data == buf + 13 && m.data_len == 5); /* borrowed, not copied */
}

static void test_rejects_fixed_message_of_wrong_size(void)
{
    struct bt_wire_msg m;

    CHECK(parse_bytes("\0\0\0\4\4\0\0\0", 8, NULL, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\x0e\6", 5, NULL, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\x0c\x10", 5, NULL, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\2\1", 5, NULL, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\4\x09", 5, NULL, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\2\x0f", 5, NULL, &m) == -EBADMSG);
}

static void test_unknown_id_is_returned_not_refused(void)
{
    struct bt_wire_msg m;
    int r;

    r = parse_bytes("\0\0\0\4\x15xyz", 8, NULL, &m);
    CHECK(r == 8);
    CHECK(m.type == BT_WIRE_UNKNOWN && m.id == 0x15 && m.data_len == 3);
    CHECK(m.data && memcmp(m.data, "xyz", 3) == 0);
    CHECK(parse_bytes("\0\0\0\1\x0b", 5, NULL, &m) == 5);
    CHECK(m.type == BT_WIRE_UNKNOWN && m.id == 11 && m.data == NULL);
    CHECK(strcmp(bt_wire_type_name(m.type), "unknown") == 0);
}

static void test_rejects_unknown_id_over_cap(void)
{
    struct bt_wire_limits lim = {.max_unknown = 3};
    struct bt_wire_msg m;

    CHECK(parse_bytes("\0\0\0\4\x15xyz", 8, &lim, &m) == 8);
    CHECK(parse_bytes("\0\0\0\5\x15", 5, &lim, &m) == -EMSGSIZE);
}

static void test_bitfield_must_have_torrent_size_once_known(void)
{
    struct bt_wire_limits lim = {.bitfield_len = 2};
    struct bt_wire_msg m;

    CHECK(parse_bytes("\0\0\0\3\5\xff\x80", 7, &lim, &m) == 7);
    CHECK(m.type == BT_WIRE_BITFIELD && m.data_len == 2 && m.data[1] == 0x80);
    CHECK(parse_bytes("\0\0\0\2\5", 5, &lim, &m) == -EBADMSG);
    CHECK(parse_bytes("\0\0\0\4\5", 5, &lim, &m) == -EBADMSG);
    /* Unknown size: any non-empty bitfield up to the cap. */
    CHECK(parse_bytes("\0\0\0\4\5\1\2\3", 8, NULL, &m) == 8);
}

static void test_rejects_bitfield_longer_than_cap(void)
{
    struct bt_wire_limits lim = {.max_bitfield = 16};
    struct bt_wire_msg m;

    CHECK(parse_bytes("\0\0\0\x11\5", 5, &lim, &m) == 0); /* 16 bytes: fine so far */
    CHECK(parse_bytes("\0\0\0\x12\5", 5, &lim, &m) == -EMSGSIZE);
    CHECK(parse_bytes("\0\x08\0\2\5", 5, NULL, &m) == -EMSGSIZE);
    CHECK(parse_bytes("\0\0\0\1\5", 5, NULL, &m) == -EBADMSG);
}

static void test_extended_payload_is_borrowed_after_ext_id(void)
{
    static const uint8_t in[] = "\0\0\0\x0a\x14\x02"
                                "d1:ai1ee";
    struct bt_wire_msg m;

    CHECK(parse_bytes(in, 14, NULL, &m) == 14);
    CHECK(m.type == BT_WIRE_EXTENDED && m.ext_id == 2);
    CHECK(m.data == in + 6 && m.data_len == 8);
    CHECK(parse_bytes("\0\0\0\1\x14", 5, NULL, &m) == -EBADMSG);
}

static void test_rejects_extended_over_cap(void)
{
    struct bt_wire_limits lim = {.max_extended = 8};
    uint8_t head[BT_WIRE_EXTENDED_HEADER_LEN];
    struct bt_wire_msg m;

    CHECK(bt_wire_extended_header(head, 1, 8) == BT_WIRE_EXTENDED_HEADER_LEN);
    CHECK(parse_bytes(head, sizeof(head), &lim, &m) == 0);
    CHECK(bt_wire_extended_header(head, 1, 9) == BT_WIRE_EXTENDED_HEADER_LEN);
    CHECK(parse_bytes(head, sizeof(head), &lim, &m) == -EMSGSIZE);
    CHECK(bt_wire_extended_header(head, 1, BT_WIRE_DEFAULT_MAX_EXTENDED + 1) > 0);
    CHECK(parse_bytes(head, sizeof(head), NULL, &m) == -EMSGSIZE);
}

static void test_limits_are_clamped_to_the_ceiling(void)
{
    struct bt_wire_limits lim = {.max_block = UINT32_MAX, .max_unknown = UINT32_MAX};
    uint8_t head[BT_WIRE_PIECE_HEADER_LEN];
    struct bt_wire_head h;

    CHECK(bt_wire_piece_header(head, 0, 0, BT_WIRE_LIMIT_CEILING) > 0);
    CHECK(bt_wire_parse_head(head, sizeof(head), &lim, &h) == BT_WIRE_PIECE_HEADER_LEN);
    CHECK(bt_wire_piece_header(head, 0, 0, (size_t)BT_WIRE_LIMIT_CEILING + 1) > 0);
    CHECK(bt_wire_parse_head(head, sizeof(head), &lim, &h) == -EMSGSIZE);
    CHECK(bt_wire_parse_head((const uint8_t *)"\xff\xff\xff\xff", 4, &lim, &h) == -EMSGSIZE);
}

static void test_parses_consecutive_messages_in_one_buffer(void)
{
    static const uint8_t in[] = "\0\0\0\1\1"
                                "\0\0\0\0"
                                "\0\0\0\5\4\0\0\0\x2a"
                                "\0\0\0\1";
    static const enum bt_wire_type want[] = {BT_WIRE_UNCHOKE, BT_WIRE_KEEPALIVE, BT_WIRE_HAVE};
    struct bt_wire_msg m;
    size_t off = 0, i;
    int r;

    for (i = 0; i < 3; i++) {
        r = parse_bytes(in + off, sizeof(in) - 1 - off, NULL, &m);
        CHECK(r > 0 && m.type == want[i]);
        if (r <= 0)
            return;
        off += (size_t)r;
    }
    CHECK(m.index == 42);
    CHECK(parse_bytes(in + off, sizeof(in) - 1 - off, NULL, &m) == 0);
}

static void test_ret_untouched_when_more_is_needed(void)
{
    struct bt_wire_msg m;
    struct bt_wire_head h;

    memset(&m, 0x5a, sizeof(m));
    memset(&h, 0x5a, sizeof(h));
    CHECK(parse_bytes("\0\0\0\5\4\0", 6, NULL, &m) == 0);
    CHECK(m.index == 0x5a5a5a5a);
    CHECK(bt_wire_parse_head((const uint8_t *)"\0\0\0\x0d\7\0", 6, NULL, &h) == 0);
    CHECK(h.index == 0x5a5a5a5a);
}

static void test_append_round_trips_every_kind(void)
{
    static const uint8_t bits[] = {0xf0, 0x80};
    const struct bt_wire_msg msgs[] = {
        {.type = BT_WIRE_KEEPALIVE},
        {.type = BT_WIRE_HAVE, .index = 3},
        {.type = BT_WIRE_BITFIELD, .data = bits, .data_len = 2},
        {.type = BT_WIRE_PIECE,
         .index = 1,
         .begin = 2,
         .data = (const uint8_t *)"blk",
         .data_len = 3},
        {.type = BT_WIRE_EXTENDED, .ext_id = 0, .data = (const uint8_t *)"de", .data_len = 2},
        {.type = BT_WIRE_UNKNOWN, .id = 0x30, .data = (const uint8_t *)"??", .data_len = 2},
        {.type = BT_WIRE_EXTENDED, .ext_id = 4},
    };
    struct bt_wire_msg m;
    struct bt_buf b;
    size_t off = 0, i;
    int r;

    bt_buf_init(&b, 0);
    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
        CHECK(bt_wire_append(&b, &msgs[i]) == 0);
    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        r = parse_bytes(b.data + off, b.len - off, NULL, &m);
        CHECK_MSG(r > 0, "message %zu: %d", i, r);
        if (r <= 0)
            break;
        off += (size_t)r;
        CHECK(m.type == msgs[i].type && m.index == msgs[i].index && m.begin == msgs[i].begin);
        CHECK(m.data_len == msgs[i].data_len && m.ext_id == msgs[i].ext_id);
        CHECK(m.data_len == 0 || memcmp(m.data, msgs[i].data, m.data_len) == 0);
    }
    CHECK(off == b.len);
    bt_buf_deinit(&b);
}

static void test_append_refuses_misuse_and_leaves_buffer_alone(void)
{
    struct bt_buf b;

    bt_buf_init(&b, 8);
    CHECK(bt_wire_append(&b, &(struct bt_wire_msg){.type = BT_WIRE_UNKNOWN, .id = 4}) == -EINVAL);
    CHECK(bt_wire_append(&b, &(struct bt_wire_msg){.type = BT_WIRE_BITFIELD, .data_len = 3}) ==
          -EINVAL);
    CHECK(bt_wire_append(&b, &(struct bt_wire_msg){.type = BT_WIRE_PIECE,
                                                   .data = (const uint8_t *)"x",
                                                   .data_len = 1}) == -EMSGSIZE);
    CHECK(b.len == 0);
    bt_buf_deinit(&b);
}

static void test_headers_refuse_lengths_over_four_bytes(void)
{
    uint8_t out[BT_WIRE_PIECE_HEADER_LEN];

    if (SIZE_MAX <= UINT32_MAX)
        return;
    CHECK(bt_wire_piece_header(out, 0, 0, (size_t)UINT32_MAX - 8) == -EMSGSIZE);
    CHECK(bt_wire_piece_header(out, 0, 0, (size_t)UINT32_MAX - 9) == BT_WIRE_PIECE_HEADER_LEN);
    CHECK(bt_wire_bitfield_header(out, (size_t)UINT32_MAX) == -EMSGSIZE);
    CHECK(bt_wire_extended_header(out, 0, (size_t)UINT32_MAX - 1) == -EMSGSIZE);
}

static void test_type_names_for_logs(void)
{
    CHECK(strcmp(bt_wire_type_name(BT_WIRE_HAVE_ALL), "have all") == 0);
    CHECK(strcmp(bt_wire_type_name(BT_WIRE_KEEPALIVE), "keep-alive") == 0);
    CHECK(strcmp(bt_wire_type_name(BT_WIRE_EXTENDED), "extended") == 0);
    CHECK(strcmp(bt_wire_type_name((enum bt_wire_type)12), "unknown") == 0);
}

/* BEP 6's own example: 1313 pieces, 80.4.4.200, an info-hash of 0xaa bytes. */
static void test_allowed_fast_matches_bep6(void)
{
    static const uint32_t want[9] = {1059, 431, 808, 1217, 287, 376, 1188, 353, 508};
    const uint8_t ip[4] = {80, 4, 4, 200};
    uint8_t ih[20];
    uint32_t got[9];

    memset(ih, 0xaa, sizeof(ih));
    CHECK(bt_wire_allowed_fast(ip, ih, 1313, 7, got) == 7);
    CHECK(memcmp(got, want, 7 * sizeof(got[0])) == 0);
    CHECK(bt_wire_allowed_fast(ip, ih, 1313, 9, got) == 9);
    CHECK(memcmp(got, want, 9 * sizeof(got[0])) == 0);
    CHECK(bt_wire_allowed_fast(ip, ih, 3, 9, got) == 3); /* fewer pieces than k */
    CHECK(bt_wire_allowed_fast(ip, ih, 0, 9, got) == 0);
}

int main(void)
{
    TAP_RUN(test_handshake_round_trips_with_feature_bits);
    TAP_RUN(test_reserved_bits_sit_where_beps_put_them);
    TAP_RUN(test_handshake_head_matches_torrent_before_peer_id);
    TAP_RUN(test_handshake_rejects_bad_protocol_string_before_it_completes);
    TAP_RUN(test_keepalive_is_four_zero_bytes);
    TAP_RUN(test_fixed_messages_round_trip);
    TAP_RUN(test_integers_are_big_endian);
    TAP_RUN(test_encode_refuses_messages_with_a_variable_part);
    TAP_RUN(test_rejects_4gib_length_from_prefix_alone);
    TAP_RUN(test_rejects_piece_longer_than_cap_from_head);
    TAP_RUN(test_piece_head_reports_block_for_direct_read);
    TAP_RUN(test_head_of_other_messages_is_five_bytes);
    TAP_RUN(test_piece_header_and_block_parse_back);
    TAP_RUN(test_rejects_fixed_message_of_wrong_size);
    TAP_RUN(test_unknown_id_is_returned_not_refused);
    TAP_RUN(test_rejects_unknown_id_over_cap);
    TAP_RUN(test_bitfield_must_have_torrent_size_once_known);
    TAP_RUN(test_rejects_bitfield_longer_than_cap);
    TAP_RUN(test_extended_payload_is_borrowed_after_ext_id);
    TAP_RUN(test_rejects_extended_over_cap);
    TAP_RUN(test_limits_are_clamped_to_the_ceiling);
    TAP_RUN(test_parses_consecutive_messages_in_one_buffer);
    TAP_RUN(test_ret_untouched_when_more_is_needed);
    TAP_RUN(test_append_round_trips_every_kind);
    TAP_RUN(test_append_refuses_misuse_and_leaves_buffer_alone);
    TAP_RUN(test_headers_refuse_lengths_over_four_bytes);
    TAP_RUN(test_type_names_for_logs);
    testdata_run("wire", ".bin", on_valid, on_invalid);
    TAP_RUN(test_allowed_fast_matches_bep6);
    return tap_done();
}
