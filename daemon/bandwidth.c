#include "bandwidth.h"

#include "macro.h"
#include "peer.h"
#include "session.h"
#include "torrent.h"

void btd_bucket_set_rate(struct btd_bucket *b, uint64_t rate, uint64_t now)
{
    if (b->rate == rate)
        return;
    b->rate = rate;
    b->tokens = 0;
    b->milli = 0;
    b->stamp = now;
}

bool btd_bucket_open(struct btd_bucket *b, uint64_t now)
{
    int64_t cap;

    if (b->rate == 0)
        return true;
    if (now > b->stamp) {
        /* 128 bits: a rate up to 2^40 times any idle time cannot overflow. */
        unsigned __int128 milli = (unsigned __int128)b->rate * (now - b->stamp) + b->milli;

        cap = (int64_t)(b->rate / 4) + 1;
        if (milli / 1000 >= (unsigned __int128)(cap - b->tokens)) {
            b->tokens = cap;
            b->milli = 0;
        } else {
            b->tokens += (int64_t)(milli / 1000);
            b->milli = (uint64_t)(milli % 1000);
        }
        b->stamp = now;
    }
    return b->tokens > 0;
}

void btd_bucket_take(struct btd_bucket *b, uint64_t bytes)
{
    if (b->rate > 0)
        b->tokens -= (int64_t)bytes;
}

bool btd_bandwidth_allow(struct btd_peer *p, enum btd_bw_dir d)
{
    uint64_t now = uv_now(p->session->loop);

    if (!btd_bucket_open(&p->session->bw[d], now))
        return false;
    return !p->torrent || btd_bucket_open(&p->torrent->bw[d], now);
}

void btd_bandwidth_use(struct btd_peer *p, enum btd_bw_dir d, uint64_t bytes)
{
    btd_bucket_take(&p->session->bw[d], bytes);
    if (p->torrent)
        btd_bucket_take(&p->torrent->bw[d], bytes);
}

static void on_wake(uv_timer_t *h)
{
    struct btd_session *s = container_of(h, struct btd_session, bw_timer);
    struct btd_torrent *t;
    struct btd_peer *p, *next;
    bool waiting = false;

    for (p = s->incoming; p; p = next) {
        next = p->next;
        waiting |= btd_peer_bandwidth_wake(p);
    }
    for (t = s->torrents; t; t = t->next) {
        for (p = t->peers; p; p = next) {
            next = p->next; /* waking may close p */
            waiting |= btd_peer_bandwidth_wake(p);
        }
    }
    if (!waiting)
        uv_timer_stop(h);
}

void btd_bandwidth_wait(struct btd_session *s)
{
    if (!s->closing && !uv_is_active((uv_handle_t *)&s->bw_timer))
        uv_timer_start(&s->bw_timer, on_wake, BTD_BANDWIDTH_WAKE_MS, BTD_BANDWIDTH_WAKE_MS);
}

void btd_bandwidth_configure(struct btd_session *s)
{
    uint64_t now = uv_now(s->loop);

    btd_bucket_set_rate(&s->bw[BTD_BW_DOWN], (uint64_t)s->cfg->download_limit, now);
    btd_bucket_set_rate(&s->bw[BTD_BW_UP], (uint64_t)s->cfg->upload_limit, now);
    btd_bandwidth_wait(s);
}
