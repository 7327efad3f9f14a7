/* xend's config file, in the syntax of Xen's /etc/xen/xend-config.sxp:
 * one (KEY VALUE) form per setting, '#' comments, VALUE a bare word or a
 * quoted string ('...' or "...", with backslash escapes). Keys xend does
 * not know (a Xen file has many) are warned about and ignored.
 *
 *   (xend-relocation-server yes)
 *   (xend-relocation-port 8002)
 *   (xend-relocation-address '')
 *   (xend-relocation-hosts-allow '^localhost$ ^10\\.0\\.0\\.[0-9]+$')
 *   (xend-relocation-tls psk)                 # psk | x509 | none
 *   (xend-relocation-psk-file /etc/xeno/xend-relocation.psk)
 *   (xend-relocation-cert /etc/xeno/reloc-cert.pem)
 *   (xend-relocation-key /etc/xeno/reloc-key.pem)
 *   (xend-relocation-ca /etc/xeno/reloc-ca.pem)
 *   (xend-relocation-timeout 30)
 *   (xend-image-dirs '/var/lib/xeno/images:/var/lib/xeno/boot')
 *   (xend-vmm-log-max-size 1048576)           # bytes; 0 = no limit
 *   (xend-vmm-log-rotate 1)                   # old logs kept: NAME.log.1 ...
 *   (xend-unix-group xeno)                    # the full-access socket's group
 *   (xend-max-connections-per-peer 16)        # per uid (UNIX) or IP (TCP)
 *   (xend-tls-cert /etc/xeno/xend-cert.pem)   # TCP's certificate and key
 *   (xend-tls-key /etc/xeno/xend-key.pem)     # (default: made in the state dir)
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "xend.h"

#define MAX_VALUE 4096

void conf_defaults(XendConf *c)
{
    RelocConf *r = &c->reloc;

    memset(r, 0, sizeof(*r));
    r->server = false;
    r->port = RELOC_DEFAULT_PORT;
    r->tls = RELOC_TLS_PSK;
    snprintf(r->psk_file, sizeof(r->psk_file), "/etc/xeno/xend-relocation.psk");
    r->timeout_s = RELOC_DEFAULT_TIMEOUT;
    c->image_dirs[0] = '\0';
    c->save_dirs[0] = '\0';
    c->vmm_log_max = XEND_VMM_LOG_MAX_DEFAULT;
    c->vmm_log_keep = XEND_VMM_LOG_KEEP_DEFAULT;
    memset(&c->access, 0, sizeof(c->access));
    c->access.max_conns_per_peer = 16;
}

/* A cursor over the text, counting lines for messages. */
typedef struct Lex {
    const char *p, *end, *file;
    int line;
    char *err;
    size_t errlen;
} Lex;

static int lex_error(Lex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lex_error(Lex *x, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "%s:%d: %s", x->file, x->line, msg);
    return -1;
}

/* Skip blanks, newlines and comments. */
static void skip(Lex *x)
{
    while (x->p < x->end) {
        if (*x->p == '\n') {
            x->line++;
            x->p++;
        } else if (isspace((unsigned char)*x->p)) {
            x->p++;
        } else if (*x->p == '#') {
            while (x->p < x->end && *x->p != '\n')
                x->p++;
        } else {
            break;
        }
    }
}

/* A bare word or a quoted string into out. */
static int token(Lex *x, char *out, size_t size, const char *what)
{
    size_t n = 0;

    skip(x);
    if (x->p >= x->end)
        return lex_error(x, "unexpected end of file: expected %s", what);
    if (*x->p == '\'' || *x->p == '"') {
        char q = *x->p++;
        for (;;) {
            char c;
            if (x->p >= x->end)
                return lex_error(x, "unterminated string");
            c = *x->p++;
            if (c == q)
                break;
            if (c == '\n')
                x->line++;
            if (c == '\\' && x->p < x->end)
                c = *x->p++;
            if (c == '\0')
                return lex_error(x, "NUL byte in a string");
            if (n + 1 >= size)
                return lex_error(x, "%s too long", what);
            out[n++] = c;
        }
    } else {
        while (x->p < x->end && !isspace((unsigned char)*x->p) && *x->p != '(' &&
               *x->p != ')' && *x->p != '#') {
            if (*x->p == '\0')
                return lex_error(x, "NUL byte");
            if (n + 1 >= size)
                return lex_error(x, "%s too long", what);
            out[n++] = *x->p++;
        }
        if (!n)
            return lex_error(x, "expected %s, found '%c'", what, *x->p);
    }
    out[n] = '\0';
    return 0;
}

static int expect(Lex *x, char c)
{
    skip(x);
    if (x->p >= x->end)
        return lex_error(x, "unexpected end of file: expected '%c'", c);
    if (*x->p != c)
        return lex_error(x, "expected '%c', found '%c'", c, *x->p);
    x->p++;
    return 0;
}

/* Skip the rest of a form whose value we ignore (nested forms too). */
static int skip_form(Lex *x)
{
    int depth = 1;

    while (depth > 0) {
        skip(x);
        if (x->p >= x->end)
            return lex_error(x, "unexpected end of file: expected ')'");
        if (*x->p == '(') {
            depth++;
            x->p++;
        } else if (*x->p == ')') {
            depth--;
            x->p++;
        } else {
            char tmp[MAX_VALUE];
            if (token(x, tmp, sizeof(tmp), "a value") < 0)
                return -1;
        }
    }
    return 0;
}

static int parse_bool(Lex *x, const char *key, const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
        !strcasecmp(v, "on")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
        !strcasecmp(v, "off")) {
        *out = false;
        return 0;
    }
    return lex_error(x, "%s: expected yes or no, not '%.64s'", key, v);
}

static int parse_int(Lex *x, const char *key, const char *v, long lo, long hi, int *out)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi)
        return lex_error(x, "%s: expected a number from %ld to %ld, not '%.64s'", key, lo, hi, v);
    *out = (int)n;
    return 0;
}

static int set_str(Lex *x, const char *key, const char *v, char *dst, size_t size)
{
    if (strlen(v) >= size)
        return lex_error(x, "%s: value too long", key);
    strcpy(dst, v);
    return 0;
}

static int set_path(Lex *x, const char *key, const char *v, char *dst, size_t size)
{
    if (*v && *v != '/')
        return lex_error(x, "%s: '%.200s' is not an absolute path", key, v);
    return set_str(x, key, v, dst, size);
}

/* One (KEY VALUE) into c. Returns 1 if the key is unknown. */
static int apply(Lex *x, XendConf *c, const char *key, const char *v)
{
    RelocConf *r = &c->reloc;

    if (!strcmp(key, "xend-relocation-server"))
        return parse_bool(x, key, v, &r->server);
    if (!strcmp(key, "xend-relocation-port"))
        return parse_int(x, key, v, 1, 65535, &r->port);
    if (!strcmp(key, "xend-relocation-address"))
        return set_str(x, key, v, r->address, sizeof(r->address));
    if (!strcmp(key, "xend-relocation-hosts-allow")) {
        char err[256];
        RelocAllow *a = reloc_allow_compile(v, err, sizeof(err));
        if (!a)
            return lex_error(x, "%s: %s", key, err);
        reloc_allow_free(a);
        return set_str(x, key, v, r->hosts_allow, sizeof(r->hosts_allow));
    }
    if (!strcmp(key, "xend-relocation-tls")) {
        if (!strcmp(v, "psk"))
            r->tls = RELOC_TLS_PSK;
        else if (!strcmp(v, "x509"))
            r->tls = RELOC_TLS_X509;
        else if (!strcmp(v, "none"))
            r->tls = RELOC_TLS_NONE;
        else
            return lex_error(x, "%s: expected psk, x509 or none, not '%.64s'", key, v);
        return 0;
    }
    if (!strcmp(key, "xend-relocation-psk-file"))
        return set_path(x, key, v, r->psk_file, sizeof(r->psk_file));
    if (!strcmp(key, "xend-relocation-cert"))
        return set_path(x, key, v, r->cert_file, sizeof(r->cert_file));
    if (!strcmp(key, "xend-relocation-key"))
        return set_path(x, key, v, r->key_file, sizeof(r->key_file));
    if (!strcmp(key, "xend-relocation-ca"))
        return set_path(x, key, v, r->ca_file, sizeof(r->ca_file));
    if (!strcmp(key, "xend-relocation-timeout"))
        return parse_int(x, key, v, 1, 3600, &r->timeout_s);
    if (!strcmp(key, "xend-image-dirs")) {
        for (const char *s = v; *s; s = strchr(s, ':') ? strchr(s, ':') + 1 : s + strlen(s))
            if (*s != '/' && *s != ':')
                return lex_error(x, "%s: '%.200s' is not a list of absolute paths "
                                 "separated by ':'", key, v);
        return set_str(x, key, v, c->image_dirs, sizeof(c->image_dirs));
    }
    if (!strcmp(key, "xend-save-dirs")) {
        for (const char *s = v; *s; s = strchr(s, ':') ? strchr(s, ':') + 1 : s + strlen(s))
            if (*s != '/' && *s != ':')
                return lex_error(x, "%s: '%.200s' is not a list of absolute paths "
                                 "separated by ':'", key, v);
        return set_str(x, key, v, c->save_dirs, sizeof(c->save_dirs));
    }
    if (!strcmp(key, "xend-vmm-log-max-size")) {
        int n;
        if (parse_int(x, key, v, 0, 1 << 30, &n) < 0)
            return -1;
        c->vmm_log_max = n;
        return 0;
    }
    if (!strcmp(key, "xend-vmm-log-rotate"))
        return parse_int(x, key, v, 0, 9, &c->vmm_log_keep);
    if (!strcmp(key, "xend-unix-group"))
        return set_str(x, key, v, c->access.unix_group, sizeof(c->access.unix_group));
    if (!strcmp(key, "xend-max-connections-per-peer"))
        return parse_int(x, key, v, 1, 1024, &c->access.max_conns_per_peer);
    if (!strcmp(key, "xend-tls-cert"))
        return set_path(x, key, v, c->access.tls_cert, sizeof(c->access.tls_cert));
    if (!strcmp(key, "xend-tls-key"))
        return set_path(x, key, v, c->access.tls_key, sizeof(c->access.tls_key));
    return 1;
}

int conf_parse(XendConf *c, const char *file, const char *text, size_t len,
               void (*warn)(const char *msg), char *err, size_t errlen)
{
    Lex x = { .p = text, .end = text + len, .file = file, .line = 1, .err = err,
              .errlen = errlen };
    char key[128], *val = malloc(MAX_VALUE);

    if (!val) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        int line, r;

        skip(&x);
        if (x.p >= x.end)
            break;
        line = x.line;
        if (expect(&x, '(') < 0 || token(&x, key, sizeof(key), "a setting name") < 0)
            goto fail;
        skip(&x);
        if (x.p < x.end && *x.p == '(') {
            /* A structured Xen setting: not one of ours. */
            if (warn) {
                char m[300];
                snprintf(m, sizeof(m), "%s:%d: unknown setting '%s' ignored", file, line, key);
                warn(m);
            }
            if (skip_form(&x) < 0)
                goto fail;
            continue;
        }
        if (x.p < x.end && *x.p == ')') {
            lex_error(&x, "%s: no value", key);
            goto fail;
        }
        if (token(&x, val, MAX_VALUE, "a value") < 0 || expect(&x, ')') < 0)
            goto fail;
        {
            int here = x.line;
            x.line = line;      /* messages name the setting's first line */
            r = apply(&x, c, key, val);
            x.line = here;
        }
        if (r < 0)
            goto fail;
        if (r > 0 && warn) {
            char m[300];
            snprintf(m, sizeof(m), "%s:%d: unknown setting '%s' ignored", file, line, key);
            warn(m);
        }
    }
    if (c->reloc.tls == RELOC_TLS_X509 && (!c->reloc.cert_file[0] || !c->reloc.key_file[0])) {
        snprintf(err, errlen, "%s: xend-relocation-tls x509 needs xend-relocation-cert and "
                 "xend-relocation-key", file);
        goto fail;
    }
    free(val);
    return 0;
fail:
    free(val);
    return -1;
}

static void warn_log(const char *msg)
{
    log_warn("%s", msg);
}

int conf_load(XendConf *c, const char *file, bool optional, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(file, &len);
    int r;

    if (!text) {
        if (optional && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", file, strerror(errno));
        return -1;
    }
    if (memchr(text, '\0', len)) {
        free(text);
        snprintf(err, errlen, "%s: not a text file", file);
        return -1;
    }
    r = conf_parse(c, file, text, len, warn_log, err, errlen);
    free(text);
    return r;
}
