/*
 * torrent_seed: when a seeding torrent has given enough back. Loop thread
 * only. The arithmetic is ratio.h's; this file keeps each torrent's own
 * limits, its idle clock, and the finished state that a goal met leaves
 * it in: paused (trackers told `stopped`, peers closed) with the goal
 * named, kept in the resume record.
 */
#include "log.h"
#include "resume.h"
#include "session.h"
#include "torrent-internal.h"

int64_t btd_torrent_seed_ratio_limit(const struct btd_torrent *t)
{
    return t->seed_ratio_limit == BTD_SEED_GLOBAL ? t->session->cfg->seed_ratio_limit
                                                  : t->seed_ratio_limit;
}

int64_t btd_torrent_seed_idle_limit(const struct btd_torrent *t)
{
    return t->seed_idle_limit == BTD_SEED_GLOBAL ? t->session->cfg->seed_idle_limit
                                                 : t->seed_idle_limit;
}

void btd_torrent_set_seed_limits(struct btd_torrent *t, int64_t ratio, int64_t idle)
{
    if (t->seed_ratio_limit == ratio && t->seed_idle_limit == idle)
        return;
    t->seed_ratio_limit = ratio;
    t->seed_idle_limit = idle;
    t->resume_dirty = t->resume_soon = true;
}

/* t as the goals see it (ratio.h). */
static void seed_state(const struct btd_torrent *t, struct bt_seed_state *ret)
{
    *ret = (struct bt_seed_state){
        .uploaded = t->uploaded,
        .downloaded = t->downloaded,
        .wanted = t->meta ? btd_picker_wanted_bytes(&t->picker) : 0,
        .idle = t->seed_idle,
        .ratio_limit = btd_torrent_seed_ratio_limit(t),
        .idle_limit = btd_torrent_seed_idle_limit(t),
    };
}

double btd_torrent_ratio(const struct btd_torrent *t)
{
    struct bt_seed_state st;
    uint64_t base;

    seed_state(t, &st);
    base = bt_ratio_baseline(st.downloaded, st.wanted);
    return base ? (double)st.uploaded / (double)base : -1.0;
}

/* The goal met: one notice line naming it, then paused as finished. */
static void finish(struct btd_torrent *t, enum bt_seed_goal goal, const struct bt_seed_state *st)
{
    char limit[BT_RATIO_TEXT_LEN];

    if (goal == BT_SEED_GOAL_RATIO) {
        bt_ratio_format(limit, st->ratio_limit);
        btd_notice("ih=%.8s seeding goal met: ratio %.2f reached its limit %s (%llu bytes "
                   "uploaded, %llu downloaded, %llu wanted); stopped",
                   t->hex, btd_torrent_ratio(t), limit, (unsigned long long)st->uploaded,
                   (unsigned long long)st->downloaded, (unsigned long long)st->wanted);
    } else {
        btd_notice("ih=%.8s seeding goal met: nothing uploaded for %llu s (idle limit %lld s); "
                   "stopped",
                   t->hex, (unsigned long long)st->idle, (long long)st->idle_limit);
    }
    t->finished = goal;
    btd_torrent_pause(t); /* `stopped` to the trackers, peers closed, state finished */
}

void btd__torrent_seed_tick(struct btd_torrent *t)
{
    struct bt_seed_state st;
    enum bt_seed_goal goal;

    if (t->state != BTD_TORRENT_SEEDING || !t->meta) {
        t->seed_idle = 0;
        return;
    }
    if (t->up.bytes_this_second > 0)
        t->seed_idle = 0;
    else if (t->seed_idle < UINT32_MAX)
        t->seed_idle++;
    seed_state(t, &st);
    goal = bt_seed_goal_met(&st);
    if (goal != BT_SEED_GOAL_NONE)
        finish(t, goal, &st);
}

void btd__torrent_seed_resumed(struct btd_torrent *t)
{
    struct bt_seed_state st;

    t->finished = BT_SEED_GOAL_NONE;
    t->seed_idle = 0;
    if (!t->meta || !btd_picker_complete(&t->picker))
        return;
    seed_state(t, &st);
    st.idle = 0;
    if (bt_seed_goal_met(&st) != BT_SEED_GOAL_RATIO)
        return;
    btd_notice("ih=%.8s resumed by hand with its ratio goal met: it seeds on with no ratio "
               "limit of its own (btctl set --torrent ID seed_ratio_limit R sets one)",
               t->hex);
    btd_torrent_set_seed_limits(t, 0, t->seed_idle_limit);
}

void btd__torrent_seed_restore(struct btd_torrent *t, const struct btd_resume *rec)
{
    t->seed_ratio_limit = rec->seed_ratio_limit;
    t->seed_idle_limit = rec->seed_idle_limit;
    if (!rec->paused || rec->finished == BT_SEED_GOAL_NONE)
        return;
    t->finished = (enum bt_seed_goal)rec->finished;
    if (t->state == BTD_TORRENT_PAUSED)
        t->state = BTD_TORRENT_FINISHED; /* as it was: no change to log */
}
