/* The VMM's I/O event loop: one thread polls file descriptors (console,
 * network backends, control socket) and runs callbacks.
 *
 * Every callback runs with the loop's lock held (the machine's device lock),
 * so callbacks may touch device state without further locking. */
#ifndef XENO_LOOP_H
#define XENO_LOOP_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Loop Loop;

/* fd became ready; revents as from poll(2). */
typedef void (*loop_fd_cb)(void *opaque, int fd, short revents);

/* A poll hook, for libraries that manage their own descriptors (libslirp):
 * prepare() appends pollfds with loop_hook_add_pollfd() and may lower
 * *timeout_ms; dispatch() reads back results with loop_hook_revents(). */
typedef struct LoopHook {
    void (*prepare)(void *opaque, Loop *l, int *timeout_ms);
    void (*dispatch)(void *opaque, Loop *l);
    void *opaque;
} LoopHook;

Loop *loop_new(pthread_mutex_t *lock);
void loop_free(Loop *l);

int loop_add_fd(Loop *l, int fd, short events, loop_fd_cb cb, void *opaque);
void loop_del_fd(Loop *l, int fd);
int loop_add_hook(Loop *l, const LoopHook *hook);
/* Remove the hook whose opaque pointer is `opaque` (call with the lock held). */
void loop_del_hook(Loop *l, void *opaque);

/* Inside a hook's prepare(): add a pollfd, returns its index. */
int loop_hook_add_pollfd(Loop *l, int fd, short events);
/* Inside a hook's dispatch(): revents of the pollfd at idx. */
short loop_hook_revents(Loop *l, int idx);

/* Run until loop_quit(). loop_quit and loop_wakeup may be called from any
 * thread (async-signal-safe). */
void loop_run(Loop *l);
void loop_quit(Loop *l);
void loop_wakeup(Loop *l);

#endif
