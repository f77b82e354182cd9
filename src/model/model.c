#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "model/graph.h"
#include "model/model_storage.h"
#include "model/tflite.h"
#include "verge/model.h"

/* Copies of buffers get this alignment, so constants inside stay as aligned as in a mapped file. */
enum { BUFFER_ALIGN = 64 };

static verge_status model_create(const char *path, verge_model **out)
{
    verge_model *model = calloc(1, sizeof(*model));

    if (model == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate the model", path);
    model->path = strdup(path);
    if (model->path == NULL) {
        free(model);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate the model", path);
    }
    *out = model;
    return VERGE_OK;
}

void verge_model_free(verge_model *model)
{
    if (model == NULL)
        return;
    verge_model_storage_free(model->storage);
    if (model->file != NULL) {
        if (model->file_mapped)
            munmap((void *)model->file, model->file_size);
        else
            free((void *)model->file);
    }
    free(model->path);
    free(model);
}

const char *verge_model_path(const verge_model *model)
{
    return model->path;
}

/* Checks the size of a file or buffer before any byte is read. */
static verge_status check_size(const char *path, size_t size)
{
    if (size == 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "%s: the file is empty", path);
    if (size > VERGE_MODEL_MAX_FILE_SIZE)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "%s: the file has %zu bytes, more than the %zu that verge loads", path,
                          size, (size_t)VERGE_MODEL_MAX_FILE_SIZE);
    return VERGE_OK;
}

verge_status verge_model_load(const char *path, verge_model **out)
{
    verge_model *model = NULL;
    struct stat info;
    void *mapping;
    int fd = -1;
    verge_status status;

    if (out == NULL || path == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_model_load: NULL argument");
    *out = NULL;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int error = errno;

        if (error == ENOENT || error == ENOTDIR)
            return verge_fail(VERGE_STATUS_NOT_FOUND, "%s: no such file", path);
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot open: %s", path, strerror(error));
    }
    if (fstat(fd, &info) != 0) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot read the file size: %s", path,
                            strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(info.st_mode)) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: not a regular file", path);
        goto cleanup;
    }
    /* Compare as unsigned 64-bit first so that a huge size cannot wrap a 32-bit size_t. */
    if ((uint64_t)info.st_size > (uint64_t)VERGE_MODEL_MAX_FILE_SIZE) {
        status = verge_fail(VERGE_STATUS_UNSUPPORTED,
                            "%s: the file has %lld bytes, more than the %zu that verge loads",
                            path, (long long)info.st_size, (size_t)VERGE_MODEL_MAX_FILE_SIZE);
        goto cleanup;
    }
    status = check_size(path, (size_t)info.st_size);
    if (status != VERGE_OK)
        goto cleanup;

    status = model_create(path, &model);
    if (status != VERGE_OK)
        goto cleanup;
    /* NOTE: a file truncated by another process while mapped raises SIGBUS on access. */
    mapping = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot map the file: %s", path,
                            strerror(errno));
        goto cleanup;
    }
    model->file = mapping;
    model->file_size = (size_t)info.st_size;
    model->file_mapped = 1;

    status = verge_tflite_parse(model);

cleanup:
    if (fd >= 0)
        close(fd);
    if (status != VERGE_OK) {
        verge_model_free(model);
        return status;
    }
    *out = model;
    return VERGE_OK;
}

verge_status verge_model_load_buffer(const void *data, size_t size, const char *name,
                                     verge_model **out)
{
    verge_model *model = NULL;
    size_t padded;
    void *copy;
    verge_status status;

    if (name == NULL)
        name = "<buffer>";
    if (out == NULL || (data == NULL && size > 0))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: verge_model_load_buffer: NULL "
                          "argument", name);
    *out = NULL;

    status = check_size(name, size);
    if (status != VERGE_OK)
        return status;
    status = model_create(name, &model);
    if (status != VERGE_OK)
        return status;

    /* aligned_alloc() needs a size that is a multiple of the alignment. */
    padded = size + (BUFFER_ALIGN - size % BUFFER_ALIGN) % BUFFER_ALIGN;
    copy = aligned_alloc(BUFFER_ALIGN, padded);
    if (copy == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for the "
                            "model", name, size);
        goto cleanup;
    }
    memcpy(copy, data, size);
    model->file = copy;
    model->file_size = size;
    model->file_mapped = 0;

    status = verge_tflite_parse(model);

cleanup:
    if (status != VERGE_OK) {
        verge_model_free(model);
        return status;
    }
    *out = model;
    return VERGE_OK;
}
