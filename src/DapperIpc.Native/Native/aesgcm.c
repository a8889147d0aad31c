/*
 * AES-GCM with VAES and VPCLMULQDQ on 512-bit registers (see aesgcm.h).
 *
 * GHASH works on byte-reflected blocks (each 16-byte block reversed and read
 * as a little-endian 128-bit integer, so x^i sits at bit 127-i). The product
 * of two such values by carry-less multiplication lands one bit short of the
 * 256-bit reflection of the product; the hash key is therefore kept as
 * H * x^-1 mod P (its reflected form shifted left once, with 0xC2..01 added
 * when the top bit falls out), and the product then reduces in two folds of
 * 64 bits, each a multiplication by 0xC200000000000000 (x^128 = x^7+x^2+x+1,
 * reflected). Sixteen blocks are hashed per reduction with H^16..H^1.
 */
#include <string.h>

#include "aesgcm.h"
#include "shim.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#define BASE __attribute__((target("aes,pclmul,sse4.1")))
#define WIDE __attribute__((target("avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmul,sse4.1")))

int dapper_ipc_gcm_available(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int aes = (c >> 25) & 1, pclmul = (c >> 1) & 1, osxsave = (c >> 27) & 1;
    if (!aes || !pclmul || !osxsave || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    int avx512 = ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1); /* F, BW, VL */
    int vaes = ((c >> 9) & 1) && ((c >> 10) & 1);                       /* VAES, VPCLMULQDQ */
    if (!avx512 || !vaes)
        return 0;
    /* The OS saves the opmask and all 512-bit registers (XCR0 bits 1, 2, 5, 6, 7). */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
}

static BASE __m128i load(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }
static BASE void store(uint8_t *p, __m128i v) { _mm_storeu_si128((__m128i *)p, v); }
static BASE __m128i reflect(__m128i v)
{
    return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* ---- the key schedule (AES-NI) ---- */

static BASE __m128i spread(__m128i k)
{
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

#define STEP128(prev, rcon) _mm_xor_si128(spread(prev), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, rcon), 0xff))

static BASE void expand128(__m128i *rk, const uint8_t *key)
{
    rk[0] = load(key);
    rk[1] = STEP128(rk[0], 0x01);
    rk[2] = STEP128(rk[1], 0x02);
    rk[3] = STEP128(rk[2], 0x04);
    rk[4] = STEP128(rk[3], 0x08);
    rk[5] = STEP128(rk[4], 0x10);
    rk[6] = STEP128(rk[5], 0x20);
    rk[7] = STEP128(rk[6], 0x40);
    rk[8] = STEP128(rk[7], 0x80);
    rk[9] = STEP128(rk[8], 0x1b);
    rk[10] = STEP128(rk[9], 0x36);
}

/* AES-256: even round keys take RotWord+SubWord+rcon of the previous odd one,
   odd round keys SubWord alone of the previous even one. */
#define STEP256_EVEN(two_back, prev, rcon) \
    _mm_xor_si128(spread(two_back), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, rcon), 0xff))
#define STEP256_ODD(two_back, prev) _mm_xor_si128(spread(two_back), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, 0), 0xaa))

static BASE void expand256(__m128i *rk, const uint8_t *key)
{
    rk[0] = load(key);
    rk[1] = load(key + 16);
    rk[2] = STEP256_EVEN(rk[0], rk[1], 0x01);
    rk[3] = STEP256_ODD(rk[1], rk[2]);
    rk[4] = STEP256_EVEN(rk[2], rk[3], 0x02);
    rk[5] = STEP256_ODD(rk[3], rk[4]);
    rk[6] = STEP256_EVEN(rk[4], rk[5], 0x04);
    rk[7] = STEP256_ODD(rk[5], rk[6]);
    rk[8] = STEP256_EVEN(rk[6], rk[7], 0x08);
    rk[9] = STEP256_ODD(rk[7], rk[8]);
    rk[10] = STEP256_EVEN(rk[8], rk[9], 0x10);
    rk[11] = STEP256_ODD(rk[9], rk[10]);
    rk[12] = STEP256_EVEN(rk[10], rk[11], 0x20);
    rk[13] = STEP256_ODD(rk[11], rk[12]);
    rk[14] = STEP256_EVEN(rk[12], rk[13], 0x40);
}

static BASE __m128i encrypt_block(const dapper_ipc_gcm *g, __m128i x)
{
    x = _mm_xor_si128(x, load(g->round_keys[0]));
    for (int r = 1; r < g->rounds; r++)
        x = _mm_aesenc_si128(x, load(g->round_keys[r]));
    return _mm_aesenclast_si128(x, load(g->round_keys[g->rounds]));
}

/* ---- GHASH ---- */

/* [q1:q0] -> [q0:q1] ^ q0 * 0xC2..: one 64-bit fold of the reduction. */
static BASE __m128i fold(__m128i x)
{
    const __m128i k = _mm_set_epi64x(0, (long long)0xC200000000000000ULL);
    return _mm_xor_si128(_mm_shuffle_epi32(x, 0x4e), _mm_clmulepi64_si128(x, k, 0x00));
}

/* The 256-bit product hi:mid:lo (mid straddling the halves) reduced mod P. */
static BASE __m128i reduce(__m128i lo, __m128i mid, __m128i hi)
{
    __m128i low = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));   /* bits 0..127 */
    __m128i high = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));  /* bits 128..255 */
    __m128i m = _mm_xor_si128(fold(low), _mm_slli_si128(high, 8));
    return _mm_xor_si128(fold(m), _mm_unpackhi_epi64(_mm_setzero_si128(), high));
}

/* a * (h * x^-1) for reflected a and the stored form of h: reflected a*h mod P. */
static BASE __m128i multiply(__m128i a, __m128i h)
{
    __m128i lo = _mm_clmulepi64_si128(a, h, 0x00), hi = _mm_clmulepi64_si128(a, h, 0x11);
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, h, 0x01), _mm_clmulepi64_si128(a, h, 0x10));
    return reduce(lo, mid, hi);
}

/* Reflected h -> h * x^-1 mod P, the form multiply() takes. */
static BASE __m128i times_x_inverse(__m128i h)
{
    uint64_t q[2];
    _mm_storeu_si128((__m128i *)q, h);
    uint64_t top = q[1] >> 63;
    q[1] = (q[1] << 1) | (q[0] >> 63);
    q[0] <<= 1;
    if (top) {
        q[1] ^= 0xC200000000000000ULL;
        q[0] ^= 1;
    }
    return _mm_loadu_si128((const __m128i *)q);
}

static WIDE __m128i lanes_xor(__m512i v)
{
    __m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/* The byte mask of the first `lanes` 16-byte lanes of a 512-bit vector. */
static inline __mmask64 lane_mask(int lanes)
{
    return lanes >= 4 ? ~(__mmask64)0 : lanes <= 0 ? 0 : (((__mmask64)1 << (16 * lanes)) - 1);
}

#define INLINE __attribute__((always_inline)) inline

/* One vector of 4 blocks (unused lanes zero) times its 4 powers, into the sums. */
static INLINE WIDE void hash_vector(__m512i x, const uint8_t *powers, __m512i *lo, __m512i *mid, __m512i *hi)
{
    __m512i p = _mm512_loadu_si512((const void *)powers);
    *lo = _mm512_xor_si512(*lo, _mm512_clmulepi64_epi128(x, p, 0x00));
    *hi = _mm512_xor_si512(*hi, _mm512_clmulepi64_epi128(x, p, 0x11));
    *mid = _mm512_ternarylogic_epi64(*mid, _mm512_clmulepi64_epi128(x, p, 0x01), _mm512_clmulepi64_epi128(x, p, 0x10), 0x96);
}

/* Folds m (1..16) reflected blocks, d0..d3 lane by lane (unused lanes zero), into
   the hash y: (y + X1)H^m + X2 H^(m-1) + ... + Xm H, one reduction for all. */
static INLINE WIDE __m128i hash_step(const dapper_ipc_gcm *g, __m128i y, __m512i d0, __m512i d1, __m512i d2,
                                     __m512i d3, int m)
{
    const uint8_t *first = g->powers[16 - m];
    __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
    hash_vector(_mm512_xor_si512(d0, _mm512_zextsi128_si512(y)), first, &lo, &mid, &hi);
    if (m > 4)
        hash_vector(d1, first + 64, &lo, &mid, &hi);
    if (m > 8)
        hash_vector(d2, first + 128, &lo, &mid, &hi);
    if (m > 12)
        hash_vector(d3, first + 192, &lo, &mid, &hi);
    return reduce(lanes_xor(lo), lanes_xor(mid), lanes_xor(hi));
}

#define BSWAP512() _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))

/* Hashes n whole blocks of bytes (no partial-block state involved). */
static WIDE void hash_blocks(dapper_ipc_gcm *g, const uint8_t *p, size_t n)
{
    const __m512i bswap = BSWAP512();
    __m128i y = load(g->hash);
    while (n > 0) {
        int m = n >= 16 ? 16 : (int)n;
#define LOAD_HASHED(v) _mm512_shuffle_epi8(_mm512_maskz_loadu_epi8(lane_mask(m - 4 * (v)), p + 64 * (v)), bswap)
        y = hash_step(g, y, LOAD_HASHED(0), LOAD_HASHED(1), LOAD_HASHED(2), LOAD_HASHED(3), m);
#undef LOAD_HASHED
        p += 16 * (size_t)m;
        n -= (size_t)m;
    }
    store(g->hash, y);
}

/* ---- CTR and GHASH together, 16 blocks a step ---- */

/* One step of m blocks (full: m == 16, plain loads and stores; masked ones cost
   more on some cores). Returns the hash; the caller advances the counter. */
static INLINE WIDE __m128i crypt_step(const dapper_ipc_gcm *g, const __m512i *rk, int rounds, __m128i y, __m128i counter,
                                      const uint8_t *in, uint8_t *out, int m, int encrypt, int full)
{
    const __m512i bswap = BSWAP512();
    const __m512i four = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
    __m512i c = _mm512_add_epi32(_mm512_broadcast_i32x4(counter),
                                 _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0));
    __m512i s0 = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), rk[0]);
    c = _mm512_add_epi32(c, four);
    __m512i s1 = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), rk[0]);
    c = _mm512_add_epi32(c, four);
    __m512i s2 = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), rk[0]);
    c = _mm512_add_epi32(c, four);
    __m512i s3 = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), rk[0]);
    for (int r = 1; r < rounds; r++) {
        __m512i k = rk[r];
        s0 = _mm512_aesenc_epi128(s0, k);
        s1 = _mm512_aesenc_epi128(s1, k);
        s2 = _mm512_aesenc_epi128(s2, k);
        s3 = _mm512_aesenc_epi128(s3, k);
    }
    __m512i last = rk[rounds];
    __m512i d0, d1, d2, d3;
#define LANE(v, s, d)                                                                                \
    {                                                                                                \
        __mmask64 k = full ? ~(__mmask64)0 : lane_mask(m - 4 * (v));                                 \
        __m512i x = full ? _mm512_loadu_si512((const void *)(in + 64 * (v)))                         \
                         : _mm512_maskz_loadu_epi8(k, in + 64 * (v));                               \
        __m512i o = _mm512_xor_si512(_mm512_aesenclast_epi128(s, last), x);                          \
        if (full)                                                                                    \
            _mm512_storeu_si512((void *)(out + 64 * (v)), o);                                        \
        else                                                                                         \
            _mm512_mask_storeu_epi8(out + 64 * (v), k, o);                                           \
        /* The hash covers the ciphertext; unused lanes must be zero. */                            \
        d = _mm512_shuffle_epi8(encrypt ? (full ? o : _mm512_maskz_mov_epi8(k, o)) : x, bswap);      \
    }
    LANE(0, s0, d0)
    LANE(1, s1, d1)
    LANE(2, s2, d2)
    LANE(3, s3, d3)
#undef LANE
    return hash_step(g, y, d0, d1, d2, d3, m);
}

static WIDE void crypt_blocks(dapper_ipc_gcm *g, const uint8_t *in, uint8_t *out, size_t n, int encrypt)
{
    const int rounds = g->rounds;
    __m512i rk[15];
    for (int r = 0; r <= rounds; r++)
        rk[r] = _mm512_broadcast_i32x4(load(g->round_keys[r]));
    __m128i y = load(g->hash);
    __m128i counter = load(g->counter); /* reflected: the 32-bit counter is dword 0 */
    const __m128i sixteen = _mm_cvtsi32_si128(16);
    if (encrypt) {
        for (; n >= 16; n -= 16, in += 256, out += 256) {
            y = crypt_step(g, rk, rounds, y, counter, in, out, 16, 1, 1);
            counter = _mm_add_epi32(counter, sixteen);
        }
    } else {
        for (; n >= 16; n -= 16, in += 256, out += 256) {
            y = crypt_step(g, rk, rounds, y, counter, in, out, 16, 0, 1);
            counter = _mm_add_epi32(counter, sixteen);
        }
    }
    if (n > 0) {
        y = crypt_step(g, rk, rounds, y, counter, in, out, (int)n, encrypt, 0);
        counter = _mm_add_epi32(counter, _mm_cvtsi32_si128((int)n));
    }
    store(g->hash, y);
    store(g->counter, counter);
}

/* ---- the interface ---- */

BASE void dapper_ipc_gcm_set_key(dapper_ipc_gcm *g, const uint8_t *key, size_t key_bytes)
{
    __m128i rk[15];
    if (key_bytes == 32) {
        expand256(rk, key);
        g->rounds = 14;
    } else {
        expand128(rk, key);
        g->rounds = 10;
    }
    for (int r = 0; r <= g->rounds; r++)
        store(g->round_keys[r], rk[r]);
    __m128i h = reflect(encrypt_block(g, _mm_setzero_si128()));
    __m128i h1 = times_x_inverse(h), power = h;
    /* powers[15 - i] = H^(i+1), each in multiply()'s form. */
    for (int i = 0; i < 16; i++) {
        store(g->powers[15 - i], times_x_inverse(power));
        power = multiply(power, h1);
    }
    memset(g->powers[16], 0, 4 * 16);
    memset(g->hash, 0, sizeof g->hash);
}

BASE void dapper_ipc_gcm_start(dapper_ipc_gcm *g, const uint8_t nonce[12])
{
    uint8_t block[16];
    memcpy(block, nonce, 12);
    block[12] = 0, block[13] = 0, block[14] = 0, block[15] = 1;
    store(g->tag_mask, encrypt_block(g, load(block)));
    block[15] = 2;
    store(g->counter, reflect(load(block)));
    memset(g->hash, 0, sizeof g->hash);
    g->fill = 0;
    g->in_data = 0;
    g->aad_bytes = g->data_bytes = 0;
}

static void close_partial(dapper_ipc_gcm *g)
{
    if (g->fill > 0) {
        memset(g->partial + g->fill, 0, 16 - g->fill);
        hash_blocks(g, g->partial, 1);
        g->fill = 0;
    }
}

int dapper_ipc_gcm_aad(dapper_ipc_gcm *g, const uint8_t *aad, size_t length)
{
    if (g->in_data)
        return 0;
    g->aad_bytes += length;
    while (length > 0 && g->fill > 0) {
        g->partial[g->fill++] = *aad++;
        length--;
        if (g->fill == 16) {
            hash_blocks(g, g->partial, 1);
            g->fill = 0;
        }
    }
    if (length == 0)
        return 1; /* still inside the block begun before */
    size_t whole = length / 16;
    if (whole > 0)
        hash_blocks(g, aad, whole);
    aad += 16 * whole;
    length -= 16 * whole;
    memcpy(g->partial, aad, length);
    g->fill = (unsigned)length;
    return 1;
}

BASE void dapper_ipc_gcm_crypt(dapper_ipc_gcm *g, const uint8_t *in, uint8_t *out, size_t length, int encrypt)
{
    if (!g->in_data) {
        close_partial(g); /* the AAD ends on a block boundary, zero-padded */
        g->in_data = 1;
    }
    g->data_bytes += length;
    /* A block begun by the previous call: its keystream is kept. */
    while (length > 0 && g->fill > 0) {
        uint8_t x = *in++;
        uint8_t y = x ^ g->keystream[g->fill];
        *out++ = y;
        g->partial[g->fill++] = encrypt ? y : x;
        length--;
        if (g->fill == 16) {
            hash_blocks(g, g->partial, 1);
            g->fill = 0;
        }
    }
    size_t whole = length / 16;
    if (whole > 0)
        crypt_blocks(g, in, out, whole, encrypt);
    in += 16 * whole;
    out += 16 * whole;
    length -= 16 * whole;
    if (length > 0) {
        __m128i counter = load(g->counter);
        store(g->keystream, encrypt_block(g, reflect(counter)));
        store(g->counter, _mm_add_epi32(counter, _mm_cvtsi32_si128(1)));
        for (size_t i = 0; i < length; i++) {
            uint8_t x = in[i];
            uint8_t y = x ^ g->keystream[i];
            out[i] = y;
            g->partial[i] = encrypt ? y : x;
        }
        g->fill = (unsigned)length;
    }
}

BASE void dapper_ipc_gcm_tag(dapper_ipc_gcm *g, uint8_t tag[16])
{
    close_partial(g); /* the AAD's last block, or the data's */
    g->in_data = 1;
    /* len(A) || len(C) in bits, big-endian, reflected: C's in the low half. */
    __m128i lengths = _mm_set_epi64x((long long)(g->aad_bytes * 8), (long long)(g->data_bytes * 8));
    __m128i y = multiply(_mm_xor_si128(load(g->hash), lengths), load(g->powers[15]));
    store(tag, _mm_xor_si128(reflect(y), load(g->tag_mask)));
}

#else /* no x86-64: never available, never called */

int dapper_ipc_gcm_available(void) { return 0; }
void dapper_ipc_gcm_set_key(dapper_ipc_gcm *g, const uint8_t *key, size_t key_bytes) { (void)g, (void)key, (void)key_bytes; }
void dapper_ipc_gcm_start(dapper_ipc_gcm *g, const uint8_t nonce[12]) { (void)g, (void)nonce; }
int dapper_ipc_gcm_aad(dapper_ipc_gcm *g, const uint8_t *aad, size_t length) { (void)g, (void)aad, (void)length; return 0; }
void dapper_ipc_gcm_crypt(dapper_ipc_gcm *g, const uint8_t *in, uint8_t *out, size_t length, int encrypt)
{
    (void)g, (void)in, (void)out, (void)length, (void)encrypt;
}
void dapper_ipc_gcm_tag(dapper_ipc_gcm *g, uint8_t tag[16]) { (void)g, (void)tag; }

#endif
