#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "metainfo.h"
#include "rpc.h"
#include "session.h"
#include "torrent.h"

#define MAGNET_MAX 65536 /* bytes of a .magnet file */
#define SKIP_MAX 1024    /* files given up on, remembered */

/* One file a pass found. */
struct found {
    struct found *next;
    char *name;       /* owned */
    uint8_t *data;    /* owned: the contents (NUL-terminated), or NULL if err */
    size_t len;       /* bytes, without the NUL */
    int err;          /* reading failed: -errno */
    int64_t mtime_ns; /* its ctime (no one can set it back), to know it again */
    int64_t age_ms;   /* since it last changed */
    bool magnet;      /* NAME.magnet */
};

/* A file given up on (a warning was logged): not read again until it changes. */
struct skipped {
    char *name; /* owned */
    int64_t mtime_ns;
};

struct btd_watch {
    struct btd_session *session; /* borrowed; NULL once closing */
    char *dir;                   /* owned */
    uv_fs_event_t event;
    uv_timer_t timer; /* the next pass: after a change, or the rescan */
    uv_work_t pass;
    bool running;          /* a pass is on the thread pool */
    bool again;            /* something changed during it */
    int handles;           /* open uv handles */
    struct found *found;   /* what the pass in flight read (worker-owned until it is back) */
    struct skipped *skips; /* owned: nskips entries */
    size_t nskips;
};

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);

    return n > k && strcmp(name + n - k, suffix) == 0;
}

static bool skipped(const struct btd_watch *w, const char *name, int64_t mtime_ns)
{
    size_t i;

    for (i = 0; i < w->nskips; i++) {
        if (strcmp(w->skips[i].name, name) == 0 && w->skips[i].mtime_ns == mtime_ns)
            return true;
    }
    return false;
}

/* Remembers name (at mtime) as given up on; the oldest is forgotten past SKIP_MAX. */
static void skip(struct btd_watch *w, const char *name, int64_t mtime_ns)
{
    struct skipped *grown;
    char *copy = strdup(name);

    if (!copy)
        return;
    if (w->nskips == SKIP_MAX) {
        free(w->skips[0].name);
        memmove(w->skips, w->skips + 1, (SKIP_MAX - 1) * sizeof(*w->skips));
        w->nskips--;
    }
    grown = realloc(w->skips, (w->nskips + 1) * sizeof(*w->skips));
    if (!grown) {
        free(copy);
        return;
    }
    w->skips = grown;
    w->skips[w->nskips++] = (struct skipped){.name = copy, .mtime_ns = mtime_ns};
}

static void found_free(struct found *f)
{
    struct found *next;

    for (; f; f = next) {
        next = f->next;
        free(f->name);
        free(f->data);
        free(f);
    }
}

/* Worker thread: reads the regular file name in dfd, up to max bytes. */
static void read_one(int dfd, struct found *f, size_t max)
{
    struct timespec now;
    struct stat st;
    ssize_t got;
    size_t off = 0;
    int fd = openat(dfd, f->name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        f->err = -errno;
        goto out;
    }
    f->mtime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    clock_gettime(CLOCK_REALTIME, &now);
    f->age_ms = ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - f->mtime_ns) / 1000000;
    if (!S_ISREG(st.st_mode)) {
        f->err = -EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        f->err = -EFBIG;
        goto out;
    }
    f->data = malloc((size_t)st.st_size + 1);
    if (!f->data) {
        f->err = -ENOMEM;
        goto out;
    }
    while (off < (size_t)st.st_size) {
        got = read(fd, f->data + off, (size_t)st.st_size - off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        off += (size_t)got;
    }
    f->len = off;
    f->data[off] = '\0';
out:
    if (fd >= 0)
        close(fd);
    if (f->err < 0) {
        free(f->data);
        f->data = NULL;
    }
}

/* Worker thread: the pass. Touches w->dir and w->found only. */
static void on_pass(uv_work_t *req)
{
    struct btd_watch *w = req->data;
    struct found *f, **tail = &w->found;
    struct dirent *e;
    size_t n = 0;
    DIR *d = opendir(w->dir);
    int dfd;

    if (!d)
        return;
    dfd = dirfd(d);
    while (n < BTD_WATCH_BATCH && (e = readdir(d))) {
        bool magnet = has_suffix(e->d_name, ".magnet");

        if (e->d_name[0] == '.' || (!magnet && !has_suffix(e->d_name, ".torrent")))
            continue;
        f = calloc(1, sizeof(*f));
        if (!f || !(f->name = strdup(e->d_name))) {
            free(f);
            break;
        }
        f->magnet = magnet;
        read_one(dfd, f, magnet ? MAGNET_MAX : BT_METAINFO_MAX_SIZE);
        *tail = f;
        tail = &f->next;
        n++;
    }
    closedir(d);
}

/* Renames NAME to NAME.suffix in the watch directory; false (and a warning) if it cannot. */
static bool rename_to(struct btd_watch *w, const struct found *f, const char *suffix)
{
    size_t n = strlen(w->dir) + strlen(f->name) + strlen(suffix) + 3;
    char *from = malloc(n), *to = malloc(n);
    bool ok = false;

    if (from && to) {
        snprintf(from, n, "%s/%s", w->dir, f->name);
        snprintf(to, n, "%s/%s.%s", w->dir, f->name, suffix);
        ok = rename(from, to) == 0;
        if (!ok)
            btd_warn("watch: cannot rename %s to %s.%s: %s; it is left alone", f->name, f->name,
                     suffix, strerror(errno));
    }
    free(from);
    free(to);
    return ok;
}

/* Gives up on f: one warning, NAME.invalid when it can be renamed, else never read again. */
static void give_up(struct btd_watch *w, const struct found *f, const char *why)
{
    btd_warn("watch: %s: %s", f->name, why);
    if (!rename_to(w, f, "invalid"))
        skip(w, f->name, f->mtime_ns);
}

/* Adds f (read, not yet given up on). Returns false if it may still be being written. */
static bool add_one(struct btd_watch *w, struct found *f)
{
    char uri[128], *text = (char *)f->data;
    struct bt_error err = {0};
    struct bt_metainfo *m = NULL;
    struct btd_torrent *t;
    int r;

    if (f->magnet) {
        text += strspn(text, " \t\r\n");
        text[strcspn(text, " \t\r\n")] = '\0';
        if (strncmp(text, "magnet:", 7) != 0 && strlen(text) < sizeof(uri) - 21) {
            snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:%s", text);
            text = uri;
        }
        r = btd_session_add_magnet(w->session, text, NULL, false, NULL, 0, &t, &err);
    } else {
        r = bt_metainfo_parse(&m, f->data, f->len, &err);
        if (r < 0 && f->age_ms < BTD_WATCH_SETTLE_MS)
            return false;
        if (r < 0) {
            give_up(w, f, err.msg[0] ? err.msg : "not a torrent");
            return true;
        }
        r = btd_session_add(w->session, m, f->data, f->len, NULL, false, NULL, 0, &t, &err);
    }
    if (r == BT_RPC_DUPLICATE_TORRENT) {
        btd_info("watch: %s: already added", f->name);
        r = 0;
    }
    if (r == 0) {
        if (!rename_to(w, f, "added"))
            skip(w, f->name, f->mtime_ns);
        return true;
    }
    if (f->magnet && f->age_ms < BTD_WATCH_SETTLE_MS)
        return false;
    give_up(w, f, err.msg[0] ? err.msg : "cannot be added");
    return true;
}

static void schedule(struct btd_watch *w, uint64_t ms);
static void finish_close(struct btd_watch *w);

static void on_pass_done(uv_work_t *req, int status)
{
    struct btd_watch *w = req->data;
    struct found *f, *list = w->found;
    bool unsettled = false;
    size_t n = 0;

    w->found = NULL;
    w->running = false;
    if (!w->session || status < 0) {
        found_free(list);
        if (!w->session)
            finish_close(w);
        return;
    }
    for (f = list; f; f = f->next)
        n++;
    btd_debug("watch: %s: %zu file(s) read", w->dir, n);
    for (f = list; f; f = f->next) {
        if (skipped(w, f->name, f->mtime_ns))
            continue;
        if (f->err < 0 && f->err != -ENOENT) {
            give_up(w, f, f->err == -EFBIG ? "too large for a torrent" : strerror(-f->err));
            continue;
        }
        if (f->err == 0 && !add_one(w, f))
            unsettled = true;
    }
    found_free(list);
    schedule(w, w->again    ? BTD_WATCH_DEBOUNCE_MS
                : unsettled ? BTD_WATCH_SETTLE_MS
                            : BTD_WATCH_RESCAN_MS);
    w->again = false;
}

static void on_timer(uv_timer_t *timer)
{
    struct btd_watch *w = container_of(timer, struct btd_watch, timer);
    int r;

    if (w->running) {
        w->again = true;
        return;
    }
    w->pass.data = w;
    r = uv_queue_work(timer->loop, &w->pass, on_pass, on_pass_done);
    if (r < 0) {
        btd_warn("watch: cannot read %s: %s", w->dir, uv_strerror(r));
        schedule(w, BTD_WATCH_RESCAN_MS);
        return;
    }
    w->running = true;
}

static void schedule(struct btd_watch *w, uint64_t ms)
{
    uv_timer_start(&w->timer, on_timer, ms, 0);
}

static void on_event(uv_fs_event_t *ev, const char *name, int events, int status)
{
    struct btd_watch *w = container_of(ev, struct btd_watch, event);

    (void)name;
    (void)events;
    (void)status;
    if (w->running)
        w->again = true;
    else
        schedule(w, BTD_WATCH_DEBOUNCE_MS);
}

int btd_watch_open(struct btd_watch **ret, struct btd_session *s, const char *dir)
{
    struct btd_watch *w;
    struct stat st;
    int r;

    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = stat(dir, &st) < 0 ? -errno : -ENOTDIR;
        btd_warn("watch_dir %s: %s; not watching", dir, strerror(-r));
        return r;
    }
    w = calloc(1, sizeof(*w));
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return -ENOMEM;
    }
    w->session = s;
    uv_timer_init(s->loop, &w->timer);
    uv_fs_event_init(s->loop, &w->event);
    w->handles = 2;
    r = uv_fs_event_start(&w->event, on_event, dir, 0);
    if (r < 0)
        btd_warn("watch_dir %s: no change notification (%s); read every %d s", dir, uv_strerror(r),
                 BTD_WATCH_RESCAN_MS / 1000);
    btd_info("watching %s for .torrent and .magnet files", dir);
    schedule(w, 0);
    *ret = w;
    return 0;
}

const char *btd_watch_dir(const struct btd_watch *w)
{
    return w->dir;
}

static void on_closed(uv_handle_t *h)
{
    struct btd_watch *w = h->data;

    w->handles--;
    finish_close(w);
}

/* Frees w once its handles have closed and no pass is out. */
static void finish_close(struct btd_watch *w)
{
    size_t i;

    if (w->handles > 0 || w->running)
        return;
    for (i = 0; i < w->nskips; i++)
        free(w->skips[i].name);
    free(w->skips);
    free(w->dir);
    free(w);
}

void btd_watch_close(struct btd_watch *w)
{
    if (!w || !w->session)
        return;
    w->session = NULL;
    w->timer.data = w;
    w->event.data = w;
    uv_close((uv_handle_t *)&w->timer, on_closed);
    uv_close((uv_handle_t *)&w->event, on_closed);
}
