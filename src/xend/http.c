/* HTTP server (libmicrohttpd): the UNIX sockets xend binds itself (passed
 * with MHD_OPTION_LISTEN_SOCKET; full access and read-only) and,
 * optionally, TCP over TLS with a bearer token whose role it carries.
 * A thread per connection: handlers may block (shutdown --wait, the event
 * stream) without holding up other clients.
 *
 * Who a client is (SO_PEERCRED's uid, or its IP address), whether it is
 * over its connection limit, and what its role allows are decided from the
 * request's headers, before any of its body is read (auth.h). */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "auth.h"
#include "common/log.h"
#include "xend.h"

#define MAX_CONNECTIONS 512
#define IDLE_TIMEOUT_S  120
#define KEEPALIVE_MS    20000
/* "read-only": the client gives up full access (libxeno's read-only
 * connections over TCP). */
#define ACCESS_HEADER   "X-Xeno-Access"
/* TLS 1.2 or 1.3 only, GnuTLS's usual ciphers. */
#define TLS_PRIORITIES  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct Req {
    char *body;
    size_t len;
    bool too_big;
    bool replied;
    enum xend_role role;
} Req;

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

/* An error after which the connection ends (the client is over a limit). */
static enum MHD_Result send_error_close(struct MHD_Connection *c, int status, const char *msg)
{
    ApiReply rp = { 0 };
    struct MHD_Response *r;
    enum MHD_Result ret;

    api_error(&rp, status, "%s", msg);
    r = MHD_create_response_from_buffer(strlen(rp.body), rp.body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(rp.body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
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

/* ---- listeners and their clients ---- */

enum listener_kind { L_UNIX, L_UNIX_RO, L_TCP };

typedef struct Listener {
    enum listener_kind kind;
    const char *name;          /* for the log: the socket path or the TCP URI */
    struct MHD_Daemon *daemon;
} Listener;

/* One client connection: who it is and whether it is over its limit. */
typedef struct Client {
    char peer[64];             /* "uid 1000" or "ip 10.0.0.9": the limit's key */
    pid_t pid;                 /* UNIX peers (SO_PEERCRED); -1 otherwise */
    bool counted, over;
} Client;

static Listener listeners[3];
static const AuthTokens *tokens;
static PeerTable *peers;
static unsigned per_peer;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    const Listener *l = cls;
    Client *cl = *socket_ctx;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (cl && cl->counted)
            peer_leave(peers, cl->peer);
        free(cl);
        *socket_ctx = NULL;
        return;
    }
    if (!(cl = calloc(1, sizeof(*cl))))
        return;                /* on_request refuses a client without one */
    *socket_ctx = cl;
    cl->pid = -1;
    if (l->kind == L_TCP) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char host[NI_MAXHOST] = "?";

        if (ci && ci->client_addr)
            getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ?
                        sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                        host, sizeof(host), NULL, 0, NI_NUMERICHOST);
        snprintf(cl->peer, sizeof(cl->peer), "ip %s", host);
        log_debug("http: client %s on %s", host, l->name);
    } else {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred cred = { .pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
        socklen_t len = sizeof(cred);

        if (ci)
            getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
        cl->pid = cred.pid;
        snprintf(cl->peer, sizeof(cl->peer), "uid %d", (int)cred.uid);
        log_debug("http: client pid %d uid %d gid %d on %s (%s)", (int)cred.pid,
                 (int)cred.uid, (int)cred.gid, l->name,
                 l->kind == L_UNIX_RO ? "read-only" : "full access");
        if (cred.uid == 0)
            return;            /* root, the administrator, is not limited */
    }
    cl->counted = true;
    cl->over = peer_enter(peers, cl->peer) > per_peer;
}

/* The role of the request's client; -1 after replying 401/429/500. */
static int client_role(struct MHD_Connection *c, const Listener *l, Client *cl)
{
    const char *h;
    int role;

    if (!cl)
        return send_error(c, 500, "out of memory"), -1;
    if (cl->over) {
        char msg[160];
        log_warn("http: refused a request of %s (pid %d): more than %u connections",
                 cl->peer, (int)cl->pid, per_peer);
        snprintf(msg, sizeof(msg), "too many connections to xend from %s (the limit is %u)",
                 cl->peer, per_peer);
        send_error_close(c, 429, msg);
        return -1;
    }
    if (l->kind == L_UNIX_RO)
        return XEND_ROLE_RO;
    if (l->kind == L_UNIX) {
        role = XEND_ROLE_FULL;
    } else {
        role = auth_bearer_role(tokens, MHD_lookup_connection_value(
                                    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
        if (role < 0) {
            log_info("http: refused a request of %s: missing or wrong bearer token", cl->peer);
            send_error(c, 401, "missing or wrong bearer token");
            return -1;
        }
    }
    /* A client may ask for less than it could have (xm -r over TCP). */
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, ACCESS_HEADER);
    return h && !strcmp(h, "read-only") ? XEND_ROLE_RO : role;
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
    const Listener *l = cls;
    bool local = l->kind != L_TCP;
    Req *rq = *con_cls;

    (void)version;
    if (!rq) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        Client *cl = ci ? ci->socket_context : NULL;
        const char *cl_len;
        int role;

        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        /* Who it is and what it may do, from the headers alone: nothing
         * of the body is read for a client that may not send it. */
        if ((role = client_role(c, l, cl)) < 0) {
            rq->replied = true;
            return MHD_YES;
        }
        rq->role = (enum xend_role)role;
        {
            ApiRequest ar = { .method = method, .path = url, .local = local, .role = rq->role };
            ApiReply rp = { 0 };

            if (api_authorize(&ar, &rp) < 0) {
                if (rp.status == 403)
                    log_info("http: refused %s %s of %s (pid %d): %s access", method, url,
                             cl->peer, (int)cl->pid, auth_role_name(rq->role));
                rq->replied = true;
                return send_text(c, rp.status, rp.body);
            }
            free(rp.body);
        }
        cl_len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl_len && strtoull(cl_len, NULL, 10) > XEND_MAX_BODY) {
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
                       .len = rq->len, .local = local, .role = rq->role,
                       .local_root = l->kind == L_UNIX && rq->role == XEND_ROLE_FULL &&
                                     peer_is_root(c) };
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

/* "tcp://host:port" (or https://, http://) → the first address. */
static int open_tcp(const char *uri, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[256], *colon;
    const char *hp = strstr(uri, "://") ? strstr(uri, "://") + 3 : uri;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai;
    int r;

    if (hp == uri || strlen(hp) >= sizeof(host)) {
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

static struct MHD_Daemon *start_unix(Listener *l, int fd)
{
    return MHD_start_daemon(mhd_flags, 0, NULL, NULL, on_request, l,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
                            MHD_OPTION_END);
}

int http_start(const HttpSetup *s)
{
    tokens = s->tokens;
    per_peer = s->per_peer ? s->per_peer : AUTH_DEFAULT_PEER_LIMIT;
    if (!peers && !(peers = peer_table_new())) {
        log_err("out of memory");
        return -1;
    }
    listeners[L_UNIX] = (Listener){ L_UNIX, xconf.sock_path, NULL };
    listeners[L_UNIX_RO] = (Listener){ L_UNIX_RO, xconf.sock_ro_path, NULL };
    listeners[L_TCP] = (Listener){ L_TCP, s->tcp, NULL };
    if (!(listeners[L_UNIX].daemon = start_unix(&listeners[L_UNIX], s->unix_fd))) {
        log_err("cannot start the HTTP server on %s", xconf.sock_path);
        return -1;
    }
    if (s->unix_ro_fd >= 0 &&
        !(listeners[L_UNIX_RO].daemon = start_unix(&listeners[L_UNIX_RO], s->unix_ro_fd))) {
        log_err("cannot start the HTTP server on %s", xconf.sock_ro_path);
        http_stop();
        return -1;
    }
    if (s->tcp && *s->tcp) {
        struct sockaddr_storage ss;
        socklen_t sl;
        unsigned flags = mhd_flags;

        if (open_tcp(s->tcp, &ss, &sl) < 0) {
            http_stop();
            return -1;
        }
        (void)sl;
        if (ss.ss_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        if (s->tls)
            flags |= MHD_USE_TLS;
        /* Without TLS the option list ends before the HTTPS options
         * (MHD refuses them on a plain daemon). */
        listeners[L_TCP].daemon =
            MHD_start_daemon(flags, 0, NULL, NULL, on_request, &listeners[L_TCP],
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_peer,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, &listeners[L_TCP],
                             s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, s->key_pem,
                             MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
                             MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
                             MHD_OPTION_END);
        if (!listeners[L_TCP].daemon) {
            log_err("cannot listen on %s: %s", s->tcp, strerror(errno));
            http_stop();
            return -1;
        }
    }
    return 0;
}

void http_stop(void)
{
    for (int i = L_TCP; i >= L_UNIX; i--) {
        if (listeners[i].daemon)
            MHD_stop_daemon(listeners[i].daemon);
        listeners[i].daemon = NULL;
    }
}
