/* An interrupt line from a device to an interrupt controller.
 *
 * The controller behind it differs per engine: the PLIC model (emu), or the
 * in-kernel irqchip via KVM_IRQ_LINE / irqfd (kvm). Devices only ever call
 * irq_set(). Level-triggered semantics. */
#ifndef XENO_HW_IRQ_H
#define XENO_HW_IRQ_H

typedef struct IrqLine {
    void (*set_level)(void *ctrl, unsigned irq, int level);
    void *ctrl;
    unsigned irq;
} IrqLine;

static inline void irq_set(const IrqLine *l, int level)
{
    if (l && l->set_level)
        l->set_level(l->ctrl, l->irq, level);
}

#endif
