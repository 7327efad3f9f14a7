/* ns16550a UART: the guest's serial console (ttyS0). Output goes to a file
 * descriptor; input is pushed by the console code (event loop thread).
 * Memory-mapped, it describes itself in the device tree (serial@BASE);
 * on x86 (COM1, port I/O) Linux finds it at its legacy port. */
#ifndef XENO_HW_UART_H
#define XENO_HW_UART_H

#include <stddef.h>
#include <stdint.h>

#include "common/vmstate.h"
#include "hw/bus.h"
#include "hw/irq.h"

typedef struct Uart Uart;

/* regshift: register stride is 1 << regshift bytes (0 on riscv virt). */
Uart *uart_create(Bus *bus, uint64_t base, unsigned regshift, IrqLine irq, int out_fd);
void uart_free(Uart *u);
/* Register the UART's saved state (section UART, instance 0: registers,
 * divisor latch, receive FIFO, THR-empty interrupt). -1 if taken. */
#define UART_STATE_VERSION 1
int uart_state_register(Uart *u, VmState *vs);
/* The register window, for callers that route accesses themselves. */
extern const MmioOps uart_ops;
/* The name of the UART's device-tree node ("serial@BASE"), e.g. for the
 * stdout-path of /chosen. */
void uart_fdt_name(const Uart *u, char *buf, size_t len);

/* Bytes of free space in the receive FIFO. */
size_t uart_rx_space(Uart *u);
/* Queue received bytes (call with the device lock held). Returns bytes taken. */
size_t uart_rx_push(Uart *u, const uint8_t *buf, size_t len);
/* Take one received byte, or -1 if none (call with the device lock held).
 * For firmware-style console reads (SBI console_getchar) that bypass the
 * guest's UART driver. */
int uart_rx_pop(Uart *u);
/* Called (with the device lock held) when the guest drained the receive
 * FIFO, so the console can resume reading input. */
void uart_set_rx_ready_cb(Uart *u, void (*cb)(void *opaque), void *opaque);
/* Send transmitted bytes to fn (called with the device lock held, on the
 * vCPU thread) instead of out_fd; fn must not block. NULL restores out_fd. */
void uart_set_output(Uart *u, void (*fn)(void *opaque, const uint8_t *buf, size_t len),
                     void *opaque);

#endif
