/*
 * Helpers shared by the operator kernels (internal to src/ops/).
 *
 * The check helpers return VERGE_OK or fail through verge_fail() with a
 * message that names the input by index and role ("input 1 (filter)") and
 * the offending value. The interpreter prefixes the node index and operator
 * name, so messages here do not repeat them.
 */
#ifndef VERGE_OPS_COMMON_H
#define VERGE_OPS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* Room for verge_shape_str() of any shape up to VERGE_MAX_RANK dimensions. */
#define VERGE_SHAPE_STR_SIZE 96

/* Kernels listed by the registry (src/ops/registry.c), one per operator code. */
extern const verge_kernel verge_add_kernel;
extern const verge_kernel verge_average_pool2d_kernel;
extern const verge_kernel verge_batch_matmul_kernel;
extern const verge_kernel verge_concatenation_kernel;
extern const verge_kernel verge_conv2d_kernel;
extern const verge_kernel verge_densify_kernel;
extern const verge_kernel verge_depth_to_space_kernel;
extern const verge_kernel verge_depthwise_conv2d_kernel;
extern const verge_kernel verge_dequantize_kernel;
extern const verge_kernel verge_expand_dims_kernel;
extern const verge_kernel verge_fully_connected_kernel;
extern const verge_kernel verge_greater_equal_kernel;
extern const verge_kernel verge_hard_swish_kernel;
extern const verge_kernel verge_leaky_relu_kernel;
extern const verge_kernel verge_log_kernel;
extern const verge_kernel verge_logistic_kernel;
extern const verge_kernel verge_max_pool2d_kernel;
extern const verge_kernel verge_maximum_kernel;
extern const verge_kernel verge_mean_kernel;
extern const verge_kernel verge_minimum_kernel;
extern const verge_kernel verge_mul_kernel;
extern const verge_kernel verge_pad_kernel;
extern const verge_kernel verge_prelu_kernel;
extern const verge_kernel verge_reduce_max_kernel;
extern const verge_kernel verge_relu_kernel;
extern const verge_kernel verge_relu6_kernel;
extern const verge_kernel verge_relu_n1_to_1_kernel;
extern const verge_kernel verge_reshape_kernel;
extern const verge_kernel verge_resize_bilinear_kernel;
extern const verge_kernel verge_rsqrt_kernel;
extern const verge_kernel verge_softmax_kernel;
extern const verge_kernel verge_squeeze_kernel;
extern const verge_kernel verge_sub_kernel;
extern const verge_kernel verge_transpose_kernel;
extern const verge_kernel verge_transpose_conv_bias_kernel;

/*
 * Checks that `node` has between min_inputs and max_inputs inputs (absent
 * optional inputs count, as in TFLite) and exactly num_outputs outputs.
 * Fails with VERGE_STATUS_INVALID_MODEL.
 */
verge_status verge_ops_check_arity(const verge_node *node, int min_inputs, int max_inputs,
                                   int num_outputs);

/*
 * Stores input `index` of `node` in *tensor. Fails with
 * VERGE_STATUS_INVALID_MODEL when the input is absent (VERGE_NO_TENSOR).
 * The caller has checked the input count with verge_ops_check_arity().
 */
verge_status verge_ops_require_input(verge_op_context *ctx, const verge_node *node, int index,
                                     const char *role, verge_tensor **tensor);

/*
 * Checks that input `index` has dtype float32. Any other dtype (int8
 * activations included) fails with VERGE_STATUS_UNSUPPORTED naming it.
 */
verge_status verge_ops_check_float32(const verge_tensor *tensor, int index, const char *role);

/* Checks that input `index` has exactly `rank` dimensions (VERGE_STATUS_INVALID_MODEL). */
verge_status verge_ops_check_rank(const verge_tensor *tensor, int index, const char *role,
                                  int rank);

/*
 * Checks that input `index` is a constant (storage VERGE_STORAGE_CONSTANT
 * with data) whose data covers its shape. A computed value fails with
 * VERGE_STATUS_UNSUPPORTED: TFLite allows one there, but this build sizes
 * outputs at prepare time. Too few bytes fail with VERGE_STATUS_INVALID_MODEL.
 */
verge_status verge_ops_check_constant(const verge_tensor *tensor, int index, const char *role);

/*
 * Checks a fused activation. NONE, RELU, RELU_N1_TO_1, RELU6 and TANH pass.
 * SIGN_BIT fails with VERGE_STATUS_UNSUPPORTED because no operator here
 * defines it. Values outside TFLite's enum fail with
 * VERGE_STATUS_INVALID_MODEL.
 *
 * NOTE: TFLite's float kernels clamp with CalculateActivationRange()
 * (tensorflow/lite/kernels/kernel_util.h), which treats TANH like NONE.
 * The kernels here apply tanh, as the option names, so a model with a fused
 * TANH gives different results from TFLite.
 */
verge_status verge_ops_check_activation(verge_activation activation);

/* Returns TFLite's name of a fused activation ("RELU6"), or "unknown". */
const char *verge_ops_activation_name(verge_activation activation);

/*
 * Checks that an option that must be positive (a block size, a depth
 * multiplier) is >= 1. `name` names it in the message ("block_size").
 */
verge_status verge_ops_check_factor(const char *name, int value);

/*
 * Computes TFLite's output size and leading padding of one spatial axis of a
 * windowed operator (convolution, pooling):
 *   effective filter = (filter - 1) * dilation + 1
 *   SAME:  out = ceil(in / stride)
 *   VALID: out = floor((in - effective filter) / stride) + 1
 *   total padding = max(0, (out - 1) * stride + effective filter - in)
 *   pad_before = total padding / 2 (the odd extra cell goes after the data)
 * `in` >= 0, filter, stride and dilation >= 1. *out_size is 0 for VALID
 * padding when the dilated filter is larger than the input, and the caller
 * rejects that. Values are computed in 64 bits, so nothing overflows.
 */
void verge_ops_window(verge_padding padding, int32_t in, int32_t filter, int stride,
                      int dilation, int64_t *out_size, int64_t *pad_before);

/*
 * Checks padding mode, strides, dilations and window size, computes TFLite's
 * output size along one axis and stores it in *out_size (>= 1) and the
 * leading padding in *pad_before. `axis` names the axis in messages
 * ("height"). Fails with VERGE_STATUS_INVALID_MODEL.
 */
verge_status verge_ops_window_checked(verge_padding padding, int32_t in, int32_t filter,
                                      int stride, int dilation, const char *axis,
                                      int32_t *out_size, int32_t *pad_before);

/*
 * The window of a CONV_2D or DEPTHWISE_CONV_2D along its height (`height`
 * true) or width: verge_ops_window() with the node's padding mode, stride
 * and dilation over `in` plus the explicit padding of that axis
 * (params->pad_top and pad_bottom, or pad_left and pad_right). *pad_before
 * is the whole leading padding: the explicit one plus what SAME adds. The
 * caller has checked the node with verge_ops_conv_window_checked().
 */
void verge_ops_conv_window(const verge_conv_params *params, bool height, int32_t in,
                           int32_t filter, int64_t *out_size, int64_t *pad_before);

/*
 * verge_ops_conv_window() with the checks of verge_ops_window_checked(),
 * and also checks that the explicit padding is >= 0 and that the padded
 * size and the leading padding fit int32. Fails with
 * VERGE_STATUS_INVALID_MODEL.
 */
verge_status verge_ops_conv_window_checked(const verge_conv_params *params, bool height,
                                           int32_t in, int32_t filter, int32_t *out_size,
                                           int32_t *pad_before);

/*
 * Computes the NumPy/TFLite broadcast shape of `a` and `b`: shapes are
 * aligned at the last dimension and each pair of dimensions must be equal
 * or contain a 1 (a 1 against 0 gives 0). Stores the result in *rank and
 * dims. Fails with VERGE_STATUS_INVALID_MODEL naming both shapes.
 */
verge_status verge_ops_broadcast_shape(const verge_tensor *a, const verge_tensor *b, int *rank,
                                       int32_t dims[VERGE_MAX_RANK]);

/*
 * Fills strides[0..rank) with the element strides of `tensor` viewed at the
 * broadcast shape `dims` of `rank` dimensions (rank >= tensor->rank): the
 * tensor's dimensions align with the last ones, and a dimension the tensor
 * lacks or has as 1 against a larger one gets stride 0.
 */
void verge_ops_broadcast_strides(const verge_tensor *tensor, int rank,
                                 const int32_t dims[VERGE_MAX_RANK],
                                 size_t strides[VERGE_MAX_RANK]);

/* Returns the product of dims[begin..end) as a size_t (1 when the range is empty). */
size_t verge_ops_dims_product(const int32_t *dims, int begin, int end);

#endif
