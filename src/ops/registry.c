/*
 * The kernel registry: one entry per operator this build runs. An entry's
 * `dtypes` feeds the README's operator table.
 */
#include <string.h>

#include "ops/common.h"

static const verge_kernel *const kernels[] = {
    &verge_add_kernel,
    &verge_average_pool2d_kernel,
    &verge_batch_matmul_kernel,
    &verge_concatenation_kernel,
    &verge_conv2d_kernel,
    &verge_densify_kernel,
    &verge_depth_to_space_kernel,
    &verge_depthwise_conv2d_kernel,
    &verge_dequantize_kernel,
    &verge_expand_dims_kernel,
    &verge_fully_connected_kernel,
    &verge_greater_equal_kernel,
    &verge_hard_swish_kernel,
    &verge_leaky_relu_kernel,
    &verge_log_kernel,
    &verge_logistic_kernel,
    &verge_max_pool2d_kernel,
    &verge_maximum_kernel,
    &verge_mean_kernel,
    &verge_minimum_kernel,
    &verge_mul_kernel,
    &verge_pad_kernel,
    &verge_prelu_kernel,
    &verge_reduce_max_kernel,
    &verge_relu_kernel,
    &verge_relu6_kernel,
    &verge_relu_n1_to_1_kernel,
    &verge_reshape_kernel,
    &verge_resize_bilinear_kernel,
    &verge_rsqrt_kernel,
    &verge_softmax_kernel,
    &verge_squeeze_kernel,
    &verge_sub_kernel,
    &verge_transpose_kernel,
    &verge_transpose_conv_bias_kernel,
};

const verge_kernel *verge_kernel_find(int op, const char *custom_name)
{
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
        const verge_kernel *kernel = kernels[i];

        if (kernel->op != op)
            continue;
        if (op != VERGE_OP_CUSTOM)
            return kernel;
        if (custom_name != NULL && kernel->custom_name != NULL &&
            strcmp(kernel->custom_name, custom_name) == 0)
            return kernel;
    }
    return NULL;
}

const verge_kernel *verge_kernel_at(size_t index)
{
    if (index >= sizeof(kernels) / sizeof(kernels[0]))
        return NULL;
    return kernels[index];
}
