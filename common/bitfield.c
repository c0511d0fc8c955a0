#include "bitfield.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The mask of the bits of the last byte that stand for pieces. */
static uint8_t last_mask(uint32_t npieces)
{
    unsigned spare = (8 - npieces % 8) % 8;

    return (uint8_t)(0xff << spare);
}

static uint32_t popcount_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    size_t i;

    for (i = 0; i < n; i++)
        c += (uint32_t)__builtin_popcount(p[i]);
    return c;
}

int bt_bitfield_init(struct bt_bitfield *bf, uint32_t npieces)
{
    uint8_t *bits = NULL;

    if (npieces > BT_BITFIELD_MAX_PIECES)
        return -EMSGSIZE;
    if (npieces > 0) {
        bits = calloc(bt_bitfield_bytes(npieces), 1);
        if (!bits)
            return -ENOMEM;
    }
    bf->bits = bits;
    bf->npieces = npieces;
    bf->nset = 0;
    return 0;
}

void bt_bitfield_deinit(struct bt_bitfield *bf)
{
    free(bf->bits);
    bf->bits = NULL;
    bf->npieces = 0;
    bf->nset = 0;
}

bool bt_bitfield_test(const struct bt_bitfield *bf, uint32_t i)
{
    if (i >= bf->npieces)
        return false;
    return (bf->bits[i / 8] >> (7 - i % 8)) & 1;
}

int bt_bitfield_set(struct bt_bitfield *bf, uint32_t i)
{
    uint8_t bit;

    if (i >= bf->npieces)
        return -ERANGE;
    bit = (uint8_t)(0x80 >> (i % 8));
    if (bf->bits[i / 8] & bit)
        return 0;
    bf->bits[i / 8] |= bit;
    bf->nset++;
    return 1;
}

int bt_bitfield_clear(struct bt_bitfield *bf, uint32_t i)
{
    uint8_t bit;

    if (i >= bf->npieces)
        return -ERANGE;
    bit = (uint8_t)(0x80 >> (i % 8));
    if (!(bf->bits[i / 8] & bit))
        return 0;
    bf->bits[i / 8] &= (uint8_t)~bit;
    bf->nset--;
    return 1;
}

void bt_bitfield_set_all(struct bt_bitfield *bf)
{
    size_t n = bt_bitfield_bytes(bf->npieces);

    if (n == 0)
        return;
    memset(bf->bits, 0xff, n);
    bf->bits[n - 1] = last_mask(bf->npieces);
    bf->nset = bf->npieces;
}

void bt_bitfield_clear_all(struct bt_bitfield *bf)
{
    size_t n = bt_bitfield_bytes(bf->npieces);

    if (n > 0)
        memset(bf->bits, 0, n);
    bf->nset = 0;
}

int bt_bitfield_from_wire(struct bt_bitfield *bf, const uint8_t *data, size_t len)
{
    size_t n = bt_bitfield_bytes(bf->npieces);

    if (len != n)
        return -EBADMSG;
    if (n == 0)
        return 0;
    if (data[n - 1] & (uint8_t)~last_mask(bf->npieces))
        return -EBADMSG;
    memcpy(bf->bits, data, n);
    bf->nset = popcount_bytes(bf->bits, n);
    return 0;
}

int bt_bitfield_to_wire(const struct bt_bitfield *bf, uint8_t *out, size_t out_len)
{
    size_t n = bt_bitfield_bytes(bf->npieces);

    if (out_len < n)
        return -ENOBUFS;
    if (n > 0)
        memcpy(out, bf->bits, n);
    return (int)n;
}
