/* Every example config under tests/configs: good/ must load and validate,
 * broken/ must fail with the message named on its first line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"

#ifndef CONFIGS_DIR
#error "CONFIGS_DIR must name tests/configs"
#endif

static int nwarn;

static void count_warn(void *opaque, const char *msg)
{
    nwarn++;
    print_message("  warning: %s\n", msg);
}

static int load(const char *name, const char *sub, VmConfig *c, char *err, size_t errlen)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s/%s", CONFIGS_DIR, sub, name);
    config_init(c);
    nwarn = 0;
    return config_load(c, path, count_warn, NULL, err, errlen);
}

static void test_good(void **state)
{
    DIR *d = opendir(CONFIGS_DIR "/good");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        VmConfig c;
        char err[512];

        if (e->d_name[0] == '.')
            continue;
        if (load(e->d_name, "good", &c, err, sizeof(err)) != 0)
            fail_msg("%s: %s", e->d_name, err);
        if (config_validate(&c, err, sizeof(err)) != 0)
            fail_msg("%s: invalid: %s", e->d_name, err);
        n++;
    }
    closedir(d);
    assert_true(n >= 5);
}

/* The first line says "# expect: FILE:LINE: msg" or "# expect-invalid: msg". */
static void test_broken(void **state)
{
    DIR *d = opendir(CONFIGS_DIR "/broken");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[1024], err[512], *text, *nl, *base;
        size_t len;
        VmConfig c, before;
        bool invalid;
        const char *expect;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/broken/%s", CONFIGS_DIR, e->d_name);
        text = read_file(path, &len);
        assert_non_null(text);
        nl = strchr(text, '\n');
        assert_non_null(nl);
        *nl = 0;
        invalid = !strncmp(text, "# expect-invalid: ", 18);
        if (!invalid && strncmp(text, "# expect: ", 10))
            fail_msg("%s: first line must be '# expect: ...'", e->d_name);
        expect = text + (invalid ? 18 : 10);

        config_init(&c);
        before = c;
        if (invalid) {
            if (config_load(&c, path, NULL, NULL, err, sizeof(err)) != 0)
                fail_msg("%s: %s", e->d_name, err);
            assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
            assert_string_equal(err, expect);
        } else {
            if (config_load(&c, path, NULL, NULL, err, sizeof(err)) != -1)
                fail_msg("%s: was accepted", e->d_name);
            /* messages name the file as given: compare from the base name */
            base = strstr(err, e->d_name);
            assert_non_null(base);
            assert_string_equal(base, expect);
            assert_memory_equal(&c, &before, sizeof(c));
        }
        free(text);
        n++;
    }
    closedir(d);
    assert_true(n >= 10);
}

static void test_xlexample(void **state)
{
    VmConfig c;
    char err[512];

    assert_int_equal(load("xlexample.pvlinux", "good", &c, err, sizeof(err)), 0);
    assert_int_equal(nwarn, 0);
    assert_string_equal(c.name, "example.pvlinux");
    assert_string_equal(c.kernel, "/boot/vmlinuz");
    assert_string_equal(c.cmdline, "root=/dev/xvda1");
    assert_int_equal(c.memory_mib, 128);
    assert_int_equal(c.vcpus, 2);
    assert_int_equal(c.nnics, 1);
    assert_int_equal(c.nic[0].type, CFG_NET_USER);
    assert_int_equal(c.ndisks, 1);
    assert_string_equal(c.disk[0].path, "/dev/vg/guest-volume");
    assert_string_equal(c.disk[0].vdev, "xvda");
    assert_false(c.disk[0].readonly);
}

static void test_rhel5(void **state)
{
    VmConfig c;
    char err[512];

    assert_int_equal(load("rhel5-pv.cfg", "good", &c, err, sizeof(err)), 0);
    assert_int_equal(nwarn, 1);                       /* bootloader */
    assert_true(c.uuid_set);
    assert_int_equal(c.uuid[0], 0x3e);
    assert_int_equal(c.maxmem_mib, 1024);
    assert_int_equal(c.memory_mib, 512);
    assert_string_equal(c.cmdline, "root=/dev/VolGroup00/LogVol00 ro console=xvc0 rhgb quiet");
    assert_int_equal(c.on_crash, CFG_ACT_RESTART);
    assert_int_equal(c.ndisks, 2);
    assert_string_equal(c.disk[0].path, "/var/lib/xen/images/rhel5-pv.img");
    assert_string_equal(c.disk[1].path, "/dev/VolGroup01/rhel5-data");
    assert_int_equal(c.nic[0].type, CFG_NET_BRIDGE);
    assert_string_equal(c.nic[0].bridge, "xenbr0");
    assert_true(c.nic[0].mac_set);

    assert_int_equal(load("rhel5-hvm.cfg", "good", &c, err, sizeof(err)), 0);
    assert_int_equal(nwarn, 0);
    assert_int_equal(c.type, CFG_TYPE_HVM);
    assert_string_equal(c.disk[0].vdev, "hda");
    assert_true(c.disk[1].cdrom);
    assert_true(c.disk[1].readonly);
    assert_int_equal(c.nic[0].type, CFG_NET_BRIDGE);
}

static void test_xeno_examples(void **state)
{
    VmConfig c;
    char err[512];

    assert_int_equal(load("xeno-riscv.cfg", "good", &c, err, sizeof(err)), 0);
    assert_int_equal(nwarn, 0);
    assert_int_equal(c.engine, CFG_ENGINE_EMU);
    assert_string_equal(c.disk[0].serial, "demo-root");
    assert_string_equal(c.disk[0].vdev, "vda");
    assert_int_equal(c.nic[0].nfwd, 2);
    assert_int_equal(c.nic[0].fwd[0].host_port, 2222);
    assert_string_equal(c.cmdline, "console=hvc0 earlycon=sbi");

    assert_int_equal(load("xeno-kvm.cfg", "good", &c, err, sizeof(err)), 0);
    assert_int_equal(nwarn, 0);
    assert_int_equal(c.ndisks, 2);
    assert_string_equal(c.cmdline, "root=/dev/vda1 console=ttyS0 net.ifnames=0");
    assert_string_equal(c.nic[0].ifname, "vif-web0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_xlexample),
        cmocka_unit_test(test_rhel5),
        cmocka_unit_test(test_xeno_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
