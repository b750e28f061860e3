/*
 * The files a run writes, checked at start, before any simulated time
 * passes: each output (--dump, --junit, ...) can be written at the end
 * (its directory exists and is writable; an existing one is a regular
 * file, or "-" for stdout), and no output is the state file, the
 * scenario or another output. The state file's directory must be
 * writable too.
 */
#ifndef SIM_OUTPUTS_H
#define SIM_OUTPUTS_H

#include <stddef.h>

#include "sim/cli/options.h"

/* 0, or -1 with a message naming the option(s) and the path(s). */
int outputs_check(const struct sim_options *o, char *err, size_t errlen);

#endif
