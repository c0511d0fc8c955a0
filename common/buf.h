/*
 * buf: a growable byte buffer, the output side of every encoder in common/.
 *
 * Any thread; a buffer belongs to one thread at a time. The buffer owns
 * data. Growth is capped by max (bytes, 0 = BT_BUF_DEFAULT_MAX) so that no
 * encoder can be made to allocate without bound; past the cap every append
 * fails with -EMSGSIZE and the buffer is left as it was.
 */
#ifndef BT_BUF_H
#define BT_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BT_BUF_DEFAULT_MAX ((size_t)1 << 30) /* bytes */

struct bt_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
    size_t max;    /* bytes; 0 means BT_BUF_DEFAULT_MAX */
};

void bt_buf_init(struct bt_buf *b, size_t max);
void bt_buf_deinit(struct bt_buf *b);
/* Makes room for n more bytes. 0, -ENOMEM or -EMSGSIZE. */
int bt_buf_reserve(struct bt_buf *b, size_t n);
int bt_buf_append(struct bt_buf *b, const void *p, size_t n);
int bt_buf_printf(struct bt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them) and resets b. */
uint8_t *bt_buf_steal(struct bt_buf *b, size_t *ret_len);

#endif
