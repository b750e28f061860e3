/*
 * Files the process writes (the state file, --dump, --junit), written so
 * that a crash at any moment leaves either the old file or the new one:
 * a temporary file created beside the target with O_EXCL | O_NOFOLLOW (a
 * symlink planted at its name is never followed), fsync'd, renamed over
 * the target, and the directory fsync'd. A target that is a symlink is
 * followed to the file it names, and the link is kept. "-" is stdout.
 *
 * Temporary names are TARGET.tmp.PID (TARGET.tmp.PID.N when taken), so
 * the stale ones of a target can be found and removed at start.
 */
#ifndef SIM_SAFEFILE_H
#define SIM_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SAFEFILE_PATH 4096

/* One file being written. */
struct safefile {
    char target[SAFEFILE_PATH]; /* the file replaced (symlinks followed) */
    char tmp[SAFEFILE_PATH + 32]; /* the temporary file beside it */
    FILE *f;                    /* write here */
    bool std;                   /* "-": f is stdout, nothing renamed */
    const char *what;           /* for messages: "--dump", "state file" */
    const char *path;           /* as the user gave it */
};

/* Follow the symlinks of path's last component (the links a rename would
 * replace) to the file they name, which need not exist. 0, or -1 with a
 * message (a loop of links, a name too long). */
int safefile_target(const char *path, char *out, size_t outlen, char *err,
                    size_t errlen);

/* Can path be written at the end (checked at start, before any work)?
 * "-" can; else the target's directory must exist and be writable, and
 * an existing target must be a regular file. what names the option in
 * the message. 0, or -1 with a message. */
int safefile_check(const char *path, const char *what, char *err,
                   size_t errlen);

/* The target's identity, to tell whether two paths name one file: its
 * directory's real path and its name ("-" for stdout). 0, or -1 when the
 * directory does not exist. */
int safefile_identity(const char *path, char *out, size_t outlen);

/* Start writing path: a fresh temporary file beside its target. 0, or -1
 * with a message. */
int safefile_open(struct safefile *sf, const char *path, const char *what,
                  char *err, size_t errlen);

/* Finish: flush, fsync, rename over the target, fsync the directory. The
 * temporary file is removed on failure. 0, or -1 with a message. */
int safefile_commit(struct safefile *sf, char *err, size_t errlen);

/* Give up: the temporary file is removed, the target untouched. */
void safefile_abort(struct safefile *sf);

/* The whole of buf to path, as above. 0, or -1 with a message. */
int safefile_write(const char *path, const char *what, const void *buf,
                   size_t len, char *err, size_t errlen);

/* Remove the temporary files a killed process left beside target
 * (TARGET.tmp.*). Call it only while holding target's lock. Returns how
 * many were removed. */
int safefile_remove_stale(const char *target);

#endif
