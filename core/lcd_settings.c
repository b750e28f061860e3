/*
 * The parameter list behind the password: each item's value as digits or
 * a choice, how it is drawn, and how an edited value is installed. Every
 * change goes through control_configure (settings_check) or
 * control_set_time, exactly as a register write does, and so persists in
 * the NV image like any setting; the host hears of it (settings_changed).
 *
 *   Addr 001   slave address 1..247             3 digits
 *   bAud9600   1200 2400 4800 9600              choice
 *   PAr EvEn   nonE odd EvEn                    choice
 *   d 26.01.15 date, 20yy                       6 digits
 *   t 12.34.56 time                             6 digits
 *   4g dEbug   4g_M: dEbug, Mqtt                choice
 *   PASS6666   password 0000..9999              4 digits
 *   Pn      5  daily periods in use, time zone 1, 1..8      1 digit
 *   P106.00 1  period 1..8 of zone 1: start hh.mm, rate 1..4  5 digits
 *   End        ENTER leaves the set-up
 */
#include "lcd_menu.h"
#include "control.h"

enum item_id {
    IT_ADDR, IT_BAUD, IT_PARITY, IT_DATE, IT_TIME, IT_UPLINK, IT_PASSWORD,
    IT_PERIODS, IT_P1, IT_P8 = IT_P1 + TARIFF_PERIODS - 1, IT_END, IT_COUNT,
};

static const uint16_t bauds[METER_NBAUDS] = METER_BAUDS;
static const char *const parities[] = { "nonE", " odd", "EvEn" };
static const char *const uplinks[] = { "dEbug", " Mqtt" };

unsigned lcd_items(void)
{
    return IT_COUNT;
}

unsigned lcd_item_kind(unsigned item)
{
    switch (item) {
    case IT_BAUD: case IT_PARITY: case IT_UPLINK:
        return LCD_ITEM_CHOICE;
    case IT_END:
        return LCD_ITEM_END;
    default:
        return LCD_ITEM_DIGITS;
    }
}

unsigned lcd_item_size(unsigned item)
{
    switch (item) {
    case IT_ADDR: return 3;
    case IT_BAUD: return METER_NBAUDS;
    case IT_PARITY: return 3;
    case IT_DATE: case IT_TIME: return 6;
    case IT_UPLINK: return 2;
    case IT_PASSWORD: return 4;
    case IT_PERIODS: return 1;
    case IT_END: return 1;
    default: return 5;          /* a period: hh mm rate */
    }
}

/* n decimal digits of v into val[0..n-1], most significant first. */
static void split(uint8_t *val, unsigned n, unsigned v)
{
    for (unsigned k = n; k-- > 0;) {
        val[k] = (uint8_t)(v % 10);
        v /= 10;
    }
}

static unsigned join(const uint8_t *val, unsigned n)
{
    unsigned v = 0;

    for (unsigned k = 0; k < n; k++)
        v = v * 10 + val[k];
    return v;
}

static const struct tariff_zone *zone1(const struct meter *m)
{
    return &m->set.tariff.zone[0];
}

void lcd_item_load(const struct meter *m, unsigned item, uint8_t *val)
{
    const struct meter_comm *c = &m->set.comm;
    struct rtc_date d;

    rtc_to_date(m->rtc.now, &d);
    switch (item) {
    case IT_ADDR:
        split(val, 3, c->slave);
        break;
    case IT_BAUD:
        val[0] = METER_NBAUDS - 1;
        for (unsigned k = 0; k < METER_NBAUDS; k++)
            if (bauds[k] == c->baud)
                val[0] = (uint8_t)k;
        break;
    case IT_PARITY:
        val[0] = c->parity;
        break;
    case IT_DATE:
        split(val, 2, (unsigned)d.year % 100u);
        split(val + 2, 2, d.month);
        split(val + 4, 2, d.day);
        break;
    case IT_TIME:
        split(val, 2, d.hour);
        split(val + 2, 2, d.min);
        split(val + 4, 2, d.sec);
        break;
    case IT_UPLINK:
        val[0] = c->uplink;
        break;
    case IT_PASSWORD:
        split(val, 4, m->set.password);
        break;
    case IT_PERIODS:
        val[0] = zone1(m)->nperiods;
        break;
    case IT_END:
        val[0] = 0;
        break;
    default: {
        const struct tariff_period *p = &zone1(m)->period[item - IT_P1];
        split(val, 2, p->hour);
        split(val + 2, 2, p->min);
        val[4] = p->rate;
        break;
    }
    }
}

/* Set the clock to the edited date or time, the rest as it is now. */
static int store_clock(struct meter *m, unsigned item, const uint8_t *val)
{
    struct rtc_date d;
    int64_t t;
    int err;

    rtc_to_date(m->rtc.now, &d);
    if (item == IT_DATE) {
        d.year = 2000 + (int32_t)join(val, 2);
        d.month = (uint8_t)join(val + 2, 2);
        d.day = (uint8_t)join(val + 4, 2);
    } else {
        d.hour = (uint8_t)join(val, 2);
        d.min = (uint8_t)join(val + 2, 2);
        d.sec = (uint8_t)join(val + 4, 2);
    }
    err = rtc_from_date(&d, &t);
    if (err)
        return err;
    return control_set_time(m, t);
}

/* Install an edited value (lcd_item_store without telling the host). */
static int store(struct meter *m, unsigned item, const uint8_t *val)
{
    struct meter_settings s = m->set;
    struct tariff_zone *z = &s.tariff.zone[0];

    switch (item) {
    case IT_ADDR: {
        unsigned a = join(val, 3);
        if (a < 1 || a > METER_SLAVE_MAX)   /* 0: a host's choice only */
            return CORE_ERANGE;
        s.comm.slave = (uint8_t)a;
        break;
    }
    case IT_BAUD:
        s.comm.baud = bauds[val[0] % METER_NBAUDS];
        break;
    case IT_PARITY:
        s.comm.parity = val[0];
        break;
    case IT_DATE:
    case IT_TIME:
        return store_clock(m, item, val);
    case IT_UPLINK:
        s.comm.uplink = val[0];
        break;
    case IT_PASSWORD:
        s.password = (uint16_t)join(val, 4);
        break;
    case IT_PERIODS:
        if (val[0] < 1 || val[0] > TARIFF_PERIODS)
            return CORE_ERANGE;
        z->nperiods = val[0];
        break;
    case IT_END:
        return CORE_EINVAL;
    default: {
        /* checked here too: tariff_check skips the slots not in use */
        unsigned h = join(val, 2), min = join(val + 2, 2), r = val[4];
        if (h > 23 || min > 59 || r < 1 || r > TARIFF_RATES)
            return CORE_ERANGE;
        z->period[item - IT_P1] = (struct tariff_period){
            .hour = (uint8_t)h, .min = (uint8_t)min, .rate = (uint8_t)r,
        };
        break;
    }
    }
    return control_configure(m, &s);
}

int lcd_item_store(struct meter *m, unsigned item, const uint8_t *val)
{
    int err = store(m, item, val);

    if (!err)
        control_changed(m);
    return err;
}

void lcd_item_render(const struct meter *m, unsigned item,
                     const uint8_t *val, int cursor, struct lcd_frame *f)
{
    uint8_t *row = f->digit;
    unsigned first = 0;         /* position of the first edited digit */
    uint8_t flash_all = 0;      /* a choice flashes whole */

    switch (item) {
    case IT_ADDR:
        seg_text(row, LCD_DIGITS, 0, "Addr");
        first = 5;
        break;
    case IT_BAUD:
        seg_text(row, LCD_DIGITS, 0, "bAud");
        seg_digits(row, 7, bauds[val[0] % METER_NBAUDS], 4);
        flash_all = 0xF0;
        break;
    case IT_PARITY:
        seg_text(row, LCD_DIGITS, 0, "PAr");
        seg_text(row, LCD_DIGITS, 4, parities[val[0] % 3]);
        flash_all = 0xF0;
        break;
    case IT_DATE:
    case IT_TIME:
        seg_text(row, LCD_DIGITS, 0, item == IT_DATE ? "d" : "t");
        first = 2;
        break;
    case IT_UPLINK:
        seg_text(row, LCD_DIGITS, 0, "4g");
        seg_text(row, LCD_DIGITS, 3, uplinks[val[0] % 2]);
        flash_all = 0xF8;
        if (val[0] == METER_UPLINK_MQTT)
            f->icons |= LCD_ICON_4G;
        break;
    case IT_PASSWORD:
        seg_text(row, LCD_DIGITS, 0, "PASS");
        first = 4;
        break;
    case IT_PERIODS:
        seg_text(row, LCD_DIGITS, 0, "Pn");
        first = 7;
        break;
    case IT_END:
        seg_text(row, LCD_DIGITS, 0, "End");
        break;
    default: {
        unsigned k = item - IT_P1;
        row[0] = seg_char('P');
        row[1] = seg_char((char)('1' + k));
        /* hh.mm at 2..5, the rate at 7 */
        for (unsigned j = 0; j < 4; j++)
            row[2 + j] = seg_char((char)('0' + val[j]));
        row[3] |= SEG_DP;
        row[7] = seg_char((char)('0' + val[4]));
        if (k < zone1(m)->nperiods && val[4] >= 1 && val[4] <= 4)
            f->icons |= (uint32_t)LCD_ICON_T1 << (val[4] - 1);
        if (cursor >= 0)
            f->flash = (uint8_t)(1u << (cursor < 4 ? 2 + cursor : 7));
        return;
    }
    }
    if (lcd_item_kind(item) == LCD_ITEM_DIGITS) {
        unsigned n = lcd_item_size(item);
        for (unsigned j = 0; j < n; j++)
            row[first + j] = seg_char((char)('0' + val[j]));
        if (item == IT_DATE || item == IT_TIME) {
            row[3] |= SEG_DP;
            row[5] |= SEG_DP;
        }
        if (cursor >= 0)
            f->flash = (uint8_t)(1u << (first + (unsigned)cursor));
    } else if (cursor >= 0) {
        f->flash = flash_all;
    }
}
