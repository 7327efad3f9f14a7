/* The emu engine: a software RISC-V machine (RV64GC, M/S/U, Sv39/Sv48),
 * one host thread per hart. What a board needs beyond the EngineOps: how
 * the harts boot, the harts as the CLINT and PLIC see them, and stores the
 * engine must report (HTIF). */
#ifndef XENO_ENGINE_EMU_H
#define XENO_ENGINE_EMU_H

#include <stdint.h>

#include "engine/engine.h"
#include "hw/riscv/riscv.h"

extern const EngineOps emu_engine_ops;

/* The guest's timebase: mtime counts at this rate. */
#define EMU_TIMEBASE_HZ 10000000ull

enum emu_boot_mode {
    /* A Linux kernel in S-mode on the boot hart, the built-in SBI answering
     * its ecalls; the other harts wait for SBI HSM hart_start. */
    EMU_BOOT_SBI = 0,
    /* M-mode firmware (OpenSBI): every hart starts in M-mode at entry with
     * a0 = hartid, a1 = fdt, a2 = fw_dynamic info, as on real boards. */
    EMU_BOOT_FIRMWARE,
    /* A bare-metal program in M-mode on hart 0 alone (ISA tests). */
    EMU_BOOT_BARE,
};

typedef struct EmuBoot {
    enum emu_boot_mode mode;
    uint64_t entry;             /* first instruction */
    uint64_t fdt_addr;          /* a1 */
    uint64_t fw_dynamic_info;   /* a2 (FIRMWARE), 0 = none */
} EmuBoot;

/* Set how the harts start; call after create, before start. */
void emu_set_boot(Engine *e, const EmuBoot *boot);

/* The harts as the CLINT and PLIC drive them (valid for the engine's life). */
RiscvCpuIf emu_cpu_if(Engine *e);

/* A store to guest RAM that the engine must report: after every store into
 * the 4 KiB page holding `pa`, fn(opaque, store_pa, value) runs on the
 * storing hart's thread (the store itself has reached RAM). Such a page is
 * never cached for writes. One watch per engine; call before start. */
typedef void (*emu_store_watch_fn)(void *opaque, uint64_t pa, uint64_t val);
void emu_watch_stores(Engine *e, uint64_t pa, emu_store_watch_fn fn, void *opaque);

#endif
