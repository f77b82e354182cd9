/*
 * Subcommands of the verge command. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit status:
 * 0 on success, 1 when the job failed, 2 on a usage error.
 */
#ifndef VERGE_CLI_COMMANDS_H
#define VERGE_CLI_COMMANDS_H

int verge_cmd_bench(int argc, char **argv);
int verge_cmd_detect(int argc, char **argv);
int verge_cmd_features(int argc, char **argv);
int verge_cmd_info(int argc, char **argv);
int verge_cmd_operators(int argc, char **argv);
int verge_cmd_run(int argc, char **argv);
int verge_cmd_serve(int argc, char **argv);
int verge_cmd_submit(int argc, char **argv);
int verge_cmd_loadgen(int argc, char **argv);

#endif
