/*
 * The scenario's timer queue: a binary heap ordered by due time, then by
 * the order things were scheduled, so that timers due at the same second
 * always run in the same order (determinism). Cancelled timers stay in
 * the heap, marked dead, and are dropped when they come up.
 */
#include <stdlib.h>

#include "sim/scenario/scenario_timers.h"

static bool before(const struct sc_timer *a, const struct sc_timer *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void swap(struct sc_timer *a, struct sc_timer *b)
{
    struct sc_timer t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(struct sc_timers *q, size_t k)
{
    while (k > 0) {
        size_t up = (k - 1) / 2;
        if (!before(&q->v[k], &q->v[up]))
            break;
        swap(&q->v[k], &q->v[up]);
        k = up;
    }
}

static void sift_down(struct sc_timers *q, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, m = k;
        if (l < q->n && before(&q->v[l], &q->v[m]))
            m = l;
        if (r < q->n && before(&q->v[r], &q->v[m]))
            m = r;
        if (m == k)
            break;
        swap(&q->v[k], &q->v[m]);
        k = m;
    }
}

static void pop_top(struct sc_timers *q)
{
    q->v[0] = q->v[--q->n];
    if (q->n)
        sift_down(q, 0);
}

int sc_timers_add(struct sc_timers *q, const struct sc_timer *t)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        struct sc_timer *v = sc_mem_realloc(q->mem, q->v,
                                            q->cap * sizeof *v,
                                            cap * sizeof *v);
        if (!v)
            return -1;
        q->v = v;
        q->cap = cap;
    }
    struct sc_timer *x = &q->v[q->n];
    *x = *t;
    x->seq = q->seq++;
    x->dead = false;
    if (x->id <= 0)
        x->id = ++q->next_id;
    sift_up(q, q->n++);
    return x->id;
}

bool sc_timers_next(struct sc_timers *q, int64_t *t)
{
    while (q->n && q->v[0].dead)
        pop_top(q);
    if (!q->n)
        return false;
    *t = q->v[0].t;
    return true;
}

bool sc_timers_pop_due(struct sc_timers *q, int64_t now, struct sc_timer *out)
{
    int64_t t;
    if (!sc_timers_next(q, &t) || t > now)
        return false;
    *out = q->v[0];
    pop_top(q);
    return true;
}

bool sc_timers_cancel(struct sc_timers *q, int id)
{
    bool found = false;
    for (size_t k = 0; k < q->n; k++)
        if (q->v[k].id == id && !q->v[k].dead) {
            q->v[k].dead = true;
            found = true;
        }
    return found;
}

void sc_timers_cancel_meter(struct sc_timers *q, enum sc_timer_kind kind,
                            unsigned meter)
{
    for (size_t k = 0; k < q->n; k++)
        if (q->v[k].kind == kind && q->v[k].meter == meter)
            q->v[k].dead = true;
}

void sc_timers_free(struct sc_timers *q)
{
    sc_mem_free(q->mem, q->v, q->cap * sizeof *q->v);
    *q = (struct sc_timers){ .mem = q->mem };
}
