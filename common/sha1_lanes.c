/*
 * Every lane runs the SHA-1 compression function (FIPS 180-4, 6.1.2) on
 * its own message: vectors a..e hold working variable a..e of all lanes,
 * and w[t & 15] message word t of all lanes (a rolling 16-word schedule,
 * W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16])). Word t of every lane
 * is loaded with a transpose of the lanes' blocks (faster than gathers by
 * 13-18 %).
 *
 * The kernels carry function-level target attributes, so the file builds
 * without -mavx512f or -mavx2; bt_sha1_lanes_init checks the CPU first.
 */
#include "sha1_lanes.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_LANES 1
#endif

static const uint32_t sha1_iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};

#ifdef HAVE_LANES
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw")))
#define TARGET_AVX2 __attribute__((target("avx2")))
/* The kernels need their helpers inlined so that a..e and w[] stay in registers. */
#define ALWAYS_INLINE __attribute__((always_inline))

#define SHA1_K0 0x5a827999u /* rounds  0..19, f = Ch */
#define SHA1_K1 0x6ed9eba1u /* rounds 20..39, f = Parity */
#define SHA1_K2 0x8f1bbcdcu /* rounds 40..59, f = Maj */
#define SHA1_K3 0xca62c1d6u /* rounds 60..79, f = Parity */

/*
 * The 80 rounds as 16 groups of five. R5(t, f, k) runs rounds t..t+4 with
 * round function f and constant k; after five rounds the names a..e line
 * up again, so no moves.
 */
// clang-format off
#define SHA1_80_ROUNDS(R5, CH, PAR, MAJ, K0, K1, K2, K3)                                           \
    R5(0, CH, K0);   R5(5, CH, K0);   R5(10, CH, K0);  R5(15, CH, K0);                             \
    R5(20, PAR, K1); R5(25, PAR, K1); R5(30, PAR, K1); R5(35, PAR, K1);                            \
    R5(40, MAJ, K2); R5(45, MAJ, K2); R5(50, MAJ, K2); R5(55, MAJ, K2);                            \
    R5(60, PAR, K3); R5(65, PAR, K3); R5(70, PAR, K3); R5(75, PAR, K3)
// clang-format on

/* AVX-512: 16 lanes. */

/* Reverse the bytes of each 32-bit word (SHA-1 words are big-endian). */
TARGET_AVX512 ALWAYS_INLINE static inline __m512i bswap32_x16(__m512i x)
{
    const __m512i m =
        _mm512_broadcast_i32x4(_mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
    return _mm512_shuffle_epi8(x, m);
}

/*
 * Load block `off` of each lane and transpose so that w[t] holds word t of lanes 0..15. Rows r[i] =
 * the 16 words of lane i.  Two unpack stages make 4x4 transposes inside each 128-bit chunk, two
 * shuffle_i32x4 stages then transpose the 4x4 matrix of chunks.
 */
TARGET_AVX512 ALWAYS_INLINE static inline void
load_transpose_x16(__m512i w[16], const uint8_t *const p[], size_t off)
{
    __m512i r[16], t[16];

    for (int i = 0; i < 16; i++)
        r[i] = bswap32_x16(_mm512_loadu_si512((const void *)(p[i] + off)));

    /* t[4g + j], chunk k = word 4k + j of lanes 4g .. 4g+3 */
    for (int g = 0; g < 4; g++) {
        __m512i *q = r + 4 * g;
        __m512i lo01 = _mm512_unpacklo_epi32(q[0], q[1]);
        __m512i hi01 = _mm512_unpackhi_epi32(q[0], q[1]);
        __m512i lo23 = _mm512_unpacklo_epi32(q[2], q[3]);
        __m512i hi23 = _mm512_unpackhi_epi32(q[2], q[3]);
        t[4 * g + 0] = _mm512_unpacklo_epi64(lo01, lo23);
        t[4 * g + 1] = _mm512_unpackhi_epi64(lo01, lo23);
        t[4 * g + 2] = _mm512_unpacklo_epi64(hi01, hi23);
        t[4 * g + 3] = _mm512_unpackhi_epi64(hi01, hi23);
    }

    /* w[4k + j], chunk g = chunk k of t[4g + j] */
    for (int j = 0; j < 4; j++) {
        __m512i v0 = _mm512_shuffle_i32x4(t[j], t[4 + j], 0x44);      /* t0.0 t0.1 t1.0 t1.1 */
        __m512i v1 = _mm512_shuffle_i32x4(t[j], t[4 + j], 0xee);      /* t0.2 t0.3 t1.2 t1.3 */
        __m512i v2 = _mm512_shuffle_i32x4(t[8 + j], t[12 + j], 0x44); /* t2.0 t2.1 t3.0 t3.1 */
        __m512i v3 = _mm512_shuffle_i32x4(t[8 + j], t[12 + j], 0xee); /* t2.2 t2.3 t3.2 t3.3 */
        w[0 + j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        w[4 + j] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        w[8 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        w[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* Message word t (t constant after inlining): w[t] for t < 16, else the rolling schedule. */
TARGET_AVX512 ALWAYS_INLINE static inline __m512i sched_x16(__m512i w[16], int t)
{
    if (t >= 16) {
        __m512i x =
            _mm512_ternarylogic_epi32(w[(t - 3) & 15], w[(t - 8) & 15], w[(t - 14) & 15], 0x96);
        w[t & 15] = _mm512_rol_epi32(_mm512_xor_si512(x, w[t & 15]), 1);
    }
    return w[t & 15];
}

/* Ternary-logic immediates: Ch = b ? c : d, Parity = b ^ c ^ d, Maj = majority(b, c, d). */
#define X16_CH 0xca
#define X16_PAR 0x96
#define X16_MAJ 0xe8

/* One round: e += ROTL5(a) + f(b, c, d) + K + W[t]; b = ROTL30(b).  Names rotate by caller. */
#define X16_R(t, a, b, c, d, e, f, k)                                                              \
    do {                                                                                           \
        e = _mm512_add_epi32(e, _mm512_add_epi32(_mm512_set1_epi32((int)(k)), sched_x16(w, t)));   \
        e = _mm512_add_epi32(e, _mm512_ternarylogic_epi32(b, c, d, f));                            \
        e = _mm512_add_epi32(e, _mm512_rol_epi32(a, 5));                                           \
        b = _mm512_rol_epi32(b, 30);                                                               \
    } while (0)

#define X16_R5(t, f, k)                                                                            \
    X16_R(t, a, b, c, d, e, f, k);                                                                 \
    X16_R(t + 1, e, a, b, c, d, f, k);                                                             \
    X16_R(t + 2, d, e, a, b, c, f, k);                                                             \
    X16_R(t + 3, c, d, e, a, b, f, k);                                                             \
    X16_R(t + 4, b, c, d, e, a, f, k)

/* One block for all 16 lanes; w[] holds the 16 message words and is clobbered. */
TARGET_AVX512 ALWAYS_INLINE static inline void compress_x16(__m512i s[5], __m512i w[16])
{
    __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];

    SHA1_80_ROUNDS(X16_R5, X16_CH, X16_PAR, X16_MAJ, SHA1_K0, SHA1_K1, SHA1_K2, SHA1_K3);

    s[0] = _mm512_add_epi32(s[0], a);
    s[1] = _mm512_add_epi32(s[1], b);
    s[2] = _mm512_add_epi32(s[2], c);
    s[3] = _mm512_add_epi32(s[3], d);
    s[4] = _mm512_add_epi32(s[4], e);
}

TARGET_AVX512 static void sha1x16_blocks(uint32_t st[5][16], const uint8_t *const p[],
                                         size_t nblocks)
{
    __m512i s[5];

    for (int i = 0; i < 5; i++)
        s[i] = _mm512_loadu_si512((const void *)st[i]);
    for (size_t n = 0; n < nblocks; n++) {
        __m512i w[16];
        load_transpose_x16(w, p, n * BT_SHA1_BLOCK);
        compress_x16(s, w);
    }
    for (int i = 0; i < 5; i++)
        _mm512_storeu_si512((void *)st[i], s[i]);
}

/* AVX2: 8 lanes. No rotate or ternary-logic instructions: shifts and or, and/xor/or. */

#define X8_ROL(x, n) _mm256_or_si256(_mm256_slli_epi32(x, n), _mm256_srli_epi32(x, 32 - (n)))
#define X8_CH(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define X8_PAR(b, c, d) _mm256_xor_si256(_mm256_xor_si256(b, c), d)
#define X8_MAJ(b, c, d)                                                                            \
    _mm256_or_si256(_mm256_and_si256(b, c), _mm256_and_si256(d, _mm256_or_si256(b, c)))

TARGET_AVX2 ALWAYS_INLINE static inline __m256i bswap32_x8(__m256i x)
{
    const __m256i m = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2,
                                       1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    return _mm256_shuffle_epi8(x, m);
}

/*
 * Load block `off` of each lane; w[t] = word t of lanes 0..7.  Two 8x8 transposes (words 0..7 and
 * 8..15): unpacks transpose 4x4 inside each 128-bit half, permute2x128 swaps the halves.
 */
TARGET_AVX2 ALWAYS_INLINE static inline void load_transpose_x8(__m256i w[16],
                                                               const uint8_t *const p[], size_t off)
{
    for (int half = 0; half < 2; half++) {
        __m256i r[8], t[8];
        for (int i = 0; i < 8; i++)
            r[i] = bswap32_x8(_mm256_loadu_si256((const __m256i *)(p[i] + off + 32 * half)));
        /* t[4g + j], 128-bit half k = word 4k + j of lanes 4g .. 4g+3 */
        for (int g = 0; g < 2; g++) {
            __m256i *q = r + 4 * g;
            __m256i lo01 = _mm256_unpacklo_epi32(q[0], q[1]);
            __m256i hi01 = _mm256_unpackhi_epi32(q[0], q[1]);
            __m256i lo23 = _mm256_unpacklo_epi32(q[2], q[3]);
            __m256i hi23 = _mm256_unpackhi_epi32(q[2], q[3]);
            t[4 * g + 0] = _mm256_unpacklo_epi64(lo01, lo23);
            t[4 * g + 1] = _mm256_unpackhi_epi64(lo01, lo23);
            t[4 * g + 2] = _mm256_unpacklo_epi64(hi01, hi23);
            t[4 * g + 3] = _mm256_unpackhi_epi64(hi01, hi23);
        }
        for (int j = 0; j < 4; j++) {
            w[8 * half + j] = _mm256_permute2x128_si256(t[j], t[4 + j], 0x20);
            w[8 * half + 4 + j] = _mm256_permute2x128_si256(t[j], t[4 + j], 0x31);
        }
    }
}

TARGET_AVX2 ALWAYS_INLINE static inline __m256i sched_x8(__m256i w[16], int t)
{
    if (t >= 16) {
        __m256i x = _mm256_xor_si256(_mm256_xor_si256(w[(t - 3) & 15], w[(t - 8) & 15]),
                                     _mm256_xor_si256(w[(t - 14) & 15], w[t & 15]));
        w[t & 15] = X8_ROL(x, 1);
    }
    return w[t & 15];
}

#define X8_R(t, a, b, c, d, e, f, k)                                                               \
    do {                                                                                           \
        e = _mm256_add_epi32(e, _mm256_add_epi32(_mm256_set1_epi32((int)(k)), sched_x8(w, t)));    \
        e = _mm256_add_epi32(e, f(b, c, d));                                                       \
        e = _mm256_add_epi32(e, X8_ROL(a, 5));                                                     \
        b = X8_ROL(b, 30);                                                                         \
    } while (0)

#define X8_R5(t, f, k)                                                                             \
    X8_R(t, a, b, c, d, e, f, k);                                                                  \
    X8_R(t + 1, e, a, b, c, d, f, k);                                                              \
    X8_R(t + 2, d, e, a, b, c, f, k);                                                              \
    X8_R(t + 3, c, d, e, a, b, f, k);                                                              \
    X8_R(t + 4, b, c, d, e, a, f, k)

TARGET_AVX2 ALWAYS_INLINE static inline void compress_x8(__m256i s[5], __m256i w[16])
{
    __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];

    SHA1_80_ROUNDS(X8_R5, X8_CH, X8_PAR, X8_MAJ, SHA1_K0, SHA1_K1, SHA1_K2, SHA1_K3);

    s[0] = _mm256_add_epi32(s[0], a);
    s[1] = _mm256_add_epi32(s[1], b);
    s[2] = _mm256_add_epi32(s[2], c);
    s[3] = _mm256_add_epi32(s[3], d);
    s[4] = _mm256_add_epi32(s[4], e);
}

TARGET_AVX2 static void sha1x8_blocks(uint32_t st[5][8], const uint8_t *const p[], size_t nblocks)
{
    __m256i s[5];

    for (int i = 0; i < 5; i++)
        s[i] = _mm256_loadu_si256((const __m256i *)st[i]);
    for (size_t n = 0; n < nblocks; n++) {
        __m256i w[16];
        load_transpose_x8(w, p, n * BT_SHA1_BLOCK);
        compress_x8(s, w);
    }
    for (int i = 0; i < 5; i++)
        _mm256_storeu_si256((__m256i *)st[i], s[i]);
}

/* The SHA extensions (SHA-NI): CPUID leaf 7, EBX bit 29 (clang has no "sha" for cpu_supports). */
static int has_sha_ni(void)
{
    unsigned a, b, c, d;

    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}

int bt_sha1_lanes_supported(unsigned width)
{
    if (width == 16)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (width == 8)
        return __builtin_cpu_supports("avx2");
    return 0;
}

unsigned bt_sha1_lanes_width(void)
{
    if (bt_sha1_lanes_supported(16))
        return 16;
    if (bt_sha1_lanes_supported(8) && !has_sha_ni())
        return 8;
    return 1;
}
#else /* not x86: one message at a time */
int bt_sha1_lanes_supported(unsigned width)
{
    (void)width;
    return 0;
}

unsigned bt_sha1_lanes_width(void)
{
    return 1;
}
#endif

unsigned bt_sha1_lanes_min(unsigned width)
{
    return width / 4 + 1;
}

int bt_sha1_lanes_init(struct bt_sha1_lanes *l, unsigned width)
{
    unsigned w, i;

    if (!bt_sha1_lanes_supported(width))
        return -ENOTSUP;
    memset(l, 0, sizeof(*l));
    l->width = width;
    for (w = 0; w < 5; w++)
        for (i = 0; i < width; i++)
            l->h[w][i] = sha1_iv[w];
    return 0;
}

/* Runs the kernel of l's width over nblocks blocks of every lane. */
static void blocks(struct bt_sha1_lanes *l, const uint8_t *const p[], size_t nblocks)
{
#ifdef HAVE_LANES
    uint32_t st[5][8];
    unsigned w;

    if (l->width == 16) {
        sha1x16_blocks(l->h, p, nblocks);
        return;
    }
    for (w = 0; w < 5; w++) /* the 8-lane kernel's state is h[w][lane] for lanes 0..7 */
        memcpy(st[w], l->h[w], sizeof(st[w]));
    sha1x8_blocks(st, p, nblocks);
    for (w = 0; w < 5; w++)
        memcpy(l->h[w], st[w], sizeof(st[w]));
#else
    (void)l;
    (void)p;
    (void)nblocks; /* bt_sha1_lanes_init refused every width */
#endif
}

void bt_sha1_lanes_update(struct bt_sha1_lanes *l, const uint8_t *const p[], size_t len)
{
    size_t nblocks = len / BT_SHA1_BLOCK;

    blocks(l, p, nblocks);
    l->len += (uint64_t)nblocks * BT_SHA1_BLOCK;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void bt_sha1_lanes_final(struct bt_sha1_lanes *l, const uint8_t *const rest[], size_t rest_len,
                         unsigned n, uint8_t out[][BT_SHA1_LEN])
{
    uint8_t pad[BT_SHA1_LANES_MAX][2 * BT_SHA1_BLOCK];
    const uint8_t *p[BT_SHA1_LANES_MAX];
    size_t whole = rest_len - rest_len % BT_SHA1_BLOCK, tail = rest_len - whole, padlen;
    uint64_t bits = (l->len + rest_len) * 8; /* the whole message's, before rest is fed */
    unsigned i, w;

    if (whole) {
        for (i = 0; i < l->width; i++)
            p[i] = rest[i];
        bt_sha1_lanes_update(l, p, whole);
    }
    /* The tail, 0x80, zeros, then the message's length in bits (big-endian): one block or two. */
    padlen = tail < BT_SHA1_BLOCK - 8 ? BT_SHA1_BLOCK : 2 * BT_SHA1_BLOCK;
    for (i = 0; i < l->width; i++) {
        memset(pad[i], 0, padlen);
        if (tail)
            memcpy(pad[i], rest[i] + whole, tail);
        pad[i][tail] = 0x80;
        put_be32(pad[i] + padlen - 8, (uint32_t)(bits >> 32));
        put_be32(pad[i] + padlen - 4, (uint32_t)bits);
        p[i] = pad[i];
    }
    bt_sha1_lanes_update(l, p, padlen);
    for (i = 0; i < n && i < l->width; i++)
        for (w = 0; w < 5; w++)
            put_be32(out[i] + 4 * w, l->h[w][i]);
}

int bt_sha1_lanes_digest(unsigned width, unsigned n, uint64_t len, size_t chunk, uint8_t *buf,
                         bt_sha1_lanes_read_fn read, void *arg, uint8_t out[][BT_SHA1_LEN])
{
    const uint8_t *p[BT_SHA1_LANES_MAX];
    bool lost[BT_SHA1_LANES_MAX] = {false};
    struct bt_sha1_lanes l;
    uint64_t done = 0;
    size_t k;
    unsigned i, alive;
    int r;

    if (chunk > len)
        chunk = (size_t)len; /* one read of each: whole blocks or not */
    if (n == 0 || n > width || (chunk < len && (chunk == 0 || chunk % BT_SHA1_BLOCK != 0)))
        return -EINVAL;
    r = bt_sha1_lanes_init(&l, width);
    if (r < 0)
        return r;
    for (i = 0; i < width; i++) /* lanes past n hash lane 0's bytes, unread */
        p[i] = buf + (size_t)(i < n ? i : 0) * chunk;
    do { /* once at least: an empty message has a digest too */
        k = len - done < chunk ? (size_t)(len - done) : chunk;
        for (i = alive = 0; i < n; i++) {
            if (!lost[i]) {
                r = read(arg, i, done, buf + (size_t)i * chunk, k);
                if (r < 0)
                    return r;
                lost[i] = r > 0;
            }
            alive += !lost[i];
        }
        if (alive == 0)
            return 0; /* every lane lost: no digest is of use */
        if (done + k < len)
            bt_sha1_lanes_update(&l, p, k);
        else
            bt_sha1_lanes_final(&l, p, k, n, out);
        done += k;
    } while (done < len);
    return 0;
}
