/* A fleet for the fuzz targets (fuzz_fleet.h). */
#include <stdio.h>
#include <stdlib.h>

#include "sim/ports/ports.h"
#include "tests/fuzz/fuzz_fleet.h"

static void quiet(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

struct fuzz_fleet *fuzz_fleet(void)
{
    static struct fuzz_fleet f;
    static bool ready;
    struct load load = { .u = 230, .i = 5, .phi = 30, .f = 50 };
    char err[256];

    if (ready)
        return &f;
    if (engine_init(&f.engine, 3, NULL, 1767225600, ENGINE_FAST, &load, 1, NULL,
                    err, sizeof err) < 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    engine_advance(&f.engine, 1767225600LL * 1000 + 5000, 100);
    struct sim_options o = { 0 };   /* addresses 1, 2, 3 as the binary's */
    if (ports_configure_meters(&f.engine, &o, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    bus_ops_init(&f.ops, &f.bus, &f.engine);
    f.ops.log = quiet;
    bus_refresh(&f.bus);
    ready = true;
    return &f;
}
