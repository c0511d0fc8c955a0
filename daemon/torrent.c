#include "torrent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "ban.h"
#include "bitfield.h"
#include "codec.h"
#include "log.h"
#include "peer.h"
#include "resume.h"
#include "session.h"
#include "storage.h"
#include "tracker.h"
#include "upload.h"
#include "work.h"

#define RETRY_BASE_MS 1000         /* reconnect delay: 2 s after one failure, doubling */
#define MAX_FAILS 6                /* an address failing this often is forgotten for the run */
#define STARVING_ANNOUNCE_MS 60000 /* with no peer connected, ask trackers this often */
#define INFLIGHT_BYTES ((uint64_t)16 << 20) /* piece buffers per torrent, at most */

const char *btd_torrent_state_name(enum btd_torrent_state s)
{
    static const char *const names[] = {
        [BTD_TORRENT_CHECKING] = "checking", [BTD_TORRENT_DOWNLOADING] = "downloading",
        [BTD_TORRENT_SEEDING] = "seeding",   [BTD_TORRENT_PAUSED] = "paused",
        [BTD_TORRENT_ERROR] = "error",
    };

    return names[s];
}

uint64_t btd_torrent_left(const struct btd_torrent *t)
{
    return t->meta->total_length - btd_picker_have_bytes(&t->picker);
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

static void set_state(struct btd_torrent *t, enum btd_torrent_state s)
{
    if (t->state == s)
        return;
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s state %s -> %s", t->hex, btd_torrent_state_name(t->state),
             btd_torrent_state_name(s));
    t->state = s;
}

static int start_tracker(struct btd_torrent *t)
{
    struct btd_session *s = t->session;
    struct btd_tracker_callbacks cb = {
        .get_stats = on_tracker_stats, .on_peers = on_tracker_peers, .data = t};

    if (t->meta->tier_count == 0)
        return 0;
    return btd_tracker_new(&t->tracker, s->loop, s->http, s->udp, t->meta->tiers,
                           t->meta->tier_count, t->meta->info_hash, s->peer_id, s->listen_port,
                           &cb);
}

/* Pieces assembled at once: the configured count, within a byte budget, at least 2. */
static uint32_t max_jobs(const struct btd_session *s, const struct bt_metainfo *m)
{
    uint64_t by_bytes = INFLIGHT_BYTES / m->piece_length;
    uint64_t n = (uint64_t)s->cfg->pieces_in_flight;

    if (n > by_bytes)
        n = by_bytes;
    return n < 2 ? 2 : (uint32_t)n;
}

static void connect_more(struct btd_torrent *t);

/* Downloading or seeding: announce and dial. */
static void go_active(struct btd_torrent *t)
{
    bool complete = btd_picker_complete(&t->picker);

    set_state(t, complete ? BTD_TORRENT_SEEDING : BTD_TORRENT_DOWNLOADING);
    if (complete)
        t->completed_sent = true; /* complete from the start: nothing to report */
    if (t->tracker)
        btd_tracker_start(t->tracker);
    connect_more(t);
}

/*
 * Reads every piece back from disk on the worker pool (data already in the
 * directory: complete data seeds, partial data keeps its valid pieces).
 */
static void start_check(struct btd_torrent *t, const bool *only)
{
    const struct bt_metainfo *m = t->meta;
    uint32_t i;
    int r;

    set_state(t, BTD_TORRENT_CHECKING);
    for (i = t->check_left = 0; i < m->piece_count; i++) {
        if (only && !only[i])
            continue;
        r = btd_work_check(t->session->work, t->id, t->storage, i, (uint64_t)i * m->piece_length,
                           bt_metainfo_piece_size(m, i), m->pieces + (size_t)i * 20, NULL);
        if (r < 0) {
            btd_err("ih=%.8s cannot check existing data: %s", t->hex, strerror(-r));
            free(t->error);
            t->error = strdup("cannot check existing data");
            set_state(t, BTD_TORRENT_ERROR);
            return;
        }
        t->check_left++;
    }
}

static void on_checked(struct btd_torrent *t, struct btd_work_result *res)
{
    if (res->hash_ok)
        btd_picker_set_have(&t->picker, res->piece);
    if (t->check_left == 0 || --t->check_left > 0)
        return;
    t->checked = true;
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s existing data: %u of %u pieces valid", t->hex, t->picker.have,
             t->picker.piece_count);
    if (t->paused)
        set_state(t, BTD_TORRENT_PAUSED);
    else
        go_active(t);
}

/*
 * Applies a resume record: the pieces it lists in files whose size and
 * mtime are as it says are had; the pieces touching any other file are
 * checked. Then the torrent starts (or stays paused).
 */
static int restore(struct btd_torrent *t, const struct btd_resume *rec)
{
    const struct bt_metainfo *m = t->meta;
    bool *check = calloc(m->piece_count ? m->piece_count : 1, sizeof(*check));
    uint32_t i, nchanged = 0, ncheck = 0;

    if (!check)
        return -ENOMEM;
    t->uploaded = rec->uploaded;
    t->downloaded = rec->downloaded;
    t->added_at = rec->added_at;
    t->completed_sent = rec->completed_sent;
    btd_torrent_set_limits(t, rec->download_limit, rec->upload_limit);
    for (i = 0; i < m->file_count; i++) {
        const struct btd_resume_file *f = &rec->files[i];
        uint64_t size = 0, first, last, p;
        int64_t mtime = 0;
        bool exists = btd_storage_stat(t->storage, i, &size, &mtime) == 0;

        if (!rec->recheck && exists == f->exists &&
            (!exists || (size == f->size && mtime == f->mtime_ns)))
            continue;
        nchanged++;
        if (m->files[i].length == 0)
            continue;
        first = m->files[i].offset / m->piece_length;
        last = (m->files[i].offset + m->files[i].length - 1) / m->piece_length;
        for (p = first; p <= last && p < m->piece_count; p++)
            check[p] = true;
    }
    for (i = 0; i < m->piece_count; i++) {
        if (check[i])
            ncheck++;
        else if (rec->have[i / 8] & (0x80u >> (i % 8)))
            btd_picker_set_have(&t->picker, i);
    }
    btd_info("ih=%.8s resumed: %u of %u pieces verified, %u file(s) changed since, %u piece(s) "
             "to check",
             t->hex, t->picker.have, m->piece_count, nchanged, ncheck);
    if (ncheck > 0) {
        start_check(t, check);
    } else {
        t->checked = true;
        if (!t->paused)
            go_active(t);
    }
    free(check);
    return 0;
}

int btd_torrent_new(struct btd_torrent **ret, struct btd_session *s, uint32_t id,
                    struct bt_metainfo *m, const char *dir, bool paused,
                    const struct btd_resume *rec)
{
    struct btd_torrent *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    t->session = s;
    t->id = id;
    t->meta = m;
    t->paused = paused;
    t->added_at = (int64_t)time(NULL);
    t->starving_since = uv_now(s->loop);
    btd_torrent_set_limits(t, (uint64_t)s->cfg->torrent_download_limit,
                           (uint64_t)s->cfg->torrent_upload_limit);
    bt_hex_encode(t->hex, m->info_hash, 20);
    if (rec) {
        dir = rec->dir;
        paused = t->paused = rec->paused;
    }
    t->dir = strdup(dir);
    t->book = calloc(BTD_BOOK_MAX, sizeof(*t->book));
    r = !t->dir || !t->book ? -ENOMEM : 0;
    if (r == 0)
        r = btd_picker_init(&t->picker, m->piece_count, m->piece_length, m->total_length,
                            max_jobs(s, m));
    if (r == 0)
        r = btd_storage_new(&t->storage, dir, m);
    if (r == 0)
        r = start_tracker(t);
    if (r < 0) {
        t->meta = NULL; /* the caller keeps m on failure */
        btd_torrent_free(t);
        return r;
    }
    t->state = BTD_TORRENT_PAUSED;
    if (rec) {
        r = restore(t, rec);
        if (r < 0) {
            t->meta = NULL;
            btd_torrent_free(t);
            return r;
        }
    } else if (!paused) {
        start_check(t, NULL);
    }
    *ret = t;
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
    btd_ban_free_all(t);
    btd_picker_deinit(&t->picker);
    bt_metainfo_free(t->meta);
    free(t->book);
    free(t->meta_raw);
    free(t->dir);
    free(t->error);
    free(t);
}

/* Dials known addresses while under the caps. */
static void connect_more(struct btd_torrent *t)
{
    struct btd_session *s = t->session;
    uint64_t now = uv_now(s->loop);
    struct btd_peer *p;
    uint32_t i;

    if (t->paused || t->state != BTD_TORRENT_DOWNLOADING)
        return;
    for (i = 0; i < t->nbook; i++) {
        struct btd_addr_entry *e = &t->book[i];

        if (t->npeers >= (uint32_t)s->cfg->max_peers_torrent ||
            s->peer_count >= (uint32_t)s->cfg->max_peers_global ||
            s->half_open >= (uint32_t)s->cfg->max_half_open)
            return;
        if (e->connected || e->banned || e->incoming || e->self || e->fails >= MAX_FAILS ||
            e->next_try > now)
            continue;
        e->connected = true; /* before: a connect that fails at once closes the peer */
        if (btd_peer_connect(t, i, &e->addr, &p) < 0) {
            e->connected = false;
            e->fails++;
        }
    }
}

void btd_torrent_add_peers(struct btd_torrent *t, const struct bt_peer_addr *addrs, size_t n)
{
    size_t i;
    uint32_t j;

    for (i = 0; i < n; i++) {
        if (addrs[i].port == 0)
            continue;
        for (j = 0; j < t->nbook; j++) {
            if (btd_addr_equal(&t->book[j].addr, &addrs[i]))
                break;
        }
        if (j < t->nbook) {
            t->book[j].fails = t->book[j].fails >= MAX_FAILS ? MAX_FAILS - 1 : t->book[j].fails;
            continue;
        }
        if (t->nbook >= BTD_BOOK_MAX)
            break;
        memset(&t->book[t->nbook], 0, sizeof(t->book[0]));
        t->book[t->nbook++].addr = addrs[i];
    }
    connect_more(t);
}

static bool ip_banned(const struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t n = a->family == 6 ? 16 : 4;
    uint32_t i;

    for (i = 0; i < t->nbook; i++) {
        const struct btd_addr_entry *e = &t->book[i];

        if (e->banned && e->addr.family == a->family && memcmp(e->addr.ip, a->ip, n) == 0)
            return true;
    }
    return false;
}

/*
 * The entry for a connection they made: the idle one of the same IP (its
 * blame carries over, so reconnecting does not wash it), else an idle
 * incoming entry with no blame, else a new one. NULL when the book is full.
 */
static struct btd_addr_entry *incoming_entry(struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t n = a->family == 6 ? 16 : 4;
    struct btd_addr_entry *spare = NULL;
    uint32_t i;

    for (i = 0; i < t->nbook; i++) {
        struct btd_addr_entry *e = &t->book[i];

        if (!e->incoming || e->connected)
            continue;
        if (e->addr.family == a->family && memcmp(e->addr.ip, a->ip, n) == 0)
            return e;
        if (!spare && e->blame == 0 && !e->banned)
            spare = e;
    }
    if (spare) {
        memset(spare, 0, sizeof(*spare));
        return spare;
    }
    if (t->nbook >= BTD_BOOK_MAX)
        return NULL;
    memset(&t->book[t->nbook], 0, sizeof(t->book[0]));
    return &t->book[t->nbook++];
}

/* Connections of this torrent with a's IP address. */
static uint32_t peers_from_ip(const struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t len = a->family == 6 ? 16 : 4;
    const struct btd_peer *p;
    uint32_t n = 0;

    for (p = t->peers; p; p = p->next)
        n += p->addr.family == a->family && memcmp(p->addr.ip, a->ip, len) == 0;
    return n;
}

int btd_torrent_attach(struct btd_torrent *t, struct btd_peer *p)
{
    struct btd_session *s = t->session;
    struct btd_addr_entry *e;

    if (t->paused || t->state == BTD_TORRENT_CHECKING || ip_banned(t, &p->addr))
        return -EPERM;
    if (t->npeers >= (uint32_t)s->cfg->max_peers_torrent ||
        s->peer_count >= (uint32_t)s->cfg->max_peers_global)
        return -EMFILE;
    if (peers_from_ip(t, &p->addr) >= (uint32_t)s->cfg->max_peers_per_ip)
        return -EADDRINUSE;
    e = incoming_entry(t, &p->addr);
    if (!e)
        return -ENOSPC;
    e->addr = p->addr;
    e->incoming = true;
    e->connected = true;
    p->book_key = (uint32_t)(e - t->book);
    p->torrent = t;
    p->next = t->peers;
    t->peers = p;
    t->npeers++;
    s->peer_count++;
    return 0;
}

void btd_torrent_peer_closed(struct btd_torrent *t, struct btd_peer *p)
{
    struct btd_session *s = t->session;
    struct btd_addr_entry *e = btd_torrent_book_entry(t, p->book_key);
    struct btd_peer **pp;
    uint32_t i;

    for (pp = &t->peers; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            t->npeers--;
            s->peer_count--;
            break;
        }
    }
    for (i = 0; i < p->have.npieces && bt_bitfield_count(&p->have) > 0; i++) {
        if (bt_bitfield_test(&p->have, i))
            btd_picker_peer_lost(&t->picker, i);
    }
    if (e) {
        e->connected = false;
        if (p->downloaded == 0)
            e->fails++;
        e->next_try = uv_now(s->loop) + ((uint64_t)RETRY_BASE_MS << (e->fails < 8 ? e->fails : 8));
    }
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

static void finish_download(struct btd_torrent *t)
{
    btd_notice("ih=%.8s download complete: %s", t->hex, t->meta->name);
    set_state(t, BTD_TORRENT_SEEDING);
    if (t->tracker && !t->completed_sent)
        btd_tracker_completed(t->tracker);
    t->completed_sent = true;
}

static void on_verified(struct btd_torrent *t, struct btd_work_result *res)
{
    struct btd_job *job = btd_picker_job(&t->picker, res->piece);
    struct btd_peer *p, *next;

    if (res->status < 0) {
        btd_err("ih=%.8s piece=%u write failed: %s", t->hex, res->piece, strerror(-res->status));
        btd_picker_verified(&t->picker, res->piece, false);
        free(t->error);
        t->error = strdup(strerror(-res->status));
        set_state(t, BTD_TORRENT_ERROR);
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
}

void btd_torrent_work_done(struct btd_torrent *t, struct btd_work_result *res)
{
    if (res->kind == BTD_WORK_VERIFY_WRITE)
        on_verified(t, res);
    else if (res->kind == BTD_WORK_READ)
        btd_upload_read_done(t, res);
    else if (res->kind == BTD_WORK_CHECK)
        on_checked(t, res);
}

int btd_torrent_verify(struct btd_torrent *t)
{
    if (t->check_left > 0)
        return -EBUSY;
    btd_notice("ih=%.8s verifying the data on disk", t->hex);
    while (t->peers)
        btd_peer_close(t->peers, "torrent verifying its data");
    btd_picker_forget(&t->picker);
    free(t->error);
    t->error = NULL;
    t->checked = false;
    start_check(t, NULL);
    return 0;
}

void btd_torrent_set_limits(struct btd_torrent *t, uint64_t download, uint64_t upload)
{
    uint64_t now = uv_now(t->session->loop);

    btd_bucket_set_rate(&t->bw[BTD_BW_DOWN], download, now);
    btd_bucket_set_rate(&t->bw[BTD_BW_UP], upload, now);
    btd_bandwidth_wait(t->session);
}

struct btd_resume_job *btd_torrent_resume_job(struct btd_torrent *t)
{
    const struct bt_metainfo *m = t->meta;
    struct btd_resume_job *job = calloc(1, sizeof(*job));
    struct btd_resume *rec;
    uint32_t i;

    if (!job)
        return NULL;
    rec = &job->rec;
    memcpy(job->hex, t->hex, sizeof(job->hex));
    job->record_path = btd_resume_path(t->session->cfg->state_dir, t->hex, "resume");
    if (t->meta_raw) {
        job->metainfo_path = btd_resume_path(t->session->cfg->state_dir, t->hex, "torrent");
        job->meta = malloc(t->meta_raw_len);
        if (job->meta)
            memcpy(job->meta, t->meta_raw, t->meta_raw_len);
        job->meta_len = t->meta_raw_len;
    }
    rec->dir = strdup(t->dir);
    rec->have = calloc(1, bt_bitfield_bytes(m->piece_count) + 1);
    rec->files = calloc(m->file_count, sizeof(*rec->files));
    if (!job->record_path || !rec->dir || !rec->have || !rec->files ||
        (t->meta_raw && (!job->metainfo_path || !job->meta))) {
        btd_resume_job_free(job);
        return NULL;
    }
    rec->id = t->id;
    rec->paused = t->paused;
    rec->completed_sent = t->completed_sent;
    rec->added_at = t->added_at;
    rec->uploaded = t->uploaded;
    rec->downloaded = t->downloaded;
    rec->download_limit = t->bw[BTD_BW_DOWN].rate;
    rec->upload_limit = t->bw[BTD_BW_UP].rate;
    rec->piece_count = m->piece_count;
    rec->file_count = (uint32_t)m->file_count;
    for (i = 0; i < m->piece_count; i++) {
        if (t->picker.state[i] == BTD_PIECE_HAVE)
            rec->have[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
    return job;
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
    set_state(t, BTD_TORRENT_PAUSED);
}

void btd_torrent_resume(struct btd_torrent *t)
{
    uint32_t i;

    if (!t->paused)
        return;
    t->paused = false;
    for (i = 0; i < t->nbook; i++)
        t->book[i].next_try = 0;
    if (t->check_left > 0)
        set_state(t, BTD_TORRENT_CHECKING); /* a check is still running: it goes on */
    else if (!t->checked)
        start_check(t, NULL);
    else
        go_active(t);
}

static void rate_tick(struct btd_rate *r)
{
    r->per_second = r->per_second * 0.6 + (double)r->bytes_this_second * 0.4;
    if (r->per_second < 1.0)
        r->per_second = 0;
    r->bytes_this_second = 0;
}

void btd_torrent_tick(struct btd_torrent *t)
{
    uint64_t now = uv_now(t->session->loop);
    struct btd_peer *p, *next;

    rate_tick(&t->down);
    rate_tick(&t->up);
    for (p = t->peers; p; p = next) {
        next = p->next;
        rate_tick(&p->down);
        rate_tick(&p->up);
        btd_peer_tick(p, now);
    }
    connect_more(t);
    btd_upload_tick(t);
    if (t->up.per_second > 0 || t->down.per_second > 0)
        t->resume_dirty = true; /* the totals moved */
    /* Nobody to talk to: ask the trackers again rather than wait out their interval. */
    if (t->tracker && t->npeers == 0 && t->state == BTD_TORRENT_DOWNLOADING &&
        now - t->starving_since >= STARVING_ANNOUNCE_MS) {
        t->starving_since = now;
        btd_tracker_reannounce(t->tracker);
    }
}
