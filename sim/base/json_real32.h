/*
 * A float32 register value in JSON: the shortest decimal that reads back
 * as the same float32, so 230.0f is 230 and not 230.00001525878906, and
 * the same value always prints the same bytes (--dump, MQTT telemetry).
 */
#ifndef SIM_JSON_REAL32_H
#define SIM_JSON_REAL32_H

#include <jansson.h>

/* A new JSON real; dump it with JSON_REAL_PRECISION(9). */
json_t *json_real32(float f);

#endif
