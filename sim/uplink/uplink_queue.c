#include "sim/uplink/uplink_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/le.h"

#define SAVE_VERSION 2
#define SAVE_HEADER_V1 (2 + 2 + 8 + 8 + 4)
#define SAVE_HEADER (2 + 2 + 8 + 8 * UPLINK_KINDS + 4)
#define ITEM_HEADER (1 + 3 + 8 + 8)
#define TELEMETRY_SIZE (8 + 36 * 4 + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 5 * 2)
#define BILLING_SIZE (8 + 10 * 4 + 4 + 4)

const char *const uplink_kind_names[UPLINK_KINDS] = {
    "", "telemetry", "billing", "result", "availability", "discovery",
};

int uplink_queue_init(struct uplink_queue *q, unsigned cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap ? cap : 1;
    q->ring = calloc(q->cap, sizeof *q->ring);
    if (!q->ring)
        return -1;
    q->size = q->cap;
    q->next_id = 1;
    q->next_seq = 1;
    return 0;
}

static void item_clear(struct uplink_item *it)
{
    free(it->topic);
    free(it->text);
    it->topic = it->text = NULL;
}

void uplink_queue_free(struct uplink_queue *q)
{
    for (unsigned k = 0; q->ring && k < q->count; k++)
        item_clear(uplink_queue_at(q, k));
    free(q->ring);
    q->ring = NULL;
    q->count = 0;
}

struct uplink_item *uplink_queue_at(struct uplink_queue *q, unsigned k)
{
    return &q->ring[(q->head + k) % q->size];
}

/* Remove the k-th item (its text freed), keeping the order of the
 * others. */
static void remove_at(struct uplink_queue *q, unsigned k)
{
    item_clear(uplink_queue_at(q, k));
    for (unsigned j = k; j > 0; j--)
        *uplink_queue_at(q, j) = *uplink_queue_at(q, j - 1);
    q->head = (q->head + 1) % q->size;
    q->count--;
}

/* The position of the oldest waiting item of a kind, or -1. */
static int oldest_waiting(struct uplink_queue *q, uint8_t kind)
{
    for (unsigned k = 0; k < q->count; k++) {
        const struct uplink_item *it = uplink_queue_at(q, k);
        if (it->state == ITEM_WAITING && it->kind == kind)
            return (int)k;
    }
    return -1;
}

/* Double the ring (the order kept). -1 without memory. */
static int grow(struct uplink_queue *q)
{
    unsigned size = q->size * 2;
    struct uplink_item *ring = calloc(size, sizeof *ring);
    if (!ring)
        return -1;
    for (unsigned k = 0; k < q->count; k++)
        ring[k] = *uplink_queue_at(q, k);
    free(q->ring);
    q->ring = ring;
    q->size = size;
    q->head = 0;
    return 0;
}

/* Room for one more: within the bound, drop the oldest telemetry still
 * waiting, counted; with none (the other kinds and what is on its way
 * are kept), or beyond what is allocated, grow. */
static int make_room(struct uplink_queue *q)
{
    if (q->count >= q->cap) {
        int k = oldest_waiting(q, UPLINK_TELEMETRY);
        if (k >= 0) {
            q->drops[uplink_queue_at(q, (unsigned)k)->kind]++;
            remove_at(q, (unsigned)k);
        }
    }
    return q->count < q->size ? 0 : grow(q);
}

/* A new item at position pos (0..count), zeroed but for id, kind and
 * state; NULL without memory. */
static struct uplink_item *insert(struct uplink_queue *q, unsigned pos,
                                  uint8_t kind)
{
    if (make_room(q))
        return NULL;
    if (pos > q->count)
        pos = q->count;
    for (unsigned j = q->count; j > pos; j--)
        *uplink_queue_at(q, j) = *uplink_queue_at(q, j - 1);
    q->count++;
    struct uplink_item *it = uplink_queue_at(q, pos);
    memset(it, 0, sizeof *it);
    it->id = q->next_id++;
    it->kind = kind;
    it->state = ITEM_WAITING;
    return it;
}

struct uplink_item *uplink_queue_push_telemetry(struct uplink_queue *q,
                                                const struct uplink_telemetry *t)
{
    struct uplink_item *it = insert(q, q->count, UPLINK_TELEMETRY);
    if (!it)
        return NULL;
    it->seq = q->next_seq++;
    it->dropped = q->drops[UPLINK_TELEMETRY];   /* after making room */
    it->v.t = *t;
    return it;
}

struct uplink_item *uplink_queue_push_billing(struct uplink_queue *q,
                                              const struct uplink_billing *b)
{
    struct uplink_item *it = insert(q, q->count, UPLINK_BILLING);
    if (!it)
        return NULL;
    it->dropped = q->drops[UPLINK_TELEMETRY];
    it->v.b = *b;
    return it;
}

struct uplink_item *uplink_queue_push_text(struct uplink_queue *q,
                                           uint8_t kind, const char *topic,
                                           const char *payload, bool first)
{
    char *t = strdup(topic), *p = strdup(payload);
    if (!t || !p) {
        free(t);
        free(p);
        return NULL;
    }
    if (kind != UPLINK_RESULT) {
        /* retained: a newer one for the topic replaces a waiting one */
        for (unsigned k = 0; k < q->count; k++) {
            struct uplink_item *old = uplink_queue_at(q, k);
            if (old->state == ITEM_WAITING && old->kind == kind &&
                !strcmp(old->topic, topic)) {
                remove_at(q, k);
                break;
            }
        }
    }
    /* first: after what is on its way and the results and availability
     * already put first (their order kept), before the rest */
    unsigned pos = q->count;
    for (unsigned k = 0; first && k < q->count && pos == q->count; k++) {
        const struct uplink_item *o = uplink_queue_at(q, k);
        if (o->state == ITEM_WAITING && o->kind != UPLINK_RESULT &&
            o->kind != UPLINK_AVAILABILITY)
            pos = k;
    }
    struct uplink_item *it = insert(q, pos, kind);
    if (!it) {
        free(t);
        free(p);
        return NULL;
    }
    it->dropped = q->drops[UPLINK_TELEMETRY];
    it->topic = t;
    it->text = p;
    return it;
}

void uplink_queue_acked(struct uplink_queue *q, uint64_t id, bool ok)
{
    for (unsigned k = 0; k < q->count; k++) {
        struct uplink_item *it = uplink_queue_at(q, k);
        if (it->id != id)
            continue;
        if (it->state == ITEM_IN_FLIGHT)
            it->state = ok ? ITEM_ACKED : ITEM_WAITING;
        break;
    }
    while (q->count && uplink_queue_at(q, 0)->state == ITEM_ACKED) {
        item_clear(uplink_queue_at(q, 0));
        q->head = (q->head + 1) % q->size;
        q->count--;
    }
}

void uplink_queue_unsend(struct uplink_queue *q)
{
    for (unsigned k = 0; k < q->count; k++) {
        struct uplink_item *it = uplink_queue_at(q, k);
        if (it->state == ITEM_IN_FLIGHT)
            it->state = ITEM_WAITING;
    }
}

/* ---- the saved form ---- */

struct cursor {
    uint8_t *w;                 /* writing */
    const uint8_t *r, *end;     /* reading */
    bool bad;
};

static void put_u8(struct cursor *c, uint8_t v) { *c->w++ = v; }
static void put_u16(struct cursor *c, uint16_t v)
{
    le_put16(c->w, v);
    c->w += 2;
}
static void put_u32(struct cursor *c, uint32_t v)
{
    le_put32(c->w, v);
    c->w += 4;
}
static void put_u64(struct cursor *c, uint64_t v)
{
    le_put64(c->w, v);
    c->w += 8;
}
static void put_f32(struct cursor *c, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(c, v);
}
static void put_floats(struct cursor *c, const float *f, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        put_f32(c, f[k]);
}

/* The next n bytes, or NULL (and the cursor bad) past the end. */
static const uint8_t *take(struct cursor *c, size_t n)
{
    if ((size_t)(c->end - c->r) < n) {
        c->r = c->end;
        c->bad = true;
        return NULL;
    }
    c->r += n;
    return c->r - n;
}
static uint8_t get_u8(struct cursor *c)
{
    const uint8_t *p = take(c, 1);
    return p ? *p : 0;
}
static uint16_t get_u16(struct cursor *c)
{
    const uint8_t *p = take(c, 2);
    return p ? le_get16(p) : 0;
}
static uint32_t get_u32(struct cursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? le_get32(p) : 0;
}
static uint64_t get_u64(struct cursor *c)
{
    const uint8_t *p = take(c, 8);
    return p ? le_get64(p) : 0;
}
static float get_f32(struct cursor *c)
{
    uint32_t v = get_u32(c);
    float f;
    memcpy(&f, &v, 4);
    return f;
}
static void get_floats(struct cursor *c, float *f, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        f[k] = get_f32(c);
}

static void put_telemetry(struct cursor *c, const struct uplink_telemetry *t)
{
    float f[36] = { t->u, t->i, t->p, t->q, t->s, t->pf, t->f, t->demand };
    memcpy(f + 8, t->act, sizeof t->act);
    memcpy(f + 11, t->react, sizeof t->react);
    memcpy(f + 14, t->act_rate, sizeof t->act_rate);
    memcpy(f + 18, t->react_rate, sizeof t->react_rate);
    memcpy(f + 22, t->quadrant, sizeof t->quadrant);
    f[26] = t->month_act;
    f[27] = t->month_react;
    memcpy(f + 28, t->month_act_rate, sizeof t->month_act_rate);
    memcpy(f + 32, t->month_react_rate, sizeof t->month_react_rate);
    put_u64(c, (uint64_t)t->time);
    put_floats(c, f, 36);
    put_f32(c, t->max_demand);
    put_u32(c, t->max_demand_time);
    put_f32(c, t->prev_max_demand);
    put_u32(c, t->prev_max_demand_time);
    put_f32(c, t->credit_kwh);
    put_u32(c, t->credit_wh);
    put_u64(c, t->pulses);
    put_u16(c, t->rate);
    put_u16(c, t->zone);
    put_u16(c, t->status);
    put_u16(c, t->reasons);
    put_u16(c, t->prepaid);
}

static void get_telemetry(struct cursor *c, struct uplink_telemetry *t)
{
    float f[36];
    t->time = (int64_t)get_u64(c);
    get_floats(c, f, 36);
    t->u = f[0]; t->i = f[1]; t->p = f[2]; t->q = f[3];
    t->s = f[4]; t->pf = f[5]; t->f = f[6]; t->demand = f[7];
    memcpy(t->act, f + 8, sizeof t->act);
    memcpy(t->react, f + 11, sizeof t->react);
    memcpy(t->act_rate, f + 14, sizeof t->act_rate);
    memcpy(t->react_rate, f + 18, sizeof t->react_rate);
    memcpy(t->quadrant, f + 22, sizeof t->quadrant);
    t->month_act = f[26];
    t->month_react = f[27];
    memcpy(t->month_act_rate, f + 28, sizeof t->month_act_rate);
    memcpy(t->month_react_rate, f + 32, sizeof t->month_react_rate);
    t->max_demand = get_f32(c);
    t->max_demand_time = get_u32(c);
    t->prev_max_demand = get_f32(c);
    t->prev_max_demand_time = get_u32(c);
    t->credit_kwh = get_f32(c);
    t->credit_wh = get_u32(c);
    t->pulses = get_u64(c);
    t->rate = get_u16(c);
    t->zone = get_u16(c);
    t->status = get_u16(c);
    t->reasons = get_u16(c);
    t->prepaid = get_u16(c);
}

static void put_billing(struct cursor *c, const struct uplink_billing *b)
{
    put_u64(c, (uint64_t)b->settled);
    put_floats(c, b->act, 5);
    put_floats(c, b->react, 5);
    put_f32(c, b->max_demand);
    put_u32(c, b->max_demand_time);
}

static void get_billing(struct cursor *c, struct uplink_billing *b)
{
    b->settled = (int64_t)get_u64(c);
    get_floats(c, b->act, 5);
    get_floats(c, b->react, 5);
    b->max_demand = get_f32(c);
    b->max_demand_time = get_u32(c);
}

static size_t item_size(const struct uplink_item *it)
{
    switch (it->kind) {
    case UPLINK_TELEMETRY: return ITEM_HEADER + TELEMETRY_SIZE;
    case UPLINK_BILLING: return ITEM_HEADER + BILLING_SIZE;
    default: return ITEM_HEADER + 2 + strlen(it->topic) + 4 + strlen(it->text);
    }
}

static const struct uplink_item *at_c(const struct uplink_queue *q,
                                      unsigned k)
{
    return &q->ring[(q->head + k) % q->size];
}

size_t uplink_queue_saved_size(const struct uplink_queue *q)
{
    size_t n = SAVE_HEADER;
    for (unsigned k = 0; k < q->count; k++)
        if (at_c(q, k)->state != ITEM_ACKED)
            n += item_size(at_c(q, k));
    return n;
}

static void put_bytes(struct cursor *c, const char *s, size_t n)
{
    memcpy(c->w, s, n);
    c->w += n;
}

size_t uplink_queue_save(const struct uplink_queue *q, uint8_t *buf)
{
    struct cursor c = { .w = buf };
    unsigned n = 0;

    for (unsigned k = 0; k < q->count; k++)
        if (at_c(q, k)->state != ITEM_ACKED)
            n++;
    put_u16(&c, SAVE_VERSION);
    put_u16(&c, 0);
    put_u64(&c, q->next_seq);
    for (unsigned k = 0; k < UPLINK_KINDS; k++)
        put_u64(&c, q->drops[k]);
    put_u32(&c, n);
    for (unsigned k = 0; k < q->count; k++) {
        const struct uplink_item *it = at_c(q, k);
        if (it->state == ITEM_ACKED)
            continue;       /* delivered: the broker has it */
        put_u8(&c, it->kind);
        put_u8(&c, 0);
        put_u16(&c, 0);
        put_u64(&c, it->seq);
        put_u64(&c, it->dropped);
        if (it->kind == UPLINK_TELEMETRY) {
            put_telemetry(&c, &it->v.t);
        } else if (it->kind == UPLINK_BILLING) {
            put_billing(&c, &it->v.b);
        } else {
            size_t tl = strlen(it->topic), pl = strlen(it->text);
            put_u16(&c, (uint16_t)tl);
            put_bytes(&c, it->topic, tl);
            put_u32(&c, (uint32_t)pl);
            put_bytes(&c, it->text, pl);
        }
    }
    return (size_t)(c.w - buf);
}

/* n bytes of text from the cursor, NUL-terminated (malloc'd); NULL when
 * bad (the cursor bad) or holding a NUL. */
static char *get_text(struct cursor *c, size_t n)
{
    const uint8_t *p = take(c, n);
    if (!p || memchr(p, 0, n)) {
        c->bad = true;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        c->bad = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* One saved item into fresh; false when malformed. */
static bool load_item(struct cursor *c, struct uplink_queue *fresh)
{
    uint8_t kind = get_u8(c);
    get_u8(c);
    get_u16(c);
    uint64_t seq = get_u64(c);
    uint64_t item_dropped = get_u64(c);
    struct uplink_item *it = NULL;

    if (kind == UPLINK_TELEMETRY) {
        struct uplink_telemetry t;
        get_telemetry(c, &t);
        fresh->next_seq = seq;
        it = uplink_queue_push_telemetry(fresh, &t);
    } else if (kind == UPLINK_BILLING) {
        struct uplink_billing b;
        get_billing(c, &b);
        it = uplink_queue_push_billing(fresh, &b);
    } else if (kind >= UPLINK_RESULT && kind < UPLINK_KINDS) {
        char *topic = get_text(c, get_u16(c));
        char *text = topic ? get_text(c, get_u32(c)) : NULL;
        if (text)
            it = uplink_queue_push_text(fresh, kind, topic, text, false);
        free(topic);
        free(text);
    }
    if (!it || c->bad)
        return false;
    it->dropped = item_dropped;
    return true;
}

int uplink_queue_load(struct uplink_queue *q, const uint8_t *buf, size_t len,
                      char *err, size_t errlen)
{
    struct cursor c = { .r = buf, .end = buf + len };
    struct uplink_queue fresh;

    uint16_t version = get_u16(&c);
    get_u16(&c);
    if (c.bad || (version != SAVE_VERSION && version != 1)) {
        snprintf(err, errlen, "uplink queue of format version %u (this build "
                 "reads 1 and %u)", version, SAVE_VERSION);
        return -1;
    }
    if (uplink_queue_init(&fresh, q->cap)) {
        snprintf(err, errlen, "out of memory for the uplink queue");
        return -1;
    }
    uint64_t next_seq = get_u64(&c);
    uint64_t drops[UPLINK_KINDS] = { 0 };
    if (version == 1)
        drops[UPLINK_TELEMETRY] = get_u64(&c);
    else
        for (unsigned k = 0; k < UPLINK_KINDS; k++)
            drops[k] = get_u64(&c);
    uint32_t n = get_u32(&c);
    memcpy(fresh.drops, drops, sizeof drops);
    for (uint32_t k = 0; k < n && !c.bad; k++)
        if (!load_item(&c, &fresh))
            c.bad = true;
    if (c.bad || c.r != c.end || next_seq == 0) {
        snprintf(err, errlen, "uplink queue section is malformed");
        uplink_queue_free(&fresh);
        return -1;
    }
    fresh.next_seq = next_seq;
    /* what was queued before the load (settlements applied as the meters
     * were restored) comes after what was saved */
    for (unsigned k = 0; k < q->count; k++) {
        struct uplink_item *old = uplink_queue_at(q, k);
        struct uplink_item *it = old->kind == UPLINK_BILLING
            ? uplink_queue_push_billing(&fresh, &old->v.b)
            : old->kind == UPLINK_TELEMETRY
            ? uplink_queue_push_telemetry(&fresh, &old->v.t)
            : uplink_queue_push_text(&fresh, old->kind, old->topic,
                                     old->text, false);
        if (!it) {
            snprintf(err, errlen, "out of memory for the uplink queue");
            uplink_queue_free(&fresh);
            return -1;
        }
    }
    uplink_queue_free(q);
    *q = fresh;
    return 0;
}
