/*
 * Runs the verge command for command-line tests: arguments in, exit status,
 * standard output and standard error out (as NUL-terminated strings).
 */
#ifndef VERGE_TESTS_CLI_RUN_H
#define VERGE_TESTS_CLI_RUN_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct cli_result {
    int status;      /* exit status, or 128 + signal number, or -1 if it could not run */
    char *out;       /* everything written to stdout */
    char *err;       /* everything written to stderr */
} cli_result;

static inline char *cli_read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    char *text;
    long size;

    if (file == NULL)
        return calloc(1, 1);
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    if (text != NULL && size > 0 && fread(text, 1, (size_t)size, file) != (size_t)size)
        text[0] = '\0';
    fclose(file);
    return text;
}

/*
 * Runs "$VERGE_BIN args..." (args ends with NULL) with standard input from
 * `stdin_path` (NULL: /dev/null). `work_dir` holds the captured output files.
 */
static inline cli_result cli_run(const char *work_dir, const char *stdin_path, const char *const *args)
{
    cli_result result = {-1, NULL, NULL};
    const char *bin = getenv("VERGE_BIN");
    char out_path[512], err_path[512];
    const char *argv[64];
    int argc = 0, wstatus;
    pid_t pid;

    snprintf(out_path, sizeof(out_path), "%s/stdout.txt", work_dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", work_dir);
    if (bin == NULL) {
        fprintf(stderr, "VERGE_BIN is not set: run the tests through ctest\n");
        exit(2);
    }
    argv[argc++] = bin;
    for (int i = 0; args[i] != NULL && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (in < 0 || out < 0 || err < 0)
            _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (pid > 0 && waitpid(pid, &wstatus, 0) == pid) {
        if (WIFEXITED(wstatus))
            result.status = WEXITSTATUS(wstatus);
        else if (WIFSIGNALED(wstatus))
            result.status = 128 + WTERMSIG(wstatus);
    }
    result.out = cli_read_file(out_path);
    result.err = cli_read_file(err_path);
    return result;
}

/*
 * Starts "$VERGE_BIN args..." (args ends with NULL) in the background, with
 * standard input from /dev/null and stdout and stderr into the two files.
 * The child is killed if the test dies. Returns its pid, or -1.
 */
static inline pid_t cli_spawn(const char *const *args, const char *out_path, const char *err_path)
{
    const char *bin = getenv("VERGE_BIN");
    const char *argv[64];
    int argc = 0;
    pid_t pid;

    argv[argc++] = bin;
    for (int i = 0; args[i] != NULL && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (bin == NULL || in < 0 || out < 0 || err < 0)
            _exit(127);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static inline void cli_result_free(cli_result *result)
{
    free(result->out);
    free(result->err);
}

/*
 * Returns "dir/name" in one of 16 rotating buffers, so that several paths
 * can be built for one call.
 */
static inline const char *cli_join(const char *dir, const char *name)
{
    static char paths[16][1024];
    static int next;
    char *path = paths[next++ % 16];

    if ((size_t)snprintf(path, sizeof(paths[0]), "%s/%s", dir, name) >= sizeof(paths[0])) {
        fprintf(stderr, "path %s/%s is too long\n", dir, name);
        exit(2);
    }
    return path;
}

/* Returns "$variable/name", exiting when the variable is not set (run through ctest). */
static inline const char *cli_env_path(const char *variable, const char *name)
{
    const char *dir = getenv(variable);

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "%s is not set: run the tests through ctest\n", variable);
        exit(2);
    }
    return cli_join(dir, name);
}

#define cli_data(name) cli_env_path("VERGE_TEST_DATA", name)
#define cli_model(name) cli_env_path("VERGE_MODEL_DIR", name)

/* Counts the lines of `text` that contain `needle`. */
static inline int cli_count_lines(const char *text, const char *needle)
{
    int count = 0;

    while (text != NULL && *text != '\0') {
        const char *end = strchr(text, '\n');
        size_t length = end ? (size_t)(end - text) : strlen(text);
        char *line = strndup(text, length);

        if (line != NULL && strstr(line, needle) != NULL)
            count++;
        free(line);
        text += length + (end != NULL);
    }
    return count;
}

#endif
