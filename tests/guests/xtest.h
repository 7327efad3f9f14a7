/* Shared declarations of the x86-64 test guest. */
#ifndef XTEST_H
#define XTEST_H

#include "lib.h"

#define LAPIC 0xfee00000ull
#define IOAPIC 0xfec00000ull
#define VEC_TIMER 0x20
#define VEC_IPI_BSP 0x40
#define VEC_IPI_AP 0x41
#define VEC_VIRTIO 0x50     /* + slot */
#define VEC_SPURIOUS 0xff

extern int failures;
extern const char *cmdline;
extern volatile uint64_t ticks;
extern volatile unsigned virtio_irqs[16];

#define FAIL(...) do { failures++; printf("xtest: FAIL " __VA_ARGS__); } while (0)

static inline uint32_t lapic_r(unsigned reg) { return mmio_r32(LAPIC + reg); }
static inline void lapic_w(unsigned reg, uint32_t v) { mmio_w32(LAPIC + reg, v); }
void ioapic_route(unsigned irq, unsigned vector, int level);
/* Wait (hlt with interrupts on) until *flag != 0 or ms of timer ticks. */
int wait_flag(volatile unsigned *flag, unsigned ms);
/* Value of "key=" on the command line (copied into buf), or NULL. */
const char *cmdline_arg(const char *key, char *buf, size_t size);

/* True if `word` is a whole word of the command line. */
int cmdline_has(const char *word);

void virtio_tests(void);
void kvmclock_test(void);
/* Register the pvclock page and leave it on: 1, or 0 without kvmclock. */
int kvmclock_start(void);
/* Guest time in ns from the pvclock page (after kvmclock_start). */
uint64_t kvmclock_ns(void);

#endif
