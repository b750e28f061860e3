/*
 * The accepted keys of a JSON object as one line, "a, b, c", for the
 * "unknown key (expected: ...)" errors of MQTT commands and the HTTP API.
 */
#ifndef SIM_KEYLIST_H
#define SIM_KEYLIST_H

#include <stdio.h>
#include <string.h>

/* keys: NULL-terminated. Cut short (never overrun) when out is small. */
static inline void keylist(const char *const *keys, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *const *k = keys; *k; k++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s",
                 k == keys ? "" : ", ", *k);
}

#endif
