#include "mse.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "sha1.h"

#define DISCARD 1024 /* keystream bytes dropped after keying */

static const uint8_t vc[8];

static void hash2(uint8_t out[20], const char *tag, const uint8_t *a, size_t alen)
{
    struct bt_sha1 s;

    if (bt_sha1_init(&s) < 0) {
        memset(out, 0, 20); /* cannot match anything a peer computed */
        return;
    }
    bt_sha1_update(&s, tag, 4);
    bt_sha1_update(&s, a, alen);
    bt_sha1_final(&s, out);
}

static void key_stream(struct bt_rc4 *r, const char *tag, const struct bt_mse *m)
{
    uint8_t key[20];
    struct bt_sha1 s;

    memset(key, 0, sizeof(key));
    if (bt_sha1_init(&s) == 0) {
        bt_sha1_update(&s, tag, 4);
        bt_sha1_update(&s, m->secret, BT_DH_LEN);
        bt_sha1_update(&s, m->skey, 20);
        bt_sha1_final(&s, key);
    }
    bt_rc4_init(r, key, sizeof(key));
    explicit_bzero(key, sizeof(key)); /* the RC4 state is all that is needed from here */
    bt_rc4_skip(r, DISCARD);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

static int fail(struct bt_mse *m, int err, const char *why)
{
    m->error = why;
    return err;
}

/* Our public key and a random pad of random length. */
static int send_public(struct bt_mse *m, struct bt_buf *out)
{
    uint8_t pub[BT_DH_LEN], pad[BT_MSE_PAD_MAX];
    uint32_t pad_len = bt_random_uniform(BT_MSE_PAD_MAX + 1);
    int r;

    bt_random_bytes(m->priv, sizeof(m->priv));
    r = bt_dh_public(pub, m->priv);
    if (r < 0)
        return fail(m, r, "MSE: out of memory");
    bt_random_bytes(pad, pad_len);
    if (bt_buf_append(out, pub, sizeof(pub)) < 0 || bt_buf_append(out, pad, pad_len) < 0)
        return fail(m, -ENOMEM, "MSE: out of memory");
    return 0;
}

int bt_mse_init_initiator(struct bt_mse *m, const uint8_t skey[20], uint32_t allowed,
                          const uint8_t *ia, size_t ia_len, struct bt_buf *out)
{
    memset(m, 0, sizeof(*m));
    if (ia_len > BT_MSE_IA_SEND_MAX)
        return -EMSGSIZE;
    if (!(allowed & (BT_MSE_PLAINTEXT | BT_MSE_RC4)))
        return -EINVAL;
    m->state = BT_MSE_A_WAIT_YB;
    m->allowed = allowed & (BT_MSE_PLAINTEXT | BT_MSE_RC4);
    memcpy(m->skey, skey, 20);
    if (ia_len)
        memcpy(m->ia, ia, ia_len);
    m->ia_len = (uint32_t)ia_len;
    return send_public(m, out);
}

void bt_mse_init_receiver(struct bt_mse *m, uint32_t allowed, bool prefer_plaintext,
                          bt_mse_find_cb find, void *data)
{
    memset(m, 0, sizeof(*m));
    m->state = BT_MSE_B_WAIT_YA;
    m->allowed = allowed & (BT_MSE_PLAINTEXT | BT_MSE_RC4);
    m->prefer_plaintext = prefer_plaintext;
    m->find = find;
    m->find_data = data;
}

/* Where needle (n bytes) first occurs in hay, or -1. */
static long find_bytes(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
    size_t i;

    for (i = 0; i + n <= len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return (long)i;
    }
    return -1;
}

/* A has Yb: the secret, the keys, step 3. */
static int a_got_yb(struct bt_mse *m, const uint8_t *yb, struct bt_buf *out)
{
    uint8_t msg[20 + 20 + 8 + 4 + 2 + 2 + BT_MSE_IA_SEND_MAX], req3[20], *c;
    struct bt_rc4 peek;
    size_t i, n;
    int r = bt_dh_secret(m->secret, m->priv, yb);

    if (r < 0)
        return fail(m, r,
                    r == -EBADMSG ? "MSE: their public key is degenerate" : "MSE: out of memory");
    hash2(msg, "req1", m->secret, BT_DH_LEN);
    bt_mse_req2(msg + 20, m->skey);
    hash2(req3, "req3", m->secret, BT_DH_LEN);
    for (i = 0; i < 20; i++)
        msg[20 + i] ^= req3[i];
    key_stream(&m->enc, "keyA", m);
    key_stream(&m->dec, "keyB", m);
    c = msg + 40;
    memcpy(c, vc, 8);
    put32(c + 8, m->allowed);
    put16(c + 12, 0); /* len(PadC) */
    put16(c + 14, m->ia_len);
    memcpy(c + 16, m->ia, m->ia_len);
    n = 16 + m->ia_len;
    bt_rc4_crypt(&m->enc, c, n);
    if (bt_buf_append(out, msg, 40 + n) < 0)
        return fail(m, -ENOMEM, "MSE: out of memory");
    peek = m->dec; /* ENCRYPT(VC): the next 8 bytes of their keystream */
    memset(m->sync, 0, 8);
    bt_rc4_crypt(&peek, m->sync, 8);
    m->state = BT_MSE_A_SYNC_VC;
    return 0;
}

/* B has Ya: the secret, Yb and PadB. */
static int b_got_ya(struct bt_mse *m, const uint8_t *ya, struct bt_buf *out)
{
    int r = send_public(m, out);

    if (r < 0)
        return r;
    r = bt_dh_secret(m->secret, m->priv, ya);
    if (r < 0)
        return fail(m, r,
                    r == -EBADMSG ? "MSE: their public key is degenerate" : "MSE: out of memory");
    hash2(m->sync, "req1", m->secret, BT_DH_LEN);
    m->state = BT_MSE_B_SYNC_REQ1;
    return 0;
}

/* B has HASH('req2', SKEY) xor HASH('req3', S): which torrent, then the keys. */
static int b_got_skey(struct bt_mse *m, const uint8_t *x)
{
    uint8_t req2[20], req3[20];
    size_t i;

    hash2(req3, "req3", m->secret, BT_DH_LEN);
    for (i = 0; i < 20; i++)
        req2[i] = x[i] ^ req3[i];
    if (!m->find || !m->find(m->find_data, req2, m->skey))
        return fail(m, -ENOENT, "MSE: no torrent matches their key");
    key_stream(&m->dec, "keyA", m);
    key_stream(&m->enc, "keyB", m);
    m->state = BT_MSE_B_PROVIDE;
    return 0;
}

/* B has VC, crypto_provide, len(PadC) (decrypted): chooses. */
static int b_got_provide(struct bt_mse *m, const uint8_t *p)
{
    uint32_t both = get32(p + 8) & m->allowed;

    if (memcmp(p, vc, 8) != 0)
        return fail(m, -EBADMSG, "MSE: bad verification constant");
    m->pad_len = get16(p + 12);
    if (m->pad_len > BT_MSE_PAD_MAX)
        return fail(m, -EMSGSIZE, "MSE: PadC over 512 bytes");
    if (!both)
        return fail(m, -EPROTO, "MSE: no encryption method in common");
    if ((both & BT_MSE_PLAINTEXT) && (m->prefer_plaintext || !(both & BT_MSE_RC4)))
        m->selected = BT_MSE_PLAINTEXT;
    else
        m->selected = BT_MSE_RC4;
    m->state = BT_MSE_B_PAD_C;
    return 0;
}

/* B has PadC and len(IA): step 4, done. */
static int b_got_pad_c(struct bt_mse *m, const uint8_t *p, struct bt_buf *out)
{
    uint8_t msg[8 + 4 + 2];

    m->ia_left = get16(p + m->pad_len);
    memcpy(msg, vc, 8);
    put32(msg + 8, m->selected);
    put16(msg + 12, 0); /* len(PadD) */
    bt_rc4_crypt(&m->enc, msg, sizeof(msg));
    if (bt_buf_append(out, msg, sizeof(msg)) < 0)
        return fail(m, -ENOMEM, "MSE: out of memory");
    m->state = BT_MSE_DONE;
    return 0;
}

/* A has crypto_select and len(PadD) (decrypted). */
static int a_got_select(struct bt_mse *m, const uint8_t *p)
{
    uint32_t sel = get32(p);

    if ((sel != BT_MSE_PLAINTEXT && sel != BT_MSE_RC4) || !(sel & m->allowed))
        return fail(m, -EPROTO, "MSE: they selected a method we did not offer");
    m->selected = sel;
    m->pad_len = get16(p + 4);
    if (m->pad_len > BT_MSE_PAD_MAX)
        return fail(m, -EMSGSIZE, "MSE: PadD over 512 bytes");
    m->state = BT_MSE_A_PAD_D;
    return 0;
}

/*
 * One step: the bytes it needs from in (at most len), or 0 for more input;
 * sets *used. < 0 on error.
 */
static int step(struct bt_mse *m, uint8_t *in, size_t len, struct bt_buf *out, size_t *used)
{
    long at;
    int r = 0;

    *used = 0;
    switch (m->state) {
    case BT_MSE_A_WAIT_YB:
    case BT_MSE_B_WAIT_YA:
        if (len < BT_DH_LEN)
            return 0;
        r = m->state == BT_MSE_A_WAIT_YB ? a_got_yb(m, in, out) : b_got_ya(m, in, out);
        *used = BT_DH_LEN;
        break;
    case BT_MSE_A_SYNC_VC:
    case BT_MSE_B_SYNC_REQ1: {
        bool a = m->state == BT_MSE_A_SYNC_VC;
        size_t n = a ? 8 : 20, limit = a ? BT_MSE_SYNC_A : BT_MSE_SYNC_B;

        at = find_bytes(in, len < limit ? len : limit, m->sync, n);
        if (at < 0) {
            if (len >= limit)
                return fail(m, -EBADMSG,
                            a ? "MSE: no verification constant within 520 bytes"
                              : "MSE: no req1 hash within 532 bytes");
            return 0;
        }
        if (a) {
            bt_rc4_crypt(&m->dec, in + at, 8);
            m->state = BT_MSE_A_SELECT;
        } else {
            m->state = BT_MSE_B_SKEY;
        }
        *used = (size_t)at + n;
        break;
    }
    case BT_MSE_B_SKEY:
        if (len < 20)
            return 0;
        r = b_got_skey(m, in);
        *used = 20;
        break;
    case BT_MSE_B_PROVIDE:
        if (len < 14)
            return 0;
        bt_rc4_crypt(&m->dec, in, 14);
        r = b_got_provide(m, in);
        *used = 14;
        break;
    case BT_MSE_B_PAD_C:
        if (len < m->pad_len + 2)
            return 0;
        bt_rc4_crypt(&m->dec, in, m->pad_len + 2);
        r = b_got_pad_c(m, in, out);
        *used = m->pad_len + 2;
        break;
    case BT_MSE_A_SELECT:
        if (len < 6)
            return 0;
        bt_rc4_crypt(&m->dec, in, 6);
        r = a_got_select(m, in);
        *used = 6;
        break;
    case BT_MSE_A_PAD_D:
        if (len < m->pad_len)
            return 0;
        bt_rc4_crypt(&m->dec, in, m->pad_len);
        *used = m->pad_len;
        m->state = BT_MSE_DONE;
        break;
    case BT_MSE_DONE:
        return 0;
    }
    return r;
}

/* The DH keys are needed only until the RC4 keys are made: done or failed, they go. */
static void forget_dh(struct bt_mse *m)
{
    explicit_bzero(m->priv, sizeof(m->priv));
    explicit_bzero(m->secret, sizeof(m->secret));
}

int bt_mse_feed(struct bt_mse *m, uint8_t *in, size_t len, struct bt_buf *out)
{
    size_t off = 0, used;
    enum bt_mse_state before;
    int r;

    if (m->error)
        return -EPROTO;
    do {
        before = m->state;
        r = step(m, in + off, len - off, out, &used);
        if (r < 0) {
            forget_dh(m);
            return r;
        }
        off += used;
    } while (m->state != before && m->state != BT_MSE_DONE);
    if (m->state == BT_MSE_DONE)
        forget_dh(m);
    return off > (size_t)INT32_MAX ? -EMSGSIZE : (int)off;
}

bool bt_mse_done(const struct bt_mse *m)
{
    return m->state == BT_MSE_DONE;
}

void bt_mse_decrypt(struct bt_mse *m, uint8_t *buf, size_t n)
{
    size_t ia = n < m->ia_left ? n : m->ia_left;

    if (ia) {
        bt_rc4_crypt(&m->dec, buf, ia);
        m->ia_left -= (uint32_t)ia;
    }
    if (m->selected == BT_MSE_RC4 && n > ia)
        bt_rc4_crypt(&m->dec, buf + ia, n - ia);
}

void bt_mse_encrypt(struct bt_mse *m, uint8_t *buf, size_t n)
{
    if (m->selected == BT_MSE_RC4)
        bt_rc4_crypt(&m->enc, buf, n);
}

void bt_mse_req2(uint8_t out[20], const uint8_t skey[20])
{
    hash2(out, "req2", skey, 20);
}

int bt_mse_is_plaintext(const uint8_t *in, size_t len)
{
    size_t n = len < BT_MSE_PLAIN_PREFIX_LEN ? len : BT_MSE_PLAIN_PREFIX_LEN;

    if (memcmp(in, BT_MSE_PLAIN_PREFIX, n) != 0)
        return 0;
    return n == BT_MSE_PLAIN_PREFIX_LEN ? 1 : -EAGAIN;
}
