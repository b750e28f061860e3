/*
 * The board contract of the KPM31C meter firmware (core/): what a board
 * (or a host standing in for one) calls, when, and what it must supply.
 *
 * One struct meter holds one meter's whole firmware state; the board owns
 * it (statically on a board, in an array in the simulator's fleet). The
 * core never allocates, never reads a clock and never prints: time comes
 * in as an argument, events go out through the callbacks of struct
 * meter_port, which the board supplies at meter_init.
 *
 * What a board calls, from where, and how often:
 *
 *   meter_init           once at power-on (factory settings), then
 *   meter_nv_restore     the saved image, if the board has one
 *   meter_feed           from the ADC interrupt or DMA-complete handler:
 *                        each block of simultaneous V and I samples (any
 *                        block size; 8000 samples/s per channel by
 *                        default, metro_config.sample_rate)
 *   meter_tick           from the RTC's 1 Hz interrupt: each second, in
 *                        order (tariff, settlement, demand, prepaid,
 *                        1 s measurements)
 *   meter_key            from the key driver: each debounced press and
 *                        release, with its ms tick counter
 *   meter_lcd_tick       from the display refresh (10 Hz or more), then
 *   meter_lcd_frame      what to latch into the LCD controller
 *   meter_lcd_comm       when a Modbus frame to this meter was answered
 *   meter_reg_read       the Modbus stack's FC03 handler
 *   meter_reg_write      its FC06 / FC16 handler
 *   meter_nv_save        when settings_changed said so, and periodically
 *                        (energy checkpoint) and at power-fail
 *   meter_flush          at power-fail, before the last meter_nv_save
 *
 * All calls for one meter come from one context at a time: a board that
 * feeds from an interrupt defers the rest to its main loop, or masks the
 * ADC interrupt around them.
 *
 * Errors: 0 is success, negative CORE_E* codes (enum core_err, port.h)
 * are errors, positive values are counts. Register access returns 0 or a
 * Modbus exception code (enum meter_exception) that the Modbus stack
 * sends as it is.
 *
 * Hosts that accelerate time (the simulator) have a few more calls in
 * meter_host.h; the other headers of core/ are the core's own (their
 * types appear here so that struct meter can be allocated statically;
 * their functions are not part of the contract).
 */
#ifndef CORE_METER_H
#define CORE_METER_H

#include "port.h"
#include "registers.h"      /* the register map and the meter's limits */
#include "metrology.h"      /* struct metro_config: the ADC front end */
#include "rtc.h"
#include "settings.h"       /* struct meter_settings: the set-up */
#include "energy.h"
#include "billing.h"
#include "demand.h"
#include "pulse.h"
#include "prepaid.h"
#include "lcd.h"            /* struct lcd_frame, enum meter_key */

/* Modbus exception codes returned by register access. */
enum meter_exception {
    METER_EX_NONE = 0,
    METER_EX_ILLEGAL_FUNCTION = 1,
    METER_EX_ILLEGAL_ADDRESS = 2,
    METER_EX_ILLEGAL_VALUE = 3,
    METER_EX_DEVICE_FAILURE = 4,
};

/*
 * What the board supplies: the core's callbacks, each called on the
 * context of the entry point that caused it. Any may be NULL. They must
 * not call back into the meter's entry points.
 */
struct meter_port {
    /* passed back as the first argument of every callback */
    void *ctx;
    /* one pulse of the 1600 imp/kWh output (the board drives its LED or
     * opto-coupler); count: the running total; t_ms: the pulse's time, ms
     * since 1970-01-01 on the meter's clock. From meter_feed / meter_tick. */
    void (*pulse)(void *ctx, uint64_t count, int64_t t_ms);
    /* the relay must change: the board drives the latching relay (closed:
     * the load is connected). From any call that changes the prepaid
     * decision (meter_tick, meter_reg_write, meter_key, the commands). */
    void (*relay)(void *ctx, bool closed);
    /* a monthly settlement was applied for the month that ended at t
     * (s since 1970-01-01); from meter_tick, meter_set_time,
     * meter_nv_restore (months missed while off). After more than 12 at
     * once: the measured month's, then the 12 latest (billing.h). */
    void (*settled)(void *ctx, int64_t t);
    /* a command changed what the NV image keeps: a setting, the clock,
     * the prepaid credit, the relay command or the maximum demand cleared.
     * Called once per accepted command, after it is fully installed, from
     * meter_reg_write, meter_key (the set-up menu), meter_configure,
     * meter_set_time, meter_topup, meter_set_credit, meter_relay_command
     * and meter_reset_max_demand; never for reads, for refused commands,
     * or for metering (energy, credit used, demand, settlements), which
     * the board checkpoints periodically. The board saves the NV image
     * (meter_nv_save) and re-reads what it applies itself (its Modbus
     * address, baud and parity, the 4G uplink mode). */
    void (*settings_changed)(void *ctx);
};

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

/* The last window's values: meter_integrate (meter_host.h) holds them. */
struct meter_hold {
    double u, i;            /* V, A */
    double p, q, s;         /* W, var, VA */
    double f;               /* Hz, 0 when the window was not synchronized */
    bool valid;             /* a window has been measured */
};

/* The second in progress: value x ms sums for the 1 s averages. */
struct meter_second {
    double ms;              /* ms measured this second */
    double u, i, p, q, s;   /* sums of value x ms */
    double f_ms;            /* ms of synchronized windows */
    double f;               /* sum of f x ms over those */
};

/*
 * struct meter: one meter's whole firmware state, defined here so that a
 * board can allocate it statically. Hosts use only the functions below;
 * the fields belong to the core.
 */
struct meter {
    struct meter_port port;         /* the host's callbacks */
    struct metro metro;             /* metrology of the ADC blocks */
    struct meter_settings set;      /* set-up, persistent */
    struct rtc rtc;                 /* the current second */
    uint32_t serial;                /* serial number, persistent */
    uint8_t rate;                   /* tariff rate of the current second */
    bool relay_closed;              /* the relay state last reported */
    double sub_ms;                  /* ms measured since the last tick */
    struct meter_hold hold;         /* the last window, for integrate */
    struct meter_second sec;        /* this second's sums */
    struct meter_measure meas;      /* the last second's values */
    struct energy energy;           /* lifetime 4-quadrant energies */
    struct billing billing;         /* this month's start and history */
    struct demand demand;           /* apparent demand and its maxima */
    struct pulse pulse;             /* the pulse output */
    struct prepaid prepaid;         /* credit and relay reasons */
    uint32_t prog_count;            /* successful register writes */
    int64_t prog_time;              /* time of the last one, s */
    float sim_speed;                /* the host's achieved speed, 0 none
                                       (meter_host.h) */
    struct lcd lcd;                 /* the front panel's menu, volatile */
};

/* Power on with factory settings. front_end: the ADC scales and
 * calibration (metro_config_default() for the emulated front end; NULL
 * means that); port: the callbacks (NULL: none); now: the RTC, s since
 * 1970-01-01 on the meter's civil clock (CORE_ERANGE outside
 * RTC_MIN..RTC_MAX, 1970..2099). */
int meter_init(struct meter *m, const struct metro_config *front_end,
               const struct meter_port *port, int64_t now);

/* The serial number (served in the extension block): from the board's
 * factory data, after meter_init (a restored image carries its own). */
void meter_set_serial(struct meter *m, uint32_t serial);

/* ---- The ADC: sample blocks ---- */

/* ADC samples in, v[k] and i[k] taken at the same instant, signed 24-bit
 * codes: metrology, and each completed window's energy for the window's
 * own duration. Returns the samples consumed (always n). */
size_t meter_feed(struct meter *m, const int32_t *v, const int32_t *i,
                  size_t n);

/* Close the metrology window in progress and account it, so that no
 * sample's energy is left behind: at power-fail, before the last
 * meter_nv_save. */
void meter_flush(struct meter *m);

/* ---- The RTC ---- */

/* The RTC second: call with each second, in order. Applies the tariff
 * rate of that second, settlements due (catching up after a gap), demand,
 * prepaid decisions, and refreshes measurements and registers.
 * CORE_ERANGE outside RTC_MIN..RTC_MAX. */
int meter_tick(struct meter *m, int64_t now);

/* Set the RTC as a user would (forward or backward); settings_changed. */
int meter_set_time(struct meter *m, int64_t now);

/* The RTC: the current second, s since 1970-01-01 (the meter's civil
 * time, no zone). */
int64_t meter_time(const struct meter *m);

/* ---- The front panel: keys and LCD (lcd.h, docs/lcd.md) ---- */

/* A key went down or came up; now_ms: the key driver's tick counter (ms,
 * any epoch, monotonic; not the RTC). Applies lcd timers due first.
 * Returns 1 when a setting or the clock was changed (settings_changed was
 * called), 0 otherwise, CORE_EINVAL for an unknown key or event. */
int meter_key(struct meter *m, enum meter_key key, enum meter_key_event ev,
              int64_t now_ms);

/* The menu's timers at now_ms (same counter as meter_key): the long press
 * of a held ←, the end of "Err", the 30 s return to the measurement
 * display. Call it at the display's refresh rate (10 Hz or more). Returns
 * 1 when the page changed. */
int meter_lcd_tick(struct meter *m, int64_t now_ms);

/* What the glass shows at now_ms (blinking and the communication icon
 * depend on it). */
void meter_lcd_frame(const struct meter *m, int64_t now_ms,
                     struct lcd_frame *out);

/* A Modbus frame addressed to this meter was answered at now_ms: the
 * communication icon shows for LCD_COMM_MS. */
void meter_lcd_comm(struct meter *m, int64_t now_ms);

/* ---- Registers (registers.h, docs/registers.md) ---- */

/* Modbus holding registers, at most REGMAP_READ_MAX / REGMAP_WRITE_MAX a
 * request. Return 0 or a METER_EX_* code. Reads encode float32 values in
 * the configured word order. A write changes everything it names or
 * nothing; an accepted one calls settings_changed. now: the time to stamp
 * it with (s since 1970-01-01). */
int meter_reg_read(const struct meter *m, uint16_t addr, uint16_t count,
                   uint16_t *out);
int meter_reg_write(struct meter *m, uint16_t addr, uint16_t count,
                    const uint16_t *in, int64_t now);

/* One float32 register pair's value, whatever the word order: for
 * reporting values (a display, a JSON dump, an uplink). 0 or a METER_EX_*
 * code. */
int meter_reg_float(const struct meter *m, uint16_t addr, float *out);

/* ---- Readings ---- */

/* The 1 s measurements, the communication settings, the relay state, the
 * pulse output count and the tariff rate (1..4, enum tariff_rate) of the
 * current second, as the firmware currently has them. */
const struct meter_measure *meter_measure(const struct meter *m);
const struct meter_comm *meter_comm(const struct meter *m);
bool meter_relay_closed(const struct meter *m);
uint64_t meter_pulse_count(const struct meter *m);
unsigned meter_rate(const struct meter *m);

/* Why the relay is open: enum prepaid_reason bits, 0 when closed. */
unsigned meter_relay_reasons(const struct meter *m);

/* The prepaid credit left, Wh. */
uint32_t meter_credit_wh(const struct meter *m);

/* ---- Commands (the same as register writes, for other channels: a 4G
 * uplink, a service port). Each calls settings_changed when accepted. ---- */

/* The whole set-up, and installing a new one (checked as a whole:
 * CORE_EINVAL and nothing changes if any field is bad). Changes take
 * effect at once, as register writes do. */
const struct meter_settings *meter_settings(const struct meter *m);
int meter_configure(struct meter *m, const struct meter_settings *s);

/* Prepaid: add credit, or set it, in Wh (CORE_ERANGE beyond
 * PREPAID_CREDIT_MAX_WH, nothing changes); the relay follows at once. */
int meter_topup(struct meter *m, uint32_t wh);
int meter_set_credit(struct meter *m, uint32_t wh);

/* Remote relay command. A close is refused (CORE_ERANGE) while prepaid
 * credit is used up. */
int meter_relay_command(struct meter *m, bool close);

/* Clear the maximum demand of this month. */
void meter_reset_max_demand(struct meter *m);

/* ---- The non-volatile image ---- */

/* Upper bound of the non-volatile image's size, bytes. */
#define METER_NV_MAX 4096

/* Serialize the non-volatile image (versioned, CRC-protected) into the
 * board's buffer, to write to its flash or EEPROM. Returns its length, or
 * CORE_ENOSPC. */
int meter_nv_save(const struct meter *m, uint8_t *buf, size_t cap);

/* Restore an image saved by meter_nv_save. A truncated, corrupt or foreign
 * image returns CORE_EBADMSG or CORE_EVERSION and leaves *m unchanged.
 * now: the RTC time to resume at (settlements missed meanwhile apply). */
int meter_nv_restore(struct meter *m, const uint8_t *buf, size_t len,
                     int64_t now);

#endif
