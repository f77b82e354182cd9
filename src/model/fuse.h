/*
 * Operator fusion at prepare time (internal to src/model/).
 *
 * The interpreter prepares a graph once as it is, so that every tensor has
 * its shape. It then calls verge_fusion_plan() for the nodes to merge and
 * prepares the rewritten copy of the nodes instead. Three rewrites, each only where the
 * tensor between the nodes has no other reader and is not a graph output:
 *
 *   PAD -> CONV_2D or DEPTHWISE_CONV_2D:  a PAD of a float32 NHWC tensor
 *       whose constant paddings are zero for the batch and channel
 *       dimensions (any amounts, also uneven, before and after the height
 *       and width) feeds input 0 of the convolution. The convolution takes
 *       the amounts as explicit padding (params.conv.pad_top, pad_bottom,
 *       pad_left, pad_right) and reads the PAD's input; the PAD is dropped.
 *   CONV_2D -> ADD:  the convolution (fused activation NONE) takes the ADD's
 *       other input as its residual (params.conv.residual, input 3), the ADD's
 *       activation and output. The other input must have the convolution's
 *       output shape, or be the output of a PAD (its only reader being the
 *       ADD) that only appends zero channels, in which case the PAD's input
 *       becomes the residual and the PAD is dropped too. The residual must
 *       exist before the convolution runs.
 *   ADD or merged CONV_2D -> RELU, RELU6 or RELU_N1_TO_1: the node (fused
 *       activation NONE) takes the activation and the RELU's output.
 *
 * All three give the same bits as the unfused graph, because the merged
 * kernels add and clamp in the same order (see src/ops/conv.c). A tap that
 * falls on explicit padding is skipped where the unfused kernel adds
 * 0 * weight. For finite weights that addition leaves the sum unchanged
 * unless the sum is -0, which a sum that starts at +0 or at a bias other
 * than -0 never is.
 *
 * Setting the environment variable VERGE_FUSE=0 turns fusion off, for
 * comparisons. It also keeps the interpreter from turning RESHAPE, SQUEEZE
 * and EXPAND_DIMS into views (see interpreter.c).
 */
#ifndef VERGE_MODEL_FUSE_H
#define VERGE_MODEL_FUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/graph.h"
#include "verge/status.h"

typedef struct verge_fusion {
    verge_node *nodes;      /* a copy of the graph's nodes, rewritten; NULL when nothing fused */
    bool *dropped;          /* per node: merged into another node, not run */
    int32_t *io;            /* storage of the rewritten input and output index arrays */
    int num_merged;         /* nodes dropped */
} verge_fusion;

/* False when the environment variable VERGE_FUSE is "0": no fusion, no views. */
bool verge_fusion_enabled(void);

/*
 * Plans the fusions of `graph`, whose tensors as prepared by the interpreter
 * (shapes set, constants folded) are `tensors`. Stores the plan in *fusion:
 * nodes NULL when there is nothing to fuse or VERGE_FUSE=0. Returns VERGE_OK
 * or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_fusion_plan(const verge_graph *graph, const verge_tensor *tensors,
                               verge_fusion *fusion);

/* Frees what verge_fusion_plan() allocated and zeroes *fusion. */
void verge_fusion_free(verge_fusion *fusion);

#endif
