/*
 * Prepaid credit and load control: consumption, top-up, the low-credit
 * alarm, the relay reasons (credit, over-power with its delay, remote)
 * and what clears each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/prepaid.h"
#include "core/energy.h"

#define WH ENERGY_MJ_PER_WH

static void test_credit_and_alarm(void **state)
{
    struct prepaid_config c;
    struct prepaid p;

    prepaid_config_default(&c);
    prepaid_init(&p);
    prepaid_decide(&p, &c);
    /* disabled (factory): no credit needed, nothing consumed */
    assert_true(prepaid_closed(&p));
    assert_false(p.alarm);
    prepaid_consume(&p, &c, 5 * WH);
    assert_true(p.credit == 0);

    c.enabled = 1;
    c.alarm_wh = 1000;
    prepaid_decide(&p, &c);
    assert_int_equal(p.reasons, PREPAID_OPEN_CREDIT);
    assert_int_equal(prepaid_topup(&p, 3000), CORE_OK);
    prepaid_decide(&p, &c);
    assert_true(prepaid_closed(&p));
    assert_false(p.alarm);
    prepaid_consume(&p, &c, 2000 * WH - 1);
    prepaid_decide(&p, &c);
    assert_false(p.alarm);                          /* 1000 Wh + 1 mJ */
    assert_int_equal(prepaid_credit_wh(&p), 1000);
    prepaid_consume(&p, &c, 1);
    prepaid_decide(&p, &c);
    assert_true(p.alarm);                           /* at the level */
    assert_true(prepaid_closed(&p));
    prepaid_consume(&p, &c, 5000 * WH);             /* more than is left */
    assert_true(p.credit == 0);
    prepaid_decide(&p, &c);
    assert_int_equal(p.reasons, PREPAID_OPEN_CREDIT);
    /* disabling prepaid releases the relay */
    c.enabled = 0;
    prepaid_decide(&p, &c);
    assert_true(prepaid_closed(&p));
    assert_false(p.alarm);
}

static void test_topup_limits(void **state)
{
    struct prepaid p;

    prepaid_init(&p);
    assert_int_equal(prepaid_set_credit(&p, PREPAID_CREDIT_MAX_WH), CORE_OK);
    assert_int_equal(prepaid_credit_wh(&p), PREPAID_CREDIT_MAX_WH);
    assert_int_equal(prepaid_topup(&p, 1), CORE_ERANGE);
    assert_int_equal(prepaid_credit_wh(&p), PREPAID_CREDIT_MAX_WH);
    assert_int_equal(prepaid_set_credit(&p, 10), CORE_OK);
    assert_int_equal(prepaid_topup(&p, 5), CORE_OK);
    assert_int_equal(prepaid_credit_wh(&p), 15);
}

/* Over-power: delay_s consecutive seconds above the limit open it; a
 * second below restarts the count; only a remote close clears it. */
static void test_over_power(void **state)
{
    static const struct { uint16_t delay; double p[8]; int open_at; } cases[] = {
        { 3, { 900, 1100, 1100, 1100, 900, 900, 900, 900 }, 3 },
        { 3, { 1100, 1100, 900, 1100, 1100, 1100, 900, 900 }, 5 },
        { 3, { 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000 }, -1 },
        { 0, { 900, 1000.5, 900, 900, 900, 900, 900, 900 }, 1 },
        { 1, { -5000, -5000, -5000, 900, 900, 900, 900, 900 }, -1 },
    };

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct prepaid_config c;
        struct prepaid p;
        int opened = -1;

        prepaid_config_default(&c);
        c.limit_w = 1000;
        c.delay_s = cases[k].delay;
        prepaid_init(&p);
        for (int s = 0; s < 8; s++) {
            prepaid_second(&p, &c, cases[k].p[s]);
            prepaid_decide(&p, &c);
            if (!prepaid_closed(&p) && opened < 0)
                opened = s;
        }
        assert_int_equal(opened, cases[k].open_at);
        if (opened >= 0) {
            assert_int_equal(p.reasons, PREPAID_OPEN_POWER);
            assert_int_equal(prepaid_topup(&p, 100), CORE_OK);
            prepaid_decide(&p, &c);
            assert_false(prepaid_closed(&p));   /* top-up is no remedy */
            assert_int_equal(prepaid_command(&p, &c, true), CORE_OK);
            prepaid_decide(&p, &c);
            assert_true(prepaid_closed(&p));
        }
    }
}

static void test_remote_commands(void **state)
{
    struct prepaid_config c;
    struct prepaid p;

    prepaid_config_default(&c);
    prepaid_init(&p);
    assert_int_equal(prepaid_command(&p, &c, false), CORE_OK);
    prepaid_decide(&p, &c);
    assert_int_equal(p.reasons, PREPAID_OPEN_REMOTE);
    assert_int_equal(prepaid_command(&p, &c, true), CORE_OK);
    prepaid_decide(&p, &c);
    assert_true(prepaid_closed(&p));

    /* with no credit a close is refused; a top-up closes */
    c.enabled = 1;
    prepaid_command(&p, &c, false);
    prepaid_decide(&p, &c);
    assert_int_equal(p.reasons, PREPAID_OPEN_REMOTE | PREPAID_OPEN_CREDIT);
    assert_int_equal(prepaid_command(&p, &c, true), CORE_ERANGE);
    assert_int_equal(p.reasons, PREPAID_OPEN_REMOTE | PREPAID_OPEN_CREDIT);
    prepaid_topup(&p, 1);
    prepaid_decide(&p, &c);
    assert_int_equal(p.reasons, PREPAID_OPEN_REMOTE);  /* still commanded */
    assert_int_equal(prepaid_command(&p, &c, true), CORE_OK);
    prepaid_decide(&p, &c);
    assert_true(prepaid_closed(&p));
}

static void test_config_check(void **state)
{
    struct prepaid_config c;

    prepaid_config_default(&c);
    assert_int_equal(prepaid_config_check(&c), CORE_OK);
    c.enabled = 2;
    assert_int_equal(prepaid_config_check(&c), CORE_EINVAL);
    c.enabled = 1;
    c.delay_s = PREPAID_DELAY_MAX + 1;
    assert_int_equal(prepaid_config_check(&c), CORE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credit_and_alarm),
        cmocka_unit_test(test_topup_limits),
        cmocka_unit_test(test_over_power),
        cmocka_unit_test(test_remote_commands),
        cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
