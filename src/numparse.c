// numparse.c: strict numbers from text (numparse.h).
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

int num_finite_f(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) != 0x7f800000u;
}

int num_finite(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

static int say(char *why, size_t whylen, const char *msg)
{
    if (why && whylen) snprintf(why, whylen, "%s", msg);
    return -1;
}

// strtod and friends skip leading white space and read "inf", "nan", hex: refuse what is not
// plain decimal notation before asking them
static int plain_decimal(const char *s, int allow_point)
{
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    int digits = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') digits++;
        else if (!allow_point) return 0;
        else if (*p != '.' && *p != 'e' && *p != 'E' && *p != '-' && *p != '+') return 0;
    }
    return digits > 0;
}

int num_parse_real(const char *s, double lo, int lo_open, double hi, int hi_open, double *out,
                   char *why, size_t whylen)
{
    if (!s || !*s) return say(why, whylen, "empty");
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end) {
        // say "not finite" for the spellings of infinity and NaN strtod reads
        if (end != s && !num_finite(x)) return say(why, whylen, "not finite");
        return say(why, whylen, "not a number");
    }
    if (!num_finite(x)) return say(why, whylen, "not finite");
    if (!plain_decimal(s, 1)) return say(why, whylen, "not a decimal number");
    if (errno == ERANGE && (x > 1 || x < -1)) return say(why, whylen, "too large");
    if (x > FLT_MAX || x < -FLT_MAX) return say(why, whylen, "too large for a float");
    if (lo_open ? !(x > lo) : !(x >= lo)) return say(why, whylen, "too small");
    if (hi_open ? !(x < hi) : !(x <= hi)) return say(why, whylen, "too large");
    *out = x;
    return 0;
}

int num_parse_long(const char *s, long lo, long hi, long *out, char *why, size_t whylen)
{
    if (!s || !*s) return say(why, whylen, "empty");
    if (!plain_decimal(s, 0) || *s == '+') return say(why, whylen, "not a whole number");
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end) return say(why, whylen, "not a whole number");
    if (errno == ERANGE || x < lo || x > hi) return say(why, whylen, "out of range");
    *out = x;
    return 0;
}

int num_parse_u64(const char *s, uint64_t *out, char *why, size_t whylen)
{
    if (!s || !*s) return say(why, whylen, "empty");
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return say(why, whylen, "not a whole number 0 or more");
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end) return say(why, whylen, "not a whole number 0 or more");
    if (errno == ERANGE) return say(why, whylen, "above 18446744073709551615");
    *out = (uint64_t)x;
    return 0;
}
