#define _GNU_SOURCE
#include "mqtt.h"

#include <MQTTAsync.h>
#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DISCONNECT_TIMEOUT_MS 2000  /* in-flight messages finish, then bye */
#define CONNECT_TIMEOUT_S 10

enum state {
    ST_IDLE,            /* created, not started */
    ST_CONNECTING,      /* a connect is in progress */
    ST_UP,              /* connected */
    ST_WAIT,            /* waiting to reconnect */
    ST_STOPPING,        /* a clean disconnect is in progress */
    ST_STOPPED,         /* done */
};

enum event_kind { EV_UP, EV_CONNECT_FAILED, EV_LOST, EV_MESSAGE, EV_PUBLISHED,
                  EV_STOPPED };

/* What paho's threads hold on to: outlives the client, so a callback that
 * races with mqtt_free finds client == NULL instead of freed memory. */
struct link {
    struct link *next;          /* the hub's list, freed with the hub */
    struct mqtt_hub *hub;
    struct mqtt *client;        /* NULL once freed (under the hub's lock) */
    char tls_error[256];        /* OpenSSL's last words, under the lock */
};

/* One paho callback's data, on its way to the loop. */
struct event {
    struct event *next;
    struct link *link;
    enum event_kind kind;
    int code;                   /* failure code; for EV_PUBLISHED 1 = ok;
                                   for EV_MESSAGE 1 = retained */
    MQTTAsync_token token;      /* EV_PUBLISHED */
    char *topic;                /* EV_MESSAGE */
    void *payload;              /* EV_MESSAGE */
    size_t len;
    char text[256];             /* why (failures, lost connections) */
};

struct mqtt_hub {
    struct ev_loop *loop;
    ev_async wake;
    pthread_mutex_t lock;       /* guards the event list and every link */
    struct event *head, *tail;  /* events in arrival order */
    struct link *links;         /* every link ever made */
    struct mqtt *clients;       /* live clients (loop thread only) */
};

struct flight {
    MQTTAsync_token token;
    uint64_t tag;
};

struct mqtt {
    struct mqtt *next;          /* the hub's client list */
    struct mqtt_hub *hub;
    struct link *link;
    MQTTAsync handle;
    struct mqtt_events ev;
    enum state state;
    ev_timer retry;             /* reconnect backoff */
    unsigned attempt;           /* failures since the last success */
    unsigned seed;              /* for jitter */
    bool tls;
    /* copies of the configuration, alive as long as the client */
    char *uri, *client_id, *username, *password, *ca_file, *cert_file,
         *key_file, *will_topic, *will_payload;
    bool will_retain;
    int keepalive;
    double backoff_min, backoff_max;
    unsigned window;
    struct flight *flights;     /* tagged publishes in flight */
    unsigned nflights;
};

/* ---- paho's threads: copy, queue, wake the loop ---- */

static void push(struct link *l, struct event *e)
{
    struct mqtt_hub *hub = l->hub;
    e->link = l;
    e->next = NULL;
    pthread_mutex_lock(&hub->lock);
    if (!l->client) {           /* freed meanwhile: nobody to tell */
        pthread_mutex_unlock(&hub->lock);
        free(e->topic);
        free(e->payload);
        free(e);
        return;
    }
    if (hub->tail)
        hub->tail->next = e;
    else
        hub->head = e;
    hub->tail = e;
    pthread_mutex_unlock(&hub->lock);
    ev_async_send(hub->loop, &hub->wake);
}

static struct event *new_event(enum event_kind kind, int code,
                               const char *text)
{
    struct event *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->kind = kind;
    e->code = code;
    if (text)
        snprintf(e->text, sizeof e->text, "%s", text);
    return e;
}

static void cb_connected(void *ctx, MQTTAsync_successData *r)
{
    struct event *e = new_event(EV_UP, 0, NULL);
    if (e)
        push(ctx, e);
}

static void cb_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct event *e = new_event(EV_CONNECT_FAILED,
                                r ? r->code : MQTTASYNC_FAILURE,
                                r && r->message ? r->message : NULL);
    if (e)
        push(ctx, e);
}

static void cb_lost(void *ctx, char *cause)
{
    struct event *e = new_event(EV_LOST, 0, cause);
    if (e)
        push(ctx, e);
}

static int cb_message(void *ctx, char *topic, int topic_len,
                      MQTTAsync_message *m)
{
    struct event *e = new_event(EV_MESSAGE, 0, NULL);
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    if (e) {
        e->topic = malloc(tlen + 1);
        e->payload = malloc(m->payloadlen > 0 ? (size_t)m->payloadlen : 1);
        if (e->topic && e->payload) {
            memcpy(e->topic, topic, tlen);
            e->topic[tlen] = '\0';
            if (m->payloadlen > 0)
                memcpy(e->payload, m->payload, (size_t)m->payloadlen);
            e->len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
            e->code = m->retained ? 1 : 0;
            push(ctx, e);
        } else {
            free(e->topic);
            free(e->payload);
            free(e);
        }
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void cb_published(void *ctx, MQTTAsync_successData *r)
{
    struct event *e = new_event(EV_PUBLISHED, 1, NULL);
    if (e) {
        e->token = r ? r->token : 0;
        push(ctx, e);
    }
}

static void cb_publish_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct event *e = new_event(EV_PUBLISHED, 0, NULL);
    if (e) {
        e->token = r ? r->token : 0;
        push(ctx, e);
    }
}

static void cb_disconnected(void *ctx, MQTTAsync_successData *r)
{
    struct event *e = new_event(EV_STOPPED, 0, NULL);
    if (e)
        push(ctx, e);
}

static void cb_disconnect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct event *e = new_event(EV_STOPPED, r ? r->code : -1, NULL);
    if (e)
        push(ctx, e);
}

static int cb_tls_error(const char *str, size_t len, void *u)
{
    struct link *l = u;
    pthread_mutex_lock(&l->hub->lock);
    snprintf(l->tls_error, sizeof l->tls_error, "%.*s", (int)len, str);
    /* OpenSSL's lines end with a newline */
    size_t n = strlen(l->tls_error);
    while (n && (l->tls_error[n - 1] == '\n' || l->tls_error[n - 1] == '\r'))
        l->tls_error[--n] = '\0';
    pthread_mutex_unlock(&l->hub->lock);
    return 0;
}

/* ---- the loop's thread ---- */

const char *mqtt_connack_text(int code)
{
    switch (code) {
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "refused";
    }
}

void mqtt_config_default(struct mqtt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->keepalive = 60;
    cfg->backoff_min = 1.0;
    cfg->backoff_max = 30.0;
    cfg->window = 16;
}

/* mqtt://host:port -> tcp://host:port for paho; tls tells which. */
static int translate_uri(const char *uri, char *out, size_t outlen, bool *tls,
                         char *err, size_t errlen)
{
    static const struct { const char *in, *out; int port; bool tls; } schemes[] = {
        { "mqtt://", "tcp://", 1883, false },
        { "tcp://", "tcp://", 1883, false },
        { "mqtts://", "ssl://", 8883, true },
        { "ssl://", "ssl://", 8883, true },
    };
    for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++) {
        size_t n = strlen(schemes[k].in);
        if (strncmp(uri, schemes[k].in, n))
            continue;
        const char *host = uri + n, *end = host + strlen(host);
        const char *port = NULL;
        if (*host == '[') {                 /* [::1]:1883 */
            const char *close = strchr(host, ']');
            if (!close || close == host + 1)
                break;
            if (close[1] == ':')
                port = close + 2;
            else if (close[1])
                break;
        } else {
            const char *colon = strchr(host, ':');
            if (colon)
                port = colon + 1;
            if (colon == host || !*host)
                break;
        }
        if (strpbrk(host, "/?#@ "))
            break;
        long p = schemes[k].port;
        if (port) {
            char *pend;
            p = strtol(port, &pend, 10);
            if (pend == port || *pend || p < 1 || p > 65535)
                break;
        }
        size_t hlen = (size_t)((port ? port - 1 : end) - host);
        if (snprintf(out, outlen, "%s%.*s:%ld", schemes[k].out, (int)hlen,
                     host, p) >= (int)outlen)
            break;
        *tls = schemes[k].tls;
        return 0;
    }
    snprintf(err, errlen, "'%s' is not mqtt://HOST[:PORT] or "
             "mqtts://HOST[:PORT]", uri);
    return -1;
}

int mqtt_uri_check(const char *uri, char *err, size_t errlen)
{
    char buf[512];
    bool tls;
    return translate_uri(uri, buf, sizeof buf, &tls, err, errlen);
}

static void schedule_retry(struct mqtt *c)
{
    double d = c->backoff_min;
    for (unsigned k = 0; k < c->attempt && d < c->backoff_max; k++)
        d *= 2;
    if (d > c->backoff_max)
        d = c->backoff_max;
    d *= 0.8 + 0.4 * (rand_r(&c->seed) / (double)RAND_MAX);
    c->attempt++;
    c->state = ST_WAIT;
    ev_timer_stop(c->hub->loop, &c->retry);
    ev_timer_set(&c->retry, d, 0.0);
    ev_timer_start(c->hub->loop, &c->retry);
}

static void fail_flights(struct mqtt *c)
{
    /* report in publish order, so the caller requeues in order */
    unsigned n = c->nflights;
    c->nflights = 0;
    for (unsigned k = 0; k < n; k++)
        if (c->ev.acked)
            c->ev.acked(c->ev.ctx, c->flights[k].tag, false);
}

static void connect_now(struct mqtt *c)
{
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;

    o.keepAliveInterval = c->keepalive;
    o.cleansession = 1;
    o.MQTTVersion = MQTTVERSION_3_1_1;
    o.maxInflight = (int)(c->window * 2 + 16);
    o.connectTimeout = CONNECT_TIMEOUT_S;
    o.automaticReconnect = 0;       /* ours, with the queue in mind */
    o.username = c->username;
    o.password = c->password;
    o.onSuccess = cb_connected;
    o.onFailure = cb_connect_failed;
    o.context = c->link;
    if (c->will_topic) {
        will.topicName = c->will_topic;
        will.message = c->will_payload;
        will.retained = c->will_retain;
        will.qos = 1;
        o.will = &will;
    }
    if (c->tls) {
        ssl.trustStore = c->ca_file;
        ssl.keyStore = c->cert_file;
        ssl.privateKey = c->key_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.ssl_error_cb = cb_tls_error;
        ssl.ssl_error_context = c->link;
        o.ssl = &ssl;
    }
    c->state = ST_CONNECTING;
    int rc = MQTTAsync_connect(c->handle, &o);
    if (rc != MQTTASYNC_SUCCESS) {
        char why[256];
        snprintf(why, sizeof why, "cannot connect: %s",
                 MQTTAsync_strerror(rc));
        schedule_retry(c);
        if (c->ev.down)
            c->ev.down(c->ev.ctx, why);
    }
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mqtt *c = w->data;
    if (c->state == ST_WAIT)
        connect_now(c);
}

static void handle(struct mqtt *c, struct event *e)
{
    char why[600];

    switch (e->kind) {
    case EV_UP:
        if (c->state != ST_CONNECTING)
            break;
        c->state = ST_UP;
        c->attempt = 0;
        if (c->ev.up)
            c->ev.up(c->ev.ctx);
        break;
    case EV_CONNECT_FAILED:
        if (c->state != ST_CONNECTING)
            break;
        pthread_mutex_lock(&c->hub->lock);
        if (c->link->tls_error[0])
            snprintf(why, sizeof why, "%s (TLS: %s)",
                     e->text[0] ? e->text : "cannot connect",
                     c->link->tls_error);
        else if (c->tls)
            /* paho 1.3.11 (Debian 12) passes OpenSSL's reason only for
             * failures on our side of the handshake; the broker refusing
             * our certificate (TLS 1.3: after the handshake) is a closed
             * connection with no reason */
            snprintf(why, sizeof why, "%s (no reason from OpenSSL: the "
                     "broker is not listening, or it closed the connection "
                     "as a broker that requires a client certificate does "
                     "when none is given or its CA is not trusted: check "
                     "--mqtt-cert and --mqtt-key)",
                     e->text[0] ? e->text : "cannot connect");
        else
            snprintf(why, sizeof why, "%s",
                     e->text[0] ? e->text : "cannot connect");
        c->link->tls_error[0] = '\0';
        pthread_mutex_unlock(&c->hub->lock);
        schedule_retry(c);
        if (e->code >= 1 && e->code <= 5) {
            if (c->ev.refused)
                c->ev.refused(c->ev.ctx, e->code,
                              mqtt_connack_text(e->code));
        } else if (c->ev.down) {
            c->ev.down(c->ev.ctx, why);
        }
        break;
    case EV_LOST:
        if (c->state != ST_UP)
            break;
        snprintf(why, sizeof why, "connection lost%s%s",
                 e->text[0] ? ": " : "", e->text);
        schedule_retry(c);
        fail_flights(c);
        if (c->ev.down)
            c->ev.down(c->ev.ctx, why);
        break;
    case EV_MESSAGE:
        if (c->state == ST_UP && c->ev.message)
            c->ev.message(c->ev.ctx, e->topic, e->payload, e->len,
                          e->code == 1);
        break;
    case EV_PUBLISHED:
        for (unsigned k = 0; k < c->nflights; k++) {
            if (c->flights[k].token != e->token)
                continue;
            uint64_t tag = c->flights[k].tag;
            memmove(&c->flights[k], &c->flights[k + 1],
                    (c->nflights - k - 1) * sizeof c->flights[0]);
            c->nflights--;
            if (c->ev.acked)
                c->ev.acked(c->ev.ctx, tag, e->code == 1);
            break;
        }
        break;
    case EV_STOPPED:
        if (c->state == ST_STOPPING) {
            c->state = ST_STOPPED;
            fail_flights(c);
        }
        break;
    }
}

/* Every event queued so far, oldest first; the queue is left empty. */
static struct event *take_events(struct mqtt_hub *hub)
{
    pthread_mutex_lock(&hub->lock);
    struct event *e = hub->head;
    hub->head = hub->tail = NULL;
    pthread_mutex_unlock(&hub->lock);
    return e;
}

/* Free an event; returns the one after it. */
static struct event *event_free(struct event *e)
{
    struct event *next = e->next;
    free(e->topic);
    free(e->payload);
    free(e);
    return next;
}

/* Take the queued events and handle them, in order. */
static void dispatch(struct mqtt_hub *hub)
{
    for (struct event *e = take_events(hub); e; e = event_free(e)) {
        /* a client freed after this event was queued left client NULL */
        if (e->link->client)
            handle(e->link->client, e);
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    dispatch(w->data);
}

struct mqtt_hub *mqtt_hub_new(struct ev_loop *loop)
{
    struct mqtt_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return NULL;
    hub->loop = loop;
    pthread_mutex_init(&hub->lock, NULL);
    ev_async_init(&hub->wake, on_wake);
    hub->wake.data = hub;
    ev_async_start(loop, &hub->wake);
    return hub;
}

void mqtt_hub_free(struct mqtt_hub *hub)
{
    if (!hub)
        return;
    ev_async_stop(hub->loop, &hub->wake);
    for (struct event *e = take_events(hub); e; e = event_free(e))
        ;
    /* links stay: a paho thread may still be on its way out with one */
    pthread_mutex_lock(&hub->lock);
    struct link *l = hub->links;
    hub->links = NULL;
    pthread_mutex_unlock(&hub->lock);
    while (l) {
        struct link *next = l->next;
        free(l);
        l = next;
    }
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

struct mqtt *mqtt_new(struct mqtt_hub *hub, const struct mqtt_config *cfg,
                      const struct mqtt_events *ev, char *err, size_t errlen)
{
    char uri[512];
    bool tls, ok = true;

    if (translate_uri(cfg->uri, uri, sizeof uri, &tls, err, errlen))
        return NULL;
    if (!cfg->client_id || !*cfg->client_id) {
        snprintf(err, errlen, "an MQTT client needs a client id");
        return NULL;
    }
    struct mqtt *c = calloc(1, sizeof *c);
    struct link *l = calloc(1, sizeof *l);
    unsigned window = cfg->window ? cfg->window : 16;
    if (!c || !l || !(c->flights = calloc(window, sizeof *c->flights))) {
        free(l);
        if (c)
            free(c->flights);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->hub = hub;
    c->ev = *ev;
    c->tls = tls;
    c->window = window;
    c->keepalive = cfg->keepalive;
    c->backoff_min = cfg->backoff_min > 0 ? cfg->backoff_min : 1.0;
    c->backoff_max = cfg->backoff_max >= c->backoff_min ? cfg->backoff_max
                                                        : c->backoff_min;
    c->will_retain = cfg->will_retain;
    c->uri = dup_or_null(uri, &ok);
    c->client_id = dup_or_null(cfg->client_id, &ok);
    c->username = dup_or_null(cfg->username, &ok);
    c->password = dup_or_null(cfg->password, &ok);
    c->ca_file = dup_or_null(cfg->ca_file, &ok);
    c->cert_file = dup_or_null(cfg->cert_file, &ok);
    c->key_file = dup_or_null(cfg->key_file, &ok);
    c->will_topic = dup_or_null(cfg->will_topic, &ok);
    c->will_payload = dup_or_null(cfg->will_payload ? cfg->will_payload : "",
                                  &ok);
    for (const char *p = cfg->client_id; *p; p++)
        c->seed = c->seed * 31u + (unsigned char)*p;
    l->hub = hub;
    l->client = c;
    c->link = l;
    pthread_mutex_lock(&hub->lock);
    l->next = hub->links;
    hub->links = l;
    pthread_mutex_unlock(&hub->lock);
    ev_timer_init(&c->retry, on_retry, 1.0, 0.0);
    c->retry.data = c;

    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.sendWhileDisconnected = 0;
    int rc = ok ? MQTTAsync_createWithOptions(&c->handle, c->uri, c->client_id,
                                              MQTTCLIENT_PERSISTENCE_NONE,
                                              NULL, &co)
                : MQTTASYNC_FAILURE;
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(c->handle, l, cb_lost, cb_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "MQTT client for %s: %s", cfg->uri,
                 ok ? MQTTAsync_strerror(rc) : "out of memory");
        mqtt_free(c);
        return NULL;
    }
    c->next = hub->clients;
    hub->clients = c;
    return c;
}

int mqtt_start(struct mqtt *c)
{
    if (c->state != ST_IDLE && c->state != ST_STOPPED)
        return -1;
    c->attempt = 0;
    connect_now(c);
    return 0;
}

void mqtt_stop(struct mqtt *c)
{
    ev_timer_stop(c->hub->loop, &c->retry);
    if (c->state == ST_UP) {
        MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
        o.timeout = DISCONNECT_TIMEOUT_MS;
        o.onSuccess = cb_disconnected;
        o.onFailure = cb_disconnect_failed;
        o.context = c->link;
        if (MQTTAsync_disconnect(c->handle, &o) == MQTTASYNC_SUCCESS) {
            c->state = ST_STOPPING;
            return;
        }
    }
    c->state = ST_STOPPED;
    fail_flights(c);
}

bool mqtt_can_send(const struct mqtt *c)
{
    return c->state == ST_UP && c->nflights < c->window;
}

int mqtt_publish(struct mqtt *c, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, uint64_t tag)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message msg = MQTTAsync_message_initializer;

    if (c->state != ST_UP || (tag && c->nflights >= c->window) ||
        len > (size_t)INT32_MAX)
        return -1;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = retain;
    ro.context = c->link;
    if (tag) {
        ro.onSuccess = cb_published;
        ro.onFailure = cb_publish_failed;
    }
    if (MQTTAsync_sendMessage(c->handle, topic, &msg, &ro) !=
        MQTTASYNC_SUCCESS)
        return -1;
    if (tag) {
        c->flights[c->nflights].token = ro.token;
        c->flights[c->nflights].tag = tag;
        c->nflights++;
    }
    return 0;
}

int mqtt_subscribe(struct mqtt *c, const char *filter, int qos)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    if (c->state != ST_UP)
        return -1;
    return MQTTAsync_subscribe(c->handle, filter, qos, &ro) ==
           MQTTASYNC_SUCCESS ? 0 : -1;
}

void mqtt_hub_poll(struct mqtt_hub *hub)
{
    dispatch(hub);
}

void mqtt_hub_settle(struct mqtt_hub *hub, double (*now)(void),
                     double timeout)
{
    double deadline = now() + timeout;
    for (;;) {
        dispatch(hub);
        bool busy = false;
        for (struct mqtt *c = hub->clients; c; c = c->next)
            if (c->state == ST_STOPPING)
                busy = true;
        if (!busy || now() > deadline)
            return;
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

void mqtt_free(struct mqtt *c)
{
    if (!c)
        return;
    struct mqtt_hub *hub = c->hub;
    ev_timer_stop(hub->loop, &c->retry);
    if (c->handle)
        MQTTAsync_destroy(&c->handle);
    pthread_mutex_lock(&hub->lock);
    c->link->client = NULL;
    pthread_mutex_unlock(&hub->lock);
    for (struct mqtt **p = &hub->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    free(c->uri);
    free(c->client_id);
    free(c->username);
    free(c->password);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->will_topic);
    free(c->will_payload);
    free(c->flights);
    free(c);
}
