#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bt_buf_init(struct bt_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : BT_BUF_DEFAULT_MAX;
}

void bt_buf_deinit(struct bt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int bt_buf_reserve(struct bt_buf *b, size_t n)
{
    size_t max = b->max ? b->max : BT_BUF_DEFAULT_MAX;
    size_t want, cap;
    uint8_t *p;

    if (n > max || b->len > max - n)
        return -EMSGSIZE;
    want = b->len + n;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap = cap > max / 2 ? max : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int bt_buf_append(struct bt_buf *b, const void *p, size_t n)
{
    int r;

    if (n == 0)
        return 0;
    r = bt_buf_reserve(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int bt_buf_printf(struct bt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, r;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    r = bt_buf_reserve(b, (size_t)n + 1);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *bt_buf_steal(struct bt_buf *b, size_t *ret_len)
{
    uint8_t *p = b->data;

    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
