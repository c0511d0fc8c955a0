/*
 * rc4: the RC4 stream cipher, for Message Stream Encryption (mse.h) only;
 * OpenSSL 3 keeps RC4 in its legacy provider, so it is written out here.
 * Any thread; a state belongs to one thread at a time.
 */
#ifndef BT_RC4_H
#define BT_RC4_H

#include <stddef.h>
#include <stdint.h>

struct bt_rc4 {
    uint8_t s[256];
    uint8_t i, j;
};

/* Keys the state (key_len 1..256 bytes). */
void bt_rc4_init(struct bt_rc4 *r, const uint8_t *key, size_t key_len);
/* XORs n bytes of keystream into buf (encrypts and decrypts alike). */
void bt_rc4_crypt(struct bt_rc4 *r, uint8_t *buf, size_t n);
/* Discards n bytes of keystream. */
void bt_rc4_skip(struct bt_rc4 *r, size_t n);

#endif
