/*
 * The uplink's messages as JSON (docs/mqtt.md is the contract; the schema
 * of the telemetry is docs/mqtt-state.schema.json): telemetry and billing
 * from queued items, Home Assistant discovery configs.
 *
 * Floats are the registers' float32 values in their shortest exact form,
 * so a client that reads both sees the same number over Modbus and MQTT.
 */
#ifndef SIM_UPLINK_JSON_H
#define SIM_UPLINK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/uplink/uplink_queue.h"

/* The names of the tariff rates 1..4. */
extern const char *const uplink_rate_names[4];

/* An ISO 8601 time of the meter's clock (1970-01-01T00:00:00 for 0). */
json_t *uplink_json_time(int64_t t);

/* The same, or null for 0: "none" (a maximum demand's time). */
json_t *uplink_json_time_or_null(int64_t t);

/* Serialize (compact) and free the object; NULL without memory. */
char *uplink_json_dump(json_t *o);

/* The payloads (malloc'd strings). serial: the meter's serial number. */
char *uplink_json_telemetry(const struct uplink_item *it, uint32_t serial,
                            const uint64_t drops[UPLINK_KINDS]);
char *uplink_json_billing(const struct uplink_item *it, uint32_t serial);

/* Home Assistant discovery: calls emit(ctx, topic, payload) for every
 * entity of one meter. base: the meter's topic base ("kpm31c/31000001");
 * disc: the discovery prefix ("homeassistant"). */
struct uplink_device {
    uint32_t serial;
    uint16_t fw_version;        /* 0x0100 = 1.00 */
    const char *base;
    const char *disc;
    const char *sim_version;    /* the origin block's */
    const char *via;            /* the simulator's device id, or NULL */
    const char *reactive_class; /* reactive energy's device class, or NULL */
    unsigned expire_after;      /* s a value stays valid; 0: no limit */
    bool clear;                 /* the meter is gone: empty payloads */
};
void uplink_json_discovery(const struct uplink_device *d,
                           void (*emit)(void *ctx, const char *topic,
                                        const char *payload),
                           void *ctx);

/* The button's top-up, kWh. */
#define UPLINK_TOPUP_KWH 10

/* The simulator process as a device of its own (the meters' via_device),
 * with one sensor: how many meters it runs, read from its fleet record. */
struct uplink_sim_device {
    const char *id;             /* "kpm31c_sim_<first serial>" */
    const char *fleet_topic;    /* the retained fleet record */
    const char *disc;
    const char *sim_version;
};
void uplink_json_sim_device(const struct uplink_sim_device *s,
                            void (*emit)(void *ctx, const char *topic,
                                         const char *payload),
                            void *ctx);

/* The fleet record: {"meters": N, "serials": ["31000001", ...]}. */
char *uplink_json_fleet(const uint32_t *serials, unsigned count);

#endif
