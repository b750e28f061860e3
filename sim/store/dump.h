/*
 * --dump: every manual register and the measurements of each meter as
 * JSON, for CI and for diffing runs. Floats are written in their shortest
 * exact form, so the same run gives the same bytes.
 */
#ifndef SIM_DUMP_H
#define SIM_DUMP_H

#include <stddef.h>

#include "sim/engine/engine.h"

/* Write the dump to path (atomically; "-": stdout). 0, or -1 with a message in err. */
int dump_write(const char *path, const struct engine *e, char *err,
               size_t errlen);

#endif
