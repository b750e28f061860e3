/*
 * The host's additions to the board contract (meter.h): calls only a host
 * that runs the meter in accelerated virtual time needs, and the core's
 * helpers such a host shares.
 *
 * A board feeds every ADC sample (meter_feed) in real time. A simulator
 * running a month in seconds cannot: it measures part of each second
 * through the core (meter_feed_measure) or measures elsewhere
 * (meter_window), and has the core integrate the load so measured over
 * the rest (meter_integrate). The energy is the same for a steady load;
 * a board has no use for these and does not link them in.
 *
 * Helpers of the core that are also the host's: the calendar (rtc.h:
 * rtc_to_date, rtc_from_date, rtc_month_index, rtc_month_start,
 * rtc_month_days, RTC_MIN/RTC_MAX) for clock arithmetic that agrees with
 * the meter's own; the glass as text (segment.h: seg_row_text) for hosts
 * that show or check the LCD as characters; and the CRC-32 of the NV
 * image (crc32.h: crc32_update) for a host's own files.
 */
#ifndef CORE_METER_HOST_H
#define CORE_METER_HOST_H

#include "meter.h"
#include "crc32.h"

/* ADC samples measured only: windows update the held load, and the host
 * accounts the time itself with meter_integrate, which also makes the
 * 1 s averages (an accelerated host measures part of a second, then
 * integrates the whole second, so no window's energy waits for the next
 * measurement). Returns the samples consumed (always n). */
size_t meter_feed_measure(struct meter *m, const int32_t *v,
                          const int32_t *i, size_t n);

/* How close a window's frequency reference must be to its measured F for
 * its Q to count as settled, Hz (Q is then right to a few ppm of S). */
#define METER_SETTLE_HZ 0.002

/* Like meter_feed_measure, but stops right after the first window that
 * measured the load alone (*done = true): whole cycles measured at a
 * settled frequency reference, or a timeout for want of voltage. Returns
 * the samples consumed; with *done false, feed more. After a change of
 * load, meter_restart_measure then this until done holds the new load's
 * values exactly as a steady run of real samples reads them. */
size_t meter_measure_settle(struct meter *m, const int32_t *v,
                            const int32_t *i, size_t n, bool *done);

/* The analog signal changed at once (a new load, the relay): the
 * metrology window in progress is closed (account: its energy and its
 * time are accounted, as meter_flush; else its samples are dropped) and
 * the next starts on the new signal; this second's averages start afresh,
 * so the readings are of the new signal alone. */
void meter_restart_measure(struct meter *m, bool account);

/* The last measured load held for ms more milliseconds: its energy is
 * integrated as if windows had measured it. Accelerated hosts feed one
 * real window, then hold it for the rest of the step. */
void meter_integrate(struct meter *m, uint32_t ms);

/* One completed metrology window measured elsewhere (meter_feed calls
 * this for each of its own windows): its energy for its duration, and the
 * values meter_integrate will hold. */
void meter_window(struct meter *m, const struct metro_result *w);

/* The billing month being filled (rtc_month_index). In a settled
 * callback, the month that ended at t is previous (this - the month of t
 * + 1) in the history registers. */
int32_t meter_billing_month(const struct meter *m);
/* Seconds t .. t + n - 1 of the held load at once: the same state, to the
 * bit, as meter_tick(t + j) then meter_integrate(1000) for each j (energy,
 * pulses and their times, demand, averages), without the work a tick does
 * that cannot change anything within a minute (rate, settlement, relay).
 * Runs as many as it can: up to the end of the RTC's minute, one second
 * at a minute's start, none (0) when t is not the clock's next second or
 * prepaid or the over-power limit is on (tick those one by one). */
unsigned meter_run_seconds(struct meter *m, int64_t t, unsigned n);

/* The speed an accelerated host achieves, virtual s per real s, served at
 * REG_X_SIM_SPEED (not saved: 0 until the host says). */
void meter_set_sim_speed(struct meter *m, float speed);

/* Whether meter_run_seconds can run this meter's seconds: a load held,
 * prepaid and the over-power limit off, so no tick but one at a minute's
 * start can raise an event (a month end's settlement; the relay cannot
 * move). */
bool meter_quiet(const struct meter *m);

#endif
