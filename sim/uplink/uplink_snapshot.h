/*
 * What the uplink reports, read from the meter's register image (the one
 * source of truth every channel reads: MQTT shows the numbers Modbus
 * shows, float32 for float32).
 */
#ifndef SIM_UPLINK_SNAPSHOT_H
#define SIM_UPLINK_SNAPSHOT_H

#include "core/meter.h"
#include "sim/uplink/uplink_queue.h"

/* The telemetry values now. */
void uplink_snapshot_telemetry(const struct meter *m,
                               struct uplink_telemetry *t);

/* The month that ended at settled (00:00 on a 1st), read from the
 * history registers while the meter's clock is in the month that starts
 * at or after it (its settlement callback). */
void uplink_snapshot_billing(const struct meter *m, int64_t settled,
                             struct uplink_billing *b);

/* Register helpers: a u16/u32/u64 of the extension block (0 if not
 * readable), a float pair (0 if not readable). */
uint16_t uplink_reg_u16(const struct meter *m, uint16_t addr);
uint32_t uplink_reg_u32(const struct meter *m, uint16_t addr);
uint64_t uplink_reg_u64(const struct meter *m, uint16_t addr);
float uplink_reg_float(const struct meter *m, uint16_t addr);

#endif
