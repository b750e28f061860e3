/*
 * What the core costs on the target, run under QEMU's mps2-an386 with
 * -icount shift=0 (one instruction = 1 ns of virtual time) by
 * scripts/firmware-test:
 *
 *   - instructions per ADC sample through meter_feed (blocks of 64, as a
 *     DMA half-buffer would bring them, window closes included) and per
 *     meter_tick (the RTC second), counted with SysTick, which QEMU clocks
 *     at 25 MHz of virtual time, calibrated against a loop of known length;
 *   - the deepest stack any entry point of the board contract needs
 *     (meter.h), measured by painting the stack and finding the lowest
 *     word that changed;
 *   - sizeof(struct meter), one meter's whole state.
 *
 * It prints "key value" lines that scripts/firmware-test reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/meter.h"
#include "sim/engine/wave.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SYST_MASK 0xFFFFFFu

#define RATE 8000
#define BLOCK 64
#define SECONDS 4
#define PAINT 16384                 /* bytes of stack painted below us */

static int32_t v_buf[RATE], i_buf[RATE];
static struct meter meter;
static uint8_t image[METER_NV_MAX];

static void systick_start(void)
{
    SYST_RVR = SYST_MASK;
    SYST_CVR = 0;
    SYST_CSR = 5;                   /* enabled, processor clock, no IRQ */
}

/* SysTick counts down: ticks elapsed since an earlier reading */
static uint32_t ticks_since(uint32_t then)
{
    return (then - SYST_CVR) & SYST_MASK;
}

/* 2 instructions an iteration: subs, bne */
static void __attribute__((noinline)) spin(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) :: "cc");
}

/* Paint the stack below our frame, run the entry points, return the
 * depth they reached, bytes below the caller's stack pointer. */
static uint32_t __attribute__((noinline)) paint(void)
{
    volatile uint8_t area[PAINT];
    uint32_t sp = (uint32_t)(uintptr_t)area;

    memset((void *)area, 0xA5, sizeof area);
    return sp;
}

static uint32_t __attribute__((noinline)) high_water(uint32_t painted)
{
    const volatile uint32_t *w = (const volatile uint32_t *)painted;
    uint32_t sp;

    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (*w == 0xA5A5A5A5u)
        w++;
    return sp - (uint32_t)(uintptr_t)w;
}

/* Every entry point of meter.h, once, the way a board calls them. */
static void __attribute__((noinline)) contract(int64_t now)
{
    uint16_t regs[REGMAP_READ_MAX];
    struct lcd_frame frame;
    float f;
    int len;

    len = meter_nv_save(&meter, image, sizeof image);
    if (len > 0)
        meter_nv_restore(&meter, image, (size_t)len, now);
    meter_configure(&meter, meter_settings(&meter));
    meter_topup(&meter, 1000);
    meter_relay_command(&meter, true);
    meter_reset_max_demand(&meter);
    meter_set_time(&meter, now);
    for (int k = 0; k < 6; k++) {
        meter_key(&meter, (enum meter_key)(k % 3),
                  (enum meter_key_event)(k % 2), k * 100);
        meter_lcd_tick(&meter, k * 100);
        meter_lcd_frame(&meter, k * 100, &frame);
    }
    meter_lcd_comm(&meter, 700);
    for (uint16_t a = 0; a < 0x400; a += REGMAP_READ_MAX)
        meter_reg_read(&meter, a, REGMAP_READ_MAX, regs);
    regs[0] = 1;
    meter_reg_write(&meter, 0x1100, 1, regs, now);
    meter_reg_float(&meter, 0x0080, &f);
    meter_flush(&meter);
}

int main(void)
{
    struct wave_config wc;
    struct wave w;
    int64_t now = 1767225600;       /* 2026-01-01 00:00:00 */
    uint32_t t, calib, feed_ticks = 0, tick_ticks = 0, stack;
    uint64_t samples = 0;

    wave_config_default(&wc);       /* 230 V 50 Hz */
    wave_set_sine(&wc.ch[WAVE_I], 10.0, -30.0);
    wc.ch[WAVE_V].noise_rms = 0.05;
    wc.ch[WAVE_I].noise_rms = 0.002;
    if (wave_init(&w, &wc) != 0 || meter_init(&meter, NULL, NULL, now) != 0)
        return 1;

    systick_start();
    t = SYST_CVR;
    spin(1000000);
    calib = ticks_since(t);         /* 2 000 000 instructions */

    uint32_t painted = paint();
    for (int s = 0; s < SECONDS; s++) {
        wave_generate(&w, v_buf, i_buf, RATE);
        for (int k = 0; k < RATE; k += BLOCK) {
            t = SYST_CVR;
            meter_feed(&meter, v_buf + k, i_buf + k, BLOCK);
            feed_ticks += ticks_since(t);
            samples += BLOCK;
        }
        t = SYST_CVR;
        meter_tick(&meter, ++now);
        tick_ticks += ticks_since(t);
    }
    contract(now);
    stack = high_water(painted);

    double per_tick = 2000000.0 / calib;    /* instructions a tick */
    printf("insn_per_sample %.0f\n", feed_ticks * per_tick / samples);
    printf("insn_per_second_tick %.0f\n", tick_ticks * per_tick / SECONDS);
    printf("stack_bytes %lu\n", (unsigned long)stack);
    printf("meter_bytes %lu\n", (unsigned long)sizeof(struct meter));
    return 0;
}
