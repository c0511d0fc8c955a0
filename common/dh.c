/* With sha1.c, the only files that speak OpenSSL. */
#include "dh.h"

#include <errno.h>
#include <openssl/bn.h>

static const uint8_t prime[BT_DH_LEN] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
};

/* out = base^priv mod P; base NULL means 2. checks: base must be in [2, P-2]. */
static int modexp(uint8_t out[BT_DH_LEN], const uint8_t *base, const uint8_t priv[BT_DH_PRIV_LEN])
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p, *b, *e, *r, *pm2;
    int ret = -ENOMEM;

    if (!ctx)
        return -ENOMEM;
    BN_CTX_start(ctx);
    p = BN_CTX_get(ctx);
    b = BN_CTX_get(ctx);
    e = BN_CTX_get(ctx);
    r = BN_CTX_get(ctx);
    pm2 = BN_CTX_get(ctx);
    if (!pm2 || !BN_bin2bn(prime, BT_DH_LEN, p) || !BN_bin2bn(priv, BT_DH_PRIV_LEN, e))
        goto out;
    if (base ? !BN_bin2bn(base, BT_DH_LEN, b) : !BN_set_word(b, 2))
        goto out;
    if (!BN_copy(pm2, p) || !BN_sub_word(pm2, 2))
        goto out;
    if (BN_cmp(b, BN_value_one()) <= 0 || BN_cmp(b, pm2) > 0) {
        ret = -EBADMSG;
        goto out;
    }
    if (!BN_mod_exp(r, b, e, p, ctx) || BN_bn2binpad(r, out, BT_DH_LEN) != BT_DH_LEN)
        goto out;
    ret = 0;
out:
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ret;
}

int bt_dh_public(uint8_t pub[BT_DH_LEN], const uint8_t priv[BT_DH_PRIV_LEN])
{
    return modexp(pub, NULL, priv);
}

int bt_dh_secret(uint8_t secret[BT_DH_LEN], const uint8_t priv[BT_DH_PRIV_LEN],
                 const uint8_t peer[BT_DH_LEN])
{
    return modexp(secret, peer, priv);
}
