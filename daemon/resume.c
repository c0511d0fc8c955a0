#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitfield.h"
#include "crypto.h"
#include "ratio.h"

#define RECORD_VERSION 1

void btd_resume_deinit(struct btd_resume *r)
{
    free(r->dir);
    free(r->have);
    free(r->files);
    free(r->choices);
    free(r->pending_selection);
    free(r->moving_to);
    memset(r, 0, sizeof(*r));
}

/* The indices of the files skipped (prio 0) or of priority prio, as a new array. */
static json_t *choice_list(const struct btd_resume *r, uint8_t prio)
{
    json_t *arr = json_array();
    uint32_t i;

    for (i = 0; arr && i < r->file_count; i++) {
        if ((prio ? r->choices[i].prio == prio : !r->choices[i].wanted) &&
            json_array_append_new(arr, json_integer(i)) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Adds files_skipped, files_high and files_low to o when not every file is wanted and normal. */
static int encode_choices(json_t *o, const struct btd_resume *r)
{
    static const struct {
        const char *key;
        uint8_t prio;
    } lists[] = {
        {"files_skipped", 0},
        {"files_high", BTD_PRIO_HIGH},
        {"files_low", BTD_PRIO_LOW},
    };
    json_t *arr;
    size_t i;

    if (r->pending_selection) {
        arr = json_loads(r->pending_selection, 0, NULL);
        if (!arr || json_object_set_new(o, "pending_selection", arr) < 0)
            return -ENOMEM;
    }
    for (i = 0; r->choices && i < sizeof(lists) / sizeof(lists[0]); i++) {
        arr = choice_list(r, lists[i].prio);
        if (!arr || json_object_set_new(o, lists[i].key, arr) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* The torrent's own seeding goals and the one that stopped it, each only when there is one. */
static int encode_seeding(json_t *o, const struct btd_resume *r)
{
    const char *finished = bt_seed_goal_name((enum bt_seed_goal)r->finished);

    if (r->seed_ratio_limit >= 0 &&
        json_object_set_new(o, "seed_ratio_hundredths", json_integer(r->seed_ratio_limit)) < 0)
        return -ENOMEM;
    if (r->seed_idle_limit >= 0 &&
        json_object_set_new(o, "seed_idle_limit", json_integer(r->seed_idle_limit)) < 0)
        return -ENOMEM;
    if (finished && json_object_set_new(o, "finished", json_string(finished)) < 0)
        return -ENOMEM;
    if (r->moving_to && json_object_set_new(o, "moving_to", json_string(r->moving_to)) < 0)
        return -ENOMEM;
    return 0;
}

char *btd_resume_encode(const struct btd_resume *r)
{
    size_t bytes = bt_bitfield_bytes(r->piece_count);
    size_t b64len = bt_base64_encoded_len(bytes);
    json_t *o, *files;
    char *b64, *text;
    uint32_t i;

    b64 = malloc(b64len);
    if (!b64)
        return NULL;
    bt_base64_encode(b64, b64len, r->have, bytes);
    files = json_array();
    for (i = 0; files && i < r->file_count; i++) {
        const struct btd_resume_file *f = &r->files[i];

        json_array_append_new(
            files, f->exists ? json_pack("[I, I]", (json_int_t)f->size, (json_int_t)f->mtime_ns)
                             : json_null());
    }
    o = json_pack("{s:i, s:I, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o*}", "version",
                  RECORD_VERSION, "id", (json_int_t)r->id, "dir", r->dir, "paused", r->paused,
                  "completed_sent", r->completed_sent, "added_at", (json_int_t)r->added_at,
                  "uploaded", (json_int_t)r->uploaded, "downloaded", (json_int_t)r->downloaded,
                  "download_limit", (json_int_t)r->download_limit, "upload_limit",
                  (json_int_t)r->upload_limit, "pieces", (json_int_t)r->piece_count, "have", b64,
                  "files", files);
    free(b64);
    if (!o || encode_choices(o, r) < 0 || encode_seeding(o, r) < 0) {
        json_decref(o);
        return NULL;
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static int bad(struct bt_error *err, const char *what)
{
    return bt_error_set(err, -EBADMSG, "%s", what);
}

static int decode_files(json_t *arr, uint32_t file_count, struct btd_resume *r,
                        struct bt_error *err)
{
    json_t *item;
    size_t i;

    if (!json_is_array(arr) || json_array_size(arr) != file_count)
        return bad(err, "files: not one entry per file");
    r->files = calloc(file_count ? file_count : 1, sizeof(*r->files));
    if (!r->files)
        return -ENOMEM;
    r->file_count = file_count;
    json_array_foreach(arr, i, item)
    {
        json_int_t size, mtime;

        if (json_is_null(item))
            continue;
        if (json_unpack(item, "[II!]", &size, &mtime) < 0 || size < 0)
            return bad(err, "files: an entry is not [size, mtime]");
        r->files[i] = (struct btd_resume_file){
            .size = (uint64_t)size, .mtime_ns = (int64_t)mtime, .exists = true};
    }
    return 0;
}

/*
 * files_skipped, files_high and files_low, each optional: file indices
 * (a skipped file keeps its priority for when it is wanted). Without any,
 * r->choices stays NULL: every file wanted, normal.
 */
static int decode_choices(json_t *o, uint32_t file_count, struct btd_resume *r,
                          struct bt_error *err)
{
    static const char *const keys[] = {"files_skipped", "files_high", "files_low"};
    json_t *arr, *item, *pending = json_object_get(o, "pending_selection");
    size_t k, i;
    json_int_t f;

    if (pending && !json_is_object(pending))
        return bt_error_set(err, -EBADMSG, "pending_selection: not an object");
    if (pending) {
        r->pending_selection = json_dumps(pending, JSON_COMPACT);
        if (!r->pending_selection)
            return -ENOMEM;
    }
    for (k = 0; k < 3; k++) {
        arr = json_object_get(o, keys[k]);
        if (!arr)
            continue;
        if (!json_is_array(arr))
            return bt_error_set(err, -EBADMSG, "%s: not a list", keys[k]);
        if (!r->choices) {
            r->choices = calloc(file_count ? file_count : 1, sizeof(*r->choices));
            if (!r->choices)
                return -ENOMEM;
            for (i = 0; i < file_count; i++)
                r->choices[i] = (struct btd_file_choice){.wanted = true, .prio = BTD_PRIO_NORMAL};
        }
        json_array_foreach(arr, i, item)
        {
            f = json_is_integer(item) ? json_integer_value(item) : -1;
            if (f < 0 || f >= (json_int_t)file_count)
                return bt_error_set(err, -EBADMSG, "%s: not a list of file indices", keys[k]);
            if (k == 0)
                r->choices[f].wanted = false;
            else
                r->choices[f].prio = k == 1 ? BTD_PRIO_HIGH : BTD_PRIO_LOW;
        }
    }
    return 0;
}

/* An optional integer key: -1 when absent, else within 0..max. */
static int decode_goal(json_t *o, const char *key, int64_t max, int64_t *ret, struct bt_error *err)
{
    json_t *v = json_object_get(o, key);

    *ret = -1;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return bt_error_set(err, -EBADMSG, "%s: not an integer from 0 to %lld", key,
                            (long long)max);
    *ret = json_integer_value(v);
    return 0;
}

/* seed_ratio_hundredths, seed_idle_limit and finished, each optional. */
static int decode_seeding(json_t *o, struct btd_resume *r, struct bt_error *err)
{
    json_t *finished = json_object_get(o, "finished"), *moving = json_object_get(o, "moving_to");
    int n = decode_goal(o, "seed_ratio_hundredths", BT_RATIO_MAX, &r->seed_ratio_limit, err);

    if (n == 0)
        n = decode_goal(o, "seed_idle_limit", INT32_MAX, &r->seed_idle_limit, err);
    if (n < 0)
        return n;
    if (moving && (!json_is_string(moving) || json_string_value(moving)[0] != '/'))
        return bt_error_set(err, -EBADMSG, "moving_to: not an absolute path");
    if (moving) {
        r->moving_to = strdup(json_string_value(moving));
        if (!r->moving_to)
            return -ENOMEM;
    }
    r->finished = BT_SEED_GOAL_NONE;
    if (!finished)
        return 0;
    r->finished = (uint8_t)bt_seed_goal_from_name(json_string_value(finished));
    return r->finished == BT_SEED_GOAL_NONE
               ? bt_error_set(err, -EBADMSG, "finished: not \"ratio\" or \"idle\"")
               : 0;
}

static int decode_object(json_t *o, uint32_t piece_count, uint32_t file_count, struct btd_resume *r,
                         struct bt_error *err)
{
    json_int_t version, id, added, up, down, dlim, ulim, pieces;
    int paused, completed;
    const char *dir, *have;
    json_t *files;
    size_t bytes = bt_bitfield_bytes(piece_count);
    int n;

    if (json_unpack(o, "{s:I, s:I, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o}",
                    "version", &version, "id", &id, "dir", &dir, "paused", &paused,
                    "completed_sent", &completed, "added_at", &added, "uploaded", &up, "downloaded",
                    &down, "download_limit", &dlim, "upload_limit", &ulim, "pieces", &pieces,
                    "have", &have, "files", &files) < 0)
        return bad(err, "a field is missing or of the wrong type");
    if (version != RECORD_VERSION)
        return bad(err, "unknown version");
    if (id <= 0 || id > UINT32_MAX || up < 0 || down < 0 || dlim < 0 || ulim < 0 || dir[0] != '/')
        return bad(err, "a value is out of range");
    if (pieces != (json_int_t)piece_count)
        return bad(err, "piece count differs from the torrent's");
    r->have = calloc(1, bytes + 3);
    if (!r->have)
        return -ENOMEM;
    n = bt_base64_decode(r->have, bytes + 3, have, strlen(have));
    if (n != (int)bytes)
        return bad(err, "have: not a bitfield of the torrent's size");
    if (piece_count % 8 && (r->have[bytes - 1] & (0xffu >> (piece_count % 8))))
        return bad(err, "have: spare bits set");
    r->dir = strdup(dir);
    if (!r->dir)
        return -ENOMEM;
    r->id = (uint32_t)id;
    r->paused = paused;
    r->completed_sent = completed;
    r->added_at = (int64_t)added;
    r->uploaded = (uint64_t)up;
    r->downloaded = (uint64_t)down;
    r->download_limit = (uint64_t)dlim;
    r->upload_limit = (uint64_t)ulim;
    r->piece_count = piece_count;
    n = decode_files(files, file_count, r, err);
    if (n == 0)
        n = decode_seeding(o, r, err);
    return n < 0 ? n : decode_choices(o, file_count, r, err);
}

int btd_resume_decode(const char *text, size_t len, uint32_t piece_count, uint32_t file_count,
                      struct btd_resume *ret, struct bt_error *err)
{
    struct btd_resume r = {0};
    json_error_t jerr;
    json_t *o;
    int rc;

    if (len == 0)
        return bad(err, "empty");
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return bt_error_set(err, -EBADMSG, "not JSON (%s)", jerr.text);
    rc = decode_object(o, piece_count, file_count, &r, err);
    json_decref(o);
    if (rc < 0) {
        btd_resume_deinit(&r);
        return rc;
    }
    *ret = r;
    return 0;
}

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int btd_resume_lock(const char *state_dir, int *ret_fd, struct bt_error *err)
{
    char *sub = NULL, *lock = NULL, *copy, *p;
    int fd = -1, r = 0;

    /* mkdir -p STATE */
    copy = strdup(state_dir);
    if (!copy)
        return -ENOMEM;
    for (p = copy + 1; *p && r == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        r = mkdir_one(copy);
        *p = '/';
    }
    free(copy);
    if (r == 0)
        r = mkdir_one(state_dir);
    if (r == 0 &&
        (asprintf(&sub, "%s/torrents", state_dir) < 0 || asprintf(&lock, "%s/lock", state_dir) < 0))
        r = -ENOMEM;
    if (r == 0)
        r = mkdir_one(sub);
    if (r == 0) {
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        r = fd < 0 ? -errno : 0;
    }
    if (r == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
    }
    free(sub);
    free(lock);
    if (r == -EBUSY)
        return bt_error_set(err, r, "state directory %s is in use by another btd", state_dir);
    if (r < 0)
        return bt_error_set(err, r, "state directory %s: %s", state_dir, strerror(-r));
    *ret_fd = fd;
    return 0;
}

char *btd_resume_path(const char *state_dir, const char *hex, const char *ext)
{
    char *out;

    return asprintf(&out, "%s/torrents/%s.%s", state_dir, hex, ext) < 0 ? NULL : out;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, r = 0;

    if (!copy)
        return -ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

int btd_resume_write_atomic(const char *path, const void *data, size_t len, bool keep_old)
{
    char *bak = NULL;
    const uint8_t *p = data;
    char *tmp;
    size_t done = 0;
    ssize_t n;
    int fd, r = 0;

    /* Per thread: the shutdown save may meet a worker's save of the same record. */
    if (asprintf(&tmp, "%s.tmp%d", path, (int)gettid()) < 0)
        return -ENOMEM;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    while (r == 0 && done < len) {
        n = write(fd, p + done, len - done);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n > 0)
            done += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && keep_old && asprintf(&bak, "%s.bak", path) < 0)
        r = -ENOMEM;
    if (r == 0 && keep_old && rename(path, bak) < 0 && errno != ENOENT)
        r = -errno;
    free(bak);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    free(tmp);
    return r == 0 ? fsync_dir_of(path) : r;
}

int btd_resume_read(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
    struct stat st;
    uint8_t *buf;
    size_t done = 0;
    ssize_t n;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > BTD_RESUME_MAX_BYTES) {
        close(fd);
        return -EMSGSIZE;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (r == 0 && done < (size_t)st.st_size) {
        n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n == 0)
            break;
        else if (n > 0)
            done += (size_t)n;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[done] = '\0';
    *ret_buf = buf;
    *ret_len = done;
    return 0;
}

void btd_resume_forget(const char *state_dir, const char *hex)
{
    static const char *const exts[] = {"resume", "resume.bak", "torrent", "magnet"};
    size_t i;

    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        char *path = btd_resume_path(state_dir, hex, exts[i]);

        if (path)
            unlink(path);
        free(path);
    }
}

/* Once the .torrent copy is written, the magnet that stood in for it goes. */
static void drop_magnet(const char *torrent_path)
{
    size_t n = strlen(torrent_path);
    char *path;

    if (n < 8 || strcmp(torrent_path + n - 8, ".torrent") != 0)
        return;
    if (asprintf(&path, "%.*s.magnet", (int)(n - 8), torrent_path) < 0)
        return;
    unlink(path);
    free(path);
}

int btd_resume_save(void *arg, struct btd_storage *s)
{
    struct btd_resume_job *job = arg;
    char *text;
    uint32_t i;
    int r;

    /* The data first: a piece the record lists must be on the disk. */
    r = s ? btd_storage_sync(s) : 0;
    if (r < 0)
        return r;
    for (i = 0; s && !job->unchecked && !job->files_given && i < job->rec.file_count; i++) {
        struct btd_resume_file *f = &job->rec.files[i];

        r = btd_storage_stat(s, i, &f->size, &f->mtime_ns);
        f->exists = r == 0;
        if (r < 0 && r != -ENOENT)
            return r;
    }
    if (job->meta) {
        r = btd_resume_write_atomic(job->metainfo_path, job->meta, job->meta_len, false);
        if (r < 0)
            return r;
        drop_magnet(job->metainfo_path);
    }
    text = btd_resume_encode(&job->rec);
    if (!text)
        return -ENOMEM;
    r = btd_resume_write_atomic(job->record_path, text, strlen(text), true);
    free(text);
    return r;
}

void btd_resume_job_free(void *arg)
{
    struct btd_resume_job *job = arg;

    if (!job)
        return;
    free(job->record_path);
    free(job->metainfo_path);
    free(job->meta);
    btd_resume_deinit(&job->rec);
    free(job);
}
