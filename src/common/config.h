/* Domain configuration: the xl.cfg / xm syntax, parsed into VmConfig.
 *
 * Syntax: `key = value` lines; values are "strings" or 'strings', integers,
 * or [lists, of, values]; `#` comments; a backslash at end of line or an
 * open bracket continues a statement. Errors are reported as
 * "FILE:LINE: message" in the err buffer and nothing is applied. */
#ifndef XENO_CONFIG_H
#define XENO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_DISKS 8
#define CFG_MAX_NICS  8
#define CFG_MAX_FWDS  8
#define CFG_PATH_MAX  4096

enum cfg_action { CFG_ACT_DESTROY = 0, CFG_ACT_RESTART, CFG_ACT_PRESERVE,
                  CFG_ACT_RENAME_RESTART, CFG_ACT_COREDUMP_DESTROY,
                  CFG_ACT_COREDUMP_RESTART };
enum cfg_engine { CFG_ENGINE_AUTO = 0, CFG_ENGINE_EMU, CFG_ENGINE_KVM };
enum cfg_arch { CFG_ARCH_AUTO = 0, CFG_ARCH_RISCV64, CFG_ARCH_X86_64 };
enum cfg_type { CFG_TYPE_NONE = 0, CFG_TYPE_PV, CFG_TYPE_PVH, CFG_TYPE_HVM };
enum cfg_net { CFG_NET_USER = 0, CFG_NET_TAP, CFG_NET_BRIDGE };

typedef struct CfgDisk {
    char path[CFG_PATH_MAX];
    char vdev[32];        /* xvda, hda, vda ... */
    bool readonly;
    bool cdrom;
    char format[16];      /* "raw" */
    char serial[21];      /* virtio-blk serial id (max 20 chars) */
    /* I/O limits (token buckets), 0 = unlimited: bytes/s and requests/s,
     * and how much may go at once (0 = a tenth of a second's worth). */
    uint64_t bps, bps_burst;
    uint64_t iops, iops_burst;
} CfgDisk;

typedef struct CfgFwd {       /* hostfwd: tcp|udp, host addr:port -> guest port */
    bool udp;
    char host_addr[64];       /* "" = 127.0.0.1 */
    uint16_t host_port;
    uint16_t guest_port;
} CfgFwd;

typedef struct CfgNic {
    enum cfg_net type;
    uint8_t mac[6];
    bool mac_set;
    char bridge[32];          /* bridge name (type bridge) */
    char ifname[32];          /* tap device name (type tap/bridge), "" = auto */
    char model[32];           /* "virtio" (others rejected) */
    CfgFwd fwd[CFG_MAX_FWDS];
    unsigned nfwd;
    bool host_loopback;       /* user: the guest may reach the host's 127.0.0.0/8 */
    uint64_t rate_bps;        /* Xen rate=: the guest's transmit, bytes/s (0 = no limit) */
    uint64_t rate_interval_us;/* rate=...@INTERVAL: credit per interval (the burst) */
} CfgNic;

typedef struct VmConfig {
    char name[64];
    uint8_t uuid[16];
    bool uuid_set;
    uint64_t memory_mib;      /* default 256 */
    uint64_t maxmem_mib;      /* 0 = memory */
    unsigned vcpus;           /* default 1 */
    unsigned maxvcpus;        /* 0 = vcpus */
    char kernel[CFG_PATH_MAX];
    char ramdisk[CFG_PATH_MAX];
    char firmware[CFG_PATH_MAX];  /* M-mode firmware (emu) */
    char cmdline[4096];       /* the kernel command line: cmdline, or root= + extra */
    char root[4096];          /* `root` and `extra` as given, so a later */
    char extra[4096];         /* override of one keeps the other intact */
    bool cmdline_given;       /* `cmdline` was set: it wins over root/extra */
    enum cfg_type type;
    enum cfg_engine engine;
    enum cfg_arch arch;
    enum cfg_action on_poweroff, on_reboot, on_crash;
    CfgDisk disk[CFG_MAX_DISKS];
    unsigned ndisks;
    CfgNic nic[CFG_MAX_NICS];
    unsigned nnics;
    bool rng;                 /* virtio-rng (default on) */
    bool balloon;             /* virtio-balloon (default on) */
    bool vconsole;            /* virtio-console (default on) */
} VmConfig;

/* Defaults: memory 256, vcpus 1, on_poweroff destroy, on_reboot restart,
 * on_crash destroy, rng/balloon/vconsole on. */
void config_init(VmConfig *c);

/* Parse config text; `file` names it in messages. Unknown keys produce a
 * warning through warn_cb (may be NULL) and are otherwise ignored.
 * Returns 0, or -1 with "file:line: message" in err. */
typedef void (*config_warn_fn)(void *opaque, const char *msg);
int config_parse(VmConfig *c, const char *file, const char *text, size_t len,
                 config_warn_fn warn, void *opaque, char *err, size_t errlen);
int config_load(VmConfig *c, const char *path, config_warn_fn warn,
                void *opaque, char *err, size_t errlen);

/* Apply one `key=value` override (xm create CONFIG key=value), same syntax
 * as a config line. */
int config_set(VmConfig *c, const char *assignment, char *err, size_t errlen);

/* Parse one disk spec (old "file:/path,xvda,w" or the xl "key=value"/
 * positional form; Xeno extension: "bps=", "iops=", "bps-burst=",
 * "iops-burst=") and one vif spec ("mac=..,bridge=..,model=..,type=..,
 * rate=10Mb/s@50ms", Xeno extensions: "type=user,hostfwd=tcp:127.0.0.1:8080-:80,
 * host-loopback=1"). */
int config_parse_disk(CfgDisk *d, const char *spec, char *err, size_t errlen);
int config_parse_vif(CfgNic *n, const char *spec, char *err, size_t errlen);

/* Semantic checks that need no host access (ranges, required keys).
 * Returns 0 or -1 with a message. */
int config_validate(const VmConfig *c, char *err, size_t errlen);

const char *config_action_name(enum cfg_action a);

/* The configuration as xl.cfg text that config_parse() reads back to the
 * same VmConfig (with the kernel command line in effect as `cmdline`).
 * Returns the length, or -1 if buf is too small (CONFIG_FORMAT_MAX always
 * suffices). */
int config_format(const VmConfig *c, char *buf, size_t size);
#define CONFIG_FORMAT_MAX (192 * 1024)

/* Names as written in a config ("pv", "emu", "riscv64"; "default"/"auto"
 * for the zero values), for messages and `xm list -l`. */
const char *config_type_name(enum cfg_type t);
const char *config_engine_name(enum cfg_engine e);
const char *config_arch_name(enum cfg_arch a);

#endif
