/*
 * The control API's event stream (GET /api/v1/events, text/event-stream):
 * pulses, settlements and relay changes from the engine's hooks (chained
 * in front of the uplink's and the scenario's), log lines from the log's
 * tap, and once a real second each meter's values and a keep-alive.
 *
 * Each client has its own bounded buffer: a client that reads slower
 * than events come loses the newest ones (counted, and told in a
 * "dropped" event) rather than holding up the meters. A client with
 * nothing to read is suspended and resumed when an event comes.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/registers.h"
#include "sim/base/caption.h"
#include "sim/base/json_real32.h"
#include "sim/base/log.h"
#include "sim/ports/ports.h"
#include "sim/uplink/uplink_json.h"

#define STREAM_BUF_MAX (256u << 10) /* bytes a client may lag behind */
#define STREAM_EVENT_MIN 128        /* bytes of the smallest event (pulse) */
#define STREAM_METERS 64            /* meters whose values go out a second */

#define TRAFFIC_BYTES 32              /* request bytes a modbus event shows */
#define MQTT_PAYLOAD 160            /* payload characters an mqtt event shows */

enum stream_kind { EV_PULSE = 1, EV_SETTLED = 2, EV_RELAY = 4,
                   EV_TELEMETRY = 8, EV_LOG = 16, EV_MODBUS = 32,
                   EV_MQTT = 64, EV_CAPTION = 128, EV_ALL = 255 };
#define KINDS 8

static const char *const kind_names[KINDS] = {
    "pulse", "settled", "relay", "telemetry", "log", "modbus", "mqtt",
    "caption" };

struct ctl_stream {
    struct control *c;
    struct MHD_Connection *conn;
    unsigned kinds;             /* enum stream_kind bits wanted */
    char *buf;
    size_t len, off, cap;
    bool suspended;
    uint64_t dropped;           /* events lost since the last "dropped" */
    struct ctl_stream *next;
};

static pthread_t loop_thread;

static unsigned kind_of(const char *name)
{
    for (unsigned k = 0; k < KINDS; k++)
        if (!strcmp(name, kind_names[k]))
            return 1u << k;
    return 0;
}

/* Queue text for the client: false when it lags too far behind (or
 * memory is short), and nothing is queued. */
static bool stream_append(struct ctl_stream *s, const char *text, size_t n)
{
    if (s->off == s->len)
        s->off = s->len = 0;
    if (s->len - s->off + n > STREAM_BUF_MAX)
        return false;
    if (s->len + n > s->cap) {
        if (s->off) {
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        if (s->len + n > s->cap) {
            size_t cap = (s->len + n) * 2;
            char *b = realloc(s->buf, cap);
            if (!b)
                return false;
            s->buf = b;
            s->cap = cap;
        }
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
    return true;
}

/* Whether a client that wants kind has room for an event: if none has,
 * each that wants it counts one more lost, and the caller builds
 * nothing (a client that stopped reading costs the meters nothing). */
static bool wanted(struct control *c, unsigned kind)
{
    bool room = false;

    for (struct ctl_stream *s = c->streams; s && !room; s = s->next)
        room = (s->kinds & kind) &&
               s->len - s->off + STREAM_EVENT_MIN <= STREAM_BUF_MAX;
    if (!room)
        for (struct ctl_stream *s = c->streams; s; s = s->next)
            if (s->kinds & kind)
                s->dropped++;
    return room;
}

static void send_kind(struct control *c, unsigned kind, const char *name,
                      json_t *data)
{
    char *text = NULL, *frame = NULL;
    int n = 0;

    for (struct ctl_stream *s = c->streams; s; s = s->next) {
        if (!(s->kinds & kind))
            continue;
        if (!frame) {
            text = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(9));
            n = text ? asprintf(&frame, "event: %s\ndata: %s\n\n", name,
                                text) : -1;
            if (n < 0) {
                frame = NULL;
                break;
            }
        }
        if (!stream_append(s, frame, (size_t)n))
            s->dropped++;
    }
    free(text);
    free(frame);
    json_decref(data);
}

void ctl_events_send(struct control *c, const char *name, json_t *data)
{
    send_kind(c, kind_of(name) ? kind_of(name) : EV_ALL, name, data);
}

/* ---- sources ---- */

static json_t *event_of(struct control *c, unsigned meter)
{
    const struct meter *m = &c->e->meters[meter].core;
    return json_pack("{s:i,s:I}", "meter", c->e->span.first + meter, "serial",
                     (json_int_t)m->serial);
}

static void on_pulse(void *ctx, unsigned meter, uint64_t count, int64_t t_ms)
{
    struct control *c = ctx;
    char when[40];

    if (c->chained.pulse)
        c->chained.pulse(c->chained.ctx, meter, count, t_ms);
    if (!c->streams || !wanted(c, EV_PULSE))
        return;
    json_t *o = event_of(c, meter);
    json_t *t = uplink_json_time(t_ms / 1000);
    snprintf(when, sizeof when, "%s.%03d", json_string_value(t),
             (int)(t_ms % 1000));
    json_decref(t);
    json_object_set_new(o, "count", json_integer((json_int_t)count));
    json_object_set_new(o, "time", json_string(when));
    send_kind(c, EV_PULSE, "pulse", o);
}

static void on_settled(void *ctx, unsigned meter, int64_t t)
{
    struct control *c = ctx;

    if (c->chained.settled)
        c->chained.settled(c->chained.ctx, meter, t);
    if (!c->streams || !wanted(c, EV_SETTLED))
        return;
    json_t *o = event_of(c, meter);
    json_object_set_new(o, "month_end", uplink_json_time(t));
    send_kind(c, EV_SETTLED, "settled", o);
}

static void on_relay(void *ctx, unsigned meter, bool closed)
{
    struct control *c = ctx;

    if (c->chained.relay)
        c->chained.relay(c->chained.ctx, meter, closed);
    if (!c->streams || !wanted(c, EV_RELAY))
        return;
    json_t *o = event_of(c, meter);
    json_object_set_new(o, "state", json_string(closed ? "closed" : "open"));
    json_object_set_new(o, "time", uplink_json_time(c->e->now_ms / 1000));
    send_kind(c, EV_RELAY, "relay", o);
}

/* Log lines from the loop's thread (others may log too: skipped). */
static void on_log(void *ctx, enum log_level level, const char *line)
{
    static const char *const levels[] = { "error", "warning", "info",
                                          "debug" };
    struct control *c = ctx;

    if (!c->streams || !pthread_equal(pthread_self(), loop_thread) ||
        !wanted(c, EV_LOG))
        return;
    send_kind(c, EV_LOG, "log", json_pack("{s:s,s:s}", "level",
                                          levels[level], "message", line));
}

/* Every Modbus frame of every transport: a summary (function, first
 * register, count, the answer), after the observer before ours. */
static void on_modbus(void *ctx, struct sim_meter *sm, const char *transport,
                      int slave, const uint8_t *req, size_t reqlen,
                      const uint8_t *rsp, size_t rsplen)
{
    struct control *c = ctx;
    bool tcp = transport && !strcmp(transport, "tcp");
    size_t head = tcp ? 7 : 1, tail = tcp ? 0 : 2;
    char hex[3 * TRAFFIC_BYTES + 1] = "";

    if (c->observed)
        c->observed(c->observed_ctx, sm, transport, slave, req, reqlen, rsp,
                    rsplen);
    /* the glass's communication icon, on the key counter (the terminal
     * face lights it on its own while it draws the panel) */
    if (sm && rsp && !(c->cfg.host.panel_ms &&
                       c->cfg.host.panel_ms(c->cfg.host.ctx) != INT64_MIN))
        meter_lcd_comm(&sm->core,
                       ctl_key_now(c, (unsigned)(sm - c->e->meters), false));
    if (!c->streams || !wanted(c, EV_MODBUS))
        return;
    for (size_t j = 0; j < reqlen && j < TRAFFIC_BYTES; j++)
        /* "aa bb cc": each byte after the first behind its space */
        snprintf(hex + (j ? 3 * j - 1 : 0), 4, j ? " %02x" : "%02x",
                 req[j]);
    json_t *o = json_pack("{s:s,s:i,s:s,s:I}", "transport",
                          transport ? transport : "?", "slave", slave,
                          "bytes", hex + 0, "length", (json_int_t)reqlen);
    if (sm)
        json_object_set_new(o, "meter", json_integer(c->e->span.first +
                                                     (sm - c->e->meters)));
    if (reqlen >= head + tail + 1) {
        const uint8_t *pdu = req + head;
        json_object_set_new(o, "function", json_integer(pdu[0]));
        if (reqlen >= head + tail + 5) {
            json_object_set_new(o, "address",
                                json_integer(pdu[1] << 8 | pdu[2]));
            json_object_set_new(o, pdu[0] == 6 ? "value" : "count",
                                json_integer(pdu[3] << 8 | pdu[4]));
        }
    }
    if (!rsp)
        json_object_set_new(o, "reply", json_string("none"));
    else if (rsplen > head && rsp[head] & 0x80)
        json_object_set_new(o, "reply", json_pack("{s:i}", "exception",
            rsplen > head + 1 ? rsp[head + 1] : 0));
    else
        json_object_set_new(o, "reply", json_string("ok"));
    json_object_set_new(o, "time", uplink_json_time(c->e->now_ms / 1000));
    send_kind(c, EV_MODBUS, "modbus", o);
}

void control_events_mqtt(struct control *c, unsigned meter, bool out,
                         const char *topic, const void *payload, size_t len)
{
    if (!c || !c->streams || !pthread_equal(pthread_self(), loop_thread) ||
        !wanted(c, EV_MQTT))
        return;
    meter += c->e->span.first;      /* the fleet's index, as in paths */
    json_t *o = json_pack("{s:i,s:s,s:s,s:s%,s:I}", "meter", (int)meter,
                          "direction", out ? "out" : "in", "topic", topic,
                          "payload", (const char *)payload,
                          len < MQTT_PAYLOAD ? len : MQTT_PAYLOAD,
                          "length", (json_int_t)len);
    if (!o)         /* a payload cut inside a UTF-8 character, or binary */
        o = json_pack("{s:i,s:s,s:s,s:s,s:I}", "meter", (int)meter,
                      "direction", out ? "out" : "in", "topic", topic,
                      "payload", "(binary)", "length", (json_int_t)len);
    if (o)
        send_kind(c, EV_MQTT, "mqtt", o);
}

/* A story line (sim/base/caption.h) to the clients that want captions. */
static void on_caption(void *ctx, const char *text)
{
    struct control *c = ctx;

    if (!c->streams || !pthread_equal(pthread_self(), loop_thread) ||
        !wanted(c, EV_CAPTION))
        return;
    json_t *o = json_pack("{s:s}", "text", text);
    if (!o)         /* not UTF-8: nothing a page could show */
        return;
    send_kind(c, EV_CAPTION, "caption", o);
}

void ctl_events_beat(struct control *c)
{
    unsigned n = c->e->count < STREAM_METERS ? c->e->count : STREAM_METERS;

    for (struct ctl_stream *s = c->streams; s; s = s->next) {
        if (s->dropped) {
            char text[96];
            int len = snprintf(text, sizeof text, "event: dropped\ndata: "
                               "{\"events\":%llu}\n\n",
                               (unsigned long long)s->dropped);
            /* the count goes on until the client has room for it */
            if (stream_append(s, text, (size_t)len))
                s->dropped = 0;
        }
        stream_append(s, ": keep-alive\n\n", 14);     /* or none: the
                                                         client is busy */
    }
    for (unsigned k = 0; k < n && c->streams; k++) {
        if (!wanted(c, EV_TELEMETRY))
            continue;
        const struct meter *m = &c->e->meters[k].core;
        const struct meter_measure *x = meter_measure(m);
        float kwh = 0;
        meter_reg_float(m, REG_ACT_IMP, &kwh);
        json_t *o = event_of(c, k);
        json_object_set_new(o, "time", uplink_json_time(meter_time(m)));
        json_object_set_new(o, "u", json_real32(x->u));
        json_object_set_new(o, "i", json_real32(x->i));
        json_object_set_new(o, "p", json_real32(x->p));
        json_object_set_new(o, "pf", json_real32(x->pf));
        json_object_set_new(o, "import_kwh", json_real32(kwh));
        json_object_set_new(o, "pulses",
                            json_integer((json_int_t)meter_pulse_count(m)));
        json_object_set_new(o, "relay", json_string(
            meter_relay_closed(m) ? "closed" : "open"));
        send_kind(c, EV_TELEMETRY, "telemetry", o);
    }
}

/* ---- the stream's connection ---- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct ctl_stream *s = cls;
    size_t n = s->len - s->off;

    if (!n) {
        if (s->c->closing)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        return 0;
    }
    if (n > max)
        n = max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct ctl_stream *s = cls;
    struct control *c = s->c;

    for (struct ctl_stream **p = &c->streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            c->nstreams--;
            break;
        }
    free(s->buf);
    free(s);
}

/* ?events=pulse,relay: the kinds wanted (default all). */
enum MHD_Result ctl_events(struct ctl_call *call)
{
    const char *want = MHD_lookup_connection_value(
        call->conn, MHD_GET_ARGUMENT_KIND, "events");
    unsigned kinds = want ? 0 : EV_ALL;
    struct ctl_stream *s;

    for (const char *p = want; p && *p;) {
        char word[32];
        size_t n = strcspn(p, ",");
        snprintf(word, sizeof word, "%.*s", (int)(n < 31 ? n : 31), p);
        if (!kind_of(word))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "events",
                             "'%s' is not an event kind (pulse, settled, "
                             "relay, telemetry, log, modbus, mqtt, "
                             "caption)", word);
        kinds |= kind_of(word);
        p += n + (p[n] == ',');
    }
    if (!kinds)
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "events",
                         "no event kind given");
    if (call->c->nstreams >= CTL_STREAMS_MAX)
        return ctl_error(call->conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "%u event-stream clients are connected, the most "
                         "there may be: try again once one has gone",
                         call->c->nstreams);
    s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->c = call->c;
    s->conn = call->conn;
    s->kinds = kinds;
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    s->next = call->c->streams;
    call->c->streams = s;
    call->c->nstreams++;
    /* the first bytes at once, so a client sees the stream is open */
    stream_append(s, ": kpm31c-sim events\n\n", 21);
    if (caption_current()[0] && kinds & EV_CAPTION) {
        /* the caption showing now, so a page opened mid-story has it */
        json_t *o = json_pack("{s:s}", "text", caption_current());
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL, *frame = NULL;
        int n = text ? asprintf(&frame, "event: caption\ndata: %s\n\n",
                                text) : -1;
        if (n > 0)
            stream_append(s, frame, (size_t)n);
        free(frame);
        free(text);
        json_decref(o);
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(call->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    /* a keep-alive goes out every real second: a stream that took no
     * byte for CTL_STREAM_TIMEOUT s is a client gone or stuck */
    MHD_set_connection_option(call->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)CTL_STREAM_TIMEOUT);
    return ret;
}

void ctl_events_start(struct control *c)
{
    loop_thread = pthread_self();
    c->chained = c->e->hooks;
    c->e->hooks = (struct engine_hooks){ .ctx = c, .pulse = on_pulse,
                                         .settled = on_settled,
                                         .relay = on_relay };
    c->hooked = true;
    log_set_tap(on_log, c);
    c->observed = c->cfg.ports->bus.observer;
    c->observed_ctx = c->cfg.ports->bus.observer_ctx;
    bus_set_observer(&c->cfg.ports->bus, on_modbus, c);
    caption_watch(on_caption, c);
}

void ctl_events_stop(struct control *c)
{
    log_set_tap(NULL, NULL);
    caption_unwatch(on_caption, c);
    if (c->cfg.ports->bus.observer == on_modbus)
        bus_set_observer(&c->cfg.ports->bus, c->observed, c->observed_ctx);
    if (c->hooked && c->e->hooks.ctx == c)
        c->e->hooks = c->chained;
    c->hooked = false;
    for (struct ctl_stream *s = c->streams; s; s = s->next)
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}
