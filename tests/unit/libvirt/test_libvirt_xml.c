/* Unit tests for libvirt_xml.c: domain XML -> VmConfig (what virt-install
 * generates, what virsh users write), VmConfig -> XML -> the same config,
 * refusals that name the element, capabilities, pools and volumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libvirt.h"

static LvArchs riscv_only = {
    .riscv64 = true, .x86_64 = false,
    .x86_refusal = "this host has no vmx/svm: x86-64 guests need hardware virtualization",
    .host_arch = "x86_64", .emulator = "/usr/sbin/xeno-vmm",
};
static LvArchs both = {
    .riscv64 = true, .x86_64 = true, .host_arch = "x86_64", .emulator = "/usr/sbin/xeno-vmm",
};

static int resolve_vol(const char *pool, const char *vol, char *path, size_t size, LvError *e)
{
    if (strcmp(pool, "default"))
        return lv_error(e, LV_ERR_NO_STORAGE_POOL, "no storage pool with matching name '%s'",
                        pool);
    snprintf(path, size, "/var/lib/xeno/images/%s", vol);
    return 0;
}

static const LvXmlCtx ctx_riscv = { .archs = &riscv_only, .resolve = resolve_vol };
static const LvXmlCtx ctx_both = { .archs = &both, .resolve = resolve_vol };

/* A string literal and its length. */
#define S(lit) lit, strlen(lit)

static int parse(const LvXmlCtx *ctx, const char *xml, VmConfig *cfg, LvError *e)
{
    memset(e, 0, sizeof(*e));
    return lvxml_parse_domain(xml, strlen(xml), ctx, cfg, e);
}

/* The XML virt-install 4.1 generates for --import --disk PATH --boot
 * kernel=... on a xen connection to this host. */
static const char virt_install_xml[] =
    "<domain type=\"xen\">\n"
    "  <name>vi1</name>\n"
    "  <uuid>fe446549-5519-41b2-9d6a-41a9c9285b1c</uuid>\n"
    "  <metadata><libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">"
    "<libosinfo:os id=\"http://libosinfo.org/linux/2022\"/></libosinfo:libosinfo></metadata>\n"
    "  <memory>262144</memory>\n"
    "  <currentMemory>262144</currentMemory>\n"
    "  <vcpu>2</vcpu>\n"
    "  <os>\n"
    "    <type arch=\"riscv64\" machine=\"virt\">xen</type>\n"
    "    <kernel>/g/Image</kernel>\n"
    "    <initrd>/g/initramfs.cpio.gz</initrd>\n"
    "    <cmdline>console=ttyS0</cmdline>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <disk type=\"file\" device=\"disk\">\n"
    "      <driver name=\"qemu\" type=\"raw\"/>\n"
    "      <source file=\"/tmp/d1.img\"/>\n"
    "      <target dev=\"xvda\" bus=\"xen\"/>\n"
    "    </disk>\n"
    "    <controller type=\"pci\" model=\"pcie-root\"/>\n"
    "    <controller type=\"pci\" model=\"pcie-root-port\"/>\n"
    "    <controller type=\"pci\" model=\"pcie-root-port\"/>\n"
    "    <interface type=\"network\">\n"
    "      <source network=\"default\"/>\n"
    "      <mac address=\"00:16:3e:55:37:20\"/>\n"
    "    </interface>\n"
    "    <console type=\"pty\"/>\n"
    "  </devices>\n"
    "</domain>\n";

static void test_virt_install_xml(void **state)
{
    VmConfig cfg;
    LvError e;
    char uuid[37];

    (void)state;
    assert_int_equal(parse(&ctx_riscv, virt_install_xml, &cfg, &e), 0);
    assert_string_equal(cfg.name, "vi1");
    assert_true(cfg.uuid_set);
    lv_uuid_format(cfg.uuid, uuid);
    assert_string_equal(uuid, "fe446549-5519-41b2-9d6a-41a9c9285b1c");
    assert_int_equal(cfg.memory_mib, 256);
    assert_int_equal(cfg.maxmem_mib, 0);
    assert_int_equal(cfg.vcpus, 2);
    assert_int_equal(cfg.arch, CFG_ARCH_RISCV64);
    assert_int_equal(cfg.engine, CFG_ENGINE_EMU);
    assert_string_equal(cfg.kernel, "/g/Image");
    assert_string_equal(cfg.ramdisk, "/g/initramfs.cpio.gz");
    assert_string_equal(cfg.cmdline, "console=ttyS0");
    assert_int_equal(cfg.ndisks, 1);
    assert_string_equal(cfg.disk[0].path, "/tmp/d1.img");
    assert_string_equal(cfg.disk[0].vdev, "xvda");
    assert_false(cfg.disk[0].readonly);
    assert_int_equal(cfg.nnics, 1);
    assert_int_equal(cfg.nic[0].type, CFG_NET_USER);
    assert_true(cfg.nic[0].mac_set);
    assert_int_equal(cfg.nic[0].mac[5], 0x20);
    assert_true(cfg.vconsole);         /* a PV console */
    assert_true(cfg.balloon);          /* Xen balloons unless told not to */
    assert_false(cfg.rng);
}

/* Everything a VmConfig can say survives format -> parse. */
static void test_round_trip(void **state)
{
    VmConfig a, b;
    LvDomXmlInfo info = { .id = -1, .uuid = "01234567-89ab-cdef-0123-456789abcdef",
                          .emulator = "/usr/sbin/xeno-vmm" };
    char ta[CONFIG_FORMAT_MAX], tb[CONFIG_FORMAT_MAX];
    char err[256];
    LvError e;
    char *xml;

    (void)state;
    static const char text[] =
        "name = \"rt\"\nuuid = \"01234567-89ab-cdef-0123-456789abcdef\"\n"
        "memory = 192\nmaxmem = 512\nvcpus = 2\nmaxvcpus = 4\n"
        "kernel = \"/k/Image\"\nramdisk = \"/k/initrd\"\ncmdline = \"console=hvc0 quiet\"\n"
        "firmware = \"/fw.bin\"\n"
        "on_poweroff = \"preserve\"\non_reboot = \"destroy\"\non_crash = \"restart\"\n"
        "disk = [ 'file:/d/a.img,xvda,w', 'file:/d/b.iso,xvdb:cdrom,r', 'file:/dev/sdz,xvdc,r' ]\n"
        "vif = [ 'type=bridge,bridge=br0,mac=00:16:3e:00:00:01,vifname=vif9',"
        " 'type=user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:0.0.0.0:5353-:53' ]\n"
        "rng = 0\nballoon = 0\nvconsole = 1\n";

    config_init(&a);
    if (config_parse(&a, "t.cfg", text, strlen(text), NULL, NULL, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    a.engine = CFG_ENGINE_EMU;
    a.arch = CFG_ARCH_RISCV64;
    xml = lvxml_format_domain(&a, &info);
    assert_non_null(xml);
    assert_int_equal(parse(&ctx_riscv, xml, &b, &e), 0);
    assert_true(config_format(&a, ta, sizeof(ta)) > 0);
    assert_true(config_format(&b, tb, sizeof(tb)) > 0);
    assert_string_equal(ta, tb);
    free(xml);
}

/* The live description: id, and the sizes in effect. */
static void test_live_info(void **state)
{
    VmConfig c;
    LvDomXmlInfo info = { .id = 7, .uuid = "01234567-89ab-cdef-0123-456789abcdef",
                          .mem_kib = 131072, .maxmem_kib = 262144, .vcpus = 1, .maxvcpus = 2 };
    char *xml;

    (void)state;
    config_init(&c);
    snprintf(c.name, sizeof(c.name), "live");
    xml = lvxml_format_domain(&c, &info);
    assert_non_null(strstr(xml, "<domain type=\"xen\" id=\"7\">"));
    assert_non_null(strstr(xml, "<memory unit=\"KiB\">262144</memory>"));
    assert_non_null(strstr(xml, "<currentMemory unit=\"KiB\">131072</currentMemory>"));
    assert_non_null(strstr(xml, "<vcpu placement=\"static\" current=\"1\">2</vcpu>"));
    assert_non_null(strstr(xml, "<uuid>01234567-89ab-cdef-0123-456789abcdef</uuid>"));
    free(xml);
}

static void test_sizes(void **state)
{
    VmConfig c;
    LvError e;

    (void)state;
    assert_int_equal(parse(&ctx_riscv, "<domain type='xen'><name>m</name>"
        "<memory unit='G'>1</memory><currentMemory unit='MiB'>300</currentMemory>"
        "<vcpu current='1'>3</vcpu><os><type>xen</type></os></domain>", &c, &e), 0);
    assert_int_equal(c.memory_mib, 300);
    assert_int_equal(c.maxmem_mib, 1024);
    assert_int_equal(c.vcpus, 1);
    assert_int_equal(c.maxvcpus, 3);
    assert_int_equal(c.arch, CFG_ARCH_RISCV64);     /* the arch this host runs */
    assert_string_equal(c.kernel, "");              /* Xeno's default guest */

    assert_int_equal(parse(&ctx_riscv, "<domain type='xen'><name>m</name>"
        "<memory unit='bytes'>1048577</memory><os><type>xen</type></os></domain>", &c, &e), 0);
    assert_int_equal(c.memory_mib, 2);             /* rounded up */

    assert_int_equal(parse(&ctx_riscv, "<domain type='xen'><name>m</name>"
        "<memory>1024</memory><currentMemory>4096</currentMemory><os><type>xen</type></os>"
        "</domain>", &c, &e), -1);
    assert_int_equal(e.code, LV_ERR_XML_ERROR);
    assert_non_null(strstr(e.msg, "<currentMemory>"));

    assert_int_equal(parse(&ctx_riscv, "<domain type='xen'><name>m</name>"
        "<memory unit='furlong'>1</memory><os><type>xen</type></os></domain>", &c, &e), -1);
    assert_non_null(strstr(e.msg, "unit='furlong'"));
}

/* A refusal: the code, and the element named in the message. */
static void refused(const LvXmlCtx *ctx, const char *xml, int code, const char *named)
{
    VmConfig c;
    LvError e;

    assert_int_equal(parse(ctx, xml, &c, &e), -1);
    if (e.code != code || !strstr(e.msg, named))
        fail_msg("wanted code %d naming \"%s\", got %d: %s", code, named, e.code, e.msg);
}

#define DOM(devices) "<domain type='xen'><name>r</name><memory>262144</memory>" \
                     "<os><type arch='riscv64'>xen</type></os><devices>" devices "</devices></domain>"

static void test_refusals(void **state)
{
    (void)state;
    refused(&ctx_riscv, DOM("<graphics type='vnc'/>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<devices><graphics>");
    refused(&ctx_riscv, DOM("<input type='tablet' bus='usb'/>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<devices><input>");
    refused(&ctx_riscv, DOM("<sound model='ich6'/>"), LV_ERR_CONFIG_UNSUPPORTED, "<sound>");
    refused(&ctx_riscv, DOM("<hostdev mode='subsystem'/>"), LV_ERR_CONFIG_UNSUPPORTED, "<hostdev>");
    refused(&ctx_riscv, DOM("<video><model type='vga'/></video>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<video><model type='vga'>");
    refused(&ctx_riscv, DOM("<disk type='file'><driver type='qcow2'/><source file='/a'/>"
                            "<target dev='xvda'/></disk>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<disk><driver type='qcow2'>");
    refused(&ctx_riscv, DOM("<disk type='network'><source protocol='nbd'/></disk>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<disk type='network'>");
    refused(&ctx_riscv, DOM("<disk type='file' device='cdrom'><target dev='xvdb'/></disk>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<source>");
    refused(&ctx_riscv, DOM("<disk type='file'><source file='/a'/><target dev='sda' bus='sata'/>"
                            "</disk>"), LV_ERR_CONFIG_UNSUPPORTED, "bus='sata'");
    refused(&ctx_riscv, DOM("<disk type='file'><source file='/a'/><target dev='xvda'/>"
                            "<iotune/></disk>"), LV_ERR_CONFIG_UNSUPPORTED, "<disk><iotune>");
    refused(&ctx_riscv, DOM("<interface type='direct'/>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<interface type='direct'>");
    refused(&ctx_riscv, DOM("<interface type='user'><model type='e1000'/></interface>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<model type='e1000'>");
    refused(&ctx_riscv, DOM("<interface type='network'><source network='lan'/></interface>"),
            LV_ERR_CONFIG_UNSUPPORTED, "network='lan'");
    refused(&ctx_riscv, DOM("<interface type='bridge'><source bridge='br0'/><bandwidth/>"
                            "</interface>"), LV_ERR_CONFIG_UNSUPPORTED, "<bandwidth>");
    refused(&ctx_riscv, DOM("<serial type='tcp'/>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<serial type='tcp'>");
    refused(&ctx_riscv, DOM("<controller type='usb' model='qemu-xhci'/>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<controller type='usb'");
    refused(&ctx_riscv, DOM("<rng model='virtio'><backend model='egd'/></rng>"),
            LV_ERR_CONFIG_UNSUPPORTED, "<backend model='egd'>");
    refused(&ctx_riscv, DOM("<watchdog model='i6300esb'/>"), LV_ERR_CONFIG_UNSUPPORTED,
            "<watchdog>");

    refused(&ctx_riscv, "<domain type='kvm'><name>r</name><memory>1</memory><os><type>hvm</type>"
            "</os></domain>", LV_ERR_CONFIG_UNSUPPORTED, "<domain type='kvm'>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><os><type>hvm"
            "</type></os></domain>", LV_ERR_CONFIG_UNSUPPORTED, "<os><type>hvm</type>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><os>"
            "<type arch='x86_64'>xen</type><kernel>/k</kernel></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "no vmx/svm");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><os>"
            "<type arch='aarch64'>xen</type></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "<os><type arch='aarch64'>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><bootloader>"
            "/usr/bin/pygrub</bootloader><os><type>xen</type></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "<domain><bootloader>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><os>"
            "<type>xen</type><boot dev='network'/></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "<boot dev='network'>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><title>t</title><memory>1024</memory>"
            "<os><type>xen</type></os></domain>", LV_ERR_CONFIG_UNSUPPORTED, "<domain><title>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><vcpu "
            "cpuset='0-1'>2</vcpu><os><type>xen</type></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "cpuset");
    refused(&ctx_both, "<domain type='xen'><name>r</name><memory>1024</memory><os>"
            "<type arch='x86_64'>xen</type></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "needs a <kernel>");
    refused(&ctx_riscv, "<domain type='xen'><name>r</name><memory>1024</memory><os>"
            "<type>xen</type><initrd>/i</initrd></os></domain>",
            LV_ERR_CONFIG_UNSUPPORTED, "<initrd>");
}

static void test_malformed(void **state)
{
    static const char laughs[] =
        "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'>"
        "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
        "<domain type='xen'><name>&c;</name><memory>1</memory><os><type>xen</type></os></domain>";

    (void)state;
    refused(&ctx_riscv, "<domain type='xen'><name>x</name>", LV_ERR_XML_ERROR, "line");
    refused(&ctx_riscv, "", LV_ERR_XML_ERROR, "XML");
    refused(&ctx_riscv, laughs, LV_ERR_XML_ERROR, "XML error");
    refused(&ctx_riscv, "<!DOCTYPE domain [<!ENTITY x 'xen'>]><domain type='xen'><name>d</name>"
            "<memory>1024</memory><os><type>&x;</type></os></domain>", LV_ERR_XML_ERROR,
            "DOCTYPE");
    refused(&ctx_riscv, "<pool/>", LV_ERR_XML_ERROR, "expected <domain>");
    refused(&ctx_riscv, "<domain type='xen'><memory>1024</memory><os><type>xen</type></os>"
            "</domain>", LV_ERR_XML_ERROR, "<name>");
    refused(&ctx_riscv, "<domain type='xen'><name>x</name><memory>1024</memory></domain>",
            LV_ERR_XML_ERROR, "<os>");
    refused(&ctx_riscv, "<domain type='xen'><name>x</name><os><type>xen</type></os></domain>",
            LV_ERR_XML_ERROR, "<memory>");
    refused(&ctx_riscv, "<domain type='xen'><name>x</name><uuid>nope</uuid><memory>1</memory>"
            "<os><type>xen</type></os></domain>", LV_ERR_XML_ERROR, "<uuid>");
    refused(&ctx_riscv, DOM("<interface type='user'><mac address='zz'/></interface>"),
            LV_ERR_XML_ERROR, "<mac address='zz'>");
    refused(&ctx_riscv, DOM("<disk type='file'><source file='/a'/><target dev='xvda'/></disk>"
                            "<disk type='file'><source file='/b'/><target dev='xvda'/></disk>"),
            LV_ERR_XML_ERROR, "used twice");
}

static void test_devices(void **state)
{
    VmConfig c;
    LvError e;

    (void)state;
    assert_int_equal(parse(&ctx_riscv, DOM(
        "<disk type='volume' device='disk'><source pool='default' volume='v.img'/>"
        "<target dev='vda' bus='virtio'/><readonly/><serial>S1</serial></disk>"
        "<disk type='block'><source dev='/dev/vg/lv'/><target dev='xvdb'/></disk>"
        "<interface type='bridge'><source bridge='xenbr0'/><target dev='vif1.0'/>"
        "<model type='netfront'/></interface>"
        "<interface type='user'><portForward proto='tcp'><range start='2222' to='22'/>"
        "</portForward></interface>"
        "<interface type='ethernet'><target dev='tap7'/></interface>"
        "<console type='pty'><target type='serial' port='0'/></console>"
        "<memballoon model='none'/><rng model='virtio'><backend model='random'>/dev/urandom"
        "</backend></rng>"), &c, &e), 0);
    assert_int_equal(c.ndisks, 2);
    assert_string_equal(c.disk[0].path, "/var/lib/xeno/images/v.img");
    assert_true(c.disk[0].readonly);
    assert_string_equal(c.disk[0].serial, "S1");
    assert_string_equal(c.disk[1].path, "/dev/vg/lv");
    assert_int_equal(c.nnics, 3);
    assert_int_equal(c.nic[0].type, CFG_NET_BRIDGE);
    assert_string_equal(c.nic[0].bridge, "xenbr0");
    assert_string_equal(c.nic[0].ifname, "vif1.0");
    assert_int_equal(c.nic[1].nfwd, 1);
    assert_int_equal(c.nic[1].fwd[0].host_port, 2222);
    assert_int_equal(c.nic[1].fwd[0].guest_port, 22);
    assert_string_equal(c.nic[1].fwd[0].host_addr, "127.0.0.1");
    assert_int_equal(c.nic[2].type, CFG_NET_TAP);
    assert_false(c.vconsole);          /* the console is on the serial port */
    assert_false(c.balloon);
    assert_true(c.rng);

    refused(&ctx_riscv, DOM("<disk type='volume'><source pool='nope' volume='v'/>"
                            "<target dev='vda'/></disk>"), LV_ERR_NO_STORAGE_POOL, "nope");
}

static void test_x86(void **state)
{
    VmConfig c;
    LvError e;

    (void)state;
    assert_int_equal(parse(&ctx_both, "<domain type='xen'><name>x</name><memory>262144</memory>"
        "<os><type arch='x86_64' machine='xenpv'>linux</type><kernel>/k/bzImage</kernel></os>"
        "</domain>", &c, &e), 0);
    assert_int_equal(c.arch, CFG_ARCH_X86_64);
    assert_int_equal(c.engine, CFG_ENGINE_KVM);
    /* No arch: the host's, where it runs fast. */
    assert_int_equal(parse(&ctx_both, "<domain type='xen'><name>x</name><memory>262144</memory>"
        "<os><type>xen</type><kernel>/k</kernel></os></domain>", &c, &e), 0);
    assert_int_equal(c.arch, CFG_ARCH_X86_64);
}

static void test_capabilities(void **state)
{
    LvError e;
    char *x;

    (void)state;
    x = lvxml_capabilities(&riscv_only, "01234567-89ab-cdef-0123-456789abcdef");
    assert_non_null(strstr(x, "<arch name=\"riscv64\">"));
    assert_null(strstr(x, "<arch name=\"x86_64\">"));
    assert_non_null(strstr(x, "<os_type>xen</os_type>"));
    assert_non_null(strstr(x, "<domain type=\"xen\"/>"));
    assert_non_null(strstr(x, "<arch>x86_64</arch>"));       /* the host's */
    free(x);
    x = lvxml_capabilities(&both, NULL);
    assert_non_null(strstr(x, "<arch name=\"x86_64\">"));
    free(x);

    x = lvxml_domain_capabilities(&riscv_only, NULL, NULL, NULL, &e);
    assert_non_null(x);
    assert_non_null(strstr(x, "<arch>riscv64</arch>"));
    assert_non_null(strstr(x, "<domain>xen</domain>"));
    free(x);
    assert_null(lvxml_domain_capabilities(&riscv_only, "x86_64", "xen", NULL, &e));
    assert_int_equal(e.code, LV_ERR_CONFIG_UNSUPPORTED);
    assert_null(lvxml_domain_capabilities(&riscv_only, NULL, "kvm", NULL, &e));
    assert_int_equal(e.code, LV_ERR_INVALID_ARG);
}

static void test_pool_and_volume(void **state)
{
    LvPoolDef p;
    LvPoolXmlInfo pi = { .active = true, .capacity = 100 };
    LvVolDef v;
    LvVolXmlInfo vi = { .name = "a.img", .path = "/d/a.img", .pool = "d", .capacity = 1 << 20,
                        .mode = 0600 };
    LvError e;
    char *x;
    static const char pool[] = "<pool type='dir'><name>d</name><target><path>/d</path>"
                               "<permissions><mode>0755</mode></permissions></target></pool>";

    (void)state;
    assert_int_equal(lvxml_parse_pool(pool, strlen(pool), &p, &e), 0);
    assert_string_equal(p.name, "d");
    assert_string_equal(p.path, "/d");
    x = lvxml_format_pool(&p, &pi);
    assert_int_equal(lvxml_parse_pool(x, strlen(x), &p, &e), 0);
    assert_string_equal(p.path, "/d");
    free(x);
    assert_int_equal(lvxml_parse_pool(S("<pool type='logical'><name>v</name></pool>"), &p, &e),
                     -1);
    assert_non_null(strstr(e.msg, "<pool type='logical'>"));

    assert_int_equal(lvxml_parse_vol(S("<volume><name>n.img</name><capacity unit='G'>2</capacity>"
        "<allocation>0</allocation><target><format type='raw'/></target></volume>"), &v, &e), 0);
    assert_string_equal(v.name, "n.img");
    assert_int_equal(v.capacity, 2ull << 30);
    assert_true(v.allocation_set);
    assert_int_equal(lvxml_parse_vol(S("<volume><name>q</name><capacity>1</capacity><target>"
        "<format type='qcow2'/></target></volume>"), &v, &e), -1);
    assert_non_null(strstr(e.msg, "<format type='qcow2'>"));
    x = lvxml_format_vol(&vi);
    assert_non_null(strstr(x, "<key>/d/a.img</key>"));
    assert_non_null(strstr(x, "<mode>0600</mode>"));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virt_install_xml),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_live_info),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_x86),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_pool_and_volume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
