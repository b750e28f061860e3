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
 *   meter_feed_measure  the same, measurement only (accelerated hosts)
 *   meter_flush       the window in progress closed and accounted
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
#include "rtc.h"
#include "settings.h"
#include "energy.h"
#include "billing.h"
#include "demand.h"
#include "pulse.h"
#include "prepaid.h"
#include "lcd.h"
#include "registers.h"

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

/* The last window's values: meter_integrate holds them. */
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
    struct lcd lcd;                 /* the front panel's menu, volatile */
};

/* Power on with factory settings. front_end: the ADC scales and
 * calibration (metro_config_default() for the emulated front end; NULL
 * means that); port: the callbacks (NULL: none); now: virtual time, s
 * since 1970-01-01 UTC, loaded into the RTC (CORE_ERANGE outside
 * RTC_MIN..RTC_MAX, 1970..2099). */
int meter_init(struct meter *m, const struct metro_config *front_end,
               const struct meter_port *port, int64_t now);

/* ADC samples in: metrology, and each completed window's energy for the
 * window's own duration. Returns the samples consumed (always n). */
size_t meter_feed(struct meter *m, const int32_t *v, const int32_t *i,
                  size_t n);

/* ADC samples measured only: windows update the held load and the 1 s
 * averages, and the host accounts the time itself with meter_integrate
 * (an accelerated host measures part of a second, then integrates the
 * whole second, so no window's energy waits for the next measurement). */
size_t meter_feed_measure(struct meter *m, const int32_t *v,
                          const int32_t *i, size_t n);

/* Close the metrology window in progress and account it, so that no
 * sample's energy is left behind: before a power-down or the end of a run
 * fed with meter_feed. */
void meter_flush(struct meter *m);

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

/* ---- Additions to the contract (issue 3) ---- */

/* The RTC: the current second, s since 1970-01-01 (the meter's civil
 * time, no zone). */
int64_t meter_time(const struct meter *m);

/* One completed metrology window measured elsewhere (meter_feed calls
 * this for each of its own windows): its energy for its duration, and the
 * values meter_integrate will hold. */
void meter_window(struct meter *m, const struct metro_result *w);

/* The tariff rate (1..4, enum tariff_rate) of the current second. */
unsigned meter_rate(const struct meter *m);

/* The whole set-up, and installing a new one (checked as a whole:
 * CORE_EINVAL and nothing changes if any field is bad). Changes take
 * effect at once, as register writes do. */
const struct meter_settings *meter_settings(const struct meter *m);
int meter_configure(struct meter *m, const struct meter_settings *s);

/* The serial number (served in the extension block; hosts set it). */
void meter_set_serial(struct meter *m, uint32_t serial);

/* Prepaid: add credit, or set it, in Wh (CORE_ERANGE beyond
 * PREPAID_CREDIT_MAX_WH); the credit left, Wh. */
int meter_topup(struct meter *m, uint32_t wh);
int meter_set_credit(struct meter *m, uint32_t wh);
uint32_t meter_credit_wh(const struct meter *m);

/* Remote relay command. A close is refused (CORE_ERANGE) while prepaid
 * credit is used up. */
int meter_relay_command(struct meter *m, bool close);

/* Why the relay is open: enum prepaid_reason bits, 0 when closed. */
unsigned meter_relay_reasons(const struct meter *m);

/* Clear the maximum demand of this month. */
void meter_reset_max_demand(struct meter *m);

/* ---- The front panel: LCD and keys (issue 6, lcd.h, docs/lcd.md) ---- */

/* A key went down or came up; now_ms: the key driver's tick counter (ms,
 * any epoch, monotonic; not the RTC). Applies lcd timers due first.
 * Returns 1 when a setting or the clock was changed (persist the NV image
 * now), 0 otherwise, CORE_EINVAL for an unknown key or event. */
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
