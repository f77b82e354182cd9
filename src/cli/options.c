#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

void cli_report_unknown_option(const char *command, char **argv)
{
    if (optopt != 0)
        fprintf(stderr, "%s: unknown option '-%c'\n", command, optopt);
    else
        fprintf(stderr, "%s: unknown option '%s'\n", command, argv[optind - 1]);
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
