/*
 * The few system calls newlib wants in the test images (snprintf and
 * printf in the tests' messages): output to semihosting, a heap between
 * .bss and the stack (mps2-an386.ld), nothing else. The core never
 * reaches these: scripts/firmware checks its probe image has none.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

#include "semihost.h"

int _write(int fd, const char *buf, int len);
int _read(int fd, char *buf, int len);
int _close(int fd);
int _lseek(int fd, int off, int whence);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _kill(int pid, int sig);
int _getpid(void);
void *_sbrk(ptrdiff_t incr);
void _exit(int status) __attribute__((noreturn));

int _write(int fd, const char *buf, int len)
{
    char chunk[65];
    int done = 0;

    (void)fd;
    while (done < len) {
        int n = len - done < 64 ? len - done : 64;
        for (int k = 0; k < n; k++)
            chunk[k] = buf[done + k] ? buf[done + k] : ' ';
        chunk[n] = '\0';
        sh_write0(chunk);
        done += n;
    }
    return len;
}

int _read(int fd, char *buf, int len)
{
    (void)fd; (void)buf; (void)len;
    return 0;
}

int _close(int fd)
{
    (void)fd;
    return -1;
}

int _lseek(int fd, int off, int whence)
{
    (void)fd; (void)off; (void)whence;
    return 0;
}

int _fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int fd)
{
    (void)fd;
    return 1;
}

int _kill(int pid, int sig)
{
    (void)pid; (void)sig;
    errno = EINVAL;
    return -1;
}

int _getpid(void)
{
    return 1;
}

void *_sbrk(ptrdiff_t incr)
{
    extern char _heap_start[], _heap_end[];
    static char *brk = _heap_start;
    char *old = brk;

    if (incr > _heap_end - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    return old;
}

void _exit(int status)
{
    sh_exit(status);
}
