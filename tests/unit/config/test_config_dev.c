/* Disk and vif spec strings: every accepted form and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

static char err[512];

static CfgDisk disk_ok(const char *spec)
{
    CfgDisk d;

    if (config_parse_disk(&d, spec, err, sizeof(err)) != 0)
        fail_msg("disk '%s': unexpected error: %s", spec, err);
    return d;
}

static void disk_err(const char *spec, const char *msg)
{
    CfgDisk d, before;

    memset(&d, 0x5a, sizeof(d));
    before = d;
    if (config_parse_disk(&d, spec, err, sizeof(err)) != -1)
        fail_msg("disk '%s' was accepted", spec);
    assert_string_equal(err, msg);
    assert_memory_equal(&d, &before, sizeof(d));   /* untouched on error */
}

static void check_disk(const char *spec, const char *path, const char *vdev, bool ro, bool cdrom)
{
    CfgDisk d = disk_ok(spec);

    assert_string_equal(d.path, path);
    assert_string_equal(d.vdev, vdev);
    assert_int_equal(d.readonly, ro);
    assert_int_equal(d.cdrom, cdrom);
    assert_string_equal(d.format, "raw");
}

static void test_disk_xm_forms(void **state)
{
    check_disk("file:/var/lib/xen/images/vm.img,xvda,w", "/var/lib/xen/images/vm.img", "xvda", false, false);
    check_disk("phy:/dev/VolGroup00/guest,xvdb,r", "/dev/VolGroup00/guest", "xvdb", true, false);
    check_disk("phy:/dev/sdb,sdb,ro", "/dev/sdb", "sdb", true, false);
    check_disk("tap:aio:/srv/a.img,xvdc,rw", "/srv/a.img", "xvdc", false, false);
    check_disk("tap2:tapdisk:aio:/srv/a.img,xvdc,w", "/srv/a.img", "xvdc", false, false);
    check_disk("file:/iso/rhel5.iso,hdc:cdrom,r", "/iso/rhel5.iso", "hdc", true, true);
    check_disk("file:/iso/rhel5.iso,hdc:cdrom,w", "/iso/rhel5.iso", "hdc", true, true);
    check_disk("file:/srv/hvm.img,ioemu:hda,w", "/srv/hvm.img", "hda", false, false);
    check_disk("file:/srv/hvm.img,hda:disk,w", "/srv/hvm.img", "hda", false, false);
    check_disk("file:/srv/x.img,xvda,w!", "/srv/x.img", "xvda", false, false);
    check_disk(" file:/srv/x.img , xvda , w ", "/srv/x.img", "xvda", false, false);
    check_disk("file:/srv/x.img,xvda", "/srv/x.img", "xvda", false, false);   /* default rw */
    check_disk("file:/srv/x.img,xvda,w,", "/srv/x.img", "xvda", false, false); /* trailing comma */
    check_disk("/srv/a=b.img,xvda,w", "/srv/a=b.img", "xvda", false, false);   /* '=' in path */
}

static void test_disk_xl_forms(void **state)
{
    CfgDisk d;

    check_disk("/dev/vg/guest,raw,xvda,rw", "/dev/vg/guest", "xvda", false, false);
    check_disk("/srv/a.img,raw,xvda", "/srv/a.img", "xvda", false, false);
    check_disk("/srv/a.img,raw,xvda,ro", "/srv/a.img", "xvda", true, false);
    check_disk("raw:/srv/a.img,xvda,w", "/srv/a.img", "xvda", false, false);
    check_disk("target=/srv/a.img, vdev=xvda, access=rw, format=raw", "/srv/a.img", "xvda", false, false);
    check_disk("target=/srv/a,b.img, vdev=xvda", "/srv/a,b.img", "xvda", false, false);
    check_disk("target=/srv/a, vdevx.img,vdev=xvda", "/srv/a, vdevx.img", "xvda", false, false);
    check_disk("format=raw, vdev=xvda, access=rw, target=/srv/a,b.img", "/srv/a,b.img", "xvda", false, false);
    check_disk("vdev=hdc, access=r, devtype=cdrom, target=/iso/x.iso", "/iso/x.iso", "hdc", true, true);
    check_disk("vdev=hdc, devtype=disk, target=/a", "/a", "hdc", false, false);
    check_disk("/iso/x.iso,hdc,cdrom", "/iso/x.iso", "hdc", true, true);           /* flag */
    check_disk("/srv/a.img,xvda,discard,direct-io-safe", "/srv/a.img", "xvda", false, false);
    check_disk("vdev=xvda,backendtype=qdisk,script=block,target=/a", "/a", "xvda", false, false);
    /* positional and keys mixed */
    check_disk("/srv/a.img,vdev=xvdb,access=ro", "/srv/a.img", "xvdb", true, false);
    d = disk_ok("/srv/a.img,xvda,serial=DISK-0001");
    assert_string_equal(d.serial, "DISK-0001");
    d = disk_ok("vdev=xvda, serial=12345678901234567890, target=/a");
    assert_string_equal(d.serial, "12345678901234567890");
    d = disk_ok("/srv/a.img,xvda");
    assert_string_equal(d.serial, "");
}

static void test_disk_errors(void **state)
{
    disk_err("file:/a.img,qcow2,xvda,w", "disk format 'qcow2' is not supported (only raw)");
    disk_err("/a.img,qcow2,xvda", "disk format 'qcow2' is not supported (only raw)");
    disk_err("tap:qcow2:/a.img,xvda,w", "disk format 'qcow2' is not supported (only raw)");
    disk_err("vdev=xvda,format=vhd,target=/a", "disk format 'vhd' is not supported (only raw)");
    disk_err("", "disk has an empty target path");
    disk_err("file:,xvda,w", "disk has an empty target path");
    disk_err(",hdc:cdrom,r", "disk has an empty target path");
    disk_err("vdev=xvda,target=", "disk has an empty target path");
    disk_err("file:/a.img", "disk '/a.img' has no virtual device name (vdev)");
    disk_err("file:/a.img,,w", "disk '/a.img' has no virtual device name (vdev)");
    disk_err("file:/a.img,xvda,x", "disk access 'x' is not valid (use r, ro, w or rw)");
    disk_err("file:/a.img,XVDA,w", "disk vdev 'XVDA' is not valid (expected a name like xvda)");
    disk_err("file:/a.img,xv-da,w", "disk vdev 'xv-da' is not valid (expected a name like xvda)");
    disk_err("file:/a.img,hdc:floppy,r",
             "disk vdev 'hdc:floppy' is not valid (only ':cdrom' or ':disk' may follow the name)");
    disk_err("file:/a.img,xvdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,w",
             "disk vdev: value too long (max 31 characters)");
    disk_err("/a,raw,xvda,rw,extra", "disk spec has too many parameters");
    disk_err("vdev=xvda,devtype=floppy,target=/a", "disk devtype 'floppy' is not valid (use disk or cdrom)");
    disk_err("vdev=xvda,colour=red,target=/a", "disk parameter 'colour' is not known");
    disk_err("vdev=xvda,vdev=xvdb,target=/a", "disk vdev is given twice");
    disk_err("/a,xvda,target=/b", "disk target is given twice");
    disk_err("vdev=xvda, serial=123456789012345678901, target=/a",
             "disk serial '123456789012345678901' is too long (max 20 characters)");
    disk_err("vdev=xvda, serial=a\tb, target=/a", "disk serial may hold only printable ASCII characters");
    disk_err("nbd:server:1234,xvda,w",
             "disk protocol 'nbd' is not supported (only local files and block devices)");
    disk_err("iscsi:iqn.2001-05.com.example:disk,xvda,w",
             "disk protocol 'iscsi' is not supported (only local files and block devices)");
}

static void test_disk_long(void **state)
{
    static char spec[10000];

    strcpy(spec, "file:/");
    memset(spec + 6, 'p', CFG_PATH_MAX);
    strcpy(spec + 6 + CFG_PATH_MAX, ",xvda,w");
    disk_err(spec, "disk path: value too long (max 4095 characters)");
    memset(spec, 'p', 9000);
    spec[9000] = 0;
    disk_err(spec, "disk spec: value too long (max 5120 characters)");
    /* the longest path that fits */
    spec[0] = '/';
    memset(spec + 1, 'p', CFG_PATH_MAX - 2);
    strcpy(spec + CFG_PATH_MAX - 1, ",xvda,w");
    assert_int_equal(strlen(disk_ok(spec).path), CFG_PATH_MAX - 1);
    assert_int_equal(config_parse_disk(&(CfgDisk){ 0 }, NULL, err, sizeof(err)), -1);
}

/* bps=, iops= and their bursts (Xeno's disk I/O limits) */
static void test_disk_limits(void **state)
{
    CfgDisk d = disk_ok("file:/srv/a.img,xvda,w,bps=10M,iops=200");

    assert_int_equal(d.bps, 10000000);
    assert_int_equal(d.iops, 200);
    assert_int_equal(d.bps_burst, 0);
    d = disk_ok("format=raw,vdev=xvdb,bps=4Mi,bps-burst=1Mi,iops=1k,iops-burst=50,"
                "target=/srv/b,c.img");
    assert_string_equal(d.path, "/srv/b,c.img");
    assert_int_equal(d.bps, 4 << 20);
    assert_int_equal(d.bps_burst, 1 << 20);
    assert_int_equal(d.iops, 1000);
    assert_int_equal(d.iops_burst, 50);
    /* target= ends at a limit parameter */
    d = disk_ok("vdev=xvdc,target=/srv/d.img,bps=1G");
    assert_string_equal(d.path, "/srv/d.img");
    assert_int_equal(d.bps, 1000000000);

    disk_err("/srv/a.img,xvda,w,bps=0", "disk bps '0' is not valid (expected a positive "
             "number, optionally with K, M, G, Ki, Mi or Gi)");
    disk_err("/srv/a.img,xvda,w,iops=-5", "disk iops '-5' is not valid (expected a positive "
             "number, optionally with K, M, G, Ki, Mi or Gi)");
    disk_err("/srv/a.img,xvda,w,bps=10MB", "disk bps '10MB' is not valid (expected a positive "
             "number, optionally with K, M, G, Ki, Mi or Gi)");
    disk_err("/srv/a.img,xvda,w,bps=99999999999999999999", "disk bps '99999999999999999999' "
             "is not valid (expected a positive number, optionally with K, M, G, Ki, Mi or Gi)");
    disk_err("/srv/a.img,xvda,w,bps-burst=1M", "disk '/srv/a.img': bps-burst needs bps");
    disk_err("/srv/a.img,xvda,w,iops-burst=1", "disk '/srv/a.img': iops-burst needs iops");
}

/* ---- vif ---- */

static CfgNic vif_ok(const char *spec)
{
    CfgNic n;

    if (config_parse_vif(&n, spec, err, sizeof(err)) != 0)
        fail_msg("vif '%s': unexpected error: %s", spec, err);
    return n;
}

static void vif_err(const char *spec, const char *msg)
{
    CfgNic n, before;

    memset(&n, 0x5a, sizeof(n));
    before = n;
    if (config_parse_vif(&n, spec, err, sizeof(err)) != -1)
        fail_msg("vif '%s' was accepted", spec);
    assert_string_equal(err, msg);
    assert_memory_equal(&n, &before, sizeof(n));
}

static void test_vif_defaults(void **state)
{
    CfgNic n = vif_ok("");

    assert_int_equal(n.type, CFG_NET_USER);
    assert_false(n.mac_set);
    assert_string_equal(n.model, "virtio");
    assert_string_equal(n.bridge, "");
    assert_int_equal(n.nfwd, 0);
    n = vif_ok("  ,  ");
    assert_int_equal(n.type, CFG_NET_USER);
    n = vif_ok(NULL);
    assert_int_equal(n.type, CFG_NET_USER);
}

static void test_vif_forms(void **state)
{
    static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
    CfgNic n = vif_ok("mac=00:16:3E:01:02:03, bridge=xenbr0, model=virtio, vifname=vif-web");

    assert_true(n.mac_set);
    assert_memory_equal(n.mac, mac, 6);
    assert_int_equal(n.type, CFG_NET_BRIDGE);
    assert_string_equal(n.bridge, "xenbr0");
    assert_string_equal(n.ifname, "vif-web");

    n = vif_ok("type=ioemu, bridge=br1");
    assert_int_equal(n.type, CFG_NET_BRIDGE);
    assert_string_equal(n.bridge, "br1");
    n = vif_ok("type=ioemu");
    assert_int_equal(n.type, CFG_NET_USER);
    n = vif_ok("type=vif");
    assert_int_equal(n.type, CFG_NET_USER);
    n = vif_ok("type=bridge");
    assert_int_equal(n.type, CFG_NET_BRIDGE);
    assert_string_equal(n.bridge, "xenbr0");          /* Xen's default */
    n = vif_ok("type=tap,vifname=tap7");
    assert_int_equal(n.type, CFG_NET_TAP);
    assert_string_equal(n.ifname, "tap7");
    n = vif_ok("type=user");
    assert_int_equal(n.type, CFG_NET_USER);
    n = vif_ok("ip=10.0.0.5,script=vif-bridge,bridge=xenbr0,rate=10Mb/s,");
    assert_int_equal(n.type, CFG_NET_BRIDGE);
    n = vif_ok("mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02");   /* last wins */
    assert_int_equal(n.mac[5], 2);
}

static void test_vif_hostfwd(void **state)
{
    CfgNic n = vif_ok("type=user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp::5353-:53,"
                      "hostfwd=tcp::2222-:22,hostfwd=::65535-:1");

    assert_int_equal(n.nfwd, 4);
    assert_false(n.fwd[0].udp);
    assert_string_equal(n.fwd[0].host_addr, "127.0.0.1");
    assert_int_equal(n.fwd[0].host_port, 8080);
    assert_int_equal(n.fwd[0].guest_port, 80);
    assert_true(n.fwd[1].udp);
    assert_string_equal(n.fwd[1].host_addr, "");
    assert_int_equal(n.fwd[1].host_port, 5353);
    assert_int_equal(n.fwd[1].guest_port, 53);
    assert_int_equal(n.fwd[2].host_port, 2222);
    assert_false(n.fwd[3].udp);
    assert_int_equal(n.fwd[3].host_port, 65535);
    assert_int_equal(n.fwd[3].guest_port, 1);
    n = vif_ok("hostfwd=tcp::8080-:80");               /* no type: user */
    assert_int_equal(n.type, CFG_NET_USER);
    assert_int_equal(n.nfwd, 1);
}

/* rate= (Xen's syntax) and host-loopback= */
static void test_vif_rate_loopback(void **state)
{
    CfgNic n = vif_ok("rate=10Mb/s");

    assert_int_equal(n.rate_bps, 1250000);
    assert_int_equal(n.rate_interval_us, 50000);
    assert_false(n.host_loopback);
    n = vif_ok("type=user,rate=1MB/s@20ms,host-loopback=1");
    assert_int_equal(n.rate_bps, 1000000);
    assert_int_equal(n.rate_interval_us, 20000);
    assert_true(n.host_loopback);
    n = vif_ok("rate=512KB/s@1s,host-loopback=0");
    assert_int_equal(n.rate_bps, 512000);
    assert_int_equal(n.rate_interval_us, 1000000);
    assert_false(n.host_loopback);
    n = vif_ok("bridge=br0,rate=100000B/s@500us");
    assert_int_equal(n.rate_bps, 100000);
    assert_int_equal(n.rate_interval_us, 500);

    vif_err("rate=10M", "vif rate '10M' is not valid (expected RATE/s[@INTERVAL], "
            "e.g. 10Mb/s or 1MB/s@20ms)");
    vif_err("rate=10Mb/h", "vif rate '10Mb/h' is not valid (expected RATE/s[@INTERVAL], "
            "e.g. 10Mb/s or 1MB/s@20ms)");
    vif_err("rate=0MB/s", "vif rate '0MB/s' is not valid (expected RATE/s[@INTERVAL], "
            "e.g. 10Mb/s or 1MB/s@20ms)");
    vif_err("rate=4b/s", "vif rate '4b/s' is not valid (expected RATE/s[@INTERVAL], "
            "e.g. 10Mb/s or 1MB/s@20ms)");
    vif_err("rate=1MB/s@20min", "vif rate '1MB/s@20min' is not valid (expected "
            "RATE/s[@INTERVAL], e.g. 10Mb/s or 1MB/s@20ms)");
    vif_err("rate=1MB/s@11s", "vif rate '1MB/s@11s': the interval is at most 10s");
    vif_err("host-loopback=yes", "vif host-loopback 'yes' is not valid (use 0 or 1)");
    vif_err("type=tap,host-loopback=1", "vif host-loopback= needs user networking (type=user)");
}

static void test_vif_errors(void **state)
{
    char spec[1024];
    size_t len = 0;

    vif_err("mac=01:16:3e:01:02:03", "vif mac '01:16:3e:01:02:03' is a multicast address");
    vif_err("mac=00:16:3e:01:02", "vif mac '00:16:3e:01:02' is not valid "
            "(expected six hex pairs like 00:16:3e:01:02:03)");
    vif_err("mac=00:16:3e:01:02:03:04", "vif mac '00:16:3e:01:02:03:04' is not valid "
            "(expected six hex pairs like 00:16:3e:01:02:03)");
    vif_err("mac=0:16:3e:01:02:03", "vif mac '0:16:3e:01:02:03' is not valid "
            "(expected six hex pairs like 00:16:3e:01:02:03)");
    vif_err("mac=00-16-3e-01-02-03", "vif mac '00-16-3e-01-02-03' is not valid "
            "(expected six hex pairs like 00:16:3e:01:02:03)");
    vif_err("mac=gg:16:3e:01:02:03", "vif mac 'gg:16:3e:01:02:03' is not valid "
            "(expected six hex pairs like 00:16:3e:01:02:03)");
    vif_err("model=e1000", "vif model 'e1000' is not supported (only virtio)");
    vif_err("model=rtl8139", "vif model 'rtl8139' is not supported (only virtio)");
    vif_err("type=netback2", "vif type 'netback2' is not valid (use ioemu, vif, user, tap or bridge)");
    vif_err("bridge=br/0", "vif bridge name 'br/0' is not valid");
    vif_err("bridge=a-very-long-bridge-name", "vif bridge name 'a-very-long-bridge-name' is not valid");
    vif_err("vifname=", "vif vifname '' is not valid (1-15 characters, no '/', ':' or spaces)");
    vif_err("type=user,bridge=xenbr0", "vif type 'user' cannot use bridge= (use type=bridge)");
    vif_err("type=tap,bridge=xenbr0", "vif type 'tap' cannot use bridge= (use type=bridge)");
    vif_err("bridge=xenbr0,hostfwd=tcp::80-:80", "vif hostfwd= needs user networking (type=user)");
    vif_err("xenbr0", "vif parameter 'xenbr0' is not key=value");
    vif_err("colour=red", "vif parameter 'colour' is not known");
#define BADFWD(s) "vif hostfwd '" s "' is not valid (expected tcp:[hostaddr]:hostport-:guestport, ports 1-65535)"
    vif_err("hostfwd=tcp:8080-:80", BADFWD("tcp:8080-:80"));
    vif_err("hostfwd=sctp::8080-:80", BADFWD("sctp::8080-:80"));
    vif_err("hostfwd=tcp::0-:80", BADFWD("tcp::0-:80"));
    vif_err("hostfwd=tcp::65536-:80", BADFWD("tcp::65536-:80"));
    vif_err("hostfwd=tcp::8080-:", BADFWD("tcp::8080-:"));
    vif_err("hostfwd=tcp::8080-80", BADFWD("tcp::8080-80"));
    vif_err("hostfwd=tcp::8080:80", BADFWD("tcp::8080:80"));
    vif_err("hostfwd=tcp::80x-:80", BADFWD("tcp::80x-:80"));
    vif_err("hostfwd=tcp::-8080-:80", BADFWD("tcp::-8080-:80"));
#undef BADFWD
    vif_err("hostfwd=tcp:localhost:8080-:80",
            "vif hostfwd 'tcp:localhost:8080-:80': host address 'localhost' is not an IPv4 address");
    vif_err("hostfwd=tcp::8080-10.0.2.15:80", "vif hostfwd 'tcp::8080-10.0.2.15:80': a guest "
            "address is not supported (write it as tcp::8080-:80)");
    len += (size_t)snprintf(spec, sizeof(spec), "type=user");
    for (int i = 0; i <= CFG_MAX_FWDS; i++)
        len += (size_t)snprintf(spec + len, sizeof(spec) - len, ",hostfwd=tcp::%d-:80", 1000 + i);
    vif_err(spec, "vif has too many hostfwd rules (max 8)");
}

static void test_vif_long(void **state)
{
    static char spec[10000];

    memset(spec, ',', 9000);
    spec[9000] = 0;
    vif_err(spec, "vif spec: value too long (max 5120 characters)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_xm_forms),
        cmocka_unit_test(test_disk_xl_forms),
        cmocka_unit_test(test_disk_errors),
        cmocka_unit_test(test_disk_long),
        cmocka_unit_test(test_disk_limits),
        cmocka_unit_test(test_vif_defaults),
        cmocka_unit_test(test_vif_forms),
        cmocka_unit_test(test_vif_hostfwd),
        cmocka_unit_test(test_vif_rate_loopback),
        cmocka_unit_test(test_vif_errors),
        cmocka_unit_test(test_vif_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
