/* Domain config parser: syntax, every key, every error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

/* ---- helpers ---- */

static char warns[16][512];
static int nwarns;
static char err[512];

static void warn_cb(void *opaque, const char *msg)
{
    int *calls = opaque;

    (*calls)++;
    if (nwarns < 16)
        snprintf(warns[nwarns++], sizeof(warns[0]), "%s", msg);
}

static int calls;

/* Parse text (as "vm.cfg") on top of c. */
static int parse_into(VmConfig *c, const char *text)
{
    nwarns = 0;
    calls = 0;
    err[0] = 0;
    return config_parse(c, "vm.cfg", text, strlen(text), warn_cb, &calls, err, sizeof(err));
}

static VmConfig *parse_ok(const char *text)
{
    VmConfig *c = malloc(sizeof(*c));

    assert_non_null(c);
    config_init(c);
    if (parse_into(c, text) != 0)
        fail_msg("unexpected error: %s", err);
    return c;
}

/* Expect an error with exactly this message; also check nothing applied. */
static void parse_err(const char *text, const char *expect)
{
    VmConfig *c = malloc(sizeof(*c)), *before = malloc(sizeof(*c));

    assert_non_null(c);
    assert_non_null(before);
    config_init(c);
    *before = *c;
    assert_int_equal(parse_into(c, text), -1);
    assert_string_equal(err, expect);
    assert_memory_equal(c, before, sizeof(*c));
    free(c);
    free(before);
}

/* ---- defaults and syntax ---- */

static void test_defaults(void **state)
{
    VmConfig c;
    char e[256];

    config_init(&c);
    assert_int_equal(c.memory_mib, 256);
    assert_int_equal(c.maxmem_mib, 0);
    assert_int_equal(c.vcpus, 1);
    assert_int_equal(c.maxvcpus, 0);
    assert_int_equal(c.on_poweroff, CFG_ACT_DESTROY);
    assert_int_equal(c.on_reboot, CFG_ACT_RESTART);
    assert_int_equal(c.on_crash, CFG_ACT_DESTROY);
    assert_true(c.rng && c.balloon && c.vconsole);
    assert_int_equal(c.ndisks, 0);
    assert_int_equal(c.nnics, 0);
    assert_int_equal(config_validate(&c, e, sizeof(e)), 0);
}

static void test_empty_and_comments(void **state)
{
    VmConfig *c = parse_ok("");
    free(c);
    c = parse_ok("\n\n# only a comment\n   \t\n;;\n# memory = 3\n");
    assert_int_equal(c->memory_mib, 256);
    free(c);
    c = parse_ok("extra = \"a#b\"  # the # inside quotes is kept\n");
    assert_string_equal(c->cmdline, "a#b");
    free(c);
}

static void test_semicolons_and_crlf(void **state)
{
    VmConfig *c = parse_ok("memory = 512; vcpus = 2;\r\nname='x1'\r\n");

    assert_int_equal(c->memory_mib, 512);
    assert_int_equal(c->vcpus, 2);
    assert_string_equal(c->name, "x1");
    free(c);
}

static void test_quoting(void **state)
{
    VmConfig *c = parse_ok("extra = \"a \\\"b\\\" \\\\ c\\nd 'e'\"\n"
                           "kernel = 'it\\'s \"here\"'\n"
                           "ramdisk = \"C:\\\\x\\q\"\n");

    assert_string_equal(c->cmdline, "a \"b\" \\ c\nd 'e'");
    assert_string_equal(c->kernel, "it's \"here\"");
    assert_string_equal(c->ramdisk, "C:\\x\\q");   /* unknown escape kept */
    free(c);
}

static void test_numbers(void **state)
{
    VmConfig *c = parse_ok("memory = 0x200\nmaxmem = \"1024\"\nvcpus = 010\n");

    assert_int_equal(c->memory_mib, 512);
    assert_int_equal(c->maxmem_mib, 1024);
    assert_int_equal(c->vcpus, 10);           /* decimal, not octal */
    free(c);
}

static void test_continuation(void **state)
{
    VmConfig *c = parse_ok("name = \\\n  \"cont\"\nmemory = \\  \r\n 300\nvcpus = 3\n");

    assert_string_equal(c->name, "cont");
    assert_int_equal(c->memory_mib, 300);
    assert_int_equal(c->vcpus, 3);
    free(c);
    /* line numbers still count the continued lines */
    parse_err("name = \\\n\"a\"\nmemory = 0\n", "vm.cfg:3: memory: must be between 1 and 1048576");
    /* backslash-newline inside a string joins the lines */
    c = parse_ok("extra = \"a \\\nb\"\n");
    assert_string_equal(c->cmdline, "a b");
    free(c);
}

static void test_multiline_list(void **state)
{
    VmConfig *c = parse_ok("disk = [\n"
                           "  'file:/a.img,xvda,w',   # first\n"
                           "\n"
                           "  # a comment line inside the list\n"
                           "  'file:/b.img,xvdb,r',\n"
                           "]\n"
                           "vcpus = 2\n");

    assert_int_equal(c->ndisks, 2);
    assert_string_equal(c->disk[1].path, "/b.img");
    assert_true(c->disk[1].readonly);
    assert_int_equal(c->vcpus, 2);
    free(c);
    c = parse_ok("vif = []\ndisk = [ ]\n");
    assert_int_equal(c->nnics, 0);
    free(c);
}

static void test_bom_and_true_false(void **state)
{
    VmConfig *c = parse_ok("\xef\xbb\xbfrng = False\nballoon = True\nvconsole = 0\n");

    assert_false(c->rng);
    assert_true(c->balloon);
    assert_false(c->vconsole);
    free(c);
}

/* ---- keys ---- */

static void test_all_keys(void **state)
{
    static const uint8_t uuid[16] = { 0x5b, 0x0c, 0x9c, 0x4a, 0x1d, 0x2e, 0x4f, 0x3a,
                                      0x9b, 0x8c, 0x7d, 0x6e, 0x5f, 0x4a, 0x3b, 0x2c };
    VmConfig *c = parse_ok(
        "name = 'web-1.example'\n"
        "uuid = '5b0c9c4a-1d2e-4f3a-9B8C-7d6e5f4a3b2c'\n"
        "memory = 512\n"
        "maxmem = 1024\n"
        "vcpus = 2\n"
        "maxvcpus = 4\n"
        "kernel = '/boot/Image'\n"
        "ramdisk = '/boot/initrd'\n"
        "firmware = '/usr/lib/riscv64-linux-gnu/opensbi/fw_dynamic.bin'\n"
        "on_poweroff = 'preserve'\n"
        "on_reboot = 'rename-restart'\n"
        "on_crash = 'coredump-destroy'\n"
        "type = 'pvh'\n"
        "engine = 'emu'\n"
        "arch = 'riscv64'\n"
        "rng = 0\nballoon = 0\nvconsole = 0\n"
        "disk = [ 'file:/img,xvda,w' ]\n"
        "vif = [ '' ]\n");

    assert_string_equal(c->name, "web-1.example");
    assert_true(c->uuid_set);
    assert_memory_equal(c->uuid, uuid, 16);
    assert_int_equal(c->memory_mib, 512);
    assert_int_equal(c->maxmem_mib, 1024);
    assert_int_equal(c->vcpus, 2);
    assert_int_equal(c->maxvcpus, 4);
    assert_string_equal(c->kernel, "/boot/Image");
    assert_string_equal(c->ramdisk, "/boot/initrd");
    assert_string_equal(c->firmware, "/usr/lib/riscv64-linux-gnu/opensbi/fw_dynamic.bin");
    assert_int_equal(c->on_poweroff, CFG_ACT_PRESERVE);
    assert_int_equal(c->on_reboot, CFG_ACT_RENAME_RESTART);
    assert_int_equal(c->on_crash, CFG_ACT_COREDUMP_DESTROY);
    assert_int_equal(c->type, CFG_TYPE_PVH);
    assert_int_equal(c->engine, CFG_ENGINE_EMU);
    assert_int_equal(c->arch, CFG_ARCH_RISCV64);
    assert_false(c->rng || c->balloon || c->vconsole);
    assert_int_equal(c->ndisks, 1);
    assert_int_equal(c->nnics, 1);
    assert_int_equal(c->nic[0].type, CFG_NET_USER);
    assert_int_equal(nwarns, 0);
    assert_int_equal(config_validate(c, err, sizeof(err)), 0);
    free(c);
}

static void test_actions(void **state)
{
    static const char *const names[] = { "destroy", "restart", "preserve", "rename-restart",
                                         "coredump-destroy", "coredump-restart" };
    char text[128];

    for (int i = 0; i < 6; i++) {
        VmConfig *c;

        snprintf(text, sizeof(text), "on_poweroff='%s'\non_reboot='%s'\non_crash='%s'\n",
                 names[i], names[i], names[i]);
        c = parse_ok(text);
        assert_int_equal(c->on_poweroff, i);
        assert_int_equal(c->on_reboot, i);
        assert_int_equal(c->on_crash, i);
        assert_string_equal(config_action_name((enum cfg_action)i), names[i]);
        free(c);
    }
    assert_string_equal(config_action_name((enum cfg_action)99), "unknown");
}

static void test_type_builder_engine_arch(void **state)
{
    VmConfig *c = parse_ok("builder = 'linux'\n");
    assert_int_equal(c->type, CFG_TYPE_PV);
    free(c);
    c = parse_ok("builder = 'hvm'\n");
    assert_int_equal(c->type, CFG_TYPE_HVM);
    free(c);
    c = parse_ok("builder = 'generic'\n");
    assert_int_equal(c->type, CFG_TYPE_PV);
    free(c);
    c = parse_ok("type = 'hvm'\nengine = 'kvm'\narch = 'x86_64'\n");
    assert_int_equal(c->type, CFG_TYPE_HVM);
    assert_int_equal(c->engine, CFG_ENGINE_KVM);
    assert_int_equal(c->arch, CFG_ARCH_X86_64);
    assert_string_equal(config_type_name(c->type), "hvm");
    assert_string_equal(config_engine_name(c->engine), "kvm");
    assert_string_equal(config_arch_name(c->arch), "x86_64");
    free(c);
    c = parse_ok("type = 'pv'\n");
    assert_int_equal(c->type, CFG_TYPE_PV);
    free(c);
}

static void test_cmdline_composition(void **state)
{
    VmConfig *c = parse_ok("root = '/dev/xvda1 ro'\nextra = 'console=hvc0'\n");
    assert_string_equal(c->cmdline, "root=/dev/xvda1 ro console=hvc0");
    free(c);
    c = parse_ok("root = '/dev/vda'\n");
    assert_string_equal(c->cmdline, "root=/dev/vda");
    free(c);
    c = parse_ok("extra = 'quiet'\n");
    assert_string_equal(c->cmdline, "quiet");
    free(c);
    /* cmdline wins over root/extra, with a warning (as xl) */
    c = parse_ok("extra = 'quiet'\ncmdline = 'console=ttyS0'\nroot = '/dev/x'\n");
    assert_string_equal(c->cmdline, "console=ttyS0");
    assert_int_equal(nwarns, 1);
    assert_string_equal(warns[0], "vm.cfg:3: ignoring root= and extra= because cmdline= is set");
    free(c);
}

static void test_unknown_and_ignored_keys(void **state)
{
    VmConfig *c = parse_ok("foo = 'bar'\n"
                           "vnc = 1\nsdl = 0\nvfb = [ 'type=vnc' ]\nserial = 'pty'\n"
                           "localtime = 0\nacpi = 1\napic = 1\npae = 1\nboot = 'c'\n"
                           "bootloader = '/usr/bin/pygrub'\n"
                           "weird_list = [ 1, 'two', ]\n"
                           "memory = 300\n");

    assert_int_equal(nwarns, 3);
    assert_int_equal(calls, 3);
    assert_string_equal(warns[0], "vm.cfg:1: unknown key 'foo' ignored");
    assert_string_equal(warns[1], "vm.cfg:11: 'bootloader' is not supported by Xeno; ignored");
    assert_string_equal(warns[2], "vm.cfg:12: unknown key 'weird_list' ignored");
    assert_int_equal(c->memory_mib, 300);
    free(c);

    /* a NULL callback is fine */
    c = malloc(sizeof(*c));
    config_init(c);
    assert_int_equal(config_parse(c, "x", "foo=1", 5, NULL, NULL, err, sizeof(err)), 0);
    free(c);
}

static void test_duplicate_keys(void **state)
{
    VmConfig *c = parse_ok("memory = 128\nvcpus = 1\nmemory = 256\n"
                           "disk = [ 'file:/a,xvda,w' ]\ndisk = [ 'file:/b,xvdb,w' ]\n");

    assert_int_equal(c->memory_mib, 256);
    assert_int_equal(c->ndisks, 1);               /* the list is replaced */
    assert_string_equal(c->disk[0].path, "/b");
    assert_int_equal(nwarns, 2);
    assert_string_equal(warns[0],
        "vm.cfg:3: 'memory' is set again (first set on line 1); the last value wins");
    free(c);
}

static void test_list_append(void **state)
{
    VmConfig *c = parse_ok("disk = [ 'file:/a,xvda,w' ]\ndisk += [ 'file:/b,xvdb,w' ]\n"
                           "vif += [ 'bridge=br0' ]\n");

    assert_int_equal(c->ndisks, 2);
    assert_int_equal(c->nnics, 1);
    assert_int_equal(nwarns, 0);
    free(c);
}

/* ---- errors: each message, with its line ---- */

static void test_syntax_errors(void **state)
{
    parse_err("name = 'a'\n\nmemory 512\n", "vm.cfg:3: expected '=' after 'memory'");
    parse_err("a=1\n\n\n\n\n\nkernel = \"/boot/x\n", "vm.cfg:7: unterminated string");
    parse_err("kernel = '/boot/x", "vm.cfg:1: unterminated string");
    parse_err("kernel = '/boot/x\\", "vm.cfg:1: unterminated string");
    parse_err("\n= 5\n", "vm.cfg:2: expected a key name, got '='");
    parse_err("'name' = 5\n", "vm.cfg:1: expected a key name, got \"name\"");
    parse_err("memory =\n", "vm.cfg:1: expected a value after 'memory ='");
    parse_err("memory = ;\n", "vm.cfg:1: expected a value after 'memory ='");
    parse_err("memory = 512 256\n", "vm.cfg:1: unexpected '256' after the value of 'memory'");
    parse_err("name = 'a' 'b'\n", "vm.cfg:1: unexpected \"b\" after the value of 'name'");
    parse_err("memory = 5\\ x\n", "vm.cfg:1: unexpected '\\' (only allowed at the end of a line)");
    parse_err("memory = $5\n", "vm.cfg:1: unexpected character '$'");
    parse_err("memory = 5\n\x01", "vm.cfg:2: unexpected byte 0x01");
    parse_err("foo = lots\n", "vm.cfg:1: foo: expected a value, got lots (strings need quotes)");
    parse_err("memory += 5\n", "vm.cfg:1: memory: '+=' works only on lists");
    parse_err("memory + 5\n", "vm.cfg:1: unexpected character '+'");
}

static void test_embedded_nul(void **state)
{
    static const char text[] = "name = 'a\0b'\n";
    static const char text2[] = "memory = 5\n\0";
    VmConfig c, before;

    config_init(&c);
    before = c;
    assert_int_equal(config_parse(&c, "vm.cfg", text, sizeof(text) - 1, NULL, NULL,
                                  err, sizeof(err)), -1);
    assert_string_equal(err, "vm.cfg:1: NUL byte inside a string");
    assert_int_equal(config_parse(&c, "vm.cfg", text2, sizeof(text2) - 1, NULL, NULL,
                                  err, sizeof(err)), -1);
    assert_string_equal(err, "vm.cfg:2: unexpected NUL byte");
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_list_errors(void **state)
{
    parse_err("disk = [ 'file:/a,xvda,w'\n\n", "vm.cfg:1: unterminated list (no ']' for this '[')");
    parse_err("\ndisk = [ 'file:/a,xvda,w',\n", "vm.cfg:2: unterminated list (no ']' for this '[')");
    parse_err("disk = [ [ 'a' ] ]\n", "vm.cfg:1: nested lists are not supported");
    parse_err("disk = [ , ]\n", "vm.cfg:1: unexpected ',' in list");
    parse_err("disk = [ 'file:/a,xvda,w' 'b' ]\n",
              "vm.cfg:1: expected ',' or ']' in list, got \"b\"");
    parse_err("disk = [ 'file:/a,xvda,w'; ]\n", "vm.cfg:1: expected ',' or ']' in list, got ';'");
    parse_err("disk = 'file:/a,xvda,w'\n", "vm.cfg:1: disk: expected a list [ ... ]");
    parse_err("vif = 5\n", "vm.cfg:1: vif: expected a list [ ... ]");
    parse_err("memory = [ 5 ]\n", "vm.cfg:1: memory: expected a number, got a list");
    parse_err("name = [ 'a' ]\n", "vm.cfg:1: name: expected a string, got a list");
    parse_err("disk = [ xvda ]\n", "vm.cfg:1: disk: expected a quoted string, got xvda");
    /* an error in the 3rd line of a multi-line list names that line */
    parse_err("disk = [\n 'file:/a,xvda,w',\n 'file:/b,qcow2,xvdb',\n]\n",
              "vm.cfg:3: disk format 'qcow2' is not supported (only raw)");
    parse_err("vif = [ '',\n\n  'model=e1000' ]\n",
              "vm.cfg:3: vif model 'e1000' is not supported (only virtio)");
}

static void test_too_many(void **state)
{
    char text[4096];
    size_t n = 0;

    n += (size_t)snprintf(text + n, sizeof(text) - n, "disk = [");
    for (int i = 0; i <= CFG_MAX_DISKS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "'file:/d%d,xvd%c,w',\n", i, 'a' + i);
    snprintf(text + n, sizeof(text) - n, "]\n");
    parse_err(text, "vm.cfg:9: disk: too many disks (max 8)");

    n = 0;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "vif = [");
    for (int i = 0; i <= CFG_MAX_NICS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "'',");
    snprintf(text + n, sizeof(text) - n, "]\n");
    parse_err(text, "vm.cfg:1: vif: too many network interfaces (max 8)");

    n = 0;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "junk = [");
    for (int i = 0; i <= 256; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%d,", i);
    snprintf(text + n, sizeof(text) - n, "]\n");
    parse_err(text, "vm.cfg:1: too many items in list (max 256)");
}

static void test_value_errors(void **state)
{
    parse_err("\nmemory = \"lots\"\n", "vm.cfg:2: memory: expected a number, got \"lots\"");
    parse_err("memory = lots\n", "vm.cfg:1: memory: expected a number, got \"lots\"");
    parse_err("memory = 12abc\n", "vm.cfg:1: memory: expected a number, got \"12abc\"");
    parse_err("memory = 1.5\n", "vm.cfg:1: memory: expected a number, got \"1.5\"");
    parse_err("memory = 99999999999999999999999\n",
              "vm.cfg:1: memory: expected a number, got \"99999999999999999999999\"");
    parse_err("memory = 0\n", "vm.cfg:1: memory: must be between 1 and 1048576");
    parse_err("memory = -1\n", "vm.cfg:1: memory: must be between 1 and 1048576");
    parse_err("memory = 1048577\n", "vm.cfg:1: memory: must be between 1 and 1048576");
    parse_err("maxmem = 0\n", "vm.cfg:1: maxmem: must be between 1 and 1048576");
    parse_err("\n\n\n\nvcpus = 65\n", "vm.cfg:5: vcpus: must be between 1 and 64");
    parse_err("vcpus = 0\n", "vm.cfg:1: vcpus: must be between 1 and 64");
    parse_err("maxvcpus = 100\n", "vm.cfg:1: maxvcpus: must be between 1 and 64");
    parse_err("rng = 2\n", "vm.cfg:1: rng: must be 0 or 1");
    parse_err("balloon = 'yes'\n", "vm.cfg:1: balloon: expected a number, got \"yes\"");
    parse_err("vconsole = -1\n", "vm.cfg:1: vconsole: must be 0 or 1");
    parse_err("uuid = '123'\n", "vm.cfg:1: uuid: expected 8-4-4-4-12 hex digits, got \"123\"");
    parse_err("uuid = '5b0c9c4a-1d2e-4f3a-9b8c-7d6e5f4a3b2g'\n",
              "vm.cfg:1: uuid: expected 8-4-4-4-12 hex digits, got "
              "\"5b0c9c4a-1d2e-4f3a-9b8c-7d6e5f4a3b2g\"");
    parse_err("uuid = '5b0c9c4a11d2e-4f3a-9b8c-7d6e5f4a3b2c'\n",
              "vm.cfg:1: uuid: expected 8-4-4-4-12 hex digits, got "
              "\"5b0c9c4a11d2e-4f3a-9b8c-7d6e5f4a3b2c\"");
    parse_err("on_crash = 'explode'\n", "vm.cfg:1: on_crash: unknown action \"explode\" (expected "
              "destroy, restart, preserve, rename-restart, coredump-destroy or coredump-restart)");
    parse_err("on_reboot = restart\n", "vm.cfg:1: on_reboot: expected a quoted string, got restart");
    parse_err("type = 'xen'\n", "vm.cfg:1: type: unknown type \"xen\" (expected pv, pvh or hvm)");
    parse_err("builder = 'bsd'\n",
              "vm.cfg:1: builder: unknown builder \"bsd\" (expected linux, generic or hvm)");
    parse_err("engine = 'tcg'\n", "vm.cfg:1: engine: unknown engine \"tcg\" (expected emu or kvm)");
    parse_err("arch = 'arm64'\n",
              "vm.cfg:1: arch: unknown architecture \"arm64\" (expected riscv64 or x86_64)");
    parse_err("name = ''\n", "vm.cfg:1: name: must not be empty");
    parse_err("name = '42'\n", "vm.cfg:1: name: must not be a number (it would look like a domain id)");
    parse_err("name = 'a b'\n", "vm.cfg:1: name: may hold only letters, digits and - _ . + : @");
    parse_err("name = '../etc'\n", "vm.cfg:1: name: must not start with '-' or '.'");
    parse_err("name = 'Domain-0'\n", "vm.cfg:1: name: 'Domain-0' is the host's name");
}

static void test_value_too_long(void **state)
{
    static char text[10032];
    size_t n = 10000;

    snprintf(text, n, "name = '%070d'\n", 1);
    parse_err(text, "vm.cfg:1: name: value too long (max 63 characters)");

    memcpy(text, "kernel = '", 10);
    memset(text + 10, 'k', 5000);
    strcpy(text + 5010, "'\n");
    parse_err(text, "vm.cfg:1: kernel: value too long (max 4095 characters)");

    memset(text + 10, 'k', 9000);
    strcpy(text + 9010, "'\n");
    parse_err(text, "vm.cfg:1: value too long (max 8192 characters)");

    memset(text, 'k', 100);
    strcpy(text + 100, " = 1\n");
    parse_err(text, "vm.cfg:1: key name too long (max 64 characters)");

    /* the cmdline assembled from root and extra must fit as well */
    memcpy(text, "root = '", 8);
    memset(text + 8, 'r', 3000);
    strcpy(text + 3008, "'\nextra = '");
    memset(text + 3019, 'e', 3000);
    strcpy(text + 6019, "'\n");
    parse_err(text, "vm.cfg:2: cmdline: value too long (max 4095 characters)");
}

/* root and extra are kept as given: overriding one keeps the other intact,
 * even a root of several words (Xen's `root = "/dev/xvda1 ro"`). */
static void test_root_extra_overrides(void **state)
{
    VmConfig c;
    char err[256];
    const char *text = "root = '/dev/xvda1 ro'\nextra = 'console=ttyS0'\n";

    (void)state;
    config_init(&c);
    assert_int_equal(config_parse(&c, "vm.cfg", text, strlen(text), NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "root=/dev/xvda1 ro console=ttyS0");
    assert_int_equal(config_set(&c, "extra=quiet", err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "root=/dev/xvda1 ro quiet");
    assert_int_equal(config_set(&c, "root=/dev/vda", err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "root=/dev/vda quiet");
    /* An explicit cmdline wins over both, later overrides included. */
    assert_int_equal(config_set(&c, "cmdline=console=hvc0", err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "console=hvc0");
    assert_int_equal(config_set(&c, "extra=loud", err, sizeof(err)), 0);
    assert_string_equal(c.cmdline, "console=hvc0");
}

static void test_nothing_applied_on_error(void **state)
{
    VmConfig c, before;

    config_init(&c);
    assert_int_equal(parse_into(&c, "memory = 512\nname = 'keep'\n"), 0);
    before = c;
    assert_int_equal(parse_into(&c, "memory = 1024\nname = 'other'\n"
                                    "disk = [ 'file:/a,xvda,w' ]\nextra = 'x'\nvcpus = 99\n"), -1);
    assert_string_equal(err, "vm.cfg:5: vcpus: must be between 1 and 64");
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_null_err_buffer(void **state)
{
    VmConfig c;

    config_init(&c);
    assert_int_equal(config_parse(&c, NULL, "memory=0", 8, NULL, NULL, NULL, 0), -1);
    assert_int_equal(config_parse(&c, NULL, NULL, 0, NULL, NULL, NULL, 0), 0);
    /* a tiny error buffer truncates, never overflows */
    {
        char small[8];
        assert_int_equal(config_parse(&c, "a-long-file-name.cfg", "memory=0", 8, NULL, NULL,
                                      small, sizeof(small)), -1);
        assert_string_equal(small, "a-long-");
    }
}

/* ---- config_set ---- */

static void test_config_set(void **state)
{
    VmConfig *c = parse_ok("name = 'web1'\nmemory = 256\nroot = '/dev/xvda1'\nextra = 'quiet'\n"
                           "disk = [ 'file:/a,xvda,w' ]\n");

    assert_int_equal(config_set(c, "memory=512", err, sizeof(err)), 0);
    assert_int_equal(c->memory_mib, 512);
    assert_int_equal(config_set(c, "name=web2", err, sizeof(err)), 0);
    assert_string_equal(c->name, "web2");
    assert_int_equal(config_set(c, "name = \"web 3\"", err, sizeof(err)), -1);
    assert_string_equal(err, "name: may hold only letters, digits and - _ . + : @");
    assert_int_equal(config_set(c, "vcpus = '4'", err, sizeof(err)), 0);
    assert_int_equal(c->vcpus, 4);
    assert_int_equal(config_set(c, "kernel=/boot/vmlinuz-2.6.18 x", err, sizeof(err)), 0);
    assert_string_equal(c->kernel, "/boot/vmlinuz-2.6.18 x");
    assert_int_equal(config_set(c, "on_crash=preserve", err, sizeof(err)), 0);
    assert_int_equal(c->on_crash, CFG_ACT_PRESERVE);
    assert_int_equal(config_set(c, "rng=0", err, sizeof(err)), 0);
    assert_false(c->rng);

    /* extra keeps the root, root keeps the extra */
    assert_string_equal(c->cmdline, "root=/dev/xvda1 quiet");
    assert_int_equal(config_set(c, "extra=console=hvc0 single", err, sizeof(err)), 0);
    assert_string_equal(c->cmdline, "root=/dev/xvda1 console=hvc0 single");
    assert_int_equal(config_set(c, "root=/dev/vda", err, sizeof(err)), 0);
    assert_string_equal(c->cmdline, "root=/dev/vda console=hvc0 single");
    assert_int_equal(config_set(c, "cmdline=init=/bin/sh", err, sizeof(err)), 0);
    assert_string_equal(c->cmdline, "init=/bin/sh");

    /* a bare list value adds one device (as xm create did); [..] replaces */
    assert_int_equal(config_set(c, "disk=phy:/dev/sdb,xvdb,r", err, sizeof(err)), 0);
    assert_int_equal(c->ndisks, 2);
    assert_true(c->disk[1].readonly);
    assert_int_equal(config_set(c, "disk=[ 'file:/c,xvdc,w' ]", err, sizeof(err)), 0);
    assert_int_equal(c->ndisks, 1);
    assert_string_equal(c->disk[0].vdev, "xvdc");
    assert_int_equal(config_set(c, "vif=bridge=xenbr0,mac=00:16:3e:00:00:01", err, sizeof(err)), 0);
    assert_int_equal(c->nnics, 1);
    assert_int_equal(c->nic[0].type, CFG_NET_BRIDGE);
    assert_int_equal(config_set(c, "disk += [ 'file:/d,xvdd,w' ]", err, sizeof(err)), 0);
    assert_int_equal(c->ndisks, 2);
    assert_int_equal(config_set(c, "vnc=1", err, sizeof(err)), 0);     /* ignored key */
    free(c);
}

static void test_config_set_errors(void **state)
{
    VmConfig c, before;

    config_init(&c);
    before = c;
#define SET_ERR(a, msg) do { \
        assert_int_equal(config_set(&c, a, err, sizeof(err)), -1); \
        assert_string_equal(err, msg); \
        assert_memory_equal(&c, &before, sizeof(c)); \
    } while (0)
    SET_ERR("memory=lots", "memory: expected a number, got \"lots\"");
    SET_ERR("memory=", "memory: expected a number, got \"\"");
    SET_ERR("vcpus=65", "vcpus: must be between 1 and 64");
    SET_ERR("memory", "expected '=' after 'memory'");
    SET_ERR("", "expected key=value, got an empty string");
    SET_ERR("=5", "expected a key name, got '='");
    SET_ERR("colour=blue", "unknown key 'colour'");
    SET_ERR("bootloader=pygrub", "'bootloader' is not supported by Xeno");
    SET_ERR("memory='512", "unterminated string");
    SET_ERR("name='a' memory=5", "unexpected 'memory' after the value of 'name'");
    SET_ERR("name='a'; memory=5", "one key=value at a time");
    SET_ERR("disk=file:/a.img,xvda,w,extra", "disk spec has too many parameters");
    SET_ERR("disk=[ 'file:/a,xvda,w' ", "unterminated list (no ']' for this '[')");
    SET_ERR("vif=model=e1000", "vif model 'e1000' is not supported (only virtio)");
#undef SET_ERR
    assert_int_equal(config_set(&c, NULL, err, sizeof(err)), -1);
}

/* ---- config_validate ---- */

static void test_validate(void **state)
{
    VmConfig c;
    char e[256];

#define BAD(setup, msg) do { \
        config_init(&c); setup; \
        assert_int_equal(config_validate(&c, e, sizeof(e)), -1); \
        assert_string_equal(e, msg); \
    } while (0)
    BAD(c.memory_mib = 0, "memory: must be between 1 and 1048576");
    BAD(c.memory_mib = 2000000, "memory: must be between 1 and 1048576");
    BAD((c.memory_mib = 512, c.maxmem_mib = 256), "maxmem (256 MiB) is less than memory (512 MiB)");
    BAD(c.maxmem_mib = 2000000, "maxmem: must be between 1 and 1048576");
    BAD(c.vcpus = 0, "vcpus: must be between 1 and 64");
    BAD(c.vcpus = 65, "vcpus: must be between 1 and 64");
    BAD((c.vcpus = 4, c.maxvcpus = 2), "vcpus (4) is more than maxvcpus (2)");
    BAD(c.maxvcpus = 65, "maxvcpus: must be between 1 and 64");
    BAD(c.on_crash = (enum cfg_action)17, "on_poweroff/on_reboot/on_crash: unknown action");
    BAD(c.engine = (enum cfg_engine)9, "type, engine or arch has an unknown value");
    BAD((c.engine = CFG_ENGINE_EMU, c.arch = CFG_ARCH_X86_64),
        "engine 'emu' runs riscv64 guests only (arch is x86_64)");
    BAD((c.engine = CFG_ENGINE_KVM, c.arch = CFG_ARCH_RISCV64),
        "engine 'kvm' runs x86_64 guests only (arch is riscv64)");
    BAD(strcpy(c.name, "1"), "name: must not be a number (it would look like a domain id)");
    BAD(memset(c.kernel, 'a', sizeof(c.kernel)), "config has an unterminated string");
    BAD(c.ndisks = CFG_MAX_DISKS + 1, "disk: too many disks (max 8)");
    BAD(c.nnics = CFG_MAX_NICS + 1, "vif: too many network interfaces (max 8)");
    BAD((c.ndisks = 1, strcpy(c.disk[0].vdev, "xvda")), "disk 0 has an empty target path");
    BAD((c.ndisks = 1, strcpy(c.disk[0].path, "/a")), "disk '/a' has no virtual device name (vdev)");
    BAD((c.ndisks = 1, strcpy(c.disk[0].path, "/a"), strcpy(c.disk[0].vdev, "xvda"),
         strcpy(c.disk[0].format, "qcow2")), "disk format 'qcow2' is not supported (only raw)");
    BAD((c.ndisks = 2, strcpy(c.disk[0].path, "/a"), strcpy(c.disk[0].vdev, "xvda"),
         strcpy(c.disk[1].path, "/b"), strcpy(c.disk[1].vdev, "xvda")),
        "disk vdev 'xvda' is used twice");
    BAD((c.nnics = 2, c.nic[0].mac_set = c.nic[1].mac_set = true, c.nic[0].mac[5] = 1,
         c.nic[1].mac[5] = 1), "vif mac 00:00:00:00:00:01 is used twice");
    BAD((c.nnics = 1, c.nic[0].mac_set = true, c.nic[0].mac[0] = 1),
        "vif 0: mac is a multicast address");
    BAD((c.nnics = 1, c.nic[0].nfwd = 9), "vif 0 has too many hostfwd rules (max 8)");
    BAD((c.nnics = 1, c.nic[0].type = CFG_NET_TAP, c.nic[0].nfwd = 1),
        "vif 0: hostfwd= needs user networking");
    BAD((c.nnics = 2, strcpy(c.nic[0].ifname, "tap0"), strcpy(c.nic[1].ifname, "tap0")),
        "vif vifname 'tap0' is used twice");
    BAD((c.nnics = 2, c.nic[0].nfwd = 1, c.nic[0].fwd[0].host_port = 8080,
         c.nic[1].nfwd = 1, c.nic[1].fwd[0].host_port = 8080),
        "vif hostfwd: host port tcp:8080 is forwarded twice");
#undef BAD
    /* the same port over tcp and udp is fine */
    config_init(&c);
    c.nnics = 1;
    c.nic[0].nfwd = 2;
    c.nic[0].fwd[0].host_port = c.nic[0].fwd[1].host_port = 53;
    c.nic[0].fwd[1].udp = true;
    assert_int_equal(config_validate(&c, e, sizeof(e)), 0);
}

static void test_validate_after_parse(void **state)
{
    VmConfig *c = parse_ok("memory = 512\nmaxmem = 256\n");

    assert_int_equal(config_validate(c, err, sizeof(err)), -1);
    assert_string_equal(err, "maxmem (256 MiB) is less than memory (512 MiB)");
    free(c);
    c = parse_ok("disk = [ 'file:/a,xvda,w', 'file:/b,xvda,r' ]\n");
    assert_int_equal(config_validate(c, err, sizeof(err)), -1);
    assert_string_equal(err, "disk vdev 'xvda' is used twice");
    free(c);
}

/* ---- config_load ---- */

static void test_load(void **state)
{
    char path[] = "/tmp/xeno-cfg-XXXXXX";
    int fd = mkstemp(path);
    VmConfig c;
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("name = 'loaded'\nmemory = 0\n", f);
    fclose(f);
    config_init(&c);
    assert_int_equal(config_load(&c, path, NULL, NULL, err, sizeof(err)), -1);
    {
        char expect[128];
        snprintf(expect, sizeof(expect), "%s:2: memory: must be between 1 and 1048576", path);
        assert_string_equal(err, expect);
    }
    f = fopen(path, "w");
    fputs("name = 'loaded'\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, path, NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.name, "loaded");
    unlink(path);
    assert_int_equal(config_load(&c, path, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot read: No such file or directory"));
    assert_int_equal(config_load(&c, "/tmp", NULL, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "/tmp: cannot read: Is a directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_and_comments),
        cmocka_unit_test(test_semicolons_and_crlf),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_multiline_list),
        cmocka_unit_test(test_bom_and_true_false),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_type_builder_engine_arch),
        cmocka_unit_test(test_cmdline_composition),
        cmocka_unit_test(test_unknown_and_ignored_keys),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_list_append),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_value_too_long),
        cmocka_unit_test(test_nothing_applied_on_error),
        cmocka_unit_test(test_null_err_buffer),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_root_extra_overrides),
        cmocka_unit_test(test_config_set_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_validate_after_parse),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
