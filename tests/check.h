/*
 * A minimal test harness: CHECK-style assertions that record failures and
 * keep going, plus helpers to find fixtures. Each test program ends with
 * `return check_summary();`, which prints "N passed, N failed" and returns
 * non-zero if anything failed.
 *
 *     static void conv_same_padding(void) { CHECK_EQ_INT(out[0], 4); }
 *     int main(void) { RUN(conv_same_padding); return check_summary(); }
 */
#ifndef VERGE_TESTS_CHECK_H
#define VERGE_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed;
static int check_failed;
static const char *check_current = "";

#define CHECK_FAIL_AT(file, line, ...)                                         \
    do {                                                                       \
        check_failed++;                                                        \
        fprintf(stderr, "%s:%d: %s: ", file, line, check_current);             \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
    } while (0)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond)                                                              \
            check_passed++;                                                    \
        else                                                                   \
            CHECK_FAIL_AT(__FILE__, __LINE__, "check failed: %s", #cond);      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        if (cond)                                                              \
            check_passed++;                                                    \
        else                                                                   \
            CHECK_FAIL_AT(__FILE__, __LINE__, __VA_ARGS__);                    \
    } while (0)

#define CHECK_EQ_INT(actual, expected)                                         \
    do {                                                                       \
        long long check_a_ = (long long)(actual);                              \
        long long check_e_ = (long long)(expected);                            \
        if (check_a_ == check_e_)                                              \
            check_passed++;                                                    \
        else                                                                   \
            CHECK_FAIL_AT(__FILE__, __LINE__, "%s = %lld, expected %lld",      \
                          #actual, check_a_, check_e_);                        \
    } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                \
    do {                                                                       \
        double check_a_ = (double)(actual);                                    \
        double check_e_ = (double)(expected);                                  \
        if (fabs(check_a_ - check_e_) <= (double)(tolerance))                  \
            check_passed++;                                                    \
        else                                                                   \
            CHECK_FAIL_AT(__FILE__, __LINE__, "%s = %.9g, expected %.9g +- %g",\
                          #actual, check_a_, check_e_, (double)(tolerance));   \
    } while (0)

/* Checks that a verge call returned `expected`, printing the error message otherwise. */
#define CHECK_STATUS(call, expected)                                           \
    do {                                                                       \
        int check_s_ = (int)(call);                                            \
        if (check_s_ == (int)(expected))                                       \
            check_passed++;                                                    \
        else                                                                   \
            CHECK_FAIL_AT(__FILE__, __LINE__, "%s returned %d (%s), expected %d",\
                          #call, check_s_, verge_error_message(), (int)(expected));\
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, VERGE_OK)

#define RUN(test_function)                                                     \
    do {                                                                       \
        check_current = #test_function;                                        \
        test_function();                                                       \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed == 0 && check_passed > 0 ? 0 : 1;
}

/*
 * Writes "$VERGE_TEST_DATA/name" (or "$VERGE_MODEL_DIR/name" for
 * check_model_path) into buf and returns buf. Exits the test with a message
 * when the variable is not set, since nothing can run without fixtures.
 */
static inline const char *check_env_path(const char *variable, const char *name, char *buf,
                                         size_t size)
{
    const char *dir = getenv(variable);

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "%s is not set: run the tests through ctest\n", variable);
        exit(2);
    }
    if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size) {
        fprintf(stderr, "fixture path %s/%s is too long\n", dir, name);
        exit(2);
    }
    return buf;
}

#define check_data_path(name, buf) check_env_path("VERGE_TEST_DATA", name, buf, sizeof(buf))
#define check_model_path(name, buf) check_env_path("VERGE_MODEL_DIR", name, buf, sizeof(buf))

#endif
