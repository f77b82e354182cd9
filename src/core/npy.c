#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "verge/npy.h"

enum { NPY_MAGIC_SIZE = 6, NPY_MAX_HEADER = 1 << 20, NPY_MAX_FILE = 1 << 30 };

static const char npy_magic[NPY_MAGIC_SIZE] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* A cursor over the header dictionary text. */
typedef struct header_reader {
    const char *at;
    const char *end;
} header_reader;

static void skip_space(header_reader *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'))
        r->at++;
}

static bool take_char(header_reader *r, char c)
{
    skip_space(r);
    if (r->at < r->end && *r->at == c) {
        r->at++;
        return true;
    }
    return false;
}

/*
 * Reads a quoted string ('…' or "…") into buf. Returns false when it is
 * malformed, too long or contains a control byte.
 */
static bool take_string(header_reader *r, char *buf, size_t size)
{
    char quote;
    size_t n = 0;

    skip_space(r);
    if (r->at >= r->end || (*r->at != '\'' && *r->at != '"'))
        return false;
    quote = *r->at++;
    while (r->at < r->end && *r->at != quote) {
        if (n + 1 >= size || (unsigned char)*r->at < 0x20)
            return false;
        buf[n++] = *r->at++;
    }
    if (r->at >= r->end)
        return false;
    r->at++;
    buf[n] = '\0';
    return true;
}

static bool take_word(header_reader *r, const char *word)
{
    size_t n = strlen(word);

    skip_space(r);
    if ((size_t)(r->end - r->at) >= n && memcmp(r->at, word, n) == 0) {
        r->at += n;
        return true;
    }
    return false;
}

/* Reads "(d0, d1, ...)" into dims; a 1-tuple may be "(d0,)"; "()" is a scalar. */
static verge_status take_shape(header_reader *r, const char *name, verge_array *array)
{
    if (!take_char(r, '('))
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy header: 'shape' is not a tuple",
                          name);
    array->rank = 0;
    while (!take_char(r, ')')) {
        long long value = 0;
        int digits = 0;

        skip_space(r);
        while (r->at < r->end && *r->at >= '0' && *r->at <= '9') {
            value = value * 10 + (*r->at - '0');
            if (value > INT32_MAX)
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: .npy header: a dimension exceeds %d", name, INT32_MAX);
            r->at++;
            digits++;
        }
        if (r->at < r->end && *r->at == 'L')
            r->at++;
        if (digits == 0)
            return verge_fail(VERGE_STATUS_INVALID_DATA,
                              "%s: .npy header: 'shape' holds something other than "
                              "non-negative integers", name);
        if (array->rank == VERGE_MAX_RANK)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "%s: the array has more than %d dimensions", name, VERGE_MAX_RANK);
        array->dims[array->rank++] = (int32_t)value;
        if (!take_char(r, ',')) {
            if (!take_char(r, ')'))
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: .npy header: 'shape' must be a tuple of non-negative "
                                  "integers; dimension %d is followed by '%.1s'", name,
                                  array->rank - 1, r->at < r->end ? r->at : "");
            break;
        }
    }
    return VERGE_OK;
}

/* Maps a descr such as "<f4" to a dtype and byte order; fails for anything else. */
static verge_status parse_descr(const char *descr, const char *name, verge_dtype *dtype,
                                bool *swap)
{
    static const struct {
        char kind;
        int size;
        verge_dtype dtype;
    } known[] = {
        {'f', 4, VERGE_DTYPE_FLOAT32}, {'f', 8, VERGE_DTYPE_FLOAT64}, {'i', 1, VERGE_DTYPE_INT8},
        {'u', 1, VERGE_DTYPE_UINT8},   {'i', 4, VERGE_DTYPE_INT32},   {'i', 8, VERGE_DTYPE_INT64},
        {'b', 1, VERGE_DTYPE_BOOL},
    };
    char order = descr[0];
    char kind;
    int size;

    if (order != '<' && order != '>' && order != '|' && order != '=')
        goto unsupported;
    kind = descr[1];
    if (kind == '\0' || descr[2] < '1' || descr[2] > '9' || descr[3] != '\0')
        goto unsupported;
    size = descr[2] - '0';
    for (size_t i = 0; i < VERGE_ARRAY_SIZE(known); i++) {
        if (known[i].kind == kind && known[i].size == size) {
            *dtype = known[i].dtype;
            *swap = size > 1 && order == '>';
            return VERGE_OK;
        }
    }

unsupported:
    return verge_fail(VERGE_STATUS_UNSUPPORTED,
                      "%s: dtype '%s' is not supported; use float32, float64, int8, uint8, "
                      "int32, int64 or bool", name, descr);
}

static verge_status parse_header(const char *text, size_t length, const char *name,
                                 verge_array *array, bool *swap, bool *fortran)
{
    header_reader r = {text, text + length};
    bool have_descr = false, have_order = false, have_shape = false;
    verge_status status;

    if (!take_char(&r, '{'))
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy header is not a dictionary", name);
    while (!take_char(&r, '}')) {
        char key[32];

        if (!take_string(&r, key, sizeof(key)) || !take_char(&r, ':'))
            return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy header is malformed", name);

        if (strcmp(key, "descr") == 0) {
            char descr[16];

            skip_space(&r);
            if (r.at < r.end && *r.at == '[')
                return verge_fail(VERGE_STATUS_UNSUPPORTED,
                                  "%s: .npy 'descr' is a list of fields: structured arrays are "
                                  "not supported", name);
            if (!take_string(&r, descr, sizeof(descr)))
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: .npy 'descr' is not a quoted dtype string such as '<f4'",
                                  name);
            status = parse_descr(descr, name, &array->dtype, swap);
            if (status != VERGE_OK)
                return status;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (take_word(&r, "True"))
                *fortran = true;
            else if (take_word(&r, "False"))
                *fortran = false;
            else
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: .npy 'fortran_order' is neither True nor False", name);
            have_order = true;
        } else if (strcmp(key, "shape") == 0) {
            status = take_shape(&r, name, array);
            if (status != VERGE_OK)
                return status;
            have_shape = true;
        } else {
            return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy header has unknown key '%s'",
                              name, key);
        }
        if (!take_char(&r, ',')) {
            if (!take_char(&r, '}'))
                return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy header is malformed",
                                  name);
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: .npy header lacks '%s'", name,
                          !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return VERGE_OK;
}

static void swap_bytes(uint8_t *data, size_t count, size_t item)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = data + i * item;

        for (size_t a = 0, b = item - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

/* Copies Fortran-order `src` into C-order `dst`. */
static void fortran_to_c(const uint8_t *src, uint8_t *dst, const verge_array *array, size_t item)
{
    size_t count = 1;
    size_t index[VERGE_MAX_RANK] = {0};
    size_t fortran_stride[VERGE_MAX_RANK];

    for (int d = 0; d < array->rank; d++) {
        fortran_stride[d] = count;
        count *= (size_t)array->dims[d];
    }
    for (size_t c = 0; c < count; c++) {
        size_t f = 0;

        for (int d = 0; d < array->rank; d++)
            f += index[d] * fortran_stride[d];
        memcpy(dst + c * item, src + f * item, item);
        for (int d = array->rank - 1; d >= 0; d--) {
            if (++index[d] < (size_t)array->dims[d])
                break;
            index[d] = 0;
        }
    }
}

verge_status verge_npy_parse(const void *data, size_t size, const char *name, verge_array *array)
{
    const uint8_t *bytes = data;
    size_t header_length, header_start, count = 1, item, payload;
    bool swap = false, fortran = false;
    verge_status status;

    memset(array, 0, sizeof(*array));
    if (size == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: the file is empty, not a .npy file",
                          name);
    if (memcmp(bytes, npy_magic, size < NPY_MAGIC_SIZE ? size : NPY_MAGIC_SIZE) != 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: not a .npy file (it does not start with \\x93NUMPY)", name);
    if (size < NPY_MAGIC_SIZE + 4)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: .npy file is truncated: %zu bytes, shorter than its header", name,
                          size);

    /* NumPy writes versions 1.0, 2.0 and 3.0 only, so a minor version other than 0 is unknown. */
    switch (bytes[7] == 0 ? bytes[6] : 0) {
    case 1:
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        header_start = 10;
        break;
    case 2:
    case 3:
        if (size < 12)
            return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy file is truncated", name);
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
                        (size_t)bytes[11] << 24;
        header_start = 12;
        break;
    default:
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: .npy format version %d.%d is unknown",
                          name, bytes[6], bytes[7]);
    }
    if (header_length > NPY_MAX_HEADER || header_length > size - header_start)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: .npy header length %zu exceeds the file (%zu bytes)", name,
                          header_length, size);

    status = parse_header((const char *)bytes + header_start, header_length, name, array, &swap,
                          &fortran);
    if (status != VERGE_OK)
        return status;

    item = verge_dtype_size(array->dtype);
    for (int d = 0; d < array->rank; d++) {
        if (!verge_size_mul(count, (size_t)array->dims[d], &count))
            return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy shape overflows", name);
    }
    if (!verge_size_mul(count, item, &array->bytes))
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy data size overflows", name);
    payload = size - header_start - header_length;
    if (payload != array->bytes)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: .npy data has %zu bytes, but shape and dtype need %zu", name,
                          payload, array->bytes);

    array->data = malloc(array->bytes ? array->bytes : 1);
    if (array->data == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", name,
                          array->bytes);
    if (fortran && array->rank > 1)
        fortran_to_c(bytes + header_start + header_length, array->data, array, item);
    else
        memcpy(array->data, bytes + header_start + header_length, array->bytes);
    if (swap)
        swap_bytes(array->data, count, item);
    if (array->dtype == VERGE_DTYPE_BOOL) {
        uint8_t *b = array->data;

        for (size_t i = 0; i < count; i++) {
            if (b[i] > 1) {
                status = verge_fail(VERGE_STATUS_INVALID_DATA,
                                    "%s: bool element %zu has value %d, expected 0 or 1", name, i,
                                    b[i]);
                verge_array_free(array);
                return status;
            }
        }
    }
    return VERGE_OK;
}

verge_status verge_npy_read(const char *path, verge_array *array)
{
    FILE *file;
    struct stat info;
    uint8_t *buffer = NULL;
    verge_status status;

    memset(array, 0, sizeof(*array));
    file = fopen(path, "rb");
    if (file == NULL)
        return verge_fail(errno == ENOENT ? VERGE_STATUS_NOT_FOUND : VERGE_STATUS_IO_ERROR,
                          "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: not a regular file", path);
        goto done;
    }
    if (info.st_size > NPY_MAX_FILE) {
        status = verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: file of %lld bytes exceeds %d bytes",
                            path, (long long)info.st_size, NPY_MAX_FILE);
        goto done;
    }
    buffer = malloc((size_t)info.st_size + 1);
    if (buffer == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes", path,
                            (long long)info.st_size);
        goto done;
    }
    if (fread(buffer, 1, (size_t)info.st_size, file) != (size_t)info.st_size) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: read failed", path);
        goto done;
    }
    status = verge_npy_parse(buffer, (size_t)info.st_size, path, array);

done:
    free(buffer);
    fclose(file);
    return status;
}

verge_status verge_npy_write(const char *path, verge_dtype dtype, int rank, const int32_t *dims,
                             const void *data)
{
    const char *descr;
    char header[256];
    size_t used, count = 1, bytes;
    FILE *file;
    bool ok;

    switch (dtype) {
    case VERGE_DTYPE_FLOAT32: descr = "<f4"; break;
    case VERGE_DTYPE_FLOAT64: descr = "<f8"; break;
    case VERGE_DTYPE_INT8: descr = "|i1"; break;
    case VERGE_DTYPE_UINT8: descr = "|u1"; break;
    case VERGE_DTYPE_INT32: descr = "<i4"; break;
    case VERGE_DTYPE_INT64: descr = "<i8"; break;
    case VERGE_DTYPE_BOOL: descr = "|b1"; break;
    default:
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: cannot write dtype %s to .npy", path,
                          verge_dtype_name(dtype));
    }
    if (rank < 0 || rank > VERGE_MAX_RANK)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: rank %d is out of range", path, rank);

    used = (size_t)snprintf(header, sizeof(header),
                            "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < rank; d++) {
        used += (size_t)snprintf(header + used, sizeof(header) - used, "%d%s", (int)dims[d],
                                 rank == 1 ? "," : (d + 1 < rank ? ", " : ""));
        count *= (size_t)dims[d];
    }
    used += (size_t)snprintf(header + used, sizeof(header) - used, "), }");
    /* Pad with spaces and a newline so that the data starts at a multiple of 64 bytes. */
    while ((10 + used + 1) % 64 != 0)
        header[used++] = ' ';
    header[used++] = '\n';
    bytes = count * verge_dtype_size(dtype);

    file = fopen(path, "wb");
    if (file == NULL)
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot create: %s", path, strerror(errno));
    ok = fwrite(npy_magic, 1, NPY_MAGIC_SIZE, file) == NPY_MAGIC_SIZE &&
         fputc(1, file) != EOF && fputc(0, file) != EOF && fputc((int)(used & 0xff), file) != EOF &&
         fputc((int)(used >> 8), file) != EOF && fwrite(header, 1, used, file) == used &&
         fwrite(data, 1, bytes, file) == bytes;
    if (fclose(file) != 0)
        ok = false;
    if (!ok)
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: write failed: %s", path, strerror(errno));
    return VERGE_OK;
}

void verge_array_free(verge_array *array)
{
    if (array == NULL)
        return;
    free(array->data);
    memset(array, 0, sizeof(*array));
}
