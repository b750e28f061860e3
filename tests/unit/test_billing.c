/*
 * Monthly settlement: the history shift, catch-up after gaps (3 months,
 * more than 12), a clock set backwards that must not settle twice, and
 * combination words frozen at settlement.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/billing.h"
#include "core/rtc.h"

#define JAN2026 ((2026 - 1970) * 12)
#define KWH ENERGY_MJ_PER_KWH

struct settled {
    int64_t t[16];
    int n;
};

static void on_settled(void *ctx, int64_t t)
{
    struct settled *s = ctx;
    if (s->n < 16)
        s->t[s->n] = t;
    s->n++;
}

/* Use kwh of import at rate r and half as much reactive in QI. */
static void use(struct energy *e, unsigned r, int64_t kwh)
{
    e->rate[r - 1].v[EN_IMP] += kwh * KWH;
    e->rate[r - 1].v[EN_Q1] += kwh * KWH / 2;
}

static int32_t catch_up(struct billing *b, const struct energy *e,
                        int32_t month, struct settled *s)
{
    return billing_catch_up(b, e, ENERGY_COMB_ACTIVE_DEFAULT,
                            ENERGY_COMB_REACTIVE_DEFAULT, month, on_settled,
                            s);
}

static void test_monthly_shift(void **state)
{
    struct energy e;
    struct billing b;
    struct settled s = { .n = 0 };
    struct billing_month cur;

    energy_init(&e);
    billing_init(&b, &e, JAN2026);
    for (int32_t m = 0; m < 14; m++) {
        use(&e, 1 + (unsigned)m % 4, 10 + m);
        assert_int_equal(catch_up(&b, &e, JAN2026 + m, &s), 0);
        assert_int_equal(catch_up(&b, &e, JAN2026 + m + 1, &s), 1);
        billing_current(&b, &e, 0x05, 0x55, &cur);
        assert_true(cur.active[0] == 0 && cur.reactive[0] == 0);
        /* previous n holds month m + 1 - n */
        for (int32_t n = 1; n <= BILLING_MONTHS; n++) {
            int32_t month = m + 1 - n;
            int64_t want = month >= 0 ? (10 + month) * KWH : 0;
            unsigned rate = month >= 0 ? 1 + (unsigned)month % 4 : 1;
            const struct billing_month *h = &b.prev[n - 1];
            assert_true(h->active[0] == want);
            assert_true(h->reactive[0] == want / 2);
            assert_true(h->active[rate] == want);
            for (unsigned r = 1; r <= 4; r++)
                if (r != rate)
                    assert_true(h->active[r] == 0);
        }
    }
    assert_int_equal(s.n, 14);
    assert_true(s.t[0] == rtc_month_start(JAN2026 + 1));
    assert_true(s.t[13] == rtc_month_start(JAN2026 + 14));
}

/* Off from January 20th to April 10th: three month ends passed. */
static void test_three_month_gap(void **state)
{
    struct energy e;
    struct billing b;
    struct settled s = { .n = 0 };
    struct billing_month cur;

    energy_init(&e);
    billing_init(&b, &e, JAN2026 - 1);
    use(&e, 2, 40);
    catch_up(&b, &e, JAN2026, &s);                  /* December settled */
    use(&e, 3, 123);                                /* January */
    s.n = 0;
    assert_int_equal(catch_up(&b, &e, JAN2026 + 3, &s), 3);
    assert_int_equal(s.n, 3);
    assert_true(s.t[0] == 1769904000);              /* 2026-02-01 */
    assert_true(s.t[1] == 1772323200);              /* 2026-03-01 */
    assert_true(s.t[2] == 1775001600);              /* 2026-04-01 */
    assert_true(b.prev[0].active[0] == 0);          /* March */
    assert_true(b.prev[1].active[0] == 0);          /* February */
    assert_true(b.prev[2].active[0] == 123 * KWH);  /* January */
    assert_true(b.prev[2].active[3] == 123 * KWH);
    assert_true(b.prev[3].active[0] == 40 * KWH);   /* December */
    assert_true(b.prev[3].active[2] == 40 * KWH);
    use(&e, 4, 5);
    billing_current(&b, &e, 0x05, 0x55, &cur);
    assert_true(cur.active[0] == 5 * KWH && cur.active[4] == 5 * KWH);
}

/* Away longer than the history: everything is empty months, the work
 * stops at 12 shifts, and the reports at the measured month (told first,
 * while it is previous 1) and the 12 latest. */
static void test_long_gap(void **state)
{
    struct energy e;
    struct billing b;
    struct settled s = { .n = 0 };

    energy_init(&e);
    billing_init(&b, &e, JAN2026);
    use(&e, 1, 7);
    for (int32_t gap = 12; gap <= 13; gap++) {
        energy_init(&e);
        billing_init(&b, &e, JAN2026);
        use(&e, 1, 7);
        s.n = 0;
        assert_int_equal(catch_up(&b, &e, JAN2026 + gap, &s), gap);
        assert_int_equal(s.n, gap == 12 ? 12 : 13);
        assert_true(s.t[0] == rtc_month_start(JAN2026 + 1));
        assert_true(s.t[s.n - 1] == rtc_month_start(JAN2026 + gap));
        if (gap == 13)
            assert_true(s.t[1] == rtc_month_start(JAN2026 + 2));
        for (int n = 0; n < 11; n++)
            assert_true(b.prev[n].active[0] == 0);
        assert_true(b.prev[11].active[0] == (gap == 12 ? 7 * KWH : 0));
    }
    s.n = 0;
    assert_int_equal(catch_up(&b, &e, JAN2026 + 13 + 400, &s), 400);
    assert_int_equal(s.n, 13);
}

/* March 5th, set back to February 20th, then forward again: March is
 * settled once, at April 1st, with everything used since March 1st. */
static void test_clock_back_no_double(void **state)
{
    struct energy e;
    struct billing b;
    struct settled s = { .n = 0 };

    energy_init(&e);
    billing_init(&b, &e, JAN2026 + 1);
    use(&e, 1, 28);                                 /* February */
    assert_int_equal(catch_up(&b, &e, JAN2026 + 2, &s), 1);
    use(&e, 1, 5);                                  /* March 1..5 */
    assert_int_equal(catch_up(&b, &e, JAN2026 + 1, &s), 0);   /* back */
    assert_true(b.month == JAN2026 + 2);
    use(&e, 1, 9);                                  /* "February" 20..28 */
    assert_int_equal(catch_up(&b, &e, JAN2026 + 2, &s), 0);   /* March again */
    use(&e, 1, 31);
    assert_int_equal(catch_up(&b, &e, JAN2026 + 3, &s), 1);   /* April */
    assert_int_equal(s.n, 2);
    assert_true(b.prev[0].active[0] == (5 + 9 + 31) * KWH);
    assert_true(b.prev[1].active[0] == 28 * KWH);
}

static void test_combination_frozen(void **state)
{
    struct energy e;
    struct billing b;
    struct billing_month cur;

    energy_init(&e);
    billing_init(&b, &e, JAN2026);
    e.rate[0].v[EN_IMP] = 100 * KWH;
    e.rate[0].v[EN_EXP] = 30 * KWH;
    e.rate[0].v[EN_Q2] = 8 * KWH;
    e.rate[0].v[EN_Q3] = 2 * KWH;
    billing_current(&b, &e, 0x09, 0x05, &cur);      /* imp - exp; QI + QII */
    assert_true(cur.active[0] == 70 * KWH && cur.reactive[0] == 8 * KWH);
    billing_catch_up(&b, &e, 0x09, 0x05, JAN2026 + 1, NULL, NULL);
    assert_true(b.prev[0].active[0] == 70 * KWH);
    assert_true(b.prev[0].active[1] == 70 * KWH);
    assert_true(b.prev[0].reactive[1] == 8 * KWH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monthly_shift),
        cmocka_unit_test(test_three_month_gap),
        cmocka_unit_test(test_long_gap),
        cmocka_unit_test(test_clock_back_no_double),
        cmocka_unit_test(test_combination_frozen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
