/*
 * A Modbus server for the transport tests and benchmarks, like libmodbus's
 * tests/unit-test-server.c: the real RTU and TCP transports over a static
 * register bank instead of meters.
 *
 * Bank, per present slave: 0x0000..0x01FF, initially (slave * 0x1000 + addr)
 * & 0xffff. Reads past 0x01FF: exception 02. Writes: 0x0100..0x01FF only
 * (lower ones are "read-only": 02); a value of 0xffff is refused (03) and
 * nothing of that request is written.
 *
 * stdout, once serving: "tcp HOST PORT", "rtutcp HOST PORT", "rtu LINK PTY",
 * then "ready".
 * stdin takes commands, one per line, each answered "ok ..." or
 * "error: ...":
 *   fault SPEC | unfault ID | clear | seed N     fault injection
 *   line BAUD PARITY | pace on|off               RTU line settings
 *   baud SLAVE N                                 the speed that slave
 *                                                listens at (0: the line's)
 *   slave add N | slave del N                    addresses at run time
 *   get SLAVE ADDR                               a register, bypassing Modbus
 *   stats                                        transport counters
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "protocols/modbus.h"
#include "protocols/modbus_fault.h"
#include "protocols/modbus_rtu.h"
#include "protocols/modbus_tcp.h"

#define BANK 0x200
#define WRITABLE 0x100

/* TCP clients at once by default: more than the library's, for
 * test_mb_tcp's hundred concurrent clients. */
#define TEST_MAX_CLIENTS 128

struct bank {
    bool present[MB_SLAVE_MAX + 1];
    uint16_t reg[MB_SLAVE_MAX + 1][BANK];
};

static struct bank bank;
static struct mb_faults faults;
static struct mb_rtu *rtu;
static struct mb_tcp *tcp;
static struct mb_tcp *rtutcp;          /* RTU over TCP */
static bool verbose, show_traffic;
static int line_baud;                   /* the RTU port's setting */
static int slave_baud[MB_SLAVE_MAX + 1]; /* 0: the port's */

/* The RTU line check: each slave listens at its own speed. */
static bool bank_hears(void *ctx, int slave, int baud)
{
    (void)ctx;
    return (slave_baud[slave] ? slave_baud[slave] : line_baud) == baud;
}

static bool bank_present(void *ctx, int slave)
{
    (void)ctx;
    return slave >= MB_SLAVE_MIN && slave <= MB_SLAVE_MAX &&
           bank.present[slave];
}

static int bank_read(void *ctx, int slave, uint16_t addr, uint16_t count,
                     uint16_t *out)
{
    (void)ctx;
    if ((unsigned)addr + count > BANK)
        return MB_EX_ILLEGAL_ADDRESS;
    memcpy(out, &bank.reg[slave][addr], count * sizeof(uint16_t));
    return 0;
}

static int bank_write(void *ctx, int slave, uint8_t fc, uint16_t addr,
                      uint16_t count, const uint16_t *in)
{
    (void)ctx;
    (void)fc;
    if (addr < WRITABLE || (unsigned)addr + count > BANK)
        return MB_EX_ILLEGAL_ADDRESS;
    for (unsigned k = 0; k < count; k++)
        if (in[k] == 0xFFFF)
            return MB_EX_ILLEGAL_VALUE;
    memcpy(&bank.reg[slave][addr], in, count * sizeof(uint16_t));
    return 0;
}

static void hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%02x", b[k]);
}

static void bank_traffic(void *ctx, const char *transport, int slave,
                         const uint8_t *req, size_t reqlen,
                         const uint8_t *rsp, size_t rsplen)
{
    (void)ctx;
    fprintf(stderr, "traffic %s slave=%d req=", transport, slave);
    hex(stderr, req, reqlen);
    fprintf(stderr, " rsp=");
    if (rsp)
        hex(stderr, rsp, rsplen);
    else
        fprintf(stderr, "-");
    fputc('\n', stderr);
}

static void bank_log(void *ctx, int level, const char *line)
{
    (void)ctx;
    if (level <= MB_LOG_INFO || verbose)
        fprintf(stderr, "kpm31c-sim: %s\n", line);
}

static void bank_reset(int slave)
{
    for (unsigned a = 0; a < BANK; a++)
        bank.reg[slave][a] = (uint16_t)(slave * 0x1000 + a);
}

static int usage(const char *argv0, int code)
{
    struct mb_rtu_config rc;
    struct mb_tcp_config tc;

    mb_rtu_config_default(&rc);
    mb_tcp_config_default(&tc);
    fprintf(code ? stderr : stdout,
"usage: %s [OPTIONS]\n"
"  --tcp HOST:PORT|off   Modbus TCP (default 127.0.0.1:0, a free port)\n"
"  --rtu PATH            Modbus RTU on a pty symlinked at PATH\n"
"  --baud N --parity E|O|N   RTU line (default %d %c)\n"
"  --no-pace             RTU replies as soon as the frame ends\n"
"  --any-baud            RTU: every slave answers a client at any speed\n"
"  --slaves LIST         present slaves, e.g. 1,2,5 (default 1,2,3)\n"
"  --max-clients N --idle-timeout S   TCP limits (defaults %d, %g)\n"
"  --frame-timeout S     close a client whose frame stays incomplete (%g)\n"
"  --rtu-tcp HOST:PORT   RTU over TCP as well (port 0: a free one)\n"
"  --fault SPEC          inject a fault (repeatable), see docs/modbus.md\n"
"  --seed N              fault random stream (default 1)\n"
"  --check-fault SPEC    parse SPEC, print it normalized, exit 0 or 2\n"
"  --traffic --verbose   print every frame / debug log lines on stderr\n",
        argv0, rc.baud, rc.parity, TEST_MAX_CLIENTS, tc.idle_timeout,
        tc.frame_timeout);
    return code;
}

static int parse_tcp(const char *spec, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(spec, ':');
    char *end;

    if (!colon || colon == spec || (size_t)(colon - spec) >= hostlen)
        return -1;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
        return -1;
    if (spec[0] == '[' && colon[-1] == ']') {
        memcpy(host, spec + 1, (size_t)(colon - spec - 2));
        host[colon - spec - 2] = '\0';
    } else {
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    *port = (int)p;
    return 0;
}

static void print_stats(const char *name, const struct mb_stats *s)
{
    printf(" %s requests=%llu replies=%llu exceptions=%llu broadcasts=%llu "
           "ignored=%llu bad_frames=%llu dropped=%llu faults=%llu", name,
           (unsigned long long)s->requests, (unsigned long long)s->replies,
           (unsigned long long)s->exceptions,
           (unsigned long long)s->broadcasts,
           (unsigned long long)s->ignored,
           (unsigned long long)s->bad_frames,
           (unsigned long long)s->dropped, (unsigned long long)s->faults);
}

static void command(struct ev_loop *loop, char *line)
{
    char err[256];
    char arg[256];
    long a, b;
    int n;

    if (sscanf(line, "fault %255[^\n]", arg) == 1) {
        int id = mb_faults_add_spec(&faults, arg, err, sizeof(err));
        if (id < 0)
            printf("error: %s\n", err);
        else
            printf("ok %d\n", id);
    } else if (sscanf(line, "unfault %ld", &a) == 1) {
        printf(mb_faults_remove(&faults, (int)a) ? "error: no fault %ld\n" :
               "ok\n", a);
    } else if (!strcmp(line, "clear")) {
        mb_faults_clear(&faults);
        printf("ok\n");
    } else if (sscanf(line, "seed %ld", &a) == 1) {
        mb_faults_seed(&faults, (uint64_t)a);
        printf("ok\n");
    } else if (sscanf(line, "line %ld %1s", &a, arg) == 2) {
        if (!rtu)
            printf("error: no rtu\n");
        else if (mb_rtu_set_line(rtu, (int)a, arg[0]))
            printf("error: bad line settings\n");
        else {
            line_baud = (int)a;
            printf("ok\n");
        }
    } else if (sscanf(line, "baud %ld %li", &a, &b) == 2 &&
               a >= MB_SLAVE_MIN && a <= MB_SLAVE_MAX && b >= 0) {
        slave_baud[a] = (int)b;
        printf("ok\n");
    } else if (sscanf(line, "pace %3s", arg) == 1 && rtu) {
        mb_rtu_set_pacing(rtu, !strcmp(arg, "on"));
        printf("ok\n");
    } else if (sscanf(line, "slave add %ld", &a) == 1 && a >= MB_SLAVE_MIN &&
               a <= MB_SLAVE_MAX) {
        bank.present[a] = true;
        printf("ok\n");
    } else if (sscanf(line, "slave del %ld", &a) == 1 && a >= MB_SLAVE_MIN &&
               a <= MB_SLAVE_MAX) {
        bank.present[a] = false;
        printf("ok\n");
    } else if (sscanf(line, "get %ld %li%n", &a, &b, &n) == 2 &&
               a >= MB_SLAVE_MIN && a <= MB_SLAVE_MAX && b >= 0 &&
               b < BANK) {
        printf("ok %u\n", bank.reg[a][b]);
    } else if (!strcmp(line, "stats")) {
        printf("ok");
        if (rtu)
            print_stats("rtu", mb_rtu_stats(rtu));
        if (tcp) {
            print_stats("tcp", mb_tcp_stats(tcp));
            printf(" clients=%d", mb_tcp_clients(tcp));
        }
        if (rtutcp) {
            print_stats("rtutcp", mb_tcp_stats(rtutcp));
            printf(" rtutcp_clients=%d", mb_tcp_clients(rtutcp));
        }
        printf(" fault_hits=%llu\n", (unsigned long long)faults.hits);
    } else if (!strcmp(line, "quit")) {
        printf("ok\n");
        ev_break(loop, EVBREAK_ALL);
    } else {
        printf("error: unknown command '%s'\n", line);
    }
    fflush(stdout);
}

static void stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    static char buf[4096];
    static size_t len;
    (void)revents;

    ssize_t n = read(0, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0) {
        if (n < 0 && errno == EINTR)
            return;
        ev_io_stop(loop, w);    /* no more commands; keep serving */
        return;
    }
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(buf, '\n', len))) {
        *nl = '\0';
        command(loop, buf);
        len -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, len);
    }
    if (len == sizeof(buf) - 1)
        len = 0;    /* an absurd line: drop it */
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    enum { O_TCP = 256, O_RTU, O_BAUD, O_PARITY, O_NOPACE, O_SLAVES, O_MAX,
           O_IDLE, O_FRAME, O_RTUTCP, O_FAULT, O_SEED, O_CHECK, O_TRAFFIC, O_VERBOSE, O_ANYBAUD, O_HELP };
    static const struct option opts[] = {
        { "tcp", required_argument, NULL, O_TCP },
        { "rtu", required_argument, NULL, O_RTU },
        { "baud", required_argument, NULL, O_BAUD },
        { "parity", required_argument, NULL, O_PARITY },
        { "no-pace", no_argument, NULL, O_NOPACE },
        { "any-baud", no_argument, NULL, O_ANYBAUD },
        { "slaves", required_argument, NULL, O_SLAVES },
        { "max-clients", required_argument, NULL, O_MAX },
        { "idle-timeout", required_argument, NULL, O_IDLE },
        { "frame-timeout", required_argument, NULL, O_FRAME },
        { "rtu-tcp", required_argument, NULL, O_RTUTCP },
        { "fault", required_argument, NULL, O_FAULT },
        { "seed", required_argument, NULL, O_SEED },
        { "check-fault", required_argument, NULL, O_CHECK },
        { "traffic", no_argument, NULL, O_TRAFFIC },
        { "verbose", no_argument, NULL, O_VERBOSE },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    struct mb_rtu_config rc;
    struct mb_tcp_config tc;
    char host[128] = "127.0.0.1", rthost[128] = "", err[256];
    int rtport = 0;
    const char *fault_spec[MB_FAULTS_MAX];
    int nfault = 0, opt;
    bool tcp_on = true, any_baud = false;
    unsigned long long seed = 1;
    const char *slaves = "1,2,3";

    /* poisoned first: whatever the defaults leave unset is garbage, as
     * in a caller's stack, and --any-baud takes the default hears */
    memset(&rc, 0xA5, sizeof rc);
    mb_rtu_config_default(&rc);
    mb_tcp_config_default(&tc);
    tc.port = 0;
    tc.max_clients = TEST_MAX_CLIENTS;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case O_TCP:
            if (!strcmp(optarg, "off")) {
                tcp_on = false;
            } else if (parse_tcp(optarg, host, sizeof(host), &tc.port)) {
                fprintf(stderr, "mb_test_server: --tcp %s: expected "
                        "HOST:PORT or off\n", optarg);
                return 2;
            }
            break;
        case O_RTU: rc.link = optarg; break;
        case O_BAUD: rc.baud = atoi(optarg); break;
        case O_PARITY: rc.parity = optarg[0]; break;
        case O_NOPACE: rc.pace = false; break;
        case O_ANYBAUD: any_baud = true; break;
        case O_SLAVES: slaves = optarg; break;
        case O_MAX: tc.max_clients = atoi(optarg); break;
        case O_IDLE: tc.idle_timeout = atof(optarg); break;
        case O_FRAME: tc.frame_timeout = atof(optarg); break;
        case O_RTUTCP:
            if (parse_tcp(optarg, rthost, sizeof(rthost), &rtport)) {
                fprintf(stderr, "mb_test_server: --rtu-tcp %s: expected "
                        "HOST:PORT\n", optarg);
                return 2;
            }
            break;
        case O_FAULT:
            if (nfault == MB_FAULTS_MAX) {
                fprintf(stderr, "mb_test_server: too many --fault\n");
                return 2;
            }
            fault_spec[nfault++] = optarg;
            break;
        case O_SEED: seed = strtoull(optarg, NULL, 0); break;
        case O_CHECK: {
            struct mb_fault f;
            char out[256];
            if (mb_fault_parse(optarg, &f, err, sizeof(err))) {
                fprintf(stderr, "mb_test_server: --fault '%s': %s\n", optarg,
                        err);
                return 2;
            }
            mb_fault_format(&f, out, sizeof(out));
            printf("%s\n", out);
            return 0;
        }
        case O_TRAFFIC: show_traffic = true; break;
        case O_VERBOSE: verbose = true; break;
        case O_HELP: return usage(argv[0], 0);
        default: return usage(argv[0], 2);
        }
    }
    if (optind < argc)
        return usage(argv[0], 2);

    mb_faults_init(&faults, seed);
    for (int k = 0; k < nfault; k++) {
        if (mb_faults_add_spec(&faults, fault_spec[k], err, sizeof(err)) < 0) {
            fprintf(stderr, "mb_test_server: --fault '%s': %s\n",
                    fault_spec[k], err);
            return 2;
        }
    }
    for (const char *p = slaves; *p;) {
        char *end;
        long s = strtol(p, &end, 10);
        if (end == p || s < MB_SLAVE_MIN || s > MB_SLAVE_MAX ||
            (*end && *end != ',')) {
            fprintf(stderr, "mb_test_server: --slaves %s: expected a list "
                    "of addresses %d..%d\n", slaves, MB_SLAVE_MIN,
                    MB_SLAVE_MAX);
            return 2;
        }
        bank.present[s] = true;
        p = *end ? end + 1 : end;
    }
    for (int s = MB_SLAVE_MIN; s <= MB_SLAVE_MAX; s++)
        bank_reset(s);

    struct mb_bus_ops ops = {
        .ctx = &bank,
        .present = bank_present,
        .read = bank_read,
        .write = bank_write,
        .traffic = show_traffic ? bank_traffic : NULL,
        .log = bank_log,
    };
    struct ev_loop *loop = EV_DEFAULT;
    ev_signal sint, sterm;
    signal(SIGPIPE, SIG_IGN);
    /* before "ready": a test may stop the server as soon as it is */
    ev_signal_init(&sint, signal_cb, SIGINT);
    ev_signal_init(&sterm, signal_cb, SIGTERM);
    ev_signal_start(loop, &sint);
    ev_signal_start(loop, &sterm);

    if (tcp_on) {
        tc.host = host;
        if (mb_tcp_open(&tcp, loop, &tc, &ops, &faults))
            return 3;
        printf("tcp %s %d\n", host, mb_tcp_port(tcp));
    }
    if (rthost[0]) {
        struct mb_tcp_config rt = tc;
        rt.host = rthost;
        rt.port = rtport;
        rt.framing = MB_TCP_FRAMING_RTU;
        if (mb_tcp_open(&rtutcp, loop, &rt, &ops, &faults)) {
            mb_tcp_close(tcp);
            return 3;
        }
        printf("rtutcp %s %d\n", rthost, mb_tcp_port(rtutcp));
    }
    if (!any_baud)
        rc.hears = bank_hears;
    if (rc.link) {
        line_baud = rc.baud;
        if (mb_rtu_open(&rtu, loop, &rc, &ops, &faults)) {
            mb_tcp_close(rtutcp);
            mb_tcp_close(tcp);
            return 3;
        }
        printf("rtu %s %s\n", mb_rtu_link(rtu), mb_rtu_pty(rtu));
    }
    printf("ready\n");
    fflush(stdout);

    ev_io in;
    ev_io_init(&in, stdin_cb, 0, EV_READ);
    ev_io_start(loop, &in);

    ev_run(loop, 0);

    mb_rtu_close(rtu);
    mb_tcp_close(tcp);
    mb_tcp_close(rtutcp);
    return 0;
}
