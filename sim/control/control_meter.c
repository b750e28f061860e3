/*
 * The control API's meters: readings from the register image (the one
 * source every channel reads), and actions through the core's entry
 * points (the MQTT commands' checks and calls, register writes,
 * meter_key, engine_set_load), so each one is checked in full before
 * anything changes and settings_changed persists what it changes.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registers.h"
#include "protocols/modbus_fault.h"
#include "sim/base/json_real32.h"
#include "sim/base/numparse.h"
#include "sim/base/timeparse.h"
#include "sim/ports/ports.h"
#include "sim/store/measure_json.h"
#include "sim/store/regnames.h"
#include "sim/uplink/uplink_cmd.h"
#include "sim/uplink/uplink_json.h"

#define MANUAL_FIRST 0x0000
#define MANUAL_LAST 0x01FE

static struct meter *core_of(struct ctl_call *call, int k)
{
    return &call->c->e->meters[k].core;
}

/* ---- readings ---- */

static json_t *f32(const struct meter *m, uint16_t addr)
{
    float v = 0;
    meter_reg_float(m, addr, &v);
    return json_real32(v);
}

static json_t *measurements_json(const struct meter *m)
{
    json_t *o = measure_json(m);
    json_object_set_new(o, "time", uplink_json_time(meter_time(m)));
    return o;
}

static json_t *energies_json(const struct meter *m)
{
    json_t *o = json_object(), *act = json_object(), *react = json_object();
    json_object_set_new(o, "active_kwh", f32(m, REG_ACT));
    json_object_set_new(o, "import_kwh", f32(m, REG_ACT_IMP));
    json_object_set_new(o, "export_kwh", f32(m, REG_ACT_EXP));
    json_object_set_new(o, "reactive_kvarh", f32(m, REG_REACT));
    json_object_set_new(o, "reactive_import_kvarh", f32(m, REG_REACT_IMP));
    json_object_set_new(o, "reactive_export_kvarh", f32(m, REG_REACT_EXP));
    for (unsigned r = 1; r <= 4; r++) {
        json_object_set_new(act, uplink_rate_names[r - 1],
                            f32(m, REG_ACT_RATE(r)));
        json_object_set_new(react, uplink_rate_names[r - 1],
                            f32(m, REG_REACT_RATE(r)));
    }
    json_object_set_new(o, "active_by_rate_kwh", act);
    json_object_set_new(o, "reactive_by_rate_kvarh", react);
    json_object_set_new(o, "month_active_kwh", f32(m, REG_X_MONTH_ACT));
    json_object_set_new(o, "pulses",
                        json_integer((json_int_t)meter_pulse_count(m)));
    json_object_set_new(o, "time", uplink_json_time(meter_time(m)));
    return o;
}

static json_t *relay_json(const struct meter *m)
{
    static const char *const why[] = { "credit", "over_power", "remote" };
    json_t *o = json_object(), *reasons = json_array();
    unsigned bits = meter_relay_reasons(m);

    for (unsigned b = 0; b < 3; b++)
        if (bits & (1u << b))
            json_array_append_new(reasons, json_string(why[b]));
    json_object_set_new(o, "state", json_string(meter_relay_closed(m) ?
                                                "closed" : "open"));
    json_object_set_new(o, "reasons", reasons);
    return o;
}

static json_t *credit_json(const struct meter *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "credit_wh", json_integer(meter_credit_wh(m)));
    json_object_set_new(o, "prepaid",
                        json_boolean(meter_settings(m)->prepaid.enabled));
    json_object_set_new(o, "alarm_wh",
                        json_integer(meter_settings(m)->prepaid.alarm_wh));
    return o;
}

static json_t *meter_summary(const struct control *c, unsigned k)
{
    const struct sim_meter *sm = &c->e->meters[k];
    const struct meter *m = &sm->core;
    json_t *o = json_object();

    json_object_set_new(o, "index", json_integer(c->e->span.first + k));
    json_object_set_new(o, "serial", json_integer(m->serial));
    json_object_set_new(o, "slave", json_integer(meter_comm(m)->slave));
    json_object_set_new(o, "time", uplink_json_time(meter_time(m)));
    json_object_set_new(o, "relay", json_string(meter_relay_closed(m) ?
                                                "closed" : "open"));
    json_object_set_new(o, "rate", json_string(
        uplink_rate_names[(meter_rate(m) + 3) % 4]));
    return o;
}

enum MHD_Result ctl_meters_list(struct ctl_call *call)
{
    json_t *a = json_array();
    for (unsigned k = 0; k < call->c->e->count; k++)
        json_array_append_new(a, meter_summary(call->c, k));
    return ctl_json(call->conn, MHD_HTTP_OK,
                    json_pack("{s:o,s:o}", "meters", a, "shard",
                              endpoints_span_json(call->c->e)));
}

enum MHD_Result ctl_meter_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    const struct meter *m = core_of(call, k);
    json_t *o = meter_summary(call->c, (unsigned)k);

    json_object_set_new(o, "measurements", measurements_json(m));
    json_object_set_new(o, "energies", energies_json(m));
    json_object_set_new(o, "relay", relay_json(m));
    json_object_set_new(o, "credit", credit_json(m));
    json_object_set_new(o, "load", ctl_load_json(&call->c->e->meters[k].load));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

enum MHD_Result ctl_meter_measurements(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK,
                    measurements_json(core_of(call, k)));
}

enum MHD_Result ctl_meter_energies(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK, energies_json(core_of(call, k)));
}

enum MHD_Result ctl_meter_relay_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK, relay_json(core_of(call, k)));
}

enum MHD_Result ctl_meter_credit_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK, credit_json(core_of(call, k)));
}

enum MHD_Result ctl_meter_clock_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    const struct meter *m = core_of(call, k);
    json_t *o = json_object();
    json_object_set_new(o, "time", uplink_json_time(meter_time(m)));
    json_object_set_new(o, "offset_s", json_integer(
        engine_rtc_offset(&call->c->e->meters[k])));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* ---- registers ---- */

/* A register's name as a path word: lower case, runs of anything else
 * than letters and digits as one '_' ("voltage U" -> "voltage_u"). */
static void slug_of(const char *name, char *buf, size_t len)
{
    size_t n = 0;
    bool gap = false;

    /* the words before a parenthesis: "float word order (0 ABCD .. 3
     * DCBA)" is float_word_order */
    for (const char *p = name; *p && *p != '(' && n + 2 < len; p++) {
        if (isalnum((unsigned char)*p)) {
            if (gap && n)
                buf[n++] = '_';
            buf[n++] = (char)tolower((unsigned char)*p);
            gap = false;
        } else {
            gap = true;
        }
    }
    buf[n] = '\0';
}

/* The named register at addr: its name, unit and type; false if none. */
static bool named(uint16_t addr, char *name, size_t len, const char **unit,
                  enum regname_type *type)
{
    if (addr <= MANUAL_LAST && regname_manual(addr, name, len, unit)) {
        *type = REGNAME_F32;
        return true;
    }
    for (size_t k = 0; k < regname_next; k++)
        if (regname_ext[k].addr == addr) {
            snprintf(name, len, "%s", regname_ext[k].name);
            *unit = regname_ext[k].unit;
            *type = regname_ext[k].type;
            return true;
        }
    return false;
}

/* A register's key: its name's slug, and its address after it where the
 * manual lists a row a second time, so every key names one register. */
static void key_of(uint16_t addr, const char *name, char *key, size_t len)
{
    slug_of(name, key, len);
    if (regname_listed_again(addr)) {
        size_t n = strlen(key);
        snprintf(key + n, len - n, "_%04x", addr);
    }
}

/* The register a path names: an address (48, 0x0030) or a name (its key
 * or its words); -1 if none. */
static int register_of(const char *word)
{
    char name[96], slug[96];
    const char *unit;
    enum regname_type type;
    long v;

    if (!parse_long(word, 0, 0xFFFF, &v))
        return (int)v;
    for (unsigned a = 0; a <= 0xFFFF; a++) {
        if (a > MANUAL_LAST && a < REG_X_MAP_VERSION)
            a = REG_X_MAP_VERSION;
        if (a > REG_X_DELAY)
            break;
        if (!named((uint16_t)a, name, sizeof name, &unit, &type))
            continue;
        key_of((uint16_t)a, name, slug, sizeof slug);
        if (!strcasecmp(word, name) || !strcmp(word, slug))
            return (int)a;
    }
    return -1;
}

static json_t *register_json(const struct meter *m, uint16_t addr,
                             unsigned count, int *exc)
{
    char name[96], slug[96], hex[8];
    const char *unit = "";
    enum regname_type type = REGNAME_U16;
    bool has_name = named(addr, name, sizeof name, &unit, &type);
    uint16_t words[REGMAP_READ_MAX];
    json_t *o = json_object(), *w = json_array();

    if (!count)
        count = has_name ? regname_words(type) : 1;
    *exc = meter_reg_read(m, addr, (uint16_t)count, words);
    if (*exc) {
        json_decref(o);
        json_decref(w);
        return NULL;
    }
    snprintf(hex, sizeof hex, "%04X", addr);
    json_object_set_new(o, "address", json_integer(addr));
    json_object_set_new(o, "hex", json_string(hex));
    if (has_name) {
        key_of(addr, name, slug, sizeof slug);
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "key", json_string(slug));
        if (*unit)
            json_object_set_new(o, "unit", json_string(unit));
        if (type == REGNAME_F32) {
            float f = 0;
            meter_reg_float(m, addr, &f);
            json_object_set_new(o, "value", json_real32(f));
        } else if (count >= regname_words(type)) {
            uint64_t v = 0;
            for (unsigned j = 0; j < regname_words(type); j++)
                v = v << 16 | words[j];
            json_object_set_new(o, "value", json_integer((json_int_t)v));
        }
    }
    for (unsigned j = 0; j < count; j++)
        json_array_append_new(w, json_integer(words[j]));
    json_object_set_new(o, "words", w);
    return o;
}

enum MHD_Result ctl_meter_registers(struct ctl_call *call)
{
    METER_OR_404(call, k);
    const struct meter *m = core_of(call, k);
    json_t *a = json_array();
    char name[96];
    const char *unit;
    enum regname_type type;
    int exc;

    for (unsigned addr = MANUAL_FIRST; addr <= REG_X_DELAY; addr++) {
        if (addr > MANUAL_LAST && addr < REG_X_MAP_VERSION)
            addr = REG_X_MAP_VERSION;
        if (!named((uint16_t)addr, name, sizeof name, &unit, &type))
            continue;
        json_t *r = register_json(m, (uint16_t)addr, 0, &exc);
        if (r)
            json_array_append_new(a, r);
    }
    return ctl_json(call->conn, MHD_HTTP_OK,
                    json_pack("{s:o}", "registers", a));
}

static const char *exception_text(int exc)
{
    switch (exc) {
    case METER_EX_ILLEGAL_FUNCTION: return "01 illegal function";
    case METER_EX_ILLEGAL_ADDRESS: return "02 illegal data address";
    case METER_EX_ILLEGAL_VALUE: return "03 illegal data value";
    default: return "04 device failure";
    }
}

enum MHD_Result ctl_meter_register_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    int addr = register_of(call->arg[1]);
    const char *cs = MHD_lookup_connection_value(call->conn,
                                                 MHD_GET_ARGUMENT_KIND,
                                                 "count");
    long count = 0;
    int exc;

    if (addr < 0)
        return ctl_error(call->conn, MHD_HTTP_NOT_FOUND, "register",
                         "no register '%s' (an address such as 48 or "
                         "0x0030, or a name from GET .../registers)",
                         call->arg[1]);
    if (cs && parse_long(cs, 1, REGMAP_READ_MAX, &count))
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "count",
                         "'%s' is not a register count 1..%d", cs,
                         REGMAP_READ_MAX);
    json_t *o = register_json(core_of(call, k), (uint16_t)addr,
                              (unsigned)count, &exc);
    if (!o)
        return ctl_error(call->conn, exc == METER_EX_ILLEGAL_ADDRESS ?
                         MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
                         "register", "the meter answers exception %s at "
                         "0x%04X", exception_text(exc), addr);
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* Would meter k at slave address a share it with another meter? The API
 * drives the whole fleet, so it refuses (409 naming the meter that has
 * it), as the fleet file does; a Modbus write cannot know its bus and is
 * installed (the first meter at an address answers). */
static bool slave_taken(struct ctl_call *call, int k, unsigned a,
                        const char *field, enum MHD_Result *ret)
{
    const struct engine *e = call->c->e;

    for (unsigned j = 0; j < e->count; j++)
        if ((int)j != k && meter_comm(&e->meters[j].core)->slave == a) {
            *ret = ctl_error(call->conn, MHD_HTTP_CONFLICT, field,
                             "slave %u is meter %u's (serial %u): two "
                             "meters on one address; nothing changed", a,
                             e->span.first + j,
                             (unsigned)e->meters[j].core.serial);
            return true;
        }
    return false;
}

/* {"words": [..]} raw, or {"value": n} for a named integer register. */
enum MHD_Result ctl_meter_register_put(struct ctl_call *call)
{
    static const char *const keys[] = { "words", "value", NULL };
    METER_OR_404(call, k);
    int addr = register_of(call->arg[1]);
    uint16_t words[REGMAP_WRITE_MAX];
    unsigned n = 0;
    enum MHD_Result ret;
    json_t *jw, *jv;

    if (addr < 0)
        return ctl_error(call->conn, MHD_HTTP_NOT_FOUND, "register",
                         "no register '%s'", call->arg[1]);
    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    jw = json_object_get(call->json, "words");
    jv = json_object_get(call->json, "value");
    if (!!jw == !!jv)
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "words",
                         "give either 'words' (a list of 16-bit values) or "
                         "'value' (an integer register's value)");
    if (jw) {
        size_t i;
        json_t *x;
        if (!json_is_array(jw) || json_array_size(jw) < 1 ||
            json_array_size(jw) > REGMAP_WRITE_MAX)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "words",
                             "must be a list of 1..%d words",
                             REGMAP_WRITE_MAX);
        json_array_foreach(jw, i, x) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > 0xFFFF)
                return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "words",
                                 "words[%zu] is not an integer 0..65535", i);
            words[n++] = (uint16_t)json_integer_value(x);
        }
    } else {
        char name[96];
        const char *unit;
        enum regname_type type;
        if (!named((uint16_t)addr, name, sizeof name, &unit, &type) ||
            type == REGNAME_F32 || type == REGNAME_U64)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "value",
                             "0x%04X is not a named 16- or 32-bit integer "
                             "register: give 'words'", addr);
        long long max = type == REGNAME_U16 ? 0xFFFF : 0xFFFFFFFFLL;
        if (!json_is_integer(jv) || json_integer_value(jv) < 0 ||
            json_integer_value(jv) > max)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "value",
                             "must be an integer 0..%lld", max);
        uint64_t v = (uint64_t)json_integer_value(jv);
        n = regname_words(type);
        for (unsigned j = 0; j < n; j++)
            words[j] = (uint16_t)(v >> (16 * (n - 1 - j)));
    }
    if (addr <= REG_X_SLAVE && addr + n > REG_X_SLAVE) {
        unsigned a = words[REG_X_SLAVE - addr];
        enum MHD_Result taken;
        if (a != meter_comm(core_of(call, k))->slave &&
            slave_taken(call, k, a, jw ? "words" : "value", &taken))
            return taken;
    }
    int exc = meter_reg_write(core_of(call, k), (uint16_t)addr,
                              (uint16_t)n, words, call->c->e->now_ms / 1000);
    if (exc)
        return ctl_error(call->conn, exc == METER_EX_ILLEGAL_VALUE ?
                         MHD_HTTP_BAD_REQUEST : MHD_HTTP_CONFLICT,
                         jw ? "words" : "value",
                         "the meter refused the write at 0x%04X: exception "
                         "%s; nothing changed", addr, exception_text(exc));
    json_t *o = register_json(core_of(call, k), (uint16_t)addr, n, &exc);
    return ctl_json(call->conn, MHD_HTTP_OK, o ? o : json_object());
}

/* ---- commands shared with MQTT ---- */

/* The field an uplink command's error names: its first 'quoted' word
 * (with the path before it for a tariff's "zones[0]..."). */
static void field_of(const char *msg, char *buf, size_t len)
{
    const char *q = strchr(msg, '\''), *e = q ? strchr(q + 1, '\'') : NULL;
    size_t pre = 0;

    buf[0] = '\0';
    if (!strncmp(msg, "zones[", 6)) {
        pre = strcspn(msg, ":");
        snprintf(buf, len, "%.*s", (int)pre, msg);
    }
    if (q && e && e > q + 1 && !(pre && q < msg + pre))
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%.*s",
                 pre ? "." : "", (int)(e - q - 1), q + 1);
    if (!buf[0])
        snprintf(buf, len, "body");
}

/* Run an MQTT command on meter k with the request's body: 200 with
 * extra (its reference taken) or the command's answer, 400 naming the
 * field, 409 when the meter refused. */
static enum MHD_Result run_cmd(struct ctl_call *call, int k,
                               const char *name, json_t *extra)
{
    struct uplink_cmd_env env = { .m = core_of(call, k),
                                  .now = call->c->e->now_ms / 1000 };
    const char *body = call->req->body ? call->req->body : "";
    json_t *res = uplink_cmd_run(name, body, call->req->len, &env);
    json_t *err = json_object_get(res, "error");

    if (err) {
        char field[96];
        const char *msg = json_string_value(err);
        bool refused = strstr(msg, "refused") != NULL;
        field_of(msg, field, sizeof field);
        /* a refusal names the field it refused, if it says one */
        enum MHD_Result ret = ctl_error(call->conn, refused ?
                                        MHD_HTTP_CONFLICT :
                                        MHD_HTTP_BAD_REQUEST,
                                        refused && !strchr(msg, '\'') ?
                                        NULL : field, "%s", msg);
        json_decref(res);
        json_decref(extra);
        return ret;
    }
    json_object_del(res, "cmd");
    json_object_del(res, "ok");
    if (extra) {
        json_decref(res);
        res = extra;
    }
    return ctl_json(call->conn, MHD_HTTP_OK, res);
}

static json_t *settings_json(const struct meter *m)
{
    static const char *const parity[] = { "N", "O", "E" };
    const struct meter_settings *s = meter_settings(m);
    const struct meter_comm *comm = meter_comm(m);
    json_t *o = uplink_cmd_config_json(s), *zones = json_array();

    json_object_set_new(o, "slave", json_integer(comm->slave));
    json_object_set_new(o, "baud", json_integer(comm->baud));
    json_object_set_new(o, "parity", json_string(parity[comm->parity % 3]));
    for (unsigned z = 0; z < s->tariff.nzones; z++) {
        const struct tariff_zone *tz = &s->tariff.zone[z];
        json_t *periods = json_array();
        char start[8];
        for (unsigned p = 0; p < tz->nperiods; p++) {
            snprintf(start, sizeof start, "%02u:%02u", tz->period[p].hour,
                     tz->period[p].min);
            json_array_append_new(periods, json_pack(
                "{s:s,s:s}", "start", start, "rate",
                uplink_rate_names[(tz->period[p].rate + 3) % 4]));
        }
        snprintf(start, sizeof start, "%02u-%02u", tz->month, tz->day);
        json_array_append_new(zones, json_pack("{s:s,s:o}", "start", start,
                                               "periods", periods));
    }
    json_object_set_new(o, "tariff", json_pack("{s:o}", "zones", zones));
    return o;
}

enum MHD_Result ctl_meter_settings_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK, settings_json(core_of(call, k)));
}

/* The communication settings are register writes (FC16 on the extension
 * block, all or nothing); the rest is the MQTT config command. Both are
 * checked before either is applied. */
enum MHD_Result ctl_meter_settings_patch(struct ctl_call *call)
{
    static const char *const keys[] = {
        "slave", "baud", "parity", "word_order", "uplink", "demand_period",
        "demand_slide", "prepaid", "alarm_wh", "limit_w", "delay_s", NULL };
    METER_OR_404(call, k);
    struct meter *m = core_of(call, k);
    const struct meter_comm *comm = meter_comm(m);
    uint16_t regs[3] = { comm->slave, (uint16_t)comm->baud, comm->parity };
    bool comm_given = false;
    enum MHD_Result ret;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    json_t *v = json_object_get(call->json, "slave");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > METER_SLAVE_MAX)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "slave",
                             "must be an integer 1..%d", METER_SLAVE_MAX);
        regs[0] = (uint16_t)json_integer_value(v);
        if (regs[0] != comm->slave &&
            slave_taken(call, k, regs[0], "slave", &ret))
            return ret;
        comm_given = true;
    }
    if ((v = json_object_get(call->json, "baud"))) {
        static const int bauds[] = METER_BAUDS;
        bool ok = false;
        for (int j = 0; j < METER_NBAUDS && json_is_integer(v); j++)
            ok |= json_integer_value(v) == bauds[j];
        if (!ok)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "baud",
                             "must be one of the meter's rates (1200, 2400, "
                             "4800, 9600)");
        regs[1] = (uint16_t)json_integer_value(v);
        comm_given = true;
    }
    if ((v = json_object_get(call->json, "parity"))) {
        const char *p = json_is_string(v) ? json_string_value(v) : "";
        const char *at = strlen(p) == 1 ? strchr("NOE", p[0]) : NULL;
        if (!at)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "parity",
                             "must be \"N\", \"O\" or \"E\"");
        regs[2] = (uint16_t)(at - "NOE");
        comm_given = true;
    }
    /* the rest, checked on a copy of the meter first */
    json_t *rest = json_deep_copy(call->json);
    json_object_del(rest, "slave");
    json_object_del(rest, "baud");
    json_object_del(rest, "parity");
    char *text = json_dumps(rest, 0);
    json_decref(rest);
    struct meter *trial = malloc(sizeof *trial);
    struct uplink_cmd_env env = { .m = trial,
                                  .now = call->c->e->now_ms / 1000 };
    *trial = *m;
    trial->port.settings_changed = NULL;
    trial->port.relay = NULL;
    trial->port.pulse = NULL;
    trial->port.settled = NULL;
    json_t *res = uplink_cmd_run("config", text, strlen(text), &env);
    free(trial);
    json_t *err = json_object_get(res, "error");
    if (err) {
        char field[96];
        field_of(json_string_value(err), field, sizeof field);
        ret = ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, field, "%s",
                        json_string_value(err));
        json_decref(res);
        free(text);
        return ret;
    }
    json_decref(res);
    if (comm_given) {
        int exc = meter_reg_write(m, REG_X_SLAVE, 3, regs,
                                  call->c->e->now_ms / 1000);
        if (exc) {
            free(text);
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "slave",
                             "the meter refused the communication settings "
                             "(exception %s)", exception_text(exc));
        }
    }
    env.m = m;
    json_decref(uplink_cmd_run("config", text, strlen(text), &env));
    free(text);
    return ctl_json(call->conn, MHD_HTTP_OK, settings_json(m));
}

enum MHD_Result ctl_meter_tariff_put(struct ctl_call *call)
{
    METER_OR_404(call, k);
    enum MHD_Result ret = run_cmd(call, k, "tariff", NULL);
    return ret;
}

enum MHD_Result ctl_meter_relay_put(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return run_cmd(call, k, "relay", NULL);
}

enum MHD_Result ctl_meter_credit_put(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return run_cmd(call, k, "credit", NULL);
}

enum MHD_Result ctl_meter_topup(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return run_cmd(call, k, "topup", NULL);
}

enum MHD_Result ctl_meter_clock_put(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return run_cmd(call, k, "time", NULL);
}

/* ---- keys ---- */

/* {"key": "enter", "presses": 2} or {"key": "left", "long": true}: presses
 * and releases 200 ms apart on the key driver's counter (virtual ms), a
 * long press held 3.2 s; the LCD page after them is answered. */
enum MHD_Result ctl_meter_keys(struct ctl_call *call)
{
    static const char *const keys[] = { "key", "presses", "long", "action",
                                        NULL };
    static const char *const names[] = { "left", "down", "enter", NULL };
    METER_OR_404(call, k);
    struct meter *m = core_of(call, k);
    json_t *jk, *jn, *jl, *ja;
    int key = -1;
    long long times = 1;
    bool long_press = false;
    enum MHD_Result ret;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    jk = json_object_get(call->json, "key");
    for (int j = 0; json_is_string(jk) && names[j]; j++)
        if (!strcmp(json_string_value(jk), names[j]))
            key = j;
    if (key < 0)
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "key",
                         "must be \"left\", \"down\" or \"enter\"");
    if ((ja = json_object_get(call->json, "action"))) {
        const char *a = json_string_value(ja);
        if (!a || (strcmp(a, "press") && strcmp(a, "release")))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "action",
                             "must be \"press\" or \"release\"");
        if (json_object_size(call->json) > 2)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "action",
                             "a press or release is one edge: no "
                             "'presses' or 'long'");
        return ctl_key_action(call, k, key, !strcmp(a, "press"));
    }
    if ((jn = json_object_get(call->json, "presses"))) {
        if (!json_is_integer(jn) || json_integer_value(jn) < 1 ||
            json_integer_value(jn) > 100)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "presses",
                             "must be an integer 1..100");
        times = json_integer_value(jn);
    }
    if ((jl = json_object_get(call->json, "long"))) {
        if (!json_is_boolean(jl))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "long",
                             "must be true or false");
        long_press = json_is_true(jl);
        if (long_press && jn)
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "long",
                             "a long press is one press: no 'presses'");
    }
    /* the counter as the face left it (a display refresh may have run
     * it on in real time), or virtual time if that is ahead */
    int64_t t = ctl_key_now(call->c, (unsigned)k, true);
    int changed = 0;
    for (long long j = 0; j < times; j++) {
        changed |= meter_key(m, (enum meter_key)key, METER_KEY_PRESS, t) > 0;
        t += long_press ? LCD_LONG_MS + 200 : 200;
        meter_lcd_tick(m, t);
        changed |= meter_key(m, (enum meter_key)key, METER_KEY_RELEASE,
                             t) > 0;
        t += 200;
    }
    ctl_key_mark(call->c, (unsigned)k, t);
    struct lcd_frame frame;
    meter_lcd_frame(m, t, &frame);
    json_t *o = json_object();
    json_object_set_new(o, "presses", json_integer(times));
    json_object_set_new(o, "settings_changed", json_boolean(changed));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* ---- Modbus faults (the --fault specs) ---- */

static json_t *fault_json(const struct mb_faults *f, int j)
{
    char spec[160];
    mb_fault_format(&f->rule[j], spec, sizeof spec);
    return json_pack("{s:i,s:s}", "id", f->id[j], "spec", spec);
}

enum MHD_Result ctl_faults_list(struct ctl_call *call)
{
    const struct mb_faults *f = &call->c->cfg.ports->faults;
    json_t *a = json_array();
    for (int j = 0; j < f->n; j++)
        json_array_append_new(a, fault_json(f, j));
    return ctl_json(call->conn, MHD_HTTP_OK, json_pack(
        "{s:o,s:I}", "faults", a, "hits", (json_int_t)f->hits));
}

enum MHD_Result ctl_faults_add(struct ctl_call *call)
{
    static const char *const keys[] = { "spec", NULL };
    struct mb_faults *f = &call->c->cfg.ports->faults;
    struct mb_fault rule;
    char err[256];
    enum MHD_Result ret;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    json_t *v = json_object_get(call->json, "spec");
    if (!json_is_string(v))
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "spec",
                         "a fault spec such as \"busy,slave=1\" is expected "
                         "(the --fault grammar, docs/modbus.md)");
    if (mb_fault_parse(json_string_value(v), &rule, err, sizeof err))
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "spec", "%s", err);
    int id = mb_faults_add(f, &rule);
    if (id < 0)
        return ctl_error(call->conn, MHD_HTTP_CONFLICT, "spec",
                         "%d faults at most are active at once",
                         MB_FAULTS_MAX);
    for (int j = 0; j < f->n; j++)
        if (f->id[j] == id)
            return ctl_json(call->conn, MHD_HTTP_CREATED, fault_json(f, j));
    return ctl_error(call->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                     "the fault vanished");
}

enum MHD_Result ctl_faults_clear(struct ctl_call *call)
{
    mb_faults_clear(&call->c->cfg.ports->faults);
    return ctl_faults_list(call);
}

enum MHD_Result ctl_fault_delete(struct ctl_call *call)
{
    long id;
    if (parse_long(call->arg[0], 1, 1000000000, &id) ||
        mb_faults_remove(&call->c->cfg.ports->faults, (int)id))
        return ctl_error(call->conn, MHD_HTTP_NOT_FOUND, "id",
                         "no fault with id '%s'", call->arg[0]);
    return ctl_faults_list(call);
}
