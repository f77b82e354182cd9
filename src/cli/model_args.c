#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_args.h"

int model_args_parse_input_shape(const char *command, const verge_graph *graph, const char *text,
                                 verge_input_shape *shape)
{
    const char *equals = strrchr(text, '=');
    const char *at;
    size_t name_length;
    char *end;

    memset(shape, 0, sizeof(*shape));
    if (equals == NULL || equals == text) {
        fprintf(stderr, "%s: invalid --input-shape '%s': expected NAME=D0,D1,... (for example "
                        "input=1,1280)\n", command, text);
        return -1;
    }
    name_length = (size_t)(equals - text);

    shape->index = -1;
    for (int i = 0; i < graph->num_inputs; i++) {
        const char *name = graph->tensors[graph->inputs[i]].name;

        if (strlen(name) == name_length && strncmp(name, text, name_length) == 0)
            shape->index = i;
    }
    if (shape->index < 0) {
        long index = strtol(text, &end, 10);

        if (end == equals && index >= 0 && index < graph->num_inputs)
            shape->index = (int)index;
    }
    if (shape->index < 0) {
        fprintf(stderr, "%s: --input-shape '%s': the model has no input named '%.*s'; its "
                        "inputs are:", command, text, (int)name_length, text);
        for (int i = 0; i < graph->num_inputs; i++)
            fprintf(stderr, " %d '%s'", i, graph->tensors[graph->inputs[i]].name);
        fputc('\n', stderr);
        return -1;
    }

    at = equals + 1;
    while (*at != '\0') {
        long value;

        errno = 0;
        value = strtol(at, &end, 10);
        if (end == at || errno != 0 || value < 0 || value > INT32_MAX ||
            (*end != ',' && *end != '\0')) {
            fprintf(stderr, "%s: --input-shape '%s': dimensions must be integers in 0..%d "
                            "separated by commas\n", command, text, INT32_MAX);
            return -1;
        }
        if (shape->rank == VERGE_MAX_RANK) {
            fprintf(stderr, "%s: --input-shape '%s': more than %d dimensions\n", command, text,
                    VERGE_MAX_RANK);
            return -1;
        }
        shape->dims[shape->rank++] = (int32_t)value;
        at = *end == ',' ? end + 1 : end;
    }
    return 0;
}

int model_args_parse_input_shapes(const char *command, const verge_graph *graph,
                                  const char *const *texts, int count, verge_input_shape *shapes)
{
    for (int i = 0; i < count; i++) {
        if (model_args_parse_input_shape(command, graph, texts[i], &shapes[i]) != 0)
            return -1;
        for (int j = 0; j < i; j++) {
            if (shapes[j].index == shapes[i].index) {
                fprintf(stderr, "%s: --input-shape '%s' and '%s' both give the shape of input "
                                "%d; give it once\n", command, texts[j], texts[i],
                        shapes[i].index);
                return -1;
            }
        }
    }
    return 0;
}

int model_inputs_add_path(const char *command, model_inputs *inputs, const char *path)
{
    if (inputs->num_paths == MODEL_ARGS_MAX_INPUTS) {
        fprintf(stderr, "%s: too many --input files (at most %d)\n", command,
                MODEL_ARGS_MAX_INPUTS);
        return -1;
    }
    inputs->paths[inputs->num_paths++] = path;
    return 0;
}

int model_inputs_add_shape(const char *command, model_inputs *inputs, const char *text)
{
    if (inputs->num_shape_texts == MODEL_ARGS_MAX_SHAPES) {
        fprintf(stderr, "%s: too many --input-shape options (at most %d)\n", command,
                MODEL_ARGS_MAX_SHAPES);
        return -1;
    }
    inputs->shape_texts[inputs->num_shape_texts++] = text;
    return 0;
}

static bool same_shape(const verge_array *array, const verge_tensor *tensor)
{
    return array->rank == tensor->rank &&
           memcmp(array->dims, tensor->dims, sizeof(tensor->dims[0]) * (size_t)tensor->rank) == 0;
}

int model_inputs_load(const char *command, model_inputs *inputs, const verge_model *model,
                      const char *model_path, bool required)
{
    const verge_graph *graph = &model->graphs[0];

    if ((required || inputs->num_paths > 0) && inputs->num_paths != graph->num_inputs) {
        fprintf(stderr, "%s: %s has %d input%s, but %d --input file%s given\n", command,
                model_path, graph->num_inputs, graph->num_inputs == 1 ? "" : "s",
                inputs->num_paths, inputs->num_paths == 1 ? " was" : "s were");
        return 2;
    }

    if (model_args_parse_input_shapes(command, graph, inputs->shape_texts,
                                      inputs->num_shape_texts, inputs->shapes) != 0)
        return 2;
    inputs->num_shapes = inputs->num_shape_texts;
    for (; inputs->num_arrays < inputs->num_paths; inputs->num_arrays++) {
        int index = inputs->num_arrays;
        verge_array *array = &inputs->arrays[index];
        bool shape_given = false;

        if (verge_npy_read(inputs->paths[index], array) != VERGE_OK) {
            fprintf(stderr, "%s: %s\n", command, verge_error_message());
            return 1;
        }
        for (int s = 0; s < inputs->num_shapes; s++)
            shape_given = shape_given || inputs->shapes[s].index == index;
        if (!shape_given && index < graph->num_inputs &&
            inputs->num_shapes < MODEL_ARGS_MAX_SHAPES &&
            !same_shape(array, &graph->tensors[graph->inputs[index]])) {
            verge_input_shape *shape = &inputs->shapes[inputs->num_shapes++];

            shape->index = index;
            shape->rank = array->rank;
            memcpy(shape->dims, array->dims, sizeof(shape->dims));
        }
    }
    return 0;
}

int model_inputs_fill(const char *command, const model_inputs *inputs, int index,
                      verge_tensor *tensor)
{
    const char *path = inputs->paths[index];
    const verge_array *array = &inputs->arrays[index];
    size_t count = 1;

    for (int d = 0; d < array->rank; d++)
        count *= (size_t)array->dims[d];
    if (count != verge_tensor_count(tensor)) {
        char a[96], b[96];

        fprintf(stderr, "%s: %s has shape %s, but input %d '%s' has shape %s\n", command, path,
                verge_shape_str(array->dims, array->rank, a, sizeof(a)), index, tensor->name,
                verge_shape_str(tensor->dims, tensor->rank, b, sizeof(b)));
        return -1;
    }
    if (array->dtype == tensor->dtype) {
        memcpy(tensor->data, array->data, tensor->bytes);
        return 0;
    }
    if (tensor->dtype == VERGE_DTYPE_FLOAT32) {
        float *out = tensor->data;

        for (size_t i = 0; i < count; i++) {
            switch (array->dtype) {
            case VERGE_DTYPE_FLOAT64: out[i] = (float)((const double *)array->data)[i]; break;
            case VERGE_DTYPE_INT32: out[i] = (float)((const int32_t *)array->data)[i]; break;
            case VERGE_DTYPE_INT64: out[i] = (float)((const int64_t *)array->data)[i]; break;
            case VERGE_DTYPE_INT8: out[i] = (float)((const int8_t *)array->data)[i]; break;
            case VERGE_DTYPE_UINT8:
            case VERGE_DTYPE_BOOL: out[i] = (float)((const uint8_t *)array->data)[i]; break;
            default:
                fprintf(stderr, "%s: %s: cannot convert %s to float32\n", command, path,
                        verge_dtype_name(array->dtype));
                return -1;
            }
        }
        return 0;
    }
    if (tensor->dtype == VERGE_DTYPE_INT32 && array->dtype == VERGE_DTYPE_INT64) {
        for (size_t i = 0; i < count; i++) {
            int64_t value = ((const int64_t *)array->data)[i];

            if (value < INT32_MIN || value > INT32_MAX) {
                fprintf(stderr, "%s: %s: element %zu (%lld) does not fit the model's int32 "
                                "input\n", command, path, i, (long long)value);
                return -1;
            }
            ((int32_t *)tensor->data)[i] = (int32_t)value;
        }
        return 0;
    }
    fprintf(stderr, "%s: %s is %s, but the model input '%s' is %s\n", command, path,
            verge_dtype_name(array->dtype), tensor->name, verge_dtype_name(tensor->dtype));
    return -1;
}

void model_inputs_free(model_inputs *inputs)
{
    for (int i = 0; i < inputs->num_arrays; i++)
        verge_array_free(&inputs->arrays[i]);
    inputs->num_arrays = 0;
}

bool model_args_unsupported_node(verge_status status, const verge_model *model,
                                 verge_node_failure *failure)
{
    verge_node_failure where;

    verge_interpreter_last_failure(&where);
    if (failure != NULL)
        *failure = where;
    return status == VERGE_STATUS_UNSUPPORTED && where.graph >= 0 &&
           where.graph < model->num_graphs && where.node >= 0 &&
           where.node < model->graphs[where.graph].num_nodes;
}

void model_args_print_shape_hint(const char *command, const verge_model *model)
{
    if (model->graphs[0].num_inputs > 0)
        fprintf(stderr, "%s: if an input takes data of any size (audio of any length, for "
                        "example), give its size with --input-shape NAME=D0,D1,...\n", command);
}
