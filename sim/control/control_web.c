/*
 * The browser face's pages and files (docs/http.md, "The face"): / is the
 * fleet, /meter/{meter} one meter's face, /web/{asset} the scripts and
 * styles they load. Every file is embedded in the binary (web_assets.h);
 * each answer carries its entity tag and "no-cache", so a browser asks
 * again each time and gets 304 Not Modified until the binary changes.
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <string.h>

#include "sim/control/web_assets.h"

static const struct web_asset *asset_named(const char *name)
{
    for (unsigned k = 0; k < web_asset_count; k++)
        if (!strcmp(web_assets[k].name, name))
            return &web_assets[k];
    return NULL;
}

static enum MHD_Result send_asset(struct ctl_call *call,
                                  const struct web_asset *a)
{
    const char *tag = MHD_lookup_connection_value(
        call->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = tag && !strcmp(tag, a->etag);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data,
        MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(call->conn, fresh ? MHD_HTTP_NOT_MODIFIED
                                               : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* GET / (the fleet) and GET /meter/{meter} (one meter's face). */
enum MHD_Result ctl_web_page(struct ctl_call *call)
{
    if (call->arg[0]) {
        METER_OR_404(call, k);
        (void)k;
    }
    return send_asset(call, asset_named(call->arg[0] ? "meter.html"
                                                      : "index.html"));
}

/* GET /web/{asset}: a script, style or picture of the pages. */
enum MHD_Result ctl_web_asset(struct ctl_call *call)
{
    const struct web_asset *a = asset_named(call->arg[0]);

    if (!a || strstr(call->arg[0], ".html"))
        return ctl_error(call->conn, MHD_HTTP_NOT_FOUND, "asset",
                         "no file '%s' in the face", call->arg[0]);
    return send_asset(call, a);
}
