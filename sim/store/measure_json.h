/*
 * A meter's last-second measurements as JSON, one shape for every face
 * that shows them (the --dump file, the HTTP API): u, i, p, q, s, pf, f
 * and demand, float32 numbers in their shortest exact form.
 */
#ifndef SIM_MEASURE_JSON_H
#define SIM_MEASURE_JSON_H

#include <jansson.h>

#include "core/meter.h"

/* A new object (the caller owns the reference). */
json_t *measure_json(const struct meter *m);

#endif
