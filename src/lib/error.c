/* libxeno: error codes and the per-connection last error. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

const char *xeno_strerror(int code)
{
    switch (code) {
    case XENO_OK:                    return "success";
    case XENO_ERR_INTERNAL:          return "internal error";
    case XENO_ERR_NO_MEMORY:         return "out of memory";
    case XENO_ERR_INVALID_ARG:       return "invalid argument";
    case XENO_ERR_NO_CONNECT:        return "unable to connect to xend";
    case XENO_ERR_AUTH:              return "authentication failed";
    case XENO_ERR_NO_DOMAIN:         return "no such domain";
    case XENO_ERR_OPERATION_DENIED:  return "operation denied";
    case XENO_ERR_OPERATION_INVALID: return "operation not valid in this state";
    case XENO_ERR_SERVER:            return "xend failed";
    case XENO_ERR_PROTOCOL:          return "unexpected answer from xend";
    case XENO_ERR_IO:                return "I/O error";
    case XENO_ERR_TIMEOUT:           return "timed out";
    case XENO_ERR_TLS:               return "TLS failure";
    case XENO_ERR_TLS_UNKNOWN:       return "xend's TLS key is not known";
    default:                         return "unknown error";
    }
}

int xeno_set_error(xeno_conn *c, int code, const char *fmt, ...)
{
    if (!c)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
    /* Keep it one line whatever the server sent. */
    for (char *p = c->errmsg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    c->err = code;
    return code;
}

void xeno_clear_error(xeno_conn *c)
{
    c->err = XENO_OK;
    c->sys_errno = 0;
    c->errmsg[0] = '\0';
}

int xeno_error_from_http(long status)
{
    switch (status) {
    case 400: case 413: case 422: return XENO_ERR_INVALID_ARG;
    case 401:                     return XENO_ERR_AUTH;
    case 403: case 429:           return XENO_ERR_OPERATION_DENIED;
    case 404:                     return XENO_ERR_NO_DOMAIN;
    case 409:                     return XENO_ERR_OPERATION_INVALID;
    case 504:                     return XENO_ERR_TIMEOUT;
    default:
        return status >= 500 && status < 600 ? XENO_ERR_SERVER : XENO_ERR_PROTOCOL;
    }
}

int xeno_last_error(const xeno_conn *c)
{
    return c ? c->err : XENO_ERR_NO_MEMORY;
}

const char *xeno_last_error_message(const xeno_conn *c)
{
    return c ? c->errmsg : "out of memory";
}

int xeno_last_error_errno(const xeno_conn *c)
{
    return c ? c->sys_errno : 0;
}
