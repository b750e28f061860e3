/*
 * A bare-metal image that links the firmware core the way a board would:
 * every entry point reachable, no C library beyond libm, no OS. It never
 * runs; scripts/firmware links it to measure flash and RAM and to prove
 * the core pulls in no heap, no stdio and no system calls.
 */
#include "core/meter.h"

static struct meter meter;          /* one meter, allocated statically */
static int32_t v_block[64], i_block[64];
static uint16_t regs[125];
static uint8_t image[METER_NV_MAX];
static struct lcd_frame frame;      /* what the LCD driver would latch */
volatile double probe_sink;
volatile int probe_err;

static void on_pulse(void *ctx, uint64_t count, int64_t t_ms)
{
    probe_sink = (double)count + (double)t_ms;
}

static void on_relay(void *ctx, bool closed)
{
    probe_err = closed;
}

static void on_settled(void *ctx, int64_t t)
{
    probe_sink = (double)t;
}

static void on_settings_changed(void *ctx)
{
    probe_err = 1;          /* a board would save the NV image soon */
}

void probe_main(void);

void probe_main(void)
{
    static const struct meter_port port = {
        .pulse = on_pulse, .relay = on_relay, .settled = on_settled,
        .settings_changed = on_settings_changed,
    };
    struct metro_config cfg;
    struct meter_settings set;
    int64_t now = 1767225600;       /* 2026-01-01 00:00:00 */
    float f;
    int len;

    metro_config_default(&cfg);
    if (meter_init(&meter, &cfg, &port, now))
        return;
    len = meter_nv_save(&meter, image, sizeof image);
    if (len > 0)
        probe_err = meter_nv_restore(&meter, image, (size_t)len, now);
    set = *meter_settings(&meter);
    probe_err = meter_configure(&meter, &set);
    meter_set_serial(&meter, 31000001);
    probe_err = meter_topup(&meter, 1000) + meter_set_credit(&meter, 10);
    probe_err = meter_relay_command(&meter, true);
    meter_reset_max_demand(&meter);
    probe_err = meter_set_time(&meter, now);
    for (int64_t tick_ms = 0;; tick_ms += 100) {
        /* the key driver and the LCD refresh, on the board's ms tick */
        probe_err = meter_key(&meter, (enum meter_key)(tick_ms / 100 % 3),
                              (enum meter_key_event)(tick_ms / 100 % 2),
                              tick_ms);
        probe_err = meter_lcd_tick(&meter, tick_ms);
        meter_lcd_comm(&meter, tick_ms);
        meter_lcd_frame(&meter, tick_ms, &frame);
        probe_sink = frame.digit[0] + frame.icons;
        meter_feed(&meter, v_block, i_block, 64);
        meter_flush(&meter);
        probe_err = meter_tick(&meter, ++now);
        probe_err = meter_reg_read(&meter, 0x0030, 14, regs);
        probe_err = meter_reg_write(&meter, 0x1100, 1, regs, now);
        probe_err = meter_reg_float(&meter, 0x0080, &f);
        probe_sink = (double)(f + meter_measure(&meter)->p) +
                     (double)meter_pulse_count(&meter) +
                     (double)meter_time(&meter) + meter_rate(&meter) +
                     meter_credit_wh(&meter) + meter_relay_reasons(&meter) +
                     meter_comm(&meter)->slave + meter_relay_closed(&meter);
    }
}

/* The reset vector would call probe_main. */
void Reset_Handler(void);
void Reset_Handler(void)
{
    probe_main();
}
