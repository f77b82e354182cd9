/*
 * Number text: verge_parse_double against strtod, verge_format_double
 * against Python's repr() and against printf's correctly rounded digits.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/signal.h"

/* xorshift64*: a fixed, portable sequence for random tests. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static double from_bits(uint64_t bits)
{
    double x;
    memcpy(&x, &bits, sizeof(x));
    return x;
}

static uint64_t to_bits(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    return bits;
}

static verge_number_kind parse(const char *text, double *value)
{
    return verge_parse_double(text, strlen(text), value);
}

static void parse_plain_numbers(void)
{
    static const struct {
        const char *text;
        double value;
    } cases[] = {
        {"0", 0.0},          {"1", 1.0},          {"316.1", 316.1},     {"+1.5", 1.5},
        {"-1.5", -1.5},      {".5", 0.5},         {"5.", 5.0},          {"1e3", 1000.0},
        {"1E+3", 1000.0},    {"1e-3", 0.001},     {"  2.25\t", 2.25},   {"007", 7.0},
        {"0.000", 0.0},      {"123456789012345678901234567890", 1.2345678901234568e29},
        {"1e23", 1e23},      {"9007199254740993", 9007199254740992.0},
        {"2.2250738585072011e-308", 2.2250738585072011e-308},
        {"4.9406564584124654e-324", 4.9406564584124654e-324},
        {"1.7976931348623157e308", DBL_MAX},
        {"0.1", 0.1},        {"123e30", 123e30},  {"1e-400", 0.0},
    };
    double value;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(parse(cases[i].text, &value), VERGE_NUMBER_VALUE);
        CHECK_MSG(to_bits(value) == to_bits(cases[i].value), "'%s' parsed as %.17g, expected %.17g",
                  cases[i].text, value, cases[i].value);
    }

    CHECK_EQ_INT(parse("-0", &value), VERGE_NUMBER_VALUE);
    CHECK(value == 0 && signbit(value));
    CHECK_EQ_INT(parse("1e999", &value), VERGE_NUMBER_VALUE);
    CHECK(value == INFINITY);
    CHECK_EQ_INT(parse("-1.8e308", &value), VERGE_NUMBER_VALUE);
    CHECK(value == -INFINITY);
}

static void parse_infinity_and_missing(void)
{
    static const char *const infinite[] = {"inf", "Inf", "INF", "+inf", "infinity", "Infinity"};
    static const char *const missing[] = {
        "",     " ",   "NA",     "N/A",     "n/a",  "NaN",     "nan",    "-NaN",    "-nan", "NULL",
        "null", "None", "<NA>", "#N/A", "#N/A N/A", "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN",
    };
    double value;

    for (size_t i = 0; i < sizeof(infinite) / sizeof(infinite[0]); i++) {
        CHECK_EQ_INT(parse(infinite[i], &value), VERGE_NUMBER_VALUE);
        CHECK_MSG(value == INFINITY, "'%s' parsed as %g", infinite[i], value);
    }
    CHECK_EQ_INT(parse("-Infinity", &value), VERGE_NUMBER_VALUE);
    CHECK(value == -INFINITY);
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        value = 0;
        CHECK_MSG(parse(missing[i], &value) == VERGE_NUMBER_MISSING, "'%s' is not missing",
                  missing[i]);
        CHECK(isnan(value));
    }
}

static void parse_rejects_non_numbers(void)
{
    static const char *const invalid[] = {
        "abc", "1.2.3", "1e",   "e5",     ".",    "-",     "+",    "0x1p3", "1,5",  "1 5",
        "--1", "nan1",  "1e5e5", "1..2",  "infx", "in",    "+-1",  "1e+",   "12a",  "\"1\"",
        "NAN", "nA",
    };
    double value;

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        CHECK_MSG(parse(invalid[i], &value) == VERGE_NUMBER_INVALID, "'%s' was accepted",
                  invalid[i]);

    /* Longer than the 511-character limit. */
    char long_text[600];
    memset(long_text, '1', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    CHECK_EQ_INT(parse(long_text, &value), VERGE_NUMBER_INVALID);

    /* The length bounds the text: bytes after it are never read. */
    CHECK_EQ_INT(verge_parse_double("12x", 2, &value), VERGE_NUMBER_VALUE);
    CHECK(value == 12.0);
}

/* Random decimal strings of every shape must parse exactly like strtod. */
static void parse_matches_strtod(void)
{
    char text[80];
    int mismatches = 0;

    for (int i = 0; i < 300000; i++) {
        const int digits = 1 + (int)(next_random() % 25);
        const int point = (int)(next_random() % (uint64_t)(digits + 1));
        int exponent = (int)(next_random() % 700) - 350;
        size_t n = 0;

        if (next_random() % 2)
            text[n++] = '-';
        for (int d = 0; d < digits; d++) {
            if (d == point && d > 0)
                text[n++] = '.';
            text[n++] = (char)('0' + next_random() % 10);
        }
        if (next_random() % 4 == 0)
            exponent = (int)(next_random() % 45) - 22;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "e%d", exponent);

        double expected = strtod(text, NULL);
        double value;
        if (verge_parse_double(text, n, &value) != VERGE_NUMBER_VALUE ||
            to_bits(value) != to_bits(expected)) {
            if (mismatches++ < 5)
                CHECK_MSG(0, "'%s' parsed as %.17g, strtod gives %.17g", text, value, expected);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
}

static void format_matches_python_repr(void)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {316.1, "316.1"},
        {2.0, "2.0"},
        {0.0001, "0.0001"},
        {1e-05, "1e-05"},
        {1e+16, "1e+16"},
        {1.5e+16, "1.5e+16"},
        {1000000000000000.0, "1000000000000000.0"},
        {1.2345678901234568e+17, "1.2345678901234568e+17"},
        {5e-324, "5e-324"},
        {1e-323, "1e-323"},
        {1.7976931348623157e+308, "1.7976931348623157e+308"},
        {0.30000000000000004, "0.30000000000000004"},
        {1e+22, "1e+22"},
        {1e+23, "1e+23"},
        {100.0, "100.0"},
        {0.3, "0.3"},
        {0.3333333333333333, "0.3333333333333333"},
        {0.6666666666666666, "0.6666666666666666"},
        {123.456, "123.456"},
        {0.00012, "0.00012"},
        {1234567890123456.8, "1234567890123456.8"},
        {1.2345678901234568e+16, "1.2345678901234568e+16"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {2.225073858507201e-308, "2.225073858507201e-308"},
        {9007199254740992.0, "9007199254740992.0"},
        {4.35, "4.35"},
        {9.999999999999999e-05, "9.999999999999999e-05"},
        {0.5, "0.5"},
        {-2.5e-08, "-2.5e-08"},
        {1e+100, "1e+100"},
        {1.2e-100, "1.2e-100"},
        {6.02214076e+23, "6.02214076e+23"},
        {299792458.0, "299792458.0"},
        {9223372036854775808.0, "9.223372036854776e+18"},
        {1e+21, "1e+21"},
        {1e-07, "1e-07"},
        {1.23e-18, "1.23e-18"},
        {0.1, "0.1"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {NAN, "nan"},
    };
    char buffer[VERGE_DOUBLE_TEXT_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t length = verge_format_double(cases[i].value, buffer);
        CHECK_MSG(strcmp(buffer, cases[i].text) == 0, "%.17g printed as '%s', expected '%s'",
                  cases[i].value, buffer, cases[i].text);
        CHECK_EQ_INT(length, strlen(cases[i].text));
    }
}

/* Splits decimal text into its significant digits and the exponent of the first one. */
static void normalize(const char *text, char *digits, int *exponent)
{
    const char *p = text;
    int point = -1; /* digits seen before the decimal point */
    int count = 0;
    int leading = 0;
    bool started = false;

    if (*p == '-')
        p++;
    for (; *p != '\0' && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            point = count + leading;
            continue;
        }
        if (!started && *p == '0') {
            leading++;
            continue;
        }
        started = true;
        digits[count++] = *p;
    }
    if (point < 0)
        point = count + leading;
    while (count > 0 && digits[count - 1] == '0')
        count--;
    digits[count] = '\0';
    *exponent = point - leading - 1 + (*p != '\0' ? atoi(p + 1) : 0);
}

/*
 * For random doubles of every exponent: the text reads back exactly, no text
 * with one digit fewer does (printf's nearest shorter decimal is checked,
 * which is inside the rounding interval whenever any shorter one is), and
 * the digits equal printf's correctly rounded ones at that length unless
 * those do not read back.
 */
static void format_is_shortest_round_trip(void)
{
    char text[VERGE_DOUBLE_TEXT_MAX];
    char reference[64];
    char digits[40];
    char reference_digits[40];
    int failures = 0;

    for (int i = 0; i < 400000; i++) {
        uint64_t bits = next_random();
        if (i % 4 == 0) /* short mantissas, which have short decimals */
            bits &= ~(((uint64_t)1 << (next_random() % 52)) - 1);
        if (i % 9 == 0) /* subnormals */
            bits &= ((uint64_t)1 << 63) | (((uint64_t)1 << 52) - 1);
        double x = from_bits(bits);
        if (!isfinite(x) || x == 0)
            continue;

        verge_format_double(x, text);
        double back = strtod(text, NULL);
        int exponent;
        int reference_exponent;
        normalize(text, digits, &exponent);
        const int length = (int)strlen(digits);

        bool ok = to_bits(back) == bits;
        snprintf(reference, sizeof(reference), "%.*e", length - 1, x);
        normalize(reference, reference_digits, &reference_exponent);
        /* printf breaks a tie to even; at a power of two that candidate can lie in the
           narrower lower half of the interval, outside it, and then only ours reads back. */
        ok = ok && ((strcmp(digits, reference_digits) == 0 && exponent == reference_exponent) ||
                    to_bits(strtod(reference, NULL)) != bits);
        if (length > 1) {
            snprintf(reference, sizeof(reference), "%.*e", length - 2, x);
            ok = ok && to_bits(strtod(reference, NULL)) != bits;
        }
        if (!ok && failures++ < 5)
            CHECK_MSG(0, "%a: '%s' (reads back as %.17g, printf: '%s')", x, text, back,
                      reference);
    }
    CHECK_EQ_INT(failures, 0);
}

/* Every binary exponent at its power of two, where the lower neighbour is closer. */
static void format_powers_of_two(void)
{
    char text[VERGE_DOUBLE_TEXT_MAX];
    int failures = 0;

    for (int e = -1074; e <= 1023; e++) {
        double x = ldexp(1.0, e);
        verge_format_double(x, text);
        if (strtod(text, NULL) != x && failures++ < 5)
            CHECK_MSG(0, "2^%d printed as '%s'", e, text);
        double below = nextafter(x, 0);
        verge_format_double(below, text);
        if (strtod(text, NULL) != below && failures++ < 5)
            CHECK_MSG(0, "nextafter(2^%d, 0) printed as '%s'", e, text);
    }
    CHECK_EQ_INT(failures, 0);
}

/* Formatting then parsing with verge's own parser is the identity. */
static void format_then_parse(void)
{
    char text[VERGE_DOUBLE_TEXT_MAX];
    int failures = 0;

    for (int i = 0; i < 200000; i++) {
        double x = from_bits(next_random());
        if (isnan(x))
            continue;
        size_t length = verge_format_double(x, text);
        double back;
        if ((verge_parse_double(text, length, &back) != VERGE_NUMBER_VALUE ||
             to_bits(back) != to_bits(x)) &&
            failures++ < 5)
            CHECK_MSG(0, "%a -> '%s' -> %a", x, text, back);
    }
    CHECK_EQ_INT(failures, 0);
}

int main(void)
{
    RUN(parse_plain_numbers);
    RUN(parse_infinity_and_missing);
    RUN(parse_rejects_non_numbers);
    RUN(parse_matches_strtod);
    RUN(format_matches_python_repr);
    RUN(format_is_shortest_round_trip);
    RUN(format_powers_of_two);
    RUN(format_then_parse);
    return check_summary();
}
