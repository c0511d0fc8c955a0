/*
 * bitfield: which of a torrent's N pieces someone has (we or a peer).
 *
 * Any thread; a bitfield belongs to one thread at a time. It owns its byte
 * array, kept in BEP 3 wire order (the high bit of byte 0 is piece 0) with
 * the spare bits of the last byte always zero, so bits can be sent as the
 * body of a bitfield message as they are. The number of set bits is kept up
 * to date, so counting and "has everything" are O(1).
 *
 * Limits: at most BT_BITFIELD_MAX_PIECES pieces (1 MiB of bits), checked
 * before allocating. A peer's bitfield from the wire must be exactly
 * (npieces + 7) / 8 bytes with zero spare bits, or it is -EBADMSG.
 */
#ifndef BT_BITFIELD_H
#define BT_BITFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_BITFIELD_MAX_PIECES ((uint32_t)1 << 23)

struct bt_bitfield {
    uint8_t *bits; /* owned; bt_bitfield_bytes(npieces) bytes; NULL if 0 pieces */
    uint32_t npieces;
    uint32_t nset; /* bits set; always equal to the count of ones in bits */
};

/* Bytes of bits for npieces pieces: the size of a bitfield message's body. */
static inline size_t bt_bitfield_bytes(uint32_t npieces)
{
    return ((size_t)npieces + 7) / 8;
}

/* All clear. 0, -EMSGSIZE (over BT_BITFIELD_MAX_PIECES) or -ENOMEM. */
int bt_bitfield_init(struct bt_bitfield *bf, uint32_t npieces);
void bt_bitfield_deinit(struct bt_bitfield *bf);

/* False for i >= npieces. */
bool bt_bitfield_test(const struct bt_bitfield *bf, uint32_t i);
/*
 * Set or clear piece i. Returns 1 if the bit changed, 0 if it already had
 * that value (so a repeated have message is not counted twice), -ERANGE
 * for i >= npieces.
 */
int bt_bitfield_set(struct bt_bitfield *bf, uint32_t i);
int bt_bitfield_clear(struct bt_bitfield *bf, uint32_t i);
/* For have all / have none. */
void bt_bitfield_set_all(struct bt_bitfield *bf);
void bt_bitfield_clear_all(struct bt_bitfield *bf);

static inline uint32_t bt_bitfield_count(const struct bt_bitfield *bf)
{
    return bf->nset;
}
/* True when every piece is set (vacuously true for 0 pieces). */
static inline bool bt_bitfield_all(const struct bt_bitfield *bf)
{
    return bf->nset == bf->npieces;
}

/*
 * Replaces the contents with the bits of a peer's bitfield message. len
 * must be bt_bitfield_bytes(npieces) and the spare bits zero: -EBADMSG
 * otherwise, and bf is left as it was.
 */
int bt_bitfield_from_wire(struct bt_bitfield *bf, const uint8_t *data, size_t len);
/* Copies the bits to out; returns the bytes written or -ENOBUFS. */
int bt_bitfield_to_wire(const struct bt_bitfield *bf, uint8_t *out, size_t out_len);

#endif
