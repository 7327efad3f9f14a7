/* libxeno: connections and HTTP requests (libcurl; UNIX sockets through
 * CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "internal.h"

/* Seconds a single request may take. Shutdown with wait asks xend to wait
 * for the guest, so it gets no limit but the server's. */
#define XENO_REQUEST_TIMEOUT 120
/* Seconds to wait for xend to accept a connection. */
#define XENO_CONNECT_TIMEOUT 10

/* Open a socket to xend (used to check reachability); returns fd or -1
 * with errno set. */
static int xeno_uri_socket(const struct xeno_uri *u)
{
    if (u->transport == XENO_TRANSPORT_UNIX) {
        int fd = io_unix_connect(u->path, XENO_CONNECT_TIMEOUT * 1000, IO_CLOEXEC);
        if (fd < 0) {
            errno = -fd;
            return -1;
        }
        return fd;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", u->port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    int rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0) {
        errno = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
        return -1;
    }
    int fd = -1, e = ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = e;
    return fd;
}

static int no_connect(xeno_conn *c, int e)
{
    c->sys_errno = e;
    return xeno_set_error(c, XENO_ERR_NO_CONNECT, "Unable to connect to xend: %s", strerror(e));
}

/* A token is printable and has no blanks. */
static bool token_ok(const char *t)
{
    for (const char *q = t; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return false;
    return *t != '\0';
}

/* The token: a file's first line, XENO_TOKEN, or XENO_TOKEN_FILE's. */
static int load_token(xeno_conn *c, const char *file)
{
    const char *env = getenv("XENO_TOKEN");
    char line[512] = "";

    if (!file && env && *env) {
        if (!token_ok(env))
            return xeno_set_error(c, XENO_ERR_INVALID_ARG, "XENO_TOKEN holds a bad character");
        c->token = strdup(env);
        return c->token ? XENO_OK : xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    }
    if (!file)
        file = getenv("XENO_TOKEN_FILE");
    if (!file || !*file)
        return XENO_OK;         /* none: xend answers 401 */
    FILE *f = fopen(file, "re");
    if (!f) {
        c->sys_errno = errno;
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "cannot read the token file %s: %s",
                              file, strerror(errno));
    }
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!token_ok(line)) {
        explicit_bzero(line, sizeof(line));
        return xeno_set_error(c, XENO_ERR_INVALID_ARG,
                              "%s: expected the token alone on its first line", file);
    }
    c->token = strdup(line);
    explicit_bzero(line, sizeof(line));
    return c->token ? XENO_OK : xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
}

/* https: learn xend's key on fd and check it against the pin. */
static int check_server_key(xeno_conn *c, int fd, const xeno_connect_params *p)
{
    unsigned char seen[32], want[32];
    char err[256], hp[300], kh[1024] = "", wantfp[XENO_FP_LEN];
    const char *fp = p && p->fingerprint ? p->fingerprint : getenv("XENO_FINGERPRINT");
    int found = 0;

    if (fp && *fp && fp_sha256_parse(fp, want) < 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "fingerprint '%.80s': expected "
                              "SHA256: and 43 base64 characters, as xend prints it", fp);
    if (xeno_tls_probe(fd, c->uri.host, seen, err, sizeof(err)) < 0)
        return xeno_set_error(c, XENO_ERR_TLS, "%s", err);
    fp_sha256_format(seen, c->server_fp);
    xeno_uri_hostport(&c->uri, hp, sizeof(hp));
    if (fp && *fp) {
        found = 1;
    } else {
        if (p && p->known_hosts)
            snprintf(kh, sizeof(kh), "%s", p->known_hosts);
        else if (xeno_known_hosts_default(kh, sizeof(kh)) < 0)
            kh[0] = '\0';
        if (kh[0] && (found = xeno_known_hosts_find(kh, hp, want)) < 0) {
            c->sys_errno = errno;
            return xeno_set_error(c, XENO_ERR_TLS, "cannot read %s: %s", kh, strerror(errno));
        }
    }
    if (!found)
        return xeno_set_error(c, XENO_ERR_TLS_UNKNOWN,
                              "the TLS key of xend at %s is not known (its fingerprint is %s): "
                              "check it against `xend fingerprint` on that host, then pass it "
                              "with --fingerprint or add it to %s", hp, c->server_fp,
                              kh[0] ? kh : "the known-hosts file");
    if (memcmp(seen, want, 32)) {
        fp_sha256_format(want, wantfp);
        return xeno_set_error(c, XENO_ERR_TLS,
                              "the TLS key of xend at %s does not match: it presented %s, "
                              "expected %s%s%s (another server, or xend's certificate "
                              "was replaced)", hp, c->server_fp, wantfp,
                              fp && *fp ? "" : " from ", fp && *fp ? "" : kh);
    }
    /* curl's form: standard base64, padded. */
    snprintf(c->pin, sizeof(c->pin), "sha256//%s=", c->server_fp + 7);
    return XENO_OK;
}

int xeno_connect_with(const char *uri, const xeno_connect_params *p, xeno_conn **out)
{
    xeno_conn *c = calloc(1, sizeof(*c));
    unsigned flags = p ? p->flags : 0;
    int rc;

    *out = c;
    if (!c)
        return XENO_ERR_NO_MEMORY;
    if (!uri || !*uri)
        uri = getenv("XENO_URI");
    if (!uri || !*uri)
        uri = XENO_DEFAULT_URI;
    c->uri_text = strdup(uri);
    if (!c->uri_text)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    if (p && p->size < offsetof(xeno_connect_params, token_file) + sizeof(p->token_file))
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "xeno_connect_params: bad size");
    if (flags & ~(XENO_CONNECT_READONLY | XENO_CONNECT_INSECURE))
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "unknown connect flags 0x%x", flags);
    char err[256];
    if (xeno_uri_parse(uri, &c->uri, err, sizeof(err)) < 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "%s", err);
    c->readonly = flags & XENO_CONNECT_READONLY;
    if (c->uri.transport == XENO_TRANSPORT_UNIX && c->readonly) {
        char ro[sizeof(c->uri.path)];
        if (xeno_ro_socket_path(c->uri.path, ro, sizeof(ro)) < 0)
            return xeno_set_error(c, XENO_ERR_INVALID_ARG, "socket path too long");
        strcpy(c->uri.path, ro);
    }
    if (c->uri.transport == XENO_TRANSPORT_TCP) {
        if (!c->uri.tls && !(flags & XENO_CONNECT_INSECURE))
            return xeno_set_error(c, XENO_ERR_INVALID_ARG,
                                  "%s is plain HTTP: the token and everything else would go in "
                                  "clear text; use https:// (xend --listen tcp://), or allow it "
                                  "explicitly (xm --insecure)", uri);
        if ((rc = load_token(c, p ? p->token_file : NULL)))
            return rc;
    }
    /* Check reachability with a plain connect: it gives the exact errno
     * ("Connection refused", "No such file or directory") that xm shows;
     * over https the same connection learns xend's key. */
    int fd = xeno_uri_socket(&c->uri);
    if (fd < 0)
        return no_connect(c, errno);
    rc = c->uri.tls ? check_server_key(c, fd, p) : XENO_OK;
    close(fd);
    if (rc)
        return rc;
    c->curl = curl_easy_init();
    if (!c->curl)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "cannot initialise libcurl");
    return XENO_OK;
}

int xeno_connect(const char *uri, unsigned int flags, xeno_conn **out)
{
    xeno_connect_params p = { .size = sizeof(p), .flags = flags };

    return xeno_connect_with(uri, &p, out);
}

int xeno_connect_readonly(const char *uri, xeno_conn **out)
{
    return xeno_connect(uri, XENO_CONNECT_READONLY, out);
}

const char *xeno_conn_get_server_fingerprint(const xeno_conn *c)
{
    return c ? c->server_fp : "";
}

int xeno_conn_trust_server(xeno_conn *c, const char *known_hosts)
{
    char kh[1024], dir[1024], hp[300], line[400];
    unsigned char have[32];
    int found, fd;

    if (!c)
        return XENO_ERR_INVALID_ARG;
    xeno_clear_error(c);
    if (!c->server_fp[0])
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "no TLS key of xend to trust");
    if (known_hosts)
        snprintf(kh, sizeof(kh), "%s", known_hosts);
    else if (xeno_known_hosts_default(kh, sizeof(kh)) < 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "no known-hosts file: HOME is not set");
    xeno_uri_hostport(&c->uri, hp, sizeof(hp));
    found = xeno_known_hosts_find(kh, hp, have);
    if (found > 0) {
        char fp[XENO_FP_LEN];
        fp_sha256_format(have, fp);
        if (!strcmp(fp, c->server_fp))
            return XENO_OK;
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "%s already holds another key for %s "
                              "(%s); remove that line first", kh, hp, fp);
    }
    /* mkdir -p the file's directory, private. */
    snprintf(dir, sizeof(dir), "%s", kh);
    for (char *q = dir + 1; (q = strchr(q, '/')); q++) {
        *q = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            break;
        *q = '/';
    }
    fd = open(kh, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        c->sys_errno = errno;
        return xeno_set_error(c, XENO_ERR_IO, "cannot write %s: %s", kh, strerror(errno));
    }
    snprintf(line, sizeof(line), "%s %s\n", hp, c->server_fp);
    int r = io_write_all(fd, line, strlen(line));
    close(fd);
    if (r < 0) {
        c->sys_errno = -r;
        return xeno_set_error(c, XENO_ERR_IO, "cannot write %s: %s", kh, strerror(-r));
    }
    return XENO_OK;
}

void xeno_close(xeno_conn *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    free(c->uri_text);
    free(c);
}

const char *xeno_conn_get_uri(const xeno_conn *c)
{
    return c && c->uri_text ? c->uri_text : "";
}

struct buf {
    char *data;
    size_t len, cap;
    bool overflow;
};

static size_t buf_write(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct buf *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n + 1 > XENO_MAX_RESPONSE) {
        b->overflow = true;
        return 0;                       /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

struct curl_slist *xeno_curl_setup(xeno_conn *c, CURL *h, const char *path)
{
    char url[600], hp[300];
    const char *scheme = c->uri.tls ? "https" : "http";
    if (c->uri.transport == XENO_TRANSPORT_UNIX) {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->uri.path);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    } else {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, NULL);
        xeno_uri_hostport(&c->uri, hp, sizeof(hp));
        snprintf(url, sizeof(url), "%s://%s%s", scheme, hp, path);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, scheme);
    if (c->uri.tls) {
        /* A self-signed certificate: no CA vouches for it, the pin does
         * (checked on every connection, before anything is sent). */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)XENO_CONNECT_TIMEOUT);
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    if (c->readonly)        /* xend then treats even a full token as read-only */
        hdr = curl_slist_append(hdr, "X-Xeno-Access: read-only");
    if (c->token) {
        char *auth;
        if (asprintf(&auth, "Authorization: Bearer %s", c->token) >= 0) {
            hdr = curl_slist_append(hdr, auth);
            explicit_bzero(auth, strlen(auth));
            free(auth);
        }
    }
    return hdr;
}

/* One request on c->curl: set up (prepare), run (by the caller: easy or
 * multi), decoded (finish). */
struct request {
    struct curl_slist *hdr;
    char *body_text;
    struct buf b;
};

static int request_prepare(xeno_conn *c, struct request *r, const char *method,
                           const char *path, json_t *body, long timeout_s)
{
    CURL *h = c->curl;

    memset(r, 0, sizeof(*r));
    curl_easy_reset(h);
    r->hdr = xeno_curl_setup(c, h, path);
    if (body) {
        r->body_text = json_dumps(body, JSON_COMPACT);
        if (!r->body_text) {
            curl_slist_free_all(r->hdr);
            r->hdr = NULL;
            return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
        }
        r->hdr = curl_slist_append(r->hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body_text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body_text));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    return XENO_OK;
}

static int request_finish(xeno_conn *c, struct request *r, CURLcode rc, json_t **out)
{
    CURL *h = c->curl;
    long status = 0;
    int ret = XENO_OK;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(r->hdr);
    free(r->body_text);
    if (rc != CURLE_OK) {
        long oserr = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        if (r->b.overflow)
            ret = xeno_set_error(c, XENO_ERR_PROTOCOL, "answer from xend too large");
        else if (rc == CURLE_COULDNT_CONNECT)
            ret = no_connect(c, oserr ? (int)oserr : ECONNREFUSED);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            ret = xeno_set_error(c, XENO_ERR_TIMEOUT, "xend did not answer in time");
        else if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
            ret = xeno_set_error(c, XENO_ERR_TLS, "the TLS key of xend changed since the "
                                 "connection was opened (expected %s)", c->server_fp);
        else
            ret = xeno_set_error(c, XENO_ERR_NO_CONNECT, "Unable to talk to xend: %s",
                                 curl_easy_strerror(rc));
        goto out;
    }

    json_t *doc = NULL;
    if (r->b.len > 0) {
        json_error_t jerr;
        doc = json_loadb(r->b.data, r->b.len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (status < 200 || status >= 300) {
        const char *msg = doc ? json_string_value(json_object_get(doc, "error")) : NULL;
        ret = xeno_set_error(c, xeno_error_from_http(status), "%s",
                             msg && *msg ? msg : "xend answered with an error");
        if (!msg)
            snprintf(c->errmsg + strlen(c->errmsg), sizeof(c->errmsg) - strlen(c->errmsg),
                     " (HTTP %ld)", status);
        json_decref(doc);
        goto out;
    }
    if (r->b.len > 0 && !doc) {
        ret = xeno_set_error(c, XENO_ERR_PROTOCOL, "xend sent malformed JSON");
        goto out;
    }
    if (out)
        *out = doc;
    else
        json_decref(doc);
out:
    free(r->b.data);
    return ret;
}

static int request_timed(xeno_conn *c, const char *method, const char *path, json_t *body,
                         json_t **out, long timeout_s)
{
    struct request r;

    if (out)
        *out = NULL;
    xeno_clear_error(c);
    if (!c->curl)
        return xeno_set_error(c, XENO_ERR_NO_CONNECT, "not connected to xend");
    int rc = request_prepare(c, &r, method, path, body, timeout_s);
    if (rc)
        return rc;
    return request_finish(c, &r, curl_easy_perform(c->curl), out);
}

int xeno_request(xeno_conn *c, const char *method, const char *path,
                 json_t *body, json_t **out)
{
    /* A waiting shutdown may take as long as the guest needs; xend bounds it. */
    bool waits = body && json_is_true(json_object_get(body, "wait"));
    return request_timed(c, method, path, body, out, waits ? 0L : (long)XENO_REQUEST_TIMEOUT);
}

/* ---- long jobs with progress ---- */

/* The event stream beside a job's request. */
struct job_events {
    char *buf;
    size_t len, cap;
    bool overflow;
    bool final;                 /* the job's last progress was handed */
};

static size_t job_ev_write(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct job_events *e = opaque;
    size_t n = size * nmemb;

    if (e->len + n + 1 > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n + 1)
            cap *= 2;
        if (cap > (1u << 20)) {
            e->overflow = true;
            return 0;
        }
        char *b = realloc(e->buf, cap);
        if (!b)
            return 0;
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, ptr, n);
    e->len += n;
    e->buf[e->len] = '\0';
    return n;
}

int xeno_progress_parse_line(const char *line, const char *job, xeno_progress *p)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *ev = json_string_value(json_object_get(o, "event"));
    const char *j = json_string_value(json_object_get(o, "job"));
    int ret = -1;

    memset(p, 0, sizeof(*p));
    if (ev && !strcmp(ev, "progress") && j && job && !strcmp(j, job)) {
        const char *s;
        json_t *v;
        if ((s = json_string_value(json_object_get(o, "op"))))
            snprintf(p->op, sizeof(p->op), "%s", s);
        if ((s = json_string_value(json_object_get(o, "state"))))
            snprintf(p->state, sizeof(p->state), "%s", s);
        if ((s = json_string_value(json_object_get(o, "error"))))
            snprintf(p->error, sizeof(p->error), "%s", s);
        if ((s = json_string_value(json_object_get(o, "domain"))))
            snprintf(p->domain, sizeof(p->domain), "%s", s);
#define U64(k, f) if (json_is_integer(v = json_object_get(o, k)) && json_integer_value(v) >= 0) \
                      p->f = (uint64_t)json_integer_value(v)
        U64("bytes", bytes);
        U64("total_bytes", total_bytes);
        U64("dirty_pages", dirty_pages);
        U64("downtime_ms", downtime_ms);
        if (json_is_integer(v = json_object_get(o, "round")) && json_integer_value(v) >= 0 &&
            json_integer_value(v) < 1000000)
            p->round = (unsigned)json_integer_value(v);
        if (json_is_number(v = json_object_get(o, "rate_mbps")) && json_number_value(v) >= 0)
            p->rate_mbps = json_number_value(v);
#undef U64
        ret = 0;
    }
    json_decref(o);
    return ret;
}

/* Hand complete progress lines of our job to cb; true once its last one
 * (completed, failed or cancelled) has been handed. */
static bool job_events_deliver(struct job_events *e, const char *job, xeno_progress_cb cb,
                               void *opaque)
{
    char *nl;

    while (e->len && (nl = memchr(e->buf, '\n', e->len))) {
        xeno_progress p;
        *nl = '\0';
        if (e->buf[0] && xeno_progress_parse_line(e->buf, job, &p) == 0) {
            cb(&p, opaque);
            if (!strcmp(p.state, "completed") || !strcmp(p.state, "failed") ||
                !strcmp(p.state, "cancelled"))
                e->final = true;
        }
        size_t used = (size_t)(nl + 1 - e->buf);
        memmove(e->buf, nl + 1, e->len - used);
        e->len -= used;
        e->buf[e->len] = '\0';
    }
    return e->final;
}

int xeno_request_job(xeno_conn *c, const char *method, const char *path, json_t *body,
                     json_t **out, xeno_progress_cb cb, void *opaque)
{
    if (out)
        *out = NULL;
    xeno_clear_error(c);
    if (!c->curl)
        return xeno_set_error(c, XENO_ERR_NO_CONNECT, "not connected to xend");
    if (!cb || !json_is_object(body))
        return request_timed(c, method, path, body, out, 0L);

    /* A tag that finds this job's progress among the events. */
    char job[64];
    uint8_t rnd[6] = { 0 };
    int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (ufd >= 0) {
        if (read(ufd, rnd, sizeof(rnd)) < 0)
            memset(rnd, 0, sizeof(rnd));
        close(ufd);
    }
    snprintf(job, sizeof(job), "lx-%d-%02x%02x%02x%02x%02x%02x", (int)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    json_object_set_new(body, "job", json_string(job));

    /* Subscribe first; the job starts once xend has us (the stream's
     * headers came). Without the stream, the job runs without progress. */
    struct job_events ev = { 0 };
    CURLM *multi = curl_multi_init();
    CURL *eh = curl_easy_init();
    struct curl_slist *ehdr = NULL;
    bool have_events = false;
    if (multi && eh) {
        ehdr = xeno_curl_setup(c, eh, "/v1/events");
        curl_easy_setopt(eh, CURLOPT_HTTPHEADER, ehdr);
        curl_easy_setopt(eh, CURLOPT_WRITEFUNCTION, job_ev_write);
        curl_easy_setopt(eh, CURLOPT_WRITEDATA, &ev);
        curl_multi_add_handle(multi, eh);
        for (int i = 0; i < 100; i++) {         /* 5 s */
            int running = 0, n;
            long st = 0;
            curl_multi_perform(multi, &running);
            curl_easy_getinfo(eh, CURLINFO_RESPONSE_CODE, &st);
            if (st == 200) {
                have_events = true;
                break;
            }
            if (!running || st)
                break;
            curl_multi_poll(multi, NULL, 0, 50, &n);
        }
        if (!have_events)
            curl_multi_remove_handle(multi, eh);
    }

    struct request r;
    int ret = request_prepare(c, &r, method, path, body, 0L);
    if (ret)
        goto out;
    CURLcode rc = CURLE_OK;
    if (!have_events || curl_multi_add_handle(multi, c->curl) != CURLM_OK) {
        rc = curl_easy_perform(c->curl);
    } else {
        for (;;) {
            int running = 0, n, left;
            CURLMsg *m;
            bool done = false;
            if (curl_multi_perform(multi, &running) != CURLM_OK) {
                rc = CURLE_RECV_ERROR;
                break;
            }
            while ((m = curl_multi_info_read(multi, &left)))
                if (m->msg == CURLMSG_DONE && m->easy_handle == c->curl) {
                    rc = m->data.result;
                    done = true;
                }
            job_events_deliver(&ev, job, cb, opaque);
            if (done)
                break;
            curl_multi_poll(multi, NULL, 0, 100, &n);
        }
        /* Progress still on its way when the answer came (the events
         * travel on their own connection): up to 30 ms for the last. */
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long left = 30; !ev.final && left > 0;) {
            int running, n;
            curl_multi_perform(multi, &running);
            if (job_events_deliver(&ev, job, cb, opaque))
                break;
            curl_multi_poll(multi, NULL, 0, (int)left, &n);
            clock_gettime(CLOCK_MONOTONIC, &t);
            left = 30 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        }
        curl_multi_remove_handle(multi, c->curl);
        curl_multi_remove_handle(multi, eh);
    }
    ret = request_finish(c, &r, rc, out);
out:
    if (eh)
        curl_easy_cleanup(eh);
    if (multi)
        curl_multi_cleanup(multi);
    curl_slist_free_all(ehdr);
    free(ev.buf);
    return ret;
}
