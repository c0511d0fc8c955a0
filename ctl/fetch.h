/*
 * fetch: `btctl add URL`: a .torrent fetched over HTTP(S) with libcurl,
 * btctl's only file that speaks CURLcode. GET, redirects followed (at most
 * 5, http and https only), TLS verified, connect time-out 15 s, total 60 s,
 * the body capped at max bytes.
 */
#ifndef BTCTL_FETCH_H
#define BTCTL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Is s an http:// or https:// URL (case-insensitive scheme)? */
bool btctl_is_url(const char *s);
/*
 * Fetches url into a new buffer (caller frees). 0, or -EMSGSIZE past max
 * bytes, or -EIO with why (one line: "HTTP 404", curl's message) in
 * err[errlen].
 */
int btctl_fetch(const char *url, size_t max, uint8_t **ret_buf, size_t *ret_len, char *err,
                size_t errlen);

#endif
