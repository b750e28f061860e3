#include "sim/engine/engine.h"
#include "core/meter_host.h"
#include "sim/base/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_STEP_MS 10
#define FAST_MEASURE_MS 500

static void on_pulse(void *ctx, uint64_t count, int64_t t_ms)
{
    struct sim_meter *sm = ctx;
    struct engine *e = sm->engine;
    if (e->hooks.pulse)
        e->hooks.pulse(e->hooks.ctx, sm->index, count, t_ms);
}

static void on_relay(void *ctx, bool closed)
{
    struct sim_meter *sm = ctx;
    struct engine *e = sm->engine;
    engine_refresh_load(sm);
    if (e->hooks.relay)
        e->hooks.relay(e->hooks.ctx, sm->index, closed);
}

static void on_settled(void *ctx, int64_t t)
{
    struct sim_meter *sm = ctx;
    struct engine *e = sm->engine;
    if (e->hooks.settled)
        e->hooks.settled(e->hooks.ctx, sm->index, t);
}

static void on_settings_changed(void *ctx)
{
    struct sim_meter *sm = ctx;
    struct engine_watcher *w = sm->engine->watchers;

    for (unsigned k = 0; k < ENGINE_WATCHERS; k++)
        if (w[k].fn)
            w[k].fn(w[k].ctx, sm->index);
}

int engine_watch_settings(struct engine *e, engine_settings_fn *fn,
                          void *ctx)
{
    for (unsigned k = 0; k < ENGINE_WATCHERS; k++) {
        if (!e->watchers[k].fn) {
            e->watchers[k] = (struct engine_watcher){ fn, ctx };
            return 0;
        }
    }
    return -1;
}

void engine_unwatch_settings(struct engine *e, engine_settings_fn *fn,
                             void *ctx)
{
    for (unsigned k = 0; k < ENGINE_WATCHERS; k++)
        if (e->watchers[k].fn == fn && e->watchers[k].ctx == ctx)
            e->watchers[k] = (struct engine_watcher){ NULL, NULL };
}

/* A load the ADC cannot read whole: said once per channel and run, with
 * the limit, as the meter reads less than is there. */
static void warn_clipping(struct engine *e, unsigned k,
                          const struct wave_config *wc)
{
    static const char *const what[2] = { "voltage", "current" };
    static const char *const unit[2] = { "V", "A" };
    static const char *const rated[2] = { "rated 220 V",
                                          "rated Imax 60 A" };

    for (int c = WAVE_V; c <= WAVE_I; c++) {
        if (e->clip_warned[c])
            continue;
        double full = wave_full_scale(&wc->ch[c]);
        double peak = wave_peak(&wc->ch[c], full);
        if (peak <= full)
            continue;
        e->clip_warned[c] = true;
        log_warn("meter %u: the %s peaks at %.1f %s, beyond the front end's "
                 "%.0f %s full scale (%.1f %s RMS for a sine; the meter is "
                 "%s): the ADC clips and the meter reads less", k + 1,
                 what[c], peak, unit[c], full, unit[c], full / sqrt(2.0),
                 unit[c], rated[c]);
    }
}

void engine_refresh_load(struct sim_meter *sm)
{
    struct wave_config wc = sm->wave.cfg;
    load_apply(&sm->load, meter_relay_closed(&sm->core), &wc);
    /* a load that passed load_parse always fits the front end */
    warn_clipping(sm->engine, sm->index, &wc);
    wave_update(&sm->wave, &wc);
    sm->dirty = true;
}

int engine_init(struct engine *e, unsigned count, int64_t start,
                enum engine_fidelity fidelity, const struct load *load,
                uint64_t seed, const struct engine_hooks *hooks,
                char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->count = count;
    e->now_ms = start * 1000;
    e->ticked = start - 1;
    e->fidelity = fidelity;
    metro_config_default(&e->front_end);
    e->sample_rate = e->front_end.sample_rate;
    if (hooks)
        e->hooks = *hooks;
    e->buflen = e->sample_rate * FAST_MEASURE_MS / 1000;
    e->meters = calloc(count, sizeof *e->meters);
    e->vbuf = calloc(e->buflen, sizeof *e->vbuf);
    e->ibuf = calloc(e->buflen, sizeof *e->ibuf);
    if (!e->meters || !e->vbuf || !e->ibuf) {
        snprintf(err, errlen, "out of memory for %u meters", count);
        engine_free(e);
        return -1;
    }
    for (unsigned k = 0; k < count; k++) {
        struct sim_meter *sm = &e->meters[k];
        struct meter_port port = {
            .ctx = sm, .pulse = on_pulse, .relay = on_relay,
            .settled = on_settled, .settings_changed = on_settings_changed,
        };
        struct wave_config wc;

        sm->engine = e;
        sm->index = k;
        sm->load = *load;
        sm->dirty = true;
        int rc = meter_init(&sm->core, &e->front_end, &port, start);
        if (rc) {
            snprintf(err, errlen, "meter %u: firmware init failed (%d)", k, rc);
            engine_free(e);
            return -1;
        }
        meter_set_serial(&sm->core, (uint32_t)ENGINE_SERIAL_BASE + k);
        sm->rtc_last = start;
        wave_config_default(&wc);
        wc.sample_rate = e->sample_rate;
        wc.seed = seed + k;
        load_apply(load, meter_relay_closed(&sm->core), &wc);
        warn_clipping(e, k, &wc);
        if (wave_init(&sm->wave, &wc)) {
            snprintf(err, errlen, "meter %u: the load does not fit the "
                     "front end", k);
            engine_free(e);
            return -1;
        }
    }
    return 0;
}

void engine_set_serials(struct engine *e, uint32_t first)
{
    for (unsigned k = 0; k < e->count; k++)
        meter_set_serial(&e->meters[k].core, first + k);
}

void engine_free(struct engine *e)
{
    free(e->meters);
    free(e->vbuf);
    free(e->ibuf);
    e->meters = NULL;
    e->vbuf = e->ibuf = NULL;
}

int engine_set_load(struct engine *e, unsigned meter, const struct load *l)
{
    if (meter >= e->count)
        return -1;
    struct sim_meter *sm = &e->meters[meter];
    struct load old = sm->load;
    sm->load = *l;
    struct wave_config wc = sm->wave.cfg;
    load_apply(l, meter_relay_closed(&sm->core), &wc);
    warn_clipping(e, meter, &wc);
    if (wave_update(&sm->wave, &wc)) {
        sm->load = old;
        return -1;
    }
    sm->dirty = true;
    return 0;
}

void engine_set_drift(struct engine *e, unsigned meter, double ppm)
{
    if (meter < e->count)
        e->meters[meter].drift_ppm = ppm;
}

int64_t engine_rtc_offset(const struct sim_meter *sm)
{
    return sm->rtc_offset + (meter_time(&sm->core) - sm->rtc_last);
}

/* The RTC second s of virtual time, as this meter's clock has it: the
 * offset a user set, and the drift. A slow clock repeats a second (no
 * tick: the second lasts two), a fast one skips one. */
static void tick_meter(struct sim_meter *sm, int64_t s)
{
    int64_t rtc;
    bool lost = false;

    sm->rtc_offset = engine_rtc_offset(sm);     /* set since the last tick */
    if (sm->drift_ppm != 0.0) {
        /* in microseconds: whole ppm add up exactly */
        sm->drift_acc += sm->drift_ppm;
        if (sm->drift_acc >= 1e6 || sm->drift_acc <= -1e6) {
            int64_t whole = (int64_t)(sm->drift_acc / 1e6);
            sm->rtc_offset += whole;
            sm->drift_acc -= (double)whole * 1e6;
            lost = whole < 0;
        }
    }
    rtc = s + sm->rtc_offset;
    if (lost && rtc <= meter_time(&sm->core))
        return;                         /* a slow clock's repeated second */
    meter_tick(&sm->core, rtc);
    sm->rtc_last = meter_time(&sm->core);
}

/* Real samples through one meter's front end and core; energy: the
 * windows account their own time (full fidelity) or only measure (fast,
 * where the engine integrates every second whole). */
static void run_samples(struct engine *e, struct sim_meter *sm, unsigned n,
                        bool energy)
{
    while (n > 0) {
        unsigned m = n < e->buflen ? n : e->buflen;
        wave_generate(&sm->wave, e->vbuf, e->ibuf, m);
        if (energy)
            meter_feed(&sm->core, e->vbuf, e->ibuf, m);
        else
            meter_feed_measure(&sm->core, e->vbuf, e->ibuf, m);
        n -= m;
    }
}

/* One full-fidelity step of FULL_STEP_MS from e->now_ms. */
static void step_full(struct engine *e)
{
    unsigned n = e->sample_rate * FULL_STEP_MS / 1000;
    int64_t s = e->now_ms / 1000;
    bool second = e->now_ms % 1000 == 0 && s > e->ticked;

    for (unsigned k = 0; k < e->count; k++) {
        struct sim_meter *sm = &e->meters[k];
        if (second)
            tick_meter(sm, s);
        run_samples(e, sm, n, true);
        sm->dirty = false;
        sm->measured_at = s;
    }
    if (second)
        e->ticked = s;
    e->now_ms += FULL_STEP_MS;
}

/* One fast-fidelity second from e->now_ms (a whole second). */
static void step_fast(struct engine *e)
{
    int64_t s = e->now_ms / 1000;
    bool second = s > e->ticked;

    for (unsigned k = 0; k < e->count; k++) {
        struct sim_meter *sm = &e->meters[k];
        if (second)
            tick_meter(sm, s);
        if (sm->dirty || s - sm->measured_at >= ENGINE_FAST_REMEASURE) {
            /* without voltage there are no crossings: windows close on
             * the metrology's timeout (300 ms), and the one spanning the
             * change is a mix; a dead line is measured the whole second
             * so that a window of it alone is held */
            unsigned ms = sm->load.u > 0 ? FAST_MEASURE_MS : 1000;
            sm->dirty = false;
            sm->measured_at = s;
            run_samples(e, sm, e->sample_rate * ms / 1000, false);
        }
        /* the whole second at the load just measured (or still held):
         * exact whatever the windows' boundaries */
        meter_integrate(&sm->core, 1000);
    }
    e->ticked = s;
    e->now_ms += 1000;
}

void engine_flush(struct engine *e)
{
    /* fast fidelity integrates whole seconds: nothing is left behind */
    if (e->fidelity != ENGINE_FULL)
        return;
    for (unsigned k = 0; k < e->count; k++)
        meter_flush(&e->meters[k].core);
}

void engine_finish(struct engine *e)
{
    int64_t s = e->now_ms / 1000;

    if (e->now_ms % 1000 != 0 || s <= e->ticked)
        return;
    for (unsigned k = 0; k < e->count; k++)
        tick_meter(&e->meters[k], s);
    e->ticked = s;
}

int64_t engine_advance(struct engine *e, int64_t target_ms, unsigned max_steps)
{
    for (unsigned steps = 0; steps < max_steps; steps++) {
        if (e->fidelity == ENGINE_FAST && e->now_ms % 1000 == 0) {
            if (e->now_ms + 1000 > target_ms)
                break;
            step_fast(e);
        } else {
            if (e->now_ms + FULL_STEP_MS > target_ms)
                break;
            step_full(e);
        }
        if (e->pause) {
            e->pause = false;
            break;
        }
    }
    return e->now_ms;
}
