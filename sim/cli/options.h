/*
 * The command line (design.md section 5: a contract users' scripts rely
 * on). Parsing only: every value is checked here, and a bad one is
 * reported naming the option and the value.
 */
#ifndef SIM_OPTIONS_H
#define SIM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/engine/engine.h"
#include "sim/engine/load.h"

#define OPT_MAX_FAULTS 16

struct fleet;

struct sim_options {
    const char *config;         /* --config: the fleet file, or NULL */
    struct fleet *fleet;        /* what it says (sim/cli/fleetfile.h) */
    bool headless;              /* no terminal UI */
    bool tcp_off;               /* --tcp off */
    char tcp_host[64];          /* Modbus TCP listener */
    int tcp_port;
    const char *rtu_path;       /* pty symlink, NULL = no RTU */
    int baud;                   /* 0 = the meter's own setting */
    char parity;                /* 'E', 'O', 'N'; 0 = the meter's own */
    int slave;                  /* first slave address; 0 = the meter's own */
    unsigned meters;            /* fleet size */
    unsigned shard_index;       /* --shard I/N: this process runs shard I */
    unsigned shard_count;       /* of N; 0: the whole fleet */
    unsigned threads;           /* --threads: 0 one a core */
    unsigned serial_base;       /* a new fleet's first serial number */
    bool serial_base_set;       /* given on the command line */
    const char *mqtt_uri;       /* NULL = no uplink */
    const char *mqtt_client_id; /* NULL: kpm31c-<serial> */
    const char *mqtt_user;      /* NULL: $KPM31C_MQTT_USER, or none */
    const char *mqtt_password;  /* NULL: $KPM31C_MQTT_PASSWORD, or none */
    const char *mqtt_ca;        /* TLS: CA file, NULL: the system's CAs */
    const char *mqtt_cert;      /* TLS: client certificate, NULL: none */
    const char *mqtt_key;       /* TLS: its key, NULL: in the certificate */
    int mqtt_keepalive;         /* s */
    const char *mqtt_prefix;    /* topic prefix ("kpm31c") */
    const char *mqtt_discovery; /* Home Assistant discovery prefix, NULL off */
    const char *mqtt_reactive_class;    /* its device class, NULL none */
    unsigned mqtt_period;       /* telemetry period, virtual s */
    unsigned mqtt_queue;        /* queued messages per meter at most */
    double mqtt_reconnect_max;  /* real s between reconnects at most */
    const char *state_path;     /* NULL with --no-state */
    bool start_set;
    int64_t start;              /* virtual clock start, s */
    bool speed_max;
    double speed;               /* virtual s per real s */
    bool until_set;
    bool until_relative;        /* until is a duration from start */
    int64_t until;              /* s, absolute or relative */
    bool load_set;
    struct load load;
    const char *dump_path;
    const char *pulses_path;    /* --pulses: the pulse stream, or NULL */
    const char *ready_path;     /* --ready-file: the endpoints, or NULL */
    uint64_t seed;
    const char *junit_path;
    bool tap;
    const char *scenario;       /* SCENARIO.lua, or NULL */
    char **scenario_args;       /* the words after it: the script's arg */
    int scenario_nargs;
    bool unsafe_lua;            /* --unsafe-lua: every Lua library, no cap */
    double lua_watchdog;        /* --lua-watchdog: real s a scenario may run
                                   without letting time pass; 0 never */
    unsigned lua_memory;        /* --lua-memory: MiB a scenario may use */
    /* given on the command line (a scenario's defaults yield to them) */
    bool speed_set, seed_set, meters_set, state_set, tcp_set, rtu_set;
    bool fidelity_set;
    enum engine_fidelity fidelity;
    double checkpoint;          /* real s between state saves */
    bool rtu_pacing;            /* replies paced like the real line */
    bool rtu_any_baud;          /* every meter answers at any line speed */
    unsigned tcp_max_clients;
    double tcp_idle_timeout;    /* s, 0 = none */
    double tcp_frame_timeout;   /* s a begun frame may take, 0 = no limit */
    char rtu_tcp_host[64];      /* RTU over TCP listener, "" = none */
    int rtu_tcp_port;
    char http_host[64];         /* --http: control API listener, "" none */
    int http_port;
    const char *http_token;     /* --http-token, NULL: $KPM31C_HTTP_TOKEN */
    const char *faults[OPT_MAX_FAULTS];
    unsigned nfaults;
    int verbosity;              /* -1 quiet, 0 normal, 1 verbose */
};

enum opt_result { OPT_OK = 0, OPT_EXIT_OK = 1, OPT_ERROR = 2 };

/* Parse argv. On OPT_ERROR a message has been printed; OPT_EXIT_OK means
 * --help or --version was answered. */
enum opt_result options_parse(int argc, char **argv, struct sim_options *o);

/* "HOST:PORT" or "[V6]:PORT" into host and *port (as --tcp takes it). 0,
 * or -1 when it is not one. */
int options_parse_hostport(const char *s, char *host, size_t hostlen,
                           int *port);

#endif
