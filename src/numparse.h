// numparse.h: strict numbers from text (cfg values, command-line flags): the whole string is the
// number, finite, in range, or the call says why not. No darknet types; never prints.
//
// darknet reads cfg values with atof/atoi, so "weight=nan", "weight=1e39" (inf as a float),
// "seed=1.5" or "steps=ten" (0) pass silently. These refuse them. Files that include this header
// must be compiled without -ffinite-math-only (darknet's -Ofast implies it, patch 0001 undoes it
// for the extension): the check below makes that a compile error instead of dead NaN tests.
#ifndef SALIENCY_NUMPARSE_H
#define SALIENCY_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "compiled with -ffinite-math-only (-Ofast or -ffast-math): NaN and Inf tests would be folded away; add -fno-finite-math-only"
#endif

// A real number: decimal or exponent notation as strtod reads it, nothing before or after it, finite
// and representable as a float (|x| <= FLT_MAX), with lo <= x <= hi; lo_open / hi_open make that end
// strict. 0 and *out on success; -1 and why (e.g. "not a number", "not finite", "below 0") otherwise.
int num_parse_real(const char *s, double lo, int lo_open, double hi, int hi_open, double *out,
                   char *why, size_t whylen);

// A whole number in [lo, hi], decimal digits with an optional leading '-'. 0 / -1 as above.
int num_parse_long(const char *s, long lo, long hi, long *out, char *why, size_t whylen);

// A whole number 0 ... 2^64 - 1 (decimal digits only: no sign, no spaces). 0 / -1 as above.
int num_parse_u64(const char *s, uint64_t *out, char *why, size_t whylen);

// 1 when x is neither NaN nor infinite (a bit test: right under any floating-point flags).
int num_finite_f(float x);
int num_finite(double x);

#endif
