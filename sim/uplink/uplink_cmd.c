#define _GNU_SOURCE
#include "sim/uplink/uplink_cmd.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/meter_host.h"
#include "sim/base/keylist.h"
#include "sim/base/timeparse.h"
#include "sim/uplink/uplink_json.h"

#define PAYLOAD_MAX 65536

struct ctx {
    struct uplink_cmd_env *env;
    json_t *req;                /* the parsed payload */
    json_t *res;                /* the result being built */
    char error[512];            /* set: the command failed */
};

static int fail(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* Every key of obj must be in the NULL-terminated list. */
static int only_keys(struct ctx *c, json_t *obj, const char *where,
                     const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = !strcmp(key, "id") && obj == c->req;
        for (const char *const *k = keys; *k && !known; k++)
            known = !strcmp(key, *k);
        if (!known) {
            char list[256];
            keylist(keys, list, sizeof list);
            return fail(c, "unknown key '%s'%s%s (expected: %s)", key,
                        where ? " in " : "", where ? where : "",
                        *keys ? list : "none");
        }
    }
    return 0;
}

/* An integer member in lo..hi: 1 if present (and *out set), 0 if absent,
 * -1 if bad. */
static int get_int(struct ctx *c, json_t *obj, const char *key, long long lo,
                   long long hi, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return fail(c, "'%s' must be an integer %lld..%lld", key, lo, hi);
    *out = json_integer_value(v);
    return 1;
}

static int get_string(struct ctx *c, json_t *obj, const char *key,
                      const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return fail(c, "'%s' must be a string", key);
    *out = json_string_value(v);
    return 1;
}

static int get_bool(struct ctx *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(c, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 1;
}

/* Wh from {"wh": n} or {"kwh": x}, exactly one. */
static int get_energy_wh(struct ctx *c, long long min_wh, uint32_t *wh)
{
    static const char *const keys[] = { "wh", "kwh", NULL };
    json_t *kwh = json_object_get(c->req, "kwh");
    long long v = 0;
    int rc;

    if (only_keys(c, c->req, NULL, keys))
        return -1;
    if (json_object_get(c->req, "wh") && kwh)
        return fail(c, "give either 'wh' or 'kwh', not both");
    rc = get_int(c, c->req, "wh", min_wh, PREPAID_CREDIT_MAX_WH, &v);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *wh = (uint32_t)v;
        return 0;
    }
    if (!kwh)
        return fail(c, "missing 'wh' (integer Wh) or 'kwh' (number)");
    double x = json_is_number(kwh) ? json_number_value(kwh) : -1.0;
    double w = round(x * 1000.0);
    if (!json_is_number(kwh) || !(w >= (double)min_wh) ||
        w > (double)PREPAID_CREDIT_MAX_WH)
        return fail(c, "'kwh' must be a number %g..%g (whole Wh)",
                    (double)min_wh / 1000.0,
                    (double)PREPAID_CREDIT_MAX_WH / 1000.0);
    /* 0.0001 kWh is no whole Wh: refused, not rounded to nothing */
    if (fabs(x * 1000.0 - w) > 1e-6 * (w > 1.0 ? w : 1.0))
        return fail(c, "'kwh' must be whole Wh: %g kWh is %g Wh", x,
                    x * 1000.0);
    *wh = (uint32_t)w;
    return 0;
}

static int cmd_relay(struct ctx *c)
{
    static const char *const keys[] = { "state", NULL };
    const char *state = NULL;
    bool close;

    if (only_keys(c, c->req, NULL, keys) ||
        get_string(c, c->req, "state", &state) < 0)
        return -1;
    if (!state)
        return fail(c, "missing 'state' (\"open\" or \"closed\")");
    if (!strcmp(state, "open"))
        close = false;
    else if (!strcmp(state, "closed") || !strcmp(state, "close"))
        close = true;
    else
        return fail(c, "'state' must be \"open\" or \"closed\", not \"%s\"",
                    state);
    if (meter_relay_command(c->env->m, close))
        return fail(c, "the meter refused to close the relay ('state'): "
                    "the prepaid credit is used up (top up first)");
    json_object_set_new(c->res, "relay", json_string(
        meter_relay_closed(c->env->m) ? "closed" : "open"));
    return 0;
}

static int cmd_topup(struct ctx *c)
{
    uint32_t wh;
    if (get_energy_wh(c, 1, &wh))
        return -1;
    if (meter_topup(c->env->m, wh))
        return fail(c, "the meter refused the top-up of '%s': the credit "
                    "would exceed %lu Wh (it is %lu Wh)",
                    json_object_get(c->req, "kwh") ? "kwh" : "wh",
                    (unsigned long)PREPAID_CREDIT_MAX_WH,
                    (unsigned long)meter_credit_wh(c->env->m));
    json_object_set_new(c->res, "credit_wh",
                        json_integer(meter_credit_wh(c->env->m)));
    return 0;
}

static int cmd_credit(struct ctx *c)
{
    uint32_t wh;
    if (get_energy_wh(c, 0, &wh))
        return -1;
    if (meter_set_credit(c->env->m, wh))
        return fail(c, "the meter refused a credit of %lu Wh",
                    (unsigned long)wh);
    json_object_set_new(c->res, "credit_wh",
                        json_integer(meter_credit_wh(c->env->m)));
    return 0;
}

static int cmd_time(struct ctx *c)
{
    static const char *const keys[] = { "time", NULL };
    const char *s = NULL;
    int64_t t;

    if (only_keys(c, c->req, NULL, keys) ||
        get_string(c, c->req, "time", &s) < 0)
        return -1;
    if (!s)
        return fail(c, "missing 'time' (\"2026-03-01T00:00:00\")");
    if (time_parse_iso(s, &t) || t < RTC_MIN || t > RTC_MAX)
        return fail(c, "'time' \"%s\" is not a date-time such as "
                    "2026-03-01T00:00:00 (%d..%d)", s, RTC_YEAR_MIN,
                    RTC_YEAR_MAX);
    uint16_t regs[2] = { (uint16_t)((uint64_t)t >> 16), (uint16_t)t };
    if (meter_reg_write(c->env->m, REG_X_EPOCH, 2, regs, c->env->now))
        return fail(c, "the meter refused the time \"%s\"", s);
    return 0;
}

/* "MM-DD" -> month, day (a real date in a leap year). */
static bool parse_month_day(const char *s, uint8_t *month, uint8_t *day)
{
    unsigned mo, d;
    int n = 0;
    if (sscanf(s, "%2u-%2u%n", &mo, &d, &n) != 2 || s[n] || n != 5 ||
        mo < 1 || mo > 12 || d < 1 || d > rtc_month_days(2000, mo))
        return false;
    *month = (uint8_t)mo;
    *day = (uint8_t)d;
    return true;
}

/* "HH:MM" */
static bool parse_hhmm(const char *s, uint8_t *h, uint8_t *m)
{
    unsigned hh, mm;
    int n = 0;
    if (sscanf(s, "%2u:%2u%n", &hh, &mm, &n) != 2 || s[n] || n != 5 ||
        hh > 23 || mm > 59)
        return false;
    *h = (uint8_t)hh;
    *m = (uint8_t)mm;
    return true;
}

static int parse_rate(struct ctx *c, json_t *v, const char *where,
                      uint8_t *rate)
{
    if (json_is_integer(v) && json_integer_value(v) >= 1 &&
        json_integer_value(v) <= 4) {
        *rate = (uint8_t)json_integer_value(v);
        return 0;
    }
    for (unsigned r = 0; json_is_string(v) && r < 4; r++) {
        if (!strcmp(json_string_value(v), uplink_rate_names[r])) {
            *rate = (uint8_t)(r + 1);
            return 0;
        }
    }
    return fail(c, "%s: 'rate' must be 1..4 or \"sharp\", \"peak\", "
                "\"flat\", \"valley\"", where);
}

static int cmd_tariff(struct ctx *c)
{
    static const char *const keys[] = { "zones", NULL };
    static const char *const zone_keys[] = { "start", "periods", NULL };
    static const char *const period_keys[] = { "start", "rate", NULL };
    struct meter_settings s = *meter_settings(c->env->m);
    struct tariff_table *t = &s.tariff;
    json_t *zones = json_object_get(c->req, "zones");
    char where[64];

    if (only_keys(c, c->req, NULL, keys))
        return -1;
    if (!json_is_array(zones) || json_array_size(zones) < 1 ||
        json_array_size(zones) > TARIFF_ZONES)
        return fail(c, "'zones' must be an array of 1..%d zones",
                    TARIFF_ZONES);
    t->nzones = (uint8_t)json_array_size(zones);
    for (size_t z = 0; z < json_array_size(zones); z++) {
        json_t *zone = json_array_get(zones, z);
        struct tariff_zone *tz = &t->zone[z];
        const char *start = NULL;
        json_t *periods;

        snprintf(where, sizeof where, "zones[%zu]", z);
        if (!json_is_object(zone))
            return fail(c, "%s must be an object", where);
        if (only_keys(c, zone, where, zone_keys))
            return -1;
        if (get_string(c, zone, "start", &start) < 0)
            return -1;
        if (!start || !parse_month_day(start, &tz->month, &tz->day))
            return fail(c, "%s: 'start' must be a date \"MM-DD\" such as "
                        "\"01-01\"", where);
        if (z > 0 && tz->month * 100 + tz->day <=
                     t->zone[z - 1].month * 100 + t->zone[z - 1].day)
            return fail(c, "%s: zone starts must be strictly ascending",
                        where);
        periods = json_object_get(zone, "periods");
        if (!json_is_array(periods) || json_array_size(periods) < 1 ||
            json_array_size(periods) > TARIFF_PERIODS)
            return fail(c, "%s: 'periods' must be an array of 1..%d periods",
                        where, TARIFF_PERIODS);
        tz->nperiods = (uint8_t)json_array_size(periods);
        for (size_t k = 0; k < json_array_size(periods); k++) {
            json_t *p = json_array_get(periods, k);
            struct tariff_period *tp = &tz->period[k];
            snprintf(where, sizeof where, "zones[%zu].periods[%zu]", z, k);
            if (!json_is_object(p))
                return fail(c, "%s must be an object", where);
            if (only_keys(c, p, where, period_keys))
                return -1;
            if (get_string(c, p, "start", &start) < 0)
                return -1;
            if (!start || !parse_hhmm(start, &tp->hour, &tp->min))
                return fail(c, "%s: 'start' must be a time \"HH:MM\"", where);
            if (k > 0 && tp->hour * 60 + tp->min <=
                         tz->period[k - 1].hour * 60 + tz->period[k - 1].min)
                return fail(c, "%s: period starts must be strictly "
                            "ascending", where);
            if (parse_rate(c, json_object_get(p, "rate"), where, &tp->rate))
                return -1;
        }
    }
    if (meter_configure(c->env->m, &s))
        return fail(c, "the meter refused the tariff table");
    return 0;
}

static int cmd_period(struct ctx *c)
{
    static const char *const keys[] = { "seconds", NULL };
    long long v = 0;
    int rc;

    if (only_keys(c, c->req, NULL, keys))
        return -1;
    rc = get_int(c, c->req, "seconds", UPLINK_PERIOD_MIN, UPLINK_PERIOD_MAX,
                 &v);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return fail(c, "missing 'seconds' (%d..%d)", UPLINK_PERIOD_MIN,
                    UPLINK_PERIOD_MAX);
    c->env->period = (uint32_t)v;
    json_object_set_new(c->res, "seconds", json_integer(v));
    return 0;
}

static const char *const word_orders[] = { "ABCD", "CDAB", "BADC", "DCBA" };

json_t *uplink_cmd_config_json(const struct meter_settings *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "word_order",
                        json_string(word_orders[s->comm.word_order & 3]));
    json_object_set_new(o, "uplink", json_string(
        s->comm.uplink == METER_UPLINK_MQTT ? "mqtt" : "debug"));
    json_object_set_new(o, "demand_period", json_integer(s->demand.period_min));
    json_object_set_new(o, "demand_slide", json_integer(s->demand.slide_min));
    json_object_set_new(o, "prepaid", json_boolean(s->prepaid.enabled));
    json_object_set_new(o, "alarm_wh", json_integer(s->prepaid.alarm_wh));
    json_object_set_new(o, "limit_w", json_integer(s->prepaid.limit_w));
    json_object_set_new(o, "delay_s", json_integer(s->prepaid.delay_s));
    return o;
}

static int cmd_config(struct ctx *c)
{
    static const char *const keys[] = {
        "word_order", "uplink", "demand_period", "demand_slide", "prepaid",
        "alarm_wh", "limit_w", "delay_s", NULL };
    struct meter_settings s = *meter_settings(c->env->m);
    const char *str = NULL;
    long long v = 0;
    bool b = false;
    int rc;

    if (only_keys(c, c->req, NULL, keys))
        return -1;
    if ((rc = get_string(c, c->req, "word_order", &str)) < 0)
        return -1;
    if (rc) {
        unsigned k = 0;
        while (k < 4 && strcmp(str, word_orders[k]))
            k++;
        if (k == 4)
            return fail(c, "'word_order' must be \"ABCD\", \"CDAB\", "
                        "\"BADC\" or \"DCBA\"");
        s.comm.word_order = (uint8_t)k;
    }
    if ((rc = get_string(c, c->req, "uplink", &str)) < 0)
        return -1;
    if (rc) {
        if (!strcmp(str, "mqtt"))
            s.comm.uplink = METER_UPLINK_MQTT;
        else if (!strcmp(str, "debug"))
            s.comm.uplink = METER_UPLINK_DEBUG;
        else
            return fail(c, "'uplink' must be \"mqtt\" or \"debug\"");
    }
    if ((rc = get_int(c, c->req, "demand_period", 1, 60, &v)) < 0)
        return -1;
    if (rc)
        s.demand.period_min = (uint8_t)v;
    if ((rc = get_int(c, c->req, "demand_slide", 1, 60, &v)) < 0)
        return -1;
    if (rc)
        s.demand.slide_min = (uint8_t)v;
    if (s.demand.slide_min > s.demand.period_min ||
        s.demand.period_min % s.demand.slide_min)
        return fail(c, "'demand_slide' (%u min) must divide "
                    "'demand_period' (%u min)", s.demand.slide_min,
                    s.demand.period_min);
    if ((rc = get_bool(c, c->req, "prepaid", &b)) < 0)
        return -1;
    if (rc)
        s.prepaid.enabled = b;
    if ((rc = get_int(c, c->req, "alarm_wh", 0, UINT32_MAX, &v)) < 0)
        return -1;
    if (rc)
        s.prepaid.alarm_wh = (uint32_t)v;
    if ((rc = get_int(c, c->req, "limit_w", 0, UINT32_MAX, &v)) < 0)
        return -1;
    if (rc)
        s.prepaid.limit_w = (uint32_t)v;
    if ((rc = get_int(c, c->req, "delay_s", 0, PREPAID_DELAY_MAX, &v)) < 0)
        return -1;
    if (rc)
        s.prepaid.delay_s = (uint16_t)v;
    if (meter_configure(c->env->m, &s))
        return fail(c, "the meter refused the configuration");
    json_object_set_new(c->res, "config",
                        uplink_cmd_config_json(meter_settings(c->env->m)));
    return 0;
}

static int cmd_report(struct ctx *c)
{
    static const char *const keys[] = { NULL };
    if (only_keys(c, c->req, NULL, keys))
        return -1;
    c->env->report = true;
    return 0;
}

static const struct {
    const char *name;
    int (*run)(struct ctx *c);
} commands[] = {
    { "config", cmd_config },
    { "credit", cmd_credit },
    { "period", cmd_period },
    { "relay", cmd_relay },
    { "report", cmd_report },
    { "tariff", cmd_tariff },
    { "time", cmd_time },
    { "topup", cmd_topup },
};

json_t *uplink_cmd_run(const char *name, const void *payload, size_t len,
                       struct uplink_cmd_env *env)
{
    struct ctx c = { .env = env, .res = json_object() };
    json_error_t jerr;
    int (*run)(struct ctx *) = NULL;
    size_t ncmd = sizeof commands / sizeof commands[0];

    json_object_set_new(c.res, "cmd", json_string(name));
    for (size_t k = 0; k < ncmd; k++)
        if (!strcmp(name, commands[k].name))
            run = commands[k].run;
    if (!run) {
        char list[256] = "";
        for (size_t k = 0; k < ncmd; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     k ? ", " : "", commands[k].name);
        fail(&c, "unknown command '%s' (commands: %s)", name, list);
    } else if (len > PAYLOAD_MAX) {
        fail(&c, "the payload is larger than %d bytes", PAYLOAD_MAX);
    } else if (!(c.req = json_loadb(payload, len,
                                    JSON_REJECT_DUPLICATES, &jerr))) {
        fail(&c, "bad JSON: %s (line %d, column %d)", jerr.text, jerr.line,
             jerr.column);
    } else if (!json_is_object(c.req)) {
        fail(&c, "the payload must be a JSON object");
    } else {
        json_t *id = json_object_get(c.req, "id");
        if (id && !json_is_string(id) && !json_is_integer(id))
            fail(&c, "'id' must be a string or an integer");
        else {
            if (id)
                json_object_set(c.res, "id", id);
            if (env->retained)
                /* it would run again at every (re)connection */
                fail(&c, "not executed: the command was retained by the "
                     "broker (published with the retain flag); publish "
                     "commands without it, and clear this one with an "
                     "empty retained message on its topic");
            else
                run(&c);
        }
    }
    json_object_set_new(c.res, "ok", json_boolean(!c.error[0]));
    if (c.error[0])
        json_object_set_new(c.res, "error", json_string(c.error));
    json_object_set_new(c.res, "time", uplink_json_time(meter_time(env->m)));
    json_decref(c.req);
    return c.res;
}
