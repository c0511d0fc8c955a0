#include "extmsg.h"

#include <errno.h>
#include <string.h>

#include "bencode.h"

/* An integer under key in dict d, if it is one in [min, max]. */
static bool get_int(const struct bt_bdoc *doc, const struct bt_bnode *d, const char *key,
                    int64_t min, int64_t max, int64_t *ret)
{
    const struct bt_bnode *n = bt_bdict_get(doc, d, key);

    if (!n || n->type != BT_BINT || n->v.i < min || n->v.i > max)
        return false;
    *ret = n->v.i;
    return true;
}

static uint8_t get_id(const struct bt_bdoc *doc, const struct bt_bnode *m, const char *name)
{
    int64_t v;

    return m && m->type == BT_BDICT && get_int(doc, m, name, 0, 255, &v) ? (uint8_t)v : 0;
}

static void copy_client(char out[48], const struct bt_bdoc *doc, const struct bt_bnode *v)
{
    const uint8_t *p;
    size_t i, n;

    out[0] = '\0';
    if (!v || v->type != BT_BSTR)
        return;
    p = bt_bstr_ptr(doc, v);
    n = v->v.s.len < 47 ? v->v.s.len : 47;
    for (i = 0; i < n; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[n] = '\0';
}

int bt_ext_handshake_parse(const uint8_t *buf, size_t len, struct bt_ext_handshake *ret)
{
    struct bt_bencode_limits lim = {.max_nodes = 4096, .max_depth = 8};
    struct bt_ext_handshake hs;
    const struct bt_bnode *root, *m;
    struct bt_bdoc doc;
    int64_t v;
    int r;

    if (len > BT_EXT_HANDSHAKE_MAX)
        return -EMSGSIZE;
    r = bt_bencode_parse(&doc, buf, len, &lim, NULL);
    if (r < 0)
        return r == -ENOMEM ? r : -EBADMSG;
    root = bt_bdoc_root(&doc);
    if (!root || root->type != BT_BDICT) {
        bt_bdoc_deinit(&doc);
        return -EBADMSG;
    }
    memset(&hs, 0, sizeof(hs));
    m = bt_bdict_get(&doc, root, "m");
    hs.ut_metadata = get_id(&doc, m, "ut_metadata");
    hs.ut_pex = get_id(&doc, m, "ut_pex");
    if (bt_bdict_get(&doc, root, "metadata_size")) {
        if (!get_int(&doc, root, "metadata_size", 0, INT64_MAX, &v)) {
            bt_bdoc_deinit(&doc);
            return -EBADMSG;
        }
        if (v > BT_EXT_METADATA_MAX) {
            bt_bdoc_deinit(&doc);
            return -EMSGSIZE;
        }
        hs.metadata_size = (uint32_t)v;
    }
    if (get_int(&doc, root, "p", 1, 65535, &v))
        hs.port = (uint16_t)v;
    if (get_int(&doc, root, "reqq", 1, 1000000, &v))
        hs.reqq = (uint32_t)v;
    hs.upload_only = get_int(&doc, root, "upload_only", 1, 1, &v);
    copy_client(hs.client, &doc, bt_bdict_get(&doc, root, "v"));
    bt_bdoc_deinit(&doc);
    *ret = hs;
    return 0;
}

int bt_ext_handshake_encode(struct bt_buf *out, const struct bt_ext_handshake *ours,
                            const uint8_t *yourip, size_t yourip_len)
{
    struct bt_benc e;

    if (yourip && yourip_len != 4 && yourip_len != 16)
        return -EINVAL;
    bt_benc_init(&e, out);
    bt_benc_dict(&e);
    bt_benc_key(&e, "m");
    bt_benc_dict(&e);
    if (ours->ut_metadata) {
        bt_benc_key(&e, "ut_metadata");
        bt_benc_int(&e, ours->ut_metadata);
    }
    if (ours->ut_pex) {
        bt_benc_key(&e, "ut_pex");
        bt_benc_int(&e, ours->ut_pex);
    }
    bt_benc_end(&e);
    if (ours->metadata_size) {
        bt_benc_key(&e, "metadata_size");
        bt_benc_int(&e, ours->metadata_size);
    }
    if (ours->port) {
        bt_benc_key(&e, "p");
        bt_benc_int(&e, ours->port);
    }
    if (ours->reqq) {
        bt_benc_key(&e, "reqq");
        bt_benc_int(&e, ours->reqq);
    }
    if (ours->upload_only) {
        bt_benc_key(&e, "upload_only");
        bt_benc_int(&e, 1);
    }
    if (ours->client[0]) {
        bt_benc_key(&e, "v");
        bt_benc_cstr(&e, ours->client);
    }
    if (yourip) {
        bt_benc_key(&e, "yourip");
        bt_benc_str(&e, yourip, yourip_len);
    }
    bt_benc_end(&e);
    return bt_benc_finish(&e);
}

int bt_ext_metadata_parse(const uint8_t *buf, size_t len, struct bt_ext_metadata *ret)
{
    struct bt_bencode_limits lim = {.max_nodes = 64, .max_depth = 4};
    struct bt_ext_metadata md;
    const struct bt_bnode *root;
    struct bt_bdoc doc;
    int64_t v;
    int r;

    r = bt_bencode_parse_prefix(&doc, buf, len, &lim, NULL);
    if (r <= 0)
        return r == -ENOMEM ? r : -EBADMSG;
    root = bt_bdoc_root(&doc);
    memset(&md, 0, sizeof(md));
    if (!root || root->type != BT_BDICT ||
        !get_int(&doc, root, "msg_type", INT64_MIN, INT64_MAX, &md.type) ||
        !get_int(&doc, root, "piece", 0, bt_ext_metadata_pieces(BT_EXT_METADATA_MAX) - 1, &v)) {
        bt_bdoc_deinit(&doc);
        return -EBADMSG;
    }
    md.piece = (uint32_t)v;
    if (md.type == BT_EXT_MD_DATA) {
        if (!get_int(&doc, root, "total_size", 1, INT64_MAX, &v)) {
            bt_bdoc_deinit(&doc);
            return -EBADMSG;
        }
        if (v > BT_EXT_METADATA_MAX) {
            bt_bdoc_deinit(&doc);
            return -EMSGSIZE;
        }
        md.total_size = (uint32_t)v;
        md.data = buf + r;
        md.data_len = len - (size_t)r;
        if (md.data_len > BT_EXT_METADATA_PIECE) {
            bt_bdoc_deinit(&doc);
            return -EBADMSG;
        }
    }
    bt_bdoc_deinit(&doc);
    *ret = md;
    return 0;
}

int bt_ext_metadata_encode(struct bt_buf *out, enum bt_ext_md_type type, uint32_t piece,
                           uint32_t total_size)
{
    struct bt_benc e;

    bt_benc_init(&e, out);
    bt_benc_dict(&e);
    bt_benc_key(&e, "msg_type");
    bt_benc_int(&e, type);
    bt_benc_key(&e, "piece");
    bt_benc_int(&e, piece);
    if (type == BT_EXT_MD_DATA) {
        bt_benc_key(&e, "total_size");
        bt_benc_int(&e, total_size);
    }
    bt_benc_end(&e);
    return bt_benc_finish(&e);
}

/* Reads a compact list (6 bytes an IPv4 entry, 18 an IPv6 one) into out[*n..max). */
static int read_compact(const struct bt_bdoc *doc, const struct bt_bnode *d, const char *key,
                        uint8_t family, struct bt_peer_addr *out, size_t max, size_t *n)
{
    const struct bt_bnode *v = bt_bdict_get(doc, d, key);
    size_t iplen = family == 4 ? 4 : 16, step = iplen + 2, i;
    const uint8_t *p;

    if (!v)
        return 0;
    if (v->type != BT_BSTR || v->v.s.len % step)
        return -EBADMSG;
    p = bt_bstr_ptr(doc, v);
    for (i = 0; i + step <= v->v.s.len && *n < max; i += step) {
        struct bt_peer_addr a = {.family = family};

        memcpy(a.ip, p + i, iplen);
        a.port = (uint16_t)(p[i + iplen] << 8 | p[i + iplen + 1]);
        bt_peer_addr_unmap(&a);
        if (a.port)
            out[(*n)++] = a;
    }
    return 0;
}

int bt_ext_pex_parse(const uint8_t *buf, size_t len, struct bt_peer_addr *added, size_t max_added,
                     size_t *ret_nadded, struct bt_peer_addr *dropped, size_t max_dropped,
                     size_t *ret_ndropped)
{
    struct bt_bencode_limits lim = {.max_nodes = 64, .max_depth = 4};
    const struct bt_bnode *root;
    size_t na = 0, nd = 0;
    struct bt_bdoc doc;
    int r;

    r = bt_bencode_parse(&doc, buf, len, &lim, NULL);
    if (r < 0)
        return r == -ENOMEM ? r : -EBADMSG;
    root = bt_bdoc_root(&doc);
    r = root && root->type == BT_BDICT ? 0 : -EBADMSG;
    if (r == 0)
        r = read_compact(&doc, root, "added", 4, added, max_added, &na);
    if (r == 0)
        r = read_compact(&doc, root, "added6", 6, added, max_added, &na);
    if (r == 0)
        r = read_compact(&doc, root, "dropped", 4, dropped, max_dropped, &nd);
    if (r == 0)
        r = read_compact(&doc, root, "dropped6", 6, dropped, max_dropped, &nd);
    bt_bdoc_deinit(&doc);
    if (r < 0)
        return r;
    *ret_nadded = na;
    *ret_ndropped = nd;
    return 0;
}

/* Writes the compact list of the entries of family under key (if any). */
static int write_compact(struct bt_benc *e, const char *key, uint8_t family,
                         const struct bt_peer_addr *a, size_t n, bool flags)
{
    size_t iplen = family == 4 ? 4 : 16, i, count = 0;
    uint8_t buf[BT_EXT_PEX_MAX * 18];

    for (i = 0; i < n && count < BT_EXT_PEX_MAX; i++) {
        uint8_t *p = buf + count * (flags ? 1 : iplen + 2);

        if (a[i].family != family)
            continue;
        if (flags) {
            *p = 0x10; /* reachable: we connected to it, or it told us its port */
        } else {
            memcpy(p, a[i].ip, iplen);
            p[iplen] = (uint8_t)(a[i].port >> 8);
            p[iplen + 1] = (uint8_t)a[i].port;
        }
        count++;
    }
    bt_benc_key(e, key);
    bt_benc_str(e, buf, count * (flags ? 1 : iplen + 2));
    return 0;
}

int bt_ext_pex_encode(struct bt_buf *out, const struct bt_peer_addr *added, size_t nadded,
                      const struct bt_peer_addr *dropped, size_t ndropped)
{
    struct bt_benc e;

    bt_benc_init(&e, out);
    bt_benc_dict(&e);
    write_compact(&e, "added", 4, added, nadded, false);
    write_compact(&e, "added.f", 4, added, nadded, true);
    write_compact(&e, "added6", 6, added, nadded, false);
    write_compact(&e, "added6.f", 6, added, nadded, true);
    write_compact(&e, "dropped", 4, dropped, ndropped, false);
    write_compact(&e, "dropped6", 6, dropped, ndropped, false);
    bt_benc_end(&e);
    return bt_benc_finish(&e);
}
