/* vCPUs: one host thread each, running KVM_RUN and serving its exits.
 *
 * Port I/O and MMIO exits go to the PIO and MMIO buses; HLT, the LAPICs,
 * IOAPIC, PIC and PIT are in the kernel. Pause and stop: the controller
 * sets a flag, then "kicks" every vCPU: run->immediate_exit = 1 (so a
 * thread about to enter KVM_RUN returns at once) and a signal (so one
 * inside KVM_RUN leaves it). A kicked thread completes any pending I/O
 * exit (KVM_RUN with immediate_exit set) and parks: every vCPU is then at
 * an instruction boundary with its state fully in KVM, ready to save. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "kvm_int.h"

#define SIG_KICK SIGUSR1

#define MSR_IA32_MISC_ENABLE 0x1a0
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x700
#define APIC_MODE_NMI    0x400

static void kick_handler(int sig) { (void)sig; }

static int set_lapic_lints(Vcpu *v)
{
    struct kvm_lapic_state la;
    uint32_t *lvt0 = (uint32_t *)&la.regs[APIC_LVT0], *lvt1 = (uint32_t *)&la.regs[APIC_LVT1];

    if (ioctl(v->fd, KVM_GET_LAPIC, &la) < 0)
        return -1;
    /* LINT0 = ExtINT (the PIC), LINT1 = NMI, as firmware leaves them. */
    *lvt0 = (*lvt0 & ~0x700u & ~(1u << 16)) | APIC_MODE_EXTINT;
    *lvt1 = (*lvt1 & ~0x700u & ~(1u << 16)) | APIC_MODE_NMI;
    return ioctl(v->fd, KVM_SET_LAPIC, &la);
}

int kvm_vcpu_create(Kvm *k, unsigned id, char *err, size_t errlen)
{
    Vcpu *v = &k->vcpu[id];
    /* struct kvm_msrs ends in a flexible array: room for one entry. */
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } msrs;
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

    v->k = k;
    v->id = id;
    v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0) {
        snprintf(err, errlen, "KVM: cannot create vCPU %u: %s", id, strerror(errno));
        return -1;
    }
    v->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        snprintf(err, errlen, "KVM: cannot map vCPU %u: %s", id, strerror(errno));
        return -1;
    }
    if (kvm_cpuid_set(k, v, err, errlen))
        return -1;
    memset(&msrs, 0, sizeof(msrs));
    msrs.hdr.nmsrs = 1;
    msrs.hdr.entries[0].index = MSR_IA32_MISC_ENABLE;
    msrs.hdr.entries[0].data = 1;
    if (ioctl(v->fd, KVM_SET_MSRS, &msrs) != 1 || ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 ||
        set_lapic_lints(v) < 0) {
        snprintf(err, errlen, "KVM: cannot initialise vCPU %u: %s", id, strerror(errno));
        return -1;
    }
    k->nvcpus = id + 1 > k->nvcpus ? id + 1 : k->nvcpus;
    return 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db)
{
    *s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
                               .present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = 1 };
}

int kvm_vcpu_set_boot_state(Vcpu *v, const KvmBoot *b)
{
    struct kvm_sregs s;
    struct kvm_regs r = { .rflags = 2, .rip = b->entry, .rsp = b->stack };
    bool lm = b->mode == KVM_BOOT_LINUX64;

    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
        return -1;
    flat_seg(&s.cs, 0x10, 11, lm, !lm);         /* execute/read, accessed */
    flat_seg(&s.ds, 0x18, 3, 0, 1);             /* read/write, accessed */
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.tr = (struct kvm_segment){ .limit = 0x67, .type = 11, .present = 1 };   /* busy TSS */
    s.ldt = (struct kvm_segment){ .type = 2, .present = 1, .unusable = 1 };
    s.gdt.base = b->gdt;
    s.gdt.limit = 4 * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0;
    if (lm) {
        s.cr0 = 0x80000031;         /* PG | NE | ET | PE */
        s.cr3 = b->cr3;
        s.cr4 = 0x20;               /* PAE */
        s.efer = 0x500;             /* LMA | LME */
        r.rsi = b->arg;
    } else {
        s.cr0 = 0x11;               /* ET | PE */
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = 0;
        r.rbx = b->arg;
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
        return -1;
    return 0;
}

static void kick(Vcpu *v)
{
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (v->thread_started)
        pthread_kill(v->thread, SIG_KICK);
}

/* Park until resumed or stopped. `forever`: the vCPU cannot run again
 * (shutdown, error); it stays parked until the VM stops. */
static void park(Vcpu *v, bool forever)
{
    Kvm *k = v->k;

    if (v->io_pending && !forever) {
        /* Let KVM finish the instruction behind the last I/O exit. */
        __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        ioctl(v->fd, KVM_RUN, 0);
        v->io_pending = false;
    }
    pthread_mutex_lock(&k->lock);
    k->parked++;
    pthread_cond_broadcast(&k->cond);
    while (!k->stopping && (forever || k->pausing))
        pthread_cond_wait(&k->cond, &k->lock);
    k->parked--;
    __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&k->lock);
}

static void note_unhandled(Kvm *k, const char *what, uint64_t addr, bool write)
{
    unsigned long n = __atomic_fetch_add(&k->unhandled_io, 1, __ATOMIC_RELAXED);
    if (n < 8)
        log_debug("kvm: guest %s %s 0x%llx: nothing there", write ? "write to" : "read from",
                  what, (unsigned long long)addr);
}

static void handle_io(Vcpu *v)
{
    struct kvm_run *run = v->run;
    unsigned size = run->io.size, count = run->io.count;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool write = run->io.direction == KVM_EXIT_IO_OUT;

    if ((size != 1 && size != 2 && size != 4) ||
        run->io.data_offset + (uint64_t)size * count > (uint64_t)v->k->run_size)
        return;
    for (unsigned i = 0; i < count; i++, data += size) {
        uint64_t val = 0;
        if (write) {
            memcpy(&val, data, size);
            if (!bus_write(&v->k->pio, run->io.port, size, val))
                note_unhandled(v->k, "port", run->io.port, true);
        } else {
            if (!bus_read(&v->k->pio, run->io.port, size, &val)) {
                val = ~0ull;    /* an empty ISA bus floats high */
                note_unhandled(v->k, "port", run->io.port, false);
            }
            memcpy(data, &val, size);
        }
    }
}

static void handle_mmio(Vcpu *v)
{
    struct kvm_run *run = v->run;
    unsigned len = run->mmio.len;
    uint64_t val = 0, addr = run->mmio.phys_addr;
    Bus *bus = v->k->host.mmio;

    if (len != 1 && len != 2 && len != 4 && len != 8) {
        if (!run->mmio.is_write)
            memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        return;
    }
    if (run->mmio.is_write) {
        memcpy(&val, run->mmio.data, len);
        if (!bus_write(bus, addr, len, val))
            note_unhandled(v->k, "address", addr, true);
    } else {
        if (!bus_read(bus, addr, len, &val)) {
            val = ~0ull;
            note_unhandled(v->k, "address", addr, false);
        }
        memcpy(run->mmio.data, &val, len);
    }
}

static const char *internal_error_name(uint32_t suberror)
{
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "KVM internal error: instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "KVM internal error: exception during exception delivery";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "KVM internal error: event delivery failed";
    default: return "KVM internal error";
    }
}

static void crash(Vcpu *v, const char *what, unsigned long long detail)
{
    struct kvm_regs r;
    unsigned long long rip = ioctl(v->fd, KVM_GET_REGS, &r) == 0 ? r.rip : 0;

    log_err("kvm: vCPU %u stopped: %s (%llu) at rip 0x%llx", v->id, what, detail, rip);
    kvm_request_exit(v->k, VM_EXIT_CRASH);
}

/* Serve one exit. Returns false when this vCPU cannot run any more. */
static bool handle_exit(Vcpu *v)
{
    struct kvm_run *run = v->run;
    Kvm *k = v->k;

    v->io_pending = false;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        v->nio++;
        handle_io(v);
        v->io_pending = true;
        return true;
    case KVM_EXIT_MMIO:
        v->nmmio++;
        handle_mmio(v);
        v->io_pending = true;
        return true;
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_HLT:
        /* Only without an in-kernel LAPIC; ours has one. Do not spin. */
        usleep(1000);
        return true;
    case KVM_EXIT_SHUTDOWN:
        /* Triple fault: a PC resets (Linux reboot=t relies on it). */
        log_info("kvm: vCPU %u: triple fault, resetting", v->id);
        kvm_request_exit(k, VM_EXIT_REBOOT);
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: kvm_request_exit(k, VM_EXIT_POWEROFF); break;
        case KVM_SYSTEM_EVENT_RESET: kvm_request_exit(k, VM_EXIT_REBOOT); break;
        default: kvm_request_exit(k, VM_EXIT_CRASH); break;
        }
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        /* KVM could not go on with this guest (on the nested kvm_pvm, e.g.
         * a triple fault it cannot emulate): the guest crashed. */
        crash(v, internal_error_name(run->internal.suberror), run->internal.suberror);
        return false;
    case KVM_EXIT_FAIL_ENTRY:
        crash(v, "entry failed, hardware reason", run->fail_entry.hardware_entry_failure_reason);
        return false;
    default:
        crash(v, "unexpected exit", run->exit_reason);
        return false;
    }
}

/* Throttling (a migration that does not converge): in every period of
 * THROTTLE_PERIOD_NS a vCPU runs (100-pct) % of it and sits out the rest,
 * as if the host were busy; kvmclock runs on. A fixed period keeps the
 * guest's latency under it at any pct (docs/migration.md). A timer of its
 * own kicks it out of KVM_RUN when its share is used up (only the signal:
 * immediate_exit stays clear). A pause or a stop ends the wait at once. */
#define THROTTLE_PERIOD_NS 10000000ull
#define THROTTLE_MIN_RUN_NS 100000ull   /* the kick timer's shortest interval */

static void throttle_timer(Vcpu *v, unsigned pct)
{
    struct itimerspec its = { 0 };
    uint64_t run = 0;

    if (pct) {
        run = MAX(THROTTLE_PERIOD_NS * (100 - MIN(pct, 99)) / 100, THROTTLE_MIN_RUN_NS);
        if (v->tick_armed == pct)
            return;
    } else if (!v->tick_armed) {
        return;
    }
    if (pct && !v->tick_created) {
        struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIG_KICK };
        sev._sigev_un._tid = gettid();
        if (timer_create(CLOCK_MONOTONIC, &sev, &v->tick) < 0) {
            log_warn_rl("kvm: vCPU %u: no throttling timer: %s", v->id, strerror(errno));
            return;
        }
        v->tick_created = true;
    }
    its.it_interval = its.it_value = ns_to_timespec(run);
    if (v->tick_created && timer_settime(v->tick, 0, &its, NULL) == 0)
        v->tick_armed = pct;
}

static void throttle_wait(Vcpu *v, unsigned pct)
{
    Kvm *k = v->k;
    uint64_t now = clock_ns(), ran, until;
    struct timespec ts;

    if (pct > 99)
        pct = 99;
    throttle_timer(v, pct);
    if (!v->ran_since || now - v->ran_since > 4 * THROTTLE_PERIOD_NS) {
        v->ran_since = now;
        return;
    }
    ran = now - v->ran_since;
    if (ran < THROTTLE_PERIOD_NS * (100 - pct) / 100)
        return;
    until = now + MIN(ran * pct / (100 - pct), 4 * THROTTLE_PERIOD_NS);
    /* k->cond is on the wall clock. */
    ts = ns_to_timespec(clock_realtime_ns() + (until - now));
    pthread_mutex_lock(&k->lock);
    while (!k->stopping && !k->pausing && __atomic_load_n(&k->throttle_pct, __ATOMIC_RELAXED) &&
           clock_ns() < until)
        if (pthread_cond_timedwait(&k->cond, &k->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&k->lock);
    v->ran_since = clock_ns();
}

void kvm_vcpus_set_throttle(Kvm *k, unsigned pct)
{
    pthread_mutex_lock(&k->lock);
    __atomic_store_n(&k->throttle_pct, pct > 99 ? 99 : pct, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
    /* Out of KVM_RUN to see it (and arm or disarm its timer); only the
     * signal: immediate_exit is the pause's. */
    for (unsigned i = 0; i < k->nvcpus; i++)
        if (k->vcpu[i].thread_started)
            pthread_kill(k->vcpu[i].thread, SIG_KICK);
}

static void *vcpu_thread(void *arg)
{
    Vcpu *v = arg;
    Kvm *k = v->k;
    sigset_t set;

    /* Process signals (SIGINT, SIGTERM...) go to the main thread. */
    sigfillset(&set);
    sigdelset(&set, SIG_KICK);
    pthread_sigmask(SIG_SETMASK, &set, NULL);

    for (;;) {
        if (__atomic_load_n(&k->stopping, __ATOMIC_SEQ_CST))
            break;
        if (__atomic_load_n(&k->pausing, __ATOMIC_SEQ_CST)) {
            park(v, false);
            continue;
        }
        {
            unsigned pct = __atomic_load_n(&k->throttle_pct, __ATOMIC_RELAXED);
            if (pct) {
                throttle_wait(v, pct);
                if (k->pausing || k->stopping)
                    continue;
            } else if (v->tick_armed) {
                throttle_timer(v, 0);
                v->ran_since = 0;
            }
        }
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            log_err("kvm: vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
            kvm_request_exit(k, VM_EXIT_ERROR);
            park(v, true);
            break;
        }
        v->nexits++;
        if (!handle_exit(v)) {
            park(v, true);
            break;
        }
    }
    if (v->tick_created) {
        timer_delete(v->tick);
        v->tick_created = false;
        v->tick_armed = 0;
    }
    {
        struct timespec ts;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
            v->last_cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    return NULL;
}

int kvm_vcpus_start(Kvm *k)
{
    struct sigaction sa = { .sa_handler = kick_handler };

    sigemptyset(&sa.sa_mask);
    sigaction(SIG_KICK, &sa, NULL);     /* no SA_RESTART: KVM_RUN returns EINTR */
    for (unsigned i = 0; i < k->nvcpus; i++) {
        Vcpu *v = &k->vcpu[i];
        int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
        if (r) {
            log_err("kvm: cannot start vCPU %u: %s", i, strerror(r));
            kvm_vcpus_stop(k);
            return -1;
        }
        v->thread_started = true;
    }
    return 0;
}

/* Threads that ended (after an error) count as parked. */
static unsigned running_threads(Kvm *k)
{
    unsigned n = 0;
    for (unsigned i = 0; i < k->nvcpus; i++)
        n += k->vcpu[i].thread_started;
    return n;
}

void kvm_vcpus_pause(Kvm *k)
{
    pthread_mutex_lock(&k->lock);
    if (k->pausing || k->stopping) {
        pthread_mutex_unlock(&k->lock);
        return;
    }
    __atomic_store_n(&k->pausing, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&k->cond);      /* a throttled vCPU's wait */
    pthread_mutex_unlock(&k->lock);
    for (unsigned i = 0; i < k->nvcpus; i++)
        kick(&k->vcpu[i]);
    pthread_mutex_lock(&k->lock);
    while (k->parked < running_threads(k) && !k->stopping)
        pthread_cond_wait(&k->cond, &k->lock);
    pthread_mutex_unlock(&k->lock);
    kvm_clock_pause(k);
}

void kvm_vcpus_resume(Kvm *k)
{
    pthread_mutex_lock(&k->lock);
    if (!k->pausing) {
        pthread_mutex_unlock(&k->lock);
        return;
    }
    kvm_clock_resume(k);
    __atomic_store_n(&k->pausing, 0, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

void kvm_vcpus_stop(Kvm *k)
{
    pthread_mutex_lock(&k->lock);
    __atomic_store_n(&k->stopping, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
    for (unsigned i = 0; i < k->nvcpus; i++)
        if (k->vcpu[i].run)
            kick(&k->vcpu[i]);
    for (unsigned i = 0; i < k->nvcpus; i++) {
        if (k->vcpu[i].thread_started) {
            pthread_join(k->vcpu[i].thread, NULL);
            k->vcpu[i].thread_started = false;
        }
    }
}

uint64_t kvm_vcpus_cpu_time_ns(Kvm *k)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < k->nvcpus; i++) {
        Vcpu *v = &k->vcpu[i];
        clockid_t cid;
        struct timespec ts;
        if (v->thread_started && pthread_getcpuclockid(v->thread, &cid) == 0 &&
            clock_gettime(cid, &ts) == 0)
            total += (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        else
            total += v->last_cpu_ns;
    }
    return total;
}
