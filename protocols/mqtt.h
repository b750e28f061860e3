/*
 * An MQTT client on a libev loop, over paho.mqtt.c's asynchronous client.
 *
 * paho runs its own threads and calls back on them. Here every paho
 * callback only copies what it was given into an event, queues it under a
 * lock and wakes the loop (ev_async); the events are handled, and the
 * user's callbacks called, on the loop's thread only. Nothing here blocks
 * the loop: connecting, publishing and subscribing return at once and
 * report later.
 *
 * One struct mqtt_hub per loop carries the events of all its clients (a
 * fleet of 1000 meters is 1000 clients and one ev_async). Each client
 * reconnects by itself after a lost or failed connection, waiting
 * backoff_min, then twice as long each failure up to backoff_max (with
 * +-20 % jitter, so a fleet does not reconnect in lockstep).
 *
 * Publishes with a nonzero tag are tracked: the client calls acked(tag,
 * true) when the broker acknowledged it (QoS 1: PUBACK), and acked(tag,
 * false) when it failed or the connection was lost before the
 * acknowledgement; exactly one call per tagged publish that mqtt_publish
 * accepted. paho's own persistence is off: the caller keeps what must
 * survive.
 *
 * Knows nothing of meters: topics, payloads and what to publish when are
 * the caller's.
 */
#ifndef PROTOCOLS_MQTT_H
#define PROTOCOLS_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct mqtt_hub;
struct mqtt;

struct mqtt_config {
    const char *uri;            /* mqtt://host[:port] (1883), mqtts://host[:port]
                                   (8883); tcp:// and ssl:// also */
    const char *client_id;
    const char *username;       /* NULL: none */
    const char *password;       /* NULL: none */
    const char *ca_file;        /* TLS: CAs to trust (PEM); NULL: the system's */
    const char *cert_file;      /* TLS: client certificate (PEM), NULL: none */
    const char *key_file;       /* TLS: its private key (PEM), NULL: in cert_file */
    int keepalive;              /* s */
    const char *will_topic;     /* last will, NULL: none */
    const char *will_payload;
    bool will_retain;
    double backoff_min;         /* s before the first reconnect */
    double backoff_max;         /* s between reconnects at most */
    unsigned window;            /* tagged publishes in flight at most */
};

/* Fill in defaults: keepalive 60, backoff 1..30 s, window 16. */
void mqtt_config_default(struct mqtt_config *cfg);

/* Check a URI as mqtt_new will read it. 0, or -1 with a reason in err. */
int mqtt_uri_check(const char *uri, char *err, size_t errlen);

/* What a client reports, on the loop's thread. Any may be NULL. */
struct mqtt_events {
    void *ctx;
    /* the connection is up (the first time, or again) */
    void (*up)(void *ctx);
    /* the connection was lost, or an attempt failed (not a refusal); a
     * reconnect is scheduled */
    void (*down)(void *ctx, const char *why);
    /* the broker refused the connection (CONNACK code 1..5: protocol,
     * client id, unavailable, bad user name or password, not authorized);
     * a reconnect is scheduled unless the callback stops the client */
    void (*refused)(void *ctx, int code, const char *why);
    /* a message on a subscribed topic (payload not NUL-terminated);
     * retained: the broker kept it and sends it to every new subscriber */
    void (*message)(void *ctx, const char *topic, const void *payload,
                    size_t len, bool retained);
    /* a tagged publish completed: acknowledged (ok) or not */
    void (*acked)(void *ctx, uint64_t tag, bool ok);
};

struct mqtt_hub *mqtt_hub_new(struct ev_loop *loop);

/* Free the hub; its clients must have been freed. */
void mqtt_hub_free(struct mqtt_hub *hub);

/* A client (not connecting yet). NULL with a message in err when the
 * configuration is unusable. */
struct mqtt *mqtt_new(struct mqtt_hub *hub, const struct mqtt_config *cfg,
                      const struct mqtt_events *ev, char *err, size_t errlen);

/* Start connecting (and keep reconnecting); again after mqtt_stop once
 * that has completed. -1 while connected or still stopping. */
int mqtt_start(struct mqtt *c);

/* Stop reconnecting and disconnect cleanly (no last will). Completes in
 * the background; mqtt_hub_settle waits for it. */
void mqtt_stop(struct mqtt *c);

/* Whether another tagged publish fits the window now. */
bool mqtt_can_send(const struct mqtt *c);

/* Publish. tag 0 is not tracked. 0 when handed to paho (a tagged one is
 * then reported through acked), -1 when not connected or refused at once. */
int mqtt_publish(struct mqtt *c, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, uint64_t tag);

/* Subscribe (after up; subscriptions do not survive a reconnect). */
int mqtt_subscribe(struct mqtt *c, const char *filter, int qos);

/* Handle the events queued now (for the way out, when the loop no
 * longer runs). */
void mqtt_hub_poll(struct mqtt_hub *hub);

/* Handle the hub's events until every stopped client has finished
 * disconnecting, or timeout s pass on the caller's clock now (for the way
 * out, when the loop no longer runs, so libev's time stands still; and
 * protocols/ keeps no clock of its own: the host has one). */
void mqtt_hub_settle(struct mqtt_hub *hub, double (*now)(void),
                     double timeout);

/* Free a client (stopped or not: it is cut without a clean disconnect). */
void mqtt_free(struct mqtt *c);

/* The text of a CONNACK refusal code. */
const char *mqtt_connack_text(int code);

#endif
