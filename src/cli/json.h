/* Small helpers for writing JSON Lines on stdout. */
#ifndef VERGE_CLI_JSON_H
#define VERGE_CLI_JSON_H

#include <stdio.h>

/*
 * Writes `text` as a JSON string literal, quotes included, escaping as RFC
 * 8259 requires. Bytes that are not well-formed UTF-8 become U+FFFD.
 */
void json_write_string(FILE *out, const char *text);

/*
 * Writes a number with up to `digits` significant digits, or null for NaN
 * and infinities, which JSON cannot represent.
 */
void json_write_number(FILE *out, double value, int digits);

#endif
