/*
 * session_state: the session's side of the state directory (resume.h).
 * Loop thread only. Records are written one at a time on the worker pool,
 * every torrent's synchronously at shutdown; at start every torrent of the
 * state directory comes back under its id.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "magnet.h"
#include "resume.h"
#include "session-internal.h"
#include "storage.h"
#include "torrent-internal.h"
#include "torrent.h"
#include "work.h"

#define SAVE_EVERY_S 30 /* a changed torrent's record is written at least this often */

/* A resume record was written (or not): the result of btd__session_save_next's job. */
static void on_saved(void *data, struct btd_work_result *res)
{
    struct btd_session *s = data;
    struct btd_resume_job *job = res->user;
    struct btd_torrent *t;

    s->saving = false;
    for (t = s->torrents; t; t = t->next) {
        if (t->move_to && !t->move_running)
            btd__torrent_move_go(t); /* it waited for this save (torrent_move.c) */
    }
    t = btd_session_find_id(s, res->torrent_id);
    if (!t || strcmp(t->hex, job->hex) != 0) {
        btd_resume_forget(s->cfg->state_dir, job->hex); /* removed while it was written */
    } else if (res->status < 0) {
        if (t->ticks - t->last_save >= 60 || t->last_save == 0)
            btd_warn("ih=%.8s cannot write its resume record %s: %s", t->hex, job->record_path,
                     btd_storage_strerror(-res->status));
        t->resume_dirty = true;
    } else if (job->meta && strstr(job->metainfo_path, ".torrent") && t->meta_raw) {
        free(t->meta_raw); /* the copy is in the state directory now */
        t->meta_raw = NULL;
        t->meta_raw_len = 0;
    }
    btd__session_save_next(s);
}

static const struct btd_work_call_ops save_ops = {
    .fn = btd_resume_save,
    .done = on_saved,
    .free_arg = btd_resume_job_free,
};

/* Writes the record of one torrent that needs it, on a worker; one at a time. */
void btd__session_save_next(struct btd_session *s)
{
    struct btd_torrent *t, *pick = NULL;
    struct btd_resume_job *job;

    if (s->saving || s->closing)
        return;
    /* A moving torrent's record waits for the move's end: it names the directory the data is in. */
    for (t = s->torrents; t && !pick; t = t->next) {
        if (t->resume_soon && !t->move_to)
            pick = t;
    }
    for (t = s->torrents; t && !pick; t = t->next) {
        if (t->resume_dirty && t->ticks - t->last_save >= SAVE_EVERY_S && !t->move_to)
            pick = t;
    }
    if (!pick)
        return;
    pick->resume_dirty = pick->resume_soon = false;
    pick->last_save = pick->ticks;
    job = btd_torrent_resume_job(pick);
    if (!job) {
        pick->resume_dirty = true;
        return;
    }
    if (btd_work_call(s->work, pick->id, pick->storage, &save_ops, job) == 0)
        s->saving = true;
    else
        pick->resume_dirty = true;
}

/* What the state directory holds for one torrent. */
struct found {
    struct bt_metainfo *m; /* owned; NULL for a magnet */
    struct bt_magnet *mg;  /* owned: a magnet still without metadata */
    char *uri;             /* owned: its URI */
    struct btd_resume rec; /* owned when has_rec */
    bool has_rec;
};

static int found_cmp(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    uint32_t ix = x->has_rec ? x->rec.id : UINT32_MAX, iy = y->has_rec ? y->rec.id : UINT32_MAX;

    return ix < iy ? -1 : ix > iy;
}

/* Reads and decodes the record at path for f's torrent. */
static int read_record(const char *path, struct found *f, struct bt_error *err)
{
    uint8_t *buf;
    size_t len;
    int r = btd_resume_read(path, &buf, &len);

    if (r < 0)
        return bt_error_set(err, r, "%s", strerror(-r));
    r = btd_resume_decode((const char *)buf, len, f->m ? f->m->piece_count : 0,
                          f->m ? (uint32_t)f->m->file_count : 0, &f->rec, err);
    free(buf);
    return r;
}

/* Parses a .torrent or .magnet file's bytes into f. */
static int parse_found(const uint8_t *buf, size_t len, bool magnet, struct found *f,
                       struct bt_error *err)
{
    if (!magnet)
        return bt_metainfo_parse(&f->m, buf, len, err);
    f->uri = strndup((const char *)buf, len);
    return f->uri ? bt_magnet_parse(&f->mg, f->uri, err) : -ENOMEM;
}

static void found_deinit(struct found *f)
{
    bt_metainfo_free(f->m);
    bt_magnet_free(f->mg);
    free(f->uri);
    btd_resume_deinit(&f->rec);
    memset(f, 0, sizeof(*f));
}

/*
 * Reads STATE/torrents/NAME (a .torrent, or a .magnet still without its
 * metadata) and its record into f. 0, or < 0 to skip it.
 */
static int read_found(const char *dir, const char *name, bool magnet, struct found *f)
{
    struct bt_error err = {{0}};
    char *path = NULL, hex[41];
    uint8_t *buf;
    size_t len;
    int r;

    r = asprintf(&path, "%s/%s", dir, name) < 0 ? -ENOMEM : btd_resume_read(path, &buf, &len);
    if (r == 0) {
        r = parse_found(buf, len, magnet, f, &err);
        free(buf);
    } else {
        bt_error_set(&err, r, "%s", strerror(-r));
    }
    if (r == 0) {
        bt_hex_encode(hex, f->m ? f->m->info_hash : f->mg->info_hash, 20);
        if (strncmp(hex, name, 40) != 0)
            r = bt_error_set(&err, -EINVAL, "its info-hash is %s", hex);
    }
    if (r < 0) {
        btd_err("state: ignoring %s/%s: %s", dir, name, err.msg);
        found_deinit(f);
        free(path);
        return r;
    }
    free(path);
    path = NULL;
    r = asprintf(&path, "%s/%.40s.resume", dir, name) < 0 ? -ENOMEM : read_record(path, f, &err);
    if (r < 0) {
        struct bt_error err2 = {{0}};
        char *bak = NULL;

        /* The record before it still knows the dir, id and state; its pieces are checked. */
        if (asprintf(&bak, "%s.bak", path ? path : "") >= 0 && read_record(bak, f, &err2) == 0)
            f->rec.recheck = true;
        if (path && f->rec.recheck)
            unlink(path); /* or the next save would keep the damaged one as the .bak */
        btd_warn("ih=%.8s resume record %s: %s; %s and checking its data again", name,
                 path ? path : "?", err.msg,
                 f->rec.recheck ? "using the record before it" : "no earlier record");
        free(bak);
    }
    f->has_rec = r == 0 || f->rec.recheck;
    free(path);
    return 0;
}

/* Every torrent of the state directory comes back, in id order, under its id. */
void btd__session_restore_all(struct btd_session *s)
{
    struct found *list = NULL, *grown;
    size_t n = 0, cap = 0, i;
    struct btd_torrent *t;
    struct bt_error err;
    struct dirent *e;
    char *dir;
    DIR *d;
    int r;

    if (asprintf(&dir, "%s/torrents", s->cfg->state_dir) < 0)
        return;
    d = opendir(dir);
    if (!d) {
        free(dir);
        return;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (strstr(e->d_name, ".tmp")) {
            unlinkat(dirfd(d), e->d_name, 0); /* a write cut short */
            continue;
        }
        bool magnet = len == 47 && strcmp(e->d_name + 40, ".magnet") == 0;

        if (!magnet && (len != 48 || strcmp(e->d_name + 40, ".torrent") != 0))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(list, cap * sizeof(*list));
            if (!grown)
                break;
            list = grown;
        }
        memset(&list[n], 0, sizeof(list[n]));
        if (read_found(dir, e->d_name, magnet, &list[n]) == 0)
            n++;
    }
    closedir(d);
    free(dir);
    if (n > 1)
        qsort(list, n, sizeof(*list), found_cmp);
    for (i = 0; i < n; i++) {
        struct found *f = &list[i];
        uint32_t id = f->has_rec && !btd_session_find_id(s, f->rec.id) ? f->rec.id : s->next_id;

        const struct btd_resume *rec = f->has_rec ? &f->rec : NULL;

        memset(&err, 0, sizeof(err));
        if (f->m)
            r = btd__session_add_torrent(s, f->m, id, NULL, false, rec, &t, &err);
        else
            r = btd__session_add_magnet(s, f->mg, f->uri, id, NULL, false, rec, &t, &err);
        f->m = NULL; /* add_torrent took it */
        if (r == 0) {
            btd_notice("ih=%.8s restored \"%s\" id=%u", t->hex, btd_torrent_name(t), t->id);
            t->resume_dirty = true;
            t->resume_soon = !f->has_rec;
        } else {
            btd_err("state: cannot restore a torrent: %s", err.msg);
        }
        found_deinit(f);
    }
    free(list);
}

/* Shutting down: every record written now, on this thread. */
void btd__session_save_all_now(struct btd_session *s)
{
    struct btd_resume_job *job;
    struct btd_torrent *t;
    int r;

    for (t = s->torrents; t; t = t->next) {
        if (t->move_running)
            continue; /* its worker writes its records (torrent_move.c): the files are in flux */
        job = btd_torrent_resume_job(t);
        r = job ? btd_resume_save(job, t->storage) : -ENOMEM;
        if (r < 0)
            btd_warn("ih=%.8s cannot write its resume record: %s", t->hex, strerror(-r));
        btd_resume_job_free(job);
    }
}
