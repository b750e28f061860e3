/*
 * The display pages: what each measurement, energy and clock page shows,
 * with the resolution a meter of this class shows it at.
 *
 *   measurement  U 0.1 V, I 0.001 A, P Q S 0.001 kW/kvar/kVA (1 W),
 *                PF 0.001, F 0.01 Hz, demand 0.001 kVA, credit 0.01 kWh;
 *                a letter on the left names the quantity
 *   energy       0.01 kWh / kvarh up to 999999.99, then 0.1 up to
 *                9999999.9 ("7+1"), then it rolls over like a register;
 *                the icons name the quantity; truncated, never rounded up
 *   clock        hh.mm.ss and yyyy.mm.dd
 */
#include "lcd_menu.h"

enum page_src {
    SRC_U, SRC_I, SRC_P, SRC_Q, SRC_S, SRC_PF, SRC_F, SRC_DEMAND, SRC_CREDIT,
};

/* One measurement page: value x scale, rounded, shown with `decimals`. */
struct measure_page {
    char label[3];          /* letters at the left */
    uint8_t src;            /* enum page_src */
    uint8_t decimals;
    float scale;            /* from the unit kept to the unit shown x 10^dec */
    uint32_t icon;
};

static const struct measure_page measure_pages[] = {
    { "U", SRC_U, 1, 10.0f, LCD_ICON_V },
    { "I", SRC_I, 3, 1000.0f, LCD_ICON_A },
    { "P", SRC_P, 3, 1.0f, LCD_ICON_KW },           /* W -> kW, 3 dec */
    { "q", SRC_Q, 3, 1.0f, LCD_ICON_KVAR },
    { "S", SRC_S, 3, 1.0f, LCD_ICON_KVA },
    { "PF", SRC_PF, 3, 1000.0f, LCD_ICON_PF },
    { "F", SRC_F, 2, 100.0f, LCD_ICON_HZ },
    { "d", SRC_DEMAND, 3, 1.0f, LCD_ICON_KVA },     /* apparent demand */
    { "C", SRC_CREDIT, 2, 0.0f, LCD_ICON_KWH },     /* prepaid only */
};

#define MEASURE_PAGES (sizeof measure_pages / sizeof measure_pages[0])

enum energy_src {
    E_COMB_ACT, E_IMP, E_EXP, E_COMB_REACT, E_REACT_IMP, E_REACT_EXP,
    E_RATE_ACT, E_RATE_REACT, E_LAST_ACT, E_LAST_REACT,
};

struct energy_page {
    uint8_t src;            /* enum energy_src */
    uint8_t rate;           /* 1..4 for the rate pages */
    uint32_t icons;
};

static const struct energy_page energy_pages[] = {
    { E_COMB_ACT, 0, LCD_ICON_TOTAL | LCD_ICON_KWH },
    { E_IMP, 0, LCD_ICON_IMP | LCD_ICON_KWH },
    { E_EXP, 0, LCD_ICON_EXP | LCD_ICON_KWH },
    { E_COMB_REACT, 0, LCD_ICON_TOTAL | LCD_ICON_KVARH },
    { E_REACT_IMP, 0, LCD_ICON_IMP | LCD_ICON_KVARH },
    { E_REACT_EXP, 0, LCD_ICON_EXP | LCD_ICON_KVARH },
    { E_RATE_ACT, 1, LCD_ICON_T1 | LCD_ICON_KWH },
    { E_RATE_ACT, 2, LCD_ICON_T2 | LCD_ICON_KWH },
    { E_RATE_ACT, 3, LCD_ICON_T3 | LCD_ICON_KWH },
    { E_RATE_ACT, 4, LCD_ICON_T4 | LCD_ICON_KWH },
    { E_RATE_REACT, 1, LCD_ICON_T1 | LCD_ICON_KVARH },
    { E_RATE_REACT, 2, LCD_ICON_T2 | LCD_ICON_KVARH },
    { E_RATE_REACT, 3, LCD_ICON_T3 | LCD_ICON_KVARH },
    { E_RATE_REACT, 4, LCD_ICON_T4 | LCD_ICON_KVARH },
    { E_LAST_ACT, 0, LCD_ICON_LAST | LCD_ICON_KWH },
    { E_LAST_REACT, 0, LCD_ICON_LAST | LCD_ICON_KVARH },
};

#define ENERGY_PAGES (sizeof energy_pages / sizeof energy_pages[0])
#define CLOCK_PAGES 2u

unsigned lcd_pages(const struct meter *m, unsigned group)
{
    switch (group) {
    case LCD_ENERGY:
        return ENERGY_PAGES;
    case LCD_CLOCK:
        return CLOCK_PAGES;
    default:
        return m->set.prepaid.enabled ? MEASURE_PAGES : MEASURE_PAGES - 1;
    }
}

static float measured(const struct meter *m, unsigned src)
{
    const struct meter_measure *v = &m->meas;

    switch (src) {
    case SRC_U: return v->u;
    case SRC_I: return v->i;
    case SRC_P: return v->p;
    case SRC_Q: return v->q;
    case SRC_S: return v->s;
    case SRC_PF: return v->pf;
    case SRC_F: return v->f;
    default: return v->demand;
    }
}

/* |x| rounded half away from zero, saturated; sign in *neg (never for a
 * value that rounds to zero). */
static uint64_t round_abs(float x, bool *neg)
{
    float a = x < 0.0f ? -x : x;
    uint64_t r;

    if (a != a)                 /* NaN */
        a = 0.0f;
    else if (a > 1e15f)
        a = 1e15f;
    r = (uint64_t)(a + 0.5f);
    *neg = x < 0.0f && r != 0;
    return r;
}

/* The label in the positions the number left free, if it fits whole. */
static void put_label(struct lcd_frame *f, const char *label, int first)
{
    unsigned len = 0;

    while (label[len])
        len++;
    if (first > 0 && len <= (unsigned)first)
        seg_text(f->digit, (unsigned)first, 0, label);
}

static void render_measure(const struct meter *m, unsigned page,
                           struct lcd_frame *f)
{
    const struct measure_page *p = &measure_pages[page];
    uint64_t v;
    bool neg = false;
    int first;

    if (p->src == SRC_CREDIT)
        v = prepaid_credit_wh(&m->prepaid) / 10u;   /* 0.01 kWh */
    else
        v = round_abs(measured(m, p->src) * p->scale, &neg);
    first = seg_number(f->digit, LCD_DIGITS - 1, v, p->decimals);
    if (first < 0) {            /* beyond the glass: dashes */
        seg_text(f->digit, LCD_DIGITS, 0, "--------");
        first = 0;
    }
    f->minus = neg;
    f->icons = p->icon;
    put_label(f, p->label, first);
}

/* Energy in mJ on 8 positions: 0.01 up to 999999.99, 0.1 beyond, then
 * rolling over at 10^7; truncated toward zero. */
static void show_energy(struct lcd_frame *f, int64_t mj)
{
    uint64_t a = mj < 0 ? (uint64_t)(-mj) : (uint64_t)mj;
    uint64_t centi = a / (uint64_t)(ENERGY_MJ_PER_KWH / 100);
    unsigned decimals = 2;

    if (centi > UINT64_C(99999999)) {
        centi = centi / 10u % UINT64_C(100000000);
        decimals = 1;
    }
    seg_number(f->digit, LCD_DIGITS - 1, centi, decimals);
    f->minus = mj < 0 && centi != 0;
}

static void render_energy(const struct meter *m, unsigned page,
                          struct lcd_frame *f)
{
    const struct energy_page *p = &energy_pages[page];
    unsigned ca = m->set.comb_active, cr = m->set.comb_reactive;
    const struct billing_month *last = &m->billing.prev[0];
    struct energy_set tot;
    int64_t mj;

    energy_total(&m->energy, &tot);
    switch (p->src) {
    case E_COMB_ACT: mj = energy_comb_active(&tot, ca); break;
    case E_IMP: mj = tot.v[EN_IMP]; break;
    case E_EXP: mj = tot.v[EN_EXP]; break;
    case E_COMB_REACT: mj = energy_comb_reactive(&tot, cr); break;
    case E_REACT_IMP: mj = energy_reactive_imp(&tot); break;
    case E_REACT_EXP: mj = energy_reactive_exp(&tot); break;
    case E_RATE_ACT:
        mj = energy_comb_active(&m->energy.rate[p->rate - 1], ca);
        break;
    case E_RATE_REACT:
        mj = energy_comb_reactive(&m->energy.rate[p->rate - 1], cr);
        break;
    case E_LAST_ACT: mj = last->active[0]; break;
    default: mj = last->reactive[0]; break;
    }
    show_energy(f, mj);
    f->icons = p->icons;
}

static void render_clock(const struct meter *m, unsigned page,
                         struct lcd_frame *f)
{
    struct rtc_date d;

    rtc_to_date(m->rtc.now, &d);
    if (page == 0) {            /* hh.mm.ss */
        seg_digits(f->digit, 3, d.hour, 2);
        seg_digits(f->digit, 5, d.min, 2);
        seg_digits(f->digit, 7, d.sec, 2);
    } else {                    /* yyyy.mm.dd */
        seg_digits(f->digit, 3, (uint32_t)d.year, 4);
        seg_digits(f->digit, 5, d.month, 2);
        seg_digits(f->digit, 7, d.day, 2);
    }
    f->digit[3] |= SEG_DP;
    f->digit[5] |= SEG_DP;
    f->icons = LCD_ICON_CLOCK;
}

void lcd_page_render(const struct meter *m, unsigned group, unsigned page,
                     struct lcd_frame *f)
{
    page %= lcd_pages(m, group);
    switch (group) {
    case LCD_ENERGY:
        render_energy(m, page, f);
        break;
    case LCD_CLOCK:
        render_clock(m, page, f);
        break;
    default:
        render_measure(m, page, f);
        break;
    }
}
