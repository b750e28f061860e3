/*
 * GET /metrics: the Prometheus text exposition format (version 0.0.4).
 * Per process: virtual time, the speed asked and achieved, Modbus
 * requests, exceptions, drops and faults by transport, the MQTT queue,
 * the state file's age, the API's own requests; per meter (the first
 * METRICS_METERS of a fleet): energies, power, pulses, relay, credit.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registers.h"
#include "protocols/modbus_rtu.h"
#include "protocols/modbus_tcp.h"
#include "sim/base/monotonic.h"
#include "sim/ports/ports.h"
#include "sim/uplink/uplink.h"

#define METRICS_METERS 1000     /* meters with their own series */

static void head(FILE *f, const char *name, const char *type,
                 const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type,
                const char *help, double v)
{
    head(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

/* The Modbus counters of one transport, NULL when it is not open. */
struct transport {
    const char *name;
    const struct mb_stats *st;
};

static void modbus(FILE *f, const struct ports *p)
{
    const struct transport tr[] = {
        { "tcp", p->tcp ? mb_tcp_stats(p->tcp) : NULL },
        { "rtu", p->rtu ? mb_rtu_stats(p->rtu) : NULL },
        { "rtu_tcp", p->rtu_tcp ? mb_tcp_stats(p->rtu_tcp) : NULL },
    };
    static const struct {
        const char *name, *help;
        size_t off;
    } ctr[] = {
        { "kpm31c_modbus_requests_total",
          "Modbus requests addressed to a present meter",
          offsetof(struct mb_stats, requests) },
        { "kpm31c_modbus_exceptions_total", "Modbus exception replies sent",
          offsetof(struct mb_stats, exceptions) },
        { "kpm31c_modbus_dropped_total",
          "Modbus replies lost (fault, line busy, full)",
          offsetof(struct mb_stats, dropped) },
        { "kpm31c_modbus_faults_total", "Modbus requests a fault acted on",
          offsetof(struct mb_stats, faults) },
        { "kpm31c_modbus_bad_frames_total",
          "Modbus RTU frames with a bad CRC or length",
          offsetof(struct mb_stats, bad_frames) },
    };

    for (size_t k = 0; k < sizeof ctr / sizeof ctr[0]; k++) {
        head(f, ctr[k].name, "counter", ctr[k].help);
        for (size_t t = 0; t < sizeof tr / sizeof tr[0]; t++)
            if (tr[t].st)
                fprintf(f, "%s{transport=\"%s\"} %llu\n", ctr[k].name,
                        tr[t].name, (unsigned long long)*(const uint64_t *)
                        ((const char *)tr[t].st + ctr[k].off));
    }
}

static void meters(FILE *f, const struct engine *e)
{
    static const struct {
        const char *name, *type, *help;
        uint16_t addr;          /* a float register, or 0: see below */
        double scale;
    } per[] = {
        { "kpm31c_meter_import_energy_wh_total", "counter",
          "import active energy, Wh (the meter's own counter, exact to "
          "the mJ, not the float32 kWh register)", 0, 3 },
        { "kpm31c_meter_export_energy_wh_total", "counter",
          "export active energy, Wh (as import)", 0, 4 },
        { "kpm31c_meter_power_watts", "gauge",
          "active power P, W (> 0 import)", REG_P, 1.0 },
        { "kpm31c_meter_voltage_volts", "gauge", "voltage U, V", REG_U, 1.0 },
        { "kpm31c_meter_current_amperes", "gauge", "current I, A", REG_I,
          1.0 },
        { "kpm31c_meter_pulses_total", "counter",
          "pulse output count (1600 imp/kWh)", 0, 0 },
        { "kpm31c_meter_relay_closed", "gauge", "1 relay closed, 0 open", 0,
          1 },
        { "kpm31c_meter_credit_wh", "gauge", "prepaid credit, Wh", 0, 2 },
    };
    unsigned n = e->count < METRICS_METERS ? e->count : METRICS_METERS;

    for (size_t j = 0; j < sizeof per / sizeof per[0]; j++) {
        head(f, per[j].name, per[j].type, per[j].help);
        for (unsigned k = 0; k < n; k++) {
            const struct meter *m = &e->meters[k].core;
            double v;
            float x = 0;
            if (per[j].addr) {
                meter_reg_float(m, per[j].addr, &x);
                v = (double)x * per[j].scale;
            } else if (per[j].scale == 0) {
                v = (double)meter_pulse_count(m);
            } else if (per[j].scale == 3 || per[j].scale == 4) {
                struct energy_set t;
                energy_total(&m->energy, &t);
                v = (double)t.v[per[j].scale == 3 ? EN_IMP : EN_EXP] /
                    (double)ENERGY_MJ_PER_WH;
            } else if (per[j].scale == 1) {
                v = meter_relay_closed(m);
            } else {
                v = meter_credit_wh(m);
            }
            fprintf(f, "%s{meter=\"%u\",serial=\"%lu\",slave=\"%u\"} %.17g\n",
                    per[j].name, e->span.first + k, (unsigned long)m->serial,
                    meter_comm(m)->slave, v);
        }
    }
}

/* Which part of the fleet this process runs (--shard): an info metric. */
static void shard_info(FILE *f, const struct engine *e)
{
    const struct engine_span *sp = &e->span;

    head(f, "kpm31c_shard_info", "gauge", "the shard this process runs: "
         "shard of shards, global meters first..end-1 of fleet");
    fprintf(f, "kpm31c_shard_info{shard=\"%u\",shards=\"%u\",first=\"%u\","
            "end=\"%u\",fleet=\"%u\"} 1\n", sp->shard,
            sp->shards ? sp->shards : 1, sp->first, sp->first + e->count,
            sp->total);
}

enum MHD_Result ctl_metrics(struct ctl_call *call)
{
    struct control *c = call->c;
    const struct vclock *v = c->cfg.clock;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    uint64_t queued, dropped;
    double age = c->cfg.host.checkpoint_age(c->cfg.host.ctx);

    if (!f)
        return MHD_NO;
    one(f, "kpm31c_virtual_time_seconds", "gauge",
        "the virtual clock, s since 1970-01-01",
        (double)c->e->now_ms / 1000.0);
    one(f, "kpm31c_speed_target", "gauge",
        "virtual s per real s asked (+Inf: max, 0: paused)",
        v->max ? 1.0 / 0.0 : v->speed);
    one(f, "kpm31c_speed_achieved", "gauge",
        "virtual s per real s over the last real second", v->achieved);
    one(f, "kpm31c_meters", "gauge", "meters in this process",
        c->e->count);
    shard_info(f, c->e);
    one(f, "kpm31c_uptime_seconds", "gauge", "real s since the API started",
        monotonic_s() - c->started);
    modbus(f, c->cfg.ports);
    if (c->cfg.uplink) {
        uplink_totals(c->cfg.uplink, &queued, &dropped);
        one(f, "kpm31c_mqtt_queue_depth", "gauge",
            "MQTT messages waiting in the meters' queues", (double)queued);
        one(f, "kpm31c_mqtt_dropped_total", "counter",
            "MQTT telemetry dropped for want of queue room", (double)dropped);
    }
    if (age >= 0)
        one(f, "kpm31c_checkpoint_age_seconds", "gauge",
            "real s since the state file was last saved", age);
    one(f, "kpm31c_http_requests_total", "counter",
        "control API requests", (double)c->requests);
    one(f, "kpm31c_http_event_streams", "gauge",
        "event stream clients connected", c->nstreams);
    meters(f, c->e);
    if (fclose(f)) {
        free(buf);
        return MHD_NO;
    }
    enum MHD_Result ret = ctl_text(call->conn, MHD_HTTP_OK,
                                   "text/plain; version=0.0.4; charset=utf-8",
                                   buf, len);
    free(buf);
    return ret;
}
