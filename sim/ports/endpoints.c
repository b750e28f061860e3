#include "sim/ports/endpoints.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/meter.h"
#include "core/registers.h"
#include "sim/base/log.h"
#include "sim/base/safefile.h"
#include "sim/base/version.h"

static struct endpoint *take(struct endpoints *eps, const char *kind,
                             const char *label)
{
    if (eps->count >= ENDPOINTS_MAX) {
        log_warn("%s: more than %d endpoints, not announced", label,
                 ENDPOINTS_MAX);
        return NULL;
    }
    struct endpoint *ep = &eps->list[eps->count++];
    memset(ep, 0, sizeof *ep);
    snprintf(ep->kind, sizeof ep->kind, "%s", kind);
    snprintf(ep->label, sizeof ep->label, "%s", label);
    return ep;
}

int endpoints_add_tcp(struct endpoints *eps, const char *kind,
                      const char *label, const char *scheme,
                      const char *host, int port)
{
    struct endpoint *ep = take(eps, kind, label);
    if (!ep)
        return -1;
    snprintf(ep->scheme, sizeof ep->scheme, "%s", scheme ? scheme : "");
    snprintf(ep->host, sizeof ep->host, "%s", host);
    ep->port = port;
    return 0;
}

int endpoints_add_path(struct endpoints *eps, const char *kind,
                       const char *label, const char *path,
                       const char *device)
{
    struct endpoint *ep = take(eps, kind, label);
    if (!ep)
        return -1;
    /* absolute: a caller reads it from anywhere */
    char cwd[256];
    if (path[0] != '/' && getcwd(cwd, sizeof cwd))
        snprintf(ep->path, sizeof ep->path, "%s/%s", cwd,
                 strncmp(path, "./", 2) ? path : path + 2);
    else
        snprintf(ep->path, sizeof ep->path, "%s", path);
    snprintf(ep->device, sizeof ep->device, "%s", device ? device : "");
    return 0;
}

/* host:port as clients write it: "127.0.0.1:1502", "[::1]:1502". */
static void address_of(const struct endpoint *ep, char *out, size_t len)
{
    snprintf(out, len, strchr(ep->host, ':') ? "[%s]:%d" : "%s:%d",
             ep->host, ep->port);
}

/* scheme://host:port/, or "" without a scheme. */
static void url_of(const struct endpoint *ep, char *out, size_t len)
{
    char addr[96];

    address_of(ep, addr, sizeof addr);
    if (ep->scheme[0])
        snprintf(out, len, "%s://%s/", ep->scheme, addr);
    else
        out[0] = '\0';
}

void endpoints_announce(const struct endpoints *eps)
{
    for (unsigned k = 0; k < eps->count; k++) {
        const struct endpoint *ep = &eps->list[k];
        char addr[96], url[128];
        if (ep->path[0] && strcmp(ep->path, ep->device) && ep->device[0])
            log_info("%s on %s -> %s", ep->label, ep->path, ep->device);
        else if (ep->path[0])
            log_info("%s on %s", ep->label, ep->path);
        else {
            address_of(ep, addr, sizeof addr);
            url_of(ep, url, sizeof url);
            log_info("%s on %s", ep->label, url[0] ? url : addr);
        }
    }
}

static json_t *endpoint_json(const struct endpoint *ep)
{
    json_t *o = json_object();
    char addr[96], url[128];

    json_object_set_new(o, "kind", json_string(ep->kind));
    if (ep->path[0]) {
        json_object_set_new(o, "path", json_string(ep->path));
        json_object_set_new(o, "device", json_string(ep->device[0] ?
                                                     ep->device : ep->path));
        return o;
    }
    address_of(ep, addr, sizeof addr);
    url_of(ep, url, sizeof url);
    json_object_set_new(o, "address", json_string(addr));
    json_object_set_new(o, "host", json_string(ep->host));
    json_object_set_new(o, "port", json_integer(ep->port));
    if (url[0])
        json_object_set_new(o, "url", json_string(url));
    return o;
}

static json_t *meter_json(const struct sim_meter *sm, unsigned index)
{
    json_t *o = json_object();
    uint16_t r[2] = { 0, 0 };
    unsigned slave = meter_comm(&sm->core)->slave;

    meter_reg_read(&sm->core, REG_X_SERIAL, 2, r);
    json_object_set_new(o, "index", json_integer(index));
    json_object_set_new(o, "serial",
                        json_integer((json_int_t)((uint32_t)r[0] << 16 | r[1])));
    /* 0: past the last address, off the bus */
    json_object_set_new(o, "slave", slave ? json_integer(slave) : json_null());
    return o;
}

json_t *endpoints_span_json(const struct engine *e)
{
    const struct engine_span *sp = &e->span;

    return json_pack("{s:i,s:i,s:i,s:i,s:i}", "index", sp->shard,
                     "count", sp->shards ? sp->shards : 1, "first", sp->first,
                     "end", sp->first + e->count, "fleet", sp->total);
}

int endpoints_write_ready(const struct endpoints *eps,
                          const struct engine *e, const char *path,
                          char *err, size_t errlen)
{
    json_t *root = json_object(), *list = json_array(), *meters = json_array();
    char *text;
    int rc;

    for (unsigned k = 0; k < eps->count; k++)
        json_array_append_new(list, endpoint_json(&eps->list[k]));
    for (unsigned k = 0; k < e->count; k++)
        json_array_append_new(meters, meter_json(&e->meters[k],
                                                 e->span.first + k));
    json_object_set_new(root, "pid", json_integer(getpid()));
    json_object_set_new(root, "version", json_string(SIM_VERSION));
    json_object_set_new(root, "endpoints", list);
    json_object_set_new(root, "shard", endpoints_span_json(e));
    json_object_set_new(root, "meters", meters);
    text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        snprintf(err, errlen, "--ready-file %s: out of memory", path);
        return -1;
    }
    struct safefile sf;
    if (safefile_open(&sf, path, "--ready-file", err, errlen))
        rc = -1;
    else if (fputs(text, sf.f) == EOF || fputc('\n', sf.f) == EOF) {
        snprintf(err, errlen, "--ready-file %s: cannot write it: %s", path,
                 strerror(errno));
        safefile_abort(&sf);
        rc = -1;
    } else {
        rc = safefile_commit(&sf, err, errlen);
    }
    free(text);
    return rc;
}
