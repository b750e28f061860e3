/*
 * One process per state file and per --rtu link: a POSIX record lock
 * (fcntl F_SETLK) on PATH.lock beside it. The kernel drops the lock when
 * the process dies however it dies (SIGKILL too), so a lock file left
 * behind by a killed process locks nothing; a second process asks the
 * kernel who holds the lock (F_GETLK reports the holder's pid) and the
 * file also holds that pid as text, for people.
 *
 * A POSIX lock is the process's: it is dropped when the process closes
 * any descriptor of the lock file, so only this module opens it.
 */
#ifndef SIM_LOCKFILE_H
#define SIM_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>

struct lockfile {
    bool held;                  /* false in a zeroed struct */
    int fd;
    char path[4112];            /* PATH.lock */
};

/* Take the lock of path (what names it in messages: "state file",
 * "--rtu"). 0, or -1 with a message naming path and, when another
 * process holds it, that process's pid. */
int lockfile_take(struct lockfile *l, const char *path, const char *what,
                  char *err, size_t errlen);

/* Drop it and remove the lock file (nothing when not held). */
void lockfile_drop(struct lockfile *l);

#endif
