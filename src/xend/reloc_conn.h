/* Relocation connections: TCP, with TLS 1.3 (GnuTLS) by pre-shared key
 * or x509 certificates, or plain when the config says so; and the proxy
 * that joins such a connection to a VMM's migration socket. */
#ifndef XEND_RELOC_CONN_H
#define XEND_RELOC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xend.h"

#define RELOC_PSK_IDENTITY "xeno"

typedef struct RelocConn RelocConn;

/* Tune a connected TCP socket: no delay, keepalive, and a user timeout of
 * timeout_s, so that a cut link ends the connection instead of hanging. */
void reloc_tcp_tune(int fd, int timeout_s);
/* Connect to host:port within timeout_ms; fd or -1 with err. */
int reloc_tcp_connect(const char *host, int port, int timeout_ms, char *err, size_t errlen);

/* The TLS session over fd (taken: closed by rconn_close, or on failure)
 * as client (host: for the certificate check) or server, mode as
 * configured in rc. NULL with one line in err. */
RelocConn *rconn_client(int fd, const RelocConf *rc, const char *host, int timeout_ms,
                        char *err, size_t errlen);
RelocConn *rconn_server(int fd, const RelocConf *rc, int timeout_ms, char *err, size_t errlen);
int rconn_write_all(RelocConn *c, const void *buf, size_t len, int timeout_ms,
                    char *err, size_t errlen);
/* One line (without its newline, NUL-terminated, malloc'd) of at most max
 * bytes within timeout_ms; NULL with err. */
char *rconn_read_line(RelocConn *c, size_t max, int timeout_ms, size_t *len,
                      char *err, size_t errlen);
void rconn_close(RelocConn *c);
/* A plain connection's socket, in blocking mode, for a VMM to use itself
 * (a new descriptor; the connection keeps its own, to be closed with
 * rconn_close, which never shuts the socket down). -1 for a TLS session,
 * or when bytes beyond the handshake were already read (they would be
 * lost): then the proxy carries the stream. */
int rconn_plain_fd(RelocConn *c);

/* A line in clear on a plain socket (the greeting), byte by byte so that
 * nothing after it is consumed. 0 or -1 with err. */
int reloc_read_line_raw(int fd, char *buf, size_t size, int timeout_ms, char *err, size_t errlen);

/* The proxy: c <-> plain_fd (both taken) in a thread of its own, until
 * either side ends (what is buffered toward the other is delivered
 * first) or an error; then both are closed. */
typedef struct Proxy Proxy;
Proxy *proxy_start(RelocConn *c, int plain_fd, char *err, size_t errlen);
bool proxy_done(Proxy *p);
/* Wait up to timeout_ms (-1: forever) for the end: 0 ended, -1 not yet. */
int proxy_wait(Proxy *p, int timeout_ms);
/* End it now (both sides are closed). */
void proxy_abort(Proxy *p);
/* Join and free. Returns 0 for a clean end (a side closed), -1 with the
 * error in why (may be NULL). */
int proxy_finish(Proxy *p, char *why, size_t whylen);
/* Bytes carried so far from the TLS side to the plain side, and back. */
void proxy_bytes(Proxy *p, uint64_t *in, uint64_t *out);

/* Check the PSK file: hex, at least 16 bytes. 0, or -1 with err. */
int reloc_psk_check(const char *file, char *err, size_t errlen);

#endif
