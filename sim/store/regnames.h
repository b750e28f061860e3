/*
 * Names and units of the registers, for people and scripts reading a dump:
 * the manual's float32 map (0x0030..0x019E) and the extension block's
 * values (0x1000..0x113A; the tariff schedule is left to docs/registers.md).
 * Addresses come from core/registers.h; the words follow
 * docs/registers.md.
 */
#ifndef SIM_REGNAMES_H
#define SIM_REGNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum regname_type { REGNAME_F32, REGNAME_U16, REGNAME_U32, REGNAME_U64 };

/* One register (or register group) with a value. */
struct regname {
    uint16_t addr;
    enum regname_type type;
    const char *name;
    const char *unit;           /* "" when it has none */
};

/* The extension block's readable values, by address. */
extern const struct regname regname_ext[];
extern const size_t regname_next;

/* The manual's register pair at addr: its name into buf and its unit.
 * false when no pair of the manual's map starts there. */
bool regname_manual(uint16_t addr, char *buf, size_t len, const char **unit);

/* Whether the manual's row at addr repeats an earlier row's name (its
 * erratum: previous months 7 and 8 of combined reactive energy listed a
 * second time, at 0x00C4 and 0x00C6). */
bool regname_listed_again(uint16_t addr);

/* Registers a value of the type spans. */
unsigned regname_words(enum regname_type type);

#endif
