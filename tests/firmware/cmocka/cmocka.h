/*
 * The part of cmocka's API the core's unit tests use (tests/unit), for
 * the Cortex-M4 images that run them under QEMU (scripts/firmware-test):
 * real cmocka needs a hosted C library. The tests compile unchanged
 * against this header; cmocka.c runs them.
 *
 * A failed assertion prints the file, line and values and ends the test
 * (longjmp back to the runner); the next test runs.
 */
#ifndef TESTS_FIRMWARE_CMOCKA_H
#define TESTS_FIRMWARE_CMOCKA_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

typedef uintmax_t LargestIntegralType;

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) { #f, f, NULL, NULL, NULL }
#define cmocka_unit_test_setup_teardown(f, setup, teardown) \
    { #f, f, setup, teardown, NULL }

int _cmocka_run_group_tests(const char *group,
                            const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction setup,
                            CMFixtureFunction teardown);
#define cmocka_run_group_tests_name(name, tests, setup, teardown) \
    _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), \
                            setup, teardown)
/* unnamed groups are named after the test file */
#define cmocka_run_group_tests(tests, setup, teardown) \
    cmocka_run_group_tests_name(_cm_group_name(__FILE__), tests, setup, \
                                teardown)
const char *_cm_group_name(const char *file);

/* No format checking: the tests print uint32_t with %x, right on the
 * host and of the same width here, where uint32_t is a long. */
void _cm_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn));
void _cm_skip(const char *file, int line) __attribute__((noreturn));
void _cm_int_equal(LargestIntegralType a, LargestIntegralType b,
                   const char *as, const char *bs, const char *file,
                   int line, int want_equal);
void _cm_memory_equal(const void *a, const void *b, size_t n,
                      const char *as, const char *bs, const char *file,
                      int line, int want_equal);

#define assert_true(c) \
    ((c) ? (void)0 : _cm_fail(__FILE__, __LINE__, "%s", #c))
#define assert_false(c) \
    (!(c) ? (void)0 : _cm_fail(__FILE__, __LINE__, "!(%s)", #c))
#define assert_non_null(p) assert_true((p) != NULL)
#define assert_null(p) assert_true((p) == NULL)
#define assert_int_equal(a, b) \
    _cm_int_equal((LargestIntegralType)(a), (LargestIntegralType)(b), #a, \
                  #b, __FILE__, __LINE__, 1)
#define assert_int_not_equal(a, b) \
    _cm_int_equal((LargestIntegralType)(a), (LargestIntegralType)(b), #a, \
                  #b, __FILE__, __LINE__, 0)
#define assert_memory_equal(a, b, n) \
    _cm_memory_equal(a, b, n, #a, #b, __FILE__, __LINE__, 1)
#define assert_memory_not_equal(a, b, n) \
    _cm_memory_equal(a, b, n, #a, #b, __FILE__, __LINE__, 0)
#define fail() _cm_fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) _cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() _cm_skip(__FILE__, __LINE__)
#define print_message(...) printf(__VA_ARGS__)

#endif
