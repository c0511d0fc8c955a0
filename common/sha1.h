/*
 * sha1: SHA-1 through OpenSSL's libcrypto; with dh.c, the only files that speak
 * OpenSSL. Any thread; a context belongs to one thread at a time.
 */
#ifndef BT_SHA1_H
#define BT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define BT_SHA1_LEN 20

struct bt_sha1 {
    void *ctx; /* owned: EVP_MD_CTX */
};

int bt_sha1_init(struct bt_sha1 *s);
void bt_sha1_update(struct bt_sha1 *s, const void *p, size_t n);
/* Writes the digest and frees the context (bt_sha1_init again to reuse). */
void bt_sha1_final(struct bt_sha1 *s, uint8_t out[BT_SHA1_LEN]);
/* Frees a context that will not be finished. */
void bt_sha1_deinit(struct bt_sha1 *s);
/* One shot. */
void bt_sha1(uint8_t out[BT_SHA1_LEN], const void *p, size_t n);

#endif
