#!/usr/bin/env bash
# Installs a build into a temporary prefix, then builds a program outside the
# tree the way a user would: `pkg-config --cflags --libs verge` against the
# installed libverge.a and headers. The program runs the face detector on a
# real photo through the public API and must find one face.
#
#   check_install.sh BUILD_DIR C_COMPILER [EXTRA_FLAGS...]
#
# EXTRA_FLAGS are the sanitizer flags of a sanitizer build, whose archive
# needs them at link time. Needs VERGE_MODEL_DIR and VERGE_TEST_DATA.
set -euo pipefail
build=$1
cc=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for file in bin/verge include/verge/verge.h; do
    [ -f "$work/prefix/$file" ] || { echo "not installed: $file" >&2; exit 1; }
done
find "$work/prefix" -name libverge.a | grep -q . || { echo "not installed: libverge.a" >&2; exit 1; }
"$work/prefix/bin/verge" --version

cat >"$work/faces.c" <<'PROGRAM'
#include <stdio.h>
#include <verge/verge.h>

static verge_dims dims_of(const verge_tensor *tensor)
{
    verge_dims dims = {.rank = tensor->rank};

    for (int d = 0; d < tensor->rank; d++)
        dims.dims[d] = tensor->dims[d];
    return dims;
}

int main(int argc, char **argv)
{
    verge_model *model = NULL;
    verge_interpreter *interpreter = NULL;
    verge_source *source = NULL;
    const verge_head_spec *spec = NULL;
    verge_head *head = NULL;
    verge_frame frame;
    verge_letterbox map;
    verge_detection detections[16];
    verge_dims input, outputs[2];
    const float *output_data[2];
    size_t count = 0;

    if (argc != 3 || verge_model_load(argv[1], &model) != VERGE_OK ||
        verge_interpreter_create(model, NULL, &interpreter) != VERGE_OK ||
        verge_interpreter_output_count(interpreter) != 2)
        goto failed;
    input = dims_of(verge_interpreter_input(interpreter, 0));
    for (int i = 0; i < 2; i++) {
        outputs[i] = dims_of(verge_interpreter_output(interpreter, i));
        output_data[i] = verge_interpreter_output(interpreter, i)->data;
    }
    if (verge_head_detect(&input, outputs, 2, &spec) != VERGE_OK ||
        verge_head_create(spec, &input, outputs, 2, &head) != VERGE_OK ||
        verge_source_open(argv[2], NULL, &source) != VERGE_OK ||
        verge_source_read(source, &frame) != VERGE_OK ||
        verge_head_preprocess(head, &frame.image, verge_interpreter_input(interpreter, 0)->data,
                              verge_tensor_count(verge_interpreter_input(interpreter, 0)),
                              &map) != VERGE_OK ||
        verge_interpreter_invoke(interpreter) != VERGE_OK ||
        verge_head_decode(head, output_data, &map, detections, 16, &count) != VERGE_OK)
        goto failed;
    printf("%s: %zu face(s), score %.2f\n", spec->name, count, count > 0 ? detections[0].score : 0);
    verge_source_close(source);
    verge_head_destroy(head);
    verge_interpreter_destroy(interpreter);
    verge_model_free(model);
    return count == 1 ? 0 : 1;

failed:
    fprintf(stderr, "faces: %s\n", verge_error_message());
    return 1;
}
PROGRAM

export PKG_CONFIG_PATH=$(dirname "$(find "$work/prefix" -name verge.pc)")
# shellcheck disable=SC2046  # pkg-config output is a list of flags
"$cc" -std=c11 -Wall -Wextra -Werror "$@" "$work/faces.c" -o "$work/faces" \
    $(pkg-config --cflags --libs verge)
"$work/faces" "$VERGE_MODEL_DIR/face_detection_short_range.tflite" \
    "$VERGE_TEST_DATA/images/grace_hopper.jpg"
