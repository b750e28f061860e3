/*
 * Metrology reference checks: the synthesizer's ADC codes through the
 * core, compared with the physics of the synthesized signal.
 * Limits are 1/10 of class 0.5S (design.md section 2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/metrology.h"
#include "sim/engine/wave.h"

#define PI 3.14159265358979323846
#define MAX_WINDOWS 64

struct run {
    struct metro_result w[MAX_WINDOWS];
    int n;
};

/* Synthesize seconds of signal and collect every window. */
static void run_meter(const struct wave_config *wc,
                      const struct metro_config *mc, double seconds,
                      struct run *out)
{
    static int32_t v[4096], i[4096];
    struct wave w;
    struct metro m;
    size_t total = (size_t)(seconds * wc->sample_rate);

    assert_int_equal(wave_init(&w, wc), 0);
    assert_int_equal(metro_init(&m, mc), CORE_OK);
    out->n = 0;
    while (total > 0) {
        size_t n = total < 4096 ? total : 4096;
        wave_generate(&w, v, i, n);
        for (size_t off = 0; off < n;) {
            off += metro_feed(&m, v + off, i + off, n - off);
            struct metro_result r;
            if (metro_take(&m, &r) && out->n < MAX_WINDOWS)
                out->w[out->n++] = r;
        }
        total -= n;
    }
}

static void default_meter(struct metro_config *mc)
{
    metro_config_default(mc);
}

/* A load of u volts, i amperes, current lagging by phi degrees. */
static void load(struct wave_config *wc, double f, double u, double i,
                 double phi)
{
    wave_config_default(wc);
    wc->f = f;
    wave_set_sine(&wc->ch[WAVE_V], u, 0.0);
    wave_set_sine(&wc->ch[WAVE_I], i, -phi);
}

static double rel(double got, double want)
{
    return fabs(got - want) / fabs(want);
}

struct expect {
    double u, i, p, q, f;
    double p_tol;           /* relative, on P */
};

/* Every synchronized window after the first two must be within limits. */
static void check_windows(const struct run *r, const struct expect *e,
                          const char *what)
{
    int checked = 0;
    double s = e->u * e->i;

    for (int k = 2; k < r->n; k++) {
        const struct metro_result *x = &r->w[k];
        if (!x->synced)
            fail_msg("%s: window %d not synchronized", what, k);
        if (rel(x->vrms, e->u) > 2e-4)
            fail_msg("%s: U %.6f want %.6f", what, x->vrms, e->u);
        if (rel(x->irms, e->i) > 2e-4)
            fail_msg("%s: I %.6f want %.6f", what, x->irms, e->i);
        /* at PF 0 the relative P error is meaningless: judge against S */
        double perr = fabs(x->p - e->p) / (fabs(e->p) > 0.01 * s ? fabs(e->p) : s);
        if (perr > e->p_tol)
            fail_msg("%s: P %.6f want %.6f (err %.5f %%)", what, x->p, e->p,
                     perr * 100);
        double qerr = fabs(x->q - e->q) / (fabs(e->q) > 0.01 * s ? fabs(e->q) : s);
        if (qerr > 2e-3)
            fail_msg("%s: Q %.6f want %.6f", what, x->q, e->q);
        if (e->f > 0 && fabs(x->f - e->f) > 0.002)
            fail_msg("%s: F %.6f want %.6f", what, x->f, e->f);
        checked++;
    }
    if (checked < 3)
        fail_msg("%s: only %d windows", what, checked);
}

static void check_load(double f, double u, double i, double phi, double tol,
                       const char *what)
{
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;
    double rad = phi * PI / 180;

    load(&wc, f, u, i, phi);
    default_meter(&mc);
    run_meter(&wc, &mc, 1.4, &r);
    struct expect e = {
        .u = u, .i = i, .p = u * i * cos(rad), .q = u * i * sin(rad),
        .f = f, .p_tol = tol,
    };
    check_windows(&r, &e, what);
}

/* PF 1, 0.5 inductive (current lags 60 deg), 0.8 capacitive (leads). */
static const struct pf_case {
    const char *name;
    double phi;
    double tol;
} pf_cases[] = {
    { "PF1", 0.0, 5e-4 },
    { "PF0.5L", 60.0, 6e-4 },
    { "PF0.8C", -36.86989764584402, 6e-4 },
};

static const double accuracy_currents[] = { 0.2, 0.5, 1, 5, 10, 30, 60 };

static void test_accuracy_table(void **state)
{
    char name[64];
    for (size_t k = 0; k < sizeof accuracy_currents / sizeof *accuracy_currents; k++)
        for (size_t p = 0; p < sizeof pf_cases / sizeof *pf_cases; p++) {
            snprintf(name, sizeof name, "220 V %g A %s",
                     accuracy_currents[k], pf_cases[p].name);
            check_load(50.0, 220.0, accuracy_currents[k], pf_cases[p].phi,
                       pf_cases[p].tol, name);
        }
}

static void test_influence_voltage_frequency(void **state)
{
    static const struct { double f, u; } cases[] = {
        { 50, 198 }, { 50, 242 }, { 49, 220 }, { 51, 220 }, { 60, 220 },
        { 60, 242 }, { 49, 198 },
    };
    char name[64];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        for (size_t p = 0; p < sizeof pf_cases / sizeof *pf_cases; p++)
            for (double i = 1; i <= 60; i *= 7.75) {
                snprintf(name, sizeof name, "%g V %g Hz %g A %s", cases[k].u,
                         cases[k].f, i, pf_cases[p].name);
                check_load(cases[k].f, cases[k].u, i, pf_cases[p].phi,
                           pf_cases[p].tol, name);
            }
}

/* 10 % 5th harmonic on both channels: P counts it, Q1 does not. */
static void test_influence_fifth_harmonic(void **state)
{
    char name[64];
    for (size_t p = 0; p < sizeof pf_cases / sizeof *pf_cases; p++) {
        double u1 = 220, i1 = 10, phi = pf_cases[p].phi * PI / 180;
        double u5 = 22, i5 = 1, pv5 = 30, pi5 = -40;   /* degrees */
        struct wave_config wc;
        struct metro_config mc;
        static struct run r;

        load(&wc, 50, u1, i1, pf_cases[p].phi);
        wave_add_component(&wc.ch[WAVE_V], 5, u5, pv5);
        wave_add_component(&wc.ch[WAVE_I], 5, i5, pi5);
        default_meter(&mc);
        run_meter(&wc, &mc, 1.4, &r);
        struct expect e = {
            .u = hypot(u1, u5), .i = hypot(i1, i5),
            .p = u1 * i1 * cos(phi) + u5 * i5 * cos((pv5 - pi5) * PI / 180),
            .q = u1 * i1 * sin(phi), .f = 50, .p_tol = pf_cases[p].tol,
        };
        snprintf(name, sizeof name, "5th harmonic %s", pf_cases[p].name);
        check_windows(&r, &e, name);
    }
}

/* IEEE 1459-2010 Annex B: every quantity within 0.05 %. */
static void test_ieee1459_annex_b(void **state)
{
    static const struct { unsigned h; double v, pv, i, pi; } c[] = {
        { 1, 100, 0, 100, -30 }, { 3, 8, -70, 20, -165 },
        { 5, 15, 140, 15, 234 }, { 7, 5, 20, 10, 234 },
    };
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;

    wave_config_default(&wc);
    wc.ch[WAVE_V].ncomp = 0;
    wc.ch[WAVE_I].ncomp = 0;
    for (size_t k = 0; k < 4; k++) {
        wave_add_component(&wc.ch[WAVE_V], c[k].h, c[k].v, c[k].pv);
        wave_add_component(&wc.ch[WAVE_I], c[k].h, c[k].i, c[k].pi);
    }
    /* 100 A RMS with harmonics peaks near 180 A: a front end scaled for
     * it (a CT-connected meter), the same scale on both sides */
    wc.ch[WAVE_I].lsb = 300.0 / METRO_ADC_MAX;
    default_meter(&mc);
    mc.i_lsb = wc.ch[WAVE_I].lsb;
    run_meter(&wc, &mc, 1.4, &r);
    assert_true(r.n >= 5);
    for (int k = 2; k < r.n; k++) {
        const struct metro_result *x = &r.w[k];
        assert_true(x->synced);
        if (rel(x->vrms, 101.558) > 5e-4 || rel(x->irms, 103.562) > 5e-4 ||
            rel(x->p, 8589.16) > 5e-4 || rel(x->q, 5000.0) > 5e-4 ||
            rel(x->s, 10517.49) > 5e-4 || rel(x->pf, 0.8167) > 5e-4)
            fail_msg("window %d: U %.4f I %.4f P %.3f Q %.3f S %.3f PF %.5f",
                     k, x->vrms, x->irms, x->p, x->q, x->s, x->pf);
    }
}

/* Frequency within 2 mHz, with harmonics and seeded noise present. */
static void test_frequency(void **state)
{
    static const double freqs[] = { 45, 50, 55, 60, 65 };
    for (size_t k = 0; k < 5; k++) {
        struct wave_config wc;
        struct metro_config mc;
        static struct run r;

        load(&wc, freqs[k], 230, 5, 25);
        wave_add_component(&wc.ch[WAVE_V], 3, 9, 40);
        wave_add_component(&wc.ch[WAVE_V], 5, 11, -120);
        wave_add_component(&wc.ch[WAVE_V], 7, 4, 10);
        wave_add_component(&wc.ch[WAVE_I], 3, 1.5, 0);
        /* ten times a 24-bit front end's own noise */
        wc.ch[WAVE_V].noise_rms = 0.15;
        wc.ch[WAVE_I].noise_rms = 0.01;
        wc.seed = 42 + k;
        default_meter(&mc);
        run_meter(&wc, &mc, 2.0, &r);
        assert_true(r.n >= 6);
        for (int w = 2; w < r.n; w++) {
            if (getenv("METRO_VERBOSE"))
                printf("%g Hz: window %d %.5f\n", freqs[k], w, r.w[w].f);
            if (!r.w[w].synced || fabs(r.w[w].f - freqs[k]) > 0.002)
                fail_msg("%g Hz: window %d reads %.5f Hz", freqs[k], w,
                         r.w[w].f);
            /* whole cycles: 10 a window on a 50 Hz system */
            assert_true(fabs(r.w[w].duration - 10 / freqs[k]) < 1e-4);
        }
    }
}

/* A 60 Hz system measures 12 cycles a window: 200 ms again. */
static void test_sixty_hertz_system(void **state)
{
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;

    load(&wc, 60, 120, 10, 30);
    default_meter(&mc);
    mc.f_nominal = 60;
    run_meter(&wc, &mc, 1.4, &r);
    struct expect e = { 120, 10, 1200 * cos(PI / 6), 600, 60, 6e-4 };
    check_windows(&r, &e, "60 Hz system");
    assert_true(fabs(r.w[3].duration - 0.2) < 1e-6);
}

/* A slowly wandering frequency is tracked window by window. */
static void test_frequency_drift(void **state)
{
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;

    load(&wc, 50, 230, 10, 0);
    wc.drift_hz = 0.5;
    wc.drift_period = 20;   /* 0.5 Hz swing over 20 s: 0.16 Hz/s at most */
    default_meter(&mc);
    run_meter(&wc, &mc, 8.0, &r);
    for (int w = 2; w < r.n; w++)
        assert_true(fabs(r.w[w].f - 50.0) <= 0.5 + 0.002);
    /* energy still exact while the frequency moves */
    for (int w = 2; w < r.n; w++)
        assert_true(rel(r.w[w].p, 2300.0) < 5e-4);
}

static void test_starting_current(void **state)
{
    struct metro_config mc;
    default_meter(&mc);
    static struct run r;
    struct wave_config wc;

    /* below the starting current: nothing */
    load(&wc, 50, 220, mc.i_start * 0.8, 0);
    run_meter(&wc, &mc, 1.0, &r);
    assert_true(r.n >= 4);
    for (int w = 0; w < r.n; w++) {
        assert_true(r.w[w].p == 0.0);
        assert_true(r.w[w].q == 0.0);
        assert_true(r.w[w].irms == 0.0);
    }
    /* nothing either with no current at all but noise on the channel */
    load(&wc, 50, 220, 0, 0);
    wc.ch[WAVE_I].noise_rms = mc.i_start * 0.5;
    run_meter(&wc, &mc, 1.0, &r);
    for (int w = 0; w < r.n; w++)
        assert_true(r.w[w].p == 0.0);

    /* just above it: measured, and right */
    double i = mc.i_start * 1.2;
    load(&wc, 50, 220, i, 0);
    run_meter(&wc, &mc, 1.0, &r);
    for (int w = 2; w < r.n; w++) {
        assert_true(r.w[w].p > 0.0);
        assert_true(rel(r.w[w].p, 220 * i) < 5e-3);
    }
}

/* Export: P < 0; PF carries the sign of P; Q follows the quadrant. */
static void test_export_signs(void **state)
{
    static const struct { double phi; int p_sign, q_sign; } cases[] = {
        { 180, -1, 0 },     /* pure export */
        { 150, -1, 1 },     /* QII: exporting, current lagging */
        { -150, -1, -1 },   /* QIII */
        { 30, 1, 1 },       /* QI */
        { -30, 1, -1 },     /* QIV */
    };
    for (size_t k = 0; k < 5; k++) {
        struct wave_config wc;
        struct metro_config mc;
        static struct run r;
        double rad = cases[k].phi * PI / 180;

        load(&wc, 50, 230, 10, cases[k].phi);
        default_meter(&mc);
        run_meter(&wc, &mc, 1.2, &r);
        for (int w = 2; w < r.n; w++) {
            const struct metro_result *x = &r.w[w];
            assert_true(rel(x->p, 2300 * cos(rad)) < 5e-4);
            assert_true((x->p > 0) == (cases[k].p_sign > 0));
            assert_true((x->pf > 0) == (cases[k].p_sign > 0));
            assert_true(fabs(fabs(x->pf) - fabs(cos(rad))) < 1e-4);
            if (cases[k].q_sign)
                assert_true(x->q * cases[k].q_sign > 0);
            else
                assert_true(fabs(x->q) < 1e-3 * 2300);
        }
    }
}

/* DC in the signal and ADC offsets are removed; gain and phase errors of
 * the front end are corrected by the calibration constants. */
/* A true zero reads zero: at PF 1 (import or export) Q1 is rounding
 * below one code of V times one code of I, and reads exactly 0. */
static void test_exact_zero_below_resolution(void **state)
{
    static const struct { double phi; bool q_zero; } cases[] = {
        { 0, true }, { 180, true }, { 90, false }, { -90, false },
    };
    for (size_t k = 0; k < 4; k++) {
        struct wave_config wc;
        struct metro_config mc;
        static struct run r;

        load(&wc, 50, 230, 5, cases[k].phi);
        default_meter(&mc);
        run_meter(&wc, &mc, 1.2, &r);
        for (int w = 2; w < r.n; w++) {
            if (cases[k].q_zero)
                assert_true(r.w[w].q == 0.0);
            else
                assert_true(fabs(r.w[w].q) > 1000);
        }
    }
    (void)state;
}

static void test_dc_and_calibration(void **state)
{
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;

    load(&wc, 50, 220, 10, 60);
    wc.ch[WAVE_V].adc_offset = 20000;
    wc.ch[WAVE_I].adc_offset = -15000;
    wc.ch[WAVE_I].dc = 0.5;
    default_meter(&mc);
    run_meter(&wc, &mc, 1.4, &r);
    struct expect e = { 220, 10, 1100, 2200 * sin(PI / 3), 50, 6e-4 };
    check_windows(&r, &e, "DC offsets");

    /* front end 1 % hot on voltage, 2 % cold on current, current lagging
     * an extra 0.4 degree: calibrated away */
    load(&wc, 50, 220, 10, 60 + 0.4);
    wc.ch[WAVE_V].adc_gain = 1.01;
    wc.ch[WAVE_I].adc_gain = 0.98;
    mc.v_gain = 1 / 1.01;
    mc.i_gain = 1 / 0.98;
    mc.phase_deg = 0.4;
    run_meter(&wc, &mc, 1.4, &r);
    check_windows(&r, &e, "calibrated");

    /* uncalibrated, the same front end is visibly wrong */
    default_meter(&mc);
    run_meter(&wc, &mc, 1.4, &r);
    assert_true(rel(r.w[3].p, 1100) > 5e-3);
}

/* No voltage: windows still close (unsynchronized) and read zero. */
static void test_no_voltage(void **state)
{
    struct wave_config wc;
    struct metro_config mc;
    static struct run r;

    load(&wc, 50, 0, 0, 0);
    default_meter(&mc);
    run_meter(&wc, &mc, 2.0, &r);
    assert_true(r.n >= 5);
    for (int w = 0; w < r.n; w++) {
        assert_false(r.w[w].synced);
        assert_true(r.w[w].f == 0.0);
        assert_true(r.w[w].vrms < 0.01);
        assert_true(r.w[w].p == 0.0);
    }
    /* and resynchronize as soon as the voltage is back */
    load(&wc, 50, 230, 1, 0);
    run_meter(&wc, &mc, 1.0, &r);
    assert_false(r.w[0].synced);
    assert_true(r.w[1].synced);
}

/* The ADC clips at full scale: an overload reads low, never wraps. */
static void test_adc_clipping(void **state)
{
    struct wave_config wc;
    struct wave w;
    int32_t v[800], i[800];
    int32_t imax = 0, imin = 0;

    load(&wc, 50, 230, 100, 0);     /* 141 A peak > 120 A full scale */
    assert_int_equal(wave_init(&w, &wc), 0);
    wave_generate(&w, v, i, 800);
    for (int k = 0; k < 800; k++) {
        imax = i[k] > imax ? i[k] : imax;
        imin = i[k] < imin ? i[k] : imin;
    }
    assert_int_equal(imax, METRO_ADC_MAX);
    assert_int_equal(imin, METRO_ADC_MIN);
}

/* The same seed gives the same samples; another seed, other noise. */
static void test_wave_determinism(void **state)
{
    struct wave_config wc;
    struct wave a, b;
    static int32_t va[8000], ia[8000], vb[8000], ib[8000];

    load(&wc, 50, 230, 5, 10);
    wc.ch[WAVE_V].noise_rms = 1.0;
    wc.seed = 7;
    wave_init(&a, &wc);
    wave_init(&b, &wc);
    wave_generate(&a, va, ia, 8000);
    for (int k = 0; k < 8000; k += 100)    /* uneven block sizes */
        wave_generate(&b, vb + k, ib + k, 100);
    assert_memory_equal(va, vb, sizeof va);
    assert_memory_equal(ia, ib, sizeof ia);
    wc.seed = 8;
    wave_init(&b, &wc);
    wave_generate(&b, vb, ib, 8000);
    assert_memory_not_equal(va, vb, sizeof va);
}

static void test_bad_config(void **state)
{
    struct metro_config mc;
    struct metro m;
    struct wave_config wc;
    struct wave w;

    default_meter(&mc);
    mc.sample_rate = 10;
    assert_int_equal(metro_init(&m, &mc), CORE_EINVAL);
    default_meter(&mc);
    mc.i_gain = 0;
    assert_int_equal(metro_init(&m, &mc), CORE_EINVAL);
    default_meter(&mc);
    mc.f_nominal = 400;
    assert_int_equal(metro_init(&m, &mc), CORE_EINVAL);

    load(&wc, 50, 230, 5, 0);
    wave_add_component(&wc.ch[WAVE_I], 90, 1, 0);  /* 4.5 kHz > Nyquist */
    assert_int_equal(wave_init(&w, &wc), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_table),
        cmocka_unit_test(test_influence_voltage_frequency),
        cmocka_unit_test(test_influence_fifth_harmonic),
        cmocka_unit_test(test_ieee1459_annex_b),
        cmocka_unit_test(test_frequency),
        cmocka_unit_test(test_frequency_drift),
        cmocka_unit_test(test_sixty_hertz_system),
        cmocka_unit_test(test_starting_current),
        cmocka_unit_test(test_export_signs),
        cmocka_unit_test(test_exact_zero_below_resolution),
        cmocka_unit_test(test_dc_and_calibration),
        cmocka_unit_test(test_no_voltage),
        cmocka_unit_test(test_adc_clipping),
        cmocka_unit_test(test_wave_determinism),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests_name("metrology", tests, NULL, NULL);
}
