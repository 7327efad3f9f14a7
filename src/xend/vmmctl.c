/* Client of a VMM's control socket (docs/protocols.md §1): JSON lines.
 * Each call uses its own connection, so callers in different threads never
 * share one; events arriving before the response are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "xend.h"

#define LINE_MAX_BYTES (64u << 10)

static int sock_open(const char *path, bool nonblock)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int vmm_connect(const char *sock)
{
    return sock_open(sock, true);
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = clock_ns();
    return now >= deadline ? 0 : (int)((deadline - now) / NS_PER_MS) + 1;
}

int vmm_call(const char *sock, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char *err, size_t errlen)
{
    static const json_int_t req_id = 1;
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    json_t *req = json_object(), *resp = NULL;
    char *line = NULL, *buf = NULL;
    size_t len = 0, cap = 0;
    int fd, ret = -1;

    if (result)
        *result = NULL;
    fd = sock_open(sock, false);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to the VMM control socket %s: %s",
                 sock, strerror(errno));
        json_decref(req);
        return -1;
    }
    if (args)
        json_object_update(req, args);
    json_object_set_new(req, "id", json_integer(req_id));
    json_object_set_new(req, "cmd", json_string(cmd));
    line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!line) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    {
        size_t n = strlen(line);
        char *msg = malloc(n + 2);
        if (!msg) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(msg, line, n);
        msg[n] = '\n';
        for (size_t done = 0; done < n + 1;) {
            ssize_t w = send(fd, msg + done, n + 1 - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, errlen, "VMM control socket: %s", strerror(errno));
                free(msg);
                goto out;
            }
            done += (size_t)w;
        }
        free(msg);
    }

    /* Read lines until the one answering our id. */
    for (;;) {
        char *nl;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = remaining_ms(deadline), r;
        ssize_t n;

        while (buf && (nl = memchr(buf, '\n', len))) {
            json_t *id;

            *nl = '\0';
            resp = json_loads(buf, 0, NULL);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
            if (json_is_object(resp) && (id = json_object_get(resp, "id")) &&
                json_is_integer(id) && json_integer_value(id) == req_id)
                goto got;
            json_decref(resp);
            resp = NULL;
        }
        if (ms <= 0) {
            snprintf(err, errlen, "VMM did not answer '%s' in time", cmd);
            goto out;
        }
        r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;   /* timeout handled above */
        if (len + 4096 > cap) {
            char *nb;
            if (cap >= LINE_MAX_BYTES) {
                snprintf(err, errlen, "VMM sent a line over 64 KiB");
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            nb = realloc(buf, cap + 1);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            buf = nb;
        }
        n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "VMM closed the control connection during '%s'", cmd);
            goto out;
        }
        len += (size_t)n;
    }

got:
    if (json_is_true(json_object_get(resp, "ok"))) {
        if (result) {
            *result = json_object_get(resp, "result");
            json_incref(*result);
        }
        ret = 0;
    } else {
        const char *e = json_string_value(json_object_get(resp, "error"));
        snprintf(err, errlen, "%s", e ? e : "VMM refused the request");
    }
    json_decref(resp);
out:
    free(line);
    free(buf);
    close(fd);
    return ret;
}
