/*
 * Numbers as users type them on the command line and in specs: the whole
 * string must be the number, and it must lie in the given range.
 */
#ifndef SIM_NUMPARSE_H
#define SIM_NUMPARSE_H

/* 0 and *out, or -1 when s is not a number in lo..hi. */
int parse_double(const char *s, double lo, double hi, double *out);

/* Integers in C notation (decimal, 0x hex). 0 and *out, or -1. */
int parse_long(const char *s, long lo, long hi, long *out);

#endif
