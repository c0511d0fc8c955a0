/*
 * mse: Message Stream Encryption (also "Protocol Encryption"), the
 * obfuscated handshake libtorrent, Transmission, Vuze and aria2 speak before
 * the BitTorrent handshake. Sans I/O: bytes in, bytes out. Any thread; a
 * state belongs to one connection.
 *
 * The exchange (A dials, B answers; HASH is SHA-1, S the DH secret, SKEY
 * the info-hash, ENCRYPT RC4 keyed HASH('keyA', S, SKEY) from A and
 * HASH('keyB', S, SKEY) from B, the first 1024 bytes of each keystream
 * dropped; VC is 8 zero bytes):
 *
 *   A->B  Ya, PadA
 *   B->A  Yb, PadB
 *   A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload
 *   A->B  the payload
 *
 * The payload (IA aside) is RC4 if crypto_select is BT_MSE_RC4, plaintext
 * if it is BT_MSE_PLAINTEXT. Pads are 0..512 bytes, so B finds HASH('req1',
 * S) within 532 bytes after Ya and A finds ENCRYPT(VC) within 520 bytes
 * after Yb; nothing longer is buffered. Our pads: PadA and PadB random
 * bytes of random length, PadC and PadD empty.
 *
 * The state owns no heap memory: it may be freed or reused at any time.
 */
#ifndef BT_MSE_H
#define BT_MSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dh.h"
#include "rc4.h"

/* crypto_provide / crypto_select bits. */
#define BT_MSE_PLAINTEXT 0x01u
#define BT_MSE_RC4 0x02u

#define BT_MSE_PAD_MAX 512                  /* bytes of PadA..PadD */
#define BT_MSE_IA_SEND_MAX 128              /* bytes of IA we carry */
#define BT_MSE_SYNC_A (BT_MSE_PAD_MAX + 8)  /* A: PadB + ENCRYPT(VC) */
#define BT_MSE_SYNC_B (BT_MSE_PAD_MAX + 20) /* B: PadA + HASH('req1', S) */
#define BT_MSE_PLAIN_PREFIX                                                                        \
    "\x13"                                                                                         \
    "BitTorrent protocol" /* a plaintext handshake's start */
#define BT_MSE_PLAIN_PREFIX_LEN 20

enum bt_mse_state {
    BT_MSE_A_WAIT_YB,   /* A sent Ya, PadA */
    BT_MSE_A_SYNC_VC,   /* A sent step 3; looks for ENCRYPT(VC) */
    BT_MSE_A_SELECT,    /* crypto_select, len(PadD) */
    BT_MSE_A_PAD_D,     /* PadD */
    BT_MSE_B_WAIT_YA,   /* B waits for Ya */
    BT_MSE_B_SYNC_REQ1, /* B sent Yb, PadB; looks for HASH('req1', S) */
    BT_MSE_B_SKEY,      /* HASH('req2', SKEY) xor HASH('req3', S) */
    BT_MSE_B_PROVIDE,   /* VC, crypto_provide, len(PadC) */
    BT_MSE_B_PAD_C,     /* PadC, len(IA) */
    BT_MSE_DONE,
};

/*
 * B's torrent lookup: the torrent whose HASH('req2', info-hash) is req2.
 * Writes its info-hash to ret_skey and returns true, or returns false.
 */
typedef bool (*bt_mse_find_cb)(void *data, const uint8_t req2[20], uint8_t ret_skey[20]);

struct bt_mse {
    enum bt_mse_state state;
    uint32_t allowed;             /* BT_MSE_* bits we accept */
    bool prefer_plaintext;        /* B: select plaintext when both sides allow it */
    uint32_t selected;            /* BT_MSE_PLAINTEXT or BT_MSE_RC4, once DONE */
    uint8_t priv[BT_DH_PRIV_LEN]; /* zeroed once the handshake is done or failed */
    uint8_t secret[BT_DH_LEN];    /* likewise */
    uint8_t skey[20];             /* the info-hash: A's from the start, B's once found */
    uint8_t sync[20];             /* A: ENCRYPT(VC) (8 bytes); B: HASH('req1', S) */
    uint32_t pad_len;             /* bytes of PadC or PadD announced */
    uint32_t ia_left;             /* B: bytes of IA not yet decrypted (RC4 whatever was selected) */
    uint8_t ia[BT_MSE_IA_SEND_MAX]; /* A: the IA to send in step 3 */
    uint32_t ia_len;                /* A: bytes */
    struct bt_rc4 enc;              /* what we send */
    struct bt_rc4 dec;              /* what we receive */
    bt_mse_find_cb find;            /* B */
    void *find_data;                /* B, borrowed */
    const char *error;              /* static: why the handshake failed, for a log line */
};

/*
 * A: starts the handshake for the torrent skey, carrying ia (the
 * BitTorrent handshake, or nothing; at most BT_MSE_IA_SEND_MAX bytes) in step
 * 3, offering the allowed bits. Appends Ya and PadA to out. 0, -EMSGSIZE
 * (ia too long), -EINVAL (allowed names no method) or -ENOMEM.
 */
int bt_mse_init_initiator(struct bt_mse *m, const uint8_t skey[20], uint32_t allowed,
                          const uint8_t *ia, size_t ia_len, struct bt_buf *out);
/* B: waits for Ya. Their IA (up to 65535 bytes) follows the handshake as payload. */
void bt_mse_init_receiver(struct bt_mse *m, uint32_t allowed, bool prefer_plaintext,
                          bt_mse_find_cb find, void *data);
/*
 * Reads the peer's handshake bytes from in (which may be decrypted in
 * place) and appends what we must send to out. Returns the bytes consumed
 * (0 is fine: more input needed) or -EBADMSG / -EMSGSIZE / -EPROTO / -ENOENT /
 * -ENOMEM with m->error set; the handshake is over when bt_mse_done().
 * The bytes after the consumed ones are payload, for bt_mse_decrypt.
 * A sends nothing but its IA before the handshake is done.
 */
int bt_mse_feed(struct bt_mse *m, uint8_t *in, size_t len, struct bt_buf *out);
bool bt_mse_done(const struct bt_mse *m);
/* Payload received after the handshake (B: IA first), in place, in order. */
void bt_mse_decrypt(struct bt_mse *m, uint8_t *buf, size_t n);
/* Payload to send after the handshake, in place, in order. */
void bt_mse_encrypt(struct bt_mse *m, uint8_t *buf, size_t n);
/* HASH('req2', skey): what B compares against each torrent. */
void bt_mse_req2(uint8_t out[20], const uint8_t skey[20]);
/*
 * Whether a connection's first bytes are a plaintext BitTorrent handshake:
 * 1 yes, 0 no (MSE), -EAGAIN: too few bytes to tell.
 */
int bt_mse_is_plaintext(const uint8_t *in, size_t len);

#endif
