/* A small server for non-blocking UNIX stream clients, shared by the
 * control socket (JSON lines) and the console socket (raw bytes): accept
 * with a client limit, a bounded output buffer per client, input framed
 * into lines (LS_LINES) or handed over in chunks (LS_RAW), slow-client
 * handling, reaping, and polling either as an event-loop hook or, for
 * tests, in one non-blocking round of its own.
 *
 * Slow clients: a LS_LINES client whose unread output passes out_pause is
 * not read from until it catches up; output beyond out_max either drops
 * the client (drop_on_overflow, with a warning) or is lost (the console:
 * a reader that does not keep up loses output, the guest never waits). */
#ifndef XENO_VMM_LINESRV_H
#define XENO_VMM_LINESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"

typedef struct LineSrv LineSrv;

#define LS_MAX_PASSED_FDS 4

typedef struct LsClient {
    int fd;
    int idx;                 /* pollfd index this round, -1 = none */
    char *in;                /* LS_LINES: partial request line(s) */
    size_t in_len;
    uint8_t *out;            /* output not yet written */
    size_t out_len, out_cap;
    bool eof;                /* peer shut down its sending side */
    bool dead;               /* close at the end of this round */
    bool close_when_flushed;
    /* LS_LINES: descriptors that came with the input (SCM_RIGHTS). They
     * belong to the line holding the last byte of the read that brought
     * them (a client sends a request and its descriptors in one sendmsg,
     * and waits for the answer before passing more), are offered to that
     * line's handler (ls_take_fd) and closed after it. */
    int passed[LS_MAX_PASSED_FDS];
    unsigned npassed;
    size_t passed_at;        /* offset in `in` of that last byte */
    bool passing;            /* on_line is handling the line they belong to */
} LsClient;

enum ls_mode { LS_LINES, LS_RAW };

typedef struct LineSrvConfig {
    enum ls_mode mode;
    unsigned max_clients;
    size_t max_line;         /* LS_LINES: longer lines close the client */
    size_t out_pause;        /* LS_LINES: stop reading above this */
    size_t out_max;
    bool drop_on_overflow;   /* else: output beyond out_max is lost */
    bool poll_listen_when_full;  /* accept and refuse (full_msg), or wait */
    const char *full_msg;    /* sent to a refused client */
    const char *drop_warning;    /* logged when a client is dropped */
} LineSrvConfig;

typedef struct LineSrvOps {
    /* LS_LINES: one complete line (without "\n" or "\r\n"; never empty). */
    void (*on_line)(void *opaque, LsClient *cl, const char *line, size_t len);
    /* LS_LINES: a line longer than max_line arrived; send an error (the
     * client is closed once its output is flushed). */
    void (*on_overlong)(void *opaque, LsClient *cl);
    /* LS_RAW: bytes the client may send now (0: not now) and the bytes. */
    size_t (*raw_room)(void *opaque);
    void (*on_raw)(void *opaque, LsClient *cl, const uint8_t *buf, size_t len);
    /* A new client (e.g. replay recent output to it). */
    void (*on_accept)(void *opaque, LsClient *cl);
    /* True while the client must stay although it is done (a deferred
     * response is owed to it). */
    bool (*busy)(void *opaque, LsClient *cl);
    /* The client is about to be freed. */
    void (*on_close)(void *opaque, LsClient *cl);
    /* Extra fds of the user: add them (ls_add_pollfd) and lower the
     * timeout; then handle them (ls_revents), before the clients. */
    void (*prepare)(void *opaque, LineSrv *s, int *timeout_ms);
    void (*dispatch)(void *opaque, LineSrv *s);
} LineSrvOps;

LineSrv *ls_new(const LineSrvConfig *cfg, const LineSrvOps *ops, void *opaque);
/* Close every client and the listening socket (the socket file stays). */
void ls_free(LineSrv *s);
void ls_set_listen_fd(LineSrv *s, int fd);
/* Serve the loop: register / unregister the hook. */
int ls_attach(LineSrv *s, Loop *l);
void ls_detach(LineSrv *s, Loop *l);

/* Serve `fd` (made non-blocking). Returns the client, or NULL if there
 * are too many clients (full_msg sent, fd closed) or no memory. */
LsClient *ls_add_client(LineSrv *s, int fd);
/* Accept what waits in the listen backlog. */
void ls_accept_all(LineSrv *s);
unsigned ls_nclients(const LineSrv *s);
LsClient *ls_client(const LineSrv *s, unsigned i);

/* Queue output (see the overflow policy above). */
void ls_send(LineSrv *s, LsClient *cl, const void *buf, size_t len);
/* Queue `line` and a newline, as one unit. */
void ls_send_line(LineSrv *s, LsClient *cl, const char *line);
/* To every client. Returns true if a client had no output pending. */
bool ls_broadcast(LineSrv *s, const void *buf, size_t len);
void ls_broadcast_line(LineSrv *s, const char *line);
void ls_flush(LsClient *cl);

/* LS_LINES: take input as if read from cl, frame and handle the lines.
 * Returns the bytes taken (less than len when the buffer is full or the
 * client is done), or -1 out of memory. */
long ls_feed(LineSrv *s, LsClient *cl, const void *buf, size_t len);
/* Inside on_line: take a descriptor that came with this line (the caller
 * owns it then), in the order they were sent; -1 if there is none left. */
int ls_take_fd(LsClient *cl);

/* Free the dead and the finished clients. */
void ls_reap(LineSrv *s);

/* For ops->prepare / ops->dispatch. */
int ls_add_pollfd(LineSrv *s, int fd, short events);
short ls_revents(LineSrv *s, int idx);

/* One non-blocking round without the loop (tests). */
void ls_run_once(LineSrv *s);
/* Flush every client for at most `ms` milliseconds (shutting down). */
void ls_flush_wait(LineSrv *s, int ms);

#endif
