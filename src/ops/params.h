/*
 * Operator codes and the parsed parameters of each operator.
 *
 * Operator codes use TFLite's BuiltinOperator numbering, so a TFLite file maps
 * onto them directly; other formats translate into the same codes. Loaders
 * fill a verge_op_params from the file's options and kernels read the member
 * that belongs to their operator.
 */
#ifndef VERGE_OPS_PARAMS_H
#define VERGE_OPS_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "verge/tensor.h"

typedef enum verge_op {
    VERGE_OP_ADD = 0,
    VERGE_OP_AVERAGE_POOL_2D = 1,
    VERGE_OP_CONCATENATION = 2,
    VERGE_OP_CONV_2D = 3,
    VERGE_OP_DEPTHWISE_CONV_2D = 4,
    VERGE_OP_DEPTH_TO_SPACE = 5,
    VERGE_OP_DEQUANTIZE = 6,
    VERGE_OP_FULLY_CONNECTED = 9,
    VERGE_OP_LOGISTIC = 14,
    VERGE_OP_MAX_POOL_2D = 17,
    VERGE_OP_MUL = 18,
    VERGE_OP_RELU = 19,
    VERGE_OP_RELU_N1_TO_1 = 20,
    VERGE_OP_RELU6 = 21,
    VERGE_OP_RESHAPE = 22,
    VERGE_OP_RESIZE_BILINEAR = 23,
    VERGE_OP_SOFTMAX = 25,
    VERGE_OP_TANH = 28,
    VERGE_OP_CUSTOM = 32,
    VERGE_OP_PAD = 34,
    VERGE_OP_TRANSPOSE = 39,
    VERGE_OP_MEAN = 40,
    VERGE_OP_SUB = 41,
    VERGE_OP_DIV = 42,
    VERGE_OP_SQUEEZE = 43,
    VERGE_OP_PRELU = 54,
    VERGE_OP_MAXIMUM = 55,
    VERGE_OP_MINIMUM = 57,
    VERGE_OP_GREATER_EQUAL = 62,
    VERGE_OP_EXPAND_DIMS = 70,
    VERGE_OP_LOG = 73,
    VERGE_OP_RSQRT = 76,
    VERGE_OP_REDUCE_MAX = 82,
    VERGE_OP_LEAKY_RELU = 98,
    VERGE_OP_HARD_SWISH = 117,
    VERGE_OP_IF = 118,
    VERGE_OP_DENSIFY = 124,
    VERGE_OP_BATCH_MATMUL = 126,
} verge_op;

/* Returns TFLite's name of a builtin operator code ("CONV_2D"), or NULL if unknown. */
const char *verge_op_name(int op);

/* Fused activation, as TFLite's ActivationFunctionType. */
typedef enum verge_activation {
    VERGE_ACT_NONE = 0,
    VERGE_ACT_RELU = 1,
    VERGE_ACT_RELU_N1_TO_1 = 2,
    VERGE_ACT_RELU6 = 3,
    VERGE_ACT_TANH = 4,
    VERGE_ACT_SIGN_BIT = 5,
} verge_activation;

/* Spatial padding mode, as TFLite's Padding. */
typedef enum verge_padding {
    VERGE_PADDING_SAME = 0,
    VERGE_PADDING_VALID = 1,
} verge_padding;

/* CONV_2D; also DEPTHWISE_CONV_2D, which adds depth_multiplier. */
typedef struct verge_conv_params {
    verge_padding padding;
    int stride_w, stride_h;       /* >= 1 */
    int dilation_w, dilation_h;   /* >= 1 */
    int depth_multiplier;         /* DEPTHWISE_CONV_2D only; >= 1 (0 in the file means 1) */
    verge_activation activation;
    bool residual;                /* CONV_2D only, never set by a loader: the interpreter's
                                     fusion pass (src/model/fuse.h) sets it when it merges a
                                     following ADD into the node, whose input 3 is then added
                                     to the output before the activation */
    /*
     * Explicit zero padding in cells, >= 0; 0 from a loader. The fusion pass
     * sets it when it folds a PAD into the node. The kernel reads the input
     * as if these rows and columns of zeros surrounded it. `padding` then
     * applies to that larger size, so the leading padding is the explicit
     * one plus what SAME adds.
     */
    int pad_top, pad_bottom, pad_left, pad_right;
} verge_conv_params;

/* AVERAGE_POOL_2D, MAX_POOL_2D. */
typedef struct verge_pool_params {
    verge_padding padding;
    int stride_w, stride_h;       /* >= 1 */
    int filter_w, filter_h;       /* >= 1 */
    verge_activation activation;
} verge_pool_params;

/* CONCATENATION. `axis` may be negative (counted from the end) as in the file. */
typedef struct verge_concat_params {
    int axis;
    verge_activation activation;
} verge_concat_params;

/* RESHAPE: the target shape from the options, used when there is no shape input. */
typedef struct verge_reshape_params {
    bool has_shape;
    int rank;
    int32_t shape[VERGE_MAX_RANK]; /* may hold one -1 (inferred dimension) */
} verge_reshape_params;

/* RESIZE_BILINEAR. */
typedef struct verge_resize_params {
    bool align_corners;
    bool half_pixel_centers;
} verge_resize_params;

/* DEPTH_TO_SPACE. */
typedef struct verge_depth_to_space_params {
    int block_size; /* >= 1 */
} verge_depth_to_space_params;

/* Operators whose only option is a fused activation: ADD, SUB, MUL, DIV. */
typedef struct verge_activation_params {
    verge_activation activation;
} verge_activation_params;

/* IF (IfOptions): the subgraphs run when the condition is true or false. */
typedef struct verge_if_params {
    int then_graph; /* then_subgraph_index: 0 < index < number of subgraphs */
    int else_graph; /* else_subgraph_index: same range */
} verge_if_params;

/*
 * The structs below name, for each field, the TFLite options table it comes
 * from (with its BuiltinOptions union type), the field id inside that table
 * and the schema default that applies when the field or the whole table is
 * absent. MUL (MulOptions, type 21) and SUB (SubOptions, type 28) use
 * verge_activation_params, filled from field 0 of their tables. LOGISTIC,
 * PRELU, HARD_SWISH, RSQRT, LOG, MAXIMUM, MINIMUM, GREATER_EQUAL, TRANSPOSE
 * and EXPAND_DIMS have no options that change their result.
 */

/* FullyConnectedOptions.weights_format, as TFLite's FullyConnectedOptionsWeightsFormat. */
typedef enum verge_fully_connected_weights_format {
    VERGE_FULLY_CONNECTED_WEIGHTS_DEFAULT = 0,
    VERGE_FULLY_CONNECTED_WEIGHTS_SHUFFLED4X16INT8 = 1,
} verge_fully_connected_weights_format;

/*
 * FULLY_CONNECTED: FullyConnectedOptions (union type 8). Fields 3
 * (asymmetric_quantize_inputs) and 4 (quantized_bias_type) only matter for
 * quantized weights and are not read.
 */
typedef struct verge_fully_connected_params {
    verge_activation activation;  /* field 0 fused_activation_function, byte; default NONE */
    verge_fully_connected_weights_format weights_format; /* field 1, byte; default DEFAULT (0).
                                                           The kernel runs DEFAULT only and
                                                           rejects SHUFFLED4x16INT8 (1) as
                                                           unsupported */
    bool keep_num_dims;           /* field 2, bool; default false */
} verge_fully_connected_params;

/* MEAN, REDUCE_MAX (and the other reductions): ReducerOptions (union type 27). */
typedef struct verge_reducer_params {
    bool keep_dims;               /* field 0 keep_dims, bool; default false */
} verge_reducer_params;

/* SOFTMAX: SoftmaxOptions (union type 9). */
typedef struct verge_softmax_params {
    float beta;                   /* field 0 beta, float; default 0.0 (converters write 1.0);
                                     must be finite */
} verge_softmax_params;

/* LEAKY_RELU: LeakyReluOptions (union type 75). */
typedef struct verge_leaky_relu_params {
    float alpha;                  /* field 0 alpha, float; default 0.0; must be finite */
} verge_leaky_relu_params;

/*
 * SQUEEZE: SqueezeOptions (union type 30). Field 0 squeeze_dims is an
 * optional [int] vector; absent or empty means every size-1 dimension. The
 * loader rejects a vector longer than VERGE_MAX_RANK. The kernel checks the
 * values against the input's rank: each must lie in [-rank, rank), counts
 * from the end when negative, must name a size-1 dimension, and may repeat.
 */
typedef struct verge_squeeze_params {
    int num_dims;                 /* entries of squeeze_dims, 0 to VERGE_MAX_RANK */
    int32_t dims[VERGE_MAX_RANK];
} verge_squeeze_params;

/*
 * BATCH_MATMUL: BatchMatMulOptions (union type 101). Field 2
 * (asymmetric_quantize_inputs) only matters for quantized weights and is not
 * read.
 */
typedef struct verge_batch_matmul_params {
    bool adj_x;                   /* field 0 adj_x, bool; default false: transpose the last two
                                     dimensions of input 0 */
    bool adj_y;                   /* field 1 adj_y, bool; default false: the same for input 1 */
} verge_batch_matmul_params;

typedef union verge_op_params {
    verge_conv_params conv;
    verge_pool_params pool;
    verge_concat_params concat;
    verge_reshape_params reshape;
    verge_resize_params resize;
    verge_depth_to_space_params depth_to_space;
    verge_activation_params activation;
    verge_if_params if_graphs;
    verge_fully_connected_params fully_connected;
    verge_reducer_params reducer;
    verge_softmax_params softmax;
    verge_leaky_relu_params leaky_relu;
    verge_squeeze_params squeeze;
    verge_batch_matmul_params batch_matmul;
} verge_op_params;

#endif
