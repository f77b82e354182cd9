#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"

/* Largest --max-payload: MQTT's largest message is 268435455 bytes, so 256M caps nothing more. */
#define CLI_BYTES_MAX 268435456.0

void cli_report_unknown_option(const char *command, char **argv)
{
    if (optopt != 0)
        fprintf(stderr, "%s: unknown option '-%c'\n", command, optopt);
    else
        fprintf(stderr, "%s: unknown option '%s'\n", command, argv[optind - 1]);
}

int cli_parse_integer(const char *command, const char *text, const char *option, long long min,
                      long long max, long long *value)
{
    char *end;

    errno = 0;
    *value = strtoll(text, &end, 10);
    /* strtoll() would also take leading spaces and a '+'; an option value has neither. */
    if (errno != 0 || end == text || *end != '\0' || *value < min || *value > max ||
        !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
        fprintf(stderr, "%s: invalid value '%s' for %s: expected an integer in %lld..%lld\n",
                command, text, option, min, max);
        return -1;
    }
    return 0;
}

int cli_parse_number(const char *command, const char *text, const char *option, double min,
                     double max, double *value)
{
    char *end;

    errno = 0;
    *value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(*value >= min && *value <= max)) {
        fprintf(stderr, "%s: invalid value '%s' for %s: expected a number in %.15g..%.15g\n",
                command, text, option, min, max);
        return -1;
    }
    return 0;
}

int cli_parse_bytes(const char *command, const char *text, const char *option, size_t *value)
{
    char *end;
    double number, scale = 1;

    errno = 0;
    number = strtod(text, &end);
    if (end != text && (*end == 'K' || *end == 'k'))
        scale = 1024, end++;
    else if (end != text && (*end == 'M' || *end == 'm'))
        scale = 1024.0 * 1024, end++;
    number *= scale;
    if (errno != 0 || end == text || *end != '\0' || !(number >= 1 && number <= CLI_BYTES_MAX)) {
        fprintf(stderr, "%s: invalid value '%s' for %s: expected a byte count in 1..%.0f, with "
                        "an optional K or M suffix (powers of 1024) such as 512K or 16M\n",
                command, text, option, CLI_BYTES_MAX);
        return -1;
    }
    *value = (size_t)floor(number);
    return 0;
}

int cli_check_positional(const char *command, int argc, char **argv, int first, int count,
                         const char *what)
{
    int extra = argc - first - count;

    if (extra < 0) {
        fprintf(stderr, "%s: missing %s\n", command, what);
        return -1;
    }
    if (extra == 0)
        return 0;
    fprintf(stderr, "%s: unexpected %s", command, cli_plural(extra, "argument", "arguments"));
    for (int i = 0; i < extra && i < 3; i++)
        fprintf(stderr, "%s'%s'", i == 0 ? " " : ", ", argv[first + count + i]);
    if (extra > 3)
        fprintf(stderr, " and %d more", extra - 3);
    fputc('\n', stderr);
    return -1;
}

const char *cli_plural(long long count, const char *one, const char *many)
{
    return count == 1 ? one : many;
}

volatile sig_atomic_t cli_stop_requested;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    cli_stop_requested = 1;
}

void cli_catch_stop_signals(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}
