/*
 * The meter object of scenarios: meter(n) is a userdata (metatable
 * "kpm31c.meter") naming one meter of the fleet. Its methods set the load
 * (steady, ramps, profiles), raise events (outage, relay, top-up, tariff,
 * clock, keys), inject meter faults (reversed CT, clock drift) and read
 * what the meter shows (measurements, registers, energies, pulses, LCD).
 *
 * The load a meter sees is computed from the script's load, the profile's
 * multiplier, an outage and a reversed CT, and handed to the engine
 * (engine_set_load) whenever one of them changes.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/scenario/scenario_call.h"
#include "sim/scenario/scenario_meter.h"
#include "sim/scenario/scenario_int.h"
#include "core/meter_host.h"
#include "sim/base/timeparse.h"

#define METER_MT "kpm31c.meter"
#define PROFILE_MAX_POINTS 1000000
#define PI 3.14159265358979323846

struct sc_mref {
    unsigned index;         /* 0-based in the fleet */
};

void sc_meter_push(lua_State *L, unsigned index)
{
    struct sc_mref *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->index = index;
    luaL_setmetatable(L, METER_MT);
}

bool sc_meter_arg(lua_State *L, int idx, unsigned *index)
{
    struct sc_mref *r = luaL_testudata(L, idx, METER_MT);
    struct scenario *sc = sc_of(L);

    if (r) {
        *index = r->index;
        return true;
    }
    if (lua_isinteger(L, idx) && sc->e && lua_tointeger(L, idx) >= 1 &&
        lua_tointeger(L, idx) <= (lua_Integer)sc->e->count) {
        *index = (unsigned)lua_tointeger(L, idx) - 1;
        return true;
    }
    return false;
}

/* The front panel's key counter: the UI's when one draws the panel. */
static int64_t panel_ms(const struct scenario *sc)
{
    return sc->host.panel_ms ? sc->host.panel_ms(sc->host.ctx)
                             : sc_now_ms(sc);
}

static unsigned check_meter(lua_State *L, int idx)
{
    struct sc_mref *r = luaL_checkudata(L, idx, METER_MT);
    return r->index;
}

static struct meter *core_of(lua_State *L, unsigned k)
{
    return &sc_of(L)->e->meters[k].core;
}

int sc_meters_init(struct scenario *sc)
{
    sc->m = calloc(sc->e->count, sizeof *sc->m);
    if (!sc->m)
        return -1;
    for (unsigned k = 0; k < sc->e->count; k++) {
        struct sc_meter *m = &sc->m[k];
        /* start from the engine's load (--load, or the default) */
        load_want_from(&sc->e->meters[k].load, &m->want);
        m->factor = 1.0;
    }
    return 0;
}

void sc_meters_free(struct scenario *sc)
{
    if (!sc->m || !sc->e)
        return;
    for (unsigned k = 0; k < sc->e->count; k++)
        free(sc->m[k].prof.shape);
    free(sc->m);
    sc->m = NULL;
}

/* ---- the load ---- */

/* The load the meter sees now, to the engine. */
static void apply(struct scenario *sc, unsigned k)
{
    const struct sc_meter *m = &sc->m[k];
    struct load l;

    load_want_load(&m->want, m->factor, &l);
    if (m->ct_reversed) {
        /* the whole current upside down: every harmonic + 180 degrees
         * (load_apply shifts harmonic h by h x phi) */
        l.phi += 180.0;
        for (unsigned h = 0; h < l.nharm; h++)
            l.harm[h].i_phase += 180.0 * (l.harm[h].order + 1);
    }
    if (m->outage) {
        l.u = 0.0;
        l.i = 0.0;
        l.nharm = 0;
        l.v_noise = l.i_noise = 0.0;
    }
    /* every range below is checked, so the front end always takes it */
    engine_set_load(sc->e, k, &l);
}

static bool is_key(const char *k, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(k, *list))
            return true;
    return false;
}

static void check_keys(lua_State *L, int t, const char *fn,
                       const char *const *extra)
{
    const char *bad = NULL;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                       : "(not a name)";
        if (!is_key(k, load_field_names) && !is_key(k, extra) &&
            (!bad || strcmp(k, bad) < 0))
            bad = k;            /* the smallest: the same message each run */
    }
    if (bad) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const char *const *k = load_field_names; *k; k++) {
            if (k != load_field_names)
                luaL_addstring(&b, ", ");
            luaL_addstring(&b, *k);
        }
        for (const char *const *k = extra; k && *k; k++) {
            luaL_addstring(&b, ", ");
            luaL_addstring(&b, *k);
        }
        luaL_pushresult(&b);
        sc_error(L, "%s: unknown key '%s' (keys: %s)", fn, bad,
                   lua_tostring(L, -1));
    }
}

static bool num_field(lua_State *L, int t, const char *key, double lo,
                      double hi, const char *fn, const char *unit, double *out)
{
    int type = lua_getfield(L, t, key);
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    lua_Number v = lua_tonumber(L, -1);
    if (type != LUA_TNUMBER || !(v >= lo && v <= hi))
        sc_error(L, "%s: %s = %s is not %s %g..%g", fn, key,
                   luaL_tolstring(L, -1, NULL), unit, lo, hi);
    lua_pop(L, 1);
    *out = v;
    return true;
}

/* A number of a load table (NaN: not a number); false when absent. */
static bool lua_number(lua_State *L, int t, const char *key, double *out)
{
    int type = lua_getfield(L, t, key);
    if (type != LUA_TNIL)
        *out = type == LUA_TNUMBER ? lua_tonumber(L, -1) : (double)NAN;
    lua_pop(L, 1);
    return type != LUA_TNIL;
}

/* One entry of a harmonics table (key at -2, value at -1): a number (%
 * of the fundamental current, the key its order) or a table {order, I =,
 * V =, phase =, Vphase =}. */
static struct load_harmonic_in harmonic_entry(lua_State *L, const char *fn)
{
    struct load_harmonic_in x = { 0 };

    x.order = lua_isinteger(L, -2) ? (int64_t)lua_tointeger(L, -2) : 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        x.i = lua_tonumber(L, -1);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        int e = lua_gettop(L);
        if (lua_getfield(L, e, "order") == LUA_TNUMBER ||
            (lua_pop(L, 1), lua_rawgeti(L, e, 1)) == LUA_TNUMBER)
            x.order = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_number(L, e, "I", &x.i);
        lua_number(L, e, "V", &x.v);
        lua_number(L, e, "phase", &x.phase);
        lua_number(L, e, "Vphase", &x.vphase);
    } else {
        sc_error(L, "%s: harmonics: each entry is a number (%% of the "
                   "fundamental current) or a table", fn);
    }
    return x;
}

static void harmonics_field(lua_State *L, int t, const char *fn,
                            struct load_fields *in)
{
    int type = lua_getfield(L, t, "harmonics");
    int ht = lua_gettop(L);

    if (type == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        in->harm_off = true;
    } else if (type == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, ht)) {
            if (in->nharm <= LOAD_MAX_HARMONICS)   /* one more: refused */
                in->harm[in->nharm++] = harmonic_entry(L, fn);
            lua_pop(L, 1);
        }
    } else if (type != LUA_TNIL) {
        sc_error(L, "%s: harmonics = {[3] = 30, [5] = 20} (%% of the "
                   "fundamental current), or {{3, I = 30, V = 2, phase = 0}}",
                   fn);
    }
    lua_pop(L, 1);
}

static void noise_field(lua_State *L, int t, const char *fn,
                        struct load_fields *in)
{
    int type = lua_getfield(L, t, "noise");
    int nt = lua_gettop(L);

    if (type == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        in->noise_off = true;
    } else if (type == LUA_TTABLE) {
        in->v_noise_given = lua_number(L, nt, "U", &in->v_noise);
        in->i_noise_given = lua_number(L, nt, "I", &in->i_noise);
    } else if (type != LUA_TNIL) {
        sc_error(L, "%s: noise = {U = 0.5, I = 0.01} (V and A RMS), or "
                   "false", fn);
    }
    lua_pop(L, 1);
}

/* Read a load table into *w (changing only what it names): the table
 * read here, checked and applied by load_fields_apply, as the HTTP
 * API's load body. */
static void load_from_table(lua_State *L, int t, struct load_want *w,
                            const char *fn, const char *const *extra)
{
    struct load_fields in = { .given = 0 };
    double *num[LOAD_F_N] = {
        [LOAD_F_U] = &in.u, [LOAD_F_I] = &in.i, [LOAD_F_P] = &in.p,
        [LOAD_F_ANGLE] = &in.angle, [LOAD_F_F] = &in.f,
    };
    const char *field;
    char err[256];

    check_keys(L, t, fn, extra);
    for (int f = 0; f < LOAD_F_N; f++) {
        int type = lua_getfield(L, t, load_field_names[f]);
        if (type != LUA_TNIL)
            in.given |= 1u << f;
        if (num[f])
            *num[f] = type == LUA_TNUMBER ? lua_tonumber(L, -1) : (double)NAN;
        else if (f == LOAD_F_PF && type == LUA_TSTRING)
            in.pf_text = lua_tostring(L, -1);  /* the table keeps it */
        else if (f == LOAD_F_PF)
            in.pf = type == LUA_TNUMBER ? lua_tonumber(L, -1) : (double)NAN;
        else if (f == LOAD_F_DIR && type == LUA_TSTRING)
            in.dir = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    harmonics_field(L, t, fn, &in);
    noise_field(L, t, fn, &in);
    if (load_fields_apply(&in, w, &field, err, sizeof err))
        sc_error(L, "%s: %s", fn, err);
}

static void stop_ramp(struct scenario *sc, unsigned k)
{
    sc->m[k].ramp.on = false;
    sc_timers_cancel_meter(&sc->timers, SC_T_RAMP, k);
}

/* m:load{U = 230, I = 5, PF = 0.95, ...}: change what it names. */
static int m_load(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    struct load_want w = sc->m[k].want;

    luaL_checktype(L, 2, LUA_TTABLE);
    load_from_table(L, 2, &w, "load{}", NULL);
    stop_ramp(sc, k);
    sc->m[k].want = w;
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

/* ---- ramps ---- */

static void ramp_values(const struct load_want *w, double v[SC_R_N])
{
    v[SC_R_U] = w->u;
    v[SC_R_I] = w->i;
    v[SC_R_F] = w->f;
    v[SC_R_PF] = w->pf;
}

static void ramp_set(struct sc_meter *m, double frac)
{
    struct sc_ramp *r = &m->ramp;
    double v[SC_R_N];
    for (int q = 0; q < SC_R_N; q++)
        v[q] = r->from[q] + (r->to[q] - r->from[q]) * frac;
    if (r->mask & 1u << SC_R_U)
        m->want.u = v[SC_R_U];
    if (r->mask & 1u << SC_R_I)
        m->want.i = v[SC_R_I];
    if (r->mask & 1u << SC_R_F)
        m->want.f = v[SC_R_F];
    if (r->mask & 1u << SC_R_PF)
        m->want.pf = v[SC_R_PF];
}

static void ramp_schedule(lua_State *L, struct scenario *sc, unsigned k,
                          int64_t now)
{
    struct sc_ramp *r = &sc->m[k].ramp;
    int64_t t = now + r->step;
    if (t > r->t1)
        t = r->t1;
    struct sc_timer tm = { .t = t, .kind = SC_T_RAMP, .meter = k };
    if (L)
        sc_schedule(L, &tm);
    else
        sc_timers_add(&sc->timers, &tm);
}

/* m:ramp{I = 10, over = "10m", step = "1s"}: from the present values to
 * these, linearly, in steps. */
static int m_ramp(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    static const char *const extra[] = { "over", "step", NULL };
    struct sc_meter *m = &sc->m[k];
    struct load_want w = m->want;
    struct sc_ramp r = { .on = true };
    bool found;
    int64_t over, step, now = sc_second_ms(sc);

    luaL_checktype(L, 2, LUA_TTABLE);
    over = sc_field_duration(L, 2, "over", &found);
    if (!found)
        return sc_error(L, "ramp{}: over = how long, e.g. over = '10m'");
    step = sc_field_duration(L, 2, "step", &found);
    if (!found)
        step = 1;
    if (step < 1)
        return sc_error(L, "ramp{}: step is at least 1 s");
    for (const char *const *key = load_field_names; *key; key++)
        if (strcmp(*key, "U") && strcmp(*key, "I") && strcmp(*key, "P") &&
            strcmp(*key, "F") && strcmp(*key, "PF")) {
            if (lua_getfield(L, 2, *key) != LUA_TNIL)
                return sc_error(L, "ramp{}: %s does not ramp (U, I, P, F, "
                                  "PF do; set the others with load{})", *key);
            lua_pop(L, 1);
        }
    if (m->want.angle_set && lua_getfield(L, 2, "PF") != LUA_TNIL)
        return sc_error(L, "ramp{}: PF ramps from a load set by PF, not "
                          "by angle");
    lua_settop(L, 2);
    load_from_table(L, 2, &w, "ramp{}", extra);
    stop_ramp(sc, k);
    ramp_values(&m->want, r.from);
    ramp_values(&w, r.to);
    for (int q = 0; q < SC_R_N; q++)
        if (r.to[q] != r.from[q])
            r.mask |= 1u << q;
    r.t0 = now;
    r.t1 = now + over * 1000;
    r.step = step * 1000;
    m->want = w;                    /* the target, for what does not move */
    m->ramp = r;
    ramp_set(m, 0.0);
    if (over == 0 || !r.mask) {
        ramp_set(m, 1.0);
        m->ramp.on = false;
    } else {
        ramp_schedule(L, sc, k, now);
    }
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

/* ---- profiles ---- */

static double profile_factor(const struct sc_profile *p, int64_t t)
{
    int64_t span = p->interval * (int64_t)p->n;
    int64_t off = (t - p->anchor) % span;
    if (off < 0)
        off += span;
    unsigned idx = (unsigned)(off / p->interval);
    double f = p->shape[idx];
    if (p->smooth) {
        double frac = (double)(off % p->interval) / (double)p->interval;
        f += (p->shape[(idx + 1) % p->n] - f) * frac;
    }
    return f;
}

static int64_t profile_next(const struct sc_profile *p, int64_t t)
{
    if (p->smooth)
        return t + p->step;
    int64_t off = (t - p->anchor) % p->interval;
    if (off < 0)
        off += p->interval;
    return t - off + p->interval;
}

/* A profile's multipliers while m:profile{} checks its arguments: a
 * userdata owns the buffer, so that an error raised before the meter
 * takes it cannot leak it (__gc frees what was not handed over). */
struct shape_box {
    double *v;
};

#define SHAPE_MT "kpm31c.shape"

static int shape_gc(lua_State *L)
{
    struct shape_box *b = lua_touserdata(L, 1);
    free(b->v);
    b->v = NULL;
    return 0;
}

/* m:profile(false): back to the plain load. */
static int profile_off(lua_State *L, struct scenario *sc, unsigned k)
{
    struct sc_meter *m = &sc->m[k];

    sc_timers_cancel_meter(&sc->timers, SC_T_PROFILE, k);
    free(m->prof.shape);
    m->prof = (struct sc_profile){ 0 };
    m->factor = 1.0;
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

/* The profile table's timing (at index 2) into *p: its number of points,
 * interval, anchor, smoothing and step. Leaves the shape on the stack. */
static void profile_timing(lua_State *L, struct sc_profile *p, int64_t now)
{
    int64_t v;
    bool found;

    if (lua_getfield(L, 2, "shape") != LUA_TTABLE)
        sc_error(L, "profile{}: shape = {m1, m2, ...}: 24 hourly or 96 "
                    "quarter-hourly multipliers, or any number with "
                    "interval");
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 1 || n > PROFILE_MAX_POINTS)
        sc_error(L, "profile{}: shape has %d points (1..%d)", (int)n,
                 PROFILE_MAX_POINTS);
    p->n = (unsigned)n;
    v = sc_field_duration(L, 2, "interval", &found);
    if (found)
        p->interval = v * 1000;
    else if (n == 24 || n == 96 || n == 48 || n == 1440)
        p->interval = 86400000 / n;
    else
        sc_error(L, "profile{}: %d points: give interval (24 points are "
                    "hourly, 96 quarter-hourly)", (int)n);
    if (p->interval < 1000)
        sc_error(L, "profile{}: interval is at least 1 s");
    if (lua_getfield(L, 2, "from") != LUA_TNIL)
        p->anchor = sc_check_time(L, lua_gettop(L)) * 1000;
    else
        p->anchor = now - now % 86400000;   /* this virtual midnight */
    lua_pop(L, 1);
    lua_getfield(L, 2, "smooth");
    p->smooth = lua_toboolean(L, -1);
    lua_pop(L, 1);
    v = sc_field_duration(L, 2, "step", &found);
    p->step = (found ? v : 60) * 1000;
    if (p->step < 1000)
        sc_error(L, "profile{}: step is at least 1 s");
}

/* The n multipliers of the shape at index idx, checked, in a buffer the
 * box it pushes owns; *max gets the largest magnitude. */
static struct shape_box *shape_read(lua_State *L, int idx, unsigned n,
                                    double *max)
{
    struct shape_box *b = lua_newuserdatauv(L, sizeof *b, 0);

    b->v = NULL;
    luaL_setmetatable(L, SHAPE_MT);
    b->v = malloc((size_t)n * sizeof *b->v);
    if (!b->v)
        sc_error(L, "profile{}: out of memory");
    *max = 0;
    for (unsigned j = 0; j < n; j++) {
        lua_rawgeti(L, idx, (lua_Integer)j + 1);
        double f = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(f))
            sc_error(L, "profile{}: shape[%d] is not a number", (int)j + 1);
        b->v[j] = f;
        if (fabs(f) > *max)
            *max = fabs(f);
        lua_pop(L, 1);
    }
    return b;
}

/* m:profile{shape = {...24 multipliers...}, I = 10 | P = -3000,
 *           interval = "1h", from = "2026-06-01", smooth = true}
 * m:profile(false): back to the plain load. */
static int m_profile(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    struct sc_meter *m = &sc->m[k];
    static const char *const extra[] = {
        "shape", "interval", "from", "smooth", "step", NULL,
    };
    struct sc_profile p = { .on = true };
    struct load_want w = m->want;
    int64_t now = sc_second_ms(sc);
    double maxf;

    if (lua_type(L, 2) == LUA_TBOOLEAN && !lua_toboolean(L, 2))
        return profile_off(L, sc, k);
    luaL_checktype(L, 2, LUA_TTABLE);
    profile_timing(L, &p, now);
    struct shape_box *shape = shape_read(L, lua_gettop(L), p.n, &maxf);
    /* the load's other keys: the base the multipliers scale */
    load_from_table(L, 2, &w, "profile{}", extra);
    if (fabs(w.i) * maxf > LOAD_I_MAX)
        return sc_error(L, "profile{}: %g A x %g (the largest multiplier) "
                          "is over %g A", fabs(w.i), maxf, LOAD_I_MAX);
    sc_timers_cancel_meter(&sc->timers, SC_T_PROFILE, k);
    stop_ramp(sc, k);
    free(m->prof.shape);
    p.shape = shape->v;             /* the meter's now */
    shape->v = NULL;
    m->prof = p;
    m->want = w;
    m->factor = profile_factor(&m->prof, now);
    struct sc_timer t = { .t = profile_next(&m->prof, now),
                          .kind = SC_T_PROFILE, .meter = k };
    sc_schedule(L, &t);
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

/* ---- events ---- */

static int m_outage(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);

    sc_timers_cancel_meter(&sc->timers, SC_T_OUTAGE_END, k);
    sc->m[k].outage = true;
    if (!lua_isnoneornil(L, 2)) {
        int64_t d = sc_check_duration(L, 2);
        int64_t now = sc_second_ms(sc);
        struct sc_timer t = { .t = now + d * 1000, .kind = SC_T_OUTAGE_END,
                              .meter = k };
        sc_schedule(L, &t);
    }
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

static int m_restore(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);

    sc_timers_cancel_meter(&sc->timers, SC_T_OUTAGE_END, k);
    sc->m[k].outage = false;
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

void sc_meter_timer(struct scenario *sc, const struct sc_timer *t)
{
    struct sc_meter *m = &sc->m[t->meter];
    int64_t now = sc->e->now_ms;

    switch (t->kind) {
    case SC_T_OUTAGE_END:
        m->outage = false;
        break;
    case SC_T_RAMP:
        if (!m->ramp.on)
            return;
        if (now >= m->ramp.t1) {
            ramp_set(m, 1.0);
            m->ramp.on = false;
        } else {
            ramp_set(m, (double)(now - m->ramp.t0) /
                        (double)(m->ramp.t1 - m->ramp.t0));
            ramp_schedule(NULL, sc, t->meter, now);
        }
        break;
    case SC_T_PROFILE: {
        if (!m->prof.on)
            return;
        m->factor = profile_factor(&m->prof, now);
        struct sc_timer next = { .t = profile_next(&m->prof, now),
                                 .kind = SC_T_PROFILE, .meter = t->meter };
        sc_timers_add(&sc->timers, &next);
        break;
    }
    default:
        return;
    }
    apply(sc, t->meter);
}

/* m:relay() -> "closed"|"open", {reasons}; m:relay("open"|"close"). */
static int m_relay(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);

    if (lua_isnoneornil(L, 2)) {
        unsigned why = meter_relay_reasons(core);
        lua_pushstring(L, meter_relay_closed(core) ? "closed" : "open");
        lua_createtable(L, 3, 0);
        int n = 0;
        if (why & PREPAID_OPEN_CREDIT)
            lua_pushstring(L, "credit"), lua_rawseti(L, -2, ++n);
        if (why & PREPAID_OPEN_POWER)
            lua_pushstring(L, "power"), lua_rawseti(L, -2, ++n);
        if (why & PREPAID_OPEN_REMOTE)
            lua_pushstring(L, "remote"), lua_rawseti(L, -2, ++n);
        return 2;
    }
    const char *cmd = luaL_checkstring(L, 2);
    bool close;
    if (!strcmp(cmd, "close") || !strcmp(cmd, "closed"))
        close = true;
    else if (!strcmp(cmd, "open"))
        close = false;
    else
        return sc_error(L, "relay('%s'): 'open' or 'close'", cmd);
    if (meter_relay_command(core, close)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "refused: the prepaid credit is used up");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* An energy: a number of Wh, or "10kWh", "500 Wh", "1.5 MWh". */
static uint32_t energy_wh(lua_State *L, int idx, const char *fn)
{
    double v;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        v = lua_tonumber(L, idx);
    } else {
        const char *s = luaL_checkstring(L, idx);
        char *end;
        v = strtod(s, &end);
        while (*end == ' ')
            end++;
        if (end == s)
            v = (double)NAN;
        else if (!strcasecmp(end, "kWh"))
            v *= 1e3;
        else if (!strcasecmp(end, "MWh"))
            v *= 1e6;
        else if (*end && strcasecmp(end, "Wh"))
            v = (double)NAN;
    }
    if (!(v >= 0 && v <= (double)PREPAID_CREDIT_MAX_WH))
        sc_error(L, "%s: %s is not an energy (Wh as a number, or '10kWh', "
                   "'500Wh')", fn, luaL_tolstring(L, idx, NULL));
    return (uint32_t)llround(v);
}

static int m_topup(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);
    uint32_t wh = energy_wh(L, 2, "topup()");

    if (meter_topup(core, wh))
        return sc_error(L, "topup(): the credit would pass the meter's "
                          "limit (%lu Wh)",
                        (unsigned long)PREPAID_CREDIT_MAX_WH);
    lua_pushinteger(L, meter_credit_wh(core));
    return 1;
}

/* m:credit() -> Wh left; m:credit(x) sets it. */
static int m_credit(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);

    if (!lua_isnoneornil(L, 2))
        meter_set_credit(core, energy_wh(L, 2, "credit()"));
    lua_pushinteger(L, meter_credit_wh(core));
    return 1;
}

/* m:prepaid{on = true, credit = "5kWh", alarm = "1kWh", limit = 3000,
 *           delay = 10} */
static int m_prepaid(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);
    struct meter_settings s = *meter_settings(core);
    static const char *const keys[] = { "on", "credit", "alarm", "limit",
                                        "delay", NULL };
    double v;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || !is_key(lua_tostring(L, -1),
                                                      keys))
            return sc_error(L, "prepaid{}: unknown key '%s' (on, credit, "
                              "alarm, limit, delay)",
                              luaL_tolstring(L, -1, NULL));
    }
    if (lua_getfield(L, 2, "on") != LUA_TNIL)
        s.prepaid.enabled = lua_toboolean(L, -1) ? 1 : 0;
    if (lua_getfield(L, 2, "alarm") != LUA_TNIL)
        s.prepaid.alarm_wh = energy_wh(L, -1, "prepaid{alarm}");
    if (num_field(L, 2, "limit", 0, 4294967295.0, "prepaid{}", "W", &v))
        s.prepaid.limit_w = (uint32_t)v;
    if (num_field(L, 2, "delay", 0, PREPAID_DELAY_MAX, "prepaid{}", "s", &v))
        s.prepaid.delay_s = (uint16_t)v;
    if (lua_getfield(L, 2, "credit") != LUA_TNIL)
        meter_set_credit(core, energy_wh(L, -1, "prepaid{credit}"));
    if (meter_configure(core, &s))
        return sc_error(L, "prepaid{}: the meter refused these settings");
    lua_settop(L, 1);
    return 1;
}

static int rate_arg(lua_State *L, int idx, const char *fn)
{
    static const char *const names[] = { "sharp", "peak", "flat", "valley" };
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Integer r = lua_tointeger(L, idx);
        if (r >= 1 && r <= 4)
            return (int)r;
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        for (int r = 0; r < 4; r++)
            if (!strcmp(lua_tostring(L, idx), names[r]))
                return r + 1;
    }
    sc_error(L, "%s: a rate is 1..4 or 'sharp', 'peak', 'flat', 'valley'",
               fn);
    return 0;
}

/* One zone's periods: {{"06:00", "sharp"}, {"10:00", "peak"}, ...}. */
static void periods_of(lua_State *L, int t, struct tariff_zone *z)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    if (n < 1 || n > TARIFF_PERIODS)
        sc_error(L, "tariff{}: a day has 1..%d periods, not %d",
                   TARIFF_PERIODS, (int)n);
    z->nperiods = (uint8_t)n;
    for (lua_Integer j = 1; j <= n; j++) {
        unsigned hh = 0, mm = 0;
        int used = 0;
        lua_rawgeti(L, t, j);
        int e = lua_gettop(L);
        if (lua_type(L, e) != LUA_TTABLE)
            sc_error(L, "tariff{}: period %d is {\"HH:MM\", rate}", (int)j);
        if (lua_rawgeti(L, e, 1) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_getfield(L, e, "at");
        }
        const char *s = lua_tostring(L, -1);
        if (!s || sscanf(s, "%2u:%2u%n", &hh, &mm, &used) != 2 ||
            s[used] || hh > 23 || mm > 59)
            sc_error(L, "tariff{}: period %d starts at \"HH:MM\"", (int)j);
        if (lua_rawgeti(L, e, 2) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_getfield(L, e, "rate");
        }
        struct tariff_period p = { .hour = (uint8_t)hh, .min = (uint8_t)mm,
                                   .rate = (uint8_t)rate_arg(L, -1,
                                                             "tariff{}") };
        /* in order, as the meter stores them and Modbus writes them (a
         * table out of order is refused there with exception 03) */
        const struct tariff_period *q = &z->period[j > 1 ? j - 2 : 0];
        if (j > 1 && q->hour * 60 + q->min >= p.hour * 60 + p.min)
            sc_error(L, "tariff{}: period %d starts at %02u:%02u, not after "
                       "period %d (%02u:%02u): periods go in the order of "
                       "their start, as the meter stores them", (int)j, hh,
                       mm, (int)j - 1, q->hour, q->min);
        z->period[j - 1] = p;
        lua_settop(L, e - 1);
    }
}

/* m:tariff{{"06:00", "sharp"}, ...}, or
 * m:tariff{zones = {{from = "01-01", periods = {...}}, ...}} */
static int m_tariff(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);
    struct meter_settings s = *meter_settings(core);
    struct tariff_table tt = s.tariff;

    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "zones") == LUA_TTABLE) {
        int zt = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, zt);
        if (n < 1 || n > TARIFF_ZONES)
            return sc_error(L, "tariff{}: 1..%d zones, not %d",
                              TARIFF_ZONES, (int)n);
        tt.nzones = (uint8_t)n;
        for (lua_Integer j = 1; j <= n; j++) {
            unsigned mo, dd;
            int used = 0;
            struct tariff_zone z = { 0 };
            lua_rawgeti(L, zt, j);
            int e = lua_gettop(L);
            lua_getfield(L, e, "from");
            const char *f = lua_tostring(L, -1);
            if (!f || sscanf(f, "%2u-%2u%n", &mo, &dd, &used) != 2 ||
                f[used] || mo < 1 || mo > 12 || dd < 1 || dd > 31)
                return sc_error(L, "tariff{}: zone %d: from = \"MM-DD\"",
                                  (int)j);
            z.month = (uint8_t)mo;
            z.day = (uint8_t)dd;
            if (lua_getfield(L, e, "periods") != LUA_TTABLE)
                return sc_error(L, "tariff{}: zone %d: periods = {...}",
                                  (int)j);
            periods_of(L, lua_gettop(L), &z);
            const struct tariff_zone *y = &tt.zone[j > 1 ? j - 2 : 0];
            if (j > 1 && y->month * 100 + y->day >= z.month * 100 + z.day)
                return sc_error(L, "tariff{}: zone %d starts on %02u-%02u, "
                                  "not after zone %d (%02u-%02u): zones go "
                                  "in the order of their start, as the "
                                  "meter stores them", (int)j, mo, dd,
                                  (int)j - 1, y->month, y->day);
            tt.zone[j - 1] = z;
            lua_settop(L, e - 1);
        }
    } else {
        lua_pop(L, 1);
        tt.nzones = 1;
        tt.zone[0] = (struct tariff_zone){ .month = 1, .day = 1 };
        periods_of(L, 2, &tt.zone[0]);
    }
    s.tariff = tt;
    if (meter_configure(core, &s))
        return sc_error(L, "tariff{}: the meter refused the schedule (a "
                          "date that does not exist)");
    lua_settop(L, 1);
    return 1;
}

/* m:key("enter"), m:key("left", "long"), m:key("down", 5): presses. */
static int m_key(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    struct meter *core = core_of(L, k);
    static const char *const names[] = { "left", "down", "enter", NULL };
    const char *name = lua_tostring(L, 2);
    int key = -1;

    for (int j = 0; name && names[j]; j++)
        if (!strcmp(name, names[j]))
            key = j;
    if (key < 0)
        return sc_error(L, "key(name): '%s' is not a key of the meter: "
                          "'left', 'down' or 'enter' (then 'long' or a "
                          "number of presses)",
                          luaL_tolstring(L, 2, NULL));
    bool long_press = lua_type(L, 3) == LUA_TSTRING &&
                      !strcmp(lua_tostring(L, 3), "long");
    lua_Integer times = long_press ? 1 : luaL_optinteger(L, 3, 1);
    /* the key driver's counter (virtual ms, or the UI's), plus the time
     * the presses take (a press and release 200 ms apart, 3.2 s for a
     * long one) */
    int64_t t = panel_ms(sc);

    luaL_argcheck(L, times >= 1 && times <= 100, 3,
                  "a number of presses 1..100, or 'long'");
    if (sc->m[k].key_ms > t)
        t = sc->m[k].key_ms;
    for (lua_Integer j = 0; j < times; j++) {
        meter_key(core, (enum meter_key)key, METER_KEY_PRESS, t);
        t += long_press ? LCD_LONG_MS + 200 : 200;
        meter_lcd_tick(core, t);
        meter_key(core, (enum meter_key)key, METER_KEY_RELEASE, t);
        t += 200;
    }
    sc->m[k].key_ms = t;
    lua_settop(L, 1);
    return 1;
}

/* m:lcd() -> the glass as text, and a table of icons lit. */
static int m_lcd(lua_State *L)
{
    static const char *const icons[] = {
        "V", "A", "kW", "kvar", "kVA", "Hz", "PF", "kWh", "kvarh", "T1",
        "T2", "T3", "T4", "total", "imp", "exp", "last", "clock", "set",
        "relay_off", "comm", "4G", "alarm",
    };
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    struct meter *core = core_of(L, k);
    struct lcd_frame f;
    char text[2 * LCD_DIGITS + 2];
    int64_t t = panel_ms(sc) > sc->m[k].key_ms ? panel_ms(sc)
                                               : sc->m[k].key_ms;

    meter_lcd_tick(core, t);
    meter_lcd_frame(core, t, &f);
    text[0] = '-';
    seg_row_text(f.digit, LCD_DIGITS, text + f.minus,
                 (unsigned)sizeof text - 1);
    lua_pushstring(L, text);
    lua_createtable(L, 4, 0);
    int j = 0;
    for (unsigned b = 0; b < sizeof icons / sizeof *icons; b++)
        if (f.icons & 1u << b) {
            lua_pushstring(L, icons[b]);
            lua_rawseti(L, -2, ++j);
        }
    return 2;
}

static int m_set_clock(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    int64_t t = sc_check_time(L, 2);
    if (meter_set_time(core_of(L, k), t))
        return sc_error(L, "set_clock(): the meter's clock runs %d..%d",
                        RTC_YEAR_MIN, RTC_YEAR_MAX);
    lua_settop(L, 1);
    return 1;
}

static int m_clock(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    lua_pushinteger(L, meter_time(core_of(L, k)));
    return 1;
}

static int m_date(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    char buf[32];
    time_format_iso(meter_time(core_of(L, k)), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

/* ---- faults ---- */

static int m_drift(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    lua_Number ppm = luaL_checknumber(L, 2);
    luaL_argcheck(L, ppm >= -100000 && ppm <= 100000, 2,
                  "ppm -100000..100000");
    engine_set_drift(sc_of(L)->e, k, ppm);
    lua_settop(L, 1);
    return 1;
}

static int m_reverse_ct(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct scenario *sc = sc_of(L);
    sc->m[k].ct_reversed = lua_isnone(L, 2) || lua_toboolean(L, 2);
    apply(sc, k);
    lua_settop(L, 1);
    return 1;
}

/* ---- reads ---- */

struct named_reg {
    const char *name;
    uint16_t addr;
};

static const struct named_reg named[] = {
    { "kWh", REG_ACT }, { "import_kWh", REG_ACT_IMP },
    { "export_kWh", REG_ACT_EXP }, { "kvarh", REG_REACT },
    { "import_kvarh", REG_REACT_IMP }, { "export_kvarh", REG_REACT_EXP },
    { "sharp_kWh", REG_ACT_RATE(1) }, { "peak_kWh", REG_ACT_RATE(2) },
    { "flat_kWh", REG_ACT_RATE(3) }, { "valley_kWh", REG_ACT_RATE(4) },
    { "month_kWh", REG_X_MONTH_ACT }, { "month_kvarh", REG_X_MONTH_REACT },
    { "max_demand", REG_X_MD }, { "credit_kWh", REG_X_CREDIT_KWH },
};

static double reg_float(lua_State *L, struct meter *core, uint16_t addr)
{
    float v;
    int ex = meter_reg_float(core, addr, &v);
    if (ex)
        sc_error(L, "register 0x%04X is not a float32 the meter serves "
                   "(exception %d): read integers with 'u16', 'u32', 'u64'",
                   addr, ex);
    return (double)v;
}

static void push_measure(lua_State *L, const struct meter_measure *x,
                         const char *name)
{
    static const char *const names[] = { "U", "I", "P", "Q", "S", "PF", "F",
                                         "demand" };
    const float v[] = { x->u, x->i, x->p, x->q, x->s, x->pf, x->f,
                        x->demand };
    for (int j = 0; j < 8; j++)
        if (!strcmp(name, names[j])) {
            lua_pushnumber(L, (double)v[j]);
            return;
        }
    lua_pushnil(L);
}

/* m:read("P"), m:read("kWh"), m:read(0x0034), m:read(0x1132, "u32") */
static int m_read(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);

    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer a = luaL_checkinteger(L, 2);
        static const char *const types[] = { "float", "u16", "u32", "u64",
                                             NULL };
        int type = luaL_checkoption(L, 3, "float", types);
        uint16_t r[4];
        luaL_argcheck(L, a >= 0 && a <= 0xFFFF, 2, "an address 0..0xFFFF");
        if (type == 0) {
            lua_pushnumber(L, reg_float(L, core, (uint16_t)a));
            return 1;
        }
        int n = type == 1 ? 1 : type == 2 ? 2 : 4;
        int ex = meter_reg_read(core, (uint16_t)a, (uint16_t)n, r);
        if (ex)
            return sc_error(L, "read(0x%04X, '%s'): exception %d (%s)",
                              (unsigned)a, types[type], ex,
                              ex == 2 ? "no such register, or a value cut "
                                        "in the middle" : "refused");
        uint64_t v = 0;
        for (int j = 0; j < n; j++)
            v = v << 16 | r[j];
        lua_pushinteger(L, (lua_Integer)v);
        return 1;
    }
    const char *name = luaL_checkstring(L, 2);
    push_measure(L, meter_measure(core), name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    for (size_t j = 0; j < sizeof named / sizeof *named; j++)
        if (!strcmp(name, named[j].name)) {
            lua_pushnumber(L, reg_float(L, core, named[j].addr));
            return 1;
        }
    if (!strcmp(name, "credit")) {
        lua_pushinteger(L, meter_credit_wh(core));
        return 1;
    }
    if (!strcmp(name, "pulses")) {
        lua_pushinteger(L, (lua_Integer)meter_pulse_count(core));
        return 1;
    }
    if (!strcmp(name, "rate")) {
        lua_pushinteger(L, meter_rate(core));
        return 1;
    }
    return sc_error(L, "read('%s'): measurements are U, I, P, Q, S, PF, F, "
                      "demand; energies kWh, import_kWh, export_kWh, kvarh, "
                      "import_kvarh, export_kvarh, sharp_kWh, peak_kWh, "
                      "flat_kWh, valley_kWh, month_kWh, month_kvarh; also "
                      "max_demand, credit_kWh, credit (Wh), pulses, rate; or "
                      "a register address", name);
}

static int m_measure(lua_State *L)
{
    static const char *const names[] = { "U", "I", "P", "Q", "S", "PF", "F",
                                         "demand" };
    unsigned k = check_meter(L, 1);
    const struct meter_measure *x = meter_measure(core_of(L, k));

    lua_createtable(L, 0, 8);
    for (int j = 0; j < 8; j++) {
        push_measure(L, x, names[j]);
        lua_setfield(L, -2, names[j]);
    }
    return 1;
}

static void set_reg(lua_State *L, struct meter *core, const char *key,
                    uint16_t addr)
{
    lua_pushnumber(L, reg_float(L, core, addr));
    lua_setfield(L, -2, key);
}

/* Lifetime energies, kWh and kvarh, as the registers serve them. */
static int m_energy(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);

    lua_createtable(L, 0, 10);
    set_reg(L, core, "total", REG_ACT);
    set_reg(L, core, "import", REG_ACT_IMP);
    set_reg(L, core, "export", REG_ACT_EXP);
    set_reg(L, core, "reactive", REG_REACT);
    set_reg(L, core, "reactive_import", REG_REACT_IMP);
    set_reg(L, core, "reactive_export", REG_REACT_EXP);
    set_reg(L, core, "sharp", REG_ACT_RATE(1));
    set_reg(L, core, "peak", REG_ACT_RATE(2));
    set_reg(L, core, "flat", REG_ACT_RATE(3));
    set_reg(L, core, "valley", REG_ACT_RATE(4));
    return 1;
}

/* m:month(0): this month's consumption; m:month(n): previous n (1..12). */
static int m_month(lua_State *L)
{
    static const char *const rates[] = { "sharp", "peak", "flat", "valley" };
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);
    lua_Integer n = luaL_optinteger(L, 2, 0);
    char key[32];

    luaL_argcheck(L, n >= 0 && n <= 12, 2,
                  "0 (this month) or 1..12 (previous months)");
    lua_createtable(L, 0, 10);
    if (n == 0) {
        set_reg(L, core, "active", REG_X_MONTH_ACT);
        set_reg(L, core, "reactive", REG_X_MONTH_REACT);
    } else {
        set_reg(L, core, "active", (uint16_t)REG_PREV_ACT(n));
        set_reg(L, core, "reactive", (uint16_t)REG_PREV_REACT(n));
    }
    for (int r = 0; r < 4; r++) {
        set_reg(L, core, rates[r], (uint16_t)REG_RATE(r + 1, false, n));
        snprintf(key, sizeof key, "%s_kvarh", rates[r]);
        set_reg(L, core, key, (uint16_t)REG_RATE(r + 1, true, n));
    }
    return 1;
}

static int m_pulses(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    lua_pushinteger(L, (lua_Integer)meter_pulse_count(core_of(L, k)));
    return 1;
}

static int m_rate(lua_State *L)
{
    static const char *const names[] = { "?", "sharp", "peak", "flat",
                                         "valley" };
    unsigned k = check_meter(L, 1);
    unsigned r = meter_rate(core_of(L, k));
    lua_pushstring(L, names[r <= 4 ? r : 0]);
    lua_pushinteger(L, r);
    return 2;
}

/* m:write(0x1100, 5), m:write(0x1130, {1, 0, 2000}): as a Modbus master
 * would (FC16); true, or false and the exception code. */
static int m_write(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    struct meter *core = core_of(L, k);
    lua_Integer a = luaL_checkinteger(L, 2);
    uint16_t regs[123];
    int n = 0;

    luaL_argcheck(L, a >= 0 && a <= 0xFFFF, 2, "an address 0..0xFFFF");
    if (lua_type(L, 3) == LUA_TTABLE) {
        n = (int)lua_rawlen(L, 3);
        luaL_argcheck(L, n >= 1 && n <= 123, 3, "1..123 register values");
        for (int j = 1; j <= n; j++) {
            lua_rawgeti(L, 3, j);
            lua_Integer v = lua_tointeger(L, -1);
            luaL_argcheck(L, lua_isinteger(L, -1) && v >= 0 && v <= 0xFFFF, 3,
                          "register values are integers 0..65535");
            regs[j - 1] = (uint16_t)v;
            lua_pop(L, 1);
        }
    } else {
        for (int j = 3; j <= lua_gettop(L) && n < 123; j++) {
            lua_Integer v = luaL_checkinteger(L, j);
            luaL_argcheck(L, v >= 0 && v <= 0xFFFF, j, "a value 0..65535");
            regs[n++] = (uint16_t)v;
        }
        luaL_argcheck(L, n >= 1, 3, "register values to write");
    }
    luaL_argcheck(L, a + n <= 0x10000, 2, "the values run past 0xFFFF");
    int ex = meter_reg_write(core, (uint16_t)a, (uint16_t)n, regs,
                             meter_time(core));
    lua_pushboolean(L, ex == 0);
    if (ex) {
        lua_pushinteger(L, ex);
        return 2;
    }
    return 1;
}

static int m_index(lua_State *L)
{
    lua_pushinteger(L, check_meter(L, 1) + 1);
    return 1;
}

static int m_slave(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    lua_pushinteger(L, meter_comm(core_of(L, k))->slave);
    return 1;
}

static int m_serial(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    uint16_t r[2];
    meter_reg_read(core_of(L, k), REG_X_SERIAL, 2, r);
    lua_pushinteger(L, (lua_Integer)((uint32_t)r[0] << 16 | r[1]));
    return 1;
}

static int m_tostring(lua_State *L)
{
    unsigned k = check_meter(L, 1);
    lua_pushfstring(L, "meter %d (slave %d)", (int)k + 1,
                    (int)meter_comm(core_of(L, k))->slave);
    return 1;
}

static int m_eq(lua_State *L)
{
    struct sc_mref *a = luaL_testudata(L, 1, METER_MT);
    struct sc_mref *b = luaL_testudata(L, 2, METER_MT);
    lua_pushboolean(L, a && b && a->index == b->index);
    return 1;
}

/* meter(n): the n-th meter of the fleet (1 by default). */
static int l_meter(lua_State *L)
{
    SC_NEED_METERS(L, l_meter);
    struct scenario *sc = sc_of(L);
    lua_Integer n = luaL_optinteger(L, 1, 1);

    if (n < 1 || n > (lua_Integer)sc->e->count)
        return sc_error(L, "meter(%d): the fleet has %d meter%s (1..%d; "
                          "setup{meters = N} or --meters N for more)",
                          (int)n, (int)sc->e->count,
                          sc->e->count > 1 ? "s" : "", (int)sc->e->count);
    sc_meter_push(L, (unsigned)n - 1);
    return 1;
}

void sc_meter_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "load", m_load },
        { "ramp", m_ramp },
        { "profile", m_profile },
        { "outage", m_outage },
        { "restore", m_restore },
        { "relay", m_relay },
        { "topup", m_topup },
        { "credit", m_credit },
        { "prepaid", m_prepaid },
        { "tariff", m_tariff },
        { "key", m_key },
        { "lcd", m_lcd },
        { "set_clock", m_set_clock },
        { "clock", m_clock },
        { "date", m_date },
        { "drift", m_drift },
        { "reverse_ct", m_reverse_ct },
        { "read", m_read },
        { "measure", m_measure },
        { "energy", m_energy },
        { "month", m_month },
        { "pulses", m_pulses },
        { "rate", m_rate },
        { "write", m_write },
        { "index", m_index },
        { "slave", m_slave },
        { "serial", m_serial },
        { NULL, NULL },
    };

    sc_class(L, METER_MT, methods, m_tostring);
    lua_pushcfunction(L, m_eq);
    lua_setfield(L, -2, "__eq");
    lua_pop(L, 1);
    luaL_newmetatable(L, SHAPE_MT);
    lua_pushcfunction(L, shape_gc);
    lua_setfield(L, -2, "__gc");
    sc_lock_metatable(L);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_meter);
    lua_setglobal(L, "meter");
}
