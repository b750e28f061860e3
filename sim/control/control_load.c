/*
 * The control API's load: GET, PUT (a whole new load) and PATCH (the
 * fields named) of .../load. The body's fields are those of a scenario's
 * m:load{} (docs/scenarios.md): this file reads the JSON into struct
 * load_fields, and load_fields_apply checks and applies them, as it does
 * for the scenario's table. {"spec": "U=230,I=5"} takes the --load text.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/keylist.h"
#include "sim/engine/load_want.h"

json_t *ctl_load_json(const struct load *l)
{
    json_t *o = json_object(), *harm = json_array();
    double phi = l->phi, pf = cos(phi * M_PI / 180.0);
    bool export = fabs(phi) > 90.0;
    /* capacitive as load_phi has it: Q < 0 either way (phi < 0
     * importing, > 180 exporting) */
    bool capacitive = sin(phi * M_PI / 180.0) < -1e-9;

    json_object_set_new(o, "U", json_real(l->u));
    json_object_set_new(o, "I", json_real(l->i));
    json_object_set_new(o, "PF", json_real(round(fabs(pf) * 1e6) / 1e6));
    json_object_set_new(o, "reactive", json_string(
        fabs(pf) > 0.999999 ? "none" : capacitive ? "C" : "L"));
    json_object_set_new(o, "F", json_real(l->f));
    json_object_set_new(o, "DIR", json_string(export ? "export" : "import"));
    json_object_set_new(o, "phi", json_real(phi));
    for (unsigned k = 0; k < l->nharm; k++) {
        const struct load_harmonic *h = &l->harm[k];
        json_array_append_new(harm, json_pack(
            "{s:i, s:f, s:f, s:f, s:f}", "order", (json_int_t)h->order,
            "I", h->i_pct, "V", h->v_pct, "phase", h->i_phase,
            "Vphase", h->v_phase));
    }
    json_object_set_new(o, "harmonics", harm);
    json_object_set_new(o, "noise", json_pack("{s:f, s:f}", "U", l->v_noise,
                                              "I", l->i_noise));
    return o;
}

enum MHD_Result ctl_meter_load_get(struct ctl_call *call)
{
    METER_OR_404(call, k);
    return ctl_json(call->conn, MHD_HTTP_OK,
                    ctl_load_json(&call->c->e->meters[k].load));
}

/* A number of the body; NaN when it is not one (load_fields_apply says
 * which field). */
static double number(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : (double)NAN;
}

/* One harmonic: a number (% of the fundamental current) whose order is
 * its key, or an object {"order", "I", "V", "phase", "Vphase"}. An error
 * (its reason) or NULL. */
static const char *harmonic(const char *key, const json_t *v,
                            struct load_harmonic_in *x)
{
    static const char *const keys[] = { "order", "I", "V", "phase", "Vphase",
                                        NULL };
    const char *k;
    json_t *e;
    char *end;

    memset(x, 0, sizeof *x);
    if (key) {
        long long o = strtoll(key, &end, 10);
        x->order = *key && !*end ? o : 0;
    }
    if (json_is_number(v)) {
        x->i = json_number_value(v);
        return NULL;
    }
    if (!json_is_object(v))
        return "each entry is a number (% of the fundamental current) or an "
               "object {\"order\", \"I\", \"V\", \"phase\", \"Vphase\"}";
    json_object_foreach((json_t *)v, k, e) {
        bool known = false;
        for (const char *const *n = keys; *n && !known; n++)
            known = !strcmp(k, *n);
        if (!known)
            return "an entry's keys are order, I, V, phase, Vphase";
    }
    if ((e = json_object_get(v, "order")))
        x->order = json_is_integer(e) ? json_integer_value(e) : 0;
    if ((e = json_object_get(v, "I")))
        x->i = number(e);
    if ((e = json_object_get(v, "V")))
        x->v = number(e);
    if ((e = json_object_get(v, "phase")))
        x->phase = number(e);
    if ((e = json_object_get(v, "Vphase")))
        x->vphase = number(e);
    return NULL;
}

/* "harmonics": {"3": 30, "5": 20}, [{"order": 3, "I": 30, "V": 2}], or
 * false. An error or NULL. */
static const char *harmonics(const json_t *v, struct load_fields *in)
{
    const char *key, *why;
    json_t *e;
    size_t k;

    if (json_is_false(v)) {
        in->harm_off = true;
        return NULL;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, e) {
            if (in->nharm > LOAD_MAX_HARMONICS)
                break;                      /* one more: refused */
            if ((why = harmonic(key, e, &in->harm[in->nharm++])))
                return why;
        }
        return NULL;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, k, e) {
            if (in->nharm > LOAD_MAX_HARMONICS)
                break;
            if ((why = harmonic(NULL, e, &in->harm[in->nharm++])))
                return why;
        }
        return NULL;
    }
    return "{\"3\": 30, \"5\": 20} (% of the fundamental current), "
           "[{\"order\": 3, \"I\": 30, \"V\": 2, \"phase\": 0}], or false";
}

/* "noise": {"U": 0.5, "I": 0.01} (V and A RMS), or false. */
static const char *noise(const json_t *v, struct load_fields *in)
{
    const char *key;
    json_t *e;

    if (json_is_false(v)) {
        in->noise_off = true;
        return NULL;
    }
    if (!json_is_object(v))
        return "{\"U\": 0.5, \"I\": 0.01} (V and A RMS), or false";
    json_object_foreach((json_t *)v, key, e) {
        if (!strcmp(key, "U")) {
            in->v_noise_given = true;
            in->v_noise = number(e);
        } else if (!strcmp(key, "I")) {
            in->i_noise_given = true;
            in->i_noise = number(e);
        } else {
            return "its keys are U and I (V and A RMS)";
        }
    }
    return NULL;
}

/* The body's fields into *in, their types only. false with an answer
 * queued in *ret. */
static bool read_fields(struct ctl_call *call, struct load_fields *in,
                        enum MHD_Result *ret)
{
    const char *key, *why = NULL;
    json_t *v;

    json_object_foreach(call->json, key, v) {
        /* DIR: the --load spelling */
        int f = !strcmp(key, "DIR") ? LOAD_F_DIR : load_field_of(key);
        if (f < 0) {
            char list[256];
            keylist(load_field_names, list, sizeof list);
            *ret = ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, key,
                             "unknown field (expected: %s; or spec alone)",
                             list);
            return false;
        }
        in->given |= 1u << f;
        switch (f) {
        case LOAD_F_U: in->u = number(v); break;
        case LOAD_F_I: in->i = number(v); break;
        case LOAD_F_P: in->p = number(v); break;
        case LOAD_F_ANGLE: in->angle = number(v); break;
        case LOAD_F_F: in->f = number(v); break;
        case LOAD_F_PF:
            in->pf = number(v);
            in->pf_text = json_string_value(v);
            break;
        case LOAD_F_DIR: in->dir = json_string_value(v); break;
        case LOAD_F_HARMONICS: why = harmonics(v, in); break;
        case LOAD_F_NOISE: why = noise(v, in); break;
        default: break;
        }
        if (why) {
            *ret = ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, key, "%s",
                             why);
            return false;
        }
    }
    return true;
}

/* PUT (whole: fields not given take the defaults 230 V, 0 A, PF 1,
 * 50 Hz, no harmonics, no noise) or PATCH (the fields given change the
 * meter's load). Checked in full before the engine sees it. */
static enum MHD_Result set_load(struct ctl_call *call, bool whole)
{
    METER_OR_404(call, k);
    struct sim_meter *sm = &call->c->e->meters[k];
    struct load_fields in = { .given = 0 };
    struct load_want w;
    struct load l;
    const char *field = NULL;
    char err[256];
    enum MHD_Result ret;
    json_t *spec;

    if (!call->json)
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "body",
                         "a JSON object is expected");
    if ((spec = json_object_get(call->json, "spec"))) {
        if (json_object_size(call->json) != 1 || !json_is_string(spec))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "spec",
                             "a string \"U=230,I=5,PF=0.95\", alone");
        if (load_parse(json_string_value(spec), &l, err, sizeof err))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "spec", "%s",
                             err);
    } else {
        if (!read_fields(call, &in, &ret))
            return ret;
        if (!in.given) {
            char list[256];
            keylist(load_field_names, list, sizeof list);
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "body",
                             "no field: give any of %s", list);
        }
        load_default(&l);
        load_want_from(whole ? &l : &sm->load, &w);
        if (load_fields_apply(&in, &w, &field, err, sizeof err))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, field, "%s",
                             err);
        load_want_load(&w, 1.0, &l);
    }
    if (engine_set_load(call->c->e, (unsigned)k, &l))
        return ctl_error(call->conn, MHD_HTTP_CONFLICT, NULL,
                         "the engine refused the load");
    return ctl_json(call->conn, MHD_HTTP_OK, ctl_load_json(&sm->load));
}

enum MHD_Result ctl_meter_load_put(struct ctl_call *call)
{
    return set_load(call, true);
}

enum MHD_Result ctl_meter_load_patch(struct ctl_call *call)
{
    return set_load(call, false);
}
