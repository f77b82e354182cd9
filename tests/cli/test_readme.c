/*
 * The README's operator table must be exactly what `verge operators
 * --markdown` prints, so that the documentation follows the kernel registry.
 * Fix a failure with scripts/update-operator-table.sh.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char *read_all(FILE *file)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    size_t n;

    while (text != NULL && (n = fread(text + size, 1, capacity - size - 1, file)) > 0) {
        size += n;
        if (capacity - size < 2) {
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL) {
                free(text);
                return NULL;
            }
            text = grown;
            capacity *= 2;
        }
    }
    if (text != NULL)
        text[size] = '\0';
    return text;
}

static void operator_table_is_current(void)
{
    char path[512], command[1024];
    const char *bin = getenv("VERGE_BIN");
    FILE *file;
    char *readme, *generated, *begin, *end;

    check_data_path("../../README.md", path);
    file = fopen(path, "rb");
    CHECK_MSG(file != NULL, "cannot open %s", path);
    if (file == NULL || bin == NULL)
        return;
    readme = read_all(file);
    fclose(file);

    snprintf(command, sizeof(command), "'%s' operators --markdown", bin);
    file = popen(command, "r");
    CHECK(file != NULL);
    if (file == NULL) {
        free(readme);
        return;
    }
    generated = read_all(file);
    CHECK_EQ_INT(pclose(file), 0);

    begin = readme ? strstr(readme, "<!-- operators:begin -->\n") : NULL;
    end = readme ? strstr(readme, "<!-- operators:end -->") : NULL;
    CHECK_MSG(begin != NULL && end != NULL, "README.md lacks the operators markers");
    if (begin != NULL && end != NULL && generated != NULL) {
        begin += strlen("<!-- operators:begin -->\n");
        *end = '\0';
        CHECK_MSG(strcmp(begin, generated) == 0,
                  "README.md's operator table differs from `verge operators --markdown`; run "
                  "scripts/update-operator-table.sh");
        CHECK(strstr(generated, "| CONV_2D |") != NULL);
    }
    free(readme);
    free(generated);
}

int main(void)
{
    RUN(operator_table_is_current);
    return check_summary();
}
