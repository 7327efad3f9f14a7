/* The machine's side of the engine interface: exit requests, the firmware
 * console, and the engine's controls. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/block.h"
#include "hw/uart.h"
#include "hw/virtio/devices.h"
#include "machine.h"

void machine_request_exit(Machine *m, enum vm_exit why, int code)
{
    pthread_mutex_lock(&m->exit_lock);
    if (m->exit_reason == VM_EXIT_NONE) {
        m->exit_reason = why;
        m->exit_code = code;
    }
    pthread_cond_broadcast(&m->exit_cond);
    pthread_mutex_unlock(&m->exit_lock);
    if (m->loop)
        loop_quit(m->loop);
}

static void host_request_exit(void *opaque, enum vm_exit why, int code)
{
    machine_request_exit(opaque, why, code);
}

/* Firmware console output joins the serial console's (m->console_out). A
 * console that cannot take it loses it; the guest never waits. */
static void host_console_write(void *opaque, const void *buf, size_t len)
{
    Machine *m = opaque;
    const char *p = buf;

    while (len && m->console_out >= 0) {
        ssize_t n = write(m->console_out, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

/* Firmware console input is the UART's receive FIFO, as with OpenSBI on
 * QEMU's virt board. */
static int host_console_getc(void *opaque)
{
    Machine *m = opaque;
    int c;

    if (!m->uart)
        return -1;
    pthread_mutex_lock(&m->dev_lock);
    c = uart_rx_pop(m->uart);
    pthread_mutex_unlock(&m->dev_lock);
    return c;
}

int machine_create_engine(Machine *m, const EngineOps *ops, unsigned nvcpus,
                          char *err, size_t errlen)
{
    m->host = (EngineHost){
        .mem = &m->mem, .mmio = &m->mmio, .dev_lock = &m->dev_lock, .loop = m->loop,
        .nvcpus = nvcpus, .state = &m->state, .opaque = m, .request_exit = host_request_exit,
        .console_write = host_console_write, .console_getc = host_console_getc,
    };
    m->engine = ops->create(&m->host, err, errlen);
    if (!m->engine)
        return -1;
    m->engine_ops = ops;
    return 0;
}

int machine_start(Machine *m)
{
    return m->engine ? m->engine_ops->start(m->engine) : -1;
}

void machine_pause(Machine *m)
{
    if (m->engine_ops && m->engine_ops->pause)
        m->engine_ops->pause(m->engine);
}

void machine_resume(Machine *m)
{
    if (m->engine_ops && m->engine_ops->resume)
        m->engine_ops->resume(m->engine);
}

bool machine_set_throttle(Machine *m, unsigned pct)
{
    if (!m->engine_ops || !m->engine_ops->set_throttle)
        return false;
    m->engine_ops->set_throttle(m->engine, pct);
    return true;
}

void machine_stop(Machine *m)
{
    if (m->engine)
        m->engine_ops->stop(m->engine);
}

uint64_t machine_cpu_time_ns(Machine *m)
{
    return m->engine_ops && m->engine_ops->cpu_time_ns ? m->engine_ops->cpu_time_ns(m->engine) : 0;
}

const char *machine_engine_name(const Machine *m)
{
    return m->engine_ops ? m->engine_ops->name : "none";
}

uint32_t machine_stream_arch(const Machine *m)
{
    return m->stream_arch;
}

uint32_t machine_stream_engine(const Machine *m)
{
    return m->stream_engine;
}

int machine_dirty_log_start(Machine *m)
{
    if (!m->engine_ops || !m->engine_ops->dirty_log_start)
        return -1;
    return m->engine_ops->dirty_log_start(m->engine);
}

void machine_dirty_log_stop(Machine *m)
{
    if (m->engine_ops && m->engine_ops->dirty_log_stop)
        m->engine_ops->dirty_log_stop(m->engine);
}

int machine_dirty_log_collect(Machine *m)
{
    return m->engine_ops && m->engine_ops->dirty_log_collect ?
           m->engine_ops->dirty_log_collect(m->engine) : -1;
}

void machine_dirty_log_rearm(Machine *m)
{
    if (m->engine_ops && m->engine_ops->dirty_log_rearm)
        m->engine_ops->dirty_log_rearm(m->engine);
}

void machine_announce_network(Machine *m)
{
    for (unsigned i = 0; i < m->nvirtio; i++)
        virtio_net_announce(m->virtio[i]);
}

int machine_disks_release(Machine *m, char *err, size_t errlen)
{
    for (unsigned i = 0; i < m->nvirtio; i++) {
        BlockBackend *bb = virtio_blk_backend(m->virtio[i]);
        int r;
        if (!bb)
            continue;
        r = block_release(bb);
        if (r < 0) {
            char why[256];
            snprintf(err, errlen, "%s: cannot flush: %s", block_path(bb), strerror(-r));
            machine_disks_reacquire(m, why, sizeof(why));
            return -1;
        }
    }
    return 0;
}

int machine_disks_reacquire(Machine *m, char *err, size_t errlen)
{
    int ret = 0;

    for (unsigned i = 0; i < m->nvirtio; i++) {
        BlockBackend *bb = virtio_blk_backend(m->virtio[i]);
        if (bb && block_released(bb) && block_reacquire(bb, err, errlen) < 0)
            ret = -1;
    }
    return ret;
}
