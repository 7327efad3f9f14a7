/* Body shared by sv39.S and sv48.S (SATP_MODE and SV48 set by the file).
 *
 * Layout: RAM (0x80000000, 1 GiB) is identity-mapped by a gigapage
 * (RWX, not U) so code, data and the harness work in S-mode.  Test
 * mappings live at VA 0x40000000 via L1/L0 tables:
 *   +0x0000 pdata RW   +0x1000 pdata R   +0x2000 invalid   +0x3000 pdata RW U
 *   +0x4000 pdata X    +0x5000 pdata RW, A=D=0   +0x6000 pdata RW U (fetch U)
 *   VA 0x40200000: 2 MiB superpage -> 0x80000000
 *   VA 0x40400000: misaligned 2 MiB superpage (PPN not 2 MiB aligned)
 */
#define VA 0x40000000
#define LEAF(dst, off, label, flags) \
    la t0, label; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, flags; sd t0, off(dst)
#define RWAD (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define LOAD_FAULT_AT(addr) \
    NEXT_TEST; EXPECT_STRAP_SKIP(CAUSE_LOAD_PAGE); li x11, addr; ld x14, 0(x11); \
    CHECK_TRAPPED(strap_info); CHECK_TI(strap_info, TI_TVAL, addr)
#define STORE_FAULT_AT(addr) \
    NEXT_TEST; EXPECT_STRAP_SKIP(CAUSE_STORE_PAGE); li x11, addr; sd x14, 0(x11); \
    CHECK_TRAPPED(strap_info); CHECK_TI(strap_info, TI_TVAL, addr)
TEST_START
    /* page faults go to S */
    li t0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE) | (1 << CAUSE_FETCH_PAGE); csrw medeleg, t0
    /* build the tables */
    la x18, l2
    li t0, 0x80000000; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, RWAD | PTE_X; sd t0, 16(x18)  /* [2] gigapage */
    LEAF(x18, 8, l1, PTE_V)                      /* [1] -> l1 */
    la x19, l1
    LEAF(x19, 0, l0, PTE_V)                      /* [0] -> l0 */
    li t0, 0x80000000; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, RWAD; sd t0, 8(x19)   /* [1] 2 MiB */
    li t0, 0x80001000; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, RWAD; sd t0, 16(x19)  /* [2] misaligned */
    la x20, l0
    LEAF(x20, 0, pdata, RWAD)
    LEAF(x20, 8, pdata, PTE_V | PTE_R | PTE_A)
    sd x0, 16(x20)
    LEAF(x20, 24, pdata, RWAD | PTE_U)
    LEAF(x20, 32, pdata, PTE_V | PTE_X | PTE_A)
    LEAF(x20, 40, pdata, PTE_V | PTE_R | PTE_W)
    LEAF(x20, 48, ucode, PTE_V | PTE_R | PTE_X | PTE_A | PTE_U)
#ifdef SV48
    la x21, l3; LEAF(x21, 0, l2, PTE_V); srli t0, x21, 12
#else
    srli t0, x18, 12
#endif
    li t1, SATP_MODE; or t0, t0, t1; csrw satp, t0
    NEXT_TEST; csrr x14, satp; srli x14, x14, 60; CHECK(x14, SATP_MODE >> 60)
    sfence.vma
    la x11, pdata; li x12, 0x1122334455667788; sd x12, 0(x11)
    GOTO_S(1f)
1:  /* plain translated load/store */
    NEXT_TEST; li x11, VA; ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    NEXT_TEST; li x12, 0x55; sd x12, 8(x11); la x13, pdata; ld x14, 8(x13); CHECK(x14, 0x55)
    /* read-only page: loads ok, store faults with stval = VA */
    NEXT_TEST; li x11, VA + 0x1000; ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    STORE_FAULT_AT(VA + 0x1008)
    /* invalid PTE */
    LOAD_FAULT_AT(VA + 0x2010)
    STORE_FAULT_AT(VA + 0x2018)
    /* fetch from an invalid page and from a non-executable page */
    NEXT_TEST; EXPECT_STRAP(CAUSE_FETCH_PAGE, 2f); li x11, VA + 0x2000; jalr x11
    j fail
2:  CHECK_TI(strap_info, TI_TVAL, VA + 0x2000)
    CHECK_TI(strap_info, TI_EPC, VA + 0x2000)
    NEXT_TEST; EXPECT_STRAP(CAUSE_FETCH_PAGE, 2f); li x11, VA; jalr x11
    j fail
2:  CHECK_TI(strap_info, TI_TVAL, VA)
    /* U page from S: faults without SUM, works with SUM */
    LOAD_FAULT_AT(VA + 0x3000)
    NEXT_TEST; li t0, MSTATUS_SUM; csrs sstatus, t0; li x11, VA + 0x3000; ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    li t0, MSTATUS_SUM; csrc sstatus, t0
    /* execute-only page: load faults without MXR, works with MXR */
    LOAD_FAULT_AT(VA + 0x4000)
    NEXT_TEST; li t0, MSTATUS_MXR; csrs sstatus, t0; li x11, VA + 0x4000; ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    li t0, MSTATUS_MXR; csrc sstatus, t0
    /* 2 MiB superpage */
    NEXT_TEST; la x12, pdata; li x13, 0x80000000; sub x12, x12, x13; li x11, 0x40200000; add x11, x11, x12
    ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    /* misaligned superpage: page fault */
    LOAD_FAULT_AT(0x40400000)
    BACK_TO_M
    /* A/D set by hardware */
    NEXT_TEST; la x20, l0; ld x14, 40(x20); andi x14, x14, PTE_A | PTE_D; CHECK(x14, 0)
    GOTO_S(1f)
1:  li x11, VA + 0x5000; ld x14, 0(x11)
    BACK_TO_M
    NEXT_TEST; la x20, l0; ld x14, 40(x20); andi x14, x14, PTE_A | PTE_D; CHECK(x14, PTE_A)
    GOTO_S(1f)
1:  li x11, VA + 0x5000; sd x14, 16(x11)
    BACK_TO_M
    NEXT_TEST; la x20, l0; ld x14, 40(x20); andi x14, x14, PTE_A | PTE_D; CHECK(x14, PTE_A | PTE_D)
    /* change a PTE (make +0x2000 valid) + sfence.vma: the new mapping is used */
    GOTO_S(1f)
1:  la x20, l0; LEAF(x20, 16, pdata, RWAD); sfence.vma
    NEXT_TEST; li x11, VA + 0x2000; ld x14, 0(x11); CHECK(x14, 0x1122334455667788)
    /* and remove it again */
    sd x0, 16(x20); li x11, VA + 0x2000; sfence.vma x11, x0
    LOAD_FAULT_AT(VA + 0x2000)
    BACK_TO_M
    /* U-mode: S pages fault, U pages work, U code runs */
    NEXT_TEST; li t0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE) | (1 << CAUSE_FETCH_PAGE); csrc medeleg, t0
    ARM_TRAP_(trap_info, CAUSE_LOAD_PAGE, li, VA + 0x6010)   /* resume at the ecall below */
    la a6, 3f; GOTO_U(VA + 0x6000)
3:  CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, VA)
    CHECK_TI(trap_info, TI_EPC, VA + 0x600c)
    TEST_EQ(x14, 0x1122334455667788)
    csrw satp, zero; sfence.vma
TEST_PASS

    /* runs in U at VA + 0x6000: load from a U page, report, then touch an S page */
    .balign 4096
ucode:
    .option push
    .option norvc
    lui x11, (VA + 0x3000) >> 12
    ld x14, 0(x11)         /* U page: fine */
    lui x11, VA >> 12
    ld x13, 0(x11)         /* faults: VA is an S page */
    li a7, MAGIC_TO_M_AT   /* +0x10: back to M at a6 */
    ecall
    .option pop
    .balign 4096

    .data
    .balign 4096
l3: .skip 4096
l2: .skip 4096
l1: .skip 4096
l0: .skip 4096
pdata: .skip 4096
TEST_END
