#include "ban.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "peer.h"
#include "sha1.h"
#include "torrent.h"

static void ban(struct btd_torrent *t, uint32_t key, struct btd_addr_entry *e)
{
    struct btd_peer *p, *next;
    char name[BTD_ADDR_STRLEN];

    e->banned = true;
    btd_addr_format(&e->addr, name, sizeof(name));
    btd_warn("ih=%.8s peer=%s banned: sent data that failed the hash check", t->hex, name);
    for (p = t->peers; p; p = next) {
        next = p->next;
        if (p->book_key == key)
            btd_peer_close(p, "banned");
    }
    btd_picker_drop_source(&t->picker, key);
}

void btd_ban_blame(struct btd_torrent *t, uint32_t key, unsigned units)
{
    struct btd_addr_entry *e = btd_torrent_book_entry(t, key);

    if (!e || e->banned)
        return;
    e->blame = (uint8_t)(e->blame + units > 255 ? 255 : e->blame + units);
    if (e->blame >= BTD_BAN_BLAME)
        ban(t, key, e);
}

static struct btd_suspect **find(struct btd_torrent *t, uint32_t piece)
{
    struct btd_suspect **pp;

    for (pp = &t->suspects; *pp; pp = &(*pp)->next) {
        if ((*pp)->piece == piece)
            return pp;
    }
    return pp;
}

static void suspect_free(struct btd_suspect *s)
{
    free(s->src);
    free(s->digest);
    free(s);
}

static uint32_t block_len(uint32_t len, uint32_t b)
{
    uint32_t begin = b * BTD_BLOCK_SIZE;

    return len - begin < BTD_BLOCK_SIZE ? len - begin : BTD_BLOCK_SIZE;
}

void btd_ban_piece_failed(struct btd_torrent *t, const struct btd_job *job, const uint8_t *data)
{
    struct btd_suspect **pp, *s;
    uint32_t b;
    bool alone = true;

    for (b = 1; b < job->nblocks; b++)
        alone = alone && job->src[b] == job->src[0];
    if (alone) {
        btd_ban_blame(t, job->src[0], 2);
        return;
    }
    pp = find(t, job->index);
    if (*pp || t->nsuspects >= BTD_BAN_MAX_SUSPECTS || !data)
        return; /* the first failed copy is kept; it is as good a witness */
    s = calloc(1, sizeof(*s));
    if (s) {
        s->src = malloc(job->nblocks * sizeof(*s->src));
        s->digest = malloc(job->nblocks * sizeof(*s->digest));
    }
    if (!s || !s->src || !s->digest) {
        if (s)
            suspect_free(s);
        return;
    }
    s->piece = job->index;
    s->nblocks = job->nblocks;
    memcpy(s->src, job->src, job->nblocks * sizeof(*s->src));
    for (b = 0; b < job->nblocks; b++)
        bt_sha1(s->digest[b], data + (size_t)b * BTD_BLOCK_SIZE, block_len(job->size, b));
    *pp = s;
    t->nsuspects++;
}

void btd_ban_piece_passed(struct btd_torrent *t, uint32_t piece, const uint8_t *data, uint32_t len)
{
    struct btd_suspect **pp = find(t, piece), *s = *pp;
    uint8_t digest[BT_SHA1_LEN];
    uint32_t b, i, liars[8], nliars = 0;

    if (!s)
        return;
    *pp = s->next;
    t->nsuspects--;
    for (b = 0; data && b < s->nblocks; b++) {
        bt_sha1(digest, data + (size_t)b * BTD_BLOCK_SIZE, block_len(len, b));
        if (memcmp(digest, s->digest[b], BT_SHA1_LEN) == 0)
            continue;
        for (i = 0; i < nliars && liars[i] != s->src[b]; i++)
            ;
        if (i == nliars && nliars < 8)
            liars[nliars++] = s->src[b];
    }
    for (i = 0; i < nliars; i++)
        btd_ban_blame(t, liars[i], 2);
    suspect_free(s);
}

void btd_ban_free_all(struct btd_torrent *t)
{
    struct btd_suspect *s;

    while (t->suspects) {
        s = t->suspects;
        t->suspects = s->next;
        suspect_free(s);
    }
    t->nsuspects = 0;
}
