/*
 * Fault injection for the Modbus transports: delayed replies, lost
 * requests, "busy" exceptions and corrupted CRCs, for a slave (or any),
 * an address range and a probability. Seeded: the same seed and the same
 * sequence of requests give the same faults.
 *
 * One set serves every transport of a process; the CLI fills it from
 * --fault specs, scenarios add and clear faults at run time.
 *
 * Spec grammar (docs/modbus.md):
 *   KIND[,KEY=VALUE]...
 *   KIND  delay=MS | noreply | busy | badcrc
 *   KEY   slave=N|any   addr=A|A-B|any   p=P|N%   transport=rtu|tcp|any
 * e.g. "delay=200,slave=1,addr=0x30-0x3d,p=0.5", "noreply,p=0.1", "busy",
 * "badcrc,slave=2".
 */
#ifndef PROTOCOLS_MODBUS_FAULT_H
#define PROTOCOLS_MODBUS_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_fault_kind {
    MB_FAULT_DELAY = 0,         /* the reply leaves delay_ms later */
    MB_FAULT_NOREPLY = 1,       /* the request is lost: not applied, silence */
    MB_FAULT_BUSY = 2,          /* exception 06, the request not applied */
    MB_FAULT_BADCRC = 3,        /* RTU: the reply's CRC is wrong */
};

/* Which transports a fault applies to. */
enum mb_fault_transport { MB_FAULT_ANY_TRANSPORT = 0, MB_FAULT_RTU = 1,
                          MB_FAULT_TCP = 2 };

#define MB_FAULT_ANY_SLAVE (-1)

/* One fault rule. */
struct mb_fault {
    uint8_t kind;               /* enum mb_fault_kind */
    uint8_t transport;          /* enum mb_fault_transport */
    int16_t slave;              /* 1..247, or MB_FAULT_ANY_SLAVE */
    uint16_t addr_lo, addr_hi;  /* registers the request touches, inclusive */
    bool any_addr;              /* true: every request, with or without one */
    uint32_t delay_ms;          /* MB_FAULT_DELAY only */
    double p;                   /* probability per matching request, 0..1 */
};

/* What the faults decided for one request. */
struct mb_fault_action {
    bool noreply;               /* drop the request: silence */
    bool busy;                  /* answer exception 06 instead */
    bool badcrc;                /* corrupt the reply's CRC (RTU) */
    uint32_t delay_ms;          /* extra delay before the reply leaves */
};

#define MB_FAULTS_MAX 32

/* A set of faults and its random stream. Caller-owned; init before use. */
struct mb_faults {
    struct mb_fault rule[MB_FAULTS_MAX];
    int id[MB_FAULTS_MAX];      /* handle of each rule, > 0 */
    int n;                      /* rules in use */
    int next_id;                /* next handle to give */
    uint64_t rng;               /* xorshift64* state, never 0 */
    uint64_t hits;              /* requests some fault acted on */
};

/* Empty set whose random stream starts from seed. */
void mb_faults_init(struct mb_faults *f, uint64_t seed);

/* A fault with defaults: any slave, any address, any transport, p = 1. */
void mb_fault_default(struct mb_fault *rule, enum mb_fault_kind kind);

/* Parse a spec into *rule. Returns 0, or -1 with a message naming what is
 * wrong (e.g. "p=2: probability must be between 0 and 1") in err. */
int mb_fault_parse(const char *spec, struct mb_fault *rule, char *err,
                   size_t errlen);

/* Write a rule back as a spec (normalized), for logs and listings. */
int mb_fault_format(const struct mb_fault *rule, char *buf, size_t len);

/* Add a rule: returns its handle (> 0), or -1 when the set is full. */
int mb_faults_add(struct mb_faults *f, const struct mb_fault *rule);

/* Parse and add: the handle, or -1 with the reason in err. */
int mb_faults_add_spec(struct mb_faults *f, const char *spec, char *err,
                       size_t errlen);

/* Remove one rule by handle: 0, or -1 when no rule has it. */
int mb_faults_remove(struct mb_faults *f, int handle);

/* Remove every rule (the random stream goes on). */
void mb_faults_clear(struct mb_faults *f);

/* Restart the random stream. */
void mb_faults_seed(struct mb_faults *f, uint64_t seed);

/* Decide for one request: transport, addressed slave, and the register
 * range it touches (has_addr false for requests without one). Each
 * matching rule draws once. Returns true when any fault acted (*act
 * filled), false otherwise (*act zeroed). f may be NULL. */
bool mb_faults_decide(struct mb_faults *f, enum mb_fault_transport transport,
                      int slave, bool has_addr, uint16_t addr, uint16_t count,
                      struct mb_fault_action *act);

#endif
