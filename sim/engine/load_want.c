#include "sim/engine/load_want.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PI 3.14159265358979323846
#define P_MAX 50000.0           /* W a load may draw or give */

const char *const load_field_names[LOAD_F_N + 1] = {
    "U", "I", "P", "PF", "angle", "F", "dir", "harmonics", "noise", NULL,
};

int load_field_of(const char *key)
{
    for (int f = 0; f < LOAD_F_N; f++)
        if (!strcmp(key, load_field_names[f]))
            return f;
    return -1;
}

/* A check that failed: the field and the reason. */
struct fault {
    const char **field;
    char *err;
    size_t errlen;
};

static int fail(const struct fault *x, const char *field, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

static int fail(const struct fault *x, const char *field, const char *fmt,
                ...)
{
    va_list ap;
    *x->field = field;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* v (NaN: not a number) within lo..hi; the reason starts with in ("":
 * a field of its own, "harmonics: " a part of one). */
static int range_in(const struct fault *x, const char *field,
                    const char *in, const char *key, double v, double lo,
                    double hi, const char *what)
{
    if (v >= lo && v <= hi)
        return 0;
    if (isnan(v))
        return fail(x, field, "%s%s is not a number (%s %g..%g)", in, key,
                    what, lo, hi);
    return fail(x, field, "%s%s = %g is not %s %g..%g", in, key, v, what, lo,
                hi);
}

static int range(const struct fault *x, const char *key, double v,
                 double lo, double hi, const char *what)
{
    return range_in(x, key, "", key, v, lo, hi, what);
}

/* PF: a number -1..1, or a string "0.9C" / "0.9L" / "-0.9". Its value
 * in *pf, whether leading in *cap. */
static int power_factor(const struct fault *x, const struct load_fields *in,
                        double *pf, bool *cap)
{
    double v = in->pf;
    *cap = false;
    if (in->pf_text) {
        char *end;
        v = strtod(in->pf_text, &end);
        if (end == in->pf_text ||
            (strcasecmp(end, "C") && strcasecmp(end, "L") && *end))
            v = (double)NAN;
        *cap = *end == 'C' || *end == 'c';
    }
    if (!(v >= -1.0 && v <= 1.0)) {
        char shown[64];
        if (in->pf_text)
            snprintf(shown, sizeof shown, " = '%.40s'", in->pf_text);
        else if (!isnan(in->pf))
            snprintf(shown, sizeof shown, " = %g", in->pf);
        else
            shown[0] = '\0';
        return fail(x, "PF", "PF%s is not a power factor -1..1, optionally "
                    "with L (lagging, the default) or C (leading): 0.95, "
                    "'0.8C'", shown);
    }
    *pf = v;
    return 0;
}

/* The harmonics given, checked and sorted by order into w. */
static int harmonics(const struct fault *x, const struct load_fields *in,
                     struct load_want *w)
{
    struct load_harmonic h[LOAD_MAX_HARMONICS];
    const char *f = "harmonics";
    unsigned n = 0;

    if (in->nharm > LOAD_MAX_HARMONICS)
        return fail(x, f, "harmonics: %d at most", LOAD_MAX_HARMONICS);
    for (unsigned k = 0; k < in->nharm; k++) {
        const struct load_harmonic_in *e = &in->harm[k];
        if (range_in(x, f, "harmonics: ", "I", e->i, 0, 200,
                     "harmonic current %") ||
            range_in(x, f, "harmonics: ", "V", e->v, 0, 50,
                     "harmonic voltage %") ||
            range_in(x, f, "harmonics: ", "phase", e->phase, -360, 360,
                     "degrees") ||
            range_in(x, f, "harmonics: ", "Vphase", e->vphase, -360, 360,
                     "degrees"))
            return -1;
        if (e->order < 2 || e->order > 50)
            return fail(x, f, "harmonics: order %lld is not 2..50",
                        (long long)e->order);
        for (unsigned j = 0; j < n; j++)
            if (h[j].order == (unsigned)e->order)
                return fail(x, f, "harmonics: order %d given twice",
                            (int)e->order);
        /* sorted by order: the same load whatever the order given */
        unsigned at = n++;
        while (at > 0 && h[at - 1].order > (unsigned)e->order) {
            h[at] = h[at - 1];
            at--;
        }
        h[at] = (struct load_harmonic){ .order = (unsigned)e->order,
                                        .i_pct = e->i, .v_pct = e->v,
                                        .i_phase = e->phase,
                                        .v_phase = e->vphase };
    }
    memcpy(w->harm, h, n * sizeof h[0]);
    w->nharm = n;
    return 0;
}

static bool has(const struct load_fields *in, enum load_field f)
{
    return in->given & 1u << f;
}

int load_fields_apply(const struct load_fields *in, struct load_want *out,
                      const char **field, char *err, size_t errlen)
{
    const struct fault x = { field, err, errlen };
    struct load_want w = *out;
    bool export = w.i < 0, dir_set = false;
    double i = fabs(w.i), p = 0;

    err[0] = '\0';
    if (has(in, LOAD_F_U) &&
        range(&x, "U", in->u, 0, LOAD_U_MAX, "a voltage"))
        return -1;
    if (has(in, LOAD_F_U))
        w.u = in->u;
    if (has(in, LOAD_F_F) && range(&x, "F", in->f, 40, 70, "a frequency"))
        return -1;
    if (has(in, LOAD_F_F))
        w.f = in->f;
    if (has(in, LOAD_F_DIR)) {
        if (!in->dir || (strcmp(in->dir, "import") &&
                         strcmp(in->dir, "export")))
            return fail(&x, "dir", "dir is 'import' or 'export'");
        export = !strcmp(in->dir, "export");
        dir_set = true;
    }
    if (has(in, LOAD_F_ANGLE)) {
        if (range(&x, "angle", in->angle, -360, 360, "degrees"))
            return -1;
        if (has(in, LOAD_F_PF))
            return fail(&x, "angle", "PF or angle, not both");
        w.angle_set = true;
        w.angle = in->angle;
    }
    /* a negative PF is a direction, like dir = 'export': it outranks
     * the sign of I or P (I = 5, PF = -0.8 exports 5 A) */
    if (has(in, LOAD_F_PF)) {
        double pf = 1.0;
        bool cap = false;
        if (power_factor(&x, in, &pf, &cap))
            return -1;
        w.pf = fabs(pf);
        w.capacitive = cap;
        w.angle_set = false;
        if (pf < 0) {
            if (dir_set && !export)
                return fail(&x, "PF", "dir = 'import' and a negative PF "
                            "contradict each other");
            export = dir_set = true;
        }
    }
    if (has(in, LOAD_F_I) && has(in, LOAD_F_P))
        return fail(&x, "P", "I or P, not both");
    if (has(in, LOAD_F_I)) {
        if (range(&x, "I", in->i, -LOAD_I_MAX, LOAD_I_MAX, "a current"))
            return -1;
        i = fabs(in->i);
        if (in->i < 0)
            export = !dir_set || export;
        else if (!dir_set)
            export = false;
    }
    if (has(in, LOAD_F_P)) {
        if (range(&x, "P", in->p, -P_MAX, P_MAX, "an active power"))
            return -1;
        p = in->p;
        double pf = w.angle_set ? fabs(cos(w.angle * PI / 180.0)) : w.pf;
        if (p != 0 && !(w.u > 0 && pf > 1e-6))
            return fail(&x, "P", "P = %g needs a voltage and a power factor "
                        "above 0", p);
        i = p == 0 ? 0 : fabs(p) / (w.u * pf);
        if (i > LOAD_I_MAX)
            return fail(&x, "P", "P = %g W at %g V, PF %g is %g A (%g A at "
                        "most)", p, w.u, pf, i, LOAD_I_MAX);
        export = p < 0 ? (!dir_set || export) : (dir_set && export);
    }
    w.i = export ? -i : i;
    if (has(in, LOAD_F_HARMONICS)) {
        if (in->harm_off)
            w.nharm = 0;
        else if (harmonics(&x, in, &w))
            return -1;
    }
    if (has(in, LOAD_F_NOISE)) {
        if (in->noise_off) {
            w.v_noise = w.i_noise = 0;
        } else {
            if (in->v_noise_given &&
                range_in(&x, "noise", "noise: ", "U", in->v_noise, 0, 50,
                         "noise V RMS"))
                return -1;
            if (in->i_noise_given &&
                range_in(&x, "noise", "noise: ", "I", in->i_noise, 0, 10,
                         "noise A RMS"))
                return -1;
            if (in->v_noise_given)
                w.v_noise = in->v_noise;
            if (in->i_noise_given)
                w.i_noise = in->i_noise;
        }
    }
    *out = w;
    return 0;
}

void load_want_from(const struct load *l, struct load_want *w)
{
    double c = cos(l->phi * PI / 180.0);

    memset(w, 0, sizeof *w);
    w->u = l->u;
    w->f = l->f;
    w->pf = fabs(c);
    w->capacitive = sin(l->phi * PI / 180.0) < -1e-9;
    w->i = c < -1e-9 ? -l->i : l->i;
    memcpy(w->harm, l->harm, sizeof w->harm);
    w->nharm = l->nharm;
    w->v_noise = l->v_noise;
    w->i_noise = l->i_noise;
}

void load_want_load(const struct load_want *w, double factor,
                    struct load *l)
{
    double i = w->i * factor;
    bool exp = i < 0;

    load_default(l);
    l->u = w->u;
    l->f = w->f;
    l->i = fabs(i);
    l->phi = w->angle_set ? w->angle + (exp ? 180.0 : 0.0)
                          : load_phi(w->pf, w->capacitive, exp);
    memcpy(l->harm, w->harm, sizeof l->harm);
    l->nharm = w->nharm;
    l->v_noise = w->v_noise;
    l->i_noise = w->i_noise;
}
