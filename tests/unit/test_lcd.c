/*
 * The front panel: key sequences and the frames they must produce, as a
 * table (every page, long press, password right and wrong, digit editing
 * and wrap, every parameter, refused values, the 30 s timeout, blinking,
 * the status icons), plus the 7-segment font and the number layout.
 *
 * A script is a list of tokens run against one meter, time in ms of the
 * key driver's counter:
 *   <  v  E      tap ←, ↓, ENTER (press, release 50 ms later; +100 ms)
 *   x*N          the token x, N times
 *   L            hold ← for 3 s (the long press), release
 *   H / h        press / release ← (and nothing else)
 *   +N           N ms pass, then the menu's tick
 *   C            a Modbus frame was answered now
 * then the frame at that moment must show `text` ('.' lights the point of
 * the position before it; 8 positions), the minus sign as given, every
 * icon of `on` and none of `off`, and the keys must have reported
 * `changes` installed settings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/meter.h"

#define T0 INT64_C(1000000)         /* the key driver's counter at start */
#define WH(x) ((int64_t)(x) * ENERGY_MJ_PER_WH)

/* 2026-01-15 12:34:56: rate 1 (sharp, 12:00..15:00) */
static int64_t rtc_start(void)
{
    struct rtc_date d = { 2026, 1, 15, 12, 34, 56, 0 };
    int64_t t = 0;

    assert_int_equal(rtc_from_date(&d, &t), CORE_OK);
    return t;
}

/* A meter with known measurements and energies. */
static void setup_meter(struct meter *m)
{
    assert_int_equal(meter_init(m, NULL, NULL, rtc_start()), CORE_OK);
    m->meas = (struct meter_measure){
        .u = 230.0f, .i = 5.0f, .p = 1092.5f, .q = 359.0875f, .s = 1150.0f,
        .pf = 0.95f, .f = 50.0f, .demand = 1150.0f,
    };
    m->energy.rate[0].v[EN_IMP] = WH(1000126);     /* 1000.126 kWh */
    m->energy.rate[1].v[EN_IMP] = WH(234500);
    m->energy.rate[2].v[EN_EXP] = WH(12340);
    m->energy.rate[3].v[EN_Q1] = WH(7500);
    m->energy.rate[3].v[EN_Q4] = WH(2250);
    m->billing.prev[0].active[0] = WH(321090);
    m->billing.prev[0].reactive[0] = WH(4560);
}

static void setup_export(struct meter *m)
{
    setup_meter(m);
    m->meas.p = -1092.5f;
    m->meas.pf = -0.95f;
}

static void setup_prepaid(struct meter *m)
{
    struct meter_settings s;

    setup_meter(m);
    s = *meter_settings(m);
    s.prepaid.enabled = 1;
    assert_int_equal(meter_configure(m, &s), CORE_OK);
    assert_int_equal(meter_set_credit(m, 4321), CORE_OK);   /* < alarm */
}

static void setup_relay_open(struct meter *m)
{
    setup_meter(m);
    assert_int_equal(meter_relay_command(m, false), CORE_OK);
}

static void setup_big(struct meter *m)
{
    struct meter_settings s;

    setup_meter(m);
    m->energy.rate[0].v[EN_IMP] = WH(INT64_C(1234567891));  /* 1234567.891 */
    m->energy.rate[1].v[EN_IMP] = 0;
    m->energy.rate[2].v[EN_EXP] = WH(INT64_C(12345678900)); /* rolls over */
    /* combined active = import - export: negative */
    s = *meter_settings(m);
    s.comb_active = 0x09;
    assert_int_equal(meter_configure(m, &s), CORE_OK);
}

struct step {
    const char *script;
    const char *text;           /* expected glass, 8 positions */
    bool minus;
    uint32_t on, off;           /* icons lit / not lit */
    int changes;                /* settings installed by this step */
};

#define MAX_STEPS 24

struct lcd_case {
    const char *name;
    void (*setup)(struct meter *m);
    struct step steps[MAX_STEPS];
    void (*verify)(const struct meter *m);
};

/* The password 6666 typed on the password page. */
#define PASS6666 "v*6 < v*6 < v*6 < v*6 E"

static void slave_is_5(const struct meter *m)
{
    assert_int_equal(meter_comm(m)->slave, 5);
}

static void slave_is_1(const struct meter *m)
{
    assert_int_equal(meter_comm(m)->slave, 1);
}

static void baud_1200(const struct meter *m)
{
    assert_int_equal(meter_comm(m)->baud, 1200);
}

static void parity_none(const struct meter *m)
{
    assert_int_equal(meter_comm(m)->parity, METER_PARITY_NONE);
}

static void uplink_mqtt(const struct meter *m)
{
    assert_int_equal(meter_comm(m)->uplink, METER_UPLINK_MQTT);
}

static void date_changed(const struct meter *m)
{
    struct rtc_date d;

    rtc_to_date(meter_time(m), &d);
    assert_int_equal(d.year, 2026);
    assert_int_equal(d.month, 2);
    assert_int_equal(d.day, 28);
    assert_int_equal(d.hour, 12);
    assert_int_equal(d.min, 34);
}

static void time_changed(const struct meter *m)
{
    struct rtc_date d;

    rtc_to_date(meter_time(m), &d);
    assert_int_equal(d.day, 15);
    assert_int_equal(d.hour, 23);
    assert_int_equal(d.min, 34);
    assert_int_equal(d.sec, 56);
    assert_int_equal(meter_rate(m), TARIFF_VALLEY);
}

static void password_7666(const struct meter *m)
{
    assert_int_equal(meter_settings(m)->password, 7666);
}

static void six_periods(const struct meter *m)
{
    const struct tariff_zone *z = &meter_settings(m)->tariff.zone[0];
    struct rtc_date d = { 2026, 1, 15, 23, 45, 0, 0 };

    assert_int_equal(z->nperiods, 6);
    assert_int_equal(z->period[5].hour, 23);
    assert_int_equal(z->period[5].min, 30);
    assert_int_equal(z->period[5].rate, TARIFF_PEAK);
    assert_int_equal(tariff_rate(&meter_settings(m)->tariff, &d),
                     TARIFF_PEAK);
}

static void nothing_changed(const struct meter *m)
{
    const struct meter_settings *s = meter_settings(m);
    struct meter_settings def;

    settings_default(&def);
    assert_int_equal(s->comm.slave, def.comm.slave);
    assert_int_equal(s->comm.baud, def.comm.baud);
    assert_int_equal(s->comm.parity, def.comm.parity);
    assert_int_equal(s->comm.uplink, def.comm.uplink);
    assert_int_equal(s->password, def.password);
    assert_int_equal(s->tariff.zone[0].nperiods, def.tariff.zone[0].nperiods);
    assert_int_equal(meter_time(m), rtc_start());
}

#define U_PAGE "U   230.0"
#define ADDR1 "Addr 001"

static const struct lcd_case cases[] = {
    { "measurement pages, down and up", setup_meter, {
        { "", U_PAGE, false, LCD_ICON_V | LCD_ICON_T1,
          LCD_ICON_SET | LCD_ICON_COMM | LCD_ICON_RELAY_OFF, 0 },
        { "v", "I   5.000", false, LCD_ICON_A, LCD_ICON_V, 0 },
        { "v", "P   1.093", false, LCD_ICON_KW, 0, 0 },
        { "v", "q   0.359", false, LCD_ICON_KVAR, 0, 0 },
        { "v", "S   1.150", false, LCD_ICON_KVA, 0, 0 },
        { "v", "PF  0.950", false, LCD_ICON_PF, 0, 0 },
        { "v", "F   50.00", false, LCD_ICON_HZ, 0, 0 },
        { "v", "d   1.150", false, LCD_ICON_KVA, 0, 0 },
        { "v", U_PAGE, false, LCD_ICON_V, 0, 0 },
        { "<", "d   1.150", false, LCD_ICON_KVA, 0, 0 },
        { "<", "F   50.00", false, LCD_ICON_HZ, 0, 0 },
    }, NULL },
    { "export: the sign lights", setup_export, {
        { "v v", "P   1.093", true, LCD_ICON_KW, 0, 0 },
        { "v v v", "PF  0.950", true, LCD_ICON_PF, 0, 0 },
        { "v", "F   50.00", false, LCD_ICON_HZ, 0, 0 },
    }, NULL },
    { "energy pages, then the clock, then back", setup_meter, {
        { "E", "  1246.96", false, LCD_ICON_TOTAL | LCD_ICON_KWH,
          LCD_ICON_T1 | LCD_ICON_T2 | LCD_ICON_T3 | LCD_ICON_T4, 0 },
        { "v", "  1234.62", false, LCD_ICON_IMP | LCD_ICON_KWH, 0, 0 },
        { "v", "    12.34", false, LCD_ICON_EXP | LCD_ICON_KWH, 0, 0 },
        { "v", "     9.75", false, LCD_ICON_TOTAL | LCD_ICON_KVARH, 0, 0 },
        { "v", "     7.50", false, LCD_ICON_IMP | LCD_ICON_KVARH, 0, 0 },
        { "v", "     2.25", false, LCD_ICON_EXP | LCD_ICON_KVARH, 0, 0 },
        { "v", "  1000.12", false, LCD_ICON_T1 | LCD_ICON_KWH,
          LCD_ICON_T2, 0 },
        { "v", "   234.50", false, LCD_ICON_T2 | LCD_ICON_KWH,
          LCD_ICON_T1, 0 },
        { "v", "    12.34", false, LCD_ICON_T3 | LCD_ICON_KWH, 0, 0 },
        { "v", "     0.00", false, LCD_ICON_T4 | LCD_ICON_KWH, 0, 0 },
        { "v", "     0.00", false, LCD_ICON_T1 | LCD_ICON_KVARH, 0, 0 },
        { "v v", "     0.00", false, LCD_ICON_T3 | LCD_ICON_KVARH, 0, 0 },
        { "v", "     9.75", false, LCD_ICON_T4 | LCD_ICON_KVARH, 0, 0 },
        { "v", "   321.09", false, LCD_ICON_LAST | LCD_ICON_KWH, 0, 0 },
        { "v", "     4.56", false, LCD_ICON_LAST | LCD_ICON_KVARH, 0, 0 },
        { "v", "  1246.96", false, LCD_ICON_TOTAL | LCD_ICON_KWH, 0, 0 },
        { "<", "     4.56", false, LCD_ICON_LAST | LCD_ICON_KVARH, 0, 0 },
        { "E", "  12.34.56", false, LCD_ICON_CLOCK | LCD_ICON_T1, 0, 0 },
        { "v", "2026.01.15", false, LCD_ICON_CLOCK, 0, 0 },
        { "<", "  12.34.56", false, LCD_ICON_CLOCK, 0, 0 },
        { "E", U_PAGE, false, LCD_ICON_V, LCD_ICON_CLOCK, 0 },
    }, NULL },
    { "large and negative energies", setup_big, {
        { "E", "1111111.0", true, LCD_ICON_TOTAL, 0, 0 },   /* comb < 0 */
        { "v", "1234567.8", false, LCD_ICON_IMP, 0, 0 },
        { "v", "2345678.9", false, LCD_ICON_EXP, 0, 0 },    /* rolled over */
    }, NULL },
    { "credit page and alarm with prepaid on", setup_prepaid, {
        { "<", "C    4.32", false, LCD_ICON_KWH | LCD_ICON_ALARM, 0, 0 },
        { "<", "d   1.150", false, LCD_ICON_KVA, 0, 0 },
    }, NULL },
    { "relay open", setup_relay_open, {
        { "", U_PAGE, false, LCD_ICON_RELAY_OFF, 0, 0 },
    }, NULL },
    { "communication icon for 1 s", setup_meter, {
        { "C +999", U_PAGE, false, LCD_ICON_COMM, 0, 0 },
        { "+1", U_PAGE, false, 0, LCD_ICON_COMM, 0 },
    }, NULL },
    { "long press of <: 3 s to the password page", setup_meter, {
        { "H", "d   1.150", false, 0, 0, 0 },       /* acts at once */
        { "+2999", "d   1.150", false, 0, LCD_ICON_SET, 0 },
        { "+1", "CodE0000", false, LCD_ICON_SET, LCD_ICON_T1, 0 },
        { "+5000 h", "CodE0000", false, LCD_ICON_SET, 0, 0 },
    }, NULL },
    { "a short hold is not long", setup_meter, {
        { "H +2000 h +2000", "d   1.150", false, 0, LCD_ICON_SET, 0 },
        { "H +2900 h H +2900", "PF  0.950", false, 0, LCD_ICON_SET, 0 },
    }, NULL },
    { "long press from the energy and clock pages", setup_meter, {
        { "E L", "CodE0000", false, LCD_ICON_SET, 0, 0 },
        { "+30000 E E L", "CodE0000", false, LCD_ICON_SET, 0, 0 },
    }, NULL },
    { "password digits: wrap and cursor", setup_meter, {
        { "L v*11", "CodE1000", false, 0, 0, 0 },
        { "v*9", "CodE0000", false, 0, 0, 0 },
        { "< v", "CodE0100", false, 0, 0, 0 },
        { "< < < v*3", "CodE3100", false, 0, 0, 0 },   /* cursor wrapped */
    }, NULL },
    { "wrong password: Err, then the password page", setup_meter, {
        { "L v < v v < v v v < v v v v", "CodE1234", false, 0, 0, 0 },
        { "E", "  Err   ", false, LCD_ICON_SET, 0, 0 },
        { "+1899", "  Err   ", false, 0, 0, 0 },
        { "+1", "CodE0000", false, LCD_ICON_SET, 0, 0 },
        { "E v", "CodE0000", false, 0, 0, 0 },  /* a key ends Err */
        { "v", "CodE1000", false, 0, 0, 0 },
    }, nothing_changed },
    { "password right: the parameter list", setup_meter, {
        { "L " PASS6666, ADDR1, false, LCD_ICON_SET, 0, 0 },
        { "v", "bAud9600", false, 0, 0, 0 },
        { "v", "PAr EvEn", false, 0, 0, 0 },
        { "v", "d 26.01.15", false, 0, 0, 0 },
        { "v", "t 12.34.56", false, 0, 0, 0 },
        { "v", "4g dEbug", false, 0, LCD_ICON_4G, 0 },
        { "v", "PASS6666", false, 0, 0, 0 },
        { "v", "Pn     5", false, 0, 0, 0 },
        { "v", "P106.00 1", false, LCD_ICON_T1, 0, 0 },
        { "v", "P210.00 2", false, LCD_ICON_T2, 0, 0 },
        { "v v v", "P523.00 4", false, LCD_ICON_T4, 0, 0 },
        { "v", "P600.00 3", false, 0,
          LCD_ICON_T1 | LCD_ICON_T2 | LCD_ICON_T3 | LCD_ICON_T4, 0 },
        { "v v v", "End", false, 0, 0, 0 },
        { "v", ADDR1, false, 0, 0, 0 },
        { "<", "End", false, 0, 0, 0 },
        { "E", U_PAGE, false, 0, LCD_ICON_SET, 0 },
    }, nothing_changed },
    { "slave address 1 -> 5", setup_meter, {
        { "L " PASS6666 " E", ADDR1, false, 0, 0, 0 },
        { "< < v*4", "Addr 005", false, 0, 0, 0 },
        { "E", "Addr 005", false, 0, 0, 1 },
        { "E < < v v v v", "Addr 009", false, 0, 0, 0 },
        { "+30000", U_PAGE, false, 0, LCD_ICON_SET, 0 },  /* not installed */
    }, slave_is_5 },
    { "slave address 0 and 248 are refused", setup_meter, {
        { "L " PASS6666 " E < < v*9", "Addr 000", false, 0, 0, 0 },
        { "E", "  Err   ", false, 0, 0, 0 },
        { "+2000", ADDR1, false, 0, 0, 0 },
        { "E v v < v*4 < v*7", "Addr 248", false, 0, 0, 0 },
        { "E", "  Err   ", false, 0, 0, 0 },
        { "v", ADDR1, false, 0, 0, 0 },
    }, slave_is_1 },
    { "baud: a choice that wraps", setup_meter, {
        { "L " PASS6666 " v E", "bAud9600", false, 0, 0, 0 },
        { "v", "bAud1200", false, 0, 0, 0 },
        { "E", "bAud1200", false, 0, 0, 1 },
    }, baud_1200 },
    { "parity", setup_meter, {
        { "L " PASS6666 " v v E v", "PAr nonE", false, 0, 0, 0 },
        { "v", "PAr  odd", false, 0, 0, 0 },
        { "v v E", "PAr nonE", false, 0, 0, 1 },
    }, parity_none },
    { "date: 30 February refused, 28 February set", setup_meter, {
        { "L " PASS6666 " v*3 E < < < v", "d 26.02.15", false, 0, 0, 0 },
        { "< v v < v*5", "d 26.02.30", false, 0, 0, 0 },
        { "E", "  Err   ", false, 0, 0, 0 },
        { "+2000", "d 26.01.15", false, 0, 0, 0 },
        { "E < < < v < v < v*3", "d 26.02.28", false, 0, 0, 0 },
        { "E", "d 26.02.28", false, 0, 0, 1 },
    }, date_changed },
    { "time 12:34:56 -> 23:34:56", setup_meter, {
        { "L " PASS6666 " v*4 E v < v", "t 23.34.56", false, 0, 0, 0 },
        { "E", "t 23.34.56", false, 0, 0, 1 },
        { "<*5 E", U_PAGE, false, LCD_ICON_T4, 0, 0 },
    }, time_changed },
    { "4g_M Debug -> Mqtt", setup_meter, {
        { "L " PASS6666 " v*5 E v", "4g  Mqtt", false, LCD_ICON_4G, 0, 0 },
        { "E", "4g  Mqtt", false, LCD_ICON_4G, 0, 1 },
        { "+30000", U_PAGE, false, LCD_ICON_4G, 0, 0 },
    }, uplink_mqtt },
    { "new password 7666", setup_meter, {
        { "L " PASS6666 " v*6 E v", "PASS7666", false, 0, 0, 0 },
        { "E", "PASS7666", false, 0, 0, 1 },
        { "< < < < < < < E L " PASS6666, "  Err   ", false, 0, 0, 0 },
        { "+2000 v*7 < v*6 < v*6 < v*6 E", ADDR1, false, 0, 0, 0 },
    }, password_7666 },
    { "tariff: a sixth period at 23:30, rate 2", setup_meter, {
        { "L " PASS6666 " v*13 E v v < v*3 < v*3 < < v*9", "P623.30 2", false,
          0, 0, 0 },
        { "E", "P623.30 2", false, 0, LCD_ICON_T2, 1 },   /* not in use */
        { "<*6 E v", "Pn     6", false, 0, 0, 0 },
        { "E", "Pn     6", false, 0, 0, 1 },
        { "v*6", "P623.30 2", false, LCD_ICON_T2, 0, 0 },
        { "<*6 E v", "Pn     7", false, 0, 0, 0 },
        { "E", "  Err   ", false, 0, 0, 0 },      /* P7 00:00 unsorted */
        { "v v*8 E v v < v*5 E", "  Err   ", false, 0, 0, 0 },
                                                        /* P8 25:00 */
    }, six_periods },
    { "the edited digit blinks", setup_meter, {
        { "L " PASS6666 " E", ADDR1, false, 0, 0, 0 },
        { "+300", ADDR1, false, 0, 0, 0 },
        { "+200", "Addr  01", false, 0, 0, 0 },
        { "+500", ADDR1, false, 0, 0, 0 },
        { "<", ADDR1, false, 0, 0, 0 },          /* visible after a key */
        { "+500", "Addr 0 1", false, 0, 0, 0 },
        { "v", "Addr 011", false, 0, 0, 0 },
    }, NULL },
    { "30 s without a key: back to the measurement display", setup_meter, {
        { "v +29999", "I   5.000", false, 0, 0, 0 },  /* stays on its page */
        { "E +29899", "  1246.96", false, 0, 0, 0 },
        { "+1", U_PAGE, false, 0, 0, 0 },
        { "E E +30000", U_PAGE, false, 0, LCD_ICON_CLOCK, 0 },
        { "L +29399", "CodE0000", false, 0, 0, 0 },   /* digit 1 lit */
        { "+501", U_PAGE, false, 0, LCD_ICON_SET, 0 },
        { "L " PASS6666 " +29899", ADDR1, false, 0, 0, 0 },
        { "+1", U_PAGE, false, 0, LCD_ICON_SET, 0 },
        { "L " PASS6666 " E < < v*4 +30000", U_PAGE, false, 0, 0, 0 },
    }, slave_is_1 },
};

/* ---- running a script ---- */

struct run {
    struct meter m;
    int64_t t;
    int changes;
    int events;                 /* settings_changed calls */
};

static void on_changed(void *ctx)
{
    ((struct run *)ctx)->events++;
}

static void key(struct run *r, enum meter_key k, enum meter_key_event ev)
{
    int rc = meter_key(&r->m, k, ev, r->t);

    assert_true(rc == 0 || rc == 1);
    r->changes += rc;
}

static void tap(struct run *r, enum meter_key k)
{
    key(r, k, METER_KEY_PRESS);
    r->t += 50;
    key(r, k, METER_KEY_RELEASE);
    r->t += 50;
    meter_lcd_tick(&r->m, r->t);
}

static void token(struct run *r, const char *tok, size_t len)
{
    switch (tok[0]) {
    case '<': tap(r, METER_KEY_LEFT); break;
    case 'v': tap(r, METER_KEY_DOWN); break;
    case 'E': tap(r, METER_KEY_ENTER); break;
    case 'H': key(r, METER_KEY_LEFT, METER_KEY_PRESS); break;
    case 'h': key(r, METER_KEY_LEFT, METER_KEY_RELEASE); break;
    case 'C': meter_lcd_comm(&r->m, r->t); break;
    case 'L':
        key(r, METER_KEY_LEFT, METER_KEY_PRESS);
        r->t += LCD_LONG_MS;
        meter_lcd_tick(&r->m, r->t);
        key(r, METER_KEY_LEFT, METER_KEY_RELEASE);
        r->t += 100;
        break;
    case '+':
        r->t += strtol(tok + 1, NULL, 10);
        meter_lcd_tick(&r->m, r->t);
        break;
    default:
        fail_msg("bad token '%.*s'", (int)len, tok);
    }
}

static void run_script(struct run *r, const char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, " ");
        const char *star = memchr(s, '*', len);
        long n = star ? strtol(star + 1, NULL, 10) : 1;
        for (long k = 0; k < n; k++)
            token(r, s, star ? (size_t)(star - s) : len);
        s += len;
    }
}

/* The glass as text, for messages ('~' for the sign). */
static void frame_text(const struct lcd_frame *f, char *out)
{
    out[0] = '~';
    seg_row_text(f->digit, LCD_DIGITS, out + f->minus, 2 * LCD_DIGITS + 1);
}

static void check_frame(const struct lcd_case *c, unsigned n,
                        const struct step *st, const struct lcd_frame *f)
{
    uint8_t want[LCD_DIGITS] = { 0 };
    char got[32], exp[32];
    struct lcd_frame w = { .minus = st->minus };

    seg_text(want, LCD_DIGITS, 0, st->text);
    memcpy(w.digit, want, sizeof want);
    frame_text(f, got);
    frame_text(&w, exp);
    if (memcmp(f->digit, want, sizeof want) || f->minus != st->minus)
        fail_msg("%s, step %u (\"%s\"): the glass shows \"%s\", "
                 "expected \"%s\"", c->name, n + 1, st->script, got, exp);
    if ((f->icons & st->on) != st->on || (f->icons & st->off))
        fail_msg("%s, step %u (\"%s\"): icons 0x%06x, expected 0x%06x lit "
                 "and 0x%06x dark", c->name, n + 1, st->script,
                 (unsigned)f->icons, (unsigned)st->on, (unsigned)st->off);
}

static void test_cases(void **state)
{
    static struct run r;
    (void)state;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct lcd_case *c = &cases[k];
        memset(&r, 0, sizeof r);
        c->setup(&r.m);
        r.m.port = (struct meter_port){
            .ctx = &r, .settings_changed = on_changed,
        };
        r.t = T0;
        for (unsigned n = 0; n < MAX_STEPS && c->steps[n].script; n++) {
            const struct step *st = &c->steps[n];
            struct lcd_frame f;
            r.changes = r.events = 0;
            run_script(&r, st->script);
            meter_lcd_frame(&r.m, r.t, &f);
            check_frame(c, n, st, &f);
            if (r.changes != st->changes)
                fail_msg("%s, step %u (\"%s\"): %d settings installed, "
                         "expected %d", c->name, n + 1, st->script,
                         r.changes, st->changes);
            /* the host hears of each installed change, and of no other */
            if (r.events != st->changes)
                fail_msg("%s, step %u (\"%s\"): settings_changed called "
                         "%d times, expected %d", c->name, n + 1, st->script,
                         r.events, st->changes);
        }
        if (c->verify)
            c->verify(&r.m);
    }
}

/* ---- the pieces ---- */

static void test_font(void **state)
{
    static const struct { char c; uint8_t seg; } font[] = {
        { '0', 0x3F }, { '1', 0x06 }, { '2', 0x5B }, { '3', 0x4F },
        { '4', 0x66 }, { '5', 0x6D }, { '6', 0x7D }, { '7', 0x07 },
        { '8', 0x7F }, { '9', 0x6F }, { ' ', 0x00 }, { '-', 0x40 },
        { 'A', 0x77 }, { 'b', 0x7C }, { 'C', 0x39 }, { 'd', 0x5E },
        { 'E', 0x79 }, { 'F', 0x71 }, { 'P', 0x73 }, { 'U', 0x3E },
        { 'r', 0x50 }, { 'n', 0x54 }, { 'o', 0x5C }, { 't', 0x78 },
        { '\x7f', 0x00 }, { '~', 0x00 },
    };
    (void)state;

    for (size_t k = 0; k < sizeof font / sizeof font[0]; k++)
        assert_int_equal(seg_char(font[k].c), font[k].seg);
}

static void test_number_layout(void **state)
{
    uint8_t row[LCD_DIGITS];
    (void)state;

    memset(row, 0, sizeof row);
    assert_int_equal(seg_number(row, 7, 950, 3), 4);        /* 0.950 */
    assert_int_equal(row[4], seg_char('0') | SEG_DP);
    assert_int_equal(row[7], seg_char('0'));
    memset(row, 0, sizeof row);
    assert_int_equal(seg_number(row, 7, 0, 2), 5);          /* 0.00 */
    assert_int_equal(seg_number(row, 7, 99999999, 2), 0);   /* 8 digits */
    assert_int_equal(seg_number(row, 7, 100000000, 2), CORE_ERANGE);
    assert_int_equal(seg_number(row, 3, 7, 0), 3);
    assert_int_equal(seg_text(row, LCD_DIGITS, 6, "Err"), 2);   /* cut */
}

static void test_bad_keys(void **state)
{
    static struct meter m;
    (void)state;

    setup_meter(&m);
    assert_int_equal(meter_key(&m, (enum meter_key)3, METER_KEY_PRESS, T0),
                     CORE_EINVAL);
    assert_int_equal(meter_key(&m, METER_KEY_DOWN, (enum meter_key_event)2,
                               T0), CORE_EINVAL);
    /* a release without a press, a clock that steps back */
    assert_int_equal(meter_key(&m, METER_KEY_LEFT, METER_KEY_RELEASE, T0),
                     0);
    assert_int_equal(meter_key(&m, METER_KEY_DOWN, METER_KEY_PRESS, T0 - 5),
                     0);
    assert_int_equal(meter_lcd_tick(&m, T0 - 10), 0);
}

/* The menu's state is volatile: an NV round trip keeps the settings the
 * keys made and starts the display afresh. */
static void test_nv_keeps_lcd_settings(void **state)
{
    static struct meter m;
    static uint8_t image[METER_NV_MAX];
    static struct run r;
    int len;
    (void)state;

    assert_int_equal(meter_init(&r.m, NULL, NULL, rtc_start()), CORE_OK);
    r.t = T0;
    run_script(&r, "L " PASS6666 " E < < v*4 E");
    assert_int_equal(r.changes, 1);
    len = meter_nv_save(&r.m, image, sizeof image);
    assert_true(len > 0);
    assert_int_equal(meter_init(&m, NULL, NULL, rtc_start()), CORE_OK);
    assert_int_equal(meter_nv_restore(&m, image, (size_t)len, meter_time(&m)),
                     CORE_OK);
    assert_int_equal(meter_comm(&m)->slave, 5);
    assert_int_equal(m.lcd.mode, LCD_MEASURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_font),
        cmocka_unit_test(test_number_layout),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_nv_keeps_lcd_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
