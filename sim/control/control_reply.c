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

enum MHD_Result ctl_text(struct MHD_Connection *conn, unsigned status,
                         const char *type, const char *text, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
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

