#include "wire.h"

#include <errno.h>
#include <string.h>

#include "sha1.h"

#define VARIABLE (-1)
#define NIDS 21 /* ids 0..20 have entries; the rest are unknown */

/* What each known id's body (the bytes after the id) looks like. */
static const struct spec {
    const char *name; /* NULL: not an id we know */
    int body;         /* bytes of a fixed-size body, or VARIABLE */
} specs[NIDS] = {
    [BT_WIRE_CHOKE] = {"choke", 0},
    [BT_WIRE_UNCHOKE] = {"unchoke", 0},
    [BT_WIRE_INTERESTED] = {"interested", 0},
    [BT_WIRE_NOT_INTERESTED] = {"not interested", 0},
    [BT_WIRE_HAVE] = {"have", 4},
    [BT_WIRE_BITFIELD] = {"bitfield", VARIABLE},
    [BT_WIRE_REQUEST] = {"request", 12},
    [BT_WIRE_PIECE] = {"piece", VARIABLE},
    [BT_WIRE_CANCEL] = {"cancel", 12},
    [BT_WIRE_PORT] = {"port", 2},
    [BT_WIRE_SUGGEST] = {"suggest", 4},
    [BT_WIRE_HAVE_ALL] = {"have all", 0},
    [BT_WIRE_HAVE_NONE] = {"have none", 0},
    [BT_WIRE_REJECT] = {"reject request", 12},
    [BT_WIRE_ALLOWED_FAST] = {"allowed fast", 4},
    [BT_WIRE_EXTENDED] = {"extended", VARIABLE},
};

/* struct bt_wire_limits with the defaults filled in and the ceiling applied. */
struct limits {
    uint32_t block;
    uint32_t bitfield_len; /* 0: not known */
    uint32_t bitfield;
    uint32_t extended;
    uint32_t unknown;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const struct spec *spec_of(uint8_t id)
{
    if (id >= NIDS || !specs[id].name)
        return NULL;
    return &specs[id];
}

const char *bt_wire_type_name(enum bt_wire_type type)
{
    if (type == BT_WIRE_KEEPALIVE)
        return "keep-alive";
    if ((unsigned)type < NIDS && specs[type].name)
        return specs[type].name;
    return "unknown";
}

void bt_wire_reserved_set(uint8_t reserved[8], unsigned features)
{
    if (features & BT_WIRE_FEATURE_EXTENDED)
        reserved[5] |= 0x10;
    if (features & BT_WIRE_FEATURE_FAST)
        reserved[7] |= 0x04;
    if (features & BT_WIRE_FEATURE_DHT)
        reserved[7] |= 0x01;
}

unsigned bt_wire_reserved_features(const uint8_t reserved[8])
{
    unsigned f = 0;

    if (reserved[5] & 0x10)
        f |= BT_WIRE_FEATURE_EXTENDED;
    if (reserved[7] & 0x04)
        f |= BT_WIRE_FEATURE_FAST;
    if (reserved[7] & 0x01)
        f |= BT_WIRE_FEATURE_DHT;
    return f;
}

int bt_wire_handshake_encode(uint8_t out[BT_WIRE_HANDSHAKE_LEN], const struct bt_wire_handshake *hs)
{
    out[0] = BT_WIRE_PSTR_LEN;
    memcpy(out + 1, BT_WIRE_PSTR, BT_WIRE_PSTR_LEN);
    memcpy(out + 20, hs->reserved, 8);
    memcpy(out + 28, hs->info_hash, 20);
    memcpy(out + 48, hs->peer_id, 20);
    return BT_WIRE_HANDSHAKE_LEN;
}

/*
 * Checks the length byte and protocol string as far as they have arrived;
 * 1 if buf holds need bytes, 0 if it holds fewer, -EBADMSG.
 */
static int handshake_check(const uint8_t *buf, size_t len, size_t need)
{
    size_t n = len < 1 + BT_WIRE_PSTR_LEN ? len : 1 + BT_WIRE_PSTR_LEN;

    if (n >= 1 && buf[0] != BT_WIRE_PSTR_LEN)
        return -EBADMSG;
    if (n > 1 && memcmp(buf + 1, BT_WIRE_PSTR, n - 1) != 0)
        return -EBADMSG;
    return len >= need;
}

int bt_wire_handshake_parse_head(const uint8_t *buf, size_t len, struct bt_wire_handshake *ret)
{
    int r = handshake_check(buf, len, BT_WIRE_HANDSHAKE_HEAD_LEN);

    if (r <= 0)
        return r;
    memcpy(ret->reserved, buf + 20, 8);
    memcpy(ret->info_hash, buf + 28, 20);
    return BT_WIRE_HANDSHAKE_HEAD_LEN;
}

int bt_wire_handshake_parse(const uint8_t *buf, size_t len, struct bt_wire_handshake *ret)
{
    int r = handshake_check(buf, len, BT_WIRE_HANDSHAKE_LEN);

    if (r <= 0)
        return r;
    memcpy(ret->reserved, buf + 20, 8);
    memcpy(ret->info_hash, buf + 28, 20);
    memcpy(ret->peer_id, buf + 48, 20);
    return BT_WIRE_HANDSHAKE_LEN;
}

static uint32_t limit(uint32_t v, uint32_t def)
{
    if (v == 0)
        v = def;
    return v > BT_WIRE_LIMIT_CEILING ? BT_WIRE_LIMIT_CEILING : v;
}

static void resolve_limits(const struct bt_wire_limits *lim, struct limits *l)
{
    static const struct bt_wire_limits none;

    if (!lim)
        lim = &none;
    l->block = limit(lim->max_block, BT_WIRE_DEFAULT_MAX_BLOCK);
    l->bitfield_len =
        lim->bitfield_len > BT_WIRE_LIMIT_CEILING ? BT_WIRE_LIMIT_CEILING : lim->bitfield_len;
    l->bitfield =
        l->bitfield_len ? l->bitfield_len : limit(lim->max_bitfield, BT_WIRE_DEFAULT_MAX_BITFIELD);
    l->extended = limit(lim->max_extended, BT_WIRE_DEFAULT_MAX_EXTENDED);
    l->unknown = limit(lim->max_unknown, BT_WIRE_DEFAULT_MAX_UNKNOWN);
}

/* The longest body (bytes after the id) any message may have. */
static uint32_t max_body(const struct limits *l)
{
    uint32_t m = 12; /* request, cancel, reject */

    if (l->block + 8 > m)
        m = l->block + 8;
    if (l->bitfield > m)
        m = l->bitfield;
    if (l->extended + 1 > m)
        m = l->extended + 1;
    if (l->unknown > m)
        m = l->unknown;
    return m;
}

/* Is body (bytes after the id) a size message id may have? 0, -EBADMSG, -EMSGSIZE. */
static int check_body(uint8_t id, uint32_t body, const struct limits *l)
{
    const struct spec *s = spec_of(id);

    if (!s)
        return body > l->unknown ? -EMSGSIZE : 0;
    if (s->body != VARIABLE)
        return body == (uint32_t)s->body ? 0 : -EBADMSG;
    switch (id) {
    case BT_WIRE_PIECE:
        if (body < 8)
            return -EBADMSG;
        return body - 8 > l->block ? -EMSGSIZE : 0;
    case BT_WIRE_BITFIELD:
        if (l->bitfield_len)
            return body == l->bitfield_len ? 0 : -EBADMSG;
        if (body == 0)
            return -EBADMSG;
        return body > l->bitfield ? -EMSGSIZE : 0;
    default: /* BT_WIRE_EXTENDED */
        if (body < 1)
            return -EBADMSG;
        return body - 1 > l->extended ? -EMSGSIZE : 0;
    }
}

int bt_wire_parse_head(const uint8_t *buf, size_t len, const struct bt_wire_limits *lim,
                       struct bt_wire_head *ret)
{
    struct bt_wire_head h = {0};
    struct limits l;
    int r;

    if (len < 4)
        return 0;
    h.len = get32(buf);
    if (h.len == 0) {
        h.type = BT_WIRE_KEEPALIVE;
        h.head_len = 4;
        *ret = h;
        return 4;
    }
    resolve_limits(lim, &l);
    if (h.len - 1 > max_body(&l))
        return -EMSGSIZE;
    if (len < 5)
        return 0;
    h.id = buf[4];
    r = check_body(h.id, h.len - 1, &l);
    if (r < 0)
        return r;
    h.type = spec_of(h.id) ? (enum bt_wire_type)h.id : BT_WIRE_UNKNOWN;
    h.head_len = 5;
    if (h.type == BT_WIRE_PIECE) {
        if (len < BT_WIRE_PIECE_HEADER_LEN)
            return 0;
        h.index = get32(buf + 5);
        h.begin = get32(buf + 9);
        h.head_len = BT_WIRE_PIECE_HEADER_LEN;
    }
    h.rest_len = 4 + (size_t)h.len - h.head_len;
    *ret = h;
    return (int)h.head_len;
}

/* Fills m's fields from the body of a message whose size has been checked. */
static void decode_body(struct bt_wire_msg *m, const uint8_t *body, size_t n)
{
    switch (m->type) {
    case BT_WIRE_HAVE:
    case BT_WIRE_SUGGEST:
    case BT_WIRE_ALLOWED_FAST:
        m->index = get32(body);
        break;
    case BT_WIRE_REQUEST:
    case BT_WIRE_CANCEL:
    case BT_WIRE_REJECT:
        m->index = get32(body);
        m->begin = get32(body + 4);
        m->length = get32(body + 8);
        break;
    case BT_WIRE_PORT:
        m->port = get16(body);
        break;
    case BT_WIRE_PIECE:
        m->index = get32(body);
        m->begin = get32(body + 4);
        m->data = body + 8;
        m->data_len = n - 8;
        break;
    case BT_WIRE_EXTENDED:
        m->ext_id = body[0];
        m->data = body + 1;
        m->data_len = n - 1;
        break;
    case BT_WIRE_BITFIELD:
    case BT_WIRE_UNKNOWN:
        m->data = body;
        m->data_len = n;
        break;
    default:
        break;
    }
    if (m->data_len == 0)
        m->data = NULL;
}

int bt_wire_parse(const uint8_t *buf, size_t len, const struct bt_wire_limits *lim,
                  struct bt_wire_msg *ret)
{
    struct bt_wire_msg m = {0};
    struct bt_wire_head h;
    size_t total;
    int r;

    r = bt_wire_parse_head(buf, len, lim, &h);
    if (r <= 0)
        return r;
    total = 4 + (size_t)h.len;
    if (len < total)
        return 0;
    m.type = h.type;
    m.id = h.id;
    if (h.len > 0)
        decode_body(&m, buf + 5, h.len - 1);
    *ret = m;
    return (int)total;
}

int bt_wire_encode(uint8_t out[BT_WIRE_FIXED_MAX], const struct bt_wire_msg *msg)
{
    const struct spec *s;

    if (msg->type == BT_WIRE_KEEPALIVE) {
        put32(out, 0);
        return 4;
    }
    if ((unsigned)msg->type >= NIDS)
        return -EINVAL;
    s = spec_of((uint8_t)msg->type);
    if (!s || s->body == VARIABLE)
        return -EINVAL;
    put32(out, 1 + (uint32_t)s->body);
    out[4] = (uint8_t)msg->type;
    switch (msg->type) {
    case BT_WIRE_HAVE:
    case BT_WIRE_SUGGEST:
    case BT_WIRE_ALLOWED_FAST:
        put32(out + 5, msg->index);
        break;
    case BT_WIRE_REQUEST:
    case BT_WIRE_CANCEL:
    case BT_WIRE_REJECT:
        put32(out + 5, msg->index);
        put32(out + 9, msg->begin);
        put32(out + 13, msg->length);
        break;
    case BT_WIRE_PORT:
        put16(out + 5, msg->port);
        break;
    default:
        break;
    }
    return 5 + s->body;
}

/* Writes a length prefix and id for a body of n bytes; -EMSGSIZE if it does not fit. */
static int put_prefix(uint8_t *out, uint8_t id, size_t n)
{
    if (n > UINT32_MAX - 1)
        return -EMSGSIZE;
    put32(out, (uint32_t)(n + 1));
    out[4] = id;
    return 5;
}

int bt_wire_piece_header(uint8_t out[BT_WIRE_PIECE_HEADER_LEN], uint32_t index, uint32_t begin,
                         size_t block_len)
{
    if (block_len > UINT32_MAX - 9)
        return -EMSGSIZE;
    put_prefix(out, BT_WIRE_PIECE, block_len + 8);
    put32(out + 5, index);
    put32(out + 9, begin);
    return BT_WIRE_PIECE_HEADER_LEN;
}

int bt_wire_bitfield_header(uint8_t out[BT_WIRE_BITFIELD_HEADER_LEN], size_t bits_len)
{
    return put_prefix(out, BT_WIRE_BITFIELD, bits_len);
}

int bt_wire_extended_header(uint8_t out[BT_WIRE_EXTENDED_HEADER_LEN], uint8_t ext_id,
                            size_t payload_len)
{
    if (payload_len > UINT32_MAX - 2)
        return -EMSGSIZE;
    put_prefix(out, BT_WIRE_EXTENDED, payload_len + 1);
    out[5] = ext_id;
    return BT_WIRE_EXTENDED_HEADER_LEN;
}

/* The header of a message with a variable part, into out[BT_WIRE_HEAD_MAX]. */
static int variable_header(uint8_t *out, const struct bt_wire_msg *msg)
{
    switch (msg->type) {
    case BT_WIRE_PIECE:
        return bt_wire_piece_header(out, msg->index, msg->begin, msg->data_len);
    case BT_WIRE_BITFIELD:
        return bt_wire_bitfield_header(out, msg->data_len);
    case BT_WIRE_EXTENDED:
        return bt_wire_extended_header(out, msg->ext_id, msg->data_len);
    case BT_WIRE_UNKNOWN:
        if (spec_of(msg->id))
            return -EINVAL;
        return put_prefix(out, msg->id, msg->data_len);
    default:
        return -EINVAL;
    }
}

int bt_wire_append(struct bt_buf *b, const struct bt_wire_msg *msg)
{
    uint8_t head[BT_WIRE_FIXED_MAX];
    int n, r;

    n = bt_wire_encode(head, msg);
    if (n > 0)
        return bt_buf_append(b, head, (size_t)n);
    n = variable_header(head, msg);
    if (n < 0)
        return n;
    if (msg->data_len > 0 && !msg->data)
        return -EINVAL;
    if (msg->data_len > SIZE_MAX - (size_t)n)
        return -EMSGSIZE;
    r = bt_buf_reserve(b, (size_t)n + msg->data_len);
    if (r < 0)
        return r;
    bt_buf_append(b, head, (size_t)n);
    bt_buf_append(b, msg->data, msg->data_len);
    return 0;
}

uint32_t bt_wire_allowed_fast(const uint8_t ip[4], const uint8_t info_hash[20], uint32_t npieces,
                              uint32_t k, uint32_t *out)
{
    uint8_t seed[24], x[BT_SHA1_LEN], prev[BT_SHA1_LEN];
    uint32_t n = 0, i, j, y, index;

    if (k > npieces)
        k = npieces;
    if (k == 0)
        return 0;
    memcpy(seed, ip, 3);
    seed[3] = 0; /* the /24: ip & 0xffffff00 */
    memcpy(seed + 4, info_hash, 20);
    bt_sha1(x, seed, sizeof(seed));
    for (;;) {
        for (i = 0; i < 5 && n < k; i++) {
            y = (uint32_t)x[i * 4] << 24 | (uint32_t)x[i * 4 + 1] << 16 |
                (uint32_t)x[i * 4 + 2] << 8 | x[i * 4 + 3];
            index = y % npieces;
            for (j = 0; j < n && out[j] != index; j++)
                ;
            if (j == n)
                out[n++] = index;
        }
        if (n >= k)
            return n;
        memcpy(prev, x, sizeof(prev));
        bt_sha1(x, prev, sizeof(prev));
    }
}
