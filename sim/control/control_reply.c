/*
 * The control API's answers: JSON and text bodies, errors that name the
 * field, and the checks every route shares (a meter in a path, a body's
 * keys).
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/keylist.h"
#include "sim/base/numparse.h"

/* The control whose route is answering now (dispatch, on the loop
 * thread): a success it answers is checked against the state file. */
static struct control *answering;

void ctl_reply_watch(struct control *c)
{
    answering = c;
    if (c)
        c->e->store_failing = false;
}

/* A change the state file could not keep is not acknowledged, as Modbus
 * answers exception 04: in place in the meter, saved at the next
 * checkpoint that succeeds, but the caller is told to retry. */
static bool unsaved(struct MHD_Connection *conn, unsigned status,
                    enum MHD_Result *ret)
{
    struct control *c = answering;

    if (!c || status >= 300 || !c->e->store_failing)
        return false;
    answering = NULL;
    json_t *o = json_object();
    char msg[768];
    snprintf(msg, sizeof msg, "the change is in place but the state file "
             "could not keep it (%s); it is retried at every checkpoint: "
             "repeat the request once the file can be written",
             c->cfg.host.save_error ? c->cfg.host.save_error(c->cfg.host.ctx)
                                    : "unknown error");
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "field", json_string("state"));
    json_object_set_new(o, "status", json_integer(503));
    *ret = ctl_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, o);
    return true;
}

enum MHD_Result ctl_text(struct MHD_Connection *conn, unsigned status,
                         const char *type, const char *text, size_t len)
{
    return ctl_text_with(conn, status, type, text, len, NULL, NULL);
}

enum MHD_Result ctl_text_with(struct MHD_Connection *conn, unsigned status,
                              const char *type, const char *text, size_t len,
                              const char *header, const char *value)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (unsaved(conn, status, &ret))
        return ret;
    r = MHD_create_response_from_buffer(
        len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (header)
        MHD_add_response_header(r, header, value);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result ctl_json(struct MHD_Connection *conn, unsigned status,
                         json_t *body)
{
    char *text = json_dumps(body, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    enum MHD_Result ret;

    json_decref(body);
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    text[n] = '\0';
    ret = ctl_text(conn, status, "application/json", text, n);
    free(text);
    return ret;
}

enum MHD_Result ctl_error(struct MHD_Connection *conn, unsigned status,
                          const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *o = json_object();

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_set_new(o, "error", json_string(msg));
    if (field)
        json_object_set_new(o, "field", json_string(field));
    json_object_set_new(o, "status", json_integer(status));
    return ctl_json(conn, status, o);
}

int ctl_meter_of(const struct control *c, const char *name)
{
    long v;

    /* decimal digits only: "0x1", " 1" or "01" name no meter */
    if (!name[0] || strspn(name, "0123456789") != strlen(name) ||
        (name[0] == '0' && name[1]) || parse_long(name, 0, 4294967295L, &v))
        return -1;
    /* the fleet's index (a shard runs first..first + count - 1) */
    if (v >= (long)c->e->span.first &&
        v < (long)(c->e->span.first + c->e->count))
        return (int)(v - (long)c->e->span.first);
    for (unsigned k = 0; k < c->e->count; k++)
        if (c->e->meters[k].core.serial == (uint32_t)v)
            return (int)k;
    return -1;
}

bool ctl_body_keys(struct ctl_call *call, const char *const *keys,
                   enum MHD_Result *ret)
{
    const char *key;
    json_t *v;

    if (!call->json) {
        *ret = ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, "body",
                         "a JSON object is expected");
        return false;
    }
    json_object_foreach(call->json, key, v) {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = !strcmp(key, *k);
        if (!known) {
            char list[256];
            keylist(keys, list, sizeof list);
            *ret = ctl_error(call->conn, MHD_HTTP_BAD_REQUEST, key,
                             "unknown field (expected: %s)", list);
            return false;
        }
    }
    return true;
}

