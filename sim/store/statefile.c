#define _GNU_SOURCE
#include "sim/store/statefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/meter_host.h"
#include "sim/base/le.h"
#include "sim/base/log.h"
#include "sim/base/safefile.h"

#define MAGIC "KPM31CSF"
#define VERSION 1
#define HEADER 16
#define SECTION 8
#define MAX_FILE (1024u << 20)    /* 1 GiB: a large fleet's uplink queues */

enum { SEC_METER = 1, SEC_CLOCK = 2, SEC_RTC = 4 };

static struct state_extra extra;    /* type 0: none registered */

void state_set_extra(const struct state_extra *x)
{
    if (x)
        extra = *x;
    else
        memset(&extra, 0, sizeof extra);
}

/* Read the whole file. 1 = no file, 0 = read, -1 = error. */
static int read_file(const char *path, uint8_t **buf, size_t *len, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;

    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > MAX_FILE) {
        snprintf(err, errlen, "state file %s: not a regular file of at most "
                 "1 GiB", path);
        fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    if (!*buf || fread(*buf, 1, *len, f) != *len) {
        snprintf(err, errlen, "state file %s: cannot read it", path);
        free(*buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Check the container. Returns the number of sections or -1. */
static long check_container(const char *path, const uint8_t *buf, size_t len,
                            char *err, size_t errlen)
{
    if (len < HEADER + 4 || memcmp(buf, MAGIC, 8) != 0) {
        snprintf(err, errlen, "state file %s: not a kpm31c-sim state file "
                 "(bad magic or too short)", path);
        return -1;
    }
    if (le_get16(buf + 8) != VERSION) {
        snprintf(err, errlen, "state file %s: format version %u, this "
                 "build reads version %u", path, le_get16(buf + 8), VERSION);
        return -1;
    }
    if (crc32_update(0, buf, len - 4) != le_get32(buf + len - 4)) {
        snprintf(err, errlen, "state file %s: corrupt (checksum mismatch; "
                 "truncated or altered)", path);
        return -1;
    }
    return (long)le_get32(buf + 12);
}

/* Walk the sections; calls fn for each. -1 on a malformed layout. */
static int walk(const char *path, const uint8_t *buf, size_t len, long n,
                int (*fn)(void *, uint16_t, const uint8_t *, uint32_t),
                void *ctx, char *err, size_t errlen)
{
    size_t off = HEADER, end = len - 4;

    for (long k = 0; k < n; k++) {
        if (end - off < SECTION ||
            le_get32(buf + off + 4) > end - off - SECTION) {
            snprintf(err, errlen, "state file %s: section %ld runs past the "
                     "end", path, k);
            return -1;
        }
        uint16_t type = le_get16(buf + off);
        uint32_t slen = le_get32(buf + off + 4);
        int rc = fn(ctx, type, buf + off + SECTION, slen);
        if (rc)
            return rc;
        off += SECTION + slen;
    }
    if (off != end) {
        snprintf(err, errlen, "state file %s: %zu stray bytes after the "
                 "last section", path, end - off);
        return -1;
    }
    return 0;
}

/* The clock section: the virtual clock when saved, ms, within the RTC's
 * range. 0, or -1 with a message naming the file and the field. */
static int clock_field(const char *path, const uint8_t *data, uint32_t len,
                       int64_t *clock_ms, char *err, size_t errlen)
{
    if (len != 8) {
        snprintf(err, errlen, "state file %s: clock section: %u bytes, "
                 "expected 8", path, (unsigned)len);
        return -1;
    }
    int64_t v = (int64_t)le_get64(data);
    if (v < RTC_MIN * 1000 || v / 1000 > RTC_MAX) {
        snprintf(err, errlen, "state file %s: clock section: virtual clock "
                 "%lld ms is outside the years %d..%d", path, (long long)v,
                 RTC_YEAR_MIN, RTC_YEAR_MAX);
        return -1;
    }
    *clock_ms = v;
    return 0;
}

struct load_ctx {
    struct engine *e;
    int64_t now;
    struct state_info *info;
    const char *path;
    char *err;
    size_t errlen;
    const uint8_t *rtc;     /* SEC_RTC's payload, if seen */
    uint32_t rtc_len;
};

/* Meter k's RTC offset from virtual time, s, as saved (0 when none). */
static int64_t saved_offset(const struct load_ctx *c, unsigned k)
{
    if (!c->rtc || (size_t)(k + 1) * 8 > c->rtc_len)
        return 0;
    return (int64_t)le_get64(c->rtc + 8 * (size_t)k);
}

static int load_section(void *p, uint16_t type, const uint8_t *data,
                        uint32_t len)
{
    struct load_ctx *c = p;
    int rc;

    switch (type) {
    case SEC_METER:
        if (c->info->meters >= c->e->count) {
            snprintf(c->err, c->errlen, "state file %s holds more meters "
                     "than --meters %u: refusing to drop their energy",
                     c->path, c->e->count);
            return -1;
        }
        struct sim_meter *sm = &c->e->meters[c->info->meters];
        int64_t offset = saved_offset(c, c->info->meters);
        if (offset < RTC_MIN - RTC_MAX || offset > RTC_MAX - RTC_MIN ||
            c->now + offset < RTC_MIN || c->now + offset > RTC_MAX) {
            snprintf(c->err, c->errlen, "state file %s: clock offsets "
                     "section: meter %u's offset %lld s puts its clock "
                     "outside the years %d..%d", c->path, c->info->meters,
                     (long long)offset, RTC_YEAR_MIN, RTC_YEAR_MAX);
            return -1;
        }
        /* a clock a user set keeps its distance from virtual time, as a
         * real RTC keeps running on its battery */
        rc = meter_nv_restore(&sm->core, data, len, c->now + offset);
        if (rc) {
            snprintf(c->err, c->errlen, "state file %s: meter %u's image is "
                     "%s", c->path, c->info->meters,
                     rc == CORE_EVERSION ? "from another firmware version"
                                         : "corrupt");
            return -1;
        }
        sm->rtc_offset = offset;
        sm->rtc_last = meter_time(&sm->core);
        engine_refresh_load(sm);
        c->info->meters++;
        return 0;
    case SEC_RTC:
        if (len % 8) {
            snprintf(c->err, c->errlen, "state file %s: bad clock offsets "
                     "section", c->path);
            return -1;
        }
        c->rtc = data;
        c->rtc_len = len;
        return 0;
    case SEC_CLOCK:
        return clock_field(c->path, data, len, &c->info->clock_ms, c->err,
                           c->errlen);
    default:
        if (extra.type && type == extra.type &&
            extra.load(extra.ctx, data, len, c->err, c->errlen)) {
            char why[256];
            snprintf(why, sizeof why, "%s", c->err);
            snprintf(c->err, c->errlen, "state file %s: %s", c->path, why);
            return -1;
        }
        return 0;       /* a later version's section: nothing to restore */
    }
}

struct peek_ctx {
    const char *path;
    int64_t *clock_ms;
    char *err;
    size_t errlen;
};

static int clock_section(void *p, uint16_t type, const uint8_t *data,
                         uint32_t len)
{
    struct peek_ctx *c = p;
    return type == SEC_CLOCK ? clock_field(c->path, data, len, c->clock_ms,
                                           c->err, c->errlen) : 0;
}

int state_peek_clock(const char *path, int64_t *clock_ms, char *err,
                     size_t errlen)
{
    uint8_t *buf;
    size_t len;
    int rc = read_file(path, &buf, &len, err, errlen);
    if (rc)
        return rc;
    long n = check_container(path, buf, len, err, errlen);
    struct peek_ctx c = { path, clock_ms, err, errlen };
    rc = n < 0 ? -1 : walk(path, buf, len, n, clock_section, &c, err, errlen);
    free(buf);
    return rc;
}

int state_load(const char *path, struct engine *e, int64_t now,
               struct state_info *info, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    struct load_ctx c = { .e = e, .now = now, .info = info, .path = path,
                          .err = err, .errlen = errlen };

    memset(info, 0, sizeof *info);
    int rc = read_file(path, &buf, &len, err, errlen);
    if (rc)
        return rc;
    long n = check_container(path, buf, len, err, errlen);
    rc = n < 0 ? -1 : walk(path, buf, len, n, load_section, &c, err, errlen);
    free(buf);
    return rc;
}

/* A section header at p: type, reserved, payload length. */
static void put_section(uint8_t *p, uint16_t type, uint32_t len)
{
    le_put16(p, type);
    le_put16(p + 2, 0);
    le_put32(p + 4, len);
}

/* Bytes the whole file may need, and the number of extra sections. */
static size_t save_capacity(const struct engine *e, unsigned *nextra)
{
    size_t cap = HEADER + SECTION + (size_t)e->count * 8 +
                 (size_t)e->count * (SECTION + METER_NV_MAX) +
                 SECTION + 8 + 4;

    *nextra = 0;
    for (unsigned k = 0; extra.type && k < e->count; k++) {
        size_t n = extra.size(extra.ctx, k);
        if (n) {
            cap += SECTION + n;
            (*nextra)++;
        }
    }
    return cap;
}

/* The whole image into buf (save_capacity bytes): its length, or 0 with a
 * message when a meter's image does not fit. */
static size_t build_image(const char *path, const struct engine *e,
                          unsigned nextra, uint8_t *buf, char *err,
                          size_t errlen)
{
    size_t off = HEADER;

    memcpy(buf, MAGIC, 8);
    le_put16(buf + 8, VERSION);
    le_put16(buf + 10, 0);
    le_put32(buf + 12, 1 + e->count + 1 + nextra);
    /* the RTC offsets first: restoring an image needs its meter's */
    put_section(buf + off, SEC_RTC, e->count * 8);
    off += SECTION;
    for (unsigned k = 0; k < e->count; k++, off += 8)
        le_put64(buf + off, (uint64_t)engine_rtc_offset(&e->meters[k]));
    for (unsigned k = 0; k < e->count; k++) {
        int n = meter_nv_save(&e->meters[k].core, buf + off + SECTION,
                              METER_NV_MAX);
        if (n < 0) {
            snprintf(err, errlen, "state file %s: meter %u's image does not "
                     "fit (%d)", path, k, n);
            return 0;
        }
        put_section(buf + off, SEC_METER, (uint32_t)n);
        off += SECTION + (size_t)n;
    }
    put_section(buf + off, SEC_CLOCK, 8);
    le_put64(buf + off + SECTION, (uint64_t)e->now_ms);
    off += SECTION + 8;
    for (unsigned k = 0; extra.type && k < e->count; k++) {
        if (!extra.size(extra.ctx, k))
            continue;
        size_t n = extra.save(extra.ctx, k, buf + off + SECTION);
        put_section(buf + off, extra.type, (uint32_t)n);
        off += SECTION + n;
    }
    le_put32(buf + off, crc32_update(0, buf, off));
    return off + 4;
}

int state_claim(const char *path, struct lockfile *lock, char *err,
                size_t errlen)
{
    char target[SAFEFILE_PATH];

    if (safefile_target(path, target, sizeof target, err, errlen) ||
        lockfile_take(lock, target, "state file", err, errlen))
        return -1;
    int stale = safefile_remove_stale(target);
    if (stale)
        log_info("state file %s: removed %d temporary file(s) a stopped "
                 "process left", path, stale);
    return 0;
}

int state_save(const char *path, const struct engine *e, char *err,
               size_t errlen)
{
    unsigned nextra;
    size_t cap = save_capacity(e, &nextra);
    uint8_t *buf = cap <= MAX_FILE ? malloc(cap) : NULL;

    if (!buf) {
        snprintf(err, errlen, "state file %s: %s", path, cap > MAX_FILE ?
                 "the state would exceed 1 GiB (shorten --mqtt-queue)" :
                 "out of memory");
        return -1;
    }
    size_t len = build_image(path, e, nextra, buf, err, errlen);
    int rc = len ? safefile_write(path, "state file", buf, len, err, errlen)
                 : -1;
    free(buf);
    return rc;
}
