/* The Xen PVH entry note: a loader that knows PVH enters at pvh_start in
 * 32-bit protected mode with ebx = hvm_start_info. */
    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* name size */
    .long 4                 /* desc size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start
