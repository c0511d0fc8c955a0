/*
 * ban: who sent the data of a piece that failed its hash. Loop thread only.
 *
 * A failed piece from one sender is that sender's fault: 2 units of blame.
 * A failed piece from several senders proves nothing yet, so its per-block
 * SHA-1 digests and senders are kept (a "suspect" record, at most
 * BTD_BAN_MAX_SUSPECTS per torrent). When that piece later passes, the
 * blocks whose digests differ from the good copy name the liars: 2 units
 * each; honest senders are never blamed. An address reaching BTD_BAN_BLAME
 * units is banned for the session: its connections are closed and the
 * blocks it gave to pieces still in flight are dropped.
 *
 * The records are owned by the torrent (its suspects list).
 */
#ifndef BTD_BAN_H
#define BTD_BAN_H

#include <stdint.h>

#include "picker.h"

#define BTD_BAN_MAX_SUSPECTS 64

struct btd_torrent;

struct btd_suspect {
    struct btd_suspect *next;
    uint32_t piece;
    uint32_t nblocks;
    uint32_t *src;         /* owned: per block, the sender's address-book id */
    uint8_t (*digest)[20]; /* owned: per block, SHA-1 of the bytes that failed */
};

/* job failed its hash; data holds its job->size bytes as received. */
void btd_ban_piece_failed(struct btd_torrent *t, const struct btd_job *job, const uint8_t *data);
/* piece passed; data holds its bytes. Settles the piece's suspect record, if any. */
void btd_ban_piece_passed(struct btd_torrent *t, uint32_t piece, const uint8_t *data, uint32_t len);
void btd_ban_free_all(struct btd_torrent *t);
/* Blames address-book entry key; BTD_BAN_BLAME units ban it (its connections close). */
void btd_ban_blame(struct btd_torrent *t, uint32_t key, unsigned units);

#endif
