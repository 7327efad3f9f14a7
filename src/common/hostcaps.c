/* Host capabilities (hostcaps.h): parse /proc, probe /dev/kvm, conclude. */
#include "common/hostcaps.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sched.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>

#define KVM_API_WANTED  12
#define PROC_MAX        (8u << 20)  /* cpuinfo of a very large host fits */

/* ---- parsing ------------------------------------------------------------ */

/* Copy s[0..len) trimmed, with anything but printable ASCII replaced by
 * '?': the text ends up in JSON (which wants UTF-8) and on terminals. */
static void copy_clean(char *dst, size_t n, const char *s, size_t len)
{
    size_t o = 0;

    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (n)
        dst[o] = 0;
}

/* Split one "key<space>: value" line. Returns false if there is no colon.
 * The key is trimmed into key[]; val, vlen is the untrimmed value. */
static bool split_line(const char *line, size_t len, char *key, size_t keyn,
                       const char **val, size_t *vlen)
{
    const char *colon = memchr(line, ':', len);

    if (!colon)
        return false;
    copy_clean(key, keyn, line, (size_t)(colon - line));
    *val = colon + 1;
    *vlen = len - (size_t)(colon + 1 - line);
    return true;
}

/* Is word (a whole, space-separated token) in s[0..len)? */
static bool has_word(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word), i = 0;

    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i - start == wl && !memcmp(s + start, word, wl))
            return true;
    }
    return false;
}

/* Call fn for each "key: value" line of text. */
typedef void line_fn(void *ctx, const char *key, const char *val, size_t vlen);

static void for_each_line(const char *text, line_fn *fn, void *ctx)
{
    const char *p = text;

    if (!text)
        return;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char key[64];
        const char *val;
        size_t vlen;

        if (split_line(p, len, key, sizeof(key), &val, &vlen))
            fn(ctx, key, val, vlen);
        if (!nl)
            break;
        p = nl + 1;
    }
}

static void cpuinfo_line(void *ctx, const char *key, const char *val, size_t vlen)
{
    HostCaps *c = ctx;

    if (!strcmp(key, "processor")) {
        if (c->nr_cpus < UINT_MAX)
            c->nr_cpus++;
    } else if (!strcmp(key, "vendor_id")) {
        if (!c->cpu_vendor[0])
            copy_clean(c->cpu_vendor, sizeof(c->cpu_vendor), val, vlen);
    } else if (!strcmp(key, "model name")) {
        if (!c->cpu_model[0])
            copy_clean(c->cpu_model, sizeof(c->cpu_model), val, vlen);
    } else if (!strcmp(key, "cpu MHz")) {
        char num[32];
        char *end;

        copy_clean(num, sizeof(num), val, vlen);
        double mhz = strtod(num, &end);
        if (c->cpu_mhz == 0 && end != num && !*end && isfinite(mhz) && mhz > 0 && mhz < 1e6)
            c->cpu_mhz = mhz;
    } else if (!strcmp(key, "flags")) {
        /* Any processor with the flag counts: the kernel shows the same
         * set on each, and a partial one still means the CPU has it. */
        c->vmx |= has_word(val, vlen, "vmx");
        c->svm |= has_word(val, vlen, "svm");
    }
}

void hostcaps_parse_cpuinfo(HostCaps *c, const char *text)
{
    for_each_line(text, cpuinfo_line, c);
}

/* MemTotal, MemAvailable, MemFree in KiB; UINT64_MAX when absent. */
struct meminfo { uint64_t total, avail, free; };

static void meminfo_line(void *ctx, const char *key, const char *val, size_t vlen)
{
    struct meminfo *m = ctx;
    uint64_t *dst = !strcmp(key, "MemTotal") ? &m->total :
                    !strcmp(key, "MemAvailable") ? &m->avail :
                    !strcmp(key, "MemFree") ? &m->free : NULL;
    char num[48];
    char *end;

    if (!dst)
        return;
    copy_clean(num, sizeof(num), val, vlen);
    if (num[0] < '0' || num[0] > '9')
        return;
    errno = 0;
    unsigned long long kib = strtoull(num, &end, 10);
    if (errno)
        return;
    while (*end == ' ')
        end++;
    if (!*end || !strcmp(end, "kB"))
        *dst = kib;
}

static uint64_t kib_to_bytes(uint64_t kib)
{
    return kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024;
}

/* Total and available bytes (0 = unknown) from the text of /proc/meminfo:
 * MemAvailable (what can be given to guests without swapping) when the
 * kernel has it, else MemFree. */
static void meminfo_bytes(const char *text, uint64_t *total, uint64_t *avail)
{
    struct meminfo m = { UINT64_MAX, UINT64_MAX, UINT64_MAX };
    uint64_t f;

    for_each_line(text, meminfo_line, &m);
    f = m.avail != UINT64_MAX ? m.avail : m.free;
    *total = m.total != UINT64_MAX ? kib_to_bytes(m.total) : 0;
    *avail = f != UINT64_MAX ? kib_to_bytes(f) : 0;
}

void hostcaps_parse_meminfo(HostCaps *c, const char *text)
{
    uint64_t total, avail;

    meminfo_bytes(text, &total, &avail);
    c->total_memory_mib = total >> 20;
    c->free_memory_mib = avail >> 20;
}

/* ---- probing ------------------------------------------------------------- */

/* Read a /proc file (its st_size is 0, so read to EOF). NULL on error. */
static char *read_text(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    size_t cap = 16384, len = 0;
    char *buf;

    if (fd < 0)
        return NULL;
    buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = cap < PROC_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb)
                break;          /* too big: keep what we have */
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0) {
                free(buf);
                buf = NULL;
            }
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

static bool under(char *out, size_t n, const char *root, const char *path)
{
    int k = snprintf(out, n, "%s%s", root ? root : "", path);
    return k > 0 && (size_t)k < n;
}

static int ioctl_retry(int fd, unsigned long req, unsigned long arg)
{
    int r;

    do
        r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Open the KVM device, check the API and create (then drop) a VM: a node
 * that exists but cannot create a VM is no use to the engine. */
static void probe_kvm(HostCaps *c, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            c->kvm = HOSTCAPS_KVM_ABSENT;
            return;
        }
        c->kvm = HOSTCAPS_KVM_UNUSABLE;
        snprintf(c->kvm_error, sizeof(c->kvm_error), "%.80s: %s", path, strerror(errno));
        return;
    }
    c->kvm = HOSTCAPS_KVM_UNUSABLE;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
        snprintf(c->kvm_error, sizeof(c->kvm_error), "%.80s: not a character device", path);
    } else {
        int api = ioctl_retry(fd, KVM_GET_API_VERSION, 0);
        if (api < 0) {
            snprintf(c->kvm_error, sizeof(c->kvm_error), "%.80s: KVM_GET_API_VERSION failed: %s",
                     path, strerror(errno));
        } else if (api != KVM_API_WANTED) {
            snprintf(c->kvm_error, sizeof(c->kvm_error), "%.80s: KVM API version %d, need %d",
                     path, api, KVM_API_WANTED);
        } else {
            int vm = ioctl_retry(fd, KVM_CREATE_VM, 0);
            if (vm < 0) {
                snprintf(c->kvm_error, sizeof(c->kvm_error), "%.80s: KVM_CREATE_VM failed: %s",
                         path, strerror(errno));
            } else {
                close(vm);
                c->kvm = HOSTCAPS_KVM_USABLE;
            }
        }
    }
    close(fd);
}

/* Total and free bytes from sysconf (0 = unknown): for a host whose
 * /proc/meminfo cannot be read. */
static void sysconf_memory(uint64_t *total, uint64_t *avail)
{
    long pages = sysconf(_SC_PHYS_PAGES), free_pages = sysconf(_SC_AVPHYS_PAGES);
    long psz = sysconf(_SC_PAGESIZE);

    *total = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
    *avail = free_pages > 0 && psz > 0 ? (uint64_t)free_pages * (uint64_t)psz : 0;
}

int host_memory(uint64_t *total_bytes, uint64_t *available_bytes)
{
    char *text = read_text("/proc/meminfo");
    uint64_t total, avail;

    meminfo_bytes(text, &total, &avail);
    free(text);
    if (total == 0)
        sysconf_memory(&total, &avail);
    if (total_bytes)
        *total_bytes = total;
    if (available_bytes)
        *available_bytes = avail;
    return total ? 0 : -1;
}

int hostcaps_probe_at(HostCaps *c, const char *root)
{
    char path[PATH_MAX];
    bool real = !root || !root[0];
    int rc = 0;
    char *text;

    memset(c, 0, sizeof(*c));
    text = under(path, sizeof(path), root, "/proc/cpuinfo") ? read_text(path) : NULL;
    if (text)
        hostcaps_parse_cpuinfo(c, text);
    else
        rc = -1;
    free(text);
    text = under(path, sizeof(path), root, "/proc/meminfo") ? read_text(path) : NULL;
    hostcaps_parse_meminfo(c, text);
    free(text);

    if (real && c->nr_cpus == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->nr_cpus = n > 0 ? (unsigned)n : 1;
    }
    if (real && c->total_memory_mib == 0) {
        uint64_t total, avail;

        sysconf_memory(&total, &avail);
        c->total_memory_mib = total >> 20;
        c->free_memory_mib = avail >> 20;
    }

    if (under(path, sizeof(path), root, "/dev/kvm"))
        probe_kvm(c, path);
    c->kvm_pvm = under(path, sizeof(path), root, "/sys/module/kvm_pvm") && access(path, F_OK) == 0;
    return rc;
}

int hostcaps_probe(HostCaps *c)
{
    return hostcaps_probe_at(c, NULL);
}

/* ---- conclusions --------------------------------------------------------- */

bool hostcaps_hvm(const HostCaps *c)
{
    return c->vmx || c->svm;
}

/* Only one KVM vendor module can be loaded; when kvm_pvm is, it serves
 * /dev/kvm even on a CPU with vmx/svm, so the guests run paging-based. */
bool hostcaps_kvm_fast(const HostCaps *c)
{
    return c->kvm == HOSTCAPS_KVM_USABLE && hostcaps_hvm(c) && !c->kvm_pvm;
}

const char *hostcaps_virt_caps(const HostCaps *c)
{
    return hostcaps_hvm(c) ? "hvm" : "none";
}

const char *hostcaps_hw_virt(const HostCaps *c)
{
    return c->vmx ? "vmx" : c->svm ? "svm" : "none";
}

const char *hostcaps_kvm_status(const HostCaps *c, char *buf, unsigned n)
{
    if (!n)
        return buf;
    switch (c->kvm) {
    case HOSTCAPS_KVM_USABLE:
        snprintf(buf, n, "%s", c->kvm_pvm ? "usable, paging-based nested (kvm_pvm)" : "usable");
        break;
    case HOSTCAPS_KVM_UNUSABLE:
        snprintf(buf, n, "unusable: %s", c->kvm_error[0] ? c->kvm_error : "unknown error");
        break;
    default:
        snprintf(buf, n, "absent");
        break;
    }
    return buf;
}

const char *hostcaps_engines(const HostCaps *c, char *buf, unsigned n)
{
    const char *kvm;

    if (!n)
        return buf;
    if (hostcaps_kvm_fast(c))
        kvm = "x86-64 (hardware)";
    else if (c->kvm == HOSTCAPS_KVM_USABLE && c->kvm_pvm)
        kvm = "usable for freestanding test guests only (paging-based nested KVM, no vmx/svm); "
              "x86-64 Linux guests cannot run fast here";
    else if (c->kvm == HOSTCAPS_KVM_USABLE)
        kvm = "usable for freestanding test guests only (no vmx/svm); "
              "x86-64 Linux guests cannot run fast here";
    else if (c->kvm == HOSTCAPS_KVM_UNUSABLE)
        kvm = "unavailable (/dev/kvm is not usable)";
    else if (hostcaps_hvm(c))
        kvm = "unavailable (no /dev/kvm; load kvm_intel or kvm_amd)";
    else
        kvm = "unavailable (no vmx/svm, no /dev/kvm)";
    snprintf(buf, n, "emu: riscv64 (software); kvm: %s", kvm);
    return buf;
}

const char *hostcaps_engine_error(const HostCaps *c, int want_x86)
{
    static __thread char msg[256];

    if (!want_x86 || hostcaps_kvm_fast(c))
        return NULL;
    if (!hostcaps_hvm(c))
        return "this host has no vmx/svm: x86-64 guests need hardware virtualization; "
               "use a riscv64 guest (engine = \"emu\")";
    if (c->kvm_pvm)
        return "this host's KVM is paging-based nested (kvm_pvm): x86-64 guests cannot run "
               "fast here; use a riscv64 guest (engine = \"emu\")";
    if (c->kvm == HOSTCAPS_KVM_ABSENT)
        return "this host has no /dev/kvm: x86-64 guests need the kvm_intel or kvm_amd module; "
               "use a riscv64 guest (engine = \"emu\")";
    snprintf(msg, sizeof(msg), "KVM is not usable here (%s): x86-64 guests need it; "
             "use a riscv64 guest (engine = \"emu\")",
             c->kvm_error[0] ? c->kvm_error : "unknown error");
    return msg;
}

const char *hostcaps_kvm_error(const HostCaps *c)
{
    if (c->kvm == HOSTCAPS_KVM_USABLE)
        return NULL;
    if (c->kvm == HOSTCAPS_KVM_ABSENT)
        return "/dev/kvm does not exist: this host has no KVM; use engine = \"emu\"";
    return c->kvm_error[0] ? c->kvm_error : "/dev/kvm is not usable";
}

/* ---- the VMM sandbox ---------------------------------------------------- */

bool hostcaps_sandbox_enabled(void)
{
    static const char *const off[] = { "0", "off", "no", "false" };
    const char *v = getenv("XENO_SANDBOX");

    for (size_t i = 0; v && i < sizeof(off) / sizeof(off[0]); i++)
        if (!strcasecmp(v, off[i]))
            return false;
    return true;
}

/* SECCOMP_RET_KILL_PROCESS (Linux 4.14) is what a forbidden call gets. */
static bool seccomp_kills(void)
{
    char *avail = read_text("/proc/sys/kernel/seccomp/actions_avail");
    bool ok = avail && has_word(avail, strcspn(avail, "\n"), "kill_process");

    free(avail);
    return ok && prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
}

/* The child's try: what the VMM and xend do, short of pivoting. */
static _Noreturn void try_namespaces(void)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("xeno-probe", "/", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") < 0)
        _exit(1);
    _exit(0);
}

static bool namespaces_work(void)
{
    pid_t pid = fork();
    int st;

    if (pid == 0)
        try_namespaces();
    if (pid < 0)
        return false;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void hostcaps_probe_sandbox(HostSandbox *s)
{
    struct passwd *pw = getpwnam(HOSTCAPS_SANDBOX_USER);

    memset(s, 0, sizeof(*s));
    s->enabled = hostcaps_sandbox_enabled();
    s->seccomp = seccomp_kills();
    s->as_root = geteuid() == 0;
    s->user = pw && pw->pw_uid != 0 && pw->pw_gid != 0;
    s->namespaces = s->as_root && namespaces_work();
}

const char *hostcaps_sandbox_layers(const HostSandbox *s, char *buf, unsigned n)
{
    if (!s->enabled)
        snprintf(buf, n, "off (XENO_SANDBOX=0): VMMs keep every privilege");
    else if (!s->seccomp)
        snprintf(buf, n, "VMMs cannot start: this kernel has no seccomp filters that kill");
    else if (s->as_root && !s->user)
        snprintf(buf, n, "VMMs cannot start: there is no user %s (scripts/deps.sh creates it)",
                 HOSTCAPS_SANDBOX_USER);
    else
        snprintf(buf, n, "on: seccomp (per thread), no_new_privs, no capabilities, %s%s%s, "
                 "W^X JIT", s->as_root ? "user " HOSTCAPS_SANDBOX_USER : "xend's user",
                 s->namespaces ? ", mount+pid+ipc namespaces" : ", no namespaces (not allowed here)",
                 s->namespaces ? ", empty root" : "");
    return buf;
}
