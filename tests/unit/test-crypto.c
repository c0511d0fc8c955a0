#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "sha1.h"
#include "tap.h"

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void test_sha1_known_vectors(void)
{
    uint8_t d[BT_SHA1_LEN];
    char h[41];

    bt_sha1(d, "abc", 3);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
    bt_sha1(d, "", 0);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);
}

static void test_sha1_incremental_equals_one_shot(void)
{
    uint8_t a[BT_SHA1_LEN], b[BT_SHA1_LEN];
    struct bt_sha1 s;
    char data[1000];
    int i;

    for (i = 0; i < 1000; i++)
        data[i] = (char)(i * 7);
    CHECK(bt_sha1_init(&s) == 0);
    bt_sha1_update(&s, data, 333);
    bt_sha1_update(&s, data + 333, 667);
    bt_sha1_final(&s, a);
    CHECK(s.ctx == NULL);
    bt_sha1(b, data, sizeof(data));
    CHECK(memcmp(a, b, sizeof(a)) == 0);
}

static void test_sha256_known_vector(void)
{
    uint8_t d[BT_SHA256_LEN];
    char h[65];

    bt_sha256(d, "abc", 3);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

static void test_base64_round_trip_and_rejects_garbage(void)
{
    const uint8_t in[] = {0, 1, 2, 250, 251, 252, 253};
    char enc[64];
    uint8_t out[16];

    CHECK(bt_base64_encoded_len(sizeof(in)) == 13);
    bt_base64_encode(enc, sizeof(enc), in, sizeof(in));
    CHECK(strcmp(enc, "AAEC+vv8/Q==") == 0);
    CHECK(bt_base64_decode(out, sizeof(out), enc, strlen(enc)) == (int)sizeof(in));
    CHECK(memcmp(out, in, sizeof(in)) == 0);
    CHECK(bt_base64_decode(out, sizeof(out), "AA*C", 4) == -EINVAL);
    CHECK(bt_base64_decode(out, 2, enc, strlen(enc)) == -EMSGSIZE);
}

static void test_random_bytes_differ_and_uniform_is_bounded(void)
{
    uint8_t a[32], b[32];
    int i;

    bt_random_bytes(a, sizeof(a));
    bt_random_bytes(b, sizeof(b));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    for (i = 0; i < 1000; i++)
        CHECK(bt_random_uniform(7) < 7);
    CHECK(bt_random_uniform(0) == 0);
}

static void test_ct_equal(void)
{
    CHECK(bt_ct_equal("abcd", "abcd", 4));
    CHECK(!bt_ct_equal("abcd", "abce", 4));
}

int main(void)
{
    if (bt_crypto_init() < 0)
        return 1;
    TAP_RUN(test_sha1_known_vectors);
    TAP_RUN(test_sha1_incremental_equals_one_shot);
    TAP_RUN(test_sha256_known_vector);
    TAP_RUN(test_base64_round_trip_and_rejects_garbage);
    TAP_RUN(test_random_bytes_differ_and_uniform_is_bounded);
    TAP_RUN(test_ct_equal);
    return tap_done();
}
