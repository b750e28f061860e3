/*
 * Test helpers: one register value of a meter, asserting the read works.
 * Include after <cmocka.h> and "meter.h".
 */
#ifndef TESTS_METER_REGS_H
#define TESTS_METER_REGS_H

#include <math.h>

static inline float reg(const struct meter *m, uint16_t addr)
{
    float f = NAN;
    assert_int_equal(meter_reg_float(m, addr, &f), 0);
    return f;
}

static inline uint32_t reg_u32(const struct meter *m, uint16_t addr)
{
    uint16_t w[2];
    assert_int_equal(meter_reg_read(m, addr, 2, w), 0);
    return (uint32_t)w[0] << 16 | w[1];
}

static inline uint16_t reg_u16(const struct meter *m, uint16_t addr)
{
    uint16_t w;
    assert_int_equal(meter_reg_read(m, addr, 1, &w), 0);
    return w;
}

#endif
