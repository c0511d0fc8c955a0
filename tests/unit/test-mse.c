#include <errno.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "dh.h"
#include "mse.h"
#include "rc4.h"
#include "sha1.h"
#include "tap.h"

static void unhex(uint8_t *out, const char *hex)
{
    size_t i;
    unsigned v;

    for (i = 0; hex[2 * i]; i++) {
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* RFC 6229 keystream at offsets 0, 16 and 1024. */
static void check_rc4(const char *key_hex, size_t key_len, const char *at0, const char *at16,
                      const char *at1024)
{
    uint8_t key[32], ks[1040], want[16];
    struct bt_rc4 r;

    unhex(key, key_hex);
    memset(ks, 0, sizeof(ks));
    bt_rc4_init(&r, key, key_len);
    bt_rc4_crypt(&r, ks, sizeof(ks));
    unhex(want, at0);
    CHECK(memcmp(ks, want, 16) == 0);
    unhex(want, at16);
    CHECK(memcmp(ks + 16, want, 16) == 0);
    unhex(want, at1024);
    CHECK(memcmp(ks + 1024, want, 16) == 0);
}

static void test_rc4_matches_rfc6229(void)
{
    check_rc4("0102030405", 5, "b2396305f03dc027ccc3524a0a1118a8",
              "6982944f18fc82d589c403a47a0d0919", "30abbcc7c20b01609f23ee2d5f6bb7df");
    check_rc4("0102030405060708090a0b0c0d0e0f10", 16, "9ac7cc9a609d1ef7b2932899cde41b97",
              "5248c4959014126a6e8a84f11d1a9e1c", "bdf0324e6083dcc6d3cedd3ca8c53c16");
}

static void test_rc4_skip_equals_crypting(void)
{
    uint8_t key[5] = {1, 2, 3, 4, 5}, a[1040], b[16];
    struct bt_rc4 r1, r2;

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    bt_rc4_init(&r1, key, 5);
    bt_rc4_crypt(&r1, a, sizeof(a));
    bt_rc4_init(&r2, key, 5);
    bt_rc4_skip(&r2, 1024);
    bt_rc4_crypt(&r2, b, 16);
    CHECK(memcmp(a + 1024, b, 16) == 0);
}

static void test_dh_public_known_values(void)
{
    uint8_t priv[BT_DH_PRIV_LEN], pub[BT_DH_LEN], want[BT_DH_LEN];
    size_t i;

    memset(priv, 0, sizeof(priv));
    priv[19] = 1;
    CHECK(bt_dh_public(pub, priv) == 0);
    memset(want, 0, sizeof(want));
    want[95] = 2;
    CHECK(memcmp(pub, want, sizeof(pub)) == 0);
    priv[19] = 10;
    CHECK(bt_dh_public(pub, priv) == 0);
    want[94] = 4; /* 2^10 = 0x400 */
    want[95] = 0;
    CHECK(memcmp(pub, want, sizeof(pub)) == 0);
    /* 2^0x0102..14 mod P, computed with Python's pow(). */
    for (i = 0; i < 20; i++)
        priv[i] = (uint8_t)(i + 1);
    unhex(want, "96e112dab29e8c5272accb9b17b26887ce54a144a4e3b697c7d159b7a817e556b0918db2b4c658e0"
                "2a87f7e5fb14b18a553e084cbf3dad2d30f16596ccb982d406258c61b30c5c1dae2ddc60bdbd48d7"
                "9896312aad63238c39e1a633821eb693");
    CHECK(bt_dh_public(pub, priv) == 0);
    CHECK(memcmp(pub, want, sizeof(pub)) == 0);
}

static void test_dh_secret_agrees_both_ways(void)
{
    uint8_t a[BT_DH_PRIV_LEN], b[BT_DH_PRIV_LEN], ya[BT_DH_LEN], yb[BT_DH_LEN];
    uint8_t sa[BT_DH_LEN], sb[BT_DH_LEN];
    int i;

    for (i = 0; i < 4; i++) {
        bt_random_bytes(a, sizeof(a));
        bt_random_bytes(b, sizeof(b));
        CHECK(bt_dh_public(ya, a) == 0);
        CHECK(bt_dh_public(yb, b) == 0);
        CHECK(bt_dh_secret(sa, a, yb) == 0);
        CHECK(bt_dh_secret(sb, b, ya) == 0);
        CHECK(memcmp(sa, sb, sizeof(sa)) == 0);
        CHECK(memcmp(sa, ya, sizeof(sa)) != 0);
    }
}

static void test_dh_rejects_degenerate_keys(void)
{
    uint8_t priv[BT_DH_PRIV_LEN], peer[BT_DH_LEN], s[BT_DH_LEN];

    bt_random_bytes(priv, sizeof(priv));
    memset(peer, 0, sizeof(peer));
    CHECK(bt_dh_secret(s, priv, peer) == -EBADMSG); /* 0 */
    peer[95] = 1;
    CHECK(bt_dh_secret(s, priv, peer) == -EBADMSG); /* 1 */
    memset(peer, 0xff, sizeof(peer));
    CHECK(bt_dh_secret(s, priv, peer) == -EBADMSG); /* over P */
    unhex(peer, "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22"
                "514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6"
                "f44c42e9a63a36210000000000090562"); /* P - 1 */
    CHECK(bt_dh_secret(s, priv, peer) == -EBADMSG);
    peer[95] = 0x61; /* P - 2: legal */
    CHECK(bt_dh_secret(s, priv, peer) == 0);
}

/* Torrents B holds, for its lookup. */
struct store {
    uint8_t hashes[3][20];
    int n;
    int lookups;
};

static bool find(void *data, const uint8_t req2[20], uint8_t ret_skey[20])
{
    struct store *st = data;
    uint8_t h[20];
    int i;

    st->lookups++;
    for (i = 0; i < st->n; i++) {
        bt_mse_req2(h, st->hashes[i]);
        if (memcmp(h, req2, 20) == 0) {
            memcpy(ret_skey, st->hashes[i], 20);
            return true;
        }
    }
    return false;
}

static void init_store(struct store *st)
{
    int i;

    memset(st, 0, sizeof(*st));
    st->n = 3;
    for (i = 0; i < 3; i++)
        memset(st->hashes[i], 0x11 * (i + 1), 20);
}

/*
 * Moves in's first chunk bytes (all when chunk is 0) into m through its
 * own pending buffer pend (kept between calls, as a socket's read buffer).
 */
static int deliver(struct bt_mse *m, struct bt_buf *pend, struct bt_buf *in, size_t chunk,
                   struct bt_buf *out)
{
    size_t n = chunk && chunk < in->len ? chunk : in->len;
    int r;

    if (n == 0)
        return 0;
    CHECK(bt_buf_append(pend, in->data, n) == 0);
    memmove(in->data, in->data + n, in->len - n);
    in->len -= n;
    if (bt_mse_done(m)) {
        bt_mse_decrypt(m, pend->data + pend->len - n, n); /* payload */
        return 0;
    }
    r = bt_mse_feed(m, pend->data, pend->len, out);
    if (r < 0)
        return r;
    memmove(pend->data, pend->data + r, pend->len - (size_t)r);
    pend->len -= (size_t)r;
    if (bt_mse_done(m))
        bt_mse_decrypt(m, pend->data, pend->len); /* payload that came with the handshake */
    return 0;
}

struct pair {
    struct bt_mse a, b;
    struct bt_buf a_to_b, b_to_a; /* on the wire */
    struct bt_buf a_pend, b_pend; /* received, not consumed by the handshake */
    struct store st;
};

static void pair_init(struct pair *p, uint32_t a_allowed, uint32_t b_allowed, bool b_prefers_plain,
                      int torrent)
{
    memset(p, 0, sizeof(*p));
    bt_buf_init(&p->a_to_b, 0);
    bt_buf_init(&p->b_to_a, 0);
    bt_buf_init(&p->a_pend, 0);
    bt_buf_init(&p->b_pend, 0);
    init_store(&p->st);
    CHECK(bt_mse_init_initiator(&p->a, p->st.hashes[torrent], a_allowed,
                                (const uint8_t *)BT_MSE_PLAIN_PREFIX "...", 23, &p->a_to_b) == 0);
    bt_mse_init_receiver(&p->b, b_allowed, b_prefers_plain, find, &p->st);
}

static void pair_deinit(struct pair *p)
{
    bt_buf_deinit(&p->a_to_b);
    bt_buf_deinit(&p->b_to_a);
    bt_buf_deinit(&p->a_pend);
    bt_buf_deinit(&p->b_pend);
}

/* Runs the handshake, chunk bytes at a time (0: all there is). 0 or B's / A's error. */
static int pair_run(struct pair *p, size_t chunk)
{
    int r, rounds;

    for (rounds = 0; rounds < 100000; rounds++) {
        if (bt_mse_done(&p->a) && bt_mse_done(&p->b) && p->a_to_b.len == 0 && p->b_to_a.len == 0)
            return 0;
        if (p->a_to_b.len == 0 && p->b_to_a.len == 0)
            return -EAGAIN; /* stuck */
        r = deliver(&p->b, &p->b_pend, &p->a_to_b, chunk, &p->b_to_a);
        if (r < 0)
            return r;
        r = deliver(&p->a, &p->a_pend, &p->b_to_a, chunk, &p->a_to_b);
        if (r < 0)
            return r;
    }
    return -ELOOP;
}

/* After the handshake: payload both ways decrypts to what was sent. */
static void check_payload(struct pair *p)
{
    uint8_t msg[3000], wire[3000];
    size_t i;

    /* B got A's IA first, decrypted, in its pending bytes. */
    CHECK(p->b_pend.len == 23);
    CHECK(p->b_pend.len == 23 && memcmp(p->b_pend.data, BT_MSE_PLAIN_PREFIX "...", 23) == 0);
    CHECK(p->a_pend.len == 0);
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 31);
    memcpy(wire, msg, sizeof(msg));
    bt_mse_encrypt(&p->a, wire, 1000);
    bt_mse_encrypt(&p->a, wire + 1000, 2000);
    CHECK((memcmp(wire, msg, sizeof(msg)) != 0) == (p->a.selected == BT_MSE_RC4));
    bt_mse_decrypt(&p->b, wire, 1);
    bt_mse_decrypt(&p->b, wire + 1, 2999);
    CHECK(memcmp(wire, msg, sizeof(msg)) == 0);
    memcpy(wire, msg, sizeof(msg));
    bt_mse_encrypt(&p->b, wire, sizeof(wire));
    bt_mse_decrypt(&p->a, wire, 7);
    bt_mse_decrypt(&p->a, wire + 7, sizeof(wire) - 7);
    CHECK(memcmp(wire, msg, sizeof(msg)) == 0);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    while (n > 0 && p[n - 1] == 0)
        n--;
    return n == 0;
}

static void test_handshake_rc4_in_memory(void)
{
    static const size_t chunks[] = {0, 1, 7, 97, 600};
    struct pair p;
    size_t i;

    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        pair_init(&p, BT_MSE_RC4, BT_MSE_RC4 | BT_MSE_PLAINTEXT, true, 1);
        CHECK(pair_run(&p, chunks[i]) == 0);
        CHECK(p.a.selected == BT_MSE_RC4 && p.b.selected == BT_MSE_RC4);
        CHECK(memcmp(p.b.skey, p.st.hashes[1], 20) == 0);
        CHECK(all_zero(p.a.priv, sizeof(p.a.priv)) && all_zero(p.a.secret, sizeof(p.a.secret)));
        CHECK(all_zero(p.b.priv, sizeof(p.b.priv)) && all_zero(p.b.secret, sizeof(p.b.secret)));
        check_payload(&p);
        pair_deinit(&p);
    }
}

static void test_handshake_selects_plaintext_when_both_allow(void)
{
    struct pair p;

    pair_init(&p, BT_MSE_RC4 | BT_MSE_PLAINTEXT, BT_MSE_RC4 | BT_MSE_PLAINTEXT, true, 2);
    CHECK(pair_run(&p, 0) == 0);
    CHECK(p.a.selected == BT_MSE_PLAINTEXT && p.b.selected == BT_MSE_PLAINTEXT);
    check_payload(&p);
    pair_deinit(&p);
}

static void test_receiver_preferring_rc4_selects_it(void)
{
    struct pair p;

    pair_init(&p, BT_MSE_RC4 | BT_MSE_PLAINTEXT, BT_MSE_RC4 | BT_MSE_PLAINTEXT, false, 0);
    CHECK(pair_run(&p, 3) == 0);
    CHECK(p.a.selected == BT_MSE_RC4 && p.b.selected == BT_MSE_RC4);
    check_payload(&p);
    pair_deinit(&p);
}

static void test_no_common_method_is_refused(void)
{
    struct pair p;

    pair_init(&p, BT_MSE_PLAINTEXT, BT_MSE_RC4, false, 0);
    CHECK(pair_run(&p, 0) == -EPROTO);
    CHECK(p.b.error != NULL);
    CHECK(all_zero(p.b.priv, sizeof(p.b.priv)) && all_zero(p.b.secret, sizeof(p.b.secret)));
    pair_deinit(&p);
}

static void test_unknown_torrent_is_refused(void)
{
    struct pair p;

    pair_init(&p, BT_MSE_RC4, BT_MSE_RC4, false, 0);
    p.st.n = 0;
    CHECK(pair_run(&p, 0) == -ENOENT);
    CHECK(p.st.lookups == 1);
    pair_deinit(&p);
}

/* Replaces the pad after the 96-byte key at the start of b with pad_len random bytes. */
static void repad(struct bt_buf *b, size_t pad_len)
{
    uint8_t pad[1024];

    b->len = BT_DH_LEN;
    bt_random_bytes(pad, pad_len);
    CHECK(bt_buf_append(b, pad, pad_len) == 0);
}

static void test_sync_with_maximum_padding(void)
{
    struct pair p;
    size_t chunk;

    for (chunk = 0; chunk < 200; chunk += 199) {
        pair_init(&p, BT_MSE_RC4, BT_MSE_RC4, false, 0);
        repad(&p.a_to_b, BT_MSE_PAD_MAX);
        CHECK(deliver(&p.b, &p.b_pend, &p.a_to_b, chunk, &p.b_to_a) == 0);
        repad(&p.b_to_a, BT_MSE_PAD_MAX); /* Yb came out at once, and PadB */
        CHECK(pair_run(&p, chunk) == 0);
        check_payload(&p);
        pair_deinit(&p);
    }
}

static void test_sync_gives_up_past_the_limit(void)
{
    struct pair p;

    /* PadA one byte too long: B never finds req1 within 532 bytes. */
    pair_init(&p, BT_MSE_RC4, BT_MSE_RC4, false, 0);
    repad(&p.a_to_b, BT_MSE_PAD_MAX + 1);
    CHECK(pair_run(&p, 0) == -EBADMSG);
    CHECK(p.b.error && strstr(p.b.error, "532"));
    pair_deinit(&p);
    /* PadB one byte too long: A never finds ENCRYPT(VC) within 520 bytes. */
    pair_init(&p, BT_MSE_RC4, BT_MSE_RC4, false, 0);
    CHECK(deliver(&p.b, &p.b_pend, &p.a_to_b, 0, &p.b_to_a) == 0);
    repad(&p.b_to_a, BT_MSE_PAD_MAX + 1);
    CHECK(pair_run(&p, 0) == -EBADMSG);
    CHECK(p.a.error && strstr(p.a.error, "520"));
    pair_deinit(&p);
}

static void test_garbage_is_refused(void)
{
    uint8_t junk[2048];
    struct bt_buf out;
    struct store st;
    struct bt_mse m;
    int i, r;

    init_store(&st);
    bt_buf_init(&out, 0);
    for (i = 0; i < 50; i++) {
        bt_random_bytes(junk, sizeof(junk));
        bt_mse_init_receiver(&m, BT_MSE_RC4 | BT_MSE_PLAINTEXT, true, find, &st);
        r = bt_mse_feed(&m, junk, sizeof(junk), &out);
        CHECK(r < 0 && m.error != NULL);
        CHECK(bt_mse_feed(&m, junk, sizeof(junk), &out) < 0); /* and stays failed */
        CHECK(out.len >= BT_DH_LEN && out.len <= BT_DH_LEN + BT_MSE_PAD_MAX);
        out.len = 0;
        CHECK(bt_mse_init_initiator(&m, st.hashes[0], BT_MSE_RC4, NULL, 0, &out) == 0);
        r = bt_mse_feed(&m, junk, sizeof(junk), &out);
        CHECK(r < 0 && m.error != NULL);
        out.len = 0;
    }
    bt_buf_deinit(&out);
}

static void test_tampered_step3_is_refused(void)
{
    struct pair p;

    pair_init(&p, BT_MSE_RC4, BT_MSE_RC4, false, 0);
    CHECK(deliver(&p.b, &p.b_pend, &p.a_to_b, 0, &p.b_to_a) == 0);
    CHECK(deliver(&p.a, &p.a_pend, &p.b_to_a, 0, &p.a_to_b) == 0);
    CHECK(p.a_to_b.len == 40 + 16 + 23);
    p.a_to_b.data[40] ^= 1; /* the first byte of ENCRYPT(VC) */
    CHECK(pair_run(&p, 0) == -EBADMSG);
    CHECK(p.b.error && strstr(p.b.error, "verification"));
    pair_deinit(&p);
}

static void test_initiator_refuses_bad_arguments(void)
{
    uint8_t skey[20] = {0}, ia[BT_MSE_IA_SEND_MAX + 1] = {0};
    struct bt_buf out;
    struct bt_mse m;

    bt_buf_init(&out, 0);
    CHECK(bt_mse_init_initiator(&m, skey, BT_MSE_RC4, ia, sizeof(ia), &out) == -EMSGSIZE);
    CHECK(bt_mse_init_initiator(&m, skey, 0x04, ia, 1, &out) == -EINVAL);
    CHECK(out.len == 0);
    bt_buf_deinit(&out);
}

static void test_plaintext_prefix_detection(void)
{
    CHECK(bt_mse_is_plaintext((const uint8_t *)"", 0) == -EAGAIN);
    CHECK(bt_mse_is_plaintext((const uint8_t *)"\x13"
                                               "Bit",
                              4) == -EAGAIN);
    CHECK(bt_mse_is_plaintext((const uint8_t *)BT_MSE_PLAIN_PREFIX "x", 21) == 1);
    CHECK(bt_mse_is_plaintext((const uint8_t *)"\x13"
                                               "Bix",
                              4) == 0);
    CHECK(bt_mse_is_plaintext((const uint8_t *)"\x12", 1) == 0);
}

static void test_req2_known_value(void)
{
    uint8_t skey[20] = {0}, h[20], want[20];

    bt_mse_req2(h, skey);
    unhex(want, "a2310e5196f70e3bc4377b442d9bcb53c9d1c4f6"); /* sha1("req2" + 20 zeros) */
    CHECK(memcmp(h, want, 20) == 0);
}

int main(void)
{
    if (bt_crypto_init() < 0)
        return 1;
    TAP_RUN(test_rc4_matches_rfc6229);
    TAP_RUN(test_rc4_skip_equals_crypting);
    TAP_RUN(test_dh_public_known_values);
    TAP_RUN(test_dh_secret_agrees_both_ways);
    TAP_RUN(test_dh_rejects_degenerate_keys);
    TAP_RUN(test_handshake_rc4_in_memory);
    TAP_RUN(test_handshake_selects_plaintext_when_both_allow);
    TAP_RUN(test_receiver_preferring_rc4_selects_it);
    TAP_RUN(test_no_common_method_is_refused);
    TAP_RUN(test_unknown_torrent_is_refused);
    TAP_RUN(test_sync_with_maximum_padding);
    TAP_RUN(test_sync_gives_up_past_the_limit);
    TAP_RUN(test_garbage_is_refused);
    TAP_RUN(test_tampered_step3_is_refused);
    TAP_RUN(test_initiator_refuses_bad_arguments);
    TAP_RUN(test_plaintext_prefix_detection);
    TAP_RUN(test_req2_known_value);
    return tap_done();
}
