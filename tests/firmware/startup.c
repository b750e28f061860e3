/*
 * Reset for the firmware's images on QEMU's mps2-an386 (Cortex-M4F): the
 * vector table, .data copied from flash, .bss zeroed, the FPU enabled
 * (CPACR: full access to CP10 and CP11, for the hard-float ABI), then
 * main(); its return is the exit status, through semihosting. A fault
 * prints its name and exits with failure.
 */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

extern uint32_t _data_load[], _data_start[], _data_end[];
extern uint32_t _bss_start[], _bss_end[], _stack_top[];

int main(void);
void Reset_Handler(void);

static void fault(const char *what)
{
    sh_write0(what);
    sh_write0(": the image faulted\n");
    sh_exit(1);
}

static void HardFault_Handler(void) { fault("HardFault"); }
static void MemManage_Handler(void) { fault("MemManage"); }
static void BusFault_Handler(void) { fault("BusFault"); }
static void UsageFault_Handler(void) { fault("UsageFault"); }
static void Default_Handler(void) { fault("unexpected interrupt"); }

__attribute__((section(".vectors"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)_stack_top,
    Reset_Handler,
    Default_Handler,        /* NMI */
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    Default_Handler,        /* SVCall */
    Default_Handler,        /* debug monitor */
    0,
    Default_Handler,        /* PendSV */
    Default_Handler,        /* SysTick */
};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24)

void Reset_Handler(void)
{
    SCB_CPACR |= 0xFu << 20;                    /* CP10, CP11: full access */
    SCB_SHCSR |= 7u << 16;                      /* own fault handlers */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *s = _data_load, *d = _data_start; d < _data_end;)
        *d++ = *s++;
    for (uint32_t *d = _bss_start; d < _bss_end;)
        *d++ = 0;
    sh_exit(main());
}
