/*
 * Commands that arrive over MQTT (<prefix>/<serial>/cmd/<name>, JSON
 * payloads; docs/mqtt.md): validated in full, then carried out through
 * the core's entry points (meter_* calls, meter_reg_write on the
 * extension block), exactly as a Modbus write or a key would. A command
 * with bad JSON or a bad value changes nothing and its result says what
 * was wrong.
 */
#ifndef SIM_UPLINK_CMD_H
#define SIM_UPLINK_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/meter.h"

#define UPLINK_PERIOD_MIN 1
#define UPLINK_PERIOD_MAX 86400

/* What a command works on. */
struct uplink_cmd_env {
    struct meter *m;
    int64_t now;                /* the engine's virtual time, s */
    uint32_t period;            /* in: the telemetry period; out: changed */
    bool report;                /* out: publish telemetry now */
    bool retained;              /* in: the broker kept it (not run) */
};

/* The settings the config command sets, as its answer shows them. */
json_t *uplink_cmd_config_json(const struct meter_settings *s);

/* Run command `name` with its raw payload. Returns the result object to
 * publish: {"cmd", "id" (echoed), "ok", "error" or the command's data}. */
json_t *uplink_cmd_run(const char *name, const void *payload, size_t len,
                       struct uplink_cmd_env *env);

#endif
