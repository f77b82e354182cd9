#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#ifndef VERGE_VERSION
#define VERGE_VERSION "0.1.0"
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"bench", verge_cmd_bench, "measure latency, throughput, memory and time per operator"},
    {"detect", verge_cmd_detect, "run a detector on images, videos, cameras or streams"},
    {"features", verge_cmd_features, "fill gaps in a sensor series and compute window features"},
    {"info", verge_cmd_info, "describe a model and list what this build cannot run"},
    {"run", verge_cmd_run, "run a model on .npy inputs, write or compare .npy outputs"},
    {"operators", verge_cmd_operators, "list the operators this build runs"},
    {"serve", verge_cmd_serve, "run a worker that takes jobs from an MQTT broker"},
    {"submit", verge_cmd_submit, "send detection jobs to workers, print their results"},
    {"loadgen", verge_cmd_loadgen, "simulate a fleet of MQTT devices and measure delivery"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: verge COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'verge COMMAND --help' for the options of a command and 'verge --version'\n"
                 "for the version.\n");
}

/*
 * Runs one command. Output that could not reach stdout (a full disk, a closed
 * descriptor) turns success into exit status 1, so that scripts notice lost lines.
 */
static int run_command(const command *c, int argc, char **argv)
{
    int status = c->run(argc, argv);

    if ((fflush(stdout) != 0 || ferror(stdout)) && status == 0) {
        fprintf(stderr, "verge %s: cannot write to standard output: %s\n", c->name,
                strerror(errno));
        status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    /* "verge help help" prints this general help too. */
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && (argc == 2 || strcmp(argv[2], "help") == 0))) {
        print_usage(stdout);
        return 0;
    }
    /* "verge help COMMAND" is "verge COMMAND --help". */
    if (strcmp(argv[1], "help") == 0) {
        char *help_argv[] = {argv[2], "--help", NULL};

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(argv[2], commands[i].name) == 0)
                return run_command(&commands[i], 2, help_argv);
        }
        fprintf(stderr, "verge: unknown command '%s'\n\n", argv[2]);
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("verge %s\n", VERGE_VERSION);
        return 0;
    }

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return run_command(&commands[i], argc - 1, argv + 1);
    }
    fprintf(stderr, "verge: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
