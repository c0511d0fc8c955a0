#include "upload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "crypto.h"
#include "log.h"
#include "peer-internal.h"
#include "peer.h"
#include "session.h"
#include "storage.h"
#include "torrent.h"
#include "work.h"

/* A request we will not serve: rejected (Fast extension) and held against them. */
static void refuse(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len,
                   const char *why)
{
    btd_fast_reject(p, piece, begin, len);
    p->bad_requests++;
    btd_debug("ih=%.8s peer=%s request refused: %s", p->torrent->hex, p->name, why);
    if (p->bad_requests > BTD_UPLOAD_MAX_BAD)
        btd_peer_close(p, "too many bad requests");
}

/* len bytes of blocks sent to p: its, its torrent's and the session's counters. */
static void count_sent(struct btd_peer *p, uint64_t len)
{
    struct btd_torrent *t = p->torrent;

    p->uploaded += len;
    p->up.bytes_this_second += len;
    t->uploaded += len;
    t->up.bytes_this_second += len;
    t->session->uploaded += len;
}

/* Removes serves[i..i+n): answered. */
static void take_serves(struct btd_peer *p, uint32_t i, uint32_t n)
{
    memmove(&p->serves[i], &p->serves[i + n], (p->nserves - i - n) * sizeof(p->serves[0]));
    p->nserves -= n;
}

_Static_assert(BTD_UPLOAD_BATCH_BLOCKS <= BTD_STORAGE_CACHED_IOV, "a batch is one cached read");

/*
 * Sends serves[i..i+n), len bytes at torrent offset off, straight from the
 * page cache into the peer's output: each block read in place behind its
 * header, all in one non-blocking read. False (nothing sent) when a part
 * is not cached or its file not open: a worker reads it then.
 */
static bool send_cached(struct btd_peer *p, uint32_t i, uint32_t n, uint64_t off, uint32_t len)
{
    struct iovec iov[BTD_UPLOAD_BATCH_BLOCKS];
    size_t total = (size_t)n * BT_WIRE_PIECE_HEADER_LEN + len;
    uint8_t *at = btd__peer_send_room(p, total);
    uint32_t j;

    if (!at)
        return false;
    for (j = 0; j < n; j++) {
        const struct btd_serve *sv = &p->serves[i + j];

        bt_wire_piece_header(at, sv->piece, sv->begin, sv->len);
        iov[j] = (struct iovec){.iov_base = at + BT_WIRE_PIECE_HEADER_LEN, .iov_len = sv->len};
        at += BT_WIRE_PIECE_HEADER_LEN + sv->len;
    }
    if (btd_storage_read_cached(p->torrent->storage, off, iov, (int)n) < 0)
        return false;
    btd__peer_send_commit(p, total);
    count_sent(p, len);
    return true;
}

/*
 * Serves waiting requests, oldest first, while the upload buckets hold
 * tokens (charged as a block is read) and less than BTD_UPLOAD_MAX_UNSENT
 * of the peer's output waits for its socket: from the page cache at once
 * where it can (send_cached), else by a worker's read, up to
 * BTD_UPLOAD_MAX_READS of those.
 */
void btd_upload_pump(struct btd_peer *p)
{
    struct btd_torrent *t = p->torrent;
    uint32_t i = 0;

    while (i < p->nserves && p->state == BTD_PEER_ACTIVE &&
           btd__peer_unsent(p) + p->read_bytes < BTD_UPLOAD_MAX_UNSENT) {
        struct btd_serve *sv = &p->serves[i];
        uint64_t off = (uint64_t)sv->piece * t->meta->piece_length + sv->begin;
        uint32_t j, n = 1, len = sv->len;

        if (sv->reading) {
            i++;
            continue;
        }
        if (!btd_bandwidth_allow(p, BTD_BW_UP)) {
            p->send_throttled = true;
            btd_bandwidth_wait(t->session);
            return;
        }
        /* The requests queued right after it for the next bytes of the piece: one read. */
        for (j = i + 1; j < p->nserves && n < BTD_UPLOAD_BATCH_BLOCKS; j++) {
            const struct btd_serve *nx = &p->serves[j];

            if (nx->reading || nx->piece != sv->piece || nx->begin != sv->begin + len ||
                len + nx->len > BTD_UPLOAD_BATCH)
                break;
            len += nx->len;
            n++;
        }
        if (send_cached(p, i, n, off, len)) {
            btd_bandwidth_use(p, BTD_BW_UP, len);
            take_serves(p, i, n);
            continue;
        }
        if (p->state != BTD_PEER_ACTIVE)
            return; /* closed for want of memory */
        if (p->nreading >= BTD_UPLOAD_MAX_READS ||
            btd_work_read(t->session->work, t->id, t->storage, sv->piece, off, len,
                          (void *)(uintptr_t)p->serial) < 0)
            return;
        btd_bandwidth_use(p, BTD_BW_UP, len);
        for (j = i; j < i + n; j++)
            p->serves[j].reading = true;
        p->nreading++;
        p->read_bytes += len;
        i += n;
    }
}

void btd_upload_request(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
    struct btd_torrent *t = p->torrent;

    if (p->am_choking && !btd_fast_allowed_out(p, piece)) {
        refuse(p, piece, begin, len, "sent while choked");
        return;
    }
    if (piece >= t->picker.piece_count || t->picker.state[piece] != BTD_PIECE_HAVE) {
        refuse(p, piece, begin, len, "piece not available");
        return;
    }
    if (len == 0 || len > BTD_BLOCK_SIZE ||
        (uint64_t)begin + len > btd_picker_piece_size(&t->picker, piece)) {
        refuse(p, piece, begin, len, "block out of range");
        return;
    }
    if (p->nserves >= BTD_UPLOAD_MAX_QUEUE) {
        /* More than our reqq: dropped, not held against them (they may not read reqq). */
        btd_debug("ih=%.8s peer=%s request dropped: %u already queued", t->hex, p->name,
                  p->nserves);
        btd_fast_reject(p, piece, begin, len);
        return;
    }
    /* Served once the whole read is parsed (peer.c), so that a run of them is read at once. */
    p->serves[p->nserves++] = (struct btd_serve){.piece = piece, .begin = begin, .len = len};
}

/* Removes a waiting request; true if it was there. */
static bool take_serve(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
    uint32_t i;

    for (i = 0; i < p->nserves; i++) {
        if (p->serves[i].piece == piece && p->serves[i].begin == begin && p->serves[i].len == len) {
            take_serves(p, i, 1);
            return true;
        }
    }
    return false;
}

void btd_upload_cancel(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
    /* BEP 6: a cancelled request is answered too, with a reject. */
    if (take_serve(p, piece, begin, len))
        btd_fast_reject(p, piece, begin, len);
}

void btd_upload_read_done(struct btd_torrent *t, struct btd_work_result *res)
{
    uint64_t serial = (uint64_t)(uintptr_t)res->user;
    uint32_t begin = (uint32_t)(res->offset - (uint64_t)res->piece * t->meta->piece_length);
    uint8_t hdr[BT_WIRE_PIECE_HEADER_LEN];
    struct btd_peer *p;
    uint32_t i, kept;

    for (p = t->peers; p && p->serial != serial; p = p->next)
        ;
    if (!p)
        return; /* gone meanwhile */
    p->nreading--;
    p->read_bytes -= res->len;
    if (p->state != BTD_PEER_ACTIVE)
        return;
    if (res->status < 0 || !res->buf)
        /* A disk fault: the torrent reports it (state error, one log line a minute). */
        btd_debug("ih=%.8s peer=%s piece=%u cannot read a block to upload: %s", t->hex, p->name,
                  res->piece, strerror(-res->status));
    /* Every request the read covers that is still wanted (not choked or cancelled meanwhile). */
    for (i = kept = 0; i < p->nserves; i++) {
        struct btd_serve sv = p->serves[i];

        if (!sv.reading || sv.piece != res->piece || sv.begin < begin ||
            (uint64_t)sv.begin + sv.len > (uint64_t)begin + res->len) {
            p->serves[kept++] = sv;
            continue;
        }
        if (res->status < 0 || !res->buf)
            continue;
        bt_wire_piece_header(hdr, sv.piece, sv.begin, sv.len);
        btd__peer_send2(p, hdr, sizeof(hdr), res->buf + (sv.begin - begin), sv.len);
        count_sent(p, sv.len);
    }
    p->nserves = kept;
    if (p->state == BTD_PEER_ACTIVE)
        btd_upload_pump(p);
}

/*
 * Choked: their waiting requests are dropped, as BEP 3 says; with the Fast
 * extension each is rejected, and those for allowed-fast pieces stay.
 */
static void drop_serves(struct btd_peer *p)
{
    uint32_t i, kept = 0;

    for (i = 0; i < p->nserves; i++) {
        struct btd_serve *sv = &p->serves[i];

        if (btd_fast_on(p) && btd_fast_allowed_out(p, sv->piece)) {
            p->serves[kept++] = *sv;
            continue;
        }
        btd_fast_reject(p, sv->piece, sv->begin, sv->len);
    }
    p->nserves = kept;
}

static void set_choke(struct btd_peer *p, bool choke)
{
    if (p->am_choking == choke)
        return;
    p->am_choking = choke;
    if (choke) {
        drop_serves(p);
        p->optimistic = false;
    }
    btd__peer_send_simple(p, choke ? BT_WIRE_CHOKE : BT_WIRE_UNCHOKE, 0, 0, 0);
}

static uint32_t unchoked(const struct btd_torrent *t)
{
    const struct btd_peer *p;
    uint32_t n = 0;

    for (p = t->peers; p; p = p->next)
        n += p->state == BTD_PEER_ACTIVE && !p->am_choking;
    return n;
}

void btd_upload_interested(struct btd_peer *p)
{
    if (p->am_choking && unchoked(p->torrent) < BTD_UPLOAD_SLOTS + 1)
        set_choke(p, false);
}

/* What a peer is worth for a regular slot: what it gives us, or takes when we seed. */
static double worth(const struct btd_torrent *t, const struct btd_peer *p)
{
    return t->state == BTD_TORRENT_SEEDING ? p->up.per_second : p->down.per_second;
}

static bool eligible(const struct btd_peer *p)
{
    return p->state == BTD_PEER_ACTIVE && p->peer_interested;
}

static void choke_round(struct btd_torrent *t, bool rotate)
{
    struct btd_peer *p, *best[BTD_UPLOAD_SLOTS] = {0}, *optimistic = NULL;
    uint32_t i, j, n = 0, candidates = 0;

    for (p = t->peers; p; p = p->next) {
        if (!eligible(p))
            continue;
        for (i = 0; i < n && worth(t, best[i]) >= worth(t, p); i++)
            ;
        if (i < BTD_UPLOAD_SLOTS) {
            for (j = n < BTD_UPLOAD_SLOTS ? n : BTD_UPLOAD_SLOTS - 1; j > i; j--)
                best[j] = best[j - 1];
            best[i] = p;
            n += n < BTD_UPLOAD_SLOTS;
        }
    }
    for (p = t->peers; p; p = p->next) {
        for (i = 0; i < n && best[i] != p; i++)
            ;
        if (i < n || !eligible(p))
            continue;
        if (p->optimistic && !rotate)
            optimistic = p;
        else if (bt_random_uniform(++candidates) == 0 && (rotate || !optimistic))
            optimistic = p; /* reservoir sampling: a uniform pick among the rest */
    }
    for (p = t->peers; p; p = p->next) {
        bool keep = p == optimistic;

        for (i = 0; i < n && !keep; i++)
            keep = best[i] == p;
        if (p->state == BTD_PEER_ACTIVE)
            set_choke(p, !keep);
        p->optimistic = p == optimistic;
    }
}

void btd_upload_tick(struct btd_torrent *t)
{
    t->ticks++;
    if (t->ticks % BTD_UPLOAD_ROUND_S == 0)
        choke_round(t, t->ticks % BTD_UPLOAD_OPTIMISTIC_S == 0);
}
