/* Host capabilities: what this computer can run, and how fast.
 *
 * Answers `xm info` (through xend's GET /v1/host) and the engine choice of
 * xeno-vmm and xend: the CPU, whether it has hardware virtualization
 * (vmx/svm in /proc/cpuinfo), whether /dev/kvm really works, and whether
 * that KVM is the paging-based nested kind (kvm_pvm) that runs small
 * freestanding guests but not an unmodified x86-64 Linux kernel.
 *
 * The parsers take text and are pure, so the unit tests feed them fixture
 * files; hostcaps_probe_at() reads the files under a root prefix so the
 * tests can fake /proc, /dev/kvm and /sys. */
#ifndef XENO_HOSTCAPS_H
#define XENO_HOSTCAPS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum HostKvm {
    HOSTCAPS_KVM_ABSENT = 0,    /* no /dev/kvm */
    HOSTCAPS_KVM_UNUSABLE,      /* /dev/kvm there but open/API/CREATE_VM failed */
    HOSTCAPS_KVM_USABLE,        /* API version 12 and KVM_CREATE_VM works */
} HostKvm;

typedef struct HostCaps {
    /* From /proc/cpuinfo (first processor; nr_cpus counts them). */
    char cpu_vendor[32];        /* vendor_id: "GenuineIntel", "AuthenticAMD", "" */
    char cpu_model[128];        /* model name */
    double cpu_mhz;             /* 0 if unknown */
    unsigned nr_cpus;
    bool vmx, svm;              /* the flags, as whole words */
    /* From /proc/meminfo. */
    uint64_t total_memory_mib;
    uint64_t free_memory_mib;   /* MemAvailable (MemFree on old kernels) */
    /* /dev/kvm and /sys/module/kvm_pvm. */
    HostKvm kvm;
    char kvm_error[128];        /* why kvm is not USABLE, one line; "" if usable */
    bool kvm_pvm;               /* paging-based nested KVM module loaded */
} HostCaps;

/* ---- pure parsing (no I/O) ---- */

/* Fill the cpuinfo fields of c from the text of /proc/cpuinfo. Unknown or
 * malformed lines are ignored; missing fields stay empty/zero. */
void hostcaps_parse_cpuinfo(HostCaps *c, const char *text);

/* Fill total/free memory from the text of /proc/meminfo. */
void hostcaps_parse_meminfo(HostCaps *c, const char *text);

/* ---- probing ---- */

/* Probe this host: hostcaps_probe_at(c, NULL). */
int hostcaps_probe(HostCaps *c);

/* Probe with every path under root ("" or NULL = the real host): reads
 * ROOT/proc/cpuinfo and ROOT/proc/meminfo, tries ROOT/dev/kvm (open,
 * KVM_GET_API_VERSION == 12, KVM_CREATE_VM, close) and looks for
 * ROOT/sys/module/kvm_pvm. Always fills c (zeroed first); returns 0, or -1
 * when /proc/cpuinfo could not be read (the rest is still filled). */
int hostcaps_probe_at(HostCaps *c, const char *root);

/* ---- host memory ---- */

/* This host's memory in bytes: MemTotal and MemAvailable (MemFree on
 * kernels without it) from /proc/meminfo, else sysconf's physical and free
 * pages. Either pointer may be NULL. Returns 0, or -1 when the total is
 * unknown (then both are 0). The one memory query of the tree: xend's
 * Domain-0 and host figures use it. */
int host_memory(uint64_t *total_bytes, uint64_t *available_bytes);

/* ---- conclusions ---- */

/* vmx or svm present. */
bool hostcaps_hvm(const HostCaps *c);

/* x86-64 guests (Linux included) run at hardware speed on kvm here. */
bool hostcaps_kvm_fast(const HostCaps *c);

/* "hvm" or "none" (Xen's virt_caps). */
const char *hostcaps_virt_caps(const HostCaps *c);

/* "vmx", "svm" or "none". */
const char *hostcaps_hw_virt(const HostCaps *c);

/* One phrase for the kvm state: "usable", "absent",
 * "usable, paging-based nested (kvm_pvm)", "unusable: REASON". Written to
 * buf (always NUL-terminated); returns buf. */
const char *hostcaps_kvm_status(const HostCaps *c, char *buf, unsigned n);

/* What each engine can run here, one line, e.g.
 * "emu: riscv64 (software); kvm: x86-64 (hardware)". Returns buf. */
const char *hostcaps_engines(const HostCaps *c, char *buf, unsigned n);

/* The refusal for a guest that wants an x86-64 engine chosen for speed
 * (type = "hvm" or "pv"), or NULL when kvm runs x86-64 guests fast here.
 * want_x86 == 0 (a riscv64 guest on emu) always gets NULL. One line,
 * without the "Error: " prefix, e.g. "this host has no vmx/svm: x86-64
 * guests need hardware virtualization; use a riscv64 guest (engine =
 * \"emu\")". The string is static or thread-local (valid until the
 * next call in the same thread). */
const char *hostcaps_engine_error(const HostCaps *c, int want_x86);

/* The refusal for an explicit engine = "kvm" (or --engine kvm): NULL when
 * /dev/kvm is usable, even without vmx/svm (freestanding test guests run
 * on the paging-based nested KVM), else one line naming the reason.
 * Points into c or is static. */
const char *hostcaps_kvm_error(const HostCaps *c);

/* ---- the VMM sandbox (docs/sandbox.md) ---- */

/* The unprivileged user a VMM started as root runs as. */
#define HOSTCAPS_SANDBOX_USER "xeno"

/* False when XENO_SANDBOX is 0, off, no or false (any case): the VMMs run
 * without their sandbox. xeno-vmm and xend both read it here. */
bool hostcaps_sandbox_enabled(void);

/* What a VMM started by this process (xend) would get. */
typedef struct HostSandbox {
    bool enabled;               /* hostcaps_sandbox_enabled() */
    bool seccomp;               /* the kernel kills on a seccomp filter's word */
    bool as_root;               /* VMMs start as root: they change user */
    bool user;                  /* the sandbox user exists (and is not root) */
    bool namespaces;            /* new mount, PID and IPC namespaces and a
                                 * tmpfs root work here (tried in a child) */
} HostSandbox;

/* Probe this host. Forks a short-lived child to try the namespaces. */
void hostcaps_probe_sandbox(HostSandbox *s);

/* The layers, one line, e.g. "on: seccomp (per thread), no_new_privs, no
 * capabilities, user xeno, mount+pid+ipc namespaces, empty root, W^X JIT";
 * "off (XENO_SANDBOX=0)"; or why VMMs cannot start. Returns buf. */
const char *hostcaps_sandbox_layers(const HostSandbox *s, char *buf, unsigned n);

#endif
