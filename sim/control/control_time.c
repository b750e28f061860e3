/*
 * The control API's time: the process clock, pause and resume, the
 * speed, and advances that answer once virtual time got there (the
 * request is suspended until control_poll sees the clock at its target).
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/base/timeparse.h"
#include "sim/uplink/uplink_json.h"

/* The pacing the clock runs at once any advance is over: now's, or what
 * the advance leaves (the speed before it, or one set since). */
static bool ctl_pacing(const struct control *c, int64_t *goal, double *speed,
                       bool *max)
{
    const struct vclock *v = c->cfg.clock;

    if (c->cfg.host.advancing &&
        c->cfg.host.advancing(c->cfg.host.ctx, goal, speed, max))
        return true;
    *speed = v->speed;
    *max = v->max;
    return false;
}

static json_t *ctl_speed_json(double speed, bool max)
{
    return max ? json_string("max") : json_real(speed);
}

json_t *ctl_clock_json(const struct control *c)
{
    const struct vclock *v = c->cfg.clock;
    json_t *o = json_object();
    int64_t until = c->cfg.host.until_ms(c->cfg.host.ctx), goal;
    double after;
    bool after_max;

    json_object_set_new(o, "time", uplink_json_time(c->e->now_ms / 1000));
    json_object_set_new(o, "time_ms", json_integer(c->e->now_ms));
    json_object_set_new(o, "speed", ctl_speed_json(v->speed, v->max));
    json_object_set_new(o, "paused", json_boolean(!v->max && v->speed == 0));
    json_object_set_new(o, "achieved", json_real(v->achieved));
    json_object_set_new(o, "fidelity", json_string(
        c->e->fidelity == ENGINE_FULL ? "full" : "fast"));
    json_object_set_new(o, "until", until == INT64_MAX ? json_null() :
                        uplink_json_time(until / 1000));
    /* during an advance: where it goes and the pacing it leaves (a
     * pause, resume or speed asked meanwhile takes effect there) */
    if (ctl_pacing(c, &goal, &after, &after_max))
        json_object_set_new(o, "advance", json_pack(
            "{s:o,s:I,s:o,s:b}", "to", uplink_json_time(goal / 1000),
            "to_ms", (json_int_t)goal, "then_speed",
            ctl_speed_json(after, after_max), "then_paused",
            !after_max && after == 0));
    else
        json_object_set_new(o, "advance", json_null());
    return o;
}

enum MHD_Result ctl_clock_get(struct ctl_call *call)
{
    return ctl_json(call->conn, MHD_HTTP_OK, ctl_clock_json(call->c));
}

/* During an advance a pause, a resume or a speed is for after it (the
 * advance is answered at its instant whatever comes meanwhile): the
 * answer's "advance" says what the clock will do there. The speed a
 * resume returns to is the one the clock had (or will have after the
 * advance), never an advance's own max. */
enum MHD_Result ctl_clock_pause(struct ctl_call *call)
{
    struct control *c = call->c;
    int64_t goal;
    double speed;
    bool max;

    ctl_pacing(c, &goal, &speed, &max);
    if (max || speed > 0) {
        c->resume_speed = speed;
        c->resume_max = max;
    }
    c->cfg.host.speed(c->cfg.host.ctx, 0, false);
    return ctl_clock_get(call);
}

enum MHD_Result ctl_clock_resume(struct ctl_call *call)
{
    struct control *c = call->c;
    int64_t goal;
    double speed;
    bool max;

    ctl_pacing(c, &goal, &speed, &max);
    if (!max && speed == 0)
        c->cfg.host.speed(c->cfg.host.ctx, c->resume_speed, c->resume_max);
    return ctl_clock_get(call);
}

/* {"speed": 10} or {"speed": "max"}; 0 pauses. */
enum MHD_Result ctl_clock_speed(struct ctl_call *call)
{
    static const char *const keys[] = { "speed", NULL };
    enum MHD_Result ret;
    json_t *v;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    v = json_object_get(call->json, "speed");
    if (json_is_string(v) && !strcmp(json_string_value(v), "max")) {
        call->c->cfg.host.speed(call->c->cfg.host.ctx, 0, true);
    } else if (json_is_number(v) && json_number_value(v) >= 0 &&
               json_number_value(v) <= 1e9) {
        if (json_number_value(v) == 0)
            return ctl_clock_pause(call);
        call->c->cfg.host.speed(call->c->cfg.host.ctx, json_number_value(v),
                                false);
    } else {
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "speed",
                         "must be a number 0..1e9 (virtual s per real s; 0 "
                         "pauses) or \"max\"");
    }
    return ctl_clock_get(call);
}

/* {"fidelity": "fast"} or "full": the process steps so from now on (an
 * advance in progress runs fast, then returns to this). */
enum MHD_Result ctl_clock_fidelity(struct ctl_call *call)
{
    static const char *const keys[] = { "fidelity", NULL };
    enum MHD_Result ret;
    const char *f;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    f = json_string_value(json_object_get(call->json, "fidelity"));
    if (!f || (strcmp(f, "fast") && strcmp(f, "full")))
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "fidelity",
                         "must be \"fast\" or \"full\"");
    call->c->cfg.host.fidelity(call->c->cfg.host.ctx,
                               !strcmp(f, "full") ? ENGINE_FULL : ENGINE_FAST);
    return ctl_clock_get(call);
}

/* Is s written as a duration ("90", "15m", "1h30m"), whatever its size? */
static bool duration_shaped(const char *s)
{
    bool digit = false;

    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digit = true;
        else if (digit && strchr("smhdw", *s))
            digit = false;
        else
            return false;
        if (!s[1])
            return true;
    }
    return false;
}

/* {"to": "2026-02-01T00:00:00"} or {"by": "15m"} (or seconds): virtual
 * time runs as fast as it can to there, then at the speed it had; the
 * answer comes when it is there. */
enum MHD_Result ctl_clock_advance(struct ctl_call *call)
{
    static const char *const keys[] = { "to", "by", NULL };
    struct control *c = call->c;
    int64_t now = c->e->now_ms, target, t;
    int64_t until = c->cfg.host.until_ms(c->cfg.host.ctx);
    enum MHD_Result ret;
    json_t *to, *by;

    if (!ctl_body_keys(call, keys, &ret))
        return ret;
    to = json_object_get(call->json, "to");
    by = json_object_get(call->json, "by");
    if (!!to == !!by)
        return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "to",
                         "give either 'to' (a date-time) or 'by' (a "
                         "duration: seconds, or \"15m\", \"2h\", \"30d\")");
    if (to) {
        if (!json_is_string(to) || time_parse_iso(json_string_value(to), &t))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "to",
                             "must be a date-time such as "
                             "\"2026-02-01T00:00:00\"");
        target = t * 1000;
        if (target < now)
            return ctl_error(call->conn, MHD_HTTP_CONFLICT, "to",
                             "is before the clock (virtual time never runs "
                             "backwards; set a meter's clock with PUT "
                             ".../clock)");
    } else {
        if (json_is_integer(by) && json_integer_value(by) >= 0)
            t = json_integer_value(by);
        else if (json_is_string(by) &&
                 duration_shaped(json_string_value(by)) &&
                 time_parse_duration(json_string_value(by), &t))
            t = ENGINE_END_MS / 1000;   /* a duration past a century */
        else if (!json_is_string(by) ||
                 time_parse_duration(json_string_value(by), &t))
            return ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "by",
                             "must be whole seconds or a duration such as "
                             "\"90\", \"15m\", \"2h\", \"30d\"");
        /* from the clock's second: fast fidelity steps whole seconds;
         * a span past the clock's end is refused below, not wrapped */
        if (t > ENGINE_END_MS / 1000)
            t = ENGINE_END_MS / 1000;
        target = (now + 999) / 1000 * 1000 + t * 1000;
    }
    if (target > ENGINE_END_MS || target > until)
        return ctl_error(call->conn, MHD_HTTP_CONFLICT, to ? "to" : "by",
                         "lies beyond the end of the run (%s)",
                         target > until ? "--until" :
                         "the meter's clock ends at 2099-12-31T23:59:59");
    if (target <= now)
        return ctl_clock_get(call);
    call->req->waiting = true;
    call->req->wait_ms = target;
    call->req->next_wait = c->waits;
    c->waits = call->req;
    MHD_suspend_connection(call->conn);
    c->cfg.host.advance(c->cfg.host.ctx, target);
    return MHD_YES;
}

enum MHD_Result ctl_advance_answer(struct ctl_call *call)
{
    struct control *c = call->c;
    call->req->answered = false;
    if (c->e->now_ms < call->req->wait_ms)
        return ctl_error(call->conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "the run ended before the clock got there");
    return ctl_clock_get(call);
}
