/* Command-line arguments shared by the commands that take a model. */
#ifndef VERGE_CLI_MODEL_ARGS_H
#define VERGE_CLI_MODEL_ARGS_H

#include "model/graph.h"
#include "verge/interpreter.h"

enum { MODEL_ARGS_MAX_SHAPES = 16 };

/*
 * Parses "NAME=D0,D1,..." or "INDEX=D0,D1,..." (an input of the main graph,
 * by tensor name or 0-based index) into *shape. Prints a message naming the
 * problem and returns -1 on error.
 */
int model_args_parse_input_shape(const char *command, const verge_graph *graph, const char *text,
                                 verge_input_shape *shape);

#endif
