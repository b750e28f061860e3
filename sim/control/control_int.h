/*
 * The control API's parts among themselves: the server (control.c), the
 * meters (control_meter.c), time (control_time.c), the event stream
 * (control_events.c) and the metrics (control_metrics.c).
 */
#ifndef SIM_CONTROL_INT_H
#define SIM_CONTROL_INT_H

#include <jansson.h>
#include <microhttpd.h>

#include "sim/control/control.h"
#include "sim/ports/bus.h"

#define CTL_ARGS 2              /* {captures} a route has at most */
#define CTL_BODY_MAX 65536      /* bytes a request body may have */
#define CTL_CONNECTIONS 256     /* connections at once */
#define CTL_PER_IP 64           /* of them from one address */
#define CTL_TIMEOUT 5           /* s a connection may be idle (headers
                                   trickled, keep-alive) */
#define CTL_STREAMS_MAX 32      /* event-stream clients at once */
#define CTL_STREAM_TIMEOUT 60   /* s a stream may take no byte */

/* One request, from its first header to its answer. */
struct ctl_request {
    struct control *c;
    struct MHD_Connection *conn;
    char *body;                 /* the upload, NUL-terminated */
    size_t len, cap;
    bool too_big;               /* more than CTL_BODY_MAX: refused */
    /* an advance waiting for virtual time */
    bool waiting;               /* suspended until wait_ms or the end */
    bool answered;              /* resumed: answer now */
    int64_t wait_ms;
    struct ctl_request *next_wait;
};

/* A route's view of the request. */
struct ctl_call {
    struct control *c;
    struct ctl_request *req;
    struct MHD_Connection *conn;
    const char *method;
    const char *arg[CTL_ARGS];  /* the {captures}, in order */
    json_t *json;               /* the parsed body (an object), or NULL */
};

typedef enum MHD_Result ctl_handler(struct ctl_call *call);

/* One stream client (control_events.c). */
struct ctl_stream;

struct control {
    struct MHD_Daemon *daemon;
    struct ev_loop *loop;
    ev_io io;                   /* MHD's epoll descriptor */
    ev_timer wake;              /* MHD's next timeout */
    ev_timer beat;              /* a real second: stream values, keep-alive */
    struct control_config cfg;
    struct engine *e;
    const char *token;          /* NULL: no token asked for */
    bool on_loopback;           /* bound to loopback: Host checked */
    char url[96];               /* http://HOST:PORT, for the log */
    int port;                   /* the port bound (0 resolved) */
    struct ctl_request *waits;  /* advances waiting */
    struct ctl_stream *streams; /* event stream clients */
    unsigned nstreams;
    struct engine_hooks chained;    /* the hooks before ours */
    bool hooked;
    int64_t *key_ms;            /* per meter: the key driver's counter */
    int64_t *key_real;          /* per meter: monotonic ms of its last
                                   key event (0: none yet) */
    bus_traffic_fn *observed;   /* the Modbus observer before ours */
    void *observed_ctx;
    bool closing;
    double resume_speed;        /* the speed before a pause */
    bool resume_max;
    double started;             /* real s at start */
    uint64_t requests;          /* requests answered */
    uint64_t client_errors;     /* 4xx answers */
};

/* ---- answers (control.c) ---- */

/* Send body (its reference is taken) with status. */
enum MHD_Result ctl_json(struct MHD_Connection *conn, unsigned status,
                         json_t *body);
/* Send text with a content type. */
enum MHD_Result ctl_text(struct MHD_Connection *conn, unsigned status,
                         const char *type, const char *text, size_t len);
/* ctl_text with one more header (header NULL: none). */
enum MHD_Result ctl_text_with(struct MHD_Connection *conn, unsigned status,
                              const char *type, const char *text, size_t len,
                              const char *header, const char *value);
/* A 4xx/5xx: {"error": reason, "field": field (if any)}. */
enum MHD_Result ctl_error(struct MHD_Connection *conn, unsigned status,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers from now on are c's route's (NULL: none): a success is turned
 * into a 503 naming the state file if a change could not be saved. */
void ctl_reply_watch(struct control *c);

/* The meter of the path's first capture, or an answer queued. */
#define METER_OR_404(call, k)                                             \
    int k = ctl_meter_of((call)->c, (call)->arg[0]);                      \
    if (k < 0)                                                            \
        return ctl_error((call)->conn, MHD_HTTP_NOT_FOUND, "meter",       \
                         "no meter '%s' (an index %u..%u or a serial "    \
                         "number)", (call)->arg[0],                       \
                         (call)->c->e->span.first,                        \
                         (call)->c->e->span.first + (call)->c->e->count - 1)

/* A meter named in a path: its index (0..N-1) or its serial number. -1
 * when none is. */
int ctl_meter_of(const struct control *c, const char *name);

/* The body must be a JSON object whose keys are all in keys (NULL-ended):
 * an error answer is queued and false returned otherwise. */
bool ctl_body_keys(struct ctl_call *call, const char *const *keys,
                   enum MHD_Result *ret);

/* ---- the routes ---- */

ctl_handler ctl_meters_list, ctl_meter_get, ctl_meter_measurements,
    ctl_meter_energies, ctl_meter_registers, ctl_meter_register_get,
    ctl_meter_register_put, ctl_meter_settings_get, ctl_meter_settings_patch,
    ctl_meter_tariff_put, ctl_meter_relay_get, ctl_meter_relay_put,
    ctl_meter_credit_get, ctl_meter_credit_put, ctl_meter_topup,
    ctl_meter_clock_get, ctl_meter_clock_put, ctl_meter_load_get,
    ctl_meter_load_put, ctl_meter_load_patch, ctl_meter_keys,
    ctl_faults_list, ctl_faults_add,
    ctl_faults_clear, ctl_fault_delete;

ctl_handler ctl_clock_get, ctl_clock_pause, ctl_clock_resume,
    ctl_clock_speed, ctl_clock_fidelity, ctl_clock_advance;

ctl_handler ctl_events, ctl_metrics;

/* ---- the face (control_face.c, control_web.c) ---- */

ctl_handler ctl_meter_lcd, ctl_meter_scope, ctl_web_page, ctl_web_asset;

/* The key driver's counter of meter k now: the terminal face's while it
 * draws the panel; else it follows real time since the last key event
 * (virtual_floor: or virtual time, if that is ahead) and never goes
 * backwards. Mark a key event at t. */
int64_t ctl_key_now(struct control *c, unsigned k, bool virtual_floor);
void ctl_key_mark(struct control *c, unsigned k, int64_t t);

/* One edge of a key (POST .../keys with "action"). */
enum MHD_Result ctl_key_action(struct ctl_call *call, int k, int key,
                               bool press);

/* What is connected to a meter, as JSON (control_load.c). */
json_t *ctl_load_json(const struct load *l);

/* The process clock as JSON (time, speed, paused, achieved). */
json_t *ctl_clock_json(const struct control *c);

/* Answer an advance that was resumed (control_time.c). */
enum MHD_Result ctl_advance_answer(struct ctl_call *call);

/* ---- the event stream (control_events.c) ---- */

/* Chain the engine's hooks and the log; unchain. */
void ctl_events_start(struct control *c);
void ctl_events_stop(struct control *c);

/* Once a real second: values of the meters, and a keep-alive. */
void ctl_events_beat(struct control *c);

/* An event to every client: name and a JSON object (its reference is
 * taken). */
void ctl_events_send(struct control *c, const char *name, json_t *data);

#endif
