/*
 * The fusion plan (see fuse.h). It works on tensor indices and counts of
 * readers: a tensor with one reader and no place among the graph outputs
 * can disappear when its producer and its reader merge.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/fuse.h"

/* Slots of a rewritten node in verge_fusion.io: 4 inputs, then 1 output. */
enum { IO_INPUTS = 4, IO_SLOTS = 5 };

typedef struct planner {
    const verge_graph *graph;
    const verge_tensor *tensors;
    verge_fusion *f;
    int *readers;           /* per tensor: node inputs that read it */
    int *reader;            /* per tensor: the last node that reads it */
    int *producer;          /* per tensor: the node that writes it now, or -1 */
    bool *is_output;        /* per tensor: a graph output */
    bool *is_input;         /* per tensor: a graph input */
} planner;

static bool clamp_activation(verge_activation activation)
{
    return activation == VERGE_ACT_NONE || activation == VERGE_ACT_RELU ||
           activation == VERGE_ACT_RELU6 || activation == VERGE_ACT_RELU_N1_TO_1;
}

/* True when tensor t is read by exactly one node input and is no graph output. */
static bool single_reader(const planner *p, int32_t t)
{
    return t != VERGE_NO_TENSOR && p->readers[t] == 1 && !p->is_output[t];
}

static bool same_shape(const verge_tensor *a, const verge_tensor *b)
{
    return a->dtype == b->dtype && a->rank == b->rank &&
           memcmp(a->dims, b->dims, sizeof(a->dims[0]) * (size_t)a->rank) == 0;
}

/* True when tensor t has its value before node `index` runs. */
static bool available_before(const planner *p, int32_t t, int index)
{
    return p->tensors[t].storage == VERGE_STORAGE_CONSTANT || p->is_input[t] ||
           (p->producer[t] >= 0 && p->producer[t] < index);
}

/* Reads paddings[d][side] of a constant int32 or int64 PAD paddings tensor. */
static int64_t pad_amount(const verge_tensor *paddings, int d, int side)
{
    size_t i = (size_t)d * 2 + (size_t)side;

    if (paddings->dtype == VERGE_DTYPE_INT64)
        return ((const int64_t *)paddings->data)[i];
    return ((const int32_t *)paddings->data)[i];
}

/* True when PAD node `pad` only appends zeros to the last dimension of a float32 tensor. */
static bool pad_appends_channels(const planner *p, const verge_node *pad)
{
    const verge_tensor *input, *paddings;

    if (pad->num_inputs != 2 || pad->num_outputs != 1 || pad->inputs[0] == VERGE_NO_TENSOR ||
        pad->inputs[1] == VERGE_NO_TENSOR)
        return false;
    input = &p->tensors[pad->inputs[0]];
    paddings = &p->tensors[pad->inputs[1]];
    if (input->dtype != VERGE_DTYPE_FLOAT32 || input->rank != 4 ||
        paddings->storage != VERGE_STORAGE_CONSTANT || paddings->data == NULL ||
        (paddings->dtype != VERGE_DTYPE_INT32 && paddings->dtype != VERGE_DTYPE_INT64) ||
        paddings->rank != 2 || paddings->dims[0] != 4 || paddings->dims[1] != 2)
        return false;
    for (int d = 0; d < 4; d++) {
        if (pad_amount(paddings, d, 0) != 0 || (d < 3 && pad_amount(paddings, d, 1) != 0))
            return false;
    }
    return pad_amount(paddings, 3, 1) > 0;
}

/*
 * True when PAD node `pad` pads only the height and width of a float32 NHWC
 * tensor with a constant paddings tensor (PAD always pads with zeros), and
 * stores the amounts in *conv's explicit padding fields.
 */
static bool pad_is_spatial(const planner *p, const verge_node *pad, verge_conv_params *conv)
{
    const verge_tensor *input, *paddings;
    int64_t amounts[2][2];

    if (pad->op != VERGE_OP_PAD || pad->num_inputs != 2 || pad->num_outputs != 1 ||
        pad->inputs[0] == VERGE_NO_TENSOR || pad->inputs[1] == VERGE_NO_TENSOR)
        return false;
    input = &p->tensors[pad->inputs[0]];
    paddings = &p->tensors[pad->inputs[1]];
    if (input->dtype != VERGE_DTYPE_FLOAT32 || input->rank != 4 ||
        paddings->storage != VERGE_STORAGE_CONSTANT || paddings->data == NULL ||
        (paddings->dtype != VERGE_DTYPE_INT32 && paddings->dtype != VERGE_DTYPE_INT64) ||
        paddings->rank != 2 || paddings->dims[0] != 4 || paddings->dims[1] != 2)
        return false;
    for (int side = 0; side < 2; side++) {
        if (pad_amount(paddings, 0, side) != 0 || pad_amount(paddings, 3, side) != 0)
            return false;
        for (int d = 0; d < 2; d++) {
            amounts[d][side] = pad_amount(paddings, d + 1, side);
            if (amounts[d][side] < 0 || amounts[d][side] > INT32_MAX - input->dims[d + 1])
                return false;
        }
    }
    if (amounts[0][0] + amounts[0][1] + amounts[1][0] + amounts[1][1] == 0)
        return false;
    conv->pad_top = (int)amounts[0][0];
    conv->pad_bottom = (int)amounts[0][1];
    conv->pad_left = (int)amounts[1][0];
    conv->pad_right = (int)amounts[1][1];
    return true;
}

/* Gives node `index` its own input and output arrays in the io storage. */
static verge_node *rewritable(planner *p, int index)
{
    verge_node *node = &p->f->nodes[index];
    int32_t *slots = p->f->io + (size_t)index * IO_SLOTS;

    if (node->inputs != slots) {
        for (int i = 0; i < IO_INPUTS; i++)
            slots[i] = i < node->num_inputs ? node->inputs[i] : VERGE_NO_TENSOR;
        slots[IO_INPUTS] = node->outputs[0];
        node->inputs = slots;
        node->outputs = slots + IO_INPUTS;
    }
    return node;
}

/* PAD of height and width -> CONV_2D or DEPTHWISE_CONV_2D (input 0). */
static void fold_pad(planner *p, int index)
{
    verge_node *nodes = p->f->nodes;
    const verge_node *conv = &nodes[index];
    verge_conv_params explicit_padding = {0};
    int32_t padded, source;
    int pad_index;
    verge_node *fused;

    if ((conv->op != VERGE_OP_CONV_2D && conv->op != VERGE_OP_DEPTHWISE_CONV_2D) ||
        conv->num_inputs < 2 || conv->num_inputs > 3 || conv->num_outputs != 1 ||
        conv->params.conv.residual || conv->params.conv.pad_top != 0 ||
        conv->params.conv.pad_bottom != 0 || conv->params.conv.pad_left != 0 ||
        conv->params.conv.pad_right != 0)
        return;
    padded = conv->inputs[0];
    if (padded == VERGE_NO_TENSOR || p->tensors[padded].storage != VERGE_STORAGE_ARENA ||
        !single_reader(p, padded) || p->producer[padded] < 0 ||
        p->f->dropped[p->producer[padded]])
        return;
    pad_index = p->producer[padded];
    if (!pad_is_spatial(p, &nodes[pad_index], &explicit_padding))
        return;
    source = nodes[pad_index].inputs[0];

    fused = rewritable(p, index);
    fused->inputs[0] = source;
    fused->params.conv.pad_top = explicit_padding.pad_top;
    fused->params.conv.pad_bottom = explicit_padding.pad_bottom;
    fused->params.conv.pad_left = explicit_padding.pad_left;
    fused->params.conv.pad_right = explicit_padding.pad_right;
    if (p->reader[source] < index)
        p->reader[source] = index;
    p->f->dropped[pad_index] = true;
    p->f->num_merged++;
}

/* CONV_2D -> ADD (-> through a channel-appending PAD on the other input). */
static void merge_conv_add(planner *p, int index)
{
    verge_node *nodes = p->f->nodes;
    const verge_node *conv = &nodes[index];
    const verge_node *add;
    int32_t t1, other, residual;
    int add_index, pad_index = -1;
    verge_node *fused;

    if (conv->op != VERGE_OP_CONV_2D || conv->params.conv.activation != VERGE_ACT_NONE ||
        conv->params.conv.residual || conv->num_inputs > 3 || conv->num_outputs != 1)
        return;
    t1 = conv->outputs[0];
    if (p->tensors[t1].storage != VERGE_STORAGE_ARENA || !single_reader(p, t1))
        return;
    add_index = p->reader[t1];
    add = &nodes[add_index];
    if (p->f->dropped[add_index] || add->op != VERGE_OP_ADD || add->num_inputs != 2 ||
        add->num_outputs != 1 || !clamp_activation(add->params.activation.activation) ||
        !same_shape(&p->tensors[add->outputs[0]], &p->tensors[t1]))
        return;
    other = add->inputs[0] == t1 ? add->inputs[1] : add->inputs[0];
    if (other == t1 || other == VERGE_NO_TENSOR)
        return;

    /* Look through a PAD that only appends channels: its input becomes the residual. */
    residual = other;
    if (p->producer[other] >= 0 && !p->f->dropped[p->producer[other]] &&
        nodes[p->producer[other]].op == VERGE_OP_PAD && single_reader(p, other) &&
        pad_appends_channels(p, &nodes[p->producer[other]])) {
        pad_index = p->producer[other];
        residual = nodes[pad_index].inputs[0];
    } else if (!same_shape(&p->tensors[other], &p->tensors[t1])) {
        return;
    }
    if (!available_before(p, residual, index))
        return;

    fused = rewritable(p, index);
    fused->num_inputs = 4;
    fused->inputs[3] = residual;
    fused->params.conv.residual = true;
    fused->params.conv.activation = add->params.activation.activation;
    fused->outputs[0] = add->outputs[0];
    p->producer[add->outputs[0]] = index;
    p->f->dropped[add_index] = true;
    p->f->num_merged++;
    if (pad_index >= 0) {
        p->f->dropped[pad_index] = true;
        p->f->num_merged++;
    }
}

/* ADD or CONV_2D -> RELU, RELU6 or RELU_N1_TO_1. */
static void merge_activation(planner *p, int index)
{
    verge_node *nodes = p->f->nodes;
    const verge_node *node = &nodes[index];
    const verge_node *relu;
    verge_activation activation;
    int32_t t;
    int relu_index;
    verge_node *fused;

    if (node->num_outputs != 1 ||
        !((node->op == VERGE_OP_ADD && node->params.activation.activation == VERGE_ACT_NONE) ||
          (node->op == VERGE_OP_CONV_2D && node->params.conv.activation == VERGE_ACT_NONE)))
        return;
    t = node->outputs[0];
    if (p->tensors[t].storage != VERGE_STORAGE_ARENA || !single_reader(p, t))
        return;
    relu_index = p->reader[t];
    relu = &nodes[relu_index];
    if (p->f->dropped[relu_index] || relu->num_inputs != 1 || relu->num_outputs != 1)
        return;
    switch (relu->op) {
    case VERGE_OP_RELU: activation = VERGE_ACT_RELU; break;
    case VERGE_OP_RELU6: activation = VERGE_ACT_RELU6; break;
    case VERGE_OP_RELU_N1_TO_1: activation = VERGE_ACT_RELU_N1_TO_1; break;
    default: return;
    }

    fused = rewritable(p, index);
    if (fused->op == VERGE_OP_ADD)
        fused->params.activation.activation = activation;
    else
        fused->params.conv.activation = activation;
    fused->outputs[0] = relu->outputs[0];
    p->producer[relu->outputs[0]] = index;
    p->f->dropped[relu_index] = true;
    p->f->num_merged++;
}

bool verge_fusion_enabled(void)
{
    const char *setting = getenv("VERGE_FUSE");

    return setting == NULL || strcmp(setting, "0") != 0;
}

verge_status verge_fusion_plan(const verge_graph *graph, const verge_tensor *tensors,
                               verge_fusion *fusion)
{
    const size_t num_tensors = (size_t)graph->num_tensors + 1;
    const size_t num_nodes = (size_t)graph->num_nodes + 1;
    planner p = {.graph = graph, .tensors = tensors, .f = fusion};
    verge_status status = VERGE_OK;

    memset(fusion, 0, sizeof(*fusion));
    if (!verge_fusion_enabled() || graph->num_nodes < 2)
        return VERGE_OK;

    p.readers = calloc(num_tensors, sizeof(*p.readers));
    p.reader = calloc(num_tensors, sizeof(*p.reader));
    p.producer = malloc(num_tensors * sizeof(*p.producer));
    p.is_output = calloc(num_tensors, sizeof(*p.is_output));
    p.is_input = calloc(num_tensors, sizeof(*p.is_input));
    fusion->nodes = malloc(num_nodes * sizeof(*fusion->nodes));
    fusion->dropped = calloc(num_nodes, sizeof(*fusion->dropped));
    fusion->io = malloc(num_nodes * IO_SLOTS * sizeof(*fusion->io));
    if (p.readers == NULL || p.reader == NULL || p.producer == NULL || p.is_output == NULL ||
        p.is_input == NULL || fusion->nodes == NULL || fusion->dropped == NULL ||
        fusion->io == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate the fusion plan");
        goto done;
    }

    for (int t = 0; t < graph->num_tensors; t++)
        p.producer[t] = -1;
    for (int i = 0; i < graph->num_outputs; i++)
        p.is_output[graph->outputs[i]] = true;
    for (int i = 0; i < graph->num_inputs; i++)
        p.is_input[graph->inputs[i]] = true;
    for (int n = 0; n < graph->num_nodes; n++) {
        const verge_node *node = &graph->nodes[n];

        for (int i = 0; i < node->num_inputs; i++) {
            if (node->inputs[i] == VERGE_NO_TENSOR)
                continue;
            p.readers[node->inputs[i]]++;
            p.reader[node->inputs[i]] = n;
        }
        for (int o = 0; o < node->num_outputs; o++)
            p.producer[node->outputs[o]] = n;
    }
    memcpy(fusion->nodes, graph->nodes, sizeof(*fusion->nodes) * (size_t)graph->num_nodes);

    for (int n = 0; n < graph->num_nodes; n++) {
        if (!fusion->dropped[n])
            fold_pad(&p, n);
    }
    for (int n = 0; n < graph->num_nodes; n++) {
        if (!fusion->dropped[n])
            merge_conv_add(&p, n);
    }
    for (int n = 0; n < graph->num_nodes; n++) {
        if (!fusion->dropped[n])
            merge_activation(&p, n);
    }

done:
    free(p.readers);
    free(p.reader);
    free(p.producer);
    free(p.is_output);
    free(p.is_input);
    if (status != VERGE_OK || fusion->num_merged == 0)
        verge_fusion_free(fusion);
    return status;
}

void verge_fusion_free(verge_fusion *fusion)
{
    free(fusion->nodes);
    free(fusion->dropped);
    free(fusion->io);
    memset(fusion, 0, sizeof(*fusion));
}
