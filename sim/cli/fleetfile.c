/*
 * The fleet file: JSON read with jansson, checked whole before anything
 * starts. Options go back to the options table as text (its parsers check
 * them); meters' loads go through load_parse, their settings through the
 * core's settings_check and meter_configure, so the file has no checks of
 * its own for what the command line, the scenario API and Modbus already
 * check.
 */
#include "sim/cli/fleetfile.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/meter.h"
#include "sim/base/keylist.h"
#include "sim/base/timeparse.h"

#define SERIAL_MAX 99999999u    /* eight digits, as the meter shows them */

static const char *const meter_keys[] = {
    "index", "range", "slave", "serial", "load", "settings", "args", NULL };

static const char *const load_keys[] = { "U", "I", "PF", "F", "DIR", NULL };

static const char *const settings_keys[] = {
    "word_order", "password", "demand", "prepaid", "tariff", NULL };

static const char *const rate_names[] = { "sharp", "peak", "flat",
                                          "valley" };

/* ---- messages ---- */

static int fail(char *err, size_t errlen, const char *where,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "WHERE: WHAT"; -1. */
static int fail(char *err, size_t errlen, const char *where,
                const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "%s: ", where);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A path or a word, cut short if it must be. */
static void sub(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sub(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

/* A JSON value as the message shows it: 1.7, "x", true, an object. */
static const char *shown(const json_t *v, char *buf, size_t len)
{
    char *s;

    if (json_is_object(v))
        return "an object";
    if (json_is_array(v))
        return "a list";
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, len, "%s", s ? s : "?");
    free(s);
    return buf;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static bool listed(const char *key, const char *const *keys)
{
    for (; *keys; keys++)
        if (!strcmp(key, *keys))
            return true;
    return false;
}

/* Every key of obj is one of keys, else an error naming it. */
static int known_keys(const json_t *obj, const char *const *keys,
                      const char *where, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char list[256];

    json_object_foreach((json_t *)obj, key, v) {
        if (listed(key, keys))
            continue;
        keylist(keys, list, sizeof list);
        return fail(err, errlen, where, "unknown key \"%s\" (%s)", key, list);
    }
    return 0;
}

/* A whole number in lo..hi at where, else the message. */
static int whole(const json_t *v, long long lo, long long hi,
                 const char *where, long long *out, char *err, size_t errlen)
{
    char buf[64];

    if (!json_is_integer(v))
        return fail(err, errlen, where, "%s is %s, not a whole number",
                    shown(v, buf, sizeof buf), type_name(v));
    if (json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, where, "%s is not %lld..%lld",
                    shown(v, buf, sizeof buf), lo, hi);
    *out = json_integer_value(v);
    return 0;
}

/* obj's whole number key in lo..hi: 1 and *out, 0 when it has no key,
 * -1 with the message naming where.key. */
static int whole_field(const json_t *obj, const char *key, long long lo,
                       long long hi, const char *where, long long *out,
                       char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    char at[160];

    if (!v)
        return 0;
    sub(at, sizeof at, "%s.%s", where, key);
    return whole(v, lo, hi, at, out, err, errlen) ? -1 : 1;
}

/* A number or a string as text, as it would be typed. */
static int as_text(const json_t *v, const char *where, char *buf, size_t len,
                   char *err, size_t errlen)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.15g", json_real_value(v));
    else
        return fail(err, errlen, where, "is %s, not a number or a string",
                    type_name(v));
    return 0;
}

/* ---- options ---- */

static int add_option(struct fleet *f, const char *name, const json_t *v,
                      bool in_list, const char *where, char *err,
                      size_t errlen)
{
    struct fleet_option *o;
    char buf[512];

    if (json_is_object(v) || json_is_array(v) || json_is_null(v))
        return fail(err, errlen, where, "is %s, not a value", type_name(v));
    if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else if (as_text(v, where, buf, sizeof buf, err, errlen))
        return -1;
    o = realloc(f->options, (f->noptions + 1) * sizeof *o);
    if (!o)
        return fail(err, errlen, where, "out of memory");
    f->options = o;
    o = &f->options[f->noptions++];
    o->name = name;
    o->value = strdup(buf);
    o->listed = in_list;
    o->type = json_is_boolean(v) ? FLEET_BOOL : json_is_string(v) ?
              FLEET_STRING : FLEET_NUMBER;
    sub(o->where, sizeof o->where, "%s", where);
    return o->value ? 0 : fail(err, errlen, where, "out of memory");
}

/* ---- scenario arguments ---- */

static int add_word(struct fleet *f, const char *name, long index,
                    const json_t *v, const char *where, char *err,
                    size_t errlen)
{
    char val[256], word[512];
    char **a;

    if (!*name || strchr(name, '='))
        return fail(err, errlen, where, "\"%s\" is not an argument's name "
                    "(not empty, no '=')", name);
    if (json_is_boolean(v))
        snprintf(val, sizeof val, "%s", json_is_true(v) ? "true" : "false");
    else if (as_text(v, where, val, sizeof val, err, errlen))
        return -1;
    if (index)
        snprintf(word, sizeof word, "%s.%ld=%s", name, index, val);
    else
        snprintf(word, sizeof word, "%s=%s", name, val);
    a = realloc(f->args, (size_t)(f->nargs + 1) * sizeof *a);
    if (!a || !(a[f->nargs] = strdup(word)))
        return fail(err, errlen, where, "out of memory");
    f->args = a;
    f->nargs++;
    return 0;
}

/* "args": {"NAME": VALUE, ...}, for every meter first..last (1-based),
 * or for the whole scenario (first 0). */
static int add_args(struct fleet *f, const json_t *obj, long first,
                    long last, const char *where, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char at[128];

    if (!json_is_object(obj))
        return fail(err, errlen, where, "is %s, not an object of NAME: "
                    "VALUE", type_name(obj));
    json_object_foreach((json_t *)obj, key, v) {
        sub(at, sizeof at, "%s.%s", where, key);
        for (long k = first; k <= last; k++)
            if (add_word(f, key, k, v, at, err, errlen))
                return -1;
    }
    return 0;
}

/* ---- a meter's load ---- */

/* "load": "U=230,I=5" as --load, or {"U": 230, "I": 5, "PF": 0.95}: each
 * field checked alone (the message names it), then the whole. */
static int load_of(const json_t *v, const char *where, struct load *l,
                   char *err, size_t errlen)
{
    char spec[256] = "", why[256], at[128], val[64];
    const char *key;
    json_t *x;

    if (json_is_string(v)) {
        if (load_parse(json_string_value(v), l, why, sizeof why))
            return fail(err, errlen, where, "'%s': %s", json_string_value(v),
                        why);
        return 0;
    }
    if (!json_is_object(v))
        return fail(err, errlen, where, "is %s, not \"U=230,I=5,...\" or "
                    "{\"U\": 230, \"I\": 5, ...}", type_name(v));
    if (known_keys(v, load_keys, where, err, errlen))
        return -1;
    json_object_foreach((json_t *)v, key, x) {
        char one[128];
        sub(at, sizeof at, "%s.%s", where, key);
        if (as_text(x, at, val, sizeof val, err, errlen))
            return -1;
        sub(one, sizeof one, "%s=%s", key, val);
        if (load_parse(one, l, why, sizeof why))
            return fail(err, errlen, at, "%s", why);
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%s",
                 *spec ? "," : "", one);
    }
    if (!*spec)
        return fail(err, errlen, where, "is empty (U, I, PF, F, DIR)");
    if (load_parse(spec, l, why, sizeof why))
        return fail(err, errlen, where, "%s", why);
    return 0;
}

/* ---- a meter's settings ---- */

static int rate_of(const json_t *v, const char *where, uint8_t *out,
                   char *err, size_t errlen)
{
    char buf[64];

    if (json_is_integer(v) && json_integer_value(v) >= 1 &&
        json_integer_value(v) <= 4) {
        *out = (uint8_t)json_integer_value(v);
        return 0;
    }
    for (int r = 0; json_is_string(v) && r < 4; r++)
        if (!strcmp(json_string_value(v), rate_names[r])) {
            *out = (uint8_t)(r + 1);
            return 0;
        }
    return fail(err, errlen, where, "%s is not a rate (1..4, \"sharp\", "
                "\"peak\", \"flat\" or \"valley\")", shown(v, buf, sizeof buf));
}

/* A day's periods: [["06:00", "sharp"], {"at": "10:00", "rate": 2}...]. */
static int periods_of(const json_t *v, const char *where,
                      struct tariff_zone *z, char *err, size_t errlen)
{
    char at[128];
    size_t j;
    json_t *p;

    if (!json_is_array(v) || json_array_size(v) < 1 ||
        json_array_size(v) > TARIFF_PERIODS)
        return fail(err, errlen, where, "is not a list of 1..%d periods "
                    "[\"HH:MM\", RATE]", TARIFF_PERIODS);
    z->nperiods = (uint8_t)json_array_size(v);
    json_array_foreach(v, j, p) {
        const json_t *t, *r;
        unsigned hh, mm;
        int used = 0;
        sub(at, sizeof at, "%s[%zu]", where, j);
        if (json_is_array(p) && json_array_size(p) == 2) {
            t = json_array_get(p, 0);
            r = json_array_get(p, 1);
        } else if (json_is_object(p)) {
            static const char *const keys[] = { "at", "rate", NULL };
            if (known_keys(p, keys, at, err, errlen))
                return -1;
            t = json_object_get(p, "at");
            r = json_object_get(p, "rate");
        } else {
            return fail(err, errlen, at, "is not [\"HH:MM\", RATE]");
        }
        const char *s = json_string_value(t);
        if (!s || sscanf(s, "%2u:%2u%n", &hh, &mm, &used) != 2 || s[used] ||
            hh > 23 || mm > 59)
            return fail(err, errlen, at, "does not start at \"HH:MM\"");
        z->period[j].hour = (uint8_t)hh;
        z->period[j].min = (uint8_t)mm;
        if (rate_of(r, at, &z->period[j].rate, err, errlen))
            return -1;
        if (j > 0 && (unsigned)(z->period[j - 1].hour * 60 +
                                z->period[j - 1].min) >= hh * 60 + mm)
            return fail(err, errlen, at, "starts at %02u:%02u, not after the "
                        "period before it: periods go in the order of their "
                        "start, as the meter stores them", hh, mm);
    }
    return 0;
}

/* "tariff": a day's periods (one zone from January 1st), or
 * {"zones": [{"from": "MM-DD", "periods": [...]}, ...]}. */
static int tariff_of(const json_t *v, const char *where,
                     struct tariff_table *t, char *err, size_t errlen)
{
    static const char *const keys[] = { "zones", NULL };
    static const char *const zone_keys[] = { "from", "periods", NULL };
    const json_t *zones = json_object_get(v, "zones");
    char at[128], pat[160];
    size_t j;
    json_t *z;

    if (json_is_array(v)) {
        t->nzones = 1;
        t->zone[0] = (struct tariff_zone){ .month = 1, .day = 1 };
        return periods_of(v, where, &t->zone[0], err, errlen);
    }
    if (!json_is_object(v) || known_keys(v, keys, where, err, errlen))
        return json_is_object(v) ? -1 :
               fail(err, errlen, where, "is %s, not a list of periods or "
                    "{\"zones\": [...]}", type_name(v));
    sub(at, sizeof at, "%s.zones", where);
    if (!json_is_array(zones) || json_array_size(zones) < 1 ||
        json_array_size(zones) > TARIFF_ZONES)
        return fail(err, errlen, at, "is not a list of 1..%d zones",
                    TARIFF_ZONES);
    t->nzones = (uint8_t)json_array_size(zones);
    json_array_foreach(zones, j, z) {
        unsigned mo, dd;
        int used = 0;
        sub(at, sizeof at, "%s.zones[%zu]", where, j);
        if (!json_is_object(z))
            return fail(err, errlen, at, "is not {\"from\": \"MM-DD\", "
                        "\"periods\": [...]}");
        if (known_keys(z, zone_keys, at, err, errlen))
            return -1;
        const char *f = json_string_value(json_object_get(z, "from"));
        sub(pat, sizeof pat, "%s.from", at);
        if (!f || sscanf(f, "%2u-%2u%n", &mo, &dd, &used) != 2 || f[used] ||
            mo < 1 || mo > 12 || dd < 1 || dd > 31)
            return fail(err, errlen, pat, "is not a date \"MM-DD\"");
        t->zone[j] = (struct tariff_zone){ .month = (uint8_t)mo,
                                           .day = (uint8_t)dd };
        if (j > 0 && (unsigned)(t->zone[j - 1].month * 100 +
                                t->zone[j - 1].day) >= mo * 100 + dd)
            return fail(err, errlen, pat, "%02u-%02u is not after the zone "
                        "before it: zones go in the order of their start",
                        mo, dd);
        sub(pat, sizeof pat, "%s.periods", at);
        if (periods_of(json_object_get(z, "periods"), pat, &t->zone[j], err,
                       errlen))
            return -1;
    }
    return 0;
}

static int demand_of(const json_t *v, const char *where,
                     struct demand_config *d, char *err, size_t errlen)
{
    static const char *const keys[] = { "period", "slide", NULL };
    long long x;
    int rc;

    if (!json_is_object(v))
        return fail(err, errlen, where, "is %s, not {\"period\": MIN, "
                    "\"slide\": MIN}", type_name(v));
    if (known_keys(v, keys, where, err, errlen))
        return -1;
    for (int k = 0; keys[k]; k++) {
        if ((rc = whole_field(v, keys[k], 1, 60, where, &x, err,
                              errlen)) < 0)
            return -1;
        if (rc)
            *(k ? &d->slide_min : &d->period_min) = (uint8_t)x;
    }
    if (demand_config_check(d))
        return fail(err, errlen, where, "a slide of %u min does not divide "
                    "a period of %u min", d->slide_min, d->period_min);
    return 0;
}

static int prepaid_of(const json_t *v, const char *where,
                      struct prepaid_config *p, char *err, size_t errlen)
{
    static const char *const keys[] = { "on", "alarm", "limit", "delay",
                                        NULL };
    const json_t *on = json_object_get(v, "on");
    char at[128];
    long long x;
    int rc;

    if (!json_is_object(v))
        return fail(err, errlen, where, "is %s, not {\"on\": true, ...}",
                    type_name(v));
    if (known_keys(v, keys, where, err, errlen))
        return -1;
    sub(at, sizeof at, "%s.on", where);
    if (on && !json_is_boolean(on))
        return fail(err, errlen, at, "is %s, not true or false",
                    type_name(on));
    if (on)
        p->enabled = json_is_true(on);
    if ((rc = whole_field(v, "alarm", 0, PREPAID_CREDIT_MAX_WH, where, &x,
                          err, errlen)) > 0)
        p->alarm_wh = (uint32_t)x;
    if (rc >= 0 && (rc = whole_field(v, "limit", 0, UINT32_MAX, where, &x,
                                     err, errlen)) > 0)
        p->limit_w = (uint32_t)x;
    if (rc >= 0 && (rc = whole_field(v, "delay", 0, PREPAID_DELAY_MAX, where,
                                     &x, err, errlen)) > 0)
        p->delay_s = (uint16_t)x;
    return rc < 0 ? -1 : 0;
}

/* "settings" onto s (the meter's own, or the factory's to check the
 * file): each field checked where it is, then the whole by the core. */
static int settings_of(const json_t *v, const char *where,
                       struct meter_settings *s, char *err, size_t errlen)
{
    static const char *const orders[] = { "ABCD", "CDAB", "BADC", "DCBA" };
    const json_t *f;
    char at[128], buf[64];
    long long x;

    if (!json_is_object(v))
        return fail(err, errlen, where, "is %s, not an object",
                    type_name(v));
    if (known_keys(v, settings_keys, where, err, errlen))
        return -1;
    if ((f = json_object_get(v, "word_order"))) {
        int k = 0;
        while (k < 4 && !(json_is_string(f) &&
                          !strcmp(json_string_value(f), orders[k])))
            k++;
        sub(at, sizeof at, "%s.word_order", where);
        if (k == 4)
            return fail(err, errlen, at, "%s is not \"ABCD\", \"CDAB\", "
                        "\"BADC\" or \"DCBA\"", shown(f, buf, sizeof buf));
        s->comm.word_order = (uint8_t)k;
    }
    switch (whole_field(v, "password", 0, 9999, where, &x, err, errlen)) {
    case -1: return -1;
    case 1: s->password = (uint16_t)x; break;
    }
    sub(at, sizeof at, "%s.demand", where);
    if ((f = json_object_get(v, "demand")) &&
        demand_of(f, at, &s->demand, err, errlen))
        return -1;
    sub(at, sizeof at, "%s.prepaid", where);
    if ((f = json_object_get(v, "prepaid")) &&
        prepaid_of(f, at, &s->prepaid, err, errlen))
        return -1;
    sub(at, sizeof at, "%s.tariff", where);
    if ((f = json_object_get(v, "tariff")) &&
        tariff_of(f, at, &s->tariff, err, errlen))
        return -1;
    if (settings_check(s))
        return fail(err, errlen, where, "the meter refuses these settings "
                    "(a tariff date that does not exist?)");
    return 0;
}

/* ---- meters ---- */

/* "index": N or "range": "A-B" (1-based, A <= B): meters A-1..B-1. */
static int which_meters(const json_t *m, const char *where,
                        struct fleet_meter *fm, char *err, size_t errlen)
{
    const json_t *index = json_object_get(m, "index");
    const json_t *range = json_object_get(m, "range");
    char at[128];
    long long k;

    if (!index == !range)
        return fail(err, errlen, where, "needs \"index\": N or \"range\": "
                    "\"A-B\" (one of them)");
    if (index) {
        sub(at, sizeof at, "%s.index", where);
        if (whole(index, 1, 100000, at, &k, err, errlen))
            return -1;
        fm->first = fm->last = (unsigned)k - 1;
        return 0;
    }
    unsigned a, b;
    int used = 0;
    const char *s = json_string_value(range);
    sub(at, sizeof at, "%s.range", where);
    if (!s || sscanf(s, "%u-%u%n", &a, &b, &used) != 2 || s[used] || a < 1 ||
        b < a || b > 100000)
        return fail(err, errlen, at, "is not \"A-B\" with 1 <= A <= B <= "
                    "100000");
    fm->first = a - 1;
    fm->last = b - 1;
    return 0;
}

static int meter_of(struct fleet *f, const json_t *m, size_t j,
                    struct fleet_meter *fm, char *err, size_t errlen)
{
    char at[128];
    const json_t *v;
    long long x;
    unsigned n;

    sub(fm->where, sizeof fm->where, "%s: $.meters[%zu]", f->path, j);
    if (!json_is_object(m))
        return fail(err, errlen, fm->where, "is %s, not an object",
                    type_name(m));
    if (known_keys(m, meter_keys, fm->where, err, errlen) ||
        which_meters(m, fm->where, fm, err, errlen))
        return -1;
    n = fm->last - fm->first;
    sub(at, sizeof at, "%s.slave", fm->where);
    if ((v = json_object_get(m, "slave"))) {
        if (whole(v, 1, METER_SLAVE_MAX - n, at, &x, err, errlen))
            return -1;
        fm->slave = (int)x;
    }
    sub(at, sizeof at, "%s.serial", fm->where);
    if ((v = json_object_get(m, "serial"))) {
        if (whole(v, 1, SERIAL_MAX - n, at, &x, err, errlen))
            return -1;
        fm->serial = (uint32_t)x;
        fm->serial_set = true;
    }
    sub(at, sizeof at, "%s.load", fm->where);
    if ((v = json_object_get(m, "load"))) {
        if (load_of(v, at, &fm->load, err, errlen))
            return -1;
        fm->load_set = true;
    }
    sub(at, sizeof at, "%s.settings", fm->where);
    if ((v = json_object_get(m, "settings"))) {
        struct meter_settings s;
        settings_default(&s);
        if (settings_of(v, at, &s, err, errlen))
            return -1;
        fm->settings = v;
    }
    sub(at, sizeof at, "%s.args", fm->where);
    if ((v = json_object_get(m, "args")) &&
        add_args(f, v, fm->first + 1, fm->last + 1, at, err, errlen))
        return -1;
    /* no meter twice: which entry would win is no one's guess */
    for (size_t k = 0; k < j; k++) {
        const struct fleet_meter *o = &f->meters[k];
        if (o->first <= fm->last && fm->first <= o->last)
            return fail(err, errlen, fm->where, "meters %u-%u overlap "
                        "$.meters[%zu] (%u-%u): each meter in one entry",
                        fm->first + 1, fm->last + 1, k, o->first + 1,
                        o->last + 1);
    }
    return 0;
}

static int meters_of(struct fleet *f, const json_t *v, char *err,
                     size_t errlen)
{
    char at[128];
    size_t j;
    json_t *m;

    sub(at, sizeof at, "%s: $.meters", f->path);
    if (!json_is_array(v))
        return fail(err, errlen, at, "is %s, not a list", type_name(v));
    f->meters = calloc(json_array_size(v) + 1, sizeof *f->meters);
    if (!f->meters)
        return fail(err, errlen, at, "out of memory");
    json_array_foreach(v, j, m) {
        if (meter_of(f, m, j, &f->meters[j], err, errlen))
            return -1;
        f->nmeters = j + 1;
    }
    return 0;
}

/* ---- the population ---- */

static const char *const population_keys[] = { "seed", "interval", "mix",
                                               NULL };

static const char *const kind_keys[] = {
    "kind", "share", "kw", "pf", "u", "shift", "profile", "weekend",
    "season", "variation", "export", "chance", "start", "hours", NULL };

/* A number in lo..hi at where, else the message. */
static int number(const json_t *v, double lo, double hi, const char *where,
                  double *out, char *err, size_t errlen)
{
    char buf[64];

    if (!json_is_number(v))
        return fail(err, errlen, where, "%s is %s, not a number",
                    shown(v, buf, sizeof buf), type_name(v));
    *out = json_number_value(v);
    if (!(*out >= lo && *out <= hi))
        return fail(err, errlen, where, "%s is not %g..%g",
                    shown(v, buf, sizeof buf), lo, hi);
    return 0;
}

/* obj's key as a range within lo..hi: a number (fixed) or [LO, HI]
 * with LO <= HI; whole numbers only if whole_only. Unset: r as it was. */
static int range_field(const json_t *obj, const char *key, double lo,
                       double hi, bool whole_only, const char *where,
                       struct population_range *r, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    char at[192], at2[200];

    if (!v)
        return 0;
    sub(at, sizeof at, "%s.%s", where, key);
    if (json_is_number(v) || whole_only) {
        if (!json_is_array(v)) {
            if (whole_only && !json_is_integer(v))
                return fail(err, errlen, at, "is %s, not a whole number or "
                            "[LO, HI]", type_name(v));
            if (number(v, lo, hi, at, &r->lo, err, errlen))
                return -1;
            r->hi = r->lo;
            return 0;
        }
    }
    if (!json_is_array(v) || json_array_size(v) != 2)
        return fail(err, errlen, at, "is %s, not a number or [LO, HI]",
                    json_is_array(v) ? "a list not of two" : type_name(v));
    for (size_t j = 0; j < 2; j++) {
        const json_t *x = json_array_get(v, j);
        sub(at2, sizeof at2, "%s[%zu]", at, j);
        if (whole_only && !json_is_integer(x))
            return fail(err, errlen, at2, "is %s, not a whole number",
                        type_name(x));
        if (number(x, lo, hi, at2, j ? &r->hi : &r->lo, err, errlen))
            return -1;
    }
    if (r->lo > r->hi)
        return fail(err, errlen, at, "[%g, %g]: LO is above HI", r->lo,
                    r->hi);
    return 0;
}

/* obj's number key in lo..hi into *out, when it has it. */
static int number_field(const json_t *obj, const char *key, double lo,
                        double hi, const char *where, double *out, char *err,
                        size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    char at[192];

    if (!v)
        return 0;
    sub(at, sizeof at, "%s.%s", where, key);
    return number(v, lo, hi, at, out, err, errlen);
}

static int profile_of(const json_t *v, const char *where, double *profile,
                      char *err, size_t errlen)
{
    char at[200];

    if (!json_is_array(v) || json_array_size(v) != 24)
        return fail(err, errlen, where, "is %s, not a list of 24 numbers "
                    "(hour 0..23, a fraction 0..1 of the meter's kW)",
                    json_is_array(v) ? "a list not of 24" : type_name(v));
    for (size_t h = 0; h < 24; h++) {
        sub(at, sizeof at, "%s[%zu]", where, h);
        if (number(json_array_get(v, h), 0, 1, at, &profile[h], err, errlen))
            return -1;
    }
    return 0;
}

/* One entry of the mix: its kind's defaults, then what it sets. */
static int kind_of(const json_t *m, const char *where,
                   struct population_kind *k, char *err, size_t errlen)
{
    const json_t *v = json_object_get(m, "kind");
    char at[192], kinds[128] = "";

    if (!json_is_object(m))
        return fail(err, errlen, where, "is %s, not an object",
                    type_name(m));
    if (known_keys(m, kind_keys, where, err, errlen))
        return -1;
    for (unsigned j = 0; j < POP_NSHAPES; j++)
        snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                 j ? ", " : "", population_shape_names[j]);
    sub(at, sizeof at, "%s.kind", where);
    if (!v)
        return fail(err, errlen, at, "is missing (one of %s)", kinds);
    if (!json_is_string(v) ||
        population_kind_default(json_string_value(v), k)) {
        char buf[64];
        return fail(err, errlen, at, "%s is not a kind (%s)",
                    shown(v, buf, sizeof buf), kinds);
    }
    sub(at, sizeof at, "%s.share", where);
    if (!(v = json_object_get(m, "share")))
        return fail(err, errlen, at, "is missing (the fraction of the "
                    "fleet, 0..1)");
    if (number(v, 0, 1, at, &k->share, err, errlen) ||
        range_field(m, "kw", 0, 23, false, where, &k->kw, err, errlen) ||
        range_field(m, "pf", 0.1, 1, false, where, &k->pf, err, errlen) ||
        range_field(m, "u", 100, 300, false, where, &k->u, err, errlen) ||
        range_field(m, "shift", -12, 12, true, where, &k->shift, err,
                    errlen) ||
        number_field(m, "weekend", 0, 10, where, &k->weekend, err, errlen) ||
        number_field(m, "season", -1, 1, where, &k->season, err, errlen) ||
        number_field(m, "variation", 0, 1, where, &k->variation, err,
                     errlen))
        return -1;
    sub(at, sizeof at, "%s.profile", where);
    if ((v = json_object_get(m, "profile")) &&
        profile_of(v, at, k->profile, err, errlen))
        return -1;
    sub(at, sizeof at, "%s.export", where);
    if ((v = json_object_get(m, "export"))) {
        if (!json_is_boolean(v))
            return fail(err, errlen, at, "is %s, not true or false",
                        type_name(v));
        k->export = json_is_true(v);
    }
    bool ev = k->shape == POP_EV_CHARGER;
    static const char *const ev_only[] = { "chance", "start", "hours" };
    for (size_t j = 0; j < 3 && !ev; j++)
        if (json_object_get(m, ev_only[j])) {
            sub(at, sizeof at, "%s.%s", where, ev_only[j]);
            return fail(err, errlen, at, "is an ev_charger's (its sessions), "
                        "not a %s's", population_shape_names[k->shape]);
        }
    sub(at, sizeof at, "%s.profile", where);
    if (ev && json_object_get(m, "profile"))
        return fail(err, errlen, at, "an ev_charger follows its sessions "
                    "(chance, start, hours), not a profile");
    return number_field(m, "chance", 0, 1, where, &k->chance, err, errlen) ||
           range_field(m, "start", 0, 23, true, where, &k->start, err,
                       errlen) ||
           range_field(m, "hours", 1, 24, true, where, &k->hours, err,
                       errlen) ? -1 : 0;
}

static int interval_of(const json_t *v, const char *where, int64_t *out,
                       char *err, size_t errlen)
{
    char buf[64];

    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (!json_is_string(v) ||
             time_parse_duration(json_string_value(v), out))
        return fail(err, errlen, where, "%s is not a duration (\"15m\", "
                    "\"1h\", or seconds)", shown(v, buf, sizeof buf));
    if (*out < 60 || 86400 % *out)
        return fail(err, errlen, where, "%s: the loads change at whole "
                    "intervals of a day: 60 s at least, dividing 24 h "
                    "(\"15m\", \"30m\", \"1h\", \"2h\")",
                    shown(v, buf, sizeof buf));
    return 0;
}

static int population_of(struct fleet *f, const json_t *v, char *err,
                         size_t errlen)
{
    struct population *p;
    char where[128], at[160];
    const json_t *x, *mix;
    long long seed = 1;
    double sum = 0;
    size_t j;

    sub(where, sizeof where, "%s: $.population", f->path);
    if (!json_is_object(v))
        return fail(err, errlen, where, "is %s, not an object (seed, "
                    "interval, mix)", type_name(v));
    if (known_keys(v, population_keys, where, err, errlen))
        return -1;
    if (!(p = f->population = calloc(1, sizeof *p)))
        return fail(err, errlen, where, "out of memory");
    if (whole_field(v, "seed", 0, 9007199254740991LL, where, &seed, err,
                    errlen) < 0)
        return -1;
    p->seed = (uint64_t)seed;
    p->interval = 3600;
    sub(at, sizeof at, "%s.interval", where);
    if ((x = json_object_get(v, "interval")) &&
        interval_of(x, at, &p->interval, err, errlen))
        return -1;
    sub(at, sizeof at, "%s.mix", where);
    mix = json_object_get(v, "mix");
    if (!json_is_array(mix) || json_array_size(mix) < 1 ||
        json_array_size(mix) > POPULATION_KINDS)
        return fail(err, errlen, at, "is %s, not a list of 1..%d kinds",
                    mix ? type_name(mix) : "missing", POPULATION_KINDS);
    json_array_foreach(mix, j, x) {
        char entry[176];
        sub(entry, sizeof entry, "%s[%zu]", at, j);
        if (kind_of(x, entry, &p->kinds[j], err, errlen))
            return -1;
        sum += p->kinds[j].share;
        p->nkinds = (unsigned)j + 1;
    }
    if (fabs(sum - 1.0) > 1e-6)
        return fail(err, errlen, at, "the shares add up to %g, not 1", sum);
    return 0;
}

/* ---- the file ---- */

static int top_level(struct fleet *f, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char at[128];

    json_object_foreach((json_t *)f->root, key, v) {
        sub(at, sizeof at, "%s: $.%s", f->path, key);
        if (!strcmp(key, "meters") && json_is_array(v)) {
            /* the entries, and as many meters as they cover */
            json_t *n;
            unsigned count = 0;
            if (meters_of(f, v, err, errlen))
                return -1;
            for (size_t k = 0; k < f->nmeters; k++)
                if (f->meters[k].last + 1 > count)
                    count = f->meters[k].last + 1;
            n = json_integer(count ? count : 1);
            int rc = add_option(f, key, n, false, at, err, errlen);
            json_decref(n);
            if (rc)
                return -1;
        } else if (!strcmp(key, "scenario")) {
            if (!json_is_string(v) || !*json_string_value(v))
                return fail(err, errlen, at, "is %s, not a file name",
                            type_name(v));
            f->scenario = json_string_value(v);
        } else if (!strcmp(key, "args")) {
            if (add_args(f, v, 0, 0, at, err, errlen))
                return -1;
        } else if (!strcmp(key, "population")) {
            if (population_of(f, v, err, errlen))
                return -1;
        } else if (json_is_array(v)) {
            size_t j;
            json_t *x;
            json_array_foreach(v, j, x) {
                sub(at, sizeof at, "%s: $.%s[%zu]", f->path, key, j);
                if (add_option(f, key, x, true, at, err, errlen))
                    return -1;
            }
        } else if (add_option(f, key, v, false, at, err, errlen)) {
            return -1;
        }
    }
    return 0;
}

struct fleet *fleet_load(const char *path, char *err, size_t errlen)
{
    struct fleet *f = calloc(1, sizeof *f);
    json_error_t je;

    if (!f || !(f->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(f);
        return NULL;
    }
    f->root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!f->root) {
        if (je.line < 1)
            snprintf(err, errlen, "%s: %s", path, je.text);
        else
            snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
                     je.text);
        fleet_free(f);
        return NULL;
    }
    if (!json_is_object((json_t *)f->root)) {
        snprintf(err, errlen, "%s: $: is %s, not an object of options and "
                 "\"meters\"", path, type_name(f->root));
        fleet_free(f);
        return NULL;
    }
    if (top_level(f, err, errlen)) {
        fleet_free(f);
        return NULL;
    }
    return f;
}

/* ---- onto the fleet ---- */

/* What fm gives meter k: its settings s (slave and settings). */
static int settings_for(const struct fleet_meter *fm, unsigned k,
                        struct meter_settings *s, char *err, size_t errlen)
{
    char at[128];

    if (fm->slave)
        s->comm.slave = (uint8_t)(fm->slave + (int)(k - fm->first));
    sub(at, sizeof at, "%s.settings", fm->where);
    return fm->settings ? settings_of(fm->settings, at, s, err, errlen) : 0;
}

/* The entry meter k is in, or NULL. */
static const struct fleet_meter *entry_of(const struct fleet *f, unsigned k)
{
    for (size_t j = 0; j < f->nmeters; j++)
        if (f->meters[j].first <= k && k <= f->meters[j].last)
            return &f->meters[j];
    return NULL;
}

/* Every entry within the fleet, every address once on the bus (this
 * process's: its meters are the fleet's first + k). */
static int check_fleet(const struct fleet *f, const struct engine *e,
                       char *err, size_t errlen)
{
    static unsigned owner[METER_SLAVE_MAX + 1];

    for (size_t j = 0; j < f->nmeters; j++)
        if (f->meters[j].last >= e->span.total)
            return fail(err, errlen, f->meters[j].where, "meter %u is beyond "
                        "the fleet of %u (--meters)", f->meters[j].last + 1,
                        e->span.total);
    memset(owner, 0, sizeof owner);
    for (unsigned k = 0; k < e->count; k++) {
        unsigned g = e->span.first + k;
        const struct fleet_meter *fm = entry_of(f, g);
        struct meter_settings s = *meter_settings(&e->meters[k].core);
        if (fm && settings_for(fm, g, &s, err, errlen))
            return -1;
        unsigned a = s.comm.slave;
        if (a && owner[a])
            return fail(err, errlen, fm ? fm->where : entry_of(f, owner[a] -
                                                      1)->where,
                        "meters %u and %u would both have slave address %u",
                        owner[a], g + 1, a);
        if (a)
            owner[a] = g + 1;
    }
    return 0;
}

/* A meter's serial and its global index, for finding two alike. */
struct serial_of {
    uint32_t serial;
    unsigned g;
};

static int by_serial(const void *a, const void *b)
{
    const struct serial_of *x = a, *y = b;

    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return x->g < y->g ? -1 : x->g > y->g;
}

/* Every serial once in this process: a serial names a meter in the API's
 * paths, the MQTT topics and client ids, the metrics and the ready file. */
static int check_serials(const struct fleet *f, const struct engine *e,
                         char *err, size_t errlen)
{
    struct serial_of *all = calloc(e->count ? e->count : 1, sizeof *all);
    int rc = 0;

    if (!all)
        return fail(err, errlen, f->path, "out of memory");
    for (unsigned k = 0; k < e->count; k++) {
        all[k].g = e->span.first + k;
        if (!fleet_serial(f, all[k].g, &all[k].serial))
            all[k].serial = e->meters[k].core.serial;
    }
    qsort(all, e->count, sizeof *all, by_serial);
    for (unsigned k = 1; k < e->count && !rc; k++) {
        if (all[k].serial != all[k - 1].serial)
            continue;
        const struct fleet_meter *fm = entry_of(f, all[k].g);
        if (!fm)
            fm = entry_of(f, all[k - 1].g);
        rc = fail(err, errlen, fm ? fm->where : f->path,
                  "meters %u and %u would both have serial %08" PRIu32
                  " (give each meter its own; --serial-base gives the "
                  "meters without one N + their index)",
                  all[k - 1].g + 1, all[k].g + 1, all[k].serial);
    }
    free(all);
    return rc;
}

int fleet_apply(const struct fleet *f, struct engine *e, char *err,
                size_t errlen)
{
    if (f && f->population &&
        engine_set_population(e, f->population))
        return fail(err, errlen, f->path, "$.population: a drawn load does "
                    "not fit the meter's front end");
    if (!f || !f->nmeters)
        return 0;
    if (check_fleet(f, e, err, errlen) || check_serials(f, e, err, errlen))
        return -1;
    for (unsigned k = 0; k < e->count; k++) {
        unsigned g = e->span.first + k;
        const struct fleet_meter *fm = entry_of(f, g);
        struct meter *core = &e->meters[k].core;
        struct meter_settings s = *meter_settings(core);
        if (!fm)
            continue;
        if (settings_for(fm, g, &s, err, errlen))
            return -1;
        if (meter_configure(core, &s))
            return fail(err, errlen, fm->where, "meter %u refused the "
                        "settings", g + 1);
        if (fm->serial_set)
            meter_set_serial(core, fm->serial + (g - fm->first));
        if (fm->load_set)
            engine_set_load(e, k, &fm->load);
    }
    return 0;
}

bool fleet_serial(const struct fleet *f, unsigned g, uint32_t *serial)
{
    const struct fleet_meter *fm = f ? entry_of(f, g) : NULL;

    if (!fm || !fm->serial_set)
        return false;
    *serial = fm->serial + (g - fm->first);
    return true;
}

void fleet_free(struct fleet *f)
{
    if (!f)
        return;
    for (size_t k = 0; k < f->noptions; k++)
        free((char *)f->options[k].value);
    for (int k = 0; k < f->nargs; k++)
        free(f->args[k]);
    free(f->options);
    free(f->args);
    free(f->meters);
    free(f->population);
    json_decref(f->root);
    free(f->path);
    free(f);
}
