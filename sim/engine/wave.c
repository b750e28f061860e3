#include "sim/engine/wave.h"

#include <math.h>
#include <string.h>

#include "core/meter.h"

#define PI 3.14159265358979323846
/* Phasors are reseeded exactly this often; keeps recurrence error < 1e-13. */
#define CHUNK 256

void wave_config_default(struct wave_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sample_rate = 8000;
    cfg->f = 50.0;
    for (int c = 0; c < 2; c++) {
        cfg->ch[c].adc_gain = 1.0;
    }
    cfg->ch[WAVE_V].lsb = METRO_V_FULLSCALE_PEAK / METRO_ADC_MAX;
    cfg->ch[WAVE_I].lsb = METRO_I_FULLSCALE_PEAK / METRO_ADC_MAX;
    wave_set_sine(&cfg->ch[WAVE_V], 230.0, 0.0);
    wave_set_sine(&cfg->ch[WAVE_I], 0.0, 0.0);
    cfg->seed = 1;
}

void wave_set_sine(struct wave_channel *ch, double rms, double phase_deg)
{
    ch->ncomp = 0;
    wave_add_component(ch, 1, rms, phase_deg);
}

int wave_add_component(struct wave_channel *ch, unsigned order, double rms,
                       double phase_deg)
{
    if (ch->ncomp >= WAVE_MAX_COMPONENTS)
        return -1;
    ch->comp[ch->ncomp++] = (struct wave_component){
        .order = (uint16_t)order, .rms = rms, .phase_deg = phase_deg,
    };
    return 0;
}

static int check_config(const struct wave_config *cfg)
{
    double fmax = cfg->f + (cfg->drift_hz > 0.0 ? cfg->drift_hz : 0.0);

    if (cfg->sample_rate < 1000 || !(cfg->f > 0.0) || !(cfg->drift_hz >= 0.0))
        return -1;
    for (int c = 0; c < 2; c++) {
        const struct wave_channel *ch = &cfg->ch[c];
        if (ch->ncomp > WAVE_MAX_COMPONENTS || !(ch->lsb > 0.0) ||
            !(ch->adc_gain > 0.0) || !(ch->noise_rms >= 0.0))
            return -1;
        for (unsigned k = 0; k < ch->ncomp; k++)
            if (ch->comp[k].order < 1 || !(ch->comp[k].rms >= 0.0) ||
                ch->comp[k].order * fmax >= cfg->sample_rate / 2.0)
                return -1;   /* above Nyquist it would alias */
    }
    return 0;
}

int wave_update(struct wave *w, const struct wave_config *cfg)
{
    if (check_config(cfg))
        return -1;
    w->cfg = *cfg;
    return 0;
}

int wave_init(struct wave *w, const struct wave_config *cfg)
{
    if (check_config(cfg))
        return -1;
    w->cfg = *cfg;
    w->phase = 0.0;
    w->t = 0.0;
    w->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ull;
    return 0;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Zero-mean, unit-variance noise: Irwin-Hall sum of four uniforms, close
 * enough to Gaussian for a front end and free of libm. */
static inline double rng_gauss(uint64_t *s)
{
    uint64_t r = rng_next(s);
    double sum = (double)(r & 0xffff) + (double)((r >> 16) & 0xffff) +
                 (double)((r >> 32) & 0xffff) + (double)(r >> 48);
    /* four U(0, 65536): mean 131070, variance 4 * 65536^2 / 12 */
    return (sum - 131070.0) * (1.7320508075688772 / 65536.0);
}

static inline int32_t quantize(double x)
{
    if (x >= METRO_ADC_MAX)
        return METRO_ADC_MAX;
    if (x <= METRO_ADC_MIN)
        return METRO_ADC_MIN;
    /* half away from zero, without a branch (-0.0 rounds to 0 either
     * way) */
    return (int32_t)(x + copysign(0.5, x));
}

/* One chunk of one channel at constant frequency f. */
static void channel_chunk(struct wave *w, const struct wave_channel *ch,
                          double f, int32_t *out, size_t n)
{
    double re[WAVE_MAX_COMPONENTS], im[WAVE_MAX_COMPONENTS];
    double sr[WAVE_MAX_COMPONENTS], si[WAVE_MAX_COMPONENTS];
    double amp[WAVE_MAX_COMPONENTS];
    double scale = ch->adc_gain / ch->lsb;
    double base = ch->dc * scale + ch->adc_offset;
    double noise = ch->noise_rms * scale;
    unsigned nc = 0;

    for (unsigned k = 0; k < ch->ncomp; k++) {
        const struct wave_component *c = &ch->comp[k];
        if (c->rms == 0.0)
            continue;
        double a = 2 * PI * c->order * w->phase + c->phase_deg * (PI / 180);
        double d = 2 * PI * c->order * f / w->cfg.sample_rate;
        amp[nc] = c->rms * 1.4142135623730951 * scale;
        re[nc] = cos(a);
        im[nc] = sin(a);
        sr[nc] = cos(d);
        si[nc] = sin(d);
        nc++;
    }

    /* the common channels, with their phasor in registers: the same
     * operations in the same order as the general loop below, so the
     * same codes to the bit */
    if (noise == 0.0 && nc == 0) {
        int32_t q = quantize(base);
        for (size_t j = 0; j < n; j++)
            out[j] = q;
        return;
    }
    if (noise == 0.0 && nc == 1) {
        double a = amp[0], r = re[0], m = im[0], c = sr[0], s = si[0];
        for (size_t j = 0; j < n; j++) {
            double x = base;
            x += a * m;
            double rn = r * c - m * s;
            m = m * c + r * s;
            r = rn;
            out[j] = quantize(x);
        }
        return;
    }
    for (size_t j = 0; j < n; j++) {
        double x = base;
        for (unsigned k = 0; k < nc; k++) {
            x += amp[k] * im[k];
            double r = re[k] * sr[k] - im[k] * si[k];
            im[k] = im[k] * sr[k] + re[k] * si[k];
            re[k] = r;
        }
        if (noise > 0.0)
            x += noise * rng_gauss(&w->rng);
        out[j] = quantize(x);
    }
}

/* Components are whole harmonics: one fundamental cycle holds the peak;
 * 4096 points find it within 0.03 % of the highest order's amplitude. */
double wave_peak(const struct wave_channel *ch, double enough)
{
    double peak = 0, bound = fabs(ch->dc);

    for (unsigned k = 0; k < ch->ncomp; k++)
        bound += ch->comp[k].rms * 1.4142135623730951;
    /* a sine (and DC) peaks at the sum; below enough, no search */
    if (ch->ncomp <= 1 || bound <= enough)
        return bound;
    for (unsigned j = 0; j < 4096; j++) {
        double x = ch->dc, t = 2 * PI * j / 4096.0;
        for (unsigned k = 0; k < ch->ncomp; k++) {
            const struct wave_component *c = &ch->comp[k];
            x += c->rms * 1.4142135623730951 *
                 sin(c->order * t + c->phase_deg * (PI / 180));
        }
        if (fabs(x) > peak)
            peak = fabs(x);
    }
    return peak;
}

double wave_full_scale(const struct wave_channel *ch)
{
    return METRO_ADC_MAX * ch->lsb / ch->adc_gain;
}

void wave_generate(struct wave *w, int32_t *v, int32_t *i, size_t n)
{
    const struct wave_config *cfg = &w->cfg;

    while (n > 0) {
        size_t m = n < CHUNK ? n : CHUNK;
        double f = cfg->f;
        if (cfg->drift_period > 0.0)
            f += cfg->drift_hz * sin(2 * PI * w->t / cfg->drift_period);

        channel_chunk(w, &cfg->ch[WAVE_V], f, v, m);
        channel_chunk(w, &cfg->ch[WAVE_I], f, i, m);

        double adv = f * (double)m / cfg->sample_rate;
        w->phase += adv;
        w->phase -= floor(w->phase);
        w->t += (double)m / cfg->sample_rate;
        v += m;
        i += m;
        n -= m;
    }
}
