/* DEQUANTIZE: float16 specials and every bit pattern, int8/uint8/int16 per tensor and channel. */
#include <stdint.h>

#include "check.h"
#include "ops/op_test.h"

static uint32_t float_bits(float f)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

/* Decodes binary16 from its definition, in float64, for comparison. */
static double half_value(uint16_t h)
{
    int sign = h >> 15;
    int exponent = (h >> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    double magnitude;

    if (exponent == 0x1f)
        magnitude = mantissa ? NAN : INFINITY;
    else if (exponent == 0)
        magnitude = ldexp(mantissa, -24);
    else
        magnitude = ldexp(1024 + mantissa, exponent - 25);
    return sign ? -magnitude : magnitude;
}

static void dequantize_f16_specials(void)
{
    const uint16_t halves[12] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00,
                                 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555};
    op_test t;

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    op_test_input(&t, VERGE_DTYPE_FLOAT16, 2, (int32_t[]){3, 4}, halves, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 4}));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_FLOAT32);
    const float *out = op_test_out(&t)->data;
    CHECK_EQ_INT(float_bits(out[0]), 0x00000000u);          /* +0 */
    CHECK_EQ_INT(float_bits(out[1]), 0x80000000u);          /* -0 keeps its sign */
    CHECK_NEAR(out[2], 5.9604644775390625e-08, 0);          /* smallest subnormal, 2^-24 */
    CHECK_NEAR(out[3], 6.097555160522461e-05, 0);           /* largest subnormal, 1023 * 2^-24 */
    CHECK_NEAR(out[4], 6.103515625e-05, 0);                 /* smallest normal, 2^-14 */
    CHECK_NEAR(out[5], 1.0, 0);
    CHECK_NEAR(out[6], -2.0, 0);
    CHECK_NEAR(out[7], 65504.0, 0);                         /* largest finite */
    CHECK_EQ_INT(float_bits(out[8]), 0x7f800000u);          /* +inf */
    CHECK_EQ_INT(float_bits(out[9]), 0xff800000u);          /* -inf */
    CHECK_EQ_INT(float_bits(out[10]), 0x7fc00000u);         /* quiet NaN */
    CHECK_NEAR(out[11], 0.333251953125, 0);                 /* 1.0101010101b * 2^-2 */
    op_test_free(&t);
}

static void dequantize_f16_every_pattern(void)
{
    static uint16_t halves[65536];
    int mismatches = 0;
    op_test t;

    for (int i = 0; i < 65536; i++)
        halves[i] = (uint16_t)i;
    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    op_test_input(&t, VERGE_DTYPE_FLOAT16, 1, (int32_t[]){65536}, halves,
                  VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    const float *out = op_test_out(&t)->data;
    for (int i = 0; i < 65536; i++) {
        double want = half_value((uint16_t)i);
        bool same_sign = (signbit(out[i]) != 0) == (signbit(want) != 0);
        bool same = isnan(want) ? isnan(out[i]) && same_sign
                                : (double)out[i] == want && same_sign;

        if (!same && mismatches++ < 5)
            CHECK_MSG(same, "half 0x%04x gave %.9g, expected %.9g", i, out[i], want);
    }
    CHECK_EQ_INT(mismatches, 0);
    op_test_free(&t);
}

static void dequantize_int8_per_tensor(void)
{
    const int8_t q[4] = {-128, -3, 0, 127};
    const float scale[1] = {0.5f};
    const int64_t zero_point[1] = {-3};
    verge_tensor *in;
    op_test t;

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){4}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 1, .scale = scale, .zero_point = zero_point};
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 0.5 * (-128 + 3), 0);
    CHECK_NEAR(out[1], 0, 0);
    CHECK_NEAR(out[2], 1.5, 0);
    CHECK_NEAR(out[3], 0.5 * (127 + 3), 0);
    op_test_free(&t);
}

static void dequantize_uint8_and_int16(void)
{
    const uint8_t q8[3] = {0, 128, 255};
    const int16_t q16[3] = {-32768, 0, 32767};
    const float scale8[1] = {0.1f}, scale16[1] = {0.001f};
    const int64_t zp8[1] = {128}, zp16[1] = {0};
    verge_tensor *in;
    op_test t;

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_UINT8, 1, (int32_t[]){3}, q8, VERGE_STORAGE_ARENA);
    in->quant = (verge_quantization){.count = 1, .scale = scale8, .zero_point = zp8};
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 3; i++) {
        /* One rounding of the exact product, as TFLite computes it in double then narrows. */
        float want = (float)((double)scale8[0] * (q8[i] - 128));

        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want, 0);
    }
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT16, 1, (int32_t[]){3}, q16, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 1, .scale = scale16, .zero_point = zp16};
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 3; i++) {
        float want = (float)((double)scale16[0] * q16[i]);

        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want, 0);
    }
    op_test_free(&t);
}

static void dequantize_int8_per_channel(void)
{
    /* Shape [2,3]; channel scales along axis 1 and then along axis 0. */
    const int8_t q[6] = {1, 2, 3, 4, 5, 6};
    const float scale3[3] = {1, 2, 4};
    const int64_t zp3[3] = {0, 1, -1};
    const float scale2[2] = {0.5f, 10};
    const int64_t zp2[2] = {1, 0};
    verge_tensor *in;
    op_test t;

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 3}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 3, .axis = 1, .scale = scale3, .zero_point = zp3};
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    const float expected_axis1[6] = {1 * 1, 2 * 1, 4 * 4, 1 * 4, 2 * 4, 4 * 7};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected_axis1[i], 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 3}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 2, .axis = 0, .scale = scale2, .zero_point = zp2};
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    const float expected_axis0[6] = {0, 0.5f, 1, 40, 50, 60};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected_axis0[i], 0);
    op_test_free(&t);
}

static void dequantize_prepare_errors(void)
{
    static int8_t q[6];
    const float scale[2] = {1, 1};
    const int64_t zp[2] = {0, 0};
    const int64_t huge_zp[1] = {INT64_MIN};
    verge_tensor *in;
    op_test t;

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){6}, q, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* Two scales along an axis of size 3. */
    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 3}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 2, .axis = 1, .scale = scale, .zero_point = zp};
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 3}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 2, .axis = 2, .scale = scale, .zero_point = zp};
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    in = op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){6}, q, VERGE_STORAGE_CONSTANT);
    in->quant = (verge_quantization){.count = 1, .scale = scale, .zero_point = huge_zp};
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_DEQUANTIZE);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, q, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int32") != NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    RUN(dequantize_f16_specials);
    RUN(dequantize_f16_every_pattern);
    RUN(dequantize_int8_per_tensor);
    RUN(dequantize_uint8_and_int16);
    RUN(dequantize_int8_per_channel);
    RUN(dequantize_prepare_errors);
    return check_summary();
}
