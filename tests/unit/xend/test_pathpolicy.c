/* What a domain config may name (src/xend/pathpolicy.c): canonical paths,
 * image directories for clients without full access; and the VMM log
 * rotation (src/xend/logsink.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "xend.h"

XendConf xconf = { .state_dir = "/nonexistent" };

static char T[64], IMG[128], BOOT[128], OUT[128], DIRS[512], err[2048];

static void put(const char *path, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char b[4096];

    assert_true(fd >= 0);
    memset(b, 'x', sizeof(b));
    while (len) {
        size_t n = len < sizeof(b) ? len : sizeof(b);
        assert_int_equal(write(fd, b, n), (ssize_t)n);
        len -= n;
    }
    close(fd);
}

static int setup(void **state)
{
    char p[256];

    snprintf(T, sizeof(T), "/tmp/xeno-pp-XXXXXX");
    assert_non_null(mkdtemp(T));
    snprintf(IMG, sizeof(IMG), "%s/images", T);
    snprintf(BOOT, sizeof(BOOT), "%s/boot", T);
    snprintf(OUT, sizeof(OUT), "%s/images2", T);       /* a prefix of no image dir */
    mkdir(IMG, 0755);
    mkdir(BOOT, 0755);
    mkdir(OUT, 0755);
    snprintf(p, sizeof(p), "%s/a.img", IMG);
    put(p, 4096);
    snprintf(p, sizeof(p), "%s/vmlinuz", BOOT);
    put(p, 100);
    snprintf(p, sizeof(p), "%s/secret.img", OUT);
    put(p, 4096);
    snprintf(p, sizeof(p), "%s/link.img", IMG);         /* -> outside */
    assert_int_equal(symlink("../images2/secret.img", p), 0);
    snprintf(p, sizeof(p), "%s/alias.img", IMG);        /* -> inside */
    assert_int_equal(symlink("a.img", p), 0);
    snprintf(p, sizeof(p), "%s/imglink", T);            /* a linked image dir */
    assert_int_equal(symlink("images", p), 0);
    /* a missing directory and an empty entry are ignored */
    snprintf(DIRS, sizeof(DIRS), "%s/missing::%s:%s:%s/imglink", T, IMG, BOOT, T);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
    return system(cmd) == 0 ? 0 : -1;
}

static VmConfig *cfg_with(const char *disk, const char *kernel)
{
    static VmConfig c;

    config_init(&c);
    snprintf(c.name, sizeof(c.name), "vm");
    if (disk) {
        c.ndisks = 1;
        snprintf(c.disk[0].path, sizeof(c.disk[0].path), "%s", disk);
        snprintf(c.disk[0].vdev, sizeof(c.disk[0].vdev), "xvda");
    }
    if (kernel)
        snprintf(c.kernel, sizeof(c.kernel), "%s", kernel);
    return &c;
}

static int check(const char *disk, const char *kernel, bool full)
{
    return pathpolicy_check_config(cfg_with(disk, kernel), "vm.cfg", DIRS, full, err,
                                   sizeof(err));
}

static void test_inside(void **state)
{
    char d[256], k[256];

    snprintf(d, sizeof(d), "%s/a.img", IMG);
    snprintf(k, sizeof(k), "%s/vmlinuz", BOOT);
    assert_int_equal(check(d, k, false), 0);
    assert_int_equal(check(d, k, true), 0);
    assert_int_equal(check(NULL, NULL, false), 0);          /* the default guest */
}

static void test_outside(void **state)
{
    char d[256], want[1024];

    snprintf(d, sizeof(d), "%s/secret.img", OUT);
    assert_int_equal(check(d, NULL, false), -1);
    snprintf(want, sizeof(want), "vm.cfg: disk '%s': outside the image directories; without "
             "full access (root on xend's local socket) a config may name only regular files "
             "in %s/missing, %s, %s, %s/imglink", d, T, IMG, BOOT, T);
    assert_string_equal(err, want);
    /* full access: anything */
    assert_int_equal(check(d, NULL, true), 0);
    /* the kernel is checked too */
    assert_int_equal(check(NULL, "/etc/passwd", false), -1);
    assert_non_null(strstr(err, "vm.cfg: kernel '/etc/passwd': outside the image directories"));
}

static void test_dotdot_and_links(void **state)
{
    char d[256], want[256];
    VmConfig *c;

    /* .. out of the directory */
    snprintf(d, sizeof(d), "%s/../images2/secret.img", IMG);
    assert_int_equal(check(d, NULL, false), -1);
    snprintf(want, sizeof(want), "(%s/secret.img): outside", OUT);
    assert_non_null(strstr(err, want));
    /* a link out of it */
    snprintf(d, sizeof(d), "%s/link.img", IMG);
    assert_int_equal(check(d, NULL, false), -1);
    assert_non_null(strstr(err, want));
    /* a link within it: allowed, and the VMM gets the file itself */
    snprintf(d, sizeof(d), "%s/alias.img", IMG);
    c = cfg_with(d, NULL);
    assert_int_equal(pathpolicy_check_config(c, "vm.cfg", DIRS, false, err, sizeof(err)), 1);
    snprintf(want, sizeof(want), "%s/a.img", IMG);
    assert_string_equal(c->disk[0].path, want);
    /* full access follows links too: the canonical path is what runs */
    snprintf(d, sizeof(d), "%s/link.img", IMG);
    c = cfg_with(d, NULL);
    assert_int_equal(pathpolicy_check_config(c, "vm.cfg", DIRS, true, err, sizeof(err)), 1);
    snprintf(want, sizeof(want), "%s/secret.img", OUT);
    assert_string_equal(c->disk[0].path, want);
    /* an image dir given through a link holds what the link points to */
    assert_int_equal(pathpolicy_check_config(cfg_with(NULL, NULL), "x", "/nonexistent", false,
                                             err, sizeof(err)), 0);
    snprintf(d, sizeof(d), "%s/a.img", IMG);
    snprintf(want, sizeof(want), "%s/imglink", T);
    assert_int_equal(pathpolicy_check_config(cfg_with(d, NULL), "x", want, false, err,
                                             sizeof(err)), 0);
}

static void test_devices_and_missing(void **state)
{
    char d[300];
    struct dirent *e;
    DIR *dev;

    /* not a regular file */
    assert_int_equal(check("/dev/null", NULL, false), -1);
    assert_non_null(strstr(err, "vm.cfg: disk '/dev/null': not a regular file;"));
    assert_int_equal(check("/dev/null", NULL, true), 0);
    /* a block device (phy:), if this host has one */
    dev = opendir("/dev");
    assert_non_null(dev);
    while ((e = readdir(dev))) {
        struct stat st;
        snprintf(d, sizeof(d), "/dev/%s", e->d_name);
        if (stat(d, &st) == 0 && S_ISBLK(st.st_mode)) {
            assert_int_equal(check(d, NULL, false), -1);
            assert_non_null(strstr(err, "a block device (phy:)"));
            assert_int_equal(check(d, NULL, true), 0);
            break;
        }
    }
    closedir(dev);
    /* missing: refused without full access, left to the VMM with it */
    snprintf(d, sizeof(d), "%s/nothere.img", IMG);
    assert_int_equal(check(d, NULL, false), -1);
    assert_non_null(strstr(err, "nothere.img': No such file or directory"));
    assert_int_equal(check(d, NULL, true), 0);
}

/* pathpolicy_check: on a change the domain's config text is the config
 * with the canonical paths (what the VMM is given). */
static void test_domain_config_rewritten(void **state)
{
    Domain d = { 0 };
    char spec[300], text[600], want[300];

    snprintf(xconf.image_dirs, sizeof(xconf.image_dirs), "%s", IMG);
    snprintf(spec, sizeof(spec), "%s/alias.img", IMG);
    snprintf(text, sizeof(text), "name = 'vm'\ndisk = [ 'file:%s,xvda,w' ]\n", spec);
    d.cfg = calloc(1, sizeof(*d.cfg));
    config_init(d.cfg);
    assert_int_equal(config_parse(d.cfg, "vm.cfg", text, strlen(text), NULL, NULL, err,
                                  sizeof(err)), 0);
    d.config = strdup(text);
    snprintf(d.uuid, sizeof(d.uuid), "0b3d1c52-7d5e-4f0a-9a51-1c1d2e3f4a5b");
    assert_int_equal(pathpolicy_check(&d, "vm.cfg", false, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "target=%s/a.img\"", IMG);
    assert_non_null(strstr(d.config, want));
    assert_null(strstr(d.config, "alias.img"));
    /* the uuid xend generated stays (the VMM and a restarted xend see it) */
    assert_non_null(strstr(d.config, "uuid = \"0b3d1c52-7d5e-4f0a-9a51-1c1d2e3f4a5b\"\n"));
    config_init(d.cfg);
    assert_int_equal(config_parse(d.cfg, "again", d.config, strlen(d.config), NULL, NULL, err,
                                  sizeof(err)), 0);
    assert_true(d.cfg->uuid_set);
    free(d.config);
    free(d.cfg);
    xconf.image_dirs[0] = 0;
}

static void test_default_dirs(void **state)
{
    char buf[8192];

    setenv("XENO_GUEST_DIR", "/opt/guest", 1);
    snprintf(xconf.state_dir, sizeof(xconf.state_dir), "/var/lib/xeno");
    pathpolicy_dirs(buf, sizeof(buf));
    assert_string_equal(buf, "/var/lib/xeno/images:/var/lib/xeno/boot:/opt/guest:"
                        "/var/lib/xeno/images");
    snprintf(xconf.image_dirs, sizeof(xconf.image_dirs), "/srv/vm");
    pathpolicy_dirs(buf, sizeof(buf));
    assert_string_equal(buf, "/srv/vm:/opt/guest");     /* the default guest stays */
    xconf.image_dirs[0] = 0;
    pathpolicy_save_dirs(buf, sizeof(buf));
    assert_string_equal(buf, "/var/lib/xeno/save:/var/lib/xeno/save");
    snprintf(xconf.state_dir, sizeof(xconf.state_dir), "/nonexistent");
}

/* Save files named by a client without full access: only in the save
 * directories, never over a link or a non-file, never outside by "..". */
static void test_savefile(void **state)
{
    char p[512];

    (void)state;
    snprintf(xconf.save_dirs, sizeof(xconf.save_dirs), "%s", IMG);
    /* full access: anything */
    assert_int_equal(pathpolicy_check_savefile("/etc/passwd", true, true, err, sizeof(err)), 0);
    /* a new file in the save dir; an existing regular file there */
    snprintf(p, sizeof(p), "%s/new.save", IMG);
    assert_int_equal(pathpolicy_check_savefile(p, true, false, err, sizeof(err)), 0);
    snprintf(p, sizeof(p), "%s/a.img", IMG);
    assert_int_equal(pathpolicy_check_savefile(p, true, false, err, sizeof(err)), 0);
    assert_int_equal(pathpolicy_check_savefile(p, false, false, err, sizeof(err)), 0);
    /* elsewhere, by "..", a prefix of the dir, relative, a link, a dir name */
    const char *bad[] = { "/etc/shadow", "%s/../images2/x.save", "%s2/x.save", "x.save",
                          "%s/link.img", "%s/..", "%s/nodir/x.save" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(p, sizeof(p), bad[i], IMG);
        assert_int_equal(pathpolicy_check_savefile(p, true, false, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "save file '"));
    }
    /* restore: a link out, a file outside, a missing file */
    snprintf(p, sizeof(p), "%s/link.img", IMG);
    assert_int_equal(pathpolicy_check_savefile(p, false, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "outside the save directories"));
    snprintf(p, sizeof(p), "%s/secret.img", OUT);
    assert_int_equal(pathpolicy_check_savefile(p, false, false, err, sizeof(err)), -1);
    snprintf(p, sizeof(p), "%s/missing.save", IMG);
    assert_int_equal(pathpolicy_check_savefile(p, false, false, err, sizeof(err)), -1);
    xconf.save_dirs[0] = 0;
}

/* ---- logsink: the VMM logs' rotation */

static off_t size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_log_rotation(void **state)
{
    char log[256], one[300], two[300];

    snprintf(log, sizeof(log), "%s/vm.log", T);
    snprintf(one, sizeof(one), "%s.1", log);
    snprintf(two, sizeof(two), "%s.2", log);
    assert_int_equal(logsink_rotate_file(log, 1000, 1), 0);       /* none yet */
    put(log, 900);
    assert_int_equal(logsink_rotate_file(log, 1000, 1), 0);       /* small enough */
    put(log, 3000);
    assert_int_equal(logsink_rotate_file(log, 1000, 1), 1);
    assert_int_equal(size_of(log), 0);
    assert_int_equal(size_of(one), 3000);
    put(log, 2000);
    assert_int_equal(logsink_rotate_file(log, 1000, 1), 1);
    assert_int_equal(size_of(one), 2000);                          /* one kept */
    assert_int_equal(size_of(two), -1);
    put(log, 1500);
    assert_int_equal(logsink_rotate_file(log, 1000, 2), 1);
    assert_int_equal(size_of(one), 1500);
    assert_int_equal(size_of(two), 2000);
    /* keep 0: emptied, nothing kept; max 0: no limit */
    unlink(one);
    unlink(two);
    put(log, 5000);
    assert_int_equal(logsink_rotate_file(log, 0, 1), 0);
    assert_int_equal(logsink_rotate_file(log, 1000, 0), 1);
    assert_int_equal(size_of(log), 0);
    assert_int_equal(size_of(one), -1);
}

/* An O_APPEND writer (the VMM) goes on at the start of the emptied file. */
static void test_log_rotation_appender(void **state)
{
    char log[256], one[300];
    int fd;

    snprintf(log, sizeof(log), "%s/app.log", T);
    snprintf(one, sizeof(one), "%s.1", log);
    fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(write(fd, "0123456789abcdefghij\n", 21), 21);
    assert_int_equal(logsink_rotate_file(log, 1024, 1), 1);
    assert_int_equal(write(fd, "after\n", 6), 6);
    close(fd);
    assert_int_equal(size_of(log), 6);
    assert_int_equal(size_of(one), 2100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside),
        cmocka_unit_test(test_outside),
        cmocka_unit_test(test_dotdot_and_links),
        cmocka_unit_test(test_devices_and_missing),
        cmocka_unit_test(test_domain_config_rewritten),
        cmocka_unit_test(test_default_dirs),
        cmocka_unit_test(test_savefile),
        cmocka_unit_test(test_log_rotation),
        cmocka_unit_test(test_log_rotation_appender),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
