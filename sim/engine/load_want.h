/*
 * A load as a user describes it, field by field: a scenario's
 * m:load{U = 230, I = 5, PF = "0.8C", harmonics = {...}, noise = {...}}
 * and the HTTP API's load body take the same fields, checked and applied
 * here, in one place. Each caller only reads its own syntax (a Lua table,
 * a JSON object) into struct load_fields: which fields were given and
 * their raw values (NaN for a value of the wrong type).
 */
#ifndef SIM_LOAD_WANT_H
#define SIM_LOAD_WANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/engine/load.h"

/* What a user asked for: the current signed (< 0 exports), the power
 * factor or a phase angle. */
struct load_want {
    double u;               /* V RMS */
    double i;               /* A RMS, signed: < 0 exports */
    double f;               /* Hz */
    double pf;              /* 0..1 */
    bool capacitive;        /* leading current */
    bool angle_set;         /* angle below instead of pf */
    double angle;           /* degrees the current lags the voltage */
    struct load_harmonic harm[LOAD_MAX_HARMONICS];
    unsigned nharm;
    double v_noise, i_noise;    /* V, A RMS */
};

/* The fields, in the order they are listed to users. */
enum load_field {
    LOAD_F_U, LOAD_F_I, LOAD_F_P, LOAD_F_PF, LOAD_F_ANGLE, LOAD_F_F,
    LOAD_F_DIR, LOAD_F_HARMONICS, LOAD_F_NOISE, LOAD_F_N
};

/* Their names ("U", "I", "P", "PF", "angle", "F", "dir", "harmonics",
 * "noise"), NULL-ended. */
extern const char *const load_field_names[LOAD_F_N + 1];

/* The field named key, or -1. */
int load_field_of(const char *key);

/* One harmonic as given: order (0: none given), % of the fundamental
 * current (I) and voltage (V), phases in degrees; NaN: not a number. */
struct load_harmonic_in {
    int64_t order;
    double i, v, phase, vphase;
};

struct load_fields {
    unsigned given;             /* 1u << LOAD_F_*: the fields present */
    double u, i, p, angle, f;   /* NaN: not a number */
    double pf;                  /* a number, or NaN */
    const char *pf_text;        /* or a string: "0.8C" (caller's memory) */
    const char *dir;            /* "import", "export"; NULL: not a string */
    bool harm_off;              /* harmonics = false: none */
    struct load_harmonic_in harm[LOAD_MAX_HARMONICS + 1];
    unsigned nharm;             /* more than LOAD_MAX_HARMONICS: refused */
    bool noise_off;             /* noise = false: none */
    bool v_noise_given, i_noise_given;
    double v_noise, i_noise;    /* NaN: not a number */
};

/* Apply the fields given onto *w, changing only what they name, after
 * checking all of them: -1 with the field at fault (its name) in *field
 * and the reason in err, *w unchanged. */
int load_fields_apply(const struct load_fields *in, struct load_want *w,
                      const char **field, char *err, size_t errlen);

/* What the engine's load l is, as a want (to change a field of it). */
void load_want_from(const struct load *l, struct load_want *w);

/* The engine's load for w, its current times factor (a profile's). */
void load_want_load(const struct load_want *w, double factor,
                    struct load *l);

#endif
