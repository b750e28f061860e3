/*
 * Metrology over windows of whole cycles.
 *
 * The hot loop only sums: integer sums of v, i, v^2, i^2, v*i (exact, in
 * codes) and four floating sums against a reference oscillator e^{-jwk}
 * for the fundamental phasors. Everything else happens once a window.
 *
 * Exact windows: a window runs from the interpolated voltage zero crossing
 * t0 to t1 (fractional sample times). Its integrals are those of the
 * piecewise-linear interpolant of each summand x, which equal the plain
 * sum of the samples inside plus an edge term at each end:
 *
 *     integral(t0..t1) = sum(x[a..b-1]) + E(a, u0) - E(b, u1)
 *     E(m, u) = u*x[m] - u^2*(x[m] - x[m-1])/2 - x[m]/2
 *
 * where sample m is the first one at or after the crossing and u = m - t.
 * Over whole cycles the trapezoid rule is near exact for periodic signals,
 * so the only error left is the edge interpolation, far below 1 ppm.
 *
 * The hot loop is integer, for a Cortex-M4F whose FPU has no double
 * precision (docs/firmware.md): the oscillator is a Q30 rotation, and the
 * phasor sums add 24-bit codes times the oscillator's top 21 fraction bits
 * (its Q21 value) in 64 bits. The sums cannot overflow: |code| < 2^23,
 * |Q21| <= 2^21 and a window holds at most 0.3 s of samples (the
 * timeout), under 2^18.2 at the largest rate of 1 MHz: 2^62.2 < 2^63. The
 * Q21 rounding is about 5e-7 of full scale, noise-like, far below the
 * accuracy limits; the Q30 rotation drifts its amplitude by about 1e-9 a
 * sample and is renormalized once a window. Double precision is used only
 * once a window, in close_window and set_reference.
 */
#include "metrology.h"

#include <math.h>

#define PI 3.14159265358979323846

/* The oscillator: Q30 for the rotation, Q21 (its top bits) in the sums. */
#define OSC_BITS 30
#define OSC_ONE (1L << OSC_BITS)
#define SUM_SHIFT 9
#define SUM_ONE ((double)(OSC_ONE >> SUM_SHIFT))

/* The square root once a window: from the FPU's single-precision VSQRT, one
 * Newton step to double precision (libm's sqrt() and sqrtf() set errno,
 * which pulls newlib's reentrancy data into the firmware; the builtin,
 * with -fno-math-errno, is the instruction even when -ffreestanding). */
#if defined(__GNUC__)
#define SQRTF(x) __builtin_sqrtf(x)
#else
#define SQRTF(x) sqrtf(x)
#endif

static double root(double x)
{
    if (!(x > 0.0))
        return 0.0;
    double y = (double)SQRTF((float)x);
    return 0.5 * (y + x / y);
}

/* x in [-1, 1] to Q30, rounded to nearest */
static int32_t q30(double x)
{
    double q = x * OSC_ONE;
    return (int32_t)(q >= 0.0 ? q + 0.5 : q - 0.5);
}

enum { Q_V, Q_I, Q_VV, Q_II, Q_VI, Q_VRE, Q_VIM, Q_IRE, Q_IIM, Q_COUNT };

void metro_config_default(struct metro_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->v_lsb = METRO_V_FULLSCALE_PEAK / METRO_ADC_MAX;
    cfg->i_lsb = METRO_I_FULLSCALE_PEAK / METRO_ADC_MAX;
    cfg->v_gain = 1.0;
    cfg->i_gain = 1.0;
    cfg->phase_deg = 0.0;
    /* IEC 62053-22 class 0.5S: 0.001 In with In = 5 A */
    cfg->i_start = 0.005;
    cfg->f_nominal = 50.0;
    /* 10 V: far above noise, far below any live voltage's amplitude */
    cfg->zc_hyst = (int32_t)(10.0 / cfg->v_lsb);
}

static void set_reference(struct metro *m, double f)
{
    double w = 2.0 * PI * f / m->cfg.sample_rate;
    double c = m->osc_c, s = m->osc_s;
    double r = root(c * c + s * s);

    m->f_ref = f;
    m->step_c = q30(cos(w));
    m->step_s = q30(-sin(w));
    /* renormalize once a window so rounding never drifts the amplitude */
    if (r > 0.0) {
        m->osc_c = q30(c / r);
        m->osc_s = q30(s / r);
    } else {
        m->osc_c = (int32_t)OSC_ONE;
        m->osc_s = 0;
    }
}

static void reset_sums(struct metro *m)
{
    m->sv = m->si = m->svv = m->sii = m->svi = 0;
    m->vre = m->vim = m->ire = m->iim = 0;
    m->count = 0;
    m->crossings = 0;
}

int metro_init(struct metro *m, const struct metro_config *cfg)
{
    if (cfg->sample_rate < 1000 || cfg->sample_rate > 1000000 ||
        !(cfg->v_lsb > 0.0) || !(cfg->i_lsb > 0.0) ||
        !(cfg->v_gain > 0.0) || !(cfg->i_gain > 0.0) ||
        !(cfg->i_start >= 0.0) || cfg->zc_hyst < 0 ||
        !(cfg->f_nominal >= 40.0 && cfg->f_nominal <= 70.0) ||
        !(cfg->phase_deg > -10.0 && cfg->phase_deg < 10.0))
        return CORE_EINVAL;

    *m = (struct metro){ .cfg = *cfg };
    m->osc_c = (int32_t)OSC_ONE;
    m->osc_s = 0;
    m->prev_c = (int32_t)OSC_ONE;
    set_reference(m, cfg->f_nominal);
    /* 10 cycles on 50 Hz systems, 12 on 60 Hz ones: 200 ms (IEC 61000-4-30);
     * fixed by the system, not the measurement, so windows never flip */
    m->cycles = cfg->f_nominal > 55.0 ? 12 : 10;
    /* 12 cycles at 40 Hz fit in 0.3 s; no crossings that long = no lock */
    m->timeout = cfg->sample_rate * 3 / 10;
    reset_sums(m);
    return CORE_OK;
}

/* Edge terms of every summand at crossing sample m with fraction u. */
static void edge_terms(const struct metro *m, int32_t v, int32_t i,
                       double u, double e[Q_COUNT])
{
    double x1[Q_COUNT], x0[Q_COUNT];
    double v1 = v, i1 = i, v0 = m->prev_v, i0 = m->prev_i;
    /* the oscillator as the sums saw it (Q21), in units of one */
    double c1 = (m->osc_c >> SUM_SHIFT) / SUM_ONE;
    double s1 = (m->osc_s >> SUM_SHIFT) / SUM_ONE;
    double c0 = (m->prev_c >> SUM_SHIFT) / SUM_ONE;
    double s0 = (m->prev_s >> SUM_SHIFT) / SUM_ONE;

    x1[Q_V] = v1;               x0[Q_V] = v0;
    x1[Q_I] = i1;               x0[Q_I] = i0;
    x1[Q_VV] = v1 * v1;         x0[Q_VV] = v0 * v0;
    x1[Q_II] = i1 * i1;         x0[Q_II] = i0 * i0;
    x1[Q_VI] = v1 * i1;         x0[Q_VI] = v0 * i0;
    x1[Q_VRE] = v1 * c1;        x0[Q_VRE] = v0 * c0;
    x1[Q_VIM] = v1 * s1;        x0[Q_VIM] = v0 * s0;
    x1[Q_IRE] = i1 * c1;        x0[Q_IRE] = i0 * c0;
    x1[Q_IIM] = i1 * s1;        x0[Q_IIM] = i0 * s0;
    for (int q = 0; q < Q_COUNT; q++)
        e[q] = u * x1[q] - u * u * (x1[q] - x0[q]) * 0.5 - x1[q] * 0.5;
}

/*
 * Close the window. sync: it ends on a crossing (u1, e1 valid) rather
 * than on a timeout.
 */
static void close_window(struct metro *m, bool sync, double u1,
                         const double e1[Q_COUNT])
{
    const struct metro_config *c = &m->cfg;
    struct metro_result *r = &m->result;
    double in[Q_COUNT] = {
        (double)m->sv, (double)m->si, (double)m->svv, (double)m->sii,
        (double)m->svi, (double)m->vre / SUM_ONE, (double)m->vim / SUM_ONE,
        (double)m->ire / SUM_ONE, (double)m->iim / SUM_ONE,
    };
    double t = m->count;
    bool whole = sync && m->synced_start && m->crossings == m->cycles;

    if (m->synced_start) {
        t += m->u0;
        for (int q = 0; q < Q_COUNT; q++)
            in[q] += m->e0[q];
    }
    if (sync) {
        t -= u1;
        for (int q = 0; q < Q_COUNT; q++)
            in[q] -= e1[q];
    }
    if (!(t > 0.5))
        t = 0.5;    /* degenerate window: avoid dividing by ~0 */

    double kv = c->v_lsb * c->v_gain, ki = c->i_lsb * c->i_gain;
    double mv = in[Q_V] / t, mi = in[Q_I] / t;
    double vv = in[Q_VV] / t - mv * mv;
    double ii = in[Q_II] / t - mi * mi;
    double vi = in[Q_VI] / t - mv * mi;

    r->vrms = root(vv) * kv;
    r->irms = root(ii) * ki;
    r->duration = t / c->sample_rate;
    r->synced = whole;
    r->f = whole ? m->cycles * (double)c->sample_rate / t : 0.0;
    r->f_ref = m->f_ref;
    r->seq = m->seq++;
    r->timed_out = !sync;

    /* fundamental: (P1 + jQ1) = 2/T^2 * V * conj(I), current rotated by
     * the phase correction */
    double sc = 2.0 / (t * t) * kv * ki;
    double p1 = (in[Q_VRE] * in[Q_IRE] + in[Q_VIM] * in[Q_IIM]) * sc;
    double q1 = (in[Q_VIM] * in[Q_IRE] - in[Q_VRE] * in[Q_IIM]) * sc;
    double ph = c->phase_deg * (PI / 180.0);
    double cph = cos(ph), sph = sin(ph);
    double p1c = p1 * cph + q1 * sph;
    double q1c = q1 * cph - p1 * sph;

    r->p = vi * kv * ki + (p1c - p1);
    r->q = q1c;
    /* below one code of voltage times one code of current a power is
     * rounding, not a measurement: a true 0 (Q at PF 1) reads 0 */
    if (fabs(r->p) < kv * ki)
        r->p = 0.0;
    if (fabs(r->q) < kv * ki)
        r->q = 0.0;
    if (r->irms < c->i_start) {
        /* anti-creep: no current, no power, no energy */
        r->irms = 0.0;
        r->p = 0.0;
        r->q = 0.0;
    }
    r->s = r->vrms * r->irms;
    r->pf = r->s > 0.0 ? r->p / r->s : 1.0;
    if (r->pf > 1.0)
        r->pf = 1.0;
    else if (r->pf < -1.0)
        r->pf = -1.0;

    /* the next window's references: DC for crossings, frequency for the
     * oscillator (kept when there is no lock, so it resyncs at once) */
    /* only whole cycles have the signal's DC as their mean: once one has
     * measured it, a fragment (a restart, a flush, a timeout) does not
     * move it, or it would shift the next crossings and with them the
     * next window's length and F */
    if (whole || !m->dc_known)
        m->dc_v = (int32_t)(mv + (mv >= 0.0 ? 0.5 : -0.5));
    m->dc_known = m->dc_known || whole;
    if (whole && r->f >= 40.0 && r->f <= 70.0)
        set_reference(m, r->f);
    else
        set_reference(m, m->f_ref);

    m->synced_start = sync;
    if (sync) {
        m->u0 = u1;
        for (int q = 0; q < Q_COUNT; q++)
            m->e0[q] = e1[q];
    }
    reset_sums(m);
    m->ready = true;
}

/* Kept out of line so the per-sample code stands alone in the image:
 * scripts/firmware checks it calls no double-precision helper. */
#if defined(__GNUC__)
#define PER_SAMPLE __attribute__((noinline))
#else
#define PER_SAMPLE
#endif

/* The per-sample path: sums up to the sample that ends the window (a
 * crossing or the timeout); returns the samples summed. */
static PER_SAMPLE size_t metro_sum(struct metro *m, const int32_t *v,
                                   const int32_t *i, size_t n)
{
    int64_t sv = m->sv, si = m->si, svv = m->svv, sii = m->sii, svi = m->svi;
    int64_t vre = m->vre, vim = m->vim, ire = m->ire, iim = m->iim;
    int32_t c = m->osc_c, s = m->osc_s;
    const int32_t wc = m->step_c, ws = m->step_s;
    const int32_t dc = m->dc_v, hyst = m->cfg.zc_hyst;
    bool armed = m->armed;
    uint32_t count = m->count;
    int32_t pv = m->prev_v, pi = m->prev_i;
    int32_t pc = m->prev_c, ps = m->prev_s;
    size_t k;

    for (k = 0; k < n; k++) {
        int32_t vk = v[k], ik = i[k];
        int32_t x = vk - dc;

        if (armed) {
            if (x >= 0) {
                armed = false;
                if (++m->crossings >= (m->synced_start ? m->cycles : 1))
                    break;  /* sample k opens the next window */
            }
        } else if (x < -hyst) {
            armed = true;
        }
        if (count >= m->timeout)
            break;

        sv += vk;
        si += ik;
        svv += (int64_t)vk * vk;
        sii += (int64_t)ik * ik;
        svi += (int64_t)vk * ik;
        int32_t cq = c >> SUM_SHIFT, sq = s >> SUM_SHIFT;
        vre += (int64_t)vk * cq;
        vim += (int64_t)vk * sq;
        ire += (int64_t)ik * cq;
        iim += (int64_t)ik * sq;
        pc = c;
        ps = s;
        const int64_t half = 1L << (OSC_BITS - 1);
        int32_t cn = (int32_t)(((int64_t)c * wc - (int64_t)s * ws + half)
                               >> OSC_BITS);
        s = (int32_t)(((int64_t)s * wc + (int64_t)c * ws + half) >> OSC_BITS);
        c = cn;
        pv = vk;
        pi = ik;
        count++;
    }

    m->sv = sv; m->si = si; m->svv = svv; m->sii = sii; m->svi = svi;
    m->vre = vre; m->vim = vim; m->ire = ire; m->iim = iim;
    m->osc_c = c;
    m->osc_s = s;
    m->armed = armed;
    m->count = count;
    m->prev_v = pv;
    m->prev_i = pi;
    m->prev_c = pc;
    m->prev_s = ps;
    return k;
}

size_t metro_feed(struct metro *m, const int32_t *v, const int32_t *i,
                  size_t n)
{
    size_t k = metro_sum(m, v, i, n);

    if (k < n) {
        if (m->count >= m->timeout) {
            close_window(m, false, 0.0, NULL);
        } else {
            double e1[Q_COUNT];
            int32_t x1 = v[k] - m->dc_v, x0 = m->prev_v - m->dc_v;
            /* x0 < 0 <= x1: the crossing lies u samples before sample k */
            double u = (double)x1 / ((double)x1 - (double)x0);
            edge_terms(m, v[k], i[k], u, e1);
            close_window(m, true, u, e1);
        }
    }
    return k;
}

void metro_restart(struct metro *m)
{
    reset_sums(m);
    m->synced_start = false;
    m->armed = false;
}

bool metro_flush(struct metro *m)
{
    if (m->count == 0)
        return false;
    close_window(m, false, 0.0, NULL);
    return true;
}

bool metro_take(struct metro *m, struct metro_result *out)
{
    if (!m->ready)
        return false;
    *out = m->result;
    m->ready = false;
    return true;
}
