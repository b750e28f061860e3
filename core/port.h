/*
 * The firmware core's porting header: error codes and the hooks a port may
 * override (assert, trace). Nothing here reaches the OS; a host or a board
 * supplies CORE_ASSERT / CORE_TRACE before including core headers (or on
 * the compiler's command line).
 */
#ifndef CORE_PORT_H
#define CORE_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Error codes: 0 is success, negative is an error, positive a count. */
enum core_err {
    CORE_OK = 0,
    CORE_EINVAL = -22,      /* an argument or a table is invalid */
    CORE_ERANGE = -34,      /* a value is outside what the meter accepts */
    CORE_ENOSPC = -28,      /* a caller buffer is too small */
    CORE_EBADMSG = -74,     /* an image is corrupt (CRC, length, magic) */
    CORE_EVERSION = -75,    /* an image is of another version or meter */
};

/* Assertions: a port may define CORE_ASSERT(x) itself (a board's fault
 * hook); host and test builds define CORE_ASSERT_HOST to check them with
 * assert(); otherwise (the firmware build) they compile to nothing. */
#ifndef CORE_ASSERT
#ifdef CORE_ASSERT_HOST
#include <assert.h>
#define CORE_ASSERT(x) assert(x)
#else
#define CORE_ASSERT(x) ((void)0)
#endif
#endif

/* Tracing is off unless the port defines CORE_TRACE(fmt, ...). */
#ifndef CORE_TRACE
#define CORE_TRACE(...) ((void)0)
#endif

#endif
