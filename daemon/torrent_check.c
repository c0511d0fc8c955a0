/*
 * torrent_check: one torrent's data already on disk. A check reads pieces
 * back on the worker pool (CHECK jobs) and keeps those that pass; a resume
 * record is applied at start. Loop thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
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

static void check_done(struct btd_torrent *t)
{
    t->checked = !t->error; /* a fault stopped it: checked again on resume and at restart */
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s existing data: %u of %u pieces valid", t->hex, t->picker.have,
             t->picker.piece_count);
    if (t->paused)
        btd__torrent_set_state(t, BTD_TORRENT_PAUSED);
    else
        btd__torrent_go_active(t);
}

/*
 * Reads pieces back from disk on the worker pool (data already in the
 * directory: complete data seeds, partial data keeps its valid pieces):
 * those in only, or without it the pieces of every file not known to be
 * absent or empty (a fresh download has none, and needs no job at all).
 */
void btd__torrent_start_check(struct btd_torrent *t, const bool *only)
{
    const struct bt_metainfo *m = t->meta;
    bool *present = NULL;
    uint64_t size;
    int64_t mtime;
    uint32_t i;
    int r;

    if (!only) {
        present = calloc(m->piece_count ? m->piece_count : 1, sizeof(*present));
        if (!present) {
            btd_torrent_fail(t, "cannot check existing data: out of memory");
            return;
        }
        for (i = 0; i < m->file_count; i++) {
            r = btd_storage_stat(t->storage, i, &size, &mtime);
            /* Only a file known absent or empty is skipped: other errors are the check's. */
            if ((r == 0 && size > 0) || (r < 0 && r != -ENOENT && r != -ENOTDIR))
                mark_file_pieces(m, i, present);
        }
        only = present;
    }
    btd__torrent_set_state(t, BTD_TORRENT_CHECKING);
    for (i = t->check_left = 0; i < m->piece_count; i++) {
        if (!only[i])
            continue;
        r = btd_work_check(t->session->work, t->id, t->storage, i, (uint64_t)i * m->piece_length,
                           bt_metainfo_piece_size(m, i), m->pieces + (size_t)i * 20, NULL);
        if (r < 0) {
            btd_err("ih=%.8s cannot check existing data: %s", t->hex, strerror(-r));
            btd_torrent_fail(t, "cannot check existing data");
            free(present);
            return;
        }
        t->check_left++;
    }
    free(present);
    if (t->check_left == 0)
        check_done(t);
}

void btd__torrent_on_checked(struct btd_torrent *t, struct btd_work_result *res)
{
    if (res->hash_ok)
        btd_picker_set_have(&t->picker, res->piece);
    if (t->check_left == 0 || --t->check_left > 0)
        return;
    check_done(t);
}

/*
 * Applies a resume record: the pieces it lists in files whose size and
 * mtime are as it says are had; the pieces touching any other file are
 * checked. Then the torrent starts (or stays paused).
 */
int btd__torrent_restore(struct btd_torrent *t, const struct btd_resume *rec)
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
        uint64_t size = 0;
        int64_t mtime = 0;
        bool exists = btd_storage_stat(t->storage, i, &size, &mtime) == 0;

        if (!rec->recheck && exists == f->exists &&
            (!exists || (size == f->size && mtime == f->mtime_ns)))
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
    btd_info("ih=%.8s resumed: %u of %u pieces verified, %u file(s) changed since, %u piece(s) "
             "to check",
             t->hex, t->picker.have, m->piece_count, nchanged, ncheck);
    if (ncheck > 0) {
        btd__torrent_start_check(t, check);
    } else {
        t->checked = true;
        if (!t->paused)
            btd__torrent_go_active(t);
    }
    free(check);
    return 0;
}
