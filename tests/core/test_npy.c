#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "verge/npy.h"

/* Builds a version 1.0 .npy image from a header dictionary and raw data. */
static size_t build_npy(uint8_t *out, const char *dict, const void *data, size_t bytes)
{
    size_t length = strlen(dict);

    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)(length & 0xff);
    out[9] = (uint8_t)(length >> 8);
    memcpy(out + 10, dict, length);
    memcpy(out + 10 + length, data, bytes);
    return 10 + length + bytes;
}

static void reads_golden_input(void)
{
    char path[512];
    verge_array array;

    CHECK_OK(verge_npy_read(
        check_data_path("golden/const/face_detection_short_range.tflite/input_0.npy", path),
        &array));
    CHECK_EQ_INT(array.dtype, VERGE_DTYPE_FLOAT32);
    CHECK_EQ_INT(array.rank, 4);
    CHECK_EQ_INT(array.dims[1], 128);
    CHECK_EQ_INT(array.dims[3], 3);
    CHECK_EQ_INT(array.bytes, 128 * 128 * 3 * 4);
    if (array.data != NULL) {
        CHECK_NEAR(((float *)array.data)[0], 0.5, 0.0);
        CHECK_NEAR(((float *)array.data)[128 * 128 * 3 - 1], 0.5, 0.0);
    }
    verge_array_free(&array);
}

static void big_endian_int32(void)
{
    const uint8_t data[] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe};
    uint8_t file[256];
    size_t size = build_npy(file, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }\n",
                            data, sizeof(data));
    verge_array array;

    CHECK_OK(verge_npy_parse(file, size, "be.npy", &array));
    CHECK_EQ_INT(array.dtype, VERGE_DTYPE_INT32);
    if (array.data != NULL) {
        CHECK_EQ_INT(((int32_t *)array.data)[0], 1);
        CHECK_EQ_INT(((int32_t *)array.data)[1], -2);
    }
    verge_array_free(&array);
}

static void fortran_order_transposes(void)
{
    /* A 2x3 matrix [[1,2,3],[4,5,6]] stored column by column. */
    const double column_major[] = {1, 4, 2, 5, 3, 6};
    uint8_t file[256];
    size_t size = build_npy(file, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }\n",
                            column_major, sizeof(column_major));
    verge_array array;

    CHECK_OK(verge_npy_parse(file, size, "f.npy", &array));
    if (array.data != NULL) {
        const double *v = array.data;
        for (int i = 0; i < 6; i++)
            CHECK_NEAR(v[i], i + 1, 0.0);
    }
    verge_array_free(&array);
}

static void scalar_and_bool(void)
{
    const uint8_t flags[] = {1, 0, 1};
    const uint8_t bad_flags[] = {1, 2, 1};
    const int64_t value = -7;
    uint8_t file[256];
    size_t size;
    verge_array array;

    size = build_npy(file, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &value, 8);
    CHECK_OK(verge_npy_parse(file, size, "s.npy", &array));
    CHECK_EQ_INT(array.rank, 0);
    if (array.data != NULL)
        CHECK_EQ_INT(*(int64_t *)array.data, -7);
    verge_array_free(&array);

    size = build_npy(file, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", flags, 3);
    CHECK_OK(verge_npy_parse(file, size, "b.npy", &array));
    verge_array_free(&array);

    size = build_npy(file, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bad_flags,
                     3);
    CHECK_STATUS(verge_npy_parse(file, size, "b.npy", &array), VERGE_STATUS_INVALID_DATA);
}

static void rejects_bad_headers(void)
{
    static const struct {
        const char *dict;
        int status;
    } cases[] = {
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", VERGE_STATUS_UNSUPPORTED},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", VERGE_STATUS_UNSUPPORTED},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", VERGE_STATUS_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
         VERGE_STATUS_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", VERGE_STATUS_INVALID_DATA},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", VERGE_STATUS_INVALID_DATA},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1), }",
         VERGE_STATUS_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }",
         VERGE_STATUS_INVALID_DATA},
        {"{'descr': '<f4', 'shape': (1,), }", VERGE_STATUS_INVALID_DATA},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", VERGE_STATUS_INVALID_DATA},
        {"['descr']", VERGE_STATUS_INVALID_DATA},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", VERGE_STATUS_INVALID_DATA},
    };
    const float one = 1.0f;
    uint8_t file[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t size = build_npy(file, cases[i].dict, &one, sizeof(one));
        verge_array array;

        CHECK_STATUS(verge_npy_parse(file, size, "bad.npy", &array), cases[i].status);
        CHECK(array.data == NULL);
    }
}

/* Each malformed file gets a message that names what is wrong with it. */
static void messages_name_the_problem(void)
{
    static const struct {
        const char *dict;
        const char *message;
    } cases[] = {
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
         "structured arrays"},
        {"{'descr': '<f4\x01', 'fortran_order': False, 'shape': (1,), }", "quoted dtype"},
        {"{'descr': ", "quoted dtype"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,), }",
         "dimension 0 is followed by '.'"},
    };
    const float one = 1.0f;
    uint8_t file[256];
    verge_array array;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t size = build_npy(file, cases[i].dict, &one, sizeof(one));

        CHECK(verge_npy_parse(file, size, "bad.npy", &array) != VERGE_OK);
        CHECK_MSG(strstr(verge_error_message(), cases[i].message) != NULL, "%s: %s",
                  cases[i].dict, verge_error_message());
    }

    CHECK_STATUS(verge_npy_parse(file, 0, "empty.npy", &array), VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "empty") != NULL);
    CHECK_STATUS(verge_npy_parse((const uint8_t *)"\x93NUMPY\x01", 7, "short.npy", &array),
                 VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "truncated") != NULL);
    CHECK_STATUS(verge_npy_parse((const uint8_t *)"GIF89a\x01\x00\x00\x00", 10, "gif.npy",
                                 &array), VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "not a .npy file") != NULL);
}

static void truncated_files_fail_cleanly(void)
{
    const float values[] = {1, 2, 3, 4};
    uint8_t file[256];
    size_t size = build_npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                            values, sizeof(values));
    int failures = 0;

    for (size_t cut = 0; cut < size; cut++) {
        verge_array array;
        /* A private copy of the cut length, so that ASan reports any read past the cut. */
        uint8_t *copy = malloc(cut ? cut : 1);

        memcpy(copy, file, cut);
        if (verge_npy_parse(copy, cut, "cut.npy", &array) != VERGE_OK)
            failures++;
        verge_array_free(&array);
        free(copy);
    }
    CHECK_EQ_INT(failures, (long long)size);
}

static void write_then_read(void)
{
    char dir[] = "/tmp/verge-npy-XXXXXX";
    char path[512];
    const int32_t dims[] = {2, 3};
    const float values[] = {0.5f, -1, 2, 3e10f, -0.0f, 7};
    verge_array array;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/a.npy", dir);
    CHECK_OK(verge_npy_write(path, VERGE_DTYPE_FLOAT32, 2, dims, values));
    CHECK_OK(verge_npy_read(path, &array));
    CHECK_EQ_INT(array.rank, 2);
    CHECK_EQ_INT(array.dims[1], 3);
    CHECK(array.data != NULL);
    if (array.data != NULL)
        CHECK(memcmp(array.data, values, sizeof(values)) == 0);
    verge_array_free(&array);
    unlink(path);
    rmdir(dir);

    CHECK_STATUS(verge_npy_read("/nonexistent/x.npy", &array), VERGE_STATUS_NOT_FOUND);
}

/* Builds a version 2.0 or 3.0 image, whose header length takes four bytes. */
static size_t build_npy_v2(uint8_t *out, int major, int minor, const char *dict, const void *data,
                           size_t bytes)
{
    size_t length = strlen(dict);

    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = (uint8_t)minor;
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(length >> (8 * i));
    memcpy(out + 12, dict, length);
    memcpy(out + 12 + length, data, bytes);
    return 12 + length + bytes;
}

/*
 * Every dtype the reader accepts, little- and big-endian: the values -2
 * and 3 (1 and 0 for bool) come back in native order. One-byte types also
 * take '|' (no byte order).
 */
static void dtypes_both_byte_orders(void)
{
    static const struct {
        const char *code;   /* without the byte-order character */
        verge_dtype dtype;
        int size;
    } types[] = {
        {"f4", VERGE_DTYPE_FLOAT32, 4}, {"f8", VERGE_DTYPE_FLOAT64, 8},
        {"i1", VERGE_DTYPE_INT8, 1},    {"u1", VERGE_DTYPE_UINT8, 1},
        {"i4", VERGE_DTYPE_INT32, 4},   {"i8", VERGE_DTYPE_INT64, 8},
        {"b1", VERGE_DTYPE_BOOL, 1},
    };
    static const char orders[] = {'<', '>', '|'};

    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (size_t o = 0; o < sizeof(orders); o++) {
            const int size = types[t].size;
            double expected[2];
            uint8_t little[16] = {0}, data[16], file[256];
            char dict[128];
            verge_array array;

            if (orders[o] == '|' && size > 1)
                continue;
            /* Little-endian bytes of both values, then reversed per element for '>'. */
            if (types[t].dtype == VERGE_DTYPE_BOOL) {
                expected[0] = 1;
                expected[1] = 0;
                little[0] = 1;
            } else if (types[t].dtype == VERGE_DTYPE_FLOAT32) {
                const float v[2] = {-2.0f, 3.0f};

                expected[0] = -2;
                expected[1] = 3;
                memcpy(little, v, sizeof(v));
            } else if (types[t].dtype == VERGE_DTYPE_FLOAT64) {
                const double v[2] = {-2.0, 3.0};

                expected[0] = -2;
                expected[1] = 3;
                memcpy(little, v, sizeof(v));
            } else {
                const int64_t v[2] = {types[t].dtype == VERGE_DTYPE_UINT8 ? 254 : -2, 3};

                expected[0] = (double)v[0];
                expected[1] = 3;
                for (int e = 0; e < 2; e++)
                    for (int b = 0; b < size; b++)
                        little[e * size + b] = (uint8_t)((uint64_t)v[e] >> (8 * b));
            }
            for (int e = 0; e < 2; e++)
                for (int b = 0; b < size; b++)
                    data[e * size + b] = orders[o] == '>' ? little[e * size + size - 1 - b]
                                                          : little[e * size + b];

            snprintf(dict, sizeof(dict),
                     "{'descr': '%c%s', 'fortran_order': False, 'shape': (2,), }", orders[o],
                     types[t].code);
            CHECK_OK(verge_npy_parse(file, build_npy(file, dict, data, 2 * (size_t)size), "t.npy",
                                     &array));
            CHECK_MSG(array.dtype == types[t].dtype, "%s: dtype %d", dict, (int)array.dtype);
            if (array.data != NULL && array.dtype == types[t].dtype) {
                for (int e = 0; e < 2; e++) {
                    const uint8_t *p = (const uint8_t *)array.data + e * size;
                    double got;

                    switch (array.dtype) {
                    case VERGE_DTYPE_FLOAT32: got = *(const float *)p; break;
                    case VERGE_DTYPE_FLOAT64: got = *(const double *)p; break;
                    case VERGE_DTYPE_INT8: got = *(const int8_t *)p; break;
                    case VERGE_DTYPE_INT32: got = *(const int32_t *)p; break;
                    case VERGE_DTYPE_INT64: got = (double)*(const int64_t *)p; break;
                    default: got = *p; break;
                    }
                    CHECK_MSG(got == expected[e], "%s element %d: %g, expected %g", dict, e, got,
                              expected[e]);
                }
            }
            verge_array_free(&array);
        }
    }
}

/* A big-endian int64 array of rank 3 in Fortran order: byte swap and transposition together. */
static void fortran_rank3_big_endian(void)
{
    /* x[i][j][k] = 100 i + 10 j + k for shape (2, 3, 2), stored with i varying fastest. */
    uint8_t data[12 * 8], file[512];
    verge_array array;
    size_t size;
    int f = 0;

    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++, f++)
                for (int b = 0; b < 8; b++)
                    data[f * 8 + b] = (uint8_t)((uint64_t)(100 * i + 10 * j + k) >> (56 - 8 * b));
    size = build_npy(file, "{'descr': '>i8', 'fortran_order': True, 'shape': (2, 3, 2), }",
                     data, sizeof(data));
    CHECK_OK(verge_npy_parse(file, size, "f3.npy", &array));
    CHECK_EQ_INT(array.rank, 3);
    if (array.data != NULL) {
        const int64_t *v = array.data;

        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 2; k++)
                    CHECK_EQ_INT(v[(i * 3 + j) * 2 + k], 100 * i + 10 * j + k);
    }
    verge_array_free(&array);
}

/*
 * Versions 2.0 and 3.0 read like 1.0, and other versions (a minor version
 * other than 0 included) are rejected. Empty arrays read with no data, and
 * a shape whose size overflows is rejected before any allocation.
 */
static void versions_empty_and_overflow(void)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    const float values[] = {1.5f, -2.5f};
    uint8_t file[256];
    verge_array array;
    size_t size;

    for (int major = 2; major <= 3; major++) {
        size = build_npy_v2(file, major, 0, dict, values, sizeof(values));
        CHECK_OK(verge_npy_parse(file, size, "v.npy", &array));
        CHECK(array.data != NULL);
        CHECK(array.data == NULL || memcmp(array.data, values, sizeof(values)) == 0);
        verge_array_free(&array);
    }
    size = build_npy_v2(file, 2, 1, dict, values, sizeof(values));
    CHECK_STATUS(verge_npy_parse(file, size, "v21.npy", &array), VERGE_STATUS_UNSUPPORTED);
    CHECK(strstr(verge_error_message(), "version 2.1") != NULL);
    size = build_npy_v2(file, 4, 0, dict, values, sizeof(values));
    CHECK_STATUS(verge_npy_parse(file, size, "v4.npy", &array), VERGE_STATUS_UNSUPPORTED);
    size = build_npy(file, dict, values, sizeof(values));
    file[7] = 5;
    CHECK_STATUS(verge_npy_parse(file, size, "v15.npy", &array), VERGE_STATUS_UNSUPPORTED);
    CHECK(strstr(verge_error_message(), "version 1.5") != NULL);

    size = build_npy(file, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 0, 3), }",
                     values, 0);
    CHECK_OK(verge_npy_parse(file, size, "empty.npy", &array));
    CHECK_EQ_INT(array.rank, 3);
    CHECK_EQ_INT(array.dims[1], 0);
    CHECK_EQ_INT(array.bytes, 0);
    verge_array_free(&array);

    size = build_npy(file, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (2147483647, 2147483647, 2147483647), }", values, 0);
    CHECK_STATUS(verge_npy_parse(file, size, "huge.npy", &array), VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "overflows") != NULL);
    CHECK(array.data == NULL);
}

int main(void)
{
    RUN(reads_golden_input);
    RUN(big_endian_int32);
    RUN(fortran_order_transposes);
    RUN(scalar_and_bool);
    RUN(rejects_bad_headers);
    RUN(messages_name_the_problem);
    RUN(truncated_files_fail_cleanly);
    RUN(write_then_read);
    RUN(dtypes_both_byte_orders);
    RUN(fortran_rank3_big_endian);
    RUN(versions_empty_and_overflow);
    return check_summary();
}
