/* Domain lifecycle events for libvirt clients.
 *
 * xend's registry announces what happens to a domain as one event word
 * (events_emit: "started", "stopped", "paused"...); the hook turns each
 * into libvirt's lifecycle event (type and detail) and queues it, at
 * once, on every client that registered a callback for it (CONNECT_DOMAIN_
 * EVENT_CALLBACK_REGISTER_ANY), as a DOMAIN_EVENT_CALLBACK_LIFECYCLE
 * message. The registry's events carry a domain's name; its uuid comes
 * from a small map the registry hook keeps (name -> uuid at the time the
 * domain joined), so that the "stopped" of a domain already forgotten
 * still names it. Queuing never blocks (libvirt_rpc.c drops a client that
 * leaves 16 MiB of events unread), which is what lets the hooks run under
 * the registry's lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "libvirt.h"
#include "xend.h"

#define EVENT_ID_LAST     26      /* VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE */
#define EVENT_ID_LIFECYCLE 0
#define MAX_CALLBACKS     64      /* per client */
#define MAP_MAX           4096    /* names remembered */
#define DESTROY_MARKS     64

/* lifecycle details (libvirt.h's virDomainEvent*DetailType) */
enum { DET_DEFINED_ADDED = 0, DET_DEFINED_UPDATED = 1, DET_UNDEFINED_REMOVED = 0,
       DET_STARTED_BOOTED = 0, DET_SUSPENDED_PAUSED = 0, DET_RESUMED_UNPAUSED = 0,
       DET_STOPPED_SHUTDOWN = 0, DET_STOPPED_DESTROYED = 1, DET_STOPPED_CRASHED = 2,
       DET_STOPPED_MIGRATED = 3, DET_STOPPED_SAVED = 4 };

typedef struct EventCb {
    int id;
    int event_id;
    bool has_dom;
    uint8_t uuid[LV_UUID_LEN];
} EventCb;

struct LvEventCbs {
    pthread_mutex_t lock;
    EventCb cb[MAX_CALLBACKS];
    unsigned n;
    int next_id;
};

typedef struct NameUuid {
    char name[64];
    char uuid[37];
} NameUuid;

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static NameUuid map[MAP_MAX];
static unsigned map_n, map_next;    /* a ring once full: the oldest goes */
static char destroy_marks[DESTROY_MARKS][37];
static unsigned destroy_next;

/* ---- per-client callbacks ---- */

LvEventCbs *lv_event_cbs_new(void)
{
    LvEventCbs *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->next_id = 1;
    return c;
}

void lv_event_cbs_free(LvEventCbs *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- the name -> uuid map ---- */

void lv_events_domain_added(const char *name, const char *uuid)
{
    pthread_mutex_lock(&map_lock);
    for (unsigned i = 0; i < map_n; i++) {
        if (!strcmp(map[i].name, name)) {
            snprintf(map[i].uuid, sizeof(map[i].uuid), "%s", uuid);
            pthread_mutex_unlock(&map_lock);
            return;
        }
    }
    snprintf(map[map_next].name, sizeof(map[0].name), "%s", name);
    snprintf(map[map_next].uuid, sizeof(map[0].uuid), "%s", uuid);
    map_next = (map_next + 1) % MAP_MAX;
    if (map_n < MAP_MAX)
        map_n++;
    pthread_mutex_unlock(&map_lock);
}

static bool uuid_of(const char *name, char uuid[37])
{
    bool found = false;

    pthread_mutex_lock(&map_lock);
    for (unsigned i = 0; i < map_n && !found; i++) {
        if (!strcmp(map[i].name, name)) {
            memcpy(uuid, map[i].uuid, 37);
            found = true;
        }
    }
    pthread_mutex_unlock(&map_lock);
    return found;
}

void lv_events_note_destroy(const char *uuid)
{
    pthread_mutex_lock(&map_lock);
    snprintf(destroy_marks[destroy_next], 37, "%s", uuid);
    destroy_next = (destroy_next + 1) % DESTROY_MARKS;
    pthread_mutex_unlock(&map_lock);
}

/* Was uuid's stop asked for by a destroy? (The mark goes.) */
static bool take_destroy_mark(const char *uuid)
{
    bool found = false;

    pthread_mutex_lock(&map_lock);
    for (unsigned i = 0; i < DESTROY_MARKS && !found; i++) {
        if (!strcmp(destroy_marks[i], uuid)) {
            destroy_marks[i][0] = '\0';
            found = true;
        }
    }
    pthread_mutex_unlock(&map_lock);
    return found;
}

/* Forget everything (and learn the domains already in the registry: the
 * server starts after xend has loaded them). */
void lv_events_reset(void)
{
    Domain **all;
    size_t n;

    pthread_mutex_lock(&map_lock);
    map_n = map_next = 0;
    memset(destroy_marks, 0, sizeof(destroy_marks));
    pthread_mutex_unlock(&map_lock);
    pthread_mutex_lock(&reg_lock);
    n = reg_snapshot_locked(&all);
    for (size_t i = 0; i < n; i++) {
        lv_events_domain_added(all[i]->name, all[i]->uuid);
        dom_put_locked(all[i]);
    }
    pthread_mutex_unlock(&reg_lock);
    free(all);
}

/* ---- delivery ---- */

/* The message for one callback. */
static void send_lifecycle(LvConn *c, int cb_id, const char *name, const char *uuid, int id,
                           int type, int detail)
{
    LvHeader h = { .prog = LV_PROGRAM, .vers = LV_PROTOCOL_VERSION,
                   .proc = LVP_DOMAIN_EVENT_CALLBACK_LIFECYCLE, .type = LV_MESSAGE,
                   .serial = 1, .status = LV_OK };
    XdrBuf b;

    xdr_buf_init(&b, 4096);
    xdr_put_i32(&b, cb_id);
    lv_put_domain(&b, name, uuid, id);
    xdr_put_i32(&b, type);
    xdr_put_i32(&b, detail);
    if (!b.err)
        lv_conn_send(c, &h, b.p, b.len, LV_SEND_EVENT);
    xdr_buf_free(&b);
}

/* The callbacks of one client that want this event of uuid. */
static void deliver_to(LvConn *c, const char *name, const char *uuid, int id, int type,
                       int detail)
{
    LvEventCbs *cbs = lv_conn_event_cbs(c);
    uint8_t u[LV_UUID_LEN];
    int ids[MAX_CALLBACKS];
    unsigned n = 0;

    if (lv_uuid_parse(uuid, u) < 0)
        return;
    pthread_mutex_lock(&cbs->lock);
    for (unsigned i = 0; i < cbs->n; i++) {
        const EventCb *cb = &cbs->cb[i];

        if (cb->event_id == EVENT_ID_LIFECYCLE && (!cb->has_dom || !memcmp(cb->uuid, u, 16)))
            ids[n++] = cb->id;
    }
    pthread_mutex_unlock(&cbs->lock);
    for (unsigned i = 0; i < n; i++)
        send_lifecycle(c, ids[i], name, uuid, id, type, detail);
}

void lv_event_lifecycle(const char *name, const char *uuid, int id, int type, int detail)
{
    LvConn **all;
    size_t n = lv_conns_snapshot(&all);

    for (size_t i = 0; i < n; i++) {
        deliver_to(all[i], name, uuid, id, type, detail);
        lv_conn_put(all[i]);
    }
    free(all);
}

/* A registry event word as libvirt's type and detail; -1 if it has none. */
static int map_event(const char *event, const char *uuid, int *detail)
{
    static const struct { const char *word; int type, detail; } m[] = {
        { "started",  LVE_STARTED,   DET_STARTED_BOOTED },
        { "paused",   LVE_SUSPENDED, DET_SUSPENDED_PAUSED },
        { "unpaused", LVE_RESUMED,   DET_RESUMED_UNPAUSED },
        { "crashed",  LVE_STOPPED,   DET_STOPPED_CRASHED },
        { "saved",    LVE_STOPPED,   DET_STOPPED_SAVED },
        { "migrated", LVE_STOPPED,   DET_STOPPED_MIGRATED },
    };

    if (!strcmp(event, "stopped")) {
        *detail = take_destroy_mark(uuid) ? DET_STOPPED_DESTROYED : DET_STOPPED_SHUTDOWN;
        return LVE_STOPPED;
    }
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (!strcmp(event, m[i].word)) {
            *detail = m[i].detail;
            return m[i].type;
        }
    }
    return -1;
}

void lv_events_xend_event(const char *event, const char *name, int id)
{
    char uuid[37];
    int type, detail = 0;

    if (!uuid_of(name, uuid)) {
        log_debug("libvirt: event %s of %s: uuid unknown", event, name);
        return;
    }
    if ((type = map_event(event, uuid, &detail)) < 0)
        return;
    lv_event_lifecycle(name, uuid, type == LVE_STOPPED ? -1 : id, type, detail);
}

void lv_events_defined(const char *name, const char *uuid, bool defined)
{
    lv_events_domain_added(name, uuid);
    lv_event_lifecycle(name, uuid, -1, defined ? LVE_DEFINED : LVE_UNDEFINED,
                       defined ? DET_DEFINED_ADDED : DET_UNDEFINED_REMOVED);
}

/* ---- the procedures ---- */

/* CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: {int eventID; remote_domain
 * dom} -> {int callbackID}. Every event id of libvirt 9.0 registers; only
 * lifecycle events ever fire here. */
static int proc_register(LvCall *c)
{
    LvEventCbs *cbs = lv_conn_event_cbs(c->conn);
    int event_id = xdr_get_i32(&c->in);
    LvDomRef dom = { 0 };
    bool has_dom = xdr_get_bool(&c->in);
    EventCb *cb;

    if (has_dom)
        lv_get_domain(&c->in, &dom);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (event_id < 0 || event_id > EVENT_ID_LAST)
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "unsupported event ID %d", event_id);
    pthread_mutex_lock(&cbs->lock);
    if (cbs->n == MAX_CALLBACKS) {
        pthread_mutex_unlock(&cbs->lock);
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "too many event callbacks (%d)",
                        MAX_CALLBACKS);
    }
    cb = &cbs->cb[cbs->n++];
    cb->id = cbs->next_id++;
    cb->event_id = event_id;
    cb->has_dom = has_dom;
    memcpy(cb->uuid, dom.uuid, sizeof(cb->uuid));
    xdr_put_i32(&c->out, cb->id);
    pthread_mutex_unlock(&cbs->lock);
    return 0;
}

/* CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: {int callbackID}. */
static int proc_deregister(LvCall *c)
{
    LvEventCbs *cbs = lv_conn_event_cbs(c->conn);
    int id = xdr_get_i32(&c->in);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&cbs->lock);
    for (unsigned i = 0; i < cbs->n; i++) {
        if (cbs->cb[i].id == id) {
            cbs->cb[i] = cbs->cb[--cbs->n];
            pthread_mutex_unlock(&cbs->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cbs->lock);
    return lv_error(&c->err, LV_ERR_INVALID_ARG, "callback %d is not registered", id);
}

const LvProc lv_event_procs[] = {
    { LVP_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, proc_register, LVF_RO },
    { LVP_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, proc_deregister, LVF_RO },
};
const size_t lv_event_nprocs = sizeof(lv_event_procs) / sizeof(lv_event_procs[0]);
