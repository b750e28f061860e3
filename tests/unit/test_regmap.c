/*
 * The register image: every address of the manual's sections 6.2 and 6.3
 * with its value and unit in all four word orders (the reference is the
 * manual's table transcribed here, errata corrected as docs/registers.md
 * says), block reads, the exceptions, and the extension block's writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/meter.h"
#include "meter_regs.h"
#include "core/meter_host.h"

#define T0 INT64_C(1773576000)      /* 2026-03-15 12:00:00, a Sunday */
#define KWH INT64_C(3600000000)     /* mJ */

struct expect {
    uint16_t addr;
    double value;                   /* V, A, W, var, VA, Hz, kWh, kvarh */
};

static struct expect table[200];
static size_t ntable;

static void add(uint16_t addr, double v)
{
    table[ntable++] = (struct expect){ addr, v };
}

/* Lifetime kWh of each quantity by rate, this month's start, history. */
static double imp_[4], exp_[4], q_[4][4], start_imp[4], start_q1[4];

/* A meter whose every manual register holds a different value, and the
 * reference table for it. */
static void prepare(struct meter *m)
{
    assert_int_equal(meter_init(m, NULL, NULL, T0), CORE_OK);
    for (int r = 0; r < 4; r++) {
        imp_[r] = 1000 + 100 * r;
        exp_[r] = 10 + r;
        for (int k = 0; k < 4; k++)
            q_[r][k] = 200 + 20 * r + k;
        start_imp[r] = 900 + 90 * r;
        start_q1[r] = 150 + 5 * r;
        struct energy_set *s = &m->energy.rate[r];
        s->v[EN_IMP] = (int64_t)imp_[r] * KWH;
        s->v[EN_EXP] = (int64_t)exp_[r] * KWH;
        for (int k = 0; k < 4; k++)
            s->v[EN_Q1 + k] = (int64_t)q_[r][k] * KWH;
        m->billing.start[r] = *s;
        m->billing.start[r].v[EN_IMP] = (int64_t)start_imp[r] * KWH;
        m->billing.start[r].v[EN_Q1] = (int64_t)start_q1[r] * KWH;
    }
    for (int n = 0; n < 12; n++)
        for (int k = 0; k <= 4; k++) {
            m->billing.prev[n].active[k] = (5000 + 100 * n + k) * KWH;
            m->billing.prev[n].reactive[k] = (3000 + 100 * n + k) * KWH;
        }
    m->prepaid.credit = 1000 * INT64_C(3600000);       /* 1 kWh */
    m->meas = (struct meter_measure){ 231.5f, 12.25f, 2500.5f, -300.25f,
                                      2600.75f, 0.96f, 49.98f, 2100.5f };

    /* section 6.2 */
    ntable = 0;
    add(0x0030, 231.5); add(0x0032, 12.25); add(0x0034, 2500.5);
    add(0x0036, -300.25); add(0x0038, 2600.75); add(0x003A, 0.96);
    add(0x003C, 49.98); add(0x0070, 2100.5);
    /* section 6.3: totals */
    double ti = 0, te = 0, tq[4] = { 0 };
    for (int r = 0; r < 4; r++) {
        ti += imp_[r];
        te += exp_[r];
        for (int k = 0; k < 4; k++)
            tq[k] += q_[r][k];
    }
    add(0x0080, ti + te);
    add(0x0082, ti);
    add(0x0084, te);
    add(0x0086, tq[0] + tq[1] + tq[2] + tq[3]);
    add(0x0088, tq[0] + tq[1]);
    add(0x008A, tq[2] + tq[3]);
    /* total sharp, peak, flat, valley active; then reactive */
    for (int r = 0; r < 4; r++) {
        add((uint16_t)(0x008C + 2 * r), imp_[r] + exp_[r]);
        add((uint16_t)(0x0094 + 2 * r),
            q_[r][0] + q_[r][1] + q_[r][2] + q_[r][3]);
    }
    /* combined active previous 1..12 */
    for (int n = 1; n <= 12; n++)
        add((uint16_t)(0x009C + 2 * (n - 1)), 5000 + 100 * (n - 1));
    /* combined reactive (erratum: labelled active): 0x00B4..0x00C2 are
     * previous 1..8, 0x00C4..0x00CE previous 7..12 as the manual's
     * second listing says */
    for (int n = 1; n <= 8; n++)
        add((uint16_t)(0x00B4 + 2 * (n - 1)), 3000 + 100 * (n - 1));
    for (int n = 7; n <= 12; n++)
        add((uint16_t)(0x00C4 + 2 * (n - 7)), 3000 + 100 * (n - 1));
    /* by rate: this month, previous 1..12 (0x00EC is previous 1) */
    static const uint16_t act_base[4] = { 0x00D0, 0x0104, 0x0138, 0x016C };
    static const uint16_t react_base[4] = { 0x00EA, 0x011E, 0x0152, 0x0186 };
    for (int r = 0; r < 4; r++) {
        /* only import and QI moved since the month began */
        add(act_base[r], imp_[r] - start_imp[r]);
        add(react_base[r], q_[r][0] - start_q1[r]);
        for (int n = 1; n <= 12; n++) {
            add((uint16_t)(act_base[r] + 2 * n), 5000 + 100 * (n - 1) + r + 1);
            add((uint16_t)(react_base[r] + 2 * n),
                3000 + 100 * (n - 1) + r + 1);
        }
    }
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The float of two registers in a word order, decoded from the bytes. */
static uint32_t decode(const uint16_t *w, unsigned order)
{
    uint8_t b0 = (uint8_t)(w[0] >> 8), b1 = (uint8_t)w[0];
    uint8_t b2 = (uint8_t)(w[1] >> 8), b3 = (uint8_t)w[1];
    uint8_t A, B, C, D;

    switch (order) {
    case METER_ABCD: A = b0; B = b1; C = b2; D = b3; break;
    case METER_CDAB: C = b0; D = b1; A = b2; B = b3; break;
    case METER_BADC: B = b0; A = b1; D = b2; C = b3; break;
    default:         D = b0; C = b1; B = b2; A = b3; break;
    }
    return (uint32_t)A << 24 | (uint32_t)B << 16 | (uint32_t)C << 8 | D;
}

static void set_word_order(struct meter *m, unsigned order)
{
    uint16_t v = (uint16_t)order;
    assert_int_equal(meter_reg_write(m, REG_X_WORD_ORDER, 1, &v, T0), 0);
    assert_int_equal(meter_comm(m)->word_order, order);
}

static void test_manual_map_all_orders(void **state)
{
    static struct meter m;

    prepare(&m);
    assert_int_equal(ntable, 8 + 144);
    for (unsigned order = 0; order < 4; order++) {
        set_word_order(&m, order);
        for (size_t k = 0; k < ntable; k++) {
            uint16_t w[2];
            float f;
            assert_int_equal(meter_reg_read(&m, table[k].addr, 2, w), 0);
            if (decode(w, order) != bits((float)table[k].value))
                fail_msg("0x%04X order %u: %08x, want %g", table[k].addr,
                         order, decode(w, order), table[k].value);
            assert_int_equal(meter_reg_float(&m, table[k].addr, &f), 0);
            assert_true(f == (float)table[k].value);
        }
        /* block reads give the same words */
        static uint16_t block[0x120], one[2];
        assert_int_equal(meter_reg_read(&m, 0x0030, 14, block), 0);
        assert_int_equal(meter_reg_read(&m, 0x0080, 124, block), 0);
        assert_int_equal(meter_reg_read(&m, 0x00FC, 82, block + 124), 0);
        assert_int_equal(meter_reg_read(&m, 0x014E, 82, block + 206), 0);
        for (uint16_t a = 0x0080; a < 0x01A0; a += 2) {
            meter_reg_read(&m, a, 2, one);
            assert_true(one[0] == block[a - 0x80] &&
                        one[1] == block[a - 0x80 + 1]);
        }
    }
}

/* Every register of 0x0000..0xFFFF is either in the table, the
 * extension block, or answers 02. */
static void test_unmapped_everywhere(void **state)
{
    static struct meter m;
    uint16_t w[4];

    prepare(&m);
    for (uint32_t a = 0; a <= 0xFFFF; a++) {
        bool manual = (a >= 0x30 && a < 0x3E) || a == 0x70 || a == 0x71 ||
                      (a >= 0x80 && a < 0x1A0);
        bool ext = (a >= 0x1000 && a < 0x1028) || (a >= 0x1100 && a < 0x1108) ||
                   (a >= 0x1110 && a < 0x1119) || (a >= 0x1120 && a < 0x1123) ||
                   (a >= 0x1130 && a < 0x113B) || (a >= 0x1200 && a < 0x1249);
        int ex = meter_reg_read(&m, (uint16_t)a, 1, w);
        if (!manual && !ext && ex != METER_EX_ILLEGAL_ADDRESS)
            fail_msg("0x%04X: %d, want 02", a, ex);
        if (manual)     /* a single register of a float: cut */
            assert_int_equal(ex, METER_EX_ILLEGAL_ADDRESS);
    }
}

static void test_read_exceptions(void **state)
{
    static const struct { uint16_t addr, count; int ex; } cases[] = {
        { 0x0030, 0, 3 }, { 0x0030, 126, 3 }, { 0x0080, 125, 2 },
        { 0x0080, 124, 0 }, { 0x0000, 2, 2 }, { 0x002E, 2, 2 },
        { 0x002E, 4, 2 }, { 0x0031, 2, 2 }, { 0x0030, 1, 2 },
        { 0x0030, 3, 2 }, { 0x0030, 14, 0 }, { 0x0030, 16, 2 },
        { 0x003C, 2, 0 }, { 0x003E, 2, 2 }, { 0x006E, 2, 2 },
        { 0x0070, 2, 0 }, { 0x0070, 4, 2 }, { 0x0071, 1, 2 },
        { 0x007E, 4, 2 }, { 0x019E, 2, 0 }, { 0x019E, 4, 2 },
        { 0x019F, 1, 2 }, { 0x01A0, 2, 2 }, { 0x0FFF, 2, 2 },
        { 0x1000, 1, 0 }, { 0x1000, 0x26, 0 }, { 0x1000, 0x27, 2 },
        { 0x1003, 1, 2 }, { 0x1004, 2, 2 }, { 0x1004, 4, 0 },
        { 0x1005, 3, 2 }, { 0x100C, 1, 2 }, { 0x1100, 8, 0 },
        { 0x1100, 9, 2 }, { 0x1108, 1, 2 }, { 0x1110, 9, 0 },
        { 0x1110, 8, 2 }, { 0x1118, 1, 2 }, { 0x1120, 3, 0 },
        { 0x1130, 11, 0 }, { 0x1133, 2, 2 }, { 0x1200, 73, 0 },
        { 0x1200, 74, 2 }, { 0x1249, 1, 2 }, { 0xFFFE, 2, 2 },
        { 0xFFFF, 1, 2 }, { 0xFFFF, 125, 2 },
    };
    static struct meter m;
    static uint16_t out[130];

    prepare(&m);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int ex = meter_reg_read(&m, cases[k].addr, cases[k].count, out);
        if (ex != cases[k].ex)
            fail_msg("read 0x%04X x %u: %d, want %d", cases[k].addr,
                     cases[k].count, ex, cases[k].ex);
    }
    float f;
    assert_int_equal(meter_reg_float(&m, 0x0031, &f), 2);
    assert_int_equal(meter_reg_float(&m, 0x1000, &f), 2);
    assert_int_equal(meter_reg_float(&m, 0x003E, &f), 2);
    assert_int_equal(meter_reg_float(&m, REG_X_MD, &f), 0);
}

/* Refused writes: the code, and nothing changed at all. */
static void test_write_exceptions(void **state)
{
    static const struct { uint16_t addr; uint16_t n; uint16_t v[4]; int ex; }
    cases[] = {
        { 0x0030, 2, { 0, 0 }, 2 }, { 0x0080, 2, { 0, 0 }, 2 },
        { 0x1000, 1, { 1 }, 2 }, { 0x1008, 1, { 1 }, 2 },
        { 0x1100, 0, { 1 }, 3 }, { 0x1108, 1, { 1 }, 2 },
        { 0x1116, 1, { 1 }, 2 }, { 0x1117, 1, { 0 }, 2 },
        { 0x1118, 1, { 0 }, 2 }, { 0x1115, 3, { 0, 0, 0 }, 2 },
        { 0x1132, 1, { 0 }, 2 }, { 0x1249, 1, { 1 }, 2 },
        /* bad values */
        { REG_X_SLAVE, 1, { 0 }, 3 }, { REG_X_SLAVE, 1, { 248 }, 3 },
        { REG_X_BAUD, 1, { 19200 }, 3 }, { REG_X_BAUD, 1, { 0 }, 3 },
        { REG_X_PARITY, 1, { 3 }, 3 }, { REG_X_WORD_ORDER, 1, { 4 }, 3 },
        { REG_X_UPLINK, 1, { 2 }, 3 }, { REG_X_PASSWORD, 1, { 10000 }, 3 },
        { REG_X_COMB_ACT, 1, { 0x03 }, 3 }, { REG_X_COMB_ACT, 1, { 0x10 }, 3 },
        { REG_X_COMB_REACT, 1, { 0x0C }, 3 },
        { REG_X_COMB_REACT, 1, { 0x100 }, 3 },
        { REG_X_YEAR, 1, { 1969 }, 3 }, { REG_X_YEAR, 1, { 2100 }, 3 },
        { REG_X_YEAR + 1, 1, { 0 }, 3 }, { REG_X_YEAR + 1, 1, { 13 }, 3 },
        { REG_X_YEAR + 2, 1, { 0 }, 3 }, { REG_X_YEAR + 2, 1, { 32 }, 3 },
        { REG_X_YEAR + 1, 2, { 2, 30 }, 3 }, { REG_X_YEAR + 3, 1, { 24 }, 3 },
        { REG_X_YEAR + 4, 1, { 60 }, 3 }, { REG_X_YEAR + 5, 1, { 60 }, 3 },
        { REG_X_EPOCH, 2, { 0xF486, 0x5800 }, 3 },  /* 4102444800: 2100 */
        { REG_X_DEM_PERIOD, 1, { 0 }, 3 }, { REG_X_DEM_PERIOD, 1, { 61 }, 3 },
        { REG_X_DEM_SLIDE, 1, { 7 }, 3 }, { REG_X_DEM_SLIDE, 1, { 0 }, 3 },
        { REG_X_DEM_PERIOD, 2, { 20, 15 }, 3 },
        { REG_X_MD_RESET, 1, { 2 }, 3 }, { REG_X_PREPAID, 1, { 2 }, 3 },
        { REG_X_RELAY, 1, { 2 }, 3 }, { REG_X_DELAY, 1, { 3601 }, 3 },
        { REG_X_TOPUP, 2, { 0xFFFF, 0xFFFF }, 3 },  /* beyond the max */
        { REG_X_CREDIT, 4, { 0xFFFF, 0xFFFF, 0, 1 }, 3 },
        { REG_X_NZONES, 1, { 0 }, 3 }, { REG_X_NZONES, 1, { 5 }, 3 },
        { REG_X_NZONES, 1, { 2 }, 3 },      /* zone 2 starts Jan 1 too */
        { REG_X_ZONE_START, 1, { 0 }, 3 }, { REG_X_ZONE_START, 1, { 1301 }, 3 },
        { REG_X_ZONE_START, 1, { 230 }, 3 }, { REG_X_ZONE_START, 1, { 1232 }, 3 },
        { REG_X_ZONE_START, 1, { 131 }, 0 }, /* a valid zone 1 start */
        { REG_X_ZONE_TABLE, 1, { 0 }, 3 }, { REG_X_ZONE_TABLE, 1, { 9 }, 3 },
        { REG_X_ZONE_TABLE + 1, 1, { 2400 }, 3 },
        { REG_X_ZONE_TABLE + 1, 1, { 1260 }, 3 },
        { REG_X_ZONE_TABLE + 2, 1, { 0 }, 3 },
        { REG_X_ZONE_TABLE + 2, 1, { 5 }, 3 },
        { REG_X_ZONE_TABLE + 3, 1, { 500 }, 3 },   /* 05:00 after 06:00 */
        { REG_X_ZONE_TABLE + 9, 1, { 1500 }, 3 },  /* equal starts */
        /* atomic: a good slave and a bad baud change nothing */
        { REG_X_SLAVE, 2, { 17, 1234 }, 3 },
        /* a close refused for lack of credit, prepaid on */
        { REG_X_PREPAID, 4, { 1, 1, 0, 0 }, 3 },
    };
    static struct meter m;
    static struct meter before;

    prepare(&m);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(&before, &m, sizeof m);
        int ex = meter_reg_write(&m, cases[k].addr, cases[k].n, cases[k].v,
                                 T0 + 5);
        if (ex != cases[k].ex)
            fail_msg("write 0x%04X x %u = %u: %d, want %d", cases[k].addr,
                     cases[k].n, cases[k].v[0], ex, cases[k].ex);
        if (ex && memcmp(&before, &m, sizeof m) != 0)
            fail_msg("write 0x%04X: refused, yet the meter changed",
                     cases[k].addr);
        memcpy(&m, &before, sizeof m);
    }
    static uint16_t many[124];
    assert_int_equal(meter_reg_write(&m, 0x1200, 124, many, T0), 3);
    /* February 30th: the day is checked against the month */
    uint16_t feb[2] = { 2, 10 };
    assert_int_equal(meter_reg_write(&m, REG_X_YEAR + 1, 2, feb, T0), 0);
    uint16_t d30 = 30;
    assert_int_equal(meter_reg_write(&m, REG_X_YEAR + 2, 1, &d30, T0), 3);
}


/* Accepted writes read back, take effect at once and are counted. */
static void test_parameter_writes(void **state)
{
    static const struct { uint16_t addr, v; } singles[] = {
        { REG_X_SLAVE, 17 }, { REG_X_SLAVE, 247 }, { REG_X_BAUD, 2400 },
        { REG_X_BAUD, 1200 }, { REG_X_BAUD, 4800 }, { REG_X_PARITY, 0 },
        { REG_X_PARITY, 1 }, { REG_X_UPLINK, 1 }, { REG_X_PASSWORD, 1234 },
        { REG_X_PASSWORD, 0 }, { REG_X_COMB_ACT, 0x09 },
        { REG_X_COMB_REACT, 0x05 }, { REG_X_DEM_PERIOD, 30 },
        { REG_X_DEM_SLIDE, 5 }, { REG_X_DELAY, 60 }, { REG_X_PREPAID, 0 },
    };
    static struct meter m;

    prepare(&m);
    uint32_t count = reg_u32(&m, REG_X_PROG_COUNT);
    for (size_t k = 0; k < sizeof singles / sizeof singles[0]; k++) {
        uint16_t v = singles[k].v;
        assert_int_equal(meter_reg_write(&m, singles[k].addr, 1, &v, T0 + 9),
                         0);
        assert_int_equal(reg_u16(&m, singles[k].addr), v);
    }
    assert_int_equal(reg_u32(&m, REG_X_PROG_COUNT), count + 16);
    assert_int_equal(reg_u32(&m, REG_X_PROG_TIME), T0 + 9);
    const struct meter_comm *c = meter_comm(&m);
    assert_int_equal(c->slave, 247);
    assert_int_equal(c->baud, 4800);
    assert_int_equal(c->parity, METER_PARITY_ODD);
    assert_int_equal(c->uplink, METER_UPLINK_MQTT);
    /* the combination word applies to the totals at once: imp - exp */
    float f;
    meter_reg_float(&m, 0x0080, &f);
    assert_true(f == (float)(1000 + 1100 + 1200 + 1300 - (10 + 11 + 12 + 13)));
    /* u32 values */
    uint16_t w[2] = { 0x0001, 0x86A0 };     /* 100000 */
    assert_int_equal(meter_reg_write(&m, REG_X_LIMIT, 2, w, T0), 0);
    assert_int_equal(reg_u32(&m, REG_X_LIMIT), 100000);
    assert_int_equal(meter_settings(&m)->prepaid.limit_w, 100000);
    assert_int_equal(meter_reg_write(&m, REG_X_CREDIT, 2, w, T0), 0);
    assert_int_equal(meter_credit_wh(&m), 100000);
    assert_int_equal(meter_reg_write(&m, REG_X_TOPUP, 2, w, T0), 0);
    assert_int_equal(reg_u32(&m, REG_X_CREDIT), 200000);
    assert_int_equal(reg_u32(&m, REG_X_TOPUP), 0);
    meter_reg_float(&m, REG_X_CREDIT_KWH, &f);
    assert_true(f == 200.0f);
    /* a block: prepaid on, relay close, credit and alarm in one request */
    uint16_t blk[8] = { 1, 1, 0, 50, 0, 0, 0, 20 };
    assert_int_equal(meter_reg_write(&m, REG_X_PREPAID, 8, blk, T0), 0);
    assert_int_equal(meter_credit_wh(&m), 50);
    assert_int_equal(reg_u16(&m, REG_X_STATUS), 1);  /* no alarm: 50 > 20 */
    blk[7] = 60;
    assert_int_equal(meter_reg_write(&m, REG_X_PREPAID, 8, blk, T0), 0);
    assert_int_equal(reg_u16(&m, REG_X_STATUS), 3);
}

static void test_clock_writes(void **state)
{
    static struct meter m;

    prepare(&m);
    assert_int_equal(reg_u16(&m, REG_X_WEEKDAY), 0);          /* Sunday */
    assert_int_equal(reg_u32(&m, REG_X_EPOCH), T0);
    uint16_t dt[6] = { 2028, 2, 29, 23, 59, 58 };
    assert_int_equal(meter_reg_write(&m, REG_X_YEAR, 6, dt, T0), 0);
    assert_true(meter_time(&m) == INT64_C(1835481598));
    assert_int_equal(reg_u16(&m, REG_X_WEEKDAY), 2);          /* Tuesday */
    uint16_t back[9];
    assert_int_equal(meter_reg_read(&m, REG_X_YEAR, 9, back), 0);
    assert_memory_equal(back, dt, sizeof dt);
    uint16_t hour = 7;
    assert_int_equal(meter_reg_write(&m, REG_X_YEAR + 3, 1, &hour, T0), 0);
    assert_true(meter_time(&m) == INT64_C(1835481598) - 16 * 3600);
    uint16_t ep[2] = { (uint16_t)(T0 >> 16), (uint16_t)T0 };
    assert_int_equal(meter_reg_write(&m, REG_X_EPOCH, 2, ep, T0), 0);
    assert_true(meter_time(&m) == T0);
}

/* The whole tariff block in one FC16: read back, installed, in force. */
static void test_tariff_block(void **state)
{
    static struct meter m;
    uint16_t t[73], back[73];

    prepare(&m);
    assert_int_equal(meter_reg_read(&m, REG_X_NZONES, 73, t), 0);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 101);
    assert_int_equal(t[5], 5);
    assert_int_equal(t[6], 600);
    assert_int_equal(t[7], 1);
    assert_int_equal(t[14], 2300);
    assert_int_equal(t[15], 4);
    /* zones: Jan 1 the default day, Mar 10 all flat, Jul 1 peak then
     * valley from 18:00; Oct 1 (the default day) not in use yet */
    t[0] = 3;
    t[2] = 310;
    t[3] = 701;
    t[4] = 1001;
    uint16_t *z1 = t + 5 + 17, *z2 = t + 5 + 34;
    z1[0] = 1; z1[1] = 0; z1[2] = 3;
    z2[0] = 2; z2[1] = 0; z2[2] = 2; z2[3] = 1800; z2[4] = 4;
    assert_int_equal(meter_reg_write(&m, REG_X_NZONES, 73, t, T0), 0);
    assert_int_equal(meter_reg_read(&m, REG_X_NZONES, 73, back), 0);
    assert_memory_equal(back, t, sizeof t);
    assert_int_equal(meter_rate(&m), TARIFF_FLAT);      /* March 15th */
    assert_int_equal(reg_u16(&m, REG_X_RATE), TARIFF_FLAT);
    assert_int_equal(reg_u16(&m, REG_X_ZONE), 2);
    /* the 4th zone becomes valid once the count covers it with a good
     * start: 1001 is after 0701 */
    uint16_t four = 4;
    assert_int_equal(meter_reg_write(&m, REG_X_NZONES, 1, &four, T0), 0);
    assert_int_equal(meter_settings(&m)->tariff.nzones, 4);
}

/* Word order changes apply to the next read; integers never change. */
static void test_word_order_scope(void **state)
{
    static struct meter m;
    uint16_t w[2];

    prepare(&m);
    meter_set_serial(&m, 0x12345678);
    for (unsigned order = 0; order < 4; order++) {
        set_word_order(&m, order);
        assert_int_equal(meter_reg_read(&m, REG_X_SERIAL, 2, w), 0);
        assert_int_equal(w[0], 0x1234);
        assert_int_equal(w[1], 0x5678);
        assert_int_equal(meter_reg_read(&m, REG_X_WORD_ORDER, 1, w), 0);
        assert_int_equal(w[0], order);
    }
    assert_int_equal(reg_u16(&m, REG_X_MAP_VERSION), 1);
    assert_int_equal(reg_u16(&m, REG_X_FW_VERSION), 0x0100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_map_all_orders),
        cmocka_unit_test(test_unmapped_everywhere),
        cmocka_unit_test(test_read_exceptions),
        cmocka_unit_test(test_write_exceptions),
        cmocka_unit_test(test_parameter_writes),
        cmocka_unit_test(test_clock_writes),
        cmocka_unit_test(test_tariff_block),
        cmocka_unit_test(test_word_order_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
