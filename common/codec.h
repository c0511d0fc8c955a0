/*
 * codec: hex, base32 (RFC 4648, as magnet links use it) and URL escaping.
 * Pure; any thread. Base64 lives in crypto.h (libsodium does it).
 */
#ifndef BT_CODEC_H
#define BT_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex digits and a NUL into out (2*n+1 bytes). */
void bt_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decodes exactly 2*n hex digits (either case) from in. 0 or -EINVAL. */
int bt_hex_decode(uint8_t *out, size_t n, const char *in, size_t in_len);
/*
 * Decodes base32 (upper or lower case, no padding) into exactly n bytes: in_len must be
 * ceil(8*n/5) (32 characters for 20 bytes) and the unused low bits of the last character
 * must be zero. 0 or -EINVAL.
 */
int bt_base32_decode(uint8_t *out, size_t n, const char *in, size_t in_len);
/*
 * Percent-decodes in[0..len) into out (at least len+1 bytes, NUL-terminated);
 * '+' stays '+'. Returns the decoded length, or -EINVAL on a bad escape ('%' not
 * followed by two hex digits) or when len exceeds INT_MAX. The output may hold NUL
 * bytes (from "%00"): compare the result with strlen(out) to find them.
 */
int bt_url_unescape(char *out, const char *in, size_t len);
/*
 * Percent-encodes bytes for a URL query into out, which needs 3*n+1 bytes:
 * unreserved characters (A-Z a-z 0-9 - . _ ~) are kept, every other byte
 * becomes %XX with uppercase hex digits. The result is NUL-terminated.
 */
void bt_url_escape(char *out, const uint8_t *in, size_t n);

#endif
