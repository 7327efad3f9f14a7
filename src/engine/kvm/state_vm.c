/* Save/restore of a KVM VM: what the host's KVM can do (probed once), the
 * KVVM section (interrupt controllers, PIT, kvmclock), the registration of
 * KVVM and the KVCP sections, and the start of a restored VM.
 *
 * A restore loads every section after create and before start; each load
 * validates the bytes, checks them against this host and applies them to
 * KVM at once, so that anything KVM refuses is known before the VMM
 * commits (a migration answers "ready" only after the load). Only the
 * kvmclock waits for start: the guest's time continues from the saved
 * value when its vCPUs run again, not when the state was loaded, exactly
 * as across a pause (vm.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "common/log.h"
#include "kvm_int.h"

static int kerr(char *err, size_t errlen, const char *call, const char *what)
{
    snprintf(err, errlen, "%s (%s): %s", call, what, strerror(errno));
    return -1;
}

/* ---- what this host's KVM has ---------------------------------------------- */

static int sys_cap(Kvm *k, int cap) { return ioctl(k->sys_fd, KVM_CHECK_EXTENSION, cap); }
static int vm_cap(Kvm *k, int cap) { return ioctl(k->vm_fd, KVM_CHECK_EXTENSION, cap); }

/* The MSRs of KVM_STATE_MSRS that KVM_GET_MSR_INDEX_LIST names: the ones
 * this host's KVM saves and restores. */
static int probe_msrs(Kvm *k)
{
    static const uint32_t wanted[] = {
#define INDEX(i, n) i,
        KVM_STATE_MSRS(INDEX)
#undef INDEX
    };
    struct kvm_msr_list probe = { .nmsrs = 0 }, *list;

    if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return -1;
    list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
    if (!list)
        return -1;
    list->nmsrs = probe.nmsrs;
    if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
        free(list);
        return -1;
    }
    k->nstate_msrs = 0;
    for (unsigned i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        for (unsigned j = 0; j < list->nmsrs; j++)
            if (list->indices[j] == wanted[i] && k->nstate_msrs < KVM_STATE_MAX_MSRS)
                k->state_msrs[k->nstate_msrs++] = wanted[i];
    free(list);
    return 0;
}

static void need(Kvm *k, bool have, const char *what)
{
    if (!have && !k->no_state)
        k->no_state = what;
}

void kvm_state_probe(Kvm *k)
{
    int xsave2 = vm_cap(k, KVM_CAP_XSAVE2);    /* on the VM: it depends on its features */

    k->has_sregs2 = sys_cap(k, KVM_CAP_SREGS2) > 0;
    k->has_xcrs = sys_cap(k, KVM_CAP_XCRS) > 0;
    k->has_tsc_khz = sys_cap(k, KVM_CAP_GET_TSC_KHZ) > 0;
    k->has_tsc_control = sys_cap(k, KVM_CAP_TSC_CONTROL) > 0;
    k->has_xsave2 = xsave2 > 0;
    if (k->has_xsave2)
        k->xsave_size = (uint32_t)xsave2 > sizeof(struct kvm_xsave) ? (uint32_t)xsave2
                                                                   : sizeof(struct kvm_xsave);
    else if (sys_cap(k, KVM_CAP_XSAVE) > 0)
        k->xsave_size = sizeof(struct kvm_xsave);
    need(k, k->xsave_size != 0, "KVM_CAP_XSAVE (the FPU and vector registers)");
    need(k, sys_cap(k, KVM_CAP_VCPU_EVENTS) > 0, "KVM_CAP_VCPU_EVENTS (pending events)");
    need(k, sys_cap(k, KVM_CAP_DEBUGREGS) > 0, "KVM_CAP_DEBUGREGS (debug registers)");
    need(k, sys_cap(k, KVM_CAP_MP_STATE) > 0, "KVM_CAP_MP_STATE (vCPU run states)");
    need(k, sys_cap(k, KVM_CAP_PIT_STATE2) > 0, "KVM_CAP_PIT_STATE2 (the PIT)");
    need(k, sys_cap(k, KVM_CAP_ADJUST_CLOCK) > 0, "KVM_CAP_ADJUST_CLOCK (kvmclock)");
    need(k, probe_msrs(k) == 0, "KVM_GET_MSR_INDEX_LIST (the MSRs it saves)");
    if (k->no_state)
        log_debug("kvm: save/restore unavailable: this host's KVM lacks %s", k->no_state);
}

/* ---- KVVM ------------------------------------------------------------------- */

static int64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int get_irqchips(Kvm *k, KvmVmState *s, char *err, size_t errlen)
{
    struct kvm_irqchip c;
    static const char *const names[] = { "PIC master", "PIC slave", "IOAPIC" };

    for (uint32_t id = 0; id < 3; id++) {
        memset(&c, 0, sizeof(c));
        c.chip_id = id;
        if (ioctl(k->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
            return kerr(err, errlen, "KVM_GET_IRQCHIP", names[id]);
        if (id < 2)
            s->pic[id] = c.chip.pic;
        else
            s->ioapic = c.chip.ioapic;
    }
    return 0;
}

/* The kvmclock the guest had when its vCPUs stopped: the pause froze it
 * (vm.c); read it now only if no pause did. */
static int get_clock(Kvm *k, KvmVmState *s, char *err, size_t errlen)
{
    struct kvm_clock_data c;

    if (k->clock_saved) {
        s->clock_ns = k->paused_clock.clock;
        return 0;
    }
    memset(&c, 0, sizeof(c));
    if (ioctl(k->vm_fd, KVM_GET_CLOCK, &c) < 0)
        return kerr(err, errlen, "KVM_GET_CLOCK", "kvmclock");
    s->clock_ns = c.clock;
    return 0;
}

static int kvm_vm_state_get(Kvm *k, KvmVmState *s, char *err, size_t errlen)
{
    int64_t now;

    memset(s, 0, sizeof(*s));
    if (k->no_state) {
        snprintf(err, errlen, "this host's KVM lacks %s", k->no_state);
        return -1;
    }
    s->nvcpus = k->nvcpus;
    if (get_irqchips(k, s, err, errlen))
        return -1;
    if (ioctl(k->vm_fd, KVM_GET_PIT2, &s->pit) < 0)
        return kerr(err, errlen, "KVM_GET_PIT2", "PIT");
    now = monotonic_ns();
    for (unsigned i = 0; i < 3; i++)
        s->pit_age_ns[i] = now - s->pit.channels[i].count_load_time;
    return get_clock(k, s, err, errlen);
}

static int put_irqchips(Kvm *k, const KvmVmState *s, char *err, size_t errlen)
{
    struct kvm_irqchip c;
    static const char *const names[] = { "PIC master", "PIC slave", "IOAPIC" };

    for (uint32_t id = 0; id < 3; id++) {
        memset(&c, 0, sizeof(c));
        c.chip_id = id;
        if (id < 2)
            c.chip.pic = s->pic[id];
        else
            c.chip.ioapic = s->ioapic;
        if (ioctl(k->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
            return kerr(err, errlen, "KVM_SET_IRQCHIP", names[id]);
    }
    return 0;
}

static int kvm_vm_state_put(Kvm *k, const KvmVmState *s, char *err, size_t errlen)
{
    struct kvm_pit_state2 pit = s->pit;
    int64_t now = monotonic_ns();

    if (k->no_state) {
        snprintf(err, errlen, "this host's KVM lacks %s", k->no_state);
        return -1;
    }
    if (s->nvcpus != k->nvcpus) {
        snprintf(err, errlen, "saved with %u vCPUs, this machine has %u", s->nvcpus, k->nvcpus);
        return -1;
    }
    if (put_irqchips(k, s, err, errlen))
        return -1;
    /* Rebased on this host's clock (QEMU does the same). Today's KVM
     * reloads each channel's count on KVM_SET_PIT2 anyway, restarting the
     * current period: a guest sees at most one PIT period stretched. */
    for (unsigned i = 0; i < 3; i++)
        pit.channels[i].count_load_time = now - s->pit_age_ns[i];
    if (ioctl(k->vm_fd, KVM_SET_PIT2, &pit) < 0)
        return kerr(err, errlen, "KVM_SET_PIT2", "PIT");
    /* Set at start (kvm_state_start) or at the resume of a VM restored
     * paused: until then the guest's clock stands at the saved time. */
    memset(&k->paused_clock, 0, sizeof(k->paused_clock));
    k->paused_clock.clock = s->clock_ns;
    k->clock_saved = true;
    return 0;
}

/* ---- the sections ------------------------------------------------------------ */

static int kvvm_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Kvm *k = opaque;
    KvmVmState s;

    if (kvm_vm_state_get(k, &s, err, errlen))
        return -1;
    kvm_vm_state_encode(&s, b);
    return 0;
}

static int too_late(Kvm *k, char *err, size_t errlen)
{
    if (!k->started)
        return 0;
    snprintf(err, errlen, "the vCPUs are already running");
    return -1;
}

static int kvvm_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Kvm *k = opaque;
    KvmVmState s;

    (void)version;              /* 1 is the only one */
    if (too_late(k, err, errlen) || kvm_vm_state_decode(&s, b, err, errlen) ||
        kvm_vm_state_put(k, &s, err, errlen))
        return -1;
    k->restored = true;
    return 0;
}

static int kvcp_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Vcpu *v = opaque;
    KvmVcpuState *s = malloc(sizeof(*s));

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (kvm_vcpu_state_get(v, s, err, errlen)) {
        free(s);
        return -1;
    }
    kvm_vcpu_state_encode(s, b);
    kvm_vcpu_state_free(s);
    free(s);
    return 0;
}

static int kvcp_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Vcpu *v = opaque;
    KvmVcpuState *s;
    int r;

    (void)version;
    if (too_late(v->k, err, errlen))
        return -1;
    s = malloc(sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r = kvm_vcpu_state_decode(s, b, err, errlen);
    if (r == 0) {
        r = kvm_vcpu_state_put(v, s, err, errlen);
        kvm_vcpu_state_free(s);
    }
    free(s);
    if (r == 0)
        v->k->restored = true;
    return r;
}

int kvm_state_register(Kvm *k)
{
    VmState *vs = k->host.state;

    if (vmstate_register(vs, "KVVM", 0, KVVM_VERSION, kvvm_save, kvvm_load, k))
        return -1;
    for (unsigned i = 0; i < k->nvcpus; i++)
        if (vmstate_register(vs, "KVCP", i, KVCP_VERSION, kvcp_save, kvcp_load, &k->vcpu[i]))
            return -1;
    return 0;
}

void kvm_state_clock_set(Kvm *k)
{
    for (unsigned i = 0; i < k->nvcpus; i++) {
        Vcpu *v = &k->vcpu[i];
        union {
            struct kvm_msrs h;
            uint8_t b[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
        } m;
        if (!v->wall_clock_pending)
            continue;
        v->wall_clock_pending = false;
        memset(&m, 0, sizeof(m));
        m.h.nmsrs = 1;
        m.h.entries[0] = (struct kvm_msr_entry){ .index = KVM_MSR_WALL_CLOCK_NEW,
                                                 .data = v->wall_clock_msr };
        /* Checked at load (the MSR exists here); a failure now only leaves
         * the guest's boot time in its memory as the source wrote it. */
        if (ioctl(v->fd, KVM_SET_MSRS, &m) != 1)
            log_warn("kvm: vCPU %u: cannot restore the kvmclock wall clock", v->id);
    }
}

/* The vCPUs continue where they were saved. Tell a guest with kvmclock that
 * it was stopped (its soft-lockup watchdog then ignores the gap), and let
 * its clock run on from the saved value, unless the VM starts paused: then
 * the resume does that (kvm_vcpus_resume). */
void kvm_state_start(Kvm *k)
{
    bool paused;

    for (unsigned i = 0; i < k->nvcpus; i++)
        ioctl(k->vcpu[i].fd, KVM_KVMCLOCK_CTRL, 0);     /* EINVAL: the guest has no kvmclock */
    pthread_mutex_lock(&k->lock);
    paused = k->pausing;
    pthread_mutex_unlock(&k->lock);
    if (!paused)
        kvm_clock_resume(k);
}
