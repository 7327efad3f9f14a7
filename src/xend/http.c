/* HTTP server (libmicrohttpd): the UNIX socket xend binds itself (passed
 * with MHD_OPTION_LISTEN_SOCKET) and, optionally, TCP with a bearer token.
 * A thread per connection: handlers may block (shutdown --wait, the event
 * stream) without holding up other clients. */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "xend.h"

#define MAX_CONNECTIONS 512
#define IDLE_TIMEOUT_S  120
#define KEEPALIVE_MS    20000

typedef struct Req {
    char *body;
    size_t len;
    bool too_big;
    bool replied;
} Req;

static struct MHD_Daemon *unix_daemon, *tcp_daemon;

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg)
{
    ApiReply rp = { 0 };

    api_error(&rp, status, "%s", msg);
    return send_text(c, rp.status, rp.body);
}

static ssize_t events_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    long n;

    /* A blank line first, at once: the headers go out with it, so the
     * client knows its subscription is in place (libxeno waits for that
     * before it starts a job whose progress it follows). */
    if (pos == 0 && max > 0) {
        buf[0] = '\n';
        return 1;
    }
    n = events_read(cls, buf, max, KEEPALIVE_MS);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == 0 && max > 0) {
        /* A blank line keeps proxies and our idle timeout happy and finds
         * clients that went away. */
        buf[0] = '\n';
        return 1;
    }
    return n;
}

static void events_free(void *cls)
{
    events_unsubscribe(cls);
}

static enum MHD_Result send_events(struct MHD_Connection *c)
{
    EventSub *s = events_subscribe();
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (!s)
        return send_error(c, 500, "out of memory");
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, events_reader, s, events_free);
    if (!r) {
        events_unsubscribe(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Constant-time comparison of the bearer token. */
static bool token_ok(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t tl = strlen(xconf.token), hl;
    unsigned char diff = 0;

    if (!h || strncmp(h, "Bearer ", 7) || !tl)
        return false;
    h += 7;
    hl = strlen(h);
    for (size_t i = 0; i < tl; i++)
        diff |= (unsigned char)(xconf.token[i] ^ (i < hl ? h[i] : 0));
    return !diff && hl == tl;
}

/* The peer of a UNIX-socket connection is root (SO_PEERCRED): a client
 * with full access to host paths (pathpolicy.c). */
static bool peer_is_root(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);

    return ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
           cred.uid == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    bool local = cls == NULL;
    Req *rq = *con_cls;

    (void)version;
    if (!rq) {
        const char *cl;

        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        if (!local && !token_ok(c)) {
            rq->replied = true;
            return send_error(c, 401, "missing or wrong bearer token");
        }
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > XEND_MAX_BODY) {
            rq->replied = true;
            return send_error(c, 413, "request body larger than 1 MiB");
        }
        return MHD_YES;
    }
    if (rq->replied) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_big && rq->len + *upload_size <= XEND_MAX_BODY) {
            char *nb = realloc(rq->body, rq->len + *upload_size + 1);
            if (!nb) {
                rq->too_big = true;
            } else {
                rq->body = nb;
                memcpy(rq->body + rq->len, upload, *upload_size);
                rq->len += *upload_size;
            }
        } else {
            rq->too_big = true;   /* keep reading, drop the data */
            free(rq->body);
            rq->body = NULL;
            rq->len = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    rq->replied = true;
    if (rq->too_big)
        return send_error(c, 413, "request body larger than 1 MiB");

    ApiRequest req = { .method = method, .path = url, .body = rq->body ? rq->body : "",
                       .len = rq->len, .local = local,
                       .local_root = local && peer_is_root(c) };
    ApiReply rp = { 0 };

    api_handle(&req, &rp);
    if (rp.events) {
        free(rp.body);
        return send_events(c);
    }
    return send_text(c, rp.status, rp.body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    Req *rq = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("http: %s", msg);
}

static const unsigned mhd_flags = MHD_USE_THREAD_PER_CONNECTION |
                                  MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                  MHD_USE_ERROR_LOG;

/* "tcp://host:port" → the first address. */
static int open_tcp(const char *uri, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[256], *colon;
    const char *hp = uri + 6;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai;
    int r;

    if (strncmp(uri, "tcp://", 6) || strlen(hp) >= sizeof(host)) {
        log_err("--listen %s: expected tcp://HOST:PORT", uri);
        return -1;
    }
    strcpy(host, hp);
    colon = strrchr(host, ':');
    if (!colon || !colon[1]) {
        log_err("--listen %s: expected tcp://HOST:PORT", uri);
        return -1;
    }
    *colon = '\0';
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    r = getaddrinfo(host, colon + 1, &hints, &ai);
    if (r) {
        log_err("--listen %s: %s", uri, gai_strerror(r));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int http_start(int unix_fd, const char *tcp)
{
    unix_daemon = MHD_start_daemon(mhd_flags, 0, NULL, NULL, on_request, NULL,
                                   MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                   MHD_OPTION_LISTEN_SOCKET, unix_fd,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                   MHD_OPTION_END);
    if (!unix_daemon) {
        log_err("cannot start the HTTP server on %s", xconf.sock_path);
        return -1;
    }
    if (tcp && *tcp) {
        struct sockaddr_storage ss;
        socklen_t sl;

        if (open_tcp(tcp, &ss, &sl) < 0)
            return -1;
        /* cls != NULL marks the TCP daemon: bearer token required. */
        tcp_daemon = MHD_start_daemon(mhd_flags | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                      0, NULL, NULL, on_request, (void *)1,
                                      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                      MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                                      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                      MHD_OPTION_END);
        if (!tcp_daemon) {
            log_err("cannot listen on %s: %s", tcp, strerror(errno));
            return -1;
        }
        (void)sl;
    }
    return 0;
}

void http_stop(void)
{
    if (tcp_daemon)
        MHD_stop_daemon(tcp_daemon);
    if (unix_daemon)
        MHD_stop_daemon(unix_daemon);
    tcp_daemon = unix_daemon = NULL;
}
