/*
 * Prepaid credit and load control: the relay decision.
 *
 * The relay is closed when no reason holds it open:
 *   CREDIT  prepaid is enabled and the credit is used up; cleared as soon
 *           as credit is there again (top-up) or prepaid is disabled
 *   POWER   active power above the limit for `delay_s` consecutive seconds;
 *           cleared by a remote close
 *   REMOTE  a remote open command; cleared by a remote close
 * A remote close while the credit is used up is refused: the relay would
 * open again at the next second.
 *
 * Credit is consumed by active import energy (export adds nothing) in mJ,
 * and never goes below zero. The low-credit alarm is on while prepaid is
 * enabled and the credit is at or below the alarm level.
 */
#ifndef CORE_PREPAID_H
#define CORE_PREPAID_H

#include "port.h"
#include "energy.h"         /* ENERGY_MJ_PER_WH */

/* Credit is served as uint32 Wh: it never exceeds that. */
#define PREPAID_CREDIT_MAX_WH UINT32_C(0xFFFFFFFF)
/* The same limit in mJ: up to the last mJ below MAX_WH + 1 Wh. */
#define PREPAID_CREDIT_MAX_MJ \
    (((int64_t)PREPAID_CREDIT_MAX_WH + 1) * ENERGY_MJ_PER_WH - 1)
#define PREPAID_DELAY_MAX 3600

enum prepaid_reason {
    PREPAID_OPEN_CREDIT = 1,
    PREPAID_OPEN_POWER = 2,
    PREPAID_OPEN_REMOTE = 4,
};

struct prepaid_config {
    uint8_t enabled;        /* 1: credit is consumed and enforced */
    uint32_t alarm_wh;      /* low-credit alarm at or below, Wh */
    uint32_t limit_w;       /* over-power limit, W; 0 = no limit */
    uint16_t delay_s;       /* seconds above the limit before opening */
};

struct prepaid {
    int64_t credit;         /* mJ, 0 .. PREPAID_CREDIT_MAX_WH Wh */
    uint8_t reasons;        /* enum prepaid_reason bits; 0 = closed */
    uint16_t over_s;        /* consecutive seconds above the limit */
    bool alarm;             /* low-credit alarm */
};

void prepaid_config_default(struct prepaid_config *c);
int prepaid_config_check(const struct prepaid_config *c);
void prepaid_init(struct prepaid *pp);

/* Active import energy used, mJ. */
void prepaid_consume(struct prepaid *pp, const struct prepaid_config *c,
                     int64_t mj);

/* Add (top-up) or set credit, Wh. CORE_ERANGE if the result would exceed
 * PREPAID_CREDIT_MAX_WH (nothing changes). */
int prepaid_topup(struct prepaid *pp, uint32_t wh);
int prepaid_set_credit(struct prepaid *pp, uint32_t wh);
/* Set credit in mJ (CORE_ERANGE outside 0..PREPAID_CREDIT_MAX_MJ). */
int prepaid_set_mj(struct prepaid *pp, int64_t mj);

/* The second that ended had active power p (W): over-power timing. */
void prepaid_second(struct prepaid *pp, const struct prepaid_config *c,
                    double p);

/* Re-evaluate the reasons and the alarm (each second and after any
 * change of credit or set-up). */
void prepaid_decide(struct prepaid *pp, const struct prepaid_config *c);

/* Remote command: close (true) or open (false). CORE_ERANGE for a close
 * refused for lack of credit. */
int prepaid_command(struct prepaid *pp, const struct prepaid_config *c,
                    bool close);

static inline bool prepaid_closed(const struct prepaid *pp)
{
    return pp->reasons == 0;
}

/* The credit in whole Wh (rounded down). */
uint32_t prepaid_credit_wh(const struct prepaid *pp);

#endif
