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
 *   fast  one-second steps: the RTC ticks every second; when the load or
 *         the relay has changed (or, for a load with noise, every 15
 *         virtual minutes)
 *         the metrology restarts on the new signal and real samples run
 *         through the core, measured only, until a window has measured
 *         the load alone: whole cycles at a settled frequency reference,
 *         or a timeout on a dead line (meter_measure_settle); the whole
 *         second is integrated at the load so measured (meter_integrate),
 *         which also makes the second's readings. Energy and readings are
 *         those of a steady run, from the first second of a change.
 *         A quiet fleet (steady noiseless loads, no drift, prepaid and
 *         the over-power limit off) runs up to a minute of seconds a step
 *         (meter_run_seconds: the same to the bit as second by second).
 *
 * Full fidelity's samples run on worker threads (engine_set_threads);
 * ticks, hooks and all I/O stay on the calling thread, and pulses counted
 * on the workers reach the hooks after the step in meter order, so the
 * results do not depend on the number of threads.
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
#include "sim/engine/population.h"
#include "sim/engine/wave.h"
#include "sim/engine/workers.h"

enum engine_fidelity { ENGINE_FULL = 0, ENGINE_FAST = 1 };

/* Serial numbers of a fresh fleet: consecutive from this one (a restored
 * meter keeps its own). */
#define ENGINE_SERIAL_BASE 31000001
#define ENGINE_SERIAL_MAX 99999999      /* eight digits */

/* Re-measure a steady load with noise this often in fast fidelity, s. */
#define ENGINE_FAST_REMEASURE 900

/* Where virtual time ends: the meter's clock reads up to RTC_MAX
 * (2099-12-31T23:59:59), so its last second ends here, ms. */
#define ENGINE_END_MS ((RTC_MAX + 1) * 1000)

struct engine;

/* Meters a worker thread gets at least: below, fewer threads. */
#define ENGINE_PART_MIN 50

/* A pulse counted on a worker thread, told to the hooks after the step. */
struct engine_pulse {
    unsigned meter;
    uint64_t count;
    int64_t t_ms;
};

/* One worker's share of the fleet in full fidelity: meters first..end-1,
 * its own sample blocks and the pulses its meters counted this step. */
struct engine_part {
    struct engine *e;
    unsigned first, end;
    int32_t *vbuf, *ibuf;
    struct engine_pulse *pulses;
    size_t npulses, cap;
};

/* One meter of the fleet: firmware, front end, load. */
struct sim_meter {
    struct meter core;          /* the firmware state */
    struct wave wave;           /* its analog front end */
    struct load load;           /* what is connected to it */
    struct engine *engine;      /* back pointer for core callbacks */
    unsigned index;             /* position in the fleet */
    unsigned part;              /* the worker share it is in */
    bool dirty;                 /* load or relay changed: measure again */
    bool pop_on;                /* its load follows the population */
    bool relay_moved;           /* the relay moved: restart the window */
    bool measure;               /* fast: to be measured on a worker */
    int64_t measured_at;        /* virtual s of the last real window */
    int64_t rtc_last;           /* the RTC second last ticked */
    int64_t rtc_offset;         /* s the RTC is ahead of virtual time: a
                                   user set it (Modbus, keys, scenario) */
    bool batch;                 /* in meter_run_seconds: rtc_offset holds,
                                   rtc_last lags the core's clock */
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

#define ENGINE_WATCHERS 8

struct engine_watcher {
    engine_settings_fn *fn;     /* NULL: a free slot */
    void *ctx;
};

/* Which meters of the whole fleet this process runs (--shard): meters[k]
 * is the fleet's meter first + k, its serial, noise seed and address
 * derive from that global index. */
struct engine_span {
    unsigned first;             /* global index of meters[0] */
    unsigned total;             /* meters in the whole fleet */
    unsigned shard, shards;     /* shard I of N; N 0: not sharded */
};

struct engine {
    struct sim_meter *meters;
    unsigned count;
    struct engine_span span;    /* where the meters sit in the fleet */
    const struct population *pop;   /* loads drawn from it, or NULL */
    int64_t pop_next_ms;        /* its next load change, virtual ms */
    int64_t now_ms;             /* virtual time, ms since 1970 */
    int64_t ticked;             /* the last second the RTCs were ticked */
    enum engine_fidelity fidelity;  /* the next steps' (engine_set_fidelity) */
    enum engine_fidelity stepped;   /* the last step's */
    uint32_t sample_rate;
    struct metro_config front_end;
    struct engine_hooks hooks;
    int32_t *vbuf, *ibuf;       /* scratch sample blocks */
    unsigned buflen;
    bool pause;                 /* set by a hook: engine_advance returns
                                   after the step in progress */
    bool per_second;            /* a host needs each second as its own
                                   step (hooks on pulses), not up to a
                                   minute at once in fast fidelity */
    struct engine_watcher watchers[ENGINE_WATCHERS];   /* settings changes */
    const char *cause;          /* the path changing settings now, for the
                                   log ("Modbus FC06", "keys"; NULL: none
                                   named): engine_cause */
    bool store_failing;         /* the state file could not keep the last
                                   change: a write is not acknowledged */
    bool clip_warned[2];        /* a load beyond the front end's full scale
                                   was reported, per channel (wave_chan) */
    /* full fidelity's samples on worker threads: the loop thread ticks
     * every meter (events reach the hooks at once), the parts run their
     * meters' samples, then their pulses reach the hooks in meter order:
     * the same results whatever the number of threads */
    struct workers pool;
    struct engine_part *parts;
    unsigned nparts;
    bool on_workers;            /* pulses go to the parts' lists */
};

/* Build a fleet of count meters at virtual time start (s), all with the
 * same load (each with its own noise seed, seed + global index), the
 * part span of a larger fleet (NULL: the whole fleet). Returns -1 with a
 * message in err on failure. */
int engine_init(struct engine *e, unsigned count,
                const struct engine_span *span, int64_t start,
                enum engine_fidelity fidelity, const struct load *load,
                uint64_t seed, const struct engine_hooks *hooks,
                char *err, size_t errlen);
void engine_free(struct engine *e);

/* Run full fidelity's samples, and fast fidelity's measurements of
 * changed loads, on up to threads threads (this one included), at least
 * ENGINE_PART_MIN meters each. The number actually
 * used, or -1 with a message. */
int engine_set_threads(struct engine *e, unsigned threads, char *err,
                       size_t errlen);

/* Number the fleet's meters first, first + 1, ... by their global index
 * (before a state file restores the saved ones). */
void engine_set_serials(struct engine *e, uint32_t first);

/* Advance virtual time to target_ms (whole steps only: the time reached
 * is returned; at most max_steps steps, so a caller can interleave I/O).
 * Never past ENGINE_END_MS. */
int64_t engine_advance(struct engine *e, int64_t target_ms, unsigned max_steps);

/* Step in fidelity f from now on (the API's advances run fast, then the
 * process returns to its own). The change takes effect at the next step
 * at a whole second (full fidelity runs to one first): to fast, every
 * meter's window in progress is accounted (as engine_flush) and its load
 * measured afresh; to full, the windows restart on the samples from then
 * (fast fidelity has integrated every second whole). No energy is lost
 * or counted twice, and the readings go on from the second before. */
void engine_set_fidelity(struct engine *e, enum engine_fidelity f);

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

/* Name the path whose calls into the cores follow ("Modbus FC06", "MQTT
 * cmd/relay", "keys", "scenario"), for the log of settings changes;
 * returns the name before, to put back after the call. */
static inline const char *engine_cause(struct engine *e, const char *cause)
{
    const char *before = e->cause;
    e->cause = cause;
    return before;
}

/* The speed the host achieves (virtual s per real s), for every meter's
 * REG_X_SIM_SPEED. */
void engine_set_achieved(struct engine *e, double speed);

/* Draw every meter's load from pop (kept by the caller for the run)
 * from now on, changed at its interval boundaries; a meter given a load
 * afterwards (engine_set_load: the fleet file, a scenario, the API)
 * leaves it. -1 when a drawn load does not fit the front end. */
int engine_set_population(struct engine *e, const struct population *pop);

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
