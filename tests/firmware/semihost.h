/*
 * ARM semihosting for the firmware's test images under QEMU
 * (-semihosting-config enable=on): text out on the host's stdout and the
 * exit status. Bare metal, no C library.
 */
#ifndef TESTS_FIRMWARE_SEMIHOST_H
#define TESTS_FIRMWARE_SEMIHOST_H

/* Write a NUL-terminated string (SYS_WRITE0). */
void sh_write0(const char *s);

/* Write a number in decimal. */

/* The command line QEMU passes (-semihosting-config ...,arg=A,arg=B: "A
 * B"), NUL-terminated in buf; 0, or -1 when there is none. */
int sh_cmdline(char *buf, int cap);

/* Stop the emulator: status 0 exits QEMU with 0, anything else with 1
 * (SYS_EXIT). */
void sh_exit(int status) __attribute__((noreturn));

#endif
