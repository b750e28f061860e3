/*
 * Register lookup, encoding and decoding. Values are computed from the
 * core's state when read (the 1 s measurements as refreshed by the last
 * tick, the energies as accumulated so far); writes are decoded into a
 * staged copy of the set-up, checked whole, then installed: a write
 * changes everything it names or nothing.
 */
#include "regmap.h"
#include "control.h"

#define MAP_VERSION 1
#define FW_VERSION 0x0100

enum kind { K_F32, K_U16, K_U32, K_U64 };

/* What a register holds. */
enum id {
    M_MEAS, M_ENERGY,                               /* the manual's map */
    X_MAP_VERSION, X_FW_VERSION, X_SERIAL, X_PULSES, X_RATE, X_ZONE,
    X_STATUS, X_REASONS, X_MD, X_MD_TIME, X_PREV_MD, X_PREV_MD_TIME,
    X_CREDIT_KWH, X_MONTH_ACT, X_MONTH_REACT, X_QUADRANT, X_PROG_COUNT,
    X_PROG_TIME, X_SIM_SPEED,
    X_SLAVE, X_BAUD, X_PARITY, X_WORD_ORDER, X_UPLINK, X_PASSWORD,
    X_COMB_ACT, X_COMB_REACT,
    X_DATE, X_WEEKDAY, X_EPOCH,
    X_DEM_PERIOD, X_DEM_SLIDE, X_MD_RESET,
    X_PREPAID, X_RELAY, X_CREDIT, X_TOPUP, X_ALARM, X_LIMIT, X_DELAY,
    X_NZONES, X_ZONE_START, X_NPERIODS, X_PERIOD_START, X_PERIOD_RATE,
};

/* One value of the map. */
struct reg {
    uint16_t addr;          /* its first register */
    uint8_t kind;           /* enum kind */
    uint8_t rw;             /* 1: writable */
    uint8_t id;             /* enum id */
    uint8_t arg;            /* index within a group */
};

/* The extension block outside the tariff tables, by address. */
static const struct reg ext[] = {
    { REG_X_MAP_VERSION, K_U16, 0, X_MAP_VERSION, 0 },
    { REG_X_FW_VERSION, K_U16, 0, X_FW_VERSION, 0 },
    { REG_X_SERIAL, K_U32, 0, X_SERIAL, 0 },
    { REG_X_PULSES, K_U64, 0, X_PULSES, 0 },
    { REG_X_RATE, K_U16, 0, X_RATE, 0 },
    { REG_X_ZONE, K_U16, 0, X_ZONE, 0 },
    { REG_X_STATUS, K_U16, 0, X_STATUS, 0 },
    { REG_X_REASONS, K_U16, 0, X_REASONS, 0 },
    { REG_X_MD, K_F32, 0, X_MD, 0 },
    { REG_X_MD_TIME, K_U32, 0, X_MD_TIME, 0 },
    { REG_X_PREV_MD, K_F32, 0, X_PREV_MD, 0 },
    { REG_X_PREV_MD_TIME, K_U32, 0, X_PREV_MD_TIME, 0 },
    { REG_X_CREDIT_KWH, K_F32, 0, X_CREDIT_KWH, 0 },
    { REG_X_MONTH_ACT, K_F32, 0, X_MONTH_ACT, 0 },
    { REG_X_MONTH_REACT, K_F32, 0, X_MONTH_REACT, 0 },
    { REG_X_QUADRANT + 0, K_F32, 0, X_QUADRANT, 0 },
    { REG_X_QUADRANT + 2, K_F32, 0, X_QUADRANT, 1 },
    { REG_X_QUADRANT + 4, K_F32, 0, X_QUADRANT, 2 },
    { REG_X_QUADRANT + 6, K_F32, 0, X_QUADRANT, 3 },
    { REG_X_PROG_COUNT, K_U32, 0, X_PROG_COUNT, 0 },
    { REG_X_PROG_TIME, K_U32, 0, X_PROG_TIME, 0 },
    { REG_X_SIM_SPEED, K_F32, 0, X_SIM_SPEED, 0 },

    { REG_X_SLAVE, K_U16, 1, X_SLAVE, 0 },
    { REG_X_BAUD, K_U16, 1, X_BAUD, 0 },
    { REG_X_PARITY, K_U16, 1, X_PARITY, 0 },
    { REG_X_WORD_ORDER, K_U16, 1, X_WORD_ORDER, 0 },
    { REG_X_UPLINK, K_U16, 1, X_UPLINK, 0 },
    { REG_X_PASSWORD, K_U16, 1, X_PASSWORD, 0 },
    { REG_X_COMB_ACT, K_U16, 1, X_COMB_ACT, 0 },
    { REG_X_COMB_REACT, K_U16, 1, X_COMB_REACT, 0 },

    { REG_X_YEAR + 0, K_U16, 1, X_DATE, 0 },
    { REG_X_YEAR + 1, K_U16, 1, X_DATE, 1 },
    { REG_X_YEAR + 2, K_U16, 1, X_DATE, 2 },
    { REG_X_YEAR + 3, K_U16, 1, X_DATE, 3 },
    { REG_X_YEAR + 4, K_U16, 1, X_DATE, 4 },
    { REG_X_YEAR + 5, K_U16, 1, X_DATE, 5 },
    { REG_X_WEEKDAY, K_U16, 0, X_WEEKDAY, 0 },
    { REG_X_EPOCH, K_U32, 1, X_EPOCH, 0 },

    { REG_X_DEM_PERIOD, K_U16, 1, X_DEM_PERIOD, 0 },
    { REG_X_DEM_SLIDE, K_U16, 1, X_DEM_SLIDE, 0 },
    { REG_X_MD_RESET, K_U16, 1, X_MD_RESET, 0 },

    { REG_X_PREPAID, K_U16, 1, X_PREPAID, 0 },
    { REG_X_RELAY, K_U16, 1, X_RELAY, 0 },
    { REG_X_CREDIT, K_U32, 1, X_CREDIT, 0 },
    { REG_X_TOPUP, K_U32, 1, X_TOPUP, 0 },
    { REG_X_ALARM, K_U32, 1, X_ALARM, 0 },
    { REG_X_LIMIT, K_U32, 1, X_LIMIT, 0 },
    { REG_X_DELAY, K_U16, 1, X_DELAY, 0 },
};

static unsigned width(unsigned kind)
{
    return kind == K_U16 ? 1u : kind == K_U64 ? 4u : 2u;
}

/* The value covering register a, if any. */
static bool lookup(uint32_t a, struct reg *r)
{
    if ((a >= REG_U && a < REG_F + 2) || a == REG_DEMAND ||
        a == REG_DEMAND + 1) {
        *r = (struct reg){ (uint16_t)(a & ~1u), K_F32, 0, M_MEAS, 0 };
        return true;
    }
    if (a >= REG_ACT && a < REG_MANUAL_END) {
        *r = (struct reg){ (uint16_t)(a & ~1u), K_F32, 0, M_ENERGY, 0 };
        return true;
    }
    if (a >= REG_X_NZONES && a < REG_X_TARIFF_END) {
        *r = (struct reg){ (uint16_t)a, K_U16, 1, X_NZONES, 0 };
        if (a >= REG_X_ZONE_TABLE) {
            unsigned off = a - REG_X_ZONE_TABLE;
            unsigned z = off / REG_X_ZONE_STRIDE, j = off % REG_X_ZONE_STRIDE;
            if (j == 0) {
                r->id = X_NPERIODS;
                r->arg = (uint8_t)z;
            } else {
                r->id = (j - 1) % 2 ? X_PERIOD_RATE : X_PERIOD_START;
                r->arg = (uint8_t)(z * TARIFF_PERIODS + (j - 1) / 2);
            }
        } else if (a > REG_X_NZONES) {
            r->id = X_ZONE_START;
            r->arg = (uint8_t)(a - REG_X_ZONE_START);
        }
        return true;
    }
    for (unsigned k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        if (a >= ext[k].addr && a < ext[k].addr + width(ext[k].kind)) {
            *r = ext[k];
            return true;
        }
    }
    return false;
}

static float kwh(int64_t mj)
{
    return (float)((double)mj / (double)ENERGY_MJ_PER_KWH);
}

static float measure(const struct meter *m, uint16_t a)
{
    const struct meter_measure *v = &m->meas;

    switch (a) {
    case REG_U: return v->u;
    case REG_I: return v->i;
    case REG_P: return v->p;
    case REG_Q: return v->q;
    case REG_S: return v->s;
    case REG_PF: return v->pf;
    case REG_F: return v->f;
    default: return v->demand;     /* REG_DEMAND */
    }
}

/* REG_ACT..REG_MANUAL_END: energies, kWh / kvarh (errata:
 * docs/registers.md). */
static float manual_energy(const struct meter *m, uint16_t a)
{
    unsigned ca = m->set.comb_active, cr = m->set.comb_reactive;
    struct energy_set tot;
    struct billing_month cur;
    const struct billing_month *h = m->billing.prev;

    if (a < REG_ACT_RATE(1)) {
        energy_total(&m->energy, &tot);
        switch (a) {
        case REG_ACT: return kwh(energy_comb_active(&tot, ca));
        case REG_ACT_IMP: return kwh(tot.v[EN_IMP]);
        case REG_ACT_EXP: return kwh(tot.v[EN_EXP]);
        case REG_REACT: return kwh(energy_comb_reactive(&tot, cr));
        case REG_REACT_IMP: return kwh(energy_reactive_imp(&tot));
        default: return kwh(energy_reactive_exp(&tot));  /* REG_REACT_EXP */
        }
    }
    if (a < REG_REACT_RATE(1))
        return kwh(energy_comb_active(
            &m->energy.rate[(a - REG_ACT_RATE(1)) / 2], ca));
    if (a < REG_PREV_ACT(1))
        return kwh(energy_comb_reactive(
            &m->energy.rate[(a - REG_REACT_RATE(1)) / 2], cr));
    if (a < REG_PREV_REACT_A)
        return kwh(h[(a - REG_PREV_ACT(1)) / 2].active[0]);
    /* erratum: each of the two listings serves its own rows
     * (REG_PREV_REACT) */
    if (a < REG_PREV_REACT_B)
        return kwh(h[(a - REG_PREV_REACT_A) / 2].reactive[0]);
    if (a < REG_RATE_BLOCK)
        return kwh(h[(a - REG_PREV_REACT_B) / 2 + 6].reactive[0]);
    /* by rate (REG_RATE): active then reactive, each this month then
     * previous 1..12 */
    unsigned off = a - (unsigned)REG_RATE_BLOCK;
    unsigned rate = off / REG_RATE_STRIDE + 1u;
    bool reactive = off % REG_RATE_STRIDE >= REG_RATE_REACTIVE;
    unsigned n = off % REG_RATE_REACTIVE / 2u;
    const struct billing_month *bm = &h[n ? n - 1 : 0];
    if (n == 0) {
        billing_current(&m->billing, &m->energy, ca, cr, &cur);
        bm = &cur;
    }
    return kwh(reactive ? bm->reactive[rate] : bm->active[rate]);
}

static uint32_t u32_time(int64_t t)
{
    return t < 0 ? 0u : t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* The extension block's information (read-only) values. */
static void value_info(const struct meter *m, const struct reg *r, float *f,
                       uint64_t *u)
{
    const struct meter_settings *s = &m->set;
    struct rtc_date d;
    struct energy_set set;
    struct billing_month cur;

    switch (r->id) {
    case X_MAP_VERSION: *u = MAP_VERSION; break;
    case X_FW_VERSION: *u = FW_VERSION; break;
    case X_SERIAL: *u = m->serial; break;
    case X_PULSES: *u = m->pulse.count; break;
    case X_RATE: *u = m->rate; break;
    case X_ZONE:
        rtc_to_date(m->rtc.now, &d);
        *u = tariff_zone_at(&s->tariff, &d) + 1u;
        break;
    case X_STATUS:
        *u = (m->relay_closed ? 1u : 0u) | (m->prepaid.alarm ? 2u : 0u);
        break;
    case X_REASONS: *u = m->prepaid.reasons; break;
    case X_MD: *f = (float)m->demand.max; break;
    case X_MD_TIME: *u = u32_time(m->demand.max_t); break;
    case X_PREV_MD: *f = (float)m->demand.prev_max; break;
    case X_PREV_MD_TIME: *u = u32_time(m->demand.prev_max_t); break;
    case X_CREDIT_KWH: *f = kwh(m->prepaid.credit); break;
    case X_MONTH_ACT:
    case X_MONTH_REACT:
        billing_current(&m->billing, &m->energy, s->comb_active,
                        s->comb_reactive, &cur);
        *f = kwh(r->id == X_MONTH_ACT ? cur.active[0] : cur.reactive[0]);
        break;
    case X_QUADRANT:
        energy_total(&m->energy, &set);
        *f = kwh(set.v[EN_Q1 + r->arg]);
        break;
    case X_PROG_COUNT: *u = m->prog_count; break;
    case X_PROG_TIME: *u = u32_time(m->prog_time); break;
    case X_SIM_SPEED: *f = m->sim_speed; break;
    default: break;
    }
}

/* The tariff tables' values. */
static uint64_t value_tariff(const struct tariff_table *t,
                             const struct reg *r)
{
    const struct tariff_period *p =
        &t->zone[r->arg / TARIFF_PERIODS].period[r->arg % TARIFF_PERIODS];

    switch (r->id) {
    case X_NZONES: return t->nzones;
    case X_ZONE_START:
        return t->zone[r->arg].month * 100u + t->zone[r->arg].day;
    case X_NPERIODS: return t->zone[r->arg].nperiods;
    case X_PERIOD_START: return p->hour * 100u + p->min;
    default: return p->rate;        /* X_PERIOD_RATE */
    }
}

/* The parameters' values (set-up, clock, commands). */
static uint64_t value_param(const struct meter *m, const struct reg *r)
{
    const struct meter_settings *s = &m->set;
    struct rtc_date d;

    switch (r->id) {
    case X_SLAVE: return s->comm.slave;
    case X_BAUD: return s->comm.baud;
    case X_PARITY: return s->comm.parity;
    case X_WORD_ORDER: return s->comm.word_order;
    case X_UPLINK: return s->comm.uplink;
    case X_PASSWORD: return s->password;
    case X_COMB_ACT: return s->comb_active;
    case X_COMB_REACT: return s->comb_reactive;
    case X_DATE:
    case X_WEEKDAY: {
        rtc_to_date(m->rtc.now, &d);
        const uint32_t fields[7] = { (uint32_t)d.year, d.month, d.day,
                                     d.hour, d.min, d.sec, d.wday };
        return fields[r->id == X_WEEKDAY ? 6 : r->arg];
    }
    case X_EPOCH: return u32_time(m->rtc.now);
    case X_DEM_PERIOD: return s->demand.period_min;
    case X_DEM_SLIDE: return s->demand.slide_min;
    case X_PREPAID: return s->prepaid.enabled;
    case X_RELAY: return m->relay_closed ? 1u : 0u;
    case X_CREDIT: return prepaid_credit_wh(&m->prepaid);
    case X_ALARM: return s->prepaid.alarm_wh;
    case X_LIMIT: return s->prepaid.limit_w;
    case X_DELAY: return s->prepaid.delay_s;
    default: return 0;              /* X_MD_RESET, X_TOPUP read 0 */
    }
}

/* A register's value: floats in *f, integers in *u. */
static void value(const struct meter *m, const struct reg *r, float *f,
                  uint64_t *u)
{
    *f = 0.0f;
    *u = 0;
    if (r->id == M_MEAS)
        *f = measure(m, r->addr);
    else if (r->id == M_ENERGY)
        *f = manual_energy(m, r->addr);
    else if (r->id < X_SLAVE)
        value_info(m, r, f, u);
    else if (r->id >= X_NZONES)
        *u = value_tariff(&m->set.tariff, r);
    else
        *u = value_param(m, r);
}

static uint16_t swap16(uint16_t w)
{
    return (uint16_t)(w << 8 | w >> 8);
}

static void put_float(uint16_t *o, float f, unsigned order)
{
    union { float f; uint32_t u; } b = { .f = f };
    uint16_t hi = (uint16_t)(b.u >> 16), lo = (uint16_t)b.u;

    switch (order) {
    case METER_CDAB: o[0] = lo; o[1] = hi; break;
    case METER_BADC: o[0] = swap16(hi); o[1] = swap16(lo); break;
    case METER_DCBA: o[0] = swap16(lo); o[1] = swap16(hi); break;
    default: o[0] = hi; o[1] = lo; break;
    }
}

/* Walk [addr, addr + count): every register mapped, no value cut. */
static int check_span(uint16_t addr, uint16_t count, bool write)
{
    uint32_t end = (uint32_t)addr + count;
    struct reg r;

    for (uint32_t a = addr; a < end; a += width(r.kind)) {
        if (!lookup(a, &r) || r.addr != a || a + width(r.kind) > end)
            return METER_EX_ILLEGAL_ADDRESS;
        if (write && !r.rw)
            return METER_EX_ILLEGAL_ADDRESS;
    }
    return METER_EX_NONE;
}

int regmap_read(const struct meter *m, uint16_t addr, uint16_t count,
                uint16_t *out)
{
    uint32_t end = (uint32_t)addr + count;
    struct reg r;
    float f;
    uint64_t u;
    int ex;

    if (count < 1 || count > REGMAP_READ_MAX)
        return METER_EX_ILLEGAL_VALUE;
    ex = check_span(addr, count, false);
    if (ex)
        return ex;
    for (uint32_t a = addr; a < end; a += width(r.kind)) {
        uint16_t *o = out + (a - addr);
        lookup(a, &r);
        value(m, &r, &f, &u);
        switch (r.kind) {
        case K_F32: put_float(o, f, m->set.comm.word_order); break;
        case K_U16: o[0] = (uint16_t)u; break;
        case K_U32: o[0] = (uint16_t)(u >> 16); o[1] = (uint16_t)u; break;
        default:
            for (unsigned k = 0; k < 4; k++)
                o[k] = (uint16_t)(u >> (48 - 16 * k));
            break;
        }
    }
    return METER_EX_NONE;
}

int regmap_float(const struct meter *m, uint16_t addr, float *out)
{
    struct reg r;
    uint64_t u;

    if (!lookup(addr, &r) || r.addr != addr || r.kind != K_F32)
        return METER_EX_ILLEGAL_ADDRESS;
    value(m, &r, out, &u);
    return METER_EX_NONE;
}

/* A write in preparation: the new set-up and the commands it carries. */
struct staged {
    struct meter_settings set;
    struct rtc_date date;       /* the clock fields, if date_set */
    int64_t epoch;              /* the clock, if epoch_set */
    bool date_set, epoch_set;
    bool md_reset;
    bool credit_set;
    uint32_t credit_wh;
    uint32_t topup_wh;
    int relay;                  /* -1 none, 0 open, 1 close */
};

static bool hhmm_ok(uint32_t v)
{
    return v / 100 <= 23 && v % 100 <= 59;
}

/* A month/day that some year has (February 29th included). */
static bool mmdd_ok(uint32_t v)
{
    uint32_t mo = v / 100, d = v % 100;
    return mo >= 1 && mo <= 12 && d >= 1 && d <= rtc_month_days(2000, mo);
}

/* The communication and metering set-up. */
static int stage_setup(struct meter_settings *s, unsigned id, uint32_t v)
{
    switch (id) {
    case X_SLAVE:
        if (v < 1 || v > METER_SLAVE_MAX) return METER_EX_ILLEGAL_VALUE;
        s->comm.slave = (uint8_t)v;
        break;
    case X_BAUD:
        if (!settings_baud_ok(v)) return METER_EX_ILLEGAL_VALUE;
        s->comm.baud = (uint16_t)v;
        break;
    case X_PARITY:
        if (v > METER_PARITY_EVEN) return METER_EX_ILLEGAL_VALUE;
        s->comm.parity = (uint8_t)v;
        break;
    case X_WORD_ORDER:
        if (v > METER_DCBA) return METER_EX_ILLEGAL_VALUE;
        s->comm.word_order = (uint8_t)v;
        break;
    case X_UPLINK:
        if (v > METER_UPLINK_MQTT) return METER_EX_ILLEGAL_VALUE;
        s->comm.uplink = (uint8_t)v;
        break;
    case X_PASSWORD:
        if (v > 9999) return METER_EX_ILLEGAL_VALUE;
        s->password = (uint16_t)v;
        break;
    case X_COMB_ACT:
        if (energy_comb_check(v, 2)) return METER_EX_ILLEGAL_VALUE;
        s->comb_active = (uint8_t)v;
        break;
    default:        /* X_COMB_REACT */
        if (energy_comb_check(v, 4)) return METER_EX_ILLEGAL_VALUE;
        s->comb_reactive = (uint8_t)v;
        break;
    }
    return METER_EX_NONE;
}

/* The clock: a date field, or the epoch. */
static int stage_clock(struct staged *st, const struct reg *r, uint32_t v)
{
    static const uint32_t date_max[6] = { RTC_YEAR_MAX, 12, 31, 23, 59, 59 };
    static const uint32_t date_min[6] = { RTC_YEAR_MIN, 1, 1, 0, 0, 0 };

    if (r->id == X_EPOCH) {
        if ((int64_t)v > RTC_MAX) return METER_EX_ILLEGAL_VALUE;
        st->epoch = v;
        st->epoch_set = true;
        return METER_EX_NONE;
    }
    if (v < date_min[r->arg] || v > date_max[r->arg])
        return METER_EX_ILLEGAL_VALUE;
    uint8_t *fields[6] = { NULL, &st->date.month, &st->date.day,
                           &st->date.hour, &st->date.min, &st->date.sec };
    if (r->arg == 0)
        st->date.year = (int32_t)v;
    else
        *fields[r->arg] = (uint8_t)v;
    st->date_set = true;
    return METER_EX_NONE;
}

/* Demand and prepaid: set-up and commands. */
static int stage_control(struct staged *st, unsigned id, uint32_t v)
{
    struct meter_settings *s = &st->set;

    switch (id) {
    case X_DEM_PERIOD:
        if (v < 1 || v > 60) return METER_EX_ILLEGAL_VALUE;
        s->demand.period_min = (uint8_t)v;
        break;
    case X_DEM_SLIDE:
        if (v < 1 || v > 60) return METER_EX_ILLEGAL_VALUE;
        s->demand.slide_min = (uint8_t)v;
        break;
    case X_MD_RESET:
        if (v > 1) return METER_EX_ILLEGAL_VALUE;
        st->md_reset = st->md_reset || v == 1;
        break;
    case X_PREPAID:
        if (v > 1) return METER_EX_ILLEGAL_VALUE;
        s->prepaid.enabled = (uint8_t)v;
        break;
    case X_RELAY:
        if (v > 1) return METER_EX_ILLEGAL_VALUE;
        st->relay = (int)v;
        break;
    case X_CREDIT:
        st->credit_set = true;
        st->credit_wh = v;
        break;
    case X_TOPUP: st->topup_wh = v; break;
    case X_ALARM: s->prepaid.alarm_wh = v; break;
    case X_LIMIT: s->prepaid.limit_w = v; break;
    case X_DELAY:
        if (v > PREPAID_DELAY_MAX) return METER_EX_ILLEGAL_VALUE;
        s->prepaid.delay_s = (uint16_t)v;
        break;
    default:
        return METER_EX_ILLEGAL_ADDRESS;
    }
    return METER_EX_NONE;
}

/* The tariff tables. */
static int stage_tariff(struct tariff_table *t, const struct reg *r,
                        uint32_t v)
{
    struct tariff_period *p =
        &t->zone[r->arg / TARIFF_PERIODS].period[r->arg % TARIFF_PERIODS];

    switch (r->id) {
    case X_NZONES:
        if (v < 1 || v > TARIFF_ZONES) return METER_EX_ILLEGAL_VALUE;
        t->nzones = (uint8_t)v;
        break;
    case X_ZONE_START:
        if (!mmdd_ok(v)) return METER_EX_ILLEGAL_VALUE;
        t->zone[r->arg].month = (uint8_t)(v / 100);
        t->zone[r->arg].day = (uint8_t)(v % 100);
        break;
    case X_NPERIODS:
        if (v < 1 || v > TARIFF_PERIODS) return METER_EX_ILLEGAL_VALUE;
        t->zone[r->arg].nperiods = (uint8_t)v;
        break;
    case X_PERIOD_START:
        if (!hhmm_ok(v)) return METER_EX_ILLEGAL_VALUE;
        p->hour = (uint8_t)(v / 100);
        p->min = (uint8_t)(v % 100);
        break;
    default:        /* X_PERIOD_RATE */
        if (v < TARIFF_SHARP || v > TARIFF_VALLEY)
            return METER_EX_ILLEGAL_VALUE;
        p->rate = (uint8_t)v;
        break;
    }
    return METER_EX_NONE;
}

/* Stage one written value; METER_EX_ILLEGAL_VALUE if out of its range. */
static int stage(struct staged *st, const struct reg *r, uint32_t v)
{
    if (r->id >= X_SLAVE && r->id <= X_COMB_REACT)
        return stage_setup(&st->set, r->id, v);
    if (r->id == X_DATE || r->id == X_EPOCH)
        return stage_clock(st, r, v);
    if (r->id >= X_NZONES)
        return stage_tariff(&st->set.tariff, r, v);
    return stage_control(st, r->id, v);
}

int regmap_write(struct meter *m, uint16_t addr, uint16_t count,
                 const uint16_t *in, int64_t now)
{
    uint32_t end = (uint32_t)addr + count;
    struct staged st = { .set = m->set, .relay = -1 };
    int64_t credit, when = m->rtc.now;
    struct reg r;
    int ex;

    if (count < 1 || count > REGMAP_WRITE_MAX)
        return METER_EX_ILLEGAL_VALUE;
    ex = check_span(addr, count, true);
    if (ex)
        return ex;
    rtc_to_date(m->rtc.now, &st.date);
    for (uint32_t a = addr; a < end; a += width(r.kind)) {
        const uint16_t *w = in + (a - addr);
        lookup(a, &r);
        uint32_t v = r.kind == K_U16 ? w[0] : (uint32_t)w[0] << 16 | w[1];
        ex = stage(&st, &r, v);
        if (ex)
            return ex;
    }
    /* the whole: set-up, clock, credit, relay */
    if (settings_check(&st.set))
        return METER_EX_ILLEGAL_VALUE;
    if (st.date_set && !st.epoch_set &&
        rtc_from_date(&st.date, &when) != CORE_OK)
        return METER_EX_ILLEGAL_VALUE;
    if (st.epoch_set)
        when = st.epoch;
    credit = st.credit_set ? (int64_t)st.credit_wh * ENERGY_MJ_PER_WH
                           : m->prepaid.credit;
    credit += (int64_t)st.topup_wh * ENERGY_MJ_PER_WH;
    if (credit > PREPAID_CREDIT_MAX_MJ)
        return METER_EX_ILLEGAL_VALUE;
    if (st.relay == 1 && st.set.prepaid.enabled && credit <= 0)
        return METER_EX_ILLEGAL_VALUE;

    /* install: nothing below can fail any more */
    control_install(m, &st.set, credit);
    if (st.relay >= 0)
        control_relay_command(m, st.relay == 1);
    if (st.md_reset)
        control_reset_max_demand(m);
    if (st.date_set || st.epoch_set)
        control_set_time(m, when);
    m->prog_count++;
    m->prog_time = now;
    control_changed(m);
    return METER_EX_NONE;
}
