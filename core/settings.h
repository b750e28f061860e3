/*
 * The meter's set-up: everything a user or a utility can change (Modbus
 * extension block, keys, host options) and that persists across power loss.
 * One struct, checked as a whole, so a change is installed entirely or not
 * at all.
 */
#ifndef CORE_SETTINGS_H
#define CORE_SETTINGS_H

#include "port.h"
#include "tariff.h"
#include "demand.h"
#include "prepaid.h"

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

/* Communication and mode settings the host applies (read-only to it:
 * changes go through register writes or keys, so every channel sees them). */
struct meter_comm {
    uint8_t slave;          /* Modbus address, 1..247; 0 = off the bus
                               (a host's choice for fleets, never by
                               register) */
    uint16_t baud;          /* 1200, 2400, 4800, 9600 */
    uint8_t parity;         /* enum meter_parity */
    uint8_t word_order;     /* enum meter_word_order */
    uint8_t uplink;         /* enum meter_uplink */
};

struct meter_settings {
    struct meter_comm comm;         /* Modbus and uplink */
    uint16_t password;              /* LCD set-up password, 0..9999 */
    uint8_t comb_active;            /* active combination word, energy.h */
    uint8_t comb_reactive;          /* reactive combination word */
    struct demand_config demand;    /* demand window */
    struct prepaid_config prepaid;  /* credit and load control */
    struct tariff_table tariff;     /* time-of-use schedule */
};

/* Factory settings: slave 1, 9600 8E1, ABCD, 4g_M Debug, password 6666,
 * combined = import + export, demand 15/1 min, prepaid off, the manual's
 * tariff example. */
void settings_default(struct meter_settings *s);

/* CORE_OK if every field is acceptable, else CORE_EINVAL. */
int settings_check(const struct meter_settings *s);

bool settings_baud_ok(uint32_t baud);

#endif
