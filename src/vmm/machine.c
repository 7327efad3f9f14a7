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
