#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_write0(const char *s)
{
    semihost(SYS_WRITE0, s);
}

int sh_cmdline(char *buf, int cap)
{
    struct { char *buf; int len; } block = { buf, cap };

    return semihost(SYS_GET_CMDLINE, &block) == 0 ? 0 : -1;
}

void sh_exit(int status)
{
    /* on 32-bit ARM SYS_EXIT takes the reason itself, not a block */
    semihost(SYS_EXIT, (const void *)(status == 0
                                      ? ADP_STOPPED_APPLICATION_EXIT
                                      : ADP_STOPPED_RUNTIME_ERROR));
    for (;;)
        ;
}
