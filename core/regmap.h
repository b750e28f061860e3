/*
 * Internal to the core (hosts use meter_reg_read/write/float, meter.h).
 * The Modbus register image: the manual's map (sections 6.2, 6.3) and the
 * simulator's extension block at 0x1000.. (docs/registers.md).
 *
 * Addresses are 0-based PDU addresses, as in the manual. Every value is
 * read whole: a request that starts or ends inside a 2- or 4-register
 * value, or covers an unmapped register, gets exception 02. Floats are
 * float32 in the configured word order; integers are unsigned, high word
 * first, whatever the word order.
 */
#ifndef CORE_REGMAP_H
#define CORE_REGMAP_H

#include "meter.h"

int regmap_read(const struct meter *m, uint16_t addr, uint16_t count,
                uint16_t *out);
int regmap_write(struct meter *m, uint16_t addr, uint16_t count,
                 const uint16_t *in, int64_t now);
int regmap_float(const struct meter *m, uint16_t addr, float *out);

#endif
