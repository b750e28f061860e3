/*
 * Internal to the core: the meter's state changes, shared by every path
 * that makes them (the host's calls in meter.c, register writes in
 * regmap.c, the LCD's parameter list in lcd_settings.c). Each applies its
 * own consequences (the tariff rate, the demand window, the relay), so no
 * caller relies on calling another afterwards.
 *
 * Layering: the leaf modules, then this, then meter.c, regmap.c and the
 * LCD; nothing here calls back up into them. None of these functions
 * tells the host (settings_changed): the entry point that took the
 * command calls control_changed once, after everything is installed.
 */
#ifndef CORE_CONTROL_H
#define CORE_CONTROL_H

#include "meter.h"

/* Power-on (or a restored image): the rate of the current second and the
 * relay as the prepaid state decides it. */
void control_start(struct meter *m);

/* The RTC moved to now: a tick (restart false), or the clock set or a
 * power-on (restart true: the demand window starts afresh). Demand,
 * settlements due, the new second's rate, the relay. */
void control_clock(struct meter *m, int64_t now, bool restart);

/* Set the RTC as a user would. CORE_ERANGE outside RTC_MIN..RTC_MAX. */
int control_set_time(struct meter *m, int64_t now);

/* A new set-up and prepaid credit (mJ) installed together, then their
 * consequences once: the rate, the demand window if its timing changed,
 * the relay. CORE_EINVAL for a bad set-up, CORE_ERANGE for a credit
 * outside 0..PREPAID_CREDIT_MAX_MJ; either way nothing changes. */
int control_install(struct meter *m, const struct meter_settings *s,
                    int64_t credit_mj);

/* control_install with the credit as it is. */
int control_configure(struct meter *m, const struct meter_settings *s);

/* Add credit, or set it, Wh (CORE_ERANGE beyond PREPAID_CREDIT_MAX_WH);
 * the relay follows. */
int control_topup(struct meter *m, uint32_t wh);
int control_set_credit(struct meter *m, uint32_t wh);

/* Remote relay command (CORE_ERANGE: a close refused, no credit). */
int control_relay_command(struct meter *m, bool close);

/* Clear this month's maximum demand. */
void control_reset_max_demand(struct meter *m);

/* A command changed settings, credit, relay command or clock: tell the
 * host (struct meter_port.settings_changed). */
void control_changed(struct meter *m);

#endif
