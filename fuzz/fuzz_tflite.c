/*
 * libFuzzer target for the TFLite loader: any input must either fail to load
 * with a status, or load into a model whose invariants hold (checked by the
 * same code as the tests, which also reads every byte of constant data).
 * Crashes, sanitizer reports, leaks and broken invariants are findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model_invariants.h"
#include "verge/model.h"
#include "verge/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    verge_model *model = NULL;

    if (verge_model_load_buffer(data, size, "fuzz.tflite", &model) != VERGE_OK)
        return 0;
    if (!model_invariants_hold(model)) {
        fprintf(stderr, "fuzz_tflite: a loaded model breaks an invariant: %s\n",
                model_invariant_error);
        abort();
    }
    verge_model_free(model);
    return 0;
}
