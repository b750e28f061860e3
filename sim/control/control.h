/*
 * The HTTP control API (docs/http.md, docs/http-openapi.json): read and
 * act on every meter, drive virtual time, stream events (Server-Sent
 * Events), /healthz, /readyz and /metrics (Prometheus text format).
 *
 * libmicrohttpd runs on the process's libev loop: its epoll descriptor is
 * an ev_io and its timeouts an ev_timer, and MHD_run is called from them,
 * so every handler runs on the loop thread, like the Modbus and MQTT
 * paths, and changes the meters only through the core's entry points.
 * A request that waits for virtual time (advance) or for events (the
 * stream) is suspended (MHD_suspend_connection) and resumed from the
 * loop when its moment comes.
 */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "sim/cli/options.h"
#include "sim/engine/engine.h"
#include "sim/engine/vclock.h"

struct control;
struct ports;
struct uplink;

/* What the API asks of the process around it (main.c). */
struct control_host {
    void *ctx;
    /* run virtual time at this speed from now on (0 frozen) or max */
    void (*speed)(void *ctx, double speed, bool max);
    /* run as fast as possible up to target_ms, then at the speed set
     * before (or since); control_poll says when it is there */
    void (*advance)(void *ctx, int64_t target_ms);
    /* while an advance runs: true, with where it goes and the pacing it
     * leaves the clock at (what a speed, pause or resume set since) */
    bool (*advancing)(void *ctx, int64_t *goal_ms, double *speed,
                      bool *max);
    /* step in this fidelity from now on (or once an advance is over:
     * advances run fast) */
    void (*fidelity)(void *ctx, enum engine_fidelity f);
    /* why the state file could not keep the last change (the engine's
     * store_failing), naming the file */
    const char *(*save_error)(void *ctx);
    /* where the run stops (--until), virtual ms; INT64_MAX: never */
    int64_t (*until_ms)(void *ctx);
    /* real s since the state file was last saved; < 0: no state file */
    double (*checkpoint_age)(void *ctx);
    /* the key counter of a face that keeps one (the terminal's, ms), so
     * that keys from both run on one clock; INT64_MIN (or NULL): none */
    int64_t (*panel_ms)(void *ctx);
};

/* What the API works on. */
struct control_config {
    struct engine *engine;
    struct ports *ports;
    struct uplink *uplink;          /* NULL without --mqtt */
    const struct vclock *clock;     /* the pacing: speed, achieved */
    struct control_host host;
};

/* Check --http and its token before anything starts: a non-loopback bind
 * needs a token. 0, or -1 with a message. */
int control_check(const struct sim_options *o, char *err, size_t errlen);

/* Listen on --http and serve on loop. NULL with a message in err (address
 * busy, ...). Chains the engine's hooks for the event stream. */
struct control *control_open(struct ev_loop *loop, const struct sim_options *o,
                             const struct control_config *cfg, char *err,
                             size_t errlen);

/* Where stepping toward target_ms must stop first: the earliest advance
 * waiting before it (each is answered at its own instant). */
int64_t control_next(const struct control *c, int64_t target_ms);

/* Virtual time moved: answer the advances that got there. */
void control_poll(struct control *c);

/* The port it listens on (port 0 resolved). */
int control_port(const struct control *c);

/* Answer what waits (the run is over), unchain the hooks, stop. */
void control_close(struct control *c);

/* An MQTT message (sim/uplink's observer): the stream's "mqtt" event.
 * c NULL (no --http): nothing. */
void control_events_mqtt(struct control *c, unsigned meter, bool out,
                         const char *topic, const void *payload, size_t len);

#endif
