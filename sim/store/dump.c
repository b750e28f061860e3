#define _GNU_SOURCE
#include "sim/store/dump.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registers.h"
#include "sim/base/json_real32.h"
#include "sim/base/safefile.h"
#include "sim/base/timeparse.h"
#include "sim/store/measure_json.h"
#include "sim/store/regnames.h"

/* The manual's register range (sections 6.2 and 6.3). */
#define MANUAL_FIRST 0x0000
#define MANUAL_LAST 0x01FE

static json_t *entry_json(const char *name, const char *unit)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(name));
    if (*unit)
        json_object_set_new(e, "unit", json_string(unit));
    return e;
}

/* An integer of words registers (high word first) at addr; 0 on error. */
static int reg_uint(const struct meter *m, uint16_t addr, unsigned words,
                    uint64_t *out)
{
    uint16_t w[4];

    *out = 0;
    if (meter_reg_read(m, addr, (uint16_t)words, w))
        return -1;
    for (unsigned j = 0; j < words; j++)
        *out = *out << 16 | w[j];
    return 0;
}

/* The extension block's values by address: integers, float32 as such. */
static json_t *extension_json(const struct meter *m)
{
    json_t *x = json_object();
    char key[8];

    for (size_t k = 0; k < regname_next; k++) {
        const struct regname *r = &regname_ext[k];
        float f;
        uint64_t v;

        snprintf(key, sizeof key, "%04X", r->addr);
        if (r->type == REGNAME_F32) {
            if (meter_reg_float(m, r->addr, &f) == 0)
                json_object_set_new(x, key, json_real32(f));
            continue;
        }
        if (reg_uint(m, r->addr, regname_words(r->type), &v) == 0)
            json_object_set_new(x, key, json_integer((json_int_t)v));
    }
    return x;
}

static json_t *meter_json(const struct sim_meter *sm)
{
    const struct meter *m = &sm->core;
    json_t *regs = json_object(), *o = json_object();
    char key[8], when[32];

    for (unsigned a = MANUAL_FIRST; a <= MANUAL_LAST; a += 2) {
        float v;
        if (meter_reg_float(m, (uint16_t)a, &v) == 0) {
            snprintf(key, sizeof key, "%04X", a);
            json_object_set_new(regs, key, json_real32(v));
        }
    }
    time_format_iso(meter_time(m), when, sizeof when);
    json_object_set_new(o, "slave", json_integer(meter_comm(m)->slave));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "relay",
                        json_string(meter_relay_closed(m) ? "closed" : "open"));
    json_object_set_new(o, "pulses",
                        json_integer((json_int_t)meter_pulse_count(m)));
    json_object_set_new(o, "registers", regs);
    json_object_set_new(o, "measurements", measure_json(m));
    uint64_t serial;
    reg_uint(m, REG_X_SERIAL, 2, &serial);
    json_object_set_new(o, "serial", json_integer((json_int_t)serial));
    json_object_set_new(o, "extension", extension_json(m));
    return o;
}

/* The register_info object: each dumped address's name and unit. */
static json_t *info_json(void)
{
    json_t *info = json_object();
    char key[8], name[96];
    const char *unit;

    for (unsigned a = MANUAL_FIRST; a <= MANUAL_LAST; a += 2)
        if (regname_manual((uint16_t)a, name, sizeof name, &unit)) {
            snprintf(key, sizeof key, "%04X", a);
            json_object_set_new(info, key, entry_json(name, unit));
        }
    for (size_t k = 0; k < regname_next; k++) {
        snprintf(key, sizeof key, "%04X", regname_ext[k].addr);
        json_object_set_new(info, key, entry_json(regname_ext[k].name,
                                                  regname_ext[k].unit));
    }
    return info;
}

int dump_write(const char *path, const struct engine *e, char *err,
               size_t errlen)
{
    json_t *root = meter_json(&e->meters[0]);
    struct safefile sf;
    int rc;

    json_object_set_new(root, "register_info", info_json());
    if (e->count > 1) {
        json_t *all = json_array();
        for (unsigned k = 0; k < e->count; k++)
            json_array_append_new(all, meter_json(&e->meters[k]));
        json_object_set_new(root, "meters", all);
    }
    if (safefile_open(&sf, path, "--dump", err, errlen))
        rc = -1;
    else if (json_dumpf(root, sf.f, JSON_INDENT(1) | JSON_SORT_KEYS |
                        JSON_REAL_PRECISION(9)) ||
             (sf.std && fputc('\n', sf.f) == EOF)) {
        snprintf(err, errlen, "--dump %s: cannot write it: %s", path,
                 strerror(errno));
        safefile_abort(&sf);
        rc = -1;
    } else {
        rc = safefile_commit(&sf, err, errlen);
    }
    json_decref(root);
    return rc;
}
