/* nop: the smallest program the process-creation workload can exec: no
 * libc, one page of code, exits 0 at once (bench/cpu.sh, "exec tiny").
 * Built with -static -nostdlib for riscv64 and for the host. */
#if defined(__riscv)
__asm__(".globl _start\n_start:\n\tli a0, 0\n\tli a7, 93\n\tecall\n");
#elif defined(__x86_64__)
__asm__(".globl _start\n_start:\n\txor %edi, %edi\n\tmov $60, %eax\n\tsyscall\n");
#else
#error "nop.c: riscv64 or x86-64 only"
#endif
