/* The console input sink: where the user's keystrokes go, from stdin
 * (console.c) and from PATH.console clients (console_sock.c) alike. It is
 * the guest's console as Linux chooses it (the last console= on the kernel
 * command line): the UART's receive FIFO (ttyS0), or the virtio console
 * (hvc0; hvc1 on riscv, whose kernels put the SBI console on hvc0) through
 * a non-blocking pipe whose read end is its input.
 *
 * The board picks the sink while it builds the machine; everything else
 * runs on the event loop thread with the device lock held. */
#ifndef XENO_VMM_CONSOLE_INPUT_H
#define XENO_VMM_CONSOLE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine.h"

struct VirtioDevice;

/* For the boards: the virtio console. Its output goes to m->console_out;
 * if the last console= on the kernel command line names one of `names`
 * (the tty names Linux may give it on this board, NULL-terminated), it
 * becomes the console input sink too. NULL with one line in err. */
struct VirtioDevice *console_hvc_create(Machine *m, const char *const *names,
                                        char *err, size_t errlen);

/* True if the last console= on the command line names `name` (options
 * after a comma are ignored: console=hvc0,115200 names hvc0). */
bool console_cmdline_is(const char *cmdline, const char *name);
/* Make the virtio console the sink: creates the pipe and returns its read end in *rd_fd
 * (the virtio console's in_fd; owned by the machine). -1 with err. */
int console_input_use_hvc(Machine *m, int *rd_fd, char *err, size_t errlen);
/* Bytes the sink takes now without blocking (0: the guest is not reading;
 * retry later). Without any sink, input is discarded: never 0. */
size_t console_input_space(Machine *m);
/* Give input to the sink; returns the bytes taken (at most the space). */
size_t console_input_push(Machine *m, const uint8_t *buf, size_t len);

#endif
