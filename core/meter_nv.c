/*
 * The meter's non-volatile image: what a real meter keeps across power
 * loss, field by field in little-endian order (nvimage.h frames it).
 *
 * Payload, version 1:
 *   serial u32, saved RTC i64, programming count u32, its time i64
 *   settings: slave u8, baud u16, parity u8, word order u8, uplink u8,
 *     password u16, combination words u8 u8, demand period u8, slide u8,
 *     prepaid enabled u8, alarm Wh u32, limit W u32, delay s u16,
 *     zones u8, then 4 x (month u8, day u8, periods u8,
 *     8 x (hour u8, min u8, rate u8))
 *   energy: 4 rates x 6 quantities i64 mJ (import, export, QI..QIV)
 *   billing: month index i64, this month's start 4 x 6 i64,
 *     12 x (active 5 x i64, reactive 5 x i64) mJ, previous 1 first
 *   demand: max VA f64, its time i64, previous max VA f64, its time i64
 *     (f64: the IEEE-754 binary64 bits as a u64)
 *   pulse: count u64, rest i64 mJ
 *   prepaid: credit i64 mJ, relay reasons u8
 * Restore checks every field (and that pulses + rest equal the active
 * energy) before it changes anything. Not kept: the sub-mJ fractions, the
 * demand window (it restarts), the 1 s measurements.
 */
#include "meter.h"
#include "nvimage.h"
#include "meter_nv.h"

static void put_settings(struct nv_writer *w, const struct meter_settings *s)
{
    nv_put_u8(w, s->comm.slave);
    nv_put_u16(w, s->comm.baud);
    nv_put_u8(w, s->comm.parity);
    nv_put_u8(w, s->comm.word_order);
    nv_put_u8(w, s->comm.uplink);
    nv_put_u16(w, s->password);
    nv_put_u8(w, s->comb_active);
    nv_put_u8(w, s->comb_reactive);
    nv_put_u8(w, s->demand.period_min);
    nv_put_u8(w, s->demand.slide_min);
    nv_put_u8(w, s->prepaid.enabled);
    nv_put_u32(w, s->prepaid.alarm_wh);
    nv_put_u32(w, s->prepaid.limit_w);
    nv_put_u16(w, s->prepaid.delay_s);
    nv_put_u8(w, s->tariff.nzones);
    for (unsigned z = 0; z < TARIFF_ZONES; z++) {
        const struct tariff_zone *zn = &s->tariff.zone[z];
        nv_put_u8(w, zn->month);
        nv_put_u8(w, zn->day);
        nv_put_u8(w, zn->nperiods);
        for (unsigned k = 0; k < TARIFF_PERIODS; k++) {
            nv_put_u8(w, zn->period[k].hour);
            nv_put_u8(w, zn->period[k].min);
            nv_put_u8(w, zn->period[k].rate);
        }
    }
}

static int get_settings(struct nv_reader *r, struct meter_settings *s)
{
    s->comm.slave = nv_get_u8(r);
    s->comm.baud = nv_get_u16(r);
    s->comm.parity = nv_get_u8(r);
    s->comm.word_order = nv_get_u8(r);
    s->comm.uplink = nv_get_u8(r);
    s->password = nv_get_u16(r);
    s->comb_active = nv_get_u8(r);
    s->comb_reactive = nv_get_u8(r);
    s->demand.period_min = nv_get_u8(r);
    s->demand.slide_min = nv_get_u8(r);
    s->prepaid.enabled = nv_get_u8(r);
    s->prepaid.alarm_wh = nv_get_u32(r);
    s->prepaid.limit_w = nv_get_u32(r);
    s->prepaid.delay_s = nv_get_u16(r);
    s->tariff.nzones = nv_get_u8(r);
    for (unsigned z = 0; z < TARIFF_ZONES; z++) {
        struct tariff_zone *zn = &s->tariff.zone[z];
        zn->month = nv_get_u8(r);
        zn->day = nv_get_u8(r);
        zn->nperiods = nv_get_u8(r);
        for (unsigned k = 0; k < TARIFF_PERIODS; k++) {
            zn->period[k].hour = nv_get_u8(r);
            zn->period[k].min = nv_get_u8(r);
            zn->period[k].rate = nv_get_u8(r);
        }
    }
    return settings_check(s) ? CORE_EBADMSG : CORE_OK;
}

static void put_set(struct nv_writer *w, const struct energy_set *s)
{
    for (unsigned k = 0; k < EN_QTY; k++)
        nv_put_i64(w, s->v[k]);
}

/* The getters below check every value; with a NULL destination they
 * only check (the first pass of a restore), which needs no scratch copy. */
static int get_set(struct nv_reader *r, struct energy_set *s)
{
    int err = CORE_OK;

    for (unsigned k = 0; k < EN_QTY; k++) {
        int64_t v = nv_get_i64(r);
        if (v < 0)
            err = CORE_EBADMSG;
        if (s)
            s->v[k] = v;
    }
    return err;
}

/* Energies; *active: their import + export, for the pulse check. */
static int get_energy(struct nv_reader *r, struct energy *e, int64_t *active)
{
    struct energy_set set;
    int err = CORE_OK;

    if (e)
        energy_init(e);
    *active = 0;
    for (unsigned k = 0; k < ENERGY_RATES; k++) {
        if (get_set(r, &set))
            err = CORE_EBADMSG;
        *active += set.v[EN_IMP] + set.v[EN_EXP];
        if (e)
            e->rate[k] = set;
    }
    return err;
}

static int get_billing(struct nv_reader *r, struct billing *b)
{
    int err = CORE_OK;
    int64_t month = nv_get_i64(r);

    if (month < 0 || month > rtc_month_index(RTC_MAX))
        err = CORE_EBADMSG;
    if (b)
        b->month = (int32_t)month;
    for (unsigned k = 0; k < ENERGY_RATES; k++)
        if (get_set(r, b ? &b->start[k] : NULL))
            err = CORE_EBADMSG;
    for (unsigned n = 0; n < BILLING_MONTHS; n++) {
        for (unsigned k = 0; k <= ENERGY_RATES; k++) {
            int64_t v = nv_get_i64(r);
            if (b)
                b->prev[n].active[k] = v;
        }
        for (unsigned k = 0; k <= ENERGY_RATES; k++) {
            int64_t v = nv_get_i64(r);
            if (b)
                b->prev[n].reactive[k] = v;
        }
    }
    return err;
}

/* The persistent parts of the demand, the pulse output and the prepaid
 * state, read into a struct meter's fields. */
struct small {
    uint32_t serial, prog_count;
    int64_t prog_time;
    double max, prev_max;
    int64_t max_t, prev_max_t;
    struct pulse pulse;
    int64_t credit;
    uint8_t reasons;
};

static uint64_t f64_bits(double v)
{
    union { double d; uint64_t u; } b = { .d = v };
    return b.u;
}

/* A demand from its bits: CORE_EBADMSG unless a finite value >= 0. */
static int f64_demand(uint64_t bits, double *v)
{
    union { double d; uint64_t u; } b = { .u = bits };
    if (!(b.d >= 0.0 && b.d < 1e12))
        return CORE_EBADMSG;
    *v = b.d;
    return CORE_OK;
}

static void put_all(struct nv_writer *w, const struct meter *m)
{
    nv_put_u32(w, m->serial);
    nv_put_i64(w, m->rtc.now);
    nv_put_u32(w, m->prog_count);
    nv_put_i64(w, m->prog_time);
    put_settings(w, &m->set);
    for (unsigned k = 0; k < ENERGY_RATES; k++)
        put_set(w, &m->energy.rate[k]);
    nv_put_i64(w, m->billing.month);
    for (unsigned k = 0; k < ENERGY_RATES; k++)
        put_set(w, &m->billing.start[k]);
    for (unsigned n = 0; n < BILLING_MONTHS; n++) {
        for (unsigned k = 0; k <= ENERGY_RATES; k++)
            nv_put_i64(w, m->billing.prev[n].active[k]);
        for (unsigned k = 0; k <= ENERGY_RATES; k++)
            nv_put_i64(w, m->billing.prev[n].reactive[k]);
    }
    nv_put_u64(w, f64_bits(m->demand.max));
    nv_put_i64(w, m->demand.max_t);
    nv_put_u64(w, f64_bits(m->demand.prev_max));
    nv_put_i64(w, m->demand.prev_max_t);
    nv_put_u64(w, m->pulse.count);
    nv_put_i64(w, m->pulse.rest);
    nv_put_i64(w, m->prepaid.credit);
    nv_put_u8(w, m->prepaid.reasons);
}

int meter_nv_save(const struct meter *m, uint8_t *buf, size_t cap)
{
    struct nv_writer w;

    /* measure first: a buffer too small is left untouched */
    nv_begin(&w, NULL, 0);
    put_all(&w, m);
    if (w.len + NV_TRAILER > cap)
        return CORE_ENOSPC;
    nv_begin(&w, buf, cap);
    put_all(&w, m);
    return nv_finish(&w);
}

/*
 * Decode the payload. With commit false every field is checked and *m is
 * not touched; with commit true (only after a successful check of the
 * same bytes) the fields go into *m.
 */
int meter_nv_decode(struct meter *m, const uint8_t *buf, size_t len,
                    bool commit)
{
    struct nv_reader r;
    struct small s;
    struct meter_settings set;
    int64_t active;
    int err;

    err = nv_open(&r, buf, len);
    if (err)
        return err;
    s.serial = nv_get_u32(&r);
    (void)nv_get_i64(&r);       /* saved RTC: the host's now wins */
    s.prog_count = nv_get_u32(&r);
    s.prog_time = nv_get_i64(&r);
    if (get_settings(&r, &set))
        return CORE_EBADMSG;
    if (commit)
        m->set = set;
    if (get_energy(&r, commit ? &m->energy : NULL, &active) ||
        get_billing(&r, commit ? &m->billing : NULL))
        return CORE_EBADMSG;
    if (f64_demand(nv_get_u64(&r), &s.max))
        return CORE_EBADMSG;
    s.max_t = nv_get_i64(&r);
    if (f64_demand(nv_get_u64(&r), &s.prev_max))
        return CORE_EBADMSG;
    s.prev_max_t = nv_get_i64(&r);
    s.pulse.count = nv_get_u64(&r);
    s.pulse.rest = nv_get_i64(&r);
    s.credit = nv_get_i64(&r);
    s.reasons = nv_get_u8(&r);
    err = nv_close(&r);
    if (err)
        return err;
    /* the pulse output is exact: pulses and rest are the active energy
     * (a count whose energy would not fit an int64 is refused before the
     * product is taken; rest < PULSE_MJ leaves room for it) */
    if (pulse_check(&s.pulse) ||
        s.pulse.count > (uint64_t)(INT64_MAX - PULSE_MJ) / PULSE_MJ ||
        (int64_t)s.pulse.count * PULSE_MJ + s.pulse.rest != active)
        return CORE_EBADMSG;
    if (s.credit < 0 || s.credit >= ((int64_t)PREPAID_CREDIT_MAX_WH + 1) *
                                    ENERGY_MJ_PER_WH ||
        s.reasons > (PREPAID_OPEN_CREDIT | PREPAID_OPEN_POWER |
                     PREPAID_OPEN_REMOTE))
        return CORE_EBADMSG;
    if (commit) {
        m->serial = s.serial;
        m->prog_count = s.prog_count;
        m->prog_time = s.prog_time;
        m->demand.max = s.max;
        m->demand.max_t = s.max_t;
        m->demand.prev_max = s.prev_max;
        m->demand.prev_max_t = s.prev_max_t;
        m->pulse = s.pulse;
        m->prepaid.credit = s.credit;
        m->prepaid.reasons = s.reasons;
        m->prepaid.over_s = 0;
    }
    return CORE_OK;
}
