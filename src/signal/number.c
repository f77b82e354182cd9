/*
 * Decimal text <-> float64.
 *
 * Parsing: a decimal number whose significand is an integer up to 2^53 and
 * whose exponent is at most 22 in size is converted with one multiplication
 * or division by an exact power of ten (Clinger's fast path). Both operands
 * are exact doubles, so the single rounding is the correct one. Everything
 * else that is syntactically valid goes to strtod.
 *
 * Printing: the Schubfach method (R. Giulietti, "The Schubfach way to render
 * doubles", 2020). For v = c * 2^q it scales the rounding interval of v by
 * 10^-k with a 126-bit approximation g of 10^-k (pow10_table.h) and picks the
 * shortest decimal inside the interval, the nearest one on ties in length.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "signal/internal.h"
#include "verge/signal.h"

#include "signal/pow10_table.h"

/* --------------------------------------------------------------- parsing */

static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const char *const missing_markers[] = {
    "NA",    "N/A",     "n/a",  "NaN",     "nan",    "-NaN",   "-nan",    "NULL",    "null",
    "None",  "<NA>",    "#N/A", "#N/A N/A", "#NA",   "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN",
};

enum { PARSE_TEXT_MAX = VERGE_NUMBER_TEXT_MAX };

static bool is_missing_marker(const char *text, size_t length)
{
    for (size_t i = 0; i < VERGE_ARRAY_SIZE(missing_markers); i++) {
        if (strlen(missing_markers[i]) == length && memcmp(missing_markers[i], text, length) == 0)
            return true;
    }
    return false;
}

static bool equal_ignore_case(const char *text, size_t length, const char *word)
{
    if (strlen(word) != length)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

/* Converts validated decimal text with strtod, which rounds every input correctly. */
static verge_number_kind parse_slow(const char *text, size_t length, double *value)
{
    char copy[PARSE_TEXT_MAX + 1];
    char *end = NULL;

    if (length > PARSE_TEXT_MAX)
        return VERGE_NUMBER_INVALID;
    memcpy(copy, text, length);
    copy[length] = '\0';
    errno = 0;
    *value = strtod(copy, &end);
    /* ERANGE is expected for 1e999 (inf) and 1e-999 (0); the value is still the rounded one. */
    if (end != copy + length)
        return VERGE_NUMBER_INVALID;
    return VERGE_NUMBER_VALUE;
}

static verge_number_kind parse_number(const char *text, size_t length, double *value);

/*
 * The common case in one pass: [-]digits[.digits] with 1 to 19 digits, at
 * most 22 after the point and a significand up to 2^53, which Clinger's fast
 * path converts exactly. Returns false for anything else (spaces, signs,
 * exponents, long or odd text), which parse_number() handles; for what it
 * accepts, parse_number() gives the same value.
 */
static inline bool parse_plain(const char *text, size_t length, double *value)
{
    const char *p = text;
    const char *end = text + length;
    const bool negative = length > 0 && *p == '-';
    const char *point = NULL;
    uint64_t significand = 0; /* wraps for more than 19 digits, which are rejected below */

    p += negative;
    const char *first = p;
    for (; p < end; p++) {
        const unsigned digit = (unsigned)(unsigned char)*p - '0';
        if (digit < 10)
            significand = significand * 10 + digit;
        else if (*p == '.' && point == NULL)
            point = p;
        else
            return false;
    }
    const size_t digits = (size_t)(end - first) - (point != NULL);
    const size_t decimals = point != NULL ? (size_t)(end - point - 1) : 0;
    if (digits == 0 || digits > 19 || decimals > 22 || significand > ((uint64_t)1 << 53))
        return false;
    double result = (double)significand;
    if (decimals > 0)
        result /= exact_pow10[decimals];
    *value = negative ? -result : result;
    return true;
}

verge_number_kind verge_parse_double(const char *text, size_t length, double *value)
{
    if (parse_plain(text, length, value))
        return VERGE_NUMBER_VALUE;

    verge_number_kind kind = parse_number(text, length, value);

    /* Markers are looked up only for text that is not a number, which keeps numbers fast. */
    if (kind == VERGE_NUMBER_INVALID) {
        while (length > 0 && (*text == ' ' || *text == '\t')) {
            text++;
            length--;
        }
        while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t'))
            length--;
        if (is_missing_marker(text, length)) {
            *value = NAN;
            return VERGE_NUMBER_MISSING;
        }
    }
    return kind;
}

static verge_number_kind parse_number(const char *text, size_t length, double *value)
{
    const char *p = text;
    const char *end = text + length;
    uint64_t significand = 0;
    int digits = 0;     /* significant digits kept in `significand` */
    int exponent = 0;   /* decimal exponent applied to `significand` */
    bool any_digit = false;
    bool inexact = false; /* a non-zero digit beyond the 19 kept ones */
    bool negative = false;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    text = p;
    length = (size_t)(end - p);

    if (length == 0) {
        *value = NAN;
        return VERGE_NUMBER_MISSING;
    }

    if (*p == '+' || *p == '-') {
        negative = *p == '-';
        p++;
    }
    if (p < end && !(*p >= '0' && *p <= '9') && *p != '.') {
        if (equal_ignore_case(p, (size_t)(end - p), "inf") ||
            equal_ignore_case(p, (size_t)(end - p), "infinity")) {
            *value = negative ? -INFINITY : INFINITY;
            return VERGE_NUMBER_VALUE;
        }
        return VERGE_NUMBER_INVALID;
    }

    while (p < end && *p == '0') {
        any_digit = true;
        p++;
    }
    while (p < end && *p >= '0' && *p <= '9') {
        any_digit = true;
        if (digits < 19) {
            significand = significand * 10 + (uint64_t)(*p - '0');
            digits++;
        } else {
            exponent++;
            inexact |= *p != '0';
        }
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (digits == 0) {
            while (p < end && *p == '0') {
                any_digit = true;
                exponent--;
                p++;
            }
        }
        while (p < end && *p >= '0' && *p <= '9') {
            any_digit = true;
            if (digits < 19) {
                significand = significand * 10 + (uint64_t)(*p - '0');
                digits++;
                exponent--;
            } else {
                inexact |= *p != '0';
            }
            p++;
        }
    }
    if (!any_digit)
        return VERGE_NUMBER_INVALID;
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool exponent_negative = false;
        int written = 0;
        bool exponent_digit = false;

        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            exponent_negative = *p == '-';
            p++;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            exponent_digit = true;
            if (written < 100000)
                written = written * 10 + (*p - '0');
            p++;
        }
        if (!exponent_digit)
            return VERGE_NUMBER_INVALID;
        exponent += exponent_negative ? -written : written;
    }
    if (p != end)
        return VERGE_NUMBER_INVALID;

    if (significand == 0 && !inexact) {
        *value = negative ? -0.0 : 0.0;
        return VERGE_NUMBER_VALUE;
    }
    if (!inexact && significand <= ((uint64_t)1 << 53)) {
        double result = (double)significand;
        bool fast = true;

        if (exponent < 0 && exponent >= -22) {
            result /= exact_pow10[-exponent];
        } else if (exponent >= 0 && exponent <= 22) {
            result *= exact_pow10[exponent];
        } else if (exponent > 22 && exponent <= 22 + 15) {
            /* 123e30 = (123 * 10^8) * 10^22 when the first product stays exact. */
            uint64_t scaled = significand;
            for (int i = 22; i < exponent && fast; i++) {
                if (scaled > ((uint64_t)1 << 53) / 10)
                    fast = false;
                scaled *= 10;
            }
            result = (double)scaled * exact_pow10[22];
        } else {
            fast = false;
        }
        if (fast) {
            *value = negative ? -result : result;
            return VERGE_NUMBER_VALUE;
        }
    }
    return parse_slow(text, length, value);
}

/* -------------------------------------------------------------- printing */

enum {
    DOUBLE_P = 53,        /* significand bits, including the hidden one */
    DOUBLE_Q_MIN = -1074, /* exponent of the smallest subnormal */
};
#define DOUBLE_C_MIN ((uint64_t)1 << (DOUBLE_P - 1))

/* floor(e * log10(2)), valid for |e| <= 5456721. */
static inline int floor_log10_pow2(int e)
{
    return (int)(((int64_t)e * 661971961083LL) >> 41);
}

/* floor(e * log10(2) + log10(3/4)). */
static inline int floor_log10_three_quarters_pow2(int e)
{
    return (int)(((int64_t)e * 661971961083LL - 274743187321LL) >> 41);
}

/* floor(e * log2(10)), valid for |e| <= 1650. */
static inline int floor_log2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

static inline uint64_t multiply_high(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/*
 * Returns cp * g / 2^127 rounded to odd: truncated, with the lowest bit set
 * when any fraction was dropped, which keeps the comparisons below exact.
 */
static inline uint64_t round_to_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x1 = multiply_high(g0, cp);
    uint64_t y0 = g1 * cp;
    uint64_t y1 = multiply_high(g1, cp);
    uint64_t z = (y0 >> 1) + x1;
    uint64_t result = y1 + (z >> 63);
    uint64_t mask63 = ((uint64_t)1 << 63) - 1;

    return result | (((z & mask63) + mask63) >> 63);
}

/* A decimal significand and exponent: value = digits * 10^exponent. */
typedef struct decimal {
    uint64_t digits;
    int exponent;
} decimal;

/* Returns the shortest decimal in the rounding interval of c * 2^q (nearest on ties). */
static decimal shortest_decimal(int q, uint64_t c)
{
    const uint64_t out = c & 1; /* odd c: interval bounds round away, so they are excluded */
    const uint64_t cb = c << 2;
    const uint64_t cbr = cb + 2;
    uint64_t cbl;
    int k;

    if (c != DOUBLE_C_MIN || q == DOUBLE_Q_MIN) {
        cbl = cb - 2;
        k = floor_log10_pow2(q);
    } else {
        /* At a power of two the next lower double is half as far away. */
        cbl = cb - 1;
        k = floor_log10_three_quarters_pow2(q);
    }
    const int h = q + floor_log2_pow10(-k) + 2;
    const uint64_t g1 = verge_pow10_g[k - VERGE_POW10_K_MIN][0];
    const uint64_t g0 = verge_pow10_g[k - VERGE_POW10_K_MIN][1];

    const uint64_t vb = round_to_odd(g1, g0, cb << h);
    const uint64_t vbl = round_to_odd(g1, g0, cbl << h);
    const uint64_t vbr = round_to_odd(g1, g0, cbr << h);

    const uint64_t s = vb >> 2;
    if (s >= 100) {
        /* One digit fewer: the multiples of ten around s. At most one is inside the interval. */
        const uint64_t sp10 = 10 * (s / 10);
        const uint64_t tp10 = sp10 + 10;
        const bool upin = vbl + out <= sp10 << 2;
        const bool wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin)
            return (decimal){upin ? sp10 : tp10, k};
    }

    const uint64_t t = s + 1;
    const bool uin = vbl + out <= s << 2;
    const bool win = (t << 2) + out <= vbr;
    if (uin != win)
        return (decimal){uin ? s : t, k};

    /* Both s and t are inside: take the nearer, the even one on a tie. */
    const int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    const bool take_s = cmp < 0 || (cmp == 0 && (s & 1) == 0);
    return (decimal){take_s ? s : t, k};
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

static const uint64_t powers_of_ten[20] = {
    1u,
    10u,
    100u,
    1000u,
    10000u,
    100000u,
    1000000u,
    10000000u,
    100000000u,
    1000000000u,
    10000000000u,
    100000000000u,
    1000000000000u,
    10000000000000u,
    100000000000000u,
    1000000000000000u,
    10000000000000000u,
    100000000000000000u,
    1000000000000000000u,
    10000000000000000000u,
};

/* Returns the number of decimal digits of n > 0. */
static inline int digit_count(uint64_t n)
{
    /* With log10(2) ~ 1233 / 4096, t is the count or one less. */
    const int bits = 64 - __builtin_clzll(n);
    const int t = (bits * 1233) >> 12;
    return t + (n >= powers_of_ten[t]);
}

/* Returns v < 10^8 as eight ASCII digits, the most significant in the lowest byte. */
static inline uint64_t eight_digits(uint32_t v)
{
    /*
     * SWAR: split into 4-digit halves (one per 32-bit lane), then 2-digit
     * quarters, then digits, with exact division by multiplication:
     * n / 100 = (n * 10486) >> 20 for n < 10^4, n / 10 = (n * 103) >> 10
     * for n < 100.
     */
    uint64_t x = (uint64_t)(v / 10000) | ((uint64_t)(v % 10000) << 32);
    const uint64_t hundreds = ((x * 10486) >> 20) & 0x0000007F0000007Fu;
    x = hundreds | ((x - hundreds * 100) << 16);
    const uint64_t tens = ((x * 103) >> 10) & 0x000F000F000F000Fu;
    x = tens | ((x - tens * 10) << 8);
    return x | 0x3030303030303030u;
}

/* The 17 digits of a significand left-aligned to 17 digits, as one char and two 8-byte groups. */
typedef struct digit_string {
    char first;
    uint64_t middle; /* digits 1..8, digit 1 in the lowest byte */
    uint64_t last;   /* digits 9..16 */
} digit_string;

static inline digit_string make_digits(uint64_t n, int count)
{
    const uint64_t aligned = n * powers_of_ten[17 - count];
    /* One 64-bit division splits off the last eight digits; the first nine fit in 32 bits. */
    const uint64_t high = aligned / 100000000u;
    const uint32_t low = (uint32_t)(aligned - high * 100000000u);
    const uint32_t first = (uint32_t)high / 100000000u;
    digit_string d;

    d.first = (char)('0' + first);
    d.middle = eight_digits((uint32_t)high - first * 100000000u);
    /* Numbers of up to nine digits end in eight zeros, which need no conversion. */
    d.last = low != 0 ? eight_digits(low) : 0x3030303030303030u;
    return d;
}

/* Writes the 17 digits at out[0..17). */
static inline void store_digits(const digit_string *d, char *out)
{
    out[0] = d->first;
    memcpy(out + 1, &d->middle, 8);
    memcpy(out + 9, &d->last, 8);
}

/* Writes digits from..16 at out[0..17 - from), from in 1..16, with up to 16 bytes of stores. */
static inline void store_digits_from(const digit_string *d, int from, char *out)
{
    const int shift = from - 1; /* bytes to drop from `middle` */
    uint64_t low;
    uint64_t high;

    if (shift == 0) {
        low = d->middle;
        high = d->last;
    } else if (shift < 8) {
        low = (d->middle >> (8 * shift)) | (d->last << (64 - 8 * shift));
        high = d->last >> (8 * shift);
    } else {
        low = shift == 8 ? d->last : d->last >> (8 * (shift - 8));
        high = 0;
    }
    memcpy(out, &low, 8);
    memcpy(out + 8, &high, 8);
}

/*
 * Lays out digits * 10^exponent like Python's repr(): positional notation
 * when the decimal point falls within -4 < point <= 16, scientific otherwise.
 * `all` is the number of digits of d.digits (at most 17, trailing zeros
 * included). Digits are written in fixed-size pieces straight to the output,
 * which may write scratch bytes up to VERGE_DOUBLE_TEXT_MAX past `buffer`.
 */
static inline __attribute__((always_inline)) size_t layout_decimal(bool negative, decimal d,
                                                                  int all, char *buffer)
{
    char *p = buffer;
    const int point = all + d.exponent;    /* value = 0.DIGITS * 10^point */
    int count;                             /* digits without the trailing zeros */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const digit_string digits = make_digits(d.digits, all);
    const uint64_t zeros = 0x3030303030303030u;
    /* Trailing '0' characters are the high zero bytes of (digits ^ "00000000"). */
    if ((digits.last ^ zeros) != 0)
        count = 17 - (__builtin_clzll(digits.last ^ zeros) >> 3);
    else if ((digits.middle ^ zeros) != 0)
        count = 9 - (__builtin_clzll(digits.middle ^ zeros) >> 3);
    else
        count = 1;
#define STORE_DIGITS(out) store_digits(&digits, out)
#define STORE_DIGITS_FROM(from, out) store_digits_from(&digits, from, out)
#else
    char text[48];
    uint64_t n = d.digits;
    memset(text, '0', sizeof(text));
    for (int i = all; i-- > 0; n /= 10)
        text[i] = (char)('0' + n % 10);
    count = all;
    while (text[count - 1] == '0')
        count--;
#define STORE_DIGITS(out) memcpy(out, text, 17)
#define STORE_DIGITS_FROM(from, out) memcpy(out, text + (from), 16)
#endif

    *p = '-';
    p += negative;
    if (point > -4 && point <= 16) {
        if (point <= 0) {
            memcpy(p, "0.000", 5);
            p += 2 - point;
            STORE_DIGITS(p);
            p += count;
        } else if (point >= count) {
            STORE_DIGITS(p);
            p += count;
            memcpy(p, "0000000000000000", 16);
            p += point - count;
            memcpy(p, ".0", 2);
            p += 2;
        } else {
            STORE_DIGITS(p);
            p[point] = '.';
            STORE_DIGITS_FROM(point, p + point + 1);
            p += count + 1;
        }
    } else {
        int e = point - 1;

        STORE_DIGITS(p);
        if (count > 1) {
            p[1] = '.';
            STORE_DIGITS_FROM(1, p + 2);
            p += count + 1;
        } else {
            p += 1;
        }
        p[0] = 'e';
        p[1] = e < 0 ? '-' : '+';
        p += 2;
        e = e < 0 ? -e : e;
        if (e >= 100) {
            *p++ = (char)('0' + e / 100);
            e %= 100;
        }
        memcpy(p, digit_pairs + 2 * e, 2);
        p += 2;
    }
#undef STORE_DIGITS
#undef STORE_DIGITS_FROM
    *p = '\0';
    return (size_t)(p - buffer);
}

size_t verge_format_double(double value, char *buffer)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    const bool negative = (bits >> 63) != 0;
    const uint64_t fraction = bits & (DOUBLE_C_MIN - 1);
    const int biased = (int)((bits >> (DOUBLE_P - 1)) & 0x7ff);

    if (biased == 0x7ff) {
        const char *text = fraction != 0 ? "nan" : negative ? "-inf" : "inf";
        size_t length = strlen(text);
        memcpy(buffer, text, length + 1);
        return length;
    }
    if (biased == 0 && fraction == 0) {
        const char *text = negative ? "-0.0" : "0.0";
        size_t length = strlen(text);
        memcpy(buffer, text, length + 1);
        return length;
    }

    decimal d;
    if (biased != 0) {
        const int shift = -DOUBLE_Q_MIN + 1 - biased; /* -q */
        const uint64_t c = DOUBLE_C_MIN | fraction;

        /* Integers below 2^53 print exactly, which is also the shortest form. */
        if (shift > 0 && shift < DOUBLE_P && ((c >> shift) << shift) == c) {
            d = (decimal){c >> shift, 0};
            return layout_decimal(negative, d, digit_count(d.digits), buffer);
        }
        /*
         * For c in [2^52, 2^53) the shortest decimal comes as 16 or 17 digits
         * (trailing zeros included): c * 2^q * 10^-k lies in [2^52, 10 * 2^53).
         */
        d = shortest_decimal(-shift, c);
        return layout_decimal(negative, d, 16 + (d.digits >= 10000000000000000u), buffer);
    }
    d = shortest_decimal(DOUBLE_Q_MIN, fraction);
    return layout_decimal(negative, d, digit_count(d.digits), buffer);
}
