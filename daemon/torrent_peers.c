/*
 * torrent_peers: one torrent's address book and connections: dialling
 * within the caps, taking incoming peers, and what a closed connection
 * leaves behind (retry back-off, availability). Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fds.h"
#include "metadata.h"
#include "peer.h"
#include "session.h"
#include "torrent-internal.h"
#include "torrent.h"

#define RETRY_BASE_MS 1000 /* reconnect delay: 2 s after one failure, doubling */
#define MAX_FAILS 6        /* an address failing this often is forgotten for the run */
#define BOOK_FIRST 16      /* entries of a torrent's first address book */

/*
 * A new, zeroed entry at the end of the book, which grows by doubling up to
 * BTD_BOOK_MAX (a torrent that never meets a peer costs little): NULL when
 * full or out of memory. Entries are found by index (book keys), never kept
 * by pointer across a call that may add one.
 */
static struct btd_addr_entry *book_append(struct btd_torrent *t)
{
    struct btd_addr_entry *grown;
    uint32_t cap;

    if (t->nbook >= BTD_BOOK_MAX)
        return NULL;
    if (t->nbook == t->book_cap) {
        cap = t->book_cap ? t->book_cap * 2 : BOOK_FIRST;
        cap = cap > BTD_BOOK_MAX ? BTD_BOOK_MAX : cap;
        grown = realloc(t->book, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        t->book = grown;
        t->book_cap = cap;
    }
    memset(&t->book[t->nbook], 0, sizeof(t->book[0]));
    return &t->book[t->nbook++];
}

/* Dials known addresses while under the caps. */
void btd__torrent_connect_more(struct btd_torrent *t)
{
    struct btd_session *s = t->session;
    uint64_t now = uv_now(s->loop);
    struct btd_peer *p;
    uint32_t i;

    if (t->paused || (t->state != BTD_TORRENT_DOWNLOADING && t->state != BTD_TORRENT_METADATA))
        return;
    for (i = 0; i < t->nbook; i++) {
        struct btd_addr_entry *e = &t->book[i];

        if (t->npeers >= (uint32_t)s->cfg->max_peers_torrent ||
            s->peer_count >= (uint32_t)s->cfg->max_peers_global ||
            s->half_open >= (uint32_t)s->cfg->max_half_open || !btd_fds_room())
            return;
        if (e->connected || e->banned || e->incoming || e->self || e->fails >= MAX_FAILS ||
            e->next_try > now)
            continue;
        e->connected = true; /* before: a connect that fails at once closes the peer */
        if (btd_peer_connect(t, i, &e->addr, &p) < 0) {
            e->connected = false;
            e->fails++;
        }
    }
}

void btd_torrent_add_peers(struct btd_torrent *t, const struct bt_peer_addr *addrs, size_t n)
{
    struct btd_addr_entry *e;
    size_t i;
    uint32_t j;

    for (i = 0; i < n; i++) {
        if (addrs[i].port == 0)
            continue;
        for (j = 0; j < t->nbook; j++) {
            if (btd_addr_equal(&t->book[j].addr, &addrs[i]))
                break;
        }
        if (j < t->nbook) {
            t->book[j].fails = t->book[j].fails >= MAX_FAILS ? MAX_FAILS - 1 : t->book[j].fails;
            continue;
        }
        e = book_append(t);
        if (!e)
            break;
        e->addr = addrs[i];
    }
    btd__torrent_connect_more(t);
}

static bool ip_banned(const struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t n = a->family == 6 ? 16 : 4;
    uint32_t i;

    for (i = 0; i < t->nbook; i++) {
        const struct btd_addr_entry *e = &t->book[i];

        if (e->banned && e->addr.family == a->family && memcmp(e->addr.ip, a->ip, n) == 0)
            return true;
    }
    return false;
}

/*
 * The entry for a connection they made: the idle one of the same IP (its
 * blame carries over, so reconnecting does not wash it), else an idle
 * incoming entry with no blame, else a new one. NULL when the book is full.
 */
static struct btd_addr_entry *incoming_entry(struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t n = a->family == 6 ? 16 : 4;
    struct btd_addr_entry *spare = NULL;
    uint32_t i;

    for (i = 0; i < t->nbook; i++) {
        struct btd_addr_entry *e = &t->book[i];

        if (!e->incoming || e->connected)
            continue;
        if (e->addr.family == a->family && memcmp(e->addr.ip, a->ip, n) == 0)
            return e;
        if (!spare && e->blame == 0 && !e->banned)
            spare = e;
    }
    if (spare) {
        memset(spare, 0, sizeof(*spare));
        return spare;
    }
    return book_append(t);
}

/* Connections of this torrent with a's IP address. */
static uint32_t peers_from_ip(const struct btd_torrent *t, const struct bt_peer_addr *a)
{
    size_t len = a->family == 6 ? 16 : 4;
    const struct btd_peer *p;
    uint32_t n = 0;

    for (p = t->peers; p; p = p->next)
        n += p->addr.family == a->family && memcmp(p->addr.ip, a->ip, len) == 0;
    return n;
}

int btd_torrent_attach(struct btd_torrent *t, struct btd_peer *p)
{
    struct btd_session *s = t->session;
    struct btd_addr_entry *e;

    if (t->paused || t->state == BTD_TORRENT_CHECKING || t->move_to || ip_banned(t, &p->addr))
        return -EPERM;
    if (t->npeers >= (uint32_t)s->cfg->max_peers_torrent ||
        s->peer_count >= (uint32_t)s->cfg->max_peers_global)
        return -EMFILE;
    if (peers_from_ip(t, &p->addr) >= (uint32_t)s->cfg->max_peers_per_ip)
        return -EADDRINUSE;
    e = incoming_entry(t, &p->addr);
    if (!e)
        return -ENOSPC;
    e->addr = p->addr;
    e->incoming = true;
    e->connected = true;
    p->book_key = (uint32_t)(e - t->book);
    p->torrent = t;
    p->next = t->peers;
    t->peers = p;
    t->npeers++;
    s->peer_count++;
    return 0;
}

void btd_torrent_peer_closed(struct btd_torrent *t, struct btd_peer *p)
{
    struct btd_session *s = t->session;
    struct btd_addr_entry *e = btd_torrent_book_entry(t, p->book_key);
    struct btd_peer **pp;
    uint32_t i;

    for (pp = &t->peers; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            t->npeers--;
            s->peer_count--;
            break;
        }
    }
    btd_metadata_peer_gone(t, p);
    for (i = 0; i < p->have.npieces && bt_bitfield_count(&p->have) > 0; i++) {
        if (bt_bitfield_test(&p->have, i))
            btd_picker_peer_lost(&t->picker, i);
    }
    if (e) {
        e->connected = false;
        if (p->downloaded == 0)
            e->fails++;
        e->next_try = uv_now(s->loop) + ((uint64_t)RETRY_BASE_MS << (e->fails < 8 ? e->fails : 8));
    }
}
