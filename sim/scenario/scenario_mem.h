/*
 * The scenario's memory budget: one count for the Lua heap and for what
 * the simulator keeps on the script's behalf (results, timers), so that
 * --lua-memory caps all of it. Below every other scenario file.
 */
#ifndef SIM_SCENARIO_MEM_H
#define SIM_SCENARIO_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct sc_mem {
    size_t used;            /* bytes now */
    size_t limit;           /* the cap; 0: none */
};

/* Resize p from old to size bytes (p NULL: old 0): NULL, p untouched,
 * when that would pass the cap or the system has no memory. */
static inline void *sc_mem_realloc(struct sc_mem *m, void *p, size_t old,
                                   size_t size)
{
    if (size > old && m->limit && m->used - old + size > m->limit)
        return NULL;
    void *q = realloc(p, size);
    if (q)
        m->used = m->used - old + size;
    return q;
}

/* A counted copy of s (sc_mem_free_str gives it back); NULL over the cap. */
static inline char *sc_mem_strdup(struct sc_mem *m, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sc_mem_realloc(m, NULL, 0, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static inline void sc_mem_free(struct sc_mem *m, void *p, size_t size)
{
    if (p) {
        free(p);
        m->used -= size;
    }
}

static inline void sc_mem_free_str(struct sc_mem *m, char *s)
{
    if (s)
        sc_mem_free(m, s, strlen(s) + 1);
}

#endif
