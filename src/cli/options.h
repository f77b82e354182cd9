/* Helpers for the getopt_long loops of the subcommands. */
#ifndef VERGE_CLI_OPTIONS_H
#define VERGE_CLI_OPTIONS_H

/*
 * Prints "COMMAND: unknown option 'X'" for the option getopt_long() just
 * rejected. An unknown short option inside a word ("-score") is named by its
 * letter, since argv[optind - 1] may then be an earlier argument.
 */
void cli_report_unknown_option(const char *command, char **argv);

#endif
