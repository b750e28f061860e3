/*
 * Throughput of the metrology core, alone and behind the synthesizer, on
 * one core. Prints sample pairs per second; see docs/performance.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/metrology.h"
#include "sim/engine/wave.h"

#define BLOCK 8000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void load(struct wave_config *wc, int harmonics)
{
    wave_config_default(wc);
    wave_set_sine(&wc->ch[WAVE_V], 230.0, 0.0);
    wave_set_sine(&wc->ch[WAVE_I], 10.0, -30.0);
    if (harmonics) {
        wave_add_component(&wc->ch[WAVE_V], 3, 8, -70);
        wave_add_component(&wc->ch[WAVE_V], 5, 15, 140);
        wave_add_component(&wc->ch[WAVE_I], 3, 2, -165);
        wave_add_component(&wc->ch[WAVE_I], 5, 1.5, 234);
    }
}

static size_t feed_all(struct metro *m, const int32_t *v, const int32_t *i,
                       size_t n, double *sink)
{
    size_t windows = 0;
    for (size_t off = 0; off < n;) {
        struct metro_result r;
        off += metro_feed(m, v + off, i + off, n - off);
        if (metro_take(m, &r)) {
            *sink += r.p;
            windows++;
        }
    }
    return windows;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    static int32_t v[BLOCK * 10], i[BLOCK * 10];
    struct wave_config wc;
    struct metro_config mc;
    struct wave w;
    struct metro m;
    double sink = 0;

    metro_config_default(&mc);
    for (int h = 0; h < 2; h++) {
        load(&wc, h);
        wave_init(&w, &wc);
        wave_generate(&w, v, i, BLOCK * 10);

        /* core alone: the same ten seconds of signal, over and over */
        metro_init(&m, &mc);
        size_t pairs = 0;
        double t0 = now(), t;
        do {
            feed_all(&m, v, i, BLOCK * 10, &sink);
            pairs += BLOCK * 10;
        } while ((t = now() - t0) < seconds);
        printf("core alone%s: %.1f M pairs/s\n",
               h ? " (4 harmonics)" : "", pairs / t / 1e6);

        /* synthesizer feeding the core block by block */
        metro_init(&m, &mc);
        pairs = 0;
        t0 = now();
        do {
            wave_generate(&w, v, i, BLOCK);
            feed_all(&m, v, i, BLOCK, &sink);
            pairs += BLOCK;
        } while ((t = now() - t0) < seconds);
        printf("synthesizer + core%s: %.1f M pairs/s\n",
               h ? " (4 harmonics)" : "", pairs / t / 1e6);
    }
    return sink == 12345.678;   /* keep the work observable */
}
