/*
 * The meter's register map and its limits: the one source of these facts
 * for the core, the host and the tests (docs/registers.md).
 *
 * Addresses are 0-based PDU addresses, as in the manual. The manual's map
 * (sections 6.2 and 6.3) holds float32 values, two registers each; the
 * simulator's extension block at 0x1000.. holds the parameters the manual
 * mentions but does not map.
 */
#ifndef CORE_REGISTERS_H
#define CORE_REGISTERS_H

/* Requests: registers per FC03 read and FC16 write (an RTU frame is at
 * most 256 bytes). */
#define REGMAP_READ_MAX 125
#define REGMAP_WRITE_MAX 123

/* Slave addresses 1..247 (0 broadcast, 248..255 reserved). */
#define METER_SLAVE_MAX 247

/* The serial speeds the meter can be set to, slowest first. */
#define METER_BAUDS { 1200, 2400, 4800, 9600 }
#define METER_NBAUDS 4

/* ---- The manual's map: measurements (float32) ---- */
#define REG_U               0x0030  /* V */
#define REG_I               0x0032  /* A */
#define REG_P               0x0034  /* W, > 0 import */
#define REG_Q               0x0036  /* var */
#define REG_S               0x0038  /* VA */
#define REG_PF              0x003A  /* sign of P */
#define REG_F               0x003C  /* Hz */
#define REG_DEMAND          0x0070  /* VA, apparent demand */

/* ---- The manual's map: energies (float32, kWh / kvarh) ---- */
#define REG_ACT             0x0080  /* combined active */
#define REG_ACT_IMP         0x0082
#define REG_ACT_EXP         0x0084
#define REG_REACT           0x0086  /* combined reactive */
#define REG_REACT_IMP       0x0088
#define REG_REACT_EXP       0x008A
/* lifetime by rate r = 1..4 (sharp, peak, flat, valley) */
#define REG_ACT_RATE(r)     (0x008C + 2 * ((r) - 1))
#define REG_REACT_RATE(r)   (0x0094 + 2 * ((r) - 1))
/* combined active of previous month n = 1..12 */
#define REG_PREV_ACT(n)     (0x009C + 2 * ((n) - 1))
/* combined reactive of previous month n = 1..12; erratum: the manual lists
 * 0x00B4..0x00C2 as previous 1..8 and 0x00C4..0x00CE again as 7..12, and
 * each address serves its own row */
#define REG_PREV_REACT_A    0x00B4
#define REG_PREV_REACT_B    0x00C4
#define REG_PREV_REACT(n)   ((n) <= 8 ? REG_PREV_REACT_A + 2 * ((n) - 1) \
                                      : REG_PREV_REACT_B + 2 * ((n) - 7))
/* by rate r = 1..4: 0x34 registers per rate, active then reactive, each
 * this month (n = 0) then previous 1..12 */
#define REG_RATE_BLOCK      0x00D0
#define REG_RATE_STRIDE     0x34
#define REG_RATE_REACTIVE   0x1A
#define REG_RATE(r, reactive, n) \
    (REG_RATE_BLOCK + REG_RATE_STRIDE * ((r) - 1) + \
     ((reactive) ? REG_RATE_REACTIVE : 0) + 2 * (n))
#define REG_MANUAL_END      0x01A0  /* one past the manual's last register */

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
#define REG_X_SIM_SPEED     0x1026  /* f32 RO virtual s per real s the host
                                       achieves (a simulator; 0 on a board) */

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

#endif
