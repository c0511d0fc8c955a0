/*
 * fuzz-mse: libFuzzer target for the Message Stream Encryption handshake.
 *
 * The first byte picks a side and a chunk size. Raw modes feed the input
 * to a fresh receiver or initiator as the peer's bytes. Keyed modes start
 * from a handshake run honestly up to the DH exchange (computed once; the
 * state owns no heap memory, so it is copied per input) and feed the
 * input as the plaintext the peer would have encrypted: for B, after the
 * real HASH('req1', S) and HASH('req2') xor HASH('req3') header; for A,
 * from the first byte after Yb. Neither side may consume more than it was
 * given, write more than a handshake's worth, or end with an error and no
 * reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz.h"
#include "mse.h"
#include "sha1.h"

#define MAX_IN 4096

static const uint8_t skey[20] = {0x5a, 0x5a, 0x5a};
static struct bt_mse a_keyed, b_keyed; /* A after Yb, B after Ya */
static uint8_t header[40];             /* A's step 3 up to the encrypted part */

static bool find(void *data, const uint8_t req2[20], uint8_t ret_skey[20])
{
    uint8_t h[20];

    (void)data;
    bt_mse_req2(h, skey);
    if (memcmp(h, req2, 20) != 0)
        return false;
    memcpy(ret_skey, skey, 20);
    return true;
}

static void setup(void)
{
    struct bt_buf ab, ba;

    FUZZ_ASSERT(bt_crypto_init() == 0);
    bt_buf_init(&ab, 0);
    bt_buf_init(&ba, 0);
    FUZZ_ASSERT(
        bt_mse_init_initiator(&a_keyed, skey, BT_MSE_RC4 | BT_MSE_PLAINTEXT, NULL, 0, &ab) == 0);
    bt_mse_init_receiver(&b_keyed, BT_MSE_RC4 | BT_MSE_PLAINTEXT, true, find, NULL);
    FUZZ_ASSERT(bt_mse_feed(&b_keyed, ab.data, BT_DH_LEN, &ba) == BT_DH_LEN);
    ab.len = 0;
    FUZZ_ASSERT(bt_mse_feed(&a_keyed, ba.data, BT_DH_LEN, &ab) == BT_DH_LEN);
    memcpy(header, ab.data, sizeof(header));
    bt_buf_deinit(&ab);
    bt_buf_deinit(&ba);
}

/* RC4 keyed as the peer's sending side: HASH(tag, S, SKEY), 1024 bytes dropped. */
static void peer_encrypt(const struct bt_mse *m, const char *tag, uint8_t *buf, size_t n)
{
    uint8_t key[20];
    struct bt_sha1 s;
    struct bt_rc4 r;

    FUZZ_ASSERT(bt_sha1_init(&s) == 0);
    bt_sha1_update(&s, tag, 4);
    bt_sha1_update(&s, m->secret, BT_DH_LEN);
    bt_sha1_update(&s, skey, 20);
    bt_sha1_final(&s, key);
    bt_rc4_init(&r, key, sizeof(key));
    bt_rc4_skip(&r, 1024);
    bt_rc4_crypt(&r, buf, n);
}

/* Feeds in to m chunk bytes at a time, as a connection's read buffer would. */
static void run(struct bt_mse *m, uint8_t *in, size_t len, size_t chunk)
{
    struct bt_buf out;
    size_t have = 0, off = 0;
    int r = 0;

    bt_buf_init(&out, 0);
    while (have < len && !bt_mse_done(m)) {
        have = have + chunk < len ? have + chunk : len;
        r = bt_mse_feed(m, in + off, have - off, &out);
        if (r < 0)
            break;
        FUZZ_ASSERT((size_t)r <= have - off);
        off += (size_t)r;
    }
    FUZZ_ASSERT(r >= 0 || m->error != NULL);
    FUZZ_ASSERT(out.len <= BT_DH_LEN + BT_MSE_PAD_MAX + 40 + 16 + BT_MSE_IA_SEND_MAX);
    if (bt_mse_done(m))
        bt_mse_decrypt(m, in + off, len - off);
    bt_buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    uint8_t in[sizeof(header) + MAX_IN];
    struct bt_mse m;
    struct bt_buf junk;
    size_t n, chunk;

    if (!ready) {
        setup();
        ready = true;
    }
    if (size < 1)
        return 0;
    chunk = (size_t)(data[0] >> 2) * 7 + 1;
    n = size - 1 > MAX_IN ? MAX_IN : size - 1;
    switch (data[0] & 3) {
    case 0:
        memcpy(in, data + 1, n);
        bt_mse_init_receiver(&m, BT_MSE_RC4, false, find, NULL);
        run(&m, in, n, chunk);
        break;
    case 1:
        memcpy(in, data + 1, n);
        bt_buf_init(&junk, 0);
        FUZZ_ASSERT(bt_mse_init_initiator(&m, skey, BT_MSE_RC4, NULL, 0, &junk) == 0);
        bt_buf_deinit(&junk);
        run(&m, in, n, chunk);
        break;
    case 2:
        m = b_keyed;
        memcpy(in, header, sizeof(header));
        memcpy(in + sizeof(header), data + 1, n);
        peer_encrypt(&m, "keyA", in + sizeof(header), n);
        run(&m, in, sizeof(header) + n, chunk);
        break;
    default:
        m = a_keyed;
        memcpy(in, data + 1, n);
        peer_encrypt(&m, "keyB", in, n);
        run(&m, in, n, chunk);
        break;
    }
    return 0;
}
