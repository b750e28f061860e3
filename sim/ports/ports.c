#define _GNU_SOURCE
#include "sim/ports/ports.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/ports/bus.h"
#include "sim/base/log.h"
#include "protocols/modbus_rtu.h"
#include "protocols/modbus_tcp.h"

/* protocols/ knows Modbus, not the meter: its bus addresses must be the
 * meter's. */
_Static_assert(MB_SLAVE_MAX == METER_SLAVE_MAX,
               "Modbus slave addresses and the meter's disagree");

static char parity_char(uint8_t parity)
{
    return parity == METER_PARITY_ODD ? 'O' :
           parity == METER_PARITY_NONE ? 'N' : 'E';
}

int ports_configure_meters(struct engine *e, const struct sim_options *o,
                           char *err, size_t errlen)
{
    unsigned off_bus = 0, first_off = 0, last_off = 0;

    for (unsigned k = 0; k < e->count; k++) {
        struct meter *m = &e->meters[k].core;
        struct meter_settings s = *meter_settings(m);
        /* by the global index, in blocks of 247 (a shard's listener
         * serves its meters: a shard of up to 247 from address 1 has
         * them all on its bus, whichever part of the fleet it runs) */
        unsigned g = e->span.first + k, slot = g % METER_SLAVE_MAX;

        unsigned addr = 0;      /* 0: the meter keeps its own */
        if (o->slave)
            addr = (unsigned)o->slave + slot;
        else if (e->span.total > 1 && g > 0 && s.comm.slave == 1)
            addr = 1 + slot;
        /* past the last address, or past this process's first 247
         * meters (their addresses taken), a meter is off the bus (MQTT
         * and scenarios only) */
        if (addr && k >= METER_SLAVE_MAX)
            addr = METER_SLAVE_MAX + 1;
        if (addr)
            s.comm.slave = addr <= METER_SLAVE_MAX ? (uint8_t)addr : 0;
        if (addr > METER_SLAVE_MAX) {
            if (!off_bus++)
                first_off = g;
            last_off = g;
        }
        if (o->baud)
            s.comm.baud = (uint16_t)o->baud;
        if (o->parity)
            s.comm.parity = o->parity == 'O' ? METER_PARITY_ODD :
                            o->parity == 'N' ? METER_PARITY_NONE :
                            METER_PARITY_EVEN;
        if (meter_configure(m, &s)) {
            snprintf(err, errlen, "meter %u: the communication settings "
                     "were refused", k);
            return -1;
        }
    }
    if (off_bus)
        log_warn("meters %u..%u (%u; indexes, as the API and the ready "
                 "file count) are past slave address %d: simulated, but "
                 "not reachable over Modbus RTU or TCP (MQTT and scenarios "
                 "only)", first_off, last_off, off_bus, METER_SLAVE_MAX);
    return 0;
}

/* The RTU line follows the first meter's settings. */
static void follow_line(struct ports *p, const struct engine *e)
{
    if (!p->rtu)
        return;
    /* one line for the bus: the first meter's settings drive it */
    const struct meter_comm *c = meter_comm(&e->meters[0].core);
    char parity = parity_char(c->parity);
    if (c->baud != p->rtu_baud || parity != p->rtu_parity) {
        if (mb_rtu_set_line(p->rtu, c->baud, parity) == 0) {
            log_info("RTU line now %d baud, parity %c", c->baud, parity);
            p->rtu_baud = c->baud;
            p->rtu_parity = parity;
        }
    }
}

static void on_line_due(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ports *p = w->data;
    (void)revents;
    ev_timer_stop(loop, w);
    follow_line(p, p->bus.engine);
}

/* A meter's settings changed: its address at once (the next frame may be
 * for it), the line after the frame in progress is answered (a reply goes
 * out at the speed its request came in). */
static void on_settings(void *ctx, unsigned meter)
{
    struct ports *p = ctx;

    bus_refresh(&p->bus);
    if (p->rtu && meter == 0 && !ev_is_active(&p->line_due))
        ev_timer_start(p->loop, &p->line_due);
}

/* A TCP listener: Modbus TCP, or RTU over TCP; the same limits. */
static int open_tcp(struct ports *p, struct ev_loop *loop,
                    const struct sim_options *o, enum mb_tcp_framing framing,
                    char *err, size_t errlen)
{
    bool rtu = framing == MB_TCP_FRAMING_RTU;
    struct mb_tcp_config cfg;

    mb_tcp_config_default(&cfg);
    cfg.host = rtu ? o->rtu_tcp_host : o->tcp_host;
    cfg.port = rtu ? o->rtu_tcp_port : o->tcp_port;
    cfg.max_clients = (int)o->tcp_max_clients;
    cfg.idle_timeout = o->tcp_idle_timeout;
    cfg.frame_timeout = o->tcp_frame_timeout;
    cfg.framing = framing;
    if (mb_tcp_open(rtu ? &p->rtu_tcp : &p->tcp, loop, &cfg, &p->ops,
                    &p->faults)) {
        snprintf(err, errlen, "cannot serve %s on %s:%d (see above)",
                 rtu ? "RTU over TCP" : "Modbus TCP", cfg.host, cfg.port);
        ports_close(p);
        return -1;
    }
    return 0;
}

/* The line check: a meter hears the line only at its own speed. */
static bool meter_hears(void *ctx, int slave, int baud)
{
    struct sim_meter *sm = bus_find(ctx, slave);
    return sm && meter_comm(&sm->core)->baud == baud;
}

/* A device node itself (/dev/ttyUSB0, /dev/pts/3): no lock file beside
 * it; a link (the meter's own, or a socat pty's) gets one. */
static bool is_device_node(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

int ports_open(struct ports *p, struct ev_loop *loop, struct engine *e,
               const struct sim_options *o, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    /* one process per link: a second one would take the first's pty
     * over and remove it at exit (a serial device is locked by the
     * transport itself, on the device: no lock file can live in /dev) */
    if (o->rtu_path && !is_device_node(o->rtu_path) &&
        lockfile_take(&p->rtu_lock, o->rtu_path, "--rtu", err, errlen))
        return -1;
    bus_ops_init(&p->ops, &p->bus, e);
    mb_faults_init(&p->faults, o->seed);
    for (unsigned k = 0; k < o->nfaults; k++) {
        char why[256];
        if (mb_faults_add_spec(&p->faults, o->faults[k], why, sizeof why) < 0) {
            snprintf(err, errlen, "--fault '%s': %s", o->faults[k], why);
            ports_close(p);
            return -1;
        }
    }
    if (!o->tcp_off && open_tcp(p, loop, o, MB_TCP_FRAMING_MBAP, err,
                                errlen))
        return -1;
    if (o->rtu_tcp_host[0] && open_tcp(p, loop, o, MB_TCP_FRAMING_RTU, err,
                                       errlen))
        return -1;
    if (o->rtu_path) {
        const struct meter_comm *c = meter_comm(&e->meters[0].core);
        struct mb_rtu_config cfg;
        mb_rtu_config_default(&cfg);
        cfg.link = o->rtu_path;
        cfg.baud = c->baud;
        cfg.parity = parity_char(c->parity);
        cfg.pace = o->rtu_pacing;
        if (!o->rtu_any_baud) {
            cfg.hears = meter_hears;
            cfg.hears_ctx = &p->bus;
        }
        if (mb_rtu_open(&p->rtu, loop, &cfg, &p->ops, &p->faults)) {
            snprintf(err, errlen, "cannot serve Modbus RTU at %s (see above)",
                     o->rtu_path);
            ports_close(p);
            return -1;
        }
        p->rtu_baud = cfg.baud;
        p->rtu_parity = cfg.parity;
    }
    p->loop = loop;
    ev_timer_init(&p->line_due, on_line_due, 0.0, 0.0);
    p->line_due.data = p;
    p->watching = engine_watch_settings(e, on_settings, p) == 0;
    if (!p->watching) {
        snprintf(err, errlen, "the ports cannot watch the meters' settings");
        ports_close(p);
        return -1;
    }
    return 0;
}

void ports_sync(struct ports *p, const struct engine *e)
{
    if (p->bus.engine)
        bus_refresh(&p->bus);
    follow_line(p, e);
}

/* A TCP listener as its socket says it is bound. */
static void tcp_endpoint(const struct mb_tcp *tcp, const char *kind,
                         const char *label, struct endpoints *eps)
{
    char host[64];
    int port;

    if (mb_tcp_address(tcp, host, sizeof host, &port) == 0)
        endpoints_add_tcp(eps, kind, label, NULL, host, port);
}

void ports_endpoints(const struct ports *p, const struct sim_options *o,
                     struct endpoints *eps)
{
    if (p->tcp)
        tcp_endpoint(p->tcp, "modbus-tcp", "Modbus TCP", eps);
    if (p->rtu_tcp)
        tcp_endpoint(p->rtu_tcp, "modbus-rtu-tcp", "Modbus RTU over TCP",
                     eps);
    if (p->rtu)
        endpoints_add_path(eps, "modbus-rtu", mb_rtu_link(p->rtu) ?
                           "Modbus RTU (pty)" : "Modbus RTU (serial)",
                           o->rtu_path, mb_rtu_pty(p->rtu));
}

void ports_close(struct ports *p)
{
    if (p->watching) {
        engine_unwatch_settings(p->bus.engine, on_settings, p);
        ev_timer_stop(p->loop, &p->line_due);
        p->watching = false;
    }
    if (p->rtu)
        mb_rtu_close(p->rtu);
    if (p->tcp)
        mb_tcp_close(p->tcp);
    if (p->rtu_tcp)
        mb_tcp_close(p->rtu_tcp);
    p->rtu = NULL;
    p->tcp = NULL;
    lockfile_drop(&p->rtu_lock);
    p->rtu_tcp = NULL;
}
