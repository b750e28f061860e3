#define _GNU_SOURCE
#include "sim/store/dump.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/json_real32.h"
#include "sim/base/safefile.h"
#include "sim/base/timeparse.h"

/* The manual's register range (sections 6.2 and 6.3). */
#define MANUAL_FIRST 0x0000
#define MANUAL_LAST 0x01FE

static json_t *meter_json(const struct sim_meter *sm)
{
    const struct meter *m = &sm->core;
    const struct meter_measure *x = meter_measure(m);
    json_t *regs = json_object(), *meas = json_object(), *o = json_object();
    char key[8], when[32];

    for (unsigned a = MANUAL_FIRST; a <= MANUAL_LAST; a += 2) {
        float v;
        if (meter_reg_float(m, (uint16_t)a, &v) == 0) {
            snprintf(key, sizeof key, "%04X", a);
            json_object_set_new(regs, key, json_real32(v));
        }
    }
    json_object_set_new(meas, "u", json_real32(x->u));
    json_object_set_new(meas, "i", json_real32(x->i));
    json_object_set_new(meas, "p", json_real32(x->p));
    json_object_set_new(meas, "q", json_real32(x->q));
    json_object_set_new(meas, "s", json_real32(x->s));
    json_object_set_new(meas, "pf", json_real32(x->pf));
    json_object_set_new(meas, "f", json_real32(x->f));
    json_object_set_new(meas, "demand", json_real32(x->demand));

    time_format_iso(meter_time(m), when, sizeof when);
    json_object_set_new(o, "slave", json_integer(meter_comm(m)->slave));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "relay",
                        json_string(meter_relay_closed(m) ? "closed" : "open"));
    json_object_set_new(o, "pulses",
                        json_integer((json_int_t)meter_pulse_count(m)));
    json_object_set_new(o, "registers", regs);
    json_object_set_new(o, "measurements", meas);
    return o;
}

int dump_write(const char *path, const struct engine *e, char *err,
               size_t errlen)
{
    json_t *root = meter_json(&e->meters[0]);
    struct safefile sf;
    int rc;

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
