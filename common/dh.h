/*
 * dh: the Diffie-Hellman exchange of Message Stream Encryption (mse.h):
 * the 768-bit MSE prime P, generator 2, 160-bit private keys. Numbers are
 * big-endian, left-padded with zeros to BT_DH_LEN bytes. Through OpenSSL's
 * BIGNUM; with sha1.c, the only files that speak OpenSSL. Any thread.
 */
#ifndef BT_DH_H
#define BT_DH_H

#include <stdint.h>

#define BT_DH_LEN 96      /* bytes of a public key or shared secret */
#define BT_DH_PRIV_LEN 20 /* bytes of a private key */

/* pub = 2^priv mod P. 0 or -ENOMEM. */
int bt_dh_public(uint8_t pub[BT_DH_LEN], const uint8_t priv[BT_DH_PRIV_LEN]);
/*
 * secret = peer^priv mod P. -EBADMSG if peer is not in [2, P-2] (a key
 * that would make the secret guessable), -ENOMEM.
 */
int bt_dh_secret(uint8_t secret[BT_DH_LEN], const uint8_t priv[BT_DH_PRIV_LEN],
                 const uint8_t peer[BT_DH_LEN]);

#endif
