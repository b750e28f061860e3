/*
 * Fault injection: rules, the spec parser and the seeded decision.
 */
#include "modbus_fault.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus.h"

/* Longest spec accepted, bytes. */
#define SPEC_MAX 256

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void mb_faults_seed(struct mb_faults *f, uint64_t seed)
{
    f->rng = splitmix64(seed);
    if (f->rng == 0)
        f->rng = 0x2545F4914F6CDD1Dull;
}

void mb_faults_init(struct mb_faults *f, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->next_id = 1;
    mb_faults_seed(f, seed);
}

/* Uniform in [0, 1): xorshift64*, 53 bits. */
static double draw(struct mb_faults *f)
{
    uint64_t x = f->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    f->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

void mb_fault_default(struct mb_fault *rule, enum mb_fault_kind kind)
{
    memset(rule, 0, sizeof(*rule));
    rule->kind = (uint8_t)kind;
    rule->transport = MB_FAULT_ANY_TRANSPORT;
    rule->slave = MB_FAULT_ANY_SLAVE;
    rule->any_addr = true;
    rule->addr_lo = 0;
    rule->addr_hi = 0xFFFF;
    rule->p = 1.0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A whole unsigned number: decimal, or hexadecimal after 0x. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    int base = 10;
    char *end;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_addr(const char *val, struct mb_fault *rule, char *err,
                      size_t errlen)
{
    char lo[32], *dash;
    unsigned long a, b;

    if (!strcmp(val, "any") || !strcmp(val, "*")) {
        rule->any_addr = true;
        rule->addr_lo = 0;
        rule->addr_hi = 0xFFFF;
        return 0;
    }
    if (strlen(val) >= sizeof(lo))
        return fail(err, errlen, "addr=%s: too long", val);
    strcpy(lo, val);
    dash = strchr(lo, '-');
    if (dash)
        *dash = '\0';
    if (parse_uint(lo, 0xFFFF, &a))
        return fail(err, errlen, "addr=%s: '%s' is not a register address "
                    "(0..65535 or 0x0000..0xffff)", val, lo);
    b = a;
    if (dash && parse_uint(dash + 1, 0xFFFF, &b))
        return fail(err, errlen, "addr=%s: '%s' is not a register address "
                    "(0..65535 or 0x0000..0xffff)", val, dash + 1);
    if (b < a)
        return fail(err, errlen, "addr=%s: the range ends before it starts",
                    val);
    rule->any_addr = false;
    rule->addr_lo = (uint16_t)a;
    rule->addr_hi = (uint16_t)b;
    return 0;
}

static int parse_p(const char *val, struct mb_fault *rule, char *err,
                   size_t errlen)
{
    char *end;
    size_t n = strlen(val);
    bool percent = n > 0 && val[n - 1] == '%';

    if (n == 0)
        return fail(err, errlen, "p=: missing probability (0..1 or 0%%..100%%)");
    errno = 0;
    double p = strtod(val, &end);
    if (errno || end == val || (percent ? end != val + n - 1 : *end != '\0'))
        return fail(err, errlen, "p=%s: not a number (0..1 or 0%%..100%%)",
                    val);
    if (percent)
        p /= 100.0;
    if (!(p >= 0.0 && p <= 1.0))
        return fail(err, errlen, "p=%s: probability must be between 0 and 1 "
                    "(or 0%%..100%%)", val);
    rule->p = p;
    return 0;
}

static const char *const kind_names[] = { "delay", "noreply", "busy",
                                          "badcrc" };

/* The fault kind tok names, or -1. */
static int kind_of(const char *tok)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(tok, kind_names[k]))
            return k;
    return -1;
}

/* A kind item: "delay=MS", "noreply", "busy" or "badcrc" (val NULL when
 * the item has no '='). */
static int parse_kind(int kind, const char *tok, const char *val,
                      struct mb_fault *r, char *err, size_t errlen)
{
    unsigned long ms;

    r->kind = (uint8_t)kind;
    if (kind != MB_FAULT_DELAY) {
        if (val)
            return fail(err, errlen, "%s takes no value (got %s=%s)", tok,
                        tok, val);
        return 0;
    }
    if (!val)
        return fail(err, errlen, "delay needs a value in milliseconds, e.g. "
                    "delay=200");
    if (parse_uint(val, 600000, &ms))
        return fail(err, errlen, "delay=%s: not a whole number of "
                    "milliseconds (0..600000)", val);
    r->delay_ms = (uint32_t)ms;
    return 0;
}

static int parse_slave(const char *val, struct mb_fault *r, char *err,
                       size_t errlen)
{
    unsigned long s;

    if (!strcmp(val, "any") || !strcmp(val, "*")) {
        r->slave = MB_FAULT_ANY_SLAVE;
        return 0;
    }
    if (parse_uint(val, MB_SLAVE_MAX, &s) || s < MB_SLAVE_MIN)
        return fail(err, errlen, "slave=%s: not a slave address (%d..%d or "
                    "any)", val, MB_SLAVE_MIN, MB_SLAVE_MAX);
    r->slave = (int16_t)s;
    return 0;
}

static int parse_transport(const char *val, struct mb_fault *r, char *err,
                           size_t errlen)
{
    if (!strcmp(val, "rtu"))
        r->transport = MB_FAULT_RTU;
    else if (!strcmp(val, "tcp"))
        r->transport = MB_FAULT_TCP;
    else if (!strcmp(val, "any"))
        r->transport = MB_FAULT_ANY_TRANSPORT;
    else
        return fail(err, errlen, "transport=%s: expected rtu, tcp or any",
                    val);
    return 0;
}

/* A KEY=VALUE item (val NULL when the item has no '='). */
static int parse_key(const char *tok, const char *val, struct mb_fault *r,
                     char *err, size_t errlen)
{
    if (!val)
        return fail(err, errlen, "unknown fault '%s' (delay=MS, noreply, "
                    "busy or badcrc)", tok);
    if (!strcmp(tok, "slave"))
        return parse_slave(val, r, err, errlen);
    if (!strcmp(tok, "addr"))
        return parse_addr(val, r, err, errlen);
    if (!strcmp(tok, "p"))
        return parse_p(val, r, err, errlen);
    if (!strcmp(tok, "transport"))
        return parse_transport(val, r, err, errlen);
    return fail(err, errlen, "unknown key '%s' (a fault kind: delay=MS, "
                "noreply, busy or badcrc; then keys: slave=, addr=, p=, "
                "transport=)", tok);
}

int mb_fault_parse(const char *spec, struct mb_fault *rule, char *err,
                   size_t errlen)
{
    char buf[SPEC_MAX];
    char *save = NULL, *tok;
    const char *kind_tok = NULL;
    struct mb_fault r;

    if (!spec || !*spec)
        return fail(err, errlen, "empty fault spec (delay=MS, noreply, busy "
                    "or badcrc, then optional slave=, addr=, p=, transport=)");
    if (strlen(spec) >= sizeof(buf))
        return fail(err, errlen, "fault spec longer than %d characters",
                    SPEC_MAX - 1);
    strcpy(buf, spec);
    mb_fault_default(&r, MB_FAULT_DELAY);

    /* Walk the items by hand: strtok would skip empty ones silently. */
    for (tok = buf; tok; tok = save) {
        char *comma = strchr(tok, ',');
        save = comma ? comma + 1 : NULL;
        if (comma)
            *comma = '\0';
        if (*tok == '\0')
            return fail(err, errlen, "empty item (two commas, or a comma at "
                        "an end)");

        char *eq = strchr(tok, '=');
        const char *val = eq ? eq + 1 : NULL;
        if (eq)
            *eq = '\0';

        int kind = kind_of(tok);
        if (kind >= 0 && kind_tok)
            return fail(err, errlen, "two fault kinds, '%s' and '%s': one "
                        "per spec", kind_tok, tok);
        if (kind >= 0)
            kind_tok = kind_names[kind];
        if (kind >= 0 ? parse_kind(kind, tok, val, &r, err, errlen)
                      : parse_key(tok, val, &r, err, errlen))
            return -1;
    }
    if (!kind_tok)
        return fail(err, errlen, "no fault kind (delay=MS, noreply, busy or "
                    "badcrc)");
    if (r.kind == MB_FAULT_BADCRC && r.transport == MB_FAULT_TCP)
        return fail(err, errlen, "badcrc applies to RTU only (TCP frames "
                    "carry no CRC)");
    *rule = r;
    return 0;
}

int mb_fault_format(const struct mb_fault *rule, char *buf, size_t len)
{
    static const char *const transports[] = { "any", "rtu", "tcp" };
    char slave[16], addr[32];
    const char *kind = rule->kind < 4 ? kind_names[rule->kind] : "?";

    if (rule->slave == MB_FAULT_ANY_SLAVE)
        snprintf(slave, sizeof(slave), "any");
    else
        snprintf(slave, sizeof(slave), "%d", rule->slave);
    if (rule->any_addr)
        snprintf(addr, sizeof(addr), "any");
    else if (rule->addr_lo == rule->addr_hi)
        snprintf(addr, sizeof(addr), "0x%04x", rule->addr_lo);
    else
        snprintf(addr, sizeof(addr), "0x%04x-0x%04x", rule->addr_lo,
                 rule->addr_hi);

    char d[24] = "";
    if (rule->kind == MB_FAULT_DELAY)
        snprintf(d, sizeof(d), "=%u", (unsigned)rule->delay_ms);
    return snprintf(buf, len, "%s%s,slave=%s,addr=%s,p=%g,transport=%s",
                    kind, d, slave, addr, rule->p,
                    transports[rule->transport < 3 ? rule->transport : 0]);
}

int mb_faults_add(struct mb_faults *f, const struct mb_fault *rule)
{
    if (f->n >= MB_FAULTS_MAX)
        return -1;
    f->rule[f->n] = *rule;
    f->id[f->n] = f->next_id++;
    return f->id[f->n++];
}

int mb_faults_add_spec(struct mb_faults *f, const char *spec, char *err,
                       size_t errlen)
{
    struct mb_fault r;

    if (mb_fault_parse(spec, &r, err, errlen))
        return -1;
    int id = mb_faults_add(f, &r);
    if (id < 0)
        return fail(err, errlen, "too many faults (at most %d at once)",
                    MB_FAULTS_MAX);
    return id;
}

int mb_faults_remove(struct mb_faults *f, int handle)
{
    for (int k = 0; k < f->n; k++) {
        if (f->id[k] == handle) {
            memmove(&f->rule[k], &f->rule[k + 1],
                    (size_t)(f->n - k - 1) * sizeof(f->rule[0]));
            memmove(&f->id[k], &f->id[k + 1],
                    (size_t)(f->n - k - 1) * sizeof(f->id[0]));
            f->n--;
            return 0;
        }
    }
    return -1;
}

void mb_faults_clear(struct mb_faults *f)
{
    f->n = 0;
}

static bool matches(const struct mb_fault *r, enum mb_fault_transport tr,
                    int slave, bool has_addr, uint16_t addr, uint16_t count)
{
    if (r->transport != MB_FAULT_ANY_TRANSPORT && r->transport != tr)
        return false;
    if (r->kind == MB_FAULT_BADCRC && tr != MB_FAULT_RTU)
        return false;
    if (r->slave != MB_FAULT_ANY_SLAVE && r->slave != slave)
        return false;
    if (r->any_addr)
        return true;
    if (!has_addr)
        return false;
    /* the request's registers [addr, addr+count) overlap [lo, hi] */
    uint32_t last = (uint32_t)addr + (count ? count : 1) - 1;
    return addr <= r->addr_hi && last >= r->addr_lo;
}

bool mb_faults_decide(struct mb_faults *f, enum mb_fault_transport transport,
                      int slave, bool has_addr, uint16_t addr, uint16_t count,
                      struct mb_fault_action *act)
{
    bool any = false;

    memset(act, 0, sizeof(*act));
    if (!f)
        return false;
    for (int k = 0; k < f->n; k++) {
        const struct mb_fault *r = &f->rule[k];
        if (!matches(r, transport, slave, has_addr, addr, count))
            continue;
        if (r->p < 1.0 && !(draw(f) < r->p))
            continue;
        any = true;
        switch (r->kind) {
        case MB_FAULT_DELAY:
            act->delay_ms += r->delay_ms;
            break;
        case MB_FAULT_NOREPLY:
            act->noreply = true;
            break;
        case MB_FAULT_BUSY:
            act->busy = true;
            break;
        case MB_FAULT_BADCRC:
            act->badcrc = true;
            break;
        default:
            break;
        }
    }
    if (any)
        f->hits++;
    return any;
}
