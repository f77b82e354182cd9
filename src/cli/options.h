/*
 * Helpers for the getopt_long loops of the subcommands: option values,
 * positional arguments, counts in messages and stop signals.
 *
 * For a value it rejects, every parser prints "COMMAND: invalid value
 * 'TEXT' for OPTION: expected ..." on stderr and returns -1, so that the
 * caller exits with status 2 (a usage error). Otherwise it returns 0.
 */
#ifndef VERGE_CLI_OPTIONS_H
#define VERGE_CLI_OPTIONS_H

#include <signal.h>
#include <stddef.h>

/*
 * Prints "COMMAND: unknown option 'X'" for the option getopt_long() just
 * rejected. An unknown short option inside a word ("-score") is named by its
 * letter, since argv[optind - 1] may then be an earlier argument.
 */
void cli_report_unknown_option(const char *command, char **argv);

/*
 * Parses a whole number in min..max, written in decimal with an optional
 * leading '-' ("12", not "12.0", "+12" or " 12"). The message reads
 * "expected an integer in MIN..MAX".
 */
int cli_parse_integer(const char *command, const char *text, const char *option, long long min,
                      long long max, long long *value);

/*
 * Parses a number in min..max (anything strtod() reads in full, such as
 * "0.5" or "1e3"; NaN is rejected). The message prints the bounds with up
 * to 15 significant digits, so whole bounds stay whole ("1..1000000").
 */
int cli_parse_number(const char *command, const char *text, const char *option, double min,
                     double max, double *value);

/*
 * Parses a byte count in 1..268435456 (256M, MQTT's largest message plus
 * one): a number with an optional K or M suffix, in either case, for 1024 or
 * 1048576. "1.5K" is 1536 bytes, and fractions of a byte are dropped.
 */
int cli_parse_bytes(const char *command, const char *text, const char *option, size_t *value);

/*
 * Checks that argv[first..argc) contains exactly `count` positional
 * arguments (0 or 1). Otherwise it prints "COMMAND: missing WHAT" or
 * "COMMAND: unexpected argument 'X'" and returns -1, and the caller prints
 * its usage line and exits with status 2. Up to three extra arguments are
 * named: "unexpected arguments 'X', 'Y', 'Z' and 2 more".
 */
int cli_check_positional(const char *command, int argc, char **argv, int first, int count,
                         const char *what);

/* Returns `one` when count is 1 and `many` otherwise, for "1 thread" and "2 threads". */
const char *cli_plural(long long count, const char *one, const char *many);

/* Set to 1 by SIGINT or SIGTERM once cli_catch_stop_signals() has run. */
extern volatile sig_atomic_t cli_stop_requested;

/*
 * Makes SIGINT and SIGTERM set cli_stop_requested instead of ending the
 * process, without SA_RESTART so that a blocking poll() returns at once, and
 * ignores SIGPIPE so that writing to a closed socket fails with EPIPE.
 */
void cli_catch_stop_signals(void);

#endif
