/*
 * The port contract between the meter firmware (core/) and its host.
 *
 * One struct meter holds one meter's whole firmware state; the caller owns
 * it (statically, on a board; in an array, in the simulator's fleet). The
 * core never allocates, never reads a clock and never prints: time comes in
 * as an argument, events go out through the callbacks of struct meter_port.
 *
 * Entry points, named after what firmware does:
 *   meter_init        power-on with factory settings
 *   meter_feed        ADC sample blocks in (metrology, then energy)
 *   meter_integrate   the last measured load held for a while (accelerated
 *                     hosts feed one window, then hold it)
 *   meter_tick        the RTC second: tariff, settlement, demand, prepaid,
 *                     register refresh
 *   meter_key         a front-panel key event (LCD menu)
 *   meter_reg_read / meter_reg_write   the Modbus register image
 *   meter_nv_save / meter_nv_restore   the non-volatile image
 *
 * Errors: negative CORE_E* codes (port.h). Register access returns 0 or a
 * Modbus exception code (METER_EX_*), which the protocol layer sends as is.
 */
#ifndef CORE_METER_H
#define CORE_METER_H

#include "port.h"
#include "metrology.h"

/* Modbus exception codes returned by register access. */
enum meter_exception {
    METER_EX_NONE = 0,
    METER_EX_ILLEGAL_FUNCTION = 1,
    METER_EX_ILLEGAL_ADDRESS = 2,
    METER_EX_ILLEGAL_VALUE = 3,
    METER_EX_DEVICE_FAILURE = 4,
};

/* What the core tells its host. Any callback may be NULL. */
struct meter_port {
    void *ctx;
    /* one pulse of the 1600 imp/kWh output; count is the running total,
     * t_ms the virtual time of the pulse in ms since 1970-01-01 UTC */
    void (*pulse)(void *ctx, uint64_t count, int64_t t_ms);
    /* the relay changed: the host applies it to the load */
    void (*relay)(void *ctx, bool closed);
    /* a monthly settlement was applied for the month that ended at t */
    void (*settled)(void *ctx, int64_t t);
};

/* Word order of float32 registers (high word first = ABCD). */
enum meter_word_order {
    METER_ABCD = 0,         /* big-endian words, big-endian bytes */
    METER_CDAB = 1,         /* low word first */
    METER_BADC = 2,         /* bytes swapped in each word */
    METER_DCBA = 3,         /* fully little-endian */
};

enum meter_parity { METER_PARITY_NONE = 0, METER_PARITY_ODD = 1,
                    METER_PARITY_EVEN = 2 };

/* 4g_M: Debug = no uplink (set-up), Mqtt = uplink on. */
enum meter_uplink { METER_UPLINK_DEBUG = 0, METER_UPLINK_MQTT = 1 };

/* The measurements as displayed and served: refreshed once a second
 * from the windows of that second. */
struct meter_measure {
    float u;                /* V */
    float i;                /* A */
    float p;                /* W, > 0 import */
    float q;                /* var, > 0 quadrants I and II */
    float s;                /* VA */
    float pf;               /* sign of P */
    float f;                /* Hz, 0 without voltage */
    float demand;           /* VA, sliding-window apparent demand */
};

/* Communication and mode settings the host applies (read-only to it:
 * changes go through register writes or keys, so every channel sees them). */
struct meter_comm {
    uint8_t slave;          /* Modbus address, 1..247 */
    uint16_t baud;          /* 1200, 2400, 4800, 9600 */
    uint8_t parity;         /* enum meter_parity */
    uint8_t word_order;     /* enum meter_word_order */
    uint8_t uplink;         /* enum meter_uplink */
};

/*
 * struct meter: one meter's whole firmware state, defined here so that a
 * board can allocate it statically. Hosts use only the functions below.
 */
struct meter;

/* Power on with factory settings. front_end: the ADC scales and
 * calibration (metro_config_default() for the emulated front end); now:
 * virtual time, s since 1970-01-01 UTC, loaded into the RTC. */
int meter_init(struct meter *m, const struct metro_config *front_end,
               const struct meter_port *port, int64_t now);

/* ADC samples in: metrology, and each completed window's energy for the
 * window's own duration. Returns the samples consumed (always n). */
size_t meter_feed(struct meter *m, const int32_t *v, const int32_t *i,
                  size_t n);

/* The last measured load held for ms more milliseconds: its energy is
 * integrated as if windows had measured it. Accelerated hosts feed one
 * real window, then hold it for the rest of the step. */
void meter_integrate(struct meter *m, uint32_t ms);

/* The RTC second: call with each virtual second, in order. Applies the
 * tariff rate of that second, settlements due (catching up after a gap),
 * demand, prepaid decisions, and refreshes measurements and registers. */
int meter_tick(struct meter *m, int64_t now);

/* Set the RTC as a user would (forward or backward). */
int meter_set_time(struct meter *m, int64_t now);

/* The 1 s measurements, the communication settings, the relay state and
 * the pulse output count, as the firmware currently has them. */
const struct meter_measure *meter_measure(const struct meter *m);
const struct meter_comm *meter_comm(const struct meter *m);
bool meter_relay_closed(const struct meter *m);
uint64_t meter_pulse_count(const struct meter *m);

/* Modbus holding registers. Return 0 or a METER_EX_* code. Reads encode
 * float32 values in the configured word order. */
int meter_reg_read(const struct meter *m, uint16_t addr, uint16_t count,
                   uint16_t *out);
int meter_reg_write(struct meter *m, uint16_t addr, uint16_t count,
                    const uint16_t *in, int64_t now);

/* One float32 register pair's value, whatever the word order: for hosts
 * that report values (JSON dump, MQTT). 0 or a METER_EX_* code. */
int meter_reg_float(const struct meter *m, uint16_t addr, float *out);

/* Upper bound of the non-volatile image's size, bytes. */
#define METER_NV_MAX 4096

/* Serialize the non-volatile image (versioned, CRC-protected). Returns its
 * length, or CORE_ENOSPC. */
int meter_nv_save(const struct meter *m, uint8_t *buf, size_t cap);

/* Restore an image saved by meter_nv_save. A truncated, corrupt or foreign
 * image returns CORE_EBADMSG or CORE_EVERSION and leaves *m unchanged.
 * now: the RTC time to resume at (settlements missed meanwhile apply). */
int meter_nv_restore(struct meter *m, const uint8_t *buf, size_t len,
                     int64_t now);

#endif
