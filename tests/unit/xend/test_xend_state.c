/* Unit tests for xend's state dir (state.c) in a temporary directory: the
 * writers leave whole files and no temporary ones, a failed write leaves
 * the old file, the temporary files of an interrupted write are removed
 * at startup, queued changes reach the disk in order, and a re-attaching
 * xend reads a VMM's exit record (fixed length) and leaves a process that
 * does not serve the run record's socket alone. The supervision layer is
 * faked here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "xend.h"

XendConf xconf;

/* ---- the fake supervision layer ---- */
static char away_why[32];
static int away_calls, attach_calls;

int sup_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int sup_pidfd_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
int sup_attach(Domain *d, int id, pid_t pid, int pidfd, const char *sock, time_t start_time)
{
    (void)d; (void)id; (void)pid; (void)pidfd; (void)sock; (void)start_time;
    attach_calls++;
    return -1;
}
void sup_exited_while_away(Domain *d, int id, const char *why)
{
    (void)d; (void)id;
    away_calls++;
    snprintf(away_why, sizeof(away_why), "%s", why ? why : "(none)");
}
int sup_start(Domain *d, char *err, size_t errlen) { (void)d; (void)err; (void)errlen; return -1; }
void sup_sample_ms(Domain *d, int timeout_ms) { (void)d; (void)timeout_ms; }

/* ---- helpers ---- */
static char *slurp(const char *rel)
{
    char p[PATH_MAX];
    size_t len;

    assert_int_equal(state_path(p, sizeof(p), "%s", rel), 0);
    return read_file(p, &len);
}

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    FILE *f;

    assert_int_equal(state_path(p, sizeof(p), "%s", rel), 0);
    assert_non_null(f = fopen(p, "w"));
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *rel)
{
    char p[PATH_MAX];
    struct stat st;

    assert_int_equal(state_path(p, sizeof(p), "%s", rel), 0);
    return stat(p, &st) == 0;
}

/* No "*.tmp.*" file in the state dir, domains/ or run/. */
static void assert_no_temps(void)
{
    const char *dirs[] = { "", "domains", "run" };

    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char p[PATH_MAX + 16];
        struct dirent *e;
        DIR *dp;

        snprintf(p, sizeof(p), "%s/%s", xconf.state_dir, dirs[i]);
        assert_non_null(dp = opendir(p));
        while ((e = readdir(dp)))
            if (strstr(e->d_name, ".tmp."))
                fail_msg("temporary file left: %s/%s", dirs[i], e->d_name);
        closedir(dp);
    }
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/xend-state-test.XXXXXX";

    (void)state;
    assert_non_null(mkdtemp(tmpl));
    snprintf(xconf.state_dir, sizeof(xconf.state_dir), "%s", tmpl);
    assert_int_equal(state_init(), 0);
    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
    away_calls = attach_calls = 0;
    away_why[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xconf.state_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- tests ---- */

static void test_writers_whole(void **state)
{
    RunRecord r = { .id = 7, .pid = 1234, .managed = true, .start_time = 99 };
    json_t *j;
    char *t;

    (void)state;
    assert_int_equal(state_save_config("a", "name = \"a\"\n"), 0);
    assert_string_equal(t = slurp("domains/a.cfg"), "name = \"a\"\n");
    free(t);
    assert_int_equal(state_save_next_id(42), 0);
    assert_string_equal(t = slurp("next-id"), "42\n");
    free(t);
    snprintf(r.sock, sizeof(r.sock), "/x/7.sock");
    snprintf(r.name, sizeof(r.name), "a");
    snprintf(r.uuid, sizeof(r.uuid), "12345678-1234-1234-1234-123456789abc");
    assert_int_equal(state_write_run(&r), 0);
    t = slurp("run/7.json");
    assert_non_null(j = json_loads(t, 0, NULL));
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), 1234);
    assert_string_equal(json_string_value(json_object_get(j, "sock")), "/x/7.sock");
    json_decref(j);
    free(t);
    assert_int_equal(state_set_autostart("a", true), 0);
    assert_true(exists("domains/a.autostart"));
    assert_int_equal(state_set_autostart("a", false), 0);
    assert_false(exists("domains/a.autostart"));
    assert_no_temps();
}

/* A write that cannot complete (the rename fails) leaves the old file and
 * no temporary file. */
static void test_failed_write_keeps_old(void **state)
{
    char p[PATH_MAX];

    (void)state;
    assert_int_equal(state_path(p, sizeof(p), "domains/b.cfg"), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(state_save_config("b", "new\n"), -1);
    assert_no_temps();
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(state_save_config("b", "old\n"), 0);
    assert_int_equal(state_path(p, sizeof(p), "domains"), 0);
    assert_int_equal(chmod(p, 0500), 0);
    if (geteuid() != 0) {       /* root writes anyway */
        char *t;
        assert_int_equal(state_save_config("b", "new\n"), -1);
        assert_string_equal(t = slurp("domains/b.cfg"), "old\n");
        free(t);
    }
    assert_int_equal(chmod(p, 0700), 0);
    assert_no_temps();
}

/* Changes queued in one update reach the disk in their order. */
static void test_queue_order(void **state)
{
    char *t;

    (void)state;
    reg_update_begin();
    state_queue_config("q", "one\n");
    state_queue_autostart("q", true);
    state_queue_delete("q");
    state_queue_config("q", "two\n");
    assert_false(exists("domains/q.cfg"));     /* nothing written under reg_lock */
    assert_int_equal(reg_update_end(), 0);
    assert_string_equal(t = slurp("domains/q.cfg"), "two\n");
    free(t);
    assert_false(exists("domains/q.autostart"));
    /* A failing write is reported by the update. */
    {
        char p[PATH_MAX];
        assert_int_equal(state_path(p, sizeof(p), "domains/r2.cfg"), 0);
        assert_int_equal(mkdir(p, 0700), 0);
        reg_update_begin();
        state_queue_config("r2", "y\n");
        assert_int_equal(reg_update_end(), -1);
        rmdir(p);
    }
}

/* Temporary files of interrupted writes go at startup; files whose names
 * merely contain ".tmp." stay. */
static void test_stale_temps_removed(void **state)
{
    (void)state;
    put("domains/x.cfg.tmp.0123abcd", "half");
    put("run/5.json.tmp.deadbeef", "{");
    put("next-id.tmp.00000000", "");
    put("domains/a.tmp.12345678.cfg", "name = \"a.tmp.12345678\"\n");
    put("next-id", "9\n");
    state_load_all();
    assert_false(exists("domains/x.cfg.tmp.0123abcd"));
    assert_false(exists("run/5.json.tmp.deadbeef"));
    assert_false(exists("next-id.tmp.00000000"));
    assert_true(exists("domains/a.tmp.12345678.cfg"));
    pthread_mutex_lock(&reg_lock);
    assert_int_equal(reg_next_id_locked(), 9);
    pthread_mutex_unlock(&reg_lock);
}

/* A run record whose VMM is gone: its padded exit record says why. */
static void run_record(int id, pid_t pid)
{
    char rel[64], text[PATH_MAX + 512], sock[PATH_MAX];

    snprintf(rel, sizeof(rel), "run/%d.sock", id);
    assert_int_equal(state_path(sock, sizeof(sock), "%s", rel), 0);
    snprintf(text, sizeof(text), "{\"id\": %d, \"pid\": %d, \"sock\": \"%s\", \"name\": \"g%d\", "
             "\"uuid\": \"12345678-1234-1234-1234-1234567890%02d\", \"managed\": false, "
             "\"start_time\": 0}\n", id, (int)pid, sock, id, id);
    snprintf(rel, sizeof(rel), "run/%d.json", id);
    put(rel, text);
    snprintf(rel, sizeof(rel), "run/%d.cfg", id);
    snprintf(text, sizeof(text), "name = \"g%d\"\n", id);
    put(rel, text);
}

static pid_t dead_pid(void)
{
    pid_t p = fork();

    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static void test_exit_record_while_away(void **state)
{
    (void)state;
    run_record(3, dead_pid());
    put("run/3.sock.exit", "powero");     /* cut short by a host crash */
    state_load_all();
    assert_int_equal(away_calls, 1);
    assert_int_equal(exit_record_reason(away_why), SR_POWEROFF);
    assert_false(exists("run/3.json"));

    run_record(4, dead_pid());            /* killed: no record at all */
    state_load_all();
    assert_int_equal(away_calls, 2);
    assert_string_equal(away_why, "(none)");
}

/* A run record naming a live process that is no VMM of ours (a recycled
 * pid): not attached to, not signalled, the domain taken as ended. */
static void test_recycled_pid_left_alone(void **state)
{
    pid_t other = fork();
    int status;

    (void)state;
    if (other == 0) {
        pause();
        _exit(0);
    }
    run_record(6, other);
    state_load_all();
    assert_int_equal(attach_calls, 0);
    assert_int_equal(away_calls, 1);
    assert_int_equal(waitpid(other, &status, WNOHANG), 0);   /* still alive */
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
}

/* Exit records: whole, padded, cut short by a host crash, garbage. */
static void test_exit_record_reason(void **state)
{
    (void)state;
    assert_int_equal(exit_record_reason("poweroff\n"), SR_POWEROFF);
    assert_int_equal(exit_record_reason("reboot\n"), SR_REBOOT);
    assert_int_equal(exit_record_reason("crash\n"), SR_CRASH);
    assert_int_equal(exit_record_reason("destroyed\n"), SR_DESTROYED);
    assert_int_equal(exit_record_reason("saved\n"), SR_SAVED);
    assert_int_equal(exit_record_reason("migrated"), SR_MIGRATED);
    assert_int_equal(exit_record_reason("poweroff \n"), SR_POWEROFF);
    assert_int_equal(exit_record_reason("powero"), SR_POWEROFF);     /* cut to "crash\n"'s size */
    assert_int_equal(exit_record_reason("destro"), SR_DESTROYED);
    assert_int_equal(exit_record_reason("migrat"), SR_MIGRATED);
    assert_int_equal(exit_record_reason("pow"), SR_NONE);
    assert_int_equal(exit_record_reason("powerful\n"), SR_NONE);
    assert_int_equal(exit_record_reason(""), SR_NONE);
    assert_int_equal(exit_record_reason(NULL), SR_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writers_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temps_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_record_while_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycled_pid_left_alone, setup, teardown),
        cmocka_unit_test(test_exit_record_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
