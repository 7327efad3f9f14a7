/* Code memory for the JIT, written and executed through two views (W^X).
 *
 * The code cache is one memfd mapped twice: read-write where the JIT writes
 * its translations, read-execute where the harts run them. No page of the
 * process is ever writable and executable at once, so once the VMM is
 * sandboxed (which forbids PROT_EXEC from then on) a guest that finds a way
 * to write VMM memory still cannot make it code: the only executable pages
 * are these, and they are not writable through the mapping that runs them.
 *
 * Addresses inside generated code (the chain sites the dispatcher patches,
 * a block's entry point) are execute-view addresses; the JIT writes through
 * the write view. Relative displacements are the same in both views. */
#ifndef XENO_EMU_CODEMEM_H
#define XENO_EMU_CODEMEM_H

#include <stddef.h>
#include <stdint.h>

typedef struct CodeMem {
    uint8_t *w;                 /* where the JIT writes */
    uint8_t *x;                 /* where the same bytes execute */
    size_t size;
} CodeMem;

/* Map `size` bytes (a multiple of the page size) twice. 0, or -errno (the
 * host forbids executable memfds, or no memory): then cm is empty. */
int codemem_init(CodeMem *cm, size_t size);
void codemem_fini(CodeMem *cm);

/* The execute-view address of write-view address w, and back. */
static inline void *codemem_exec_addr(const CodeMem *cm, const void *w)
{
    return cm->x + ((const uint8_t *)w - cm->w);
}

static inline uint8_t *codemem_write_addr(const CodeMem *cm, const void *x)
{
    return cm->w + ((const uint8_t *)x - cm->x);
}

#endif
