/*
 * Apparent demand: a step load through the sliding window, its maximum
 * and the time of it, other window settings, skipped ticks, a clock
 * stepping back, monthly settlement of the maximum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "core/demand.h"

#define T0 INT64_C(1767225600)      /* 2026-01-01 00:00:00 */

/* Run seconds [t, t + n) at va, ticking each second. */
static int64_t run(struct demand *d, const struct demand_config *c,
                   int64_t t, int64_t n, double va)
{
    for (int64_t k = 0; k < n; k++) {
        demand_add(d, va);
        demand_tick(d, c, t + k + 1);
    }
    return t + n;
}

static void test_step_load(void **state)
{
    struct demand_config c;
    struct demand d = { .max = 0 };
    int64_t t = T0;

    demand_config_default(&c);
    demand_restart(&d, &c, t);
    t = run(&d, &c, t, 600, 0.0);               /* 10 min idle */
    assert_true(d.value == 0.0);
    /* a 2300 VA step: the window fills a fifteenth each minute */
    for (int k = 1; k <= 20; k++) {
        t = run(&d, &c, t, 59, 2300.0);
        double before = d.value;
        t = run(&d, &c, t, 1, 2300.0);
        double want = 2300.0 * (k < 15 ? k : 15) / 15.0;
        assert_true(fabs(d.value - want) < 1e-9);
        /* demand moves only at the end of a subinterval */
        if (k > 1 && k <= 15)
            assert_true(d.value > before);
    }
    assert_true(fabs(d.max - 2300.0) < 1e-9);
    assert_true(d.max_t == T0 + 600 + 15 * 60);
    /* step down to 500 VA: back down over 15 minutes, max kept */
    t = run(&d, &c, t, 15 * 60, 500.0);
    assert_true(fabs(d.value - 500.0) < 1e-9);
    assert_true(fabs(d.max - 2300.0) < 1e-9);
    assert_true(d.max_t == T0 + 600 + 15 * 60);
    /* a step that starts half way through a minute */
    t = run(&d, &c, t, 30, 500.0);
    t = run(&d, &c, t, 30, 1100.0);
    assert_true(fabs(d.value - (500.0 * 14 + 800.0) / 15.0) < 1e-9);
}

static void test_other_window(void **state)
{
    struct demand_config c = { 30, 5 };
    struct demand d = { .max = 0 };
    int64_t t = T0;

    assert_int_equal(demand_config_check(&c), CORE_OK);
    demand_restart(&d, &c, t);
    t = run(&d, &c, t, 299, 600.0);
    assert_true(d.value == 0.0);
    t = run(&d, &c, t, 1, 600.0);
    assert_true(fabs(d.value - 100.0) < 1e-9);   /* 5 of 30 minutes */
    t = run(&d, &c, t, 25 * 60, 600.0);
    assert_true(fabs(d.value - 600.0) < 1e-9);
    assert_true(d.max_t == T0 + 30 * 60);
}

/* Ticks that skip seconds share the energy by time: the same demand as
 * ticking every second. */
static void test_skipped_ticks(void **state)
{
    struct demand_config c;
    struct demand a = { .max = 0 }, b = { .max = 0 };
    int64_t t = T0 + 17;

    demand_config_default(&c);
    demand_restart(&a, &c, t);
    demand_restart(&b, &c, t);
    run(&a, &c, t, 3600, 1000.0);
    /* b: the same hour in 7-minute jumps and a final 11 minutes */
    for (int k = 0; k < 7; k++) {
        demand_add(&b, 1000.0 * 420);
        demand_tick(&b, &c, t + 420 * (k + 1));
    }
    demand_add(&b, 1000.0 * 660);
    demand_tick(&b, &c, t + 3600);
    assert_true(fabs(a.value - 1000.0) < 1e-9);
    assert_true(fabs(b.value - a.value) < 1e-6);
    assert_true(fabs(b.max - a.max) < 1e-6);
    /* a jump longer than the window: only the last subintervals count,
     * each with its share by time of what the open one held (17 s at
     * 1000 VA before the jump, since t is 17 s past a minute) */
    demand_add(&b, 50.0 * 86400);
    demand_tick(&b, &c, t + 3600 + 86400);
    assert_true(fabs(b.value - (17 * 1000.0 + 50.0 * 86400) / (86400 + 17))
                < 1e-6);
}

static void test_clock_back_and_settlement(void **state)
{
    struct demand_config c;
    struct demand d = { .max = 0 };
    int64_t t = T0;

    demand_config_default(&c);
    demand_restart(&d, &c, t);
    t = run(&d, &c, t, 3600, 800.0);
    assert_true(fabs(d.value - 800.0) < 1e-9);
    demand_tick(&d, &c, t - 7200);      /* the clock stepped back */
    assert_true(d.value == 0.0);
    assert_true(fabs(d.max - 800.0) < 1e-9);
    int64_t when = d.max_t;
    demand_settle(&d);
    assert_true(d.max == 0.0 && d.max_t == 0);
    assert_true(fabs(d.prev_max - 800.0) < 1e-9 && d.prev_max_t == when);
    run(&d, &c, t - 7200, 60, 300.0);
    assert_true(fabs(d.max - 20.0) < 1e-9);
    demand_reset_max(&d);
    assert_true(d.max == 0.0);
    assert_true(fabs(d.prev_max - 800.0) < 1e-9);
}

static void test_config_check(void **state)
{
    static const struct { uint8_t p, s; int want; } cases[] = {
        { 15, 1, CORE_OK }, { 15, 5, CORE_OK }, { 15, 15, CORE_OK },
        { 60, 1, CORE_OK }, { 1, 1, CORE_OK }, { 30, 10, CORE_OK },
        { 0, 1, CORE_EINVAL }, { 61, 1, CORE_EINVAL }, { 15, 0, CORE_EINVAL },
        { 15, 4, CORE_EINVAL }, { 15, 30, CORE_EINVAL },
    };

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct demand_config c = { cases[k].p, cases[k].s };
        assert_int_equal(demand_config_check(&c), cases[k].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_load),
        cmocka_unit_test(test_other_window),
        cmocka_unit_test(test_skipped_ticks),
        cmocka_unit_test(test_clock_back_and_settlement),
        cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
