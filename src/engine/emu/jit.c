/* Template JIT for x86-64 hosts. See jit.h for the design.
 *
 * Generated code keeps rbx = Hart *; guest registers live in h->x[]. Scratch
 * registers are rax, rcx, rdx, rsi, rdi (caller-saved, so helper calls need
 * no saving). A block is a C-callable `void block(Hart *h)`. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codemem.h"
#include "common/log.h"
#include "common/util.h"
#include "decode.h"
#include "hart.h"
#include "jit.h"

#if defined(__x86_64__)

#define CODE_SIZE   (4u << 20)    /* per hart; boot-time code is run once, so a
                                     * small cache that refills is cheaper than RSS */
#define CODE_SLACK  (64u << 10)   /* room one block can never exceed */
#define TABLE_BITS  14
#define MAX_INSNS   64

typedef void (*BlockFn)(Hart *h);

typedef struct JitBlock {
    uint64_t pc;
    uintptr_t host;
    BlockFn fn;
} JitBlock;

struct Jit {
    CodeMem cm;                     /* the code cache's two views (W^X) */
    uint8_t *code;                  /* = cm.w: everything below writes here */
    size_t used;
    /* The chain site of the last block exit, set by generated code when a
     * chainable exit returned to the dispatcher unlinked (see exit_chain);
     * an execute-view address. */
    uint8_t *last_exit;
    JitBlock table[1 << TABLE_BITS];
};

enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7 };
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_A = 7, CC_L = 0xc, CC_GE = 0xd };
enum { ALU_ADD = 0x01, ALU_OR = 0x09, ALU_AND = 0x21, ALU_SUB = 0x29, ALU_XOR = 0x31,
       ALU_CMP = 0x39 };
enum { DIG_ADD = 0, DIG_OR = 1, DIG_AND = 4, DIG_SUB = 5, DIG_XOR = 6, DIG_CMP = 7 };
enum { SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

typedef struct Emit {
    uint8_t *p;
} Emit;

static void e8(Emit *e, unsigned b) { *e->p++ = (uint8_t)b; }
static void e32(Emit *e, uint32_t v) { memcpy(e->p, &v, 4); e->p += 4; }
static void e64(Emit *e, uint64_t v) { memcpy(e->p, &v, 8); e->p += 8; }

/* rbx points 128 bytes into the Hart so that all 32 guest registers are
 * reachable with a one-byte displacement (-128..120). */
#define RBX_BIAS    128
#define OFF_X(r)    ((int32_t)(offsetof(Hart, x) + 8 * (r)) - RBX_BIAS)
#define OFF_PC      ((int32_t)offsetof(Hart, pc) - RBX_BIAS)
#define OFF_INSTRET ((int32_t)offsetof(Hart, instret) - RBX_BIAS)
#define OFF_DTLB    ((int32_t)offsetof(Hart, dtlb) - RBX_BIAS)
#define OFF_END     ((int32_t)offsetof(Hart, jit_end) - RBX_BIAS)
#define OFF_EXIT    ((int32_t)offsetof(Hart, exit_chunk) - RBX_BIAS)
/* Block layout: a shared `pop rbx; ret` (2 bytes), then the entry point
 * with its prologue `push rbx; lea rbx, [rdi+128]` (8 bytes). */
#define PROLOGUE_LEN 8

/* ModRM (+ displacement) for [rbx + disp] with register field `reg`. */
static void modrm_rbx(Emit *e, int reg, int32_t disp)
{
    if (disp >= -128 && disp <= 127) {
        e8(e, 0x40 | (reg << 3) | RBX); e8(e, (uint8_t)(int8_t)disp);
    } else {
        e8(e, 0x80 | (reg << 3) | RBX); e32(e, (uint32_t)disp);
    }
}

/* reg = [rbx + disp] (64-bit) */
static void load_m(Emit *e, int reg, int32_t disp)
{
    e8(e, 0x48); e8(e, 0x8b); modrm_rbx(e, reg, disp);
}

/* [rbx + disp] = reg */
static void store_m(Emit *e, int32_t disp, int reg)
{
    e8(e, 0x48); e8(e, 0x89); modrm_rbx(e, reg, disp);
}

/* rdi = the Hart (undo the rbx bias) */
static void arg_hart(Emit *e)
{
    e8(e, 0x48); e8(e, 0x8d); e8(e, 0x7b); e8(e, (uint8_t)(int8_t)-RBX_BIAS);   /* lea rdi, [rbx-128] */
}

static void ld_x(Emit *e, int reg, unsigned xr)
{
    if (xr == 0) {                       /* xor reg32, reg32 */
        e8(e, 0x31); e8(e, 0xc0 | (reg << 3) | reg);
    } else {
        load_m(e, reg, OFF_X(xr));
    }
}

static void st_x(Emit *e, unsigned xr, int reg)
{
    if (xr != 0)
        store_m(e, OFF_X(xr), reg);
}

static void mov_ri(Emit *e, int reg, uint64_t v)
{
    if ((int64_t)v == (int32_t)v) {      /* mov r64, simm32 */
        e8(e, 0x48); e8(e, 0xc7); e8(e, 0xc0 | reg); e32(e, (uint32_t)v);
    } else if (v <= 0xffffffffull) {     /* mov r32, imm32 (zero-extends) */
        e8(e, 0xb8 + reg); e32(e, (uint32_t)v);
    } else {                             /* movabs */
        e8(e, 0x48); e8(e, 0xb8 + reg); e64(e, v);
    }
}

static void mov_rr(Emit *e, int dst, int src)
{
    e8(e, 0x48); e8(e, 0x89); e8(e, 0xc0 | (src << 3) | dst);
}

/* dst op= src (64-bit, or 32-bit if !w64) */
static void alu_rr(Emit *e, int op, int dst, int src, bool w64)
{
    if (w64)
        e8(e, 0x48);
    e8(e, op); e8(e, 0xc0 | (src << 3) | dst);
}

static void alu_ri(Emit *e, int digit, int reg, int32_t imm, bool w64)
{
    if (w64)
        e8(e, 0x48);
    e8(e, 0x81); e8(e, 0xc0 | (digit << 3) | reg); e32(e, (uint32_t)imm);
}

static void shift_ri(Emit *e, int digit, int reg, unsigned n, bool w64)
{
    if (w64)
        e8(e, 0x48);
    e8(e, 0xc1); e8(e, 0xc0 | (digit << 3) | reg); e8(e, n);
}

static void shift_rcl(Emit *e, int digit, int reg, bool w64)
{
    if (w64)
        e8(e, 0x48);
    e8(e, 0xd3); e8(e, 0xc0 | (digit << 3) | reg);
}

static void movsxd_rr(Emit *e, int dst, int src)
{
    e8(e, 0x48); e8(e, 0x63); e8(e, 0xc0 | (dst << 3) | src);
}

static void setcc_rax(Emit *e, int cc)
{
    e8(e, 0x0f); e8(e, 0x90 + cc); e8(e, 0xc0);             /* setcc al */
    e8(e, 0x48); e8(e, 0x0f); e8(e, 0xb6); e8(e, 0xc0);     /* movzx rax, al */
}

static void call(Emit *e, const void *fn)
{
    mov_ri(e, RAX, (uint64_t)(uintptr_t)fn);
    e8(e, 0xff); e8(e, 0xd0);                               /* call rax */
}

static uint8_t *jcc32(Emit *e, int cc)
{
    e8(e, 0x0f); e8(e, 0x80 + cc); e32(e, 0);
    return e->p - 4;
}

static uint8_t *jmp32(Emit *e)
{
    e8(e, 0xe9); e32(e, 0);
    return e->p - 4;
}

static void patch(uint8_t *at, const uint8_t *target)
{
    int32_t rel = (int32_t)(target - (at + 4));
    memcpy(at, &rel, 4);
}

static void st_pc(Emit *e, uint64_t pc)
{
    mov_ri(e, RAX, pc);
    store_m(e, OFF_PC, RAX);
}

static void add_instret(Emit *e, unsigned n)
{
    if (n) {                                   /* add qword [rbx+disp], imm32 */
        e8(e, 0x48); e8(e, 0x81); modrm_rbx(e, 0, OFF_INSTRET); e32(e, n);
    }
}

static void epilogue(Emit *e)
{
    e8(e, 0x5b);        /* pop rbx */
    e8(e, 0xc3);        /* ret */
}

static void exit_to(Emit *e, uint64_t pc, unsigned count)
{
    st_pc(e, pc);
    add_instret(e, count);
    epilogue(e);
}

/* A block exit to a constant target in the same guest page as the block:
 * once the target is translated, the dispatcher patches the final jmp to go
 * straight into it (block chaining). Only same-page targets are chained:
 * both blocks were translated through one mapping of that page, and a
 * remapping needs sfence.vma/satp, which end the chunk, so a chain can never
 * lead into code of another mapping. The chain still honours the chunk
 * budget and kicks from other threads. */
static void exit_chain(Emit *e, Jit *j, uint64_t block_pc, uint64_t target, unsigned count)
{
    uint8_t *j_budget, *j_kick, *site;

    if (((block_pc ^ target) & ~0xfffull) != 0) {
        exit_to(e, target, count);
        return;
    }
    st_pc(e, target);
    add_instret(e, count);
    load_m(e, RAX, OFF_INSTRET);
    e8(e, 0x48); e8(e, 0x3b); modrm_rbx(e, RAX, OFF_END);          /* cmp rax, [rbx+end] */
    j_budget = jcc32(e, CC_AE);
    e8(e, 0x83); modrm_rbx(e, 7, OFF_EXIT); e8(e, 0);              /* cmp dword [rbx+exit], 0 */
    j_kick = jcc32(e, CC_NE);
    site = jmp32(e);                       /* the chain site */
    patch(site, e->p);
    mov_ri(e, RAX, (uint64_t)(uintptr_t)codemem_exec_addr(&j->cm, site));
    mov_ri(e, RCX, (uint64_t)(uintptr_t)&j->last_exit);
    e8(e, 0x48); e8(e, 0x89); e8(e, 0x01);                  /* mov [rcx], rax */
    patch(j_budget, e->p);
    patch(j_kick, e->p);
    epilogue(e);
}

/* ---- C helpers called from generated code ---- */

/* Slow path of a JIT load/store (TLB miss, MMIO, page crossing, fault).
 * info packs: bits 0-3 size, bit 4 sign-extend, bit 5 store, bits 8-12 the
 * register (rd of a load, rs2 of a store), bits 16-23 the instructions the
 * block retired before this one. Returns non-zero if a trap was taken (the
 * block must return at once; pc and instret are then already right). */
static int jit_mem_slow(Hart *h, uint64_t va, uint32_t info, uint64_t pc)
{
    unsigned size = info & 15, reg = (info >> 8) & 31;

    h->pc = pc;
    if (info & 32) {
        if (mmu_store_slow(h, va, size, h->x[reg]))
            goto fault;
    } else {
        uint64_t v;
        if (mmu_load_slow(h, va, size, &v))
            goto fault;
        if ((info & 16) && size < 8)
            v = (uint64_t)((int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size));
        if (reg)
            h->x[reg] = v;
    }
    return 0;
fault:
    h->instret += (info >> 16) & 0xff;
    hart_raise(h, h->exc_cause, h->exc_tval);
    return 1;
}

/* Run one instruction in the interpreter. Returns non-zero if the block
 * must end (control left the straight line, or the chunk must end). A
 * system instruction (CSR write, xRET, WFI ...) may enable an interrupt:
 * it ends the chunk so the run loop checks interrupts before going on. */
static int jit_interp(Hart *h, uint64_t next_pc, int sys)
{
    hart_run_chunk(h, 1);
    if (sys)
        h->exit_chunk = 1;
    return h->pc != next_pc || h->exit_chunk || h->wfi;
}

/* ---- translation ---- */

/* Emit a load or store with the inline TLB lookup. `count` instructions of
 * the block have been retired by JIT code before this one; `ret` is the
 * block's shared `pop rbx; ret`. */
static void emit_mem(Emit *e, const Insn *d, uint64_t pc, unsigned count, bool store,
                     const uint8_t *ret)
{
    static const uint8_t sizes[] = {
        [OP_LB] = 1, [OP_LH] = 2, [OP_LW] = 4, [OP_LD] = 8, [OP_LBU] = 1, [OP_LHU] = 2,
        [OP_LWU] = 4, [OP_SB] = 1, [OP_SH] = 2, [OP_SW] = 4, [OP_SD] = 8,
    };
    unsigned size = sizes[d->op];
    bool sign = d->op == OP_LB || d->op == OP_LH || d->op == OP_LW;
    uint8_t *j_miss, *j_done, *j_fault;
    uint32_t info = size | (sign ? 16u : 0) | (store ? 32u : 0) |
                    ((unsigned)(store ? d->rs2 : d->rd) << 8) | (count << 16);

    ld_x(e, RAX, d->rs1);
    if (d->imm)
        alu_ri(e, DIG_ADD, RAX, (int32_t)d->imm, true);
    /* rdx = &dtlb->r[idx] (or ->w[idx]), idx from the first byte's page */
    mov_rr(e, RDX, RAX);
    shift_ri(e, SH_SHR, RDX, 12, true);
    e8(e, 0x0f); e8(e, 0xb6); e8(e, 0xd2);                  /* movzx edx, dl (TLB_SIZE 256) */
    shift_ri(e, SH_SHL, RDX, 4, true);
    e8(e, 0x48); e8(e, 0x03); modrm_rbx(e, RDX, OFF_DTLB);  /* add rdx, [rbx+dtlb] */
    if (store)
        alu_ri(e, DIG_ADD, RDX, (int32_t)offsetof(TlbSet, w), true);
    /* Compare the tag with the page of the LAST byte: one test catches both
     * a miss and an access crossing into the next page. */
    e8(e, 0x48); e8(e, 0x8d); e8(e, 0x48); e8(e, size - 1);  /* lea rcx, [rax+size-1] */
    alu_ri(e, DIG_AND, RCX, -4096, true);
    e8(e, 0x48); e8(e, 0x3b); e8(e, 0x0a);                  /* cmp rcx, [rdx] */
    j_miss = jcc32(e, CC_NE);
    e8(e, 0x48); e8(e, 0x03); e8(e, 0x42); e8(e, 0x08);    /* add rax, [rdx+8] */
    if (store) {
        ld_x(e, RCX, d->rs2);
        switch (size) {
        case 1: e8(e, 0x88); e8(e, 0x08); break;                        /* mov [rax], cl */
        case 2: e8(e, 0x66); e8(e, 0x89); e8(e, 0x08); break;           /* mov [rax], cx */
        case 4: e8(e, 0x89); e8(e, 0x08); break;                        /* mov [rax], ecx */
        default: e8(e, 0x48); e8(e, 0x89); e8(e, 0x08); break;          /* mov [rax], rcx */
        }
    } else {
        switch (d->op) {
        case OP_LB: e8(e, 0x48); e8(e, 0x0f); e8(e, 0xbe); e8(e, 0x00); break;  /* movsx rax, byte [rax] */
        case OP_LBU: e8(e, 0x0f); e8(e, 0xb6); e8(e, 0x00); break;             /* movzx eax, byte [rax] */
        case OP_LH: e8(e, 0x48); e8(e, 0x0f); e8(e, 0xbf); e8(e, 0x00); break;  /* movsx rax, word [rax] */
        case OP_LHU: e8(e, 0x0f); e8(e, 0xb7); e8(e, 0x00); break;             /* movzx eax, word [rax] */
        case OP_LW: e8(e, 0x48); e8(e, 0x63); e8(e, 0x00); break;              /* movsxd rax, [rax] */
        case OP_LWU: e8(e, 0x8b); e8(e, 0x00); break;                          /* mov eax, [rax] */
        default: e8(e, 0x48); e8(e, 0x8b); e8(e, 0x00); break;                 /* mov rax, [rax] */
        }
        st_x(e, d->rd, RAX);
    }
    j_done = jmp32(e);

    /* Slow path: one call that does everything (see jit_mem_slow). */
    patch(j_miss, e->p);
    mov_rr(e, RSI, RAX);
    e8(e, 0xba); e32(e, info);                              /* mov edx, info */
    mov_ri(e, RCX, pc);
    arg_hart(e);
    call(e, (const void *)jit_mem_slow);
    e8(e, 0x85); e8(e, 0xc0);                               /* test eax, eax */
    j_fault = jcc32(e, CC_NE);
    patch(j_fault, ret);
    patch(j_done, e->p);
}

/* Instructions that end a block after running in the interpreter. */
static bool is_system(int op)
{
    switch (op) {
    case OP_CSRRW: case OP_CSRRS: case OP_CSRRC: case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
    case OP_MRET: case OP_SRET: case OP_WFI: case OP_SFENCE_VMA: case OP_FENCE_I:
    case OP_ECALL: case OP_EBREAK: case OP_ILLEGAL:
        return true;
    }
    return false;
}

/* Emit one instruction. Returns true if it ended the block. *count is the
 * number of JIT-retired instructions so far (updated). */
static bool emit_insn(Emit *e, Jit *j, uint64_t block_pc, const Insn *d, uint64_t pc,
                      unsigned *count, const uint8_t *ret)
{
    uint64_t next = pc + d->len;
    int op = d->op;

    switch (op) {
    case OP_LUI: mov_ri(e, RAX, (uint64_t)d->imm); st_x(e, d->rd, RAX); break;
    case OP_AUIPC: mov_ri(e, RAX, pc + (uint64_t)d->imm); st_x(e, d->rd, RAX); break;
    case OP_ADDI: case OP_XORI: case OP_ORI: case OP_ANDI: {
        int dig = op == OP_ADDI ? DIG_ADD : op == OP_XORI ? DIG_XOR : op == OP_ORI ? DIG_OR : DIG_AND;
        if (d->rd == 0)
            break;
        ld_x(e, RAX, d->rs1);
        if (d->imm || op == OP_ANDI)
            alu_ri(e, dig, RAX, (int32_t)d->imm, true);
        st_x(e, d->rd, RAX);
        break;
    }
    case OP_SLTI: case OP_SLTIU:
        ld_x(e, RAX, d->rs1);
        alu_ri(e, DIG_CMP, RAX, (int32_t)d->imm, true);
        setcc_rax(e, op == OP_SLTI ? CC_L : CC_B);
        st_x(e, d->rd, RAX);
        break;
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
        ld_x(e, RAX, d->rs1);
        shift_ri(e, op == OP_SLLI ? SH_SHL : op == OP_SRLI ? SH_SHR : SH_SAR, RAX, (unsigned)d->imm, true);
        st_x(e, d->rd, RAX);
        break;
    case OP_ADD: case OP_SUB: case OP_XOR: case OP_OR: case OP_AND: {
        int alu = op == OP_ADD ? ALU_ADD : op == OP_SUB ? ALU_SUB : op == OP_XOR ? ALU_XOR :
                  op == OP_OR ? ALU_OR : ALU_AND;
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        alu_rr(e, alu, RAX, RCX, true);
        st_x(e, d->rd, RAX);
        break;
    }
    case OP_SLL: case OP_SRL: case OP_SRA:
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        shift_rcl(e, op == OP_SLL ? SH_SHL : op == OP_SRL ? SH_SHR : SH_SAR, RAX, true);
        st_x(e, d->rd, RAX);
        break;
    case OP_SLT: case OP_SLTU:
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        alu_rr(e, ALU_CMP, RAX, RCX, true);
        setcc_rax(e, op == OP_SLT ? CC_L : CC_B);
        st_x(e, d->rd, RAX);
        break;
    case OP_ADDIW:
        ld_x(e, RAX, d->rs1);
        alu_ri(e, DIG_ADD, RAX, (int32_t)d->imm, false);
        movsxd_rr(e, RAX, RAX);
        st_x(e, d->rd, RAX);
        break;
    case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
        ld_x(e, RAX, d->rs1);
        shift_ri(e, op == OP_SLLIW ? SH_SHL : op == OP_SRLIW ? SH_SHR : SH_SAR, RAX, (unsigned)d->imm, false);
        movsxd_rr(e, RAX, RAX);
        st_x(e, d->rd, RAX);
        break;
    case OP_ADDW: case OP_SUBW:
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        alu_rr(e, op == OP_ADDW ? ALU_ADD : ALU_SUB, RAX, RCX, false);
        movsxd_rr(e, RAX, RAX);
        st_x(e, d->rd, RAX);
        break;
    case OP_SLLW: case OP_SRLW: case OP_SRAW:
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        shift_rcl(e, op == OP_SLLW ? SH_SHL : op == OP_SRLW ? SH_SHR : SH_SAR, RAX, false);
        movsxd_rr(e, RAX, RAX);
        st_x(e, d->rd, RAX);
        break;
    case OP_MUL: case OP_MULW:
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        if (op == OP_MUL) {
            e8(e, 0x48); e8(e, 0x0f); e8(e, 0xaf); e8(e, 0xc1);    /* imul rax, rcx */
        } else {
            e8(e, 0x0f); e8(e, 0xaf); e8(e, 0xc1);                 /* imul eax, ecx */
            movsxd_rr(e, RAX, RAX);
        }
        st_x(e, d->rd, RAX);
        break;
    case OP_FENCE:
        e8(e, 0x0f); e8(e, 0xae); e8(e, 0xf0);                     /* mfence */
        break;
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
        emit_mem(e, d, pc, *count, false, ret);
        break;
    case OP_SB: case OP_SH: case OP_SW: case OP_SD:
        emit_mem(e, d, pc, *count, true, ret);
        break;
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU: {
        static const int cc[] = { [OP_BEQ] = CC_E, [OP_BNE] = CC_NE, [OP_BLT] = CC_L,
                                  [OP_BGE] = CC_GE, [OP_BLTU] = CC_B, [OP_BGEU] = CC_AE };
        uint8_t *j_taken;
        ld_x(e, RAX, d->rs1);
        ld_x(e, RCX, d->rs2);
        alu_rr(e, ALU_CMP, RAX, RCX, true);
        j_taken = jcc32(e, cc[op]);
        exit_chain(e, j, block_pc, next, *count + 1);
        patch(j_taken, e->p);
        exit_chain(e, j, block_pc, pc + (uint64_t)d->imm, *count + 1);
        return true;
    }
    case OP_JAL:
        mov_ri(e, RAX, next);
        st_x(e, d->rd, RAX);
        exit_chain(e, j, block_pc, pc + (uint64_t)d->imm, *count + 1);
        return true;
    case OP_JALR:
        ld_x(e, RCX, d->rs1);
        if (d->imm)
            alu_ri(e, DIG_ADD, RCX, (int32_t)d->imm, true);
        alu_ri(e, DIG_AND, RCX, -2, true);
        mov_ri(e, RAX, next);
        st_x(e, d->rd, RAX);
        store_m(e, OFF_PC, RCX);
        add_instret(e, *count + 1);
        epilogue(e);
        return true;
    default: {
        /* Everything else runs in the interpreter, one instruction. */
        uint8_t *j_cont;
        st_pc(e, pc);
        arg_hart(e);
        mov_ri(e, RSI, next);
        e8(e, 0xba); e32(e, is_system(op));                        /* mov edx, sys */
        call(e, (const void *)jit_interp);
        if (is_system(op)) {
            add_instret(e, *count);
            epilogue(e);
            return true;
        }
        e8(e, 0x85); e8(e, 0xc0);                                  /* test eax, eax */
        j_cont = jcc32(e, CC_E);
        add_instret(e, *count);
        epilogue(e);
        patch(j_cont, e->p);
        return false;           /* not counted: the interpreter counted it */
    }
    }
    (*count)++;
    return false;
}

static unsigned slot(uint64_t pc)
{
    return (unsigned)((pc >> 1) ^ (pc >> (TABLE_BITS + 1))) & ((1u << TABLE_BITS) - 1);
}

/* Translate the block at pc (host points at its first byte). Returns NULL if
 * the first instruction cannot be translated (crosses a page). */
static BlockFn translate(Jit *j, uint64_t pc, uintptr_t host)
{
    const uint8_t *page = (const uint8_t *)(host - (pc & 0xfff));
    uint64_t cur = pc;
    unsigned n = 0, count = 0;
    Emit e;
    uint8_t *start, *ret;

    if (CODE_SIZE - j->used < CODE_SLACK)
        jit_flush(j);
    ret = j->code + j->used;
    e.p = ret;
    epilogue(&e);                                  /* shared exit: pop rbx; ret */
    start = e.p;
    e8(&e, 0x53);                                  /* push rbx */
    e8(&e, 0x48); e8(&e, 0x8d); e8(&e, 0x9f); e32(&e, RBX_BIAS);   /* lea rbx, [rdi+128] */
    for (;;) {
        unsigned off = (unsigned)(cur & 0xfff);
        uint32_t raw;
        Insn d;

        raw = ld16(page + off);
        if ((raw & 3) == 3) {
            if (off == 0xffe)
                break;                           /* crosses the page: stop before it */
            raw |= (uint32_t)ld16(page + off + 2) << 16;
        }
        insn_decode(raw, &d);
        n++;
        if (emit_insn(&e, j, pc, &d, cur, &count, ret))
            goto done;
        cur += d.len;
        if (n >= MAX_INSNS || (cur & 0xfff) == 0 || (size_t)(e.p - start) > CODE_SLACK - 4096)
            break;
    }
    if (n == 0)
        return NULL;
    exit_chain(&e, j, pc, cur, count);
done:
    j->used = ALIGN_UP((size_t)(e.p - j->code), 16);
    return (BlockFn)codemem_exec_addr(&j->cm, start);
}

uint64_t jit_run_chunk(Hart *h, uint64_t budget)
{
    Jit *j = h->jit;
    uint64_t start = h->instret, end = start + budget;

    h->jit_end = end;
    /* Never link across dispatcher runs: the TLB may have been flushed. */
    j->last_exit = NULL;
    while (h->instret < end && !h->exit_chunk && !h->wfi) {
        uint64_t pc = h->pc;
        TlbEntry *te = &h->itlb->x[(pc >> 12) & (TLB_SIZE - 1)];
        JitBlock *b;
        uintptr_t host;

        if (te->tag != (pc & ~0xfffull)) {
            uint32_t raw;
            j->last_exit = NULL;
            if (mmu_fetch_slow(h, pc, &raw)) {
                hart_raise(h, h->exc_cause, h->exc_tval);
                continue;
            }
            if (te->tag != (pc & ~0xfffull)) {
                hart_run_chunk(h, 1);
                continue;
            }
        }
        host = (uintptr_t)(pc + te->addend);
        b = &j->table[slot(pc)];
        if (b->pc != pc || b->host != host || !b->fn) {
            BlockFn fn = translate(j, pc, host);
            if (!fn) {
                j->last_exit = NULL;
                hart_run_chunk(h, 1);
                continue;
            }
            b = &j->table[slot(pc)];     /* translate() may have flushed */
            b->pc = pc;
            b->host = host;
            b->fn = fn;
        }
        if (j->last_exit) {
            /* The previous block ended at a same-page exit to this pc: link
             * it straight to this block's body (after its prologue). */
            patch(codemem_write_addr(&j->cm, j->last_exit),
                  codemem_write_addr(&j->cm, (void *)b->fn) + PROLOGUE_LEN);
            j->last_exit = NULL;
        }
        b->fn(h);
    }
    return h->instret - start;
}

Jit *jit_create(void)
{
    Jit *j = calloc(1, sizeof(*j));
    int r;

    if (!j)
        return NULL;
    r = codemem_init(&j->cm, CODE_SIZE);
    if (r < 0) {
        /* Never a writable and executable page instead: interpret. */
        static bool warned;
        if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
            log_warn("emu: the JIT is off (its code cache cannot be mapped: %s)", strerror(-r));
        free(j);
        return NULL;
    }
    j->code = j->cm.w;
    return j;
}

void jit_destroy(Jit *j)
{
    if (j) {
        codemem_fini(&j->cm);
        free(j);
    }
}

void jit_flush(Jit *j)
{
    if (j) {
        j->used = 0;
        j->last_exit = NULL;
        memset(j->table, 0, sizeof(j->table));
    }
}

bool jit_enabled(void)
{
    const char *v = getenv("XENO_EMU_JIT");
    return !(v && !strcmp(v, "0"));
}

#else /* !__x86_64__ */

struct Jit { int unused; };
Jit *jit_create(void) { return NULL; }
void jit_destroy(Jit *j) { (void)j; }
void jit_flush(Jit *j) { (void)j; }
uint64_t jit_run_chunk(Hart *h, uint64_t budget) { return hart_run_chunk(h, budget); }
bool jit_enabled(void) { return false; }

#endif
