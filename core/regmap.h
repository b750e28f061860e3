/*
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

#define REGMAP_READ_MAX 125     /* registers per FC03 request */
#define REGMAP_WRITE_MAX 123    /* registers per FC16 request */

/* The extension block (simulator-only parameters and information). */
#define REG_X_MAP_VERSION   0x1000  /* u16 RO layout version of this block */
#define REG_X_FW_VERSION    0x1001  /* u16 RO firmware version, 0x0100 = 1.00 */
#define REG_X_SERIAL        0x1002  /* u32 RO serial number */
#define REG_X_PULSES        0x1004  /* u64 RO pulse output count */
#define REG_X_RATE          0x1008  /* u16 RO rate now, 1..4 */
#define REG_X_ZONE          0x1009  /* u16 RO time zone now, 1..4 */
#define REG_X_STATUS        0x100A  /* u16 RO bit0 relay closed, bit1 low credit */
#define REG_X_REASONS       0x100B  /* u16 RO relay open reasons, prepaid.h */
#define REG_X_MD            0x100C  /* f32 RO max demand this month, VA */
#define REG_X_MD_TIME       0x100E  /* u32 RO its time, s since 1970, 0 none */
#define REG_X_PREV_MD       0x1010  /* f32 RO max demand last month, VA */
#define REG_X_PREV_MD_TIME  0x1012  /* u32 RO its time */
#define REG_X_CREDIT_KWH    0x1014  /* f32 RO credit, kWh */
#define REG_X_MONTH_ACT     0x1016  /* f32 RO combined active this month, kWh */
#define REG_X_MONTH_REACT   0x1018  /* f32 RO combined reactive this month, kvarh */
#define REG_X_QUADRANT      0x101A  /* f32 x4 RO reactive QI..QIV, kvarh */
#define REG_X_PROG_COUNT    0x1022  /* u32 RO successful register writes */
#define REG_X_PROG_TIME     0x1024  /* u32 RO time of the last one */

#define REG_X_SLAVE         0x1100  /* u16 RW 1..247 */
#define REG_X_BAUD          0x1101  /* u16 RW 1200, 2400, 4800, 9600 */
#define REG_X_PARITY        0x1102  /* u16 RW 0 none, 1 odd, 2 even */
#define REG_X_WORD_ORDER    0x1103  /* u16 RW 0 ABCD, 1 CDAB, 2 BADC, 3 DCBA */
#define REG_X_UPLINK        0x1104  /* u16 RW 4g_M: 0 Debug, 1 Mqtt */
#define REG_X_PASSWORD      0x1105  /* u16 RW 0..9999 */
#define REG_X_COMB_ACT      0x1106  /* u16 RW active combination word */
#define REG_X_COMB_REACT    0x1107  /* u16 RW reactive combination word */

#define REG_X_YEAR          0x1110  /* u16 RW x6 year, month, day, h, min, s */
#define REG_X_WEEKDAY       0x1116  /* u16 RO 0 = Sunday */
#define REG_X_EPOCH         0x1117  /* u32 RW s since 1970 */

#define REG_X_DEM_PERIOD    0x1120  /* u16 RW demand period, min */
#define REG_X_DEM_SLIDE     0x1121  /* u16 RW demand slide, min */
#define REG_X_MD_RESET      0x1122  /* u16 RW write 1: clear max demand */

#define REG_X_PREPAID       0x1130  /* u16 RW prepaid 0 off, 1 on */
#define REG_X_RELAY         0x1131  /* u16 RW read 1 closed; write 0 open, 1 close */
#define REG_X_CREDIT        0x1132  /* u32 RW credit, Wh (write sets) */
#define REG_X_TOPUP         0x1134  /* u32 RW write adds credit, Wh; reads 0 */
#define REG_X_ALARM         0x1136  /* u32 RW low-credit alarm level, Wh */
#define REG_X_LIMIT         0x1138  /* u32 RW over-power limit, W, 0 off */
#define REG_X_DELAY         0x113A  /* u16 RW over-power delay, s */

#define REG_X_NZONES        0x1200  /* u16 RW zones in use, 1..4 */
#define REG_X_ZONE_START    0x1201  /* u16 RW x4 zone start, month*100+day */
#define REG_X_ZONE_TABLE    0x1205  /* per zone z, at 0x1205 + 17 z: */
#define REG_X_ZONE_STRIDE   17      /*   +0 periods in use 1..8, then per  */
                                    /*   period k: +1+2k start hour*100+min, */
                                    /*   +2+2k rate 1..4 */
#define REG_X_TARIFF_END    0x1249  /* one past the last tariff register */

int regmap_read(const struct meter *m, uint16_t addr, uint16_t count,
                uint16_t *out);
int regmap_write(struct meter *m, uint16_t addr, uint16_t count,
                 const uint16_t *in, int64_t now);
int regmap_float(const struct meter *m, uint16_t addr, float *out);

#endif
