/*
 * DEQUANTIZE reference kernel: float16, int8, uint8 or int16 in, float32 out,
 * same shape.
 *
 * float16 values widen exactly (subnormals, infinities, NaN payloads and -0
 * included). Integer values map to scale * (q - zero_point), with one
 * scale and zero point for the tensor or, when the quantization has more
 * than one, one per index along the quantized axis. The product is rounded
 * to float once, as in TFLite's reference kernel.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

/* Returns the float32 value of an IEEE 754 binary16 bit pattern. */
static float half_to_float(uint16_t half)
{
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;
    uint32_t bits;
    float value;

    if (exponent == 0x1f) {
        /* Infinity or NaN: keep the payload in the top mantissa bits. */
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        /* Normal: rebias the exponent from 15 to 127. */
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else {
        /* Zero or subnormal: mantissa * 2^-24, exact in float32. */
        value = (float)mantissa * 0x1p-24f;
        return sign ? -value : value;
    }
    memcpy(&value, &bits, sizeof(value));
    return value;
}

static verge_status verge_dequantize_prepare(verge_op_context *ctx, const verge_node *node)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input;
    const verge_quantization *quant;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK)
        return status;

    quant = &input->quant;
    switch (input->dtype) {
    case VERGE_DTYPE_FLOAT16:
        break;
    case VERGE_DTYPE_INT8:
    case VERGE_DTYPE_UINT8:
    case VERGE_DTYPE_INT16:
        if (quant->count < 1 || quant->scale == NULL || quant->zero_point == NULL)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (input) is %s without quantization parameters",
                              verge_dtype_name(input->dtype));
        for (int c = 0; c < quant->count; c++) {
            /* A bound on the zero point keeps q - zero_point from overflowing int64. */
            if (quant->zero_point[c] < INT32_MIN || quant->zero_point[c] > INT32_MAX)
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input 0 (input) has zero point %lld at index %d, outside "
                                  "the int32 range",
                                  (long long)quant->zero_point[c], c);
        }
        if (quant->count == 1)
            break;
        verge_shape_str(input->dims, input->rank, shape, sizeof(shape));
        if (quant->axis < 0 || quant->axis >= input->rank)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (input) of shape %s is quantized along axis %d, which "
                              "it does not have",
                              shape, quant->axis);
        if (input->dims[quant->axis] != quant->count)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (input) of shape %s has %d scales along axis %d, "
                              "expected %d",
                              shape, quant->count, quant->axis, (int)input->dims[quant->axis]);
        break;
    default:
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input 0 (input) is %s; DEQUANTIZE takes float16, int8, uint8 or "
                          "int16",
                          verge_dtype_name(input->dtype));
    }

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  input->rank, input->dims);
}

static void verge_dequantize_f16(const verge_tensor *input, float *output)
{
    const uint16_t *halves = input->data;
    const size_t count = verge_tensor_count(input);

    for (size_t i = 0; i < count; i++)
        output[i] = half_to_float(halves[i]);
}

/* Returns element i of an int8, uint8 or int16 tensor. */
static int64_t quantized_value(const verge_tensor *input, size_t i)
{
    switch (input->dtype) {
    case VERGE_DTYPE_INT8: return ((const int8_t *)input->data)[i];
    case VERGE_DTYPE_UINT8: return ((const uint8_t *)input->data)[i];
    default: return ((const int16_t *)input->data)[i];
    }
}

static void verge_dequantize_int(const verge_tensor *input, float *output)
{
    const verge_quantization *quant = &input->quant;
    const size_t count = verge_tensor_count(input);
    size_t channels = 1, inner = count;

    /* Element i belongs to channel (i / inner) % channels along the quantized axis. */
    if (quant->count > 1) {
        channels = (size_t)quant->count;
        inner = verge_ops_dims_product(input->dims, quant->axis + 1, input->rank);
    }
    for (size_t i = 0; i < count; i++) {
        size_t c = i / inner % channels;

        output[i] = quant->scale[c] * (float)(quantized_value(input, i) - quant->zero_point[c]);
    }
}

static verge_status verge_dequantize_invoke(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    float *output = verge_node_output(ctx, node, 0)->data;

    if (input->dtype == VERGE_DTYPE_FLOAT16)
        verge_dequantize_f16(input, output);
    else
        verge_dequantize_int(input, output);
    return VERGE_OK;
}

const verge_kernel verge_dequantize_kernel = {
    .op = VERGE_OP_DEQUANTIZE,
    .dtypes = "float16, int8, uint8, int16",
    .prepare = verge_dequantize_prepare,
    .invoke = verge_dequantize_invoke,
};
