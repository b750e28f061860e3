#include "sim/engine/changes.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/log.h"
#include "sim/base/timeparse.h"

/* What a meter was after its last change. */
struct changes_seen {
    struct meter_settings set;
    uint32_t credit_wh;         /* credit after the last change */
    int64_t import_mj;          /* exact import energy then (credit used
                                   since) */
    int64_t rtc_offset;         /* s the RTC was set off virtual time */
    bool remote_open;           /* a remote open command held */
    float max_demand;           /* VA */
};

struct changes {
    struct engine *e;
    struct changes_seen *seen;  /* one per meter: after its last change */
};

static void seen_take(const struct sim_meter *sm, struct changes_seen *s)
{
    const struct meter *m = &sm->core;
    struct energy_set total;

    s->set = *meter_settings(m);
    s->credit_wh = meter_credit_wh(m);
    /* the accumulator, not the float32 register (its steps grow with
     * the total, to 62.5 Wh) */
    energy_total(&m->energy, &total);
    s->import_mj = total.v[EN_IMP];
    s->rtc_offset = engine_rtc_offset(sm);
    s->remote_open = (meter_relay_reasons(m) & PREPAID_OPEN_REMOTE) != 0;
    s->max_demand = 0.0f;
    meter_reg_float(m, REG_X_MD, &s->max_demand);
}

/* Appends ", what" (or "what" first) to out. */
static void add(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(char *out, size_t len, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;

    if (n && n + 2 < len) {
        memcpy(out + n, ", ", 3);
        n += 2;
    }
    if (n >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(out + n, len - n, fmt, ap);
    va_end(ap);
}

static char parity_char(unsigned p)
{
    return p == METER_PARITY_NONE ? 'N' : p == METER_PARITY_ODD ? 'O' : 'E';
}

static const char *word_order_name(unsigned w)
{
    static const char *const names[] = { "ABCD", "CDAB", "BADC", "DCBA" };
    return w < 4 ? names[w] : "?";
}

static const char *uplink_name(unsigned u)
{
    return u == METER_UPLINK_MQTT ? "Mqtt" : "Debug";
}

static void describe_comm(const struct meter_comm *a,
                          const struct meter_comm *b, char *out, size_t len)
{
    if (a->slave != b->slave)
        add(out, len, "slave %u -> %u", a->slave, b->slave);
    if (a->baud != b->baud)
        add(out, len, "baud %u -> %u", a->baud, b->baud);
    if (a->parity != b->parity)
        add(out, len, "parity %c -> %c", parity_char(a->parity),
            parity_char(b->parity));
    if (a->word_order != b->word_order)
        add(out, len, "word order %s -> %s", word_order_name(a->word_order),
            word_order_name(b->word_order));
    if (a->uplink != b->uplink)
        add(out, len, "4g_M %s -> %s", uplink_name(a->uplink),
            uplink_name(b->uplink));
}

static void describe_settings(const struct meter_settings *a,
                              const struct meter_settings *b, char *out,
                              size_t len)
{
    describe_comm(&a->comm, &b->comm, out, len);
    if (a->password != b->password)
        add(out, len, "password changed");      /* never its digits */
    if (a->comb_active != b->comb_active)
        add(out, len, "active combination 0x%02X -> 0x%02X", a->comb_active,
            b->comb_active);
    if (a->comb_reactive != b->comb_reactive)
        add(out, len, "reactive combination 0x%02X -> 0x%02X",
            a->comb_reactive, b->comb_reactive);
    if (a->demand.period_min != b->demand.period_min ||
        a->demand.slide_min != b->demand.slide_min)
        add(out, len, "demand %u/%u min -> %u/%u min", a->demand.period_min,
            a->demand.slide_min, b->demand.period_min, b->demand.slide_min);
    if (a->prepaid.enabled != b->prepaid.enabled)
        add(out, len, "prepaid %s -> %s", a->prepaid.enabled ? "on" : "off",
            b->prepaid.enabled ? "on" : "off");
    if (a->prepaid.alarm_wh != b->prepaid.alarm_wh)
        add(out, len, "credit alarm %.3f -> %.3f kWh",
            a->prepaid.alarm_wh / 1000.0, b->prepaid.alarm_wh / 1000.0);
    if (a->prepaid.limit_w != b->prepaid.limit_w)
        add(out, len, "over-power limit %u -> %u W", a->prepaid.limit_w,
            b->prepaid.limit_w);
    if (a->prepaid.delay_s != b->prepaid.delay_s)
        add(out, len, "over-power delay %u -> %u s", a->prepaid.delay_s,
            b->prepaid.delay_s);
    if (memcmp(&a->tariff, &b->tariff, sizeof a->tariff))
        add(out, len, "tariff table changed (%u zone%s)", b->tariff.nzones,
            b->tariff.nzones == 1 ? "" : "s");
}

/* What changed on meter sm since before, as "baud 9600 -> 19200, ..."
 * in out ("" for nothing); now: the meter as it is. */
static void describe(const struct sim_meter *sm,
                     const struct changes_seen *before,
                     const struct changes_seen *now, char *out, size_t len)
{
    out[0] = '\0';
    describe_settings(&before->set, &now->set, out, len);
    /* credit only falls by itself: what it would be now without a
     * command, from the import energy counted since */
    double used = before->set.prepaid.enabled ?
                  (double)(now->import_mj - before->import_mj) /
                  (double)ENERGY_MJ_PER_WH : 0;
    double expect = before->credit_wh - (used > 0 ? used : 0);
    if (expect < 0)
        expect = 0;
    if (fabs(now->credit_wh - expect) >= 1.0)
        add(out, len, "credit %.3f -> %.3f kWh", expect / 1000.0,
            now->credit_wh / 1000.0);
    if (before->remote_open != now->remote_open)
        add(out, len, "relay remote %s", now->remote_open ? "open" : "close");
    int64_t moved = now->rtc_offset - before->rtc_offset;
    /* a drifting RTC moves a second now and then by itself */
    if (moved != 0 && (sm->drift_ppm == 0.0 || llabs(moved) > 1)) {
        char when[32];
        time_format_iso(meter_time(&sm->core), when, sizeof when);
        add(out, len, "clock set to %s (%+lld s)", when, (long long)moved);
    }
    if (before->max_demand > 0.0f && now->max_demand == 0.0f)
        add(out, len, "maximum demand cleared (was %.0f VA)",
            (double)before->max_demand);
}

static void on_change(void *ctx, unsigned meter)
{
    struct changes *c = ctx;
    const struct sim_meter *sm = &c->e->meters[meter];
    char what[512], via[64] = "";
    struct changes_seen now;

    seen_take(sm, &now);
    describe(sm, &c->seen[meter], &now, what, sizeof what);
    if (c->e->cause)
        snprintf(via, sizeof via, " (%s)", c->e->cause);
    log_info("meter %u: %s%s", sm->core.serial, what[0] ? what :
             "settings written, nothing changed", via);
    c->seen[meter] = now;
}

struct changes *changes_open(struct engine *e)
{
    struct changes *c = calloc(1, sizeof *c);

    if (c)
        c->seen = calloc(e->count ? e->count : 1, sizeof *c->seen);
    if (!c || !c->seen) {
        log_error("out of memory for the log of settings changes");
        changes_close(c);
        return NULL;
    }
    c->e = e;
    for (unsigned k = 0; k < e->count; k++)
        seen_take(&e->meters[k], &c->seen[k]);
    if (engine_watch_settings(e, on_change, c)) {
        log_error("the log of settings changes cannot watch the meters");
        free(c->seen);
        free(c);
        return NULL;
    }
    return c;
}

void changes_close(struct changes *c)
{
    if (!c)
        return;
    if (c->e)
        engine_unwatch_settings(c->e, on_change, c);
    free(c->seen);
    free(c);
}
