/* libxeno: connection URIs.
 *   unix:///run/xeno/xend.sock      a local UNIX socket (absolute path)
 *   tcp://HOST:PORT[?token=TOKEN]   TCP; HOST may be [v6addr] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int bad(char *err, size_t errlen, const char *why, const char *text)
{
    snprintf(err, errlen, "invalid URI '%s': %s", text, why);
    return -1;
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
    if (strncmp(text, "tcp://", 6) == 0) {
        const char *p = text + 6, *hend, *portp;
        u->transport = XENO_TRANSPORT_TCP;
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
        char *end;
        long port = strtol(portp, &end, 10);
        if (end == portp || port < 1 || port > 65535)
            return bad(err, errlen, "bad port", text);
        u->port = (int)port;
        if (*end == '/')
            end++;
        if (*end == '\0')
            return 0;
        if (strncmp(end, "?token=", 7) != 0)
            return bad(err, errlen, "unexpected text after the port", text);
        const char *tok = end + 7;
        if (strlen(tok) >= sizeof(u->token) || !*tok)
            return bad(err, errlen, "bad token", text);
        for (const char *q = tok; *q; q++)
            if ((unsigned char)*q <= ' ' || *q == 0x7f)
                return bad(err, errlen, "bad token", text);
        strcpy(u->token, tok);
        return 0;
    }
    return bad(err, errlen, "expected unix:///PATH or tcp://HOST:PORT", text);
}
