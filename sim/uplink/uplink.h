/*
 * The meters' 4G uplink: one MQTT connection per meter (its own client id
 * and last will, as real 4G meters have), telemetry every period of
 * virtual time, a retained billing message at each monthly settlement,
 * Home Assistant discovery, and commands (docs/mqtt.md).
 *
 * Runs on the libev loop; protocols/mqtt.c brings paho's callbacks there.
 * Values come from the core's register image only (uplink_snapshot.c), so
 * MQTT and Modbus show the same numbers; commands go through the core's
 * entry points (uplink_cmd.c). Telemetry waits in a bounded per-meter
 * queue until the broker acknowledges it, saved with the state file
 * (uplink_queue.c), so a broker outage or a restart loses nothing.
 *
 * 4g_M (register 0x1104) switches each meter's uplink: Debug = off, Mqtt
 * = on. --mqtt on the command line sets every meter to Mqtt at start.
 */
#ifndef SIM_UPLINK_H
#define SIM_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/engine/engine.h"
#include "sim/cli/options.h"

struct ev_loop;
struct uplink;

/* Before the fleet is built (the state file holds the queues, and
 * settlements applied on restore produce billing messages). e: where the
 * engine will be. NULL with a message in err for unusable options. */
struct uplink *uplink_new(const struct sim_options *o, struct engine *e,
                          char *err, size_t errlen);

/* The engine's event hooks (settlements, relay changes); NULL for a NULL
 * uplink. */
const struct engine_hooks *uplink_engine_hooks(struct uplink *u);

/* Once the fleet is built: set 4g_M, connect every meter, take the first
 * telemetry. 0, or -1 with a message. */
int uplink_start(struct uplink *u, struct ev_loop *loop, char *err,
                 size_t errlen);

/* Where the engine may advance to from target_ms: not past the next
 * telemetry due (target_ms for a NULL uplink). */
int64_t uplink_next(const struct uplink *u, int64_t target_ms);

/* After the engine advanced: take the telemetry due now. */
void uplink_tick(struct uplink *u);

/* A broker refused the first connection (bad credentials, ...): the run
 * must end with exit status 3. */
bool uplink_failed(const struct uplink *u);

/* The way out: send what is queued (a few seconds at most), publish
 * "offline", disconnect. What is left stays queued for the state file. */
void uplink_stop(struct uplink *u);

void uplink_free(struct uplink *u);

/* Who watches every MQTT message of every meter (the TUI's panel): out =
 * published (telemetry, billing, discovery, availability), else a command
 * received. fn NULL: no one. A NULL uplink ignores it. */
typedef void uplink_traffic_fn(void *ctx, unsigned meter, bool out,
                               const char *topic, const void *payload,
                               size_t len);
/* A fault: the meters lose (cut) or regain their link to the broker.
 * While cut, telemetry and billing queue up as in an outage (bounded,
 * drops counted) and leave in order when the link is back. */
void uplink_cut(struct uplink *u, bool cut);

/* Messages waiting in the meters' queues now, and telemetry dropped for
 * want of room since start (for /metrics). */
void uplink_totals(const struct uplink *u, uint64_t *queued,
                   uint64_t *dropped);

void uplink_set_observer(struct uplink *u, uplink_traffic_fn *fn, void *ctx);

#endif
