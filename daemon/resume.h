/*
 * resume: the state directory, so that torrents outlive btd.
 *
 *     STATE/lock                 flock()ed by the running btd
 *     STATE/torrents/HEX.torrent the metainfo as it was added (or fetched)
 *     STATE/torrents/HEX.magnet  a magnet's URI, until its metadata arrives
 *     STATE/torrents/HEX.resume  the resume record (JSON, below)
 *     STATE/torrents/HEX.resume.bak  the record before it
 *
 * A record holds the torrent's id, download dir, paused flag, totals,
 * added time, limits, the verified pieces (a bitfield), the size and
 * mtime of every file when it was written, and the file selection:
 * "files_skipped", "files_high", "files_low" (file indices in metainfo
 * order; a record without them, as written before they existed, means
 * every file wanted at priority normal); for a magnet still without its
 * metadata, "pending_selection", the file lists given at torrent.add; the
 * torrent's own seeding goals, "seed_ratio_hundredths" and "seed_idle_limit"
 * (absent: the global ones), and "finished" ("ratio" or "idle") once a goal
 * stopped it (absent in records written before those existed: no goal of
 * its own, not finished), and "moving_to" while a move of its data to that
 * directory runs (written before the first file moves, so a restart after
 * a crash knows to look there: btd_storage_move_recover). Files are written atomically
 * (temp file, fsync, rename, fsync of the directory), and a record is
 * written only after btd_storage_sync: a piece it lists is on the disk.
 *
 * Threads: encode/decode and the file functions are pure or plain I/O and
 * run on any thread; btd_resume_save runs on a worker (its job owns every
 * byte it touches). Reading at start-up runs on the loop before it turns.
 */
#ifndef BTD_RESUME_H
#define BTD_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "picker.h"
#include "storage.h"

#define BTD_RESUME_MAX_BYTES ((size_t)64 << 20) /* a record or metainfo copy we read */

struct btd_resume_file {
    uint64_t size;    /* bytes */
    int64_t mtime_ns; /* ns since the epoch; 0 for a file missing when saved */
    bool exists;
};

struct btd_resume {
    uint32_t id;
    char *dir; /* owned */
    bool paused;
    bool completed_sent;
    int64_t added_at;                      /* seconds since the epoch */
    uint64_t uploaded, downloaded;         /* bytes */
    uint64_t download_limit, upload_limit; /* bytes/s, 0 = unlimited */
    uint8_t *have;                         /* owned: bitfield, wire order */
    uint32_t piece_count;
    struct btd_resume_file *files; /* owned */
    uint32_t file_count;
    struct btd_file_choice *choices; /* owned: file_count entries, or NULL (all wanted, normal) */
    char *pending_selection;         /* owned or NULL: a magnet's file lists, JSON (selection.h) */
    int64_t seed_ratio_limit;        /* hundredths (ratio.h), 0 = none; -1 = the global one */
    int64_t seed_idle_limit;         /* seconds, 0 = none; -1 = the global one */
    uint8_t finished;                /* enum bt_seed_goal: the goal that stopped it, or NONE */
    char *moving_to;                 /* owned or NULL: a move of the data there was under way */
    bool recheck; /* not stored: the previous record stood in, check every piece */
};

void btd_resume_deinit(struct btd_resume *r);

/* The record as JSON text (new, NUL-terminated), or NULL on ENOMEM. */
char *btd_resume_encode(const struct btd_resume *r);
/*
 * Parses a record for a torrent of piece_count pieces and file_count files.
 * 0, or -EBADMSG with err saying what is wrong (truncated, not JSON, a
 * field missing or of the wrong size).
 */
int btd_resume_decode(const char *text, size_t len, uint32_t piece_count, uint32_t file_count,
                      struct btd_resume *ret, struct bt_error *err);

/* Creates STATE/torrents and takes STATE/lock; -EBUSY when another btd holds it. */
int btd_resume_lock(const char *state_dir, int *ret_fd, struct bt_error *err);

/* "STATE/torrents/HEX.EXT" into a new string. */
char *btd_resume_path(const char *state_dir, const char *hex, const char *ext);
/*
 * Writes path through a temp file: write, fsync, rename, fsync of the
 * directory. keep_old: the file it replaces becomes path.bak (a record's
 * previous version, for when the new one is damaged).
 */
int btd_resume_write_atomic(const char *path, const void *data, size_t len, bool keep_old);
/* Reads a whole file of at most BTD_RESUME_MAX_BYTES; *ret_buf is new, NUL-terminated. */
int btd_resume_read(const char *path, uint8_t **ret_buf, size_t *ret_len);
/* Removes both files of a torrent (torrent.remove). */
void btd_resume_forget(const char *state_dir, const char *hex);

/*
 * A save, as a worker job: syncs the storage, stats its files into rec,
 * writes the metainfo copy first if meta is set, then the record. Owns
 * everything; freed by btd_resume_job_free.
 */
struct btd_resume_job {
    char hex[41];        /* the torrent's info-hash */
    char *record_path;   /* owned */
    char *metainfo_path; /* owned, or NULL when the copy exists */
    uint8_t *meta;       /* owned raw .torrent, or NULL */
    size_t meta_len;
    struct btd_resume rec; /* owned */
    /*
     * The torrent's data has not been checked to the end (added paused, a
     * check running or stopped by a disk fault): the record then lists no
     * piece and every file as missing, so a restart checks whatever files
     * are there instead of trusting them as they are.
     */
    bool unchecked;
    /*
     * rec's files and pieces are a record read at start, written back as
     * they were: its files are not stat()ed again (a restore whose own stat
     * is still out: torrent.h's restore).
     */
    bool files_given;
};
int btd_resume_save(void *job, struct btd_storage *s);
void btd_resume_job_free(void *job);

#endif
