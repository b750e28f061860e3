#define _GNU_SOURCE
#include "sim/base/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

/* dir and name of path, as dirname() and basename() say. */
static void split(const char *path, char *dir, char *name)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        strcpy(dir, ".");
        strcpy(name, path);
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n ? n : 1);
        dir[n ? n : 1] = '\0';
        strcpy(name, slash + 1);
    }
}

int safefile_target(const char *path, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    char cur[SAFEFILE_PATH], link[SAFEFILE_PATH], dir[SAFEFILE_PATH],
         name[SAFEFILE_PATH];
    struct stat st;

    if (snprintf(cur, sizeof cur, "%s", path) >= (int)sizeof cur)
        goto too_long;
    for (int hops = 0; lstat(cur, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (hops == MAX_LINKS || n < 0) {
            snprintf(err, errlen, "%s: cannot follow the symlink: %s", path,
                     n < 0 ? strerror(errno) : strerror(ELOOP));
            return -1;
        }
        link[n] = '\0';
        split(cur, dir, name);
        if (link[0] == '/' || strcmp(dir, ".") == 0)
            snprintf(cur, sizeof cur, "%s", link);
        else if (snprintf(cur, sizeof cur, "%s/%s", dir, link) >=
                 (int)sizeof cur)
            goto too_long;
    }
    if (snprintf(out, outlen, "%s", cur) < (int)outlen)
        return 0;
too_long:
    snprintf(err, errlen, "%s: the path is too long", path);
    return -1;
}

/* A fresh temporary file beside sf->target: never an existing name, never
 * through a symlink. fd, or -1 with errno. */
static int create_tmp(struct safefile *sf)
{
    long pid = (long)getpid();

    for (int n = 0; n < 100; n++) {
        if (n == 0)
            snprintf(sf->tmp, sizeof sf->tmp, "%s.tmp.%ld", sf->target, pid);
        else
            snprintf(sf->tmp, sizeof sf->tmp, "%s.tmp.%ld.%d", sf->target,
                     pid, n);
        int fd = open(sf->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                      O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* What a file that is not a regular one is, for an error message. */
static const char *kind_of(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a pipe";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "something";
}

int safefile_check(const char *path, const char *what, char *err,
                   size_t errlen)
{
    char target[SAFEFILE_PATH], dir[SAFEFILE_PATH], name[SAFEFILE_PATH];
    struct stat st;

    if (strcmp(path, "-") == 0)
        return 0;
    if (!*path) {
        snprintf(err, errlen, "%s: an empty file name", what);
        return -1;
    }
    if (safefile_target(path, target, sizeof target, err, errlen))
        return -1;
    if ((lstat(target, &st) == 0 && !S_ISREG(st.st_mode)) ||
        (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
        /* where the name leads, unless that is a pipe's pseudo-name
         * (/dev/stdout on a pipe: /proc/self/fd/pipe:[1234]) */
        bool say_target = strcmp(target, path) && !strstr(target, ":[");
        snprintf(err, errlen, "%s %s: %s%s%s %s, not a regular file (it "
                 "is written whole and renamed into place; - writes to "
                 "stdout)", what, path, say_target ? "leads to " : "",
                 say_target ? target : "", say_target ? ", which is" : "is",
                 kind_of(st.st_mode));
        return -1;
    }
    split(target, dir, name);
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s %s: directory %s does not exist", what,
                 path, dir);
        return -1;
    }
    /* a real file is created (under a fresh name, never an existing one)
     * and removed: permissions, a read-only mount, a full inode table */
    struct safefile probe = { .what = what };
    snprintf(probe.target, sizeof probe.target, "%s", target);
    int fd = create_tmp(&probe);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot write in directory %s: %s",
                 what, path, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe.tmp);
    return 0;
}

int safefile_identity(const char *path, char *out, size_t outlen)
{
    char target[SAFEFILE_PATH], dir[SAFEFILE_PATH], name[SAFEFILE_PATH],
         err[64];
    char *real;

    if (strcmp(path, "-") == 0) {
        snprintf(out, outlen, "-");
        return 0;
    }
    if (safefile_target(path, target, sizeof target, err, sizeof err))
        return -1;
    split(target, dir, name);
    real = realpath(dir, NULL);
    if (!real)
        return -1;
    snprintf(out, outlen, "%s/%s", strcmp(real, "/") ? real : "", name);
    free(real);
    return 0;
}

int safefile_open(struct safefile *sf, const char *path, const char *what,
                  char *err, size_t errlen)
{
    struct stat st;
    int fd;

    memset(sf, 0, sizeof *sf);
    sf->what = what;
    sf->path = path;
    if (strcmp(path, "-") == 0) {
        sf->std = true;
        sf->f = stdout;
        return 0;
    }
    if (safefile_target(path, sf->target, sizeof sf->target, err, errlen))
        return -1;
    fd = create_tmp(sf);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot create %s: %s", what, path,
                 sf->tmp, strerror(errno));
        return -1;
    }
    /* a file that exists keeps its permissions */
    if (stat(sf->target, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);
    sf->f = fdopen(fd, "w");
    if (!sf->f) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        close(fd);
        unlink(sf->tmp);
        return -1;
    }
    return 0;
}

void safefile_abort(struct safefile *sf)
{
    if (sf->std || !sf->f)
        return;
    fclose(sf->f);
    sf->f = NULL;
    unlink(sf->tmp);
}

int safefile_commit(struct safefile *sf, char *err, size_t errlen)
{
    char dir[SAFEFILE_PATH], name[SAFEFILE_PATH];

    if (sf->std) {
        if (fflush(stdout) == 0 && !ferror(stdout))
            return 0;
        snprintf(err, errlen, "%s -: cannot write to stdout: %s", sf->what,
                 strerror(errno));
        return -1;
    }
    int bad = fflush(sf->f) != 0 || ferror(sf->f) || fsync(fileno(sf->f));
    int saved = errno;
    if (fclose(sf->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    sf->f = NULL;
    if (bad) {
        snprintf(err, errlen, "%s %s: cannot write %s: %s", sf->what,
                 sf->path, sf->tmp, strerror(saved ? saved : EIO));
        unlink(sf->tmp);
        return -1;
    }
    if (rename(sf->tmp, sf->target)) {
        snprintf(err, errlen, "%s %s: cannot replace %s: %s", sf->what,
                 sf->path, sf->target, strerror(errno));
        unlink(sf->tmp);
        return -1;
    }
    /* the rename itself must reach the disk */
    split(sf->target, dir, name);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int safefile_write(const char *path, const char *what, const void *buf,
                   size_t len, char *err, size_t errlen)
{
    struct safefile sf;

    if (safefile_open(&sf, path, what, err, errlen))
        return -1;
    if (len && fwrite(buf, 1, len, sf.f) != len) {
        snprintf(err, errlen, "%s %s: cannot write %s: %s", what, path,
                 sf.tmp, strerror(errno));
        safefile_abort(&sf);
        return -1;
    }
    return safefile_commit(&sf, err, errlen);
}

/* NAME.tmp.PID or NAME.tmp.PID.N for base NAME. */
static bool is_tmp_of(const char *entry, const char *base)
{
    size_t n = strlen(base);
    const char *p = entry + n + 5;

    if (strncmp(entry, base, n) || strncmp(entry + n, ".tmp.", 5) ||
        !(*p >= '0' && *p <= '9'))
        return false;
    while ((*p >= '0' && *p <= '9') || *p == '.')
        p++;
    return *p == '\0';
}

int safefile_remove_stale(const char *target)
{
    char dir[SAFEFILE_PATH], name[SAFEFILE_PATH];
    int removed = 0;

    split(target, dir, name);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        if (is_tmp_of(de->d_name, name) &&
            unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    closedir(d);
    return removed;
}
