/* Zifencei: self-modifying code.  Store new instructions over code that
 * already ran, fence.i, run it again and see the new instruction. */
#include "test.h"
#define ADDI_X14(v) (((v) << 20) | (14 << 7) | 0x13)
#define RET 0x00008067
TEST_START
    NEXT_TEST; jal smc; CHECK(x14, 1)
    NEXT_TEST; la x11, smc; li x12, ADDI_X14(2); sw x12, 0(x11); fence.i; jal smc; CHECK(x14, 2)
    /* modify it again in a loop: each round must see its own value */
    NEXT_TEST; li x13, 3
1:  li x12, ADDI_X14(0); slli x15, x13, 20; or x12, x12, x15; sw x12, 0(x11); fence.i
    jal smc; bne x14, x13, fail; addi x13, x13, 1; li x15, 10; bne x13, x15, 1b
    /* replace with two compressed instructions (c.li x14, 5 ; c.nop) */
    NEXT_TEST; li x12, 0x00014715; sw x12, 0(x11); fence.i; jal smc; CHECK(x14, 5)
    /* halfword store patching the immediate of a c.li */
    NEXT_TEST; li x12, 0x4719; sh x12, 0(x11); fence.i; jal smc; CHECK(x14, 6)
    /* code written to a fresh buffer, then executed */
    NEXT_TEST; la x11, buf; li x12, ADDI_X14(77); sw x12, 0(x11); li x12, RET; sw x12, 4(x11)
    fence.i; jalr ra, 0(x11); CHECK(x14, 77)
TEST_PASS
    .balign 8
    .option push
    .option norvc
smc:
    addi x14, x0, 1
    ret
    .option pop
    .data
    .balign 8
buf: .skip 16
TEST_END
