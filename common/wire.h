/*
 * wire: the BitTorrent peer wire protocol as bytes in, structs out and back
 * (BEP 3, the Fast extension of BEP 6, the extended message of BEP 10).
 * Pure: no I/O, no allocation except through a caller's struct bt_buf.
 * Any thread; nothing here keeps state between calls.
 *
 * Decoding. The handshake has its own parser; every later message is a
 * 4-byte big-endian length, an id byte and a body. bt_wire_parse_head()
 * looks only at the first bytes (4 for a keep-alive, 13 for a piece, 5 for
 * the rest) so that a reader can stream a piece block straight into its
 * piece buffer; bt_wire_parse() decodes a whole message. Both return bytes
 * consumed (> 0), 0 when buf holds too little to decide, or:
 *   -EMSGSIZE  the length claims more than a limit allows. This is checked
 *              as soon as the length (and then the id) has arrived, so a
 *              peer cannot make the caller wait for, or buffer, a body that
 *              will be refused anyway;
 *   -EBADMSG   a message of a known id has the wrong size (a fixed-size
 *              message must be exactly its size; a bitfield must be exactly
 *              bt_wire_limits.bitfield_len bytes once that is known), or the
 *              handshake's protocol string is wrong.
 * An id the codec does not know is not an error: it is returned as
 * BT_WIRE_UNKNOWN (still under max_unknown) so the peer layer can skip it.
 * The codec checks shape only: whether an index is in range, a request
 * length acceptable or a message legal in the connection's state (-EPROTO)
 * is the peer layer's business.
 *
 * Out-parameters (ret) are written only when the return value is > 0.
 *
 * Ownership. struct bt_wire_msg borrows: its data pointer points into the
 * buffer it was parsed from and is valid only as long as that buffer is.
 *
 * Limits (struct bt_wire_limits; 0 in a field means its default, and every
 * field is clamped to BT_WIRE_LIMIT_CEILING so that a whole message's size
 * always fits an int):
 *   max_block     16 KiB. BEP 3: blocks are 16 KiB and bigger requests are
 *                 refused, so nothing larger arrives unless we asked for it.
 *   bitfield_len  the exact bitfield size, (pieces + 7) / 8, once the
 *                 torrent is known; 0 while it is not (a magnet link).
 *   max_bitfield  512 KiB while the size is unknown: a .torrent of at most
 *                 BT_METAINFO_MAX_SIZE holds fewer than 3.4 M piece hashes.
 *   max_extended  65 KiB of extended payload (the extension id excluded): a
 *                 BEP 9 metadata piece is 16 KiB plus a short dictionary and
 *                 handshakes and PEX are a few KiB; 64 KiB plus 1 KiB of
 *                 margin leaves room without letting a peer make us buffer
 *                 much.
 *   max_unknown   16 KiB of body for an id we do not know. We advertise no
 *                 extension (Azureus messaging, BEP 52 hashes) that sends
 *                 large messages under other ids.
 */
#ifndef BT_WIRE_H
#define BT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BT_WIRE_PSTR "BitTorrent protocol"
#define BT_WIRE_PSTR_LEN 19
#define BT_WIRE_HANDSHAKE_LEN 68      /* bytes: 1 + 19 + 8 + 20 + 20 */
#define BT_WIRE_HANDSHAKE_HEAD_LEN 48 /* bytes: all but the peer id */

#define BT_WIRE_HEAD_MAX 13           /* bytes: the longest head, a piece's */
#define BT_WIRE_FIXED_MAX 17          /* bytes: the longest fixed-size message */
#define BT_WIRE_PIECE_HEADER_LEN 13   /* bytes before a piece's block */
#define BT_WIRE_BITFIELD_HEADER_LEN 5 /* bytes before a bitfield's bits */
#define BT_WIRE_EXTENDED_HEADER_LEN 6 /* bytes before an extended payload */

#define BT_WIRE_DEFAULT_MAX_BLOCK (16u * 1024)     /* bytes */
#define BT_WIRE_DEFAULT_MAX_BITFIELD (512u * 1024) /* bytes */
#define BT_WIRE_DEFAULT_MAX_EXTENDED (65u * 1024)  /* bytes */
#define BT_WIRE_DEFAULT_MAX_UNKNOWN (16u * 1024)   /* bytes */
#define BT_WIRE_LIMIT_CEILING ((uint32_t)1 << 28)  /* bytes */

/* Extension bits of the handshake's reserved bytes (BEP 4). */
enum bt_wire_feature {
    BT_WIRE_FEATURE_EXTENDED = 1 << 0, /* BEP 10: reserved[5] & 0x10 */
    BT_WIRE_FEATURE_FAST = 1 << 1,     /* BEP 6: reserved[7] & 0x04 */
    BT_WIRE_FEATURE_DHT = 1 << 2,      /* BEP 5: reserved[7] & 0x01 */
};

/*
 * Message types. A known message's type is its id byte; keep-alive has no
 * id and an unknown id is BT_WIRE_UNKNOWN (the byte is in msg.id).
 */
enum bt_wire_type {
    BT_WIRE_CHOKE = 0,
    BT_WIRE_UNCHOKE = 1,
    BT_WIRE_INTERESTED = 2,
    BT_WIRE_NOT_INTERESTED = 3,
    BT_WIRE_HAVE = 4,
    BT_WIRE_BITFIELD = 5,
    BT_WIRE_REQUEST = 6,
    BT_WIRE_PIECE = 7,
    BT_WIRE_CANCEL = 8,
    BT_WIRE_PORT = 9,            /* BEP 5 */
    BT_WIRE_SUGGEST = 0x0d,      /* BEP 6 */
    BT_WIRE_HAVE_ALL = 0x0e,     /* BEP 6 */
    BT_WIRE_HAVE_NONE = 0x0f,    /* BEP 6 */
    BT_WIRE_REJECT = 0x10,       /* BEP 6: reject request */
    BT_WIRE_ALLOWED_FAST = 0x11, /* BEP 6 */
    BT_WIRE_EXTENDED = 20,       /* BEP 10 */
    BT_WIRE_UNKNOWN = 0x100,
    BT_WIRE_KEEPALIVE = 0x101,
};

struct bt_wire_handshake {
    uint8_t reserved[8];
    uint8_t info_hash[20];
    uint8_t peer_id[20]; /* not written by bt_wire_handshake_parse_head */
};

struct bt_wire_limits {
    uint32_t max_block;    /* bytes of a piece's block; 0: default */
    uint32_t bitfield_len; /* bytes a bitfield must have; 0: not known yet */
    uint32_t max_bitfield; /* bytes, while bitfield_len is 0; 0: default */
    uint32_t max_extended; /* bytes after the extension id; 0: default */
    uint32_t max_unknown;  /* bytes after an unknown id; 0: default */
};

/* What the first bytes of a message say. */
struct bt_wire_head {
    enum bt_wire_type type;
    uint8_t id;      /* the id byte as sent; 0 for a keep-alive */
    uint32_t len;    /* bytes after the length prefix (id and body) */
    uint32_t index;  /* piece only */
    uint32_t begin;  /* piece only: bytes into the piece */
    size_t head_len; /* bytes the head took: 4, 5 or 13 */
    size_t rest_len; /* bytes of the message after the head (a piece: its block) */
};

struct bt_wire_msg {
    enum bt_wire_type type;
    uint8_t id;          /* the id byte as sent; 0 for a keep-alive */
    uint32_t index;      /* have, request, piece, cancel, suggest, reject, allowed fast */
    uint32_t begin;      /* request, piece, cancel, reject: bytes into the piece */
    uint32_t length;     /* request, cancel, reject: bytes */
    uint16_t port;       /* port: the DHT node's UDP port */
    uint8_t ext_id;      /* extended: the extension message id (0 = handshake) */
    const uint8_t *data; /* borrowed: bitfield bits, piece block, extended payload
                            (after ext_id), unknown body; NULL when data_len is 0 */
    size_t data_len;     /* bytes */
};

/* Handshake. */
void bt_wire_reserved_set(uint8_t reserved[8], unsigned features);
/* The enum bt_wire_feature bits set in reserved. */
unsigned bt_wire_reserved_features(const uint8_t reserved[8]);
/* Writes the 68-byte handshake; returns BT_WIRE_HANDSHAKE_LEN. */
int bt_wire_handshake_encode(uint8_t out[BT_WIRE_HANDSHAKE_LEN],
                             const struct bt_wire_handshake *hs);
/*
 * Returns BT_WIRE_HANDSHAKE_LEN once all of it is in buf, 0 for more, or
 * -EBADMSG as soon as the bytes present show a wrong length byte or
 * protocol string.
 */
int bt_wire_handshake_parse(const uint8_t *buf, size_t len, struct bt_wire_handshake *ret);
/*
 * The same for the first 48 bytes only (everything but the peer id), so that
 * an incoming connection can be matched to a torrent before the peer id
 * arrives: returns BT_WIRE_HANDSHAKE_HEAD_LEN; ret->peer_id is untouched.
 */
int bt_wire_handshake_parse_head(const uint8_t *buf, size_t len, struct bt_wire_handshake *ret);

/* Messages after the handshake. lim may be NULL for all defaults. */
int bt_wire_parse_head(const uint8_t *buf, size_t len, const struct bt_wire_limits *lim,
                       struct bt_wire_head *ret);
/* Returns the whole message's size (4 + its length) once it is all in buf. */
int bt_wire_parse(const uint8_t *buf, size_t len, const struct bt_wire_limits *lim,
                  struct bt_wire_msg *ret);

/*
 * Writes a message without a variable part (keep-alive, choke, unchoke,
 * interested, not interested, have, request, cancel, port, suggest, have
 * all, have none, reject, allowed fast) and returns its size; -EINVAL for
 * another type.
 */
int bt_wire_encode(uint8_t out[BT_WIRE_FIXED_MAX], const struct bt_wire_msg *msg);
/*
 * Headers for the messages with a variable part: the caller sends the
 * header and then its own bytes (writev), so a block is never copied.
 * They return the header's size, or -EMSGSIZE if the message's length
 * would not fit the 4-byte prefix.
 */
int bt_wire_piece_header(uint8_t out[BT_WIRE_PIECE_HEADER_LEN], uint32_t index, uint32_t begin,
                         size_t block_len);
int bt_wire_bitfield_header(uint8_t out[BT_WIRE_BITFIELD_HEADER_LEN], size_t bits_len);
int bt_wire_extended_header(uint8_t out[BT_WIRE_EXTENDED_HEADER_LEN], uint8_t ext_id,
                            size_t payload_len);
/*
 * Appends any message (the variable part from msg->data and msg->data_len,
 * an unknown one under msg->id) to b. Returns 0, -EINVAL, -EMSGSIZE or
 * -ENOMEM; on failure b is left as it was.
 */
int bt_wire_append(struct bt_buf *b, const struct bt_wire_msg *msg);

/*
 * BEP 6's allowed-fast set for a peer at IPv4 address ip (network order):
 * up to k distinct piece indexes (fewer when the torrent has fewer pieces)
 * into out, by the canonical SHA-1 walk over the /24 and the info-hash.
 * Returns how many were written.
 */
uint32_t bt_wire_allowed_fast(const uint8_t ip[4], const uint8_t info_hash[20], uint32_t npieces,
                              uint32_t k, uint32_t *out);

/* "choke", "have all", "keep-alive", "unknown", ... for logs. */
const char *bt_wire_type_name(enum bt_wire_type type);

#endif
