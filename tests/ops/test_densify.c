/* DENSIFY: CSR in both traversal orders, 2x2 and 1x4 blocks, float16 values, hostile metadata. */
#include "check.h"
#include "model/graph.h"
#include "ops/op_test.h"

/* Sets level `level` of sp to dense with `size` entries. */
static void dense_level(verge_sparsity *sp, int level, int32_t size)
{
    sp->dims[level] = (verge_sparse_dim){.format = 0, .dense_size = size};
}

static void csr_level(verge_sparsity *sp, int level, int32_t *segments, size_t num_segments,
                      int32_t *indices, size_t num_indices)
{
    sp->dims[level] = (verge_sparse_dim){.format = 1,
                                         .segments = segments,
                                         .indices = indices,
                                         .num_segments = num_segments,
                                         .num_indices = num_indices};
}

/* Prepares a DENSIFY node on float32 `values` with dense shape dims and sparsity sp. */
static void densify_setup(op_test *t, int rank, const int32_t *dims, const void *values,
                          size_t num_values, verge_dtype dtype, const verge_sparsity *sp)
{
    verge_tensor *in;

    op_test_init(t, VERGE_OP_DENSIFY);
    in = op_test_input(t, dtype, rank, dims, values, VERGE_STORAGE_CONSTANT);
    in->bytes = num_values * verge_dtype_size(dtype);
    in->sparsity = sp;
    op_test_output(t);
}

/*
 * The 3x4 matrix of the CSR tests:
 *   [1 0 0 2]
 *   [0 0 0 0]
 *   [0 3 4 0]
 */
static const float csr_dense[12] = {1, 0, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0};

static void densify_csr_rows(void)
{
    int32_t segments[4] = {0, 2, 2, 4};
    int32_t indices[4] = {0, 3, 1, 2};
    float values[4] = {1, 2, 3, 4};
    verge_sparsity sp = {.num_dims = 2, .traversal_order = {0, 1}};
    op_test t;

    dense_level(&sp, 0, 3);
    csr_level(&sp, 1, segments, 4, indices, 4);
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 4}));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_FLOAT32);
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], csr_dense[i], 0);
    op_test_free(&t);
}

static void densify_csr_columns_first(void)
{
    /* traversal_order {1, 0}: level 0 walks the 4 columns, level 1 the rows in each column. */
    int32_t segments[5] = {0, 1, 2, 3, 4};
    int32_t indices[4] = {0, 2, 2, 0};
    float values[4] = {1, 3, 4, 2};
    verge_sparsity sp = {.num_dims = 2, .traversal_order = {1, 0}};
    op_test t;

    dense_level(&sp, 0, 4);
    csr_level(&sp, 1, segments, 5, indices, 4);
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], csr_dense[i], 0);
    op_test_free(&t);
}

static void densify_2x2_blocks(void)
{
    /*
     * 4x4 in 2x2 blocks: block rows dense (2), block columns CSR, then the
     * two dense in-block levels. Stored blocks: (0,1) and (1,0).
     */
    int32_t segments[3] = {0, 1, 2};
    int32_t indices[2] = {1, 0};
    float values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float expected[16] = {0, 0, 1, 2,
                                0, 0, 3, 4,
                                5, 6, 0, 0,
                                7, 8, 0, 0};
    verge_sparsity sp = {.num_dims = 4,
                         .traversal_order = {0, 1, 2, 3},
                         .num_block_dims = 2,
                         .block_map = {0, 1}};
    op_test t;

    dense_level(&sp, 0, 2);
    csr_level(&sp, 1, segments, 3, indices, 2);
    dense_level(&sp, 2, 2);
    dense_level(&sp, 3, 2);
    densify_setup(&t, 2, (int32_t[]){4, 4}, values, 8, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){4, 4}));
    for (int i = 0; i < 16; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void densify_1x4_blocks(void)
{
    /* [2,8] with 1x4 blocks along columns (block_map {1}): row 0 keeps block 1, row 1 both. */
    int32_t segments[3] = {0, 1, 3};
    int32_t indices[3] = {1, 0, 1};
    float values[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const float expected[16] = {0, 0, 0, 0, 1, 2, 3, 4,
                                5, 6, 7, 8, 9, 10, 11, 12};
    verge_sparsity sp = {.num_dims = 3,
                         .traversal_order = {0, 1, 2},
                         .num_block_dims = 1,
                         .block_map = {1}};
    op_test t;

    dense_level(&sp, 0, 2);
    csr_level(&sp, 1, segments, 3, indices, 3);
    dense_level(&sp, 2, 4);
    densify_setup(&t, 2, (int32_t[]){2, 8}, values, 12, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 16; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void densify_float16_values(void)
{
    /* The CSR matrix with float16 values; the output stays float16 (0x0000 fills the gaps). */
    int32_t segments[4] = {0, 2, 2, 4};
    int32_t indices[4] = {0, 3, 1, 2};
    uint16_t values[4] = {0x3c00, 0x4000, 0x4200, 0x8001}; /* 1, 2, 3, -2^-24 */
    const uint16_t expected[12] = {0x3c00, 0, 0, 0x4000, 0, 0, 0, 0, 0, 0x4200, 0x8001, 0};
    verge_sparsity sp = {.num_dims = 2, .traversal_order = {0, 1}};
    op_test t;

    dense_level(&sp, 0, 3);
    csr_level(&sp, 1, segments, 4, indices, 4);
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT16, &sp);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_FLOAT16);
    CHECK_EQ_INT(op_test_out(&t)->bytes, 24);
    for (int i = 0; i < 12; i++)
        CHECK_EQ_INT(((uint16_t *)op_test_out(&t)->data)[i], expected[i]);
    op_test_free(&t);
}

static void densify_prepare_errors(void)
{
    int32_t segments[4] = {0, 2, 2, 4};
    int32_t indices[4] = {0, 3, 1, 2};
    int32_t bad_indices[4] = {0, 4, 1, 2};
    int32_t decreasing[4] = {0, 2, 1, 4};
    float values[4] = {1, 2, 3, 4};
    verge_sparsity sp = {.num_dims = 2, .traversal_order = {0, 1}};
    verge_sparsity good;
    op_test t;

    dense_level(&sp, 0, 3);
    csr_level(&sp, 1, segments, 4, indices, 4);
    good = sp;

    /* Stored values fewer than the encoding describes. */
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 3, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    sp.dims[1].indices = bad_indices;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "index 4") != NULL, "message: %s",
              verge_error_message());
    sp = good;

    sp.dims[1].segments = decreasing;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    sp.dims[1].num_segments = 3;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    sp.dims[1].num_indices = 3;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    /* A dense level whose size disagrees with the shape. */
    sp.dims[0].dense_size = 4;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    sp.traversal_order[1] = 0;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    sp.num_dims = 5;
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    /* Not sparse, not constant, not a float type. */
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, NULL);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_FLOAT32, &sp);
    t.tensors[t.inputs[0]].storage = VERGE_STORAGE_ARENA;
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    densify_setup(&t, 2, (int32_t[]){3, 4}, values, 4, VERGE_DTYPE_INT8, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
              verge_error_message());
}

static void densify_block_errors(void)
{
    int32_t segments[3] = {0, 1, 2};
    int32_t indices[2] = {1, 0};
    float values[8] = {0};
    verge_sparsity sp = {.num_dims = 4,
                         .traversal_order = {0, 1, 2, 3},
                         .num_block_dims = 2,
                         .block_map = {0, 1}};
    verge_sparsity good;
    op_test t;

    dense_level(&sp, 0, 2);
    csr_level(&sp, 1, segments, 3, indices, 2);
    dense_level(&sp, 2, 2);
    dense_level(&sp, 3, 2);
    good = sp;

    /* Blocks of 3 do not divide 4. */
    sp.dims[3].dense_size = 3;
    densify_setup(&t, 2, (int32_t[]){4, 4}, values, 8, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    /* Two blocks on the same dense dimension. */
    sp.block_map[1] = 0;
    densify_setup(&t, 2, (int32_t[]){4, 4}, values, 8, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    /* A block level listed among the first `rank` traversal entries. */
    sp.traversal_order[0] = 2;
    sp.traversal_order[2] = 0;
    densify_setup(&t, 2, (int32_t[]){4, 4}, values, 8, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    sp = good;

    /* A sparse block level. */
    csr_level(&sp, 3, segments, 3, indices, 2);
    densify_setup(&t, 2, (int32_t[]){4, 4}, values, 8, VERGE_DTYPE_FLOAT32, &sp);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(densify_csr_rows);
    RUN(densify_csr_columns_first);
    RUN(densify_2x2_blocks);
    RUN(densify_1x4_blocks);
    RUN(densify_float16_values);
    RUN(densify_prepare_errors);
    RUN(densify_block_errors);
    return check_summary();
}
