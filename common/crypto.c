/* The only file that speaks libsodium. */
#include "crypto.h"

#include <errno.h>
#include <sodium.h>

int bt_crypto_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

void bt_sha256(uint8_t out[BT_SHA256_LEN], const void *p, size_t n)
{
    crypto_hash_sha256(out, p, n);
}

void bt_random_bytes(void *out, size_t n)
{
    randombytes_buf(out, n);
}

uint32_t bt_random_uniform(uint32_t upper)
{
    return upper ? randombytes_uniform(upper) : 0;
}

bool bt_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

size_t bt_base64_encoded_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

void bt_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t n)
{
    sodium_bin2base64(out, out_size, in, n, sodium_base64_VARIANT_ORIGINAL);
}

int bt_base64_decode(uint8_t *out, size_t out_size, const char *in, size_t in_len)
{
    size_t len = 0, digits = 0, i;

    for (i = 0; i < in_len; i++) {
        if (in[i] != '=' && in[i] != ' ' && in[i] != '\t' && in[i] != '\r' && in[i] != '\n')
            digits++;
    }
    if (digits / 4 * 3 + (digits % 4 ? digits % 4 - 1 : 0) > out_size)
        return -EMSGSIZE;
    if (sodium_base642bin(out, out_size, in, in_len, " \t\r\n", &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -EINVAL;
    if (len > INT32_MAX)
        return -EMSGSIZE;
    return (int)len;
}
