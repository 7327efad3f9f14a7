/* Entry points of the x86-64 test guest.
 *
 *   _start64   Linux 64-bit boot protocol / vmlinux ELF entry: long mode,
 *              paging on (identity map), rsi = boot_params.
 *   pvh_start  PVH entry (ELF note, pvh.S): 32-bit flat protected mode,
 *              paging off, ebx = hvm_start_info.
 *
 * Both load our GDT (0x08 code32, 0x10 code64, 0x18 data: the same
 * selectors as the Linux boot protocol's), our identity page tables for
 * the PVH path, a stack, and call xmain(kind, info). */
#define COM1 0x3f8

    .section .text.entry, "ax"
    /* bzImage: the 32-bit entry is the load address (unused: we only
     * support the 64-bit entry), the 64-bit entry is 0x200 further. */
    .code32
startup_32:
    cli
    hlt
    jmp startup_32
    .org 0x200
    .code64
    .globl _start64
_start64:
    /* First guest instruction: one byte on COM1 marks it (benchmarks). */
    mov $COM1, %dx
    mov $'!', %al
    out %al, %dx
    lgdt gdt_desc(%rip)
    mov $0x18, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    lea bsp_stack_top(%rip), %rsp
    mov %rsi, %rsi
    xor %edi, %edi          /* kind 0: boot_params */
    call xmain
1:  hlt
    jmp 1b

    .code32
    .globl pvh_start
pvh_start:
    mov $COM1, %dx
    mov $'!', %al
    out %al, %dx
    mov %ebx, %esi          /* start_info */
    lgdt gdt_desc
    mov $0x18, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* Paging on with the identity map of the first 4 GiB (2 MiB pages)
     * built into the image (.data below): no loop while unpaged, which a
     * paging-based nested KVM (kvm_pvm) has to emulate instruction by
     * instruction. */
    mov %cr4, %eax
    or $0x20, %eax          /* PAE */
    mov %eax, %cr4
    mov $pt_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx   /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax    /* PG | PE */
    mov %eax, %cr0
    ljmp $0x10, $pvh64

    .code64
pvh64:
    lea bsp_stack_top(%rip), %rsp
    mov %esi, %esi          /* zero-extend the start_info address */
    mov $1, %edi            /* kind 1: PVH start_info */
    call xmain
4:  hlt
    jmp 4b

/* AP trampoline, copied to TRAMP_BASE; the SIPI vector is TRAMP_BASE >> 12. */
#define TRAMP_BASE 0x3000
#define T(x) (TRAMP_BASE + ((x) - tramp_start))
    .globl tramp_start, tramp_end, tramp_cr3, tramp_next
    .code16
tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tramp_gdt_desc - tramp_start
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $T(tramp32)
    .code32
tramp32:
    mov $0x18, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov T(tramp_cr3), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $0x10, $T(tramp64)
    .code64
tramp64:
    /* Take the next AP index; stack = ap_stacks + (index + 1) * 16 KiB. */
    mov $1, %eax
    lock xadd %eax, T(tramp_next)
    mov %eax, %edi
    mov %rax, %rsp
    inc %rsp
    shl $14, %rsp
    movabs $ap_stacks, %rax
    add %rax, %rsp
    movabs $ap_main, %rax
    call *%rax
5:  hlt
    jmp 5b
    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
tramp_gdt_desc:
    .word 4 * 8 - 1
    .long T(tramp_gdt)
    .balign 8
tramp_cr3:
    .quad 0
tramp_next:
    .long 0
tramp_end:

/* Interrupt stubs: vector number (and a zero error code when the CPU
 * pushes none), then the common path saving the caller-saved registers. */
    .text
    .globl isr_table
isr_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov 80(%rsp), %rdi      /* vector */
    mov 88(%rsp), %rsi      /* error code */
    mov 96(%rsp), %rdx      /* rip */
    mov %rsp, %rbx
    and $-16, %rsp
    call isr
    mov %rbx, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    pop %rbx
    add $16, %rsp
    iretq

    .altmacro
    .macro stub v
    .balign 16
isr_\v:
    .if (\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
    .else
    push $0
    .endif
    push $\v
    push %rbx
    jmp isr_common
    .endm
    .set i, 0
    .rept 256
    stub %i
    .set i, i + 1
    .endr
    .macro addr v
    .quad isr_\v
    .endm
    .section .rodata
    .balign 8
isr_table:
    .set i, 0
    .rept 256
    addr %i
    .set i, i + 1
    .endr

    .data
    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
gdt_desc:
    .word 4 * 8 - 1
    .quad gdt
    .globl gdt_desc

    /* PVH page tables: identity map of [0, 4 GiB) with 2 MiB pages. */
    .balign 4096
pt_pml4:
    .quad pt_pdpt + 3
    .skip 4096 - 8
pt_pdpt:
    .quad pt_pd + 3, pt_pd + 0x1000 + 3, pt_pd + 0x2000 + 3, pt_pd + 0x3000 + 3
    .skip 4096 - 32
pt_pd:
    .set i, 0
    .rept 2048
    .quad (i << 21) | 0x83
    .set i, i + 1
    .endr

    .bss
    .balign 16
    .skip 16384
bsp_stack_top:
    .globl ap_stacks
ap_stacks: .skip 16384 * 16
