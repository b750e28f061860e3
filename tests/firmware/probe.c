/*
 * A bare-metal image that links the firmware core the way a board would:
 * every entry point reachable, no C library beyond libm, no OS. It never
 * runs; scripts/firmware links it to measure flash and RAM and to prove
 * the core pulls in no heap, no stdio and no system calls.
 */
#include "metrology.h"

static struct metro metro;
static int32_t v_block[64], i_block[64];
volatile double probe_sink;

void probe_main(void);

void probe_main(void)
{
    struct metro_config cfg;
    struct metro_result r;

    metro_config_default(&cfg);
    if (metro_init(&metro, &cfg))
        return;
    for (;;) {
        metro_feed(&metro, v_block, i_block, 64);
        if (metro_take(&metro, &r))
            probe_sink = r.p;
    }
}

/* The reset vector would call probe_main. */
void Reset_Handler(void);
void Reset_Handler(void)
{
    probe_main();
}
