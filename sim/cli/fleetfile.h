/*
 * The fleet file (--config FILE, docs/fleet.md): JSON that sets any
 * command-line option and, per meter or per range of meters, the slave
 * address, the serial number, the load, settings and scenario arguments.
 *
 * fleet_load reads and checks the whole file: its options come back as
 * (name, value) pairs for the options table to parse (one set of checks
 * for the command line, the environment and the file), its meters as
 * specs that fleet_apply installs once the fleet is built. Every error
 * names the file and the JSON path ("population" too: each meter's load
 * drawn from a seeded mix, sim/engine/population.h):
 * "fleet.json: $.meters[2].load.PF:
 * '1.7' ...".
 */
#ifndef SIM_FLEETFILE_H
#define SIM_FLEETFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/engine/engine.h"
#include "sim/engine/load.h"

/* What JSON gave an option's value as. */
enum fleet_type { FLEET_STRING, FLEET_NUMBER, FLEET_BOOL };

/* One option of the file: "$.speed": "max" is { "speed", "max", ... }. */
struct fleet_option {
    const char *name;           /* the long option's name */
    const char *value;          /* as text: "max", "60", "true" */
    enum fleet_type type;
    bool listed;                /* one of a list: "fault": [...] */
    char where[96];             /* "fleet.json: $.speed" */
};

/* One entry of "meters": meters first..last (0-based) get what is set. */
struct fleet_meter {
    unsigned first, last;
    char where[96];             /* "fleet.json: $.meters[2]" */
    int slave;                  /* the first meter's address; 0 unset */
    bool serial_set;
    uint32_t serial;            /* the first meter's serial */
    bool load_set;
    struct load load;
    const void *settings;       /* its "settings" object (json_t), or NULL */
};

struct fleet {
    char *path;
    void *root;                 /* the document (json_t), kept for settings */
    struct fleet_option *options;
    size_t noptions;
    const char *scenario;       /* "scenario", or NULL */
    char **args;                /* NAME=VALUE words: "args", then each
                                   meter's as NAME.K=VALUE (K from 1) */
    int nargs;
    struct fleet_meter *meters;
    size_t nmeters;
    struct population *population;  /* "population", or NULL */
};

/* Read and check path. NULL with a message in err (naming the file and
 * the JSON path) when it cannot be read or is wrong. */
struct fleet *fleet_load(const char *path, char *err, size_t errlen);

/* Install the file's per-meter specs on a built fleet, the entries of
 * the meters it runs by their global index (e->span), (after the state
 * file and the command line's --slave): addresses, serials, loads and
 * settings. -1 with a message naming the JSON path when an entry lies
 * beyond the fleet, two meters share an address, or the meter refuses
 * settings; nothing is half-applied to a meter. f may be NULL. */
int fleet_apply(const struct fleet *f, struct engine *e, char *err,
                size_t errlen);

/* The serial the file gives the fleet's meter g (0-based, global): true
 * and *serial, or false when it gives none. f may be NULL. */
bool fleet_serial(const struct fleet *f, unsigned g, uint32_t *serial);

void fleet_free(struct fleet *f);

#endif
