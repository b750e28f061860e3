/*
 * The engine: a fleet of meters, each a firmware core behind its own
 * analog front end and load, stepped through virtual time.
 *
 * Virtual time advances in steps fixed by virtual time alone (never by the
 * real-time pacing), so the same inputs give the same results at any
 * speed. Two fidelities:
 *
 *   full  every sample of every second goes through the front end and the
 *         core, 10 ms of samples a step (the default at --speed 1 or less);
 *   fast  one-second steps: the RTC ticks every second; when the load has
 *         changed (or every 15 virtual minutes, for drift and noise) the
 *         first 500 ms of the second are real samples through the core,
 *         measured only (meter_feed_measure), and the whole second is
 *         integrated at the load so measured (meter_integrate). Energy
 *         stays exact for steady loads, and no window's energy waits.
 *
 * A run fed in full fidelity ends with engine_flush: the windows in
 * progress are accounted, so restarts lose no energy.
 *
 * Either way each second starts with meter_tick(second), so tariff rates
 * change exactly at their boundary second.
 */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/meter.h"
#include "sim/engine/load.h"
#include "sim/engine/wave.h"

enum engine_fidelity { ENGINE_FULL = 0, ENGINE_FAST = 1 };

/* Serial numbers of a fresh fleet: consecutive from this one (a restored
 * meter keeps its own). */
#define ENGINE_SERIAL_BASE 31000001
#define ENGINE_SERIAL_MAX 99999999      /* eight digits */

/* Re-measure a steady load this often in fast fidelity, s. */
#define ENGINE_FAST_REMEASURE 900

struct engine;

/* One meter of the fleet: firmware, front end, load. */
struct sim_meter {
    struct meter core;          /* the firmware state */
    struct wave wave;           /* its analog front end */
    struct load load;           /* what is connected to it */
    struct engine *engine;      /* back pointer for core callbacks */
    unsigned index;             /* position in the fleet */
    bool dirty;                 /* load or relay changed: measure again */
    int64_t measured_at;        /* virtual s of the last real window */
    int64_t rtc_last;           /* the RTC second last ticked */
    int64_t rtc_offset;         /* s the RTC is ahead of virtual time: a
                                   user set it (Modbus, keys, scenario) */
    double drift_ppm;           /* the RTC runs fast (> 0) or slow, ppm */
    double drift_acc;           /* us of drift not yet applied, |x| < 1e6 */
};

/* Called for events a host may want to report or stream. */
struct engine_hooks {
    void *ctx;
    void (*pulse)(void *ctx, unsigned meter, uint64_t count, int64_t t_ms);
    void (*settled)(void *ctx, unsigned meter, int64_t t);
    void (*relay)(void *ctx, unsigned meter, bool closed);
};

/* Who hears that a meter's settings changed (its core's settings_changed:
 * a register write, a key, a command, the clock set), at once, on the
 * loop. */
typedef void engine_settings_fn(void *ctx, unsigned meter);

#define ENGINE_WATCHERS 4

struct engine_watcher {
    engine_settings_fn *fn;     /* NULL: a free slot */
    void *ctx;
};

struct engine {
    struct sim_meter *meters;
    unsigned count;
    int64_t now_ms;             /* virtual time, ms since 1970 */
    int64_t ticked;             /* the last second the RTCs were ticked */
    enum engine_fidelity fidelity;
    uint32_t sample_rate;
    struct metro_config front_end;
    struct engine_hooks hooks;
    int32_t *vbuf, *ibuf;       /* scratch sample blocks */
    unsigned buflen;
    bool pause;                 /* set by a hook: engine_advance returns
                                   after the step in progress */
    struct engine_watcher watchers[ENGINE_WATCHERS];   /* settings changes */
    bool clip_warned[2];        /* a load beyond the front end's full scale
                                   was reported, per channel (wave_chan) */
};

/* Build a fleet of count meters at virtual time start (s), all with the
 * same load (each with its own noise seed, seed + index). Returns -1 with
 * a message in err on failure. */
int engine_init(struct engine *e, unsigned count, int64_t start,
                enum engine_fidelity fidelity, const struct load *load,
                uint64_t seed, const struct engine_hooks *hooks,
                char *err, size_t errlen);
void engine_free(struct engine *e);

/* Advance virtual time to target_ms (whole steps only: the time reached
 * is returned; at most max_steps steps, so a caller can interleave I/O). */
/* Number the fleet's meters first, first + 1, ... (before a state file
 * restores the saved ones). */
void engine_set_serials(struct engine *e, uint32_t first);

int64_t engine_advance(struct engine *e, int64_t target_ms, unsigned max_steps);

/* The run ends: the windows in progress are measured and accounted, so
 * the energy of their samples is not lost (full fidelity). */
void engine_flush(struct engine *e);

/* Tick the RTCs onto the current whole second now rather than at the next
 * step: the last second's measurements are published, the clock reads
 * the time (power-on, --until), and a settlement due then is applied. */
void engine_finish(struct engine *e);

/* Hear of every meter's settings changes from now on (after engine_init);
 * unwatch with the same fn and ctx. 0, or -1 when ENGINE_WATCHERS are
 * taken. */
int engine_watch_settings(struct engine *e, engine_settings_fn *fn,
                          void *ctx);
void engine_unwatch_settings(struct engine *e, engine_settings_fn *fn,
                             void *ctx);

/* Change a meter's load. Takes effect at the next step. */
int engine_set_load(struct engine *e, unsigned meter, const struct load *l);

/* The core changed something that affects the analog side (relay). */
void engine_refresh_load(struct sim_meter *sm);

/* Make a meter's RTC run fast (ppm > 0) or slow from now on: it gains or
 * loses a whole second whenever the drift adds up to one. The RTC also
 * keeps any time a user set (meter_set_time, a register write): ticks
 * carry that offset on. */
void engine_set_drift(struct engine *e, unsigned meter, double ppm);

/* How far the meter's RTC is ahead of virtual time, s (a clock a user set,
 * drift), including a setting made since the last tick. */
int64_t engine_rtc_offset(const struct sim_meter *sm);

#endif
