/*
 * The uplink's outbox, one per meter: every message the meter publishes
 * (telemetry, billing, command results, availability, discovery configs)
 * waits here for the broker's acknowledgement, in order.
 *
 * Bounded by cap: when full, the oldest telemetry not yet published goes,
 * counted (drops[], by kind: only telemetry is ever dropped). The other
 * kinds are never dropped; with no telemetry to drop the queue grows for
 * them, and each is bounded by its nature: a retained message
 * (availability, a discovery config) replaces one for the same topic
 * still waiting (the broker would keep only the latest anyway), billing
 * comes at most 13 per settlement, a result once per command received. An item leaves only when the
 * broker acknowledged it (QoS 1 PUBACK), so a lost connection or a restart
 * loses nothing: the queue is saved in the state file (section 3, one per
 * meter) and sent again, with its original timestamps and sequence
 * numbers.
 *
 * Telemetry and billing hold values, not JSON: their payload is built when
 * sent (uplink_json.h), which keeps the queue and the state file small.
 * The other kinds hold their topic and payload text.
 */
#ifndef SIM_UPLINK_QUEUE_H
#define SIM_UPLINK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything the telemetry message carries, as the registers read. */
struct uplink_telemetry {
    int64_t time;               /* meter clock, s since 1970 */
    float u, i, p, q, s, pf, f; /* 0x0030..0x003C */
    float demand;               /* 0x0070, VA */
    float act[3];               /* total, import, export kWh (0x0080..) */
    float react[3];             /* total, import, export kvarh (0x0086..) */
    float act_rate[4];          /* lifetime by rate, kWh (0x008C..) */
    float react_rate[4];        /* lifetime by rate, kvarh (0x0094..) */
    float quadrant[4];          /* reactive QI..QIV, kvarh (0x101A..) */
    float month_act, month_react;           /* this month (0x1016, 0x1018) */
    float month_act_rate[4];    /* this month by rate, kWh (0x00D0 + ...) */
    float month_react_rate[4];  /* kvarh */
    float max_demand;           /* this month, VA (0x100C) */
    uint32_t max_demand_time;   /* 0 = none */
    float prev_max_demand;      /* last month (0x1010) */
    uint32_t prev_max_demand_time;
    float credit_kwh;           /* 0x1014 */
    uint32_t credit_wh;         /* 0x1132 */
    uint64_t pulses;            /* 0x1004 */
    uint16_t rate;              /* 1..4 (0x1008) */
    uint16_t zone;              /* 1..4 (0x1009) */
    uint16_t status;            /* 0x100A: bit 0 relay closed, bit 1 low credit */
    uint16_t reasons;           /* 0x100B: why the relay is open */
    uint16_t prepaid;           /* 0x1130: prepaid on */
};

/* One settled month, as the history registers read right after it. */
struct uplink_billing {
    int64_t settled;            /* 00:00 on the 1st that ended the month */
    float act[5];               /* combined kWh: all rates, then rates 1..4 */
    float react[5];             /* combined kvarh */
    float max_demand;           /* VA, of that month; 0 = none known */
    uint32_t max_demand_time;
};

enum uplink_kind {
    UPLINK_TELEMETRY = 1,
    UPLINK_BILLING = 2,
    UPLINK_RESULT = 3,          /* a command's answer (text) */
    UPLINK_AVAILABILITY = 4,    /* online / offline, retained (text) */
    UPLINK_DISCOVERY = 5,       /* a Home Assistant config, retained (text) */
};
#define UPLINK_KINDS 6          /* drops[] is indexed by kind */

/* The kinds' names, as in logs and the telemetry's "drops" ("" for 0). */
extern const char *const uplink_kind_names[UPLINK_KINDS];

enum uplink_item_state { ITEM_WAITING = 0, ITEM_IN_FLIGHT = 1, ITEM_ACKED = 2 };

struct uplink_item {
    uint64_t id;                /* unique in this queue: the publish tag */
    uint64_t seq;               /* telemetry sequence number (0: others) */
    uint64_t dropped;           /* telemetry dropped so far, when taken */
    uint8_t kind;               /* enum uplink_kind */
    uint8_t state;              /* enum uplink_item_state (not saved) */
    char *topic;                /* text kinds: the whole topic (owned) */
    char *text;                 /* text kinds: the payload (owned) */
    union {
        struct uplink_telemetry t;
        struct uplink_billing b;
    } v;
};

struct uplink_queue {
    struct uplink_item *ring;
    unsigned cap;               /* the bound (billing and results exceed it) */
    unsigned size;              /* items allocated in ring, >= cap */
    unsigned head, count;
    uint64_t next_id;           /* tags */
    uint64_t next_seq;          /* the next telemetry's sequence number */
    uint64_t drops[UPLINK_KINDS];   /* dropped for lack of room, by kind */
};

int uplink_queue_init(struct uplink_queue *q, unsigned cap);
void uplink_queue_free(struct uplink_queue *q);

/* The k-th item from the oldest (k < count). */
struct uplink_item *uplink_queue_at(struct uplink_queue *q, unsigned k);

/* Append a telemetry snapshot (it gets the next sequence number) or a
 * billing record, making room first. Returns the item, NULL without
 * memory. */
struct uplink_item *uplink_queue_push_telemetry(struct uplink_queue *q,
                                                const struct uplink_telemetry *t);
struct uplink_item *uplink_queue_push_billing(struct uplink_queue *q,
                                              const struct uplink_billing *b);

/* Append a text message of kind RESULT, AVAILABILITY or DISCOVERY (the
 * last two replace a waiting one for the same topic). first: ahead of the
 * waiting telemetry, billing and discovery, behind results and
 * availability put first before (results and the meter's state go ahead
 * of its backlog). NULL without memory. */
struct uplink_item *uplink_queue_push_text(struct uplink_queue *q,
                                           uint8_t kind, const char *topic,
                                           const char *payload, bool first);

/* The publish of item id completed: acknowledged ones leave (in order),
 * others wait to be sent again. */
void uplink_queue_acked(struct uplink_queue *q, uint64_t id, bool ok);

/* Every item in flight goes back to waiting (the connection is gone). */
void uplink_queue_unsend(struct uplink_queue *q);

/* The saved form (little-endian, versioned): bytes needed, and writing
 * it (returns the bytes written). */
size_t uplink_queue_saved_size(const struct uplink_queue *q);
size_t uplink_queue_save(const struct uplink_queue *q, uint8_t *buf);

/* Restore what uplink_queue_save wrote (this version or version 1). 0, or
 * -1 with a reason in err (the queue is left unchanged). Items queued
 * before (billing of settlements applied while the state loaded) follow
 * the restored ones. Items beyond the capacity drop as pushes do. */
int uplink_queue_load(struct uplink_queue *q, const uint8_t *buf, size_t len,
                      char *err, size_t errlen);

#endif
