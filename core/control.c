/*
 * The meter's state changes and their consequences (control.h).
 */
#include "control.h"

/* The relay as the prepaid state decides it; the host hears of a change. */
static void relay_sync(struct meter *m)
{
    bool closed;

    prepaid_decide(&m->prepaid, &m->set.prepaid);
    closed = prepaid_closed(&m->prepaid);
    if (closed == m->relay_closed)
        return;
    m->relay_closed = closed;
    if (!closed) {
        /* no current flows any more: integrate must not hold the load */
        m->hold.i = m->hold.p = m->hold.q = m->hold.s = 0.0;
    }
    if (m->port.relay)
        m->port.relay(m->port.ctx, closed);
}

static void update_rate(struct meter *m)
{
    struct rtc_date d;

    rtc_date(&m->rtc, &d);
    m->rate = (uint8_t)tariff_rate(&m->set.tariff, &d);
}

static void settle(struct meter *m)
{
    struct rtc_date d;

    rtc_date(&m->rtc, &d);
    int32_t n = billing_catch_up(&m->billing, &m->energy,
                                 m->set.comb_active, m->set.comb_reactive,
                                 rtc_date_month_index(&d),
                                 m->port.settled, m->port.ctx);
    /* the maximum demand is per billing month too: one month end moves
     * this month's maximum to "last month"; two or more mean the meter
     * was off for the whole of last month, so a second settle leaves its
     * maximum at 0 */
    if (n >= 1)
        demand_settle(&m->demand);
    if (n >= 2)
        demand_settle(&m->demand);
}

void control_start(struct meter *m)
{
    update_rate(m);
    relay_sync(m);
}

void control_clock(struct meter *m, int64_t now, bool restart)
{
    m->rtc.now = now;
    m->sub_ms = 0.0;
    if (restart)
        demand_restart(&m->demand, &m->set.demand, now);
    else
        demand_tick(&m->demand, &m->set.demand, now);
    m->meas.demand = (float)m->demand.value;
    settle(m);
    update_rate(m);
    relay_sync(m);
}

int control_set_time(struct meter *m, int64_t now)
{
    if (now < RTC_MIN || now > RTC_MAX)
        return CORE_ERANGE;
    if (now != m->rtc.now)
        control_clock(m, now, true);
    return CORE_OK;
}

/* The one way credit changes on a command: the relay follows at once. */
static int credit_to(struct meter *m, int64_t credit_mj)
{
    int err = prepaid_set_mj(&m->prepaid, credit_mj);

    relay_sync(m);
    return err;
}

int control_install(struct meter *m, const struct meter_settings *s,
                    int64_t credit_mj)
{
    bool demand_changed;

    if (settings_check(s))
        return CORE_EINVAL;
    if (credit_mj < 0 || credit_mj > PREPAID_CREDIT_MAX_MJ)
        return CORE_ERANGE;
    demand_changed = s->demand.period_min != m->set.demand.period_min ||
                     s->demand.slide_min != m->set.demand.slide_min;
    if (s != &m->set)
        m->set = *s;
    update_rate(m);
    if (demand_changed) {
        demand_restart(&m->demand, &m->set.demand, m->rtc.now);
        m->meas.demand = 0.0f;
    }
    return credit_to(m, credit_mj);
}

int control_configure(struct meter *m, const struct meter_settings *s)
{
    return control_install(m, s, m->prepaid.credit);
}

int control_topup(struct meter *m, uint32_t wh)
{
    return credit_to(m, m->prepaid.credit + (int64_t)wh * ENERGY_MJ_PER_WH);
}

int control_set_credit(struct meter *m, uint32_t wh)
{
    return credit_to(m, (int64_t)wh * ENERGY_MJ_PER_WH);
}

int control_relay_command(struct meter *m, bool close)
{
    int err = prepaid_command(&m->prepaid, &m->set.prepaid, close);

    relay_sync(m);
    return err;
}

void control_reset_max_demand(struct meter *m)
{
    demand_reset_max(&m->demand);
}

void control_changed(struct meter *m)
{
    if (m->port.settings_changed)
        m->port.settings_changed(m->port.ctx);
}
