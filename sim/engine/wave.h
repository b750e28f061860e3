/*
 * Waveform synthesizer and ADC model: the meter's analog front end.
 *
 * Each channel is a sum of sinusoidal components v(t) = sum sqrt(2)*Xh *
 * sin(h*w*t + phase_h) plus DC and seeded Gaussian noise, then gain,
 * offset, quantization to signed 24-bit codes and clipping at full scale.
 * The hot loop rotates one phasor per component (no libm per sample);
 * phasors are set afresh from the phase accumulator every chunk, so
 * rounding never accumulates and frequency changes keep the phase
 * continuous.
 */
#ifndef SIM_WAVE_H
#define SIM_WAVE_H

#include <stddef.h>
#include <stdint.h>

#define WAVE_MAX_COMPONENTS 16

/* One sinusoidal component of a channel. */
struct wave_component {
    uint16_t order;         /* harmonic order, 1 = fundamental */
    double rms;             /* RMS magnitude, V or A */
    double phase_deg;       /* phase at t = 0, degrees, sine reference */
};

/* The analog signal on one channel and its ADC front end. */
struct wave_channel {
    struct wave_component comp[WAVE_MAX_COMPONENTS];
    unsigned ncomp;         /* components in use */
    double dc;              /* DC in the signal, V or A */
    double noise_rms;       /* white Gaussian noise, V or A RMS */
    double lsb;             /* V or A per ADC code */
    double adc_gain;        /* front-end gain error, 1.0 = ideal */
    int32_t adc_offset;     /* front-end offset, codes */
};

enum wave_chan { WAVE_V = 0, WAVE_I = 1 };

struct wave_config {
    uint32_t sample_rate;   /* samples per second per channel */
    double f;               /* line frequency, Hz */
    double drift_hz;        /* slow frequency wander amplitude, Hz */
    double drift_period;    /* its period, s (0 = no wander) */
    struct wave_channel ch[2];
    uint64_t seed;          /* noise seed; same seed, same samples */
};

struct wave {
    struct wave_config cfg;
    double phase;           /* fundamental phase, cycles, in [0, 1) */
    double t;               /* time since start, s */
    uint64_t rng;           /* xorshift64* state */
};

/* Defaults: 8000 samples/s, 50 Hz, 230 V, no current, the meter's
 * front-end scales, no noise. */
void wave_config_default(struct wave_config *cfg);

/* A channel holding one fundamental of rms at phase_deg, no harmonics. */
void wave_set_sine(struct wave_channel *ch, double rms, double phase_deg);

/* Add a component to a channel; returns -1 when the channel is full. */
int wave_add_component(struct wave_channel *ch, unsigned order, double rms,
                       double phase_deg);

/* Start the synthesizer. Returns -1 for an invalid configuration. */
int wave_init(struct wave *w, const struct wave_config *cfg);

/* Change the signal (a new load, a relay operation) without restarting:
 * phase, time and noise sequence carry on. Returns -1 and changes nothing
 * for an invalid configuration. */
int wave_update(struct wave *w, const struct wave_config *cfg);

/* The largest |value| the channel's signal reaches (DC and components,
 * no noise), V or A; when the sum of the amplitudes is at most enough,
 * that sum (the search is skipped). And the full scale its ADC reads
 * before it clips. */
double wave_peak(const struct wave_channel *ch, double enough);
double wave_full_scale(const struct wave_channel *ch);

/* Generate n simultaneous sample pairs as ADC codes. */
void wave_generate(struct wave *w, int32_t *v, int32_t *i, size_t n);

#endif
