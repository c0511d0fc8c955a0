/*
 * The control socket's methods: JSON in, session calls, JSON out. Every
 * json_t built here is new and handed to the caller through ret_result.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "control.h"
#include "crypto.h"
#include "log.h"
#include "metainfo.h"
#include "peer.h"
#include "peer_mse.h"
#include "ratio.h"
#include "rpc.h"
#include "selection.h"
#include "session.h"
#include "torrent.h"
#include "tracker.h"

#include "btd-version.h"

#define MAX_DIRECT_PEERS 64

static int find_torrent(struct btd_session *s, json_t *params, struct btd_torrent **ret,
                        struct bt_error *err)
{
    const char *id = NULL;
    json_t *v = json_object_get(params, "id");
    char num[24];
    int code = 0;

    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        id = num;
    } else {
        code = bt_rpc_param_string(params, "id", true, &id, err);
        if (code)
            return code;
    }
    *ret = btd_session_find(s, id, &code, err);
    return *ret ? 0 : code;
}

static json_t *jobs_summary(const struct btd_torrent *t)
{
    const struct btd_job *j;
    uint32_t pending = 0;

    for (j = t->picker.jobs; j; j = j->next)
        pending++;
    return json_pack("{s:I, s:I, s:I}", "unclaimed", (json_int_t)t->picker.unclaimed, "pending",
                     (json_int_t)pending, "unemployed", (json_int_t)btd_torrent_unemployed(t));
}

/*
 * The seeding goals in force (0 = none) and whose they are ("global" or
 * "torrent"), the ratio (null while there is nothing to divide by), the
 * idle clock and the goal that finished the torrent (null if none).
 */
static void seed_status(json_t *o, const struct btd_torrent *t)
{
    double ratio = btd_torrent_ratio(t);
    const char *finished = bt_seed_goal_name(t->finished);

    json_object_set_new(o, "ratio", ratio >= 0 ? json_real(ratio) : json_null());
    json_object_set_new(o, "seed_ratio_limit",
                        json_real((double)btd_torrent_seed_ratio_limit(t) / 100.0));
    json_object_set_new(o, "seed_ratio_limit_from",
                        json_string(t->seed_ratio_limit == BTD_SEED_GLOBAL ? "global" : "torrent"));
    json_object_set_new(o, "seed_idle_limit", json_integer(btd_torrent_seed_idle_limit(t)));
    json_object_set_new(o, "seed_idle_limit_from",
                        json_string(t->seed_idle_limit == BTD_SEED_GLOBAL ? "global" : "torrent"));
    json_object_set_new(o, "seed_idle_seconds", json_integer(t->seed_idle));
    json_object_set_new(o, "finished", finished ? json_string(finished) : json_null());
}

static json_t *torrent_status(const struct btd_torrent *t)
{
    uint64_t have = t->meta ? btd_picker_have_bytes(&t->picker) : 0;
    uint64_t wanted = t->meta ? btd_picker_wanted_bytes(&t->picker) : 0;
    uint64_t left = btd_torrent_wanted_left(t), size = t->meta ? t->meta->total_length : 0;
    double rate = t->down.per_second;
    json_t *o;

    o = json_pack("{s:I, s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "id",
                  (json_int_t)t->id, "info_hash", t->hex, "name", btd_torrent_name(t), "state",
                  btd_torrent_state_name(t->state), "progress",
                  !t->meta ? 0.0
                  : wanted ? (double)(wanted - left) / (double)wanted
                           : 1.0,
                  "size", (json_int_t)size, "verified_bytes", (json_int_t)have, "downloaded_bytes",
                  (json_int_t)t->downloaded, "uploaded_bytes", (json_int_t)t->uploaded,
                  "download_rate", (json_int_t)rate, "upload_rate", (json_int_t)t->up.per_second,
                  "peers", (json_int_t)t->npeers, "dir", t->dir, "pieces",
                  (json_int_t)(t->meta ? t->meta->piece_count : 0));
    if (!o)
        return NULL;
    json_object_set_new(o, "eta",
                        !t->meta      ? json_null()
                        : left == 0   ? json_integer(0)
                        : rate >= 1.0 ? json_integer((json_int_t)((double)left / rate))
                                      : json_null());
    json_object_set_new(o, "error", t->error ? json_string(t->error) : json_null());
    if (t->move_to)
        json_object_set_new(o, "moving_to", json_string(t->move_to));
    json_object_set_new(o, "wanted_bytes", json_integer((json_int_t)wanted));
    json_object_set_new(o, "left_bytes", json_integer((json_int_t)left));
    json_object_set_new(o, "hash_failures", json_integer(t->hash_failures));
    json_object_set_new(o, "jobs", jobs_summary(t));
    json_object_set_new(o, "download_limit", json_integer((json_int_t)t->bw[BTD_BW_DOWN].rate));
    json_object_set_new(o, "upload_limit", json_integer((json_int_t)t->bw[BTD_BW_UP].rate));
    seed_status(o, t);
    return o;
}

/*
 * torrent.add of a .torrent (base64 in b64), with the file selection params
 * names (skip, only, priority_*): checked before the torrent is added, and
 * applied before it can ask a peer for anything.
 */
static int add_metainfo(struct btd_session *s, json_t *params, const char *b64, const char *dir,
                        bool paused, const char *const *peers, size_t npeers,
                        struct btd_torrent **ret, struct bt_error *err)
{
    struct btd_file_choice *c = NULL;
    struct bt_metainfo *m = NULL;
    bool any = false;
    uint8_t *raw;
    size_t len, cap = strlen(b64) / 4 * 3 + 3;
    int r;

    raw = malloc(cap);
    if (!raw)
        return bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    r = bt_base64_decode(raw, cap, b64, strlen(b64));
    if (r < 0) {
        free(raw);
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.metainfo: not valid base64");
    }
    len = (size_t)r;
    r = bt_metainfo_parse(&m, raw, len, err);
    if (r < 0) {
        free(raw);
        return BT_RPC_BAD_TORRENT;
    }
    c = btd_file_choices_new(m);
    r = c ? btd_selection_apply(params, BTD_SELECTION_ADD, m, c, &any, err)
          : bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    if (r == 0)
        r = btd_session_add(s, m, raw, len, dir, paused, peers, npeers, ret, err);
    else
        bt_metainfo_free(m);
    free(raw);
    if (r || !any) {
        free(c);
        return r;
    }
    if (btd_torrent_set_choices(*ret, c) < 0) { /* rather nothing than the files not wanted */
        btd_err("ih=%.8s cannot apply the file selection: out of memory; pausing", (*ret)->hex);
        btd_torrent_pause(*ret);
    }
    return 0;
}

/*
 * torrent.add of a magnet: its file lists (checked as far as they can be
 * without the file list) are kept and applied when the metadata arrives.
 */
static int add_magnet(struct btd_session *s, json_t *params, const char *magnet, const char *dir,
                      bool paused, const char *const *peers, size_t npeers,
                      struct btd_torrent **ret, struct bt_error *err)
{
    char *text = NULL;
    bool any;
    int r = btd_selection_apply(params, BTD_SELECTION_ADD, NULL, NULL, &any, err);

    if (r)
        return r;
    if (any) {
        text = btd_selection_text(params, BTD_SELECTION_ADD);
        if (!text)
            return bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    }
    r = btd_session_add_magnet(s, magnet, dir, paused, peers, npeers, ret, err);
    if (r == 0 && text) {
        (*ret)->pending_selection = text;
        (*ret)->resume_dirty = (*ret)->resume_soon = true;
        text = NULL;
    }
    free(text);
    return r;
}

static int m_torrent_add(struct btd_session *s, json_t *params, json_t **ret_result,
                         struct bt_error *err)
{
    const char *b64 = NULL, *magnet = NULL, *dir = NULL, *peers_c[MAX_DIRECT_PEERS];
    json_t *peers = NULL, *item;
    struct btd_torrent *t;
    bool paused = false;
    size_t i, npeers = 0;
    int r;

    r = bt_rpc_param_string(params, "metainfo", false, &b64, err);
    if (!r)
        r = bt_rpc_param_string(params, "dir", false, &dir, err);
    if (!r)
        r = bt_rpc_param_bool(params, "paused", false, &paused, err);
    if (!r)
        r = bt_rpc_param_strings(params, "peers", false, &peers, err);
    if (!r)
        r = bt_rpc_param_string(params, "magnet", false, &magnet, err);
    if (r)
        return r;
    if (!b64 == !magnet)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                            "params: give exactly one of metainfo and magnet");
    if (dir && dir[0] != '/')
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.dir: must be an absolute path");
    json_array_foreach(peers, i, item)
    {
        if (npeers == MAX_DIRECT_PEERS)
            return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.peers: at most %d",
                                MAX_DIRECT_PEERS);
        peers_c[npeers++] = json_string_value(item);
    }
    for (i = 0; i < npeers; i++) {
        struct bt_peer_addr a;

        if (btd_addr_parse(peers_c[i], &a) < 0)
            return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                                "params.peers[%zu]: \"%s\" is not HOST:PORT", i, peers_c[i]);
    }
    if (magnet) {
        r = add_magnet(s, params, magnet, dir, paused, peers_c, npeers, &t, err);
    } else {
        r = add_metainfo(s, params, b64, dir, paused, peers_c, npeers, &t, err);
    }
    if (r)
        return r;
    *ret_result = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)t->id, "info_hash", t->hex, "name",
                            btd_torrent_name(t));
    return 0;
}

static int m_torrent_list(struct btd_session *s, json_t *params, json_t **ret_result,
                          struct bt_error *err)
{
    struct btd_torrent *t;
    json_t *arr = json_array();

    (void)params;
    (void)err;
    for (t = s->torrents; t; t = t->next)
        json_array_append_new(arr, torrent_status(t));
    *ret_result = arr;
    return 0;
}

static int m_torrent_get(struct btd_session *s, json_t *params, json_t **ret_result,
                         struct bt_error *err)
{
    struct btd_torrent *t;
    struct btd_tracker_info info;
    json_t *o, *trackers;
    size_t i;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    o = torrent_status(t);
    trackers = json_array();
    for (i = 0; t->tracker && i < btd_tracker_count(t->tracker); i++) {
        btd_tracker_get_info(t->tracker, i, &info);
        json_array_append_new(
            trackers,
            json_pack("{s:s, s:I, s:s?, s:s?, s:I, s:I, s:I, s:i, s:i, s:b}", "url", info.url,
                      "tier", (json_int_t)info.tier, "last_error", info.last_error, "last_warning",
                      info.last_warning, "last_announce", (json_int_t)info.last_announce,
                      "next_announce", (json_int_t)info.next_announce, "peers",
                      (json_int_t)info.peers, "seeders", info.seeders, "leechers", info.leechers,
                      "updating", info.updating));
    }
    json_object_set_new(o, "trackers", trackers);
    json_object_set_new(o, "wasted_bytes", json_integer((json_int_t)t->wasted));
    *ret_result = o;
    return 0;
}

/* Pieces not wanted and not had, nor in flight: the rest of pieces - unclaimed - pending - have. */
static uint32_t skipped(const struct btd_picker *p)
{
    const struct btd_job *j;
    uint32_t in_flight = 0;

    for (j = p->jobs; j; j = j->next)
        in_flight += p->prio[j->index] == BTD_PRIO_SKIP;
    return p->piece_count - p->wanted - (p->have - p->wanted_have) - in_flight;
}

static int m_torrent_jobs(struct btd_session *s, json_t *params, json_t **ret_result,
                          struct bt_error *err)
{
    struct btd_torrent *t;
    const struct btd_job *j;
    const struct btd_peer *p;
    json_t *pending, *unemployed;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    pending = json_array();
    for (j = t->picker.jobs; j; j = j->next) {
        const struct btd_peer *owner = j->owner;

        json_array_append_new(pending,
                              json_pack("{s:I, s:I, s:I, s:s?, s:b}", "piece", (json_int_t)j->index,
                                        "blocks", (json_int_t)j->nblocks, "received",
                                        (json_int_t)j->received, "peer", owner ? owner->name : NULL,
                                        "verifying", j->buf == NULL));
    }
    unemployed = json_array();
    for (p = t->peers; p; p = p->next) {
        if (btd_torrent_peer_unemployed(t, p))
            json_array_append_new(unemployed, json_string(p->name));
    }
    *ret_result = json_pack(
        "{s:I, s:o, s:o, s:I, s:I, s:I}", "unclaimed", (json_int_t)t->picker.unclaimed, "pending",
        pending, "unemployed", unemployed, "have", (json_int_t)t->picker.have, "pieces",
        (json_int_t)t->picker.piece_count, "skipped", (json_int_t)skipped(&t->picker));
    return 0;
}

static int m_torrent_peers(struct btd_session *s, json_t *params, json_t **ret_result,
                           struct bt_error *err)
{
    static const char *const states[] = {"connecting", "handshake", "active", "closing"};
    struct btd_torrent *t;
    const struct btd_peer *p;
    json_t *arr;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    arr = json_array();
    for (p = t->peers; p; p = p->next) {
        json_array_append_new(
            arr, json_pack(
                     "{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:I, s:b, s:b}",
                     "address", p->name, "state", states[p->state], "progress",
                     p->have.npieces ? (double)bt_bitfield_count(&p->have) / (double)p->have.npieces
                                     : 0.0,
                     "download_rate", (json_int_t)p->down.per_second, "upload_rate",
                     (json_int_t)p->up.per_second, "downloaded_bytes", (json_int_t)p->downloaded,
                     "uploaded_bytes", (json_int_t)p->uploaded, "choking_us", p->peer_choking,
                     "interested", p->am_interested, "choked", p->am_choking, "peer_interested",
                     p->peer_interested, "requests", (json_int_t)p->nreqs, "mse", p->mse != NULL,
                     "encrypted", btd_peer_mse_encrypted(p)));
        json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "their_requests",
                            json_integer((json_int_t)p->nserves));
    }
    *ret_result = arr;
    return 0;
}

static const char *prio_name(uint8_t prio)
{
    return prio == BTD_PRIO_HIGH ? "high" : prio == BTD_PRIO_LOW ? "low" : "normal";
}

static int m_torrent_files(struct btd_session *s, json_t *params, json_t **ret_result,
                           struct bt_error *err)
{
    struct btd_torrent *t;
    json_t *arr;
    size_t i, n = 0;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    arr = json_array();
    for (i = 0; t->meta && i < t->meta->file_count; i++) {
        const struct bt_file *f = &t->meta->files[i];
        struct btd_file_choice c =
            t->choices ? t->choices[i] : (struct btd_file_choice){true, BTD_PRIO_NORMAL};

        if (f->pad)
            continue;
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:I, s:I, s:b, s:s, s:I}", "index", (json_int_t)n++, "path",
                           f->path, "size", (json_int_t)f->length, "offset", (json_int_t)f->offset,
                           "wanted", c.wanted, "priority", prio_name(c.prio), "done",
                           (json_int_t)btd_torrent_file_done(t, (uint32_t)i)));
    }
    *ret_result = arr;
    return 0;
}

static int m_torrent_pause(struct btd_session *s, json_t *params, json_t **ret_result,
                           struct bt_error *err)
{
    struct btd_torrent *t;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    btd_torrent_pause(t);
    *ret_result = torrent_status(t);
    return 0;
}

static int m_torrent_resume(struct btd_session *s, json_t *params, json_t **ret_result,
                            struct bt_error *err)
{
    struct btd_torrent *t;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    btd_torrent_resume(t);
    *ret_result = torrent_status(t);
    return 0;
}

static int m_torrent_verify(struct btd_session *s, json_t *params, json_t **ret_result,
                            struct bt_error *err)
{
    struct btd_torrent *t;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    if (btd_torrent_verify(t) < 0)
        return bt_error_set(err, BT_RPC_BUSY,
                            t->move_to ? "torrent %u is moving its data"
                            : t->meta  ? "torrent %u is already being checked"
                                       : "torrent %u has no metadata yet",
                            t->id);
    *ret_result = torrent_status(t);
    return 0;
}

static int m_torrent_move(struct btd_session *s, json_t *params, json_t **ret_result,
                          struct bt_error *err)
{
    struct btd_torrent *t;
    const char *dir = NULL;
    bool move_data = true;
    int r = find_torrent(s, params, &t, err);

    if (!r)
        r = bt_rpc_param_string(params, "dir", true, &dir, err);
    if (!r)
        r = bt_rpc_param_bool(params, "move_data", false, &move_data, err);
    if (r)
        return r;
    if (!dir[0])
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.dir: must not be empty");
    if (dir[0] != '/')
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params.dir: must be an absolute path");
    r = btd_torrent_move(t, dir, move_data);
    if (r == -EBUSY)
        return bt_error_set(err, BT_RPC_BUSY, "torrent %u is %s", t->id,
                            t->move_to ? "already moving" : "being checked");
    if (r == -EALREADY)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "torrent %u is in %s already", t->id,
                            t->dir);
    if (r < 0)
        return bt_error_set(err, BT_RPC_IO_ERROR, "%s: %s", dir, strerror(-r));
    *ret_result = torrent_status(t);
    return 0;
}

#define MAX_LIMIT ((int64_t)1 << 40) /* bytes/s, as in the config */

/* The file selection torrent.set names, checked whole before anything changes; NULL if none. */
static int set_selection(struct btd_torrent *t, json_t *params, struct btd_file_choice **ret,
                         struct bt_error *err)
{
    struct btd_file_choice *c;
    bool any;
    int r;

    *ret = NULL;
    if (!btd_selection_named(params, BTD_SELECTION_SET))
        return 0;
    if (!t->meta)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                            "torrent %u has no metadata yet: its files are not known", t->id);
    c = btd_torrent_choices(t);
    if (!c)
        return bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    r = btd_selection_apply(params, BTD_SELECTION_SET, t->meta, c, &any, err);
    if (r) {
        free(c);
        return r;
    }
    *ret = c;
    return 0;
}

#define MAX_IDLE INT32_MAX /* seconds, as in the config */

/*
 * A seeding goal torrent.set names (key): a ratio (a number, at most two
 * decimals) or seconds (an integer), 0 or "unlimited" for none, "global"
 * or null for the session's. *ret is left alone when key is absent.
 */
static int param_seed_limit(json_t *params, const char *key, bool ratio, int64_t *ret,
                            struct bt_error *err)
{
    json_t *v = json_object_get(params, key);
    const char *word = json_string_value(v);
    int64_t n = 0;
    bool ok = true;

    if (!v)
        return 0;
    if (json_is_null(v) || (word && strcmp(word, "global") == 0)) {
        n = BTD_SEED_GLOBAL;
    } else if (word && strcmp(word, "unlimited") == 0) {
        n = 0;
    } else if (ratio) {
        ok = json_is_number(v) && bt_ratio_from_double(json_number_value(v), &n) == 0;
    } else {
        ok = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= MAX_IDLE;
        n = ok ? json_integer_value(v) : 0;
    }
    if (!ok)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                            ratio ? "params.%s: must be a ratio from 0 to %d with at most two "
                                    "decimals, \"unlimited\" or \"global\""
                                  : "params.%s: must be seconds from 0 to %d, \"unlimited\" or "
                                    "\"global\"",
                            key, ratio ? BT_RATIO_MAX / 100 : MAX_IDLE);
    *ret = n;
    return 0;
}

/* A key torrent.set takes. */
static bool torrent_set_key(const char *key)
{
    static const char *const keys[] = {"id", "download_limit", "upload_limit", "seed_ratio_limit",
                                       "seed_idle_limit"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i]) == 0)
            return true;
    }
    return btd_selection_key(key, BTD_SELECTION_SET);
}

static int m_torrent_set(struct btd_session *s, json_t *params, json_t **ret_result,
                         struct bt_error *err)
{
    struct btd_file_choice *c = NULL;
    struct btd_torrent *t;
    int64_t down, up, ratio, idle;
    const char *key;
    json_t *v;
    int r = find_torrent(s, params, &t, err);

    if (r)
        return r;
    json_object_foreach(params, key, v)
    {
        if (!torrent_set_key(key))
            return bt_error_set(err, BT_RPC_INVALID_PARAMS,
                                "params.%s: not a torrent setting (download_limit, upload_limit, "
                                "seed_ratio_limit, seed_idle_limit, files_wanted, files_skipped, "
                                "priority_high, priority_normal, priority_low)",
                                key);
    }
    down = (int64_t)t->bw[BTD_BW_DOWN].rate;
    up = (int64_t)t->bw[BTD_BW_UP].rate;
    ratio = t->seed_ratio_limit;
    idle = t->seed_idle_limit;
    r = bt_rpc_param_int(params, "download_limit", false, 0, MAX_LIMIT, &down, err);
    if (!r)
        r = bt_rpc_param_int(params, "upload_limit", false, 0, MAX_LIMIT, &up, err);
    if (!r)
        r = param_seed_limit(params, "seed_ratio_limit", true, &ratio, err);
    if (!r)
        r = param_seed_limit(params, "seed_idle_limit", false, &idle, err);
    if (!r)
        r = set_selection(t, params, &c, err);
    if (r)
        return r;
    if (c && btd_torrent_set_choices(t, c) < 0)
        return bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    btd_torrent_set_limits(t, (uint64_t)down, (uint64_t)up);
    btd_torrent_set_seed_limits(t, ratio, idle);
    *ret_result = torrent_status(t);
    return 0;
}

static int m_torrent_remove(struct btd_session *s, json_t *params, json_t **ret_result,
                            struct bt_error *err)
{
    struct btd_torrent *t;
    bool delete_data = false;
    int r = find_torrent(s, params, &t, err);

    if (!r)
        r = bt_rpc_param_bool(params, "delete_data", false, &delete_data, err);
    if (r)
        return r;
    if (t->move_to)
        return bt_error_set(err, BT_RPC_BUSY, "torrent %u is moving its data: remove it after",
                            t->id);
    *ret_result = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)t->id, "info_hash", t->hex,
                            "deleted_data", delete_data);
    btd_session_remove(s, t, delete_data);
    return 0;
}

static int m_session_get(struct btd_session *s, json_t *params, json_t **ret_result,
                         struct bt_error *err)
{
    struct btd_torrent *t;
    double down = 0, up = 0;

    (void)params;
    for (t = s->torrents; t; t = t->next) {
        down += t->down.per_second;
        up += t->up.per_second;
    }
    *ret_result = json_pack(
        "{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "version", BTD_VERSION,
        "listen_port", (int)s->listen_port, "torrents", (json_int_t)s->torrent_count, "peers",
        (json_int_t)s->peer_count, "download_rate", (json_int_t)down, "upload_rate", (json_int_t)up,
        "downloaded_bytes", (json_int_t)s->downloaded, "uploaded_bytes", (json_int_t)s->uploaded,
        "download_dir", s->cfg->download_dir, "socket", s->cfg->socket_path, "download_limit",
        (json_int_t)s->cfg->download_limit, "upload_limit", (json_int_t)s->cfg->upload_limit);
    if (!*ret_result)
        return bt_error_set(err, BT_RPC_INTERNAL_ERROR, "out of memory");
    json_object_update_new(
        *ret_result, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "torrent_download_limit",
                               (json_int_t)s->cfg->torrent_download_limit, "torrent_upload_limit",
                               (json_int_t)s->cfg->torrent_upload_limit, "max_peers_torrent",
                               (json_int_t)s->cfg->max_peers_torrent, "max_peers_global",
                               (json_int_t)s->cfg->max_peers_global, "max_half_open",
                               (json_int_t)s->cfg->max_half_open, "max_peers_per_ip",
                               (json_int_t)s->cfg->max_peers_per_ip, "log_level", s->cfg->log_level,
                               "encryption", s->cfg->encryption));
    json_object_set_new(*ret_result, "watch_dir", json_string(s->cfg->watch_dir));
    json_object_set_new(*ret_result, "seed_ratio_limit",
                        json_real((double)s->cfg->seed_ratio_limit / 100.0));
    json_object_set_new(*ret_result, "seed_idle_limit",
                        json_integer((json_int_t)s->cfg->seed_idle_limit));
    json_object_set_new(*ret_result, "direct_writes", json_boolean(s->cfg->direct_writes));
    return 0;
}

static int m_session_set(struct btd_session *s, json_t *params, json_t **ret_result,
                         struct bt_error *err)
{
    if (!json_is_object(params) || json_object_size(params) == 0)
        return bt_error_set(err, BT_RPC_INVALID_PARAMS, "params: name at least one setting");
    if (btd_config_update(s->cfg, params, true, err) < 0) {
        bt_error_prefix(err, "params");
        return BT_RPC_INVALID_PARAMS;
    }
    btd_session_apply_config(s);
    return m_session_get(s, NULL, ret_result, err);
}

static int m_session_shutdown(struct btd_session *s, json_t *params, json_t **ret_result,
                              struct bt_error *err)
{
    (void)params;
    (void)err;
    if (s->request_shutdown)
        s->request_shutdown(s->request_shutdown_data);
    *ret_result = json_pack("{s:b}", "shutting_down", 1);
    return 0;
}

const struct btd_method btd_methods[] = {
    {"torrent.add", m_torrent_add},           {"torrent.list", m_torrent_list},
    {"torrent.get", m_torrent_get},           {"torrent.jobs", m_torrent_jobs},
    {"torrent.peers", m_torrent_peers},       {"torrent.files", m_torrent_files},
    {"torrent.pause", m_torrent_pause},       {"torrent.resume", m_torrent_resume},
    {"torrent.remove", m_torrent_remove},     {"torrent.verify", m_torrent_verify},
    {"torrent.move", m_torrent_move},         {"torrent.set", m_torrent_set},
    {"session.get", m_session_get},           {"session.set", m_session_set},
    {"session.shutdown", m_session_shutdown}, {NULL, NULL},
};
