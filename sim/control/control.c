/*
 * The control API's server: libmicrohttpd on the libev loop (its epoll
 * descriptor watched by an ev_io, its timeouts by an ev_timer), the
 * bearer token, the routes, request bodies and JSON answers.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/base/log.h"
#include "sim/base/monotonic.h"
#include "sim/base/numparse.h"

/* ---- the health routes ---- */

static enum MHD_Result ctl_healthz(struct ctl_call *call)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* Ready: the meters run and every listener is open (the API starts
 * after them); the uplink's link is reported, not required. */
static enum MHD_Result ctl_readyz(struct ctl_call *call)
{
    json_t *o = json_object();
    json_object_set_new(o, "ready", json_true());
    json_object_set_new(o, "meters", json_integer(call->c->e->count));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* ---- routes ---- */

static ctl_handler ctl_index;

struct ctl_route {
    const char *method;
    const char *path;           /* segments; "{}" captures one */
    ctl_handler *fn;
    bool open;                  /* answered without the token */
};

#define M "/api/v1/meters/{}"
static const struct ctl_route routes[] = {
    { "GET", "/healthz", ctl_healthz, true },
    { "GET", "/readyz", ctl_readyz, true },
    { "GET", "/metrics", ctl_metrics, false },
    { "GET", "/api/v1", ctl_index, false },
    { "GET", "/api/v1/meters", ctl_meters_list, false },
    { "GET", M, ctl_meter_get, false },
    { "GET", M "/measurements", ctl_meter_measurements, false },
    { "GET", M "/energies", ctl_meter_energies, false },
    { "GET", M "/registers", ctl_meter_registers, false },
    { "GET", M "/registers/{}", ctl_meter_register_get, false },
    { "PUT", M "/registers/{}", ctl_meter_register_put, false },
    { "GET", M "/settings", ctl_meter_settings_get, false },
    { "PATCH", M "/settings", ctl_meter_settings_patch, false },
    { "PUT", M "/settings/tariff", ctl_meter_tariff_put, false },
    { "GET", M "/relay", ctl_meter_relay_get, false },
    { "PUT", M "/relay", ctl_meter_relay_put, false },
    { "GET", M "/credit", ctl_meter_credit_get, false },
    { "PUT", M "/credit", ctl_meter_credit_put, false },
    { "POST", M "/credit/topup", ctl_meter_topup, false },
    { "GET", M "/clock", ctl_meter_clock_get, false },
    { "PUT", M "/clock", ctl_meter_clock_put, false },
    { "GET", M "/load", ctl_meter_load_get, false },
    { "PUT", M "/load", ctl_meter_load_put, false },
    { "PATCH", M "/load", ctl_meter_load_patch, false },
    { "POST", M "/keys", ctl_meter_keys, false },
    { "GET", M "/lcd", ctl_meter_lcd, false },
    { "GET", M "/scope", ctl_meter_scope, false },
    { "GET", "/api/v1/faults", ctl_faults_list, false },
    { "POST", "/api/v1/faults", ctl_faults_add, false },
    { "DELETE", "/api/v1/faults", ctl_faults_clear, false },
    { "DELETE", "/api/v1/faults/{}", ctl_fault_delete, false },
    { "GET", "/api/v1/clock", ctl_clock_get, false },
    { "POST", "/api/v1/clock/pause", ctl_clock_pause, false },
    { "POST", "/api/v1/clock/resume", ctl_clock_resume, false },
    { "PUT", "/api/v1/clock/speed", ctl_clock_speed, false },
    { "PUT", "/api/v1/clock/fidelity", ctl_clock_fidelity, false },
    { "POST", "/api/v1/clock/advance", ctl_clock_advance, false },
    { "GET", "/api/v1/events", ctl_events, false },
    { "GET", "/", ctl_web_page, true },
    { "GET", "/meter/{}", ctl_web_page, true },
    { "GET", "/web/{}", ctl_web_asset, true },
};
#undef M

/* Every route, "{}" spelt as the OpenAPI description names it. */
static enum MHD_Result ctl_index(struct ctl_call *call)
{
    json_t *a = json_array();
    char path[128];

    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
        const char *p = routes[k].path, *b = strstr(p, "{}");
        const char *b2 = b ? strstr(b + 2, "{}") : NULL;
        if (!b)
            snprintf(path, sizeof path, "%s", p);
        else if (!b2)
            snprintf(path, sizeof path, "%.*s{%s}%s", (int)(b - p), p,
                     strstr(p, "/faults/") ? "id" :
                     strstr(p, "/web/") ? "asset" : "meter", b + 2);
        else
            snprintf(path, sizeof path, "%.*s{meter}%.*s{register}%s",
                     (int)(b - p), p, (int)(b2 - b - 2), b + 2, b2 + 2);
        json_array_append_new(a, json_pack("{s:s,s:s}", "method",
                                           routes[k].method, "path", path));
    }
    return ctl_json(call->conn, MHD_HTTP_OK, json_pack("{s:o}", "routes", a));
}

/* Does the route read a body? GET, HEAD and DELETE do not, nor pause
 * and resume. */
static bool takes_body(const struct ctl_route *r)
{
    return strcmp(r->method, "GET") && strcmp(r->method, "DELETE") &&
           r->fn != ctl_clock_pause && r->fn != ctl_clock_resume;
}

/* Does path match pattern? The captures into arg (pointing into buf). */
static bool route_match(const char *pattern, const char *path, char *buf,
                        size_t buflen, const char **arg)
{
    unsigned n = 0;
    size_t off = 0;

    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
        if (pl == 2 && !strncmp(pattern, "{}", 2)) {
            if (sl == 0 || n >= CTL_ARGS || off + sl + 1 > buflen)
                return false;
            memcpy(buf + off, path, sl);
            buf[off + sl] = '\0';
            arg[n++] = buf + off;
            off += sl + 1;
        } else if (pl != sl || strncmp(pattern, path, pl)) {
            return false;
        }
        pattern += pl, path += sl;
    }
    return !*pattern && (!*path || !strcmp(path, "/"));
}

/* The Authorization header holds "Bearer <token>" (compared in constant
 * time for equal lengths). */
static bool authorized(const struct control *c, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    size_t n = strlen(c->token);
    unsigned char diff = 0;

    if (!h || strncasecmp(h, "Bearer ", 7))
        return false;
    h += 7;
    if (strlen(h) != n)
        return false;
    for (size_t k = 0; k < n; k++)
        diff |= (unsigned char)(h[k] ^ c->token[k]);
    return diff == 0;
}

static bool loopback(const char *host);

/* The host part of a Host header ("127.0.0.1:8080", "[::1]:8080",
 * "localhost") into buf. */
static void host_part(const char *h, char *buf, size_t len)
{
    size_t n;

    if (h[0] == '[') {
        h++;
        n = strcspn(h, "]");
    } else {
        n = strcspn(h, ":");
    }
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), h);
}

/* A browser's page must not drive the API (CSRF, DNS rebinding): on a
 * loopback bind the Host must be a loopback name or address (a rebound
 * domain name is not), and a change must come as JSON (a form or a
 * text/plain body is what a page may post without a preflight) from no
 * Origin or the API's own. true with a 403/421 queued otherwise. */
static bool foreign(struct control *c, struct ctl_request *req,
                    const char *method, enum MHD_Result *ret)
{
    struct MHD_Connection *conn = req->conn;
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_HOST);
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Origin");
    const char *type = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    char name[256];

    if (c->on_loopback && host) {
        host_part(host, name, sizeof name);
        if (!loopback(name)) {
            *ret = ctl_error(conn, MHD_HTTP_MISDIRECTED_REQUEST, "Host",
                             "Host '%.200s' is not this API's: on a loopback "
                             "address it answers 127.0.0.1, [::1] or "
                             "localhost only (docs/http.md, \"Security\")",
                             host);
            return true;
        }
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return false;
    if (origin) {
        size_t n = strlen("http://");
        if (!host || strncasecmp(origin, "http://", n) ||
            strcasecmp(origin + n, host)) {
            *ret = ctl_error(conn, MHD_HTTP_FORBIDDEN, "Origin",
                             "a change from the page at '%.200s' is refused: "
                             "only this API's own pages (http://%.200s) may "
                             "make one", origin, host ? host : "");
            return true;
        }
    }
    if (req->len && (!type || strncasecmp(type, "application/json", 16) ||
                     (type[16] && type[16] != ';' && type[16] != ' '))) {
        *ret = ctl_error(conn, MHD_HTTP_FORBIDDEN, "Content-Type",
                         "a body must be sent as Content-Type: "
                         "application/json (not '%.100s'), e.g. curl --json",
                         type ? type : "none");
        return true;
    }
    return false;
}

static enum MHD_Result dispatch(struct control *c, struct ctl_request *req,
                                const char *url, const char *method)
{
    struct ctl_call call = { .c = c, .req = req, .conn = req->conn,
                             .method = method };
    char buf[512], allow[64] = "";
    bool path_known = false;
    enum MHD_Result ret;

    if (foreign(c, req, method, &ret)) {
        c->client_errors++;
        return ret;
    }
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
        const char *arg[CTL_ARGS] = { 0 };
        if (!route_match(routes[k].path, url, buf, sizeof buf, arg))
            continue;
        path_known = true;
        if (!strstr(allow, routes[k].method))
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow),
                     "%s%s", allow[0] ? ", " : "", routes[k].method);
        /* HEAD is a GET without its body (libmicrohttpd drops it) */
        if (strcmp(routes[k].method, method) &&
            (strcmp(method, "HEAD") || strcmp(routes[k].method, "GET")))
            continue;
        if (c->token && !routes[k].open && !authorized(c, req->conn)) {
            struct MHD_Response *r = MHD_create_response_from_buffer(
                0, NULL, MHD_RESPMEM_PERSISTENT);
            json_t *o = json_pack("{s:s,s:s,s:i}", "error",
                "a bearer token is required (Authorization: Bearer TOKEN)",
                "field", "Authorization", "status", 401);
            char *text = json_dumps(o, JSON_INDENT(1));
            json_decref(o);
            MHD_destroy_response(r);
            r = MHD_create_response_from_buffer(strlen(text), text,
                                                MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    "application/json");
            MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                    "Bearer realm=\"kpm31c-sim\"");
            ret = MHD_queue_response(req->conn, MHD_HTTP_UNAUTHORIZED, r);
            MHD_destroy_response(r);
            c->client_errors++;
            return ret;
        }
        memcpy(call.arg, arg, sizeof arg);
        if (req->too_big)
            return ctl_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "body",
                             "the body is larger than %d bytes",
                             CTL_BODY_MAX);
        if (req->len) {
            json_error_t jerr;
            call.json = json_loadb(req->body, req->len,
                                   JSON_REJECT_DUPLICATES, &jerr);
            if (!call.json)
                return ctl_error(req->conn, MHD_HTTP_BAD_REQUEST, "body",
                                 "bad JSON: %s (line %d, column %d)",
                                 jerr.text, jerr.line, jerr.column);
            if (!json_is_object(call.json)) {
                json_decref(call.json);
                return ctl_error(req->conn, MHD_HTTP_BAD_REQUEST, "body",
                                 "the body must be a JSON object");
            }
            /* a route that takes no body takes no field either: a caller
             * who thinks DELETE /faults takes an id learns it does not */
            if (!takes_body(&routes[k]) && json_object_size(call.json)) {
                const char *key = json_object_iter_key(
                    json_object_iter(call.json));
                enum MHD_Result r = ctl_error(
                    req->conn, MHD_HTTP_BAD_REQUEST, key,
                    "unknown field: %s %s takes no body", method, url);
                json_decref(call.json);
                return r;
            }
        }
        /* what a route changes is logged as the API's doing */
        const char *before = engine_cause(c->e, "HTTP");
        ctl_reply_watch(c);
        ret = routes[k].fn(&call);
        ctl_reply_watch(NULL);
        engine_cause(c->e, before);
        json_decref(call.json);
        return ret;
    }
    if (path_known) {
        json_t *o = json_object();
        char msg[700];
        snprintf(msg, sizeof msg, "%s is not allowed on %s (it takes %s)",
                 method, url, allow);
        json_object_set_new(o, "error", json_string(msg));
        json_object_set_new(o, "status", json_integer(405));
        char *text = json_dumps(o, JSON_INDENT(1));
        json_decref(o);
        if (!text)
            return MHD_NO;
        ret = ctl_text_with(req->conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "application/json", text, strlen(text),
                            MHD_HTTP_HEADER_ALLOW, allow);
        free(text);
        return ret;
    }
    return ctl_error(req->conn, MHD_HTTP_NOT_FOUND, NULL,
                     "no such resource: %s (see docs/http.md)", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct control *c = cls;
    struct ctl_request *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->c = c;
        req->conn = conn;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_big || req->len + n > CTL_BODY_MAX) {
            req->too_big = true;
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = (req->len + n + 1) * 2;
            char *b = realloc(req->body, cap);
            if (!b)
                return MHD_NO;
            req->body = b;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    if (req->waiting)
        return MHD_YES;         /* still suspended: nothing to say */
    if (req->answered) {
        struct ctl_call call = { .c = c, .req = req, .conn = conn,
                                 .method = method };
        return ctl_advance_answer(&call);
    }
    c->requests++;
    return dispatch(c, req, url, method);
}

/* The request is over: off the waiting list, and freed. */
static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct control *c = cls;
    struct ctl_request *req = *con_cls;

    if (!req)
        return;
    for (struct ctl_request **p = &c->waits; *p; p = &(*p)->next_wait)
        if (*p == req) {
            *p = req->next_wait;
            break;
        }
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own messages, at debug level. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("http: %s", line);
}

/* ---- on the loop ---- */

static void run_mhd(struct control *c)
{
    MHD_UNSIGNED_LONG_LONG ms;

    MHD_run(c->daemon);
    ev_timer_stop(c->loop, &c->wake);
    if (MHD_get_timeout(c->daemon, &ms) == MHD_YES) {
        ev_timer_set(&c->wake, (double)ms / 1000.0, 0.0);
        ev_timer_start(c->loop, &c->wake);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    run_mhd(w->data);
}

static void on_wake(struct ev_loop *loop, ev_timer *w, int revents)
{
    run_mhd(w->data);
}

static void on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct control *c = w->data;
    ctl_events_beat(c);
    run_mhd(c);
}

/* ---- start and stop ---- */

static bool loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (!strcmp(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&a6);
}

/* "HOST:PORT" as given, an IPv6 address in brackets ("[::]:8080"). */
static const char *hostport(const struct sim_options *o, char *buf,
                            size_t len)
{
    snprintf(buf, len, strchr(o->http_host, ':') ? "[%s]:%d" : "%s:%d",
             o->http_host, o->http_port);
    return buf;
}

/* Why libmicrohttpd could not listen at addr: bind it once to learn. */
static const char *bind_error(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), on = 1;
    const char *why = "it could not start there";

    if (fd < 0)
        return strerror(errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen))
        why = strerror(errno);
    close(fd);
    return why;
}

/* The token (KPM31C_HTTP_TOKEN reaches it through the options' own
 * environment layer). */
static const char *token_of(const struct sim_options *o)
{
    const char *t = o->http_token;
    return t && *t ? t : NULL;
}

int control_check(const struct sim_options *o, char *err, size_t errlen)
{
    if (!o->http_host[0] || loopback(o->http_host) || token_of(o))
        return 0;
    char hp[300];
    snprintf(err, errlen, "--http %s listens beyond loopback: give a "
             "bearer token (--http-token TOKEN or KPM31C_HTTP_TOKEN)",
             hostport(o, hp, sizeof hp));
    return -1;
}

struct control *control_open(struct ev_loop *loop, const struct sim_options *o,
                             const struct control_config *cfg, char *err,
                             size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *ai = NULL;
    char port[16];
    struct control *c;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    char hp[300];

    hostport(o, hp, sizeof hp);
    snprintf(port, sizeof port, "%d", o->http_port);
    int gai = getaddrinfo(o->http_host, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "--http %s: %s", hp, gai_strerror(gai));
        return NULL;
    }
    c = calloc(1, sizeof *c);
    size_t nk = cfg->engine->count ? cfg->engine->count : 1;
    if (!c || !(c->key_ms = calloc(nk, sizeof *c->key_ms)) ||
        !(c->key_real = calloc(nk, sizeof *c->key_real))) {
        if (c)
            free(c->key_ms);
        free(c);
        freeaddrinfo(ai);
        snprintf(err, errlen, "--http: out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->e = cfg->engine;
    c->token = token_of(o);
    c->on_loopback = loopback(o->http_host);
    c->started = monotonic_s();
    c->resume_speed = cfg->clock->speed > 0 ? cfg->clock->speed : 1.0;
    c->resume_max = cfg->clock->max;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    c->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, c,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, c,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CTL_TIMEOUT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CTL_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CTL_PER_IP,
        MHD_OPTION_END);
    if (!c->daemon)
        snprintf(err, errlen, "--http %s: cannot listen there: %s", hp,
                 bind_error(ai));
    freeaddrinfo(ai);
    if (!c->daemon) {
        free(c->key_ms);
        free(c->key_real);
        free(c);
        return NULL;
    }
    const union MHD_DaemonInfo *fd =
        MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *bound =
        MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
    c->port = bound ? bound->port : o->http_port;
    snprintf(c->url, sizeof c->url, strchr(o->http_host, ':') ?
             "http://[%s]:%d" : "http://%s:%d", o->http_host, c->port);
    ev_io_init(&c->io, on_io, fd->epoll_fd, EV_READ);
    ev_timer_init(&c->wake, on_wake, 0.0, 0.0);
    ev_timer_init(&c->beat, on_beat, 1.0, 1.0);
    c->io.data = c->wake.data = c->beat.data = c;
    ev_io_start(loop, &c->io);
    ev_timer_start(loop, &c->beat);
    ctl_events_start(c);
    log_info("HTTP control API on %s%s; the meter's face: %s/", c->url,
             c->token ? " (bearer token required)" : "", c->url);
    return c;
}

int64_t control_next(const struct control *c, int64_t target_ms)
{
    for (const struct ctl_request *r = c ? c->waits : NULL; r;
         r = r->next_wait)
        if (r->waiting && r->wait_ms < target_ms)
            target_ms = r->wait_ms;
    return target_ms;
}

void control_poll(struct control *c)
{
    bool any = false;

    if (!c)
        return;
    for (struct ctl_request *r = c->waits; r; r = r->next_wait)
        if (r->waiting && c->e->now_ms >= r->wait_ms) {
            /* the instant's second ticked now, not at the next step: the
             * meters read the time asked, with what happens then (a
             * settlement at 00:00 on a 1st) */
            engine_finish(c->e);
            r->waiting = false;
            r->answered = true;
            MHD_resume_connection(r->conn);
            any = true;
        }
    if (any)
        run_mhd(c);
}

int control_port(const struct control *c)
{
    return c->port;
}

void control_close(struct control *c)
{
    if (!c)
        return;
    c->closing = true;
    for (struct ctl_request *r = c->waits; r; r = r->next_wait)
        if (r->waiting) {
            r->waiting = false;
            r->answered = true;
            MHD_resume_connection(r->conn);
        }
    ctl_events_stop(c);
    /* the resumed answer what they can before the daemon stops */
    MHD_run(c->daemon);
    MHD_run(c->daemon);
    ev_io_stop(c->loop, &c->io);
    ev_timer_stop(c->loop, &c->wake);
    ev_timer_stop(c->loop, &c->beat);
    MHD_stop_daemon(c->daemon);
    free(c->key_ms);
    free(c->key_real);
    free(c);
}
