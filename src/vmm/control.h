/* The per-VM control socket (docs/protocols.md section 1): JSON lines over
 * a UNIX stream socket, one response per request, events to every client;
 * and the host side of the guest agent channel (section 3).
 *
 * Everything here runs on the event loop thread with the device lock held
 * (the loop's callbacks and hooks), except control_agent_create(), which
 * the board calls while it assembles the machine. */
#ifndef XENO_VMM_CONTROL_H
#define XENO_VMM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine.h"

typedef struct Control Control;

#define CONTROL_MAX_LINE    (64 * 1024)   /* longer request lines close the connection */
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_AGENT_TIMEOUT_MS 5000

/* For xeno-vmm: listen on `path` (mode 0600), serve it from m->loop and
 * talk to the guest agent if the board created its channel. `console_path`
 * is reported by `query` (may be NULL). Returns NULL with one line in err. */
Control *control_start(Machine *m, const char *path, const char *console_path,
                       char *err, size_t errlen);
/* The VM has stopped (after loop_run returned): send the `stopped` event,
 * flush what clients have not read yet (bounded wait), close everything
 * and remove the socket. NULL is ok. */
void control_stop(Control *c);
/* The VM starts paused (xeno-vmm --paused): queries say so, resume runs it. */
void control_set_paused(Control *c);
/* True once a `destroy` request was accepted (xeno-vmm then exits 4). */
bool control_destroyed(const Control *c);

/* The guest agent channel: a virtio-console device whose input and output
 * are one end of a socketpair kept here (one VM per process). The board
 * calls this while creating devices; NULL with one line in err. */
struct VirtioDevice *control_agent_create(Machine *m, char *err, size_t errlen);

/* Bind a listening, non-blocking UNIX stream socket at path (mode 0600),
 * replacing a stale socket file. Returns the fd, or -1 with err. */
int control_listen_unix(const char *path, char *err, size_t errlen);

/* The console socket (console_sock.c): the guest's serial output fans out
 * to stdout (unless disabled), a 64 KiB replay ring and every client of
 * PATH.console; client input goes to the console input sink (the UART or
 * hvc0, console_input.h). */
typedef struct ConsoleSock ConsoleSock;
/* Before the board is built: m->console_out becomes a pipe served by the
 * loop (for the virtio console), so that its output joins the fan-out. */
ConsoleSock *console_sock_new(Machine *m, bool to_stdout, char *err, size_t errlen);
/* After the board: the UART's output goes through the fan-out. */
void console_sock_attach_uart(ConsoleSock *cs);
int console_sock_listen(ConsoleSock *cs, const char *path, char *err, size_t errlen);
/* Flush (bounded), close clients, remove the socket file. NULL is ok. */
void console_sock_stop(ConsoleSock *cs);
/* Output bytes as the guest wrote them (exported for tests). */
void console_sock_output(void *opaque, const uint8_t *buf, size_t len);
/* One non-blocking round without the event loop (tests). */
void console_sock_run_once(ConsoleSock *cs);

/* Lower level, for tests and the fuzzer (no listening socket, no loop
 * registration): */
Control *control_new(Machine *m);
void control_free(Control *c);
/* Serve `fd` (a connected stream socket; taken over, made non-blocking).
 * Returns 0, or -1 if there are too many clients (fd closed). */
int control_add_client(Control *c, int fd);
/* Use `host_fd` to talk to the guest agent; `dev_fd` is the device's end,
 * drained when a request times out so a stale command is never delivered
 * late (may be -1). Both stay owned by the caller. */
void control_set_agent(Control *c, int host_fd, int dev_fd, unsigned timeout_ms);
/* One non-blocking round: accept, read, dispatch, write, agent timeouts. */
void control_run_once(Control *c);
/* Feed bytes as if read from the first client: framing, dispatch and
 * responses (buffered, not written). Returns -1 if the client was closed
 * (line too long, output overflow). */
int control_feed_first_client(Control *c, const void *buf, size_t len);
/* Handle one request line; returns the response line (malloc'd, no
 * newline), or NULL when the response is deferred (agent commands) or
 * out of memory. `who` is the deferred response's owner, may be NULL. */
char *control_handle_line(Control *c, void *who, const char *line, size_t len);
/* Send an event line to every client. */
void control_event(Control *c, const char *event, const char *reason);

#endif
