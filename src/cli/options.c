#include <getopt.h>
#include <stdio.h>

#include "cli/options.h"

void cli_report_unknown_option(const char *command, char **argv)
{
    if (optopt != 0)
        fprintf(stderr, "%s: unknown option '-%c'\n", command, optopt);
    else
        fprintf(stderr, "%s: unknown option '%s'\n", command, argv[optind - 1]);
}
