/*
 * torrent_check: one torrent's data already on disk. Loop thread only.
 *
 * A check first stats every file on the worker pool (one CALL job: on the
 * loop, a torrent of thousands of files would stall peers and the control
 * socket), then reads back the pieces of the files that exist (CHECK jobs)
 * and keeps those that pass. A resume record is applied at start the same
 * way: the stat on a worker, then the pieces of changed files are checked.
 * The torrent is in state checking meanwhile (unless paused).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bitfield.h"
#include "codec.h"
#include "log.h"
#include "peer.h"
#include "resume.h"
#include "session.h"
#include "storage.h"
#include "torrent-internal.h"
#include "work.h"

/* Marks the pieces that hold bytes of file i. */
static void mark_file_pieces(const struct bt_metainfo *m, uint32_t i, bool *pieces)
{
    uint64_t p, first, last;

    if (m->files[i].length == 0)
        return;
    first = m->files[i].offset / m->piece_length;
    last = (m->files[i].offset + m->files[i].length - 1) / m->piece_length;
    for (p = first; p <= last && p < m->piece_count; p++)
        pieces[p] = true;
}

/* The check ended (every CHECK job back, or none needed): the torrent starts or stays paused. */
static void check_done(struct btd_torrent *t)
{
    struct btd_peer *p, *next;

    t->checked = !t->error; /* a fault stopped it: checked again on resume and at restart */
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s existing data: %u of %u pieces valid", t->hex, t->picker.have,
             t->picker.piece_count);
    if (t->paused) {
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED);
        return;
    }
    btd__torrent_go_active(t);
    for (p = t->peers; p; p = next) {
        next = p->next; /* kept through the stat of the files (a magnet's): they ask now */
        btd_peer_fill_requests(p);
    }
}

/*
 * Queues a CHECK job for each piece in only. Peers are closed if there is
 * one (no peers while data is read back: they are dialled again after);
 * with none the check is done at once.
 */
static void queue_checks(struct btd_torrent *t, const bool *only)
{
    const struct bt_metainfo *m = t->meta;
    uint32_t i;
    int r = 0;

    btd_work_hold(t->session->work); /* queued together, they are hashed in lanes */
    for (i = t->check_left = 0; r == 0 && i < m->piece_count; i++) {
        if (!only[i])
            continue;
        r = btd_work_check(t->session->work, t->id, t->storage, i, (uint64_t)i * m->piece_length,
                           bt_metainfo_piece_size(m, i), m->pieces + (size_t)i * 20, NULL);
        if (r == 0)
            t->check_left++;
    }
    btd_work_release(t->session->work);
    if (r < 0) {
        btd_err("ih=%.8s cannot check existing data: %s", t->hex, strerror(-r));
        btd_torrent_fail(t, "cannot check existing data");
        return;
    }
    if (t->check_left == 0) {
        check_done(t);
        return;
    }
    if (!t->paused)
        btd__torrent_set_state(t, BTD_TORRENT_CHECKING);
    while (t->peers)
        btd_peer_close(t->peers, "checking the data on disk");
}

/* What a worker found for one file. */
struct file_stat {
    int status; /* 0 or -errno of btd_storage_stat */
    uint64_t size;
    int64_t mtime_ns;
};

/* The stat of every file of a torrent, as a worker job (it owns this). */
struct stat_job {
    uint8_t info_hash[20]; /* the torrent's, looked up again by id */
    uint32_t gen;          /* the torrent's stat_gen when it was submitted */
    uint32_t count;        /* files */
    /* A restore whose record says a move was under way: it is undone first. */
    struct btd_storage *away;           /* one reference, or NULL: the move's target */
    struct btd_storage_seen *seen;      /* owned, count entries: the record's files */
    struct btd_storage_move_report rep; /* of btd_storage_move_recover */
    int recover_status;                 /* its 0 or -errno */
    struct file_stat files[];
};

static void free_stat_job(void *arg)
{
    struct stat_job *job = arg;

    btd_storage_unref(job->away);
    free(job->seen);
    free(job);
}

/* Worker thread: touches the job and the storage only. */
static int stat_files(void *arg, struct btd_storage *s)
{
    struct stat_job *job = arg;
    uint32_t i;

    if (job->away)
        job->recover_status = btd_storage_move_recover(s, job->away, job->seen, &job->rep);
    for (i = 0; i < job->count; i++) {
        struct file_stat *f = &job->files[i];

        f->status = btd_storage_stat(s, i, &f->size, &f->mtime_ns);
    }
    return 0;
}

/* A fresh check: the pieces of every file not known to be absent or empty. */
static void check_present(struct btd_torrent *t, const struct stat_job *job)
{
    const struct bt_metainfo *m = t->meta;
    bool *present = calloc(m->piece_count ? m->piece_count : 1, sizeof(*present));
    uint32_t i;

    if (!present) {
        btd_torrent_fail(t, "cannot check existing data: out of memory");
        return;
    }
    for (i = 0; i < job->count; i++) {
        const struct file_stat *f = &job->files[i];

        /* Only a file known absent or empty is skipped: other errors are the check's. */
        if ((f->status == 0 && f->size > 0) ||
            (f->status < 0 && f->status != -ENOENT && f->status != -ENOTDIR))
            mark_file_pieces(m, i, present);
    }
    queue_checks(t, present);
    free(present);
}

/*
 * The resume record (t->restore, freed here) against the files as they are:
 * the pieces it lists in files whose size and mtime are as it says are had,
 * the pieces touching any other file are checked.
 */
static void check_changed(struct btd_torrent *t, const struct stat_job *job)
{
    const struct bt_metainfo *m = t->meta;
    const struct btd_resume *rec = t->restore;
    bool *check = calloc(m->piece_count ? m->piece_count : 1, sizeof(*check));
    uint32_t i, nchanged = 0, ncheck = 0;

    if (!check) {
        btd__torrent_drop_restore(t);
        btd_torrent_fail(t, "cannot check existing data: out of memory");
        return;
    }
    for (i = 0; i < job->count; i++) {
        const struct btd_resume_file *f = &rec->files[i];
        const struct file_stat *now = &job->files[i];
        bool exists = now->status == 0;

        if (!rec->recheck && exists == f->exists &&
            (!exists || (now->size == f->size && now->mtime_ns == f->mtime_ns)))
            continue;
        nchanged++;
        mark_file_pieces(m, i, check);
    }
    for (i = 0; i < m->piece_count; i++) {
        if (check[i])
            ncheck++;
        else if (rec->have[i / 8] & (0x80u >> (i % 8)))
            btd_picker_set_have(&t->picker, i);
    }
    btd__torrent_drop_restore(t);
    btd_info("ih=%.8s resumed: %u of %u pieces verified, %u file(s) changed since, %u piece(s) "
             "to check",
             t->hex, t->picker.have, m->piece_count, nchanged, ncheck);
    if (ncheck > 0) {
        queue_checks(t, check);
    } else {
        t->checked = true;
        if (!t->paused)
            btd__torrent_go_active(t);
    }
    free(check);
}

/* The one line a recovered move leaves in the log. */
static void log_recovery(const struct btd_torrent *t, const struct stat_job *job)
{
    const struct btd_storage_move_report *rep = &job->rep;
    const char *to = t->restore ? t->restore->moving_to : "?";

    if (job->recover_status < 0) {
        btd_err("ih=%.8s a move to %s was cut short (btd stopped); putting the files back in %s "
                "failed (%s while %s %s): that file stays in %s, and its pieces are checked",
                t->hex, to, t->dir, strerror(-job->recover_status), rep->op ? rep->op : "moving",
                rep->failed < t->meta->file_count ? t->meta->files[rep->failed].path : "?", to);
        return;
    }
    btd_notice("ih=%.8s a move to %s was cut short (btd stopped): the data is back in %s "
               "(%u file(s) renamed back, %u copied back, %u spare copies and %u partial "
               "copies deleted); btctl move it again",
               t->hex, to, t->dir, rep->moved, rep->copied, rep->skipped, rep->parts);
}

/*
 * Loop thread: the files' stat is back. Dropped when the torrent is gone,
 * the session shuts down, or another check took over (a generation apart).
 */
static void on_stats(void *data, struct btd_work_result *res)
{
    struct btd_session *s = data;
    const struct stat_job *job = res->user;
    struct btd_torrent *t = btd_session_find_id(s, res->torrent_id);
    char hex[41];

    if (s->closing || !t || memcmp(t->info_hash, job->info_hash, 20) != 0 || !t->stat_pending ||
        t->stat_gen != job->gen) {
        bt_hex_encode(hex, job->info_hash, 20);
        btd_debug("ih=%.8s stat of its files dropped: %s", hex,
                  s->closing ? "shutting down"
                  : t        ? "stale"
                             : "torrent removed");
        return;
    }
    t->stat_pending = false;
    if (res->status < 0) { /* the job could not run (libuv refused it) */
        btd_err("ih=%.8s cannot check existing data: %s", t->hex, strerror(-res->status));
        btd_torrent_fail(t, "cannot check existing data");
        return;
    }
    if (job->away) {
        log_recovery(t, job);
        t->resume_dirty = t->resume_soon = true; /* the next record names t->dir, no marker */
    }
    if (t->restore)
        check_changed(t, job);
    else
        check_present(t, job);
}

static const struct btd_work_call_ops stat_ops = {
    .fn = stat_files,
    .done = on_stats,
    .free_arg = free_stat_job,
    .drop_when_draining = true,
};

/* A restore after a crashed move: the job puts the files back first (the move's storage). */
static int add_recovery(struct btd_torrent *t, struct stat_job *job)
{
    const struct btd_resume *rec = t->restore;
    struct stat st;
    uint32_t i;
    int r;

    job->seen = calloc(job->count ? job->count : 1, sizeof(*job->seen));
    if (!job->seen)
        return -ENOMEM;
    for (i = 0; i < job->count; i++) {
        job->seen[i] = (struct btd_storage_seen){
            .size = rec->files[i].size,
            .mtime_ns = rec->files[i].mtime_ns,
            .exists = rec->files[i].exists && !rec->recheck,
        };
    }
    if (stat(rec->moving_to, &st) < 0 && errno == ENOENT) {
        btd_warn("ih=%.8s a move to %s was cut short, and that directory is gone: the data "
                 "in %s is used",
                 t->hex, rec->moving_to, t->dir);
        return 0; /* no directory is made for nothing */
    }
    r = btd_storage_new(&job->away, rec->moving_to, t->meta);
    if (r < 0)
        btd_warn("ih=%.8s a move to %s was cut short, but that directory cannot be opened (%s): "
                 "the files there stay there",
                 t->hex, rec->moving_to, strerror(-r));
    return 0;
}

/* Stats every file on a worker; on_stats goes on. 0 or -errno. */
static int start_stats(struct btd_torrent *t)
{
    uint32_t count = (uint32_t)t->meta->file_count;
    struct stat_job *job = calloc(1, sizeof(*job) + (size_t)count * sizeof(job->files[0]));
    int r;

    if (!job)
        return -ENOMEM;
    job->count = count;
    if (t->restore && t->restore->moving_to && add_recovery(t, job) < 0) {
        free_stat_job(job);
        return -ENOMEM;
    }
    memcpy(job->info_hash, t->info_hash, 20);
    job->gen = ++t->stat_gen; /* a result of an earlier one is stale now */
    r = btd_work_call(t->session->work, t->id, t->storage, &stat_ops, job);
    t->stat_pending = r == 0;
    return r;
}

bool btd__torrent_checking(const struct btd_torrent *t)
{
    return t->check_left > 0 || t->stat_pending;
}

void btd__torrent_start_check(struct btd_torrent *t)
{
    int r;

    btd__torrent_drop_restore(t); /* a restore not yet applied: its record is not trusted now */
    btd__torrent_set_state(t, BTD_TORRENT_CHECKING);
    r = start_stats(t);
    if (r < 0) {
        btd_err("ih=%.8s cannot check existing data: %s", t->hex, strerror(-r));
        btd_torrent_fail(t, "cannot check existing data");
    }
}

void btd__torrent_on_checked(struct btd_torrent *t, struct btd_work_result *res)
{
    if (res->hash_ok)
        btd_picker_set_have(&t->picker, res->piece);
    if (t->check_left == 0 || --t->check_left > 0)
        return;
    check_done(t);
}

void btd__torrent_drop_restore(struct btd_torrent *t)
{
    if (!t->restore)
        return;
    btd_resume_deinit(t->restore);
    free(t->restore);
    t->restore = NULL;
}

/* A copy of what restoring needs from rec (have and files); NULL on ENOMEM. */
static struct btd_resume *restore_copy(const struct btd_resume *rec)
{
    struct btd_resume *c = calloc(1, sizeof(*c));
    size_t bytes = bt_bitfield_bytes(rec->piece_count);

    if (!c)
        return NULL;
    c->have = malloc(bytes ? bytes : 1);
    c->files = calloc(rec->file_count ? rec->file_count : 1, sizeof(*c->files));
    if (!c->have || !c->files) {
        btd_resume_deinit(c);
        free(c);
        return NULL;
    }
    memcpy(c->have, rec->have, bytes);
    memcpy(c->files, rec->files, rec->file_count * sizeof(*c->files));
    c->piece_count = rec->piece_count;
    c->file_count = rec->file_count;
    c->recheck = rec->recheck;
    if (rec->moving_to) {
        c->moving_to = strdup(rec->moving_to);
        if (!c->moving_to) {
            btd_resume_deinit(c);
            free(c);
            return NULL;
        }
    }
    return c;
}

int btd__torrent_restore(struct btd_torrent *t, const struct btd_resume *rec)
{
    int r;

    t->uploaded = rec->uploaded;
    t->downloaded = rec->downloaded;
    t->added_at = rec->added_at;
    t->completed_sent = rec->completed_sent;
    btd_torrent_set_limits(t, rec->download_limit, rec->upload_limit);
    btd__torrent_seed_restore(t, rec);
    t->restore = restore_copy(rec);
    if (!t->restore)
        return -ENOMEM;
    if (!t->paused)
        btd__torrent_set_state(t, BTD_TORRENT_CHECKING);
    r = start_stats(t);
    if (r < 0)
        btd__torrent_drop_restore(t);
    return r;
}
