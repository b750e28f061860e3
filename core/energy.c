#include "energy.h"

void energy_init(struct energy *e)
{
    *e = (struct energy){ 0 };
}

/* Whole mJ of x plus the carried fraction; the new fraction is kept. */
static int64_t take_whole(double *frac, double x)
{
    double v = x + *frac;
    int64_t n = (int64_t)v;         /* v >= 0: truncation is floor */

    *frac = v - (double)n;
    if (*frac >= 1.0) {             /* rounding at the edge: keep < 1 */
        n += 1;
        *frac -= 1.0;
    } else if (*frac < 0.0) {
        n -= 1;
        *frac += 1.0;
    }
    return n;
}

void energy_add(struct energy *e, unsigned rate, double p, double q,
                double ms, struct energy_inc *inc)
{
    struct energy_set *s = &e->rate[rate - 1];

    CORE_ASSERT(rate >= 1 && rate <= ENERGY_RATES);
    *inc = (struct energy_inc){ 0, 0 };
    if (!(ms > 0.0))
        return;
    if (p > 0.0) {
        inc->imp = take_whole(&e->frac[EN_IMP], p * ms);
        s->v[EN_IMP] += inc->imp;
    } else if (p < 0.0) {
        inc->exp = take_whole(&e->frac[EN_EXP], -p * ms);
        s->v[EN_EXP] += inc->exp;
    }
    if (q != 0.0) {
        int k;
        if (q > 0.0)
            k = p >= 0.0 ? EN_Q1 : EN_Q2;
        else
            k = p >= 0.0 ? EN_Q4 : EN_Q3;
        s->v[k] += take_whole(&e->frac[k], (q > 0.0 ? q : -q) * ms);
    }
}

void energy_total(const struct energy *e, struct energy_set *out)
{
    for (unsigned k = 0; k < EN_QTY; k++) {
        out->v[k] = 0;
        for (unsigned r = 0; r < ENERGY_RATES; r++)
            out->v[k] += e->rate[r].v[k];
    }
}

void energy_diff(const struct energy_set *a, const struct energy_set *b,
                 struct energy_set *out)
{
    for (unsigned k = 0; k < EN_QTY; k++)
        out->v[k] = a->v[k] - b->v[k];
}

int energy_comb_check(unsigned word, unsigned nqty)
{
    if (word >> (2 * nqty))
        return CORE_EINVAL;
    for (unsigned k = 0; k < nqty; k++)
        if (((word >> (2 * k)) & 3u) == 3u)
            return CORE_EINVAL;
    return CORE_OK;
}

static int64_t combine(const int64_t *v, unsigned n, unsigned word)
{
    int64_t sum = 0;

    for (unsigned k = 0; k < n; k++) {
        unsigned bits = (word >> (2 * k)) & 3u;
        if (bits == 1u)
            sum += v[k];
        else if (bits == 2u)
            sum -= v[k];
    }
    return sum;
}

int64_t energy_comb_active(const struct energy_set *s, unsigned word)
{
    return combine(&s->v[EN_IMP], 2, word);
}

int64_t energy_comb_reactive(const struct energy_set *s, unsigned word)
{
    return combine(&s->v[EN_Q1], 4, word);
}

int64_t energy_reactive_imp(const struct energy_set *s)
{
    return s->v[EN_Q1] + s->v[EN_Q2];
}

int64_t energy_reactive_exp(const struct energy_set *s)
{
    return s->v[EN_Q3] + s->v[EN_Q4];
}
