/*
 * The state file: the meters' non-volatile images (and host data) in one
 * file, written atomically (sim/base/safefile.h: temporary file, fsync,
 * rename, fsync of the directory), so a crash at any moment leaves either
 * the old file or the new one, never a mixture; one process at a time
 * (sim/base/lockfile.h).
 *
 * Layout, little-endian: magic "KPM31CSF", u16 version, u16 0, u32 number
 * of sections; each section u16 type, u16 0, u32 length, payload; then a
 * CRC-32 of everything before it. Sections: 4 = each meter's RTC offset
 * from virtual time (i64 s each, written first: a clock a user set keeps
 * its distance across restarts), 1 = one meter's image (in fleet order),
 * 2 = the virtual clock (i64 ms), 3 = one meter's MQTT uplink queue
 * (sim/uplink/uplink.c; written by the part of the host that registered it with
 * state_set_extra).
 */
#ifndef SIM_STATEFILE_H
#define SIM_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/base/lockfile.h"
#include "sim/engine/engine.h"

#define STATE_SECTION_UPLINK 3

/* Host data saved with the meters, one section per meter, after the
 * clock: registered by the part of the host that owns it (the MQTT
 * uplink's queues). A file with such sections and no one registered for
 * them loads; the next save drops them. */
struct state_extra {
    uint16_t type;          /* section type */
    void *ctx;
    /* bytes of meter k's section (0: none) */
    size_t (*size)(void *ctx, unsigned meter);
    /* write meter k's section; returns the bytes written */
    size_t (*save)(void *ctx, unsigned meter, uint8_t *buf);
    /* restore one section; 0, or -1 with a message in err */
    int (*load)(void *ctx, const uint8_t *data, size_t len, char *err,
                size_t errlen);
};

/* Register (NULL: unregister) the host's extra sections. */
void state_set_extra(const struct state_extra *x);

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

/* Make path this process's state file: lock it (the lock is on its
 * target when it is a symlink) and remove the temporary files a killed
 * process left beside it. 0, or -1 with a message naming the path and,
 * when another process holds it, that process's pid. */
int state_claim(const char *path, struct lockfile *lock, char *err,
                size_t errlen);

/* Write the engine's meters atomically. Returns 0 or -1 with a message. */
int state_save(const char *path, const struct engine *e, char *err,
               size_t errlen);

#endif
