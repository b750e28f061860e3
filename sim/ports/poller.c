#define _GNU_SOURCE
#include "sim/ports/poller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "sim/base/log.h"
#include "protocols/modbus.h"

#define MBAP_LEN 7              /* transaction, protocol, length, unit */
#define MBAP_LEN_MAX 254        /* length field: unit id + 253-byte PDU */
#define REQ_LEN 12              /* an FC03 request: MBAP + fc, addr, count */
#define IN_CAP 1024             /* bytes read ahead */

/* Modbus is big-endian on the wire. */
static void be_put16(uint8_t *b, unsigned v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static uint16_t be_get16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

struct poller {
    struct ev_loop *loop;
    struct poller_block blocks[POLLER_BLOCKS_MAX];
    unsigned nblocks;
    double every, timeout;
    char address[96];           /* host:port, for the log */
    struct sockaddr_storage sa; /* where the listener is */
    socklen_t salen;
    int fd;                     /* -1: not connected */
    bool connecting;            /* the connect is in progress */
    bool told_down;             /* the loss was logged: log the return */
    ev_io rio, wio;
    ev_timer tick;              /* the rounds */
    ev_timer reply;             /* the reply's deadline */
    unsigned next;              /* the block the round asks for next;
                                   nblocks: no round in progress */
    bool waiting;               /* a request is out, its reply due */
    uint16_t tid;               /* the latest transaction id sent */
    uint8_t in[IN_CAP];
    size_t in_len;
    uint8_t out[REQ_LEN];       /* the request not yet written */
    size_t out_off, out_len;
    struct poller_stats st;
    bool have[POLLER_BLOCKS_MAX];       /* a good reply is kept */
    int ex[POLLER_BLOCKS_MAX];          /* the latest exception, 0 none */
    uint16_t regs[POLLER_BLOCKS_MAX][MB_MAX_READ];
};

static void send_next(struct poller *p);

/* The connection is over (why: for the log, NULL when asked to close). */
static void drop(struct poller *p, const char *why)
{
    if (p->fd < 0)
        return;
    ev_io_stop(p->loop, &p->rio);
    ev_io_stop(p->loop, &p->wio);
    ev_timer_stop(p->loop, &p->reply);
    close(p->fd);
    p->fd = -1;
    if (!p->connecting) {
        p->st.disconnects++;
        if (why && !p->told_down)
            log_warn("Modbus poller: the connection to %s is lost (%s); "
                     "connecting again every %g s", p->address, why,
                     p->every);
    } else {
        p->st.refused++;
        if (why && !p->told_down)
            log_warn("Modbus poller: cannot connect to %s (%s); trying "
                     "again every %g s", p->address, why, p->every);
    }
    if (why)
        p->told_down = true;
    p->connecting = false;
    p->st.connected = false;
    p->waiting = false;
    p->next = p->nblocks;       /* the round is given up */
    p->in_len = p->out_len = p->out_off = 0;
}

static void begin_round(struct poller *p)
{
    p->st.rounds++;
    p->next = 0;
    send_next(p);
}

static void connected(struct poller *p)
{
    p->connecting = false;
    p->st.connects++;
    p->st.connected = true;
    if (p->told_down)
        log_info("Modbus poller: connected to %s again", p->address);
    p->told_down = false;
    ev_io_stop(p->loop, &p->wio);
    ev_io_set(&p->wio, p->fd, EV_WRITE);
    ev_io_set(&p->rio, p->fd, EV_READ);
    ev_io_start(p->loop, &p->rio);
    begin_round(p);
}

static void connect_start(struct poller *p)
{
    p->fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                   SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        p->st.refused++;
        log_warn("Modbus poller: no socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->connecting = true;
    if (connect(p->fd, (struct sockaddr *)&p->sa, p->salen) == 0) {
        connected(p);
        return;
    }
    if (errno != EINPROGRESS) {
        drop(p, strerror(errno));
        return;
    }
    ev_io_set(&p->wio, p->fd, EV_WRITE);
    ev_io_start(p->loop, &p->wio);
}

/* Write what is left of the request; false when the connection broke. */
static bool flush(struct poller *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(p->loop, &p->wio);
            return true;
        }
        if (n <= 0) {
            drop(p, n < 0 ? strerror(errno) : "closed");
            return false;
        }
        p->out_off += (size_t)n;
    }
    ev_io_stop(p->loop, &p->wio);
    return true;
}

/* The round's next request, or the round is over. */
static void send_next(struct poller *p)
{
    if (p->fd < 0 || p->connecting || p->next >= p->nblocks)
        return;
    const struct poller_block *b = &p->blocks[p->next];
    p->tid++;
    be_put16(p->out, p->tid);
    be_put16(p->out + 2, 0);            /* protocol: Modbus */
    be_put16(p->out + 4, 6);            /* unit + PDU */
    p->out[6] = b->slave;
    p->out[7] = MB_FC_READ_HOLDING;
    be_put16(p->out + 8, b->addr);
    be_put16(p->out + 10, b->count);
    p->out_off = 0;
    p->out_len = REQ_LEN;
    p->st.sent++;
    p->waiting = true;
    ev_timer_set(&p->reply, p->timeout, 0.0);
    ev_timer_start(p->loop, &p->reply);
    flush(p);
}

/* The request's answer is in (or given up on): on to the next. */
static void answered(struct poller *p)
{
    p->waiting = false;
    ev_timer_stop(p->loop, &p->reply);
    p->next++;
    send_next(p);
}

/* One whole MBAP frame of len bytes. false: it is wrong, and the
 * connection can no longer be trusted. */
static bool take_reply(struct poller *p, const uint8_t *f, size_t len)
{
    if (!p->waiting || be_get16(f) != p->tid) {
        p->st.stale++;                  /* a late reply to an older one */
        return true;
    }
    const struct poller_block *b = &p->blocks[p->next];
    unsigned k = p->next;
    size_t pdu = len - MBAP_LEN;
    const uint8_t *d = f + MBAP_LEN;

    if (f[6] != b->slave)
        return false;
    if (pdu == 2 && d[0] == (MB_FC_READ_HOLDING | 0x80)) {
        p->st.exceptions++;
        p->ex[k] = d[1];
        p->have[k] = false;
        answered(p);
        return true;
    }
    if (d[0] != MB_FC_READ_HOLDING || pdu != 2u + 2u * b->count ||
        d[1] != 2u * b->count)
        return false;
    for (unsigned r = 0; r < b->count; r++)
        p->regs[k][r] = be_get16(d + 2 + 2 * r);
    p->have[k] = true;
    p->ex[k] = 0;
    p->st.replies++;
    answered(p);
    return true;
}

/* Every whole frame in the input buffer. */
static void take_frames(struct poller *p)
{
    size_t off = 0;

    while (p->fd >= 0 && p->in_len - off >= MBAP_LEN) {
        const uint8_t *f = p->in + off;
        unsigned n = be_get16(f + 4);
        if (be_get16(f + 2) != 0 || n < 2 || n > MBAP_LEN_MAX) {
            p->st.bad++;
            drop(p, "a reply that is not Modbus TCP");
            return;
        }
        if (p->in_len - off < 6u + n)
            break;
        if (!take_reply(p, f, 6u + n)) {
            p->st.bad++;
            drop(p, "a reply that does not match its request");
            return;
        }
        off += 6u + n;
    }
    if (p->fd < 0)
        return;
    memmove(p->in, p->in + off, p->in_len - off);
    p->in_len -= off;
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct poller *p = w->data;
    (void)loop, (void)revents;

    ssize_t n = recv(p->fd, p->in + p->in_len, sizeof p->in - p->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        drop(p, n < 0 ? strerror(errno) : "the listener closed it");
        return;
    }
    p->in_len += (size_t)n;
    take_frames(p);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct poller *p = w->data;
    (void)loop, (void)revents;

    if (!p->connecting) {
        flush(p);
        return;
    }
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e)
        drop(p, strerror(e));
    else
        connected(p);
}

static void on_reply_due(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct poller *p = w->data;
    (void)loop, (void)revents;

    p->st.timeouts++;
    answered(p);
}

/* A round every `every` s: connect first when not connected; a round
 * still in progress (slow replies) is left to finish. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct poller *p = w->data;
    (void)loop, (void)revents;

    if (p->fd < 0)
        connect_start(p);
    else if (!p->connecting && p->next >= p->nblocks)
        begin_round(p);
}

/* The listener's bound address as one to connect to: a wildcard means
 * this host. */
static int resolve(struct poller *p, const char *host, int port)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&p->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&p->sa;

    memset(&p->sa, 0, sizeof p->sa);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        p->salen = sizeof *v4;
        snprintf(p->address, sizeof p->address, "%s:%d",
                 inet_ntoa(v4->sin_addr), port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        char text[INET6_ADDRSTRLEN];
        if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
            v6->sin6_addr = in6addr_loopback;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        p->salen = sizeof *v6;
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        snprintf(p->address, sizeof p->address, "[%s]:%d", text, port);
        return 0;
    }
    return -1;
}

struct poller *poller_new(struct ev_loop *loop,
                          const struct poller_config *cfg, char *err,
                          size_t errlen)
{
    if (cfg->nblocks < 1 || cfg->nblocks > POLLER_BLOCKS_MAX) {
        snprintf(err, errlen, "1..%d requests a round, not %u",
                 POLLER_BLOCKS_MAX, cfg->nblocks);
        return NULL;
    }
    if (!(cfg->every > 0) || !(cfg->timeout > 0)) {
        snprintf(err, errlen, "the period and the timeout are seconds > 0");
        return NULL;
    }
    for (unsigned k = 0; k < cfg->nblocks; k++) {
        const struct poller_block *b = &cfg->blocks[k];
        if (b->slave < MB_SLAVE_MIN || b->slave > MB_SLAVE_MAX ||
            b->count < 1 || b->count > MB_MAX_READ ||
            (unsigned)b->addr + b->count > 0x10000u) {
            snprintf(err, errlen, "read %u: slave %u, 0x%04X x%u is not a "
                     "request (slave 1..%d, 1..%d registers within "
                     "0x0000..0xFFFF)", k + 1, b->slave, b->addr, b->count,
                     MB_SLAVE_MAX, MB_MAX_READ);
            return NULL;
        }
    }
    struct poller *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (resolve(p, cfg->host, cfg->port)) {
        snprintf(err, errlen, "'%s' is not a numeric address", cfg->host);
        free(p);
        return NULL;
    }
    p->loop = loop;
    memcpy(p->blocks, cfg->blocks, cfg->nblocks * sizeof *cfg->blocks);
    p->nblocks = cfg->nblocks;
    p->next = p->nblocks;
    p->every = cfg->every;
    p->timeout = cfg->timeout;
    p->fd = -1;
    ev_io_init(&p->rio, on_read, -1, EV_READ);
    ev_io_init(&p->wio, on_write, -1, EV_WRITE);
    ev_timer_init(&p->reply, on_reply_due, 0.0, 0.0);
    ev_timer_init(&p->tick, on_tick, 0.0, p->every);
    p->rio.data = p->wio.data = p->reply.data = p->tick.data = p;
    ev_timer_start(loop, &p->tick);
    return p;
}

void poller_free(struct poller *p)
{
    if (!p)
        return;
    drop(p, NULL);
    ev_timer_stop(p->loop, &p->tick);
    free(p);
}

const struct poller_stats *poller_stats(const struct poller *p)
{
    return &p->st;
}

bool poller_regs(const struct poller *p, unsigned k, uint16_t *out,
                 int *exception)
{
    *exception = k < p->nblocks ? p->ex[k] : 0;
    if (k >= p->nblocks || !p->have[k])
        return false;
    memcpy(out, p->regs[k], p->blocks[k].count * sizeof *out);
    return true;
}

const char *poller_address(const struct poller *p)
{
    return p->address;
}
