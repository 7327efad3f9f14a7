/* The relocation protocol's messages (docs/protocols.md §4), kept apart
 * from the sockets so that the parsers can be unit tested and fuzzed.
 *
 *   server → client  "XENORELOC 1 psk\n" (or x509, none), in clear;
 *                    "XENORELOC 1 refused: REASON\n" and close
 *   then, inside TLS (unless none):
 *   client → server  one JSON line: the request
 *   server → client  one JSON line: {"ok": true} or {"ok": false, "error": "..."}
 *   then the state stream, both ways, as the VMMs speak it. */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xend.h"

const char *reloc_tls_name(enum reloc_tls t)
{
    switch (t) {
    case RELOC_TLS_PSK: return "psk";
    case RELOC_TLS_X509: return "x509";
    case RELOC_TLS_NONE: return "none";
    }
    return "?";
}

/* ---- the greeting ---- */

int reloc_banner(char *buf, size_t size, enum reloc_tls tls, const char *refusal)
{
    int n;

    if (refusal) {
        char clean[256];
        size_t i = 0;
        for (; refusal[i] && i + 1 < sizeof(clean); i++)
            clean[i] = (unsigned char)refusal[i] < 0x20 ? ' ' : refusal[i];
        clean[i] = '\0';
        n = snprintf(buf, size, "%s %d refused: %s\n", RELOC_MAGIC, RELOC_VERSION, clean);
    } else {
        n = snprintf(buf, size, "%s %d %s\n", RELOC_MAGIC, RELOC_VERSION, reloc_tls_name(tls));
    }
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int reloc_banner_parse(const char *line, enum reloc_tls *tls, char *why, size_t whylen)
{
    char prefix[32];
    const char *rest;

    if (whylen)
        why[0] = '\0';
    snprintf(prefix, sizeof(prefix), "%s %d ", RELOC_MAGIC, RELOC_VERSION);
    if (strncmp(line, prefix, strlen(prefix))) {
        int v;
        if (sscanf(line, RELOC_MAGIC " %d ", &v) == 1)
            snprintf(why, whylen, "it speaks relocation protocol version %d, this host %d "
                     "(update Xeno on both)", v, RELOC_VERSION);
        return -1;
    }
    rest = line + strlen(prefix);
    if (!strncmp(rest, "refused: ", 9)) {
        size_t i = 0;
        rest += 9;
        for (; rest[i] && rest[i] != '\n' && i + 1 < whylen; i++)
            why[i] = (unsigned char)rest[i] < 0x20 ? ' ' : rest[i];
        if (whylen)
            why[i] = '\0';
        return 1;
    }
    if (!strcmp(rest, "psk"))
        *tls = RELOC_TLS_PSK;
    else if (!strcmp(rest, "x509"))
        *tls = RELOC_TLS_X509;
    else if (!strcmp(rest, "none"))
        *tls = RELOC_TLS_NONE;
    else
        return -1;
    return 0;
}

/* ---- the request ---- */

static char *dump_line(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    char *line;

    json_decref(j);
    if (!text)
        return NULL;
    line = malloc(strlen(text) + 2);
    if (line)
        sprintf(line, "%s\n", text);
    free(text);
    return line;
}

char *reloc_request_encode(const RelocRequest *r)
{
    return dump_line(json_pack("{s:s,s:i,s:s,s:s,s:s,s:b,s:b,s:b,s:b}",
                               "xeno-relocation", "migrate", "version", RELOC_VERSION,
                               "name", r->name, "uuid", r->uuid, "config", r->config,
                               "live", r->live, "paused", r->paused,
                               "managed", r->managed, "autostart", r->autostart));
}

static bool uuid_ok(const char *u)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (strlen(u) != 36)
        return false;
    for (int i = 0; i < 36; i++)
        if (shape[i] == '-' ? u[i] != '-' : !isxdigit((unsigned char)u[i]))
            return false;
    return true;
}

static bool name_ok(const char *n)
{
    if (!*n || strlen(n) >= 64)
        return false;
    for (; *n; n++)
        if ((unsigned char)*n < 0x20 || *n == '/' || *n == 0x7f)
            return false;
    return true;
}

int reloc_request_parse(const char *line, size_t len, RelocRequest *r, char *err, size_t errlen)
{
    static const char *const known[] = { "xeno-relocation", "version", "name", "uuid", "config",
                                         "live", "paused", "managed", "autostart" };
    json_error_t jerr;
    json_t *j, *v;
    const char *key, *op, *name, *uuid, *config;
    json_int_t version;
    int live = 0, paused = 0, managed = 0, autostart = 0;

    memset(r, 0, sizeof(*r));
    if (len > RELOC_MAX_REQUEST) {
        snprintf(err, errlen, "request larger than %u bytes", RELOC_MAX_REQUEST);
        return -1;
    }
    j = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "malformed request");
        return -1;
    }
    json_object_foreach(j, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= !strcmp(key, known[i]);
        if (!ok) {
            char k[65];
            size_t i = 0;
            for (; key[i] && i < sizeof(k) - 1; i++)
                k[i] = (unsigned char)key[i] < 0x20 || key[i] == 0x7f ? '?' : key[i];
            k[i] = '\0';
            snprintf(err, errlen, "unknown request field '%s'", k);
            goto fail;
        }
    }
    if (json_unpack_ex(j, &jerr, 0, "{s:s,s:I,s:s,s:s,s:s,s?b,s?b,s?b,s?b}",
                       "xeno-relocation", &op, "version", &version, "name", &name,
                       "uuid", &uuid, "config", &config, "live", &live, "paused", &paused,
                       "managed", &managed, "autostart", &autostart) < 0) {
        snprintf(err, errlen, "malformed request: %s", jerr.text);
        goto fail;
    }
    if (strcmp(op, "migrate")) {
        snprintf(err, errlen, "unknown operation (not 'migrate')");
        goto fail;
    }
    if (version != RELOC_VERSION) {
        snprintf(err, errlen, "relocation protocol version %lld is not %d",
                 (long long)version, RELOC_VERSION);
        goto fail;
    }
    if (!name_ok(name)) {
        snprintf(err, errlen, "bad domain name");
        goto fail;
    }
    if (!uuid_ok(uuid)) {
        snprintf(err, errlen, "bad domain uuid");
        goto fail;
    }
    v = json_object_get(j, "config");
    if (json_string_length(v) > XEND_MAX_CONFIG || strlen(config) != json_string_length(v)) {
        snprintf(err, errlen, "bad domain configuration (too large or with a NUL byte)");
        goto fail;
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
    for (char *p = r->uuid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->config = strdup(config);
    if (!r->config) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    r->live = live;
    r->paused = paused;
    r->managed = managed;
    r->autostart = autostart;
    json_decref(j);
    return 0;
fail:
    json_decref(j);
    return -1;
}

void reloc_request_free(RelocRequest *r)
{
    free(r->config);
    r->config = NULL;
}

char *reloc_answer_encode(const char *error, const char *stream_key)
{
    if (!error && stream_key)
        return dump_line(json_pack("{s:b,s:s}", "ok", 1, "stream_key", stream_key));
    if (!error)
        return dump_line(json_pack("{s:b}", "ok", 1));
    return dump_line(json_pack("{s:b,s:s}", "ok", 0, "error", error));
}

static bool key_ok(const char *k)
{
    if (strlen(k) != RELOC_STREAM_KEY_HEX)
        return false;
    for (; *k; k++)
        if (!isxdigit((unsigned char)*k))
            return false;
    return true;
}

int reloc_answer_parse(const char *line, size_t len, char *stream_key, char *error, size_t errlen)
{
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *ok = json_object_get(j, "ok"), *k = json_object_get(j, "stream_key");
    const char *e = json_string_value(json_object_get(j, "error"));
    int r;

    stream_key[0] = '\0';
    if (!json_is_boolean(ok) || (k && (!json_is_string(k) || !key_ok(json_string_value(k))))) {
        snprintf(error, errlen, "the destination sent a malformed answer");
        r = -1;
    } else if (json_is_true(ok)) {
        if (k)
            snprintf(stream_key, RELOC_STREAM_KEY_HEX + 1, "%s", json_string_value(k));
        r = 0;
    } else {
        size_t i = 0;
        e = e ? e : "refused";
        for (; e[i] && i + 1 < errlen; i++)
            error[i] = (unsigned char)e[i] < 0x20 ? ' ' : e[i];
        if (errlen)
            error[i] = '\0';
        r = 1;
    }
    json_decref(j);
    return r;
}

/* ---- hosts-allow ---- */

struct RelocAllow {
    size_t n;
    regex_t re[RELOC_MAX_ALLOW];
};

/* Patterns name hosts; refuse what makes a regex compiler blow up (a
 * quantifier on a quantifier, large counts): NULL, or why. */
static const char *pattern_refused(const char *p)
{
    bool after_quant = false, escaped = false;
    int bracket = 0;

    for (; *p; p++) {
        char c = *p;

        if (escaped) {
            escaped = false;
            after_quant = false;
            continue;
        }
        if (c == '\\') {
            escaped = true;
            continue;
        }
        if (bracket) {
            if (c == ']' && bracket > 1)
                bracket = 0;
            else
                bracket++;
            continue;
        }
        if (c == '[') {
            bracket = 1;
            after_quant = false;
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (after_quant)
                return "a repeated quantifier";
            if (c == '{') {
                char *end;
                long a = strtol(p + 1, &end, 10), b = a;
                if (*end == ',')
                    b = isdigit((unsigned char)end[1]) ? strtol(end + 1, &end, 10) : a;
                if (a > 64 || b > 64)
                    return "a count over 64";
                p = strchr(p, '}') ? strchr(p, '}') : p;
            }
            after_quant = true;
            continue;
        }
        after_quant = false;
    }
    return NULL;
}

RelocAllow *reloc_allow_compile(const char *spec, char *err, size_t errlen)
{
    RelocAllow *a = calloc(1, sizeof(*a));
    const char *p = spec;

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while (*p) {
        char pat[1024];
        size_t len;
        int rc;

        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        len = 0;
        while (p[len] && !isspace((unsigned char)p[len]))
            len++;
        if (len >= 256) {
            snprintf(err, errlen, "a pattern is longer than 255 bytes");
            goto fail;
        }
        if (a->n == RELOC_MAX_ALLOW) {
            snprintf(err, errlen, "more than %d patterns", RELOC_MAX_ALLOW);
            goto fail;
        }
        memcpy(pat, p, len);
        pat[len] = '\0';
        {
            const char *why = pattern_refused(pat);
            if (why) {
                snprintf(err, errlen, "bad pattern '%.100s': %s", pat, why);
                goto fail;
            }
        }
        rc = regcomp(&a->re[a->n], pat, REG_EXTENDED | REG_ICASE);
        if (rc) {
            char m[128];
            regerror(rc, &a->re[a->n], m, sizeof(m));
            snprintf(err, errlen, "bad pattern '%.100s': %s", pat, m);
            goto fail;
        }
        a->n++;
        p += len;
    }
    return a;
fail:
    reloc_allow_free(a);
    return NULL;
}

static bool match_start(const regex_t *re, const char *s)
{
    regmatch_t m;

    return s && *s && regexec(re, s, 1, &m, 0) == 0 && m.rm_so == 0;
}

bool reloc_allow_match(const RelocAllow *a, const char *addr, const char *name)
{
    if (!a || !a->n)
        return true;           /* no list: everyone (as Xen) */
    for (size_t i = 0; i < a->n; i++)
        if (match_start(&a->re[i], addr) || match_start(&a->re[i], name))
            return true;
    return false;
}

void reloc_allow_free(RelocAllow *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        regfree(&a->re[i]);
    free(a);
}
