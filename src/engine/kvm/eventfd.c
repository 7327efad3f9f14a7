/* Device interrupts through irqfd and virtio doorbells through ioeventfd,
 * so neither costs a vCPU exit to this process.
 *
 * Interrupts. A virtio-mmio interrupt is level-triggered: asserted while
 * InterruptStatus is non-zero, dropped when the driver acknowledges it.
 * An irqfd alone can only assert. In resample mode (KVM_IRQFD_FLAG_RESAMPLE)
 * KVM holds the GSI asserted until the guest EOIs the interrupt, then
 * drops it and signals the resample fd; the loop thread then re-asserts
 * if the device still wants the line. So the line follows the device's
 * level at every EOI, which is all a level-triggered input needs. (A
 * device that drops its line before the guest took the interrupt leaves
 * one spurious interrupt: the driver reads InterruptStatus 0 and returns.)
 *
 * Doorbells. A write of queue index q to a device's QueueNotify register
 * (4 bytes) matches the ioeventfd registered with datamatch q; KVM signals
 * that eventfd and resumes the guest at once. The loop thread reads it and
 * calls the device's notify handler with the device lock held. Any other
 * write (another value, another size) still exits to userspace as MMIO.
 *
 * Both are optional: without KVM_CAP_IRQFD/_RESAMPLE or KVM_CAP_IOEVENTFD
 * (or with XENO_KVM_EVENTFD=0) the engine uses KVM_IRQ_LINE and MMIO exits,
 * saying so once at debug level. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "kvm_int.h"

static bool env_disabled(void)
{
    const char *e = getenv("XENO_KVM_EVENTFD");
    return e && !strcmp(e, "0");
}

void kvm_eventfd_probe(Kvm *k)
{
    bool off = env_disabled();

    k->use_irqfd = !off && ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0 &&
                   ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE) > 0;
    k->use_ioeventfd = !off && ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
    if (off)
        log_debug("kvm: XENO_KVM_EVENTFD=0: interrupts by KVM_IRQ_LINE, doorbells by MMIO exits");
    else if (!k->use_irqfd || !k->use_ioeventfd)
        log_debug("kvm: no %s%s%s here: falling back to %s%s%s",
                  k->use_irqfd ? "" : "irqfd with resample",
                  !k->use_irqfd && !k->use_ioeventfd ? " or " : "",
                  k->use_ioeventfd ? "" : "ioeventfd",
                  k->use_irqfd ? "" : "KVM_IRQ_LINE",
                  !k->use_irqfd && !k->use_ioeventfd ? " and " : "",
                  k->use_ioeventfd ? "" : "MMIO exits");
}

static void drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));   /* non-blocking: EAGAIN is fine */
    (void)r;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r;
}

/* ---- interrupts ---- */

static void irqfd_set_level(void *ctrl, unsigned gsi, int level)
{
    Kvm *k = ctrl;
    KvmIrqfd *f = &k->irqfd[gsi];

    __atomic_store_n(&f->want, level ? 1 : 0, __ATOMIC_SEQ_CST);
    if (level && !__atomic_exchange_n(&f->asserted, 1, __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&k->nirqfd, 1, __ATOMIC_RELAXED);
        signal_fd(f->fd);
    }
    /* Lowering: KVM drops the line itself at the guest's EOI. */
}

/* The guest EOIed: KVM dropped the line. Raise it again if still wanted. */
static void irqfd_resampled(void *opaque, int fd, short revents)
{
    KvmIrqfd *f = opaque;

    drain(fd);
    __atomic_store_n(&f->asserted, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&f->want, __ATOMIC_SEQ_CST) &&
        !__atomic_exchange_n(&f->asserted, 1, __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&f->k->nirqfd, 1, __ATOMIC_RELAXED);
        signal_fd(f->fd);
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

IrqLine kvm_level_irq_line(Engine *k, unsigned gsi)
{
    Loop *loop = k->host.loop;
    KvmIrqfd *f;
    struct kvm_irqfd r;

    if (!k->use_irqfd || gsi >= KVM_IRQFD_GSIS || !loop)
        return kvm_irq_line(k, gsi);
    f = &k->irqfd[gsi];
    if (f->fd >= 0)     /* a second device on this GSI: last level wins, as with KVM_IRQ_LINE */
        return (IrqLine){ .set_level = irqfd_set_level, .ctrl = k, .irq = gsi };
    f->k = k;
    f->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->resample_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->fd < 0 || f->resample_fd < 0)
        goto fallback;
    r = (struct kvm_irqfd){ .fd = (uint32_t)f->fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_RESAMPLE,
                            .resamplefd = (uint32_t)f->resample_fd };
    if (ioctl(k->vm_fd, KVM_IRQFD, &r) < 0) {
        log_debug("kvm: KVM_IRQFD for GSI %u: %s; using KVM_IRQ_LINE", gsi, strerror(errno));
        goto fallback;
    }
    if (loop_add_fd(loop, f->resample_fd, POLLIN, irqfd_resampled, f) < 0) {
        r.flags = KVM_IRQFD_FLAG_DEASSIGN;
        ioctl(k->vm_fd, KVM_IRQFD, &r);
        log_debug("kvm: event loop full; GSI %u uses KVM_IRQ_LINE", gsi);
        goto fallback;
    }
    return (IrqLine){ .set_level = irqfd_set_level, .ctrl = k, .irq = gsi };

fallback:
    close_fd(&f->fd);
    close_fd(&f->resample_fd);
    return kvm_irq_line(k, gsi);
}

/* ---- doorbells ---- */

static void doorbell_ready(void *opaque, int fd, short revents)
{
    KvmDoorbell *d = opaque;

    drain(fd);
    __atomic_fetch_add(&d->k->ndoorbells, 1, __ATOMIC_RELAXED);
    d->notify(d->opaque, d->queue);
}

static int add_doorbell(Kvm *k, uint64_t addr, unsigned q, void (*notify)(void *, unsigned),
                        void *opaque)
{
    KvmDoorbell *d;
    struct kvm_ioeventfd io;

    if (k->ndoorbell >= KVM_MAX_DOORBELLS)
        return -1;
    d = &k->doorbell[k->ndoorbell];
    *d = (KvmDoorbell){ .k = k, .queue = q, .notify = notify, .opaque = opaque };
    d->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->fd < 0)
        return -1;
    io = (struct kvm_ioeventfd){ .datamatch = q, .addr = addr, .len = 4, .fd = d->fd,
                                 .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };
    if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0) {
        log_debug("kvm: KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)addr, strerror(errno));
        close_fd(&d->fd);
        return -1;
    }
    if (loop_add_fd(k->host.loop, d->fd, POLLIN, doorbell_ready, d) < 0) {
        io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
        ioctl(k->vm_fd, KVM_IOEVENTFD, &io);
        close_fd(&d->fd);
        return -1;
    }
    k->ndoorbell++;
    return 0;
}

unsigned kvm_add_doorbells(Engine *k, uint64_t addr, unsigned nqueues,
                           void (*notify)(void *opaque, unsigned q), void *opaque)
{
    unsigned n = 0;

    if (!k->use_ioeventfd || !k->host.loop)
        return 0;
    /* Queues left out (no fd, loop full) keep working through MMIO exits. */
    for (unsigned q = 0; q < nqueues; q++)
        n += add_doorbell(k, addr, q, notify, opaque) == 0;
    if (n < nqueues)
        log_debug("kvm: %u of %u doorbells at 0x%llx through ioeventfd", n, nqueues,
                  (unsigned long long)addr);
    return n;
}

void kvm_eventfd_init(Kvm *k)
{
    for (unsigned i = 0; i < KVM_IRQFD_GSIS; i++)
        k->irqfd[i].fd = k->irqfd[i].resample_fd = -1;
}

/* After the loop stopped: the VM fd's close releases the registrations. */
void kvm_eventfd_destroy(Kvm *k)
{
    for (unsigned i = 0; i < KVM_IRQFD_GSIS; i++) {
        if (k->irqfd[i].resample_fd >= 0 && k->host.loop)
            loop_del_fd(k->host.loop, k->irqfd[i].resample_fd);
        close_fd(&k->irqfd[i].fd);
        close_fd(&k->irqfd[i].resample_fd);
    }
    for (unsigned i = 0; i < k->ndoorbell; i++) {
        if (k->host.loop)
            loop_del_fd(k->host.loop, k->doorbell[i].fd);
        close_fd(&k->doorbell[i].fd);
    }
    k->ndoorbell = 0;
}
