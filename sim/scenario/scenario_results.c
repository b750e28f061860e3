/*
 * Scenario results: one case per assertion or named check, streamed as
 * they are decided (TAP lines with --tap; failures, and passes with -v,
 * otherwise), then the closing line and, with --junit, an XML report.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/log.h"
#include "sim/base/safefile.h"
#include "sim/scenario/scenario_results.h"
#include "sim/base/timeparse.h"

void sc_results_init(struct sc_results *r, bool tap, bool verbose,
                     struct sc_mem *mem)
{
    *r = (struct sc_results){ .tap = tap, .verbose = verbose, .mem = mem };
    if (tap) {
        printf("TAP version 13\n");
        fflush(stdout);
    }
}

/* Each line of text as a TAP comment ("# ..."). */
static void tap_comment(const char *text)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("# %.*s\n", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

static void free_case(struct sc_mem *m, struct sc_case *c)
{
    sc_mem_free_str(m, c->name);
    sc_mem_free_str(m, c->where);
    sc_mem_free_str(m, c->detail);
}

/* Keep c (its strings counted already); false over the cap. */
static bool add(struct sc_results *r, struct sc_case *c)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct sc_case *v = sc_mem_realloc(r->mem, r->v, r->cap * sizeof *v,
                                           cap * sizeof *v);
        if (!v) {
            free_case(r->mem, c);
            return false;
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *c;
    return true;
}

/* A counted copy of s, or of fallback when s is NULL; *ok false when the
 * cap refused it. */
static char *copy(struct sc_mem *m, const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = sc_mem_strdup(m, s);
    *ok &= d != NULL;
    return d;
}

bool sc_results_add(struct sc_results *r, bool ok, const char *name,
                    const char *where, const char *detail, int64_t t_ms)
{
    bool kept = true;
    struct sc_case c = {
        .name = copy(r->mem, name && *name ? name : "expectation", &kept),
        .where = copy(r->mem, where, &kept),
        .detail = ok ? NULL : copy(r->mem, detail ? detail : "failed", &kept),
        .ok = ok,
        .t_ms = t_ms,
    };
    char when[32];

    if (!kept || !add(r, &c)) {
        if (kept)
            return false;       /* add() gave the strings back */
        free_case(r->mem, &c);
        return false;
    }
    time_format_iso(t_ms / 1000, when, sizeof when);
    log_interrupt();
    if (ok)
        r->passed++;
    else
        r->failed++;
    if (r->tap) {
        printf("%s %u - %s%s%s%s\n", ok ? "ok" : "not ok",
               r->passed + r->failed + r->errors, c.name,
               where ? " (" : "", where ? where : "", where ? ")" : "");
        if (!ok) {
            char line[64];
            snprintf(line, sizeof line, "at virtual time %s", when);
            tap_comment(c.detail);
            tap_comment(line);
        }
    } else if (r->log && (!ok || r->verbose)) {
        log_msg(ok ? LOG_INFO : LOG_WARN, "%s%s%s [%s] %s%s%s",
                ok ? "PASS" : "FAIL", where ? " " : "", where ? where : "",
                when, c.name, ok ? "" : ": ", ok ? "" : c.detail);
    } else if (!ok || r->verbose) {
        printf("%s%s%s [%s] %s%s%s\n", ok ? "PASS" : "FAIL",
               where ? " " : "", where ? where : "", when, c.name,
               ok ? "" : ": ", ok ? "" : c.detail);
    }
    fflush(stdout);
    return true;
}

void sc_results_error(struct sc_results *r, const char *message,
                      const char *trace, int64_t t_ms)
{
    /* the error that ends the scenario is kept past the cap (it may be
     * the cap's own) */
    size_t limit = r->mem->limit;
    bool kept = true;

    r->mem->limit = 0;
    struct sc_case c = {
        .name = copy(r->mem, "scenario error", &kept),
        .ok = false,
        .error = true,
        .t_ms = t_ms,
    };
    size_t len = strlen(message) + (trace ? strlen(trace) + 1 : 0) + 1;

    c.detail = sc_mem_realloc(r->mem, NULL, 0, len);
    if (c.detail)
        snprintf(c.detail, len, "%s%s%s", message, trace ? "\n" : "",
                 trace ? trace : "");
    r->errors++;
    if (r->tap) {
        printf("not ok %u - scenario error\n",
               r->passed + r->failed + r->errors);
        tap_comment(c.detail ? c.detail : message);
        fflush(stdout);
    }
    add(r, &c);
    r->mem->limit = limit;
}

#define NO_CHECKS "scenario ran (no checks)"

void sc_results_close(struct sc_results *r, const char *cut_short,
                      int64_t t_ms)
{
    if (cut_short)
        sc_results_add(r, false, "scenario ran to its end", NULL, cut_short,
                       t_ms);
    r->empty = r->passed + r->failed + r->errors == 0;
    log_interrupt();
    if (r->tap) {
        /* "1..0" reads as skipped: a run without checks is one pass */
        if (r->empty)
            printf("ok 1 - " NO_CHECKS "\n");
        printf("1..%u\n", r->empty ? 1 : r->passed + r->failed + r->errors);
        printf("# %u passed, %u failed\n", r->passed,
               r->failed + r->errors);
    } else {
        printf("%u passed, %u failed\n", r->passed, r->failed + r->errors);
    }
    fflush(stdout);
}

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r')
                fprintf(f, "&#xFFFD;");   /* not allowed in XML 1.0 */
            else
                fputc(ch, f);
        }
    }
}

/* The first line of s, escaped, as an attribute value. */
static void xml_first_line(FILE *f, const char *s)
{
    const char *nl = s ? strchr(s, '\n') : NULL;
    if (!nl) {
        xml_text(f, s);
        return;
    }
    char *line = strndup(s, (size_t)(nl - s));
    xml_text(f, line);
    free(line);
}

static const struct sc_case *sort_cases;     /* for by_name (qsort) */

static int by_name(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(sort_cases[i].name, sort_cases[j].name);
    return c ? c : (i > j) - (i < j);
}

/* rep[k]: how many cases before k have k's name (0 for the first); NULL
 * when out of memory (names then stay as they are). */
static unsigned *repeats(const struct sc_results *r)
{
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx);
    unsigned *rep = calloc(r->n ? r->n : 1, sizeof *rep);

    if (!idx || !rep) {
        free(idx);
        free(rep);
        return NULL;
    }
    for (size_t k = 0; k < r->n; k++)
        idx[k] = k;
    sort_cases = r->v;
    qsort(idx, r->n, sizeof *idx, by_name);
    for (size_t k = 1; k < r->n; k++)
        if (!strcmp(r->v[idx[k]].name, r->v[idx[k - 1]].name))
            rep[idx[k]] = rep[idx[k - 1]] + 1;
    free(idx);
    return rep;
}

/* "where: " before a failure's text, when the case has a line. */
static void xml_where(FILE *f, const struct sc_case *c)
{
    if (c->where) {
        xml_text(f, c->where);
        fputc(' ', f);
    }
}

static void junit_case(FILE *f, const struct sc_case *c, unsigned rep,
                       const char *suite)
{
    char when[32];

    time_format_iso(c->t_ms / 1000, when, sizeof when);
    fprintf(f, "    <testcase classname=\"");
    xml_text(f, suite);
    fprintf(f, "\" name=\"");
    xml_text(f, c->name);
    if (rep)
        fprintf(f, " #%u", rep + 1);
    fprintf(f, "\" time=\"0\"");
    if (c->ok) {
        fprintf(f, "/>\n");
        return;
    }
    fprintf(f, ">\n      <%s message=\"", c->error ? "error" : "failure");
    xml_where(f, c);
    xml_first_line(f, c->detail);
    fprintf(f, "\">");
    xml_where(f, c);
    xml_text(f, c->detail);
    fprintf(f, "\nat virtual time %s</%s>\n    </testcase>\n", when,
            c->error ? "error" : "failure");
}

int sc_results_junit(const struct sc_results *r, const char *path,
                     const char *suite, double real_s, char *err,
                     size_t errlen)
{
    struct safefile sf;
    FILE *f;

    if (safefile_open(&sf, path, "--junit", err, errlen))
        return -1;
    f = sf.f;
    unsigned tests = r->passed + r->failed + r->errors + (r->empty ? 1 : 0);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites tests=\"%u\" failures=\"%u\" errors=\"%u\">\n",
            tests, r->failed, r->errors);
    fprintf(f, "  <testsuite name=\"");
    xml_text(f, suite);
    fprintf(f, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" "
            "time=\"%.3f\">\n", tests, r->failed, r->errors, real_s);
    if (r->empty) {
        fprintf(f, "    <testcase classname=\"");
        xml_text(f, suite);
        fprintf(f, "\" name=\"" NO_CHECKS "\" time=\"0\"/>\n");
    }
    unsigned *rep = repeats(r);
    for (size_t k = 0; k < r->n; k++)
        junit_case(f, &r->v[k], rep ? rep[k] : 0, suite);
    free(rep);
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return safefile_commit(&sf, err, errlen);
}

void sc_results_free(struct sc_results *r)
{
    for (size_t k = 0; k < r->n; k++)
        free_case(r->mem, &r->v[k]);
    sc_mem_free(r->mem, r->v, r->cap * sizeof *r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}
