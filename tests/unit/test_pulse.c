/*
 * Pulse output: the count equals floor(Wh x 1.6) after every one of ten
 * million random increments, each pulse is reported once, in order, at a
 * time inside the increment that completed it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/pulse.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}

struct seen {
    uint64_t calls, last_count;
    int64_t last_t, lo, hi;
    bool bad;
};

static void on_pulse(void *ctx, uint64_t count, int64_t t_ms)
{
    struct seen *s = ctx;

    if (count != s->last_count + 1 || t_ms < s->last_t || t_ms < s->lo ||
        t_ms > s->hi)
        s->bad = true;
    s->calls++;
    s->last_count = count;
    s->last_t = t_ms;
}

static void test_ten_million_increments(void **state)
{
    struct pulse p;
    struct seen s = { 0 };
    int64_t total = 0;                  /* mJ */
    int64_t t_ms = INT64_C(1767225600000);

    pulse_init(&p);
    for (long k = 0; k < 10000000; k++) {
        uint64_t r = next();
        /* mostly sub-pulse increments, some of many pulses, some zero */
        int64_t mj;
        switch (r & 7) {
        case 0: mj = 0; break;
        case 1: mj = (int64_t)(r >> 8) % (PULSE_MJ * 40); break;
        case 2: mj = 1; break;
        default: mj = (int64_t)(r >> 8) % 600000; break;
        }
        int64_t dur = 1 + (int64_t)(r >> 40) % 1000;
        s.lo = t_ms;
        s.hi = t_ms + dur;
        pulse_add(&p, mj, t_ms, 0.0, (double)dur, on_pulse, &s);
        total += mj;
        t_ms += dur;
        /* floor(Wh x 1.6) = floor(mJ / 3.6e6 x 16 / 10), exactly */
        if (p.count != (uint64_t)(total * 16 / 36000000))
            fail_msg("after %ld increments: %llu pulses, want %lld", k,
                     (unsigned long long)p.count,
                     (long long)(total * 16 / 36000000));
        if (p.rest < 0 || p.rest >= PULSE_MJ)
            fail_msg("rest %lld out of range", (long long)p.rest);
    }
    assert_false(s.bad);
    assert_true(s.calls == p.count);
    assert_true(p.count > 1000000);
}

/* 1 kWh in one go: 1600 pulses spread evenly over its hour. */
static void test_pulse_times(void **state)
{
    struct pulse p;
    struct seen s = { .lo = 0, .hi = 3600000 };

    pulse_init(&p);
    assert_true(pulse_add(&p, INT64_C(3600000000), 0, 0.0, 3600000.0,
                          on_pulse, &s) == 1600);
    assert_false(s.bad);
    assert_true(s.last_t == 3600000);
    assert_true(p.rest == 0);
    /* pulse k completes at k x 2250 ms */
    pulse_init(&p);
    s = (struct seen){ .lo = 0, .hi = 3600000 };
    pulse_add(&p, PULSE_MJ * 3 - 1, 0, 0.0, 6750.0, on_pulse, &s);
    assert_true(s.calls == 2);
    assert_true(s.last_t == 4500);
    assert_true(p.rest == PULSE_MJ - 1);
    pulse_add(&p, 1, 10000, 250.0, 1.0, on_pulse, &s);
    assert_true(s.calls == 3);
    assert_true(s.last_t == 10251);
    assert_true(p.rest == 0);
}

static void test_check(void **state)
{
    struct pulse p = { 5, 0 };

    assert_int_equal(pulse_check(&p), CORE_OK);
    p.rest = PULSE_MJ - 1;
    assert_int_equal(pulse_check(&p), CORE_OK);
    p.rest = PULSE_MJ;
    assert_int_equal(pulse_check(&p), CORE_EBADMSG);
    p.rest = -1;
    assert_int_equal(pulse_check(&p), CORE_EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_million_increments),
        cmocka_unit_test(test_pulse_times),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
