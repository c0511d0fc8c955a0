/*
 * torrent: one torrent. Loop thread only.
 *
 * Owns its metainfo, its picker (the job queues), its tracker announcer,
 * its peer connections and its address book (every peer address heard of,
 * with connect failures, blame and bans). Holds a reference on its storage;
 * worker jobs hold their own, so the torrent can go while they run: results
 * come back by torrent id and are dropped when the id is gone.
 *
 * The session's one-second tick calls btd_torrent_tick: rates, timeouts,
 * new connections.
 */
#ifndef BTD_TORRENT_H
#define BTD_TORRENT_H

#include <stdbool.h>
#include <stdint.h>

#include "announce.h"
#include "bandwidth.h"
#include "metainfo.h"
#include "picker.h"
#include "ratio.h"

struct btd_session;
struct btd_peer;
struct btd_storage;
struct btd_tracker;
struct btd_work_result;
struct btd_suspect;
struct btd_resume;
struct btd_metadata;
struct bt_magnet;

enum btd_torrent_state {
    BTD_TORRENT_METADATA, /* a magnet: fetching the info dictionary from peers */
    BTD_TORRENT_CHECKING,
    BTD_TORRENT_DOWNLOADING,
    BTD_TORRENT_SEEDING,
    BTD_TORRENT_PAUSED,
    BTD_TORRENT_ERROR,
    BTD_TORRENT_FINISHED, /* paused by a seeding goal it met (finished says which) */
    BTD_TORRENT_MOVING,   /* its data goes to another directory (torrent_move.c) */
};

#define BTD_SEED_GLOBAL (-1) /* a torrent's seeding goal: the session's is in force */

#define BTD_BOOK_MAX 2000 /* addresses remembered per torrent */
#define BTD_BAN_BLAME 4   /* blame units that ban an address */

struct btd_addr_entry {
    struct bt_peer_addr addr;
    uint64_t next_try; /* ms on the loop clock; 0 = now */
    uint8_t fails;     /* connect or handshake failures in a row */
    uint8_t blame;     /* units: 2 for a failed piece it sent alone, 1 if shared */
    bool banned;
    bool connected; /* a live connection uses this address */
    bool incoming;  /* learnt from a connection they made: never dialled */
    bool self;      /* our own address (a tracker listed us): never dialled, not a ban */
    bool mse_flip;  /* a handshake failed: dial it the other way (MSE or plaintext) next */
};

struct btd_rate {
    uint64_t bytes_this_second;
    double per_second; /* bytes/s, smoothed */
};

struct btd_torrent {
    struct btd_torrent *next;    /* the session's list */
    struct btd_session *session; /* borrowed */
    uint32_t id;
    uint8_t info_hash[20];
    char hex[41];             /* info-hash, lowercase hex */
    struct bt_metainfo *meta; /* owned; NULL while a magnet's metadata is fetched */
    struct btd_metadata *md;  /* owned while fetching metadata (metadata.h), else NULL */
    char *magnet;             /* owned: the magnet URI while meta is NULL (state dir) */
    char *name_hint;          /* owned or NULL: a magnet's dn, shown until meta comes */
    char *dir;                /* owned: download directory */
    enum btd_torrent_state state;
    bool paused;
    char *error;              /* owned or NULL: why state is ERROR */
    bool files_missing;       /* the error: a file holding verified pieces is gone */
    uint64_t fault_logged_at; /* ms, loop clock: the last disk fault logged */
    uint32_t faults_quiet;    /* disk faults since then, not logged (one line a minute) */
    struct btd_picker picker;
    struct btd_storage *storage; /* one reference */
    struct btd_tracker *tracker; /* owned */
    struct btd_peer *peers;      /* owned list */
    uint32_t npeers;
    uint32_t request_share;      /* blocks a sending peer may have asked for; 0: no cap (tick) */
    struct btd_addr_entry *book; /* owned: nbook entries of book_cap (grows as needed) */
    uint32_t nbook;
    uint32_t book_cap;
    uint64_t downloaded; /* bytes of payload received (verified or not) */
    uint64_t uploaded;   /* bytes of payload sent */
    uint64_t wasted;     /* bytes received in pieces that failed the hash */
    uint32_t hash_failures;
    struct btd_suspect *suspects; /* owned: failed shared pieces (ban.h) */
    uint32_t nsuspects;
    struct btd_rate down, up;
    struct btd_bucket bw[2];    /* this torrent's limits, by enum btd_bw_dir */
    int64_t added_at;           /* seconds since the epoch */
    bool completed_sent;        /* `completed` went to the trackers */
    uint64_t starving_since;    /* ms: last announce asked for because no peer is connected */
    uint32_t ticks;             /* seconds since added, for periodic work */
    uint32_t check_left;        /* pieces still being read back (CHECKING) */
    uint32_t stat_gen;          /* generation of the last stat of the files (torrent_check.c) */
    bool stat_pending;          /* ... which is out: its result, if of stat_gen, goes on */
    struct btd_resume *restore; /* owned or NULL: a record read at start, until its stat is back */
    bool checked;               /* the data on disk was checked once */
    uint8_t *meta_raw;          /* owned: the .torrent as added, until its copy is saved */
    size_t meta_raw_len;        /* bytes */
    bool resume_dirty;          /* the resume record is out of date */
    bool resume_soon;           /* ... and should be written at the next chance */
    uint32_t last_save;         /* ticks when the record was last written */
    /* owned: per file (metainfo order), or NULL: every file wanted, priority normal */
    struct btd_file_choice *choices;
    char *pending_selection;    /* owned or NULL: a magnet's file lists (selection.h), until meta */
    int64_t seed_ratio_limit;   /* hundredths (ratio.h), 0 = none, or BTD_SEED_GLOBAL */
    int64_t seed_idle_limit;    /* seconds, 0 = none, or BTD_SEED_GLOBAL */
    uint32_t seed_idle;         /* seconds seeding without uploading a byte (the idle clock) */
    enum bt_seed_goal finished; /* the goal that paused it (state finished), or NONE */
    /* A move (torrent_move.c): while move_to is set, state is moving. */
    char *move_to;                    /* owned or NULL: the directory the data goes to */
    struct btd_storage *move_storage; /* one reference, or NULL: the storage there */
    bool move_data;                   /* false: the data is there already, only check it */
    bool move_running;                /* the worker job is out */
    struct btd_move_job *move_job;    /* borrowed while move_running: that job, to cancel it */
};

/*
 * A new torrent (m stolen on success). rec, if not NULL, is its resume
 * record from the state directory: pieces it lists in files unchanged since
 * are trusted, the pieces of changed files are checked; its dir, paused
 * flag, totals and limits win over the arguments. Without a record the
 * data on disk is checked (when not paused).
 */
int btd_torrent_new(struct btd_torrent **ret, struct btd_session *s, uint32_t id,
                    struct bt_metainfo *m, const char *dir, bool paused,
                    const struct btd_resume *rec);
/*
 * A torrent from a magnet link: no metadata yet (state metadata) until
 * btd_torrent_set_metadata; trackers from tr, peers from x.pe are the
 * caller's to add. uri is kept for the state directory.
 */
int btd_torrent_new_magnet(struct btd_torrent **ret, struct btd_session *s, uint32_t id,
                           const struct bt_magnet *mg, const char *uri, const char *dir,
                           bool paused);
/*
 * The metadata arrived and was verified: m (stolen) becomes the torrent's,
 * raw (stolen) is the .torrent to keep in the state directory. The data on
 * disk is checked, then the download starts. The peers stay, their piece
 * lists read now, unless the check finds pieces to read back: then they are
 * dropped meanwhile and dialled again after.
 */
int btd_torrent_set_metadata(struct btd_torrent *t, struct bt_metainfo *m, uint8_t *raw,
                             size_t raw_len);
/* State error with why (copied) as the torrent's error, logged and recorded like any change. */
void btd_torrent_fail(struct btd_torrent *t, const char *why);
/* The name to show: the metadata's, a magnet's dn, or the info-hash. */
const char *btd_torrent_name(const struct btd_torrent *t);
/*
 * The resume record as it is now, as a worker job to write (resume.h);
 * NULL on ENOMEM. The .torrent copy goes with it until one save succeeded.
 */
struct btd_resume_job *btd_torrent_resume_job(struct btd_torrent *t);
/* Disconnects, sends `stopped`, drops the storage reference, frees. */
void btd_torrent_free(struct btd_torrent *t);

void btd_torrent_pause(struct btd_torrent *t);
/*
 * Reads every piece back from disk and keeps only what passes (btctl
 * verify): peers are dropped meanwhile. -EBUSY while a check runs (the
 * stat of the files included).
 */
int btd_torrent_verify(struct btd_torrent *t);
/*
 * Moves the torrent's data to dir (absolute), or with move_data false only
 * points the torrent at dir, where its data already is, and checks it.
 * State moving meanwhile: peers are dropped, and once the pieces being
 * written have landed, a worker moves the files (storage.h's
 * btd_storage_move: all or nothing). Then the torrent carries on from dir
 * as it was (seeding, downloading or paused) and its resume record names
 * dir; a failed move leaves everything in the old directory and the
 * torrent in state error, saying so (btctl resume carries on there).
 * 0, -EBUSY (moving or checking), -EALREADY (dir is its directory), or the
 * -errno of creating dir.
 */
int btd_torrent_move(struct btd_torrent *t, const char *dir, bool move_data);
/*
 * Shutting down: a move under way stops before its next file (or MiB of a
 * copy) and moves back what it moved, so the data is all in the old
 * directory, which the records name. Nothing if no move runs.
 */
void btd_torrent_cancel_move(struct btd_torrent *t);
/* Rate limits in bytes/s (0 = unlimited); takes effect at once. */
void btd_torrent_set_limits(struct btd_torrent *t, uint64_t download, uint64_t upload);
/*
 * Restarts a paused torrent, or retries one in state error: the error is
 * cleared and downloading goes on (after a check of the data when files
 * holding verified pieces had gone missing). A complete torrent whose ratio
 * goal is met seeds on with no ratio limit of its own (as Transmission
 * does); the idle clock starts again.
 */
void btd_torrent_resume(struct btd_torrent *t);
void btd_torrent_tick(struct btd_torrent *t);

/* Learns addresses (tracker reply, x.pe, btctl --peer) and dials some. */
void btd_torrent_add_peers(struct btd_torrent *t, const struct bt_peer_addr *addrs, size_t n);
/* A worker finished a job for this torrent. */
void btd_torrent_work_done(struct btd_torrent *t, struct btd_work_result *res);

/* For peers. */
void btd_torrent_piece_complete(struct btd_torrent *t, struct btd_job *job);
void btd_torrent_peer_closed(struct btd_torrent *t, struct btd_peer *p);
/*
 * Takes an incoming peer whose handshake named this torrent: 0, or -EPERM
 * (banned address, paused), -EMFILE (over the caps), -EADDRINUSE (too many
 * from that IP address), -ENOSPC (address book full).
 */
int btd_torrent_attach(struct btd_torrent *t, struct btd_peer *p);
struct btd_addr_entry *btd_torrent_book_entry(struct btd_torrent *t, uint32_t key);

/*
 * The file selection (torrent_files.c). A piece is wanted if it touches a
 * wanted file (padding aside), and takes the highest priority of those.
 * btd_torrent_choices: a copy of t's choices (new, file_count entries), or
 * NULL on ENOMEM or while t has no metadata.
 */
struct btd_file_choice *btd_torrent_choices(const struct btd_torrent *t);
/* Default choices for m's files (new: all wanted, normal), or NULL on ENOMEM. */
struct btd_file_choice *btd_file_choices_new(const struct bt_metainfo *m);
/* A copy of n choices (new), or NULL on ENOMEM. */
struct btd_file_choice *btd_file_choices_dup(const struct btd_file_choice *c, size_t n);
/*
 * choices (stolen; file_count entries) become t's: the pieces' priorities
 * follow, peers are told our interest, and a torrent whose wanted pieces
 * are all had becomes seeding, one that lacks some downloading again
 * (trackers asked for peers). 0, or -ENOMEM (choices freed, nothing changed).
 */
int btd_torrent_set_choices(struct btd_torrent *t, struct btd_file_choice *choices);
/* Bytes of file i (metainfo order) in verified pieces. */
uint64_t btd_torrent_file_done(const struct btd_torrent *t, uint32_t i);
/* Bytes of wanted pieces not verified yet. */
uint64_t btd_torrent_wanted_left(const struct btd_torrent *t);

/*
 * Seeding goals (torrent_seed.c). A seeding torrent that uploaded its
 * ratio limit's worth (ratio.h), or nothing for its idle limit, is paused
 * in state finished, at the tick after. Its own limits: ratio in
 * hundredths, idle in seconds, 0 = none, BTD_SEED_GLOBAL = the session's.
 * Changing them never restarts a finished torrent (btctl resume does).
 */
void btd_torrent_set_seed_limits(struct btd_torrent *t, int64_t ratio, int64_t idle);
/* The limits in force: the torrent's own, else the session's (0 = none). */
int64_t btd_torrent_seed_ratio_limit(const struct btd_torrent *t);
int64_t btd_torrent_seed_idle_limit(const struct btd_torrent *t);
/* uploaded / max(downloaded, wanted bytes); negative while that is 0 bytes. */
double btd_torrent_ratio(const struct btd_torrent *t);

/* For status. */
const char *btd_torrent_state_name(enum btd_torrent_state s);
/* Bytes of the whole torrent not verified (the trackers' `left`, wanted or not). */
uint64_t btd_torrent_left(const struct btd_torrent *t);
/* An unchoked peer with no request out and no job: the "unemployed" queue. */
bool btd_torrent_peer_unemployed(const struct btd_torrent *t, const struct btd_peer *p);
uint32_t btd_torrent_unemployed(const struct btd_torrent *t);

#endif
