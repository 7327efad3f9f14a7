/* Dirty-page logging for migration rounds (EngineOps dirty_log_*).
 *
 * KVM logs the pages vCPUs write in each memory slot flagged
 * KVM_MEM_LOG_DIRTY_PAGES. KVM_GET_DIRTY_LOG returns the slot's log and,
 * in the same call, clears it and write-protects the pages again, so a
 * later write is logged for the next round: collect is that call per slot,
 * ORed into the GuestMem bitmaps (where devices mark their own writes, with
 * mem->dirty_log on), and rearm has nothing left to do.
 *
 * Chosen over the alternatives: KVM_CLEAR_DIRTY_LOG (manual protect) and
 * the dirty ring pay off for guests of many GiB, where re-protecting a
 * whole slot under KVM's mmu lock stalls vCPUs; at the sizes Xeno runs a
 * round's GET_DIRTY_LOG is a small part of the time spent sending the
 * pages, and the plain log keeps collect/rearm as the interface describes
 * them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "kvm_int.h"

/* 64-bit words in the log of a region: KVM fills whole longs. */
static size_t log_words(const GuestRegion *g)
{
    return ((g->size >> GMEM_PAGE_SHIFT) + 63) / 64;
}

static int set_logging(Kvm *k, bool on)
{
    GuestMem *mem = k->host.mem;

    for (unsigned i = 0; i < mem->nr; i++) {
        if (kvm_set_slot(k, i, on ? KVM_MEM_LOG_DIRTY_PAGES : 0) < 0) {
            log_err("kvm: cannot turn dirty-page logging %s for guest memory at 0x%llx: %s",
                    on ? "on" : "off", (unsigned long long)mem->r[i].gpa, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int alloc_buffers(Kvm *k)
{
    GuestMem *mem = k->host.mem;

    for (unsigned i = 0; i < mem->nr; i++) {
        if (k->dirty_buf[i])
            continue;
        k->dirty_buf[i] = calloc(log_words(&mem->r[i]), sizeof(uint64_t));
        if (!k->dirty_buf[i]) {
            log_err("kvm: out of memory for the dirty-page log");
            return -1;
        }
    }
    return 0;
}

int kvm_dirty_log_start(Kvm *k)
{
    if (alloc_buffers(k))
        return -1;
    /* Devices first: from here on every write, theirs or a vCPU's, is seen. */
    __atomic_store_n(&k->host.mem->dirty_log, true, __ATOMIC_SEQ_CST);
    if (set_logging(k, true)) {
        set_logging(k, false);
        __atomic_store_n(&k->host.mem->dirty_log, false, __ATOMIC_SEQ_CST);
        return -1;
    }
    k->dirty_logging = true;
    return 0;
}

void kvm_dirty_log_stop(Kvm *k)
{
    if (!k->dirty_logging)
        return;
    set_logging(k, false);
    __atomic_store_n(&k->host.mem->dirty_log, false, __ATOMIC_SEQ_CST);
    k->dirty_logging = false;
}

/* OR slot i's log into its GuestMem bitmap. Devices set bits in the same
 * words concurrently: atomic ORs, and only where KVM found something. */
static int collect_slot(Kvm *k, unsigned i)
{
    GuestRegion *g = &k->host.mem->r[i];
    struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = k->dirty_buf[i] };
    size_t n = log_words(g);

    memset(k->dirty_buf[i], 0, n * sizeof(uint64_t));
    if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
        log_err("kvm: KVM_GET_DIRTY_LOG for guest memory at 0x%llx: %s",
                (unsigned long long)g->gpa, strerror(errno));
        return -1;
    }
    for (size_t w = 0; w < n; w++)
        if (k->dirty_buf[i][w])
            __atomic_fetch_or(&g->dirty[w], k->dirty_buf[i][w], __ATOMIC_RELAXED);
    return 0;
}

int kvm_dirty_log_collect(Kvm *k)
{
    if (!k->dirty_logging) {
        log_err("kvm: dirty-page logging is not on");
        return -1;
    }
    for (unsigned i = 0; i < k->host.mem->nr; i++)
        if (collect_slot(k, i))
            return -1;
    return 0;
}

void kvm_dirty_log_rearm(Kvm *k)
{
    (void)k;        /* KVM_GET_DIRTY_LOG re-protected the pages it reported */
}

void kvm_dirty_log_free(Kvm *k)
{
    for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
        free(k->dirty_buf[i]);
        k->dirty_buf[i] = NULL;
    }
}
