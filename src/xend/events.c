/* Domain events for GET /v1/events: every subscriber has a byte queue of
 * JSON lines. A subscriber that does not keep up loses events (counted and
 * logged) rather than making xend buffer without bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

#define QUEUE_BYTES (64u << 10)

struct EventSub {
    EventSub *next;
    char buf[QUEUE_BYTES];
    size_t head, len;
    unsigned long dropped;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond;
static pthread_once_t ev_once = PTHREAD_ONCE_INIT;
static EventSub *subs;
static bool stopping;

static void ev_init(void)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&ev_cond, &a);
    pthread_condattr_destroy(&a);
}

static void queue_put(EventSub *s, const char *line, size_t n)
{
    if (QUEUE_BYTES - s->len < n) {
        s->dropped++;
        return;
    }
    for (size_t i = 0; i < n; i++)
        s->buf[(s->head + s->len + i) % QUEUE_BYTES] = line[i];
    s->len += n;
}

/* Queue one event line (text without its newline) for every subscriber. */
static void broadcast(const char *text)
{
    size_t n = strlen(text);

    pthread_once(&ev_once, ev_init);
    pthread_mutex_lock(&ev_lock);
    for (EventSub *s = subs; s; s = s->next) {
        if (QUEUE_BYTES - s->len < n + 1) {
            s->dropped++;      /* a whole line or nothing */
            continue;
        }
        queue_put(s, text, n);
        queue_put(s, "\n", 1);
    }
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
}

void events_emit(const char *event, const char *name, int id)
{
    json_t *j = json_object();
    char *text;

    json_object_set_new(j, "event", json_string(event));
    json_object_set_new(j, "domain", json_string(name));
    json_object_set_new(j, "id", id >= 0 ? json_integer(id) : json_null());
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return;
    log_info("domain %s (id %d): %s", name, id, event);
    broadcast(text);
    free(text);
    lv_hook_event(event, name, id);             /* libvirt clients' lifecycle events */
}

void events_emit_progress(json_t *ev, const char *name, int id, const char *job)
{
    char *text;

    if (!ev)
        return;
    json_object_set_new(ev, "event", json_string("progress"));
    json_object_set_new(ev, "domain", json_string(name));
    json_object_set_new(ev, "id", id >= 0 ? json_integer(id) : json_null());
    json_object_set_new(ev, "job", job ? json_string(job) : json_null());
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return;
    log_debug("progress: %s", text);
    broadcast(text);
    free(text);
}

EventSub *events_subscribe(void)
{
    EventSub *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_once(&ev_once, ev_init);
    pthread_mutex_lock(&ev_lock);
    s->next = subs;
    subs = s;
    pthread_mutex_unlock(&ev_lock);
    return s;
}

void events_unsubscribe(EventSub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&ev_lock);
    for (EventSub **pp = &subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&ev_lock);
    if (s->dropped)
        log_warn("an event client missed %lu events (not reading)", s->dropped);
    free(s);
}

long events_read(EventSub *s, char *buf, size_t max, int timeout_ms)
{
    /* ev_cond waits on the monotonic clock (ev_init). */
    struct timespec ts = ns_to_timespec(clock_ns() + (uint64_t)timeout_ms * NS_PER_MS);
    size_t n;

    pthread_mutex_lock(&ev_lock);
    while (!s->len && !stopping)
        if (pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) == ETIMEDOUT)
            break;
    if (stopping) {
        pthread_mutex_unlock(&ev_lock);
        return -1;
    }
    n = s->len < max ? s->len : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = s->buf[(s->head + i) % QUEUE_BYTES];
    s->head = (s->head + n) % QUEUE_BYTES;
    s->len -= n;
    pthread_mutex_unlock(&ev_lock);
    return (long)n;
}

void events_shutdown(void)
{
    pthread_once(&ev_once, ev_init);
    pthread_mutex_lock(&ev_lock);
    stopping = true;
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
}
