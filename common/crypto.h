/*
 * crypto: SHA-256, random bytes, base64 and constant-time comparison,
 * through libsodium; the only file that speaks libsodium. Any thread after
 * bt_crypto_init() has returned 0 once.
 */
#ifndef BT_CRYPTO_H
#define BT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_SHA256_LEN 32

/* Initialises libsodium. 0 or -EIO. Safe to call more than once. */
int bt_crypto_init(void);
void bt_sha256(uint8_t out[BT_SHA256_LEN], const void *p, size_t n);
void bt_random_bytes(void *out, size_t n);
/* A uniform random number in [0, upper). */
uint32_t bt_random_uniform(uint32_t upper);
/* True if a and b are equal, in time independent of their contents. */
bool bt_ct_equal(const void *a, const void *b, size_t n);

/* Base64 (standard alphabet, padded). Output size for n input bytes, NUL included. */
size_t bt_base64_encoded_len(size_t n);
void bt_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t n);
/*
 * Decodes into out (capacity out_size). Returns the decoded length or
 * -EINVAL (bad input) / -EMSGSIZE (does not fit).
 */
int bt_base64_decode(uint8_t *out, size_t out_size, const char *in, size_t in_len);

#endif
