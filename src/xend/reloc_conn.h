/* Relocation connections: TCP, with TLS 1.3 (GnuTLS) by pre-shared key
 * or x509 certificates, or plain when the config says so. */
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
/* The connection's socket, in blocking mode, for a VMM to stream on
 * itself once the request and answer are through (a new descriptor; the
 * connection keeps its own, to be closed with rconn_close, which then
 * neither ends the TLS session nor shuts the socket down). -1 with err
 * when bytes beyond the answer were already read: they would be lost. */
int rconn_release_fd(RelocConn *c, char *err, size_t errlen);

/* A line in clear on a plain socket (the greeting), byte by byte so that
 * nothing after it is consumed. 0 or -1 with err. */
int reloc_read_line_raw(int fd, char *buf, size_t size, int timeout_ms, char *err, size_t errlen);

/* A one-time key for a migration stream: random, in hex. 0 or -1 + err. */
int reloc_stream_key(char hex[RELOC_STREAM_KEY_HEX + 1], char *err, size_t errlen);

/* Check the PSK file: hex, at least 16 bytes. 0, or -1 with err. */
int reloc_psk_check(const char *file, char *err, size_t errlen);

#endif
