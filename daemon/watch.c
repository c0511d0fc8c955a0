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

#define MAGNET_MAX 65536                /* bytes of a .magnet file */
#define PASS_BYTES BT_METAINFO_MAX_SIZE /* bytes read by one pass (at least one file) */
#define SKIP_MAX 1024                   /* files remembered (given up on, or warned about) */

/* A file known by name and ctime (which no one can set back): it has not changed since. */
struct known {
    char *name; /* owned */
    int64_t ctime_ns;
    bool retry; /* warned about, still tried at each pass; else given up on: not read */
};

/* One file a pass read. */
struct found {
    struct found *next;
    char *name;       /* owned */
    uint8_t *data;    /* owned: the contents (NUL-terminated), or NULL if err */
    size_t len;       /* bytes, without the NUL */
    int err;          /* reading failed: -errno */
    int64_t ctime_ns; /* to know it again */
    int64_t age_ms;   /* since it last changed */
    bool magnet;      /* NAME.magnet */
};

/* A pass over the directory on the thread pool; the worker touches only this. */
struct pass {
    uv_work_t req;
    struct btd_watch *w; /* borrowed: the loop side's */
    char *dir;           /* owned copy */
    struct known *skip;  /* owned copy of the given-up files: not read */
    size_t nskip;
    struct found *found; /* owned: what it read */
    bool more;           /* stopped at BTD_WATCH_BATCH or PASS_BYTES: files left */
};

struct btd_watch {
    struct btd_session *session; /* borrowed; NULL once closing */
    char *dir;                   /* owned */
    uv_fs_event_t event;
    uv_timer_t timer;    /* the next pass: after a change, or the rescan */
    struct pass *pass;   /* owned: the pass on the thread pool, or NULL */
    bool again;          /* something changed during it */
    int handles;         /* open uv handles */
    struct known *known; /* owned: nknown entries */
    size_t nknown;
};

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);

    return n > k && strcmp(name + n - k, suffix) == 0;
}

static struct known *find_known(struct known *list, size_t n, const char *name, int64_t ctime_ns)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) == 0 && list[i].ctime_ns == ctime_ns)
            return &list[i];
    }
    return NULL;
}

/* Remembers name at ctime_ns; the oldest entry is forgotten past SKIP_MAX. */
static void remember(struct btd_watch *w, const struct found *f, bool retry)
{
    struct known *grown, *k = find_known(w->known, w->nknown, f->name, f->ctime_ns);
    char *copy;

    if (k) {
        k->retry = retry;
        return;
    }
    copy = strdup(f->name);
    if (!copy)
        return;
    if (w->nknown == SKIP_MAX) {
        free(w->known[0].name);
        memmove(w->known, w->known + 1, (SKIP_MAX - 1) * sizeof(*w->known));
        w->nknown--;
    }
    grown = realloc(w->known, (w->nknown + 1) * sizeof(*w->known));
    if (!grown) {
        free(copy);
        return;
    }
    w->known = grown;
    w->known[w->nknown++] = (struct known){.name = copy, .ctime_ns = f->ctime_ns, .retry = retry};
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

static void pass_free(struct pass *p)
{
    size_t i;

    for (i = 0; i < p->nskip; i++)
        free(p->skip[i].name);
    free(p->skip);
    found_free(p->found);
    free(p->dir);
    free(p);
}

/* Worker: reads f->name (a regular file of size bytes, at most max) in dfd. */
static void read_one(int dfd, struct found *f, uint64_t size, size_t max)
{
    int fd = -1;
    struct stat st;
    ssize_t got;
    size_t off = 0;

    if (size > max) {
        f->err = -EFBIG;
        return;
    }
    fd = openat(dfd, f->name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        f->err = fd < 0 ? -errno : -EAGAIN; /* replaced since the listing: the next pass */
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

/*
 * Worker: lists the directory; reads the regular NAME.torrent and
 * NAME.magnet files not given up on, BTD_WATCH_BATCH and PASS_BYTES at
 * most. Anything else (directories, FIFOs, devices, dangling links, dot
 * files) is passed over without a word.
 */
static void on_pass(uv_work_t *req)
{
    struct pass *p = container_of(req, struct pass, req);
    struct found *f, **tail = &p->found;
    struct timespec now;
    struct dirent *e;
    struct stat st;
    size_t n = 0, bytes = 0, max;
    DIR *d = opendir(p->dir);
    int64_t ctime_ns;

    if (!d)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    while ((e = readdir(d))) {
        bool magnet = has_suffix(e->d_name, ".magnet");

        if (e->d_name[0] == '.' || (!magnet && !has_suffix(e->d_name, ".torrent")))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
        if (find_known(p->skip, p->nskip, e->d_name, ctime_ns))
            continue;
        max = magnet ? MAGNET_MAX : BT_METAINFO_MAX_SIZE;
        if (n == BTD_WATCH_BATCH ||
            (n > 0 && (uint64_t)st.st_size <= max && bytes + (uint64_t)st.st_size > PASS_BYTES)) {
            p->more = true;
            break;
        }
        f = calloc(1, sizeof(*f));
        if (!f || !(f->name = strdup(e->d_name))) {
            free(f);
            break;
        }
        f->magnet = magnet;
        f->ctime_ns = ctime_ns;
        f->age_ms = ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - ctime_ns) / 1000000;
        read_one(dirfd(d), f, (uint64_t)st.st_size, max);
        bytes += f->len;
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
            btd_warn("watch: cannot rename %s to %s.%s: %s; it is left alone until it changes",
                     f->name, f->name, suffix, strerror(errno));
    }
    free(from);
    free(to);
    return ok;
}

/* f is not a torrent: one warning, NAME.invalid, or never read again if it cannot be renamed. */
static void give_up(struct btd_watch *w, const struct found *f, const char *why)
{
    btd_warn("watch: %s: %s", f->name, why);
    if (!rename_to(w, f, "invalid"))
        remember(w, f, false);
}

/* f could not be added for now (a disk not there yet, say): one warning, tried again. */
static void not_now(struct btd_watch *w, const struct found *f, const char *why)
{
    struct known *k = find_known(w->known, w->nknown, f->name, f->ctime_ns);

    if (!k || !k->retry)
        btd_warn("watch: %s: cannot be added now: %s; trying again at each pass", f->name, why);
    remember(w, f, true);
}

/* The magnet link (or bare info-hash) in f's text, without the white space around it. */
static const char *magnet_of(struct found *f)
{
    char *text = (char *)f->data;

    text += strspn(text, " \t\r\n");
    text[strcspn(text, " \t\r\n")] = '\0';
    return text;
}

/* Adds f (read, not given up on). Returns false if it may still be being written. */
static bool add_one(struct btd_watch *w, struct found *f)
{
    struct bt_error err = {{0}};
    struct bt_metainfo *m = NULL;
    struct btd_torrent *t;
    bool bad;
    int r;

    if (f->magnet) {
        r = btd_session_add_magnet(w->session, magnet_of(f), NULL, false, NULL, 0, &t, &err);
        bad = r == BT_RPC_INVALID_PARAMS;
    } else {
        r = bt_metainfo_parse(&m, f->data, f->len, &err);
        bad = r < 0;
        if (r == 0) {
            r = btd_session_add(w->session, m, f->data, f->len, NULL, false, NULL, 0, &t, &err);
            bad = r == BT_RPC_BAD_TORRENT || r == BT_RPC_INVALID_PARAMS;
        }
    }
    if (r == BT_RPC_DUPLICATE_TORRENT) {
        btd_info("watch: %s: already added", f->name);
        r = 0;
    }
    if (r == 0) {
        if (!rename_to(w, f, "added"))
            remember(w, f, false);
    } else if (bad && f->age_ms < BTD_WATCH_SETTLE_MS) {
        return false;
    } else if (bad) {
        give_up(w, f, err.msg[0] ? err.msg : "not a torrent");
    } else {
        not_now(w, f, err.msg[0] ? err.msg : strerror(-r));
    }
    return true;
}

static void on_timer(uv_timer_t *timer);

static void schedule(struct btd_watch *w, uint64_t ms)
{
    if (w->session)
        uv_timer_start(&w->timer, on_timer, ms, 0);
}

static void finish_close(struct btd_watch *w);

static void on_pass_done(uv_work_t *req, int status)
{
    struct pass *p = container_of(req, struct pass, req);
    struct btd_watch *w = p->w;
    bool unsettled = false;
    struct found *f;
    size_t n = 0;

    w->pass = NULL;
    if (!w->session || status < 0) {
        pass_free(p);
        if (!w->session)
            finish_close(w);
        else
            schedule(w, BTD_WATCH_RESCAN_MS);
        return;
    }
    for (f = p->found; f; f = f->next)
        n++;
    btd_debug("watch: %s: %zu file(s) read%s", w->dir, n, p->more ? ", more left" : "");
    for (f = p->found; f && w->session; f = f->next) {
        if (f->err == -EFBIG)
            give_up(w, f, "larger than a torrent may be");
        else if (f->err < 0 && f->err != -ENOENT && f->err != -EAGAIN)
            not_now(w, f, strerror(-f->err));
        else if (f->err == 0 && !add_one(w, f))
            unsettled = true;
    }
    schedule(w, w->again || p->more ? BTD_WATCH_DEBOUNCE_MS
                : unsettled         ? BTD_WATCH_SETTLE_MS
                                    : BTD_WATCH_RESCAN_MS);
    w->again = false;
    pass_free(p);
}

/* A pass with its own copies of what the worker needs; NULL on ENOMEM. */
static struct pass *pass_new(struct btd_watch *w)
{
    struct pass *p = calloc(1, sizeof(*p));
    size_t i;

    if (!p || !(p->dir = strdup(w->dir)) ||
        !(p->skip = calloc(w->nknown ? w->nknown : 1, sizeof(*p->skip)))) {
        if (p)
            free(p->dir);
        free(p);
        return NULL;
    }
    p->w = w;
    for (i = 0; i < w->nknown; i++) {
        if (w->known[i].retry || !(p->skip[p->nskip].name = strdup(w->known[i].name)))
            continue;
        p->skip[p->nskip++].ctime_ns = w->known[i].ctime_ns;
    }
    return p;
}

static void on_timer(uv_timer_t *timer)
{
    struct btd_watch *w = container_of(timer, struct btd_watch, timer);
    struct pass *p;
    int r = -ENOMEM;

    if (w->pass) {
        w->again = true;
        return;
    }
    p = pass_new(w);
    if (p)
        r = uv_queue_work(timer->loop, &p->req, on_pass, on_pass_done);
    if (r < 0) {
        btd_warn("watch: cannot read %s: %s", w->dir, uv_strerror(r));
        if (p)
            pass_free(p);
        schedule(w, BTD_WATCH_RESCAN_MS);
        return;
    }
    w->pass = p;
}

/* A change in the directory: a pass after BTD_WATCH_DEBOUNCE_MS, unless one is due sooner. */
static void on_event(uv_fs_event_t *ev, const char *name, int events, int status)
{
    struct btd_watch *w = container_of(ev, struct btd_watch, event);

    (void)name;
    (void)events;
    (void)status;
    if (w->pass)
        w->again = true;
    else if (!uv_is_active((uv_handle_t *)&w->timer) ||
             uv_timer_get_due_in(&w->timer) > BTD_WATCH_DEBOUNCE_MS)
        schedule(w, BTD_WATCH_DEBOUNCE_MS);
}

int btd_watch_open(struct btd_watch **ret, struct btd_session *s, const char *dir)
{
    struct btd_watch *w;
    struct stat st;
    int r;

    r = stat(dir, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    if (r < 0) {
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

    if (w->handles > 0 || w->pass)
        return;
    for (i = 0; i < w->nknown; i++)
        free(w->known[i].name);
    free(w->known);
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
