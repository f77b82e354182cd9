/*
 * Messages and help texts of the verge command as a user reads them. Ranges
 * print as whole numbers in one style, a usage error shows the usage of the
 * mode in use, and unexpected arguments get one message in every command.
 * Counts of one take the singular, help texts match what the commands
 * accept, and broker passwords stay out of every line. The broker URLs point
 * at a free loopback port where nothing listens, so connections are refused.
 */
#include <signal.h>
#include <stdbool.h>

#include "check.h"
#include "cli/cli_run.h"
#include "net/mqtt_broker.h"

static char work_dir[] = "/tmp/verge-messages-XXXXXX";

/*
 * The broker of usage errors: a URL that does not parse, so that a command
 * that took a bad option by mistake stops at the URL instead of connecting.
 */
#define NOWHERE "http://127.0.0.1:1"
static char model[512];

static const char *work(const char *name)
{
    static char paths[8][600];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, sizeof(paths[0]), "%s/%s", work_dir, name);
    return path;
}

/* Copies `text` with every run of spaces and line ends as one space, for wrapped help texts. */
static char *flatten(const char *text)
{
    char *flat = malloc(strlen(text) + 1), *to = flat;

    if (flat == NULL)
        return NULL;
    for (const char *at = text; *at != '\0'; at++) {
        bool space = *at == ' ' || *at == '\n';

        if (!space)
            *to++ = *at;
        else if (to > flat && to[-1] != ' ')
            *to++ = ' ';
    }
    *to = '\0';
    return flat;
}

/* The line of `text` that contains `needle`, copied into `line` ("" when there is none). */
static const char *line_with(const char *text, const char *needle, char *line, size_t size)
{
    const char *at = strstr(text, needle), *start, *end;

    line[0] = '\0';
    if (at == NULL)
        return line;
    for (start = at; start > text && start[-1] != '\n'; start--)
        ;
    end = strchr(at, '\n');
    snprintf(line, size, "%.*s", (int)(end != NULL ? end - start : (long)strlen(start)), start);
    return line;
}

/* Number ranges: whole bounds print whole, in the form "expected an integer in MIN..MAX". */
static void ranges_print_whole_numbers(void)
{
    static const struct {
        const char *args[12];
        const char *message;
    } cases[] = {
        {{"serve", "--broker", NOWHERE, "--features", "--topic", "a", "--window", "0",
          NULL},
         "verge serve: invalid value '0' for --window: expected an integer in 1..67108864\n"},
        {{"features", "-", "--window", "0", NULL},
         "verge features: invalid value '0' for --window: expected an integer in 1..67108864\n"},
        {{"serve", "--broker", NOWHERE, "--features", "--topic", "a", "--max-topics",
          "0", NULL},
         "for --max-topics: expected an integer in 1..10000000\n"},
        {{"loadgen", "--broker", NOWHERE, "--devices", "0", NULL},
         "verge loadgen: invalid value '0' for --devices: expected an integer in 1..1000000\n"},
        {{"loadgen", "--broker", NOWHERE, "--connect-rate", "0", NULL},
         "for --connect-rate: expected a number in 1..1000000\n"},
        {{"submit", "--broker", NOWHERE, "--model", "m", "--max-attempts", "0", "x",
          NULL},
         "for --max-attempts: expected an integer in 1..1000000\n"},
        {{"bench", "MODEL", "--runs", "0", NULL},
         "verge bench: invalid value '0' for --runs: expected an integer in 1..1000000\n"},
        {{"run", "MODEL", "--threads", "0", NULL},
         "verge run: invalid value '0' for --threads: expected an integer in 1..256\n"},
        /* A count takes no fraction, where a plain cast would have made 2.5 threads 2. */
        {{"serve", "--broker", NOWHERE, "--model", "MODEL", "--threads", "2.5",
          NULL},
         "verge serve: invalid value '2.5' for --threads: expected an integer in 1..256\n"},
        {{"submit", "--broker", NOWHERE, "--model", "m", "--max-payload", "1G", "x",
          NULL},
         "for --max-payload: expected a byte count in 1..268435456, with an optional K or M "
         "suffix"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[12];
        cli_result r;

        for (int a = 0; a < 12; a++)
            args[a] = cases[i].args[a] != NULL && strcmp(cases[i].args[a], "MODEL") == 0
                          ? model
                          : cases[i].args[a];
        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 2, "case %zu: status %d (%s)", i, r.status, r.err);
        CHECK_MSG(strstr(r.err, cases[i].message) != NULL, "case %zu: stderr '%s' lacks '%s'", i,
                  r.err, cases[i].message);
        CHECK_MSG(strstr(r.err, "e+") == NULL && strstr(r.err, "e-0") == NULL,
                  "case %zu: stderr '%s'", i, r.err);
        cli_result_free(&r);
    }
}

/* A usage error of `verge serve --features` shows the usage of that mode, wherever --features is. */
static void usage_line_follows_the_mode(void)
{
    static const char *const features_usage =
        "usage: verge serve --broker URL --features --topic FILTER [options]";
    static const char *const detection_usage =
        "usage: verge serve --broker URL --model MODEL.tflite [options]";
    static const struct {
        const char *args[10];
        bool features;
    } cases[] = {
        {{"serve", "--broker", NOWHERE, "--features", "--topic", "a", "--window",
          "0", NULL}, true},
        {{"serve", "--broker", NOWHERE, "--window", "0", "--features", NULL}, true},
        {{"serve", "--broker", NOWHERE, "--features", "--topic", "a", "--threads",
          "2", NULL}, true},
        {{"serve", "--broker", NOWHERE, "--features", NULL}, true},
        {{"serve", "--broker", NOWHERE, "--threads", "0", NULL}, false},
        {{"serve", "--broker", NOWHERE, NULL}, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result r = cli_run(work_dir, NULL, cases[i].args);
        const char *want = cases[i].features ? features_usage : detection_usage;
        const char *other = cases[i].features ? detection_usage : features_usage;

        CHECK_MSG(r.status == 2, "case %zu: status %d", i, r.status);
        CHECK_MSG(strstr(r.err, want) != NULL && strstr(r.err, other) == NULL,
                  "case %zu: stderr %s", i, r.err);
        cli_result_free(&r);
    }
}

/*
 * Every command that takes a fixed number of positional arguments names an
 * extra one and then prints its usage line. Up to three extra arguments are
 * listed, then a count of the rest, never "...".
 */
static void unexpected_arguments_are_named(void)
{
    static const struct {
        const char *args[8];
        const char *message;
    } cases[] = {
        {{"info", "MODEL", "extra", NULL}, "verge info: unexpected argument 'extra'\n"},
        {{"bench", "MODEL", "extra", NULL}, "verge bench: unexpected argument 'extra'\n"},
        {{"run", "MODEL", "extra", NULL}, "verge run: unexpected argument 'extra'\n"},
        {{"features", "a", "extra", NULL}, "verge features: unexpected argument 'extra'\n"},
        {{"operators", "extra", NULL}, "verge operators: unexpected argument 'extra'\n"},
        {{"serve", "--broker", NOWHERE, "--model", "MODEL", "extra", NULL},
         "verge serve: unexpected argument 'extra'\n"},
        {{"loadgen", "--broker", NOWHERE, "extra", NULL},
         "verge loadgen: unexpected argument 'extra'\n"},
        {{"features", "a", "b", "c", NULL}, "verge features: unexpected arguments 'b', 'c'\n"},
        {{"features", "a", "b", "c", "d", "e", NULL},
         "verge features: unexpected arguments 'b', 'c', 'd' and 1 more\n"},
        {{"info", NULL}, "verge info: missing MODEL\n"},
        {{"bench", NULL}, "verge bench: missing MODEL\n"},
        {{"features", NULL}, "verge features: missing INPUT"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[8];
        char usage[64];
        cli_result r;

        for (int a = 0; a < 8; a++)
            args[a] = cases[i].args[a] != NULL && strcmp(cases[i].args[a], "MODEL") == 0
                          ? model
                          : cases[i].args[a];
        snprintf(usage, sizeof(usage), "\nusage: verge %s ", args[0]);
        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 2, "case %zu: status %d (%s)", i, r.status, r.err);
        CHECK_MSG(strncmp(r.err, cases[i].message, strlen(cases[i].message)) == 0,
                  "case %zu: stderr '%s' does not start with '%s'", i, r.err, cases[i].message);
        CHECK_MSG(strstr(r.err, usage) != NULL, "case %zu: no usage line in '%s'", i, r.err);
        CHECK_MSG(strstr(r.err, "...)") == NULL && strstr(r.err, "', ...") == NULL,
                  "case %zu: stderr '%s'", i, r.err);
        cli_result_free(&r);
    }
}

/*
 * loadgen's usage line marks the options that have defaults as optional, and
 * its options list gives the defaults. The help of submit and loadgen names
 * exit status 2. serve and submit both document K and M suffixes for
 * --max-payload, and both accept them.
 */
static void help_texts_match_the_commands(void)
{
    const char *loadgen_help[] = {"loadgen", "--help", NULL};
    const char *submit_help[] = {"submit", "--help", NULL};
    const char *serve_help[] = {"serve", "--help", NULL};
    cli_result loadgen = cli_run(work_dir, NULL, loadgen_help);
    cli_result submit = cli_run(work_dir, NULL, submit_help);
    cli_result serve = cli_run(work_dir, NULL, serve_help);
    char *loadgen_flat = flatten(loadgen.out), *submit_flat = flatten(submit.out);
    char *serve_flat = flatten(serve.out);
    char line[256];

    CHECK_EQ_INT(loadgen.status + submit.status + serve.status, 0);
    CHECK_MSG(strncmp(loadgen.out,
                      "usage: verge loadgen --broker URL [--devices N] [--rate R] [--duration S] "
                      "[options]\n", 81) == 0, "%s", loadgen.out);
    CHECK_MSG(strstr(line_with(loadgen.out, "  --devices N", line, sizeof(line)), "(default 100)"),
              "%s", line);
    CHECK_MSG(strstr(line_with(loadgen.out, "  --rate R", line, sizeof(line)), "(default 1)"),
              "%s", line);
    CHECK_MSG(strstr(line_with(loadgen.out, "  --duration S", line, sizeof(line)),
                     "(default 10)"), "%s", line);
    CHECK_MSG(strstr(loadgen_flat, "1 otherwise, 2 on a usage error") != NULL, "%s", loadgen.out);
    CHECK_MSG(strstr(submit_flat, "1 otherwise, 2 on a usage error") != NULL, "%s", submit.out);
    CHECK_MSG(strstr(submit_flat, "--max-payload B files above B bytes fail without being sent "
                                  "(default 16M; K, M suffixes)") != NULL, "%s", submit.out);
    CHECK_MSG(strstr(serve_flat, "(default 16M; K, M suffixes)") != NULL, "%s", serve.out);
    free(loadgen_flat);
    free(submit_flat);
    free(serve_flat);
    cli_result_free(&loadgen);
    cli_result_free(&submit);
    cli_result_free(&serve);

    /*
     * A suffixed value passes, so the command goes on to the next check: the
     * broker URL, which names another scheme here and stops it before connecting.
     */
    {
        static const char *const values[] = {"512K", "16M", "1.5m", "256M"};

        for (int i = 0; i < 4; i++) {
            const char *submit_args[] = {"submit", "--broker", "http://127.0.0.1:1", "--model",
                                         "m", "--max-payload", values[i], "x", NULL};
            const char *serve_args[] = {"serve", "--broker", "http://127.0.0.1:1", "--model",
                                        model, "--max-payload", values[i], NULL};
            cli_result a = cli_run(work_dir, NULL, submit_args);
            cli_result b = cli_run(work_dir, NULL, serve_args);

            CHECK_MSG(a.status == 2 && strstr(a.err, "must start with mqtt://") != NULL &&
                          strstr(a.err, "--max-payload") == NULL,
                      "submit --max-payload %s: %s", values[i], a.err);
            CHECK_MSG(b.status == 2 && strstr(b.err, "must start with mqtt://") != NULL &&
                          strstr(b.err, "--max-payload") == NULL,
                      "serve --max-payload %s: %s", values[i], b.err);
            cli_result_free(&a);
            cli_result_free(&b);
        }
    }
}

/* A count of one takes the singular: one bad row, one window, one warm-up run. */
static void counts_of_one_are_singular(void)
{
    FILE *file = fopen(work("one.csv"), "w");
    const char *features[] = {"features", work("one.csv"), "--window", "2", "--fill", "none",
                              "--on-error", "skip", NULL};
    const char *bench[] = {"bench", model, "--runs", "1", "--warmup", "1", "--profile", NULL};
    cli_result r;

    CHECK(file != NULL);
    if (file == NULL)
        return;
    /* Line 2 is skipped; the missing sample of line 3 stays NaN in the one window. */
    fputs("t,value\n1,abc\n2,\n3,1\n", file);
    fclose(file);
    r = cli_run(work_dir, NULL, features);
    CHECK_MSG(r.status == 0, "status %d: %s", r.status, r.err);
    CHECK_MSG(strstr(r.err, ": skipped 1 bad row (first: line 2") != NULL, "%s", r.err);
    CHECK_MSG(strstr(r.err, "verge features: 1 window contained NaN (all its features are NaN) "
                            "and 0 contained") != NULL, "%s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, bench);
    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strstr(r.out, "runs:        1 after 1 warm-up run\n") != NULL, "%s", r.out);
    CHECK_MSG(strstr(r.out, "(ms per inference, mean of 1 run):") != NULL, "%s", r.out);
    cli_result_free(&r);
}

/*
 * Runs "$VERGE_BIN args..." in the background until stderr contains `text`
 * (or 20 s pass), then stops it with SIGTERM, and with SIGKILL 20 s later.
 * Returns its output, with status -1 when it had to be killed.
 */
static cli_result run_until(const char *const *args, const char *text)
{
    cli_result result = {-1, NULL, NULL};
    const char *out_path = work("until.out"), *err_path = work("until.err");
    int status = 0;
    pid_t pid;

    /* The last run's lines must not count as this one's. */
    unlink(out_path);
    unlink(err_path);
    pid = cli_spawn(args, out_path, err_path);
    for (double until = broker_now() + 20; pid > 0 && broker_now() < until; broker_sleep(0.05)) {
        char *seen = cli_read_file(err_path);
        bool found = seen != NULL && strstr(seen, text) != NULL;

        free(seen);
        if (found || waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
        for (double until = broker_now() + 20; broker_now() < until; broker_sleep(0.05))
            if (waitpid(pid, &status, WNOHANG) == pid) {
                result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
        if (result.status == -1) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    } else if (pid > 0) {
        result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    result.out = cli_read_file(out_path);
    result.err = cli_read_file(err_path);
    return result;
}

/*
 * A password in the broker URL never reaches stdout or stderr. serve,
 * loadgen and submit print the URL as verge_uri_redact() does, in their own
 * lines, in the library's messages and in broker URL errors. A password with
 * '/' in it is hidden too.
 */
static void broker_passwords_stay_hidden(void)
{
    static const char *const secret = "pw-9f3c";
    char url[128], shown[128], slash_url[128], bad_port[128], tls_url[128], photo[512];
    int port = broker_free_port();
    cli_result r;

    CHECK(port > 0);
    snprintf(url, sizeof(url), "mqtt://verge:%s@127.0.0.1:%d", secret, port);
    snprintf(shown, sizeof(shown), "mqtt://verge:***@127.0.0.1:%d", port);
    snprintf(slash_url, sizeof(slash_url), "mqtt://verge:pw/9f3c@127.0.0.1:%d", port);
    snprintf(bad_port, sizeof(bad_port), "mqtt://verge:%s@127.0.0.1:99999", secret);
    snprintf(tls_url, sizeof(tls_url), "mqtts://verge:%s@127.0.0.1:%d", secret, port);
    check_data_path("images/coffee.png", photo);

    {
        const char *args[] = {"serve", "--broker", url, "--model", model, NULL};
        char line[256];

        r = run_until(args, "(attempt 1)");
        CHECK_MSG(r.status == 0, "serve: status %d: %s", r.status, r.err);
        snprintf(line, sizeof(line), "verge serve: serving face_detection_short_range from %s "
                                     "(group verge, 1 thread, 1 job at once)\n", shown);
        CHECK_MSG(strstr(r.err, line) != NULL, "serve: %s", r.err);
        CHECK_MSG(strstr(r.err, "verge serve: stopped after 0 jobs (0 errors, 0 dropped), 0 "
                                "reconnections\n") != NULL, "serve: %s", r.err);
        CHECK_MSG(strstr(r.err, secret) == NULL && strstr(r.out, secret) == NULL, "serve: %s",
                  r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"serve", "--broker", url, "--features", "--topic", "a/#", NULL};

        r = run_until(args, "(attempt 1)");
        CHECK_MSG(r.status == 0, "serve --features: status %d: %s", r.status, r.err);
        CHECK_MSG(strstr(r.err, "0 readings from 0 topics") != NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, secret) == NULL && strstr(r.out, secret) == NULL,
                  "serve --features: %s", r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"loadgen", "--broker", url, "--devices", "1", "--duration", "0.1",
                              NULL};
        char line[256];

        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 1, "loadgen: status %d: %s", r.status, r.err);
        snprintf(line, sizeof(line), "verge loadgen: connecting 1 device to %s\n", shown);
        CHECK_MSG(strstr(r.err, line) != NULL, "loadgen: %s", r.err);
        snprintf(line, sizeof(line), "verge loadgen: %s: ", shown);
        CHECK_MSG(strstr(r.err, line) != NULL, "loadgen: %s", r.err);
        CHECK_MSG(strstr(r.err, secret) == NULL && strstr(r.out, secret) == NULL, "loadgen: %s",
                  r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"loadgen", "--broker", slash_url, "--devices", "2", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 1, "loadgen: status %d: %s", r.status, r.err);
        CHECK_MSG(strstr(r.err, "connecting 2 devices to mqtt://verge:***@127.0.0.1:") != NULL,
                  "loadgen: %s", r.err);
        CHECK_MSG(strstr(r.err, "pw/9f3c") == NULL && strstr(r.out, "pw/9f3c") == NULL,
                  "loadgen: %s", r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"submit", "--broker", url, "--model", model, "--connect-timeout",
                              "1", photo, NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 1, "submit: status %d: %s", r.status, r.err);
        CHECK_MSG(strstr(r.err, "verge submit: 1 job: 0 ok, 1 failed; 0 retries, 0 duplicates "
                                "dropped, 0 reconnections;") != NULL, "submit: %s", r.err);
        CHECK_MSG(strstr(r.err, secret) == NULL && strstr(r.out, secret) == NULL, "submit: %s%s",
                  r.out, r.err);
        cli_result_free(&r);
    }
    /* Errors in the URL or in the TLS files quote the URL without its password too. */
    {
        const char *const commands[][10] = {
            {"submit", "--broker", bad_port, "--model", "m", "x", NULL},
            {"serve", "--broker", bad_port, "--model", model, NULL},
            {"loadgen", "--broker", bad_port, NULL},
            {"submit", "--broker", tls_url, "--cafile", "/nonexistent/ca.pem", "--model", "m",
             "x", NULL},
        };

        for (int c = 0; c < 4; c++) {
            r = cli_run(work_dir, NULL, commands[c]);
            CHECK_MSG(r.status == 2, "case %d: status %d: %s", c, r.status, r.err);
            CHECK_MSG(strstr(r.err, "verge:***@127.0.0.1:") != NULL, "case %d: %s", c, r.err);
            CHECK_MSG(strstr(r.err, secret) == NULL && strstr(r.out, secret) == NULL,
                      "case %d: %s", c, r.err);
            cli_result_free(&r);
        }
    }
}

int main(void)
{
    char command[600];

    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(work_dir) == NULL) {
        perror(work_dir);
        return 2;
    }
    check_model_path("face_detection_short_range.tflite", model);

    RUN(ranges_print_whole_numbers);
    RUN(usage_line_follows_the_mode);
    RUN(unexpected_arguments_are_named);
    RUN(help_texts_match_the_commands);
    RUN(counts_of_one_are_singular);
    RUN(broker_passwords_stay_hidden);

    snprintf(command, sizeof(command), "rm -rf %s", work_dir);
    broker_shell(command);
    return check_summary();
}
