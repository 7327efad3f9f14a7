/* Client of a VMM's control socket (docs/protocols.md §1): JSON lines.
 * Each call uses its own connection, so callers in different threads never
 * share one; events arriving before the response are skipped. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "xend.h"

#define LINE_MAX_BYTES    (64u << 10)
#define MONITOR_CONNECT_MS 1000
#define REQ_ID            1        /* one request per connection */

/* Lines read from a connection. */
typedef struct LineReader {
    char *buf;
    size_t len, cap;
    size_t used;               /* bytes of the line last returned (with '\n') */
} LineReader;

int vmm_connect(const char *sock)
{
    int fd = io_unix_connect(sock, MONITOR_CONNECT_MS, IO_NONBLOCK | IO_CLOEXEC);

    if (fd < 0) {
        log_debug("no event connection to %s: %s", sock, strerror(-fd));
        return -1;
    }
    return fd;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = clock_ns();
    return now >= deadline ? 0 : (int)((deadline - now) / NS_PER_MS) + 1;
}

/* Send {"id": REQ_ID, "cmd": cmd, ...args} as one line. */
static int send_request(int fd, const char *cmd, json_t *args, char *err, size_t errlen)
{
    json_t *req = json_object();
    char *text;
    int r;

    if (args)
        json_object_update(req, args);
    json_object_set_new(req, "id", json_integer(REQ_ID));
    json_object_set_new(req, "cmd", json_string(cmd));
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r = io_writev_all(fd, (struct iovec[]){ { text, strlen(text) }, { "\n", 1 } }, 2);
    free(text);
    if (r < 0) {
        snprintf(err, errlen, "VMM control socket: %s", strerror(-r));
        return -1;
    }
    return 0;
}

/* Read more bytes into r, waiting until deadline. */
static int fill(int fd, LineReader *r, uint64_t deadline, const char *cmd,
                char *err, size_t errlen)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = remaining_ms(deadline), n;

        if (ms <= 0) {
            snprintf(err, errlen, "VMM did not answer '%s' in time", cmd);
            return -1;
        }
        n = poll(&p, 1, ms);
        if (n > 0)
            break;
        /* EINTR or the time is up: the deadline check above decides. */
    }
    if (r->len + 4096 > r->cap) {
        char *nb;

        if (r->cap >= LINE_MAX_BYTES) {
            snprintf(err, errlen, "VMM sent a line over 64 KiB");
            return -1;
        }
        nb = realloc(r->buf, (r->cap ? r->cap * 2 : 8192) + 1);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r->buf = nb;
        r->cap = r->cap ? r->cap * 2 : 8192;
    }
    for (;;) {
        ssize_t n = recv(fd, r->buf + r->len, r->cap - r->len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "VMM closed the control connection during '%s'", cmd);
            return -1;
        }
        r->len += (size_t)n;
        return 0;
    }
}

/* The next line from fd, without its newline (valid until the next call),
 * or NULL with a message. */
static char *read_line(int fd, LineReader *r, uint64_t deadline, const char *cmd,
                       char *err, size_t errlen)
{
    char *nl;

    if (r->used) {
        r->len -= r->used;
        memmove(r->buf, r->buf + r->used, r->len);
        r->used = 0;
    }
    while (!r->buf || !(nl = memchr(r->buf, '\n', r->len)))
        if (fill(fd, r, deadline, cmd, err, errlen) < 0)
            return NULL;
    *nl = '\0';
    r->used = (size_t)(nl + 1 - r->buf);
    return r->buf;
}

/* The response to our request: the first line whose id is REQ_ID (the
 * VMM's event lines come in between). */
static json_t *read_response(int fd, uint64_t deadline, const char *cmd, char *err, size_t errlen)
{
    LineReader r = { 0 };
    json_t *resp = NULL;
    const char *line;

    while ((line = read_line(fd, &r, deadline, cmd, err, errlen))) {
        json_t *id;

        resp = json_loads(line, 0, NULL);
        if (json_is_object(resp) && json_is_integer(id = json_object_get(resp, "id")) &&
            json_integer_value(id) == REQ_ID)
            break;
        json_decref(resp);
        resp = NULL;
    }
    free(r.buf);
    return resp;
}

/* {"ok": true, "result": R} gives R (referenced, may be NULL); otherwise
 * the VMM's error becomes ours. */
static int take_result(json_t *resp, json_t **result, char *err, size_t errlen)
{
    const char *e;

    if (json_is_true(json_object_get(resp, "ok"))) {
        if (result) {
            *result = json_object_get(resp, "result");
            json_incref(*result);
        }
        return 0;
    }
    e = json_string_value(json_object_get(resp, "error"));
    snprintf(err, errlen, "%s", e ? e : "VMM refused the request");
    return -1;
}

int vmm_call(const char *sock, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char *err, size_t errlen)
{
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    json_t *resp;
    int fd, ret = -1;

    if (result)
        *result = NULL;
    fd = io_unix_connect(sock, timeout_ms, IO_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to the VMM control socket %s: %s",
                 sock, strerror(-fd));
        return -1;
    }
    if (send_request(fd, cmd, args, err, errlen) == 0 &&
        (resp = read_response(fd, deadline, cmd, err, errlen))) {
        ret = take_result(resp, result, err, errlen);
        json_decref(resp);
    }
    close(fd);
    return ret;
}
