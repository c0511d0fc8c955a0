/*
 * metadata: a magnet's info dictionary, fetched from peers in 16 KiB pieces
 * (BEP 9 ut_metadata), and ours served to others. Loop thread only.
 *
 * While a torrent has no metadata, every peer that speaks ut_metadata and
 * agrees on its size is asked for pieces, at most BTD_METADATA_PER_PEER at
 * a time; a piece not answered in BTD_METADATA_TIMEOUT_MS is asked of
 * someone else. The first metadata_size heard sets the size (at most
 * BT_EXT_METADATA_MAX, so no peer makes us allocate more); a peer that
 * announces another size, sends a piece of the wrong size or keeps
 * rejecting is not asked again. When every piece is in, the SHA-1 must be
 * the info-hash: then the bytes go through the same parser as a .torrent
 * file and become the torrent's metadata. If the hash fails, a sole sender
 * is banned; when several peers sent pieces nobody can say who lied, so the
 * next fetches take every piece from one peer at a time until the liar is
 * found.
 */
#ifndef BTD_METADATA_H
#define BTD_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BTD_METADATA_PER_PEER 2
#define BTD_METADATA_TIMEOUT_MS 20000
#define BTD_METADATA_MAX_REJECTS 4 /* rejects before a peer is not asked again */

struct btd_peer;
struct btd_torrent;

struct btd_metadata {
    uint32_t size;       /* bytes; 0 until a peer tells us */
    uint32_t npieces;    /* 16 KiB pieces of size */
    uint8_t *buf;        /* owned: size bytes */
    uint8_t *got;        /* owned: per piece, 1 once received */
    uint64_t *asked_at;  /* owned: per piece, ms on the loop clock; 0 = not asked */
    uint64_t *asked_of;  /* owned: per piece, the serial of the peer asked */
    uint32_t *src;       /* owned: per piece, the address-book key of its sender */
    uint32_t received;   /* pieces in buf */
    uint32_t hash_fails; /* whole fetches that failed the info-hash */
    bool one_peer;       /* after a failure with several senders: one sender per fetch */
};

int btd_metadata_new(struct btd_metadata **ret);
void btd_metadata_free(struct btd_metadata *md);

/* p told us its ut_metadata id and metadata_size (extension handshake). */
void btd_metadata_peer_ready(struct btd_peer *p);
/* A ut_metadata message from p (the payload after the extended id). */
void btd_metadata_on_message(struct btd_peer *p, const uint8_t *payload, size_t len);
/* p is going: what it was asked goes to others. */
void btd_metadata_peer_gone(struct btd_torrent *t, const struct btd_peer *p);
/* Once a second while fetching: pieces that timed out are asked again. */
void btd_metadata_tick(struct btd_torrent *t);

#endif
