/*
 * Modbus TCP: the listener, per-client buffers and framing (MBAP, or RTU
 * frames for "RTU over TCP"), limits.
 *
 * Each client has an input buffer (whole frames are taken from it in
 * order, a partial one waits), an output buffer (replies wait there for a
 * slow reader), an idle timer and a frame deadline. Nothing blocks: a
 * client that stalls, floods or sends garbage costs the others nothing. A
 * client that does not read its replies stops being read once its output
 * buffer is full, so TCP flow control pushes back on it alone. A client
 * whose frame stays incomplete past the deadline is closed, and when every
 * slot is taken a new connection evicts the idlest client, so no set of
 * slow or idle clients can lock out one that polls.
 */
#define _GNU_SOURCE    /* accept4 */
#include "modbus_tcp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "modbus_engine.h"
#include "modbus_rtu.h"

#define MBAP_LEN 7              /* transaction, protocol, length, unit */
#define MBAP_LEN_MAX 254        /* length field: unit id + 253-byte PDU */
#define IN_CAP 4096             /* bytes read ahead per client */
#define OUT_CAP 16384           /* replies queued per client */
#define ACCEPT_BURST 16         /* connections taken per wake-up */
#define RTU_MAX 256             /* longest RTU frame */

struct client {
    struct mb_tcp *srv;
    struct client *prev, *next;
    int fd;
    char name[64];              /* peer address, for logs */
    ev_io rio, wio;
    ev_timer idle;              /* no whole request for idle_timeout */
    ev_timer frame;             /* a frame incomplete for frame_timeout */
    double since;               /* connected (ev_now) */
    double last_active;         /* its last whole request (ev_now) */
    bool served;                /* it has sent a whole request */
    ev_timer hold;              /* a delayed reply is due */
    bool eof;                   /* the client shut down its sending side */
    bool holding;               /* a delayed reply blocks the ones after it */
    size_t in_len;
    size_t out_off, out_len;
    uint8_t held[MB_ADU_MAX];   /* the delayed reply ... */
    size_t held_len;
    uint8_t held_req[MB_ADU_MAX]; /* ... and its request */
    size_t held_reqlen;
    uint8_t in[IN_CAP];
    uint8_t out[OUT_CAP];
};

struct quiet {
    double logged;              /* when the last message went out */
    unsigned held;              /* messages held back since */
};

struct mb_tcp {
    struct ev_loop *loop;
    struct mb_bus_ops ops;
    struct mb_faults *faults;
    struct mb_engine eng;
    struct mb_tcp_config cfg;
    char where[128];            /* "host:port", for logs */
    const char *label;          /* "modbus tcp" or "modbus rtu-over-tcp" */
    bool rtu;                   /* RTU framing */
    int fd;
    int port;
    ev_io accept_io;
    ev_timer accept_retry;      /* out of descriptors: pause accepting */
    struct client *clients;
    int nclients;
    struct quiet evicted;       /* evictions, logged at most once a second */
    struct quiet stalled;       /* frame deadlines, likewise */
    struct mb_stats stats;
};

void mb_tcp_config_default(struct mb_tcp_config *cfg)
{
    cfg->host = "127.0.0.1";
    cfg->port = 1502;
    cfg->max_clients = MB_TCP_MAX_CLIENTS_DEFAULT;
    cfg->idle_timeout = 60.0;
    cfg->frame_timeout = MB_TCP_FRAME_TIMEOUT_DEFAULT;
    cfg->framing = MB_TCP_FRAMING_MBAP;
}

/* Log a warning at most once a second, with the count of the ones held
 * back since. */
static void log_quietly(struct mb_tcp *s, struct quiet *q, const char *what)
{
    double now = ev_now(s->loop);

    if (now - q->logged < 1.0) {
        q->held++;
        return;
    }
    if (q->held)
        mb_log(&s->ops, MB_LOG_WARN, "%s: %s (%u more like it since the "
               "last message)", s->label, what, q->held);
    else
        mb_log(&s->ops, MB_LOG_WARN, "%s: %s", s->label, what);
    q->logged = now;
    q->held = 0;
}

static void client_close(struct client *c, int level, const char *why)
{
    struct mb_tcp *s = c->srv;

    if (why)
        mb_log(&s->ops, level, "%s: closing client %s: %s", s->label,
               c->name, why);
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    ev_timer_stop(s->loop, &c->idle);
    ev_timer_stop(s->loop, &c->frame);
    ev_timer_stop(s->loop, &c->hold);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nclients--;
    free(c);
}

static void count_reply(struct mb_tcp *s, const uint8_t *rsp, size_t len)
{
    size_t fc = s->rtu ? 1 : MBAP_LEN;     /* where the function code is */

    s->stats.replies++;
    if (len > fc && (rsp[fc] & 0x80))
        s->stats.exceptions++;
}

static void traffic(struct mb_tcp *s, const uint8_t *req, size_t reqlen,
                    const uint8_t *rsp, size_t rsplen)
{
    if (s->ops.traffic)
        s->ops.traffic(s->ops.ctx, s->rtu ? "rtu" : "tcp",
                       s->rtu ? req[0] : req[6], req, reqlen, rsp, rsplen);
}

/* Send what the output buffer holds; false when the client was closed. */
static bool flush_out(struct client *c)
{
    struct mb_tcp *s = c->srv;

    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                ev_io_start(s->loop, &c->wio);
                return true;
            }
            char why[96];
            snprintf(why, sizeof(why), "send: %s", strerror(errno));
            client_close(c, MB_LOG_DEBUG, why);
            return false;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    ev_io_stop(s->loop, &c->wio);
    return true;
}

static void queue_reply(struct client *c, const uint8_t *rsp, size_t len)
{
    memcpy(c->out + c->out_len, rsp, len);
    c->out_len += len;
}

/* The meter a unit id selects, or -1. */
static int resolve_unit(struct mb_tcp *s, int unit)
{
    if (unit == 0 || unit == 255)
        return mb_first_slave(&s->ops);
    if (unit > MB_SLAVE_MAX || !s->ops.present(s->ops.ctx, unit))
        return -1;
    return unit;
}

/* A reply leaves: now, or after a fault's delay (the replies after it
 * wait). */
static void deliver(struct client *c, const uint8_t *adu, size_t len,
                    const uint8_t *rsp, size_t n, uint32_t delay_ms)
{
    struct mb_tcp *s = c->srv;

    if (delay_ms) {
        memcpy(c->held, rsp, n);
        c->held_len = n;
        memcpy(c->held_req, adu, len);
        c->held_reqlen = len;
        c->holding = true;
        ev_timer_set(&c->hold, delay_ms / 1000.0, 0.);
        ev_timer_start(s->loop, &c->hold);
        return;
    }
    queue_reply(c, rsp, n);
    count_reply(s, rsp, n);
    traffic(s, adu, len, rsp, n);
}

/* One whole frame (MBAP header and PDU). */
static void handle_frame(struct client *c, const uint8_t *adu, size_t len)
{
    struct mb_tcp *s = c->srv;
    struct mb_request rq;
    struct mb_fault_action act = { 0 };
    uint8_t rsp[MB_ADU_MAX];
    int ex;

    mb_request_parse(adu + MBAP_LEN, len - MBAP_LEN, &rq);
    int slave = resolve_unit(s, adu[6]);
    if (slave < 0) {
        s->stats.ignored++;
        ex = MB_EX_GATEWAY_TARGET;
    } else {
        ex = mb_engine_serve(&s->eng, &s->ops, s->faults, MB_FAULT_TCP,
                             &s->stats, slave, &rq, &act);
        if (ex < 0) {
            traffic(s, adu, len, NULL, 0);
            return;
        }
    }
    int n = mb_engine_reply(&s->eng, adu, len, ex, rsp, sizeof(rsp));
    if (n <= 0) {
        mb_log(&s->ops, MB_LOG_ERR, "%s: libmodbus built no reply (%s)",
               s->label, modbus_strerror(errno));
        return;
    }
    deliver(c, adu, len, rsp, (size_t)n, act.delay_ms);
}

/* One RTU frame, served as the serial line serves it (silence for a bad
 * CRC, a broadcast or an absent slave). */
static void handle_rtu_frame(struct client *c, const uint8_t *f, size_t len)
{
    struct mb_tcp *s = c->srv;
    struct mb_fault_action act;
    uint8_t rsp[MB_ADU_MAX];

    int n = mb_rtu_answer(&s->eng, &s->ops, s->faults, &s->stats, NULL,
                          NULL, f, len, rsp, sizeof(rsp), &act);
    if (n <= 0) {
        if (n == 0)
            traffic(s, f, len, NULL, 0);
        return;
    }
    deliver(c, f, len, rsp, (size_t)n, act.delay_ms);
}

/* Bytes skipped to find the next RTU frame: one bad frame, as line noise
 * is on the serial line. */
static void rtu_noise(struct mb_tcp *s, const uint8_t *f, size_t len)
{
    s->stats.bad_frames++;
    mb_log(&s->ops, MB_LOG_DEBUG, "%s: %zu bytes of noise skipped", s->label,
           len);
    traffic(s, f, len, NULL, 0);
}

/* The length of an RTU request from its first bytes (the function
 * codes' fixed layouts, Modbus application protocol 1.1b3): 0 when more
 * bytes are needed to tell, -1 for a function without a known layout. */
static long rtu_request_len(const uint8_t *f, size_t avail)
{
    if (avail < 2)
        return 0;
    switch (f[1]) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06:
    case 0x08:
        return 8;
    case 0x07: case 0x0B: case 0x0C: case 0x11:
        return 4;
    case 0x0F: case 0x10:
        return avail < 7 ? 0 : 9 + f[6];
    case 0x14: case 0x15:
        return avail < 3 ? 0 : 5 + f[2];
    case 0x16:
        return 10;
    case 0x17:
        return avail < 11 ? 0 : 13 + f[10];
    case 0x18:
        return 6;
    case 0x2B:
        return 7;
    default:
        return -1;
    }
}

static bool rtu_crc_ok(const uint8_t *f, size_t len)
{
    return mb_crc16(f, len - 2) == (f[len - 2] | f[len - 1] << 8);
}

/* An RTU frame at the head of f[0..avail-1], with noise before it
 * skipped: its length, 0 when none is whole yet; *skip: how many bytes of
 * noise come first. TCP has no silence between frames, so a stray byte
 * would shift every later frame; like a master's framer, the head is
 * dropped as noise when it is not a CRC-valid frame and a whole CRC-valid
 * frame of a known layout starts later in the buffer. Without one, a
 * known layout's whole frame with a bad CRC is one bad frame (as on the
 * line), and anything else waits for more bytes (or the frame deadline). */
static long rtu_frame_len(const uint8_t *f, size_t avail, size_t *skip)
{
    long n = rtu_request_len(f, avail);

    *skip = 0;
    if (n > 0 && avail >= (size_t)n && rtu_crc_ok(f, (size_t)n))
        return n;
    if (n < 0)
        for (size_t k = 4; k <= avail && k <= RTU_MAX; k++)
            if (rtu_crc_ok(f, k))
                return (long)k;
    for (size_t j = 1; j + 4 <= avail; j++) {
        long m = rtu_request_len(f + j, avail - j);
        if (m > 0 && avail - j >= (size_t)m && rtu_crc_ok(f + j, (size_t)m)) {
            *skip = j;
            return m;
        }
    }
    if (n > 0 && avail >= (size_t)n)
        return n;
    return n < 0 && avail >= RTU_MAX ? RTU_MAX : 0;
}

/* The frame at the head of the buffered bytes f[0..avail-1]: its length
 * when it is whole, 0 when it is not yet, -1 when the client is not
 * speaking this framing at all (why says how; the client is closed).
 * *skip: bytes of RTU noise before the frame (rtu_frame_len). */
static long frame_len(const struct mb_tcp *s, const uint8_t *f, size_t avail,
                      size_t *skip, char *why, size_t whylen)
{
    *skip = 0;
    if (s->rtu)
        return rtu_frame_len(f, avail, skip);
    if (avail < MBAP_LEN)
        return 0;
    unsigned proto = (unsigned)(f[2] << 8 | f[3]);
    unsigned len = (unsigned)(f[4] << 8 | f[5]);
    if (proto != 0 || len < 2 || len > MBAP_LEN_MAX) {
        snprintf(why, whylen, "not Modbus TCP (protocol id %u, length %u)%s",
                 proto, len, proto ? "; an RTU-over-TCP client belongs on "
                 "the RTU-over-TCP port" : "");
        return -1;
    }
    return avail >= 6u + len ? (long)(6u + len) : 0;
}

/* Start the frame deadline when a frame has begun and is not whole, stop
 * it when none is pending. restart: a new frame began. */
static void frame_deadline(struct client *c, bool restart)
{
    struct mb_tcp *s = c->srv;
    char why[8];
    size_t skip;
    bool partial = c->in_len > 0 &&
                   frame_len(s, c->in, c->in_len, &skip, why, sizeof why) == 0;

    if (!partial || s->cfg.frame_timeout <= 0) {
        ev_timer_stop(s->loop, &c->frame);
        return;
    }
    if (restart || !ev_is_active(&c->frame)) {
        ev_timer_stop(s->loop, &c->frame);
        ev_timer_set(&c->frame, s->cfg.frame_timeout, 0.);
        ev_timer_start(s->loop, &c->frame);
    }
}

/* Serve the whole frames buffered, in order, as far as the output buffer
 * and a delayed reply allow; then decide whether to read more. Bounded:
 * it never reads, so it serves at most one input buffer's worth. */
static void pump(struct client *c)
{
    struct mb_tcp *s = c->srv;
    char why[160];
    size_t skip;
    bool served = false;

again:;
    size_t off = 0;
    while (!c->holding && c->in_len > off) {
        const uint8_t *f = c->in + off;
        long len = frame_len(s, f, c->in_len - off, &skip, why, sizeof why);
        if (len < 0) {
            client_close(c, MB_LOG_INFO, why);
            return;
        }
        if (len == 0 || c->out_len + MB_ADU_MAX > OUT_CAP)
            break;
        if (skip) {
            rtu_noise(s, f, skip);
            off += skip;
            f += skip;
        }
        if (s->rtu)
            handle_rtu_frame(c, f, (size_t)len);
        else
            handle_frame(c, f, (size_t)len);
        off += (size_t)len;
        c->served = served = true;
        c->last_active = ev_now(s->loop);
        if (s->cfg.idle_timeout > 0)
            ev_timer_again(s->loop, &c->idle);
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->out_len && !flush_out(c))
        return;
    if (!c->holding && c->out_len == 0 && c->in_len &&
        frame_len(s, c->in, c->in_len, &skip, why, sizeof why) != 0)
        goto again;     /* the output buffer had filled: it drained */
    frame_deadline(c, served);
    if (c->eof) {
        /* served all it sent; a partial frame at the end is dropped */
        if (!c->holding && c->out_len == 0)
            client_close(c, MB_LOG_DEBUG, c->in_len ? "closed mid-frame" :
                         "closed");
        return;
    }
    if (!c->holding && c->in_len < IN_CAP &&
        c->out_len + MB_ADU_MAX <= OUT_CAP)
        ev_io_start(s->loop, &c->rio);
    else
        ev_io_stop(s->loop, &c->rio);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct client *c = w->data;
    (void)loop;
    (void)revents;

    ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char why[96];
        snprintf(why, sizeof(why), "recv: %s", strerror(errno));
        client_close(c, MB_LOG_DEBUG, why);
        return;
    }
    if (n == 0) {
        c->eof = true;
        ev_io_stop(loop, w);
    } else {
        c->in_len += (size_t)n;
    }
    pump(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct client *c = w->data;
    (void)loop;
    (void)revents;

    if (flush_out(c) && c->out_len == 0)
        pump(c);        /* room again: serve what waited for it */
}

static void hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    struct mb_tcp *s = c->srv;
    (void)loop;
    (void)revents;

    c->holding = false;
    queue_reply(c, c->held, c->held_len);
    count_reply(s, c->held, c->held_len);
    traffic(s, c->held_req, c->held_reqlen, c->held, c->held_len);
    pump(c);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    char why[96];
    (void)loop;
    (void)revents;

    snprintf(why, sizeof(why), "idle for %g s without a whole request",
             c->srv->cfg.idle_timeout);
    client_close(c, MB_LOG_INFO, why);
}

static void frame_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    struct mb_tcp *s = c->srv;
    char what[192];
    (void)loop;
    (void)revents;

    snprintf(what, sizeof what, "closed client %s: a frame incomplete for "
             "%g s (%zu bytes)", c->name, s->cfg.frame_timeout, c->in_len);
    log_quietly(s, &s->stalled, what);
    client_close(c, MB_LOG_DEBUG, "frame deadline");
}

static void peer_name(const struct sockaddr_storage *ss, char *buf,
                      size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "?");
    }
}

static void frame_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Every slot is taken: the client to close for a new one. First one that
 * has never sent a whole request and is stalled mid-frame (a slowloris),
 * then one that has sent nothing at all (a client that just connected
 * sends its first request at once), the longest connected of either;
 * then the one whose last request is oldest. A client that polls is the
 * last to go, whatever the others do. */
static struct client *idlest(struct mb_tcp *s)
{
    struct client *pick = NULL;
    double best = 0;

    for (struct client *c = s->clients; c; c = c->next) {
        double t = c->served ? c->last_active :
                   c->since - (c->in_len ? 2e12 : 1e12);
        if (!pick || t < best) {
            pick = c;
            best = t;
        }
    }
    return pick;
}

static void evict(struct mb_tcp *s, const char *newcomer)
{
    struct client *c = idlest(s);
    char what[256];

    snprintf(what, sizeof what, "all %d client slots taken: closed %s "
             "(%s %.1f s) for %s", s->cfg.max_clients, c->name,
             c->served ? "idle for" : "no whole request in",
             ev_now(s->loop) - (c->served ? c->last_active : c->since),
             newcomer);
    log_quietly(s, &s->evicted, what);
    client_close(c, MB_LOG_DEBUG, "evicted");
}

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mb_tcp *s = w->data;
    (void)revents;
    ev_io_start(loop, &s->accept_io);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mb_tcp *s = w->data;
    (void)revents;

    for (int k = 0; k < ACCEPT_BURST; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char name[64];
        int fd = accept4(s->fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                mb_log(&s->ops, MB_LOG_WARN, "%s: cannot accept a "
                       "client: %s; pausing for 1 s", s->label,
                       strerror(errno));
                ev_io_stop(loop, w);
                ev_timer_set(&s->accept_retry, 1.0, 0.);
                ev_timer_start(loop, &s->accept_retry);
            }
            return;
        }
        peer_name(&ss, name, sizeof(name));
        if (s->nclients >= s->cfg.max_clients)
            evict(s, name);
        struct client *c = malloc(sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        memset(c, 0, offsetof(struct client, in));
        c->srv = s;
        c->fd = fd;
        snprintf(c->name, sizeof(c->name), "%s", name);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ev_io_init(&c->rio, read_cb, fd, EV_READ);
        ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
        ev_init(&c->hold, hold_cb);
        ev_init(&c->idle, idle_cb);
        ev_init(&c->frame, frame_cb);
        c->rio.data = c->wio.data = c->hold.data = c->idle.data = c;
        c->frame.data = c;
        c->since = c->last_active = ev_now(loop);
        c->next = s->clients;
        if (s->clients)
            s->clients->prev = c;
        s->clients = c;
        s->nclients++;
        ev_io_start(loop, &c->rio);
        if (s->cfg.idle_timeout > 0) {
            c->idle.repeat = s->cfg.idle_timeout;
            ev_timer_again(loop, &c->idle);
        }
        mb_log(&s->ops, MB_LOG_DEBUG, "%s: client %s connected (%d now)",
               s->label, c->name, s->nclients);
    }
}

static int listen_on(struct mb_tcp *s, const char *host, int portnum)
{
    char port[8];
    snprintf(port, sizeof(port), "%d", portnum);
    struct addrinfo hints = { 0 }, *res, *ai;
    int e = 0;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g) {
        mb_log(&s->ops, MB_LOG_ERR, "%s: cannot listen on %s: %s",
               s->label, s->where, gai_strerror(g));
        return -EADDRNOTAVAIL;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                        SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 64) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            s->port = ntohs(ss.ss_family == AF_INET6 ?
                            ((struct sockaddr_in6 *)&ss)->sin6_port :
                            ((struct sockaddr_in *)&ss)->sin_port);
            s->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        e = errno;
        close(fd);
    }
    freeaddrinfo(res);
    const char *hint = e == EADDRINUSE ? " (another kpm31c-sim or Modbus "
        "server on that port? choose another port)" :
        e == EACCES ? " (ports below 1024 need privileges; the default is "
        "1502)" : e == EADDRNOTAVAIL ? " (no interface has that address)" :
        "";
    mb_log(&s->ops, MB_LOG_ERR, "%s: cannot listen on %s: %s%s", s->label,
           s->where, strerror(e), hint);
    return -e;
}

int mb_tcp_open(struct mb_tcp **out, struct ev_loop *loop,
                const struct mb_tcp_config *cfg, const struct mb_bus_ops *ops,
                struct mb_faults *faults)
{
    struct mb_tcp *s;
    char err[256];
    int e;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->ops = *ops;
    s->faults = faults;
    s->cfg = *cfg;
    s->fd = -1;
    s->rtu = cfg->framing == MB_TCP_FRAMING_RTU;
    s->label = s->rtu ? "modbus rtu-over-tcp" : "modbus tcp";
    if (!s->cfg.host)
        s->cfg.host = "127.0.0.1";
    if (cfg->port < 0 || cfg->port > 65535) {
        mb_log(ops, MB_LOG_ERR, "%s: port %d is not 0..65535", s->label,
               cfg->port);
        free(s);
        return -EINVAL;
    }
    if (s->cfg.max_clients < 1)
        s->cfg.max_clients = 1;
    snprintf(s->where, sizeof(s->where), strchr(s->cfg.host, ':') ?
             "[%s]:%d" : "%s:%d", s->cfg.host, s->cfg.port);
    /* the string need not outlive the call */
    s->cfg.host = NULL;

    e = mb_engine_init(&s->eng, s->rtu, err, sizeof(err));
    if (e) {
        mb_log(ops, MB_LOG_ERR, "%s: %s", s->label, err);
        free(s);
        return e;
    }
    e = listen_on(s, cfg->host ? cfg->host : "127.0.0.1", cfg->port);
    if (e) {
        mb_engine_fini(&s->eng);
        free(s);
        return e;
    }
    ev_io_init(&s->accept_io, accept_cb, s->fd, EV_READ);
    s->accept_io.data = s;
    ev_init(&s->accept_retry, accept_retry_cb);
    s->accept_retry.data = s;
    ev_io_start(loop, &s->accept_io);
    s->evicted.logged = s->stalled.logged = -1e9;
    *out = s;
    return 0;
}

void mb_tcp_close(struct mb_tcp *s)
{
    if (!s)
        return;
    while (s->clients)
        client_close(s->clients, MB_LOG_DEBUG, NULL);
    ev_io_stop(s->loop, &s->accept_io);
    ev_timer_stop(s->loop, &s->accept_retry);
    close(s->fd);
    mb_engine_fini(&s->eng);
    free(s);
}

int mb_tcp_port(const struct mb_tcp *s)
{
    return s->port;
}

int mb_tcp_address(const struct mb_tcp *s, char *host, size_t hostlen,
                   int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    const void *addr;

    if (getsockname(s->fd, (struct sockaddr *)&ss, &sl))
        return -errno;
    if (ss.ss_family == AF_INET6) {
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        addr = &((struct sockaddr_in *)&ss)->sin_addr;
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (!inet_ntop(ss.ss_family, addr, host, (socklen_t)hostlen))
        return -errno;
    return 0;
}

int mb_tcp_clients(const struct mb_tcp *s)
{
    return s->nclients;
}

const struct mb_stats *mb_tcp_stats(const struct mb_tcp *s)
{
    return &s->stats;
}
