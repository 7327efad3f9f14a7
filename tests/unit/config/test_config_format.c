/* config_format: every example config, and one with awkward strings,
 * survives format → parse unchanged (what a saved or migrating domain
 * relies on to be rebuilt the same). */
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

#ifndef CONFIGS_DIR
#error "CONFIGS_DIR must name tests/configs"
#endif

static void same_config(const VmConfig *a, const VmConfig *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->uuid_set, b->uuid_set);
    assert_memory_equal(a->uuid, b->uuid, 16);
    assert_int_equal(a->memory_mib, b->memory_mib);
    assert_int_equal(a->maxmem_mib, b->maxmem_mib);
    assert_int_equal(a->vcpus, b->vcpus);
    assert_int_equal(a->maxvcpus, b->maxvcpus);
    assert_string_equal(a->kernel, b->kernel);
    assert_string_equal(a->ramdisk, b->ramdisk);
    assert_string_equal(a->firmware, b->firmware);
    assert_string_equal(a->cmdline, b->cmdline);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->engine, b->engine);
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->on_poweroff, b->on_poweroff);
    assert_int_equal(a->on_reboot, b->on_reboot);
    assert_int_equal(a->on_crash, b->on_crash);
    assert_int_equal(a->ndisks, b->ndisks);
    for (unsigned i = 0; i < a->ndisks; i++) {
        assert_string_equal(a->disk[i].path, b->disk[i].path);
        assert_string_equal(a->disk[i].vdev, b->disk[i].vdev);
        assert_int_equal(a->disk[i].readonly, b->disk[i].readonly);
        assert_int_equal(a->disk[i].cdrom, b->disk[i].cdrom);
        assert_string_equal(a->disk[i].serial, b->disk[i].serial);
    }
    assert_int_equal(a->nnics, b->nnics);
    for (unsigned i = 0; i < a->nnics; i++)
        assert_memory_equal(&a->nic[i], &b->nic[i], sizeof(CfgNic));
    assert_int_equal(a->rng, b->rng);
    assert_int_equal(a->balloon, b->balloon);
    assert_int_equal(a->vconsole, b->vconsole);
}

static void roundtrip(const VmConfig *c)
{
    static char text[CONFIG_FORMAT_MAX], again[CONFIG_FORMAT_MAX];
    VmConfig back;
    char err[512];
    int n = config_format(c, text, sizeof(text));

    assert_true(n > 0);
    config_init(&back);
    if (config_parse(&back, "formatted", text, (size_t)n, NULL, NULL, err, sizeof(err)))
        fail_msg("%s\n--- formatted:\n%s", err, text);
    assert_int_equal(config_validate(&back, err, sizeof(err)), 0);
    same_config(c, &back);
    /* Formatting is a fixed point. */
    assert_int_equal(config_format(&back, again, sizeof(again)), n);
    assert_string_equal(again, text);
}

static void test_example_configs(void **state)
{
    char dir[1024], path[1300], err[512];
    struct dirent *de;
    DIR *d;
    unsigned n = 0;
    (void)state;

    snprintf(dir, sizeof(dir), "%s/good", CONFIGS_DIR);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d))) {
        VmConfig c;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        config_init(&c);
        assert_int_equal(config_load(&c, path, NULL, NULL, err, sizeof(err)), 0);
        roundtrip(&c);
        n++;
    }
    closedir(d);
    assert_true(n >= 3);
}

static void test_awkward_strings(void **state)
{
    static const char cfg[] =
        "name = \"odd-vm_1\"\n"
        "uuid = \"12345678-9abc-def0-1234-56789abcdef0\"\n"
        "memory = 512\nmaxmem = 1024\nvcpus = 2\nmaxvcpus = 4\n"
        "kernel = \"/boot/with \\\"quotes\\\" and \\\\ back\"\n"
        "ramdisk = \"/boot/initrd,with,commas\"\n"
        "extra = \"console=ttyS0 init=/bin/sh quiet\\tx\"\n"
        "root = \"/dev/vda1 ro\"\n"
        "on_crash = \"preserve\"\non_reboot = \"destroy\"\n"
        "disk = [ 'file:/img/a.img,xvda,w', 'phy:/dev/sdb,xvdb,r', 'vdev=xvdd,target=/img/with,comma.img', "
        "'format=raw,vdev=xvdc,access=ro,devtype=cdrom,target=/iso/x.iso' ]\n"
        "vif = [ 'mac=00:16:3e:01:02:03,bridge=br0', "
        "'type=user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-:53' ]\n"
        "rng = 0\nballoon = 0\n";
    VmConfig c;
    char err[512];
    (void)state;

    config_init(&c);
    assert_int_equal(config_parse(&c, "t", cfg, sizeof(cfg) - 1, NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "root=/dev/vda1 ro console=ttyS0 init=/bin/sh quiet\tx");
    roundtrip(&c);
}

static void test_too_small(void **state)
{
    VmConfig c;
    char small[16];
    (void)state;

    config_init(&c);
    assert_int_equal(config_format(&c, small, sizeof(small)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_configs),
        cmocka_unit_test(test_awkward_strings),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
