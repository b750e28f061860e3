/*
 * The meter: the modules composed behind the port contract.
 *
 * Time: energy measured between meter_tick(t) and meter_tick(t + 1) is
 * second t's: it goes to the rate chosen at tick(t) and its pulses are
 * stamped t * 1000 + the ms measured since that tick. Each tick closes
 * the second (1 s averages, over-power timing), then moves the RTC:
 * demand subintervals, monthly settlements due, the new second's rate,
 * and the relay decision.
 */
#include "meter_host.h"

#include <math.h>

#include "control.h"
#include "regmap.h"
#include "meter_nv.h"
#include "lcd_menu.h"

int meter_init(struct meter *m, const struct metro_config *front_end,
               const struct meter_port *port, int64_t now)
{
    struct metro_config def;
    int err;

    if (now < RTC_MIN || now > RTC_MAX)
        return CORE_ERANGE;
    if (!front_end) {
        metro_config_default(&def);
        front_end = &def;
    }
    *m = (struct meter){ .serial = 0 };
    err = metro_init(&m->metro, front_end);
    if (err)
        return err;
    if (port)
        m->port = *port;
    settings_default(&m->set);
    m->rtc.now = now;
    energy_init(&m->energy);
    billing_init(&m->billing, &m->energy, rtc_month_index(now));
    demand_restart(&m->demand, &m->set.demand, now);
    pulse_init(&m->pulse);
    prepaid_init(&m->prepaid);
    m->relay_closed = true;
    m->meas.pf = 1.0f;
    lcd_init(&m->lcd);
    control_start(m);
    return CORE_OK;
}

/* Energy, pulses, credit and demand for ms of h. */
static void account_energy(struct meter *m, const struct meter_hold *h,
                           double ms)
{
    struct energy_inc inc;

    energy_add(&m->energy, m->rate, h->p, h->q, ms, &inc);
    pulse_add(&m->pulse, inc.imp + inc.exp, m->rtc.now * 1000, m->sub_ms,
              ms, m->port.pulse, m->port.ctx);
    prepaid_consume(&m->prepaid, &m->set.prepaid, inc.imp);
    demand_add(&m->demand, h->s * ms * 1e-3);
    m->sub_ms += ms;
}

/* The second's sums for the displayed 1 s averages, for ms of h. */
static void account_display(struct meter *m, const struct meter_hold *h,
                            double ms)
{
    struct meter_second *s = &m->sec;

    /* The displayed averages come from synchronized windows (whole cycles)
     * when the second has any: an unsynchronized one (power-on, the voltage
     * coming back) is only a fragment and would bias them. Energy above
     * counts every window. */
    bool synced = h->f > 0.0;
    if (synced && s->f_ms == 0.0)
        *s = (struct meter_second){ 0 };
    else if (!synced && s->f_ms > 0.0)
        return;
    s->ms += ms;
    s->u += h->u * ms;
    s->i += h->i * ms;
    s->p += h->p * ms;
    s->q += h->q * ms;
    s->s += h->s * ms;
    if (synced) {
        s->f_ms += ms;
        s->f += h->f * ms;
    }
}

static void account(struct meter *m, const struct meter_hold *h, double ms)
{
    if (!(ms > 0.0))
        return;
    account_energy(m, h, ms);
    account_display(m, h, ms);
}

/* A window becomes the held load; energy = true also accounts its time. */
static void take_window(struct meter *m, const struct metro_result *w,
                        bool energy)
{
    m->hold = (struct meter_hold){
        .u = w->vrms, .i = w->irms, .p = w->p, .q = w->q, .s = w->s,
        .f = w->synced ? w->f : 0.0, .valid = true,
    };
    if (energy)
        account(m, &m->hold, w->duration * 1e3);
}

void meter_window(struct meter *m, const struct metro_result *w)
{
    take_window(m, w, true);
}

static void feed(struct meter *m, const int32_t *v, const int32_t *i,
                 size_t n, bool energy)
{
    struct metro_result r;

    for (size_t off = 0; off < n;) {
        off += metro_feed(&m->metro, v + off, i + off, n - off);
        if (metro_take(&m->metro, &r))
            take_window(m, &r, energy);
    }
}

size_t meter_feed(struct meter *m, const int32_t *v, const int32_t *i,
                  size_t n)
{
    feed(m, v, i, n, true);
    return n;
}

size_t meter_feed_measure(struct meter *m, const int32_t *v,
                          const int32_t *i, size_t n)
{
    feed(m, v, i, n, false);
    return n;
}

/* A window measures its load alone: whole cycles at a reference within
 * METER_SETTLE_HZ of their frequency (Q is right), or a timeout without
 * crossings (no voltage: U, I, P = 0 are right). A window cut short by
 * the first crossing after a restart is neither. */
static bool settled(const struct metro_result *w)
{
    if (w->timed_out)
        return true;
    return w->synced && fabs(w->f - w->f_ref) <= METER_SETTLE_HZ;
}

size_t meter_measure_settle(struct meter *m, const int32_t *v,
                            const int32_t *i, size_t n, bool *done)
{
    struct metro_result r;
    size_t off = 0;

    *done = false;
    while (off < n && !*done) {
        off += metro_feed(&m->metro, v + off, i + off, n - off);
        if (metro_take(&m->metro, &r)) {
            take_window(m, &r, false);
            *done = settled(&r);
        }
    }
    return off;
}

void meter_restart_measure(struct meter *m, bool account)
{
    if (account)
        meter_flush(m);
    metro_restart(&m->metro);
    m->sec = (struct meter_second){ 0 };
}

void meter_flush(struct meter *m)
{
    struct metro_result r;

    if (metro_flush(&m->metro) && metro_take(&m->metro, &r))
        take_window(m, &r, true);
}

void meter_integrate(struct meter *m, uint32_t ms)
{
    if (m->hold.valid)
        account(m, &m->hold, (double)ms);
    else
        m->sub_ms += ms;
}

/* The second that ended: its averages and the over-power timing. */
static void close_second(struct meter *m)
{
    struct meter_second *s = &m->sec;
    struct meter_measure *o = &m->meas;

    if (s->ms > 0.0) {
        double p = s->p / s->ms, sa = s->s / s->ms;
        double pf = sa > 0.0 ? p / sa : 1.0;
        o->u = (float)(s->u / s->ms);
        o->i = (float)(s->i / s->ms);
        o->p = (float)p;
        o->q = (float)(s->q / s->ms);
        o->s = (float)sa;
        o->pf = (float)(pf > 1.0 ? 1.0 : pf < -1.0 ? -1.0 : pf);
        o->f = (float)(s->f_ms > 0.0 ? s->f / s->f_ms : 0.0);
    }
    *s = (struct meter_second){ 0 };
    prepaid_second(&m->prepaid, &m->set.prepaid, (double)o->p);
}

int meter_tick(struct meter *m, int64_t now)
{
    if (now < RTC_MIN || now > RTC_MAX)
        return CORE_ERANGE;
    close_second(m);
    control_clock(m, now, false);
    return CORE_OK;
}

void meter_set_sim_speed(struct meter *m, float speed)
{
    m->sim_speed = speed;
}

bool meter_quiet(const struct meter *m)
{
    const struct prepaid_config *pc = &m->set.prepaid;

    return m->hold.valid && !pc->enabled && pc->limit_w == 0;
}

unsigned meter_run_seconds(struct meter *m, int64_t t, unsigned n)
{
    int64_t sec = t % 60;

    /* within a minute of the RTC nothing but time can change: tariff
     * periods, demand subintervals and month ends start on whole minutes;
     * with prepaid and its over-power limit off the relay stays as it is */
    if (n == 0 || t < 0 || t != m->rtc.now + 1 || !meter_quiet(m))
        return 0;
    if (sec == 0) {
        meter_tick(m, t);
        meter_integrate(m, 1000);
        return 1;
    }
    if (n > 60 - sec)
        n = (unsigned)(60 - sec);
    /* the first second in full: it closes the second before */
    meter_tick(m, t);
    meter_integrate(m, 1000);
    for (unsigned j = 1; j < n; j++) {
        /* each second's averages are those of the one before (the same
         * load, the same sums): the last is closed, as a tick would */
        if (j == n - 1)
            close_second(m);
        else
            m->sec = (struct meter_second){ 0 };
        m->rtc.now = t + j;
        m->sub_ms = 0.0;
        /* only the last two seconds' averages are ever read */
        if (j + 2 >= n)
            meter_integrate(m, 1000);
        else
            account_energy(m, &m->hold, 1000.0);
    }
    /* no subinterval ends within the minute: demand_tick would only
     * have moved its clock */
    m->demand.last = t + n - 1;
    return n;
}

/* A command from the host: the host hears of it once it took effect. */
static int command_done(struct meter *m, int err)
{
    if (!err)
        control_changed(m);
    return err;
}

int meter_set_time(struct meter *m, int64_t now)
{
    return command_done(m, control_set_time(m, now));
}

int64_t meter_time(const struct meter *m)
{
    return m->rtc.now;
}

int32_t meter_billing_month(const struct meter *m)
{
    return m->billing.month;
}

const struct meter_measure *meter_measure(const struct meter *m)
{
    return &m->meas;
}

const struct meter_comm *meter_comm(const struct meter *m)
{
    return &m->set.comm;
}

bool meter_relay_closed(const struct meter *m)
{
    return m->relay_closed;
}

uint64_t meter_pulse_count(const struct meter *m)
{
    return m->pulse.count;
}

unsigned meter_rate(const struct meter *m)
{
    return m->rate;
}

const struct meter_settings *meter_settings(const struct meter *m)
{
    return &m->set;
}

int meter_configure(struct meter *m, const struct meter_settings *s)
{
    return command_done(m, control_configure(m, s));
}

void meter_set_serial(struct meter *m, uint32_t serial)
{
    m->serial = serial;
}

int meter_topup(struct meter *m, uint32_t wh)
{
    return command_done(m, control_topup(m, wh));
}

int meter_set_credit(struct meter *m, uint32_t wh)
{
    return command_done(m, control_set_credit(m, wh));
}

uint32_t meter_credit_wh(const struct meter *m)
{
    return prepaid_credit_wh(&m->prepaid);
}

int meter_relay_command(struct meter *m, bool close)
{
    return command_done(m, control_relay_command(m, close));
}

unsigned meter_relay_reasons(const struct meter *m)
{
    return m->prepaid.reasons;
}

void meter_reset_max_demand(struct meter *m)
{
    control_reset_max_demand(m);
    control_changed(m);
}

int meter_reg_read(const struct meter *m, uint16_t addr, uint16_t count,
                   uint16_t *out)
{
    return regmap_read(m, addr, count, out);
}

int meter_reg_write(struct meter *m, uint16_t addr, uint16_t count,
                    const uint16_t *in, int64_t now)
{
    return regmap_write(m, addr, count, in, now);
}

int meter_reg_float(const struct meter *m, uint16_t addr, float *out)
{
    return regmap_float(m, addr, out);
}

int meter_nv_restore(struct meter *m, const uint8_t *buf, size_t len,
                     int64_t now)
{
    int err;

    if (now < RTC_MIN || now > RTC_MAX)
        return CORE_ERANGE;
    err = meter_nv_decode(m, buf, len, false);
    if (err)
        return err;
    meter_nv_decode(m, buf, len, true);
    /* power on again at now: the settlements missed meanwhile apply, the
     * demand window starts afresh, the relay is told its restored state */
    m->sec = (struct meter_second){ 0 };
    control_clock(m, now, true);
    return CORE_OK;
}

int meter_key(struct meter *m, enum meter_key key, enum meter_key_event ev,
              int64_t now_ms)
{
    return lcd_key(m, key, ev, now_ms);
}

int meter_lcd_tick(struct meter *m, int64_t now_ms)
{
    return lcd_tick(m, now_ms);
}

void meter_lcd_frame(const struct meter *m, int64_t now_ms,
                     struct lcd_frame *out)
{
    lcd_frame(m, now_ms, out);
}

void meter_lcd_comm(struct meter *m, int64_t now_ms)
{
    lcd_comm(m, now_ms);
}
