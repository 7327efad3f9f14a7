/* XDR (RFC 4506) as libvirt's RPC uses it, the message header, and
 * libvirt's error codes with their messages.
 *
 * The decoder is the first thing a client's bytes meet: every length and
 * count is checked against its protocol limit and against the bytes left
 * in the message before anything is allocated or copied. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "libvirt.h"

/* ---- errors ---- */

/* libvirt's message prefix for each code it has (virerror.c). */
static const char *err_prefix(int code)
{
    switch (code) {
    case LV_ERR_INTERNAL_ERROR:      return "internal error";
    case LV_ERR_NO_MEMORY:           return "out of memory";
    case LV_ERR_NO_SUPPORT:          return "this function is not supported by the connection driver";
    case LV_ERR_NO_CONNECT:          return "no connection driver available for";
    case LV_ERR_INVALID_ARG:         return "invalid argument";
    case LV_ERR_OPERATION_FAILED:    return "operation failed";
    case LV_ERR_XML_ERROR:           return "XML error";
    case LV_ERR_DOM_EXIST:           return "operation failed";
    case LV_ERR_OPERATION_DENIED:    return "operation forbidden";
    case LV_ERR_NO_DOMAIN:           return "Domain not found";
    case LV_ERR_NO_STORAGE_POOL:     return "Storage pool not found";
    case LV_ERR_NO_STORAGE_VOL:      return "Storage volume not found";
    case LV_ERR_OPERATION_INVALID:   return "Requested operation is not valid";
    case LV_ERR_CONFIG_UNSUPPORTED:  return "unsupported configuration";
    case LV_ERR_OPERATION_TIMEOUT:   return "Timed out during operation";
    case LV_ERR_ARGUMENT_UNSUPPORTED: return "argument unsupported";
    case LV_ERR_AGENT_UNRESPONSIVE:  return "Guest agent is not responding";
    case LV_ERR_STORAGE_VOL_EXIST:   return "storage volume exists already";
    default:                         return NULL;    /* RPC: the detail alone */
    }
}

static int err_domain(int code)
{
    switch (code) {
    case LV_ERR_RPC:
        return LV_FROM_RPC;
    case LV_ERR_NO_STORAGE_POOL: case LV_ERR_NO_STORAGE_VOL: case LV_ERR_STORAGE_VOL_EXIST:
        return LV_FROM_STORAGE;
    case LV_ERR_XML_ERROR: case LV_ERR_CONFIG_UNSUPPORTED:
        return LV_FROM_DOMAIN;
    default:
        return LV_FROM_XEN;
    }
}

int lv_error(LvError *e, int code, const char *fmt, ...)
{
    const char *prefix = err_prefix(code);
    char detail[sizeof(e->msg) - 64];   /* room for the longest prefix */
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    e->code = code;
    e->domain = err_domain(code);
    if (!prefix)
        snprintf(e->msg, sizeof(e->msg), "%s", detail);
    else if (code == LV_ERR_NO_CONNECT)
        snprintf(e->msg, sizeof(e->msg), "%s %s", prefix, detail);
    else
        snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, detail);
    return -1;
}

/* ---- encoder ---- */

void xdr_buf_init(XdrBuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void xdr_buf_free(XdrBuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes; false (err set) past max or out of memory. */
static bool reserve(XdrBuf *b, size_t n)
{
    size_t cap;
    uint8_t *np;

    if (b->err)
        return false;
    if (n > b->max || b->len > b->max - n) {
        b->err = true;
        return false;
    }
    if (b->len + n <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    np = realloc(b->p, cap);
    if (!np) {
        b->err = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

void xdr_put_u32(XdrBuf *b, uint32_t v)
{
    if (!reserve(b, 4))
        return;
    b->p[b->len++] = (uint8_t)(v >> 24);
    b->p[b->len++] = (uint8_t)(v >> 16);
    b->p[b->len++] = (uint8_t)(v >> 8);
    b->p[b->len++] = (uint8_t)v;
}

void xdr_put_i32(XdrBuf *b, int32_t v) { xdr_put_u32(b, (uint32_t)v); }

void xdr_put_u64(XdrBuf *b, uint64_t v)
{
    xdr_put_u32(b, (uint32_t)(v >> 32));
    xdr_put_u32(b, (uint32_t)v);
}

void xdr_put_i64(XdrBuf *b, int64_t v) { xdr_put_u64(b, (uint64_t)v); }

void xdr_put_double(XdrBuf *b, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    xdr_put_u64(b, u);
}

void xdr_put_fixed(XdrBuf *b, const void *data, size_t n)
{
    size_t pad = (4 - (n & 3)) & 3;

    if (!reserve(b, n + pad))
        return;
    if (n)
        memcpy(b->p + b->len, data, n);
    memset(b->p + b->len + n, 0, pad);
    b->len += n + pad;
}

void xdr_put_opaque(XdrBuf *b, const void *data, size_t n)
{
    if (n > UINT32_MAX) {
        b->err = true;
        return;
    }
    xdr_put_u32(b, (uint32_t)n);
    xdr_put_fixed(b, data, n);
}

void xdr_put_string(XdrBuf *b, const char *s)
{
    xdr_put_opaque(b, s, strlen(s));
}

void xdr_put_opt_string(XdrBuf *b, const char *s)
{
    xdr_put_u32(b, s != NULL);
    if (s)
        xdr_put_string(b, s);
}

void xdr_put_char_array(XdrBuf *b, const char *s, size_t n)
{
    size_t len = strnlen(s, n);

    for (size_t i = 0; i < n; i++)
        xdr_put_i32(b, i < len ? (int8_t)s[i] : 0);
}

/* ---- decoder ---- */

void xdr_dec_init(XdrDec *d, const void *p, size_t len)
{
    memset(d, 0, sizeof(*d));
    d->p = p;
    d->len = len;
}

void xdr_dec_free(XdrDec *d)
{
    for (size_t i = 0; i < d->nallocs; i++)
        free(d->allocs[i]);
    free(d->allocs);
    d->allocs = NULL;
    d->nallocs = d->capallocs = 0;
}

static void dec_fail(XdrDec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dec_fail(XdrDec *d, const char *fmt, ...)
{
    va_list ap;

    if (d->err)
        return;
    d->err = true;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
}

/* Take n bytes (padded to 4); NULL after a failure. */
static const uint8_t *take(XdrDec *d, size_t n, const char *what)
{
    size_t padded = n + ((4 - (n & 3)) & 3);
    const uint8_t *p;

    if (d->err)
        return NULL;
    if (padded < n || padded > d->len - d->off) {
        dec_fail(d, "%s: %zu bytes wanted, %zu left", what, padded, d->len - d->off);
        return NULL;
    }
    p = d->p + d->off;
    d->off += padded;
    return p;
}

uint32_t xdr_get_u32(XdrDec *d)
{
    const uint8_t *p = take(d, 4, "integer");

    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

int32_t xdr_get_i32(XdrDec *d) { return (int32_t)xdr_get_u32(d); }

uint64_t xdr_get_u64(XdrDec *d)
{
    uint64_t hi = xdr_get_u32(d);

    return hi << 32 | xdr_get_u32(d);
}

int64_t xdr_get_i64(XdrDec *d) { return (int64_t)xdr_get_u64(d); }

bool xdr_get_bool(XdrDec *d)
{
    uint32_t v = xdr_get_u32(d);

    if (v > 1)
        dec_fail(d, "boolean %u is neither 0 nor 1", v);
    return v == 1;
}

void xdr_get_fixed(XdrDec *d, void *out, size_t n)
{
    const uint8_t *p = take(d, n, "fixed opaque");

    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

/* Keep a decoded allocation until xdr_dec_free. */
static bool track(XdrDec *d, void *p)
{
    if (d->nallocs == d->capallocs) {
        size_t cap = d->capallocs ? 2 * d->capallocs : 8;
        void **na = realloc(d->allocs, cap * sizeof(*na));

        if (!na)
            return false;
        d->allocs = na;
        d->capallocs = cap;
    }
    d->allocs[d->nallocs++] = p;
    return true;
}

const char *xdr_get_string(XdrDec *d, size_t max)
{
    uint32_t n = xdr_get_u32(d);
    const uint8_t *p;
    char *s;

    if (d->err)
        return "";
    if (n > max) {
        dec_fail(d, "string of %u bytes (limit %zu)", n, max);
        return "";
    }
    if (!(p = take(d, n, "string")))
        return "";
    if (memchr(p, '\0', n)) {
        dec_fail(d, "string with a NUL byte");
        return "";
    }
    s = malloc((size_t)n + 1);
    if (!s || !track(d, s)) {
        free(s);
        dec_fail(d, "out of memory");
        return "";
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

const char *xdr_get_opt_string(XdrDec *d, size_t max)
{
    const char *s;

    if (!xdr_get_bool(d))
        return NULL;
    s = xdr_get_string(d, max);
    return d->err ? NULL : s;
}

uint32_t xdr_get_count(XdrDec *d, uint32_t max, size_t min_elem_bytes)
{
    uint32_t n = xdr_get_u32(d);

    if (d->err)
        return 0;
    if (n > max) {
        dec_fail(d, "array of %u elements (limit %u)", n, max);
        return 0;
    }
    if (min_elem_bytes && (uint64_t)n * min_elem_bytes > d->len - d->off) {
        dec_fail(d, "array of %u elements in %zu bytes", n, d->len - d->off);
        return 0;
    }
    return n;
}

int xdr_dec_finish(XdrDec *d, LvError *e)
{
    if (!d->err && d->off != d->len)
        dec_fail(d, "%zu bytes left over", d->len - d->off);
    if (d->err)
        return lv_error(e, LV_ERR_RPC, "malformed arguments: %s", d->why);
    return 0;
}

/* ---- header, references, errors, typed parameters ---- */

void lv_header_put(XdrBuf *b, const LvHeader *h)
{
    xdr_put_u32(b, h->prog);
    xdr_put_u32(b, h->vers);
    xdr_put_i32(b, h->proc);
    xdr_put_u32(b, h->type);
    xdr_put_u32(b, h->serial);
    xdr_put_u32(b, h->status);
}

int lv_header_get(XdrDec *d, LvHeader *h)
{
    h->prog = xdr_get_u32(d);
    h->vers = xdr_get_u32(d);
    h->proc = xdr_get_i32(d);
    h->type = xdr_get_u32(d);
    h->serial = xdr_get_u32(d);
    h->status = xdr_get_u32(d);
    return d->err ? -1 : 0;
}

int lv_frame_length(const uint8_t w[4], uint32_t *len, LvError *e)
{
    uint32_t n = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];

    *len = n;
    if (n < LV_MESSAGE_MIN)
        return lv_error(e, LV_ERR_RPC, "packet %u bytes received from client too small", n);
    if (n > LV_MESSAGE_MAX)
        return lv_error(e, LV_ERR_RPC, "packet %u bytes received from client too large", n);
    return 0;
}

int lv_uuid_parse(const char *s, uint8_t out[LV_UUID_LEN])
{
    uint8_t u[LV_UUID_LEN];
    size_t n = 0;

    while (*s == ' ')
        s++;
    for (; *s && n < 2 * LV_UUID_LEN; s++) {
        int v;

        if (*s == '-')
            continue;
        if ((v = hex_digit(*s)) < 0)
            return -1;
        if (n % 2 == 0)
            u[n / 2] = (uint8_t)(v << 4);
        else
            u[n / 2] |= (uint8_t)v;
        n++;
    }
    while (*s == ' ')
        s++;
    if (n != 2 * LV_UUID_LEN || *s)
        return -1;
    memcpy(out, u, LV_UUID_LEN);
    return 0;
}

void lv_uuid_format(const uint8_t u[LV_UUID_LEN], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void lv_put_domain(XdrBuf *b, const char *name, const char *uuid_str, int id)
{
    uint8_t u[LV_UUID_LEN] = { 0 };

    if (uuid_str && lv_uuid_parse(uuid_str, u) < 0)
        memset(u, 0, sizeof(u));
    xdr_put_string(b, name);
    xdr_put_fixed(b, u, sizeof(u));
    xdr_put_i32(b, id);
}

void lv_get_domain(XdrDec *d, LvDomRef *r)
{
    r->name = xdr_get_string(d, LV_STRING_MAX);
    xdr_get_fixed(d, r->uuid, sizeof(r->uuid));
    r->id = xdr_get_i32(d);
}

void lv_put_error(XdrBuf *b, const LvError *e)
{
    xdr_put_i32(b, e->code ? e->code : LV_ERR_INTERNAL_ERROR);
    xdr_put_i32(b, e->domain);
    xdr_put_opt_string(b, e->msg[0] ? e->msg : "unknown error");
    xdr_put_i32(b, 2);         /* VIR_ERR_ERROR */
    xdr_put_u32(b, 0);         /* dom */
    xdr_put_u32(b, 0);         /* str1 */
    xdr_put_u32(b, 0);         /* str2 */
    xdr_put_u32(b, 0);         /* str3 */
    xdr_put_i32(b, 0);         /* int1 */
    xdr_put_i32(b, 0);         /* int2 */
    xdr_put_u32(b, 0);         /* net */
}

void lv_put_tp_uint(XdrBuf *b, const char *field, uint32_t v)
{
    xdr_put_string(b, field);
    xdr_put_i32(b, LV_TP_UINT);
    xdr_put_u32(b, v);
}

void lv_put_tp_int(XdrBuf *b, const char *field, int32_t v)
{
    xdr_put_string(b, field);
    xdr_put_i32(b, LV_TP_INT);
    xdr_put_i32(b, v);
}

void lv_put_tp_ullong(XdrBuf *b, const char *field, uint64_t v)
{
    xdr_put_string(b, field);
    xdr_put_i32(b, LV_TP_ULLONG);
    xdr_put_u64(b, v);
}

void lv_put_tp_string(XdrBuf *b, const char *field, const char *v)
{
    xdr_put_string(b, field);
    xdr_put_i32(b, LV_TP_STRING);
    xdr_put_string(b, v);
}
