#define _GNU_SOURCE
#include "sim/base/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Who holds the lock on fd: a pid, or 0 when no one does now. */
static long holder(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

    if (fcntl(fd, F_GETLK, &fl) || fl.l_type == F_UNLCK)
        return 0;
    return (long)fl.l_pid;
}

int lockfile_take(struct lockfile *l, const char *path, const char *what,
                  char *err, size_t errlen)
{
    l->held = false;
    if (snprintf(l->path, sizeof l->path, "%s.lock", path) >=
        (int)sizeof l->path) {
        snprintf(err, errlen, "%s %s: the path is too long", what, path);
        return -1;
    }
    /* a lock file removed by its holder between our open and our lock is
     * a different file from the one at the path now: try again */
    for (int tries = 0; tries < 10; tries++) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        struct stat mine, named;
        int fd = open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                      0644);

        if (fd < 0) {
            snprintf(err, errlen, "%s %s: cannot create the lock file %s: %s",
                     what, path, l->path, strerror(errno));
            return -1;
        }
        if (fcntl(fd, F_SETLK, &fl)) {
            int e = errno;
            long pid = holder(fd);
            close(fd);
            if (e != EACCES && e != EAGAIN) {
                snprintf(err, errlen, "%s %s: cannot lock %s: %s", what, path,
                         l->path, strerror(e));
                return -1;
            }
            if (pid == 0)
                continue;           /* released meanwhile */
            snprintf(err, errlen, "%s %s is in use by process %ld (it holds "
                     "%s); stop it first", what, path, pid, l->path);
            return -1;
        }
        if (fstat(fd, &mine) == 0 && stat(l->path, &named) == 0 &&
            mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0)
                (void)0;            /* the pid text is for people only */
            l->fd = fd;
            l->held = true;
            return 0;
        }
        close(fd);
    }
    snprintf(err, errlen, "%s %s: cannot lock %s (it keeps changing)", what,
             path, l->path);
    return -1;
}

void lockfile_drop(struct lockfile *l)
{
    if (!l->held)
        return;
    unlink(l->path);
    close(l->fd);
    l->held = false;
}
