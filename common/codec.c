#include "codec.h"

#include <errno.h>
#include <limits.h>

static const char hex_digits[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Value of one hex digit (either case), or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Value of one base32 character (RFC 4648 alphabet, either case), or -1. */
static int base32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

void bt_hex_encode(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int bt_hex_decode(uint8_t *out, size_t n, const char *in, size_t in_len)
{
    if (n > SIZE_MAX / 2 || in_len != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]);
        int lo = hex_value(in[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int bt_base32_decode(uint8_t *out, size_t n, const char *in, size_t in_len)
{
    uint32_t acc = 0; /* pending bits, the newest in the low end */
    unsigned bits = 0;
    size_t o = 0;

    if (n > (SIZE_MAX - 4) / 8 || in_len != (n * 8 + 4) / 5)
        return -EINVAL;
    for (size_t i = 0; i < in_len; i++) {
        int v = base32_value(in[i]);

        if (v < 0)
            return -EINVAL;
        acc = (acc << 5 | (uint32_t)v) & 0x1fff; /* at most 7 + 5 bits pending */
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The unused low bits of the last character must be zero (canonical form). */
    if (acc & ((1u << bits) - 1))
        return -EINVAL;
    return 0;
}

int bt_url_unescape(char *out, const char *in, size_t len)
{
    size_t o = 0;

    if (len > INT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (len - i < 3)
            return -EINVAL;
        int hi = hex_value(in[i + 1]);
        int lo = hex_value(in[i + 2]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return (int)o;
}

static int is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void bt_url_escape(char *out, const uint8_t *in, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(in[i])) {
            out[o++] = (char)in[i];
            continue;
        }
        out[o++] = '%';
        out[o++] = hex_upper[in[i] >> 4];
        out[o++] = hex_upper[in[i] & 0x0f];
    }
    out[o] = '\0';
}
