/*
 * session: everything btd runs. Loop thread only.
 *
 * Owns the torrents, the control socket, the worker pool, the tracker
 * clients and the one-second tick that drives rates, timeouts, request
 * scheduling and connection attempts. Torrent ids are small integers
 * assigned in order of addition.
 */
#ifndef BTD_SESSION_H
#define BTD_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bandwidth.h"
#include "config.h"
#include "error.h"
#include "metainfo.h"
#include "tracker.h"

struct btd_torrent;
struct btd_control;
struct btd_work_pool;
struct btd_tracker_http;
struct btd_tracker_udp;

struct btd_session {
    uv_loop_t *loop;              /* borrowed */
    struct btd_config *cfg;       /* borrowed: main owns it */
    uint8_t peer_id[20];          /* "-BT0001-" + 12 random bytes */
    uint32_t tracker_key;         /* random, sent to trackers */
    struct btd_torrent *torrents; /* owned: list in id order */
    uint32_t torrent_count;
    uint32_t next_id;
    struct btd_control *control;   /* owned */
    struct btd_work_pool *work;    /* owned */
    struct btd_tracker_http *http; /* owned */
    struct btd_tracker_udp *udp;   /* owned */
    struct btd_watch *watch;       /* owned: NULL without a watch_dir */
    uv_timer_t tick;               /* 1 s housekeeping */
    uv_tcp_t listener;             /* the peer port */
    uv_check_t flush;              /* writes peers' corked output after each poll */
    uv_timer_t bw_timer;           /* wakes throttled peers (bandwidth.h) */
    struct btd_bucket bw[2];       /* global limits, by enum btd_bw_dir */
    struct btd_peer *dirty;        /* borrowed: peers with output to write */
    struct btd_peer *incoming;     /* owned: accepted, handshake not yet matched */
    uint32_t nincoming;
    uint64_t next_serial;             /* for peers */
    uint16_t listen_port;             /* the port announced to trackers */
    struct sockaddr_storage bind_out; /* listen_address, port 0: source of our connects */
    bool bind_out_set;                /* listen_address is a specific address */
    uint32_t peer_count;              /* connections, all torrents */
    uint32_t half_open;               /* outgoing connects in progress */
    uint64_t downloaded;              /* bytes of payload received this run */
    uint64_t uploaded;                /* bytes of payload sent this run */
    bool closing;
    void (*request_shutdown)(void *data); /* set by main: session.shutdown calls it */
    void *request_shutdown_data;
    void (*on_closed)(void *data); /* called once everything has closed */
    void *on_closed_data;
    uint32_t closing_handles; /* handles still closing */
    int state_lock;           /* owned: flock()ed STATE/lock, -1 if none */
    bool saving;              /* a resume record is being written (one at a time) */
    /* Shutting down (btd_session_close): */
    uv_timer_t stop_timer;                /* BTD_SHUTDOWN_DEADLINE_MS after the close */
    uint64_t stop_started;                /* uv_now() of the close, ms */
    struct btd_tracker_stopping stopping; /* the `stopped` announces in flight */
    bool work_idle;                       /* the workers have finished */
    bool stop_done;                       /* torrents saved and freed, clients closing */
};

/*
 * A shutdown waits this long at most (milliseconds) for the trackers to
 * acknowledge `stopped` and for the pieces being written to land.
 */
#define BTD_SHUTDOWN_DEADLINE_MS 5000

int btd_session_new(struct btd_session **ret, uv_loop_t *loop, struct btd_config *cfg,
                    struct bt_error *err);
/*
 * Shuts down in two steps. At once: the control socket, the peer port and
 * every peer connection close, and every tracker that may list us is sent
 * `stopped` (all at once). Then, when every `stopped` has been answered or
 * has failed and the workers have finished the pieces they were writing,
 * or after BTD_SHUTDOWN_DEADLINE_MS: the resume records are written, the
 * torrents freed and the tracker clients closed. cb runs when the last
 * handle has closed and the session has been freed.
 */
void btd_session_close(struct btd_session *s, void (*cb)(void *data), void *data);

/*
 * Adds a torrent; m is stolen (freed on failure too). raw is the .torrent
 * as given (copied into the state directory). dir NULL means the
 * configured download directory. peers: "host:port" strings to dial at
 * once (may be NULL). Fails with BT_RPC_DUPLICATE_TORRENT if the info-hash
 * is already present.
 */
int btd_session_add(struct btd_session *s, struct bt_metainfo *m, const uint8_t *raw,
                    size_t raw_len, const char *dir, bool paused, const char *const *peers,
                    size_t npeers, struct btd_torrent **ret, struct bt_error *err);
/*
 * Adds a magnet link (BEP 9): the torrent fetches its metadata from peers
 * (state metadata), trackers from tr, peers from x.pe and peers. A bad URI
 * is BT_RPC_INVALID_PARAMS with err saying why.
 */
int btd_session_add_magnet(struct btd_session *s, const char *uri, const char *dir, bool paused,
                           const char *const *peers, size_t npeers, struct btd_torrent **ret,
                           struct bt_error *err);
/*
 * Finds a torrent by small id, 40-hex info-hash or a unique hex prefix of
 * at least 6 digits. Returns NULL with a BT_RPC_* code in err otherwise.
 */
struct btd_torrent *btd_session_find(struct btd_session *s, const char *id, int *ret_code,
                                     struct bt_error *err);
struct btd_torrent *btd_session_find_id(struct btd_session *s, uint32_t id);
struct btd_torrent *btd_session_find_hash(struct btd_session *s, const uint8_t info_hash[20]);
/* The configuration changed (session.set, reload): log level, limits. */
void btd_session_apply_config(struct btd_session *s);
void btd_session_remove(struct btd_session *s, struct btd_torrent *t, bool delete_data);

#endif
