/* sim/uplink_queue: the MQTT uplink's bounded, ordered, saved outbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/uplink/uplink_queue.h"

static struct uplink_telemetry tele(int64_t t)
{
    struct uplink_telemetry x;
    memset(&x, 0, sizeof x);
    x.time = t;
    x.u = 230.0f;
    x.act[1] = (float)t / 1000.0f;
    x.pulses = (uint64_t)t * 3;
    x.rate = 2;
    return x;
}

static void full_queue_drops_the_oldest_telemetry_and_counts(void **state)
{
    struct uplink_queue q;
    assert_int_equal(uplink_queue_init(&q, 3), 0);
    for (int k = 1; k <= 5; k++) {
        struct uplink_telemetry t = tele(k);
        uplink_queue_push_telemetry(&q, &t);
    }
    assert_int_equal(q.count, 3);
    assert_int_equal(q.drops[UPLINK_TELEMETRY], 2);
    for (unsigned k = 0; k < 3; k++) {
        struct uplink_item *it = uplink_queue_at(&q, k);
        assert_int_equal(it->seq, 3 + k);
        assert_int_equal(it->v.t.time, 3 + k);
        assert_int_equal(it->dropped, k);   /* the count when taken */
    }
    uplink_queue_free(&q);
}

/* Published items are on their way: a full queue drops waiting ones
 * first, and never counts one already sent as dropped. */
static void published_items_are_not_counted_as_dropped(void **state)
{
    struct uplink_queue q;
    assert_int_equal(uplink_queue_init(&q, 3), 0);
    for (int k = 1; k <= 3; k++) {
        struct uplink_telemetry t = tele(k);
        uplink_queue_push_telemetry(&q, &t);
    }
    uplink_queue_at(&q, 0)->state = ITEM_IN_FLIGHT;    /* seq 1 sent */
    struct uplink_telemetry t4 = tele(4);
    uplink_queue_push_telemetry(&q, &t4);
    /* seq 2, the oldest waiting, went, counted; seq 1 is still tracked */
    assert_int_equal(uplink_queue_at(&q, 0)->seq, 1);
    assert_int_equal(uplink_queue_at(&q, 1)->seq, 3);
    assert_int_equal(q.drops[UPLINK_TELEMETRY], 1);
    for (unsigned k = 0; k < 3; k++)
        uplink_queue_at(&q, k)->state = ITEM_IN_FLIGHT;
    struct uplink_telemetry t5 = tele(5);
    uplink_queue_push_telemetry(&q, &t5);
    /* all on their way (at most a window): kept until acknowledged, so a
     * lost connection sends them again; nothing counted */
    assert_int_equal(q.count, 4);
    assert_int_equal(uplink_queue_at(&q, 0)->seq, 1);
    assert_int_equal(uplink_queue_at(&q, 3)->seq, 5);
    assert_int_equal(q.drops[UPLINK_TELEMETRY], 1);
    uplink_queue_free(&q);
}

static void billing_is_kept_while_telemetry_can_go(void **state)
{
    struct uplink_queue q;
    struct uplink_billing b = { .settled = 100, .act = { 1, 2, 3, 4, 5 } };
    assert_int_equal(uplink_queue_init(&q, 3), 0);
    uplink_queue_push_billing(&q, &b);
    for (int k = 1; k <= 4; k++) {
        struct uplink_telemetry t = tele(k);
        uplink_queue_push_telemetry(&q, &t);
    }
    assert_int_equal(q.count, 3);
    assert_int_equal(uplink_queue_at(&q, 0)->kind, UPLINK_BILLING);
    assert_int_equal(uplink_queue_at(&q, 1)->seq, 3);
    assert_int_equal(uplink_queue_at(&q, 2)->seq, 4);
    assert_int_equal(q.drops[UPLINK_TELEMETRY], 2);
    uplink_queue_free(&q);
}

static void items_leave_in_order_once_acknowledged(void **state)
{
    struct uplink_queue q;
    assert_int_equal(uplink_queue_init(&q, 8), 0);
    for (int k = 1; k <= 3; k++) {
        struct uplink_telemetry t = tele(k);
        uplink_queue_push_telemetry(&q, &t);
    }
    uint64_t id1 = uplink_queue_at(&q, 0)->id, id2 = uplink_queue_at(&q, 1)->id;
    uplink_queue_at(&q, 0)->state = ITEM_IN_FLIGHT;
    uplink_queue_at(&q, 1)->state = ITEM_IN_FLIGHT;
    uplink_queue_acked(&q, id2, true);      /* out of order: waits */
    assert_int_equal(q.count, 3);
    uplink_queue_acked(&q, id1, false);     /* failed: to be sent again */
    assert_int_equal(uplink_queue_at(&q, 0)->state, ITEM_WAITING);
    uplink_queue_at(&q, 0)->state = ITEM_IN_FLIGHT;
    uplink_queue_acked(&q, id1, true);
    assert_int_equal(q.count, 1);
    assert_int_equal(uplink_queue_at(&q, 0)->seq, 3);
    uplink_queue_acked(&q, 999, true);      /* unknown: ignored */
    assert_int_equal(q.count, 1);
    uplink_queue_at(&q, 0)->state = ITEM_IN_FLIGHT;
    uplink_queue_unsend(&q);
    assert_int_equal(uplink_queue_at(&q, 0)->state, ITEM_WAITING);
    uplink_queue_free(&q);
}

static void saved_and_restored_exactly(void **state)
{
    struct uplink_queue q, r;
    struct uplink_billing b = { .settled = 1775001600,
                                .act = { 9.5f, 1, 2, 3, 3.5f },
                                .max_demand = 1150.0f,
                                .max_demand_time = 1774000000 };
    assert_int_equal(uplink_queue_init(&q, 4), 0);
    for (int k = 1; k <= 5; k++) {
        struct uplink_telemetry t = tele(1775000000 + k);
        uplink_queue_push_telemetry(&q, &t);
        if (k == 2)
            uplink_queue_push_billing(&q, &b);
    }
    size_t n = uplink_queue_saved_size(&q);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(uplink_queue_save(&q, buf), n);

    char err[128];
    assert_int_equal(uplink_queue_init(&r, 4), 0);
    assert_int_equal(uplink_queue_load(&r, buf, n, err, sizeof err), 0);
    assert_int_equal(r.count, q.count);
    assert_int_equal(r.next_seq, q.next_seq);
    assert_int_equal(r.drops[UPLINK_TELEMETRY], q.drops[UPLINK_TELEMETRY]);
    for (unsigned k = 0; k < q.count; k++) {
        struct uplink_item *a = uplink_queue_at(&q, k), *c = uplink_queue_at(&r, k);
        assert_int_equal(a->kind, c->kind);
        assert_int_equal(a->seq, c->seq);
        assert_int_equal(a->dropped, c->dropped);
    }
    /* every field of every item: the restored queue saves to the same
     * bytes (comparing the structs would compare their padding too) */
    assert_int_equal(uplink_queue_saved_size(&r), n);
    uint8_t *again = malloc(n);
    assert_non_null(again);
    assert_int_equal(uplink_queue_save(&r, again), n);
    assert_memory_equal(buf, again, n);
    free(again);
    /* truncated or altered: refused, the queue unchanged */
    assert_int_equal(uplink_queue_load(&r, buf, n - 3, err, sizeof err), -1);
    buf[0] = 9;
    assert_int_equal(uplink_queue_load(&r, buf, n, err, sizeof err), -1);
    assert_int_equal(r.count, q.count);
    free(buf);
    uplink_queue_free(&q);
    uplink_queue_free(&r);
}

/* Only telemetry is dropped: with none left to drop, the queue grows
 * beyond its bound for billing, results and discovery. */
static void billing_and_results_are_never_dropped(void **state)
{
    struct uplink_queue q;
    struct uplink_billing b = { .settled = 1775001600 };
    assert_int_equal(uplink_queue_init(&q, 2), 0);
    struct uplink_telemetry t = tele(1);
    uplink_queue_push_telemetry(&q, &t);
    uplink_queue_push_text(&q, UPLINK_DISCOVERY, "ha/x/config", "{}", false);
    for (int k = 0; k < 4; k++)
        assert_non_null(uplink_queue_push_billing(&q, &b));
    for (int k = 0; k < 1000; k++)
        assert_non_null(uplink_queue_push_text(&q, UPLINK_RESULT, "m/result",
                                               "{\"ok\":true}", false));
    assert_int_equal(q.count, 1005);
    assert_int_equal(q.drops[UPLINK_TELEMETRY], 1);
    assert_int_equal(q.drops[UPLINK_DISCOVERY] + q.drops[UPLINK_BILLING] +
                     q.drops[UPLINK_RESULT], 0);
    assert_int_equal(uplink_queue_at(&q, 0)->kind, UPLINK_DISCOVERY);
    for (unsigned k = 1; k < 5; k++)
        assert_int_equal(uplink_queue_at(&q, k)->kind, UPLINK_BILLING);
    uplink_queue_free(&q);
}

/* A retained message replaces a waiting one for its topic (never one on
 * its way); availability goes ahead of the waiting backlog. */
static void retained_messages_replace_and_availability_goes_first(void **state)
{
    struct uplink_queue q;
    assert_int_equal(uplink_queue_init(&q, 100), 0);
    for (int round = 0; round < 10; round++) {
        uplink_queue_push_text(&q, UPLINK_DISCOVERY, "ha/a/config", "A",
                               false);
        uplink_queue_push_text(&q, UPLINK_DISCOVERY, "ha/b/config", "B",
                               false);
    }
    assert_int_equal(q.count, 2);
    uplink_queue_at(&q, 0)->state = ITEM_IN_FLIGHT;
    uplink_queue_push_text(&q, UPLINK_DISCOVERY, "ha/a/config", "A2", false);
    assert_int_equal(q.count, 3);
    struct uplink_telemetry t = tele(1);
    uplink_queue_push_telemetry(&q, &t);
    uplink_queue_push_text(&q, UPLINK_AVAILABILITY, "m/availability",
                           "offline", true);
    uplink_queue_push_text(&q, UPLINK_AVAILABILITY, "m/availability",
                           "online", true);
    assert_int_equal(q.count, 5);
    /* the one in flight, then availability, then the waiting rest */
    assert_string_equal(uplink_queue_at(&q, 0)->text, "A");
    assert_int_equal(uplink_queue_at(&q, 1)->kind, UPLINK_AVAILABILITY);
    assert_string_equal(uplink_queue_at(&q, 1)->text, "online");
    assert_string_equal(uplink_queue_at(&q, 2)->text, "B");
    assert_string_equal(uplink_queue_at(&q, 3)->text, "A2");
    assert_int_equal(uplink_queue_at(&q, 4)->kind, UPLINK_TELEMETRY);
    uplink_queue_free(&q);
}

/* Text items survive a save; billing queued before a load (settlements
 * applied as the meters were restored) follows the restored items. */
static void text_items_saved_and_earlier_billing_kept_on_load(void **state)
{
    struct uplink_queue q, r;
    struct uplink_billing b = { .settled = 1775001600, .act = { 7.5f } };
    char err[128];
    assert_int_equal(uplink_queue_init(&q, 8), 0);
    struct uplink_telemetry t = tele(5);
    uplink_queue_push_telemetry(&q, &t);
    uplink_queue_push_text(&q, UPLINK_RESULT, "kpm31c/1/result",
                           "{\"cmd\":\"report\",\"ok\":true}", false);
    size_t n = uplink_queue_saved_size(&q);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(uplink_queue_save(&q, buf), n);
    assert_int_equal(uplink_queue_init(&r, 8), 0);
    uplink_queue_push_billing(&r, &b);
    assert_int_equal(uplink_queue_load(&r, buf, n, err, sizeof err), 0);
    assert_int_equal(r.count, 3);
    assert_int_equal(uplink_queue_at(&r, 0)->seq, 1);
    assert_string_equal(uplink_queue_at(&r, 1)->topic, "kpm31c/1/result");
    assert_string_equal(uplink_queue_at(&r, 1)->text,
                        "{\"cmd\":\"report\",\"ok\":true}");
    assert_int_equal(uplink_queue_at(&r, 2)->kind, UPLINK_BILLING);
    assert_true(uplink_queue_at(&r, 2)->v.b.act[0] == 7.5f);
    assert_int_equal(r.next_seq, 2);
    free(buf);
    uplink_queue_free(&q);
    uplink_queue_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_queue_drops_the_oldest_telemetry_and_counts),
        cmocka_unit_test(published_items_are_not_counted_as_dropped),
        cmocka_unit_test(billing_is_kept_while_telemetry_can_go),
        cmocka_unit_test(items_leave_in_order_once_acknowledged),
        cmocka_unit_test(saved_and_restored_exactly),
        cmocka_unit_test(billing_and_results_are_never_dropped),
        cmocka_unit_test(retained_messages_replace_and_availability_goes_first),
        cmocka_unit_test(text_items_saved_and_earlier_billing_kept_on_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
