/*
 * `verge operators [--markdown]`: lists the operators this build runs, from
 * the kernel registry. The README's operator table is this command's
 * Markdown output (scripts/update-operator-table.sh).
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "ops/ops.h"

int verge_cmd_operators(int argc, char **argv)
{
    bool markdown = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0) {
            markdown = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: verge operators [--markdown]\n\n"
                   "Lists the operators this build runs and their input types.\n"
                   "  --markdown  print a Markdown table\n");
            return 0;
        } else {
            fprintf(stderr, "verge operators: %s '%s'\n",
                    argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
            fprintf(stderr, "usage: verge operators [--markdown]; see --help\n");
            return 2;
        }
    }

    if (markdown)
        printf("| operator | TFLite code | input types |\n|---|---|---|\n");
    for (size_t i = 0;; i++) {
        const verge_kernel *kernel = verge_kernel_at(i);
        const char *name;

        if (kernel == NULL)
            break;
        name = kernel->custom_name != NULL ? kernel->custom_name : verge_op_name(kernel->op);
        if (markdown)
            printf("| %s | %s%d | %s |\n", name, kernel->custom_name ? "CUSTOM " : "",
                   kernel->custom_name ? VERGE_OP_CUSTOM : kernel->op, kernel->dtypes);
        else
            printf("%-28s %s\n", name, kernel->dtypes);
    }
    /* IF has no kernel in the registry: the interpreter runs its branch subgraphs itself. */
    if (markdown)
        printf("| IF | %d | bool condition; branches are subgraphs |\n", VERGE_OP_IF);
    else
        printf("%-28s %s\n", "IF", "bool condition; branches are subgraphs");
    return 0;
}
