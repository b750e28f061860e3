/*
 * The state file: the meters' non-volatile images (and host data) in one
 * file, written atomically (temporary file, fsync, rename, fsync of the
 * directory), so a crash at any moment leaves either the old file or the
 * new one, never a mixture.
 *
 * Layout, little-endian: magic "KPM31CSF", u16 version, u16 0, u32 number
 * of sections; each section u16 type, u16 0, u32 length, payload; then a
 * CRC-32 of everything before it. Sections: 1 = one meter's image (in
 * fleet order), 2 = the virtual clock (i64 ms).
 */
#ifndef SIM_STATEFILE_H
#define SIM_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* What a loaded state file held. */
struct state_info {
    unsigned meters;        /* meter images found */
    int64_t clock_ms;       /* virtual clock when saved */
};

/* Read path into the engine's meters. Returns 1 when there is no such
 * file (a fresh start), 0 when restored, -1 with a message in err naming
 * what is wrong (the file is left as it is). now: the RTC time to resume
 * at (settlements missed meanwhile apply). */
int state_load(const char *path, struct engine *e, int64_t now,
               struct state_info *info, char *err, size_t errlen);

/* Only the saved virtual clock (to choose where to resume). Returns 1 when
 * there is no file, 0, or -1 with a message. */
int state_peek_clock(const char *path, int64_t *clock_ms, char *err,
                     size_t errlen);

/* Write the engine's meters atomically. Returns 0 or -1 with a message. */
int state_save(const char *path, const struct engine *e, char *err,
               size_t errlen);

#endif
