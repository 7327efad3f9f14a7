/* Token files, bearer lookup and per-peer connection counts (auth.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

const char *auth_role_name(enum xend_role r)
{
    return r == XEND_ROLE_RO ? "read-only" : "full";
}

int auth_tokens_add(AuthTokens *t, enum xend_role role, const char *token,
                    char *err, size_t errlen)
{
    size_t len = strlen(token);
    AuthToken *nv;

    if (len < AUTH_TOKEN_MIN || len > AUTH_TOKEN_MAX) {
        snprintf(err, errlen, "a token must be %d to %d characters, not %zu",
                 AUTH_TOKEN_MIN, AUTH_TOKEN_MAX, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isgraph((unsigned char)token[i])) {
            snprintf(err, errlen, "a token may not hold blanks or control characters");
            return -1;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->v[i].token, token)) {
            snprintf(err, errlen, "the same token is given twice");
            return -1;
        }
    }
    nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
    if (!nv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->v = nv;
    memset(&nv[t->n], 0, sizeof(nv[t->n]));
    nv[t->n].role = role;
    memcpy(nv[t->n].token, token, len + 1);
    t->n++;
    return 0;
}

int auth_tokens_parse(AuthTokens *t, const char *file, const char *text, size_t len,
                      char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        char buf[512], role[16], tok[AUTH_TOKEN_MAX + 2], extra[2], msg[256];
        size_t n = (size_t)(le - p);
        int f;

        line++;
        if (n >= sizeof(buf)) {
            snprintf(err, errlen, "%s:%d: line too long", file, line);
            return -1;
        }
        memcpy(buf, p, n);
        buf[n] = '\0';
        p = nl ? nl + 1 : end;
        if (memchr(buf, '\0', n)) {
            snprintf(err, errlen, "%s:%d: NUL byte", file, line);
            return -1;
        }
        for (char *q = buf; *q; q++)
            if (*q == '#') {
                *q = '\0';
                break;
            }
        f = sscanf(buf, "%15s %129s %1s", role, tok, extra);
        if (f <= 0)
            continue;               /* blank or comment */
        if (f != 2) {
            snprintf(err, errlen, "%s:%d: expected 'full TOKEN' or 'ro TOKEN'", file, line);
            return -1;
        }
        enum xend_role r;
        if (!strcmp(role, "full")) {
            r = XEND_ROLE_FULL;
        } else if (!strcmp(role, "ro")) {
            r = XEND_ROLE_RO;
        } else {
            snprintf(err, errlen, "%s:%d: role '%s': expected full or ro", file, line, role);
            return -1;
        }
        if (auth_tokens_add(t, r, tok, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", file, line, msg);
            return -1;
        }
    }
    return 0;
}

void auth_tokens_free(AuthTokens *t)
{
    if (t->v)
        explicit_bzero(t->v, t->n * sizeof(*t->v));
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* Equal, in a time that depends only on the lengths. */
static bool same(const char *a, size_t al, const char *b, size_t bl)
{
    unsigned char diff = al != bl;

    for (size_t i = 0; i < al; i++)
        diff |= (unsigned char)(a[i] ^ (i < bl ? b[i] : 0));
    return !diff;
}

int auth_bearer_role(const AuthTokens *t, const char *h)
{
    int role = -1;
    size_t hl;

    if (!h || strncmp(h, "Bearer ", 7))
        return -1;
    h += 7;
    hl = strlen(h);
    for (size_t i = 0; i < t->n; i++)       /* no early exit */
        if (same(t->v[i].token, strlen(t->v[i].token), h, hl))
            role = (int)t->v[i].role;
    return role;
}

/* ---- per-peer counts ---- */

typedef struct Peer {
    struct Peer *next;
    char key[64];
    unsigned n;
} Peer;

struct PeerTable {
    pthread_mutex_t lock;
    Peer *head;
};

PeerTable *peer_table_new(void)
{
    PeerTable *p = calloc(1, sizeof(*p));

    if (p)
        pthread_mutex_init(&p->lock, NULL);
    return p;
}

void peer_table_free(PeerTable *p)
{
    if (!p)
        return;
    while (p->head) {
        Peer *e = p->head;
        p->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

unsigned peer_enter(PeerTable *p, const char *key)
{
    Peer *e;
    unsigned n;

    pthread_mutex_lock(&p->lock);
    for (e = p->head; e && strcmp(e->key, key); e = e->next)
        ;
    if (!e && (e = calloc(1, sizeof(*e)))) {
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->next = p->head;
        p->head = e;
    }
    n = e ? ++e->n : 1;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void peer_leave(PeerTable *p, const char *key)
{
    Peer **pp, *e;

    pthread_mutex_lock(&p->lock);
    for (pp = &p->head; (e = *pp) && strcmp(e->key, key); pp = &e->next)
        ;
    if (e && --e->n == 0) {
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&p->lock);
}

