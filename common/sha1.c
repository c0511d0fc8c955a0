/* With dh.c, the only files that speak OpenSSL. */
#include "sha1.h"

#include <errno.h>
#include <openssl/evp.h>

int bt_sha1_init(struct bt_sha1 *s)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -EIO;
    }
    s->ctx = ctx;
    return 0;
}

void bt_sha1_update(struct bt_sha1 *s, const void *p, size_t n)
{
    EVP_DigestUpdate(s->ctx, p, n);
}

void bt_sha1_final(struct bt_sha1 *s, uint8_t out[BT_SHA1_LEN])
{
    unsigned int len = BT_SHA1_LEN;

    EVP_DigestFinal_ex(s->ctx, out, &len);
    bt_sha1_deinit(s);
}

void bt_sha1_deinit(struct bt_sha1 *s)
{
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

void bt_sha1(uint8_t out[BT_SHA1_LEN], const void *p, size_t n)
{
    unsigned int len = BT_SHA1_LEN;

    EVP_Digest(p, n, out, &len, EVP_sha1(), NULL);
}
