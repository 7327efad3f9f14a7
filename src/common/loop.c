#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOOP_MAX_FDS   64
#define LOOP_MAX_HOOKS 24     /* slirp NICs and I/O-limited devices */
#define LOOP_MAX_POLL  256

struct Loop {
    pthread_mutex_t *lock;
    int wake_fd;
    volatile int quit;
    struct { int fd; short events; loop_fd_cb cb; void *opaque; } fds[LOOP_MAX_FDS];
    int nfds;
    LoopHook hooks[LOOP_MAX_HOOKS];
    int nhooks;
    struct pollfd pfd[LOOP_MAX_POLL];
    int npfd;
};

Loop *loop_new(pthread_mutex_t *lock)
{
    Loop *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->lock = lock;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void loop_free(Loop *l)
{
    if (!l)
        return;
    close(l->wake_fd);
    free(l);
}

int loop_add_fd(Loop *l, int fd, short events, loop_fd_cb cb, void *opaque)
{
    if (l->nfds >= LOOP_MAX_FDS)
        return -1;
    l->fds[l->nfds].fd = fd;
    l->fds[l->nfds].events = events;
    l->fds[l->nfds].cb = cb;
    l->fds[l->nfds].opaque = opaque;
    l->nfds++;
    loop_wakeup(l);
    return 0;
}

void loop_del_fd(Loop *l, int fd)
{
    for (int i = 0; i < l->nfds; i++) {
        if (l->fds[i].fd == fd) {
            l->fds[i] = l->fds[--l->nfds];
            return;
        }
    }
}

int loop_add_hook(Loop *l, const LoopHook *hook)
{
    if (l->nhooks >= LOOP_MAX_HOOKS)
        return -1;
    l->hooks[l->nhooks++] = *hook;
    loop_wakeup(l);
    return 0;
}

void loop_del_hook(Loop *l, void *opaque)
{
    for (int i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].opaque == opaque) {
            memmove(&l->hooks[i], &l->hooks[i + 1], (size_t)(l->nhooks - i - 1) * sizeof(l->hooks[0]));
            l->nhooks--;
            return;
        }
    }
}

int loop_hook_add_pollfd(Loop *l, int fd, short events)
{
    if (l->npfd >= LOOP_MAX_POLL)
        return -1;
    l->pfd[l->npfd].fd = fd;
    l->pfd[l->npfd].events = events;
    l->pfd[l->npfd].revents = 0;
    return l->npfd++;
}

short loop_hook_revents(Loop *l, int idx)
{
    if (idx < 0 || idx >= l->npfd)
        return 0;
    return l->pfd[idx].revents;
}

void loop_quit(Loop *l)
{
    l->quit = 1;
    loop_wakeup(l);
}

void loop_wakeup(Loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, sizeof(one));
    (void)r;
}

void loop_run(Loop *l)
{
    int hook_base[LOOP_MAX_HOOKS];

    while (!l->quit) {
        int timeout = -1, nfixed;

        if (l->lock)
            pthread_mutex_lock(l->lock);
        l->npfd = 0;
        loop_hook_add_pollfd(l, l->wake_fd, POLLIN);
        for (int i = 0; i < l->nfds; i++)
            loop_hook_add_pollfd(l, l->fds[i].fd, l->fds[i].events);
        nfixed = l->npfd;
        for (int i = 0; i < l->nhooks; i++) {
            hook_base[i] = l->npfd;
            l->hooks[i].prepare(l->hooks[i].opaque, l, &timeout);
        }
        (void)hook_base;
        if (l->lock)
            pthread_mutex_unlock(l->lock);

        int n = poll(l->pfd, (nfds_t)l->npfd, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (l->quit)
            break;

        if (l->lock)
            pthread_mutex_lock(l->lock);
        /* A quit may come while we waited for the lock (a migration handed
         * the domain over, a save ended it): from then on no device may act
         * on a doorbell or a frame that was already pending. */
        if (l->quit) {
            if (l->lock)
                pthread_mutex_unlock(l->lock);
            break;
        }
        if (n > 0 && (l->pfd[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(l->wake_fd, &v, sizeof(v));
            (void)r;
        }
        /* fds[] may change inside callbacks: match by descriptor. */
        for (int p = 1; n > 0 && p < nfixed && !l->quit; p++) {
            short re = l->pfd[p].revents;
            if (!re)
                continue;
            for (int i = 0; i < l->nfds; i++) {
                if (l->fds[i].fd == l->pfd[p].fd) {
                    l->fds[i].cb(l->fds[i].opaque, l->fds[i].fd, re);
                    break;
                }
            }
        }
        {
            /* A dispatch may remove hooks: run a snapshot. */
            LoopHook snap[LOOP_MAX_HOOKS];
            int n = l->nhooks;
            memcpy(snap, l->hooks, (size_t)n * sizeof(snap[0]));
            for (int i = 0; i < n; i++) {
                bool live = false;
                for (int k = 0; k < l->nhooks && !live; k++)
                    live = l->hooks[k].opaque == snap[i].opaque;
                if (live)
                    snap[i].dispatch(snap[i].opaque, l);
            }
        }
        if (l->lock)
            pthread_mutex_unlock(l->lock);
    }
}
