/*
 * torrent_files: a torrent's files as the user chose them (wanted or
 * skipped, and a priority each), the pieces' priorities that follow, and
 * the resume record that keeps the choice with the rest. Loop thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "log.h"
#include "resume.h"
#include "selection.h"
#include "session.h"
#include "torrent-internal.h"

struct btd_file_choice *btd_file_choices_new(const struct bt_metainfo *m)
{
    struct btd_file_choice *c = calloc(m->file_count ? m->file_count : 1, sizeof(*c));
    size_t i;

    for (i = 0; c && i < m->file_count; i++)
        c[i] = (struct btd_file_choice){.wanted = true, .prio = BTD_PRIO_NORMAL};
    return c;
}

struct btd_file_choice *btd_file_choices_dup(const struct btd_file_choice *c, size_t n)
{
    struct btd_file_choice *copy = malloc((n ? n : 1) * sizeof(*copy));

    if (copy)
        memcpy(copy, c, n * sizeof(*copy));
    return copy;
}

struct btd_file_choice *btd_torrent_choices(const struct btd_torrent *t)
{
    if (!t->meta)
        return NULL;
    if (!t->choices)
        return btd_file_choices_new(t->meta);
    return btd_file_choices_dup(t->choices, t->meta->file_count);
}

/* Each piece's priority under choices c: the highest of the wanted files it touches. */
static uint8_t *piece_priorities(const struct bt_metainfo *m, const struct btd_file_choice *c)
{
    uint8_t *prio = calloc(m->piece_count ? m->piece_count : 1, 1); /* BTD_PRIO_SKIP */
    uint64_t first, last, p;
    size_t i;

    for (i = 0; prio && i < m->file_count; i++) {
        const struct bt_file *f = &m->files[i];

        if (f->pad || f->length == 0 || !c[i].wanted)
            continue;
        first = f->offset / m->piece_length;
        last = (f->offset + f->length - 1) / m->piece_length;
        for (p = first; p <= last && p < m->piece_count; p++) {
            if (prio[p] < c[i].prio)
                prio[p] = c[i].prio;
        }
    }
    return prio;
}

int btd_torrent_set_choices(struct btd_torrent *t, struct btd_file_choice *choices)
{
    uint8_t *prio = choices && t->meta ? piece_priorities(t->meta, choices) : NULL;
    int r = prio ? btd_picker_set_priorities(&t->picker, prio) : -ENOMEM;

    free(prio);
    if (r < 0) {
        free(choices);
        return r;
    }
    free(t->choices);
    t->choices = choices;
    t->resume_dirty = t->resume_soon = true;
    btd_info("ih=%.8s file selection: %u of %u pieces wanted, %u of them had", t->hex,
             t->picker.wanted, t->picker.piece_count, t->picker.wanted_have);
    btd__torrent_selection_changed(t);
    return 0;
}

void btd__torrent_apply_pending(struct btd_torrent *t)
{
    struct btd_file_choice *c = t->meta ? btd_file_choices_new(t->meta) : NULL;
    struct bt_error err = {{0}};
    int r;

    if (!t->pending_selection || !t->meta) {
        free(c);
        return;
    }
    r = c ? btd_selection_apply_text(t->pending_selection, BTD_SELECTION_ADD, t->meta, c, &err)
          : bt_error_set(&err, -ENOMEM, "out of memory");
    free(t->pending_selection);
    t->pending_selection = NULL;
    if (r == 0 && btd_torrent_set_choices(t, c) == 0)
        return;
    if (r != 0)
        free(c);
    btd_err("ih=%.8s the files chosen at torrent.add do not fit the torrent: %s; paused until "
            "btctl files chooses and btctl resume",
            t->hex, r ? err.msg : "out of memory");
    btd_torrent_pause(t);
}

uint64_t btd_torrent_file_done(const struct btd_torrent *t, uint32_t i)
{
    const struct bt_metainfo *m = t->meta;
    const struct bt_file *f = m ? &m->files[i] : NULL;
    uint64_t first, last, p, start, end, done = 0, fend;

    if (!f || f->length == 0)
        return 0;
    fend = f->offset + f->length;
    first = f->offset / m->piece_length;
    last = (fend - 1) / m->piece_length;
    for (p = first; p <= last && p < m->piece_count; p++) {
        if (t->picker.state[p] != BTD_PIECE_HAVE)
            continue;
        start = p * m->piece_length;
        end = start + m->piece_length;
        done += (end < fend ? end : fend) - (start > f->offset ? start : f->offset);
    }
    return done;
}

uint64_t btd_torrent_wanted_left(const struct btd_torrent *t)
{
    if (!t->meta)
        return 0;
    return btd_picker_wanted_bytes(&t->picker) - btd_picker_wanted_have_bytes(&t->picker);
}

/* The resume record as it is now (torrent.h). */
struct btd_resume_job *btd_torrent_resume_job(struct btd_torrent *t)
{
    const struct bt_metainfo *m = t->meta;
    uint32_t i, npieces = m ? m->piece_count : 0, nfiles = m ? (uint32_t)m->file_count : 0;
    struct btd_resume_job *job = calloc(1, sizeof(*job));
    const uint8_t *copy = t->meta_raw;
    size_t copy_len = t->meta_raw_len;
    struct btd_resume *rec;

    if (!job)
        return NULL;
    rec = &job->rec;
    memcpy(job->hex, t->hex, sizeof(job->hex));
    job->record_path = btd_resume_path(t->session->cfg->state_dir, t->hex, "resume");
    if (!m && t->magnet) { /* no metadata yet: the magnet stands in for the .torrent */
        copy = (const uint8_t *)t->magnet;
        copy_len = strlen(t->magnet);
    }
    if (copy) {
        job->metainfo_path =
            btd_resume_path(t->session->cfg->state_dir, t->hex, m ? "torrent" : "magnet");
        job->meta = malloc(copy_len ? copy_len : 1);
        if (job->meta)
            memcpy(job->meta, copy, copy_len);
        job->meta_len = copy_len;
    }
    rec->dir = strdup(t->dir);
    rec->have = calloc(1, bt_bitfield_bytes(npieces) + 1);
    rec->files = calloc(nfiles ? nfiles : 1, sizeof(*rec->files));
    rec->choices = t->choices ? btd_file_choices_dup(t->choices, nfiles) : NULL;
    rec->pending_selection = t->pending_selection ? strdup(t->pending_selection) : NULL;
    /* A crashed move's marker stays until the move is put back (torrent_check.c). */
    if (t->restore && t->restore->moving_to)
        rec->moving_to = strdup(t->restore->moving_to);
    if (t->restore && t->restore->moving_to && !rec->moving_to) {
        btd_resume_job_free(job);
        return NULL;
    }
    if (!job->record_path || !rec->dir || !rec->have || !rec->files ||
        (t->choices && !rec->choices) || (t->pending_selection && !rec->pending_selection) ||
        (copy && (!job->metainfo_path || !job->meta))) {
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
    rec->seed_ratio_limit = t->seed_ratio_limit;
    rec->seed_idle_limit = t->seed_idle_limit;
    rec->finished = (uint8_t)t->finished;
    rec->piece_count = npieces;
    rec->file_count = nfiles;
    if (t->restore && !t->restore->recheck) {
        /* Its stat still out: the record read at start stands as it was. */
        memcpy(rec->have, t->restore->have, bt_bitfield_bytes(npieces));
        memcpy(rec->files, t->restore->files, nfiles * sizeof(*rec->files));
        job->files_given = true;
        return job;
    }
    job->unchecked = m && !t->checked;
    for (i = 0; i < npieces && !job->unchecked; i++) {
        if (t->picker.state[i] == BTD_PIECE_HAVE)
            rec->have[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
    return job;
}
