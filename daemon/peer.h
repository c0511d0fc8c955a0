/*
 * peer: one peer connection on a uv_tcp_t, driven by common/wire. Loop
 * thread only.
 *
 * Outgoing connections: connect, handshake (info-hash checked, a peer id
 * that is ours means we dialled ourselves; Message Stream Encryption may
 * come first, either way: peer_mse.h), then bitfield/have, interest,
 * choke state and the request pipeline: the peer keeps up to `depth`
 * 16 KiB requests outstanding, depth following its measured rate. Every
 * length the peer controls is checked before anything is buffered (the
 * wire codec's limits); input is held in one buffer no larger than the
 * largest legal message plus one read.
 *
 * Owned by its torrent (the torrent's list). Close is idempotent and
 * deferred: btd_peer_close marks CLOSING, detaches from the torrent
 * (requests released, jobs orphaned, availability dropped) and closes the
 * handle; memory goes in the close callback. Every dispatch loop checks
 * CLOSING after each handler.
 */
#ifndef BTD_PEER_H
#define BTD_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "announce.h"
#include "bandwidth.h"
#include "bitfield.h"
#include "buf.h"
#include "extmsg.h"
#include "fast.h"
#include "mse.h"
#include "torrent.h"
#include "upload.h"

#define BTD_PEER_MAX_REQUESTS 250 /* outstanding requests to one peer */
#define BTD_PEER_MIN_REQUESTS 4

enum btd_peer_state {
    BTD_PEER_CONNECTING,
    BTD_PEER_HANDSHAKE,
    BTD_PEER_ACTIVE,
    BTD_PEER_CLOSING,
};

/* A block they asked us for, read by a worker before it is sent. */
struct btd_serve {
    uint32_t piece;
    uint32_t begin; /* bytes into the piece */
    uint32_t len;   /* bytes */
    bool reading;   /* handed to a worker */
};

struct btd_request {
    uint32_t piece;
    uint32_t begin;   /* bytes into the piece */
    uint32_t len;     /* bytes */
    uint64_t sent_at; /* ms, loop clock */
};

struct btd_peer {
    uv_tcp_t tcp; /* the handle's memory is the peer's */
    uv_connect_t connect_req;
    struct btd_peer *next;       /* the torrent's list */
    struct btd_session *session; /* borrowed */
    struct btd_torrent *torrent; /* borrowed; NULL until attached (incoming) or once detached */
    bool incoming;               /* they dialled us */
    uint64_t serial;             /* unique in the session: worker results find the peer by it */
    struct btd_serve serves[BTD_UPLOAD_MAX_QUEUE]; /* their requests being read */
    uint32_t nserves;
    uint32_t nreading;     /* worker reads in flight for this peer */
    size_t read_bytes;     /* bytes those reads will bring */
    uint32_t bad_requests; /* requests refused so far */
    bool optimistic;       /* unchoked by the optimistic slot */
    bool send_throttled;   /* requests wait for upload tokens (bandwidth.h) */
    bool read_throttled;   /* reading stopped until download tokens come */
    uint64_t throttled_at; /* ms: when reading stopped */
    uint32_t book_key;     /* index in the torrent's address book */
    struct bt_peer_addr addr;
    char name[64]; /* "127.0.0.2:6881", for logs */
    enum btd_peer_state state;
    uint8_t peer_id[20];
    unsigned features;                            /* enum bt_wire_feature bits they sent */
    uint8_t ext_metadata;                         /* their id for ut_metadata; 0: not spoken */
    uint8_t ext_pex;                              /* their id for ut_pex; 0: not spoken */
    uint32_t ext_md_size;                         /* the metadata_size they announced; 0: none */
    uint32_t ext_reqq;                            /* requests they queue; 0: not said */
    bool ext_upload_only;                         /* BEP 21: they want nothing (a partial seed) */
    uint16_t ext_port;                            /* the port they listen on (`p`); 0: not said */
    struct bt_peer_addr pex_told[BT_EXT_PEX_MAX]; /* what our last ut_pex message listed (pex.h) */
    uint32_t npex_told;
    uint64_t pex_due;                       /* ms: when the next ut_pex message is due */
    uint32_t pex_taken;                     /* addresses taken from their ut_pex messages */
    char client[48];                        /* their `v`, printable, for peers lists */
    bool md_bad;                            /* not asked for metadata again */
    uint32_t allowed_out[BTD_FAST_ALLOWED]; /* pieces they may ask for while choked (BEP 6) */
    uint32_t nallowed_out;
    uint32_t allowed_in[BTD_FAST_ALLOWED_IN]; /* pieces we may ask for while they choke us */
    uint32_t nallowed_in;
    uint32_t md_rejects; /* ut_metadata rejects so far */
    bool am_choking, am_interested, peer_choking, peer_interested;
    bool snubbed;            /* a request timed out; no new requests for a while */
    uint64_t snubbed_at;     /* ms */
    uint32_t interesting;    /* pieces they have that we still want */
    struct bt_bitfield have; /* their pieces */
    /*
     * Before the torrent's metadata: the pieces they announced (their
     * bitfield's bytes, haves set into it, or have all), applied by
     * btd_peer_metadata_arrived once the piece count is known.
     */
    uint8_t *early_bits; /* owned */
    uint32_t early_len;  /* bytes */
    bool early_all;
    uint8_t *rbuf;                                  /* owned: input not yet parsed */
    size_t rlen;                                    /* bytes in rbuf */
    size_t rcap;                                    /* bytes allocated */
    struct btd_request reqs[BTD_PEER_MAX_REQUESTS]; /* outstanding, oldest first */
    uint32_t nreqs;
    uint32_t depth;        /* target outstanding requests */
    uint64_t connected_at; /* ms */
    uint64_t last_recv;    /* ms */
    uint64_t last_send;    /* ms */
    struct btd_rate down, up;
    uint64_t downloaded, uploaded; /* bytes of payload */
    struct bt_buf out;             /* owned: corked output, written once per loop turn */
    size_t out_sealed;             /* bytes at the start of out already in wire form (MSE) */
    struct bt_mse *mse;            /* owned: NULL for a plaintext connection (peer_mse.h) */
    struct btd_peer *dirty_next;   /* the session's list of peers with output to flush */
    bool dirty;                    /* on that list */
    const char *close_reason;      /* static string, for the log */
};

/* Dials addr for t. The peer is on t's list from the start. */
int btd_peer_connect(struct btd_torrent *t, uint32_t book_key, const struct bt_peer_addr *addr,
                     struct btd_peer **ret);
/*
 * Accepts a connection from the session's listener. The peer waits on the
 * session's incoming list until its handshake names a torrent we hold.
 */
int btd_peer_accept(struct btd_session *s, uv_stream_t *server);
/* Idempotent; reason is a static string for the log. */
void btd_peer_close(struct btd_peer *p, const char *reason);
/* Writes the corked output of every dirty peer (the session's uv_check). */
void btd_peer_flush_all(struct btd_session *s);
/* Once a second: timeouts, keep-alive, rate, depth. */
void btd_peer_tick(struct btd_peer *p, uint64_t now);
/*
 * The bandwidth timer: reads again and sends queued blocks if the buckets
 * allow. True while the peer still waits for tokens.
 */
bool btd_peer_bandwidth_wake(struct btd_peer *p);
/* Sends requests up to depth if the peer may be asked. */
void btd_peer_fill_requests(struct btd_peer *p);
/*
 * The torrent's metadata arrived while p was connected: sizes its piece
 * list and applies what it announced before. Closes p (and returns false)
 * if that names pieces the torrent does not have, or on ENOMEM.
 */
bool btd_peer_metadata_arrived(struct btd_peer *p);
/*
 * The torrent's file selection changed: counts again the pieces of the
 * peer's we want and lack, says interested or not, asks for blocks.
 */
void btd_peer_selection_changed(struct btd_peer *p);
/* We now have piece: tell the peer (and drop interest if nothing else is wanted). */
void btd_peer_have(struct btd_peer *p, uint32_t piece);
/* End game: another copy of this block arrived; cancel ours if outstanding. */
void btd_peer_cancel_block(struct btd_peer *p, uint32_t piece, uint32_t begin);

#endif
