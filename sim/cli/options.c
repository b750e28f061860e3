#define _GNU_SOURCE
#include "sim/cli/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/base/numparse.h"
#include "protocols/mqtt.h"
#include "sim/base/timeparse.h"
#include "sim/base/version.h"

static const char usage[] =
"Usage: kpm31c-sim [OPTIONS] [SCENARIO.lua [NAME=VALUE...]]\n"
"A software twin of the Compere KPM31C single-phase energy meter.\n"
"\n"
"Ports:\n"
"  --tcp HOST:PORT          Modbus TCP listener (default 127.0.0.1:1502;\n"
"                           '--tcp off' disables it)\n"
"  --rtu PATH               Modbus RTU on a pseudo-terminal, symlinked at PATH\n"
"  --baud N                 serial speed: 1200, 2400, 4800 or 9600\n"
"  --parity E|O|N           serial parity\n"
"  --slave ID               first slave address, 1..247 (default 1)\n"
"  --meters N               simulate N meters, slave IDs ID..ID+N-1\n"
"  --mqtt URI               MQTT broker, e.g. mqtt://127.0.0.1:1883 or\n"
"                           mqtts://broker:8883 (turns 4g_M to Mqtt; docs/mqtt.md)\n"
"  --mqtt-client-id ID      client id (default kpm31c-SERIAL; a fleet adds -SERIAL)\n"
"  --mqtt-user NAME         user name (or $KPM31C_MQTT_USER)\n"
"  --mqtt-password PW       password (better: $KPM31C_MQTT_PASSWORD)\n"
"  --mqtt-ca FILE, --mqtt-cert FILE, --mqtt-key FILE  TLS: trusted CAs (PEM),\n"
"                           client certificate and key\n"
"  --mqtt-keepalive S       keepalive, 5..3600 s (default 60)\n"
"  --mqtt-prefix P          topic prefix (default kpm31c)\n"
"  --mqtt-discovery P|off   Home Assistant discovery prefix (default homeassistant)\n"
"  --mqtt-period S          telemetry every S virtual seconds, 1..86400 (default 60)\n"
"  --mqtt-queue N           messages kept per meter during an outage (default 1440)\n"
"  --mqtt-reconnect-max S   longest wait between reconnects, 1..3600 s (default 30)\n"
"  --no-pacing              RTU replies as fast as possible, not at line speed\n"
"  --tcp-max-clients N      concurrent Modbus TCP clients (default 64)\n"
"  --tcp-idle-timeout S     close idle TCP clients after S s (default 60, 0 never)\n"
"  --fault SPEC             inject a Modbus fault (see docs/modbus.md), repeatable\n"
"\n"
"Time and load:\n"
"  --start ISO8601          virtual clock start (default: now, or where the\n"
"                           state file's clock stopped if that is later)\n"
"  --speed X                virtual seconds per real second; 0 = frozen,\n"
"                           max = as fast as possible (default 1)\n"
"  --until ISO8601|DURATION stop there, save the state, exit 0\n"
"                           (durations: 90, 15m, 2h, 30d, 1w, 1h30m)\n"
"  --load U=230,I=5,PF=0.95[,F=50]  steady load when no scenario drives one\n"
"                           (PF=0.8C capacitive, I<0 or DIR=export exports)\n"
"  --fidelity full|fast     every sample through the core, or one real window\n"
"                           when the load changes (default: full at speed <= 1)\n"
"  --seed N                 deterministic noise and faults (default 1)\n"
"\n"
"State and results:\n"
"  --state FILE             non-volatile image (default ./kpm31c.state)\n"
"  --no-state               keep nothing across runs\n"
"  --checkpoint S           save the state every S real seconds (default 10)\n"
"  --dump FILE              at exit, write every register and measurement as JSON\n"
"  --junit FILE, --tap      scenario results for CI (docs/scenarios.md)\n"
"  --unsafe-lua             a scenario gets every Lua library (io, os, ...)\n"
"                           and no memory cap: only for scripts you trust\n"
"  --headless               no terminal UI (default when stdout is no terminal)\n"
"  -q, --quiet / -v, --verbose  less / more logging on stderr\n"
"  --version, --help\n"
"\n"
"Exit status: 0 ok, 1 scenario assertion failed, 2 usage, configuration or\n"
"scenario error, 3 runtime failure (port busy, broker refused, ...).\n";

enum {
    O_TCP = 256, O_RTU, O_BAUD, O_PARITY, O_SLAVE, O_METERS, O_MQTT,
    O_STATE, O_NO_STATE, O_START, O_SPEED, O_UNTIL, O_LOAD, O_DUMP, O_SEED,
    O_JUNIT, O_TAP, O_VERSION, O_HELP, O_HEADLESS, O_FIDELITY,
    O_CHECKPOINT, O_NO_PACING, O_TCP_MAX, O_TCP_IDLE, O_FAULT,
    O_UNSAFE_LUA,
};

/* the MQTT uplink's options (docs/mqtt.md) */
enum {
    O_MQTT_ID = 512, O_MQTT_USER, O_MQTT_PASSWORD, O_MQTT_CA, O_MQTT_CERT,
    O_MQTT_KEY, O_MQTT_KEEPALIVE, O_MQTT_PREFIX, O_MQTT_DISCOVERY,
    O_MQTT_PERIOD, O_MQTT_QUEUE, O_MQTT_RECONNECT,
};

static const struct option long_opts[] = {
    { "tcp", required_argument, NULL, O_TCP },
    { "rtu", required_argument, NULL, O_RTU },
    { "baud", required_argument, NULL, O_BAUD },
    { "parity", required_argument, NULL, O_PARITY },
    { "slave", required_argument, NULL, O_SLAVE },
    { "meters", required_argument, NULL, O_METERS },
    { "mqtt", required_argument, NULL, O_MQTT },
    { "mqtt-client-id", required_argument, NULL, O_MQTT_ID },
    { "mqtt-user", required_argument, NULL, O_MQTT_USER },
    { "mqtt-password", required_argument, NULL, O_MQTT_PASSWORD },
    { "mqtt-ca", required_argument, NULL, O_MQTT_CA },
    { "mqtt-cert", required_argument, NULL, O_MQTT_CERT },
    { "mqtt-key", required_argument, NULL, O_MQTT_KEY },
    { "mqtt-keepalive", required_argument, NULL, O_MQTT_KEEPALIVE },
    { "mqtt-prefix", required_argument, NULL, O_MQTT_PREFIX },
    { "mqtt-discovery", required_argument, NULL, O_MQTT_DISCOVERY },
    { "mqtt-period", required_argument, NULL, O_MQTT_PERIOD },
    { "mqtt-queue", required_argument, NULL, O_MQTT_QUEUE },
    { "mqtt-reconnect-max", required_argument, NULL, O_MQTT_RECONNECT },
    { "state", required_argument, NULL, O_STATE },
    { "no-state", no_argument, NULL, O_NO_STATE },
    { "start", required_argument, NULL, O_START },
    { "speed", required_argument, NULL, O_SPEED },
    { "until", required_argument, NULL, O_UNTIL },
    { "load", required_argument, NULL, O_LOAD },
    { "dump", required_argument, NULL, O_DUMP },
    { "seed", required_argument, NULL, O_SEED },
    { "junit", required_argument, NULL, O_JUNIT },
    { "tap", no_argument, NULL, O_TAP },
    { "headless", no_argument, NULL, O_HEADLESS },
    { "fidelity", required_argument, NULL, O_FIDELITY },
    { "checkpoint", required_argument, NULL, O_CHECKPOINT },
    { "no-pacing", no_argument, NULL, O_NO_PACING },
    { "tcp-max-clients", required_argument, NULL, O_TCP_MAX },
    { "tcp-idle-timeout", required_argument, NULL, O_TCP_IDLE },
    { "fault", required_argument, NULL, O_FAULT },
    { "unsafe-lua", no_argument, NULL, O_UNSAFE_LUA },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "version", no_argument, NULL, O_VERSION },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "kpm31c-sim: %s: '%s' %s\n"
            "Try 'kpm31c-sim --help'.\n", opt, val, why);
    return OPT_ERROR;
}

static int parse_hostport(const char *s, struct sim_options *o)
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
    if (hlen == 0 || hlen >= sizeof o->tcp_host ||
        parse_long(colon + 1, 0, 65535, &port))
        return -1;
    memcpy(o->tcp_host, s, hlen);
    o->tcp_host[hlen] = '\0';
    o->tcp_port = (int)port;
    return 0;
}

enum opt_result options_parse(int argc, char **argv, struct sim_options *o)
{
    char err[256];
    long l;
    int c;

    memset(o, 0, sizeof *o);
    strcpy(o->tcp_host, "127.0.0.1");
    o->tcp_port = 1502;
    o->meters = 1;
    o->state_path = "kpm31c.state";
    o->speed = 1.0;
    o->seed = 1;
    o->mqtt_keepalive = 60;
    o->mqtt_prefix = "kpm31c";
    o->mqtt_discovery = "homeassistant";
    o->mqtt_period = 60;
    o->mqtt_queue = 1440;
    o->mqtt_reconnect_max = 30.0;
    o->checkpoint = 10.0;
    o->rtu_pacing = true;
    o->tcp_max_clients = 64;
    o->tcp_idle_timeout = 60.0;
    o->headless = !isatty(STDOUT_FILENO);
    load_default(&o->load);

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":qv", long_opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_TCP:
            o->tcp_set = true;
            if (!strcmp(a, "off"))
                o->tcp_off = true;
            else if (parse_hostport(a, o))
                return bad("--tcp", a, "is not HOST:PORT or 'off'");
            break;
        case O_RTU:
            if (!*a)
                return bad("--rtu", a, "is not a path");
            o->rtu_path = a;
            break;
        case O_BAUD:
            if (parse_long(a, 0, 1000000, &l) ||
                (l != 1200 && l != 2400 && l != 4800 && l != 9600))
                return bad("--baud", a, "is not 1200, 2400, 4800 or 9600 "
                           "(the meter's rates)");
            o->baud = (int)l;
            break;
        case O_PARITY:
            if (strlen(a) != 1 || !strchr("EONeon", a[0]))
                return bad("--parity", a, "is not E, O or N");
            o->parity = (char)(a[0] & ~0x20);
            break;
        case O_SLAVE:
            if (parse_long(a, 1, 247, &l))
                return bad("--slave", a, "is not a slave address 1..247");
            o->slave = (int)l;
            break;
        case O_METERS:
            if (parse_long(a, 1, 10000, &l))
                return bad("--meters", a, "is not a count 1..10000");
            o->meters = (unsigned)l;
            o->meters_set = true;
            break;
        case O_MQTT:
            if (mqtt_uri_check(a, err, sizeof err))
                return bad("--mqtt", a, "is not mqtt://HOST[:PORT] or "
                           "mqtts://HOST[:PORT]");
            o->mqtt_uri = a;
            break;
        case O_MQTT_ID:
            if (!*a || strlen(a) > 64 || strpbrk(a, "+#/"))
                return bad("--mqtt-client-id", a, "is not 1..64 characters "
                           "without '+', '#' or '/'");
            o->mqtt_client_id = a;
            break;
        case O_MQTT_USER:
            o->mqtt_user = a;
            break;
        case O_MQTT_PASSWORD:
            o->mqtt_password = a;
            break;
        case O_MQTT_CA:
        case O_MQTT_CERT:
        case O_MQTT_KEY:
            if (access(a, R_OK))
                return bad(c == O_MQTT_CA ? "--mqtt-ca" : c == O_MQTT_CERT ?
                           "--mqtt-cert" : "--mqtt-key", a,
                           "is not a readable file");
            *(c == O_MQTT_CA ? &o->mqtt_ca : c == O_MQTT_CERT ?
              &o->mqtt_cert : &o->mqtt_key) = a;
            break;
        case O_MQTT_KEEPALIVE:
            if (parse_long(a, 5, 3600, &l))
                return bad("--mqtt-keepalive", a, "is not seconds 5..3600");
            o->mqtt_keepalive = (int)l;
            break;
        case O_MQTT_PREFIX:
        case O_MQTT_DISCOVERY:
            if (c == O_MQTT_DISCOVERY && !strcmp(a, "off")) {
                o->mqtt_discovery = NULL;
                break;
            }
            if (!*a || strlen(a) > 64 || strpbrk(a, "+#") || a[0] == '/' ||
                a[strlen(a) - 1] == '/')
                return bad(c == O_MQTT_PREFIX ? "--mqtt-prefix" :
                           "--mqtt-discovery", a, "is not a topic prefix "
                           "(1..64 characters, no '+' or '#', no leading or "
                           "trailing '/')");
            *(c == O_MQTT_PREFIX ? &o->mqtt_prefix : &o->mqtt_discovery) = a;
            break;
        case O_MQTT_PERIOD:
            if (parse_long(a, 1, 86400, &l))
                return bad("--mqtt-period", a, "is not seconds 1..86400");
            o->mqtt_period = (unsigned)l;
            break;
        case O_MQTT_QUEUE:
            if (parse_long(a, 1, 1000000, &l))
                return bad("--mqtt-queue", a, "is not a count 1..1000000");
            o->mqtt_queue = (unsigned)l;
            break;
        case O_MQTT_RECONNECT:
            if (parse_double(a, 1, 3600, &o->mqtt_reconnect_max))
                return bad("--mqtt-reconnect-max", a, "is not seconds "
                           "1..3600");
            break;
        case O_STATE:
            if (!*a)
                return bad("--state", a, "is not a file name");
            o->state_path = a;
            o->state_set = true;
            break;
        case O_NO_STATE:
            o->state_path = NULL;
            o->state_set = true;
            break;
        case O_START:
            if (time_parse_iso(a, &o->start))
                return bad("--start", a, "is not a date-time such as "
                           "2026-01-01T00:00:00 (1970..2099)");
            o->start_set = true;
            break;
        case O_SPEED:
            o->speed_set = true;
            if (!strcmp(a, "max"))
                o->speed_max = true;
            else if (parse_double(a, 0, 1e9, &o->speed))
                return bad("--speed", a, "is not a number >= 0 or 'max'");
            else
                o->speed_max = false;
            break;
        case O_UNTIL:
            if (time_parse_iso(a, &o->until) == 0) {
                o->until_relative = false;
            } else if (time_parse_duration(a, &o->until) == 0) {
                o->until_relative = true;
            } else {
                return bad("--until", a, "is neither a date-time "
                           "(2026-02-01T00:00) nor a duration (90, 15m, 2h, 30d)");
            }
            o->until_set = true;
            break;
        case O_LOAD:
            if (load_parse(a, &o->load, err, sizeof err))
                return bad("--load", a, err);
            o->load_set = true;
            break;
        case O_DUMP:
            o->dump_path = a;
            break;
        case O_SEED:
            {
                char *end;
                unsigned long long v = strtoull(a, &end, 0);
                if (end == a || *end || a[0] == '-')
                    return bad("--seed", a, "is not a non-negative integer");
                o->seed = v;
                o->seed_set = true;
            }
            break;
        case O_JUNIT:
            o->junit_path = a;
            break;
        case O_TAP:
            o->tap = true;
            break;
        case O_UNSAFE_LUA:
            o->unsafe_lua = true;
            break;
        case O_HEADLESS:
            o->headless = true;
            break;
        case O_FIDELITY:
            if (!strcmp(a, "full"))
                o->fidelity = ENGINE_FULL;
            else if (!strcmp(a, "fast"))
                o->fidelity = ENGINE_FAST;
            else
                return bad("--fidelity", a, "is not 'full' or 'fast'");
            o->fidelity_set = true;
            break;
        case O_CHECKPOINT:
            if (parse_double(a, 0.1, 86400, &o->checkpoint))
                return bad("--checkpoint", a, "is not a number of seconds "
                           "0.1..86400");
            break;
        case O_NO_PACING:
            o->rtu_pacing = false;
            break;
        case O_TCP_MAX:
            if (parse_long(a, 1, 10000, &l))
                return bad("--tcp-max-clients", a, "is not a count 1..10000");
            o->tcp_max_clients = (unsigned)l;
            break;
        case O_TCP_IDLE:
            if (parse_double(a, 0, 86400, &o->tcp_idle_timeout))
                return bad("--tcp-idle-timeout", a, "is not seconds 0..86400");
            break;
        case O_FAULT:
            if (o->nfaults >= OPT_MAX_FAULTS)
                return bad("--fault", a, "is one too many (16 at most)");
            o->faults[o->nfaults++] = a;
            break;
        case 'q':
            o->verbosity = -1;
            break;
        case 'v':
            o->verbosity = 1;
            break;
        case O_VERSION:
            printf("kpm31c-sim %s\n", SIM_VERSION);
            return OPT_EXIT_OK;
        case O_HELP:
            fputs(usage, stdout);
            return OPT_EXIT_OK;
        case ':':
            fprintf(stderr, "kpm31c-sim: %s needs a value\n"
                    "Try 'kpm31c-sim --help'.\n", argv[optind - 1]);
            return OPT_ERROR;
        default:
            fprintf(stderr, "kpm31c-sim: unknown option '%s'\n"
                    "Try 'kpm31c-sim --help'.\n", argv[optind - 1]);
            return OPT_ERROR;
        }
    }
    if (optind < argc) {
        o->scenario = argv[optind++];
        o->scenario_args = argv + optind;       /* the script's arg */
        o->scenario_nargs = argc - optind;
    }
    for (int k = 0; k < o->scenario_nargs; k++) {
        const char *a = o->scenario_args[k], *eq = strchr(a, '=');
        if (!eq || eq == a) {
            fprintf(stderr, "kpm31c-sim: unexpected argument '%s' (one "
                    "scenario at most; the scenario's own arguments are "
                    "NAME=VALUE)\nTry 'kpm31c-sim --help'.\n", a);
            return OPT_ERROR;
        }
    }
    if (!o->scenario && (o->tap || o->junit_path || o->unsafe_lua)) {
        fprintf(stderr, "kpm31c-sim: %s: results and Lua options need a "
                "scenario (kpm31c-sim [OPTIONS] SCENARIO.lua)\n"
                "Try 'kpm31c-sim --help'.\n", o->tap ? "--tap" :
                o->junit_path ? "--junit" : "--unsafe-lua");
        return OPT_ERROR;
    }
    if (o->scenario && o->speed_set && !o->speed_max && o->speed == 0) {
        fprintf(stderr, "kpm31c-sim: --speed 0 freezes the clock, and a "
                "scenario needs time to move\nTry 'kpm31c-sim --help'.\n");
        return OPT_ERROR;
    }
    if (!o->scenario && o->until_set && !o->speed_max && o->speed == 0) {
        fprintf(stderr, "kpm31c-sim: --until with --speed 0: a frozen clock "
                "never gets there\nTry 'kpm31c-sim --help'.\n");
        return OPT_ERROR;
    }
    if (!o->fidelity_set)
        o->fidelity = (!o->speed_max && o->speed <= 1.0) ? ENGINE_FULL
                                                         : ENGINE_FAST;
    return OPT_OK;
}
