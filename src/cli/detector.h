/*
 * The detection pipeline shared by `verge detect` and `verge serve`: a model,
 * its interpreter and the detection head picked for it, and the JSON line
 * that describes one frame's detections.
 */
#ifndef VERGE_CLI_DETECTOR_H
#define VERGE_CLI_DETECTOR_H

#include <stdio.h>

#include "verge/interpreter.h"
#include "verge/media.h"
#include "verge/model.h"
#include "verge/vision.h"

enum { CLI_DETECTOR_MAX_OUTPUTS = 8, CLI_DETECTOR_MAX_DETECTIONS = 256 };

typedef struct cli_detector {
    const char *command;          /* "verge detect", for messages */
    const char *model_path;
    verge_model *owned_model;     /* loaded here, or NULL when shared */
    const verge_model *model;
    verge_interpreter *interpreter;
    const verge_head_spec *preset;
    verge_head *head;
    verge_dims input_dims;
    verge_dims output_dims[CLI_DETECTOR_MAX_OUTPUTS];
    int num_outputs;
    float score, iou;             /* the thresholds the head was made with */
    verge_nms_algorithm nms;
} cli_detector;

/*
 * Loads `model_path` (or uses `shared`, a model loaded once for several
 * detectors, when not NULL), prepares an interpreter that runs on `threads`
 * threads (1..256) and picks the head named `head_name` or, when NULL, the
 * one that fits the model's shapes.
 * Prints "COMMAND: message" on stderr and returns -1 on failure; call
 * cli_detector_close() either way.
 */
int cli_detector_open(cli_detector *d, const char *command, const char *model_path,
                      const verge_model *shared, const char *head_name, float score, float iou,
                      verge_nms_algorithm nms, int threads);

/* Rebuilds the head when the thresholds differ from the current ones. */
verge_status cli_detector_set_thresholds(cli_detector *d, float score, float iou,
                                         verge_nms_algorithm nms);

/*
 * Runs preprocessing, inference and decoding on one RGB image. Stores up to
 * `capacity` detections in frame pixels and the milliseconds of the three
 * stages in timing[0..2]. Returns the failing step's status.
 */
verge_status cli_detector_run(cli_detector *d, const verge_image *image, verge_detection *out,
                              size_t capacity, size_t *count, double timing[3]);

void cli_detector_close(cli_detector *d);

/* The label of a class id: the head's class name or "object". */
const char *cli_class_label(const verge_head_spec *spec, int class_id);

/*
 * Returns a copy of `uri` with the password of a network URI as "***"
 * (verge_uri_redact()), for messages and JSON lines; free() it. NULL when
 * memory runs out.
 */
char *cli_redacted_uri(const char *uri);

/*
 * Writes one frame as a JSON object and a newline:
 * {["job":ID,]"source":URI,"frame":N,"time":T,"width":W,"height":H,
 *  "detections":[{"class","score","box":[x0,y0,x1,y1],"keypoints":[[x,y],...]}...],
 *  "timing_ms":{"decode","preprocess","inference","postprocess"}}
 * `job_id` NULL leaves out the "job" field (verge detect's lines). `uri` is
 * written as given: pass it through cli_redacted_uri() first.
 */
void cli_write_frame_json(FILE *out, const char *job_id, const char *uri, const verge_frame *frame,
                          const verge_head_spec *spec, const verge_detection *detections,
                          size_t count, const double timing[4]);

#endif
