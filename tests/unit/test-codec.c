#include <errno.h>
#include <string.h>

#include "codec.h"
#include "tap.h"

static const uint8_t sample[20] = {
    0xc1, 0x2f, 0xe1, 0xc0, 0x6b, 0xba, 0x25, 0x4a, 0x9d, 0xc9,
    0xf5, 0x19, 0xb3, 0x35, 0xaa, 0x7c, 0x13, 0x67, 0xa8, 0x8a,
};
static const char sample_hex[] = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
static const char sample_b32[] = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

static void test_hex_round_trip(void)
{
    char hex[41];
    uint8_t back[20];

    bt_hex_encode(hex, sample, sizeof(sample));
    CHECK(strcmp(hex, sample_hex) == 0);
    CHECK(bt_hex_decode(back, sizeof(back), hex, strlen(hex)) == 0);
    CHECK(memcmp(back, sample, sizeof(sample)) == 0);
}

static void test_hex_encodes_every_byte(void)
{
    uint8_t all[256];
    char hex[513];
    uint8_t back[256];

    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (uint8_t)i;
    bt_hex_encode(hex, all, sizeof(all));
    CHECK(strncmp(hex, "000102", 6) == 0);
    CHECK(strcmp(hex + 506, "fdfeff") == 0);
    CHECK(bt_hex_decode(back, sizeof(back), hex, 512) == 0);
    CHECK(memcmp(back, all, sizeof(all)) == 0);
}

static void test_hex_encodes_empty_input(void)
{
    char hex[1] = {'x'};

    bt_hex_encode(hex, NULL, 0);
    CHECK(hex[0] == '\0');
}

static void test_hex_accepts_uppercase(void)
{
    uint8_t out[4];

    CHECK(bt_hex_decode(out, sizeof(out), "DEADbeef", 8) == 0);
    CHECK(out[0] == 0xde && out[1] == 0xad && out[2] == 0xbe && out[3] == 0xef);
}

static void test_hex_rejects_wrong_length(void)
{
    uint8_t out[4];

    CHECK(bt_hex_decode(out, sizeof(out), "deadbee", 7) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), "deadbeef0", 9) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), "deadbeef00", 10) == -EINVAL);
}

static void test_hex_rejects_invalid_digits(void)
{
    static const char with_nul[4] = {'0', '0', '\0', '0'};
    uint8_t out[2];

    CHECK(bt_hex_decode(out, sizeof(out), "0g00", 4) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), "00 0", 4) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), "-100", 4) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), "0x00", 4) == -EINVAL);
    CHECK(bt_hex_decode(out, sizeof(out), with_nul, 4) == -EINVAL);
}

static void test_base32_rfc4648_vectors(void)
{
    static const struct {
        const char *plain;
        const char *b32;
    } v[] = {
        {"", ""},
        {"f", "MY"},
        {"fo", "MZXQ"},
        {"foo", "MZXW6"},
        {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t out[8];
        size_t n = strlen(v[i].plain);
        int r = bt_base32_decode(out, n, v[i].b32, strlen(v[i].b32));

        CHECK_MSG(r == 0, "base32 \"%s\": %d", v[i].b32, r);
        CHECK_MSG(r != 0 || memcmp(out, v[i].plain, n) == 0, "base32 \"%s\"", v[i].b32);
    }
}

static void test_base32_decodes_info_hash(void)
{
    uint8_t out[20];
    char lower[33];

    CHECK(bt_base32_decode(out, sizeof(out), sample_b32, 32) == 0);
    CHECK(memcmp(out, sample, sizeof(sample)) == 0);
    for (size_t i = 0; i < 33; i++)
        lower[i] = (char)((sample_b32[i] >= 'A' && sample_b32[i] <= 'Z') ? sample_b32[i] + 32
                                                                         : sample_b32[i]);
    memset(out, 0, sizeof(out));
    CHECK(bt_base32_decode(out, sizeof(out), lower, 32) == 0);
    CHECK(memcmp(out, sample, sizeof(sample)) == 0);
}

static void test_base32_rejects_wrong_length(void)
{
    uint8_t out[20];

    CHECK(bt_base32_decode(out, sizeof(out), sample_b32, 31) == -EINVAL);
    CHECK(bt_base32_decode(out, sizeof(out), "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEKA", 33) == -EINVAL);
    CHECK(bt_base32_decode(out, 6, "MZXW6YTBOI======", 16) == -EINVAL);
}

static void test_base32_rejects_invalid_characters(void)
{
    uint8_t out[5];

    CHECK(bt_base32_decode(out, 5, "MZXW1YTB", 8) == -EINVAL); /* '1' is not in the alphabet */
    CHECK(bt_base32_decode(out, 5, "MZXW8YTB", 8) == -EINVAL);
    CHECK(bt_base32_decode(out, 5, "MZXW=YTB", 8) == -EINVAL);
    CHECK(bt_base32_decode(out, 5, "MZXW YTB", 8) == -EINVAL);
}

static void test_base32_rejects_nonzero_trailing_bits(void)
{
    uint8_t out[1];

    CHECK(bt_base32_decode(out, 1, "MY", 2) == 0);
    CHECK(bt_base32_decode(out, 1, "MZ", 2) == -EINVAL);
}

static void test_url_unescape_vectors(void)
{
    static const struct {
        const char *in;
        const char *out;
    } v[] = {
        {"", ""},
        {"plain", "plain"},
        {"a%20b", "a b"},
        {"a+b", "a+b"},
        {"%2B%2b", "++"},
        {"%41%62%7e", "Ab~"},
        {"http%3A%2F%2Ft.example%3A6969%2Fannounce", "http://t.example:6969/announce"},
        {"%e2%82%ac", "\xe2\x82\xac"},
        {"100%25", "100%"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[64];
        int r = bt_url_unescape(out, v[i].in, strlen(v[i].in));

        CHECK_MSG(r == (int)strlen(v[i].out), "unescape \"%s\": %d", v[i].in, r);
        CHECK_MSG(strcmp(out, v[i].out) == 0, "unescape \"%s\" gave \"%s\"", v[i].in, out);
    }
}

static void test_url_unescape_keeps_nul_bytes(void)
{
    char out[8];

    CHECK(bt_url_unescape(out, "a%00b", 5) == 3);
    CHECK(memcmp(out, "a\0b", 4) == 0);
    CHECK(strlen(out) == 1);
}

static void test_url_unescape_stops_at_len(void)
{
    char out[8];

    CHECK(bt_url_unescape(out, "ab%41cd", 5) == 3);
    CHECK(strcmp(out, "abA") == 0);
}

static void test_rejects_bad_escape(void)
{
    static const char *const bad[] = {"%", "%4", "abc%4", "%G1", "%1G", "%%41", "a% 1", "%-1"};
    char out[16];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(bt_url_unescape(out, bad[i], strlen(bad[i])) == -EINVAL, "\"%s\"", bad[i]);
}

static void test_url_escape_keeps_unreserved(void)
{
    const char *in = "ABCXYZabcxyz0189-._~";
    char out[64];

    bt_url_escape(out, (const uint8_t *)in, strlen(in));
    CHECK(strcmp(out, in) == 0);
}

static void test_url_escape_vectors(void)
{
    static const uint8_t bytes[] = {0x00, 0x12, 0xab, 0xff, ' ', '+', '/', '%', '&', '='};
    char out[3 * sizeof(bytes) + 1];

    bt_url_escape(out, bytes, sizeof(bytes));
    CHECK_MSG(strcmp(out, "%00%12%AB%FF%20%2B%2F%25%26%3D") == 0, "got %s", out);
    bt_url_escape(out, NULL, 0);
    CHECK(out[0] == '\0');
}

static void test_url_escape_round_trips_info_hash(void)
{
    char esc[3 * 20 + 1];
    char back[3 * 20 + 1];

    bt_url_escape(esc, sample, sizeof(sample));
    CHECK(strncmp(esc, "%C1%2F%E1%C0k%BA%25J", 20) == 0);
    CHECK(bt_url_unescape(back, esc, strlen(esc)) == 20);
    CHECK(memcmp(back, sample, sizeof(sample)) == 0);
}

int main(void)
{
    TAP_RUN(test_hex_round_trip);
    TAP_RUN(test_hex_encodes_every_byte);
    TAP_RUN(test_hex_encodes_empty_input);
    TAP_RUN(test_hex_accepts_uppercase);
    TAP_RUN(test_hex_rejects_wrong_length);
    TAP_RUN(test_hex_rejects_invalid_digits);
    TAP_RUN(test_base32_rfc4648_vectors);
    TAP_RUN(test_base32_decodes_info_hash);
    TAP_RUN(test_base32_rejects_wrong_length);
    TAP_RUN(test_base32_rejects_invalid_characters);
    TAP_RUN(test_base32_rejects_nonzero_trailing_bits);
    TAP_RUN(test_url_unescape_vectors);
    TAP_RUN(test_url_unescape_keeps_nul_bytes);
    TAP_RUN(test_url_unescape_stops_at_len);
    TAP_RUN(test_rejects_bad_escape);
    TAP_RUN(test_url_escape_keeps_unreserved);
    TAP_RUN(test_url_escape_vectors);
    TAP_RUN(test_url_escape_round_trips_info_hash);
    return tap_done();
}
