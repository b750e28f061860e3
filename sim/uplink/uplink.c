#define _GNU_SOURCE
#include "sim/uplink/uplink.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/base/log.h"
#include "sim/base/le.h"
#include "sim/base/monotonic.h"
#include "protocols/mqtt.h"
#include "core/meter.h"
#include "sim/store/statefile.h"
#include "sim/uplink/uplink_cmd.h"
#include "sim/uplink/uplink_json.h"
#include "sim/uplink/uplink_queue.h"
#include "sim/uplink/uplink_snapshot.h"
#include "sim/base/version.h"
#include "sim/cli/shard.h"

#define RETRY_INTERVAL 0.2      /* real s before 4g_M = Mqtt tries again */
#define DRAIN_TIMEOUT 5.0       /* real s to send the queue on the way out */
#define SETTLE_TIMEOUT 3.0      /* real s for clean disconnects */
#define RESULT_GRACE 2.0        /* real s results may delay 4g_M = Debug */
#define SECTION_HEADER 12       /* meter index, serial, period */
/* A connection the broker closes this soon after accepting it, so many
 * times in a row, is taken over: another client uses the same id. */
#define TAKEOVER_LIFE 5.0       /* real s */
#define TAKEOVER_COUNT 3
/* Telemetry sequence numbers reserved in the state file ahead of use: a
 * restart after kill -9 resumes past them, so no number is used twice;
 * reaching the end of a block saves the state first (docs/mqtt.md). */
#define SEQ_BLOCK 65536

/* One meter's uplink. */
struct um {
    struct uplink *u;
    unsigned index;
    uint32_t serial;
    char base[96];              /* <prefix>/<serial> */
    char client_id[96];
    struct mqtt *client;
    struct uplink_queue q;
    uint32_t period;            /* telemetry period, virtual s */
    int64_t next_due;           /* virtual s of the next telemetry */
    bool report;                /* telemetry wanted at the next chance */
    bool on;                    /* 4g_M = Mqtt */
    bool mode_due;              /* settings changed: follow 4g_M */
    bool cut;                   /* the link to the broker is cut (a fault) */
    bool up;                    /* connected */
    bool ever_up;               /* connected at least once */
    unsigned failures;          /* failed attempts since the last up */
    bool refusal_logged;        /* a refusal since the last up was logged */
    double up_since;            /* real s of the last up */
    unsigned short_lives;       /* connections closed soon after, in a row */
    double off_since;           /* real s 4g_M = Debug was seen, 0: not */
    uint64_t seq_limit;         /* sequence numbers below are on disk as
                                   used or reserved */
};

struct uplink {
    struct engine *e;
    struct ev_loop *loop;
    struct mqtt_hub *hub;
    struct um *m;
    unsigned count;
    struct engine_hooks hooks;
    ev_timer kick;              /* follow 4g_M and take reports on the loop */
    int64_t next_due;           /* the earliest of the meters', virtual s */
    bool any_report;
    bool started, failed;
    unsigned up_count;          /* meters connected now */
    bool all_up_logged;
    bool takeover_logged;       /* a client id in use was reported */
    /* the options this uses */
    char uri[256];
    const char *client_id, *user, *password, *ca, *cert, *key;
    const char *prefix, *discovery, *reactive_class;
    bool speed_max;
    double speed;               /* at start: expire_after in real s */
    char sim_id[32];            /* the process's device: kpm31c_sim_FIRST */
    char fleet_topic[160];      /* its retained fleet record */
    int keepalive;
    uint32_t period;
    unsigned queue_cap;
    double reconnect_max;
    const char *state_path;     /* NULL: no state file */
    bool stopped;               /* the last save: nothing more is taken */
    bool reserve_failed;        /* a save to reserve numbers failed */
    uplink_traffic_fn *observer;    /* optional: every message */
    void *observer_ctx;
};

/* A fleet logs its first meter's connection events; the rest are debug. */
#define um_log(m, lvl, ...) \
    log_msg((m)->index == 0 ? (lvl) : LOG_DEBUG, __VA_ARGS__)

static int64_t now_s(const struct uplink *u)
{
    return u->e->now_ms / 1000;
}

static struct meter *core_of(struct um *m)
{
    return &m->u->e->meters[m->index].core;
}

static void recompute_due(struct uplink *u)
{
    int64_t best = INT64_MAX;
    for (unsigned k = 0; k < u->count; k++)
        if (u->m[k].next_due < best)
            best = u->m[k].next_due;
    u->next_due = best;
}

static int64_t next_boundary(int64_t now, uint32_t period)
{
    return (now / period + 1) * period;
}

/* ---- sending ---- */

static void observe(struct um *m, bool out, const char *topic,
                    const void *payload, size_t len)
{
    if (m->u->observer)
        m->u->observer(m->u->observer_ctx, m->index, out, topic, payload,
                       len);
}

void uplink_set_observer(struct uplink *u, uplink_traffic_fn *fn, void *ctx)
{
    if (!u)
        return;
    u->observer = fn;
    u->observer_ctx = ctx;
}

static void pump(struct um *m)
{
    if (!m->up || m->cut)
        return;
    for (unsigned k = 0; k < m->q.count; k++) {
        struct uplink_item *it = uplink_queue_at(&m->q, k);
        if (it->state != ITEM_WAITING)
            continue;
        if (!mqtt_can_send(m->client))
            return;
        char buf[160];
        const char *topic = it->topic;
        char *payload = NULL;
        bool retain = it->kind != UPLINK_TELEMETRY &&
                      it->kind != UPLINK_RESULT;
        if (it->kind == UPLINK_BILLING) {
            snprintf(buf, sizeof buf, "%s/billing", m->base);
            payload = uplink_json_billing(it, m->serial);
            topic = buf;
        } else if (it->kind == UPLINK_TELEMETRY) {
            snprintf(buf, sizeof buf, "%s/state", m->base);
            payload = uplink_json_telemetry(it, m->serial, m->q.drops);
            topic = buf;
        }
        const char *text = payload ? payload : it->text;
        if (!text)
            return;
        int rc = mqtt_publish(m->client, topic, text, strlen(text), 1,
                              retain, it->id);
        if (!rc)
            observe(m, true, topic, text, strlen(text));
        free(payload);
        if (rc)
            return;
        it->state = ITEM_IN_FLIGHT;
    }
}

void uplink_cut(struct uplink *u, bool cut)
{
    if (!u)
        return;
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        if (m->cut == cut)
            continue;
        m->cut = cut;
        um_log(m, LOG_INFO, "meter %08u: link to the broker %s (%u queued)",
               (unsigned)m->serial, cut ? "cut" : "restored", m->q.count);
        if (!cut)
            pump(m);
    }
}

/* Every drop since before[] was taken, in the log: the first of each
 * kind and every thousandth (the telemetry carries the counts). */
static void log_drops(struct um *m, const uint64_t *before)
{
    for (unsigned k = 1; k < UPLINK_KINDS; k++) {
        uint64_t n = m->q.drops[k];
        if (n == before[k] || (n != 1 && n / 1000 == before[k] / 1000))
            continue;
        um_log(m, LOG_WARN, "MQTT meter %08u: queue full (%u messages), "
               "dropping the oldest %s (%llu so far)", (unsigned)m->serial,
               m->q.cap, uplink_kind_names[k], (unsigned long long)n);
    }
}

/* Queue a text message: a result, availability, or a discovery config
 * (topic: a suffix of the meter's base unless absolute). */
static void enqueue(struct um *m, uint8_t kind, const char *suffix,
                    const char *payload, bool first, bool absolute)
{
    char topic[512];
    uint64_t before[UPLINK_KINDS];

    if (absolute)
        snprintf(topic, sizeof topic, "%s", suffix);
    else
        snprintf(topic, sizeof topic, "%s/%s", m->base, suffix);
    memcpy(before, m->q.drops, sizeof before);
    if (!uplink_queue_push_text(&m->q, kind, topic, payload, first))
        log_error("MQTT meter %08u: out of memory for %s", (unsigned)m->serial,
                  topic);
    log_drops(m, before);
}

/* Reserve the next block of sequence numbers in the state file before
 * using one past those already there. */
static void reserve_seq(struct um *m)
{
    struct uplink *u = m->u;
    char err[512];

    if (!u->state_path || m->q.next_seq < m->seq_limit)
        return;
    if (state_save(u->state_path, u->e, err, sizeof err)) {
        if (!u->reserve_failed)
            log_error("MQTT: cannot reserve telemetry sequence numbers in "
                      "the state file (after a crash some may be used "
                      "again): %s", err);
        u->reserve_failed = true;
        m->seq_limit = m->q.next_seq + SEQ_BLOCK;   /* try a block later */
    }
}

static void sample(struct um *m)
{
    struct uplink_telemetry t;
    uint64_t before[UPLINK_KINDS];

    m->report = false;
    if (!m->on || m->u->stopped)
        return;
    reserve_seq(m);
    uplink_snapshot_telemetry(core_of(m), &t);
    memcpy(before, m->q.drops, sizeof before);
    if (!uplink_queue_push_telemetry(&m->q, &t))
        log_error("MQTT meter %08u: out of memory for telemetry",
                  (unsigned)m->serial);
    log_drops(m, before);
    pump(m);
}

static void emit_discovery(void *ctx, const char *topic, const char *payload)
{
    enqueue(ctx, UPLINK_DISCOVERY, topic, payload, false, true);
}

/* How long Home Assistant keeps a value without fresh telemetry: three
 * periods, in real seconds at the starting speed; none with a frozen
 * clock (telemetry comes only with changes then). */
static unsigned expire_after(const struct um *m)
{
    const struct uplink *u = m->u;
    double s = 3.0 * m->period;

    if (!u->speed_max && u->speed <= 0)
        return 0;
    if (!u->speed_max && u->speed < 1)
        s = s / u->speed;
    return s > 1e9 ? 1000000000u : (unsigned)(s + 0.999);
}

static void meter_device(struct um *m, uint32_t serial, const char *base,
                         struct uplink_device *d)
{
    *d = (struct uplink_device){
        .serial = serial,
        .fw_version = uplink_reg_u16(core_of(m), REG_X_FW_VERSION),
        .base = base,
        .disc = m->u->discovery,
        .sim_version = SIM_VERSION,
        .via = m->u->sim_id,
        .reactive_class = m->u->reactive_class,
        .expire_after = expire_after(m),
    };
}

/* The fleet record and the simulator's own device: meter 0's to send. */
static void publish_fleet(struct um *m)
{
    struct uplink *u = m->u;
    uint32_t *serials = malloc(u->count * sizeof *serials);
    struct uplink_sim_device s = {
        .id = u->sim_id, .fleet_topic = u->fleet_topic, .disc = u->discovery,
        .sim_version = SIM_VERSION,
    };

    uplink_json_sim_device(&s, emit_discovery, m);
    if (!serials)
        return;
    for (unsigned k = 0; k < u->count; k++)
        serials[k] = u->m[k].serial;
    char *text = uplink_json_fleet(serials, u->count);
    if (text)
        enqueue(m, UPLINK_DISCOVERY, u->fleet_topic, text, false, true);
    free(text);
    free(serials);
}

static void publish_discovery(struct um *m)
{
    struct uplink_device d;

    meter_device(m, m->serial, m->base, &d);
    uplink_json_discovery(&d, emit_discovery, m);
    if (m->index == 0)
        publish_fleet(m);
    pump(m);
}

static bool in_fleet(const struct uplink *u, uint32_t serial)
{
    for (unsigned k = 0; k < u->count; k++)
        if (u->m[k].serial == serial)
            return true;
    return false;
}

/* The fleet record the broker kept from the last run: the meters it had
 * and this run has not are gone, and so are their discovery configs
 * (empty retained payloads). */
static void remove_gone(struct um *m, const void *payload, size_t len)
{
    struct uplink *u = m->u;
    json_t *o = json_loadb(payload, len, 0, NULL);
    json_t *a = json_object_get(o, "serials"), *v;
    size_t k;
    unsigned gone = 0;

    json_array_foreach(a, k, v) {
        const char *sn = json_string_value(v);
        char *end;
        unsigned long serial = sn ? strtoul(sn, &end, 10) : 0;
        if (!sn || *end || !serial || serial > ENGINE_SERIAL_MAX ||
            in_fleet(u, (uint32_t)serial))
            continue;
        char base[96];
        struct uplink_device d;
        snprintf(base, sizeof base, "%s/%08lu", u->prefix, serial);
        meter_device(m, (uint32_t)serial, base, &d);
        d.clear = true;
        uplink_json_discovery(&d, emit_discovery, m);
        gone++;
    }
    json_decref(o);
    if (gone) {
        log_info("MQTT: %u meter(s) of the last run are gone: their Home "
                 "Assistant discovery configs are removed", gone);
        pump(m);
    }
}

/* ---- what the connection reports ---- */

static void on_up(void *ctx)
{
    struct um *m = ctx;
    struct uplink *u = m->u;
    char filter[160];

    m->up = true;
    m->up_since = monotonic_s();
    m->failures = 0;
    m->refusal_logged = false;
    m->ever_up = true;
    u->up_count++;
    /* a connection taken over again and again was reported once */
    um_log(m, m->short_lives >= TAKEOVER_COUNT ? LOG_DEBUG : LOG_INFO,
           "MQTT meter %08u connected to %s as %s (%u queued)",
           (unsigned)m->serial, u->uri, m->client_id, m->q.count);
    if (u->count > 1 && u->up_count == u->count && !u->all_up_logged) {
        log_info("MQTT: all %u meters connected to %s", u->count, u->uri);
        u->all_up_logged = true;
    }
    enqueue(m, UPLINK_AVAILABILITY, "availability", "online", true, false);
    snprintf(filter, sizeof filter, "%s/cmd/+", m->base);
    mqtt_subscribe(m->client, filter, 2);
    if (u->discovery) {
        snprintf(filter, sizeof filter, "%s/status", u->discovery);
        mqtt_subscribe(m->client, filter, 2);
        /* the last run's fleet record: the broker hands it over before
         * the new one, published after this on the same connection */
        if (m->index == 0)
            mqtt_subscribe(m->client, u->fleet_topic, 1);
        publish_discovery(m);
    }
    pump(m);
}

/* The connection was just lost: is another client taking it over (the
 * same client id: a broker closes the older connection, and the two
 * reconnect and close each other in turn)? Reported once per process, at
 * default verbosity; true: the loss is that, already said. */
static bool taken_over(struct um *m)
{
    struct uplink *u = m->u;

    if (monotonic_s() - m->up_since >= TAKEOVER_LIFE) {
        m->short_lives = 0;
        return false;
    }
    m->short_lives++;
    if (m->short_lives < TAKEOVER_COUNT)
        return false;
    log_msg(u->takeover_logged ? LOG_DEBUG : LOG_ERROR,
            "MQTT meter %08u: the broker %s closed the connection right "
            "after accepting it, %u times in a row: client id '%s' is "
            "probably in use by another client (another kpm31c-sim with "
            "the same serials?); give each process its own --serial-base, "
            "or its own --mqtt-client-id", (unsigned)m->serial, u->uri,
            m->short_lives, m->client_id);
    u->takeover_logged = true;
    return true;
}

static void on_down(void *ctx, const char *why)
{
    struct um *m = ctx;
    struct uplink *u = m->u;

    if (m->up) {
        m->up = false;
        u->up_count--;
        if (!taken_over(m))
            um_log(m, LOG_WARN, "MQTT meter %08u: %s; reconnecting (%u "
                   "queued)", (unsigned)m->serial, why, m->q.count);
    } else {
        um_log(m, m->failures == 0 ? LOG_WARN : LOG_DEBUG,
               "MQTT meter %08u: %s %s; retrying (%u queued)",
               (unsigned)m->serial, u->uri, why, m->q.count);
    }
    m->failures++;
    uplink_queue_unsend(&m->q);
}

static void on_refused(void *ctx, int code, const char *why)
{
    struct um *m = ctx;
    struct uplink *u = m->u;
    char who[200];

    if (m->up) {                /* not expected: refusals end attempts */
        m->up = false;
        u->up_count--;
    }
    uplink_queue_unsend(&m->q);
    if (u->user)
        snprintf(who, sizeof who, "client id '%s', user '%s'", m->client_id,
                 u->user);
    else
        snprintf(who, sizeof who, "client id '%s', no user name",
                 m->client_id);
    if (!m->ever_up && !u->failed) {
        /* at start: a configuration error, not an outage */
        log_error("MQTT broker %s refused meter %08u's connection (%s): %s "
                  "(CONNACK %d)", u->uri, (unsigned)m->serial, who, why, code);
        u->failed = true;
        for (unsigned k = 0; k < u->count; k++)
            mqtt_stop(u->m[k].client);
        ev_break(u->loop, EVBREAK_ALL);
        return;
    }
    /* credentials revoked while running: an error once, then quiet */
    if (!u->failed)
        um_log(m, m->refusal_logged ? LOG_DEBUG : LOG_ERROR,
               "MQTT broker %s refused meter %08u's connection (%s): %s "
               "(CONNACK %d); retrying", u->uri, (unsigned)m->serial, who,
               why, code);
    m->refusal_logged = true;
    m->failures++;
}

static void on_acked(void *ctx, uint64_t tag, bool ok)
{
    struct um *m = ctx;
    uplink_queue_acked(&m->q, tag, ok);
    pump(m);
}

static void on_message(void *ctx, const char *topic, const void *payload,
                       size_t len, bool retained)
{
    struct um *m = ctx;
    struct uplink *u = m->u;
    size_t blen = strlen(m->base);

    observe(m, false, topic, payload, len);
    if (u->discovery) {
        char status[160];
        snprintf(status, sizeof status, "%s/status", u->discovery);
        if (!strcmp(topic, status)) {
            if (len == 6 && !memcmp(payload, "online", 6))
                publish_discovery(m);
            return;
        }
        if (!strcmp(topic, u->fleet_topic)) {
            if (retained && m->index == 0)
                remove_gone(m, payload, len);
            return;
        }
    }
    if (strncmp(topic, m->base, blen) || strncmp(topic + blen, "/cmd/", 5))
        return;
    const char *name = topic + blen + 5;
    if (!*name || strchr(name, '/'))
        return;
    if (len == 0) {
        /* how a retained command is cleared: not a command */
        log_debug("MQTT meter %08u: empty message on %s ignored",
                  (unsigned)m->serial, topic);
        return;
    }

    struct uplink_cmd_env env = {
        .m = core_of(m), .now = now_s(u), .period = m->period,
        .retained = retained,
    };
    char cause[64];
    snprintf(cause, sizeof cause, "MQTT cmd/%s", name);
    const char *before = engine_cause(u->e, cause);
    json_t *res = uplink_cmd_run(name, payload, len, &env);
    engine_cause(u->e, before);
    bool ok = json_is_true(json_object_get(res, "ok"));
    const char *error = json_string_value(json_object_get(res, "error"));
    log_msg(u->count == 1 ? LOG_INFO : LOG_DEBUG,
            "MQTT meter %08u: command %s %s%s%s", (unsigned)m->serial, name,
            ok ? "done" : "refused", ok ? "" : ": ", ok ? "" : error);
    char *text = uplink_json_dump(res);
    if (text) {
        enqueue(m, UPLINK_RESULT, "result", text, true, false);
        free(text);
    }
    if (!ok) {
        pump(m);
        return;
    }
    if (env.period != m->period) {
        m->period = env.period;
        m->next_due = next_boundary(now_s(u), m->period);
        recompute_due(u);
        if (u->discovery)
            publish_discovery(m);       /* expire_after follows it */
    }
    sample(m);      /* the new state, at once */
}

/* ---- 4g_M, and telemetry between the engine's steps ---- */

/* Results waiting or on their way. */
static bool results_pending(struct um *m)
{
    for (unsigned k = 0; k < m->q.count; k++)
        if (uplink_queue_at(&m->q, k)->kind == UPLINK_RESULT)
            return true;
    return false;
}

/* Follow the meter's 4g_M. false: not yet (try again later). */
static bool follow_mode(struct um *m)
{
    struct uplink *u = m->u;
    bool want = meter_comm(core_of(m))->uplink == METER_UPLINK_MQTT;

    if (want == m->on || u->failed)
        return true;
    if (want) {
        if (mqtt_start(m->client))
            return false;       /* still disconnecting: next time */
        m->on = true;
        m->next_due = next_boundary(now_s(u), m->period);
        recompute_due(u);
        um_log(m, LOG_INFO, "meter %08u: 4g_M = Mqtt, uplink on",
               (unsigned)m->serial);
        sample(m);
    } else {
        /* the answers to commands go out first (the one that turned the
         * uplink off, too), for RESULT_GRACE s at most */
        if (m->up && !m->cut && results_pending(m)) {
            if (!m->off_since)
                m->off_since = monotonic_s();
            if (monotonic_s() - m->off_since < RESULT_GRACE)
                return false;
        }
        m->off_since = 0;
        m->on = false;
        enqueue(m, UPLINK_AVAILABILITY, "availability", "offline", true,
                false);
        pump(m);                /* the disconnect lets it finish */
        if (m->up) {
            m->up = false;
            u->up_count--;
        }
        mqtt_stop(m->client);
        uplink_queue_unsend(&m->q);
        um_log(m, LOG_INFO, "meter %08u: 4g_M = Debug, uplink off (%u "
               "queued)", (unsigned)m->serial, m->q.count);
    }
    return true;
}

static void take_reports(struct uplink *u)
{
    if (!u->any_report)
        return;
    u->any_report = false;
    for (unsigned k = 0; k < u->count; k++)
        if (u->m[k].report)
            sample(&u->m[k]);
}

/* Run on_kick after `after` real seconds (unless it is already due). */
static void kick(struct uplink *u, double after)
{
    if (!u->started || ev_is_active(&u->kick))
        return;
    ev_timer_set(&u->kick, after, 0.0);
    ev_timer_start(u->loop, &u->kick);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct uplink *u = w->data;
    bool retry = false;

    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        if (m->mode_due)
            m->mode_due = !follow_mode(m);
        retry = retry || m->mode_due;
    }
    take_reports(u);
    if (retry)
        kick(u, RETRY_INTERVAL);
}

/* A meter's settings changed (the engine's watchers): 4g_M may have. */
static void on_settings(void *ctx, unsigned meter)
{
    struct uplink *u = ctx;

    if (meter >= u->count)
        return;
    u->m[meter].mode_due = true;
    kick(u, 0.0);
}

int64_t uplink_next(const struct uplink *u, int64_t target_ms)
{
    if (!u || !u->started || u->next_due == INT64_MAX)
        return target_ms;
    int64_t due_ms = u->next_due * 1000;
    return due_ms < target_ms ? due_ms : target_ms;
}

void uplink_tick(struct uplink *u)
{
    if (!u || !u->started)
        return;
    take_reports(u);
    if (u->e->now_ms < u->next_due * 1000)
        return;
    /* the second due is complete: publish it as the registers will show
     * it (the same tick the engine would give it at its next step) */
    engine_finish(u->e);
    int64_t now = now_s(u);
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        if (m->next_due > now)
            continue;
        sample(m);
        m->next_due = next_boundary(now, m->period);
    }
    recompute_due(u);
}

/* ---- the engine's hooks ---- */

static void hook_settled(void *ctx, unsigned meter, int64_t t)
{
    struct uplink *u = ctx;
    struct uplink_billing b;

    if (meter >= u->count)
        return;
    struct um *m = &u->m[meter];
    /* kept even with the uplink off (4g_M = Debug): it leaves when on */
    uplink_snapshot_billing(&u->e->meters[meter].core, t, &b);
    if (!uplink_queue_push_billing(&m->q, &b))
        log_error("MQTT meter %u: out of memory for billing", meter);
    if (u->started)
        pump(m);
}

static void hook_relay(void *ctx, unsigned meter, bool closed)
{
    struct uplink *u = ctx;
    if (meter < u->count) {
        u->m[meter].report = true;
        u->any_report = true;
        kick(u, 0.0);           /* even with the clock frozen */
    }
}

void uplink_totals(const struct uplink *u, uint64_t *queued,
                   uint64_t *dropped)
{
    *queued = *dropped = 0;
    for (unsigned k = 0; u && k < u->count; k++) {
        *queued += u->m[k].q.count;
        for (unsigned j = 0; j < UPLINK_KINDS; j++)
            *dropped += u->m[k].q.drops[j];
    }
}

const struct engine_hooks *uplink_engine_hooks(struct uplink *u)
{
    return u ? &u->hooks : NULL;
}

/* ---- the state file's section 3 ---- */

static size_t section_size(void *ctx, unsigned meter)
{
    struct uplink *u = ctx;
    if (meter >= u->count)
        return 0;
    return SECTION_HEADER + uplink_queue_saved_size(&u->m[meter].q);
}

static size_t section_save(void *ctx, unsigned meter, uint8_t *buf)
{
    struct uplink *u = ctx;
    struct um *m = &u->m[meter];
    le_put32(buf, meter);
    le_put32(buf + 4, uplink_reg_u32(&u->e->meters[meter].core,
                                    REG_X_SERIAL));
    le_put32(buf + 8, m->period);
    /* the next number a restart may use: past a reserved block while
     * running (kill -9 loses what was taken since), exact at the end */
    uint64_t next = m->q.next_seq;
    m->seq_limit = u->stopped ? next : next + SEQ_BLOCK;
    m->q.next_seq = m->seq_limit;
    size_t n = uplink_queue_save(&m->q, buf + SECTION_HEADER);
    m->q.next_seq = next;
    return SECTION_HEADER + n;
}

static int section_load(void *ctx, const uint8_t *data, size_t len, char *err,
                        size_t errlen)
{
    struct uplink *u = ctx;
    char why[256];

    if (len < SECTION_HEADER) {
        snprintf(err, errlen, "an uplink queue section is truncated");
        return -1;
    }
    uint32_t meter = le_get32(data);
    uint32_t period = le_get32(data + 8);
    if (meter >= u->count)
        return 0;       /* the meters' own sections refuse a smaller fleet */
    if (uplink_queue_load(&u->m[meter].q, data + SECTION_HEADER,
                          len - SECTION_HEADER, why, sizeof why)) {
        snprintf(err, errlen, "meter %u's %s", meter, why);
        return -1;
    }
    u->m[meter].seq_limit = u->m[meter].q.next_seq;
    if (period >= UPLINK_PERIOD_MIN && period <= UPLINK_PERIOD_MAX &&
        period != u->period)
        u->m[meter].period = period;    /* set by a command: it persists */
    return 0;
}

/* ---- life cycle ---- */

struct uplink *uplink_new(const struct sim_options *o, struct engine *e,
                          char *err, size_t errlen)
{
    struct uplink *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory for the MQTT uplink");
        return NULL;
    }
    u->e = e;
    /* a client per meter of this process: a shard's part of the fleet
     * (the engine is built after this, so its count is not there yet) */
    u->count = o->meters;
    if (o->shard_count) {
        unsigned first;
        if (shard_span(o->shard_index, o->shard_count, o->meters, &first,
                       &u->count, err, errlen)) {
            free(u);
            return NULL;
        }
    }
    snprintf(u->uri, sizeof u->uri, "%s", o->mqtt_uri);
    u->client_id = o->mqtt_client_id;
    /* KPM31C_MQTT_USER and _PASSWORD arrive through the options */
    u->user = o->mqtt_user;
    u->password = o->mqtt_password;
    if (u->user && !*u->user)
        u->user = NULL;
    u->ca = o->mqtt_ca;
    u->cert = o->mqtt_cert;
    u->key = o->mqtt_key;
    u->prefix = o->mqtt_prefix;
    u->discovery = o->mqtt_discovery;
    u->reactive_class = o->mqtt_reactive_class;
    u->speed_max = o->speed_max;
    u->speed = o->speed;
    u->keepalive = o->mqtt_keepalive;
    u->period = o->mqtt_period;
    u->queue_cap = o->mqtt_queue;
    u->reconnect_max = o->mqtt_reconnect_max;
    u->state_path = o->state_path;
    u->next_due = INT64_MAX;
    if ((u->ca || u->cert || u->key) && strncmp(u->uri, "mqtts://", 8) &&
        strncmp(u->uri, "ssl://", 6)) {
        snprintf(err, errlen, "--mqtt-ca, --mqtt-cert and --mqtt-key need "
                 "an mqtts:// broker URI, not %s", u->uri);
        free(u);
        return NULL;
    }
    if (u->key && !u->cert) {
        snprintf(err, errlen, "--mqtt-key needs --mqtt-cert");
        free(u);
        return NULL;
    }
    u->m = calloc(u->count, sizeof *u->m);
    if (!u->m) {
        snprintf(err, errlen, "out of memory for the MQTT uplink");
        free(u);
        return NULL;
    }
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        m->u = u;
        m->index = k;
        m->period = u->period;
        m->next_due = INT64_MAX;
        if (uplink_queue_init(&m->q, u->queue_cap)) {
            snprintf(err, errlen, "out of memory for %u meters' uplink "
                     "queues of %u messages", u->count, u->queue_cap);
            uplink_free(u);
            return NULL;
        }
    }
    u->hooks = (struct engine_hooks){
        .ctx = u, .settled = hook_settled, .relay = hook_relay,
    };
    struct state_extra x = {
        .type = STATE_SECTION_UPLINK, .ctx = u, .size = section_size,
        .save = section_save, .load = section_load,
    };
    state_set_extra(&x);
    return u;
}

int uplink_start(struct uplink *u, struct ev_loop *loop, char *err,
                 size_t errlen)
{
    u->loop = loop;
    u->hub = mqtt_hub_new(loop);
    if (!u->hub) {
        snprintf(err, errlen, "out of memory for the MQTT uplink");
        return -1;
    }
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        struct meter *core = core_of(m);
        char will[160];

        m->serial = uplink_reg_u32(core, REG_X_SERIAL);
        snprintf(m->base, sizeof m->base, "%s/%08u", u->prefix,
                 (unsigned)m->serial);
        if (!u->client_id)
            snprintf(m->client_id, sizeof m->client_id, "kpm31c-%08u",
                     (unsigned)m->serial);
        else if (u->count == 1)
            snprintf(m->client_id, sizeof m->client_id, "%s", u->client_id);
        else
            snprintf(m->client_id, sizeof m->client_id, "%s-%08u",
                     u->client_id, (unsigned)m->serial);
        /* --mqtt asks for the uplink: 4g_M = Mqtt, as a user would set it
         * on the LCD (it persists; Debug later turns the uplink off) */
        struct meter_settings s = *meter_settings(core);
        if (s.comm.uplink != METER_UPLINK_MQTT) {
            s.comm.uplink = METER_UPLINK_MQTT;
            if (meter_configure(core, &s)) {
                snprintf(err, errlen, "meter %u: 4g_M could not be set to "
                         "Mqtt", k);
                return -1;
            }
        }

        struct mqtt_config cfg;
        mqtt_config_default(&cfg);
        snprintf(will, sizeof will, "%s/availability", m->base);
        cfg.uri = u->uri;
        cfg.client_id = m->client_id;
        cfg.username = u->user;
        cfg.password = u->password;
        cfg.ca_file = u->ca;
        cfg.cert_file = u->cert;
        cfg.key_file = u->key;
        cfg.keepalive = u->keepalive;
        cfg.will_topic = will;
        cfg.will_payload = "offline";
        cfg.will_retain = true;
        cfg.backoff_max = u->reconnect_max;
        struct mqtt_events ev = {
            .ctx = m, .up = on_up, .down = on_down, .refused = on_refused,
            .message = on_message, .acked = on_acked,
        };
        m->client = mqtt_new(u->hub, &cfg, &ev, err, errlen);
        if (!m->client)
            return -1;
    }
    snprintf(u->sim_id, sizeof u->sim_id, "kpm31c_sim_%08u",
             (unsigned)u->m[0].serial);
    snprintf(u->fleet_topic, sizeof u->fleet_topic, "%s/sim/%08u/fleet",
             u->prefix, (unsigned)u->m[0].serial);
    u->started = true;
    int64_t now = now_s(u);
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        m->on = true;
        m->next_due = next_boundary(now, m->period);
        mqtt_start(m->client);
        sample(m);              /* the power-on reading, queued */
    }
    recompute_due(u);
    ev_timer_init(&u->kick, on_kick, 0.0, 0.0);
    u->kick.data = u;
    if (engine_watch_settings(u->e, on_settings, u)) {
        snprintf(err, errlen, "the MQTT uplink cannot watch the meters' "
                 "settings");
        return -1;
    }
    log_info("MQTT uplink to %s for %u meter(s): telemetry every %u s on "
             "%s/<serial>/state%s%s", u->uri, u->count, (unsigned)u->period,
             u->prefix, u->discovery ? ", discovery under " : "",
             u->discovery ? u->discovery : "");
    return 0;
}

bool uplink_failed(const struct uplink *u)
{
    return u && u->failed;
}

void uplink_stop(struct uplink *u)
{
    if (!u || !u->started)
        return;
    engine_unwatch_settings(u->e, on_settings, u);
    ev_timer_stop(u->loop, &u->kick);
    take_reports(u);
    /* what is queued goes out while the broker takes it */
    double deadline = monotonic_s() + DRAIN_TIMEOUT;
    while (!u->failed) {
        mqtt_hub_poll(u->hub);
        bool pending = false;
        for (unsigned k = 0; k < u->count && !pending; k++) {
            /* connected, or still on the first attempt (a short run
             * with --until can end before the broker answered) */
            struct um *m = &u->m[k];
            pending = m->on && m->q.count > 0 &&
                      (m->up || (!m->ever_up && m->failures == 0));
        }
        if (!pending || monotonic_s() > deadline)
            break;
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    for (unsigned k = 0; k < u->count; k++) {
        struct um *m = &u->m[k];
        if (m->on)
            enqueue(m, UPLINK_AVAILABILITY, "availability", "offline", true,
                    false);
        pump(m);                /* the disconnect lets it finish */
        mqtt_stop(m->client);
    }
    mqtt_hub_settle(u->hub, monotonic_s, SETTLE_TIMEOUT);
    for (unsigned k = 0; k < u->count; k++) {
        uplink_queue_unsend(&u->m[k].q);
        u->m[k].up = false;
    }
    u->started = false;
    u->stopped = true;
}

void uplink_free(struct uplink *u)
{
    if (!u)
        return;
    state_set_extra(NULL);
    for (unsigned k = 0; k < u->count; k++) {
        if (u->m[k].client)
            mqtt_free(u->m[k].client);
        uplink_queue_free(&u->m[k].q);
    }
    mqtt_hub_free(u->hub);
    free(u->m);
    free(u);
}
