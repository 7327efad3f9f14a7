/* xend internals: the domain registry, supervision of xeno-vmm processes,
 * the state dir and the REST API (docs/protocols.md §2).
 *
 * Locking: one registry mutex (reg_lock) guards every Domain's mutable
 * fields and the registry list; reg_cond is broadcast whenever a domain's
 * state changes. Nothing blocks while holding it: no VMM calls, no
 * process waits, no file I/O. A Domain pointer is used only with a
 * reference (dom_get under reg_lock, or reg_lookup): a lookup's bare
 * pointer is valid only until reg_lock is let go.
 *
 * The state dir must change in the order the registry does (a define and
 * an undefine of one name, a run record and its removal), so a change
 * that is persisted is made under the state lock as well, taken first
 * (reg_update_begin): the files it implies are queued under reg_lock and
 * written, durably (temp, fsync, rename, fsync of the directory), once
 * reg_lock is let go and before the state lock is (reg_update_end). The
 * state lock is never taken while holding reg_lock, and never held across
 * a VMM call or a wait for a VMM. The events module has its own leaf
 * lock. */
#ifndef XEND_H
#define XEND_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/config.h"

#define XEND_MAX_BODY   (1u << 20)     /* larger requests get 413 */
#define XEND_MAX_CONFIG (256u << 10)   /* config text limit */
#define XEND_VERSION    "0.1.0"
#define XEND_DEFAULT_CONFIG "/etc/xeno/xend-config.sxp"

/* How the relocation stream is protected (xend-relocation-tls). */
enum reloc_tls { RELOC_TLS_PSK = 0, RELOC_TLS_X509, RELOC_TLS_NONE };

#define RELOC_DEFAULT_PORT     8002
#define RELOC_DEFAULT_TIMEOUT  30      /* s: a silent peer is given up */
#define RELOC_MAX_ALLOW        32      /* regexes in hosts-allow */

/* The relocation settings of the config file (conf.c). */
typedef struct RelocConf {
    bool server;               /* xend-relocation-server: listen for migrations */
    int port;                  /* xend-relocation-port */
    char address[256];         /* xend-relocation-address ("" = every address) */
    char hosts_allow[4096];    /* xend-relocation-hosts-allow ("" = everyone) */
    enum reloc_tls tls;        /* xend-relocation-tls */
    char psk_file[PATH_MAX];   /* xend-relocation-psk-file */
    char cert_file[PATH_MAX];  /* xend-relocation-cert */
    char key_file[PATH_MAX];   /* xend-relocation-key */
    char ca_file[PATH_MAX];    /* xend-relocation-ca ("" = peers not verified) */
    int timeout_s;             /* xend-relocation-timeout */
} RelocConf;

/* Access to the API (auth.h, docs/protocols.md §2 "Access"). */
typedef struct AccessConf {
    char unix_group[64];       /* xend-unix-group: the full socket's group ("" = root's) */
    int max_conns_per_peer;    /* xend-max-connections-per-peer (uid or IP) */
    char tls_cert[PATH_MAX];   /* xend-tls-cert ("" = STATE/xend-cert.pem, made on first start) */
    char tls_key[PATH_MAX];    /* xend-tls-key ("" = STATE/xend-key.pem) */
} AccessConf;

/* Process-wide settings (main.c). */
typedef struct XendConf {
    char state_dir[PATH_MAX];
    char sock_path[PATH_MAX];
    char sock_ro_path[PATH_MAX];   /* read-only socket ("" = none) */
    char vmm[PATH_MAX];
    char listen_tcp[256];      /* "" or "tcp://host:port" (TLS) / "http://host:port" */
    bool tcp_insecure;         /* --insecure-http: plain HTTP allowed on TCP */
    char config_file[PATH_MAX];
    RelocConf reloc;
    AccessConf access;
    /* xend-image-dirs: where a client without full access may name images
     * and kernels (':'-separated; "" = the defaults, pathpolicy.c) */
    char image_dirs[4096];
    /* xend-save-dirs: where such a client may save to and restore from */
    char save_dirs[4096];
    /* xend-vmm-log-max-size / xend-vmm-log-rotate: a domain's VMM log is
     * rotated past this size, this many old logs kept (logsink.c) */
    long vmm_log_max;
    int vmm_log_keep;
} XendConf;
#define XEND_VMM_LOG_MAX_DEFAULT  (1L << 20)
#define XEND_VMM_LOG_KEEP_DEFAULT 1
extern XendConf xconf;

enum dom_state {
    DS_STOPPED = 0,   /* defined (managed) but not running */
    DS_STARTING,      /* VMM spawned, control socket not answering yet */
    DS_RUNNING,
    DS_PAUSED,
    DS_SHUTDOWN,      /* powered off, preserved (on_poweroff=preserve) */
    DS_CRASHED,       /* crashed, preserved (on_crash=preserve) */
    DS_DYING,         /* destroy in progress */
    DS_SAVED,         /* managed, not running, its state in a save file */
};

/* Why a VMM process ended. */
enum stop_reason { SR_NONE = -1, SR_POWEROFF = 0, SR_REBOOT, SR_CRASH,
                   SR_DESTROYED, SR_ERROR, SR_SAVED, SR_MIGRATED };

/* What a long operation on a domain is doing (one at a time). */
enum dom_job { JOB_NONE = 0, JOB_SAVE, JOB_MIGRATE };

typedef struct Domain {
    struct Domain *next;
    int refs;                  /* atomic; freed at 0 under reg_lock */
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
    bool unresponsive;         /* the last query went unanswered (hung VMM) */

    /* Save, restore, migration. */
    char save_path[PATH_MAX];  /* DS_SAVED: the file to restore at start */
    char save_target[PATH_MAX];/* a save in progress writes here */
    enum dom_job job;
    bool incoming;             /* receiving a migration: not running here yet */
    enum stop_reason last_exit;/* why the last instance ended */
} Domain;

/* ---- registry.c ---- */
extern pthread_mutex_t reg_lock;
extern pthread_cond_t reg_cond;

/* Build a domain from config text (config_parse + overrides); NULL with a
 * message ("FILE:LINE: msg") in err. Not yet in the registry. */
Domain *dom_from_config(const char *file, const char *text, size_t len,
                        const char *const *overrides, size_t noverrides,
                        char *err, size_t errlen);
/* A reference more (the caller holds one already, or reg_lock). */
void dom_get(Domain *d);
void dom_put_locked(Domain *d);
void dom_put(Domain *d);
/* Lookup by name, decimal id or uuid; NULL if absent. Not Domain-0. The
 * _locked forms return a bare pointer, valid while reg_lock is held;
 * reg_lookup returns a reference for the caller (dom_put it). */
Domain *reg_find_locked(const char *key);
Domain *reg_find_name_locked(const char *name);
Domain *reg_lookup(const char *key);
bool reg_is_dom0_key(const char *key);
/* Add (takes the caller's reference); -1 if the name or uuid is taken. */
int reg_add_locked(Domain *d);
void reg_remove_locked(Domain *d);
/* Referenced array of all domains (caller puts each and frees the array). */
size_t reg_snapshot_locked(Domain ***out);
/* A new domain id; the next one is queued for the next-id file. */
int reg_alloc_id_locked(void);
void reg_set_next_id_locked(int next);
int reg_next_id_locked(void);
void reg_clear_locked(void);      /* tests: drop everything */

/* ---- persisted changes (see Locking above) ---- */
extern pthread_mutex_t state_lock;
/* state_lock, then reg_lock. */
void reg_update_begin(void);
/* Let reg_lock go, write the files queued since reg_update_begin in
 * order, let state_lock go. 0, or -1 if one could not be written (each
 * failure is logged). */
int reg_update_end(void);
/* The files of a change, queued under reg_update_begin (outside one, as
 * at startup or in the unit tests' fake VMM layer, they are written at
 * once). Strings are copied. */
void state_queue_next_id(int next);
void state_queue_config(const char *name, const char *text);
void state_queue_delete(const char *name);
void state_queue_autostart(const char *name, bool on);
void state_queue_saved(const char *name, const char *path);
void state_queue_remove_run(int id);

/* Refresh the statistics of all n domains with VMM queries in parallel,
 * each of at most timeout_ms, so that a hung VMM delays the caller by
 * timeout_ms at most. No lock held by the caller. */
void dom_sample_all(Domain **all, size_t n, int timeout_ms);

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
/* The VMM of d (instance id) ended because the domain left it: saved
 * (SR_SAVED) or migrated away (SR_MIGRATED). A saved managed domain
 * stays, as saved when xend knows its file (d->save_target); an unmanaged
 * one is forgotten. A migrated domain is forgotten here, its managed
 * config too (the destination keeps it managed). Emits "saved" or
 * "migrated". */
void dom_left_locked(Domain *d, int id, enum stop_reason why);
/* Why a VMM ended, from its exit record (xeno-vmm's PATH.exit:
 * "poweroff\n"...): the VMM writes the reason over "crash\n" in place, so
 * a host crash in the middle can leave it cut to 6 bytes ("powero"),
 * which still names one reason alone. SR_NONE if it names none. */
enum stop_reason exit_record_reason(const char *text);
/* The state of a domain that does not run: saved (it has a save file to
 * restore) or stopped. */
enum dom_state dom_rest_state(const Domain *d);
/* Claim d for a long job (save, migration): -1 with a message if it does
 * not run or another job has it. */
int dom_job_begin(Domain *d, enum dom_job job, char *err, size_t errlen);
void dom_job_end(Domain *d);

/* ---- savefile.c ---- */
/* What a save file holds, from its header and first record (CONF). */
typedef struct SaveInfo {
    uint32_t arch, engine, flags;
    uint64_t ram_bytes;
    char *config;              /* malloc'd xl.cfg text */
    size_t config_len;
} SaveInfo;
/* Read and check the header and CONF of the save file at path: a Xeno
 * save file (not a migration stream), of an arch and engine this host
 * runs. 0, or -1 with one line in err. */
int savefile_probe(const char *path, SaveInfo *info, char *err, size_t errlen);
void savefile_info_free(SaveInfo *info);

/* ---- supervise.c ---- */
/* How a VMM is started: booted from the config, restored from a save file
 * (--restore), or receiving a migration (--incoming, fd becomes the VMM's
 * fd 3; the caller keeps its copy). */
typedef struct StartOpts {
    const char *restore;       /* save file, or NULL */
    int incoming_fd;           /* -1 = none */
    const char *stream_key;    /* incoming under TLS: the stream's key (hex), on a
                                * pipe as the VMM's fd 4 (--stream-key fd:4) */
    bool paused;               /* --paused */
} StartOpts;
/* One started instance of a domain. */
typedef struct SupLaunch {
    int id;
    uint64_t seq;              /* d->run_seq while this instance lives */
    pid_t pid;
    char name[64];
    char sock[PATH_MAX];
} SupLaunch;
/* Start a VMM for d (state must be stopped); blocks until its control
 * socket answers. Caller holds a reference, not the lock. 0 or -1 + err.
 * A saved domain (DS_SAVED) is restored from its save file, which is
 * removed once the VMM answers when it is xend's managed save. */
int sup_start(Domain *d, char *err, size_t errlen);
/* Start as opts says; o == NULL is sup_start. */
int sup_start_opts(Domain *d, const StartOpts *o, char *err, size_t errlen);
/* The two halves of a start: spawn the VMM (no VMM runs on failure), then
 * wait for its control socket. sup_poll_ready asks once: 1 it answers
 * (the domain now runs), 0 not yet, -1 the VMM ended (err says why). */
int sup_launch(Domain *d, const StartOpts *o, SupLaunch *l, char *err, size_t errlen);
int sup_poll_ready(Domain *d, const SupLaunch *l, char *err, size_t errlen);
/* Kill the VMM of l if it is still that instance. */
void sup_kill(Domain *d, const SupLaunch *l);
/* Destroy the running instance (or clear a preserved one); blocks until the
 * VMM is gone. */
int sup_destroy(Domain *d, char *err, size_t errlen);
/* Wait up to timeout_ms for the instance running at run_seq to end. */
int sup_wait_stopped(Domain *d, uint64_t run_seq, int timeout_ms);
/* The VMM of d (instance run_seq) said its outgoing migration completed:
 * the domain leaves this host now (dom_left_locked, its run record and a
 * managed config go) and the supervision loop only reaps the process. Its
 * exit can take a while (closing a tap device waits for the kernel's RCU
 * grace periods): `xm migrate` need not wait for it. Call between
 * reg_update_begin and reg_update_end; false if that instance already
 * ended (the usual exit handling ran). */
bool sup_depart_locked(Domain *d, uint64_t run_seq);
/* Refresh statistics with a VMM query (no lock held by the caller), of
 * at most SUP_SAMPLE_MS or timeout_ms. A running VMM that does not answer
 * is marked unresponsive (d->unresponsive) until it answers again. */
#define SUP_SAMPLE_MS 1000
void sup_sample(Domain *d);
void sup_sample_ms(Domain *d, int timeout_ms);
/* Re-attach to a VMM left by a previous xend (pidfd: its pidfd, which
 * the domain takes on success; start_time: the run record's, for a VMM
 * that does not answer). */
int sup_attach(Domain *d, int id, pid_t pid, int pidfd, const char *sock, time_t start_time);
/* Processes are signalled through pidfds only, so that a recycled pid is
 * never hit: pidfd_open(2) and pidfd_send_signal(2) (sig 0: is it alive).
 * -1 with errno on failure. */
int sup_pidfd_open(pid_t pid);
int sup_pidfd_signal(int pidfd, int sig);
/* A re-attaching xend found the VMM of d (id) gone; `why` is its exit
 * record ("poweroff", "reboot", "crash", "destroyed") or NULL (crash). */
void sup_exited_while_away(Domain *d, int id, const char *why);
int sup_init(void);
/* Supervision loop (main thread); returns after SIGTERM or SIGINT. */
void sup_run(void);

/* ---- jobs.c: save, restore, migration (the API validates first) ---- */
/* Progress of a long job, relayed as "progress" events. */
typedef struct JobArgs {
    const char *job;           /* the client's job tag for its events, or NULL */
    const char *path;          /* save: absolute file; restore: the file */
    bool checkpoint, compress, paused, managed_save;
    bool full_access;          /* restore: the client may name any host path */
    /* migrate */
    const char *host;
    int port;
    bool live;
    bool auto_converge;        /* slow the guest down when pre-copy does not converge */
    unsigned downtime_ms, bandwidth_mbps, max_rounds;
} JobArgs;
/* Each returns 0, or an HTTP status with a one-line message in err. */
int job_save(Domain *d, const JobArgs *a, char *err, size_t errlen);
/* Restore: the domain of the file, registered and running; *out is a
 * reference for the caller. */
int job_restore(const JobArgs *a, Domain **out, char *err, size_t errlen);
int job_migrate(Domain *d, const JobArgs *a, char *err, size_t errlen);

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
/* The writers (durable, atomic: io_write_file_atomic). Called with
 * state_lock and without reg_lock (see state_queue_*). */
int state_save_next_id(int next);
int state_save_config(const char *name, const char *text);
int state_delete_domain(const char *name);
int state_set_autostart(const char *name, bool on);
/* domains/NAME.saved names the save file of a saved managed domain (path
 * NULL: not saved). */
int state_set_saved(const char *name, const char *path);
/* The managed save file of a domain: STATE/save/NAME.save. */
int state_managed_save_path(char *buf, size_t size, const char *name);
/* run/ID.json: what a re-attaching xend needs of a running VMM. */
typedef struct RunRecord {
    int id;
    pid_t pid;
    char sock[PATH_MAX];
    char name[64];
    char uuid[37];
    bool managed;
    time_t start_time;
} RunRecord;
void run_record_of_locked(const Domain *d, RunRecord *r);
int state_write_run(const RunRecord *r);
void state_remove_run(int id);
char *state_read_log(const char *name, size_t max);
/* Startup: managed domains, re-attach to running VMMs. */
void state_load_all(void);
/* Start managed domains marked autostart (runs in its own thread). */
void state_autostart(void);

/* ---- events.c ---- */
typedef struct EventSub EventSub;
void events_emit(const char *event, const char *name, int id);
/* A "progress" event of a long job: ev holds the job's fields (op, state,
 * bytes...); domain, id and job are added. Takes ev. */
void events_emit_progress(json_t *ev, const char *name, int id, const char *job);
EventSub *events_subscribe(void);
void events_unsubscribe(EventSub *s);
/* Copy pending event lines into buf; waits up to timeout_ms. Returns bytes,
 * 0 on timeout, -1 once xend is stopping. */
long events_read(EventSub *s, char *buf, size_t max, int timeout_ms);
void events_shutdown(void);

/* ---- api.c ---- */
/* What a client may do (auth.h): the zero value is full access, which the
 * HTTP server sets only for the full socket and full tokens. */
enum xend_role { XEND_ROLE_FULL = 0, XEND_ROLE_RO = 1 };

typedef struct ApiRequest {
    const char *method;
    const char *path;
    const char *body;
    size_t len;
    bool local;                /* UNIX socket (console paths allowed) */
    enum xend_role role;
    bool local_root;           /* ... and the peer is root: full access to host
                                * paths (pathpolicy.c) */
} ApiRequest;

typedef struct ApiReply {
    int status;
    char *body;                /* malloc'd JSON text (with newline) */
    bool events;               /* caller streams GET /v1/events */
} ApiReply;

void api_handle(const ApiRequest *rq, ApiReply *rp);
/* Whether the client's role allows the route of rq (method and path; the
 * body is not looked at, so the HTTP server asks before reading it).
 * 0, or -1 after replying: 403 for a read-only client on a route that
 * changes something (or the console), 404/405 for no such route. */
int api_authorize(const ApiRequest *rq, ApiReply *rp);
void api_error(ApiReply *rp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- pathpolicy.c: what a config may name ---- */
/* The directories a client without full access may take images, kernels,
 * initrds and firmware from when xend-image-dirs is not set. */
#define PATHPOLICY_DEFAULT_DIRS "/var/lib/xeno/images:/var/lib/xeno/boot"
/* Check every host path cfg names (disks, kernel, ramdisk, firmware):
 * each is made canonical (realpath: no "..", no symbolic link left), and
 * for a client without full access must be a regular file inside one of
 * `dirs` (':'-separated). `file` names the config in messages. Rewrites
 * cfg's paths to their canonical form; returns 1 if one changed, 0 if
 * none did, or -1 with one line in err (a refused path, with the allowed
 * directories). */
int pathpolicy_check_config(VmConfig *cfg, const char *file, const char *dirs,
                            bool full_access, char *err, size_t errlen);
/* The same for a new domain with xend's directories (xconf.image_dirs, or
 * the defaults plus the default guest's directory and STATE/images); on a
 * change, d->config becomes the config with the canonical paths, which the
 * VMM then opens without following links. 0, or -1 with err. */
int pathpolicy_check(Domain *d, const char *file, bool full_access, char *err, size_t errlen);
/* The directories in force (for messages and xm info): into buf. */
void pathpolicy_dirs(char *buf, size_t size);
/* Where a client without full access may save to and restore from when
 * xend-save-dirs is not set (and STATE/save). */
#define PATHPOLICY_DEFAULT_SAVE_DIRS "/var/lib/xeno/save"
/* A save file named by a client: for one without full access, a save
 * (create) goes to a file name in a directory that is canonically inside
 * the save directories and is not there already as anything but a regular
 * file; a restore reads a regular file canonically inside them. 0, or -1
 * with one line in err. */
int pathpolicy_check_savefile(const char *path, bool create, bool full_access,
                              char *err, size_t errlen);
void pathpolicy_save_dirs(char *buf, size_t size);

/* ---- http.c ---- */
/* The listeners: the UNIX sockets xend bound (full, read-only: -1 = none)
 * and TCP (listen_tcp, TLS with cert/key PEM unless plain). */
struct AuthTokens;
typedef struct HttpSetup {
    int unix_fd, unix_ro_fd;
    const char *tcp;           /* "" = none */
    bool tls;
    const char *cert_pem, *key_pem;
    const struct AuthTokens *tokens;
    unsigned per_peer;         /* connection limit per uid / IP */
} HttpSetup;
int http_start(const HttpSetup *s);
void http_stop(void);

/* ---- conf.c: xend's config file (xend-config.sxp) ---- */
void conf_defaults(XendConf *c);
/* Parse the text of a config file into c (file names the messages).
 * Unknown keys are warned about through warn (may be NULL). 0, or -1 with
 * "FILE:LINE: message" in err. */
int conf_parse(XendConf *c, const char *file, const char *text, size_t len,
               void (*warn)(const char *msg), char *err, size_t errlen);
/* Read the file; a missing file is no error when `optional`. */
int conf_load(XendConf *c, const char *file, bool optional, char *err, size_t errlen);

/* ---- reloc_proto.c: the relocation protocol's messages ---- */
#define RELOC_MAGIC       "XENORELOC"
#define RELOC_VERSION     2    /* 2: the VMMs' own TLS session for the stream */
#define RELOC_STREAM_KEY_HEX 64  /* the stream's one-time key, in hex */
#define RELOC_MAX_REQUEST (XEND_MAX_CONFIG + 4096)

/* What a source asks of a destination. */
typedef struct RelocRequest {
    char name[64];
    char uuid[37];
    char *config;              /* malloc'd */
    bool live, paused, managed, autostart;
} RelocRequest;
/* The request as one JSON line (malloc'd, with "\n"); NULL if out of memory. */
char *reloc_request_encode(const RelocRequest *r);
/* Parse one request line; 0, or -1 with one line in err. */
int reloc_request_parse(const char *line, size_t len, RelocRequest *r, char *err, size_t errlen);
void reloc_request_free(RelocRequest *r);
/* The destination's answer: ok (with the stream's one-time key under TLS:
 * RELOC_STREAM_KEY_HEX hex digits, or NULL), or the reason it refuses. */
char *reloc_answer_encode(const char *error, const char *stream_key);
/* 0 ok (stream_key, of RELOC_STREAM_KEY_HEX + 1 bytes: the key or ""),
 * 1 refused (the reason in error), -1 malformed. */
int reloc_answer_parse(const char *line, size_t len, char *stream_key, char *error, size_t errlen);
/* The plain-text greeting a relocation server sends first:
 * "XENORELOC 2 psk|x509|none" or "XENORELOC 2 refused: REASON". */
int reloc_banner(char *buf, size_t size, enum reloc_tls tls, const char *refusal);
/* 0 with *tls, 1 when the server refused (reason in why), -1 garbage or
 * another protocol version (then why says which; else it is empty). */
int reloc_banner_parse(const char *line, enum reloc_tls *tls, char *why, size_t whylen);
const char *reloc_tls_name(enum reloc_tls t);

/* hosts-allow: space-separated POSIX extended regexes, each matched at the
 * start of the peer's address or name (as Xen's re.match). */
typedef struct RelocAllow RelocAllow;
RelocAllow *reloc_allow_compile(const char *spec, char *err, size_t errlen);
bool reloc_allow_match(const RelocAllow *a, const char *addr, const char *name);
void reloc_allow_free(RelocAllow *a);

/* ---- relocation.c: the relocation server (destination side) ---- */
int reloc_server_start(char *err, size_t errlen);
void reloc_server_stop(void);

/* ---- logsink.c ---- */
int logsink_syslog_start(void);
/* Rotate path if past max bytes, keeping `keep` old copies (path.1 ...):
 * 1 rotated, 0 not needed, -1 error. */
int logsink_rotate_file(const char *path, long max, int keep);
/* A thread that does that every second for every *.log in dir (the VMMs'
 * logs). max 0: nothing to do. */
int logsink_rotate_start(const char *dir, long max, int keep);

#endif
