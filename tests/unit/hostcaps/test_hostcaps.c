/* Unit tests for src/common/hostcaps.c: /proc parsing on fixture texts,
 * probing under fake roots, and the conclusions (engines, refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hostcaps.h"

#define NO_VMX_ERROR "this host has no vmx/svm: x86-64 guests need hardware virtualization; " \
                     "use a riscv64 guest (engine = \"emu\")"
#define PVM_ENGINES "emu: riscv64 (software); kvm: usable for freestanding test guests only " \
                    "(paging-based nested KVM, no vmx/svm); x86-64 Linux guests cannot run fast here"

static char *fixture(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static HostCaps parse_cpu(const char *name)
{
    HostCaps c = { 0 };
    hostcaps_parse_cpuinfo(&c, fixture(name));
    return c;
}

/* ---- /proc/cpuinfo ---- */

static void test_cpuinfo_intel_vmx(void **s)
{
    HostCaps c = parse_cpu("intel-vmx.cpuinfo");
    assert_string_equal(c.cpu_vendor, "GenuineIntel");
    assert_string_equal(c.cpu_model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
    assert_true(c.cpu_mhz > 2099.9 && c.cpu_mhz < 2100.1);   /* the first CPU's */
    assert_int_equal(c.nr_cpus, 4);
    assert_true(c.vmx);
    assert_false(c.svm);
    assert_true(hostcaps_hvm(&c));
    assert_string_equal(hostcaps_virt_caps(&c), "hvm");
    assert_string_equal(hostcaps_hw_virt(&c), "vmx");
}

static void test_cpuinfo_amd_svm(void **s)
{
    HostCaps c = parse_cpu("amd-svm.cpuinfo");
    assert_string_equal(c.cpu_vendor, "AuthenticAMD");
    assert_string_equal(c.cpu_model, "AMD Ryzen Threadripper 3970X 32-Core Processor");
    assert_int_equal(c.nr_cpus, 1);
    assert_false(c.vmx);
    assert_true(c.svm);
    assert_string_equal(hostcaps_virt_caps(&c), "hvm");
    assert_string_equal(hostcaps_hw_virt(&c), "svm");
}

static void test_cpuinfo_none(void **s)
{
    /* svm_lock, vmxx, vmmcall are not vmx/svm. */
    HostCaps c = parse_cpu("nested-none.cpuinfo");
    assert_string_equal(c.cpu_model, "AMD EPYC");
    assert_int_equal(c.nr_cpus, 2);
    assert_false(c.vmx);
    assert_false(c.svm);
    assert_false(hostcaps_hvm(&c));
    assert_string_equal(hostcaps_virt_caps(&c), "none");
    assert_string_equal(hostcaps_hw_virt(&c), "none");
}

static void test_cpuinfo_arm64(void **s)
{
    HostCaps c = parse_cpu("arm64.cpuinfo");
    assert_int_equal(c.nr_cpus, 2);
    assert_string_equal(c.cpu_model, "");
    assert_string_equal(c.cpu_vendor, "");
    assert_true(c.cpu_mhz == 0);
    assert_false(hostcaps_hvm(&c));
}

static void test_cpuinfo_hostile(void **s)
{
    HostCaps c = { 0 };
    hostcaps_parse_cpuinfo(&c, NULL);
    hostcaps_parse_cpuinfo(&c, "");
    hostcaps_parse_cpuinfo(&c, "\n\n:\n::::\nno colon here\n");
    assert_int_equal(c.nr_cpus, 0);
    assert_string_equal(c.cpu_model, "");

    /* Bad numbers are ignored; a later good one is taken. */
    hostcaps_parse_cpuinfo(&c, "cpu MHz : nan\ncpu MHz: -5\ncpu MHz : 1e9\ncpu MHz : 12abc\n"
                               "cpu MHz:\ncpu MHz : 1500.5");
    assert_true(c.cpu_mhz > 1500.4 && c.cpu_mhz < 1500.6);

    /* Control and non-ASCII bytes are replaced; text is trimmed; the line
     * without a final newline still counts; "flags:vmx" has no space. */
    memset(&c, 0, sizeof(c));
    hostcaps_parse_cpuinfo(&c, "model name\t:  A\x01" "B\xff\t \r\nflags:vmx");
    assert_string_equal(c.cpu_model, "A?B?");
    assert_true(c.vmx);

    /* A model name longer than the field is cut, NUL-terminated. */
    char big[4096];
    memset(&c, 0, sizeof(c));
    strcpy(big, "model name : ");
    memset(big + 13, 'x', sizeof(big) - 14);
    big[sizeof(big) - 1] = 0;
    hostcaps_parse_cpuinfo(&c, big);
    assert_int_equal(strlen(c.cpu_model), sizeof(c.cpu_model) - 1);

    /* Many processors: the count keeps going, nothing overflows. */
    memset(&c, 0, sizeof(c));
    char many[20000] = "";
    for (int i = 0; i < 1000; i++)
        strcat(many, "processor:1\n");
    hostcaps_parse_cpuinfo(&c, many);
    assert_int_equal(c.nr_cpus, 1000);
}

/* ---- /proc/meminfo ---- */

static void test_meminfo(void **s)
{
    HostCaps c = { 0 };
    hostcaps_parse_meminfo(&c, fixture("host.meminfo"));
    assert_int_equal(c.total_memory_mib, 24684092 / 1024);
    assert_int_equal(c.free_memory_mib, 23969952 / 1024);   /* MemAvailable */

    hostcaps_parse_meminfo(&c, fixture("old.meminfo"));      /* no MemAvailable */
    assert_int_equal(c.total_memory_mib, 1024);
    assert_int_equal(c.free_memory_mib, 512);

    hostcaps_parse_meminfo(&c, "MemTotal: -5 kB\nMemFree: 99999999999999999999999 kB\n"
                               "MemAvailable: 12 MB\n");
    assert_int_equal(c.total_memory_mib, 0);
    assert_int_equal(c.free_memory_mib, 0);
    hostcaps_parse_meminfo(&c, NULL);
    assert_int_equal(c.total_memory_mib, 0);
}

/* ---- conclusions ---- */

static HostCaps caps(bool vmx, bool svm, HostKvm kvm, bool pvm)
{
    HostCaps c = { 0 };
    c.vmx = vmx;
    c.svm = svm;
    c.kvm = kvm;
    c.kvm_pvm = pvm;
    if (kvm == HOSTCAPS_KVM_UNUSABLE)
        snprintf(c.kvm_error, sizeof(c.kvm_error), "/dev/kvm: Permission denied");
    return c;
}

static void test_conclusions(void **s)
{
    char buf[512], kb[128];

    /* A real server: vmx/svm and a working /dev/kvm. */
    for (int amd = 0; amd < 2; amd++) {
        HostCaps c = caps(!amd, amd, HOSTCAPS_KVM_USABLE, false);
        assert_true(hostcaps_kvm_fast(&c));
        assert_string_equal(hostcaps_engines(&c, buf, sizeof(buf)),
                            "emu: riscv64 (software); kvm: x86-64 (hardware)");
        assert_string_equal(hostcaps_kvm_status(&c, kb, sizeof(kb)), "usable");
        assert_null(hostcaps_engine_error(&c, 1));
        assert_null(hostcaps_engine_error(&c, 0));
        assert_null(hostcaps_kvm_error(&c));
    }

    /* The development machines: paging-based nested KVM, no vmx/svm. */
    HostCaps c = caps(false, false, HOSTCAPS_KVM_USABLE, true);
    assert_false(hostcaps_kvm_fast(&c));
    assert_string_equal(hostcaps_engines(&c, buf, sizeof(buf)), PVM_ENGINES);
    assert_string_equal(hostcaps_kvm_status(&c, kb, sizeof(kb)),
                        "usable, paging-based nested (kvm_pvm)");
    assert_string_equal(hostcaps_engine_error(&c, 1), NO_VMX_ERROR);
    assert_null(hostcaps_engine_error(&c, 0));
    assert_null(hostcaps_kvm_error(&c));     /* explicit engine = "kvm" is fine */

    /* Usable KVM without vmx/svm and without kvm_pvm. */
    c = caps(false, false, HOSTCAPS_KVM_USABLE, false);
    assert_false(hostcaps_kvm_fast(&c));
    assert_non_null(strstr(hostcaps_engines(&c, buf, sizeof(buf)), "test guests only (no vmx/svm)"));
    assert_string_equal(hostcaps_engine_error(&c, 1), NO_VMX_ERROR);

    /* kvm_pvm owns /dev/kvm even on a CPU with vmx. */
    c = caps(true, false, HOSTCAPS_KVM_USABLE, true);
    assert_false(hostcaps_kvm_fast(&c));
    assert_non_null(strstr(hostcaps_engine_error(&c, 1), "kvm_pvm"));

    /* No KVM at all. */
    c = caps(false, false, HOSTCAPS_KVM_ABSENT, false);
    assert_string_equal(hostcaps_engines(&c, buf, sizeof(buf)),
                        "emu: riscv64 (software); kvm: unavailable (no vmx/svm, no /dev/kvm)");
    assert_string_equal(hostcaps_kvm_status(&c, kb, sizeof(kb)), "absent");
    assert_string_equal(hostcaps_engine_error(&c, 1), NO_VMX_ERROR);
    assert_non_null(hostcaps_kvm_error(&c));

    /* vmx but the module is not loaded. */
    c = caps(true, false, HOSTCAPS_KVM_ABSENT, false);
    assert_non_null(strstr(hostcaps_engines(&c, buf, sizeof(buf)), "no /dev/kvm"));
    assert_non_null(strstr(hostcaps_engine_error(&c, 1), "no /dev/kvm"));
    assert_null(hostcaps_engine_error(&c, 0));

    /* vmx but /dev/kvm refuses us: the reason is in every message. */
    c = caps(false, true, HOSTCAPS_KVM_UNUSABLE, false);
    assert_string_equal(hostcaps_kvm_status(&c, kb, sizeof(kb)),
                        "unusable: /dev/kvm: Permission denied");
    assert_non_null(strstr(hostcaps_engine_error(&c, 1), "Permission denied"));
    assert_string_equal(hostcaps_kvm_error(&c), "/dev/kvm: Permission denied");

    /* Small buffers are cut, never overrun. */
    char tiny[8];
    memset(tiny, 'z', sizeof(tiny));
    hostcaps_engines(&c, tiny, 5);
    assert_string_equal(tiny, "emu:");
    assert_int_equal(tiny[5], 'z');
}

/* ---- probing under a fake root ---- */

static char root[512];   /* short, so root + a path always fits */

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_root(void **s)
{
    char path[PATH_MAX];
    snprintf(root, sizeof(root), "%s/hostcaps.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        return -1;
    for (const char *const *d = (const char *const[]){ "/proc", "/dev", "/sys", "/sys/module", NULL };
         *d; d++) {
        snprintf(path, sizeof(path), "%s%s", root, *d);
        if (mkdir(path, 0755))
            return -1;
    }
    return 0;
}

static int teardown_root(void **s)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_probe_fake_roots(void **s)
{
    char path[PATH_MAX];
    HostCaps c;

    /* An Intel server image without the kvm module. */
    put("/proc/cpuinfo", fixture("intel-vmx.cpuinfo"));
    put("/proc/meminfo", fixture("host.meminfo"));
    assert_int_equal(hostcaps_probe_at(&c, root), 0);
    assert_int_equal(c.nr_cpus, 4);
    assert_true(c.vmx);
    assert_int_equal(c.total_memory_mib, 24684092 / 1024);
    assert_int_equal(c.kvm, HOSTCAPS_KVM_ABSENT);
    assert_false(c.kvm_pvm);
    assert_non_null(strstr(hostcaps_engine_error(&c, 1), "no /dev/kvm"));

    /* The nested machine, with a /dev/kvm that is a plain file. */
    put("/proc/cpuinfo", fixture("nested-none.cpuinfo"));
    put("/dev/kvm", "");
    snprintf(path, sizeof(path), "%s/sys/module/kvm_pvm", root);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(hostcaps_probe_at(&c, root), 0);
    assert_false(hostcaps_hvm(&c));
    assert_true(c.kvm_pvm);
    assert_int_equal(c.kvm, HOSTCAPS_KVM_UNUSABLE);
    assert_non_null(strstr(c.kvm_error, "not a character device"));
    assert_string_equal(hostcaps_engine_error(&c, 1), NO_VMX_ERROR);

    /* A character device that is not KVM: the API ioctl fails. */
    snprintf(path, sizeof(path), "%s/dev/kvm", root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/dev/null", path), 0);
    assert_int_equal(hostcaps_probe_at(&c, root), 0);
    assert_int_equal(c.kvm, HOSTCAPS_KVM_UNUSABLE);
    assert_non_null(strstr(c.kvm_error, "KVM_GET_API_VERSION failed"));
    char kb[256];
    assert_non_null(strstr(hostcaps_kvm_status(&c, kb, sizeof(kb)), "unusable: "));

    /* No /proc at all: -1, and nothing is made up for a fake root. */
    snprintf(path, sizeof(path), "%s/proc/cpuinfo", root);
    unlink(path);
    snprintf(path, sizeof(path), "%s/proc/meminfo", root);
    unlink(path);
    assert_int_equal(hostcaps_probe_at(&c, root), -1);
    assert_int_equal(c.nr_cpus, 0);
    assert_int_equal(c.total_memory_mib, 0);
    assert_true(c.kvm_pvm);

    /* A root too long for any path. */
    static char longroot[PATH_MAX + 100];
    memset(longroot, 'a', sizeof(longroot) - 1);
    assert_int_equal(hostcaps_probe_at(&c, longroot), -1);
    assert_int_equal(c.kvm, HOSTCAPS_KVM_ABSENT);
    assert_false(c.kvm_pvm);
}

/* The real host: whatever it has, the probe fills something sane. */
static void test_probe_this_host(void **s)
{
    HostCaps c;
    char buf[512], kb[256];

    memset(&c, 0xa5, sizeof(c));
    assert_int_equal(hostcaps_probe(&c), 0);
    assert_true(c.nr_cpus > 0);
    assert_true(c.total_memory_mib > 0);
    assert_true(c.free_memory_mib <= c.total_memory_mib);
    assert_true(c.kvm == HOSTCAPS_KVM_ABSENT || c.kvm == HOSTCAPS_KVM_UNUSABLE ||
                c.kvm == HOSTCAPS_KVM_USABLE);
    assert_true(strlen(c.cpu_model) < sizeof(c.cpu_model));
    assert_true(strlen(c.kvm_error) < sizeof(c.kvm_error));
    assert_true((c.kvm == HOSTCAPS_KVM_UNUSABLE) == (c.kvm_error[0] != 0));
    assert_int_equal(strncmp(hostcaps_engines(&c, buf, sizeof(buf)), "emu: riscv64 (software); kvm: ", 30), 0);
    hostcaps_kvm_status(&c, kb, sizeof(kb));
    print_message("# host: %s, %u cpus, virt_caps %s, kvm %s\n# engines: %s\n", c.cpu_model,
                  c.nr_cpus, hostcaps_virt_caps(&c), kb, buf);
}

/* The one memory query: the same figures as the probe, in bytes. */
static void test_host_memory(void **s)
{
    uint64_t total = 0, avail = 0;
    HostCaps c;

    assert_int_equal(host_memory(&total, &avail), 0);
    assert_true(total > 0);
    assert_true(avail <= total);
    assert_int_equal(total % 1024, 0);              /* kB in /proc/meminfo */
    assert_int_equal(hostcaps_probe(&c), 0);
    assert_int_equal(c.total_memory_mib, total >> 20);
    assert_int_equal(host_memory(NULL, &avail), 0);
    assert_int_equal(host_memory(&total, NULL), 0);
}

/* ---- the VMM sandbox ---- */

static void test_sandbox_switch(void **state)
{
    static const char *const off[] = { "0", "off", "OFF", "no", "false" };
    static const char *const on[] = { "1", "on", "log", "", "yes" };

    unsetenv("XENO_SANDBOX");
    assert_true(hostcaps_sandbox_enabled());
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        setenv("XENO_SANDBOX", off[i], 1);
        assert_false(hostcaps_sandbox_enabled());
    }
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        setenv("XENO_SANDBOX", on[i], 1);
        assert_true(hostcaps_sandbox_enabled());
    }
    unsetenv("XENO_SANDBOX");
}

static void test_sandbox_layers(void **state)
{
    char buf[256];
    HostSandbox s = { .enabled = true, .seccomp = true, .as_root = true, .user = true,
                      .namespaces = true };

    assert_string_equal(hostcaps_sandbox_layers(&s, buf, sizeof(buf)),
                        "on: seccomp (per thread), no_new_privs, no capabilities, user xeno, "
                        "mount+pid+ipc namespaces, empty root, W^X JIT");
    s.namespaces = false;
    assert_string_equal(hostcaps_sandbox_layers(&s, buf, sizeof(buf)),
                        "on: seccomp (per thread), no_new_privs, no capabilities, user xeno, "
                        "no namespaces (not allowed here), W^X JIT");
    s.as_root = false;
    assert_non_null(strstr(hostcaps_sandbox_layers(&s, buf, sizeof(buf)), "xend's user"));
    s.as_root = true;
    s.user = false;
    assert_string_equal(hostcaps_sandbox_layers(&s, buf, sizeof(buf)),
                        "VMMs cannot start: there is no user xeno (scripts/deps.sh creates it)");
    s.seccomp = false;
    assert_non_null(strstr(hostcaps_sandbox_layers(&s, buf, sizeof(buf)), "no seccomp"));
    s.enabled = false;
    assert_string_equal(hostcaps_sandbox_layers(&s, buf, sizeof(buf)),
                        "off (XENO_SANDBOX=0): VMMs keep every privilege");
    /* A short buffer is cut, never overrun. */
    assert_int_equal(strlen(hostcaps_sandbox_layers(&s, buf, 8)), 7);
}

/* The probe agrees with what this process can see for itself. */
static void test_sandbox_probe(void **state)
{
    HostSandbox s;
    struct passwd *pw;

    unsetenv("XENO_SANDBOX");
    hostcaps_probe_sandbox(&s);
    pw = getpwnam(HOSTCAPS_SANDBOX_USER);
    assert_true(s.enabled);
    assert_int_equal(s.as_root, geteuid() == 0);
    assert_int_equal(s.user, pw && pw->pw_uid != 0);
    assert_true(!s.namespaces || s.as_root);
    assert_int_equal(s.seccomp, access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0);
    setenv("XENO_SANDBOX", "0", 1);
    hostcaps_probe_sandbox(&s);
    assert_false(s.enabled);
    unsetenv("XENO_SANDBOX");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuinfo_intel_vmx),
        cmocka_unit_test(test_cpuinfo_amd_svm),
        cmocka_unit_test(test_cpuinfo_none),
        cmocka_unit_test(test_cpuinfo_arm64),
        cmocka_unit_test(test_cpuinfo_hostile),
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_conclusions),
        cmocka_unit_test_setup_teardown(test_probe_fake_roots, setup_root, teardown_root),
        cmocka_unit_test(test_probe_this_host),
        cmocka_unit_test(test_host_memory),
        cmocka_unit_test(test_sandbox_switch),
        cmocka_unit_test(test_sandbox_layers),
        cmocka_unit_test(test_sandbox_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
