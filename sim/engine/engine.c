#include "sim/engine/engine.h"
#include "core/meter_host.h"
#include "sim/base/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_STEP_MS 10
#define FAST_BLOCK_MS 20        /* samples generated at a time to settle */
#define FAST_SETTLE_MS 2000     /* at most this long to settle (noise) */
#define FAST_MAX_SECONDS 60     /* seconds a fast step may run at once */

/* A pulse, stamped by the core on the meter's clock (which a user may
 * have set, or which drifts): the hooks hear it in virtual time, as the
 * pulse output is a line any rig sees at the instant it happens (and
 * relay events, the scenario's now() and --until are virtual too). */
static void on_pulse(void *ctx, uint64_t count, int64_t t_ms)
{
    struct sim_meter *sm = ctx;
    struct engine *e = sm->engine;

    if (!e->hooks.pulse)
        return;
    t_ms -= 1000 * (sm->batch ? sm->rtc_offset : engine_rtc_offset(sm));
    if (e->on_workers) {
        struct engine_part *p = &e->parts[sm->part];
        if (p->npulses == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 64;
            struct engine_pulse *v = realloc(p->pulses, cap * sizeof *v);
            if (!v)
                abort();        /* a pulse the stream would miss */
            p->pulses = v;
            p->cap = cap;
        }
        p->pulses[p->npulses++] = (struct engine_pulse){ sm->index, count,
                                                         t_ms };
        return;
    }
    e->hooks.pulse(e->hooks.ctx, sm->index, count, t_ms);
}

static void on_relay(void *ctx, bool closed)
{
    struct sim_meter *sm = ctx;
    struct engine *e = sm->engine;
    engine_refresh_load(sm);
    sm->relay_moved = true;
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

static void free_parts(struct engine *e)
{
    workers_stop(&e->pool);
    for (unsigned k = 0; k < e->nparts; k++) {
        struct engine_part *p = &e->parts[k];
        if (k > 0) {
            free(p->vbuf);
            free(p->ibuf);
        }
        free(p->pulses);
    }
    free(e->parts);
    e->parts = NULL;
    e->nparts = 0;
}

/* One part: meters first..end-1, with their own sample blocks. */
static int set_parts(struct engine *e, unsigned n)
{
    e->parts = calloc(n, sizeof *e->parts);
    if (!e->parts)
        return -1;
    e->nparts = n;
    for (unsigned k = 0; k < n; k++) {
        struct engine_part *p = &e->parts[k];
        p->e = e;
        p->first = (unsigned)((uint64_t)e->count * k / n);
        p->end = (unsigned)((uint64_t)e->count * (k + 1) / n);
        for (unsigned j = p->first; j < p->end; j++)
            e->meters[j].part = k;
        /* a 10 ms step counts at most one pulse a meter (50 kW is 500 J
         * of the 2250 J a pulse), one more when its relay moves: room
         * enough that a step never allocates */
        p->cap = 2 * (size_t)(p->end - p->first) + 16;
        p->pulses = calloc(p->cap, sizeof *p->pulses);
        if (!p->pulses)
            return -1;
        if (k == 0) {
            p->vbuf = e->vbuf;
            p->ibuf = e->ibuf;
        } else {
            p->vbuf = calloc(e->buflen, sizeof *p->vbuf);
            p->ibuf = calloc(e->buflen, sizeof *p->ibuf);
            if (!p->vbuf || !p->ibuf)
                return -1;
        }
    }
    return 0;
}

int engine_set_threads(struct engine *e, unsigned threads, char *err,
                       size_t errlen)
{
    unsigned n = threads ? threads : 1;

    if (n > e->count / ENGINE_PART_MIN)
        n = e->count / ENGINE_PART_MIN;
    if (n < 1)
        n = 1;
    free_parts(e);
    if (workers_start(&e->pool, n)) {
        workers_stop(&e->pool);
        snprintf(err, errlen, "could not start %u worker threads", n - 1);
        return -1;
    }
    if (set_parts(e, n)) {
        free_parts(e);
        snprintf(err, errlen, "out of memory for %u worker threads", n);
        return -1;
    }
    return (int)n;
}

int engine_init(struct engine *e, unsigned count,
                const struct engine_span *span, int64_t start,
                enum engine_fidelity fidelity, const struct load *load,
                uint64_t seed, const struct engine_hooks *hooks,
                char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->count = count;
    e->span = span ? *span : (struct engine_span){ .total = count };
    e->now_ms = start * 1000;
    e->ticked = start - 1;
    e->fidelity = fidelity;
    e->stepped = fidelity;
    metro_config_default(&e->front_end);
    e->sample_rate = e->front_end.sample_rate;
    if (hooks)
        e->hooks = *hooks;
    e->buflen = e->sample_rate * FAST_BLOCK_MS / 1000;
    e->meters = calloc(count, sizeof *e->meters);
    e->vbuf = calloc(e->buflen, sizeof *e->vbuf);
    e->ibuf = calloc(e->buflen, sizeof *e->ibuf);
    if (!e->meters || !e->vbuf || !e->ibuf) {
        snprintf(err, errlen, "out of memory for %u meters", count);
        engine_free(e);
        return -1;
    }
    if (set_parts(e, 1)) {
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
        meter_set_serial(&sm->core,
                         (uint32_t)ENGINE_SERIAL_BASE + e->span.first + k);
        sm->rtc_last = start;
        wave_config_default(&wc);
        wc.sample_rate = e->sample_rate;
        wc.seed = seed + e->span.first + k;
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
        meter_set_serial(&e->meters[k].core, first + e->span.first + k);
}

void engine_free(struct engine *e)
{
    free_parts(e);
    free(e->meters);
    free(e->vbuf);
    free(e->ibuf);
    e->meters = NULL;
    e->vbuf = e->ibuf = NULL;
}

/* Meter's load now l: the synthesizer follows, measured afresh. */
static int put_load(struct engine *e, unsigned meter, const struct load *l)
{
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

int engine_set_load(struct engine *e, unsigned meter, const struct load *l)
{
    if (meter >= e->count)
        return -1;
    e->meters[meter].pop_on = false;
    return put_load(e, meter, l);
}

/* A drawn load (no harmonics, no noise) as the meter has it already. */
static bool same_draw(const struct load *a, const struct load *b)
{
    return a->u == b->u && a->i == b->i && a->phi == b->phi &&
           a->f == b->f && !b->nharm && b->v_noise == 0 && b->i_noise == 0;
}

/* The population's loads for the interval that holds now: each meter
 * that follows it and whose drawn load changed (an unchanged one is not
 * measured again). */
static int population_step(struct engine *e)
{
    int64_t s = e->now_ms / 1000;
    int64_t from = population_next(e->pop, s) - e->pop->interval;
    int rc = 0;

    for (unsigned k = 0; k < e->count; k++) {
        struct sim_meter *sm = &e->meters[k];
        struct load l;
        if (!sm->pop_on)
            continue;
        population_load(e->pop, e->span.first + k, from, &l);
        if (!same_draw(&l, &sm->load) && put_load(e, k, &l))
            rc = -1;
    }
    e->pop_next_ms = population_next(e->pop, s) * 1000;
    return rc;
}

int engine_set_population(struct engine *e, const struct population *pop)
{
    e->pop = pop;
    if (!pop)
        return 0;
    for (unsigned k = 0; k < e->count; k++)
        e->meters[k].pop_on = true;
    return population_step(e);
}

void engine_set_achieved(struct engine *e, double speed)
{
    for (unsigned k = 0; k < e->count; k++)
        meter_set_sim_speed(&e->meters[k].core, (float)speed);
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

/* Real samples through one meter's front end and core, every window's
 * energy accounted (full fidelity). */
static void run_samples(struct engine_part *p, struct sim_meter *sm,
                        unsigned n)
{
    while (n > 0) {
        unsigned m = n < p->e->buflen ? n : p->e->buflen;
        wave_generate(&sm->wave, p->vbuf, p->ibuf, m);
        meter_feed(&sm->core, p->vbuf, p->ibuf, m);
        n -= m;
    }
}

/* Fast fidelity's measurement of a (new) load: the metrology restarts on
 * it and windows run until one measured it alone (whole cycles at a
 * settled frequency reference, or a timeout without voltage), at most
 * FAST_SETTLE_MS; the load so measured is held. */
static void measure_settled(struct engine_part *p, struct sim_meter *sm)
{
    unsigned left = p->e->sample_rate * FAST_SETTLE_MS / 1000;
    unsigned block = p->e->sample_rate * FAST_BLOCK_MS / 1000;
    bool done = false;

    meter_restart_measure(&sm->core, false);
    while (left > 0 && !done) {
        unsigned m = left < block ? left : block;
        wave_generate(&sm->wave, p->vbuf, p->ibuf, m);
        meter_measure_settle(&sm->core, p->vbuf, p->ibuf, m, &done);
        left -= m;
    }
}

/* The relay moved since the last step: in full fidelity the window in
 * progress (of the old current) is accounted and the next starts on the
 * new current, so the second reads the new state alone. */
static void relay_moved(struct sim_meter *sm)
{
    if (sm->relay_moved) {
        sm->relay_moved = false;
        meter_restart_measure(&sm->core, true);
    }
}

/* A part's meters through FULL_STEP_MS of samples (on a worker). */
static void full_part(void *ctx, unsigned part)
{
    struct engine *e = ctx;
    struct engine_part *p = &e->parts[part];
    unsigned n = e->sample_rate * FULL_STEP_MS / 1000;
    int64_t s = e->now_ms / 1000;

    for (unsigned k = p->first; k < p->end; k++) {
        struct sim_meter *sm = &e->meters[k];
        relay_moved(sm);
        run_samples(p, sm, n);
        sm->dirty = false;
        sm->measured_at = s;
    }
}

/* One full-fidelity step of FULL_STEP_MS from e->now_ms: the ticks here
 * (their events reach the hooks at once), the samples on the parts, then
 * the parts' pulses in meter order. */
static void step_full(struct engine *e)
{
    int64_t s = e->now_ms / 1000;
    bool second = e->now_ms % 1000 == 0 && s > e->ticked;

    if (second) {
        for (unsigned k = 0; k < e->count; k++)
            tick_meter(&e->meters[k], s);
        e->ticked = s;
    }
    e->on_workers = true;
    workers_run(&e->pool, full_part, e);
    e->on_workers = false;
    for (unsigned k = 0; k < e->nparts; k++) {
        struct engine_part *p = &e->parts[k];
        for (size_t j = 0; j < p->npulses; j++)
            e->hooks.pulse(e->hooks.ctx, p->pulses[j].meter,
                           p->pulses[j].count, p->pulses[j].t_ms);
        p->npulses = 0;
    }
    e->now_ms += FULL_STEP_MS;
}

/* A signal without noise or wander: measuring it again reads what the
 * last measurement read (to the last float32 digit), so a steady one is
 * measured once. */
static bool noiseless(const struct wave_config *c)
{
    return c->ch[WAVE_V].noise_rms == 0.0 && c->ch[WAVE_I].noise_rms == 0.0 &&
           c->drift_period == 0.0;
}

/* The first half of a fast-fidelity second s of one meter: its RTC
 * ticks (tick), and whether its load is to be measured (changed, or a
 * noisy one due again). */
static bool fast_tick(struct sim_meter *sm, int64_t s, bool tick)
{
    if (tick)
        tick_meter(sm, s);
    sm->relay_moved = false;            /* measured afresh */
    /* a fleet's re-measures spread over a minute, not all at once */
    int64_t every = ENGINE_FAST_REMEASURE -
                    (int64_t)((sm->engine->span.first + sm->index) % 60);
    if (sm->dirty || (s - sm->measured_at >= every &&
                      !noiseless(&sm->wave.cfg))) {
        sm->dirty = false;
        sm->measured_at = s;
        return true;
    }
    return false;
}

/* One fast-fidelity second s of one meter (tick: its RTC ticks first):
 * measured if need be, then the whole second at the load just measured
 * (or still held), exact whatever the windows' boundaries; the second's
 * readings are that load's. */
static void fast_second(struct engine *e, struct sim_meter *sm, int64_t s,
                        bool tick)
{
    if (fast_tick(sm, s, tick))
        measure_settled(&e->parts[0], sm);
    meter_integrate(&sm->core, 1000);
}

/* A part's meters that are to be measured this second (on a worker:
 * measuring raises no event). */
static void measure_part(void *ctx, unsigned part)
{
    struct engine *e = ctx;
    struct engine_part *p = &e->parts[part];

    for (unsigned k = p->first; k < p->end; k++) {
        struct sim_meter *sm = &e->meters[k];
        if (sm->measure) {
            sm->measure = false;
            measure_settled(p, sm);
        }
    }
}

/* A meter whose seconds can run a minute at a time: a steady noiseless
 * load, a clock without drift, and a core that raises no event within a
 * minute. */
static bool quiet(const struct sim_meter *sm)
{
    return !sm->dirty && !sm->relay_moved && sm->drift_ppm == 0.0 &&
           noiseless(&sm->wave.cfg) && meter_quiet(&sm->core);
}

/* n fast-fidelity seconds of one meter from s (n > 1: a quiet meter): up
 * to a minute's seconds at once (the core's meter_run_seconds: the same
 * results to the bit), the rest one by one. */
static void fast_meter(struct engine *e, struct sim_meter *sm, int64_t s,
                       unsigned n, bool tick)
{
    for (unsigned j = 0; j < n;) {
        unsigned done = 0;
        if ((tick || j > 0) && quiet(sm)) {
            sm->rtc_offset = engine_rtc_offset(sm);
            sm->batch = true;
            done = meter_run_seconds(&sm->core, s + j + sm->rtc_offset,
                                     n - j);
            sm->batch = false;
            if (done)
                sm->rtc_last = meter_time(&sm->core);
        }
        if (!done) {
            fast_second(e, sm, s + j, tick || j > 0);
            done = 1;
        }
        j += done;
    }
}

/* Every meter quiet: no second of the next minute can raise an event but
 * a month end's, so the fleet may run that long in one step (hooks then
 * hear of pulses when the step is over, stamped with their own time). */
static bool fleet_quiet(const struct engine *e)
{
    for (unsigned k = 0; k < e->count; k++)
        if (!quiet(&e->meters[k]))
            return false;
    return true;
}

/* n fast-fidelity seconds from e->now_ms (a whole second). */
static void step_fast(struct engine *e, unsigned n)
{
    int64_t s = e->now_ms / 1000;
    bool tick = s > e->ticked;

    if (n == 1 && e->nparts > 1) {
        /* the ticks here, the measurements on the workers, then every
         * second's energy here: each meter as fast_second has it */
        bool any = false;
        for (unsigned k = 0; k < e->count; k++) {
            struct sim_meter *sm = &e->meters[k];
            sm->measure = fast_tick(sm, s, tick);
            any = any || sm->measure;
        }
        if (any)
            workers_run(&e->pool, measure_part, e);
        for (unsigned k = 0; k < e->count; k++)
            meter_integrate(&e->meters[k].core, 1000);
    } else {
        for (unsigned k = 0; k < e->count; k++)
            fast_meter(e, &e->meters[k], s, n, tick);
    }
    e->ticked = s + n - 1;
    e->now_ms += (int64_t)n * 1000;
}

void engine_set_fidelity(struct engine *e, enum engine_fidelity f)
{
    e->fidelity = f;
}

/* The next step runs in fidelity f, at a whole second: if the last ran
 * in the other one, hand the meters over (engine_set_fidelity). */
static void switch_fidelity(struct engine *e, enum engine_fidelity f)
{
    if (e->stepped == f)
        return;
    e->stepped = f;
    if (f == ENGINE_FULL)
        engine_finish(e);       /* the fast second before is published */
    for (unsigned k = 0; k < e->count; k++) {
        struct sim_meter *sm = &e->meters[k];
        if (f == ENGINE_FAST) {
            /* the samples fed so far are accounted (the tick to come
             * publishes their second), and fast measures the load */
            meter_flush(&sm->core);
            sm->dirty = true;
        } else {
            /* fast integrated every second whole: its measured-only
             * window is dropped, real samples start a new one */
            meter_restart_measure(&sm->core, false);
            sm->relay_moved = false;
        }
    }
}

void engine_flush(struct engine *e)
{
    /* fast fidelity integrates whole seconds: nothing is left behind */
    if (e->stepped != ENGINE_FULL)
        return;
    for (unsigned k = 0; k < e->count; k++)
        meter_flush(&e->meters[k].core);
}

void engine_finish(struct engine *e)
{
    int64_t s = e->now_ms / 1000;

    if (e->now_ms % 1000 != 0 || s <= e->ticked || s > RTC_MAX)
        return;
    for (unsigned k = 0; k < e->count; k++)
        tick_meter(&e->meters[k], s);
    e->ticked = s;
}

int64_t engine_advance(struct engine *e, int64_t target_ms, unsigned max_steps)
{
    if (target_ms > ENGINE_END_MS)
        target_ms = ENGINE_END_MS;
    for (unsigned steps = 0; steps < max_steps; steps++) {
        if (e->pop && e->now_ms >= e->pop_next_ms && e->now_ms % 1000 == 0)
            population_step(e);
        if (e->fidelity == ENGINE_FAST && e->now_ms % 1000 == 0) {
            if (e->now_ms + 1000 > target_ms)
                break;
            /* up to a minute a step, as the budget and target allow;
             * every second its own step for a host that asks */
            int64_t n = (target_ms - e->now_ms) / 1000;
            if (n > FAST_MAX_SECONDS)
                n = FAST_MAX_SECONDS;
            if (n > (int64_t)(max_steps - steps))
                n = max_steps - steps;
            if (e->pop && n > (e->pop_next_ms - e->now_ms) / 1000)
                n = (e->pop_next_ms - e->now_ms) / 1000;
            switch_fidelity(e, ENGINE_FAST);
            if (e->per_second || n < 2 || !fleet_quiet(e))
                n = 1;
            step_fast(e, (unsigned)n);
            steps += (unsigned)n - 1;
        } else {
            if (e->now_ms + FULL_STEP_MS > target_ms)
                break;
            switch_fidelity(e, ENGINE_FULL);
            step_full(e);
        }
        if (e->pause) {
            e->pause = false;
            break;
        }
    }
    return e->now_ms;
}
