#include "torrent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "ban.h"
#include "bitfield.h"
#include "codec.h"
#include "fds.h"
#include "log.h"
#include "magnet.h"
#include "metadata.h"
#include "peer.h"
#include "pex.h"
#include "resume.h"
#include "session.h"
#include "storage.h"
#include "torrent-internal.h"
#include "tracker.h"
#include "upload.h"
#include "work.h"

#define STARVING_ANNOUNCE_MS 60000 /* with no peer connected, ask trackers this often */

const char *btd_torrent_state_name(enum btd_torrent_state s)
{
    static const char *const names[] = {
        [BTD_TORRENT_METADATA] = "metadata",       [BTD_TORRENT_CHECKING] = "checking",
        [BTD_TORRENT_DOWNLOADING] = "downloading", [BTD_TORRENT_SEEDING] = "seeding",
        [BTD_TORRENT_PAUSED] = "paused",           [BTD_TORRENT_ERROR] = "error",
        [BTD_TORRENT_FINISHED] = "finished",       [BTD_TORRENT_MOVING] = "moving",
    };

    return names[s];
}

uint64_t btd_torrent_left(const struct btd_torrent *t)
{
    return t->meta ? t->meta->total_length - btd_picker_have_bytes(&t->picker) : 0;
}

const char *btd_torrent_name(const struct btd_torrent *t)
{
    return t->meta ? t->meta->name : t->name_hint ? t->name_hint : t->hex;
}

bool btd_torrent_peer_unemployed(const struct btd_torrent *t, const struct btd_peer *p)
{
    return p->state == BTD_PEER_ACTIVE && !p->peer_choking && p->nreqs == 0 &&
           !btd_picker_has_job(&t->picker, p);
}

uint32_t btd_torrent_unemployed(const struct btd_torrent *t)
{
    const struct btd_peer *p;
    uint32_t n = 0;

    for (p = t->peers; p; p = p->next)
        n += btd_torrent_peer_unemployed(t, p);
    return n;
}

struct btd_addr_entry *btd_torrent_book_entry(struct btd_torrent *t, uint32_t key)
{
    return key < t->nbook ? &t->book[key] : NULL;
}

static void on_tracker_stats(void *data, struct btd_tracker_stats *ret)
{
    struct btd_torrent *t = data;

    ret->uploaded = t->uploaded;
    ret->downloaded = btd_picker_have_bytes(&t->picker);
    ret->left = btd_torrent_left(t);
    ret->numwant = t->state == BTD_TORRENT_SEEDING ? 0 : 80;
}

static void on_tracker_peers(void *data, const struct bt_peer_addr *peers, size_t count)
{
    btd_torrent_add_peers(data, peers, count);
}

void btd__torrent_set_state(struct btd_torrent *t, enum btd_torrent_state s)
{
    if (s == BTD_TORRENT_PAUSED && t->finished != BT_SEED_GOAL_NONE) {
        if (t->meta && btd_picker_complete(&t->picker))
            s = BTD_TORRENT_FINISHED;
        else
            t->finished = BT_SEED_GOAL_NONE; /* pieces to fetch again: just paused now */
    }
    if (t->state == s)
        return;
    if (s == BTD_TORRENT_SEEDING)
        t->seed_idle = 0; /* the idle clock counts from here */
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s state %s -> %s", t->hex, btd_torrent_state_name(t->state),
             btd_torrent_state_name(s));
    t->state = s;
}

void btd_torrent_fail(struct btd_torrent *t, const char *why)
{
    char *copy = strdup(why);

    if (copy) {
        free(t->error);
        t->error = copy;
    }
    btd__torrent_set_state(t, BTD_TORRENT_ERROR);
}

static int start_tracker(struct btd_torrent *t, const struct bt_tier *tiers, size_t count)
{
    struct btd_session *s = t->session;
    struct btd_tracker_callbacks cb = {
        .get_stats = on_tracker_stats, .on_peers = on_tracker_peers, .data = t};

    if (count == 0)
        return 0;
    return btd_tracker_new(&t->tracker, s->loop, s->http, s->udp, tiers, count, t->info_hash,
                           s->peer_id, s->listen_port, &cb);
}

/* Pieces assembled at once: the configured count, within a byte budget, at least 2. */
static uint32_t max_jobs(const struct btd_session *s, const struct bt_metainfo *m)
{
    uint64_t by_bytes = (uint64_t)s->cfg->piece_memory / m->piece_length;
    uint64_t n = (uint64_t)s->cfg->pieces_in_flight;

    if (n > by_bytes)
        n = by_bytes;
    return n < 2 ? 2 : (uint32_t)n;
}

/* Downloading or seeding: announce and dial. */
void btd__torrent_go_active(struct btd_torrent *t)
{
    bool complete = btd_picker_complete(&t->picker);

    btd__torrent_set_state(t, complete ? BTD_TORRENT_SEEDING : BTD_TORRENT_DOWNLOADING);
    if (btd_picker_all_had(&t->picker))
        t->completed_sent = true; /* complete from the start: nothing to report */
    if (t->tracker)
        btd_tracker_start(t->tracker);
    btd__torrent_connect_more(t);
}

/* What every torrent starts with; NULL on ENOMEM. */
static struct btd_torrent *torrent_alloc(struct btd_session *s, uint32_t id,
                                         const uint8_t info_hash[20], const char *dir, bool paused)
{
    struct btd_torrent *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->session = s;
    t->id = id;
    t->paused = paused;
    t->added_at = (int64_t)time(NULL);
    t->starving_since = uv_now(s->loop);
    t->seed_ratio_limit = t->seed_idle_limit = BTD_SEED_GLOBAL;
    btd_torrent_set_limits(t, (uint64_t)s->cfg->torrent_download_limit,
                           (uint64_t)s->cfg->torrent_upload_limit);
    memcpy(t->info_hash, info_hash, 20);
    bt_hex_encode(t->hex, info_hash, 20);
    t->dir = strdup(dir);

    t->state = BTD_TORRENT_PAUSED;
    if (!t->dir) {
        btd_torrent_free(t);
        return NULL;
    }
    return t;
}

/* The picker and the storage for m, which becomes t's (on success only). */
static int attach_meta(struct btd_torrent *t, struct bt_metainfo *m)
{
    int r = btd_picker_init(&t->picker, m->piece_count, m->piece_length, m->total_length,
                            max_jobs(t->session, m));

    if (r == 0)
        r = btd_storage_new(&t->storage, t->dir, m);
    if (r < 0) {
        btd_picker_deinit(&t->picker);
        return r;
    }
    t->meta = m;
    return 0;
}

int btd_torrent_new(struct btd_torrent **ret, struct btd_session *s, uint32_t id,
                    struct bt_metainfo *m, const char *dir, bool paused,
                    const struct btd_resume *rec)
{
    struct btd_torrent *t;
    int r;

    if (rec) {
        dir = rec->dir;
        paused = rec->paused;
    }
    t = torrent_alloc(s, id, m->info_hash, dir, paused);
    if (!t)
        return -ENOMEM;
    r = attach_meta(t, m);
    if (r == 0)
        r = start_tracker(t, m->tiers, m->tier_count);
    if (r == 0 && rec && rec->choices)
        r = btd_torrent_set_choices(t, btd_file_choices_dup(rec->choices, m->file_count));
    if (r < 0) {
        t->meta = NULL; /* the caller keeps m on failure */
        btd_torrent_free(t);
        return r;
    }
    if (rec) {
        r = btd__torrent_restore(t, rec);
        if (r < 0) {
            t->meta = NULL;
            btd_torrent_free(t);
            return r;
        }
    } else if (!paused) {
        btd__torrent_start_check(t);
    }
    *ret = t;
    return 0;
}

/* A magnet without its metadata: announce and dial to find peers that have it. */
static void start_fetch(struct btd_torrent *t)
{
    btd__torrent_set_state(t, BTD_TORRENT_METADATA);
    if (t->tracker)
        btd_tracker_start(t->tracker);
    btd__torrent_connect_more(t);
}

int btd_torrent_new_magnet(struct btd_torrent **ret, struct btd_session *s, uint32_t id,
                           const struct bt_magnet *mg, const char *uri, const char *dir,
                           bool paused)
{
    struct btd_torrent *t = torrent_alloc(s, id, mg->info_hash, dir, paused);
    struct bt_tier *tiers = NULL;
    size_t i;
    int r;

    if (!t)
        return -ENOMEM;
    t->magnet = strdup(uri);
    t->name_hint = mg->name ? strdup(mg->name) : NULL;
    r = !t->magnet || (mg->name && !t->name_hint) ? -ENOMEM : btd_metadata_new(&t->md);
    if (r == 0 && mg->tracker_count > 0) {
        tiers = calloc(mg->tracker_count, sizeof(*tiers));
        r = tiers ? 0 : -ENOMEM;
        for (i = 0; tiers && i < mg->tracker_count; i++)
            tiers[i] = (struct bt_tier){.urls = &mg->trackers[i], .count = 1}; /* one tier each */
    }
    if (r == 0)
        r = start_tracker(t, tiers, mg->tracker_count);
    free(tiers);
    if (r < 0) {
        btd_torrent_free(t);
        return r;
    }
    if (!paused)
        start_fetch(t);
    *ret = t;
    return 0;
}

int btd_torrent_set_metadata(struct btd_torrent *t, struct bt_metainfo *m, uint8_t *raw,
                             size_t raw_len)
{
    struct btd_peer *p, *next;
    uint32_t i;
    int r = attach_meta(t, m);

    if (r < 0) {
        bt_metainfo_free(m);
        free(raw);
        return r;
    }
    btd_notice("ih=%.8s metadata received: \"%s\", %u pieces of %llu bytes", t->hex, m->name,
               m->piece_count, (unsigned long long)m->piece_length);
    btd_metadata_free(t->md);
    t->md = NULL;
    free(t->meta_raw);
    t->meta_raw = raw;
    t->meta_raw_len = raw_len;
    for (i = 0; i < t->nbook; i++) {
        t->book[i].fails = 0;
        t->book[i].next_try = 0;
    }
    t->resume_dirty = t->resume_soon = true;
    btd__torrent_apply_pending(t);
    if (t->paused)
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED);
    else
        btd__torrent_start_check(t);
    /*
     * The peers stay, with the pieces they announced meanwhile. Only when
     * the stat of the files finds data on disk to read back are they closed
     * (no peers while checking, as for a verify); until then they ask for
     * nothing.
     */
    for (p = t->peers; p; p = next) {
        next = p->next;
        if (t->paused)
            btd_peer_close(p, "metadata received, checking the data on disk");
        else
            btd_peer_metadata_arrived(p);
    }
    return 0;
}

void btd_torrent_free(struct btd_torrent *t)
{
    if (!t)
        return;
    while (t->peers)
        btd_peer_close(t->peers, "torrent removed");
    if (t->tracker) {
        btd_tracker_stop(t->tracker);
        btd_tracker_free(t->tracker);
    }
    if (t->storage)
        btd_storage_unref(t->storage);
    btd__torrent_drop_restore(t);
    btd_ban_free_all(t);
    btd_picker_deinit(&t->picker);
    bt_metainfo_free(t->meta);
    btd_metadata_free(t->md);
    free(t->magnet);
    free(t->name_hint);
    free(t->book);
    free(t->meta_raw);
    free(t->dir);
    free(t->error);
    free(t->choices);
    free(t->pending_selection);
    free(t->move_to);
    btd_storage_unref(t->move_storage);
    free(t);
}

void btd_torrent_piece_complete(struct btd_torrent *t, struct btd_job *job)
{
    uint64_t off = (uint64_t)job->index * t->meta->piece_length;
    uint8_t *buf = btd_picker_take_buffer(job);
    int r;

    r = btd_work_verify_write(t->session->work, t->id, t->storage, job->index, off, buf, job->size,
                              t->meta->pieces + (size_t)job->index * 20, NULL);
    if (r < 0) {
        btd_warn("ih=%.8s piece=%u cannot queue verification: %s", t->hex, job->index,
                 strerror(-r));
        btd_picker_verified(&t->picker, job->index, false);
    }
}

/*
 * Every wanted piece is had: seeding. Trackers hear `completed` only once
 * every piece of the torrent is had; a partial seed (files skipped) still
 * announces the bytes it lacks as `left`.
 */
static void finish_download(struct btd_torrent *t)
{
    bool all = btd_picker_all_had(&t->picker);

    btd_notice("ih=%.8s download complete%s: %s", t->hex, all ? "" : " (the wanted files)",
               btd_torrent_name(t));
    if (!t->move_to) /* a move's end decides */
        btd__torrent_set_state(t, BTD_TORRENT_SEEDING);
    if (!all)
        return;
    if (t->tracker && !t->completed_sent)
        btd_tracker_completed(t->tracker);
    t->completed_sent = true;
}

void btd__torrent_selection_changed(struct btd_torrent *t)
{
    bool complete = btd_picker_complete(&t->picker);
    struct btd_peer *p, *next;

    for (p = t->peers; p; p = next) {
        next = p->next;
        btd_peer_selection_changed(p);
    }
    if (t->state == BTD_TORRENT_DOWNLOADING && complete) {
        finish_download(t);
    } else if (t->state == BTD_TORRENT_SEEDING && !complete) {
        btd_notice("ih=%.8s more files wanted: downloading again", t->hex);
        btd__torrent_set_state(t, BTD_TORRENT_DOWNLOADING);
        if (t->tracker)
            btd_tracker_reannounce(t->tracker);
        btd__torrent_connect_more(t);
    } else if (t->state == BTD_TORRENT_FINISHED && !complete) {
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED); /* more to download: just paused now */
    }
}

#define FAULT_LOG_MS 60000 /* a torrent's disk faults: one log line a minute at most */

/*
 * What a failed worker result says, for a user: "files missing: DIR/PATH",
 * "No space left on device: DIR/PATH", or without a path when the failure
 * is no one file's. NULL on ENOMEM.
 */
static char *fault_message(const struct btd_torrent *t, const struct btd_work_result *res)
{
    const char *what = res->status == -ENOENT    ? "files missing"
                       : res->status == -ENODATA ? "file shorter than its pieces"
                                                 : btd_storage_strerror(-res->status);
    char *msg = NULL;
    int r;

    if (t->meta && res->file < t->meta->file_count)
        r = asprintf(&msg, "%s: %s/%s", what, t->dir, t->meta->files[res->file].path);
    else
        r = asprintf(&msg, "%s", what);
    return r < 0 ? NULL : msg;
}

/*
 * Logs a disk fault in one line, at most once a minute (counting the ones
 * in between), and keeps the first message as the torrent's error.
 */
static void note_fault(struct btd_torrent *t, const char *op, const struct btd_work_result *res)
{
    uint64_t now = uv_now(t->session->loop);
    char *msg = fault_message(t, res), more[64] = "";

    if (t->fault_logged_at != 0 && now - t->fault_logged_at < FAULT_LOG_MS) {
        t->faults_quiet++;
    } else {
        if (t->faults_quiet > 0)
            snprintf(more, sizeof(more), " (and %u more disk faults since the last line)",
                     t->faults_quiet);
        btd_err("ih=%.8s piece=%u %s: %s; downloading stopped until btctl resume or verify%s",
                t->hex, res->piece, op, msg ? msg : strerror(-res->status), more);
        t->fault_logged_at = now;
        t->faults_quiet = 0;
    }
    if (t->error) {
        free(msg);
        return;
    }
    t->error = msg ? msg : strdup(strerror(-res->status));
    t->files_missing = res->status == -ENOENT;
}

/*
 * State error: no new requests (the picker halts), requests out are
 * cancelled and pending pieces go back to unclaimed. Peers stay connected
 * and the verified pieces are still served. A paused torrent stays paused
 * (resume retries), and a check runs to its end first (work_done).
 */
static void enter_error(struct btd_torrent *t)
{
    struct btd_peer *p, *next;

    t->picker.halted = true;
    for (p = t->peers; p; p = next) {
        next = p->next;
        while (p->nreqs > 0 && p->state != BTD_PEER_CLOSING)
            btd_peer_cancel_block(p, p->reqs[0].piece, p->reqs[0].begin);
        btd_picker_peer_gone(&t->picker, p);
    }
    btd_picker_drop_jobs(&t->picker);
    if (!t->paused && t->state != BTD_TORRENT_CHECKING && !t->move_to)
        btd__torrent_set_state(t, BTD_TORRENT_ERROR);
}

/*
 * A piece left the picker's budget (verified, or failed and back to
 * unclaimed): peers that stopped asking because every piece buffer was
 * taken ask again now, not at the next tick a second later.
 */
static void refill_requests(struct btd_torrent *t)
{
    struct btd_peer *p, *next;

    for (p = t->peers; p; p = next) {
        next = p->next;
        btd_peer_fill_requests(p);
    }
}

static void on_verified(struct btd_torrent *t, struct btd_work_result *res)
{
    struct btd_job *job = btd_picker_job(&t->picker, res->piece);
    struct btd_peer *p, *next;

    if (res->status < 0) {
        btd_picker_verified(&t->picker, res->piece, false);
        note_fault(t, "write failed", res);
        enter_error(t);
        return;
    }
    if (!res->hash_ok) {
        t->hash_failures++;
        t->wasted += res->len;
        btd_warn("ih=%.8s piece=%u failed its hash check; fetching it again", t->hex, res->piece);
        if (job)
            btd_ban_piece_failed(t, job, res->buf);
        btd_picker_recycle(&t->picker, res->buf);
        res->buf = NULL;
        btd_picker_verified(&t->picker, res->piece, false);
        refill_requests(t);
        return;
    }
    btd_ban_piece_passed(t, res->piece, res->buf, (uint32_t)res->len);
    btd_picker_recycle(&t->picker, res->buf);
    res->buf = NULL;
    btd_picker_verified(&t->picker, res->piece, true);
    t->resume_dirty = true;
    for (p = t->peers; p; p = next) {
        next = p->next; /* a peer that is a seed too is closed */
        btd_peer_have(p, res->piece);
    }
    if (btd_picker_complete(&t->picker))
        finish_download(t);
    else
        refill_requests(t);
}

/*
 * A read of a verified piece that fails (its file deleted, an I/O error)
 * puts the torrent in state error: no silent download again. A check that
 * cannot read a file (other than missing or short: those pieces are just
 * fetched again) ends in state error too.
 */
void btd_torrent_work_done(struct btd_torrent *t, struct btd_work_result *res)
{
    bool fault = res->status < 0 && res->file != BTD_WORK_NO_FILE;

    if (res->kind == BTD_WORK_VERIFY_WRITE) {
        on_verified(t, res);
        if (t->state == BTD_TORRENT_SEEDING && t->error) { /* the last pieces came anyway */
            free(t->error);
            t->error = NULL;
            t->picker.halted = false;
        }
        btd__torrent_move_go(t); /* a move waits for the pieces being written */
    } else if (res->kind == BTD_WORK_READ) {
        /* A read racing a move may find its file gone: not a fault, the data moved. */
        if (fault && t->meta && t->picker.state[res->piece] == BTD_PIECE_HAVE && !t->move_to &&
            res->storage == t->storage) {
            note_fault(t, "read failed", res);
            enter_error(t);
        }
        btd_upload_read_done(t, res);
    } else if (res->kind == BTD_WORK_CHECK) {
        if (fault)
            note_fault(t, "check failed", res);
        btd__torrent_on_checked(t, res);
        if (t->error && t->check_left == 0 && !t->paused && t->state != BTD_TORRENT_CHECKING)
            enter_error(t);
    }
}

int btd_torrent_verify(struct btd_torrent *t)
{
    if (btd__torrent_checking(t) || !t->meta || t->move_to)
        return -EBUSY;
    btd_notice("ih=%.8s verifying the data on disk", t->hex);
    while (t->peers)
        btd_peer_close(t->peers, "torrent verifying its data");
    btd_picker_forget(&t->picker);
    free(t->error);
    t->error = NULL;
    t->checked = false;
    btd__torrent_start_check(t);
    return 0;
}

void btd_torrent_set_limits(struct btd_torrent *t, uint64_t download, uint64_t upload)
{
    uint64_t now = uv_now(t->session->loop);

    btd_bucket_set_rate(&t->bw[BTD_BW_DOWN], download, now);
    btd_bucket_set_rate(&t->bw[BTD_BW_UP], upload, now);
    btd_bandwidth_wait(t->session);
}

void btd_torrent_pause(struct btd_torrent *t)
{
    if (t->paused)
        return;
    t->paused = true;
    while (t->peers)
        btd_peer_close(t->peers, "torrent paused");
    if (t->tracker)
        btd_tracker_stop(t->tracker);
    if (!t->move_to) /* a move ends paused */
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED);
}

void btd_torrent_resume(struct btd_torrent *t)
{
    bool retry = t->state == BTD_TORRENT_ERROR || t->error;
    struct btd_peer *p, *next;
    uint32_t i;

    if (!t->paused && !retry)
        return;
    if (t->paused)
        btd__torrent_seed_resumed(t);
    t->paused = false;
    if (t->move_to)
        return; /* a move carries on when it ends */
    if (retry) {
        btd_notice("ih=%.8s retrying after: %s", t->hex, t->error ? t->error : "an error");
        free(t->error);
        t->error = NULL;
        t->picker.halted = false;
    }
    if (retry && t->files_missing && t->meta && !btd__torrent_checking(t)) {
        t->files_missing = false;
        btd_torrent_verify(t); /* what the files held is gone: find out what is left */
        return;
    }
    for (i = 0; i < t->nbook; i++)
        t->book[i].next_try = 0;
    if (!t->meta)
        start_fetch(t);
    else if (btd__torrent_checking(t))
        btd__torrent_set_state(t, BTD_TORRENT_CHECKING); /* a check is still running: it goes on */
    else if (!t->checked)
        btd__torrent_start_check(t);
    else
        btd__torrent_go_active(t);
    for (p = t->peers; p; p = next) {
        next = p->next; /* peers kept through an error ask for blocks again */
        btd_peer_fill_requests(p);
    }
}

static void rate_tick(struct btd_rate *r)
{
    r->per_second = r->per_second * 0.6 + (double)r->bytes_this_second * 0.4;
    if (r->per_second < 1.0)
        r->per_second = 0;
    r->bytes_this_second = 0;
}

/*
 * The blocks the piece buffers hold, shared out among the peers sending to
 * us: with more peers than buffers, the deep pipelines of the first few
 * would take every block and leave the others idle. 0 when nobody sends.
 */
static uint32_t request_share(const struct btd_torrent *t)
{
    const struct btd_picker *pk = &t->picker;
    uint64_t blocks =
        (uint64_t)pk->max_jobs * ((pk->piece_length + BTD_BLOCK_SIZE - 1) / BTD_BLOCK_SIZE);
    const struct btd_peer *p;
    uint64_t n = 0, share;

    for (p = t->peers; p; p = p->next)
        n += p->state == BTD_PEER_ACTIVE && p->am_interested && !p->peer_choking;
    if (n == 0 || blocks == 0)
        return 0;
    share = blocks / (2 * n); /* about half the buffers' blocks are in, waiting for the rest */
    if (share < BTD_PEER_MIN_REQUESTS)
        share = BTD_PEER_MIN_REQUESTS;
    return share > UINT32_MAX ? UINT32_MAX : (uint32_t)share;
}

void btd_torrent_tick(struct btd_torrent *t)
{
    uint64_t now = uv_now(t->session->loop);
    struct btd_peer *p, *next;

    btd__torrent_seed_tick(t); /* reads this second's upload: before rate_tick */
    rate_tick(&t->down);
    rate_tick(&t->up);
    t->request_share = t->meta ? request_share(t) : 0;
    for (p = t->peers; p; p = next) {
        next = p->next;
        rate_tick(&p->down);
        rate_tick(&p->up);
        btd_peer_tick(p, now);
    }
    btd__torrent_connect_more(t);
    btd_upload_tick(t);
    btd_metadata_tick(t);
    btd_pex_tick(t);
    if (t->up.per_second > 0 || t->down.per_second > 0)
        t->resume_dirty = true; /* the totals moved */
    /* Nobody to talk to: ask the trackers again rather than wait out their interval. */
    if (t->tracker && t->npeers == 0 &&
        (t->state == BTD_TORRENT_DOWNLOADING || t->state == BTD_TORRENT_METADATA) &&
        now - t->starving_since >= STARVING_ANNOUNCE_MS) {
        t->starving_since = now;
        btd_tracker_reannounce(t->tracker);
    }
}
