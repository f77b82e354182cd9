#include <errno.h>
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
            fprintf(stderr, "%s: --input-shape '%s': dimensions must be non-negative integers "
                            "separated by commas\n", command, text);
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
