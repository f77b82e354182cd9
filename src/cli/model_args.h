/* Command-line arguments shared by the commands that take a model. */
#ifndef VERGE_CLI_MODEL_ARGS_H
#define VERGE_CLI_MODEL_ARGS_H

#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/npy.h"

enum { MODEL_ARGS_MAX_SHAPES = 16, MODEL_ARGS_MAX_INPUTS = 64 };

/*
 * The --input files and --input-shape options of one command. The options
 * parser fills `paths` and `shape_texts`; model_inputs_load() fills the rest.
 * Zero-initialise before use and release with model_inputs_free().
 */
typedef struct model_inputs {
    const char *paths[MODEL_ARGS_MAX_INPUTS];
    int num_paths;
    const char *shape_texts[MODEL_ARGS_MAX_SHAPES];
    int num_shape_texts;
    verge_array arrays[MODEL_ARGS_MAX_INPUTS]; /* the .npy files, read */
    int num_arrays;
    verge_input_shape shapes[MODEL_ARGS_MAX_SHAPES]; /* for verge_interpreter_options */
    int num_shapes;
} model_inputs;

/*
 * Parses "NAME=D0,D1,..." or "INDEX=D0,D1,..." (an input of the main graph,
 * by tensor name or 0-based index) into *shape. Prints a message naming the
 * problem and returns -1 on error.
 */
int model_args_parse_input_shape(const char *command, const verge_graph *graph, const char *text,
                                 verge_input_shape *shape);

/*
 * Parses `count` --input-shape texts with model_args_parse_input_shape()
 * into shapes[0..count). Two texts that name one input are an error.
 * Prints a message and returns -1 on error.
 */
int model_args_parse_input_shapes(const char *command, const verge_graph *graph,
                                  const char *const *texts, int count, verge_input_shape *shapes);

/* Record one --input FILE or --input-shape TEXT. Past the limit, print a message and return -1. */
int model_inputs_add_path(const char *command, model_inputs *inputs, const char *path);
int model_inputs_add_shape(const char *command, model_inputs *inputs, const char *text);

/*
 * Checks that there is one --input per model input (when `required`, or when
 * any is given), parses the --input-shape options against the model's main
 * graph and reads the .npy files. A file whose shape differs from its
 * declared input, with no --input-shape for that input, resizes the input.
 * Returns 0, 1 when a file cannot be read, or 2 for a usage error; the
 * message is printed. `model_path` names the model in messages.
 */
int model_inputs_load(const char *command, model_inputs *inputs, const verge_model *model,
                      const char *model_path, bool required);

/*
 * Copies the array read for input `index` into `tensor`, which must have as
 * many elements. Values convert where they keep their meaning: any number to
 * float32, and int64 to int32 when it fits. Prints a message and returns -1
 * otherwise.
 */
int model_inputs_fill(const char *command, const model_inputs *inputs, int index,
                      verge_tensor *tensor);

void model_inputs_free(model_inputs *inputs);

/*
 * Call right after verge_interpreter_create() failed with `status`: true
 * when it stopped at a node of `model` that this build cannot run
 * (VERGE_STATUS_UNSUPPORTED with the node in verge_interpreter_last_failure()),
 * false for any other failure, such as shapes that do not fit together.
 * `failure` (may be NULL) receives the node and the reason.
 */
bool model_args_unsupported_node(verge_status status, const verge_model *model,
                                 verge_node_failure *failure);

/*
 * Prints "COMMAND: if an input takes data of any size ..., give its size
 * with --input-shape" when the main graph has inputs. For a preparation
 * that failed for another reason than an unsupported node, without
 * --input-shape: a dimension the model leaves open often makes shapes clash.
 */
void model_args_print_shape_hint(const char *command, const verge_model *model);

#endif
