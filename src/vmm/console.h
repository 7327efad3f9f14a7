/* The VM console on the VMM's stdin/stdout: raw mode on a terminal, input
 * to the console input sink (the UART or hvc0, see console_input.h), and
 * the escape sequence Ctrl-] q to quit. */
#ifndef XENO_VMM_CONSOLE_H
#define XENO_VMM_CONSOLE_H

#include "machine.h"

int console_attach(Machine *m, int in_fd);
/* Restore the terminal (safe to call more than once, and from atexit). */
void console_restore(void);

#endif
