/*
 * error: the one error convention of btd, end to end.
 *
 * Fallible functions return int: 0 (or a byte count) on success, -errno on
 * failure, like libuv on Unix. Parsers whose errors a person reads also fill
 * an optional struct bt_error with one line naming the field:
 *     info.files[3].path: component ".." is not allowed
 * Any thread may call these; nothing here allocates.
 */
#ifndef BT_ERROR_H
#define BT_ERROR_H

#include <stddef.h>

#define BT_ERROR_MAX 256 /* bytes, including the NUL */

struct bt_error {
    char msg[BT_ERROR_MAX]; /* one line, no trailing newline; "" when unset */
};

/*
 * Formats the message into err (if err is not NULL) and returns code, which
 * must be a negative errno, so a parser can write
 *     return bt_error_set(err, -EBADMSG, "info.name: missing");
 */
int bt_error_set(struct bt_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with "prefix: " (used to add a field path on the way out). */
void bt_error_prefix(struct bt_error *err, const char *prefix);

#endif
