// rng.h: the project's one seedable generator, xorshift64* (Vigna 2016), for spectreg's random
// projections and the test suites. Same state, same draws.
#ifndef SALIENCY_RNG_H
#define SALIENCY_RNG_H

#include <math.h>
#include <stdint.h>

// the next 64 random bits; a zero state (which xorshift never leaves) is replaced by a constant
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

// uniform in [0, 1) with 53 bits
static inline double rng_uniform(uint64_t *state) { return (rng_next(state) >> 11) * (1.0 / 9007199254740992.0); }

// standard normal (Box-Muller on two uniforms in (0, 1))
static inline double rng_normal(uint64_t *state)
{
    double u0 = rng_uniform(state), u1 = rng_uniform(state);
    if (u0 <= 0) u0 = 1e-300;
    return sqrt(-2.0 * log(u0)) * cos(6.283185307179586 * u1);
}

#endif
