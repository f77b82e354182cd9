#include <stdio.h>

#include "core/core.h"
#include "verge/tensor.h"

const char *verge_dtype_name(verge_dtype dtype)
{
    switch (dtype) {
    case VERGE_DTYPE_FLOAT32: return "float32";
    case VERGE_DTYPE_FLOAT16: return "float16";
    case VERGE_DTYPE_INT32: return "int32";
    case VERGE_DTYPE_UINT8: return "uint8";
    case VERGE_DTYPE_INT64: return "int64";
    case VERGE_DTYPE_STRING: return "string";
    case VERGE_DTYPE_BOOL: return "bool";
    case VERGE_DTYPE_INT16: return "int16";
    case VERGE_DTYPE_COMPLEX64: return "complex64";
    case VERGE_DTYPE_INT8: return "int8";
    case VERGE_DTYPE_FLOAT64: return "float64";
    }
    return "unknown";
}

size_t verge_dtype_size(verge_dtype dtype)
{
    switch (dtype) {
    case VERGE_DTYPE_FLOAT32: return 4;
    case VERGE_DTYPE_FLOAT16: return 2;
    case VERGE_DTYPE_INT32: return 4;
    case VERGE_DTYPE_UINT8: return 1;
    case VERGE_DTYPE_INT64: return 8;
    case VERGE_DTYPE_STRING: return 0;
    case VERGE_DTYPE_BOOL: return 1;
    case VERGE_DTYPE_INT16: return 2;
    case VERGE_DTYPE_COMPLEX64: return 8;
    case VERGE_DTYPE_INT8: return 1;
    case VERGE_DTYPE_FLOAT64: return 8;
    }
    return 0;
}

size_t verge_tensor_count(const verge_tensor *tensor)
{
    size_t count = 1;

    for (int i = 0; i < tensor->rank; i++)
        count *= (size_t)tensor->dims[i];
    return count;
}

char *verge_shape_str(const int32_t *dims, int rank, char *buf, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ",%d" : "%d", (int)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}
