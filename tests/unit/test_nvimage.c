/*
 * The non-volatile image: CRC-32, the framing, a full meter round trip,
 * and rejection of every truncation, of every single flipped bit, of
 * foreign and inconsistent images, each leaving the meter untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/meter.h"
#include "core/meter_host.h"
#include "core/nvimage.h"
#include "core/crc32.h"

#define T0 INT64_C(1773576000)      /* 2026-03-15 12:00:00 */

static void test_crc32(void **state)
{
    const uint8_t check[] = "123456789";

    assert_int_equal(crc32_update(0, check, 9), 0xCBF43926u);
    assert_int_equal(crc32_update(crc32_update(0, check, 4), check + 4, 5),
                     0xCBF43926u);
    assert_int_equal(crc32_update(0, check, 0), 0);
}

static void test_framing(void **state)
{
    uint8_t buf[64];
    struct nv_writer w;
    struct nv_reader r;

    nv_begin(&w, buf, sizeof buf);
    nv_put_u8(&w, 0xA5);
    nv_put_u16(&w, 0xBEEF);
    nv_put_u32(&w, 0x01020304);
    nv_put_u64(&w, UINT64_C(0x1122334455667788));
    nv_put_i64(&w, -2);
    int len = nv_finish(&w);
    assert_int_equal(len, NV_HEADER + 23 + NV_TRAILER);
    /* explicit little-endian bytes */
    assert_memory_equal(buf, "K31C\x01\x00\x00\x00", 8);
    assert_int_equal(buf[8], len);
    assert_int_equal(buf[13], 0xEF);
    assert_int_equal(buf[14], 0xBE);
    assert_int_equal(buf[15], 0x04);
    assert_int_equal(buf[19], 0x88);
    assert_int_equal(nv_open(&r, buf, (size_t)len), CORE_OK);
    assert_int_equal(nv_get_u8(&r), 0xA5);
    assert_int_equal(nv_get_u16(&r), 0xBEEF);
    assert_int_equal(nv_get_u32(&r), 0x01020304);
    assert_true(nv_get_u64(&r) == UINT64_C(0x1122334455667788));
    assert_true(nv_get_i64(&r) == -2);
    assert_int_equal(nv_close(&r), CORE_OK);
    (void)nv_get_u8(&r);
    assert_int_equal(nv_close(&r), CORE_EBADMSG);
    /* every capacity too small: ENOSPC */
    for (size_t cap = 0; cap < (size_t)len; cap++) {
        uint8_t small[64];
        nv_begin(&w, small, cap);
        nv_put_u8(&w, 0xA5);
        nv_put_u16(&w, 0xBEEF);
        nv_put_u32(&w, 0x01020304);
        nv_put_u64(&w, 1);
        nv_put_i64(&w, -2);
        assert_int_equal(nv_finish(&w), CORE_ENOSPC);
    }
}

/* A meter with something in every part of its image. */
static void busy_meter(struct meter *m)
{
    struct meter_settings s;
    struct metro_result win = { .vrms = 231.0, .irms = 9.0, .p = 1900.0,
                                .q = -600.0, .s = 2079.0, .f = 50.0,
                                .duration = 0.2, .synced = true };
    int64_t t = T0 - 40 * 86400;

    assert_int_equal(meter_init(m, NULL, NULL, t), CORE_OK);
    meter_set_serial(m, 31000042);
    s = *meter_settings(m);
    s.comm.slave = 42;
    s.comm.baud = 4800;
    s.comm.parity = METER_PARITY_ODD;
    s.comm.word_order = METER_CDAB;
    s.comm.uplink = METER_UPLINK_MQTT;
    s.password = 1357;
    s.comb_active = 0x09;
    s.demand = (struct demand_config){ 30, 5 };
    s.prepaid = (struct prepaid_config){ 1, 700, 9000, 7 };
    s.tariff.nzones = 2;
    s.tariff.zone[1].month = 6;
    s.tariff.zone[1].day = 15;
    s.tariff.zone[1].nperiods = 1;
    s.tariff.zone[1].period[0] = (struct tariff_period){ 0, 0, 2 };
    assert_int_equal(meter_configure(m, &s), CORE_OK);
    assert_int_equal(meter_topup(m, 4000000), CORE_OK);
    meter_window(m, &win);
    for (int k = 0; k < 40 * 24; k++) {         /* hourly for 40 days */
        meter_integrate(m, 3600000);
        meter_tick(m, t += 3600);
    }
    win.p = -500.0;
    win.q = 200.0;
    meter_window(m, &win);
    meter_integrate(m, 777777);
    meter_relay_command(m, false);
    m->prog_count = 3;
    m->prog_time = T0 - 1;
}

/* Every register a restored meter serves, except those that move with
 * the clock and the 1 s values. */
static void read_all(const struct meter *m, uint16_t *out, size_t *n)
{
    static const struct { uint16_t a, c; } spans[] = {
        { 0x0080, 124 }, { 0x00FC, 82 }, { 0x014E, 82 }, { 0x1000, 0x26 },
        { 0x1100, 8 }, { 0x1120, 3 }, { 0x1130, 11 }, { 0x1200, 73 },
    };
    *n = 0;
    for (size_t k = 0; k < sizeof spans / sizeof spans[0]; k++) {
        assert_int_equal(meter_reg_read(m, spans[k].a, spans[k].c, out + *n),
                         0);
        *n += spans[k].c;
    }
}

static void test_round_trip(void **state)
{
    static struct meter a, b;
    static uint8_t img[METER_NV_MAX], img2[METER_NV_MAX];
    static uint16_t ra[600], rb[600];
    size_t na, nb;

    busy_meter(&a);
    int len = meter_nv_save(&a, img, sizeof img);
    assert_true(len > 0 && len <= METER_NV_MAX);
    assert_int_equal(meter_nv_save(&a, img, (size_t)len - 1), CORE_ENOSPC);
    assert_int_equal(meter_init(&b, NULL, NULL, T0 - 3 * 86400), CORE_OK);
    assert_int_equal(meter_nv_restore(&b, img, (size_t)len, meter_time(&a)),
                     CORE_OK);
    read_all(&a, ra, &na);
    read_all(&b, rb, &nb);
    assert_int_equal(na, nb);
    for (size_t k = 0; k < na; k++)
        if (ra[k] != rb[k])
            fail_msg("register word %zu differs: %04x vs %04x", k, ra[k],
                     rb[k]);
    assert_true(meter_pulse_count(&b) == meter_pulse_count(&a));
    assert_true(b.pulse.rest == a.pulse.rest);
    assert_true(b.prepaid.credit == a.prepaid.credit);
    assert_false(meter_relay_closed(&b));
    assert_int_equal(meter_relay_reasons(&b), PREPAID_OPEN_REMOTE);
    /* the same state saves to the same bytes */
    assert_int_equal(meter_nv_save(&b, img2, sizeof img2), len);
    assert_memory_equal(img, img2, (size_t)len);
}

static void expect_rejected(struct meter *m, const uint8_t *img, size_t len,
                            const char *what, size_t at)
{
    static struct meter before;

    memcpy(&before, m, sizeof before);
    int err = meter_nv_restore(m, img, len, T0 + 100);
    if (err != CORE_EBADMSG && err != CORE_EVERSION)
        fail_msg("%s %zu: accepted (%d)", what, at, err);
    if (memcmp(&before, m, sizeof before) != 0)
        fail_msg("%s %zu: rejected, yet the meter changed", what, at);
}

static void test_truncations(void **state)
{
    static struct meter a, m;
    static uint8_t img[METER_NV_MAX];

    busy_meter(&a);
    int len = meter_nv_save(&a, img, sizeof img);
    assert_int_equal(meter_init(&m, NULL, NULL, T0), CORE_OK);
    for (size_t n = 0; n < (size_t)len; n++)
        expect_rejected(&m, img, n, "truncated to", n);
    /* one byte too many is not an image either */
    img[len] = 0;
    expect_rejected(&m, img, (size_t)len + 1, "extended to", (size_t)len + 1);
}

static void test_bit_flips(void **state)
{
    static struct meter a, m;
    static uint8_t img[METER_NV_MAX];

    busy_meter(&a);
    int len = meter_nv_save(&a, img, sizeof img);
    assert_int_equal(meter_init(&m, NULL, NULL, T0), CORE_OK);
    for (size_t bit = 0; bit < (size_t)len * 8; bit++) {
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        expect_rejected(&m, img, (size_t)len, "flipped bit", bit);
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(meter_nv_restore(&m, img, (size_t)len, T0), CORE_OK);
}

/* Rewrite the CRC after changing a byte: a well-framed image whose
 * content is wrong. */
static void reseal(uint8_t *img, size_t len)
{
    uint32_t crc = crc32_update(0, img, len - 4);
    for (int k = 0; k < 4; k++)
        img[len - 4 + k] = (uint8_t)(crc >> (8 * k));
}

static void test_foreign_and_inconsistent(void **state)
{
    static struct meter a, m;
    static uint8_t img[METER_NV_MAX], bad[METER_NV_MAX];

    busy_meter(&a);
    size_t len = (size_t)meter_nv_save(&a, img, sizeof img);
    assert_int_equal(meter_init(&m, NULL, NULL, T0), CORE_OK);

    memcpy(bad, img, len);
    bad[0] = 'X';
    reseal(bad, len);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EVERSION);
    memcpy(bad, img, len);
    bad[4] = 2;                             /* version 2 */
    reseal(bad, len);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EVERSION);
    memcpy(bad, img, len);
    bad[NV_HEADER + 24] = 250;              /* slave address 250 */
    reseal(bad, len);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EBADMSG);
    /* the pulse count no longer matches the energy */
    size_t pulses = len - NV_TRAILER - 9 - 8 - 8;
    memcpy(bad, img, len);
    bad[pulses] ^= 1;
    reseal(bad, len);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EBADMSG);
    /* relay reasons beyond the known bits */
    memcpy(bad, img, len);
    bad[len - NV_TRAILER - 1] = 0x80;
    reseal(bad, len);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EBADMSG);
    /* zeros, and a restore time outside the RTC */
    memset(bad, 0, sizeof bad);
    assert_int_equal(meter_nv_restore(&m, bad, len, T0), CORE_EVERSION);
    assert_int_equal(meter_nv_restore(&m, img, len, RTC_MAX + 1),
                     CORE_ERANGE);
    /* the original is fine */
    assert_int_equal(meter_nv_restore(&m, img, len, T0), CORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_foreign_and_inconsistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
