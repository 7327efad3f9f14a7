/* The KVM VM: /dev/kvm, guest memory slots, the in-kernel interrupt
 * controllers (PIC, IOAPIC, LAPICs) and PIT, the TSS and identity-map
 * pages VMX needs, and kvmclock around pauses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "kvm_int.h"

static int need_cap(Kvm *k, int cap, const char *name, char *err, size_t errlen)
{
    if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, cap) > 0)
        return 0;
    snprintf(err, errlen, "/dev/kvm lacks %s, which the kvm engine needs", name);
    return -1;
}

int kvm_set_slot(Kvm *k, unsigned i, uint32_t flags)
{
    const GuestRegion *g = &k->host.mem->r[i];
    struct kvm_userspace_memory_region r = {
        .slot = i,
        .flags = flags,
        .guest_phys_addr = g->gpa,
        .memory_size = g->size,
        .userspace_addr = (uint64_t)(uintptr_t)g->host,
    };

    return ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int add_slots(Kvm *k, char *err, size_t errlen)
{
    GuestMem *mem = k->host.mem;

    for (unsigned i = 0; i < mem->nr; i++) {
        if (kvm_set_slot(k, i, 0) < 0) {
            snprintf(err, errlen, "KVM: cannot map guest memory at 0x%llx (%llu MiB): %s",
                     (unsigned long long)mem->r[i].gpa,
                     (unsigned long long)(mem->r[i].size >> 20), strerror(errno));
            return -1;
        }
    }
    return 0;
}

int kvm_vm_create(Kvm *k, char *err, size_t errlen)
{
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
    int api;

    k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (k->sys_fd < 0) {
        snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
        return -1;
    }
    api = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(err, errlen, "/dev/kvm: unsupported KVM API version %d", api);
        return -1;
    }
    if (need_cap(k, KVM_CAP_IRQCHIP, "an in-kernel irqchip", err, errlen) ||
        need_cap(k, KVM_CAP_PIT2, "an in-kernel PIT", err, errlen) ||
        need_cap(k, KVM_CAP_USER_MEMORY, "user memory slots", err, errlen) ||
        need_cap(k, KVM_CAP_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", err, errlen) ||
        need_cap(k, KVM_CAP_EXT_CPUID, "KVM_GET_SUPPORTED_CPUID", err, errlen) ||
        need_cap(k, KVM_CAP_IMMEDIATE_EXIT, "immediate_exit", err, errlen))
        return -1;
    k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (k->run_size < (int)sizeof(struct kvm_run)) {
        snprintf(err, errlen, "/dev/kvm: bad vCPU mmap size %d", k->run_size);
        return -1;
    }
    k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
    if (k->vm_fd < 0) {
        snprintf(err, errlen, "/dev/kvm: cannot create a VM: %s", strerror(errno));
        return -1;
    }
    /* VMX needs three pages for a real-mode TSS and one for the identity
     * page table used while the guest runs unpaged; both in the hole. */
    if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0 ||
        (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
         ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)) {
        snprintf(err, errlen, "KVM: cannot place the TSS/identity map: %s", strerror(errno));
        return -1;
    }
    if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        snprintf(err, errlen, "KVM: cannot create the in-kernel irqchip: %s", strerror(errno));
        return -1;
    }
    if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        snprintf(err, errlen, "KVM: cannot create the in-kernel PIT: %s", strerror(errno));
        return -1;
    }
    return add_slots(k, err, errlen);
}

void kvm_vm_destroy(Kvm *k)
{
    if (k->vm_fd > 0)
        close(k->vm_fd);
    if (k->sys_fd > 0)
        close(k->sys_fd);
    k->vm_fd = k->sys_fd = -1;
}

/* kvmclock: freeze guest time across a pause, so the guest sees no jump
 * (and its watchdogs do not fire) when it resumes. The guest's TSC keeps
 * counting meanwhile, as under QEMU; kvmclock, which Linux keeps time
 * with, does not. */
void kvm_clock_pause(Kvm *k)
{
    /* Already frozen: a VM paused before its restored start keeps the saved
     * time, which no resume has set yet. */
    if (!k->clock_saved)
        k->clock_saved = ioctl(k->vm_fd, KVM_GET_CLOCK, &k->paused_clock) == 0;
    for (unsigned i = 0; i < k->nvcpus; i++)
        ioctl(k->vcpu[i].fd, KVM_KVMCLOCK_CTRL, 0);  /* EINVAL if the guest has no kvmclock */
}

void kvm_clock_resume(Kvm *k)
{
    if (k->clock_saved) {
        struct kvm_clock_data c = { .clock = k->paused_clock.clock };
        if (ioctl(k->vm_fd, KVM_SET_CLOCK, &c) < 0)
            log_debug("kvm: KVM_SET_CLOCK: %s", strerror(errno));
        k->clock_saved = false;
        kvm_state_clock_set(k);
    }
}
