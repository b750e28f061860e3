/*
 * kpm31c-sim: the meter process. Parses the command line, builds the
 * fleet, restores the state file, opens the ports, and runs the libev
 * loop that paces virtual time; saves the state at checkpoints and on the
 * way out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/ports/bus.h"
#include "sim/store/dump.h"
#include "sim/store/pulses.h"
#include "sim/engine/changes.h"
#include "sim/engine/engine.h"
#include "sim/base/log.h"
#include "sim/base/monotonic.h"
#include "sim/cli/fleetfile.h"
#include "sim/cli/options.h"
#include "sim/cli/outputs.h"
#include "sim/ports/endpoints.h"
#include "sim/ports/ports.h"
#include "sim/cli/progress.h"
#include "sim/cli/shard.h"
#include "sim/control/control.h"
#include "sim/scenario/scenario.h"
#include "sim/scenario/scenario_find.h"
#include "sim/store/statefile.h"
#include "sim/base/timeparse.h"
#include "sim/tui/tui.h"
#include "sim/uplink/uplink.h"
#include "sim/engine/vclock.h"

#define PACE_INTERVAL 0.01      /* s between pacing steps at finite speed */
#define MAX_SLICE 0.02          /* s of work per loop turn at max speed */
#define MONITOR_PERIOD 1.0      /* real s between measures of the speed */

enum exit_code { EXIT_OK = 0, EXIT_ASSERT = 1, EXIT_USAGE = 2,
                 EXIT_RUNTIME = 3 };

struct sim {
    struct sim_options opt;
    struct engine engine;
    struct vclock clock;
    struct ports ports;
    struct uplink *uplink;      /* the MQTT uplink, NULL without --mqtt */
    struct scenario *scenario;  /* the Lua scenario, NULL without one */
    struct progress progress;   /* the progress line on a terminal */
    struct pulses *pulses;      /* --pulses: the stream, NULL without */
    unsigned threads;           /* threads full fidelity's samples run on */
    int64_t start_ms;           /* where the run started, virtual ms */
    struct tui *tui;            /* the terminal UI, NULL when headless */
    struct changes *changes;    /* the log of settings changes */
    struct control *control;    /* the HTTP API, NULL without --http */
    int64_t goal_ms;            /* an API advance runs at max to here;
                                   INT64_MIN: none */
    double after_speed;         /* the pacing once it is there */
    bool after_max;
    enum engine_fidelity after_fidelity;    /* and the fidelity (an
                                               advance runs fast) */
    double saved_at;            /* real s of the last save, 0 none */
    struct ev_loop *loop;
    ev_timer pace;
    ev_idle rush;
    ev_timer checkpoint;
    ev_timer monitor;           /* measures the speed achieved */
    int64_t monitor_ms;         /* virtual ms at the last measure */
    double monitor_real;        /* real s then */
    bool told_behind;           /* said once that it cannot keep up */
    ev_signal sigint, sigterm;
    int64_t until_ms;           /* INT64_MAX: run until a signal */
    int exit_code;
    struct lockfile state_lock; /* this process's state file */
    bool save_failing;          /* the last save failed (said once) */
    unsigned save_failures;     /* saves that failed during the run */
    char save_err[512];         /* why the last save failed */
    struct endpoints endpoints; /* where it listens: announced, and in
                                   --ready-file (any listener adds itself) */
    bool ready_written;         /* --ready-file is ours to remove at exit */
    char scenario_path[4096];   /* the scenario, found in the library */
};

/* Save the state: a failure is said once, retried at every checkpoint
 * and change, and makes the exit status 3 at the end. */
static void save_state(struct sim *s)
{
    char *err = s->save_err;
    size_t errlen = sizeof s->save_err;

    if (!s->opt.state_path)
        return;
    if (state_save(s->opt.state_path, &s->engine, err, errlen) == 0) {
        s->saved_at = monotonic_s();
        if (s->save_failing)
            log_info("state file %s: saved again", s->opt.state_path);
        s->save_failing = false;
        return;
    }
    if (!s->save_failing)
        log_error("%s; retrying at every checkpoint and change", err);
    s->save_failing = true;
    s->save_failures++;
}

/* A meter's settings, credit, relay or clock changed (any path: a Modbus
 * write, an MQTT command, the keys, a scenario): saved now, before the
 * path that made the change answers, as a meter writes its EEPROM before
 * it acknowledges. */
static void on_settings(void *ctx, unsigned meter)
{
    struct sim *s = ctx;

    save_state(s);
    s->engine.store_failing = s->save_failing;
}

/* Steps per loop turn: about MAX_SLICE of work whatever the fleet size. */
static unsigned step_budget(const struct sim *s)
{
    unsigned per_step = s->engine.count *
                        (s->engine.fidelity == ENGINE_FULL ? 8 : 1);
    unsigned b = 20000 / (per_step ? per_step : 1);
    return b ? b : 1;
}

/* What the progress line measures: to --until, or the scenario's wait
 * (to <= from: an end not known). */
static void progress_span(struct sim *s, int64_t *from, int64_t *to)
{
    *from = s->start_ms;
    *to = s->until_ms;
    if (*to == INT64_MAX && s->scenario)
        scenario_span(s->scenario, from, to);
    if (*to == INT64_MAX)
        *to = *from;
}

/* The run is over: the progress line's last state stays. */
static void progress_end(struct sim *s)
{
    int64_t from, to;
    progress_span(s, &from, &to);
    progress_finish(&s->progress, s->engine.now_ms, from, to, monotonic_s());
}

static void on_progress_interrupt(void *ctx)
{
    progress_clear(ctx);
}

static void set_pacing(struct sim *s, double speed, bool max);

/* The run is over at --until: said once, whether the loop ran or the
 * power-on second already got there (--until 1s). */
static void reached_until(struct sim *s)
{
    char when[32];

    progress_end(s);
    time_format_iso(s->engine.now_ms / 1000, when, sizeof when);
    log_info("reached --until %s", when);
}

static void advance(struct sim *s, int64_t target)
{
    if (target > s->until_ms)
        target = s->until_ms;
    double deadline = monotonic_s() + MAX_SLICE;
    while (s->engine.now_ms < target) {
        int64_t before = s->engine.now_ms;
        int64_t to = control_next(s->control,
                                  uplink_next(s->uplink, target));
        bool going = true;
        if (s->scenario) {
            const char *cause = engine_cause(&s->engine, "scenario");
            going = scenario_advance(s->scenario, to, step_budget(s));
            engine_cause(&s->engine, cause);
        } else
            engine_advance(&s->engine, to, step_budget(s));
        uplink_tick(s->uplink);
        if (s->goal_ms != INT64_MIN && s->engine.now_ms >= s->goal_ms) {
            s->goal_ms = INT64_MIN;     /* an API advance got there */
            set_pacing(s, s->after_speed, s->after_max);
            engine_set_fidelity(&s->engine, s->after_fidelity);
        }
        control_poll(s->control);
        if (!going) {
            ev_break(s->loop, EVBREAK_ALL);     /* the scenario ended */
            break;
        }
        if (s->engine.now_ms == before || monotonic_s() > deadline)
            break;
    }
    if (s->progress.on || s->progress.plain) {
        int64_t from, to;
        progress_span(s, &from, &to);
        progress_update(&s->progress, s->engine.now_ms, from, to,
                        monotonic_s());
    }
    if (s->engine.now_ms >= ENGINE_END_MS && s->until_ms > ENGINE_END_MS) {
        log_error("the meter's clock ends at 2099-12-31T23:59:59: "
                  "stopping there");
        s->exit_code = EXIT_RUNTIME;
        ev_break(s->loop, EVBREAK_ALL);
    } else if (s->engine.now_ms >= s->until_ms) {
        reached_until(s);
        ev_break(s->loop, EVBREAK_ALL);
    }
}

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sim *s = w->data;
    advance(s, vclock_target(&s->clock, monotonic_s()));
}

static void on_rush(struct ev_loop *loop, ev_idle *w, int revents)
{
    struct sim *s = w->data;
    advance(s, s->goal_ms != INT64_MIN ? s->goal_ms : INT64_MAX);
}

/* Once a real second: the speed achieved, for the status line and the
 * register; a run that falls behind the asked speed says so once. */
static void on_monitor(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sim *s = w->data;
    double real = monotonic_s(), dt = real - s->monitor_real;
    int64_t now = s->engine.now_ms;
    bool paced = !s->clock.max && s->clock.speed > 0;

    if (dt <= 0)
        return;
    double achieved = (double)(now - s->monitor_ms) / 1000.0 / dt;
    s->clock.achieved = achieved;
    engine_set_achieved(&s->engine, achieved);
    /* behind: short of the asked speed, and more than a real second of
     * virtual time late */
    int64_t lag = vclock_target(&s->clock, real) - now;
    if (paced && !s->told_behind && achieved < 0.98 * s->clock.speed &&
        (double)lag > 1000.0 * s->clock.speed && now < s->until_ms) {
        s->told_behind = true;
        log_warn("cannot keep up with --speed %g: %.3g virtual seconds per "
                 "real second (%u meters, %s fidelity, %u thread%s); "
                 "virtual time falls behind", s->clock.speed, achieved,
                 s->engine.count, s->engine.fidelity == ENGINE_FULL ?
                 "full" : "fast", s->threads, s->threads == 1 ? "" : "s");
    }
    s->monitor_ms = now;
    s->monitor_real = real;
}

static void on_checkpoint(struct ev_loop *loop, ev_timer *w, int revents)
{
    save_state(w->data);
}

/* A setting or the clock changed on a meter's keys: the bus and the RTU
 * line follow at once (even with a frozen clock); the state was saved
 * when the core said so (on_settings). */
static void on_panel_change(void *ctx)
{
    struct sim *s = ctx;

    ports_sync(&s->ports, &s->engine);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct sim *s = w->data;
    log_info("%s: %s", strsignal(w->signum), s->opt.state_path ?
             "saving state and stopping" : "stopping");
    ev_break(loop, EVBREAK_ALL);
}

/* Where the virtual clock starts: where the state file's clock stopped
 * (a run in pieces is one run), else --start, else now. A --start before
 * the saved clock is refused: a meter's clock never runs backwards by
 * itself (its owner sets it back over Modbus). */
static int choose_start(struct sim *s, int64_t *start)
{
    char err[512], saved[32], want[32];
    int64_t saved_ms = 0;
    int rc = 1;

    if (s->opt.state_path) {
        rc = state_peek_clock(s->opt.state_path, &saved_ms, err, sizeof err);
        if (rc < 0) {
            log_error("%s; the file is left as it is", err);
            return EXIT_RUNTIME;
        }
    }
    *start = s->opt.start_set ? s->opt.start : time_wall_now();
    if (rc != 0)
        return EXIT_OK;                 /* no saved clock */
    time_format_iso(saved_ms / 1000, saved, sizeof saved);
    if (s->opt.start_set && s->opt.start < saved_ms / 1000) {
        time_format_iso(s->opt.start, want, sizeof want);
        log_error("the start %s (--start%s) is before %s, where the clock of "
                  "%s stopped: a meter's clock never runs backwards by "
                  "itself (set it over Modbus, or use another state file)",
                  want, s->opt.scenario ? " or the scenario's" : "", saved,
                  s->opt.state_path);
        return EXIT_USAGE;
    }
    if (!s->opt.start_set) {
        *start = saved_ms / 1000;
        log_info("%s: the clock resumes at %s, where it stopped (--start "
                 "now: at the wall clock, settling the months between)",
                 s->opt.state_path, saved);
    }
    return EXIT_OK;
}

/* A serial number is a meter's identity (its topics, its retained
 * messages): a restored meter keeps its own, and a --serial-base that
 * disagrees with it is refused rather than silently ignored. */
static int check_serials(struct sim *s, unsigned restored)
{
    const struct engine_span *sp = &s->engine.span;

    for (unsigned k = 0; k < restored && s->opt.serial_base_set; k++) {
        uint32_t serial = s->engine.meters[k].core.serial;
        if (serial != s->opt.serial_base + sp->first + k) {
            log_error("--serial-base %u: meter %u of %s has serial %08u "
                      "(serials are kept in the state file; leave out "
                      "--serial-base or use another --state)",
                      s->opt.serial_base, sp->first + k, s->opt.state_path,
                      (unsigned)serial);
            return EXIT_USAGE;
        }
    }
    /* a shard's state file holds its own meters: another layout's would
     * run the wrong meters under these indexes */
    for (unsigned k = 0; k < restored && sp->shards; k++) {
        uint32_t serial = s->engine.meters[k].core.serial, want;
        if (!fleet_serial(s->opt.fleet, sp->first + k, &want))
            want = s->opt.serial_base + sp->first + k;
        if (serial != want) {
            log_error("--shard %u/%u: %s holds meter %08u where this shard "
                      "runs meter %u (serial %08u): the state file of "
                      "another shard or layout (give each shard its own "
                      "--state, and keep N)", sp->shard, sp->shards,
                      s->opt.state_path, (unsigned)serial, sp->first + k,
                      (unsigned)want);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* The part of the fleet this process runs: all of it, or --shard's. */
static int choose_span(struct sim *s, struct engine_span *sp,
                       unsigned *count)
{
    char err[512];

    *sp = (struct engine_span){ .total = s->opt.meters };
    *count = s->opt.meters;
    if (!s->opt.shard_count)
        return EXIT_OK;
    sp->shard = s->opt.shard_index;
    sp->shards = s->opt.shard_count;
    if (shard_span(sp->shard, sp->shards, s->opt.meters, &sp->first, count,
                   err, sizeof err)) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int build_fleet(struct sim *s)
{
    char err[512];
    int64_t start;
    struct state_info info;
    int rc;

    if (s->opt.state_path &&
        state_claim(s->opt.state_path, &s->state_lock, err, sizeof err)) {
        log_error("%s", err);
        return EXIT_RUNTIME;
    }
    struct engine_span span;
    unsigned count;
    rc = choose_span(s, &span, &count);
    if (rc)
        return rc;
    rc = choose_start(s, &start);
    if (rc)
        return rc;
    if (engine_init(&s->engine, count, &span, start, s->opt.fidelity,
                    &s->opt.load, s->opt.seed, uplink_engine_hooks(s->uplink),
                    err, sizeof err)) {
        log_error("%s", err);
        return EXIT_RUNTIME;
    }
    if ((uint64_t)s->opt.serial_base + span.total - 1 > ENGINE_SERIAL_MAX) {
        log_error("--serial-base %u with %u meters: the last serial would "
                  "pass %u (8 digits)", s->opt.serial_base, span.total,
                  ENGINE_SERIAL_MAX);
        return EXIT_USAGE;
    }
    engine_set_serials(&s->engine, s->opt.serial_base);
    if (s->opt.state_path) {
        rc = state_load(s->opt.state_path, &s->engine, start, &info, err,
                        sizeof err);
        if (rc < 0) {
            log_error("%s; the file is left as it is", err);
            return EXIT_RUNTIME;
        }
        if (rc == 0)
            log_info("restored %u meter(s) from %s", info.meters,
                     s->opt.state_path);
        rc = check_serials(s, rc == 0 ? info.meters : 0);
        if (rc)
            return rc;
    }
    unsigned threads = s->opt.threads;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    int used = engine_set_threads(&s->engine, threads, err, sizeof err);
    if (used < 0) {
        log_error("%s", err);
        return EXIT_RUNTIME;
    }
    s->threads = (unsigned)used;
    /* before the power-on second: the stream holds every pulse */
    if (s->opt.pulses_path &&
        !(s->pulses = pulses_open(s->opt.pulses_path, &s->engine, err,
                                  sizeof err))) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    if (ports_configure_meters(&s->engine, &s->opt, err, sizeof err) ||
        fleet_apply(s->opt.fleet, &s->engine, err, sizeof err)) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    s->until_ms = INT64_MAX;
    if (s->opt.until_set)
        s->until_ms = (s->opt.until_relative ? start + s->opt.until
                                             : s->opt.until) * 1000;
    if (s->until_ms < start * 1000) {
        log_error("--until is before the clock's start");
        return EXIT_USAGE;
    }
    if (s->opt.until_set && s->until_ms > ENGINE_END_MS) {
        log_error("--until lies beyond the meter's clock, which ends at "
                  "2099-12-31T23:59:59 (2100-01-01T00:00 at the latest)");
        return EXIT_USAGE;
    }
    /* power-on: the first second is measured at once, so every port has
     * readings from its first answer, even with a frozen clock (a scenario
     * sets its load first: its script starts at the clock's start) */
    if (!s->scenario && s->until_ms > start * 1000) {
        engine_advance(&s->engine, start * 1000 + 1000, UINT32_MAX);
        engine_finish(&s->engine);
    }
    return EXIT_OK;
}

/* How fast virtual time runs: max (an idle watcher), finite (a timer),
 * or frozen. The progress line is for accelerated runs only. */
static void set_pacing(struct sim *s, double speed, bool max)
{
    vclock_set_speed(&s->clock, speed, max, s->engine.now_ms, monotonic_s());
    ev_idle_stop(s->loop, &s->rush);
    ev_timer_stop(s->loop, &s->pace);
    if (max)
        ev_idle_start(s->loop, &s->rush);
    else if (speed > 0)
        ev_timer_start(s->loop, &s->pace);
    if (!max && speed <= 1)
        progress_clear(&s->progress);
    bool shown = s->opt.headless && s->opt.verbosity >= 0 &&
                 (max || speed > 1);
    s->progress.on = shown && isatty(STDERR_FILENO);
    s->progress.plain = shown && !isatty(STDERR_FILENO);
    log_set_interrupt(on_progress_interrupt, &s->progress);
}

/* A scenario's broker cut: the uplink loses (cut) or regains its broker. */
static void scenario_broker(void *ctx, bool cut)
{
    struct sim *s = ctx;
    uplink_cut(s->uplink, cut);
}

/* A scenario's speed(): like --speed, from now on. */
static void scenario_speed(void *ctx, double speed, bool max)
{
    struct sim *s = ctx;
    set_pacing(s, speed, max);
    if (max)
        log_debug("scenario: speed max");
    else
        log_debug("scenario: speed %g", speed);
}

/* A scenario's key presses: on the TUI's counter (monotonic ms) while it
 * draws the front panel, on virtual time otherwise. */
static int64_t scenario_panel_ms(void *ctx)
{
    struct sim *s = ctx;
    return s->tui ? monotonic_ms() : s->engine.now_ms;
}

/* While the TUI owns the terminal, a scenario prints to its log panel. */
static bool scenario_ui(void *ctx)
{
    return ((struct sim *)ctx)->tui != NULL;
}

/* Every MQTT message to whoever watches: the TUI's panel, the scenario. */
static void on_mqtt(void *ctx, unsigned meter, bool out, const char *topic,
                    const void *payload, size_t len)
{
    struct sim *s = ctx;
    if (s->tui)
        tui_mqtt(s->tui, meter, out, topic, payload, len);
    if (s->scenario)
        scenario_mqtt(s->scenario, meter, out, topic, payload, len);
    control_events_mqtt(s->control, meter, out, topic, payload, len);
}

/* The API's speed: now, or once an advance in progress got there. */
static void control_speed(void *ctx, double speed, bool max)
{
    struct sim *s = ctx;

    if (s->goal_ms != INT64_MIN) {
        s->after_speed = speed;
        s->after_max = max;
        return;
    }
    set_pacing(s, speed, max);
    log_info("control API: speed %s", max ? "max" : speed == 0 ? "0 (paused)"
                                                  : "changed");
}

/* The API's fidelity: now, or once an advance in progress got there. */
static void control_fidelity(void *ctx, enum engine_fidelity f)
{
    struct sim *s = ctx;

    if (s->goal_ms != INT64_MIN) {
        s->after_fidelity = f;
        return;
    }
    engine_set_fidelity(&s->engine, f);
    log_info("control API: %s fidelity", f == ENGINE_FULL ? "full" : "fast");
}

/* The API's advance: as fast as possible to target, in fast fidelity,
 * then as before. */
static void control_advance(void *ctx, int64_t target)
{
    struct sim *s = ctx;

    if (s->goal_ms == INT64_MIN) {
        s->after_speed = s->clock.speed;
        s->after_max = s->clock.max;
        s->after_fidelity = s->engine.fidelity;
        s->goal_ms = target;
        set_pacing(s, 0, true);
        engine_set_fidelity(&s->engine, ENGINE_FAST);
    } else if (target > s->goal_ms) {
        s->goal_ms = target;
    }
}

static bool control_advancing(void *ctx, int64_t *goal_ms, double *speed,
                              bool *max)
{
    struct sim *s = ctx;

    *goal_ms = s->goal_ms;
    *speed = s->after_speed;
    *max = s->after_max;
    return s->goal_ms != INT64_MIN;
}

/* Why the state file could not keep the last change (store_failing). */
static const char *control_save_error(void *ctx)
{
    return ((struct sim *)ctx)->save_err;
}

static int64_t control_until(void *ctx)
{
    return ((struct sim *)ctx)->until_ms;
}

static double control_checkpoint_age(void *ctx)
{
    struct sim *s = ctx;
    if (!s->opt.state_path)
        return -1;
    return s->saved_at > 0 ? monotonic_s() - s->saved_at
                           : monotonic_s() - s->monitor_real;
}

/* The terminal face's key counter, while it draws the front panel. */
static int64_t control_panel_ms(void *ctx)
{
    return ((struct sim *)ctx)->tui ? monotonic_ms() : INT64_MIN;
}

/* --http: the control API, once every port listens. */
static int open_control(struct sim *s)
{
    char err[512];

    if (!s->opt.http_host[0])
        return 0;
    s->control = control_open(s->loop, &s->opt, &(struct control_config){
        .engine = &s->engine, .ports = &s->ports, .uplink = s->uplink,
        .clock = &s->clock,
        .host = { .ctx = s, .speed = control_speed,
                  .advance = control_advance, .fidelity = control_fidelity,
                  .advancing = control_advancing,
                  .save_error = control_save_error,
                  .until_ms = control_until,
                  .checkpoint_age = control_checkpoint_age,
                  .panel_ms = control_panel_ms } },
        err, sizeof err);
    if (!s->control) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

/* The scenario's results and exit status (at least the status so far). */
static int finish_scenario(struct sim *s, int status)
{
    const char *why = NULL;
    int rc;

    if (!scenario_done(s->scenario))
        why = s->engine.now_ms >= s->until_ms ? "--until" :
              s->engine.now_ms >= ENGINE_END_MS ? "the end of the meter's "
                                                  "clock" : "a signal";
    progress_clear(&s->progress);
    rc = scenario_finish(s->scenario, why);
    scenario_free(s->scenario);
    s->scenario = NULL;
    return rc > status ? rc : status;
}

/* Up to the loop: the options, the scenario's setup, the uplink, the
 * fleet and its ports. -1 to run, else the exit status to leave with. */
static int start(struct sim *s, int argc, char **argv)
{
    char err[512];
    int rc;

    switch (options_parse(argc, argv, &s->opt)) {
    case OPT_EXIT_OK: return EXIT_OK;
    case OPT_ERROR: return EXIT_USAGE;
    case OPT_OK: break;
    }
    log_set_level(s->opt.verbosity < 0 ? LOG_WARN :
                  s->opt.verbosity > 0 ? LOG_DEBUG : LOG_INFO);
    if (s->opt.scenario) {
        if (scenario_find(s->opt.scenario, s->scenario_path,
                          sizeof s->scenario_path, err, sizeof err)) {
            log_error("%s", err);
            return EXIT_USAGE;
        }
        s->opt.scenario = s->scenario_path;
    }
    if (outputs_check(&s->opt, err, sizeof err) ||
        control_check(&s->opt, err, sizeof err) ||
        (s->opt.pulses_path &&
         pulses_check(s->opt.pulses_path, err, sizeof err))) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    /* a ready file that exists belongs to a running process */
    if (s->opt.ready_path && strcmp(s->opt.ready_path, "-"))
        unlink(s->opt.ready_path);
    if (s->opt.scenario) {
        /* runs the script up to its first use of the meters: its setup{}
         * can still change the options */
        s->scenario = scenario_load(&s->opt);
        if (!s->scenario)
            return EXIT_USAGE;
        if (scenario_done(s->scenario))     /* did not load, or ended */
            return finish_scenario(s, EXIT_OK);
    }
    if (s->opt.mqtt_uri &&
        !(s->uplink = uplink_new(&s->opt, &s->engine, err, sizeof err))) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (s->scenario && outputs_check(&s->opt, err, sizeof err)) {
        log_error("%s", err);       /* as its setup{} left the options */
        scenario_free(s->scenario);
        return EXIT_USAGE;
    }

    rc = build_fleet(s);
    if (rc)
        return rc;

    s->loop = EV_DEFAULT;
    if (ports_open(&s->ports, s->loop, &s->engine, &s->opt, err,
                   sizeof err)) {
        log_error("%s", err);
        engine_free(&s->engine);
        return EXIT_RUNTIME;
    }
    if (s->uplink && uplink_start(s->uplink, s->loop, err, sizeof err)) {
        log_error("%s", err);
        ports_close(&s->ports);
        engine_free(&s->engine);
        return EXIT_RUNTIME;
    }
    s->changes = changes_open(&s->engine);      /* the log says what changed */
    if (s->opt.state_path &&
        engine_watch_settings(&s->engine, on_settings, s)) {
        log_error("the state file cannot watch the meters' settings");
        ports_close(&s->ports);
        engine_free(&s->engine);
        return EXIT_RUNTIME;
    }
    return -1;
}

static void log_running(const struct sim *s)
{
    char when[32], speed[32];

    time_format_iso(s->engine.now_ms / 1000, when, sizeof when);
    if (s->opt.speed_max)
        snprintf(speed, sizeof speed, "max");
    else if (s->opt.speed == 0)
        snprintf(speed, sizeof speed, "0 (frozen)");
    else
        snprintf(speed, sizeof speed, "%g", s->opt.speed);
    char threads[32] = "";
    if (s->engine.fidelity == ENGINE_FULL && s->threads > 1)
        snprintf(threads, sizeof threads, ", %u threads", s->threads);
    char shard[96] = "";
    const struct engine_span *sp = &s->engine.span;
    if (sp->shards)
        snprintf(shard, sizeof shard, " (shard %u/%u: meters %u..%u of %u)",
                 sp->shard, sp->shards, sp->first,
                 sp->first + s->engine.count - 1, sp->total);
    log_info("%u meter(s)%s running, virtual clock %s, speed %s, %s "
             "fidelity%s", s->engine.count, shard, when, speed,
             s->engine.fidelity == ENGINE_FULL ? "full" : "fast", threads);
}

/* The scenario, the pacing, checkpoints, signals and the terminal UI on
 * the loop. */
static void arm_loop(struct sim *s)
{
    char err[512];

    s->start_ms = s->engine.now_ms;
    if (s->scenario) {
        const char *cause = engine_cause(&s->engine, "scenario");
        scenario_start(s->scenario, &s->engine, &s->ports,
                       &(struct scenario_host){
                           .ctx = s, .speed = scenario_speed,
                           .panel_ms = scenario_panel_ms, .ui = scenario_ui,
                           .mqtt = s->uplink != NULL,
                           .broker = scenario_broker });
        engine_cause(&s->engine, cause);
    }
    s->pace.data = s->rush.data = s->checkpoint.data = s->monitor.data = s;
    s->monitor_ms = s->engine.now_ms;
    s->monitor_real = monotonic_s();
    ev_timer_init(&s->monitor, on_monitor, MONITOR_PERIOD, MONITOR_PERIOD);
    ev_timer_start(s->loop, &s->monitor);
    ev_idle_init(&s->rush, on_rush);
    ev_timer_init(&s->pace, on_pace, PACE_INTERVAL, PACE_INTERVAL);
    set_pacing(s, s->opt.speed, s->opt.speed_max);
    if (s->opt.state_path) {
        ev_timer_init(&s->checkpoint, on_checkpoint, s->opt.checkpoint,
                      s->opt.checkpoint);
        ev_timer_start(s->loop, &s->checkpoint);
    }
    ev_signal_init(&s->sigint, on_signal, SIGINT);
    ev_signal_init(&s->sigterm, on_signal, SIGTERM);
    s->sigint.data = s->sigterm.data = s;
    ev_signal_start(s->loop, &s->sigint);
    ev_signal_start(s->loop, &s->sigterm);
    if (!s->opt.headless) {
        struct tui_config tc = {
            .engine = &s->engine, .ports = &s->ports, .clock = &s->clock,
            .scenario = s->opt.scenario, .mqtt = s->uplink != NULL,
            .state = s->opt.state_path != NULL,
            .ctx = s, .changed = on_panel_change,
        };
        if (tui_open(&s->tui, s->loop, &tc, err, sizeof err))
            log_info("%s; running headless", err);
    }
    if (s->tui || s->scenario || s->opt.http_host[0])
        uplink_set_observer(s->uplink, on_mqtt, s);
}

/* Everything listens: say where, and write --ready-file. false when the
 * file cannot be written (a caller would wait for it forever). */
static bool announce(struct sim *s)
{
    char err[512];

    ports_endpoints(&s->ports, &s->opt, &s->endpoints);
    endpoints_announce(&s->endpoints);
    /* the control API logs its own line (with whether it wants a token) */
    if (s->control &&
        endpoints_add_tcp(&s->endpoints, "http", "HTTP control API", "http",
                          s->opt.http_host, control_port(s->control))) {
        log_error("too many endpoints to list the control API");
        s->exit_code = EXIT_RUNTIME;
        return false;
    }
    if (!s->opt.ready_path)
        return true;
    if (endpoints_write_ready(&s->endpoints, &s->engine, s->opt.ready_path,
                              err, sizeof err)) {
        log_error("%s", err);
        s->exit_code = EXIT_RUNTIME;
        return false;
    }
    s->ready_written = strcmp(s->opt.ready_path, "-") != 0;
    return true;
}

/* After the loop: the terminal back, the last energy in, the results,
 * the uplink's queue and the state saved, the dump written. */
static void stop(struct sim *s)
{
    char err[512];

    control_close(s->control);  /* before the scenario unchains its hooks */
    s->control = NULL;
    uplink_set_observer(s->uplink, NULL, NULL);
    tui_close(s->tui);          /* the terminal back before the way out */
    s->tui = NULL;
    engine_flush(&s->engine);   /* no sample's energy left in a window */
    if (s->engine.now_ms == s->until_ms)
        engine_finish(&s->engine);
    progress_end(s);
    log_set_interrupt(NULL, NULL);
    if (s->scenario)
        s->exit_code = finish_scenario(s, s->exit_code);

    uplink_stop(s->uplink);     /* what it could not send is saved */
    if (uplink_failed(s->uplink))
        s->exit_code = EXIT_RUNTIME;
    save_state(s);
    if (s->save_failures) {
        log_error("state file %s: %u save(s) failed during the run%s",
                  s->opt.state_path, s->save_failures, s->save_failing ?
                  ", the last one too" : "");
        s->exit_code = EXIT_RUNTIME;
    }
    if (s->opt.dump_path &&
        dump_write(s->opt.dump_path, &s->engine, err, sizeof err)) {
        log_error("%s", err);
        s->exit_code = EXIT_RUNTIME;
    }
    if (pulses_close(s->pulses, err, sizeof err)) {
        log_error("%s", err);
        s->exit_code = EXIT_RUNTIME;
    }
    /* last: once it is gone, the state and the results are there; one
     * left behind would keep a job that waits for it to go waiting */
    if (s->ready_written && unlink(s->opt.ready_path) && errno != ENOENT) {
        log_error("--ready-file %s: cannot remove it at exit: %s (the "
                  "process is gone all the same)", s->opt.ready_path,
                  strerror(errno));
        s->exit_code = EXIT_RUNTIME;
    }
    uplink_free(s->uplink);
    ports_close(&s->ports);
    changes_close(s->changes);
    engine_free(&s->engine);
}

int main(int argc, char **argv)
{
    static struct sim sim;
    struct sim *s = &sim;
    int rc = start(s, argc, argv);

    if (rc >= 0) {
        lockfile_drop(&s->state_lock);
        return rc;
    }
    log_running(s);
    s->goal_ms = INT64_MIN;
    arm_loop(s);
    if (open_control(s))
        s->exit_code = EXIT_RUNTIME;        /* no loop: straight to stop */
    else if (announce(s)) {
        if (s->engine.now_ms < s->until_ms)
            ev_run(s->loop, 0);
        else
            reached_until(s);
    }
    stop(s);
    lockfile_drop(&s->state_lock);
    return s->exit_code;
}
