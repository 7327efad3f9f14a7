/* IEEE-754 arithmetic for the RISC-V F and D extensions.
 *
 * Two layers:
 *
 *  1. A portable integer ("soft") implementation, generic over the format
 *     (binary32 / binary64) and exact in every rounding mode, including
 *     RMM, which no host FPU offers.  An unpacked finite value is
 *     sign * sig * 2^(exp - 62) with bit 62 of `sig` set; the bits below
 *     the format's precision are guard/round bits and bit 0 is sticky.
 *     Rounding happens once, in roundpack(), which also decides overflow
 *     and underflow (tininess detected after rounding, as RISC-V requires).
 *
 *  2. Fast paths for add/sub/mul/div/sqrt in RNE that use the host FPU when
 *     both operands are normal (or zero), the host SSE unit is in its
 *     default state (RNE, exceptions masked, no FTZ/DAZ) and the result is
 *     a normal number.  In that region only the inexact flag can be raised;
 *     it is computed exactly without reading host flags (TwoSum for add,
 *     integer products of the odd parts of the significands for mul, div
 *     and sqrt).  Everything else (subnormals, overflow, NaN, other rounding
 *     modes, fma, conversions) goes to the soft layer.
 */
#include "engine/emu/fpu.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

typedef unsigned __int128 u128;

#define INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------ */
/* Format description                                                  */
/* ------------------------------------------------------------------ */

typedef struct {
    int mbits; /* stored fraction bits */
    int ebits; /* exponent bits */
} fmt_t;

static const fmt_t F32 = { 23, 8 };
static const fmt_t F64 = { 52, 11 };

INLINE int bias(fmt_t f) { return (1 << (f.ebits - 1)) - 1; }
INLINE uint64_t emax_field(fmt_t f) { return (1ull << f.ebits) - 1; }
INLINE uint64_t mmask(fmt_t f) { return (1ull << f.mbits) - 1; }
INLINE uint64_t signbit(fmt_t f) { return 1ull << (f.mbits + f.ebits); }
INLINE int signof(fmt_t f, uint64_t x) { return (int)((x >> (f.mbits + f.ebits)) & 1); }
INLINE uint64_t expof(fmt_t f, uint64_t x) { return (x >> f.mbits) & emax_field(f); }
INLINE uint64_t fracof(fmt_t f, uint64_t x) { return x & mmask(f); }

INLINE bool is_nan(fmt_t f, uint64_t x)
{
    return expof(f, x) == emax_field(f) && fracof(f, x) != 0;
}

INLINE bool is_snan(fmt_t f, uint64_t x)
{
    return is_nan(f, x) && !((x >> (f.mbits - 1)) & 1);
}

INLINE bool is_inf(fmt_t f, uint64_t x)
{
    return expof(f, x) == emax_field(f) && fracof(f, x) == 0;
}

INLINE bool is_zero(fmt_t f, uint64_t x)
{
    return (x & ~signbit(f) & ((signbit(f) << 1) - 1)) == 0;
}

INLINE uint64_t canon_nan(fmt_t f)
{
    return (emax_field(f) << f.mbits) | (1ull << (f.mbits - 1));
}

INLINE uint64_t pack_inf(fmt_t f, int sign)
{
    return (sign ? signbit(f) : 0) | (emax_field(f) << f.mbits);
}

INLINE uint64_t pack_zero(fmt_t f, int sign)
{
    return sign ? signbit(f) : 0;
}

/* ------------------------------------------------------------------ */
/* Soft core                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    int sign;
    int exp;
    uint64_t sig; /* bit 62 set */
} unp_t;

/* x must be finite and nonzero */
INLINE unp_t unpack(fmt_t f, uint64_t x)
{
    unp_t u;
    uint64_t e = expof(f, x), m = fracof(f, x);

    u.sign = signof(f, x);
    if (e) {
        u.sig = (m | (1ull << f.mbits)) << (62 - f.mbits);
        u.exp = (int)e - bias(f);
    } else {
        uint64_t s = m << (62 - f.mbits);
        int lz = __builtin_clzll(s) - 1;
        u.sig = s << lz;
        u.exp = 1 - bias(f) - lz;
    }
    return u;
}

/* shift right, OR-ing every bit shifted out into bit 0 */
INLINE uint64_t rshift_jam(uint64_t x, int n)
{
    if (n <= 0)
        return x;
    if (n >= 64)
        return x != 0;
    return (x >> n) | ((x << (64 - n)) != 0);
}

INLINE u128 rshift_jam128(u128 x, int n)
{
    if (n <= 0)
        return x;
    if (n >= 128)
        return x != 0;
    return (x >> n) | (u128)((x << (128 - n)) != 0);
}

INLINE int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/* sig >> shift (shift >= 1), rounded in mode rm for a value of sign `sign`.
 * Sets *inexact when bits were lost.  The result may carry one bit up. */
INLINE uint64_t round_shift(uint64_t sig, int shift, int rm, int sign, bool *inexact)
{
    uint64_t q, rem, half;

    if (shift > 64) {
        sig = sig != 0;
        shift = 64;
    }
    if (shift == 64) {
        q = 0;
        rem = sig;
        half = 1ull << 63;
    } else {
        q = sig >> shift;
        rem = sig & ((1ull << shift) - 1);
        half = 1ull << (shift - 1);
    }
    if (rem == 0)
        return q;
    *inexact = true;
    switch (rm) {
    case FPU_RTZ:
        break;
    case FPU_RDN:
        q += (uint64_t)sign;
        break;
    case FPU_RUP:
        q += (uint64_t)!sign;
        break;
    case FPU_RMM:
        q += rem >= half;
        break;
    default: /* RNE (invalid modes never reach here; be safe anyway) */
        q += rem > half || (rem == half && (q & 1));
        break;
    }
    return q;
}

/* Round sign * sig * 2^(exp-62) (sig != 0, bit 62 or lower the top bit)
 * to format f and pack it, raising NX/UF/OF. */
INLINE uint64_t roundpack(fmt_t f, int sign, int exp, uint64_t sig, int rm, uint32_t *fl)
{
    int shift = 62 - f.mbits;
    int be = exp + bias(f);
    uint64_t s = sign ? signbit(f) : 0;
    bool ix = false;

    if (be >= 1) {
        uint64_t q = round_shift(sig, shift, rm, sign, &ix);
        if (q >> (f.mbits + 1)) { /* rounding carried: q == 2^(mbits+1) */
            q >>= 1;
            be++;
        }
        if (be >= (int)emax_field(f)) {
            bool to_inf = rm == FPU_RNE || rm == FPU_RMM ||
                          (rm == FPU_RDN && sign) || (rm == FPU_RUP && !sign) ||
                          rm > FPU_RMM;
            *fl |= FFLAG_OF | FFLAG_NX;
            if (to_inf)
                return pack_inf(f, sign);
            return s | ((emax_field(f) - 1) << f.mbits) | mmask(f);
        }
        if (ix)
            *fl |= FFLAG_NX;
        return s | ((uint64_t)be << f.mbits) | (q & mmask(f));
    }

    /* Below the normal range.  Tiny means: rounded with an unbounded
     * exponent the result would still be below the smallest normal. */
    bool ix_unbounded = false;
    uint64_t q0 = round_shift(sig, shift, rm, sign, &ix_unbounded);
    bool tiny = be < 0 || !(q0 >> (f.mbits + 1));
    uint64_t q = round_shift(rshift_jam(sig, 1 - be), shift, rm, sign, &ix);
    if (ix) {
        *fl |= FFLAG_NX;
        if (tiny)
            *fl |= FFLAG_UF;
    }
    /* q == 2^mbits (rounded up to the smallest normal) packs correctly */
    return s | q;
}

INLINE uint64_t g_add(fmt_t f, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (is_nan(f, a) || is_nan(f, b)) {
        if (is_snan(f, a) || is_snan(f, b))
            *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    int sa = signof(f, a), sb = signof(f, b);
    if (is_inf(f, a)) {
        if (is_inf(f, b) && sa != sb) {
            *fl |= FFLAG_NV;
            return canon_nan(f);
        }
        return a;
    }
    if (is_inf(f, b))
        return b;
    if (is_zero(f, a)) {
        if (is_zero(f, b))
            return sa == sb ? a : pack_zero(f, rm == FPU_RDN);
        return b;
    }
    if (is_zero(f, b))
        return a;

    unp_t x = unpack(f, a), y = unpack(f, b);
    if (x.exp < y.exp || (x.exp == y.exp && x.sig < y.sig)) {
        unp_t t = x;
        x = y;
        y = t;
    }
    uint64_t ys = rshift_jam(y.sig, x.exp - y.exp);
    if (x.sign == y.sign) {
        uint64_t s = x.sig + ys;
        int e = x.exp;
        if (s >> 63) {
            s = rshift_jam(s, 1);
            e++;
        }
        return roundpack(f, x.sign, e, s, rm, fl);
    }
    uint64_t s = x.sig - ys;
    if (s == 0)
        return pack_zero(f, rm == FPU_RDN);
    int lz = __builtin_clzll(s) - 1;
    return roundpack(f, x.sign, x.exp - lz, s << lz, rm, fl);
}

INLINE uint64_t g_mul(fmt_t f, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (is_nan(f, a) || is_nan(f, b)) {
        if (is_snan(f, a) || is_snan(f, b))
            *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    int sign = signof(f, a) ^ signof(f, b);
    if (is_inf(f, a) || is_inf(f, b)) {
        if (is_zero(f, a) || is_zero(f, b)) {
            *fl |= FFLAG_NV;
            return canon_nan(f);
        }
        return pack_inf(f, sign);
    }
    if (is_zero(f, a) || is_zero(f, b))
        return pack_zero(f, sign);

    unp_t x = unpack(f, a), y = unpack(f, b);
    u128 p = (u128)x.sig * y.sig; /* in [2^124, 2^126) */
    uint64_t s = (uint64_t)(p >> 62) | (((uint64_t)p & ((1ull << 62) - 1)) != 0);
    int e = x.exp + y.exp;
    if (s >> 63) {
        s = rshift_jam(s, 1);
        e++;
    }
    return roundpack(f, sign, e, s, rm, fl);
}

INLINE uint64_t g_div(fmt_t f, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (is_nan(f, a) || is_nan(f, b)) {
        if (is_snan(f, a) || is_snan(f, b))
            *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    int sign = signof(f, a) ^ signof(f, b);
    if (is_inf(f, a)) {
        if (is_inf(f, b)) {
            *fl |= FFLAG_NV;
            return canon_nan(f);
        }
        return pack_inf(f, sign);
    }
    if (is_inf(f, b))
        return pack_zero(f, sign);
    if (is_zero(f, b)) {
        if (is_zero(f, a)) {
            *fl |= FFLAG_NV;
            return canon_nan(f);
        }
        *fl |= FFLAG_DZ;
        return pack_inf(f, sign);
    }
    if (is_zero(f, a))
        return pack_zero(f, sign);

    unp_t x = unpack(f, a), y = unpack(f, b);
    u128 n = (u128)x.sig << 63;
    uint64_t q = (uint64_t)(n / y.sig); /* in (2^62, 2^64) */
    bool sticky = (uint64_t)(n % y.sig) != 0;
    int e;
    if (q >> 63) {
        q = (q >> 1) | (q & 1) | sticky;
        e = x.exp - y.exp;
    } else {
        q |= sticky;
        e = x.exp - y.exp - 1;
    }
    return roundpack(f, sign, e, q, rm, fl);
}

/* floor(sqrt(n)) for n < 2^126 */
static uint64_t isqrt128(u128 n)
{
    /* long double has a 64-bit significand: the estimate is within a few
     * units whatever the x87 rounding mode; the loops make it exact. */
    long double est = sqrtl((long double)n);
    uint64_t r = est >= 0x1p63L ? (1ull << 63) - 1 : (uint64_t)est;
    while ((u128)r * r > n)
        r--;
    while ((u128)(r + 1) * (r + 1) <= n)
        r++;
    return r;
}

INLINE uint64_t g_sqrt(fmt_t f, uint64_t a, int rm, uint32_t *fl)
{
    if (is_nan(f, a)) {
        if (is_snan(f, a))
            *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    if (is_zero(f, a))
        return a;
    if (signof(f, a)) {
        *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    if (is_inf(f, a))
        return a;

    unp_t x = unpack(f, a);
    u128 n;
    int e;
    if (x.exp & 1) {
        n = (u128)x.sig << 63;
        e = (x.exp - 1) / 2;
    } else {
        n = (u128)x.sig << 62;
        e = x.exp / 2;
    }
    uint64_t r = isqrt128(n); /* in [2^62, 2^63) */
    r |= (u128)r * r != n;
    return roundpack(f, 0, e, r, rm, fl);
}

INLINE uint64_t g_fma(fmt_t f, uint64_t a, uint64_t b, uint64_t c, int op, int rm, uint32_t *fl)
{
    int negp = op == FPU_FNMSUB || op == FPU_FNMADD;
    int negc = op == FPU_FMSUB || op == FPU_FNMADD;

    if (is_snan(f, a) || is_snan(f, b) || is_snan(f, c))
        *fl |= FFLAG_NV;
    /* RISC-V: inf * 0 is invalid even when the addend is a quiet NaN */
    if ((is_inf(f, a) && is_zero(f, b)) || (is_zero(f, a) && is_inf(f, b))) {
        *fl |= FFLAG_NV;
        return canon_nan(f);
    }
    if (is_nan(f, a) || is_nan(f, b) || is_nan(f, c))
        return canon_nan(f);

    int ps = signof(f, a) ^ signof(f, b) ^ negp;
    int cs = signof(f, c) ^ negc;
    if (is_inf(f, a) || is_inf(f, b)) {
        if (is_inf(f, c) && cs != ps) {
            *fl |= FFLAG_NV;
            return canon_nan(f);
        }
        return pack_inf(f, ps);
    }
    if (is_inf(f, c))
        return pack_inf(f, cs);
    if (is_zero(f, a) || is_zero(f, b)) {
        if (is_zero(f, c))
            return pack_zero(f, ps == cs ? ps : rm == FPU_RDN);
        return c ^ (negc ? signbit(f) : 0);
    }

    /* Exact product as X * 2^(E-125), X in [2^125, 2^126). */
    unp_t x = unpack(f, a), y = unpack(f, b);
    u128 P = (u128)x.sig * y.sig;
    int pe = x.exp + y.exp + 1;
    if (!(P >> 125)) {
        P <<= 1;
        pe--;
    }
    u128 S = P;
    int E = pe, sign = ps;

    if (!is_zero(f, c)) {
        unp_t z = unpack(f, c);
        u128 C = (u128)z.sig << 63;
        int ce = z.exp;
        u128 big = P, small = C;
        int be = pe, se = ce, bs = ps, ss = cs;
        if (ce > pe || (ce == pe && C > P)) {
            big = C; small = P;
            be = ce; se = pe;
            bs = cs; ss = ps;
        }
        small = rshift_jam128(small, be - se);
        if (bs == ss) {
            S = big + small;
        } else {
            S = big - small;
            if (S == 0)
                return pack_zero(f, rm == FPU_RDN);
        }
        E = be;
        sign = bs;
    }
    /* normalise to the top bit at 126, then compress to 64 bits */
    int lz = clz128(S) - 1;
    if (lz < 0)
        S = rshift_jam128(S, -lz);
    else
        S <<= lz;
    E -= lz;
    uint64_t sig = (uint64_t)(S >> 64) | ((uint64_t)S != 0);
    return roundpack(f, sign, E + 1, sig, rm, fl);
}

INLINE uint64_t g_minmax(fmt_t f, uint64_t a, uint64_t b, bool want_max, uint32_t *fl)
{
    bool an = is_nan(f, a), bn = is_nan(f, b);
    if (is_snan(f, a) || is_snan(f, b))
        *fl |= FFLAG_NV;
    if (an && bn)
        return canon_nan(f);
    if (an)
        return b;
    if (bn)
        return a;
    int sa = signof(f, a), sb = signof(f, b);
    /* total order on non-NaN bit patterns, -0 < +0 */
    bool a_lt_b = sa != sb ? sa : (sa ? a > b : a < b);
    return a_lt_b == want_max ? b : a;
}

INLINE int g_eq(fmt_t f, uint64_t a, uint64_t b, uint32_t *fl)
{
    if (is_nan(f, a) || is_nan(f, b)) {
        if (is_snan(f, a) || is_snan(f, b))
            *fl |= FFLAG_NV;
        return 0;
    }
    return a == b || (is_zero(f, a) && is_zero(f, b));
}

INLINE int g_lt(fmt_t f, uint64_t a, uint64_t b, bool or_equal, uint32_t *fl)
{
    if (is_nan(f, a) || is_nan(f, b)) {
        *fl |= FFLAG_NV;
        return 0;
    }
    if (is_zero(f, a) && is_zero(f, b))
        return or_equal;
    if (a == b)
        return or_equal;
    int sa = signof(f, a), sb = signof(f, b);
    if (sa != sb)
        return sa;
    return sa ? a > b : a < b;
}

INLINE uint32_t g_classify(fmt_t f, uint64_t a)
{
    int s = signof(f, a);
    uint64_t e = expof(f, a), m = fracof(f, a);
    if (e == emax_field(f)) {
        if (m == 0)
            return s ? 1u << 0 : 1u << 7;
        return is_snan(f, a) ? 1u << 8 : 1u << 9;
    }
    if (e == 0) {
        if (m == 0)
            return s ? 1u << 3 : 1u << 4;
        return s ? 1u << 2 : 1u << 5;
    }
    return s ? 1u << 1 : 1u << 6;
}

/* Float to integer of `bits` width; result as a two's-complement pattern.
 * RISC-V saturates: NaN and +overflow give the maximum, -overflow the
 * minimum (0 for unsigned), with NV and without NX. */
INLINE uint64_t g_to_int(fmt_t f, uint64_t a, int bits, bool is_signed, int rm, uint32_t *fl)
{
    uint64_t maxv, minv;
    if (is_signed) {
        maxv = (1ull << (bits - 1)) - 1;
        minv = -(1ull << (bits - 1));
    } else {
        maxv = bits == 64 ? ~0ull : (1ull << bits) - 1;
        minv = 0;
    }
    if (is_nan(f, a)) {
        *fl |= FFLAG_NV;
        return maxv;
    }
    int sign = signof(f, a);
    if (is_inf(f, a)) {
        *fl |= FFLAG_NV;
        return sign ? minv : maxv;
    }
    if (is_zero(f, a))
        return 0;

    unp_t u = unpack(f, a);
    uint64_t mag;
    bool ix = false;
    if (u.exp >= 64) {
        *fl |= FFLAG_NV;
        return sign ? minv : maxv;
    } else if (u.exp >= 62) {
        mag = u.sig << (u.exp - 62);
    } else {
        mag = round_shift(u.sig, 62 - u.exp, rm, sign, &ix);
    }
    if (is_signed) {
        uint64_t lim = 1ull << (bits - 1);
        if (sign ? mag > lim : mag >= lim) {
            *fl |= FFLAG_NV;
            return sign ? minv : maxv;
        }
    } else {
        if (sign && mag != 0) {
            *fl |= FFLAG_NV;
            return 0;
        }
        if (mag > maxv) {
            *fl |= FFLAG_NV;
            return maxv;
        }
    }
    if (ix)
        *fl |= FFLAG_NX;
    return sign ? -mag : mag;
}

INLINE uint64_t g_from_int(fmt_t f, int sign, uint64_t mag, int rm, uint32_t *fl)
{
    if (mag == 0)
        return 0;
    int lz = __builtin_clzll(mag);
    return roundpack(f, sign, 63 - lz, rshift_jam(mag << lz, 1), rm, fl);
}

/* Convert between formats (a is a value of format `from`). */
INLINE uint64_t g_convert(fmt_t from, fmt_t to, uint64_t a, int rm, uint32_t *fl)
{
    if (is_nan(from, a)) {
        if (is_snan(from, a))
            *fl |= FFLAG_NV;
        return canon_nan(to);
    }
    int sign = signof(from, a);
    if (is_inf(from, a))
        return pack_inf(to, sign);
    if (is_zero(from, a))
        return pack_zero(to, sign);
    unp_t u = unpack(from, a);
    return roundpack(to, sign, u.exp, u.sig, rm, fl);
}

/* ------------------------------------------------------------------ */
/* Host fast paths                                                     */
/* ------------------------------------------------------------------ */

/* True when the host SSE unit rounds to nearest-even, has all exceptions
 * masked and neither flushes nor treats denormals as zero. */
static inline bool host_default_env(void)
{
#if defined(__x86_64__)
    return (_mm_getcsr() & 0xffc0) == 0x1f80;
#else
    return false;
#endif
}

static inline float f32_host(uint32_t x) { float f; memcpy(&f, &x, 4); return f; }
static inline uint32_t f32_bits(float f) { uint32_t x; memcpy(&x, &f, 4); return x; }
static inline double f64_host(uint64_t x) { double d; memcpy(&d, &x, 8); return d; }
static inline uint64_t f64_bits(double d) { uint64_t x; memcpy(&x, &d, 8); return x; }

/* Zero, or normal with |x| < 2^(emax): no intermediate of the fast paths
 * can overflow. */
static inline bool f32_plain(uint32_t x)
{
    uint32_t e = (x >> 23) & 0xff;
    return (e - 1u) < 0xfdu || (x << 1) == 0;
}

static inline bool f64_plain(uint64_t x)
{
    uint64_t e = (x >> 52) & 0x7ff;
    return (e - 1u) < 0x7fdu || (x << 1) == 0;
}

/* significand with the implicit bit, trailing zeros removed (x normal) */
static inline uint64_t f32_odd(uint32_t x)
{
    uint64_t m = (x & 0x7fffffu) | 0x800000u;
    return m >> __builtin_ctzll(m);
}

static inline uint64_t f64_odd(uint64_t x)
{
    uint64_t m = (x & 0xfffffffffffffull) | (1ull << 52);
    return m >> __builtin_ctzll(m);
}

static inline bool f32_normal_result(float r)
{
    float m = fabsf(r);
    return m > FLT_MIN && m <= FLT_MAX;
}

static inline bool f64_normal_result(double r)
{
    double m = fabs(r);
    return m > DBL_MIN && m <= DBL_MAX;
}

/* Out-of-line soft paths keep the fast paths free of register saves. */
#define SOFT2(name, fn, F, T) \
    static __attribute__((noinline)) T name(T a, T b, int rm, uint32_t *fl) \
    { return (T)fn(F, a, b, rm, fl); }
SOFT2(soft_add32, g_add, F32, uint32_t)
SOFT2(soft_mul32, g_mul, F32, uint32_t)
SOFT2(soft_div32, g_div, F32, uint32_t)
SOFT2(soft_add64, g_add, F64, uint64_t)
SOFT2(soft_mul64, g_mul, F64, uint64_t)
SOFT2(soft_div64, g_div, F64, uint64_t)

static __attribute__((noinline)) uint32_t soft_sqrt32(uint32_t a, int rm, uint32_t *fl)
{
    return (uint32_t)g_sqrt(F32, a, rm, fl);
}

static __attribute__((noinline)) uint64_t soft_sqrt64(uint64_t a, int rm, uint32_t *fl)
{
    return g_sqrt(F64, a, rm, fl);
}

/* ------------------------------------------------------------------ */
/* binary32                                                            */
/* ------------------------------------------------------------------ */

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f32_plain(a) && f32_plain(b) && host_default_env()) {
        float x = f32_host(a), y = f32_host(b), r = x + y;
        if (f32_normal_result(r)) {
            if (!(*fl & FFLAG_NX)) {
                float bb = r - x; /* TwoSum: exact rounding error */
                float err = (x - (r - bb)) + (y - bb);
                if (err != 0)
                    *fl |= FFLAG_NX;
            }
            return f32_bits(r);
        }
        if (r == 0) /* exact cancellation or zero operands */
            return f32_bits(r);
    }
    return soft_add32(a, b, rm, fl);
}

uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    return f32_add(a, b ^ 0x80000000u, rm, fl);
}

uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f32_plain(a) && f32_plain(b) && host_default_env()) {
        float x = f32_host(a), y = f32_host(b), r = x * y;
        if (f32_normal_result(r)) {
            if (!(*fl & FFLAG_NX) && (f32_odd(a) * f32_odd(b)) >> 24)
                *fl |= FFLAG_NX;
            return f32_bits(r);
        }
        if (x == 0 || y == 0)
            return f32_bits(r);
    }
    return soft_mul32(a, b, rm, fl);
}

uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f32_plain(a) && f32_plain(b) && (b << 1) != 0 &&
        host_default_env()) {
        float x = f32_host(a), y = f32_host(b), r = x / y;
        if (f32_normal_result(r)) {
            /* exact iff r * y == x, compared on the odd significands */
            if (!(*fl & FFLAG_NX) && f32_odd(f32_bits(r)) * f32_odd(b) != f32_odd(a))
                *fl |= FFLAG_NX;
            return f32_bits(r);
        }
        if (x == 0)
            return f32_bits(r);
    }
    return soft_div32(a, b, rm, fl);
}

uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f32_plain(a) && !(a >> 31) && (a << 1) != 0 &&
        host_default_env()) {
        float r = sqrtf(f32_host(a));
        uint64_t o = f32_odd(f32_bits(r));
        if (!(*fl & FFLAG_NX) && o * o != f32_odd(a))
            *fl |= FFLAG_NX;
        return f32_bits(r);
    }
    return soft_sqrt32(a, rm, fl);
}

uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, int op, int rm, uint32_t *fl)
{
    return (uint32_t)g_fma(F32, a, b, c, op, rm, fl);
}

uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *fl) { return (uint32_t)g_minmax(F32, a, b, false, fl); }
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *fl) { return (uint32_t)g_minmax(F32, a, b, true, fl); }
int f32_eq(uint32_t a, uint32_t b, uint32_t *fl) { return g_eq(F32, a, b, fl); }
int f32_lt(uint32_t a, uint32_t b, uint32_t *fl) { return g_lt(F32, a, b, false, fl); }
int f32_le(uint32_t a, uint32_t b, uint32_t *fl) { return g_lt(F32, a, b, true, fl); }
uint32_t f32_classify(uint32_t a) { return g_classify(F32, a); }

int32_t f32_to_i32(uint32_t a, int rm, uint32_t *fl)
{
    return (int32_t)(uint32_t)g_to_int(F32, a, 32, true, rm, fl);
}

uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *fl)
{
    return (uint32_t)g_to_int(F32, a, 32, false, rm, fl);
}

int64_t f32_to_i64(uint32_t a, int rm, uint32_t *fl)
{
    return (int64_t)g_to_int(F32, a, 64, true, rm, fl);
}

uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *fl)
{
    return g_to_int(F32, a, 64, false, rm, fl);
}

uint32_t i32_to_f32(int32_t v, int rm, uint32_t *fl)
{
    uint64_t mag = v < 0 ? -(uint64_t)(int64_t)v : (uint64_t)v;
    return (uint32_t)g_from_int(F32, v < 0, mag, rm, fl);
}

uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *fl)
{
    return (uint32_t)g_from_int(F32, 0, v, rm, fl);
}

uint32_t i64_to_f32(int64_t v, int rm, uint32_t *fl)
{
    uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
    return (uint32_t)g_from_int(F32, v < 0, mag, rm, fl);
}

uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *fl)
{
    return (uint32_t)g_from_int(F32, 0, v, rm, fl);
}

/* ------------------------------------------------------------------ */
/* binary64                                                            */
/* ------------------------------------------------------------------ */

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f64_plain(a) && f64_plain(b) && host_default_env()) {
        double x = f64_host(a), y = f64_host(b), r = x + y;
        if (f64_normal_result(r)) {
            if (!(*fl & FFLAG_NX)) {
                double bb = r - x; /* TwoSum: exact rounding error */
                double err = (x - (r - bb)) + (y - bb);
                if (err != 0)
                    *fl |= FFLAG_NX;
            }
            return f64_bits(r);
        }
        if (r == 0)
            return f64_bits(r);
    }
    return soft_add64(a, b, rm, fl);
}

uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return f64_add(a, b ^ 0x8000000000000000ull, rm, fl);
}

uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f64_plain(a) && f64_plain(b) && host_default_env()) {
        double x = f64_host(a), y = f64_host(b), r = x * y;
        if (f64_normal_result(r)) {
            if (!(*fl & FFLAG_NX) && ((u128)f64_odd(a) * f64_odd(b)) >> 53)
                *fl |= FFLAG_NX;
            return f64_bits(r);
        }
        if (x == 0 || y == 0)
            return f64_bits(r);
    }
    return soft_mul64(a, b, rm, fl);
}

uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f64_plain(a) && f64_plain(b) && (b << 1) != 0 &&
        host_default_env()) {
        double x = f64_host(a), y = f64_host(b), r = x / y;
        if (f64_normal_result(r)) {
            if (!(*fl & FFLAG_NX) &&
                (u128)f64_odd(f64_bits(r)) * f64_odd(b) != f64_odd(a))
                *fl |= FFLAG_NX;
            return f64_bits(r);
        }
        if (x == 0)
            return f64_bits(r);
    }
    return soft_div64(a, b, rm, fl);
}

uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *fl)
{
    if (rm == FPU_RNE && f64_plain(a) && !(a >> 63) && (a << 1) != 0 &&
        host_default_env()) {
        double r = sqrt(f64_host(a));
        uint64_t o = f64_odd(f64_bits(r));
        if (!(*fl & FFLAG_NX) && (u128)o * o != f64_odd(a))
            *fl |= FFLAG_NX;
        return f64_bits(r);
    }
    return soft_sqrt64(a, rm, fl);
}

uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, int op, int rm, uint32_t *fl)
{
    return g_fma(F64, a, b, c, op, rm, fl);
}

uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *fl) { return g_minmax(F64, a, b, false, fl); }
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *fl) { return g_minmax(F64, a, b, true, fl); }
int f64_eq(uint64_t a, uint64_t b, uint32_t *fl) { return g_eq(F64, a, b, fl); }
int f64_lt(uint64_t a, uint64_t b, uint32_t *fl) { return g_lt(F64, a, b, false, fl); }
int f64_le(uint64_t a, uint64_t b, uint32_t *fl) { return g_lt(F64, a, b, true, fl); }
uint32_t f64_classify(uint64_t a) { return g_classify(F64, a); }

int32_t f64_to_i32(uint64_t a, int rm, uint32_t *fl)
{
    return (int32_t)(uint32_t)g_to_int(F64, a, 32, true, rm, fl);
}

uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *fl)
{
    return (uint32_t)g_to_int(F64, a, 32, false, rm, fl);
}

int64_t f64_to_i64(uint64_t a, int rm, uint32_t *fl)
{
    return (int64_t)g_to_int(F64, a, 64, true, rm, fl);
}

uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *fl)
{
    return g_to_int(F64, a, 64, false, rm, fl);
}

uint64_t i32_to_f64(int32_t v, int rm, uint32_t *fl)
{
    uint64_t mag = v < 0 ? -(uint64_t)(int64_t)v : (uint64_t)v;
    return g_from_int(F64, v < 0, mag, rm, fl);
}

uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *fl)
{
    return g_from_int(F64, 0, v, rm, fl);
}

uint64_t i64_to_f64(int64_t v, int rm, uint32_t *fl)
{
    uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
    return g_from_int(F64, v < 0, mag, rm, fl);
}

uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *fl)
{
    return g_from_int(F64, 0, v, rm, fl);
}

/* ------------------------------------------------------------------ */
/* binary32 <-> binary64                                               */
/* ------------------------------------------------------------------ */

uint64_t f32_to_f64(uint32_t a, uint32_t *fl)
{
    return g_convert(F32, F64, a, FPU_RNE, fl); /* always exact */
}

uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *fl)
{
    return (uint32_t)g_convert(F64, F32, a, rm, fl);
}
