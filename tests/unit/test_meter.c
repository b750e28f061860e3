/*
 * The meter as a whole, through its entry points: a year of steady load
 * against an independent reference, rate boundaries to the second,
 * settlement catch-up by every route, demand, 1 s measurements, pulses,
 * the relay, and real ADC windows through meter_feed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/meter.h"
#include "meter_regs.h"
#include "core/meter_host.h"
#include "sim/engine/wave.h"

#define T2026 INT64_C(1767225600)   /* 2026-01-01 00:00:00, a Thursday */
#define T2027 INT64_C(1798761600)   /* 2027-01-01 00:00:00 */
#define MJ_KWH 3600000000.0

static const unsigned days2026[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
                                       31, 30, 31 };

/* What the port saw. */
struct seen {
    int settled;
    int64_t settled_t[32];
    uint64_t pulses, last_count;
    int64_t last_pulse_t;
    bool pulse_order_bad;
    int relay_calls;
    bool relay;
};

static void on_settled(void *ctx, int64_t t)
{
    struct seen *s = ctx;
    if (s->settled < 32)
        s->settled_t[s->settled] = t;
    s->settled++;
}

static void on_pulse(void *ctx, uint64_t count, int64_t t_ms)
{
    struct seen *s = ctx;
    if (count != s->last_count + 1 || t_ms < s->last_pulse_t)
        s->pulse_order_bad = true;
    s->pulses++;
    s->last_count = count;
    s->last_pulse_t = t_ms;
}

static void on_relay(void *ctx, bool closed)
{
    struct seen *s = ctx;
    s->relay_calls++;
    s->relay = closed;
}

static void start(struct meter *m, struct seen *s, int64_t now)
{
    const struct meter_port port = {
        .ctx = s, .pulse = on_pulse, .relay = on_relay, .settled = on_settled,
    };

    *s = (struct seen){ .relay = true };
    assert_int_equal(meter_init(m, NULL, &port, now), CORE_OK);
}

/* Make (p, q) the held load without measuring any energy: a window of
 * zero length. */
static void set_load(struct meter *m, double p, double q)
{
    struct metro_result w = {
        .vrms = 230.0, .p = p, .q = q, .f = 50.0, .synced = true,
    };
    w.s = sqrt(p * p + q * q);
    w.irms = w.s / 230.0;
    w.pf = w.s > 0.0 ? p / w.s : 1.0;
    meter_window(m, &w);
}


static void expect_kwh(const struct meter *m, uint16_t addr, double kwh)
{
    float got = reg(m, addr);
    if (got != (float)kwh)
        fail_msg("register 0x%04X: %.6f, want %.6f", addr, (double)got, kwh);
}

/* Run seconds [t, t + n) at the held load, ticking every second. */
static int64_t run(struct meter *m, int64_t t, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        meter_integrate(m, 1000);
        assert_int_equal(meter_tick(m, t + k + 1), CORE_OK);
    }
    return t + n;
}

/*
 * 2026 at 1 kW, PF 1, ticked every second. The reference is the
 * schedule's daily split (7 kWh sharp, 2 peak, 8 flat, 7 valley) times
 * the days of each month, computed here without the core's calendar.
 */
static void test_year_at_1kw(void **state)
{
    static struct meter m;
    struct seen s;
    static const double per_day[5] = { 24, 7, 2, 8, 7 };

    start(&m, &s, T2026);
    set_load(&m, 1000.0, 0.0);
    run(&m, T2026, T2027 - T2026);

    /* lifetime totals */
    expect_kwh(&m, 0x0080, 8760);
    expect_kwh(&m, 0x0082, 8760);
    expect_kwh(&m, 0x0084, 0);
    expect_kwh(&m, 0x0086, 0);
    for (unsigned r = 1; r <= 4; r++) {
        expect_kwh(&m, (uint16_t)(0x008C + 2 * (r - 1)), 365 * per_day[r]);
        expect_kwh(&m, (uint16_t)(0x0094 + 2 * (r - 1)), 0);
    }
    /* every history register: previous n is month 12 - n of 2026 */
    for (unsigned n = 1; n <= 12; n++) {
        double days = days2026[12 - n];
        expect_kwh(&m, (uint16_t)(0x009C + 2 * (n - 1)), days * 24);
        /* combined reactive: 0x00B4.. for 1..8, 0x00C4.. for 7..12 */
        if (n <= 8)
            expect_kwh(&m, (uint16_t)(0x00B4 + 2 * (n - 1)), 0);
        if (n >= 7)
            expect_kwh(&m, (uint16_t)(0x00C4 + 2 * (n - 7)), 0);
        for (unsigned r = 1; r <= 4; r++) {
            uint16_t base = (uint16_t)(0x00D0 + 0x34 * (r - 1));
            expect_kwh(&m, (uint16_t)(base + 2 * n), days * per_day[r]);
            expect_kwh(&m, (uint16_t)(base + 0x1A + 2 * n), 0);
        }
    }
    /* this month has just begun */
    for (unsigned r = 1; r <= 4; r++)
        expect_kwh(&m, (uint16_t)(0x00D0 + 0x34 * (r - 1)), 0);
    /* 12 settlements, each at 00:00 on a 1st */
    assert_int_equal(s.settled, 12);
    int64_t t = T2026;
    for (int k = 0; k < 12; k++) {
        t += days2026[k] * INT64_C(86400);
        assert_true(s.settled_t[k] == t);
    }
    /* the pulse output: 8760 kWh x 1600 */
    assert_true(meter_pulse_count(&m) == UINT64_C(14016000));
    assert_true(s.pulses == UINT64_C(14016000));
    assert_false(s.pulse_order_bad);
    assert_true(s.last_pulse_t == T2027 * 1000);
    /* demand and the measurements */
    assert_true(fabsf(reg(&m, 0x0070) - 1000.0f) < 1e-3f);
    assert_true(fabsf(reg(&m, 0x0034) - 1000.0f) < 1e-3f);
    assert_true(meter_time(&m) == T2027);
    assert_int_equal(meter_rate(&m), TARIFF_VALLEY);
}

/* Energy fed between tick(t) and tick(t + 1) is second t's: at every
 * boundary of the default day, second B - 1 and second B go to their own
 * rates. */
static void test_rate_boundaries(void **state)
{
    static const struct { unsigned hh, mm, before, after; } b[] = {
        { 6, 0, 4, 1 }, { 10, 0, 1, 2 }, { 12, 0, 2, 1 }, { 15, 0, 1, 3 },
        { 23, 0, 3, 4 },
    };
    static struct meter m;
    struct seen s;

    for (size_t k = 0; k < sizeof b / sizeof b[0]; k++) {
        int64_t B = T2026 + 40 * 86400 + b[k].hh * 3600 + b[k].mm * 60;
        start(&m, &s, B - 1);
        set_load(&m, 3600.0, 0.0);          /* 1 Wh a second */
        assert_int_equal(meter_rate(&m), b[k].before);
        meter_integrate(&m, 1000);
        meter_tick(&m, B);
        assert_int_equal(meter_rate(&m), b[k].after);
        meter_integrate(&m, 400);
        meter_integrate(&m, 600);
        meter_tick(&m, B + 1);
        for (unsigned r = 1; r <= 4; r++) {
            int64_t want = (r == b[k].before) + (r == b[k].after);
            assert_true(m.energy.rate[r - 1].v[EN_IMP] ==
                        want * INT64_C(3600000));
        }
    }
}

/* Two zones: a night tariff from April 1st whose day starts at 08:00, so
 * its own last period (valley from 21:00) carries over midnight, also on
 * the night the zone begins. Ticked hourly. */
static void test_zones_and_midnight(void **state)
{
    static struct meter m;
    struct seen s;
    struct meter_settings set;
    int64_t t = T2026 + 89 * 86400;     /* 2026-03-31 00:00 */

    start(&m, &s, t);
    set = *meter_settings(&m);
    set.tariff.nzones = 2;
    set.tariff.zone[1].month = 4;
    set.tariff.zone[1].day = 1;
    set.tariff.zone[1].nperiods = 2;
    set.tariff.zone[1].period[0] = (struct tariff_period){ 8, 0, TARIFF_PEAK };
    set.tariff.zone[1].period[1] = (struct tariff_period){ 21, 0,
                                                           TARIFF_VALLEY };
    assert_int_equal(meter_configure(&m, &set), CORE_OK);
    set_load(&m, 1000.0, 0.0);
    for (int h = 0; h < 48; h++) {
        meter_integrate(&m, 3600000);
        meter_tick(&m, t + 3600 * (h + 1));
    }
    /* March 31st: the default day (7/2/8/7); April 1st: 00-08 valley,
     * 08-21 peak, 21-24 valley */
    assert_true(m.energy.rate[0].v[EN_IMP] == 7 * INT64_C(3600000000));
    assert_true(m.energy.rate[1].v[EN_IMP] == (2 + 13) * INT64_C(3600000000));
    assert_true(m.energy.rate[2].v[EN_IMP] == 8 * INT64_C(3600000000));
    assert_true(m.energy.rate[3].v[EN_IMP] == (7 + 11) * INT64_C(3600000000));
    /* the zone register follows */
    assert_int_equal(reg_u16(&m, REG_X_ZONE), 2);
    /* a bad table is refused and the running one kept */
    set.tariff.zone[1].period[1].hour = 7;
    assert_int_equal(meter_configure(&m, &set), CORE_EINVAL);
    assert_int_equal(meter_settings(&m)->tariff.zone[1].period[1].hour, 21);
}

/* February 2028 (29 days) ticked hourly, settled at March 1st. */
static void test_february_29(void **state)
{
    static struct meter m;
    struct seen s;
    const int64_t feb1 = INT64_C(1832976000);      /* 2028-02-01 */

    start(&m, &s, feb1);
    set_load(&m, 1000.0, 0.0);
    for (int h = 0; h < 29 * 24; h++) {
        meter_integrate(&m, 3600000);
        meter_tick(&m, feb1 + 3600 * (h + 1));
        if (h == 28 * 24 - 1)
            assert_int_equal(s.settled, 0);     /* Feb 29th 00:00: none */
    }
    assert_int_equal(s.settled, 1);
    assert_true(s.settled_t[0] == feb1 + 29 * 86400);
    expect_kwh(&m, 0x009C, 29 * 24);
    expect_kwh(&m, 0x00D2, 29 * 7);
    expect_kwh(&m, 0x0106, 29 * 2);
    expect_kwh(&m, 0x013A, 29 * 8);
    expect_kwh(&m, 0x016E, 29 * 7);
}

/* January consumption, then silence until April 10th by each route: a
 * tick with a gap, the clock set, a restore of a saved image. */
static void test_catch_up_routes(void **state)
{
    static struct meter m;
    static uint8_t image[METER_NV_MAX];
    const int64_t jan20 = T2026 + 19 * 86400, apr10 = INT64_C(1775779200);

    for (int route = 0; route < 3; route++) {
        struct seen s;
        start(&m, &s, T2026);
        set_load(&m, 2000.0, 1000.0);
        run(&m, T2026, 3600);                       /* 2 kWh valley */
        set_load(&m, 0.0, 0.0);
        meter_set_time(&m, jan20);
        if (route == 0) {
            assert_int_equal(meter_tick(&m, apr10), CORE_OK);
        } else if (route == 1) {
            assert_int_equal(meter_set_time(&m, apr10), CORE_OK);
        } else {
            int len = meter_nv_save(&m, image, sizeof image);
            assert_true(len > 0);
            start(&m, &s, jan20);
            assert_int_equal(meter_nv_restore(&m, image, (size_t)len, apr10),
                             CORE_OK);
        }
        assert_int_equal(s.settled, 3);
        assert_true(s.settled_t[0] == INT64_C(1769904000));
        assert_true(s.settled_t[2] == INT64_C(1775001600));
        expect_kwh(&m, 0x009C, 0);                  /* March */
        expect_kwh(&m, 0x009E, 0);                  /* February */
        expect_kwh(&m, 0x00A0, 2);                  /* January */
        expect_kwh(&m, 0x00B8, 1);                  /* its kvarh */
        expect_kwh(&m, 0x0172, 2);                  /* valley prev 3 */
        expect_kwh(&m, 0x018C, 1);                  /* valley kvarh prev 3 */
        expect_kwh(&m, 0x0080, 2);
        assert_true(meter_time(&m) == apr10);
    }
}

/* Set back across a month end and forward again: one settlement. */
static void test_clock_back_no_double(void **state)
{
    static struct meter m;
    struct seen s;
    const int64_t mar1 = INT64_C(1772323200);

    start(&m, &s, mar1 - 10);
    set_load(&m, 3600.0, 0.0);
    run(&m, mar1 - 10, 20);                         /* settles February */
    assert_int_equal(s.settled, 1);
    expect_kwh(&m, 0x009C, 0.01);
    meter_set_time(&m, mar1 - 5);                   /* back into February */
    run(&m, mar1 - 5, 10);                          /* across Mar 1st again */
    assert_int_equal(s.settled, 1);
    expect_kwh(&m, 0x009C, 0.01);
    /* March so far: 10 s + 10 s; settled once at April 1st */
    meter_set_time(&m, INT64_C(1775001600) - 1);
    run(&m, INT64_C(1775001600) - 1, 1);
    assert_int_equal(s.settled, 2);
    expect_kwh(&m, 0x009C, 0.021);
    expect_kwh(&m, 0x009E, 0.01);
}

/* A step from 0 to 4 kVA at 10:00:00: demand climbs a fifteenth a
 * minute, holds, and the maximum keeps its time. */
static void test_demand_step(void **state)
{
    static struct meter m;
    struct seen s;
    const int64_t t0 = T2026 + 10 * 3600;

    start(&m, &s, t0 - 600);
    set_load(&m, 0.0, 0.0);
    int64_t t = run(&m, t0 - 600, 600);
    set_load(&m, 3200.0, 2400.0);                   /* S = 4000 VA */
    for (int min = 1; min <= 20; min++) {
        t = run(&m, t, 60);
        float want = 4000.0f * (float)(min < 15 ? min : 15) / 15.0f;
        assert_true(fabsf(reg(&m, 0x0070) - want) < 1e-2f);
    }
    assert_true(fabsf(reg(&m, REG_X_MD) - 4000.0f) < 1e-2f);
    assert_true(reg_u32(&m, REG_X_MD_TIME) == (uint32_t)(t0 + 900));
    set_load(&m, 800.0, 600.0);
    t = run(&m, t, 900);
    assert_true(fabsf(reg(&m, 0x0070) - 1000.0f) < 1e-2f);
    assert_true(fabsf(reg(&m, REG_X_MD) - 4000.0f) < 1e-2f);
    /* a remote reset clears the maximum; the next minute sets it again */
    uint16_t one = 1;
    assert_int_equal(meter_reg_write(&m, REG_X_MD_RESET, 1, &one, t), 0);
    assert_true(reg(&m, REG_X_MD) == 0.0f);
    t = run(&m, t, 60);
    assert_true(fabsf(reg(&m, REG_X_MD) - 1000.0f) < 1e-2f);
}

/* The 1 s values: duration-weighted averages of the second's windows,
 * unchanged until the tick. */
static void test_measurements_per_second(void **state)
{
    static struct meter m;
    struct seen s;
    struct metro_result w = { .vrms = 220.0, .irms = 10.0, .p = 2000.0,
                              .q = 500.0, .s = 2200.0, .f = 50.0,
                              .duration = 0.2, .synced = true };

    start(&m, &s, T2026);
    meter_window(&m, &w);
    assert_true(reg(&m, 0x0030) == 0.0f);           /* not yet refreshed */
    w.vrms = 230.0;
    w.p = 1000.0;
    w.f = 50.5;
    w.duration = 0.6;
    meter_window(&m, &w);
    meter_integrate(&m, 200);                       /* holds the last */
    meter_tick(&m, T2026 + 1);
    const struct meter_measure *v = meter_measure(&m);
    assert_true(fabsf(v->u - 228.0f) < 1e-4f);
    assert_true(fabsf(v->p - 1200.0f) < 1e-3f);
    assert_true(fabsf(v->f - 50.4f) < 1e-4f);
    assert_true(fabsf(v->pf - 1200.0f / 2200.0f) < 1e-6f);
    assert_true(reg(&m, 0x0034) == v->p);
    assert_true(reg(&m, 0x003C) == v->f);
    assert_true(reg(&m, 0x0032) == 10.0f);
}

static uint64_t rng = 88172645463325252u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random loads both ways and random holds: after every step the pulse
 * count is floor((import + export) Wh x 1.6), and each pulse was told. */
static void test_pulses_random(void **state)
{
    static struct meter m;
    struct seen s;
    int64_t t = T2026;

    int64_t ms = 0;                 /* measured since the last tick */

    start(&m, &s, t);
    for (int k = 0; k < 200000; k++) {
        uint64_t r = next();
        double p = (double)(r % 30001) - 15000.0;
        uint32_t hold = (uint32_t)(r >> 20) % 1500;
        set_load(&m, p * 0.37, 100.0);
        meter_integrate(&m, hold);
        ms += hold;
        if (r & 0x100000) {
            /* the clock moves on by the time measured (at least 1 s) */
            t += ms > 1000 ? (ms + 999) / 1000 : 1;
            meter_tick(&m, t);
            ms = 0;
        }
        struct energy_set tot;
        energy_total(&m.energy, &tot);
        int64_t active = tot.v[EN_IMP] + tot.v[EN_EXP];
        if (meter_pulse_count(&m) != (uint64_t)(active * 16 / 36000000))
            fail_msg("step %d: %llu pulses for %lld mJ", k,
                     (unsigned long long)meter_pulse_count(&m),
                     (long long)active);
    }
    assert_true(s.pulses == meter_pulse_count(&m));
    assert_false(s.pulse_order_bad);
    uint16_t w[4];
    assert_int_equal(meter_reg_read(&m, REG_X_PULSES, 4, w), 0);
    uint64_t c = (uint64_t)w[0] << 48 | (uint64_t)w[1] << 32 |
                 (uint64_t)w[2] << 16 | w[3];
    assert_true(c == meter_pulse_count(&m));
}

/* Prepaid: enabling with no credit opens at once, consumption runs the
 * credit out, a top-up closes, over-power trips after its delay. */
static void test_relay(void **state)
{
    static struct meter m;
    struct seen s;
    struct meter_settings set;
    int64_t t = T2026;

    start(&m, &s, t);
    assert_true(meter_relay_closed(&m));
    set = *meter_settings(&m);
    set.prepaid.enabled = 1;
    set.prepaid.alarm_wh = 1;
    assert_int_equal(meter_configure(&m, &set), CORE_OK);
    assert_false(meter_relay_closed(&m));
    assert_int_equal(s.relay_calls, 1);
    assert_false(s.relay);
    assert_int_equal(meter_relay_reasons(&m), PREPAID_OPEN_CREDIT);
    assert_int_equal(meter_relay_command(&m, true), CORE_ERANGE);
    assert_int_equal(meter_topup(&m, 2), CORE_OK);  /* 2 Wh */
    assert_true(meter_relay_closed(&m));
    assert_int_equal(s.relay_calls, 2);
    set_load(&m, 3600.0, 0.0);                      /* 1 Wh a second */
    t = run(&m, t, 1);
    assert_int_equal(reg_u16(&m, REG_X_STATUS), 3); /* closed, low credit */
    t = run(&m, t, 1);
    assert_false(meter_relay_closed(&m));
    assert_int_equal(meter_credit_wh(&m), 0);
    /* open: the held load is gone, no energy, no credit needed */
    int64_t before = m.energy.rate[3].v[EN_IMP];
    t = run(&m, t, 10);
    assert_true(m.energy.rate[3].v[EN_IMP] == before);
    meter_topup(&m, 1000);
    assert_true(meter_relay_closed(&m));

    /* over-power: 5 kW against a 4 kW limit for 3 s */
    set.prepaid.limit_w = 4000;
    set.prepaid.delay_s = 3;
    assert_int_equal(meter_configure(&m, &set), CORE_OK);
    set_load(&m, 5000.0, 0.0);
    t = run(&m, t, 2);
    assert_true(meter_relay_closed(&m));
    t = run(&m, t, 1);
    assert_false(meter_relay_closed(&m));
    assert_int_equal(meter_relay_reasons(&m), PREPAID_OPEN_POWER);
    meter_topup(&m, 10);
    assert_false(meter_relay_closed(&m));
    /* remote close, and remote open/close through the register */
    uint16_t v = 1;
    assert_int_equal(meter_reg_write(&m, REG_X_RELAY, 1, &v, t), 0);
    assert_true(meter_relay_closed(&m));
    v = 0;
    assert_int_equal(meter_reg_write(&m, REG_X_RELAY, 1, &v, t), 0);
    assert_false(meter_relay_closed(&m));
    assert_int_equal(reg_u16(&m, REG_X_REASONS), PREPAID_OPEN_REMOTE);
    assert_int_equal(reg_u16(&m, REG_X_RELAY), 0);
    assert_int_equal(s.relay_calls, 7);
}

/* A synthesizer with one sine per channel, the current lagging by phi. */
static void sine_load(struct wave *w, double u, double i, double phi)
{
    struct wave_config wc;

    wave_config_default(&wc);
    wave_set_sine(&wc.ch[WAVE_V], u, 0.0);
    wave_set_sine(&wc.ch[WAVE_I], i, -phi);
    assert_int_equal(wave_init(w, &wc), 0);
}

/* Real ADC windows: 230 V, 10 A at PF 0.8 lagging for 20 s. */
static void test_real_windows(void **state)
{
    static struct meter m;
    static int32_t v[8000], i[8000];
    struct seen s;
    struct wave w;
    int64_t t = T2026 + 12 * 3600;                  /* sharp */

    start(&m, &s, t);
    sine_load(&w, 230.0, 10.0, 36.8698976458);
    for (int sec = 0; sec < 20; sec++) {
        wave_generate(&w, v, i, 8000);
        assert_true(meter_feed(&m, v, i, 8000) == 8000);
        meter_tick(&m, ++t);
    }
    const struct meter_measure *mm = meter_measure(&m);
    assert_true(fabsf(mm->u - 230.0f) < 0.05f);
    assert_true(fabsf(mm->p - 1840.0f) < 1.0f);
    assert_true(fabsf(mm->q - 1380.0f) < 1.0f);
    assert_true(fabsf(mm->pf - 0.8f) < 1e-3f);
    assert_true(fabsf(mm->f - 50.0f) < 0.01f);
    /* 20 s less the window still open at the end: within 2 % */
    double kwh = (double)reg(&m, 0x008C);
    double want = 1840.0 * 20 / 3.6e6;
    assert_true(fabs(kwh - want) / want < 0.02);
    assert_true(reg(&m, 0x0090) == 0.0f);
    expect_kwh(&m, 0x0080, kwh);
}

/* The first second after power-on starts with an unsynchronized fragment
 * before the first zero crossing: its energy counts, but the displayed
 * values come from the whole-cycle windows, exact from the first second. */
static void test_power_on_second(void **state)
{
    static struct meter m;
    static int32_t v[8000], i[8000];
    struct seen s;
    struct wave w;
    int64_t t = T2026 + 12 * 3600;

    start(&m, &s, t);
    sine_load(&w, 230.0, 5.0, 18.194872338766785); /* PF 0.95 */
    wave_generate(&w, v, i, 8000);
    meter_feed(&m, v, i, 8000);
    meter_tick(&m, t + 1);
    const struct meter_measure *mm = meter_measure(&m);
    assert_true(fabsf(mm->i - 5.0f) < 1e-4f);
    assert_true(fabsf(mm->q - 359.0875f) < 0.01f);
    assert_true(fabsf(mm->s - 1150.0f) < 0.01f);
    assert_true(fabsf(mm->f - 50.0f) < 1e-3f);
}

/* Measured-only samples account no energy (the host integrates the time
 * itself); meter_flush accounts the window in progress, so that a run fed
 * with meter_feed leaves no sample's energy behind. */
static void test_feed_measure_and_flush(void **state)
{
    static struct meter m;
    static int32_t v[8000], i[8000];
    struct seen s;
    struct wave w;
    int64_t t = T2026 + 12 * 3600;

    start(&m, &s, t);
    sine_load(&w, 200.0, 5.0, 0.0); /* 1 kW */
    wave_generate(&w, v, i, 4000);
    meter_feed_measure(&m, v, i, 4000);                 /* 0.5 s */
    assert_true(reg(&m, 0x0080) == 0.0f);
    meter_integrate(&m, 1000);                          /* the second */
    meter_tick(&m, ++t);
    expect_kwh(&m, 0x0080, 1000.0 / 3.6e6);

    /* 1.1 s fed: five whole windows, 100 ms in the sixth until flushed */
    start(&m, &s, t);
    sine_load(&w, 200.0, 5.0, 0.0);
    wave_generate(&w, v, i, 8000);
    meter_feed(&m, v, i, 8000);
    wave_generate(&w, v, i, 800);
    meter_feed(&m, v, i, 800);
    double before = (double)reg(&m, 0x0080);
    meter_flush(&m);
    double after = (double)reg(&m, 0x0080);
    assert_true(after > before);
    assert_true(fabs(after - 1100.0 / 3.6e6) < 1e-3 * 1100.0 / 3.6e6);
    meter_flush(&m);                                    /* nothing left */
    assert_true(reg(&m, 0x0080) == (float)after);
}

/* settings_changed: once per accepted command, from every path, after
 * the change is installed; never for reads or refused commands. */
struct changes {
    struct meter *m;
    int calls;
    unsigned slave;             /* the address installed when called */
    uint32_t credit_wh;         /* the credit installed when called */
    bool relay;                 /* the relay as it was when called */
};

static void on_changed(void *ctx)
{
    struct changes *c = ctx;
    c->calls++;
    c->slave = meter_comm(c->m)->slave;
    c->credit_wh = meter_credit_wh(c->m);
    c->relay = meter_relay_closed(c->m);
}

static void test_settings_changed(void **state)
{
    static struct meter m;
    struct changes c = { .m = &m };
    const struct meter_port port = {
        .ctx = &c, .settings_changed = on_changed,
    };
    struct meter_settings set;
    uint16_t w[4], slave5 = 5, bad = 0, period[2] = { 30, 5 };
    uint16_t credit[2] = { 0, 500 }, prepaid_on = 1, close = 1, open = 0;
    float f;
    int64_t t = T2026;

    assert_int_equal(meter_init(&m, NULL, &port, t), CORE_OK);
    assert_int_equal(c.calls, 0);

    /* reads: none */
    assert_int_equal(meter_reg_read(&m, REG_X_SLAVE, 4, w), 0);
    assert_int_equal(meter_reg_float(&m, REG_ACT, &f), 0);
    assert_int_equal(c.calls, 0);

    /* refused writes: none */
    assert_int_equal(meter_reg_write(&m, REG_X_SLAVE, 1, &bad, t),
                     METER_EX_ILLEGAL_VALUE);
    assert_int_equal(meter_reg_write(&m, REG_X_RATE, 1, &slave5, t),
                     METER_EX_ILLEGAL_ADDRESS);
    assert_int_equal(c.calls, 0);

    /* a Modbus write: once, with the new address already installed */
    assert_int_equal(meter_reg_write(&m, REG_X_SLAVE, 1, &slave5, t), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.slave, 5);
    /* several registers in one write: once */
    assert_int_equal(meter_reg_write(&m, REG_X_DEM_PERIOD, 2, period, t), 0);
    assert_int_equal(c.calls, 2);

    /* prepaid on with no credit: the relay opens; a close is refused */
    assert_int_equal(meter_reg_write(&m, REG_X_PREPAID, 1, &prepaid_on, t), 0);
    assert_int_equal(c.calls, 3);
    assert_false(c.relay);
    assert_int_equal(meter_reg_write(&m, REG_X_RELAY, 1, &close, t),
                     METER_EX_ILLEGAL_VALUE);
    assert_int_equal(meter_relay_command(&m, true), CORE_ERANGE);
    assert_int_equal(c.calls, 3);

    /* credit written over Modbus: the relay closed before the host hears */
    assert_int_equal(meter_reg_write(&m, REG_X_CREDIT, 2, credit, t), 0);
    assert_int_equal(c.calls, 4);
    assert_int_equal(c.credit_wh, 500);
    assert_true(c.relay);

    /* the host's commands: once each */
    assert_int_equal(meter_topup(&m, 250), CORE_OK);
    assert_int_equal(c.calls, 5);
    assert_int_equal(c.credit_wh, 750);
    assert_int_equal(meter_topup(&m, PREPAID_CREDIT_MAX_WH), CORE_ERANGE);
    assert_int_equal(c.calls, 5);
    assert_int_equal(meter_set_credit(&m, 100), CORE_OK);
    assert_int_equal(c.calls, 6);
    assert_int_equal(c.credit_wh, 100);
    assert_int_equal(meter_relay_command(&m, false), CORE_OK);
    assert_int_equal(c.calls, 7);
    assert_false(c.relay);
    assert_int_equal(meter_reg_write(&m, REG_X_RELAY, 1, &open, t), 0);
    assert_int_equal(c.calls, 8);
    set = *meter_settings(&m);
    set.comm.slave = 7;
    assert_int_equal(meter_configure(&m, &set), CORE_OK);
    assert_int_equal(c.calls, 9);
    assert_int_equal(c.slave, 7);
    set.comm.baud = 1234;
    assert_int_equal(meter_configure(&m, &set), CORE_EINVAL);
    assert_int_equal(c.calls, 9);
    assert_int_equal(meter_set_time(&m, t + 3600), CORE_OK);
    assert_int_equal(c.calls, 10);
    assert_int_equal(meter_set_time(&m, RTC_MAX + 1), CORE_ERANGE);
    assert_int_equal(c.calls, 10);
    meter_reset_max_demand(&m);
    assert_int_equal(c.calls, 11);

    /* metering is not a command: none */
    for (int k = 1; k <= 3; k++)
        assert_int_equal(meter_tick(&m, t + 3600 + k), CORE_OK);
    meter_integrate(&m, 1000);
    assert_int_equal(c.calls, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_measure_and_flush),
        cmocka_unit_test(test_settings_changed),
        cmocka_unit_test(test_power_on_second),
        cmocka_unit_test(test_year_at_1kw),
        cmocka_unit_test(test_rate_boundaries),
        cmocka_unit_test(test_zones_and_midnight),
        cmocka_unit_test(test_february_29),
        cmocka_unit_test(test_catch_up_routes),
        cmocka_unit_test(test_clock_back_no_double),
        cmocka_unit_test(test_demand_step),
        cmocka_unit_test(test_measurements_per_second),
        cmocka_unit_test(test_pulses_random),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_real_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
