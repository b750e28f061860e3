#include "sim/store/pulses.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pulses {
    FILE *f;
    bool csv;
    bool own;                   /* opened here (not stdout) */
    bool failed;                /* a write failed: said at close */
    char path[4096];
    struct engine *e;
    struct engine_hooks chained;    /* the engine's hooks before ours */
};

static int format_of(const char *path, bool *csv, char *err, size_t errlen)
{
    size_t n = strlen(path);

    *csv = false;
    if (!strcmp(path, "-"))
        return 0;
    if (n > 4 && !strcmp(path + n - 4, ".csv")) {
        *csv = true;
        return 0;
    }
    if (n > 6 && !strcmp(path + n - 6, ".jsonl"))
        return 0;
    snprintf(err, errlen, "--pulses %s: the file must end in .csv or .jsonl "
             "(or be - for stdout)", path);
    return -1;
}

int pulses_check(const char *path, char *err, size_t errlen)
{
    bool csv;
    return format_of(path, &csv, err, errlen);
}

static void on_pulse(void *ctx, unsigned meter, uint64_t count, int64_t t_ms)
{
    struct pulses *p = ctx;
    uint32_t serial = p->e->meters[meter].core.serial;
    int n;

    if (p->csv)
        n = fprintf(p->f, "%lu,%llu,%lld\n", (unsigned long)serial,
                    (unsigned long long)count, (long long)t_ms);
    else
        n = fprintf(p->f, "{\"serial\":%lu,\"count\":%llu,\"t_ms\":%lld}\n",
                    (unsigned long)serial, (unsigned long long)count,
                    (long long)t_ms);
    if (n < 0)
        p->failed = true;
    if (p->chained.pulse)
        p->chained.pulse(p->chained.ctx, meter, count, t_ms);
}

static void on_settled(void *ctx, unsigned meter, int64_t t)
{
    struct pulses *p = ctx;
    if (p->chained.settled)
        p->chained.settled(p->chained.ctx, meter, t);
}

static void on_relay(void *ctx, unsigned meter, bool closed)
{
    struct pulses *p = ctx;
    if (p->chained.relay)
        p->chained.relay(p->chained.ctx, meter, closed);
}

struct pulses *pulses_open(const char *path, struct engine *e, char *err,
                           size_t errlen)
{
    struct pulses *p = calloc(1, sizeof *p);

    if (!p) {
        snprintf(err, errlen, "--pulses: out of memory");
        return NULL;
    }
    if (format_of(path, &p->csv, err, errlen)) {
        free(p);
        return NULL;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    if (!strcmp(path, "-")) {
        p->f = stdout;
    } else {
        p->f = fopen(path, "w");
        p->own = true;
        if (!p->f) {
            snprintf(err, errlen, "--pulses %s: %s", path, strerror(errno));
            free(p);
            return NULL;
        }
        if (p->csv && fputs("serial,count,t_ms\n", p->f) < 0)
            p->failed = true;
    }
    p->e = e;
    p->chained = e->hooks;
    e->hooks = (struct engine_hooks){
        .ctx = p, .pulse = on_pulse, .settled = on_settled,
        .relay = on_relay,
    };
    return p;
}

int pulses_close(struct pulses *p, char *err, size_t errlen)
{
    int rc = 0;

    if (!p)
        return 0;
    if (fflush(p->f) != 0 || ferror(p->f))
        p->failed = true;
    if (p->own && fclose(p->f) != 0)
        p->failed = true;
    if (p->failed) {
        snprintf(err, errlen, "--pulses %s: could not write every pulse",
                 p->path);
        rc = -1;
    }
    free(p);
    return rc;
}
