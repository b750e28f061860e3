#include "sim/engine/load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/base/numparse.h"

#define PI 3.14159265358979323846

void load_default(struct load *l)
{
    memset(l, 0, sizeof *l);
    l->u = 230.0;
    l->f = 50.0;
}

double load_phi(double pf, bool capacitive, bool export)
{
    double phi = acos(fabs(pf)) * 180.0 / PI;
    if (capacitive)
        phi = -phi;
    if (export)
        phi = 180.0 - phi;  /* keeps Q's sign: QII mirrors QI */
    return phi;
}

int load_parse(const char *spec, struct load *l, char *err, size_t errlen)
{
    char buf[256];
    double pf = 1.0;
    bool capacitive = false, export = false, pf_export = false;
    bool dir_import = false;

    load_default(l);
    if (!*spec) {
        snprintf(err, errlen, "is empty (KEY=VALUE,... with U, I, PF, F, "
                 "DIR)");
        return -1;
    }
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, errlen, "load spec too long");
        return -1;
    }
    /* a key given twice is a mistake, not "the last one wins" */
    for (const char *k = spec; *k;) {
        size_t n = strcspn(k, "=,");
        const char *j = k + strcspn(k, ",");
        while (*j == ',') {
            j++;
            if (strcspn(j, "=,") == n && j[n] == '=' &&
                !strncasecmp(j, k, n)) {
                snprintf(err, errlen, "%.*s is given twice", (int)n, k);
                return -1;
            }
            j += strcspn(j, ",");
        }
        k += strcspn(k, ",");
        k += *k == ',';
    }
    strcpy(buf, spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            snprintf(err, errlen, "'%s' is not KEY=VALUE", tok);
            return -1;
        }
        *eq = '\0';
        const char *key = tok, *val = eq + 1;
        int bad = 0;
        if (!strcasecmp(key, "U")) {
            bad = parse_double(val, 0, LOAD_U_MAX, &l->u);
        } else if (!strcasecmp(key, "I")) {
            bad = parse_double(val, -LOAD_I_MAX, LOAD_I_MAX, &l->i);
            if (!bad && l->i < 0) {
                l->i = -l->i;
                export = true;
            }
        } else if (!strcasecmp(key, "F")) {
            bad = parse_double(val, 40, 70, &l->f);
        } else if (!strcasecmp(key, "PF")) {
            char num[32];
            size_t n = strlen(val);
            if (n > 0 && n < sizeof num) {
                strcpy(num, val);
                char last = num[n - 1];
                if (last == 'C' || last == 'c' || last == 'L' || last == 'l') {
                    capacitive = last == 'C' || last == 'c';
                    num[n - 1] = '\0';
                }
                bad = parse_double(num, -1, 1, &pf);
                /* a negative PF exports, as in a scenario's m:load{} */
                pf_export = !bad && pf < 0;
            } else {
                bad = -1;
            }
        } else if (!strcasecmp(key, "DIR")) {
            if (!strcasecmp(val, "export"))
                export = true;
            else if (!strcasecmp(val, "import"))
                export = false, dir_import = true;
            else
                bad = -1;
        } else {
            snprintf(err, errlen, "unknown key '%s' (U, I, PF, F, DIR)", key);
            return -1;
        }
        if (bad) {
            static const char *const ranges =
                "U 0..500 V, I -100..100 A, PF -1..1 with optional L or C, "
                "F 40..70 Hz, DIR import or export";
            snprintf(err, errlen, "bad value '%s' for %s (%s)", val, key,
                     ranges);
            return -1;
        }
    }
    if (pf_export && dir_import) {
        snprintf(err, errlen, "DIR=import and a negative PF contradict "
                 "each other");
        return -1;
    }
    l->phi = load_phi(pf, capacitive, export || pf_export);
    return 0;
}

void load_apply(const struct load *l, bool relay_closed,
                struct wave_config *wc)
{
    struct wave_channel *v = &wc->ch[WAVE_V], *i = &wc->ch[WAVE_I];
    double cur = relay_closed ? l->i : 0.0;

    wc->f = l->f;
    wave_set_sine(v, l->u, 0.0);
    wave_set_sine(i, cur, -l->phi);
    for (unsigned k = 0; k < l->nharm; k++) {
        const struct load_harmonic *h = &l->harm[k];
        if (h->v_pct > 0)
            wave_add_component(v, h->order, l->u * h->v_pct / 100, h->v_phase);
        if (h->i_pct > 0 && cur > 0)
            wave_add_component(i, h->order, cur * h->i_pct / 100,
                               h->i_phase - h->order * l->phi);
    }
    v->noise_rms = l->v_noise;
    i->noise_rms = relay_closed ? l->i_noise : 0.0;
}
