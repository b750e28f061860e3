/*
 * The command line from one table: each option's name, argument, default,
 * range and help, and the function that parses it. The table drives
 * getopt_long, the --help text and the defaults (a default is parsed like
 * a value given on the command line, before it).
 */
#include "sim/cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/meter.h"
#include "protocols/modbus_fault.h"
#include "protocols/modbus_tcp.h"
#include "protocols/mqtt.h"
#include "sim/base/log.h"
#include "sim/base/numparse.h"
#include "sim/base/timeparse.h"
#include "sim/base/version.h"
#include "sim/cli/fleetfile.h"
#include "sim/cli/shard.h"

#define STR(x) #x
#define XSTR(x) STR(x)

#define HELP_COLUMN 27          /* where help text starts */
#define FIRST_VAL 256           /* getopt values of long-only options */

struct opt_def;

/* Parse a (NULL for options without one) into o: OPT_OK, OPT_EXIT_OK
 * (answered --help or --version) or OPT_ERROR (message printed). */
typedef enum opt_result opt_parse_fn(const struct opt_def *d, const char *a,
                                     struct sim_options *o);

/* One option. In the help, text after the argument starts at column
 * HELP_COLUMN; '\n' in help starts an indented line, and {def}, {min},
 * {max} and {bauds} stand for the default, the range and the meter's
 * rates. */
struct opt_def {
    const char *name;           /* long name; NULL: a section title (help) */
    char short_name;            /* 'q', or 0: long only */
    const char *arg;            /* the argument's name; NULL: takes none */
    const char *def;            /* parsed before the command line; or NULL */
    double min, max;            /* range of a numeric value */
    const char *why;            /* a value out of range "is not ..." */
    const char *usage;          /* help's left column, if not "--name ARG" */
    const char *help;           /* NULL: described with a neighbour */
    opt_parse_fn *parse;
};

/* ---- messages ---- */

/* Where a value being parsed came from, when not the command line:
 * "fleet.json: $.speed" or "KPM31C_SPEED". */
static const char *origin;

static enum opt_result bad(const struct opt_def *d, const char *val,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "kpm31c-sim: --NAME: 'VAL' WHY" and the hint. */
static enum opt_result bad(const struct opt_def *d, const char *val,
                           const char *fmt, ...)
{
    va_list ap;

    if (origin)
        fprintf(stderr, "kpm31c-sim: %s: '%s' ", origin, val);
    else
        fprintf(stderr, "kpm31c-sim: --%s: '%s' ", d->name, val);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'kpm31c-sim --help'.\n", stderr);
    return OPT_ERROR;
}

/* A usage error not about one value. */
static enum opt_result usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static enum opt_result usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("kpm31c-sim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'kpm31c-sim --help'.\n", stderr);
    return OPT_ERROR;
}

/* The meter's rates as users read them: "1200, 2400, 4800 or 9600". */
static const char *baud_list(void)
{
    static const int bauds[] = METER_BAUDS;
    static char list[64];
    size_t off = 0;

    for (int k = 0; k < METER_NBAUDS; k++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%d",
                                k == 0 ? "" : k == METER_NBAUDS - 1 ? " or "
                                                                   : ", ",
                                bauds[k]);
    return list;
}

/* ---- parsing helpers ---- */

/* A whole number in d's range, else the "is not" message. */
static enum opt_result ranged_long(const struct opt_def *d, const char *a,
                                   long *out)
{
    if (parse_long(a, (long)d->min, (long)d->max, out))
        return bad(d, a, "%s %.15g..%.15g", d->why, d->min, d->max);
    return OPT_OK;
}

static enum opt_result ranged_double(const struct opt_def *d, const char *a,
                                     double *out)
{
    if (parse_double(a, d->min, d->max, out))
        return bad(d, a, "%s %.15g..%.15g", d->why, d->min, d->max);
    return OPT_OK;
}

static enum opt_result ranged_int(const struct opt_def *d, const char *a,
                                  int *out)
{
    long l;
    if (ranged_long(d, a, &l))
        return OPT_ERROR;
    *out = (int)l;
    return OPT_OK;
}

static enum opt_result ranged_unsigned(const struct opt_def *d,
                                       const char *a, unsigned *out)
{
    long l;
    if (ranged_long(d, a, &l))
        return OPT_ERROR;
    *out = (unsigned)l;
    return OPT_OK;
}

static int parse_hostport(const char *s, char *host, size_t hostlen,
                          int *portp)
{
    const char *colon = strrchr(s, ':');
    long port;
    size_t hlen;

    if (!colon)
        return -1;
    hlen = (size_t)(colon - s);
    if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
        s++;                /* [::1]:1502 */
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= hostlen ||
        parse_long(colon + 1, 0, 65535, &port))
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *portp = (int)port;
    return 0;
}

int options_parse_hostport(const char *s, char *host, size_t hostlen,
                           int *port)
{
    return parse_hostport(s, host, hostlen, port);
}

/* A path or a name: anything but empty. */
static enum opt_result nonempty(const struct opt_def *d, const char *a,
                                const char *why, const char **out)
{
    if (!*a)
        return bad(d, a, "%s", why);
    *out = a;
    return OPT_OK;
}

static enum opt_result readable_file(const struct opt_def *d, const char *a,
                                     const char **out)
{
    if (access(a, R_OK))
        return bad(d, a, "is not a readable file");
    *out = a;
    return OPT_OK;
}

static enum opt_result topic_prefix(const struct opt_def *d, const char *a,
                                    const char **out)
{
    size_t n = strlen(a);
    if (!n || n > 64 || strpbrk(a, "+#") || a[0] == '/' || a[n - 1] == '/')
        return bad(d, a, "is not a topic prefix (1..64 characters, no '+' "
                   "or '#', no leading or trailing '/')");
    *out = a;
    return OPT_OK;
}

/* ---- one parser per option ---- */

/* An option whose parser is a statement or two. */
#define OPT_FN(fn, body)                                                    \
    static enum opt_result fn(const struct opt_def *d, const char *a,       \
                              struct sim_options *o)                        \
    {                                                                       \
        (void)d, (void)a, (void)o;                                          \
        body;                                                               \
    }

static enum opt_result opt_tcp(const struct opt_def *d, const char *a,
                               struct sim_options *o)
{
    o->tcp_set = true;
    if (!strcmp(a, "off"))
        o->tcp_off = true;
    else if (parse_hostport(a, o->tcp_host, sizeof o->tcp_host,
                            &o->tcp_port))
        return bad(d, a, "is not HOST:PORT or 'off'");
    return OPT_OK;
}

static enum opt_result opt_rtu_tcp(const struct opt_def *d, const char *a,
                                   struct sim_options *o)
{
    if (parse_hostport(a, o->rtu_tcp_host, sizeof o->rtu_tcp_host,
                       &o->rtu_tcp_port))
        return bad(d, a, "is not HOST:PORT");
    return OPT_OK;
}

static enum opt_result opt_rtu(const struct opt_def *d, const char *a,
                               struct sim_options *o)
{
    o->rtu_set = true;
    if (!strcmp(a, "off")) {            /* as --tcp off: none */
        o->rtu_path = NULL;
        return OPT_OK;
    }
    return nonempty(d, a, "is not a path", &o->rtu_path);
}

static enum opt_result opt_http(const struct opt_def *d, const char *a,
                                struct sim_options *o)
{
    if (parse_hostport(a, o->http_host, sizeof o->http_host, &o->http_port))
        return bad(d, a, "is not HOST:PORT");
    return OPT_OK;
}

/* Where --http-token came from: a token without --http is worth a word
 * unless it is the environment's (shared by every process started). */
static bool token_from_env;

static enum opt_result opt_http_token(const struct opt_def *d, const char *a,
                                      struct sim_options *o)
{
    token_from_env = origin && !strncmp(origin, "KPM31C_", 7);
    /* it goes in a header: "Authorization: Bearer TOKEN" */
    for (const char *p = a; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return bad(d, "...", "(not shown: a secret) is not a token: "
                       "its character %d is a space, a control character "
                       "or not ASCII (a token is printable ASCII, as it "
                       "goes in a header)", (int)(p - a) + 1);
    return nonempty(d, a, "is not a token", &o->http_token);
}

static enum opt_result opt_baud(const struct opt_def *d, const char *a,
                                struct sim_options *o)
{
    static const int bauds[] = METER_BAUDS;
    long l;

    if (!parse_long(a, 0, 1000000, &l))
        for (int k = 0; k < METER_NBAUDS; k++)
            if (l == bauds[k]) {
                o->baud = (int)l;
                return OPT_OK;
            }
    return bad(d, a, "is not %s (the meter's rates)", baud_list());
}

static enum opt_result opt_parity(const struct opt_def *d, const char *a,
                                  struct sim_options *o)
{
    if (strlen(a) != 1 || !strchr("EONeon", a[0]))
        return bad(d, a, "is not E, O or N");
    o->parity = (char)(a[0] & ~0x20);
    return OPT_OK;
}

OPT_FN(opt_slave, return ranged_int(d, a, &o->slave))

static enum opt_result opt_meters(const struct opt_def *d, const char *a,
                                  struct sim_options *o)
{
    o->meters_set = true;
    return ranged_unsigned(d, a, &o->meters);
}

static enum opt_result opt_shard(const struct opt_def *d, const char *a,
                                 struct sim_options *o)
{
    char why[256];
    if (shard_parse(a, &o->shard_index, &o->shard_count, why, sizeof why))
        return bad(d, a, "%s", why);
    return OPT_OK;
}

static enum opt_result opt_serial_base(const struct opt_def *d,
                                       const char *a, struct sim_options *o)
{
    o->serial_base_set = true;
    return ranged_unsigned(d, a, &o->serial_base);
}

static enum opt_result opt_mqtt(const struct opt_def *d, const char *a,
                                struct sim_options *o)
{
    char err[256];
    if (mqtt_uri_check(a, err, sizeof err))
        return bad(d, a, "is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]");
    o->mqtt_uri = a;
    return OPT_OK;
}

static enum opt_result opt_mqtt_client_id(const struct opt_def *d,
                                          const char *a,
                                          struct sim_options *o)
{
    if (!*a || strlen(a) > 64 || strpbrk(a, "+#/"))
        return bad(d, a, "is not 1..64 characters without '+', '#' or '/'");
    o->mqtt_client_id = a;
    return OPT_OK;
}

OPT_FN(opt_mqtt_user, o->mqtt_user = a; return OPT_OK)
OPT_FN(opt_mqtt_password, o->mqtt_password = a; return OPT_OK)
OPT_FN(opt_mqtt_ca, return readable_file(d, a, &o->mqtt_ca))
OPT_FN(opt_mqtt_cert, return readable_file(d, a, &o->mqtt_cert))
OPT_FN(opt_mqtt_key, return readable_file(d, a, &o->mqtt_key))
OPT_FN(opt_mqtt_keepalive, return ranged_int(d, a, &o->mqtt_keepalive))
OPT_FN(opt_mqtt_prefix, return topic_prefix(d, a, &o->mqtt_prefix))

static enum opt_result opt_mqtt_discovery(const struct opt_def *d,
                                          const char *a,
                                          struct sim_options *o)
{
    if (!strcmp(a, "off")) {
        o->mqtt_discovery = NULL;
        return OPT_OK;
    }
    return topic_prefix(d, a, &o->mqtt_discovery);
}

static enum opt_result opt_mqtt_reactive_class(const struct opt_def *d,
                                               const char *a,
                                               struct sim_options *o)
{
    if (!strcmp(a, "none"))
        o->mqtt_reactive_class = NULL;
    else if (!strcmp(a, "reactive_energy"))
        o->mqtt_reactive_class = a;
    else
        return bad(d, a, "is not none or reactive_energy");
    return OPT_OK;
}

OPT_FN(opt_mqtt_period, return ranged_unsigned(d, a, &o->mqtt_period))
OPT_FN(opt_mqtt_queue, return ranged_unsigned(d, a, &o->mqtt_queue))
OPT_FN(opt_mqtt_reconnect_max,
       return ranged_double(d, a, &o->mqtt_reconnect_max))
OPT_FN(opt_no_pacing, o->rtu_pacing = false; return OPT_OK)
OPT_FN(opt_rtu_any_baud, o->rtu_any_baud = true; return OPT_OK)
OPT_FN(opt_tcp_max_clients, return ranged_unsigned(d, a, &o->tcp_max_clients))
OPT_FN(opt_tcp_idle_timeout, return ranged_double(d, a, &o->tcp_idle_timeout))
OPT_FN(opt_tcp_frame_timeout,
       return ranged_double(d, a, &o->tcp_frame_timeout))

/* Checked here, so a bad spec is named where it came from (the command
 * line, the file's JSON path or the variable); installed by sim/ports. */
static enum opt_result opt_fault(const struct opt_def *d, const char *a,
                                 struct sim_options *o)
{
    struct mb_fault rule;
    char why[256];

    if (mb_fault_parse(a, &rule, why, sizeof why))
        return bad(d, a, "%s", why);
    if (o->nfaults >= OPT_MAX_FAULTS)
        return bad(d, a, "is one too many (%d at most)", OPT_MAX_FAULTS);
    o->faults[o->nfaults++] = a;
    return OPT_OK;
}

static enum opt_result opt_start(const struct opt_def *d, const char *a,
                                 struct sim_options *o)
{
    if (!strcmp(a, "now"))
        o->start = time_wall_now();
    else if (time_parse_iso(a, &o->start))
        return bad(d, a, "is not a date-time such as 2026-01-01T00:00:00 "
                   "or 'now' (%d..%d)", RTC_YEAR_MIN, RTC_YEAR_MAX);
    o->start_set = true;
    return OPT_OK;
}

static enum opt_result opt_speed(const struct opt_def *d, const char *a,
                                 struct sim_options *o)
{
    o->speed_set = true;
    if (!strcmp(a, "max"))
        o->speed_max = true;
    else if (parse_double(a, 0, 1e9, &o->speed))
        return bad(d, a, "is not a number >= 0 or 'max'");
    else
        o->speed_max = false;
    return OPT_OK;
}

static enum opt_result opt_until(const struct opt_def *d, const char *a,
                                 struct sim_options *o)
{
    if (time_parse_iso(a, &o->until) == 0)
        o->until_relative = false;
    else if (time_parse_duration(a, &o->until) == 0)
        o->until_relative = true;
    else
        return bad(d, a, "is neither a date-time (2026-02-01T00:00) nor a "
                   "duration (90, 15m, 2h, 30d)");
    o->until_set = true;
    return OPT_OK;
}

static enum opt_result opt_load(const struct opt_def *d, const char *a,
                                struct sim_options *o)
{
    char err[256];
    if (load_parse(a, &o->load, err, sizeof err))
        return bad(d, a, "%s", err);
    o->load_set = true;
    return OPT_OK;
}

static enum opt_result opt_fidelity(const struct opt_def *d, const char *a,
                                    struct sim_options *o)
{
    if (!strcmp(a, "full"))
        o->fidelity = ENGINE_FULL;
    else if (!strcmp(a, "fast"))
        o->fidelity = ENGINE_FAST;
    else
        return bad(d, a, "is not 'full' or 'fast'");
    o->fidelity_set = true;
    return OPT_OK;
}

static enum opt_result opt_threads(const struct opt_def *d, const char *a,
                                   struct sim_options *o)
{
    return ranged_unsigned(d, a, &o->threads);
}

static enum opt_result opt_seed(const struct opt_def *d, const char *a,
                                struct sim_options *o)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(a, &end, 0);
    if (end == a || *end || !isdigit((unsigned char)a[0]) || errno == ERANGE)
        return bad(d, a, "is not an integer 0..%" PRIu64, UINT64_MAX);
    o->seed = v;
    o->seed_set = true;
    return OPT_OK;
}

OPT_FN(opt_state, o->state_set = true;
       return nonempty(d, a, "is not a file name", &o->state_path))

OPT_FN(opt_no_state, o->state_path = NULL; o->state_set = true; return OPT_OK)

OPT_FN(opt_checkpoint, return ranged_double(d, a, &o->checkpoint))
OPT_FN(opt_dump, o->dump_path = a; return OPT_OK)
OPT_FN(opt_pulses, o->pulses_path = a; return OPT_OK)
OPT_FN(opt_ready_file, return nonempty(d, a, "is not a file name",
                                       &o->ready_path))
OPT_FN(opt_junit, o->junit_path = a; return OPT_OK)
OPT_FN(opt_tap, o->tap = true; return OPT_OK)
OPT_FN(opt_unsafe_lua, o->unsafe_lua = true; return OPT_OK)
OPT_FN(opt_lua_watchdog, return ranged_double(d, a, &o->lua_watchdog))
OPT_FN(opt_lua_memory, return ranged_unsigned(d, a, &o->lua_memory))
OPT_FN(opt_headless, o->headless = true; return OPT_OK)
OPT_FN(opt_quiet, o->verbosity = -1; return OPT_OK)
OPT_FN(opt_verbose, o->verbosity = 1; return OPT_OK)

/* read before the other options (options_parse) */
OPT_FN(opt_config, return nonempty(d, a, "is not a file name", &o->config))

OPT_FN(opt_version, printf("kpm31c-sim %s\n", SIM_VERSION); return OPT_EXIT_OK)

static void print_help(void);

OPT_FN(opt_help, print_help(); return OPT_EXIT_OK)

/* ---- the table, in the order of the help ---- */

#define SECTION(title) { .help = title }

static const struct opt_def opts[] = {
    SECTION("Configuration"),
    { "config", 0, "FILE", .parse = opt_config,
      .help = "options and per-meter set-up from a JSON fleet file\n"
              "(docs/fleet.md); every option also reads KPM31C_NAME\n"
              "(--mqtt-client-id: KPM31C_MQTT_CLIENT_ID); the command line wins,\n"
              "then the environment, then the file, then\n"
              "KPM31C_DEFAULT_NAME (a wrapper's defaults)" },

    SECTION("Ports"),
    { "tcp", 0, "HOST:PORT", "127.0.0.1:1502", .parse = opt_tcp,
      .help = "Modbus TCP listener (default {def};\n"
              "'--tcp off' disables it)" },
    { "rtu", 0, "PATH", .parse = opt_rtu,
      .help = "Modbus RTU on a pseudo-terminal, symlinked at PATH,\n"
              "or on the serial device PATH (e.g. /dev/ttyUSB0);\n"
              "'--rtu off': none (the default)" },
    { "rtu-tcp", 0, "HOST:PORT", .parse = opt_rtu_tcp,
      .help = "RTU over TCP (RTU frames, no MBAP), e.g. 127.0.0.1:1503" },
    { "http", 0, "HOST:PORT", .parse = opt_http,
      .help = "HTTP control API and metrics (off unless set;\n"
              "docs/http.md)" },
    { "http-token", 0, "TOKEN", .parse = opt_http_token,
      .help = "bearer token the API asks for (default\n"
              "$KPM31C_HTTP_TOKEN; required off loopback)" },
    { "baud", 0, "N", .parse = opt_baud,
      .help = "serial speed: {bauds}" },
    { "parity", 0, "E|O|N", .parse = opt_parity,
      .help = "serial parity" },
    /* the default is the meter's own address, 1 from the factory */
    { "slave", 0, "ID", .min = 1, .max = METER_SLAVE_MAX,
      .why = "is not a slave address", .parse = opt_slave,
      .help = "first slave address, {min}..{max} (default 1)" },
    { "meters", 0, "N", "1", 1, 100000, "is not a count", .parse = opt_meters,
      .help = "simulate N meters, slave IDs ID..ID+N-1" },
    { "shard", 0, "I/N", .parse = opt_shard,
      .help = "run shard I of N: meters [I*M/N, (I+1)*M/N) of the\n"
              "M (--meters), with their global serials, addresses\n"
              "and seeds; I 'pod': $KPM31C_POD_INDEX, else the host\n"
              "name's -ORDINAL (docs/fleet.md, \"Shards\")" },
    { "serial-base", 0, "N", XSTR(ENGINE_SERIAL_BASE), 1, ENGINE_SERIAL_MAX,
      "is not a serial number", .parse = opt_serial_base,
      .help = "serial numbers of a new fleet: N..N+meters-1,\n"
              "{min}..{max} (default {def}; docs/mqtt.md)" },
    { "mqtt", 0, "URI", .parse = opt_mqtt,
      .help = "MQTT broker, e.g. mqtt://127.0.0.1:1883 or\n"
              "mqtts://broker:8883 (turns 4g_M to Mqtt; docs/mqtt.md)" },
    { "mqtt-client-id", 0, "ID", .parse = opt_mqtt_client_id,
      .help = "client id (default kpm31c-SERIAL; a fleet adds -SERIAL)" },
    { "mqtt-user", 0, "NAME", .parse = opt_mqtt_user,
      .help = "user name (or $KPM31C_MQTT_USER)" },
    { "mqtt-password", 0, "PW", .parse = opt_mqtt_password,
      .help = "password (better: $KPM31C_MQTT_PASSWORD)" },
    { "mqtt-ca", 0, "FILE", .parse = opt_mqtt_ca,
      .usage = "--mqtt-ca FILE, --mqtt-cert FILE, --mqtt-key FILE",
      .help = "TLS: trusted CAs (PEM),\nclient certificate and key" },
    { "mqtt-cert", 0, "FILE", .parse = opt_mqtt_cert },
    { "mqtt-key", 0, "FILE", .parse = opt_mqtt_key },
    { "mqtt-keepalive", 0, "S", "60", 5, 3600, "is not seconds",
      .parse = opt_mqtt_keepalive,
      .help = "keepalive, {min}..{max} s (default {def})" },
    { "mqtt-prefix", 0, "P", "kpm31c", .parse = opt_mqtt_prefix,
      .help = "topic prefix (default {def})" },
    { "mqtt-discovery", 0, "P|off", "homeassistant",
      .parse = opt_mqtt_discovery,
      .help = "Home Assistant discovery prefix (default {def})" },
    { "mqtt-reactive-class", 0, "none|reactive_energy", "none",
      .parse = opt_mqtt_reactive_class,
      .help = "reactive energy's device class in discovery\n"
              "(reactive_energy: Home Assistant 2025.6+; default {def})" },
    { "mqtt-period", 0, "S", "60", 1, 86400, "is not seconds",
      .parse = opt_mqtt_period,
      .help = "telemetry every S virtual seconds, {min}..{max} "
              "(default {def})" },
    { "mqtt-queue", 0, "N", "1440", 1, 1000000, "is not a count",
      .parse = opt_mqtt_queue,
      .help = "messages kept per meter during an outage (default {def})" },
    { "mqtt-reconnect-max", 0, "S", "30", 1, 3600, "is not seconds",
      .parse = opt_mqtt_reconnect_max,
      .help = "longest wait between reconnects, {min}..{max} s "
              "(default {def})" },
    { "no-pacing", 0, NULL, .parse = opt_no_pacing,
      .help = "RTU replies as fast as possible, not at line speed" },
    { "rtu-any-baud", 0, NULL, .parse = opt_rtu_any_baud,
      .help = "RTU: every meter answers a client at any speed\n"
              "(default: only meters set to the client's baud)" },
    { "tcp-max-clients", 0, "N", XSTR(MB_TCP_MAX_CLIENTS_DEFAULT), 1, 10000,
      "is not a count", .parse = opt_tcp_max_clients,
      .help = "concurrent Modbus TCP clients (default {def})" },
    { "tcp-idle-timeout", 0, "S", "60", 0, 86400, "is not seconds",
      .parse = opt_tcp_idle_timeout,
      .help = "close idle TCP clients after S s (default {def}, 0 never)" },
    { "tcp-frame-timeout", 0, "S", XSTR(MB_TCP_FRAME_TIMEOUT_DEFAULT), 0, 3600,
      "is not seconds", .parse = opt_tcp_frame_timeout,
      .help = "close a TCP client whose frame stays incomplete\n"
              "for S s (default {def}, 0 never)" },
    { "fault", 0, "SPEC", .parse = opt_fault,
      .help = "inject a Modbus fault (see docs/modbus.md), repeatable" },

    SECTION("Time and load"),
    { "start", 0, "ISO8601|now", .parse = opt_start,
      .help = "virtual clock start (default: where the state\n"
              "file's clock stopped, else now; not before it)" },
    { "speed", 0, "X", "1", .parse = opt_speed,
      .help = "virtual seconds per real second; 0 = frozen,\n"
              "max = as fast as possible (default {def})" },
    { "until", 0, "ISO8601|DURATION", .parse = opt_until,
      .help = "stop there, save the state, exit 0 (1 when a\n"
              "scenario did not reach its end)\n"
              "(durations: 90, 15m, 2h, 30d, 1w, 1h30m)" },
    { "load", 0, "U=230,I=5,PF=0.95[,F=50]", .parse = opt_load,
      .help = "steady load when no scenario drives one\n"
              "(PF=0.8C capacitive; I<0, PF<0 or DIR=export\n"
              "exports)" },
    { "fidelity", 0, "full|fast", .parse = opt_fidelity,
      .help = "every sample through the core, or real windows\n"
              "when the load changes (default: full at speed <= 1)" },
    { "threads", 0, "N", "0", 0, 64, "is not a number of threads",
      .parse = opt_threads,
      .help = "the engine's samples on N threads, 0: one a core\n"
              "(default; results are the same for any N)" },
    { "seed", 0, "N", "1", .parse = opt_seed,
      .help = "deterministic noise and faults (default {def})" },

    SECTION("State and results"),
    { "state", 0, "FILE", "kpm31c.state", .parse = opt_state,
      .help = "non-volatile image (default ./{def})" },
    { "no-state", 0, NULL, .parse = opt_no_state,
      .help = "keep nothing across runs" },
    { "checkpoint", 0, "S", "10", 0.1, 86400, "is not a number of seconds",
      .parse = opt_checkpoint,
      .help = "save the state every S real seconds (default {def})" },
    { "dump", 0, "FILE", .parse = opt_dump,
      .help = "at exit, write every register and measurement as JSON" },
    { "pulses", 0, "FILE", .parse = opt_pulses,
      .help = "every pulse (serial, count, virtual ms) as CSV (.csv)\n"
              "or JSON lines (.jsonl, or - for stdout)" },
    { "ready-file", 0, "FILE", .parse = opt_ready_file,
      .help = "once every port listens, write the endpoints (real\n"
              "addresses, the pty), the pid and the meters as JSON;\n"
              "removed at exit (docs/usage.md)" },
    { "junit", 0, "FILE", .parse = opt_junit, .usage = "--junit FILE, --tap",
      .help = "scenario results for CI (docs/scenarios.md)" },
    { "tap", 0, NULL, .parse = opt_tap },
    { "unsafe-lua", 0, NULL, .parse = opt_unsafe_lua,
      .help = "a scenario gets every Lua library (io, os, ...)\n"
              "and no memory cap: only for scripts you trust" },
    { "lua-watchdog", 0, "S", "30", 0, 86400, "is not a number of seconds",
      .parse = opt_lua_watchdog,
      .help = "stop a scenario that runs S real seconds without\n"
              "letting virtual time pass (default {def}, 0: never);\n"
              "a script may lower it, never lift it" },
    { "lua-memory", 0, "MIB", "256", 1, 1048576, "is not a number of MiB",
      .parse = opt_lua_memory,
      .help = "a scenario's memory cap, the Lua heap and what\n"
              "the simulator keeps for it (default {def})" },
    { "headless", 0, NULL, .parse = opt_headless,
      .help = "no terminal UI (default when stdout is no terminal)" },
    { "quiet", 'q', NULL, .parse = opt_quiet,
      .usage = "-q, --quiet / -v, --verbose",
      .help = "less / more logging on stderr" },
    { "verbose", 'v', NULL, .parse = opt_verbose },
    { "version", 0, NULL, .parse = opt_version, .usage = "--version, --help",
      .help = "" },
    { "help", 0, NULL, .parse = opt_help },
};

static const size_t nopts = sizeof opts / sizeof opts[0];

/* ---- --help ---- */

static bool starts(const char *p, const char *word)
{
    return !strncmp(p, word, strlen(word));
}

/* Print the value a placeholder at p stands for; its length, or 0 when p
 * starts none. */
static size_t put_placeholder(const struct opt_def *d, const char *p)
{
    if (starts(p, "{def}"))
        fputs(d->def, stdout);
    else if (starts(p, "{min}"))
        printf("%.15g", d->min);
    else if (starts(p, "{max}"))
        printf("%.15g", d->max);
    else if (starts(p, "{bauds}"))
        fputs(baud_list(), stdout);
    else
        return 0;
    return strchr(p, '}') - p + 1;
}

/* d's help text with its placeholders filled, continuation lines
 * indented to the help column. */
static void put_help(const struct opt_def *d)
{
    for (const char *p = d->help; *p;) {
        size_t n = put_placeholder(d, p);
        if (n) {
            p += n;
            continue;
        }
        if (*p == '\n')
            printf("\n%*s", HELP_COLUMN, "");
        else
            putchar(*p);
        p++;
    }
}

static void print_help(void)
{
    fputs("Usage: kpm31c-sim [OPTIONS] [SCENARIO.lua [NAME=VALUE...]]\n"
          "A software twin of the Compere KPM31C single-phase energy "
          "meter.\n", stdout);
    for (size_t k = 0; k < nopts; k++) {
        const struct opt_def *d = &opts[k];
        char left[128];

        if (!d->help)
            continue;
        if (!d->name) {
            printf("\n%s:\n", d->help);
            continue;
        }
        if (d->usage)
            snprintf(left, sizeof left, "  %s", d->usage);
        else
            snprintf(left, sizeof left, "  --%s%s%s", d->name,
                     d->arg ? " " : "", d->arg ? d->arg : "");
        if (!*d->help)
            printf("%s", left);
        else if (strlen(left) < HELP_COLUMN)
            printf("%-*s", HELP_COLUMN, left);
        else
            printf("%s  ", left);
        put_help(d);
        putchar('\n');
    }
    fputs("\nExit status: 0 ok, 1 scenario assertion failed, 2 usage, "
          "configuration or\nscenario error, 3 runtime failure (port busy, "
          "broker refused, ...).\n", stdout);
}

/* ---- the command line ---- */

/* A default was not given: a scenario's own defaults beat it. */
static void forget_given(struct sim_options *o)
{
    o->tcp_set = o->meters_set = o->speed_set = o->seed_set =
        o->state_set = o->serial_base_set = o->rtu_set = o->load_set = false;
}

/* What the table does not say: defaults that are no option's value. */
static void set_defaults(struct sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->rtu_pacing = true;
    o->headless = !isatty(STDOUT_FILENO);
    load_default(&o->load);
    for (size_t k = 0; k < nopts; k++)
        if (opts[k].def)
            opts[k].parse(&opts[k], opts[k].def, o);
    forget_given(o);
}

/* getopt_long's view of the table: each option returns FIRST_VAL + its
 * index, or its short name. */
static void getopt_table(struct option *longs, char *shorts)
{
    size_t n = 0, ns = 0;

    shorts[ns++] = ':';         /* a missing value returns ':' */
    for (size_t k = 0; k < nopts; k++) {
        if (!opts[k].name)
            continue;
        longs[n++] = (struct option){
            opts[k].name, opts[k].arg ? required_argument : no_argument,
            NULL, opts[k].short_name ? opts[k].short_name
                                     : (int)(FIRST_VAL + k) };
        if (opts[k].short_name)
            shorts[ns++] = opts[k].short_name;
    }
    longs[n] = (struct option){ 0 };
    shorts[ns] = '\0';
}

static const struct opt_def *find_short(int c)
{
    for (size_t k = 0; k < nopts; k++)
        if (opts[k].name && opts[k].short_name == c)
            return &opts[k];
    return NULL;
}

/* The words after the options: SCENARIO.lua and its NAME=VALUE args,
 * after the file's (the command line's come last: a name given twice
 * takes its last value). */
static enum opt_result take_scenario(int argc, char **argv,
                                     struct sim_options *o)
{
    const struct fleet *f = o->fleet;
    int nfile = f ? f->nargs : 0;

    if (f && f->scenario)
        o->scenario = f->scenario;
    if (optind < argc)
        o->scenario = argv[optind++];
    if (nfile) {
        /* kept for the whole run, as argv is */
        char **all = calloc((size_t)(nfile + argc - optind + 1),
                            sizeof *all);
        if (!all)
            return usage_error("out of memory");
        memcpy(all, f->args, (size_t)nfile * sizeof *all);
        memcpy(all + nfile, argv + optind,
               (size_t)(argc - optind) * sizeof *all);
        o->scenario_args = all;
    } else {
        o->scenario_args = argv + optind;       /* the script's arg */
    }
    o->scenario_nargs = nfile + argc - optind;
    for (int k = nfile; k < o->scenario_nargs; k++) {
        const char *a = o->scenario_args[k], *eq = strchr(a, '=');
        if (!eq || eq == a)
            return usage_error("unexpected argument '%s' (one scenario at "
                               "most; the scenario's own arguments are "
                               "NAME=VALUE)", a);
    }
    return OPT_OK;
}

/* ---- the fleet file and the environment ---- */

static const struct opt_def *find_long(const char *name)
{
    for (size_t k = 0; k < nopts; k++)
        if (opts[k].name && !strcmp(opts[k].name, name))
            return &opts[k];
    return NULL;
}

/* Options a file or the environment cannot give. */
static bool command_line_only(const struct opt_def *d)
{
    return d->parse == opt_config || d->parse == opt_help ||
           d->parse == opt_version;
}

/* A flag's value outside the command line: true (give it) or false
 * (leave it out); -1 for anything else. */
static int flag_value(const char *v)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "", "0", "false", "no", "off" };

    for (size_t k = 0; k < 4; k++)
        if (!strcasecmp(v, yes[k]))
            return 1;
    for (size_t k = 0; k < 5; k++)
        if (!strcasecmp(v, no[k]))
            return 0;
    return -1;
}

/* Option d set to v from where (a file's JSON path or a variable): the
 * option's own parser, so the checks and messages are the command
 * line's. */
static enum opt_result set_from(const struct opt_def *d, const char *v,
                                const char *where, struct sim_options *o)
{
    enum opt_result rc;

    if (!d->arg) {
        int on = flag_value(v);
        if (on < 0) {
            fprintf(stderr, "kpm31c-sim: %s: '%s' is not true or false "
                    "(--%s takes no value)\n", where, v, d->name);
            return OPT_ERROR;
        }
        if (!on)
            return OPT_OK;
        v = NULL;
    }
    origin = where;
    rc = d->parse(d, v, o);
    origin = NULL;
    return rc;
}

static enum opt_result from_file(const char *path, struct sim_options *o)
{
    char err[512];
    struct fleet *f = fleet_load(path, err, sizeof err);

    if (!f) {
        fprintf(stderr, "kpm31c-sim: %s\n", err);
        return OPT_ERROR;
    }
    o->fleet = f;       /* kept for the whole run: values point into it */
    bool faults = false;
    for (size_t k = 0; k < f->noptions; k++) {
        const struct fleet_option *x = &f->options[k];
        const struct opt_def *d = find_long(x->name);
        if (!d || command_line_only(d)) {
            fprintf(stderr, "kpm31c-sim: %s: unknown key \"%s\" (an option's "
                    "long name without --, \"meters\", \"population\", "
                    "\"scenario\" or \"args\"; docs/fleet.md)\n", x->where, x->name);
            return OPT_ERROR;
        }
        if ((x->type == FLEET_BOOL) != !d->arg) {
            fprintf(stderr, "kpm31c-sim: %s: %s is a %s, not %s\n", x->where,
                    x->value, x->type == FLEET_BOOL ? "boolean" : "value",
                    d->arg ? "a number or a string" : "true or false");
            return OPT_ERROR;
        }
        if (x->listed && d->parse != opt_fault) {
            fprintf(stderr, "kpm31c-sim: %s: --%s takes one value, not a "
                    "list\n", x->where, d->name);
            return OPT_ERROR;
        }
        if (d->parse == opt_fault && !faults) {
            faults = true;
            o->nfaults = 0;     /* the file's replace the defaults' */
        }
        if (set_from(d, x->value, x->where, o))
            return OPT_ERROR;
    }
    return OPT_OK;
}

#define ENV_PREFIX "KPM31C_"
#define ENV_DEFAULT "KPM31C_DEFAULT_"   /* the defaults layer (wrappers) */

/* PREFIX and the long name in capitals, '-' as '_'. */
static void env_name(const char *prefix, const char *name, char *out,
                     size_t len)
{
    size_t n = (size_t)snprintf(out, len, "%s", prefix);
    for (; *name && n + 1 < len; name++)
        out[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[n] = '\0';
}

/* var's faults, one or more separated by ';' (the environment holds one
 * string); they replace those of the layers below. */
static enum opt_result faults_from(const struct opt_def *d, const char *v,
                                   const char *var, struct sim_options *o)
{
    char *copy = strdup(v), *save = NULL;      /* kept: faults point in */

    if (!copy)
        return usage_error("%s: out of memory", var);
    o->nfaults = 0;
    for (char *f = strtok_r(copy, ";", &save); f;
         f = strtok_r(NULL, ";", &save)) {
        while (isspace((unsigned char)*f))
            f++;
        if (*f && set_from(d, f, var, o))
            return OPT_ERROR;
    }
    if (!o->nfaults)
        free(copy);             /* nothing points into it */
    return OPT_OK;
}

/* Every option's PREFIXNAME variable; an empty one is unset. */
static enum opt_result from_variables(const char *prefix,
                                      struct sim_options *o)
{
    for (size_t k = 0; k < nopts; k++) {
        const struct opt_def *d = &opts[k];
        char var[64];
        const char *v;

        if (!d->name || command_line_only(d))
            continue;
        env_name(prefix, d->name, var, sizeof var);
        if (!(v = getenv(var)) || !*v)
            continue;
        if (d->parse == opt_fault ? faults_from(d, v, var, o)
                                  : set_from(d, v, var, o))
            return OPT_ERROR;
    }
    return OPT_OK;
}

/* The edit distance of a and b, a swap of neighbours one edit (names of
 * at most 64 characters). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), m[65][65];

    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        for (size_t j = 0; j <= lb; j++) {
            if (!i || !j) {
                m[i][j] = i + j;
                continue;
            }
            size_t best = m[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (m[i - 1][j] + 1 < best)
                best = m[i - 1][j] + 1;
            if (m[i][j - 1] + 1 < best)
                best = m[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && m[i - 2][j - 2] + 1 < best)
                best = m[i - 2][j - 2] + 1;
            m[i][j] = best;
        }
    return m[la][lb];
}

/* A variable kpm31c-sim reads that is no option's: --config's, the
 * shard's pod index, and scripts/run's binary. */
static const char *const other_vars[] = { "KPM31C_CONFIG",
                                          "KPM31C_POD_INDEX", "KPM31C_SIM" };

/* name against every variable read: 0 when it is one, else the distance
 * to the closest (in *closest). */
static size_t closest_var(const char *name, char *closest, size_t len)
{
    static const char *const prefixes[] = { ENV_PREFIX, ENV_DEFAULT };
    size_t best = SIZE_MAX;

    for (size_t k = 0; k < sizeof other_vars / sizeof *other_vars; k++) {
        size_t dist = distance(name, other_vars[k]);
        if (dist < best) {
            best = dist;
            snprintf(closest, len, "%s", other_vars[k]);
        }
    }
    for (size_t k = 0; k < nopts; k++) {
        if (!opts[k].name || command_line_only(&opts[k]))
            continue;
        for (size_t p = 0; p < 2; p++) {
            char var[64];
            env_name(prefixes[p], opts[k].name, var, sizeof var);
            size_t dist = distance(name, var);
            if (dist < best) {
                best = dist;
                snprintf(closest, len, "%s", var);
            }
        }
    }
    return best;
}

/* A KPM31C_ variable nothing reads is a typo, most likely: say so. */
static void warn_unknown_variables(void)
{
    extern char **environ;

    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[64], closest[64];

        if (strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) || !eq ||
            (size_t)(eq - *e) >= sizeof name)
            continue;
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = '\0';
        if (closest_var(name, closest, sizeof closest))
            log_warn("%s is no variable of kpm31c-sim, ignored (the closest "
                     "is %s; docs/fleet.md, \"The environment\")", name,
                     closest);
    }
}

/* --config FILE from the command line, else $KPM31C_CONFIG, else NULL:
 * a first pass over argv that parses nothing else. */
static const char *config_path(int argc, char **argv,
                               const struct option *longs, const char *shorts)
{
    const struct opt_def *cfg = find_long("config");
    const char *path = getenv("KPM31C_CONFIG");
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
        if (c >= FIRST_VAL && &opts[c - FIRST_VAL] == cfg)
            path = optarg;
    return path && *path ? path : NULL;
}

/* Options that make sense alone but not together. */
static enum opt_result check_together(struct sim_options *o)
{
    bool frozen = o->speed_set && !o->speed_max && o->speed == 0;

    if (!o->scenario && (o->tap || o->junit_path || o->unsafe_lua))
        return usage_error("%s: results and Lua options need a scenario "
                           "(kpm31c-sim [OPTIONS] SCENARIO.lua)",
                           o->tap ? "--tap" : o->junit_path ? "--junit"
                                                            : "--unsafe-lua");
    if (o->scenario && frozen)
        return usage_error("--speed 0 freezes the clock, and a scenario "
                           "needs time to move");
    if (!o->scenario && o->until_set && !o->speed_max && o->speed == 0 &&
        !o->http_host[0])       /* the control API can advance it */
        return usage_error("--until with --speed 0: a frozen clock never "
                           "gets there");
    if (!o->fidelity_set)
        o->fidelity = (!o->speed_max && o->speed <= 1.0) ? ENGINE_FULL
                                                         : ENGINE_FAST;
    if (o->http_token && !o->http_host[0] && !token_from_env)
        log_warn("--http-token without --http: there is no control API "
                 "for the token to guard");
    return OPT_OK;
}

enum opt_result options_parse(int argc, char **argv, struct sim_options *o)
{
    struct option longs[sizeof opts / sizeof opts[0] + 1];
    char shorts[sizeof opts / sizeof opts[0] + 2];
    const char *file;
    bool cli_faults = false;
    int c;

    set_defaults(o);
    getopt_table(longs, shorts);
    warn_unknown_variables();
    /* the defaults, the wrapper's (KPM31C_DEFAULT_*), then the file, the
     * environment, the command line: each replaces what the ones before
     * it gave */
    if (from_variables(ENV_DEFAULT, o))
        return OPT_ERROR;
    forget_given(o);
    file = config_path(argc, argv, longs, shorts);
    if (file && from_file(file, o))
        return OPT_ERROR;
    if (from_variables(ENV_PREFIX, o))
        return OPT_ERROR;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const struct opt_def *d = c >= FIRST_VAL ? &opts[c - FIRST_VAL]
                                                 : find_short(c);
        if (c == ':')
            return usage_error("%s needs a value", argv[optind - 1]);
        if (!d)
            return usage_error("unknown option '%s'", argv[optind - 1]);
        if (d->parse == opt_fault && !cli_faults) {
            cli_faults = true;
            o->nfaults = 0;     /* the command line's replace the others */
        }
        enum opt_result rc = d->parse(d, optarg, o);
        if (rc != OPT_OK)
            return rc;
    }
    if (take_scenario(argc, argv, o))
        return OPT_ERROR;
    return check_together(o);
}
