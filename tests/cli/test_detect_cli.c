/*
 * `verge detect` as a user runs it: real photos, a video made from a real
 * photo with the ffmpeg command, standard input, annotated output, and the
 * errors for bad sources, bad models and bad options.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "check.h"
#include "cli/cli_run.h"
#include "verge/media.h"

static char work_dir[] = "/tmp/verge-detect-cli-XXXXXX";

#define data(name) cli_data(name)
#define work(name) cli_join(work_dir, name)

static char model[512];

static int run_shell(const char *command)
{
    int status = system(command);

    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void photos_give_one_face_each(void)
{
    const char *args[] = {"detect", model, data("images/grace_hopper.jpg"),
                          data("images/astronaut.png"), data("images/coffee.png"),
                          data("images/car1.jpg"), "--out", work("annotated"), NULL};
    cli_result r = cli_run(work_dir, NULL, args);
    verge_source *source = NULL;
    verge_frame frame;

    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"source\":"), 4);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 2);
    CHECK_EQ_INT(cli_count_lines(r.out, "coffee.png\",\"frame\":0,\"time\":0,\"width\":600,"
                                        "\"height\":400,\"detections\":[]"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "car1.jpg\",\"frame\":0,\"time\":0,\"width\":1024,"
                                        "\"height\":680,\"detections\":[]"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"timing_ms\":{\"decode\":"), 4);

    /* Annotated copies keep the format and size of their input. */
    CHECK_OK(verge_source_open(work("annotated/grace_hopper.jpg"), NULL, &source));
    if (source != NULL) {
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_EQ_INT(frame.image.width, 512);
        CHECK_EQ_INT(frame.image.height, 600);
        verge_source_close(source);
    }
    CHECK(access(work("annotated/astronaut.png"), R_OK) == 0);
    CHECK(access(work("annotated/coffee.png"), R_OK) == 0);
    CHECK(access(work("annotated/car1.jpg"), R_OK) == 0);
    cli_result_free(&r);
}

/*
 * A 2 s, 10 fps video that pans across grace_hopper.jpg at 50 px/s: the face
 * must be found in every frame, its centre moving left by 5 px per frame.
 * One model-input pixel is about 3 frame pixels here, so single frames may
 * jitter by a few pixels: the check fits a line through all centres.
 */
static void panning_video_tracks_face(void)
{
    char command[2048];
    const char *args[] = {"detect", model, work("pan.mp4"), "--out", work("annotated"), NULL};
    cli_result r;
    float centers[32];
    int frames = 0;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -loop 1 -i '%s' "
             "-vf \"crop=400:480:x='min(100,t*50)':y=60\" -t 2 -r 10 -pix_fmt yuv420p '%s'",
             data("images/grace_hopper.jpg"), work("pan.mp4"));
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"source\":"), 20);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 20);
    for (const char *line = r.out; line != NULL && *line != '\0' && frames < 32;) {
        const char *box = strstr(line, "\"box\":[");
        const char *end = strchr(line, '\n');

        if (box != NULL && (end == NULL || box < end)) {
            char *next;
            float x_min = strtof(box + strlen("\"box\":["), &next);
            float x_max = strtof(strchr(next + 1, ',') + 1, NULL);

            centers[frames++] = (x_min + x_max) / 2;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    CHECK_EQ_INT(frames, 20);
    if (frames == 20) {
        double mean_t = 9.5, mean_x = 0, slope = 0, var_t = 0, worst = 0;

        for (int i = 0; i < frames; i++)
            mean_x += centers[i] / frames;
        for (int i = 0; i < frames; i++) {
            slope += (i - mean_t) * (centers[i] - mean_x);
            var_t += (i - mean_t) * (i - mean_t);
        }
        slope /= var_t;
        for (int i = 0; i < frames; i++) {
            double residual = fabs(centers[i] - (mean_x + slope * (i - mean_t)));
            worst = residual > worst ? residual : worst;
        }
        CHECK_NEAR(slope, -5.0, 1.0);
        CHECK_MSG(worst <= 9.0, "a face centre is %.1f px off the fitted track", worst);
    }
    cli_result_free(&r);

    /* The annotated video has the same frames. */
    {
        verge_source *source = NULL;
        verge_frame frame;
        int count = 0;

        CHECK_OK(verge_source_open(work("annotated/pan.mp4"), NULL, &source));
        while (source != NULL && verge_source_read(source, &frame) == VERGE_OK)
            count++;
        CHECK_EQ_INT(count, 20);
        if (source != NULL)
            CHECK_NEAR(verge_source_get_info(source)->fps, 10.0, 0.01);
        verge_source_close(source);
    }
}

static void frame_selection_options(void)
{
    const char *every[] = {"detect", model, work("pan.mp4"), "--every", "4", NULL};
    const char *max[] = {"detect", "--max-frames", "3", model, work("pan.mp4"), NULL};
    const char *threads[] = {"detect", model, work("pan.mp4"), "--max-frames", "3", "--threads",
                             "64", NULL};
    cli_result r = cli_run(work_dir, NULL, every);

    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"source\":"), 5);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"frame\":8,\"time\":0.8,"), 1);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, max);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"source\":"), 3);
    cli_result_free(&r);

    /* Many threads: the same results, and no FFmpeg warning about the decoder's count. */
    r = cli_run(work_dir, NULL, threads);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 3);
    CHECK_MSG(strlen(r.err) == 0, "stderr: %s", r.err);
    cli_result_free(&r);
}

static void reads_standard_input(void)
{
    char command[1024];
    const char *args[] = {"detect", model, "-", NULL};
    cli_result r;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -c:v mpeg2video -q:v 2 -f mpegts '%s'",
             work("pan.mp4"), work("pan.ts"));
    CHECK_EQ_INT(run_shell(command), 0);
    r = cli_run(work_dir, work("pan.ts"), args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"source\":\"-\""), 20);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 20);
    cli_result_free(&r);
}

/* Returns the x centre of the first box on the line of frame `index`, or -1. */
static double box_center_x(const char *out, int index)
{
    char key[32];
    const char *line, *box;

    snprintf(key, sizeof(key), "\"frame\":%d,", index);
    line = strstr(out, key);
    box = line != NULL ? strstr(line, "\"box\":[") : NULL;
    if (box == NULL)
        return -1;
    {
        char *next;
        double x_min = strtod(box + strlen("\"box\":["), &next);
        double x_max = strtod(strchr(next + 1, ',') + 1, NULL);

        return (x_min + x_max) / 2;
    }
}

/*
 * A phone stores an upright video sideways and records the turn in a display
 * matrix: pan.mp4 transposed, then marked rotate=90. Frames, sizes and boxes
 * must be those of the upright video, and so must the annotated copy.
 */
static void phone_video_is_upright(void)
{
    char command[2048];
    const char *upright[] = {"detect", model, work("pan.mp4"), "--max-frames", "1", NULL};
    const char *turned[] = {"detect", model, work("phone.mp4"), "--out", work("phone_out"), NULL};
    cli_result r;
    double expected;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -vf transpose=1 -c:v libx264 '%s' && "
             "ffmpeg -nostdin -loglevel error -y -i '%s' -c copy -metadata:s:v rotate=90 '%s'",
             work("pan.mp4"), work("sideways.mp4"), work("sideways.mp4"), work("phone.mp4"));
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, upright);
    expected = box_center_x(r.out, 0);
    cli_result_free(&r);
    CHECK(expected > 0);

    r = cli_run(work_dir, NULL, turned);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"width\":400,\"height\":480,"), 20);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 20);
    CHECK_NEAR(box_center_x(r.out, 0), expected, 3.0);
    cli_result_free(&r);
    {
        verge_source *source = NULL;
        verge_frame frame;

        CHECK_OK(verge_source_open(work("phone_out/phone.mp4"), NULL, &source));
        if (source != NULL) {
            CHECK_OK(verge_source_read(source, &frame));
            CHECK_EQ_INT(frame.image.width, 400);
            CHECK_EQ_INT(frame.image.height, 480);
        }
        verge_source_close(source);
    }
}

/*
 * FFmpeg probes an MJPEG recording saved to a file as an image format, but it
 * is a video. Each frame gets a JSON line with its own time, and the
 * annotated copy is one MP4 with every frame, not one image written 20 times.
 */
static void mjpeg_recording_is_video(void)
{
    char command[1200];
    const char *args[] = {"detect", model, work("pan.mjpeg"), "--out", work("mjpeg_out"), NULL};
    cli_result r;
    verge_source *source = NULL;
    verge_frame frame;
    int count = 0;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -f mjpeg '%s'", work("pan.mp4"),
             work("pan.mjpeg"));
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 20);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"frame\":19,\"time\":0.76,"), 1);
    cli_result_free(&r);

    CHECK(access(work("mjpeg_out/pan.png"), F_OK) != 0);
    CHECK_OK(verge_source_open(work("mjpeg_out/pan.mp4"), NULL, &source));
    while (source != NULL && verge_source_read(source, &frame) == VERGE_OK)
        count++;
    verge_source_close(source);
    CHECK_EQ_INT(count, 20);
}

/*
 * Times keep their microseconds however long a stream runs: frames 40 ms
 * apart, 100000 s (28 h) in, must not share one rounded time.
 */
static void long_stream_times_stay_exact(void)
{
    char command[1200];
    const char *args[] = {"detect", model, work("long.mkv"), NULL};
    cli_result r;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -loop 1 -i '%s' -vf "
             "\"scale=128:150,setpts='if(eq(N,0),0,2500000+N)'\" -frames:v 3 '%s'",
             data("images/grace_hopper.jpg"), work("long.mkv"));
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(cli_count_lines(r.out, "\"frame\":1,\"time\":100000.04,") == 1 &&
                  cli_count_lines(r.out, "\"frame\":2,\"time\":100000.08,") == 1,
              "stdout: %s", r.out);
    cli_result_free(&r);
}

/* Returns the number of frames in the video at `path`, or -1 when it cannot be opened. */
static int count_video_frames(const char *path)
{
    verge_source *source = NULL;
    verge_frame frame;
    int count = 0;

    if (verge_source_open(path, NULL, &source) != VERGE_OK)
        return -1;
    while (verge_source_read(source, &frame) == VERGE_OK)
        count++;
    verge_source_close(source);
    return count;
}

/*
 * A camera or stream ends when the user presses Ctrl-C, and a pipe into
 * `head` closes early: both must leave a finished, playable annotated MP4
 * holding every frame that was reported, not a file without its index.
 */
static void stopping_early_finishes_video(void)
{
    char command[2048];
    const char *bin = getenv("VERGE_BIN");
    int lines = 0, status = -1, fds[2];
    pid_t pid;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -loop 1 -i '%s' -vf scale=128:150 "
             "-frames:v 3000 -r 25 -c:v libx264 -preset ultrafast '%s'",
             data("images/grace_hopper.jpg"), work("long3000.mp4"));
    CHECK_EQ_INT(run_shell(command), 0);

    /* SIGINT once the first line is out. */
    CHECK_EQ_INT(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(fds[1], 1);
        dup2(null, 0);
        dup2(null, 2);
        close(fds[0]);
        execl(bin, bin, "detect", model, work("long3000.mp4"), "--out", work("stopped"),
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    {
        FILE *out = fdopen(fds[0], "r");
        char line[4096];

        while (out != NULL && fgets(line, sizeof(line), out) != NULL) {
            if (lines++ == 0)
                kill(pid, SIGINT);
        }
        if (out != NULL)
            fclose(out);
    }
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 130, "wait status %d", status);
    CHECK_MSG(lines >= 1 && lines < 3000, "%d lines before the stop", lines);
    CHECK_EQ_INT(count_video_frames(work("stopped/long3000.mp4")), lines);

    /* Standard output closed after 3 lines. */
    snprintf(command, sizeof(command),
             "(\"$VERGE_BIN\" detect '%s' '%s' --out '%s' 2>/dev/null; echo $? > '%s') | head -n 3 "
             "> /dev/null", model, work("long3000.mp4"), work("headed"), work("headed.status"));
    CHECK_EQ_INT(run_shell(command), 0);
    {
        char *text = cli_read_file(work("headed.status"));

        CHECK_MSG(atoi(text) == 1, "exit status %s", text);
        free(text);
    }
    CHECK_MSG(count_video_frames(work("headed/long3000.mp4")) >= 3, "%d frames",
              count_video_frames(work("headed/long3000.mp4")));
}

/*
 * A high-speed camera's 2400 fps is above what the MP4 writer takes (1000):
 * the annotated copy is written at 1000 fps rather than failing after the
 * first frame.
 */
static void fast_video_is_annotated(void)
{
    char command[1200];
    const char *args[] = {"detect", model, work("fast.mp4"), "--out", work("fast_out"), NULL};
    cli_result r;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -vf setpts=N/2400/TB -r 2400 "
             "-c:v libx264 '%s'", work("pan.mp4"), work("fast.mp4"));
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 20);
    cli_result_free(&r);
    CHECK_EQ_INT(count_video_frames(work("fast_out/fast.mp4")), 20);
}

/* Sets every operator code CONV_2D (3) of a .tflite image to SIN (66), which verge lacks. */
static int patch_conv_to_sin(uint8_t *file, size_t size)
{
    uint32_t root, vector, count;
    int32_t vtable_offset;
    uint16_t field;
    int patched = 0;

#define U32(at) ((uint32_t)file[at] | (uint32_t)file[(at) + 1] << 8 | \
                 (uint32_t)file[(at) + 2] << 16 | (uint32_t)file[(at) + 3] << 24)
#define U16(at) ((uint16_t)(file[at] | file[(at) + 1] << 8))
    root = U32(0);
    vtable_offset = (int32_t)U32(root);
    field = U16(root - vtable_offset + 4 + 2 * 1); /* Model.operator_codes */
    vector = root + field + U32(root + field);
    count = U32(vector);
    for (uint32_t i = 0; i < count && vector + 8 + 4 * i <= size; i++) {
        uint32_t element = vector + 4 + 4 * i;
        uint32_t table = element + U32(element);
        uint32_t vtable = table - (uint32_t)(int32_t)U32(table);
        uint16_t vtable_size = U16(vtable);
        uint16_t deprecated = vtable_size > 4 ? U16(vtable + 4) : 0;
        uint16_t builtin = vtable_size > 10 ? U16(vtable + 10) : 0;

        if (deprecated != 0 && file[table + deprecated] == 3) {
            file[table + deprecated] = 66;
            if (builtin != 0)
                file[table + builtin] = 66;
            patched++;
        }
    }
#undef U32
#undef U16
    return patched;
}

static void bad_inputs_fail_clearly(void)
{
    char *bytes;
    FILE *file;
    size_t size;

    /* A missing source and a corrupt one: both named, the good source still processed. */
    file = fopen(work("broken.jpg"), "wb");
    fputs("this is not a JPEG file at all", file);
    fclose(file);
    {
        const char *args[] = {"detect", model, work("missing.jpg"), work("broken.jpg"),
                              data("images/grace_hopper.jpg"), NULL};
        cli_result r = cli_run(work_dir, NULL, args);

        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "missing.jpg") != NULL, "stderr: %s", r.err);
        CHECK_MSG(strstr(r.err, "broken.jpg") != NULL, "stderr: %s", r.err);
        CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 1);
        cli_result_free(&r);
    }

    /* A model with an operator this build lacks: the message names it and the node. */
    bytes = cli_read_file(model);
    {
        struct stat info;
        stat(model, &info);
        size = (size_t)info.st_size;
    }
    CHECK(patch_conv_to_sin((uint8_t *)bytes, size) > 0);
    file = fopen(work("sin.tflite"), "wb");
    fwrite(bytes, 1, size, file);
    fclose(file);
    free(bytes);
    {
        const char *args[] = {"detect", work("sin.tflite"), data("images/grace_hopper.jpg"), NULL};
        cli_result r = cli_run(work_dir, NULL, args);

        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "SIN") != NULL && strstr(r.err, "node ") != NULL,
                  "stderr: %s", r.err);
        CHECK_EQ_INT(strlen(r.out), 0);
        cli_result_free(&r);
    }

    /* Models that are missing or are not models. */
    {
        const char *missing[] = {"detect", work("nope.tflite"), data("images/coffee.png"), NULL};
        const char *photo[] = {"detect", data("images/coffee.png"), data("images/coffee.png"),
                               NULL};
        cli_result r = cli_run(work_dir, NULL, missing);

        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "nope.tflite") != NULL, "stderr: %s", r.err);
        cli_result_free(&r);
        r = cli_run(work_dir, NULL, photo);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "not a TFLite model") != NULL, "stderr: %s", r.err);
        cli_result_free(&r);
    }

    /* Heads: a wrong one for the model, and an unknown name. */
    {
        const char *wrong[] = {"detect", model, data("images/coffee.png"), "--head",
                               "blazeface_full_range", NULL};
        const char *unknown[] = {"detect", model, data("images/coffee.png"), "--head", "yolo9000",
                                 NULL};
        cli_result r = cli_run(work_dir, NULL, wrong);

        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "blazeface_full_range") != NULL && strstr(r.err, "192") != NULL,
                  "stderr: %s", r.err);
        cli_result_free(&r);
        r = cli_run(work_dir, NULL, unknown);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "yolo9000") != NULL &&
                      strstr(r.err, "blazeface_short_range") != NULL,
                  "stderr: %s", r.err);
        cli_result_free(&r);
    }

    /* Usage errors exit with 2. */
    {
        const char *score[] = {"detect", model, data("images/coffee.png"), "--score", "2", NULL};
        const char *every[] = {"detect", model, data("images/coffee.png"), "--every", "0", NULL};
        const char *nothing[] = {"detect", model, NULL};
        const char *option[] = {"detect", model, data("images/coffee.png"), "--colour", "red",
                                NULL};
        const char *const *cases[] = {score, every, nothing, option};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            cli_result r = cli_run(work_dir, NULL, cases[i]);

            CHECK_EQ_INT(r.status, 2);
            CHECK(strlen(r.err) > 0);
            cli_result_free(&r);
        }
    }
}

/* Returns true when two stat results show the same size and modification time to the nanosecond. */
static bool same_file_state(const struct stat *before, const struct stat *after)
{
    return before->st_size == after->st_size &&
           before->st_mtim.tv_sec == after->st_mtim.tv_sec &&
           before->st_mtim.tv_nsec == after->st_mtim.tv_nsec;
}

/* --out into the source's own folder must not replace the source. */
static void out_never_replaces_source(void)
{
    char command[1200];
    const char *args[] = {"detect", model, work("same/g.jpg"), "--out", work("same"), NULL};
    cli_result r;
    struct stat before, after;

    snprintf(command, sizeof(command), "mkdir -p '%s' && cp '%s' '%s'", work("same"),
             data("images/grace_hopper.jpg"), work("same/g.jpg"));
    CHECK_EQ_INT(run_shell(command), 0);
    CHECK_EQ_INT(stat(work("same/g.jpg"), &before), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "would replace a source file") != NULL, "stderr: %s", r.err);
    CHECK_EQ_INT(stat(work("same/g.jpg"), &after), 0);
    CHECK_EQ_INT(after.st_size, before.st_size);
    CHECK(after.st_mtime == before.st_mtime);
    cli_result_free(&r);

    /* The same file named as a file: URL, and a file read as standard input. */
    {
        char url[1100];
        const char *as_url[] = {"detect", model, url, "--out", work("same"), NULL};
        const char *as_stdin[] = {"detect", model, "-", "--out", work("same"), NULL};

        snprintf(url, sizeof(url), "file:%s", work("same/g.jpg"));
        r = cli_run(work_dir, NULL, as_url);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "would replace a source file") != NULL, "stderr: %s", r.err);
        CHECK_EQ_INT(stat(work("same/g.jpg"), &after), 0);
        CHECK(same_file_state(&before, &after));
        cli_result_free(&r);

        snprintf(command, sizeof(command), "cp '%s' '%s'", work("same/g.jpg"),
                 work("same/stdin.png"));
        CHECK_EQ_INT(run_shell(command), 0);
        CHECK_EQ_INT(stat(work("same/stdin.png"), &before), 0);
        r = cli_run(work_dir, work("same/stdin.png"), as_stdin);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "would replace a source file") != NULL, "stderr: %s", r.err);
        CHECK_EQ_INT(stat(work("same/stdin.png"), &after), 0);
        CHECK(same_file_state(&before, &after));
        cli_result_free(&r);
    }
}

static void unusable_inputs_fail(void)
{
    const char *dash[] = {"detect", model, data("images/coffee.png"), "-score", "0.1", NULL};
    const char *pipe[] = {"detect", model, "-", NULL};
    cli_result r = cli_run(work_dir, NULL, dash);

    /* A single-dash word is named as typed, with the two ways out. */
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "'-score'") != NULL && strstr(r.err, "--score") != NULL,
              "stderr: %s", r.err);
    cli_result_free(&r);

    /* MP4 keeps its index at the end, so a pipe yields no frame: that is a failure. */
    r = cli_run(work_dir, data("video/vtest_10s.mp4"), pipe);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "no frame could be decoded") != NULL, "stderr: %s", r.err);
    CHECK_EQ_INT(strlen(r.out), 0);
    cli_result_free(&r);
}

static int count_occurrences(const char *text, const char *needle)
{
    int count = 0;

    for (const char *at = strstr(text, needle); at != NULL; at = strstr(at + 1, needle))
        count++;
    return count;
}

/* --max-pixels: grace_hopper.jpg is 512x600 = 307200 pixels, accepted at that limit only. */
static void max_pixels_limit(void)
{
    const char *below[] = {"detect", model, data("images/grace_hopper.jpg"), "--max-pixels",
                           "307199", NULL};
    const char *at[] = {"detect", model, data("images/grace_hopper.jpg"), "--max-pixels",
                        "307200", NULL};
    const char *zero[] = {"detect", model, data("images/grace_hopper.jpg"), "--max-pixels", "0",
                          NULL};
    cli_result r;

    r = cli_run(work_dir, NULL, below);
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(strlen(r.out), 0);
    CHECK_MSG(strstr(r.err, "307199") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, at);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(count_occurrences(r.out, "\"face\""), 1);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, zero);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "--max-pixels") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);
}

static void detection_limit_and_output_errors(void)
{
    const char *all[] = {"detect", model, data("images/grace_hopper.jpg"), "--score", "0",
                         "--iou", "1", "--max-detections", "1000", NULL};
    const char *two[] = {"detect", model, data("images/grace_hopper.jpg"), "--score", "0",
                         "--iou", "1", "--max-detections", "2", NULL};
    const char *fraction[] = {"detect", model, data("images/grace_hopper.jpg"), "--threads",
                              "2.5", NULL};
    const char *not_folder[] = {"detect", model, data("images/grace_hopper.jpg"), "--out",
                                data("images/coffee.png"), NULL};
    char command[1400];
    cli_result r;

    /* Without NMS and a score floor, every one of the 896 anchors is a detection. */
    r = cli_run(work_dir, NULL, all);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(count_occurrences(r.out, "\"score\""), 896);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, two);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(count_occurrences(r.out, "\"score\""), 2);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, fraction);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "expected an integer") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, not_folder);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "is not a folder") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    /* Lines that cannot be written are an error, not a silent success. */
    snprintf(command, sizeof(command), "\"$VERGE_BIN\" detect '%s' '%s' >&- 2> '%s'", model,
             data("images/grace_hopper.jpg"), work("closed.err"));
    CHECK_EQ_INT(run_shell(command), 1);
    {
        char *err = cli_read_file(work("closed.err"));

        CHECK_MSG(strstr(err, "cannot write to standard output") != NULL, "stderr: %s", err);
        free(err);
    }
}

/* A file name that is not UTF-8 still gives valid JSON, and a valid UTF-8 name stays as it is. */
static void file_names_stay_valid_json(void)
{
    char not_utf8[600], accented[600], command[1400];
    const char *args[] = {"detect", model, not_utf8, accented, NULL};
    cli_result r;

    snprintf(not_utf8, sizeof(not_utf8), "%s", work("bad\xff\xfe\xc0\xafname.jpg"));
    snprintf(accented, sizeof(accented), "%s", work("caf\xc3\xa9.jpg"));
    snprintf(command, sizeof(command), "cp '%s' '%s' && cp '%s' '%s'",
             data("images/grace_hopper.jpg"), not_utf8, data("images/grace_hopper.jpg"), accented);
    CHECK_EQ_INT(run_shell(command), 0);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strstr(r.out, "bad\\ufffd\\ufffd\\ufffd\\ufffdname.jpg\"") != NULL, "stdout: %s",
              r.out);
    CHECK(strstr(r.out, "caf\xc3\xa9.jpg\"") != NULL);
    CHECK(strchr(r.out, 0xff) == NULL);
    cli_result_free(&r);
}

/*
 * Returns the number after " key=" in the options string that libx264 writes
 * into the first frame of an MP4 ("... options: cabac=1 ref=1 ... threads=2
 * ..."), or -1 when the file or the key is missing.
 */
static int x264_option(const char *path, const char *key)
{
    struct stat info;
    char *file = cli_read_file(path);
    const char *options = NULL;
    size_t key_length = strlen(key);
    int value = -1;

    /* cli_read_file() appends a NUL, and the MP4 contains NULs, so search by length. */
    for (size_t i = 0; stat(path, &info) == 0 && i + 9 <= (size_t)info.st_size; i++) {
        if (memcmp(file + i, "options: ", 9) == 0) {
            options = file + i + 8;
            break;
        }
    }
    for (const char *at = options; at != NULL && *at != '\0'; at = strchr(at + 1, ' ')) {
        if (strncmp(at + 1, key, key_length) == 0 && at[1 + key_length] == '=') {
            value = atoi(at + 2 + key_length);
            break;
        }
    }
    free(file);
    return value;
}

/*
 * Annotated MP4s are encoded with 2 threads, or --threads up to 16, instead of
 * libx264's 1.5 per core, and a short lookahead: frugal enough for a 2-core
 * edge box with 1-2 GB. The options libx264 records in the file show it.
 */
static void annotated_video_encoder_threads(void)
{
    const char *one[] = {"detect", model, work("pan.mp4"), "--max-frames", "8", "--threads", "1",
                         "--out", work("threads1"), NULL};
    const char *many[] = {"detect", model, work("pan.mp4"), "--max-frames", "8", "--threads",
                          "64", "--out", work("threads64"), NULL};
    cli_result r;

    /* Written by panning_video_tracks_face without --threads. */
    CHECK_EQ_INT(x264_option(work("annotated/pan.mp4"), "threads"), 2);
    CHECK_EQ_INT(x264_option(work("annotated/pan.mp4"), "rc_lookahead"), 5);
    CHECK_EQ_INT(x264_option(work("annotated/pan.mp4"), "bframes"), 1);

    r = cli_run(work_dir, NULL, one);
    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    cli_result_free(&r);
    CHECK_EQ_INT(x264_option(work("threads1/pan.mp4"), "threads"), 1);
    CHECK_EQ_INT(count_video_frames(work("threads1/pan.mp4")), 8);

    r = cli_run(work_dir, NULL, many);
    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    cli_result_free(&r);
    CHECK_EQ_INT(x264_option(work("threads64/pan.mp4"), "threads"), 16);
}

/* Returns true when `folder` contains a file whose name starts with `prefix`. */
static bool folder_has_entry(const char *folder, const char *prefix)
{
    DIR *dir = opendir(folder);
    struct dirent *entry;
    bool found = false;

    while (dir != NULL && (entry = readdir(dir)) != NULL)
        found = found || strncmp(entry->d_name, prefix, strlen(prefix)) == 0;
    if (dir != NULL)
        closedir(dir);
    return found;
}

/*
 * An --out folder that exists but cannot be written fails before any source
 * is processed, with no JSON line out. The tests run as root, which passes
 * permission checks, so the folders are ones that no one can create files
 * in: sysfs rejects it (EACCES, or EROFS where it is mounted read-only), and
 * so does a process's /proc folder (ENOENT).
 */
static void unwritable_out_fails_first(void)
{
    static const char *const folders[] = {"/sys", "/proc/self"};
    struct stat info;

    for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
        const char *args[] = {"detect", model, data("images/grace_hopper.jpg"), work("pan.mp4"),
                              "--out", folders[i], NULL};
        cli_result r;

        CHECK_MSG(stat(folders[i], &info) == 0 && S_ISDIR(info.st_mode),
                  "%s is not a folder on this system", folders[i]);
        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strlen(r.out) == 0, "%s: stdout: %.300s", folders[i], r.out);
        CHECK_MSG(strstr(r.err, "cannot write into the --out folder") != NULL &&
                      strstr(r.err, folders[i]) != NULL,
                  "stderr: %s", r.err);
        cli_result_free(&r);
    }

    /* The file that shows a folder is writable is removed again. */
    CHECK(access(work("annotated/grace_hopper.jpg"), F_OK) == 0);
    CHECK(!folder_has_entry(work("annotated"), ".verge"));
}

/* Returns the permission bits of `path`, or -1 when it does not exist. */
static int file_mode(const char *path)
{
    struct stat info;

    return stat(path, &info) == 0 ? (int)(info.st_mode & 07777) : -1;
}

/* --out creates missing parent folders like `mkdir -p`, and names a file that is in the way. */
static void out_parents_are_created(void)
{
    const char *deep[] = {"detect", model, data("images/grace_hopper.jpg"), "--out",
                          work("deep/a/b/c"), NULL};
    const char *under_file[] = {"detect", model, data("images/grace_hopper.jpg"), "--out",
                                work("deep/a/b/c/grace_hopper.jpg/d/e"), NULL};
    const char *trailing[] = {"detect", model, data("images/coffee.png"), "--out",
                              work("deep//a/b2/"), NULL};
    mode_t saved_umask;
    cli_result r;

    /* 027 rather than the usual 022, so that 0777 & ~umask differs from a fixed 0755. */
    saved_umask = umask(027);
    r = cli_run(work_dir, NULL, deep);
    umask(saved_umask);
    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 1);
    cli_result_free(&r);
    CHECK(access(work("deep/a/b/c/grace_hopper.jpg"), R_OK) == 0);
    CHECK_EQ_INT(file_mode(work("deep")), 0750);
    CHECK_EQ_INT(file_mode(work("deep/a/b/c")), 0750);

    r = cli_run(work_dir, NULL, trailing);
    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    cli_result_free(&r);
    CHECK(access(work("deep/a/b2/coffee.png"), R_OK) == 0);

    /* A file where a parent folder must be: a usage error (2) that names the file. */
    r = cli_run(work_dir, NULL, under_file);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "deep/a/b/c/grace_hopper.jpg is not a folder") != NULL,
              "stderr: %s", r.err);
    CHECK_EQ_INT(strlen(r.out), 0);
    cli_result_free(&r);
}

/*
 * Starts a process that responds to every HTTP request on 127.0.0.1 with
 * the bytes of `path`, whatever the request's path. Stores the port and returns
 * the process id, or -1. The server exits on SIGTERM, or after 120 s in case
 * the test dies first.
 */
static pid_t http_server_start(const char *path, int *port)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t address_length = sizeof(address);
    struct stat info;
    char *body = cli_read_file(path);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || stat(path, &info) != 0 ||
        bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(listener, 8) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &address_length) != 0) {
        if (listener >= 0)
            close(listener);
        free(body);
        return -1;
    }
    *port = ntohs(address.sin_port);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        alarm(120);
        for (;;) {
            char request[8192], header[160];
            size_t got = 0, sent = 0;
            int client = accept(listener, NULL, NULL);

            if (client < 0)
                continue;
            /* Reads the request up to its blank line; its contents do not matter. */
            while (got < sizeof(request) - 1) {
                ssize_t n = read(client, request + got, sizeof(request) - 1 - got);

                if (n <= 0)
                    break;
                got += (size_t)n;
                request[got] = '\0';
                if (strstr(request, "\r\n\r\n") != NULL)
                    break;
            }
            snprintf(header, sizeof(header),
                     "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: %lld\r\n"
                     "Connection: close\r\n\r\n", (long long)info.st_size);
            if (write(client, header, strlen(header)) == (ssize_t)strlen(header)) {
                while (sent < (size_t)info.st_size) {
                    ssize_t n = write(client, body + sent, (size_t)info.st_size - sent);

                    if (n <= 0)
                        break;
                    sent += (size_t)n;
                }
            }
            close(client);
        }
    }
    close(listener);
    free(body);
    return pid;
}

/*
 * A stream's annotated MP4 is named after the last non-empty component of
 * its URL path, else after its host, with characters unsafe in file names
 * replaced, and never "stdin.mp4". A local HTTP server replaces an RTSP
 * camera here, since both go through the same naming.
 */
static void stream_names_from_url(void)
{
    char command[1200], urls[5][160];
    const char *args[16] = {"detect", model};
    static const char *const url_paths[] = {"/cam/live/", "/", "/", "/a%20b:c/./?next=/x/",
                                            "/.hidden/"};
    static const char *const expected[] = {"live.mp4", "127.0.0.1.mp4", "127.0.0.1-2.mp4",
                                           "a_20b_c.mp4", "_hidden.mp4"};
    int argc = 2, port = 0;
    pid_t server;
    cli_result r;

    snprintf(command, sizeof(command),
             "ffmpeg -nostdin -loglevel error -y -loop 1 -i '%s' -vf scale=256:300 -frames:v 3 "
             "-c:v mpeg2video -q:v 2 -f mpegts '%s'",
             data("images/grace_hopper.jpg"), work("served.ts"));
    CHECK_EQ_INT(run_shell(command), 0);
    server = http_server_start(work("served.ts"), &port);
    CHECK_MSG(server > 0, "cannot start an HTTP server on 127.0.0.1: %s", strerror(errno));
    if (server <= 0)
        return;

    for (size_t i = 0; i < sizeof(url_paths) / sizeof(url_paths[0]); i++) {
        /* The third URL carries user information, which must not reach the file name. */
        snprintf(urls[i], sizeof(urls[i]), "http://%s127.0.0.1:%d%s",
                 i == 2 ? "viewer:secret@" : "", port, url_paths[i]);
        args[argc++] = urls[i];
    }
    args[argc++] = "--out";
    args[argc++] = work("streams");
    args[argc] = NULL;
    r = cli_run(work_dir, NULL, args);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);

    CHECK_MSG(r.status == 0, "stderr: %s", r.err);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 15);
    /* The JSON lines name the third source without its password. */
    CHECK_EQ_INT(cli_count_lines(r.out, "viewer:***@127.0.0.1"), 3);
    CHECK_MSG(strstr(r.out, "secret") == NULL, "stdout: %s", r.out);
    CHECK_MSG(strstr(r.err, "secret") == NULL, "stderr: %s", r.err);
    cli_result_free(&r);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        char path[1100];
        int frames;

        snprintf(path, sizeof(path), "%s/streams/%s", work_dir, expected[i]);
        frames = count_video_frames(path);
        CHECK_MSG(frames == 3, "%s: %d frames", expected[i], frames);
    }
    CHECK(access(work("streams/stdin.mp4"), F_OK) != 0);
}

int main(void)
{
    char command[600];

    if (mkdtemp(work_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    check_model_path("face_detection_short_range.tflite", model);

    RUN(photos_give_one_face_each);
    RUN(panning_video_tracks_face);
    RUN(frame_selection_options);
    RUN(reads_standard_input);
    RUN(phone_video_is_upright);
    RUN(mjpeg_recording_is_video);
    RUN(long_stream_times_stay_exact);
    RUN(stopping_early_finishes_video);
    RUN(fast_video_is_annotated);
    RUN(bad_inputs_fail_clearly);
    RUN(out_never_replaces_source);
    RUN(unusable_inputs_fail);
    RUN(detection_limit_and_output_errors);
    RUN(max_pixels_limit);
    RUN(file_names_stay_valid_json);
    RUN(annotated_video_encoder_threads);
    RUN(unwritable_out_fails_first);
    RUN(out_parents_are_created);
    RUN(stream_names_from_url);

    snprintf(command, sizeof(command), "rm -rf '%s'", work_dir);
    run_shell(command);
    return check_summary();
}
