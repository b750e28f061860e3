/*
 * kpm31c-sim: for now, the analog front end and metrology of one meter,
 * printing the measurements of a steady load once a second. The full
 * meter process (clock, Modbus, state) builds on this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrology.h"
#include "wave.h"

int main(int argc, char **argv)
{
    struct wave_config wc;
    struct metro_config mc;
    struct wave w;
    struct metro m;
    static int32_t v[8000], i[8000];

    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--version")) {
            puts("kpm31c-sim 0.1.0");
            return 0;
        }
    }
    wave_config_default(&wc);
    wave_set_sine(&wc.ch[WAVE_V], 230.0, 0.0);
    wave_set_sine(&wc.ch[WAVE_I], 5.0, -18.19);   /* PF 0.95 lagging */
    metro_config_default(&mc);
    if (wave_init(&w, &wc) || metro_init(&m, &mc))
        return 2;
    for (;;) {
        wave_generate(&w, v, i, wc.sample_rate);
        for (size_t off = 0; off < wc.sample_rate;) {
            struct metro_result r;
            off += metro_feed(&m, v + off, i + off, wc.sample_rate - off);
            if (metro_take(&m, &r) && r.seq % 5 == 0)
                printf("U %.2f V  I %.3f A  P %.1f W  Q %.1f var  S %.1f VA"
                       "  PF %.3f  F %.3f Hz\n", r.vrms, r.irms, r.p, r.q,
                       r.s, r.pf, r.f);
        }
        fflush(stdout);
        nanosleep(&(struct timespec){ .tv_sec = 1 }, NULL);
    }
}
