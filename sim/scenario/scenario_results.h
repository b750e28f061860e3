/*
 * Scenario results (scenario_results.c): one case per assertion or named
 * check, TAP, JUnit and the closing line.
 */
#ifndef SIM_SCENARIO_RESULTS_H
#define SIM_SCENARIO_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario/scenario_mem.h"

struct sc_case {
    char *name;             /* the assertion's message or check's name */
    char *where;            /* "file:line" */
    char *detail;           /* why it failed; NULL when it passed */
    bool ok;
    bool error;             /* a scenario error, not an assertion */
    int64_t t_ms;           /* virtual time it was decided */
};

struct sc_results {
    struct sc_case *v;
    size_t n, cap;
    unsigned passed, failed, errors;
    bool tap;               /* stream TAP on stdout */
    bool verbose;           /* also list passing cases */
    bool log;               /* a UI owns stdout: results to the log */
    struct sc_mem *mem;     /* what the cases take is counted here */
    bool empty;             /* closed without a case: reported as one
                               passing "scenario ran (no checks)" */
};

void sc_results_init(struct sc_results *r, bool tap, bool verbose,
                     struct sc_mem *mem);
/* Record one case (and stream it); false, nothing recorded, when it
 * would pass the memory cap. */
bool sc_results_add(struct sc_results *r, bool ok, const char *name,
                    const char *where, const char *detail, int64_t t_ms);
/* Record the scenario error that ended the run. */
void sc_results_error(struct sc_results *r, const char *message,
                      const char *trace, int64_t t_ms);
/* The TAP plan and the closing line ("N passed, N failed"). cut_short,
 * when the run stopped before the script's end (--until, a signal), says
 * how: it is recorded as a failed case at t_ms, as the checks after it
 * never ran. */
void sc_results_close(struct sc_results *r, const char *cut_short,
                      int64_t t_ms);
/* JUnit XML: one testsuite, one testcase per case, named by its name
 * alone (" #2" on a repeat) so names survive edits of the script; the
 * line is in the failure's message. 0, or -1 with err. */
int sc_results_junit(const struct sc_results *r, const char *path,
                     const char *suite, double real_s, char *err,
                     size_t errlen);
void sc_results_free(struct sc_results *r);

#endif
