/*
 * extmsg: the extension protocol's messages as bytes (BEP 10) and the
 * ut_metadata messages (BEP 9). Pure; any thread.
 *
 * A payload is what follows the extended message id: msg.data of a
 * BT_WIRE_EXTENDED message. Parsers take nothing on trust: every number is
 * range-checked, unknown keys are ignored, and nothing is allocated beyond
 * the bencode node array (which is bounded by the payload's size).
 */
#ifndef BT_EXTMSG_H
#define BT_EXTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "announce.h"
#include "buf.h"

#define BT_EXT_METADATA_MAX (16u << 20) /* bytes of info dictionary we accept */
#define BT_EXT_METADATA_PIECE 16384u    /* bytes per ut_metadata piece */
#define BT_EXT_HANDSHAKE_MAX 65536      /* bytes of handshake payload we parse */

/* Our ids for the extensions we speak (what we put in our `m`). */
enum {
    BT_EXT_ID_HANDSHAKE = 0,
    BT_EXT_ID_METADATA = 1, /* ut_metadata */
    BT_EXT_ID_PEX = 2,      /* ut_pex */
};

struct bt_ext_handshake {
    uint8_t ut_metadata;    /* the sender's id for ut_metadata; 0: not spoken */
    uint8_t ut_pex;         /* the sender's id for ut_pex; 0: not spoken */
    uint32_t metadata_size; /* bytes; 0: not given */
    uint16_t port;          /* p: the sender's listening port; 0: not given */
    uint32_t reqq;          /* requests the sender queues; 0: not given */
    char client[48];        /* v, printable ASCII only (others become '?'); "" if absent */
    bool upload_only;       /* BEP 21: the sender wants nothing (a partial seed) */
};

/*
 * Parses a handshake. 0; -EBADMSG when it is not a bencoded dictionary;
 * -EMSGSIZE for a payload over BT_EXT_HANDSHAKE_MAX or a metadata_size
 * over BT_EXT_METADATA_MAX. An id outside 0..255 reads as 0 (not spoken);
 * an id of 0 in `m` means the extension was switched off.
 */
int bt_ext_handshake_parse(const uint8_t *buf, size_t len, struct bt_ext_handshake *ret);
/*
 * Appends our handshake's payload to out: m with the nonzero ids of ours,
 * metadata_size if nonzero, p, reqq, upload_only if set, v, and yourip when
 * given (4 or 16 bytes). 0, -EINVAL or -ENOMEM.
 */
int bt_ext_handshake_encode(struct bt_buf *out, const struct bt_ext_handshake *ours,
                            const uint8_t *yourip, size_t yourip_len);

enum bt_ext_md_type {
    BT_EXT_MD_REQUEST = 0,
    BT_EXT_MD_DATA = 1,
    BT_EXT_MD_REJECT = 2,
};

struct bt_ext_metadata {
    int64_t type;        /* enum bt_ext_md_type; another value: ignore the message */
    uint32_t piece;      /* index of the 16 KiB piece */
    uint32_t total_size; /* DATA: the whole metadata's size in bytes */
    const uint8_t *data; /* DATA: borrowed from the payload, after the dictionary */
    size_t data_len;     /* bytes */
};

/*
 * Parses a ut_metadata message. 0, or -EBADMSG (not a dictionary, piece
 * missing or out of range, DATA without total_size or with more than 16
 * KiB), -EMSGSIZE (total_size over BT_EXT_METADATA_MAX).
 */
int bt_ext_metadata_parse(const uint8_t *buf, size_t len, struct bt_ext_metadata *ret);
/* Appends a ut_metadata dictionary (DATA: the caller appends the bytes after it). */
int bt_ext_metadata_encode(struct bt_buf *out, enum bt_ext_md_type type, uint32_t piece,
                           uint32_t total_size);

#define BT_EXT_PEX_MAX 50 /* peers per list in a ut_pex message we send or take */

/*
 * A ut_pex message (BEP 11): compact "added"/"added6" and "dropped"/
 * "dropped6" lists. Parsing takes at most max entries of each kind (the rest
 * are ignored), skips port 0, and refuses lists whose length is not a
 * multiple of an entry (-EBADMSG). *ret_nadded and *ret_ndropped count what
 * was stored.
 */
int bt_ext_pex_parse(const uint8_t *buf, size_t len, struct bt_peer_addr *added, size_t max_added,
                     size_t *ret_nadded, struct bt_peer_addr *dropped, size_t max_dropped,
                     size_t *ret_ndropped);
/* Appends a ut_pex message with the given lists (IPv4 and IPv6 split out). */
int bt_ext_pex_encode(struct bt_buf *out, const struct bt_peer_addr *added, size_t nadded,
                      const struct bt_peer_addr *dropped, size_t ndropped);

/* Pieces of a metadata of size bytes. */
static inline uint32_t bt_ext_metadata_pieces(uint32_t size)
{
    return (size + BT_EXT_METADATA_PIECE - 1) / BT_EXT_METADATA_PIECE;
}

#endif
