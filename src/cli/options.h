/* Helpers for the getopt_long loops of the subcommands. */
#ifndef VERGE_CLI_OPTIONS_H
#define VERGE_CLI_OPTIONS_H

#include <signal.h>

/*
 * Prints "COMMAND: unknown option 'X'" for the option getopt_long() just
 * rejected. An unknown short option inside a word ("-score") is named by its
 * letter, since argv[optind - 1] may then be an earlier argument.
 */
void cli_report_unknown_option(const char *command, char **argv);

/* Set to 1 by SIGINT or SIGTERM once cli_catch_stop_signals() has run. */
extern volatile sig_atomic_t cli_stop_requested;

/*
 * Makes SIGINT and SIGTERM set cli_stop_requested instead of ending the
 * process, without SA_RESTART so that a blocking poll() returns at once, and
 * ignores SIGPIPE so that writing to a closed socket fails with EPIPE.
 */
void cli_catch_stop_signals(void);

#endif
