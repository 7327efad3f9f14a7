/* xend's libvirt server: libvirt's remote RPC protocol (XDR over a UNIX
 * socket, libvirt's src/rpc/virnetprotocol.x and src/remote/
 * remote_protocol.x) spoken by xend itself, so that libvirt's unmodified
 * clients (virsh, virt-install, virt-manager, python3-libvirt) manage the
 * domains of xend's registry. docs/libvirt.md says what is supported.
 *
 * The pieces (one file each):
 *   libvirt_xdr.c      XDR encoding and bounds-checked decoding, the
 *                      message header, libvirt's error codes and messages
 *   libvirt_rpc.c      the sockets, one reader and one writer thread per
 *                      client, framing, dispatch (a thread per call, so
 *                      several calls of one client are in flight), keepalive
 *   libvirt_conn.c     connection and host procedures, capabilities
 *   libvirt_domain.c   domain procedures, over the REST API's own handlers
 *                      (api_handle) and the registry: one truth with xm
 *   libvirt_storage.c  directory storage pools and raw volumes
 *   libvirt_stream.c   console streams (OPEN_CONSOLE)
 *   libvirt_events.c   lifecycle events from the registry to the clients
 *   libvirt_xml.c      domain XML <-> VmConfig, capabilities XML (libxml2)
 *   libvirt_hooks.c    the few calls the rest of xend makes into this
 *                      module (no-ops until the server runs)
 *
 * Errors: a procedure that fails fills an LvError (libvirt's code, and
 * the message with libvirt's prefix for that code, e.g. "Domain not
 * found: no domain with matching name 'x'") and returns -1; the RPC layer
 * sends it as the call's error reply. Nothing is logged for a client's
 * mistake; xend's own problems go to its log.
 *
 * Locking: each client has a lock of its own (its queue, callbacks and
 * streams), the server one for its client list, storage one for its
 * pools. They are leaves below reg_lock: this module takes reg_lock
 * before any of them, never the other way, and the hooks (called with or
 * without reg_lock held) take only leaf locks and never block. */
#ifndef XEND_LIBVIRT_H
#define XEND_LIBVIRT_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"

/* ---- the protocol (virnetprotocol.x, remote_protocol.x) ---- */

#define LV_PROGRAM            0x20008086u   /* REMOTE_PROGRAM */
#define LV_PROTOCOL_VERSION   1u
#define LV_KEEPALIVE_PROGRAM  0x6b656570u   /* "keep" */
#define LV_KEEPALIVE_VERSION  1u
#define LV_KEEPALIVE_PING     1
#define LV_KEEPALIVE_PONG     2

#define LV_MESSAGE_MAX     33554432u  /* a whole message, its length word included */
#define LV_MESSAGE_MIN     28u        /* length word + header */
#define LV_HEADER_LEN      24u
#define LV_STRING_MAX      4194304u   /* REMOTE_STRING_MAX */
#define LV_DOMAIN_LIST_MAX 16384u
#define LV_POOL_LIST_MAX   16384u
#define LV_VOL_LIST_MAX    16384u
#define LV_UUID_LEN        16u

enum lv_msg_type {
    LV_CALL = 0, LV_REPLY = 1, LV_MESSAGE = 2, LV_STREAM = 3,
    LV_CALL_WITH_FDS = 4, LV_REPLY_WITH_FDS = 5, LV_STREAM_HOLE = 6,
};
enum lv_msg_status { LV_OK = 0, LV_ERROR = 1, LV_CONTINUE = 2 };

typedef struct LvHeader {
    uint32_t prog, vers;
    int32_t proc;
    uint32_t type, serial, status;
} LvHeader;

/* The procedures xend serves, by their number in remote_protocol.x. */
enum lv_proc {
    LVP_CONNECT_OPEN = 1, LVP_CONNECT_CLOSE = 2, LVP_CONNECT_GET_TYPE = 3,
    LVP_CONNECT_GET_VERSION = 4, LVP_CONNECT_GET_MAX_VCPUS = 5, LVP_NODE_GET_INFO = 6,
    LVP_CONNECT_GET_CAPABILITIES = 7, LVP_DOMAIN_CREATE = 9, LVP_DOMAIN_CREATE_XML = 10,
    LVP_DOMAIN_DEFINE_XML = 11, LVP_DOMAIN_DESTROY = 12, LVP_DOMAIN_GET_XML_DESC = 14,
    LVP_DOMAIN_GET_AUTOSTART = 15, LVP_DOMAIN_GET_INFO = 16, LVP_DOMAIN_GET_MAX_MEMORY = 17,
    LVP_DOMAIN_GET_MAX_VCPUS = 18, LVP_DOMAIN_GET_OS_TYPE = 19,
    LVP_CONNECT_LIST_DEFINED_DOMAINS = 21, LVP_DOMAIN_LOOKUP_BY_ID = 22,
    LVP_DOMAIN_LOOKUP_BY_NAME = 23, LVP_DOMAIN_LOOKUP_BY_UUID = 24,
    LVP_CONNECT_NUM_OF_DEFINED_DOMAINS = 25, LVP_DOMAIN_REBOOT = 27, LVP_DOMAIN_RESUME = 28,
    LVP_DOMAIN_SET_AUTOSTART = 29, LVP_DOMAIN_SET_MAX_MEMORY = 30, LVP_DOMAIN_SET_MEMORY = 31,
    LVP_DOMAIN_SET_VCPUS = 32, LVP_DOMAIN_SHUTDOWN = 33, LVP_DOMAIN_SUSPEND = 34,
    LVP_DOMAIN_UNDEFINE = 35, LVP_CONNECT_LIST_DOMAINS = 37, LVP_CONNECT_NUM_OF_DOMAINS = 51,
    LVP_DOMAIN_RESTORE = 54, LVP_DOMAIN_SAVE = 55, LVP_CONNECT_GET_HOSTNAME = 59, LVP_CONNECT_SUPPORTS_FEATURE = 60, LVP_AUTH_LIST = 66,
    LVP_CONNECT_NUM_OF_STORAGE_POOLS = 71, LVP_CONNECT_LIST_STORAGE_POOLS = 72,
    LVP_CONNECT_NUM_OF_DEFINED_STORAGE_POOLS = 73, LVP_CONNECT_LIST_DEFINED_STORAGE_POOLS = 74,
    LVP_STORAGE_POOL_CREATE_XML = 76, LVP_STORAGE_POOL_DEFINE_XML = 77,
    LVP_STORAGE_POOL_CREATE = 78, LVP_STORAGE_POOL_BUILD = 79, LVP_STORAGE_POOL_DESTROY = 80,
    LVP_STORAGE_POOL_DELETE = 81, LVP_STORAGE_POOL_UNDEFINE = 82,
    LVP_STORAGE_POOL_REFRESH = 83, LVP_STORAGE_POOL_LOOKUP_BY_NAME = 84,
    LVP_STORAGE_POOL_LOOKUP_BY_UUID = 85, LVP_STORAGE_POOL_LOOKUP_BY_VOLUME = 86,
    LVP_STORAGE_POOL_GET_INFO = 87, LVP_STORAGE_POOL_GET_XML_DESC = 88,
    LVP_STORAGE_POOL_GET_AUTOSTART = 89, LVP_STORAGE_POOL_SET_AUTOSTART = 90,
    LVP_STORAGE_POOL_NUM_OF_VOLUMES = 91, LVP_STORAGE_POOL_LIST_VOLUMES = 92,
    LVP_STORAGE_VOL_CREATE_XML = 93, LVP_STORAGE_VOL_DELETE = 94,
    LVP_STORAGE_VOL_LOOKUP_BY_NAME = 95, LVP_STORAGE_VOL_LOOKUP_BY_KEY = 96,
    LVP_STORAGE_VOL_LOOKUP_BY_PATH = 97, LVP_STORAGE_VOL_GET_INFO = 98,
    LVP_STORAGE_VOL_GET_XML_DESC = 99, LVP_STORAGE_VOL_GET_PATH = 100,
    LVP_NODE_GET_CELLS_FREE_MEMORY = 101, LVP_NODE_GET_FREE_MEMORY = 102,
    LVP_CONNECT_GET_URI = 110, LVP_CONNECT_IS_SECURE = 149, LVP_DOMAIN_IS_ACTIVE = 150,
    LVP_DOMAIN_IS_PERSISTENT = 151, LVP_STORAGE_POOL_IS_ACTIVE = 154,
    LVP_STORAGE_POOL_IS_PERSISTENT = 155, LVP_CONNECT_GET_LIB_VERSION = 157, LVP_DOMAIN_MEMORY_STATS = 159,
    LVP_CONNECT_DOMAIN_EVENT_REGISTER_ANY = 167, LVP_DOMAIN_MANAGED_SAVE = 182,
    LVP_DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183, LVP_DOMAIN_MANAGED_SAVE_REMOVE = 184,
    LVP_DOMAIN_CREATE_WITH_FLAGS = 196, LVP_DOMAIN_SET_VCPUS_FLAGS = 199,
    LVP_DOMAIN_GET_VCPUS_FLAGS = 200, LVP_DOMAIN_OPEN_CONSOLE = 201,
    LVP_DOMAIN_IS_UPDATED = 202, LVP_DOMAIN_SET_MEMORY_FLAGS = 204,
    LVP_DOMAIN_GET_STATE = 212, LVP_DOMAIN_GET_CONTROL_INFO = 229,
    LVP_DOMAIN_UNDEFINE_FLAGS = 231, LVP_DOMAIN_SAVE_FLAGS = 232,
    LVP_DOMAIN_RESTORE_FLAGS = 233, LVP_DOMAIN_DESTROY_FLAGS = 234,
    LVP_DOMAIN_SHUTDOWN_FLAGS = 258, LVP_CONNECT_LIST_ALL_DOMAINS = 273,
    LVP_CONNECT_LIST_ALL_STORAGE_POOLS = 281, LVP_STORAGE_POOL_LIST_ALL_VOLUMES = 282,
    LVP_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316,
    LVP_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317,
    LVP_DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318, LVP_CONNECT_GET_DOMAIN_CAPABILITIES = 342,
    LVP_CONNECT_GET_ALL_DOMAIN_STATS = 344, LVP_DOMAIN_DEFINE_XML_FLAGS = 350,
    LVP_CONNECT_REGISTER_CLOSE_CALLBACK = 360, LVP_CONNECT_UNREGISTER_CLOSE_CALLBACK = 361,
    LVP_STORAGE_VOL_GET_INFO_FLAGS = 378, LVP_STORAGE_POOL_LOOKUP_BY_TARGET_PATH = 391,
    LVP_PROC_MAX = 443,            /* the last procedure of libvirt 9.0 */
};

/* The libvirt API name of a procedure ("virDomainSnapshotNum"), for the
 * "not supported" message; NULL for numbers libvirt does not have. */
const char *lv_proc_api_name(int proc, char *buf, size_t size);

/* ---- libvirt's errors (virterror.h) ---- */

enum lv_err {
    LV_ERR_INTERNAL_ERROR = 1, LV_ERR_NO_MEMORY = 2, LV_ERR_NO_SUPPORT = 3,
    LV_ERR_NO_CONNECT = 5, LV_ERR_INVALID_ARG = 8, LV_ERR_OPERATION_FAILED = 9,
    LV_ERR_XML_ERROR = 27, LV_ERR_DOM_EXIST = 28, LV_ERR_OPERATION_DENIED = 29,
    LV_ERR_RPC = 39, LV_ERR_NO_DOMAIN = 42, LV_ERR_NO_STORAGE_POOL = 49,
    LV_ERR_NO_STORAGE_VOL = 50, LV_ERR_OPERATION_INVALID = 55, LV_ERR_CONFIG_UNSUPPORTED = 67,
    LV_ERR_OPERATION_TIMEOUT = 68, LV_ERR_ARGUMENT_UNSUPPORTED = 74,
    LV_ERR_AGENT_UNRESPONSIVE = 86, LV_ERR_STORAGE_VOL_EXIST = 90,
};
enum lv_from {
    LV_FROM_XEN = 1, LV_FROM_DOM = 6, LV_FROM_RPC = 7, LV_FROM_REMOTE = 13,
    LV_FROM_STORAGE = 18, LV_FROM_DOMAIN = 20, LV_FROM_STREAMS = 38,
};

typedef struct LvError {
    int code;                  /* enum lv_err; 0 = none */
    int domain;                /* enum lv_from */
    char msg[1024];            /* one line, with libvirt's prefix */
} LvError;

/* Set e: code, and the message "PREFIX: DETAIL" with libvirt's prefix for
 * the code ("Domain not found", "Requested operation is not valid"...).
 * Returns -1, for `return lv_error(...)`. */
int lv_error(LvError *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- XDR (RFC 4506): big-endian, 4-byte units ---- */

/* An encoder: a growing buffer that refuses to pass max bytes (err set,
 * and every later put does nothing). */
typedef struct XdrBuf {
    uint8_t *p;
    size_t len, cap, max;
    bool err;
} XdrBuf;

void xdr_buf_init(XdrBuf *b, size_t max);
void xdr_buf_free(XdrBuf *b);
void xdr_put_u32(XdrBuf *b, uint32_t v);
void xdr_put_i32(XdrBuf *b, int32_t v);
void xdr_put_u64(XdrBuf *b, uint64_t v);
void xdr_put_i64(XdrBuf *b, int64_t v);
void xdr_put_double(XdrBuf *b, double v);
/* Fixed-length opaque (no length word), padded to 4. */
void xdr_put_fixed(XdrBuf *b, const void *data, size_t n);
/* Variable-length opaque: length, bytes, padding. */
void xdr_put_opaque(XdrBuf *b, const void *data, size_t n);
void xdr_put_string(XdrBuf *b, const char *s);
/* An optional string (remote_string): 0, or 1 and the string. */
void xdr_put_opt_string(XdrBuf *b, const char *s);
/* `char name[n]`: rpcgen gives every char its own 4-byte unit. */
void xdr_put_char_array(XdrBuf *b, const char *s, size_t n);

/* A decoder over one message's payload. Getters never read past the end:
 * a failure sets err (and why) and returns 0/NULL; later getters do
 * nothing. Strings and arrays are checked against their limit and the
 * bytes left before anything is allocated; decoded strings belong to the
 * decoder (freed by xdr_dec_free). */
typedef struct XdrDec {
    const uint8_t *p;
    size_t len, off;
    bool err;
    char why[128];
    void **allocs;
    size_t nallocs, capallocs;
} XdrDec;

void xdr_dec_init(XdrDec *d, const void *p, size_t len);
void xdr_dec_free(XdrDec *d);
uint32_t xdr_get_u32(XdrDec *d);
int32_t xdr_get_i32(XdrDec *d);
uint64_t xdr_get_u64(XdrDec *d);
int64_t xdr_get_i64(XdrDec *d);
bool xdr_get_bool(XdrDec *d);
void xdr_get_fixed(XdrDec *d, void *out, size_t n);
/* A string of at most max bytes without NUL bytes; "" after a failure. */
const char *xdr_get_string(XdrDec *d, size_t max);
/* An optional string: NULL when absent (or after a failure). */
const char *xdr_get_opt_string(XdrDec *d, size_t max);
/* An array count, checked against max and against the bytes left
 * (each element takes at least min_elem_bytes). */
uint32_t xdr_get_count(XdrDec *d, uint32_t max, size_t min_elem_bytes);
/* 0 when everything decoded and nothing is left over; else -1 with e set
 * (VIR_ERR_RPC, "malformed arguments: ..."). */
int xdr_dec_finish(XdrDec *d, LvError *e);

/* The message header. */
void lv_header_put(XdrBuf *b, const LvHeader *h);
int lv_header_get(XdrDec *d, LvHeader *h);

/* A domain reference as the protocol carries it (remote_nonnull_domain). */
typedef struct LvDomRef {
    const char *name;
    uint8_t uuid[LV_UUID_LEN];
    int32_t id;
} LvDomRef;
void lv_put_domain(XdrBuf *b, const char *name, const char *uuid_str, int id);
void lv_get_domain(XdrDec *d, LvDomRef *r);
/* remote_error for e. */
void lv_put_error(XdrBuf *b, const LvError *e);
/* Typed parameters (remote_typed_param), for domain statistics. */
enum lv_typed { LV_TP_INT = 1, LV_TP_UINT, LV_TP_LLONG, LV_TP_ULLONG, LV_TP_DOUBLE,
                LV_TP_BOOLEAN, LV_TP_STRING };
void lv_put_tp_uint(XdrBuf *b, const char *field, uint32_t v);
void lv_put_tp_int(XdrBuf *b, const char *field, int32_t v);
void lv_put_tp_ullong(XdrBuf *b, const char *field, uint64_t v);
void lv_put_tp_string(XdrBuf *b, const char *field, const char *v);

/* UUID text (8-4-4-4-12, or 32 hex digits) to bytes; -1 if malformed. */
int lv_uuid_parse(const char *s, uint8_t out[LV_UUID_LEN]);
void lv_uuid_format(const uint8_t u[LV_UUID_LEN], char out[37]);

/* ---- one message on the wire ---- */

/* A frame read from a client: the header and its payload (p, len). The
 * length word is checked first: LV_MESSAGE_MIN..LV_MESSAGE_MAX. */
int lv_frame_length(const uint8_t word[4], uint32_t *len, LvError *e);

/* ---- the server (libvirt_rpc.c) ---- */

typedef struct LvConn LvConn;

/* One call being served: the decoded arguments, the reply being built. */
typedef struct LvCall {
    LvConn *conn;
    LvHeader hdr;
    XdrDec in;
    XdrBuf out;
    LvError err;
    bool replied;              /* the handler sent its reply itself (streams) */
} LvCall;

typedef int (*LvProcFn)(LvCall *c);

enum {
    LVF_RO      = 1 << 0,      /* allowed on a read-only connection */
    LVF_PREOPEN = 1 << 1,      /* allowed before CONNECT_OPEN */
};

typedef struct LvProc {
    int proc;
    LvProcFn fn;
    unsigned flags;
} LvProc;

/* Each module's procedures. */
extern const LvProc lv_conn_procs[];
extern const size_t lv_conn_nprocs;
extern const LvProc lv_domain_procs[];
extern const size_t lv_domain_nprocs;
extern const LvProc lv_storage_procs[];
extern const size_t lv_storage_nprocs;
extern const LvProc lv_stream_procs[];
extern const size_t lv_stream_nprocs;
extern const LvProc lv_event_procs[];
extern const size_t lv_event_nprocs;

/* Where the server listens (lv_configure). "" = not at all. */
typedef struct LvConf {
    char sock[PATH_MAX];       /* read-write: STATE/../libvirt-sock, mode 0660 group xeno */
    char sock_ro[PATH_MAX];    /* read-only procedures, mode 0666 */
    char compat[PATH_MAX];     /* libvirt's own path for xen:///system, when free */
    char compat_ro[PATH_MAX];
} LvConf;

/* From xend's options: sock (NULL: libvirt-sock next to xend's socket,
 * "none": no libvirt server) and compat (NULL: /run/libvirt/virtxend-sock
 * when xend's socket is the default one, "none": never). 0, or -1 with a
 * message. */
int lv_configure(const char *sock, const char *compat, const char *xend_sock,
                 char *err, size_t errlen);
/* Everything but the sockets: the storage pools, the events' knowledge of
 * the registry, the hooks (lv_server_start does it; the tests alone). */
int lv_server_attach(char *err, size_t errlen);
/* Bind the sockets and start serving; 0, or -1 with a message. */
int lv_server_start(char *err, size_t errlen);
void lv_server_stop(void);
/* Serve one already-connected client (tests): its threads start at once. */
int lv_serve_fd(int fd, bool readonly);
/* How long a frame begun may pause (30 s; tests shorten it). */
void lv_set_frame_idle_ms(int ms);

/* A client: whether it is read-only (its socket, or CONNECT_OPEN's flag). */
bool lv_conn_readonly(const LvConn *c);
/* CONNECT_OPEN succeeded (read-only when the client asked for it). */
void lv_conn_set_open(LvConn *c, bool readonly);
/* Queue a message on the client's writer. kind says what may wait:
 * replies are always queued; events are dropped with the client when it
 * has not read 16 MiB of them; stream data waits (up to timeout) until the
 * client has read what was queued before. Returns 0, or -1 (client gone,
 * or timed out). The frame is built here from h and payload. */
enum lv_send_kind { LV_SEND_REPLY, LV_SEND_EVENT, LV_SEND_STREAM };
int lv_conn_send(LvConn *c, const LvHeader *h, const void *payload, size_t len,
                 enum lv_send_kind kind);
void lv_conn_get(LvConn *c);
void lv_conn_put(LvConn *c);
/* Has the client gone (reader saw EOF or a protocol error)? */
bool lv_conn_closed(LvConn *c);
/* Bytes big frames hold now (a budget of 256 MiB for all clients). */
size_t lv_frames_held(void);
/* Clients whose state still exists (their last call or stream may still
 * run after they went): 0 once every thread of every client is done. */
unsigned lv_conns_live(void);
/* Every connected client, referenced (caller puts each, frees the array). */
size_t lv_conns_snapshot(LvConn ***out);
/* Per-client state of the other modules, kept with the connection. */
typedef struct LvEventCbs LvEventCbs;
LvEventCbs *lv_conn_event_cbs(LvConn *c);
typedef struct LvStreams LvStreams;
LvStreams *lv_conn_streams(LvConn *c);

/* ---- events (libvirt_events.c) ---- */

LvEventCbs *lv_event_cbs_new(void);
void lv_event_cbs_free(LvEventCbs *cbs);
/* A lifecycle event of a domain (libvirt's type and detail numbers). */
void lv_event_lifecycle(const char *name, const char *uuid, int id, int type, int detail);
/* The hooks' implementation (installed by lv_server_start). */
void lv_events_domain_added(const char *name, const char *uuid);
void lv_events_xend_event(const char *event, const char *name, int id);
void lv_events_defined(const char *name, const char *uuid, bool defined);
/* A stop through libvirt's destroy: the next "stopped" of uuid is
 * DESTROYED, not SHUTDOWN. */
void lv_events_note_destroy(const char *uuid);
void lv_events_reset(void);

enum lv_event_type { LVE_DEFINED = 0, LVE_UNDEFINED, LVE_STARTED, LVE_SUSPENDED, LVE_RESUMED,
                     LVE_STOPPED, LVE_SHUTDOWN, LVE_PMSUSPENDED, LVE_CRASHED };

/* ---- streams (libvirt_stream.c) ---- */

LvStreams *lv_streams_new(void);
/* Close every stream of a client that went away (their threads end). */
void lv_streams_close_all(LvStreams *s);
void lv_streams_free(LvStreams *s);
/* A STREAM message from the client (the reader thread): data, finish or
 * abort of the stream (proc, serial). */
void lv_stream_incoming(LvConn *c, const LvHeader *h, const uint8_t *p, size_t len);

/* ---- domains (libvirt_domain.c), shared with the other modules ---- */

/* Send an internal REST request (the REST API's own handlers, as on the
 * local socket); *result is the JSON body of a success (may be NULL).
 * Failures become e: 404 NO_DOMAIN, 409 OPERATION_INVALID, 400
 * INVALID_ARG... Returns 0 or -1. */
int lv_rest(const char *method, const char *path, json_t *body, json_t **result, LvError *e);

/* ---- host facts for XML (libvirt_conn.c) ---- */

/* What this host runs, for capabilities and to check a domain's arch. */
typedef struct LvArchs {
    bool riscv64;              /* emu: always */
    bool x86_64;               /* kvm, where it runs fast */
    char x86_refusal[256];     /* why not, when it does not */
    char host_arch[65];        /* uname -m */
    char emulator[PATH_MAX];   /* xeno-vmm */
} LvArchs;
/* (Probed at most every 30 s.) */
void lv_host_archs(LvArchs *a);

/* ---- domain XML <-> VmConfig (libvirt_xml.c) ---- */

/* Looks a storage volume up for <disk type='volume'>: its path. */
typedef int (*LvVolResolver)(const char *pool, const char *vol, char *path, size_t size,
                             LvError *e);

typedef struct LvXmlCtx {
    const LvArchs *archs;
    LvVolResolver resolve;     /* may be NULL: type='volume' is refused */
} LvXmlCtx;

/* Parse a domain XML into cfg (initialised here). Everything the XML asks
 * for is honoured or refused with a message naming the element
 * (VIR_ERR_CONFIG_UNSUPPORTED; malformed XML VIR_ERR_XML_ERROR); what has
 * no effect on a Xeno machine (metadata, features, clock) is accepted. */
int lvxml_parse_domain(const char *xml, size_t len, const LvXmlCtx *ctx, VmConfig *cfg,
                       LvError *e);

/* What an XML description shows besides the config. */
typedef struct LvDomXmlInfo {
    int id;                    /* -1: inactive (no id attribute) */
    const char *uuid;          /* the registry's uuid */
    uint64_t mem_kib, maxmem_kib;  /* 0: from the config */
    unsigned vcpus, maxvcpus;  /* 0: from the config */
    const char *emulator;
    const char *host_arch;     /* Domain-0's arch */
} LvDomXmlInfo;
/* The domain XML of cfg (malloc'd), NULL if out of memory. */
char *lvxml_format_domain(const VmConfig *cfg, const LvDomXmlInfo *info);
/* Domain-0's XML: the host. */
char *lvxml_format_dom0(uint64_t mem_kib, unsigned cpus, const char *host_arch);

/* The capabilities and domain capabilities XML (malloc'd). */
char *lvxml_capabilities(const LvArchs *a, const char *host_uuid);
/* arch/virttype/machine may be NULL; NULL with e set when this host has no
 * such guest. */
char *lvxml_domain_capabilities(const LvArchs *a, const char *arch, const char *virttype,
                                const char *machine, LvError *e);

/* Storage pool and volume XML. */
typedef struct LvPoolDef {
    char name[128];
    uint8_t uuid[LV_UUID_LEN];
    bool uuid_set;
    char path[PATH_MAX];
} LvPoolDef;
int lvxml_parse_pool(const char *xml, size_t len, LvPoolDef *p, LvError *e);
typedef struct LvPoolXmlInfo {
    bool active;
    uint64_t capacity, allocation, available;
} LvPoolXmlInfo;
char *lvxml_format_pool(const LvPoolDef *p, const LvPoolXmlInfo *info);
typedef struct LvVolDef {
    char name[256];
    uint64_t capacity, allocation;
    bool allocation_set;
} LvVolDef;
int lvxml_parse_vol(const char *xml, size_t len, LvVolDef *v, LvError *e);
typedef struct LvVolXmlInfo {
    const char *name, *path, *pool;
    uint64_t capacity, allocation;
    unsigned mode, uid, gid;
} LvVolXmlInfo;
char *lvxml_format_vol(const LvVolXmlInfo *v);

/* A size with libvirt's units ("b", "KiB", "G"...; "" = default_unit) in
 * bytes; -1 if the unit is unknown or it overflows. */
int lvxml_scale(uint64_t value, const char *unit, const char *default_unit, uint64_t *bytes);

/* ---- storage (libvirt_storage.c) ---- */

/* The pools persist in STATE/pools; "default" (STATE/images) is made at
 * the first start. */
int lv_storage_init(char *err, size_t errlen);
int lv_storage_resolve(const char *pool, const char *vol, char *path, size_t size, LvError *e);

/* ---- hooks into the rest of xend (libvirt_hooks.c) ---- */

typedef struct LvHookOps {
    void (*domain_added)(const char *name, const char *uuid);
    void (*event)(const char *event, const char *name, int id);
    void (*defined)(const char *name, const char *uuid, bool defined);
    void (*host_json)(json_t *host);
} LvHookOps;
void lv_hooks_install(const LvHookOps *ops);
/* registry.c: a domain joined the registry (called with reg_lock held). */
void lv_hook_domain_added(const char *name, const char *uuid);
/* events.c: every registry event ("started", "stopped"...). */
void lv_hook_event(const char *event, const char *name, int id);
/* api.c: a managed domain was defined (xm new) or undefined (xm delete). */
void lv_hook_defined(const char *name, const char *uuid, bool defined);
/* api.c: GET /v1/host gains "libvirt": where the server listens. */
void lv_hook_host_json(json_t *host);

#endif
