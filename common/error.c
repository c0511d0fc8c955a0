#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bt_error_set(struct bt_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void bt_error_prefix(struct bt_error *err, const char *prefix)
{
    size_t plen, mlen;

    if (!err)
        return;
    plen = strlen(prefix);
    if (plen > BT_ERROR_MAX - 3)
        plen = BT_ERROR_MAX - 3;
    mlen = strnlen(err->msg, BT_ERROR_MAX - 1);
    if (mlen > BT_ERROR_MAX - 3 - plen)
        mlen = BT_ERROR_MAX - 3 - plen;
    memmove(err->msg + plen + 2, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + mlen] = '\0';
}
