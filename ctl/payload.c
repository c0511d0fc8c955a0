/*
 * payload: walking PATH into the sorted file list of a torrent (see payload.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metainfo.h"
#include "payload.h"

struct names {
    char **v;
    size_t n;
    size_t cap;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static int names_push(struct names *ns, const char *name)
{
    if (ns->n == ns->cap) {
        size_t ncap = ns->cap ? ns->cap * 2 : 16;
        char **v = realloc(ns->v, ncap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = ncap;
    }
    ns->v[ns->n] = strdup(name);
    if (!ns->v[ns->n])
        return -ENOMEM;
    ns->n++;
    return 0;
}

/* "path: strerror(errno)" into err; returns -errno. */
static int sys_error(struct bt_error *err, const char *path)
{
    int e = errno;

    return bt_error_set(err, -e, "%s: %s", path, strerror(e));
}

/* a + "/" + b in a new string, or NULL. */
static char *join(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    bool slash = la > 0 && a[la - 1] != '/';
    char *s = malloc(la + slash + lb + 1);

    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (slash)
        s[la] = '/';
    memcpy(s + la + slash, b, lb + 1);
    return s;
}

/* The entries of one directory, "." and ".." left out; the DIR is closed on return. */
static int read_names(const char *dir, struct names *ns, struct bt_error *err)
{
    DIR *d = opendir(dir);
    int r = 0;

    if (!d)
        return sys_error(err, dir);
    for (;;) {
        struct dirent *de;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                r = sys_error(err, dir);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = names_push(ns, de->d_name);
        if (r < 0) {
            r = bt_error_set(err, r, "%s: %s", dir, strerror(-r));
            break;
        }
    }
    closedir(d);
    return r;
}

/* Takes ownership of rel and fs_path, even on failure. */
static int add_file(struct btctl_payload *p, char *rel, char *fs_path, uint64_t length,
                    struct bt_error *err)
{
    if (p->count >= BT_METAINFO_MAX_FILES) {
        free(rel);
        free(fs_path);
        return bt_error_set(err, -EMSGSIZE, "more than %d files", BT_METAINFO_MAX_FILES);
    }
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        struct btctl_payload_file *v = realloc(p->files, ncap * sizeof(*v));

        if (!v) {
            free(rel);
            free(fs_path);
            return bt_error_set(err, -ENOMEM, "%s", strerror(ENOMEM));
        }
        p->files = v;
        p->cap = ncap;
    }
    p->files[p->count].rel = rel;
    p->files[p->count].fs_path = fs_path;
    p->files[p->count].length = length;
    p->files[p->count].offset = 0;
    p->count++;
    return 0;
}

static int walk(struct btctl_payload *p, const char *fs_dir, const char *rel_dir,
                struct bt_error *err);

/* One directory entry: a file is added, a directory walked, anything else skipped. */
static int visit(struct btctl_payload *p, const char *fs_dir, const char *rel_dir, const char *name,
                 struct bt_error *err)
{
    char *fs_path = join(fs_dir, name);
    char *rel = rel_dir ? join(rel_dir, name) : strdup(name);
    struct stat st;
    int r = 0;

    if (!fs_path || !rel) {
        r = bt_error_set(err, -ENOMEM, "%s: %s", fs_dir, strerror(ENOMEM));
    } else if (strlen(p->name) + 1 + strlen(rel) > BT_METAINFO_MAX_PATH) {
        r = bt_error_set(err, -ENAMETOOLONG, "%s: %s", fs_path, strerror(ENAMETOOLONG));
    } else if (lstat(fs_path, &st) < 0) {
        r = sys_error(err, fs_path);
    } else if (S_ISDIR(st.st_mode)) {
        r = walk(p, fs_path, rel, err);
    } else if (S_ISREG(st.st_mode)) {
        r = add_file(p, rel, fs_path, (uint64_t)st.st_size, err);
        rel = NULL;
        fs_path = NULL;
    } else {
        fprintf(stderr, "btctl: create: warning: skipping %s: %s\n",
                S_ISLNK(st.st_mode) ? "symlink" : "special file", fs_path);
    }
    free(fs_path);
    free(rel);
    return r;
}

static int walk(struct btctl_payload *p, const char *fs_dir, const char *rel_dir,
                struct bt_error *err)
{
    struct names ns = {0};
    int r;

    r = read_names(fs_dir, &ns, err);
    for (size_t i = 0; r == 0 && i < ns.n; i++)
        r = visit(p, fs_dir, rel_dir, ns.v[i], err);
    names_free(&ns);
    return r;
}

/* The last component of path, for info.name; realpath() resolves ".", ".." and "/". */
static int name_from_path(const char *path, char **ret, struct bt_error *err)
{
    size_t len = strlen(path);
    const char *start;
    char *resolved = NULL;
    char *name;

    while (len > 1 && path[len - 1] == '/')
        len--;
    start = path + len;
    while (start > path && start[-1] != '/')
        start--;
    len -= (size_t)(start - path);
    if (len == 0 || (len == 1 && start[0] == '.') || (len == 2 && memcmp(start, "..", 2) == 0)) {
        resolved = realpath(path, NULL);
        if (!resolved)
            return sys_error(err, path);
        start = strrchr(resolved, '/');
        start = start ? start + 1 : resolved;
        len = strlen(start);
    }
    if (len == 0) {
        free(resolved);
        return bt_error_set(err, -EINVAL, "%s: has no name to give the torrent", path);
    }
    name = strndup(start, len);
    free(resolved);
    if (!name)
        return bt_error_set(err, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
    *ret = name;
    return 0;
}

static int compare_rel(const void *a, const void *b)
{
    const struct btctl_payload_file *fa = a;
    const struct btctl_payload_file *fb = b;

    return strcmp(fa->rel, fb->rel);
}

/* Sorts the files, gives them offsets and checks the total. */
static int finish(struct btctl_payload *p, const char *path, struct bt_error *err)
{
    uint64_t total = 0;

    if (p->count > 1)
        qsort(p->files, p->count, sizeof(p->files[0]), compare_rel);
    for (size_t i = 0; i < p->count; i++) {
        if (p->files[i].length > BT_METAINFO_MAX_TOTAL - total)
            return bt_error_set(err, -EFBIG, "%s: %s", path, strerror(EFBIG));
        p->files[i].offset = total;
        total += p->files[i].length;
    }
    p->total = total;
    if (total == 0)
        return bt_error_set(err, -ENODATA, "%s: no data to put in a torrent", path);
    return 0;
}

int btctl_payload_scan(struct btctl_payload *p, const char *path, struct bt_error *err)
{
    struct stat st;
    char *rel;
    char *fs_path;
    int r;

    memset(p, 0, sizeof(*p));
    if (stat(path, &st) < 0)
        return sys_error(err, path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return bt_error_set(err, -EINVAL, "%s: not a regular file or a directory", path);
    r = name_from_path(path, &p->name, err);
    if (r < 0)
        return r;
    p->is_dir = S_ISDIR(st.st_mode);
    if (p->is_dir) {
        r = walk(p, path, NULL, err);
    } else {
        rel = strdup(p->name);
        fs_path = strdup(path);
        if (!rel || !fs_path) {
            free(rel);
            free(fs_path);
            r = bt_error_set(err, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
        } else {
            r = add_file(p, rel, fs_path, (uint64_t)st.st_size, err);
        }
    }
    if (r == 0)
        r = finish(p, path, err);
    if (r < 0)
        btctl_payload_deinit(p);
    return r;
}

void btctl_payload_deinit(struct btctl_payload *p)
{
    for (size_t i = 0; i < p->count; i++) {
        free(p->files[i].rel);
        free(p->files[i].fs_path);
    }
    free(p->files);
    free(p->name);
    memset(p, 0, sizeof(*p));
}
