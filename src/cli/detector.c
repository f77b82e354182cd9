#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/detector.h"
#include "cli/json.h"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static verge_status make_head(cli_detector *d, float score, float iou, verge_nms_algorithm nms)
{
    verge_head_spec spec = *d->preset;
    verge_head *head = NULL;
    verge_status status;

    spec.decode.min_score = score;
    spec.nms.iou_threshold = iou;
    spec.nms.algorithm = nms;
    status = verge_head_create(&spec, &d->input_dims, d->output_dims, d->num_outputs, &head);
    if (status != VERGE_OK)
        return status;
    verge_head_destroy(d->head);
    d->head = head;
    d->score = score;
    d->iou = iou;
    d->nms = nms;
    return VERGE_OK;
}

int cli_detector_open(cli_detector *d, const char *command, const char *model_path,
                      const verge_model *shared, const char *head_name, float score, float iou,
                      verge_nms_algorithm nms, int threads)
{
    verge_interpreter_options options = {.threads = threads};
    const verge_tensor *input;

    memset(d, 0, sizeof(*d));
    d->command = command;
    d->model_path = model_path;
    if (shared != NULL) {
        d->model = shared;
    } else {
        if (verge_model_load(model_path, &d->owned_model) != VERGE_OK) {
            fprintf(stderr, "%s: %s\n", command, verge_error_message());
            return -1;
        }
        d->model = d->owned_model;
    }
    if (verge_interpreter_create(d->model, &options, &d->interpreter) != VERGE_OK) {
        fprintf(stderr, "%s: %s\n", command, verge_error_message());
        return -1;
    }

    if (verge_interpreter_input_count(d->interpreter) != 1) {
        fprintf(stderr, "%s: %s: the model has %d inputs; a detector has one image "
                "input\n", command, model_path, verge_interpreter_input_count(d->interpreter));
        return -1;
    }
    input = verge_interpreter_input(d->interpreter, 0);
    d->input_dims.rank = input->rank;
    memcpy(d->input_dims.dims, input->dims, sizeof(input->dims));
    d->num_outputs = verge_interpreter_output_count(d->interpreter);
    if (d->num_outputs > CLI_DETECTOR_MAX_OUTPUTS)
        d->num_outputs = CLI_DETECTOR_MAX_OUTPUTS;
    for (int o = 0; o < d->num_outputs; o++) {
        const verge_tensor *out = verge_interpreter_output(d->interpreter, o);

        if (out->dtype != VERGE_DTYPE_FLOAT32) {
            fprintf(stderr, "%s: %s: output %d '%s' is %s; detection heads read float32\n",
                    command, model_path, o, out->name, verge_dtype_name(out->dtype));
            return -1;
        }
        d->output_dims[o].rank = out->rank;
        memcpy(d->output_dims[o].dims, out->dims, sizeof(out->dims));
    }
    if (input->dtype != VERGE_DTYPE_FLOAT32) {
        fprintf(stderr, "%s: %s: the input '%s' is %s; this command feeds float32\n", command,
                model_path, input->name, verge_dtype_name(input->dtype));
        return -1;
    }

    if (head_name != NULL) {
        if (verge_head_find(head_name, &d->preset) != VERGE_OK) {
            fprintf(stderr, "%s: %s\n", command, verge_error_message());
            return -1;
        }
    } else if (verge_head_detect(&d->input_dims, d->output_dims, d->num_outputs, &d->preset) !=
               VERGE_OK) {
        fprintf(stderr, "%s: %s: %s\n", command, model_path, verge_error_message());
        return -1;
    }
    if (make_head(d, score, iou, nms) != VERGE_OK) {
        fprintf(stderr, "%s: %s: %s\n", command, model_path, verge_error_message());
        return -1;
    }
    return 0;
}

verge_status cli_detector_set_thresholds(cli_detector *d, float score, float iou,
                                         verge_nms_algorithm nms)
{
    if (d->head != NULL && score == d->score && iou == d->iou && nms == d->nms)
        return VERGE_OK;
    return make_head(d, score, iou, nms);
}

verge_status cli_detector_run(cli_detector *d, const verge_image *image, verge_detection *out,
                              size_t capacity, size_t *count, double timing[3])
{
    verge_tensor *input = verge_interpreter_input(d->interpreter, 0);
    const float *outputs[CLI_DETECTOR_MAX_OUTPUTS];
    verge_letterbox map;
    verge_status status;
    double start = now_ms();

    *count = 0;
    timing[0] = timing[1] = timing[2] = 0.0;
    status = verge_head_preprocess(d->head, image, input->data, input->bytes / sizeof(float), &map);
    timing[0] = now_ms() - start;
    if (status != VERGE_OK)
        return status;

    start = now_ms();
    status = verge_interpreter_invoke(d->interpreter);
    timing[1] = now_ms() - start;
    if (status != VERGE_OK)
        return status;

    start = now_ms();
    for (int o = 0; o < d->num_outputs; o++)
        outputs[o] = verge_interpreter_output(d->interpreter, o)->data;
    status = verge_head_decode(d->head, outputs, &map, out, capacity, count);
    timing[2] = now_ms() - start;
    return status;
}

void cli_detector_close(cli_detector *d)
{
    verge_head_destroy(d->head);
    verge_interpreter_destroy(d->interpreter);
    verge_model_free(d->owned_model);
    memset(d, 0, sizeof(*d));
}

const char *cli_class_label(const verge_head_spec *spec, int class_id)
{
    if (spec->class_names != NULL && class_id >= 0 && class_id < spec->num_class_names)
        return spec->class_names[class_id];
    return "object";
}

char *cli_redacted_uri(const char *uri)
{
    /* A password shorter than "***" makes the text longer, by 3 bytes at most. */
    const size_t room = strlen(uri) + sizeof("***");
    char *text = malloc(room);

    if (text != NULL)
        verge_uri_redact(uri, text, room);
    return text;
}

void cli_write_frame_json(FILE *out, const char *job_id, const char *uri, const verge_frame *frame,
                          const verge_head_spec *spec, const verge_detection *detections,
                          size_t count, const double timing[4])
{
    static const char *const stages[] = {"decode", "preprocess", "inference", "postprocess"};

    if (job_id != NULL) {
        fputs("{\"job\":", out);
        json_write_string(out, job_id);
        fputs(",\"source\":", out);
    } else {
        fputs("{\"source\":", out);
    }
    json_write_string(out, uri);
    fprintf(out, ",\"frame\":%lld,\"time\":", (long long)frame->index);
    /* Microseconds at any length: a fixed count of digits would blur the times of long streams. */
    json_write_number(out, round(frame->time * 1e6) / 1e6, 15);
    fprintf(out, ",\"width\":%d,\"height\":%d,\"detections\":[", frame->image.width,
            frame->image.height);
    for (size_t i = 0; i < count; i++) {
        const verge_detection *det = &detections[i];

        fputs(i ? ",{\"class\":" : "{\"class\":", out);
        json_write_string(out, cli_class_label(spec, det->class_id));
        fputs(",\"score\":", out);
        json_write_number(out, det->score, 4);
        fputs(",\"box\":[", out);
        for (int k = 0; k < 4; k++) {
            if (k)
                fputc(',', out);
            json_write_number(out, det->box[k], 6);
        }
        fputs("],\"keypoints\":[", out);
        for (int k = 0; k < det->num_keypoints; k++) {
            fputs(k ? ",[" : "[", out);
            json_write_number(out, det->keypoints[k][0], 6);
            fputc(',', out);
            json_write_number(out, det->keypoints[k][1], 6);
            fputc(']', out);
        }
        fputs("]}", out);
    }
    fputs("],\"timing_ms\":{", out);
    for (int s = 0; s < 4; s++) {
        fprintf(out, "%s\"%s\":", s ? "," : "", stages[s]);
        json_write_number(out, timing[s], 4);
    }
    fputs("}}\n", out);
}
