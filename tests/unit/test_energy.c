/*
 * Energy accumulators: quadrant classification, exact integer totals with
 * a carried fraction, totals far beyond where a float would stall, and the
 * combination words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/energy.h"

/* One second of (p, q): which quantities grow, by how many mJ. */
static void test_quadrants(void **state)
{
    static const struct { double p, q; int64_t want[EN_QTY]; } cases[] = {
        { 1000, 500, { 1000000, 0, 500000, 0, 0, 0 } },     /* QI */
        { -1000, 500, { 0, 1000000, 0, 500000, 0, 0 } },    /* QII */
        { -1000, -500, { 0, 1000000, 0, 0, 500000, 0 } },   /* QIII */
        { 1000, -500, { 1000000, 0, 0, 0, 0, 500000 } },    /* QIV */
        { 0, 500, { 0, 0, 500000, 0, 0, 0 } },              /* pure inductive */
        { 0, -500, { 0, 0, 0, 0, 0, 500000 } },             /* pure capacitive */
        { 250, 0, { 250000, 0, 0, 0, 0, 0 } },
        { 0, 0, { 0, 0, 0, 0, 0, 0 } },
    };

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct energy e;
        struct energy_inc inc;
        energy_init(&e);
        energy_add(&e, 3, cases[k].p, cases[k].q, 1000.0, &inc);
        for (unsigned qty = 0; qty < EN_QTY; qty++) {
            assert_true(e.rate[2].v[qty] == cases[k].want[qty]);
            assert_true(e.rate[0].v[qty] == 0);
        }
        assert_true(inc.imp == cases[k].want[EN_IMP]);
        assert_true(inc.exp == cases[k].want[EN_EXP]);
    }
}

/* Increments smaller than a mJ add up exactly through the carry. */
static void test_fraction_carry(void **state)
{
    struct energy e;
    struct energy_inc inc;
    int64_t sum = 0;

    energy_init(&e);
    for (int k = 0; k < 4000; k++) {
        energy_add(&e, 1, 0.25, -0.125, 1.0, &inc);    /* 1/4 mJ, 1/8 mJ */
        sum += inc.imp;
    }
    assert_true(e.rate[0].v[EN_IMP] == 1000);
    assert_true(sum == 1000);
    assert_true(e.rate[0].v[EN_Q4] == 500);

    /* windows of 200.1 ms at 1000.5 W: 200.2 mJ each, 1e6 of them */
    energy_init(&e);
    for (int k = 0; k < 1000000; k++)
        energy_add(&e, 2, 1000.5, 0.0, 200.1, &inc);
    int64_t want = (int64_t)(1000.5 * 200.1 * 1e6 + 0.5);
    int64_t got = e.rate[1].v[EN_IMP];
    assert_true(got >= want - 1 && got <= want + 1);
    assert_true(e.frac[EN_IMP] >= 0.0 && e.frac[EN_IMP] < 1.0);
}

/* At 2e15 mJ (556 MWh) a float would not move by a mJ; the counters do. */
static void test_large_totals(void **state)
{
    struct energy e;
    struct energy_inc inc;
    const int64_t base = INT64_C(2000000000000000);

    energy_init(&e);
    e.rate[3].v[EN_EXP] = base;
    for (int k = 0; k < 1000; k++)
        energy_add(&e, 4, -1.0, 0.0, 1.0, &inc);       /* 1 mJ each */
    assert_true(e.rate[3].v[EN_EXP] == base + 1000);

    /* a year of 15 kW in one-second steps stays exact */
    energy_init(&e);
    for (int k = 0; k < 365 * 86400; k++)
        energy_add(&e, 1, 15000.0, 0.0, 1000.0, &inc);
    assert_true(e.rate[0].v[EN_IMP] == INT64_C(15000000) * 365 * 86400);
}

static void test_totals_and_diff(void **state)
{
    struct energy e;
    struct energy_inc inc;
    struct energy_set tot, d;

    energy_init(&e);
    for (unsigned r = 1; r <= ENERGY_RATES; r++)
        energy_add(&e, r, 100.0 * r, -10.0 * r, 1000.0, &inc);
    energy_total(&e, &tot);
    assert_true(tot.v[EN_IMP] == 1000 * 100 * (1 + 2 + 3 + 4));
    assert_true(tot.v[EN_Q4] == 1000 * 10 * (1 + 2 + 3 + 4));
    assert_true(energy_reactive_exp(&tot) == tot.v[EN_Q4]);
    assert_true(energy_reactive_imp(&tot) == 0);
    energy_diff(&tot, &e.rate[0], &d);
    assert_true(d.v[EN_IMP] == 1000 * 100 * (2 + 3 + 4));
}

static void test_combination_words(void **state)
{
    const struct energy_set s = { { 1000, 300, 50, 20, 7, 3 } };
    static const struct { unsigned word; int64_t want; } act[] = {
        { 0x05, 1300 }, { 0x01, 1000 }, { 0x04, 300 }, { 0x09, 700 },
        { 0x06, -700 }, { 0x00, 0 }, { 0x0A, -1300 },
    };
    static const struct { unsigned word; int64_t want; } react[] = {
        { 0x55, 80 }, { 0x05, 70 }, { 0x50, 10 }, { 0xA5, 60 }, { 0x41, 53 },
    };
    static const unsigned bad_act[] = { 0x03, 0x0C, 0x10, 0xFF, 0x55 };
    static const unsigned bad_react[] = { 0x03, 0x0C, 0x30, 0xC0, 0x100 };

    for (size_t k = 0; k < sizeof act / sizeof act[0]; k++) {
        assert_int_equal(energy_comb_check(act[k].word, 2), CORE_OK);
        assert_true(energy_comb_active(&s, act[k].word) == act[k].want);
    }
    for (size_t k = 0; k < sizeof react / sizeof react[0]; k++) {
        assert_int_equal(energy_comb_check(react[k].word, 4), CORE_OK);
        assert_true(energy_comb_reactive(&s, react[k].word) == react[k].want);
    }
    for (size_t k = 0; k < sizeof bad_act / sizeof bad_act[0]; k++)
        assert_int_equal(energy_comb_check(bad_act[k], 2), CORE_EINVAL);
    for (size_t k = 0; k < sizeof bad_react / sizeof bad_react[0]; k++)
        assert_int_equal(energy_comb_check(bad_react[k], 4), CORE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quadrants),
        cmocka_unit_test(test_fraction_carry),
        cmocka_unit_test(test_large_totals),
        cmocka_unit_test(test_totals_and_diff),
        cmocka_unit_test(test_combination_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
