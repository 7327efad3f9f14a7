/* libxeno: the event stream (GET /v1/events, one JSON object per line).
 * A separate curl handle driven by a multi handle so that the caller can
 * wait with a timeout; complete lines are buffered until read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EVENT_LINE_MAX 65536

struct xeno_event_stream {
    xeno_conn *conn;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdr;
    char *buf;          /* received bytes not yet returned */
    size_t len, cap;
    bool done;          /* transfer finished */
    bool overflow;
    long status;
};

static size_t ev_write(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct xeno_event_stream *s = opaque;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > 4 * EVENT_LINE_MAX) {
            s->overflow = true;
            return 0;
        }
        char *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static const struct { const char *name; xeno_event_type type; } event_names[] = {
    { "started", XENO_EVENT_STARTED }, { "stopped", XENO_EVENT_STOPPED },
    { "crashed", XENO_EVENT_CRASHED }, { "paused", XENO_EVENT_PAUSED },
    { "unpaused", XENO_EVENT_UNPAUSED }, { "saved", XENO_EVENT_SAVED },
    { "migrated", XENO_EVENT_MIGRATED }, { "progress", XENO_EVENT_PROGRESS },
};

int xeno_event_parse_line(const char *line, xeno_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->id = -1;
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    const char *type = json_string_value(json_object_get(o, "event"));
    if (!type) {
        json_decref(o);
        return -1;
    }
    snprintf(ev->type_name, sizeof(ev->type_name), "%s", type);
    for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
        if (strcmp(type, event_names[i].name) == 0)
            ev->type = event_names[i].type;
    const char *dom = json_string_value(json_object_get(o, "domain"));
    snprintf(ev->domain, sizeof(ev->domain), "%s", dom ? dom : "");
    json_t *id = json_object_get(o, "id");
    if (json_is_integer(id) && json_integer_value(id) >= 0 && json_integer_value(id) <= 0x7fffffff)
        ev->id = (int)json_integer_value(id);
    json_decref(o);
    return 0;
}

int xeno_event_subscribe(xeno_conn *c, xeno_event_stream **out)
{
    *out = NULL;
    if (!c || !c->curl)
        return xeno_set_error(c, XENO_ERR_NO_CONNECT, "not connected to xend");
    xeno_clear_error(c);
    struct xeno_event_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    s->conn = c;
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    if (!s->multi || !s->easy) {
        xeno_event_close(s);
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "cannot initialise libcurl");
    }
    s->hdr = xeno_curl_setup(c, s->easy, "/v1/events");
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdr);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, ev_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_multi_add_handle(s->multi, s->easy);
    *out = s;
    return XENO_OK;
}

/* Pop one complete line from the buffer into a malloc'd string. */
static char *pop_line(struct xeno_event_stream *s)
{
    char *nl = s->len ? memchr(s->buf, '\n', s->len) : NULL;
    if (!nl)
        return NULL;
    size_t n = nl - s->buf;
    char *line = strndup(s->buf, n);
    memmove(s->buf, nl + 1, s->len - n - 1);
    s->len -= n + 1;
    s->buf[s->len] = '\0';
    return line;
}

int xeno_event_next(xeno_event_stream *s, xeno_event *ev, int timeout_ms)
{
    if (!s || !ev)
        return XENO_ERR_INVALID_ARG;
    xeno_conn *c = s->conn;
    uint64_t waited = 0;
    for (;;) {
        char *line;
        while ((line = pop_line(s))) {
            int ok = line[0] && xeno_event_parse_line(line, ev) == 0;
            free(line);
            if (ok) {
                long status = 0;
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 200 && status < 300)
                    return XENO_OK;
            }
        }
        if (s->done) {
            long status = 0;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 300) {
                json_t *o = json_loadb(s->buf ? s->buf : "", s->len, 0, NULL);
                const char *m = json_string_value(json_object_get(o, "error"));
                xeno_set_error(c, xeno_error_from_http(status), "%s",
                               m ? m : "xend refused the event stream");
                json_decref(o);
                return c->err;
            }
            return xeno_set_error(c, XENO_ERR_NO_CONNECT, "the event stream from xend ended");
        }
        if (s->overflow)
            return xeno_set_error(c, XENO_ERR_PROTOCOL, "event line from xend too long");
        if (timeout_ms >= 0 && waited >= (uint64_t)timeout_ms)
            return xeno_set_error(c, XENO_ERR_TIMEOUT, "no event");
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK)
            return xeno_set_error(c, XENO_ERR_IO, "event stream: %s", curl_multi_strerror(mc));
        if (!running) {
            int left;
            CURLMsg *m;
            s->done = true;
            while ((m = curl_multi_info_read(s->multi, &left)))
                if (m->msg == CURLMSG_DONE && m->data.result != CURLE_OK && !s->overflow) {
                    long oserr = 0;
                    curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &oserr);
                    if (m->data.result == CURLE_COULDNT_CONNECT) {
                        c->sys_errno = (int)oserr;
                        return xeno_set_error(c, XENO_ERR_NO_CONNECT, "Unable to connect to xend: %s",
                                              strerror(oserr ? (int)oserr : 111));
                    }
                    return xeno_set_error(c, XENO_ERR_NO_CONNECT, "event stream: %s",
                                          curl_easy_strerror(m->data.result));
                }
            continue;
        }
        if (s->len && memchr(s->buf, '\n', s->len))
            continue;
        int slice = 100;
        if (timeout_ms >= 0 && (uint64_t)timeout_ms - waited < (uint64_t)slice)
            slice = (int)((uint64_t)timeout_ms - waited);
        int numfds;
        curl_multi_poll(s->multi, NULL, 0, slice, &numfds);
        waited += slice;    /* coarse, but never early: good enough for a timeout */
    }
}

void xeno_event_close(xeno_event_stream *s)
{
    if (!s)
        return;
    if (s->multi && s->easy)
        curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->hdr);
    free(s->buf);
    free(s);
}
