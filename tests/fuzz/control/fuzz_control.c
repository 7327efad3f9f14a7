/* libFuzzer target: the VMM control socket's request framing, JSON parsing
 * and dispatch, against a fake machine (tests/unit/control/fake_machine.h).
 *
 * Input: bytes a client sends on the control socket; if it contains two
 * NUL bytes in a row, what follows them is what the guest agent answers
 * on its channel. Every request must get a well-formed one-line response
 * and nothing may crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../unit/control/fake_machine.h"
#include "vmm/control.h"

static Machine mach;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    const uint8_t *sep = NULL;
    size_t client_len = size;
    int cl[2], ag[2];
    Control *c;

    if (!ready) {
        if (fake_machine_init(&mach, true))
            return 0;
        ready = 1;
    }
    mach.exit_reason = VM_EXIT_NONE;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == 0 && data[i + 1] == 0) {
            sep = data + i + 2;
            client_len = i;
            break;
        }
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, cl) || socketpair(AF_UNIX, SOCK_STREAM, 0, ag))
        return 0;
    c = control_new(&mach);
    if (!c)
        return 0;
    control_set_agent(c, ag[0], ag[1], 0);
    control_add_client(c, cl[0]);
    if (control_feed_first_client(c, data, client_len) == 0 && sep) {
        size_t left = size - (size_t)(sep - data);
        if (left > 4096)
            left = 4096;
        if (send(ag[1], sep, left, MSG_DONTWAIT) >= 0)
            control_run_once(c);
    }
    control_run_once(c);
    control_free(c);
    close(cl[1]);
    close(ag[0]);
    close(ag[1]);
    return 0;
}
