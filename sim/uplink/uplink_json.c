#include "sim/uplink/uplink_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/json_real32.h"
#include "sim/base/timeparse.h"

#define STR(x) #x
#define XSTR(x) STR(x)

const char *const uplink_rate_names[4] = { "sharp", "peak", "flat", "valley" };

json_t *uplink_json_time(int64_t t)
{
    char when[32];
    time_format_iso(t, when, sizeof when);
    return json_string(when);
}

json_t *uplink_json_time_or_null(int64_t t)
{
    return t ? uplink_json_time(t) : json_null();
}

char *uplink_json_dump(json_t *o)
{
    if (!o)
        return NULL;
    /* 9 significant digits print every shortest float32 form exactly */
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    return s;
}

static void set_real(json_t *o, const char *key, float v)
{
    json_object_set_new(o, key, json_real32(v));
}

static void serial_text(uint32_t serial, char *buf, size_t len)
{
    snprintf(buf, len, "%08u", (unsigned)serial);
}

char *uplink_json_telemetry(const struct uplink_item *it, uint32_t serial,
                            const uint64_t drops[UPLINK_KINDS])
{
    const struct uplink_telemetry *t = &it->v.t;
    json_t *o = json_object(), *e = json_object(), *mo = json_object(),
           *why = json_array();
    char sn[16], key[32];

    serial_text(serial, sn, sizeof sn);
    json_object_set_new(o, "serial", json_string(sn));
    json_object_set_new(o, "seq", json_integer((json_int_t)it->seq));
    json_object_set_new(o, "time", uplink_json_time(t->time));
    set_real(o, "u", t->u);
    set_real(o, "i", t->i);
    set_real(o, "p", t->p);
    set_real(o, "q", t->q);
    set_real(o, "s", t->s);
    set_real(o, "pf", t->pf);
    set_real(o, "f", t->f);
    set_real(o, "demand", t->demand);
    set_real(o, "max_demand", t->max_demand);
    json_object_set_new(o, "max_demand_time",
                        uplink_json_time_or_null(t->max_demand_time));
    set_real(o, "prev_max_demand", t->prev_max_demand);
    json_object_set_new(o, "prev_max_demand_time",
                        uplink_json_time_or_null(t->prev_max_demand_time));

    set_real(e, "active_total", t->act[0]);
    set_real(e, "active_import", t->act[1]);
    set_real(e, "active_export", t->act[2]);
    set_real(e, "reactive_total", t->react[0]);
    set_real(e, "reactive_import", t->react[1]);
    set_real(e, "reactive_export", t->react[2]);
    for (unsigned r = 0; r < 4; r++) {
        snprintf(key, sizeof key, "active_%s", uplink_rate_names[r]);
        set_real(e, key, t->act_rate[r]);
        snprintf(key, sizeof key, "reactive_%s", uplink_rate_names[r]);
        set_real(e, key, t->react_rate[r]);
        snprintf(key, sizeof key, "reactive_q%u", r + 1);
        set_real(e, key, t->quadrant[r]);
    }
    json_object_set_new(o, "energy", e);

    set_real(mo, "active", t->month_act);
    set_real(mo, "reactive", t->month_react);
    for (unsigned r = 0; r < 4; r++) {
        snprintf(key, sizeof key, "active_%s", uplink_rate_names[r]);
        set_real(mo, key, t->month_act_rate[r]);
        snprintf(key, sizeof key, "reactive_%s", uplink_rate_names[r]);
        set_real(mo, key, t->month_react_rate[r]);
    }
    json_object_set_new(o, "month", mo);

    json_object_set_new(o, "rate", json_integer(t->rate));
    json_object_set_new(o, "rate_name", json_string(
        t->rate >= 1 && t->rate <= 4 ? uplink_rate_names[t->rate - 1]
                                     : "unknown"));
    json_object_set_new(o, "zone", json_integer(t->zone));
    json_object_set_new(o, "relay",
                        json_string(t->status & 1 ? "closed" : "open"));
    if (t->reasons & 1)
        json_array_append_new(why, json_string("credit"));
    if (t->reasons & 2)
        json_array_append_new(why, json_string("power"));
    if (t->reasons & 4)
        json_array_append_new(why, json_string("remote"));
    json_object_set_new(o, "relay_open_reasons", why);
    json_object_set_new(o, "prepaid", json_boolean(t->prepaid));
    set_real(o, "credit", t->credit_kwh);
    json_object_set_new(o, "credit_wh", json_integer(t->credit_wh));
    json_object_set_new(o, "low_credit", json_boolean(t->status & 2));
    json_object_set_new(o, "pulses", json_integer((json_int_t)t->pulses));
    json_object_set_new(o, "dropped", json_integer((json_int_t)it->dropped));
    json_t *d = json_object();
    for (unsigned k = 1; k < UPLINK_KINDS; k++)
        json_object_set_new(d, uplink_kind_names[k],
                            json_integer((json_int_t)drops[k]));
    json_object_set_new(o, "drops", d);
    return uplink_json_dump(o);
}

char *uplink_json_billing(const struct uplink_item *it, uint32_t serial)
{
    const struct uplink_billing *b = &it->v.b;
    json_t *o = json_object(), *a = json_object(), *r = json_object();
    char sn[16], month[32];

    serial_text(serial, sn, sizeof sn);
    /* the settled month is the one before the 1st that ended it */
    time_format_iso(b->settled - 1, month, sizeof month);
    month[7] = '\0';
    json_object_set_new(o, "serial", json_string(sn));
    json_object_set_new(o, "month", json_string(month));
    json_object_set_new(o, "settled", uplink_json_time(b->settled));
    set_real(a, "total", b->act[0]);
    set_real(r, "total", b->react[0]);
    for (unsigned k = 0; k < 4; k++) {
        set_real(a, uplink_rate_names[k], b->act[k + 1]);
        set_real(r, uplink_rate_names[k], b->react[k + 1]);
    }
    json_object_set_new(o, "active", a);
    json_object_set_new(o, "reactive", r);
    set_real(o, "max_demand", b->max_demand);
    json_object_set_new(o, "max_demand_time",
                        uplink_json_time_or_null(b->max_demand_time));
    json_object_set_new(o, "dropped", json_integer((json_int_t)it->dropped));
    return uplink_json_dump(o);
}

/* ---- Home Assistant discovery ---- */

struct entity {
    const char *object;         /* object id, unique per device */
    const char *name;
    const char *value;          /* value_json path */
    const char *device_class;   /* NULL: none */
    const char *state_class;
    const char *unit;           /* NULL: none */
};

static const struct entity entities[] = {
    { "voltage", "Voltage", "u", "voltage", "measurement", "V" },
    { "current", "Current", "i", "current", "measurement", "A" },
    { "power", "Active power", "p", "power", "measurement", "W" },
    { "reactive_power", "Reactive power", "q", "reactive_power",
      "measurement", "var" },
    { "apparent_power", "Apparent power", "s", "apparent_power",
      "measurement", "VA" },
    { "power_factor", "Power factor", "pf", "power_factor", "measurement",
      NULL },
    { "frequency", "Frequency", "f", "frequency", "measurement", "Hz" },
    { "demand", "Demand", "demand", "apparent_power", "measurement", "VA" },
    { "max_demand", "Maximum demand this month", "max_demand",
      "apparent_power", "measurement", "VA" },
    { "energy_total", "Active energy total", "energy.active_total", "energy",
      "total_increasing", "kWh" },
    { "energy_import", "Active energy import", "energy.active_import",
      "energy", "total_increasing", "kWh" },
    { "energy_export", "Active energy export", "energy.active_export",
      "energy", "total_increasing", "kWh" },
    { "energy_sharp", "Active energy sharp", "energy.active_sharp", "energy",
      "total_increasing", "kWh" },
    { "energy_peak", "Active energy peak", "energy.active_peak", "energy",
      "total_increasing", "kWh" },
    { "energy_flat", "Active energy flat", "energy.active_flat", "energy",
      "total_increasing", "kWh" },
    { "energy_valley", "Active energy valley", "energy.active_valley",
      "energy", "total_increasing", "kWh" },
    /* reactive energy: no device class by default, so that every Home
     * Assistant release accepts it (reactive_energy is from 2025.6 on:
     * --mqtt-reactive-class) */
    { "reactive_energy_total", "Reactive energy total",
      "energy.reactive_total", NULL, "total_increasing", "kvarh" },
    { "reactive_energy_import", "Reactive energy import",
      "energy.reactive_import", NULL, "total_increasing", "kvarh" },
    { "reactive_energy_export", "Reactive energy export",
      "energy.reactive_export", NULL, "total_increasing", "kvarh" },
    { "reactive_energy_sharp", "Reactive energy sharp",
      "energy.reactive_sharp", NULL, "total_increasing", "kvarh" },
    { "reactive_energy_peak", "Reactive energy peak", "energy.reactive_peak",
      NULL, "total_increasing", "kvarh" },
    { "reactive_energy_flat", "Reactive energy flat", "energy.reactive_flat",
      NULL, "total_increasing", "kvarh" },
    { "reactive_energy_valley", "Reactive energy valley",
      "energy.reactive_valley", NULL, "total_increasing", "kvarh" },
    { "credit", "Prepaid credit", "credit", "energy", "total", "kWh" },
};

static json_t *device_block(const struct uplink_device *d, const char *id,
                            const char *sn)
{
    char name[64], sw[16];
    json_t *dev = json_object(), *ids = json_array();

    snprintf(name, sizeof name, "KPM31C %s", sn);
    snprintf(sw, sizeof sw, "%u.%02u", d->fw_version >> 8,
             d->fw_version & 0xFF);
    json_array_append_new(ids, json_string(id));
    json_object_set_new(dev, "identifiers", ids);
    json_object_set_new(dev, "manufacturer", json_string("Compere"));
    json_object_set_new(dev, "model", json_string("KPM31C"));
    json_object_set_new(dev, "name", json_string(name));
    json_object_set_new(dev, "serial_number", json_string(sn));
    json_object_set_new(dev, "sw_version", json_string(sw));
    if (d->via)
        json_object_set_new(dev, "via_device", json_string(d->via));
    return dev;
}

static json_t *origin_block(const char *sim_version)
{
    json_t *origin = json_object();
    json_object_set_new(origin, "name", json_string("kpm31c-sim"));
    json_object_set_new(origin, "sw_version", json_string(sim_version));
    return origin;
}

/* What every entity of the meter shares. */
static json_t *common(const struct uplink_device *d, const char *node,
                      const char *sn, const char *object, const char *name)
{
    char buf[256];
    json_t *o = json_object();

    json_object_set_new(o, "name", json_string(name));
    snprintf(buf, sizeof buf, "%s_%s", node, object);
    json_object_set_new(o, "unique_id", json_string(buf));
    snprintf(buf, sizeof buf, "%s/state", d->base);
    json_object_set_new(o, "state_topic", json_string(buf));
    snprintf(buf, sizeof buf, "%s/availability", d->base);
    json_object_set_new(o, "availability_topic", json_string(buf));
    json_object_set_new(o, "payload_available", json_string("online"));
    json_object_set_new(o, "payload_not_available", json_string("offline"));
    json_object_set_new(o, "device", device_block(d, node, sn));
    json_object_set_new(o, "origin", origin_block(d->sim_version));
    json_object_set_new(o, "qos", json_integer(1));
    return o;
}

/* A read-only entity's values go stale after expire_after s. */
static void set_expiry(json_t *o, const struct uplink_device *d)
{
    if (d->expire_after)
        json_object_set_new(o, "expire_after",
                            json_integer((json_int_t)d->expire_after));
}

typedef void emit_fn(void *ctx, const char *topic, const char *payload);

/* Publish o (freed) at <disc>/<component>/<node>/<object>/config, or an
 * empty payload there when the device is being removed. */
static void emit_config(const char *disc, const char *component,
                        const char *node, const char *object, json_t *o,
                        bool clear, emit_fn *emit, void *ctx)
{
    char topic[512];

    snprintf(topic, sizeof topic, "%s/%s/%s/%s/config", disc, component,
             node, object);
    if (clear) {
        json_decref(o);
        emit(ctx, topic, "");
        return;
    }
    char *payload = uplink_json_dump(o);
    if (payload) {
        emit(ctx, topic, payload);
        free(payload);
    }
}

void uplink_json_discovery(const struct uplink_device *d, emit_fn *emit,
                           void *ctx)
{
    char sn[16], node[32], topic[512], tpl[128];

    serial_text(d->serial, sn, sizeof sn);
    snprintf(node, sizeof node, "kpm31c_%s", sn);
    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++) {
        const struct entity *en = &entities[k];
        json_t *o = common(d, node, sn, en->object, en->name);
        const char *dc = en->device_class;
        snprintf(tpl, sizeof tpl, "{{ value_json.%s }}", en->value);
        json_object_set_new(o, "value_template", json_string(tpl));
        if (!dc && en->unit && !strcmp(en->unit, "kvarh"))
            dc = d->reactive_class;
        if (dc)
            json_object_set_new(o, "device_class", json_string(dc));
        json_object_set_new(o, "state_class", json_string(en->state_class));
        if (en->unit)
            json_object_set_new(o, "unit_of_measurement",
                                json_string(en->unit));
        set_expiry(o, d);
        emit_config(d->disc, "sensor", node, en->object, o, d->clear, emit,
                    ctx);
    }

    /* the tariff rate now, one of four */
    json_t *o = common(d, node, sn, "rate", "Tariff rate");
    json_t *opts = json_array();
    for (unsigned r = 0; r < 4; r++)
        json_array_append_new(opts, json_string(uplink_rate_names[r]));
    json_object_set_new(o, "value_template",
                        json_string("{{ value_json.rate_name }}"));
    json_object_set_new(o, "device_class", json_string("enum"));
    json_object_set_new(o, "options", opts);
    set_expiry(o, d);
    emit_config(d->disc, "sensor", node, "rate", o, d->clear, emit, ctx);

    /* the low-credit alarm */
    o = common(d, node, sn, "low_credit", "Low credit");
    json_object_set_new(o, "value_template", json_string(
        "{{ 'ON' if value_json.low_credit else 'OFF' }}"));
    json_object_set_new(o, "device_class", json_string("problem"));
    set_expiry(o, d);
    emit_config(d->disc, "binary_sensor", node, "low_credit", o, d->clear,
                emit, ctx);

    /* the relay, as a switch that sends the relay command */
    o = common(d, node, sn, "relay", "Relay");
    snprintf(topic, sizeof topic, "%s/cmd/relay", d->base);
    json_object_set_new(o, "command_topic", json_string(topic));
    json_object_set_new(o, "payload_on", json_string("{\"state\":\"closed\"}"));
    json_object_set_new(o, "payload_off", json_string("{\"state\":\"open\"}"));
    json_object_set_new(o, "value_template",
                        json_string("{{ value_json.relay }}"));
    json_object_set_new(o, "state_on", json_string("closed"));
    json_object_set_new(o, "state_off", json_string("open"));
    json_object_set_new(o, "device_class", json_string("switch"));
    emit_config(d->disc, "switch", node, "relay", o, d->clear, emit, ctx);

    /* a top-up of UPLINK_TOPUP_KWH, as a button that sends the command */
    o = common(d, node, sn, "topup", "Top up " XSTR(UPLINK_TOPUP_KWH)
               " kWh");
    json_object_del(o, "state_topic");      /* a button has no state */
    snprintf(topic, sizeof topic, "%s/cmd/topup", d->base);
    json_object_set_new(o, "command_topic", json_string(topic));
    json_object_set_new(o, "payload_press",
                        json_string("{\"kwh\":" XSTR(UPLINK_TOPUP_KWH) "}"));
    emit_config(d->disc, "button", node, "topup", o, d->clear, emit, ctx);
}

void uplink_json_sim_device(const struct uplink_sim_device *s, emit_fn *emit,
                            void *ctx)
{
    char buf[512];
    json_t *o = json_object(), *dev = json_object(), *ids = json_array();

    json_object_set_new(o, "name", json_string("Meters"));
    snprintf(buf, sizeof buf, "%s_meters", s->id);
    json_object_set_new(o, "unique_id", json_string(buf));
    json_object_set_new(o, "state_topic", json_string(s->fleet_topic));
    json_object_set_new(o, "value_template",
                        json_string("{{ value_json.meters }}"));
    json_object_set_new(o, "state_class", json_string("measurement"));
    json_object_set_new(o, "qos", json_integer(1));
    json_array_append_new(ids, json_string(s->id));
    json_object_set_new(dev, "identifiers", ids);
    json_object_set_new(dev, "manufacturer", json_string("kpm31c-sim"));
    json_object_set_new(dev, "model", json_string("KPM31C simulator"));
    snprintf(buf, sizeof buf, "kpm31c-sim %s", s->id + 11);
    json_object_set_new(dev, "name", json_string(buf));
    json_object_set_new(dev, "sw_version", json_string(s->sim_version));
    json_object_set_new(o, "device", dev);
    json_object_set_new(o, "origin", origin_block(s->sim_version));
    emit_config(s->disc, "sensor", s->id, "meters", o, false, emit, ctx);
}

char *uplink_json_fleet(const uint32_t *serials, unsigned count)
{
    json_t *o = json_object(), *a = json_array();
    char sn[16];

    for (unsigned k = 0; k < count; k++) {
        serial_text(serials[k], sn, sizeof sn);
        json_array_append_new(a, json_string(sn));
    }
    json_object_set_new(o, "meters", json_integer(count));
    json_object_set_new(o, "serials", a);
    return uplink_json_dump(o);
}
