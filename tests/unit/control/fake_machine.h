/* A fake machine for the control-socket tests and fuzzer: a counting
 * engine and a real balloon device over a little guest RAM. Exit requests
 * go through the real machine_request_exit(), which records the reason in
 * the Machine. */
#ifndef XENO_TEST_FAKE_MACHINE_H
#define XENO_TEST_FAKE_MACHINE_H

#include <string.h>

#include "hw/virtio/devices.h"
#include "vmm/machine.h"

static struct {
    unsigned pauses, resumes;
    uint64_t cpu_ns;
} fake;

static void fake_pause(Engine *e) { fake.pauses++; }
static void fake_resume(Engine *e) { fake.resumes++; }
static uint64_t fake_cpu_time(Engine *e) { return fake.cpu_ns; }

static const EngineOps fake_engine = {
    .name = "fake",
    .pause = fake_pause,
    .resume = fake_resume,
    .cpu_time_ns = fake_cpu_time,
};

#define FAKE_RAM_BASE 0x80000000ull
#define FAKE_RAM_MIB  16

/* Fill *m as a 16 MiB, 2-vCPU (max 4) VM named "vm1", with a balloon. */
static inline int fake_machine_init(Machine *m, bool with_balloon)
{
    char err[128];

    memset(m, 0, sizeof(*m));
    memset(&fake, 0, sizeof(fake));
    config_init(&m->cfg);
    strcpy(m->cfg.name, "vm1");
    m->cfg.memory_mib = FAKE_RAM_MIB;
    m->cfg.vcpus = 2;
    m->cfg.maxvcpus = 4;
    for (int i = 0; i < 16; i++)
        m->cfg.uuid[i] = (uint8_t)(0x10 + i);
    m->cfg.uuid_set = true;
    m->engine_ops = &fake_engine;
    pthread_mutex_init(&m->dev_lock, NULL);
    pthread_mutex_init(&m->exit_lock, NULL);
    pthread_cond_init(&m->exit_cond, NULL);
    if (gmem_add_ram(&m->mem, FAKE_RAM_BASE, (uint64_t)FAKE_RAM_MIB << 20))
        return -1;
    if (with_balloon) {
        m->balloon = virtio_balloon_create(&m->mem, err, sizeof(err));
        if (!m->balloon)
            return -1;
    }
    return 0;
}

static inline void fake_machine_free(Machine *m)
{
    virtio_device_destroy(m->balloon);
    m->balloon = NULL;
    gmem_free(&m->mem);
}

#endif
