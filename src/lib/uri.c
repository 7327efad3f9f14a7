/* libxeno: connection URIs.
 *   unix:///run/xeno/xend.sock      a local UNIX socket (absolute path)
 *   https://HOST:PORT               TCP with TLS; HOST may be [v6addr]
 *   tcp://HOST:PORT                 the same (xend --listen tcp://)
 *   http://HOST:PORT                plain TCP (refused unless insecure)
 * A token never goes in a URI: URIs end up in process lists, shell
 * histories and logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int bad(char *err, size_t errlen, const char *why, const char *text)
{
    snprintf(err, errlen, "invalid URI '%s': %s", text, why);
    return -1;
}

/* HOST:PORT[/] after the scheme. */
static int parse_hostport(const char *text, const char *p, struct xeno_uri *u, char *err,
                          size_t errlen)
{
    const char *hend, *portp;
    char *end;
    long port;

    if (*p == '[') {                         /* [v6]:port */
        hend = strchr(p, ']');
        if (!hend)
            return bad(err, errlen, "unterminated '['", text);
        if ((size_t)(hend - p - 1) >= sizeof(u->host) || hend == p + 1)
            return bad(err, errlen, "bad host", text);
        memcpy(u->host, p + 1, hend - p - 1);
        portp = hend + 1;
    } else {
        hend = strchr(p, ':');
        if (!hend)
            return bad(err, errlen, "missing :PORT", text);
        if ((size_t)(hend - p) >= sizeof(u->host) || hend == p)
            return bad(err, errlen, "bad host", text);
        memcpy(u->host, p, hend - p);
        portp = hend;
    }
    if (*portp != ':')
        return bad(err, errlen, "missing :PORT", text);
    portp++;
    port = strtol(portp, &end, 10);
    if (end == portp || port < 1 || port > 65535)
        return bad(err, errlen, "bad port", text);
    u->port = (int)port;
    if (*end == '/')
        end++;
    if (*end == '\0')
        return 0;
    if (strstr(end, "token="))
        return bad(err, errlen, "a token in the URI is refused (URIs show in process "
                   "lists and logs): set XENO_TOKEN or use a token file (xm --token-file)",
                   "...");
    return bad(err, errlen, "unexpected text after the port", text);
}

int xeno_uri_parse(const char *text, struct xeno_uri *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!text || !*text)
        return bad(err, errlen, "empty", "");
    if (strlen(text) > 1024)
        return bad(err, errlen, "too long", "...");

    if (strncmp(text, "unix://", 7) == 0) {
        const char *path = text + 7;
        u->transport = XENO_TRANSPORT_UNIX;
        if (path[0] != '/')
            return bad(err, errlen, "the socket path must be absolute (unix:///PATH)", text);
        if (strlen(path) >= sizeof(u->path))
            return bad(err, errlen, "socket path too long", text);
        strcpy(u->path, path);
        return 0;
    }
    u->transport = XENO_TRANSPORT_TCP;
    if (strncmp(text, "https://", 8) == 0) {
        u->tls = true;
        return parse_hostport(text, text + 8, u, err, errlen);
    }
    if (strncmp(text, "tcp://", 6) == 0) {
        u->tls = true;
        return parse_hostport(text, text + 6, u, err, errlen);
    }
    if (strncmp(text, "http://", 7) == 0)
        return parse_hostport(text, text + 7, u, err, errlen);
    return bad(err, errlen, "expected unix:///PATH or https://HOST:PORT", text);
}

int xeno_ro_socket_path(const char *path, char *out, size_t size)
{
    size_t n = strlen(path);

    if (n > 5 && !strcmp(path + n - 5, ".sock"))
        return snprintf(out, size, "%.*s-ro.sock", (int)(n - 5), path) < (int)size ? 0 : -1;
    return snprintf(out, size, "%s-ro", path) < (int)size ? 0 : -1;
}

void xeno_uri_hostport(const struct xeno_uri *u, char *out, size_t size)
{
    if (strchr(u->host, ':'))
        snprintf(out, size, "[%s]:%d", u->host, u->port);
    else
        snprintf(out, size, "%s:%d", u->host, u->port);
}
