/*
 * The runner behind tests/firmware/cmocka/cmocka.h: each test under a
 * setjmp, failures printed as they happen, one line per group:
 * "GROUP: N passed, N failed". The image's exit status is the failure
 * count (startup.c), which QEMU turns into its own (semihost.c).
 */
#include "cmocka.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "semihost.h"

static jmp_buf cm_jump;
static int cm_skipped;

void _cm_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    longjmp(cm_jump, 1);
}

void _cm_skip(const char *file, int line)
{
    (void)file;
    (void)line;
    cm_skipped = 1;
    longjmp(cm_jump, 1);
}

void _cm_int_equal(LargestIntegralType a, LargestIntegralType b,
                   const char *as, const char *bs, const char *file,
                   int line, int want_equal)
{
    if ((a == b) != want_equal)
        _cm_fail(file, line, "%s (%lld) %s %s (%lld)", as, (long long)a,
                 want_equal ? "!=" : "==", bs, (long long)b);
}

void _cm_memory_equal(const void *a, const void *b, size_t n,
                      const char *as, const char *bs, const char *file,
                      int line, int want_equal)
{
    if ((memcmp(a, b, n) == 0) != want_equal)
        _cm_fail(file, line, "%s and %s %s in %u bytes", as, bs,
                 want_equal ? "differ" : "are the same", (unsigned)n);
}

/* ".../test_energy.c" -> "energy" */
const char *_cm_group_name(const char *file)
{
    static char name[32];
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    size_t n;

    if (strncmp(base, "test_", 5) == 0)
        base += 5;
    n = strcspn(base, ".");
    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, base, n);
    name[n] = '\0';
    return name;
}

/* Named on the command line after "skip": scripts/firmware-test leaves
 * out the tests that simulate a year second by second, hours under QEMU. */
static int skipped_by_name(const char *name)
{
    static char line[512];
    static int read;
    const char *p;
    size_t n = strlen(name);

    if (!read)
        read = sh_cmdline(line, sizeof line) == 0 ? 1 : -1;
    if (read < 0 || strncmp(line, "skip ", 5) != 0)
        return 0;
    for (p = line + 5; (p = strstr(p, name)) != NULL; p += n)
        if ((p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

int _cmocka_run_group_tests(const char *group,
                            const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction setup,
                            CMFixtureFunction teardown)
{
    void *group_state = NULL;
    /* volatile: they live across the longjmp of a failed test */
    volatile int passed = 0, failed = 0, skipped = 0;

    if (setup && setup(&group_state) != 0) {
        printf("%s: group set-up failed\n", group);
        return 1;
    }
    for (volatile size_t k = 0; k < n; k++) {
        void *state = tests[k].initial_state ? tests[k].initial_state
                                             : group_state;
        cm_skipped = 0;
        if (skipped_by_name(tests[k].name)) {
            printf("[  SKIPPED ] %s\n", tests[k].name);
            skipped++;
            continue;
        }
        printf("[ RUN      ] %s\n", tests[k].name);
        if (setjmp(cm_jump) == 0) {
            if (tests[k].setup_func && tests[k].setup_func(&state) != 0)
                _cm_fail(__FILE__, __LINE__, "set-up failed");
            tests[k].test_func(&state);
            if (tests[k].teardown_func)
                tests[k].teardown_func(&state);
            printf("[       OK ] %s\n", tests[k].name);
            passed++;
        } else if (cm_skipped) {
            skipped++;
        } else {
            printf("[  FAILED  ] %s\n", tests[k].name);
            failed++;
        }
    }
    if (teardown)
        teardown(&group_state);
    printf("%s: %d passed, %d failed", group, passed, failed);
    if (skipped)
        printf(", %d skipped", skipped);
    printf("\n");
    return failed;
}
