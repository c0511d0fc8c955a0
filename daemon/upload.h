/*
 * upload: serving blocks to peers and choosing whom to unchoke. Loop thread.
 *
 * A request is served only if we unchoked the peer, the piece is verified,
 * and the block lies inside it and is at most 16 KiB; anything else is
 * refused, and a peer that keeps at it (BTD_UPLOAD_MAX_BAD) is dropped. A
 * request over the queue (BTD_UPLOAD_MAX_QUEUE, announced as reqq in the
 * extension handshake) is dropped without blame.
 * Accepted requests wait in a bounded per-peer queue, and are served once
 * the read that brought them is parsed: requests one after the other for
 * the next bytes of a piece go together (up to BTD_UPLOAD_BATCH bytes,
 * BTD_UPLOAD_BATCH_BLOCKS requests). A run whose bytes are all in the page
 * cache is read on the loop thread at once, straight into the peer's
 * output behind the blocks' headers (btd_storage_read_cached: a read that
 * cannot wait); any other is read by a worker job, at most
 * BTD_UPLOAD_MAX_READS per peer at once, and the result finds its peer
 * again by serial number and each block is sent only if it is still
 * wanted (not cancelled, peer not choked). Serving stops while
 * BTD_UPLOAD_MAX_UNSENT bytes for the peer are being read by workers or
 * wait for its socket, and goes on as the socket takes them, so a peer
 * that reads slowly holds that much of our memory (and one batch) only.
 *
 * Choking, every BTD_UPLOAD_ROUND_S seconds: the BTD_UPLOAD_SLOTS interested
 * peers that give us most (downloading) or take most (seeding) are
 * unchoked, plus one optimistic unchoke rotated every
 * BTD_UPLOAD_OPTIMISTIC_S seconds; a newly interested peer gets a free
 * slot at once.
 */
#ifndef BTD_UPLOAD_H
#define BTD_UPLOAD_H

#include <stdint.h>

#define BTD_UPLOAD_MAX_QUEUE 500      /* requests waiting per peer (libtorrent's reqq) */
#define BTD_UPLOAD_MAX_READS 8        /* worker reads in flight per peer */
#define BTD_UPLOAD_BATCH (8u * 16384) /* bytes: consecutive requests read in one job */
#define BTD_UPLOAD_BATCH_BLOCKS 8u    /* requests read at once, however small */
/* bytes of a peer's output its socket has not taken, past which serving waits */
#define BTD_UPLOAD_MAX_UNSENT ((size_t)1 << 20)
#define BTD_UPLOAD_MAX_BAD 16 /* refused requests before the peer is dropped */
#define BTD_UPLOAD_SLOTS 4
#define BTD_UPLOAD_ROUND_S 10
#define BTD_UPLOAD_OPTIMISTIC_S 30

struct btd_peer;
struct btd_torrent;
struct btd_work_result;

/* Hands queued requests to workers while the upload buckets allow (bandwidth.h). */
void btd_upload_pump(struct btd_peer *p);
void btd_upload_request(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len);
void btd_upload_cancel(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len);
/* They became interested: unchoke at once if a slot is free. */
void btd_upload_interested(struct btd_peer *p);
/* A worker read a block for t. */
void btd_upload_read_done(struct btd_torrent *t, struct btd_work_result *res);
/* Called once a second; runs a choking round every BTD_UPLOAD_ROUND_S. */
void btd_upload_tick(struct btd_torrent *t);

#endif
