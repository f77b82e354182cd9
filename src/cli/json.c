#include <math.h>

#include "cli/json.h"

/*
 * Returns the length of the well-formed UTF-8 sequence at `p` (1..4), or 0
 * when it is not one: a stray continuation byte, a truncated sequence, an
 * overlong form, a surrogate or a code point above U+10FFFF.
 */
static int utf8_sequence_length(const unsigned char *p)
{
    int length;
    unsigned min, code;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        length = 2;
        min = 0x80;
        code = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        length = 3;
        min = 0x800;
        code = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        length = 4;
        min = 0x10000;
        code = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        code = code << 6 | (p[i] & 0x3fu);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return length;
}

void json_write_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0';) {
        int length = utf8_sequence_length(p);

        if (length == 0) {
            /* JSON text must be UTF-8: a byte that is not becomes U+FFFD, as decoders do. */
            fputs("\\ufffd", out);
            p++;
            continue;
        }
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fwrite(p, 1, (size_t)length, out);
        }
        p += length;
    }
    fputc('"', out);
}

void json_write_number(FILE *out, double value, int digits)
{
    if (!isfinite(value)) {
        fputs("null", out);
        return;
    }
    fprintf(out, "%.*g", digits, value);
}
