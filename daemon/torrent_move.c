/*
 * torrent_move: a torrent's data to another directory (btd_torrent_move,
 * torrent.h). Loop thread only.
 *
 * The torrent enters state moving: its peers are dropped (no new pieces,
 * no uploads), and the move waits until the pieces being verified and
 * written have landed in the old directory (the picker holds no job).
 * Then one worker job moves the files (btd_storage_move: renamed, or
 * copied across file systems; all or nothing), or, for a move without the
 * data, the torrent points at the new directory at once and checks it.
 * Before the first file moves, the worker writes the torrent's record with
 * "moving_to" (resume.h), so that a btd killed half way puts the files back
 * at its next start (btd_storage_move_recover, from torrent_check.c's
 * restore); once they are where they stay, it writes the record again,
 * naming that directory, without the marker. No other record is written
 * while the move runs (the move waits for a save under way to land first).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "peer.h"
#include "picker.h"
#include "resume.h"
#include "session.h"
#include "storage.h"
#include "torrent-internal.h"
#include "tracker.h"
#include "work.h"

/* The move as a worker job (it owns this). */
struct btd_move_job {
    uint8_t info_hash[20];              /* the torrent's, looked up again by id */
    struct btd_storage *to;             /* one reference: the storage in the new directory */
    struct btd_storage_move_report rep; /* written by the worker */
    atomic_bool cancel;                 /* set by the loop: stop and move back */
    struct btd_resume_job *record;      /* owned: the record with moving_to, written first */
    int record_after;                   /* 0 or -errno: the record written after the move */
};

/*
 * Worker thread: the record again once the files are where they will stay:
 * in the new directory (moved) or the old one (moved back), without the
 * marker. A file stuck in the new directory keeps the marker, so the next
 * start brings it back. Until the loop's own next record, this one stands.
 */
static int record_after(struct btd_move_job *job, struct btd_storage *from, int status)
{
    struct btd_resume *rec = &job->record->rec;

    if (status < 0 && job->rep.stuck != UINT32_MAX)
        return 0;
    if (status == 0) {
        free(rec->dir);
        rec->dir = rec->moving_to;
    } else {
        free(rec->moving_to);
    }
    rec->moving_to = NULL;
    return btd_resume_save(job->record, status == 0 ? job->to : from);
}

/* Worker thread: touches the job and the two storages only. */
static int run_move(void *arg, struct btd_storage *from)
{
    struct btd_move_job *job = arg;
    int r = btd_resume_save(job->record, from);

    if (r < 0) {
        job->rep = (struct btd_storage_move_report){.failed = UINT32_MAX, .stuck = UINT32_MAX};
        return r;
    }
    r = btd_storage_move(from, job->to, &job->cancel, &job->rep);
    job->record_after = record_after(job, from, r);
    return r;
}

static void free_move(void *arg)
{
    struct btd_move_job *job = arg;

    btd_storage_unref(job->to);
    btd_resume_job_free(job->record);
    free(job);
}

/* Forgets the move under way (its directory and storage). */
static void end_move(struct btd_torrent *t)
{
    free(t->move_to);
    t->move_to = NULL;
    btd_storage_unref(t->move_storage);
    t->move_storage = NULL;
    t->move_running = false;
    t->move_job = NULL;
}

/* After a move (done or not): the torrent does what it did before, from where its data is. */
static void carry_on(struct btd_torrent *t)
{
    uint32_t i;

    t->resume_dirty = t->resume_soon = true;
    if (t->session->closing)
        return;
    for (i = 0; i < t->nbook; i++)
        t->book[i].next_try = 0;
    if (t->paused)
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED);
    else if (t->error)
        btd__torrent_set_state(t, BTD_TORRENT_ERROR);
    else if (!t->checked)
        btd__torrent_start_check(t);
    else
        btd__torrent_go_active(t);
}

/* The torrent's storage and directory become the move's. */
static void switch_dir(struct btd_torrent *t)
{
    btd_storage_unref(t->storage);
    t->storage = t->move_storage;
    t->move_storage = NULL;
    free(t->dir);
    t->dir = t->move_to;
    t->move_to = NULL;
    t->move_running = false;
    t->move_job = NULL;
}

/* A move without the data: the torrent points at its directory and checks what is there. */
static void find_there(struct btd_torrent *t)
{
    switch_dir(t);
    btd_notice("ih=%.8s now in %s: checking the data there", t->hex, t->dir);
    btd_picker_forget(&t->picker);
    free(t->error);
    t->error = NULL;
    t->files_missing = false;
    t->checked = false;
    t->resume_dirty = t->resume_soon = true;
    if (t->session->closing)
        return;
    btd__torrent_start_check(t); /* a paused torrent ends paused */
}

/* What a failed move says, for a user and the log; NULL on ENOMEM. */
static char *failure_message(const struct btd_torrent *t, const struct btd_storage_move_report *rep,
                             int status)
{
    const struct bt_metainfo *m = t->meta;
    char *what = NULL, *msg = NULL;
    int r;

    if (rep && rep->failed < m->file_count)
        r = asprintf(&what, "%s while %s %s", strerror(-status), rep->op ? rep->op : "moving",
                     m->files[rep->failed].path);
    else
        r = asprintf(&what, "%s", strerror(-status));
    if (r < 0)
        return NULL;
    if (rep && rep->stuck < m->file_count)
        r = asprintf(&msg, "move to %s failed (%s); %s is in %s, its other files in %s", t->move_to,
                     what, m->files[rep->stuck].path, t->move_to, t->dir);
    else
        r = asprintf(&msg, "move to %s failed (%s); nothing moved, the data stays in %s",
                     t->move_to, what, t->dir);
    free(what);
    return r < 0 ? NULL : msg;
}

/* The move failed: the data is where it was, the torrent in state error saying so. */
static void move_failed(struct btd_torrent *t, const struct btd_storage_move_report *rep,
                        int status)
{
    char *msg = failure_message(t, rep, status);

    btd_err("ih=%.8s %s", t->hex, msg ? msg : strerror(-status));
    free(t->error);
    t->error = msg ? msg : strdup(strerror(-status));
    t->files_missing = rep && rep->stuck != UINT32_MAX; /* resume checks what is left */
    t->picker.halted = true;
    end_move(t);
    t->resume_dirty = t->resume_soon = true;
    if (t->session->closing)
        return;
    btd__torrent_set_state(t, t->paused ? BTD_TORRENT_PAUSED : BTD_TORRENT_ERROR);
}

/*
 * Loop thread: the worker is done. Dropped only when the torrent is gone
 * (it cannot be removed while it moves, but the session may be freeing).
 */
static void on_moved(void *data, struct btd_work_result *res)
{
    struct btd_session *s = data;
    struct btd_move_job *job = res->user;
    struct btd_torrent *t = btd_session_find_id(s, res->torrent_id);

    if (!t || memcmp(t->info_hash, job->info_hash, 20) != 0 || !t->move_running) {
        btd_debug("move result dropped: torrent %u gone", res->torrent_id);
        return;
    }
    if (job->record_after < 0)
        btd_warn("ih=%.8s cannot write its resume record after the move: %s", t->hex,
                 strerror(-job->record_after));
    if (res->status < 0) {
        move_failed(t, &job->rep, res->status);
        return;
    }
    btd_notice("ih=%.8s moved to %s: %u file(s) renamed, %u copied, %u not there yet", t->hex,
               t->move_to, job->rep.moved, job->rep.copied, job->rep.skipped);
    switch_dir(t);
    carry_on(t);
}

static const struct btd_work_call_ops move_ops = {
    .fn = run_move,
    .done = on_moved,
    .free_arg = free_move,
};

void btd__torrent_move_go(struct btd_torrent *t)
{
    struct btd_move_job *job;
    int r;

    if (!t->move_to || t->move_running || t->picker.njobs > 0)
        return;
    if (t->session->closing) { /* the last pieces landed while btd shuts down */
        btd_notice("ih=%.8s shutting down: the move to %s is not made", t->hex, t->move_to);
        end_move(t);
        return;
    }
    if (!t->move_data) {
        find_there(t);
        return;
    }
    if (t->session->saving)
        return; /* a record without the marker may land after ours: on_saved calls again */
    job = calloc(1, sizeof(*job));
    if (job)
        job->record = btd_torrent_resume_job(t);
    if (job && job->record) {
        free(job->record->rec.moving_to);
        job->record->rec.moving_to = strdup(t->move_to);
    }
    if (!job || !job->record || !job->record->rec.moving_to) {
        if (job)
            free_move(job);
        move_failed(t, NULL, -ENOMEM);
        return;
    }
    memcpy(job->info_hash, t->info_hash, 20);
    atomic_init(&job->cancel, false);
    job->to = btd_storage_ref(t->move_storage);
    r = btd_work_call(t->session->work, t->id, t->storage, &move_ops, job);
    if (r < 0) { /* the pool freed the job */
        move_failed(t, NULL, r);
        return;
    }
    t->move_running = true;
    t->move_job = job; /* freed by the pool after on_moved, which forgets it first */
}

void btd_torrent_cancel_move(struct btd_torrent *t)
{
    if (!t->move_running || !t->move_job)
        return;
    btd_notice("ih=%.8s shutting down: the move to %s stops and the files go back", t->hex,
               t->move_to);
    atomic_store(&t->move_job->cancel, true);
}

/* True if a and b name one directory (b need not exist). */
static bool same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    size_t na = strlen(a), nb = strlen(b);

    while (na > 1 && a[na - 1] == '/')
        na--;
    while (nb > 1 && b[nb - 1] == '/')
        nb--;
    if (na == nb && memcmp(a, b, na) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* A magnet without its metadata has no files yet: only its directory changes. */
static int move_no_files(struct btd_torrent *t, const char *dir)
{
    char *copy = strdup(dir);

    if (!copy)
        return -ENOMEM;
    free(t->dir);
    t->dir = copy;
    t->resume_dirty = t->resume_soon = true;
    btd_notice("ih=%.8s will download to %s", t->hex, dir);
    return 0;
}

int btd_torrent_move(struct btd_torrent *t, const char *dir, bool move_data)
{
    struct btd_storage *to = NULL;
    char *copy;
    int r;

    if (t->move_to || btd__torrent_checking(t) || t->state == BTD_TORRENT_CHECKING)
        return -EBUSY;
    if (same_dir(t->dir, dir))
        return -EALREADY;
    if (!t->meta)
        return move_no_files(t, dir);
    copy = strdup(dir);
    r = copy ? btd_storage_new(&to, dir, t->meta) : -ENOMEM;
    if (r < 0) {
        free(copy);
        return r;
    }
    btd_notice("ih=%.8s %s %s", t->hex,
               move_data ? "moving its data to" : "looking for its data in", dir);
    t->move_to = copy;
    t->move_storage = to;
    t->move_data = move_data;
    btd__torrent_set_state(t, BTD_TORRENT_MOVING);
    while (t->peers)
        btd_peer_close(t->peers,
                       move_data ? "torrent moving its data" : "torrent changing its dir");
    btd_picker_drop_jobs(&t->picker); /* the pieces being written stay: the move waits for them */
    btd__torrent_move_go(t);
    return 0;
}
