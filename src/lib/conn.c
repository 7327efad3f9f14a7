/* libxeno: connections and HTTP requests (libcurl; UNIX sockets through
 * CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

int xeno_connect(const char *uri, unsigned int flags, xeno_conn **out)
{
    xeno_conn *c = calloc(1, sizeof(*c));
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
    if (flags != 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "unknown connect flags 0x%x", flags);
    char err[256];
    if (xeno_uri_parse(uri, &c->uri, err, sizeof(err)) < 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "%s", err);
    if (c->uri.transport == XENO_TRANSPORT_TCP) {
        const char *tok = c->uri.token[0] ? c->uri.token : getenv("XENO_TOKEN");
        if (tok && *tok) {
            for (const char *q = tok; *q; q++)
                if ((unsigned char)*q <= ' ' || *q == 0x7f)
                    return xeno_set_error(c, XENO_ERR_INVALID_ARG, "XENO_TOKEN holds a bad character");
            c->token = strdup(tok);
            if (!c->token)
                return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
        }
    }
    /* Check reachability with a plain connect: it gives the exact errno
     * ("Connection refused", "No such file or directory") that xm shows. */
    int fd = xeno_uri_socket(&c->uri);
    if (fd < 0)
        return no_connect(c, errno);
    close(fd);
    c->curl = curl_easy_init();
    if (!c->curl)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "cannot initialise libcurl");
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
    char url[600];
    if (c->uri.transport == XENO_TRANSPORT_UNIX) {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->uri.path);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    } else {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, NULL);
        if (strchr(c->uri.host, ':'))
            snprintf(url, sizeof(url), "http://[%s]:%d%s", c->uri.host, c->uri.port, path);
        else
            snprintf(url, sizeof(url), "http://%s:%d%s", c->uri.host, c->uri.port, path);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)XENO_CONNECT_TIMEOUT);
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
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

int xeno_request(xeno_conn *c, const char *method, const char *path,
                 json_t *body, json_t **out)
{
    if (out)
        *out = NULL;
    xeno_clear_error(c);
    if (!c->curl)
        return xeno_set_error(c, XENO_ERR_NO_CONNECT, "not connected to xend");

    CURL *h = c->curl;
    curl_easy_reset(h);
    struct curl_slist *hdr = xeno_curl_setup(c, h, path);
    char *body_text = NULL;
    if (body) {
        body_text = json_dumps(body, JSON_COMPACT);
        if (!body_text) {
            curl_slist_free_all(hdr);
            return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
        }
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body_text));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    struct buf b = { 0 };
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    /* A waiting shutdown may take as long as the guest needs; xend bounds it. */
    bool waits = body && json_is_true(json_object_get(body, "wait"));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, waits ? 0L : (long)XENO_REQUEST_TIMEOUT);

    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    free(body_text);

    int ret = XENO_OK;
    if (rc != CURLE_OK) {
        long oserr = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        if (b.overflow)
            ret = xeno_set_error(c, XENO_ERR_PROTOCOL, "answer from xend too large");
        else if (rc == CURLE_COULDNT_CONNECT)
            ret = no_connect(c, oserr ? (int)oserr : ECONNREFUSED);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            ret = xeno_set_error(c, XENO_ERR_TIMEOUT, "xend did not answer in time");
        else
            ret = xeno_set_error(c, XENO_ERR_NO_CONNECT, "Unable to talk to xend: %s",
                                 curl_easy_strerror(rc));
        goto out;
    }

    json_t *doc = NULL;
    if (b.len > 0) {
        json_error_t jerr;
        doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
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
    if (b.len > 0 && !doc) {
        ret = xeno_set_error(c, XENO_ERR_PROTOCOL, "xend sent malformed JSON");
        goto out;
    }
    if (out)
        *out = doc;
    else
        json_decref(doc);
out:
    free(b.data);
    return ret;
}
