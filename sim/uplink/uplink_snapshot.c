#include "sim/uplink/uplink_snapshot.h"

#include <string.h>

#include "core/meter_host.h"

uint16_t uplink_reg_u16(const struct meter *m, uint16_t addr)
{
    uint16_t r = 0;
    return meter_reg_read(m, addr, 1, &r) ? 0 : r;
}

uint32_t uplink_reg_u32(const struct meter *m, uint16_t addr)
{
    uint16_t r[2];
    if (meter_reg_read(m, addr, 2, r))
        return 0;
    return (uint32_t)r[0] << 16 | r[1];
}

uint64_t uplink_reg_u64(const struct meter *m, uint16_t addr)
{
    uint16_t r[4];
    if (meter_reg_read(m, addr, 4, r))
        return 0;
    return (uint64_t)r[0] << 48 | (uint64_t)r[1] << 32 |
           (uint64_t)r[2] << 16 | r[3];
}

float uplink_reg_float(const struct meter *m, uint16_t addr)
{
    float f = 0.0f;
    return meter_reg_float(m, addr, &f) ? 0.0f : f;
}

void uplink_snapshot_telemetry(const struct meter *m,
                               struct uplink_telemetry *t)
{
    float meas[7];

    memset(t, 0, sizeof *t);
    t->time = meter_time(m);
    for (unsigned k = 0; k < 7; k++)
        meas[k] = uplink_reg_float(m, (uint16_t)(REG_U + 2 * k));
    t->u = meas[0];
    t->i = meas[1];
    t->p = meas[2];
    t->q = meas[3];
    t->s = meas[4];
    t->pf = meas[5];
    t->f = meas[6];
    t->demand = uplink_reg_float(m, REG_DEMAND);
    for (unsigned k = 0; k < 3; k++) {
        t->act[k] = uplink_reg_float(m, (uint16_t)(REG_ACT + 2 * k));
        t->react[k] = uplink_reg_float(m, (uint16_t)(REG_REACT + 2 * k));
    }
    for (unsigned r = 1; r <= 4; r++) {
        t->act_rate[r - 1] =
            uplink_reg_float(m, (uint16_t)REG_ACT_RATE(r));
        t->react_rate[r - 1] =
            uplink_reg_float(m, (uint16_t)REG_REACT_RATE(r));
        t->month_act_rate[r - 1] =
            uplink_reg_float(m, (uint16_t)REG_RATE(r, false, 0));
        t->month_react_rate[r - 1] =
            uplink_reg_float(m, (uint16_t)REG_RATE(r, true, 0));
        t->quadrant[r - 1] =
            uplink_reg_float(m, (uint16_t)(REG_X_QUADRANT + 2 * (r - 1)));
    }
    t->month_act = uplink_reg_float(m, REG_X_MONTH_ACT);
    t->month_react = uplink_reg_float(m, REG_X_MONTH_REACT);
    t->max_demand = uplink_reg_float(m, REG_X_MD);
    t->max_demand_time = uplink_reg_u32(m, REG_X_MD_TIME);
    t->prev_max_demand = uplink_reg_float(m, REG_X_PREV_MD);
    t->prev_max_demand_time = uplink_reg_u32(m, REG_X_PREV_MD_TIME);
    t->credit_kwh = uplink_reg_float(m, REG_X_CREDIT_KWH);
    t->credit_wh = uplink_reg_u32(m, REG_X_CREDIT);
    t->pulses = uplink_reg_u64(m, REG_X_PULSES);
    t->rate = uplink_reg_u16(m, REG_X_RATE);
    t->zone = uplink_reg_u16(m, REG_X_ZONE);
    t->status = uplink_reg_u16(m, REG_X_STATUS);
    t->reasons = uplink_reg_u16(m, REG_X_REASONS);
    t->prepaid = uplink_reg_u16(m, REG_X_PREPAID);
}

void uplink_snapshot_billing(const struct meter *m, int64_t settled,
                             struct uplink_billing *b)
{
    /* the month that ended at `settled` is "previous n", n counted from
     * the billing month (settlements catch up several month ends at once
     * after a gap; the measured month of a gap over 12 is reported while
     * it is previous 1) */
    int32_t n = meter_billing_month(m) - rtc_month_index(settled) + 1;

    memset(b, 0, sizeof *b);
    b->settled = settled;
    if (n < 1 || n > 12)
        return;
    b->act[0] = uplink_reg_float(m, (uint16_t)REG_PREV_ACT(n));
    b->react[0] = uplink_reg_float(m, (uint16_t)REG_PREV_REACT(n));
    for (unsigned r = 1; r <= 4; r++) {
        b->act[r] = uplink_reg_float(m, (uint16_t)REG_RATE(r, false, n));
        b->react[r] = uplink_reg_float(m, (uint16_t)REG_RATE(r, true, n));
    }
    /* this month's maximum demand moves to "previous" right after the
     * settlement callbacks: it belongs to the settled month when its time
     * falls inside that month */
    uint32_t md_time = uplink_reg_u32(m, REG_X_MD_TIME);
    int64_t start = rtc_month_start(rtc_month_index(settled) - 1);
    if (md_time && (int64_t)md_time > start && (int64_t)md_time <= settled) {
        b->max_demand = uplink_reg_float(m, REG_X_MD);
        b->max_demand_time = md_time;
    }
}
