#include "sim/base/numparse.h"

#include <stdlib.h>

int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 0);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}
