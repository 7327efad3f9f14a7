/* xeno-vmm: run one virtual machine, standalone (like `lkvm run`) or under
 * xend. Configuration comes from an xl.cfg-style file and/or flags. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"
#include "common/config.h"
#include "common/hostcaps.h"
#include "common/io.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "console.h"
#include "control.h"
#include "machine.h"
#include "migrate.h"
#include "sandbox.h"
#include "state.h"

#ifndef XENO_GUEST_DIR
#define XENO_GUEST_DIR ""
#endif

/* Exit statuses. */
enum { EXIT_POWEROFF = 0, EXIT_ERROR = 1, EXIT_REBOOT = 2, EXIT_CRASH = 3,
       EXIT_DESTROYED = 4, EXIT_SAVED = 5, EXIT_MIGRATED = 6 };

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: xeno-vmm [OPTIONS] [CONFIG]\n"
        "Run one virtual machine. CONFIG is an xl.cfg-style domain configuration;\n"
        "options override it. With no kernel, the default guest is booted.\n"
        "\n"
        "  --kernel FILE      Linux kernel Image\n"
        "  --initrd FILE      initial ramdisk\n"
        "  --cmdline STRING   kernel command line (default \"console=ttyS0\")\n"
        "  --memory MIB       guest memory in MiB (default 256)\n"
        "  --vcpus N          number of virtual CPUs (default 1)\n"
        "  --disk SPEC        add a disk (xl disk spec, e.g. file:/img,xvda,w)\n"
        "  --net SPEC         add a network interface (vif spec, e.g.\n"
        "                     type=user,hostfwd=tcp:127.0.0.1:8080-:80)\n"
        "  --firmware FILE    M-mode firmware (e.g. OpenSBI fw_dynamic.bin)\n"
        "  --bios ELF         run a bare-metal ELF in M-mode (HTIF exit code)\n"
        "  --engine emu|kvm   CPU engine\n"
        "  --name NAME        domain name\n"
        "  --control PATH     control socket (JSON lines) at PATH, console\n"
        "                     socket at PATH.console; both removed on exit\n"
        "  --no-console       do not use stdin/stdout as the console\n"
        "  --paused           start with the vCPUs paused (resume through --control)\n"
        "  --restore FILE     continue a domain saved to FILE (xm save); its\n"
        "                     configuration comes from the file\n"
        "  --incoming fd:N    receive a migrating domain on open connection N\n"
        "  --stream-key fd:N  with --incoming: the stream is TLS, keyed with the\n"
        "                     one-time key (64 hex digits) read from fd N\n"
        "  --verify           with --restore: check the memory image's checksum\n"
        "  -v, --verbose      more log output\n"
        "  -h, --help         this help\n"
        "\n"
        "Console: stdin/stdout; on a terminal, Ctrl-] then q quits.\n"
        "Exit status: 0 guest powered off, 2 guest rebooted, 3 guest crashed,\n"
        "4 destroyed through the control socket, 1 error; with --bios, the\n"
        "program's HTIF exit code.\n");
}

static volatile sig_atomic_t got_signal;
static Loop *signal_loop;

static void on_signal(int sig)
{
    got_signal = sig;
    if (signal_loop)
        loop_quit(signal_loop);
}

static void warn_cb(void *opaque, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "xeno-vmm: warning: %s\n", msg);
}

static int check_readable(const char *what, const char *path)
{
    struct stat st;

    if (access(path, R_OK) != 0 || stat(path, &st) != 0) {
        log_err("%s: %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        log_err("%s: %s: not a regular file", what, path);
        return -1;
    }
    return 0;
}

/* PATH.exit says how the VM ended, for a management daemon that was not
 * running when this VMM exited (its exit status is lost then): it applies
 * on_poweroff / on_reboot / on_crash when it comes back. The file is made
 * before the sandbox locks the VMM down (no files can be created after
 * that) saying "crash", what a VMM that is killed leaves behind, and
 * synced with its directory; the real reason is written over it at the
 * end. Every reason is at least as long as "crash\n", so the one write at
 * offset 0 replaces it whole; a host crash in the middle can leave the new
 * reason cut to the old size, 6 bytes, which still names one reason alone
 * (xend reads a record by its first letters).
 * Returns the file's descriptor, or -1 (then there is no record). */
static int exit_record_open(const char *control_path)
{
    static const char crash[] = "crash\n";
    char path[4096];
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s.exit", control_path) >= sizeof(path))
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0 && (io_write_all(fd, crash, sizeof(crash) - 1) < 0 || fsync(fd) < 0)) {
        close(fd);
        unlink(path);
        return -1;
    }
    if (fd >= 0) {
        char *slash = strrchr(path, '/');
        int dfd;

        if (slash)
            *slash = '\0';
        if ((dfd = open(slash ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return fd;
}

static void exit_record_write(int fd, int status)
{
    const char *why = status == EXIT_POWEROFF ? "poweroff\n" : status == EXIT_REBOOT ? "reboot\n" :
                      status == EXIT_DESTROYED ? "destroyed\n" : status == EXIT_SAVED ? "saved\n" :
                      status == EXIT_MIGRATED ? "migrated\n" : "crash\n";

    if (fd < 0)
        return;
    if (pwrite(fd, why, strlen(why), 0) == (ssize_t)strlen(why))
        fsync(fd);
    close(fd);
}

static uint64_t host_ram_mib(void)
{
    uint64_t total = 0;
    return host_memory(&total, NULL) == 0 ? total >> 20 : 0;
}

/* Strict decimal number for a command-line option. */
static int opt_number(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+')
        goto bad;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        goto bad;
    *out = v;
    return 0;
bad:
    log_err("%s: '%s' is not a number", opt, s);
    return -1;
}

static int set_str(char *dst, size_t size, const char *what, const char *val)
{
    if (strlen(val) >= size) {
        log_err("%s: value too long", what);
        return -1;
    }
    strcpy(dst, val);
    return 0;
}

/* ---- 1. parse the command line ----------------------------------------- */

#define MAX_FLAGS 128

typedef struct VmmArgs {
    const char *bios, *cfgfile, *control_path;
    const char *restore;         /* --restore FILE */
    int incoming_fd;             /* --incoming fd:N, else -1 */
    int stream_key_fd;           /* --stream-key fd:N, else -1 */
    bool no_console, paused, verify;
    /* Flags that set config values are applied after the config file. */
    struct { int key; const char *val; } flag[MAX_FLAGS];
    unsigned nflags;
} VmmArgs;

static const struct option long_opts[] = {
    { "kernel", required_argument, 0, 'k' },
    { "initrd", required_argument, 0, 'i' },
    { "cmdline", required_argument, 0, 'c' },
    { "memory", required_argument, 0, 'm' },
    { "vcpus", required_argument, 0, 'n' },
    { "disk", required_argument, 0, 'd' },
    { "net", required_argument, 0, 'N' },
    { "firmware", required_argument, 0, 'f' },
    { "bios", required_argument, 0, 'b' },
    { "engine", required_argument, 0, 'e' },
    { "name", required_argument, 0, 'a' },
    { "control", required_argument, 0, 'C' },
    { "no-console", no_argument, 0, 'Q' },
    { "paused", no_argument, 0, 'P' },
    { "restore", required_argument, 0, 'R' },
    { "incoming", required_argument, 0, 'I' },
    { "stream-key", required_argument, 0, 'K' },
    { "verify", no_argument, 0, 'V' },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, 'h' },
    { 0, 0, 0, 0 },
};

static void bad_option(char **argv)
{
    const char *name = NULL;

    for (unsigned k = 0; optopt && long_opts[k].name; k++)
        if (long_opts[k].val == optopt)
            name = long_opts[k].name;
    if (name)
        log_err("option '--%s' needs an argument (see xeno-vmm --help)", name);
    else if (optopt)
        log_err("unknown option '-%c' (see xeno-vmm --help)", optopt);
    else
        log_err("unknown option '%s' (see xeno-vmm --help)", argv[optind - 1]);
}

/* 0 to go on, 1 when --help was answered, -1 on a bad command line. */
static int parse_args(int argc, char **argv, VmmArgs *a)
{
    int opt;

    opterr = 0;     /* one line of our own for a bad option, not getopt's + usage */
    while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 1;
        case 'v': log_set_level(log_get_level() + 1); break;
        case 'b': a->bios = optarg; break;
        case 'C': a->control_path = optarg; break;
        case 'Q': a->no_console = true; break;
        case 'P': a->paused = true; break;
        case 'V': a->verify = true; break;
        case 'R': a->restore = optarg; break;
        case 'I':
        case 'K': {
            const char *name = opt == 'I' ? "--incoming" : "--stream-key";
            uint64_t fd;
            if (strncmp(optarg, "fd:", 3) || opt_number(name, optarg + 3, &fd) || fd > 65535) {
                log_err("%s: expected fd:N, got '%s'", name, optarg);
                return -1;
            }
            *(opt == 'I' ? &a->incoming_fd : &a->stream_key_fd) = (int)fd;
            break;
        }
        case '?': bad_option(argv); return -1;
        default:
            if (a->nflags >= MAX_FLAGS) {
                log_err("too many options");
                return -1;
            }
            a->flag[a->nflags].key = opt;
            a->flag[a->nflags].val = optarg;
            a->nflags++;
            break;
        }
    }
    if (optind < argc)
        a->cfgfile = argv[optind++];
    if (optind < argc) {
        log_err("unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return -1;
    }
    if ((a->restore || a->incoming_fd >= 0) && (a->cfgfile || a->nflags || a->bios)) {
        log_err("--restore and --incoming take the configuration from the saved state: "
                "no config file, --bios or configuration options");
        return -1;
    }
    if (a->restore && a->incoming_fd >= 0) {
        log_err("--restore and --incoming exclude each other");
        return -1;
    }
    if (a->stream_key_fd >= 0 && a->incoming_fd < 0) {
        log_err("--stream-key goes with --incoming");
        return -1;
    }
    return 0;
}

/* ---- 2. the configuration: file, then flags, then validation ----------- */

static int apply_memory(VmConfig *c, const char *v)
{
    uint64_t num;

    if (opt_number("--memory", v, &num))
        return -1;
    c->memory_mib = num;
    if (c->maxmem_mib && c->maxmem_mib < num)
        c->maxmem_mib = num;
    return 0;
}

static int apply_vcpus(VmConfig *c, const char *v)
{
    uint64_t num;

    if (opt_number("--vcpus", v, &num))
        return -1;
    if (num < 1 || num > XENO_MAX_VCPUS) {
        log_err("--vcpus: %s is out of range (1-%d)", v, XENO_MAX_VCPUS);
        return -1;
    }
    c->vcpus = (unsigned)num;
    if (c->maxvcpus && c->maxvcpus < num)
        c->maxvcpus = (unsigned)num;
    return 0;
}

static int apply_disk(VmConfig *c, const char *v)
{
    char err[512];

    if (c->ndisks >= CFG_MAX_DISKS) {
        log_err("--disk: too many disks (at most %d)", CFG_MAX_DISKS);
        return -1;
    }
    if (config_parse_disk(&c->disk[c->ndisks], v, err, sizeof(err))) {
        log_err("--disk: %s", err);
        return -1;
    }
    c->ndisks++;
    return 0;
}

static int apply_net(VmConfig *c, const char *v)
{
    char err[512];

    if (c->nnics >= CFG_MAX_NICS) {
        log_err("--net: too many interfaces (at most %d)", CFG_MAX_NICS);
        return -1;
    }
    if (config_parse_vif(&c->nic[c->nnics], v, err, sizeof(err))) {
        log_err("--net: %s", err);
        return -1;
    }
    c->nnics++;
    return 0;
}

static int apply_engine(VmConfig *c, const char *v)
{
    if (!strcmp(v, "emu")) {
        c->engine = CFG_ENGINE_EMU;
    } else if (!strcmp(v, "kvm")) {
        c->engine = CFG_ENGINE_KVM;
    } else {
        log_err("--engine: unknown engine '%s' (emu or kvm)", v);
        return -1;
    }
    return 0;
}

static int apply_flag(VmConfig *c, int key, const char *v)
{
    switch (key) {
    case 'k': return set_str(c->kernel, sizeof(c->kernel), "--kernel", v);
    case 'i': return set_str(c->ramdisk, sizeof(c->ramdisk), "--initrd", v);
    case 'c': return set_str(c->cmdline, sizeof(c->cmdline), "--cmdline", v);
    case 'f': return set_str(c->firmware, sizeof(c->firmware), "--firmware", v);
    case 'a': return set_str(c->name, sizeof(c->name), "--name", v);
    case 'm': return apply_memory(c, v);
    case 'n': return apply_vcpus(c, v);
    case 'd': return apply_disk(c, v);
    case 'N': return apply_net(c, v);
    case 'e': return apply_engine(c, v);
    default: return 0;
    }
}

static int load_config(VmConfig *c, const VmmArgs *a)
{
    char err[512];

    config_init(c);
    if (a->cfgfile && config_load(c, a->cfgfile, warn_cb, NULL, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (unsigned i = 0; i < a->nflags; i++)
        if (apply_flag(c, a->flag[i].key, a->flag[i].val))
            return -1;
    if (config_validate(c, err, sizeof(err))) {
        log_err("%s", err);
        return -1;
    }
    return 0;
}

/* ---- 3. can this host run it, and is everything it names there? -------- */

/* The kvm engine (x86-64) is chosen by engine = "kvm", arch = "x86_64", or
 * a Xen guest type (hvm, pv, pvh) with neither engine nor arch given. */
static bool want_kvm(const VmConfig *c)
{
    if (c->engine != CFG_ENGINE_AUTO)
        return c->engine == CFG_ENGINE_KVM;
    if (c->arch != CFG_ARCH_AUTO)
        return c->arch == CFG_ARCH_X86_64;
    return c->type == CFG_TYPE_HVM || c->type == CFG_TYPE_PV || c->type == CFG_TYPE_PVH;
}

/* Why this host cannot run the x86-64 guest, or NULL. An explicit engine
 * or arch needs a usable /dev/kvm (the paging-based nested KVM runs the
 * freestanding test guests); a guest type alone asks for speed. */
static const char *kvm_refusal(const VmConfig *c, bool bios)
{
    static HostCaps hc;

    if (bios)
        return "--bios runs bare-metal riscv64 programs; the kvm engine boots x86-64 kernels (--kernel)";
    hostcaps_probe(&hc);
    if (c->engine == CFG_ENGINE_KVM || c->arch == CFG_ARCH_X86_64)
        return hostcaps_kvm_error(&hc);
    return hostcaps_engine_error(&hc, 1);
}

/* No kernel given: the default guest, built by `make guest`. */
static int use_default_guest(VmConfig *c)
{
    const char *dir = getenv("XENO_GUEST_DIR");

    if (!dir || !*dir)
        dir = XENO_GUEST_DIR;
    snprintf(c->kernel, sizeof(c->kernel), "%s/Image", dir);
    if (!c->ramdisk[0])
        snprintf(c->ramdisk, sizeof(c->ramdisk), "%s/initramfs.cpio.gz", dir);
    if (access(c->kernel, R_OK) != 0) {
        log_err("no kernel given and the default guest is not built (%s: %s); run 'make guest'",
                c->kernel, strerror(errno));
        return -1;
    }
    return 0;
}

static int check_images(VmConfig *c)
{
    if (check_readable("kernel", c->kernel) ||
        (c->ramdisk[0] && check_readable("ramdisk", c->ramdisk)) ||
        (c->firmware[0] && check_readable("firmware", c->firmware)))
        return -1;
    for (unsigned i = 0; i < c->ndisks; i++) {
        struct stat st;
        if (stat(c->disk[i].path, &st) != 0) {
            log_err("disk %s: %s: %s", c->disk[i].vdev, c->disk[i].path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Nothing has been started yet: everything that can be refused is refused
 * here. Decides the engine (*use_kvm). */
static int check_host(VmConfig *c, const VmmArgs *a, bool *use_kvm)
{
    uint64_t host = host_ram_mib();

    *use_kvm = want_kvm(c);
    if (*use_kvm) {
        const char *why = kvm_refusal(c, a->bios != NULL);
        if (why) {
            fprintf(stderr, "Error: %s\n", why);
            return -1;
        }
    }
    if (host && c->memory_mib > host) {
        log_err("memory: %llu MiB is more than this host has (%llu MiB)",
                (unsigned long long)c->memory_mib, (unsigned long long)host);
        return -1;
    }
    if (a->bios)
        return check_readable("bios", a->bios);
    if (*use_kvm && !c->kernel[0]) {
        log_err("an x86-64 guest needs a kernel (--kernel or kernel = ...): "
                "the default guest is riscv64");
        return -1;
    }
    if (!c->kernel[0] && use_default_guest(c))
        return -1;
    if (!c->cmdline[0])
        strcpy(c->cmdline, "console=ttyS0");
    return check_images(c);
}

/* ---- 4. build the machine and its sockets ------------------------------ */

/* The running VMM's pieces beside the Machine. */
typedef struct Vmm {
    Machine *m;
    const BoardOps *board;
    ConsoleSock *csock;
    Control *ctl;
} Vmm;

static int init_machine(Machine *m, bool no_console)
{
    pthread_mutex_init(&m->dev_lock, NULL);
    pthread_mutex_init(&m->exit_lock, NULL);
    pthread_cond_init(&m->exit_cond, NULL);
    m->mmio.lock = &m->dev_lock;
    m->console_in = no_console ? -1 : STDIN_FILENO;
    m->console_out = no_console ? -1 : STDOUT_FILENO;
    m->loop = loop_new(&m->dev_lock);
    if (!m->loop) {
        log_err("cannot create the event loop: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The control socket at PATH and the console socket at PATH.console. */
static int start_control(Vmm *v, const char *control_path)
{
    char console_path[4096], err[512];

    if ((size_t)snprintf(console_path, sizeof(console_path), "%s.console", control_path) >=
        sizeof(console_path)) {
        log_err("--control: path too long");
        return -1;
    }
    if (console_sock_listen(v->csock, console_path, err, sizeof(err))) {
        log_err("--control: %s", err);
        return -1;
    }
    v->ctl = control_start(v->m, control_path, console_path, err, sizeof(err));
    if (!v->ctl) {
        log_err("--control: %s", err);
        console_sock_stop(v->csock);
        return -1;
    }
    return 0;
}

/* The loop, the console socket and guest RAM: what every start needs
 * before anything else. */
static int build_base(Vmm *v, const VmmArgs *a)
{
    Machine *m = v->m;
    char err[512];

    if (init_machine(m, a->no_console))
        return -1;
    /* Console output fans out to the console socket (and stdout). */
    if ((a->control_path || a->no_console) &&
        !(v->csock = console_sock_new(m, !a->no_console, err, sizeof(err)))) {
        log_err("%s", err);
        return -1;
    }
    if (v->board->add_ram(m, err, sizeof(err))) {
        log_err("%s", err);
        return -1;
    }
    return 0;
}

static int build_vmm(Vmm *v, const VmmArgs *a)
{
    char err[512];

    if (build_base(v, a))
        return -1;
    if (v->board->build(v->m, a->bios, false, err, sizeof(err))) {
        log_err("%s", err);
        return -1;
    }
    if (v->csock)
        console_sock_attach_uart(v->csock);
    return a->control_path ? start_control(v, a->control_path) : 0;
}

/* ---- 4b. a domain from a save file or a migration stream --------------- */

/* The configuration came from the stream: check it as a booted one would
 * be, minus the boot images, which a restored domain does not need. */
static int check_restored_config(VmConfig *c, bool *use_kvm)
{
    char err[512];
    uint64_t host = host_ram_mib();

    if (config_validate(c, err, sizeof(err))) {
        log_err("saved configuration: %s", err);
        return -1;
    }
    *use_kvm = want_kvm(c);
    if (*use_kvm) {
        const char *why = kvm_refusal(c, false);
        if (why) {
            fprintf(stderr, "Error: %s\n", why);
            return -1;
        }
    }
    if (host && c->memory_mib > host) {
        log_err("memory: %llu MiB is more than this host has (%llu MiB)",
                (unsigned long long)c->memory_mib, (unsigned long long)host);
        return -1;
    }
    for (unsigned i = 0; i < c->ndisks; i++) {
        struct stat st;
        if (stat(c->disk[i].path, &st) != 0) {
            log_err("disk %s: %s: %s", c->disk[i].vdev, c->disk[i].path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* migrate_incoming's build step: the machine once the stream is complete. */
static int build_restored(Machine *m, void *opaque, char *err, size_t errlen)
{
    Vmm *v = opaque;
    return v->board->build(m, NULL, true, err, errlen);
}

/* --stream-key fd:N: the migration's one-time key, in hex on a pipe from
 * xend (not on the command line, which any local user can read). */
static int read_stream_key(int fd, uint8_t key[MIGRATE_KEY_BYTES])
{
    char hex[2 * MIGRATE_KEY_BYTES + 2];
    size_t have = 0;
    ssize_t k;
    int r;

    while (have < sizeof(hex) - 1 && (k = read(fd, hex + have, sizeof(hex) - 1 - have)) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        have += (size_t)k;
    }
    close(fd);
    hex[have] = 0;
    if (have && hex[have - 1] == '\n')
        hex[--have] = 0;
    r = migrate_key_parse(hex, key);
    explicit_bzero(hex, sizeof(hex));
    return r;
}

/* The incoming migration's channel: TLS with --stream-key, else plain. */
static MigChan *incoming_chan(const VmmArgs *a, char *err, size_t errlen)
{
    uint8_t key[MIGRATE_KEY_BYTES];
    MigChan *c;

    if (a->stream_key_fd < 0)
        return migchan_open(a->incoming_fd, NULL, false, 0, err, errlen);
    if (read_stream_key(a->stream_key_fd, key)) {
        snprintf(err, errlen, "--stream-key: expected %d hex digits", 2 * MIGRATE_KEY_BYTES);
        return NULL;
    }
    c = migchan_open(a->incoming_fd, key, false, MIGRATE_HANDSHAKE_MS, err, errlen);
    explicit_bzero(key, sizeof(key));
    return c;
}

static int restore_vmm(Vmm *v, const VmmArgs *a, StateLoad *L)
{
    Machine *m = v->m;
    bool file = a->restore != NULL, use_kvm;
    MigChan *chan = NULL;
    char err[640];
    int fd;

    fd = file ? open(a->restore, O_RDONLY | O_CLOEXEC) : a->incoming_fd;
    if (fd < 0) {
        log_err("%s: %s", a->restore, strerror(errno));
        return -1;
    }
    if (!file && !(chan = incoming_chan(a, err, sizeof(err))))
        goto fail;
    if (state_load_begin(L, fd, chan, file, &m->cfg, err, sizeof(err)))
        goto fail;
    if (check_restored_config(&m->cfg, &use_kvm)) {
        snprintf(err, sizeof(err), "the domain cannot run here (see the VMM's log)");
        goto fail_quiet;
    }
    v->board = use_kvm ? &board_x86 : &board_riscv;
    if (build_base(v, a)) {
        snprintf(err, sizeof(err), "cannot build the domain's memory");
        goto fail_quiet;
    }
    if (state_load_check(L, m, err, sizeof(err)))
        goto fail;
    if (file) {
        if (state_load_records(L, m, err, sizeof(err)) ||
            state_load_images(L, m, a->verify, err, sizeof(err)) ||
            build_restored(m, v, err, sizeof(err)) ||
            state_load_sections(L, m, err, sizeof(err)))
            goto fail;
    } else {
        if (migrate_incoming_accept(L, NULL) ||
            migrate_incoming(m, L, build_restored, v, err, sizeof(err)))
            goto fail;
    }
    if (v->csock)
        console_sock_attach_uart(v->csock);
    return a->control_path ? start_control(v, a->control_path) : 0;
fail:
    log_err("%s%s%s", file ? a->restore : "incoming migration", ": ", err);
fail_quiet:
    if (!file)
        migrate_incoming_accept(L, err);
    return -1;
}

/* ---- 5. run until the guest or the user ends it ------------------------ */

static int exit_status(const Machine *m, bool destroyed)
{
    switch (m->exit_reason) {
    case VM_EXIT_POWEROFF: return EXIT_POWEROFF;
    case VM_EXIT_REBOOT: return EXIT_REBOOT;
    case VM_EXIT_CRASH: return EXIT_CRASH;
    case VM_EXIT_HTIF: return m->exit_code & 0xff;
    case VM_EXIT_SAVED: return EXIT_SAVED;
    case VM_EXIT_MIGRATED: return EXIT_MIGRATED;
    case VM_EXIT_QUIT:
        return destroyed ? EXIT_DESTROYED : got_signal ? 128 + got_signal : EXIT_POWEROFF;
    default: return EXIT_ERROR;
    }
}

static int run_vmm(Vmm *v, const VmmArgs *a, StateLoad *incoming)
{
    Machine *m = v->m;
    bool destroyed;

    signal_loop = m->loop;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);

    if (!a->no_console)
        console_attach(m, m->console_in);
    if (a->paused) {
        machine_pause(m);           /* before start: the vCPUs wait parked */
        control_set_paused(v->ctl);
    }
    /* Everything is open: no guest instruction runs outside the sandbox. */
    if (sandbox_lockdown(m) || sandbox_start_vcpus(m) || sandbox_confine_main()) {
        console_restore();
        control_stop(v->ctl);
        console_sock_stop(v->csock);
        return EXIT_ERROR;
    }
    if (incoming) {
        log_info("incoming migration: the domain runs");
        migrate_incoming_started(incoming);
    }
    loop_run(m->loop);
    if (got_signal)
        machine_request_exit(m, VM_EXIT_QUIT, 0);
    machine_stop(m);
    console_restore();
    destroyed = control_destroyed(v->ctl);
    control_stop(v->ctl);       /* the `stopped` event; removes the sockets */
    console_sock_stop(v->csock);
    return exit_status(m, destroyed);
}

int main(int argc, char **argv)
{
    static Machine mach;
    static VmmArgs args = { .incoming_fd = -1, .stream_key_fd = -1 };
    static StateLoad load;
    Vmm vmm = { .m = &mach };
    bool use_kvm;
    int status, exit_fd = -1;

    log_init("xeno-vmm", LOG_WARN);
    switch (parse_args(argc, argv, &args)) {
    case 1: return 0;
    case -1: return EXIT_ERROR;
    }
    if (sandbox_init(args.control_path))
        return EXIT_ERROR;
    if (args.restore || args.incoming_fd >= 0) {
        if (restore_vmm(&vmm, &args, &load))
            return EXIT_ERROR;
    } else {
        if (load_config(&mach.cfg, &args) || check_host(&mach.cfg, &args, &use_kvm))
            return EXIT_ERROR;
        vmm.board = use_kvm ? &board_x86 : &board_riscv;
        if (build_vmm(&vmm, &args))
            return EXIT_ERROR;
    }
    if (args.control_path)
        exit_fd = exit_record_open(args.control_path);
    status = run_vmm(&vmm, &args, args.incoming_fd >= 0 ? &load : NULL);
    if (status == EXIT_ERROR)
        return status;
    exit_record_write(exit_fd, status);
    fflush(stdout);
    /* Device teardown is the OS's job at process exit; the guest is gone. */
    _exit(status);
}
