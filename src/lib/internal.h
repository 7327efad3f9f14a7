/* libxeno internals shared by the library's files (and its unit tests). */
#ifndef XENO_LIB_INTERNAL_H
#define XENO_LIB_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>

#include "common/fingerprint.h"
#include "xeno/xeno.h"

/* Largest response body accepted from xend (a list of many domains with
 * their configs fits easily). */
#define XENO_MAX_RESPONSE (64u << 20)

enum xeno_transport { XENO_TRANSPORT_UNIX, XENO_TRANSPORT_TCP };

/* A parsed connection URI. */
struct xeno_uri {
    enum xeno_transport transport;
    char path[108];          /* unix: socket path (sun_path size) */
    char host[256];          /* tcp */
    int port;                /* tcp */
    bool tls;                /* tcp: https:// or tcp:// (not http://) */
};

/* "SHA256:" + 43 base64 characters, as xend prints its key's pin. */
#define XENO_FP_LEN FP_SHA256_LEN

struct xeno_conn {
    char *uri_text;
    struct xeno_uri uri;
    char *token;             /* the token (XENO_TOKEN or a token file), or NULL */
    bool readonly;
    char server_fp[XENO_FP_LEN];  /* https: the key xend presented */
    char pin[64];            /* https: curl's "sha256//BASE64=" for every connection */
    CURL *curl;              /* reused for every request (keep-alive) */
    int err;
    int sys_errno;
    char errmsg[512];
};

struct xeno_domain {
    xeno_conn *conn;
    char *name;
    char uuid[64];
    xeno_domain_info info;
    char *config;
};

/* uri.c */
int xeno_uri_parse(const char *text, struct xeno_uri *out, char *err, size_t errlen);
/* The read-only socket beside path: xend.sock → xend-ro.sock, else PATH-ro. */
int xeno_ro_socket_path(const char *path, char *out, size_t size);
/* "HOST:PORT" as known_hosts names it ([v6]:PORT). */
void xeno_uri_hostport(const struct xeno_uri *u, char *out, size_t size);

/* tls.c */
/* TLS handshake on fd (connected to host), the SHA-256 of the server's
 * SubjectPublicKeyInfo into hash; 0, or -1 with one line in err. */
int xeno_tls_probe(int fd, const char *host, unsigned char hash[32], char *err, size_t errlen);
/* The pin recorded for hostport in file: 1 found (hash), 0 none, -1
 * unreadable (errno). */
int xeno_known_hosts_find(const char *file, const char *hostport, unsigned char hash[32]);
/* The default known-hosts file; -1 without HOME. */
int xeno_known_hosts_default(char *out, size_t size);

/* error.c */
int xeno_set_error(xeno_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void xeno_clear_error(xeno_conn *c);
int xeno_error_from_http(long status);

/* conn.c: one HTTP request. body may be NULL (no body). On success *out
 * (if out != NULL) holds the decoded JSON (or NULL for an empty body). On an
 * HTTP error status the message is xend's {"error": ...} text. */
int xeno_request(xeno_conn *c, const char *method, const char *path,
                 json_t *body, json_t **out);
/* A long job (save, restore, migrate): no time limit; with cb, a "job"
 * tag is added to the body (an object) and the job's progress events
 * (GET /v1/events, subscribed before the request starts) go to cb while
 * the request runs. */
int xeno_request_job(xeno_conn *c, const char *method, const char *path, json_t *body,
                     json_t **out, xeno_progress_cb cb, void *opaque);
/* A "progress" event line of job into p: 0, or -1 if it is not one. */
int xeno_progress_parse_line(const char *line, const char *job, xeno_progress *p);
/* Set up a curl handle for this connection's transport and auth. Returns
 * the header list to free after the transfer (may be NULL). */
struct curl_slist *xeno_curl_setup(xeno_conn *c, CURL *h, const char *path);

/* event.c */
int xeno_event_parse_line(const char *line, xeno_event *ev);

#endif
