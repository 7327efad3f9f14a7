/* Memory for generated code, never writable and executable at once: one
 * memfd mapped twice, a writable view the JIT emits and patches through,
 * and an executable view the host runs. Every branch displacement and
 * every stored code pointer is computed against the executable view. */
#ifndef XENO_EMU_CODEMEM_H
#define XENO_EMU_CODEMEM_H

#include <stddef.h>
#include <stdint.h>

typedef struct CodeMem {
    uint8_t *rw;
    uint8_t *rx;
    size_t size;
} CodeMem;

/* 0 or -errno; rw: writable view, rx: executable view of the same pages. */
int codemem_alloc(CodeMem *cm, size_t size);
void codemem_free(CodeMem *cm);

/* The executable address of a byte written at rw + off. */
static inline uint8_t *codemem_rx(const CodeMem *cm, const uint8_t *rw)
{
    return cm->rx + (rw - cm->rw);
}

#endif
