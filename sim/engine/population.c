/*
 * Populations: the kinds' defaults, the seeded draws and a meter's load
 * at a time. Each draw is a hash of (seed, meter, what, when): no state,
 * no order, so any process computes any meter's load alone.
 */
#include "sim/engine/population.h"

#include <math.h>
#include <string.h>

#define DAY 86400
#define STANDBY_KW 0.005        /* an EV charger between sessions */

const char *const population_shape_names[POP_NSHAPES] = {
    "household", "ev_charger", "pv_exporter", "shop", "heat_pump" };

/* What a draw is for: one stream each, so adding one changes no other. */
enum draw_what { D_PICK = 1, D_KW, D_PF, D_U, D_SHIFT, D_VARY, D_EV_DAY,
                 D_EV_START, D_EV_HOURS };

/* ---- the kinds ---- */

/* A household: a night's base, a morning and a larger evening peak. */
static const double household[24] = {
    0.18, 0.15, 0.14, 0.14, 0.15, 0.20, 0.35, 0.50, 0.45, 0.35, 0.30, 0.32,
    0.38, 0.34, 0.30, 0.32, 0.42, 0.65, 0.90, 1.00, 0.95, 0.80, 0.55, 0.30 };

/* The scenario library's clear June day, kW per kWp
 * (scenarios/data/pv_june.csv). */
static const double pv_june[24] = {
    0, 0, 0, 0, 0, 0.02, 0.10, 0.25, 0.42, 0.58, 0.70, 0.78,
    0.80, 0.78, 0.70, 0.58, 0.42, 0.25, 0.10, 0.02, 0, 0, 0, 0 };

/* A shop: refrigeration at night, open 8..20. */
static const double shop[24] = {
    0.12, 0.12, 0.12, 0.12, 0.12, 0.12, 0.15, 0.40, 0.85, 0.95, 1.00, 1.00,
    1.00, 1.00, 1.00, 0.95, 0.95, 0.95, 0.90, 0.70, 0.25, 0.12, 0.12, 0.12 };

/* The scenario library's heat pump on a winter day
 * (scenarios/data/heatpump_de.csv, kW / its 1.6 kW peak). */
static const double heat_pump[24] = {
    0.75 / 1.6, 0.75 / 1.6, 0.7 / 1.6, 0.7 / 1.6, 0.8 / 1.6, 1.2 / 1.6,
    1.0, 1.4 / 1.6, 1.1 / 1.6, 0.9 / 1.6, 0.8 / 1.6, 0.7 / 1.6,
    0.6 / 1.6, 0.6 / 1.6, 0.6 / 1.6, 0.7 / 1.6, 0.9 / 1.6, 1.3 / 1.6,
    1.5 / 1.6, 1.4 / 1.6, 1.2 / 1.6, 1.0 / 1.6, 0.9 / 1.6, 0.8 / 1.6 };

static const struct population_kind defaults[POP_NSHAPES] = {
    [POP_HOUSEHOLD] = {
        .shape = POP_HOUSEHOLD, .kw = { 0.5, 1.6 }, .pf = { 0.90, 0.98 },
        .u = { 225, 235 }, .shift = { -1, 1 }, .weekend = 1.15,
        .season = -0.2,
        .variation = 0.25 },
    [POP_EV_CHARGER] = {
        .shape = POP_EV_CHARGER, .kw = { 3.7, 11 }, .pf = { 0.97, 0.99 },
        .u = { 225, 235 }, .weekend = 1, .chance = 0.5,
        .start = { 17, 22 }, .hours = { 2, 5 } },
    [POP_PV_EXPORTER] = {
        .shape = POP_PV_EXPORTER, .kw = { 2, 10 }, .pf = { 0.99, 1 },
        .u = { 228, 240 }, .weekend = 1, .variation = 0.3, .export = true,
        .season = 0.75 },
    [POP_SHOP] = {
        .shape = POP_SHOP, .kw = { 3, 15 }, .pf = { 0.85, 0.95 },
        .u = { 225, 235 }, .shift = { 0, 1 }, .weekend = 0.5,
        .variation = 0.1 },
    [POP_HEAT_PUMP] = {
        .shape = POP_HEAT_PUMP, .kw = { 1.5, 6 }, .pf = { 0.90, 0.97 },
        .u = { 225, 235 }, .shift = { -1, 1 }, .weekend = 1,
        .season = -0.85,
        .variation = 0.15 },
};

static const double *const profiles[POP_NSHAPES] = {
    household, NULL, pv_june, shop, heat_pump };

int population_kind_default(const char *name, struct population_kind *k)
{
    for (unsigned j = 0; j < POP_NSHAPES; j++)
        if (!strcmp(name, population_shape_names[j])) {
            *k = defaults[j];
            if (profiles[j])
                memcpy(k->profile, profiles[j], sizeof k->profile);
            return 0;
        }
    return -1;
}

/* ---- draws ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) for meter g's draw what at when. */
static double draw(const struct population *p, unsigned g,
                   enum draw_what what, int64_t when)
{
    uint64_t h = mix64(p->seed);
    h = mix64(h ^ g);
    h = mix64(h ^ ((uint64_t)what << 56) ^ (uint64_t)when);
    return (double)(h >> 11) * 0x1.0p-53;
}

static double in_range(struct population_range r, double u)
{
    return r.lo + (r.hi - r.lo) * u;
}

/* A whole number lo..hi, each as likely. */
static int64_t whole_in(struct population_range r, double u)
{
    int64_t lo = (int64_t)r.lo, hi = (int64_t)r.hi;
    int64_t v = lo + (int64_t)floor((double)(hi - lo + 1) * u);
    return v > hi ? hi : v;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* Which entry of the mix the fleet's meter g draws (0-based, global). */
static unsigned pick(const struct population *p, unsigned g)
{
    double u = draw(p, g, D_PICK, 0), acc = 0;

    for (unsigned j = 0; j < p->nkinds; j++) {
        acc += p->kinds[j].share;
        if (u < acc)
            return j;
    }
    return p->nkinds - 1;       /* shares summing to 1 less a rounding */
}

/* Whether an EV session of meter g runs at t: that day's, or the day
 * before's running past midnight. */
static bool ev_charging(const struct population *p,
                        const struct population_kind *k, unsigned g,
                        int64_t t)
{
    int64_t today = floor_div(t, DAY);

    for (int64_t d = today - 1; d <= today; d++) {
        if (draw(p, g, D_EV_DAY, d) >= k->chance)
            continue;
        int64_t from = d * DAY + 3600 * whole_in(k->start,
                                                 draw(p, g, D_EV_START, d));
        int64_t len = 3600 * whole_in(k->hours, draw(p, g, D_EV_HOURS, d));
        if (t >= from && t < from + len)
            return true;
    }
    return false;
}

/* The season's factor on day (since 1970-01-01): 1 at its peak (the
 * summer solstice for season > 0, the winter's for < 0), 1 - |season|
 * half a year away, a cosine between (northern hemisphere). */
static double season_at(double season, int64_t day)
{
    /* 1970-06-21 is day 171; a mean Gregorian year */
    double c = cos(6.283185307179586 * (double)(day - 171) / 365.2425);

    if (season < 0) {
        season = -season;
        c = -c;
    }
    return 1.0 - season * (1.0 - c) / 2.0;
}

/* The fraction of the peak from the hourly profile at local time t,
 * linear between the hours, times the weekend's and the season's
 * factors. */
static double profile_at(const struct population_kind *k, int64_t t)
{
    int64_t day = floor_div(t, DAY), sec = t - day * DAY;
    unsigned h = (unsigned)(sec / 3600);
    double frac = (double)(sec % 3600) / 3600.0;
    double v = k->profile[h] + (k->profile[(h + 1) % 24] - k->profile[h]) *
                                   frac;
    int dow = (int)((day + 4) % 7);     /* 1970-01-01 was a Thursday */

    if (dow < 0)
        dow += 7;
    return ((dow == 0 || dow == 6) ? v * k->weekend : v) *
           season_at(k->season, day);
}

void population_load(const struct population *p, unsigned g, int64_t t,
                     struct load *out)
{
    const struct population_kind *k = &p->kinds[pick(p, g)];
    double kw = in_range(k->kw, draw(p, g, D_KW, 0));
    double pf = in_range(k->pf, draw(p, g, D_PF, 0));
    double u = in_range(k->u, draw(p, g, D_U, 0));
    int64_t local = t + 3600 * whole_in(k->shift, draw(p, g, D_SHIFT, 0));
    double power;

    if (k->shape == POP_EV_CHARGER) {
        power = ev_charging(p, k, g, local) ? kw : STANDBY_KW;
    } else {
        double vary = 1.0 + k->variation *
                            (2.0 * draw(p, g, D_VARY, floor_div(t,
                                                 p->interval)) - 1.0);
        power = kw * profile_at(k, local) * vary;
    }
    if (power < 0)
        power = 0;
    load_default(out);
    out->u = u;
    out->i = power * 1000.0 / (u * (pf > 0 ? pf : 1));
    if (out->i > LOAD_I_MAX)
        out->i = LOAD_I_MAX;
    out->phi = load_phi(pf, false, k->export);
}

int64_t population_next(const struct population *p, int64_t t)
{
    return (floor_div(t, p->interval) + 1) * p->interval;
}
