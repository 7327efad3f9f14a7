/* libxeno: the public C API of Xeno's management plane.
 *
 * A client (xm, xeno-install, the web manager, your program) talks to xend
 * through this library only. Xend speaks REST/JSON (docs/protocols.md §2)
 * over a local UNIX socket or over TCP with a bearer token.
 *
 * Conventions
 *  - Every name starts with xeno_ / XENO_.
 *  - No global state: everything hangs off a xeno_conn. Different
 *    connections may be used from different threads; one connection (and the
 *    domains it produced) must not be used by two threads at once.
 *  - Functions that can fail return 0 on success or a positive xeno_error
 *    code. The code and a one-line message stay available on the connection
 *    (xeno_last_error / xeno_last_error_message) until the next call on it.
 *  - Objects returned through an out-pointer belong to the caller and are
 *    released with the matching _free/_close function.
 *
 * Typical use:
 *
 *     xeno_conn *c;
 *     if (xeno_connect(NULL, 0, &c) != 0) {
 *         fprintf(stderr, "%s\n", c ? xeno_last_error_message(c) : "out of memory");
 *         xeno_close(c);
 *         return 1;
 *     }
 *     xeno_domain *d;
 *     if (xeno_domain_lookup_by_name(c, "web1", &d) == 0) {
 *         xeno_domain_pause(d);
 *         xeno_domain_free(d);
 *     }
 *     xeno_close(c);
 */
#ifndef XENO_XENO_H
#define XENO_XENO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XENO_API_VERSION 1

/* The URI used when the caller passes NULL and XENO_URI is not set. */
#define XENO_DEFAULT_URI "unix:///run/xeno/xend.sock"

/* ---- errors ------------------------------------------------------------ */

typedef enum xeno_error {
    XENO_OK = 0,
    XENO_ERR_INTERNAL,          /* a bug or an unexpected condition */
    XENO_ERR_NO_MEMORY,
    XENO_ERR_INVALID_ARG,       /* bad argument (client side or HTTP 400) */
    XENO_ERR_NO_CONNECT,        /* cannot reach xend; see xeno_last_error_errno */
    XENO_ERR_AUTH,              /* token missing or refused (HTTP 401) */
    XENO_ERR_NO_DOMAIN,         /* no such domain (HTTP 404) */
    XENO_ERR_OPERATION_DENIED,  /* not allowed, e.g. on Domain-0 (HTTP 403) */
    XENO_ERR_OPERATION_INVALID, /* not possible in the current state (HTTP 409) */
    XENO_ERR_SERVER,            /* xend failed (HTTP 5xx) */
    XENO_ERR_PROTOCOL,          /* xend's answer was not what the API says */
    XENO_ERR_IO,                /* local I/O failure (console, socket) */
    XENO_ERR_TIMEOUT,
    /* Added in XENO_1.2 (TLS to xend). */
    XENO_ERR_TLS,               /* TLS failed, or xend's key is not the pinned one */
    XENO_ERR_TLS_UNKNOWN,       /* xend's key is not pinned (no fingerprint, not in
                                 * known_hosts): see xeno_conn_trust_server */
} xeno_error;

/* A static English name for a code, e.g. "no such domain". */
const char *xeno_strerror(int code);

/* ---- connection -------------------------------------------------------- */

typedef struct xeno_conn xeno_conn;

/* Connect to xend.
 *   uri: "unix:///PATH", "https://HOST:PORT" (tcp://HOST:PORT is the same)
 *        or "http://HOST:PORT" (plain, only with XENO_CONNECT_INSECURE);
 *        NULL means the XENO_URI environment variable, else
 *        XENO_DEFAULT_URI. A URI never holds the token: over TCP it is
 *        the XENO_TOKEN variable, else the first line of the file that
 *        XENO_TOKEN_FILE names (xeno_connect_with takes a file too).
 *        Over https, xend's key must be pinned: XENO_FINGERPRINT, else
 *        the known-hosts file (see xeno_connect_with).
 *   flags: XENO_CONNECT_* (0 before XENO_1.2).
 * The connection is checked (a socket connect) before returning.
 * Whatever the outcome, *conn is set (NULL only when memory ran out) so the
 * error can be read from it; release it with xeno_close(). On
 * XENO_ERR_NO_CONNECT the message is "Unable to connect to xend: REASON"
 * with REASON the system's strerror (xeno_last_error_errno has the errno). */
int xeno_connect(const char *uri, unsigned int flags, xeno_conn **conn);
void xeno_close(xeno_conn *conn);
const char *xeno_conn_get_uri(const xeno_conn *conn);

/* Added in XENO_1.2: read-only connections, TLS pinning, token files. */

/* Read-only: on a UNIX socket, xend's read-only socket beside the one
 * named (xend.sock → xend-ro.sock); over TCP xend is asked to treat the
 * token as a read-only one. Listing, info, logs and events work,
 * anything else is refused with XENO_ERR_OPERATION_DENIED. */
#define XENO_CONNECT_READONLY (1u << 0)
/* Allow http:// (plain TCP: the token and everything else in clear). */
#define XENO_CONNECT_INSECURE (1u << 1)

/* xeno_connect(uri, XENO_CONNECT_READONLY, conn), as libvirt's
 * virConnectOpenReadOnly. */
int xeno_connect_readonly(const char *uri, xeno_conn **conn);

typedef struct xeno_connect_params {
    size_t size;                /* sizeof(xeno_connect_params): fields may be added */
    unsigned int flags;         /* XENO_CONNECT_* */
    /* https: xend's key, "SHA256:BASE64" as `xend fingerprint` prints it
     * (or curl's "sha256//BASE64"); NULL: XENO_FINGERPRINT, else the
     * entry for HOST:PORT in the known-hosts file. */
    const char *fingerprint;
    /* The known-hosts file ("HOST:PORT SHA256:..." per line); NULL:
     * $XDG_CONFIG_HOME/xeno/known_hosts, else ~/.config/xeno/known_hosts. */
    const char *known_hosts;
    /* A file whose first line is the token; NULL: XENO_TOKEN, else
     * XENO_TOKEN_FILE. */
    const char *token_file;
} xeno_connect_params;

/* xeno_connect with parameters (params may be NULL). Over https, when
 * xend's key is not pinned the answer is XENO_ERR_TLS_UNKNOWN and, when it
 * differs from the pin, XENO_ERR_TLS; either way the connection holds the
 * fingerprint xend presented. */
int xeno_connect_with(const char *uri, const xeno_connect_params *params, xeno_conn **conn);
/* The fingerprint of the key xend presented over https ("" if none). */
const char *xeno_conn_get_server_fingerprint(const xeno_conn *conn);
/* Trust the key xend presented (after XENO_ERR_TLS_UNKNOWN: ask the user
 * first): add "HOST:PORT FINGERPRINT" to the known-hosts file (NULL: the
 * default one), made 0600 in a 0700 directory. Connect again afterwards. */
int xeno_conn_trust_server(xeno_conn *conn, const char *known_hosts);

/* The last error on this connection: code (XENO_OK if none), a one-line
 * message (never NULL; "" if none) and the errno for local failures. */
int xeno_last_error(const xeno_conn *conn);
const char *xeno_last_error_message(const xeno_conn *conn);
int xeno_last_error_errno(const xeno_conn *conn);

/* ---- host -------------------------------------------------------------- */

typedef struct xeno_host_info {
    char hostname[256];
    char release[128];          /* host kernel release (uname -r) */
    char version[256];          /* host kernel version (uname -v) */
    char machine[64];           /* uname -m */
    char cpu_model[128];
    unsigned int nr_cpus;
    double cpu_mhz;
    uint64_t total_memory_mib;
    uint64_t free_memory_mib;
    char virt_caps[64];         /* "hvm" (vmx/svm present) or "none" */
    char engines[64];           /* engines that can run here, e.g. "emu kvm" */
    char xend_version[64];
    double uptime_s;            /* host uptime, < 0 if unknown */
    /* Added with the kvm engine; the fields above keep their offsets. */
    char cpu_vendor[32];        /* "GenuineIntel", "AuthenticAMD" or "" */
    char hw_virt[8];            /* "vmx", "svm" or "none" */
    char kvm[192];              /* "usable", "absent", "unusable: REASON" or
                                 * "usable, paging-based nested (kvm_pvm)" */
    char engines_detail[320];   /* what each engine runs here, one line */
    int kvm_usable;             /* /dev/kvm opens and creates a VM */
    int kvm_pvm;                /* that KVM is paging-based nested (kvm_pvm) */
    int kvm_fast;               /* x86-64 guests run at hardware speed */
    /* Added with the VMM sandbox; the fields above keep their offsets. */
    char sandbox[256];          /* the VMMs' sandbox layers, one line */
    /* Added with xend's libvirt server. */
    char libvirt[512];          /* its URI and sockets, and whether libvirt's default
                                 * Xen socket is served too, one line */
} xeno_host_info;

/* GET /v1/host. Fields xend did not send are zero/empty (uptime_s -1). */
int xeno_host_get_info(xeno_conn *conn, xeno_host_info *info);

/* ---- domains ----------------------------------------------------------- */

typedef struct xeno_domain xeno_domain;

typedef enum xeno_domain_state {
    XENO_STATE_UNKNOWN = 0,
    XENO_STATE_RUNNING,
    XENO_STATE_BLOCKED,
    XENO_STATE_PAUSED,
    XENO_STATE_SHUTDOWN,
    XENO_STATE_CRASHED,
    XENO_STATE_DYING,
    XENO_STATE_STOPPED,         /* a managed domain that is not running */
    XENO_STATE_SAVED,           /* a managed domain saved (xeno_domain_managed_save
                                 * or xeno_domain_save): start restores it */
    XENO_STATE_INCOMING,        /* arriving by migration, not running here yet */
    XENO_STATE_UNRESPONSIVE,    /* running, but its VMM did not answer xend's last
                                 * query in time (stopped or hung) */
} xeno_domain_state;

typedef struct xeno_domain_info {
    xeno_domain_state state;
    int id;                     /* -1 when not running */
    uint64_t mem_mib;
    uint64_t maxmem_mib;
    unsigned int vcpus;
    double cpu_time_s;
    double uptime_s;            /* < 0 if xend did not say */
    int managed;                /* 1 if defined with xeno_domain_define */
    int autostart;
    char on_poweroff[16], on_reboot[16], on_crash[16];
} xeno_domain_info;

/* "running", "paused", ... (the wire names), "unknown" otherwise. */
const char *xeno_domain_state_name(xeno_domain_state s);

/* All domains, Domain-0 first. *doms is an array of *count handles; free it
 * with xeno_domain_list_free. */
int xeno_domain_list(xeno_conn *conn, xeno_domain ***doms, size_t *count);
void xeno_domain_list_free(xeno_domain **doms, size_t count);

int xeno_domain_lookup_by_name(xeno_conn *conn, const char *name, xeno_domain **dom);
int xeno_domain_lookup_by_id(xeno_conn *conn, int id, xeno_domain **dom);
int xeno_domain_lookup_by_uuid(xeno_conn *conn, const char *uuid, xeno_domain **dom);
/* Accepts a name, a numeric ID or a UUID, like xm's DOM arguments. */
int xeno_domain_lookup(xeno_conn *conn, const char *name_id_or_uuid, xeno_domain **dom);
void xeno_domain_free(xeno_domain *dom);

/* Flags for create/define. */
#define XENO_CREATE_PAUSED   (1u << 0)   /* start with vCPUs paused */

/* Create and start a transient domain from config text (xl.cfg syntax).
 * overrides: NULL-terminated array of "key=value" strings (may be NULL),
 * applied on top of the config as xm's command-line overrides. dom may be
 * NULL if the caller does not want the handle. */
int xeno_domain_create(xeno_conn *conn, const char *config_text,
                       const char *const *overrides, unsigned int flags,
                       xeno_domain **dom);
/* Define a managed (persistent) domain without starting it. */
int xeno_domain_define(xeno_conn *conn, const char *config_text,
                       const char *const *overrides, unsigned int flags,
                       xeno_domain **dom);
/* Remove a managed domain that is not running. */
int xeno_domain_undefine(xeno_domain *dom);

/* Lifecycle. Each refreshes the cached info on success. */
int xeno_domain_start(xeno_domain *dom, unsigned int flags);  /* XENO_CREATE_PAUSED */
#define XENO_SHUTDOWN_WAIT   (1u << 0)   /* return once the domain has stopped */
int xeno_domain_shutdown(xeno_domain *dom, unsigned int flags);
int xeno_domain_reboot(xeno_domain *dom, unsigned int flags);
int xeno_domain_destroy(xeno_domain *dom);
int xeno_domain_pause(xeno_domain *dom);
int xeno_domain_unpause(xeno_domain *dom);

/* Resources. Memory in MiB. */
int xeno_domain_set_memory(xeno_domain *dom, uint64_t mib);
int xeno_domain_set_max_memory(xeno_domain *dom, uint64_t mib);
int xeno_domain_set_vcpus(xeno_domain *dom, unsigned int count);

/* Information. get_info copies the snapshot taken by the call that produced
 * or last refreshed dom (list, lookup, an operation); xeno_domain_refresh
 * fetches a new one. */
int xeno_domain_refresh(xeno_domain *dom);
int xeno_domain_get_info(const xeno_domain *dom, xeno_domain_info *info);
const char *xeno_domain_get_name(const xeno_domain *dom);
int xeno_domain_get_id(const xeno_domain *dom);          /* -1 if not running */
const char *xeno_domain_get_uuid(const xeno_domain *dom);
const char *xeno_domain_get_config(const xeno_domain *dom); /* "" if none */
xeno_conn *xeno_domain_get_conn(const xeno_domain *dom);

/* The path of the domain's console socket (local connections only); a
 * malloc'd string in *path. Connect to it with a UNIX stream socket: bytes
 * written go to the guest's serial input, the guest's output is read back. */
int xeno_domain_console_path(xeno_domain *dom, char **path);
/* The VMM log of the domain, malloc'd text in *text. */
int xeno_domain_get_log(xeno_domain *dom, char **text);

/* ---- save, restore, migration ------------------------------------------ */

/* Progress of a long job, as xend reports it while the call runs. */
typedef struct xeno_progress {
    char op[16];                /* "save", "restore" or "migrate" */
    char state[16];             /* "connecting", "active", "completed", "failed",
                                 * "cancelled" */
    char domain[128];
    unsigned int round;         /* migrate: pre-copy rounds done */
    uint64_t bytes;             /* written (save) or sent (migrate) so far */
    uint64_t total_bytes;       /* the guest's RAM (save, migrate); the file (restore) */
    uint64_t dirty_pages;       /* migrate: pages dirtied during the last round */
    double rate_mbps;           /* migrate: the measured rate */
    uint64_t downtime_ms;       /* migrate, completed: how long the guest was stopped */
    char error[256];            /* failed: why */
} xeno_progress;

/* Called from within the job's function, on the caller's thread, for each
 * progress report; cb may be NULL everywhere (no progress). */
typedef void (*xeno_progress_cb)(const xeno_progress *p, void *opaque);

#define XENO_SAVE_CHECKPOINT (1u << 0)   /* the domain keeps running */
#define XENO_SAVE_COMPRESS   (1u << 1)   /* zstd-compressed memory */

/* Save the running domain into path (absolute; written by the domain's
 * VMM, so the path is on xend's host). The domain stops (an unmanaged one
 * is gone, a managed one is XENO_STATE_SAVED) unless XENO_SAVE_CHECKPOINT.
 * On failure the domain runs on as it was. */
int xeno_domain_save(xeno_domain *dom, const char *path, unsigned int flags,
                     xeno_progress_cb cb, void *opaque);
/* Xen's managed save: a managed domain saved into xend's state dir;
 * xeno_domain_start restores it (and removes the file), undefining it
 * removes the file. flags: XENO_SAVE_COMPRESS. */
int xeno_domain_managed_save(xeno_domain *dom, unsigned int flags,
                             xeno_progress_cb cb, void *opaque);
/* Run the domain saved in path (absolute, on xend's host) again, under
 * its name and uuid; flags: XENO_CREATE_PAUSED. dom may be NULL. */
int xeno_domain_restore(xeno_conn *conn, const char *path, unsigned int flags,
                        xeno_progress_cb cb, void *opaque, xeno_domain **dom);

#define XENO_MIGRATE_LIVE         (1u << 0)   /* pre-copy while the guest runs */
#define XENO_MIGRATE_COMPRESS     (1u << 1)
/* Never slow the guest down to make a live migration converge (by
 * default a guest that dirties memory faster than the link carries it
 * has its vCPUs slowed, as QEMU's auto-converge, until the rest fits the
 * downtime target). */
#define XENO_MIGRATE_NO_AUTO_CONVERGE (1u << 2)
#define XENO_MIGRATE_DEFAULT_PORT 8002

/* Move the running domain to host's xend (its relocation server, port
 * 0 = XENO_MIGRATE_DEFAULT_PORT). downtime_ms: the live migration's target
 * (0 = xend's default, 50); bandwidth_mbps: a limit (0 = none). Returns
 * once the domain runs on host (it is gone here), or with the error (it
 * keeps running here). */
int xeno_domain_migrate(xeno_domain *dom, const char *host, int port, unsigned int flags,
                        unsigned int downtime_ms, unsigned int bandwidth_mbps,
                        xeno_progress_cb cb, void *opaque);

/* ---- events ------------------------------------------------------------ */

typedef enum xeno_event_type {
    XENO_EVENT_UNKNOWN = 0,
    XENO_EVENT_STARTED,
    XENO_EVENT_STOPPED,
    XENO_EVENT_CRASHED,
    XENO_EVENT_PAUSED,
    XENO_EVENT_UNPAUSED,
    XENO_EVENT_SAVED,           /* the domain left its VMM for a save file */
    XENO_EVENT_MIGRATED,        /* the domain left this host */
    XENO_EVENT_PROGRESS,        /* a save, restore or migration progressed */
} xeno_event_type;

typedef struct xeno_event {
    xeno_event_type type;
    char type_name[32];         /* as sent, e.g. "started" */
    char domain[128];           /* domain name */
    int id;                     /* domain ID, -1 if none */
} xeno_event;

typedef struct xeno_event_stream xeno_event_stream;

/* Open the event stream (GET /v1/events) on its own HTTP connection. */
int xeno_event_subscribe(xeno_conn *conn, xeno_event_stream **stream);
/* Wait up to timeout_ms (-1: forever) for the next event.
 * Returns 0 with *ev filled, XENO_ERR_TIMEOUT when none came in time, or
 * another error code (the stream is then finished). */
int xeno_event_next(xeno_event_stream *stream, xeno_event *ev, int timeout_ms);
void xeno_event_close(xeno_event_stream *stream);

#ifdef __cplusplus
}
#endif
#endif
