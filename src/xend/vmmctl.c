/* Client of a VMM's control socket (docs/protocols.md §1): JSON lines.
 * Each call uses its own connection, so callers in different threads never
 * share one; events arriving before the response are skipped.
 *
 * A sandboxed VMM opens no files and connects nowhere (docs/sandbox.md),
 * so the two commands that name a host path get the file or the
 * connection from xend instead, passed with the request (SCM_RIGHTS,
 * "fd": true):
 *   save {"path": P}         xend creates P.tmp, the VMM writes and syncs
 *                            it, and xend renames it to P once the VMM
 *                            succeeded (and syncs the directory): the file
 *                            appears whole or not at all, as before;
 *   migrate {"uri": "unix:P"}  xend connects to P (its own socket) and
 *                            passes the connection;
 *   migrate {"uri": "fd:N"}  xend passes its own descriptor N: the
 *                            relocation connection, which the VMM then
 *                            streams on itself (with "stream_key": its
 *                            own TLS session). Only xend's code makes
 *                            such a uri. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

/* What a request passes along: a descriptor, and for a save the names of
 * the file before and after. */
typedef struct Passed {
    int fd;                    /* -1: nothing */
    char tmp[PATH_MAX + 8];    /* save: the file written */
    char path[PATH_MAX];       /* save: its name once complete, or "" */
} Passed;

/* save's PATH.tmp, created for the VMM. */
static int open_save_file(json_t *args, Passed *p, char *err, size_t errlen)
{
    const char *path = json_string_value(json_object_get(args, "path"));

    if (!path)
        return 0;             /* the VMM says what is missing */
    if ((size_t)snprintf(p->path, sizeof(p->path), "%s", path) >= sizeof(p->path)) {
        snprintf(err, errlen, "%s: path too long", path);
        p->path[0] = '\0';
        return -1;
    }
    snprintf(p->tmp, sizeof(p->tmp), "%s.tmp", p->path);
    p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (p->fd < 0) {
        snprintf(err, errlen, "%s: %s", p->tmp, strerror(errno));
        p->path[0] = '\0';
        return -1;
    }
    json_object_del(args, "path");
    return 0;
}

/* migrate's unix:PATH, connected for the VMM. */
static int connect_migration(json_t *args, Passed *p, char *err, size_t errlen)
{
    const char *uri = json_string_value(json_object_get(args, "uri"));

    if (uri && !strncmp(uri, "fd:", 3)) {
        char *end;
        long n = strtol(uri + 3, &end, 10);

        if (*end || n < 0 || n > INT_MAX || (p->fd = fcntl((int)n, F_DUPFD_CLOEXEC, 0)) < 0) {
            snprintf(err, errlen, "%s: %s", uri, strerror(*end ? EINVAL : errno));
            p->fd = -1;
            return -1;
        }
        json_object_del(args, "uri");
        return 0;
    }
    if (!uri || strncmp(uri, "unix:", 5))
        return 0;             /* the VMM says what is wrong */
    p->fd = io_unix_connect(uri + 5, 1000, IO_CLOEXEC);
    if (p->fd < 0) {
        snprintf(err, errlen, "%s: %s", uri + 5, strerror(-p->fd));
        p->fd = -1;
        return -1;
    }
    json_object_del(args, "uri");
    return 0;
}

/* The arguments to send (a new reference): save and migrate get "fd"
 * instead of their path, and p the descriptor. NULL with err on failure. */
static json_t *pass_descriptors(const char *cmd, json_t *args, Passed *p, char *err, size_t errlen)
{
    json_t *a = args ? json_deep_copy(args) : json_object();
    int r = 0;

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!strcmp(cmd, "save"))
        r = open_save_file(a, p, err, errlen);
    else if (!strcmp(cmd, "migrate"))
        r = connect_migration(a, p, err, errlen);
    if (r == 0 && p->fd >= 0)
        json_object_set_new(a, "fd", json_true());
    if (r < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static void sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    int fd;

    snprintf(dir, sizeof(dir), "%s", path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The save went through (ok) or not: name the file, or remove it. A file
 * that cannot be renamed stays (the domain may live only there now). */
static int finish_passed(Passed *p, bool ok, char *err, size_t errlen)
{
    if (p->fd >= 0)
        close(p->fd);
    if (!p->path[0])
        return 0;
    if (!ok) {
        unlink(p->tmp);
        return 0;
    }
    if (rename(p->tmp, p->path) < 0) {
        snprintf(err, errlen, "saved to %s, which cannot be renamed to %s: %s", p->tmp, p->path,
                 strerror(errno));
        return -1;
    }
    sync_dir_of(p->path);
    return 0;
}

/* Send all of buf, the descriptor (if any) with its first bytes. */
static int send_with_fd(int sock, const char *buf, size_t len, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    if (fd >= 0) {
        struct cmsghdr *c;

        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return io_write_all(sock, buf + n, len - (size_t)n);
}

/* Send {"id": REQ_ID, "cmd": cmd, ...args} as one line. */
static int send_request(int fd, const char *cmd, json_t *args, int pass_fd,
                        char *err, size_t errlen)
{
    json_t *req = json_object();
    char *text;
    size_t len;
    int r;

    if (args)
        json_object_update(req, args);
    json_object_set_new(req, "id", json_integer(REQ_ID));
    json_object_set_new(req, "cmd", json_string(cmd));
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text || !(text = realloc(text, (len = strlen(text)) + 2))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    text[len] = '\n';
    text[len + 1] = '\0';
    r = send_with_fd(fd, text, len + 1, pass_fd);
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
    Passed p = { .fd = -1 };
    json_t *resp, *sent;
    int fd, ret = -1;

    if (result)
        *result = NULL;
    fd = io_unix_connect(sock, timeout_ms, IO_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to the VMM control socket %s: %s",
                 sock, strerror(-fd));
        return -1;
    }
    /* The request is small, but a VMM that reads nothing (stopped, hung)
     * must not hold us past the deadline even with its buffer full. */
    {
        int ms = remaining_ms(deadline);
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 + 1 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    sent = pass_descriptors(cmd, args, &p, err, errlen);
    if (sent && send_request(fd, cmd, sent, p.fd, err, errlen) == 0 &&
        (resp = read_response(fd, deadline, cmd, err, errlen))) {
        ret = take_result(resp, result, err, errlen);
        json_decref(resp);
    }
    json_decref(sent);
    close(fd);
    if (finish_passed(&p, ret == 0, err, errlen) < 0)
        ret = -1;
    return ret;
}
