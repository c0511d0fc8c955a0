#include "rc4.h"

void bt_rc4_init(struct bt_rc4 *r, const uint8_t *key, size_t key_len)
{
    uint8_t j = 0, t;
    unsigned i;

    for (i = 0; i < 256; i++)
        r->s[i] = (uint8_t)i;
    for (i = 0; i < 256; i++) {
        j = (uint8_t)(j + r->s[i] + key[i % key_len]);
        t = r->s[i];
        r->s[i] = r->s[j];
        r->s[j] = t;
    }
    r->i = r->j = 0;
}

void bt_rc4_crypt(struct bt_rc4 *r, uint8_t *buf, size_t n)
{
    uint8_t i = r->i, j = r->j, t, *s = r->s;
    size_t k;

    for (k = 0; k < n; k++) {
        i = (uint8_t)(i + 1);
        j = (uint8_t)(j + s[i]);
        t = s[i];
        s[i] = s[j];
        s[j] = t;
        buf[k] ^= s[(uint8_t)(s[i] + s[j])];
    }
    r->i = i;
    r->j = j;
}

void bt_rc4_skip(struct bt_rc4 *r, size_t n)
{
    uint8_t junk[256];

    while (n > 0) {
        size_t k = n < sizeof(junk) ? n : sizeof(junk);

        bt_rc4_crypt(r, junk, k); /* junk's contents do not matter */
        n -= k;
    }
}
