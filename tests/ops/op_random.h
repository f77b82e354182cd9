/*
 * Random cases for kernel tests: a small xorshift generator that each test
 * seeds once, so that a failing case can be reproduced from its seed.
 */
#ifndef VERGE_TESTS_OP_RANDOM_H
#define VERGE_TESTS_OP_RANDOM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t op_random_state = 0x9e3779b97f4a7c15u;

/* Restarts the sequence; `seed` must not be 0. */
static inline void op_random_seed(uint64_t seed)
{
    op_random_state = seed;
}

static inline uint32_t next_u32(void)
{
    op_random_state ^= op_random_state << 13;
    op_random_state ^= op_random_state >> 7;
    op_random_state ^= op_random_state << 17;
    return (uint32_t)(op_random_state >> 16);
}

/* Returns an integer in lo..hi, both included. */
static inline int uniform(int lo, int hi)
{
    return lo + (int)(next_u32() % (uint32_t)(hi - lo + 1));
}

/* Returns `count` floats uniform in [-scale, scale), in memory the caller frees. */
static inline float *random_floats(size_t count, float scale)
{
    float *data = malloc(sizeof(float) * (count ? count : 1));

    for (size_t i = 0; data != NULL && i < count; i++)
        data[i] = scale * ((float)(next_u32() & 0xffffff) / (float)(1 << 23) - 1.0f);
    return data;
}

#endif
