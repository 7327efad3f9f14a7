/* The VMM sandbox (docs/sandbox.md): what a guest that takes over this
 * process can still do.
 *
 * xeno-vmm opens everything it needs (images, TAP, kernel, sockets, the
 * restore file) as the user that started it, and then, before the first
 * guest instruction, locks itself down:
 *
 *   - its own mount and IPC namespaces (and PID namespace, when xend
 *     started it in one) with an empty, read-only root (pivot_root), as
 *     Firecracker's jailer does;
 *   - guest RAM left out of core dumps, no core dumps at all, the process
 *     not dumpable (no ptrace, no /proc/PID/mem by its own user);
 *   - when started as root: the unprivileged `xeno` user and group, no
 *     supplementary groups, every capability dropped (bounding set too);
 *   - no_new_privs;
 *   - a seccomp filter per kind of thread (vCPU, main = I/O loop and
 *     control socket, migration sender) allowing only what that thread
 *     does, with arguments checked where it matters (ioctl numbers,
 *     PROT_EXEC, socket families, clone flags, signals to itself only).
 *     A forbidden call kills the process (SIGSYS); calls that only name
 *     paths to write fail with EACCES instead, so that cleanup code that
 *     tries them on the way out ends normally.
 *
 * XENO_SANDBOX=0 turns it off (a warning says so); XENO_SANDBOX=log makes
 * the filters log what they would kill (kernel log, audit type 1326)
 * instead of killing, to find what a filter lacks. A sanitizer build runs
 * without the sandbox (ASan and LSan need /proc, ptrace and more).
 *
 * Order of calls, all from the main thread:
 *   sandbox_init        first, single-threaded, before anything is opened
 *   ... build the machine ...
 *   sandbox_lockdown    still single-threaded, before any guest instruction
 *   sandbox_start_vcpus instead of machine_start()
 *   sandbox_confine_main
 * and, first thing in the migration thread, Machine.confine_thread (set
 * by sandbox_lockdown). */
#ifndef XENO_VMM_SANDBOX_H
#define XENO_VMM_SANDBOX_H

#include <stdbool.h>

#include "machine.h"

/* The thread kinds, each with its own filter. */
enum sandbox_thread { SANDBOX_VCPU, SANDBOX_MAIN, SANDBOX_MIGRATION, SANDBOX_NTHREADS };

/* Decide the layers and take the first steps: the user to run as, the
 * helper that removes the control and console sockets once this process
 * is gone (control_path, may be NULL), new mount and IPC namespaces.
 * 0, or -1 after one error line (log_err). */
int sandbox_init(const char *control_path);

/* Everything is open: lock down (see above). 0, or -1 after one error
 * line. Nothing may run in other threads yet. */
int sandbox_lockdown(Machine *m);

/* machine_start() on a thread under the vCPU filter, so that the vCPU
 * threads it creates inherit that filter and only that one. */
int sandbox_start_vcpus(Machine *m);

/* The main thread's own filter; after sandbox_start_vcpus. 0, or -1 after
 * one error line. */
int sandbox_confine_main(void);

/* Whether the sandbox is on in this process (after sandbox_init). */
bool sandbox_active(void);

#endif
