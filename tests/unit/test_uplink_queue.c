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
    assert_int_equal(q.dropped, 2);
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
    assert_int_equal(q.dropped, 1);
    for (unsigned k = 0; k < 3; k++)
        uplink_queue_at(&q, k)->state = ITEM_IN_FLIGHT;
    struct uplink_telemetry t5 = tele(5);
    uplink_queue_push_telemetry(&q, &t5);
    /* all on their way: the oldest's ack is forgotten, nothing counted */
    assert_int_equal(uplink_queue_at(&q, 0)->seq, 3);
    assert_int_equal(q.dropped, 1);
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
    assert_int_equal(q.dropped, 2);
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
    assert_int_equal(r.dropped, q.dropped);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_queue_drops_the_oldest_telemetry_and_counts),
        cmocka_unit_test(published_items_are_not_counted_as_dropped),
        cmocka_unit_test(billing_is_kept_while_telemetry_can_go),
        cmocka_unit_test(items_leave_in_order_once_acknowledged),
        cmocka_unit_test(saved_and_restored_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
