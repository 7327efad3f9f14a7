/* What the sandbox's files share (sandbox.h is the VMM's interface).
 * Each file has one job: sandbox.c the order of things and the
 * credentials, sandbox_filter.c the seccomp filters, sandbox_root.c the
 * namespaces and the empty root, sandbox_cleaner.c the helper that removes
 * the sockets once the VMM is gone. */
#ifndef XENO_VMM_SANDBOX_PRIV_H
#define XENO_VMM_SANDBOX_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "sandbox.h"

/* ---- sandbox_filter.c ---- */

typedef struct SandboxFilterOpts {
    bool kvm;            /* the kvm engine runs: its ioctls are allowed */
    bool log_only;       /* XENO_SANDBOX=log: log instead of kill */
    pid_t pid;           /* this process (as it sees itself): signals only to it */
} SandboxFilterOpts;

/* A filter compiled to BPF, ready to load in any thread without
 * allocating (the migration thread loads its own under the main filter). */
typedef struct SandboxFilter {
    struct sock_fprog prog;
} SandboxFilter;

/* Compile the filter of thread kind `kind`. 0, or -1 with one line in err. */
int sandbox_filter_build(enum sandbox_thread kind, const SandboxFilterOpts *o,
                         SandboxFilter *f, char *err, size_t errlen);
/* The cleaner's filter (sandbox_cleaner.c): stat, probe, unlink, exit. */
int sandbox_filter_build_cleaner(SandboxFilter *f, char *err, size_t errlen);
void sandbox_filter_free(SandboxFilter *f);
/* Install f on the calling thread (no_new_privs must be set, or the
 * caller hold CAP_SYS_ADMIN). 0, or -errno. */
int sandbox_filter_load(const SandboxFilter *f);

/* ---- sandbox_root.c ---- */

/* New mount (private propagation) and IPC namespaces. 0, -EPERM (or
 * another -errno) when the host does not allow them: the caller goes on
 * without. Single-threaded callers only. */
int sandbox_unshare(void);
/* In the new mount namespace: make a small read-only tmpfs the root, with
 * a copy of the host's /etc/resolv.conf (libslirp reads it to forward the
 * guest's DNS queries) and nothing else. 0, or -1 with one line in err. */
int sandbox_enter_empty_root(char *err, size_t errlen);

/* ---- sandbox_cleaner.c ---- */

/* Fork the helper that waits for this process to end and then removes
 * the sockets at `control_path` and `control_path`.console if nobody
 * listens there any more. Before anything else is opened: the helper
 * holds nothing of the VMM. 0, or -1 with one line in err. */
int sandbox_cleaner_start(const char *control_path, char *err, size_t errlen);

/* ---- sandbox_test.c ---- */

/* The hidden trigger of the test build (xeno-vmm-sandbox-test, never
 * installed): XENO_SANDBOX_TEST=CALL@THREAD[+MS] makes a forbidden call
 * from a thread under that thread kind's filter, MS milliseconds after the
 * kind was confined (sandbox_test.c). The shipped VMM has no trigger. */
#ifdef XENO_SANDBOX_TEST
void sandbox_test_trigger(enum sandbox_thread kind);
#else
static inline void sandbox_test_trigger(enum sandbox_thread kind)
{
    (void)kind;
}
#endif

#endif
