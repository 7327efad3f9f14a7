/* xend internals: the domain registry, supervision of xeno-vmm processes,
 * the state dir and the REST API (docs/protocols.md §2).
 *
 * Locking: one registry mutex (reg_lock) guards every Domain's mutable
 * fields and the registry list; reg_cond is broadcast whenever a domain's
 * state changes. Nothing blocks (VMM calls, process waits, file I/O of
 * logs) while holding it, except the small state files whose order on
 * disk matters (next-id, run records, a managed config), which are
 * written, durably, under it. The events module has its own leaf lock. */
#ifndef XEND_H
#define XEND_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"

#define XEND_MAX_BODY   (1u << 20)     /* larger requests get 413 */
#define XEND_MAX_CONFIG (256u << 10)   /* config text limit */
#define XEND_VERSION    "0.1.0"

/* Process-wide settings (main.c). */
typedef struct XendConf {
    char state_dir[PATH_MAX];
    char sock_path[PATH_MAX];
    char vmm[PATH_MAX];
    char listen_tcp[256];      /* "" or "tcp://host:port" */
    char token[65];            /* bearer token for TCP, "" = none */
} XendConf;
extern XendConf xconf;

enum dom_state {
    DS_STOPPED = 0,   /* defined (managed) but not running */
    DS_STARTING,      /* VMM spawned, control socket not answering yet */
    DS_RUNNING,
    DS_PAUSED,
    DS_SHUTDOWN,      /* powered off, preserved (on_poweroff=preserve) */
    DS_CRASHED,       /* crashed, preserved (on_crash=preserve) */
    DS_DYING,         /* destroy in progress */
};

/* Why a VMM process ended. */
enum stop_reason { SR_NONE = -1, SR_POWEROFF = 0, SR_REBOOT, SR_CRASH,
                   SR_DESTROYED, SR_ERROR };

typedef struct Domain {
    struct Domain *next;
    int refs;
    bool removed;              /* unlinked; freed at the last put */

    char name[64];
    char uuid[37];
    bool managed, autostart;
    char *config;              /* config text, as stored and passed to the VMM */
    VmConfig *cfg;

    int id;                    /* -1 when not running */
    enum dom_state state;
    uint64_t mem_mib, maxmem_mib;
    unsigned vcpus, maxvcpus;

    /* The running instance (pid 0 = none). */
    pid_t pid;
    int pidfd;                 /* -1 = none */
    bool child;                /* our child: waitpid gives the exit status */
    int mon_fd;                /* event connection to the control socket */
    char mon_buf[4096];
    size_t mon_len;
    char sock[PATH_MAX];
    enum stop_reason stop_reason;  /* from the VMM's "stopped" event */
    bool destroying;           /* user destroy: no on_* action */
    uint64_t run_seq;          /* incremented whenever an instance ends */
    uint64_t started_ns;
    time_t start_time;
    unsigned fast_restarts;

    /* Last statistics sample (query). */
    uint64_t cpu_ns, sample_cpu_ns, sample_wall_ns;
    bool blocked;
} Domain;

/* ---- registry.c ---- */
extern pthread_mutex_t reg_lock;
extern pthread_cond_t reg_cond;

/* Build a domain from config text (config_parse + overrides); NULL with a
 * message ("FILE:LINE: msg") in err. Not yet in the registry. */
Domain *dom_from_config(const char *file, const char *text, size_t len,
                        const char *const *overrides, size_t noverrides,
                        char *err, size_t errlen);
void dom_get(Domain *d);
void dom_put_locked(Domain *d);
void dom_put(Domain *d);
/* Lookup by name, decimal id or uuid; NULL if absent. Not Domain-0. */
Domain *reg_find_locked(const char *key);
Domain *reg_find_name_locked(const char *name);
bool reg_is_dom0_key(const char *key);
/* Add (takes the caller's reference); -1 if the name or uuid is taken. */
int reg_add_locked(Domain *d);
void reg_remove_locked(Domain *d);
/* Referenced array of all domains (caller puts each and frees the array). */
size_t reg_snapshot_locked(Domain ***out);
int reg_alloc_id_locked(void);
void reg_set_next_id_locked(int next);
int reg_next_id_locked(void);
void reg_clear_locked(void);      /* tests: drop everything */

json_t *dom_to_json_locked(const Domain *d);
json_t *dom0_to_json(void);
json_t *host_to_json(void);
/* The VMM of d paused (or resumed): a running domain becomes paused (a
 * paused one running) and the "paused" ("unpaused") event goes out. The
 * API's pause and the VMM's own event both report the change: the first
 * one wins, the other finds nothing to do. Returns whether it changed. */
bool dom_note_paused_locked(Domain *d, bool paused);
/* Fold a VMM "query" result into the domain's statistics. */
void dom_apply_query_locked(Domain *d, json_t *result);

/* ---- supervise.c ---- */
/* Start a VMM for d (state must be stopped); blocks until its control
 * socket answers. Caller holds a reference, not the lock. 0 or -1 + err. */
int sup_start(Domain *d, char *err, size_t errlen);
/* Destroy the running instance (or clear a preserved one); blocks until the
 * VMM is gone. */
int sup_destroy(Domain *d, char *err, size_t errlen);
/* Wait up to timeout_ms for the instance running at run_seq to end. */
int sup_wait_stopped(Domain *d, uint64_t run_seq, int timeout_ms);
/* Refresh statistics with a VMM query (no lock held by the caller). */
void sup_sample(Domain *d);
/* Re-attach to a VMM left by a previous xend. */
int sup_attach(Domain *d, int id, pid_t pid, const char *sock);
/* A re-attaching xend found the VMM of d (id) gone; `why` is its exit
 * record ("poweroff", "reboot", "crash", "destroyed") or NULL (crash). */
void sup_exited_while_away(Domain *d, int id, const char *why);
int sup_init(void);
/* Supervision loop (main thread); returns after SIGTERM or SIGINT. */
void sup_run(void);

/* ---- vmmctl.c ---- */
/* One request on a new connection; result (may be NULL) is owned by the
 * caller. Returns 0, or -1 with a one-line message. */
int vmm_call(const char *sock, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char *err, size_t errlen);
/* A non-blocking connection for the VMM's event lines; -1 on failure
 * (logged at debug level: the pidfd still tells when the VMM ends). */
int vmm_connect(const char *sock);

/* ---- state.c ---- */
int state_init(void);
int state_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int state_save_next_id(int next);
int state_save_domain(const Domain *d);
int state_delete_domain(const char *name);
int state_set_autostart(const char *name, bool on);
int state_write_run(const Domain *d);
void state_remove_run(int id);
char *state_read_log(const char *name, size_t max);
/* Startup: managed domains, re-attach to running VMMs. */
void state_load_all(void);
/* Start managed domains marked autostart (runs in its own thread). */
void state_autostart(void);

/* ---- events.c ---- */
typedef struct EventSub EventSub;
void events_emit(const char *event, const char *name, int id);
EventSub *events_subscribe(void);
void events_unsubscribe(EventSub *s);
/* Copy pending event lines into buf; waits up to timeout_ms. Returns bytes,
 * 0 on timeout, -1 once xend is stopping. */
long events_read(EventSub *s, char *buf, size_t max, int timeout_ms);
void events_shutdown(void);

/* ---- api.c ---- */
typedef struct ApiRequest {
    const char *method;
    const char *path;
    const char *body;
    size_t len;
    bool local;                /* UNIX socket (console paths allowed) */
} ApiRequest;

typedef struct ApiReply {
    int status;
    char *body;                /* malloc'd JSON text (with newline) */
    bool events;               /* caller streams GET /v1/events */
} ApiReply;

void api_handle(const ApiRequest *rq, ApiReply *rp);
void api_error(ApiReply *rp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- http.c ---- */
int http_start(int unix_fd, const char *tcp);
void http_stop(void);

/* ---- logsink.c ---- */
int logsink_syslog_start(void);

#endif
