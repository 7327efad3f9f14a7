/* The host side of the guest agent channel (docs/protocols.md section 3):
 * a virtio console in the guest (the highest-numbered hvc port), one end of
 * a socketpair here. One request at a time: its response to the control
 * client is deferred until the agent answers a line ("ok" or "error
 * TEXT") or the timeout passes. */
#include "control_priv.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hw/virtio/devices.h"

/* The agent channel made by the board before the control socket starts. */
static int agent_pair[2] = { -1, -1 };

/* Send one line to the guest agent; the response is deferred until the
 * agent answers or the timeout passes. */
char *agent_request(Control *c, Request *r, const char *line, unsigned vcpus)
{
    size_t len = strlen(line);
    ssize_t n;

    if (c->agent_fd < 0)
        return ctl_error(r->has_id, r->id, "this VM has no guest agent channel");
    if (c->paused)
        return ctl_error(r->has_id, r->id, "the VM is paused; resume it first");
    if (c->req.active)
        return ctl_error(r->has_id, r->id, "the guest agent is busy with another request");
    n = send(c->agent_fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != (ssize_t)len)
        return ctl_error(r->has_id, r->id, "cannot write to the guest agent channel");
    c->req.active = true;
    c->req.who = r->who;
    c->req.has_id = r->has_id;
    c->req.id = r->id;
    c->req.vcpus = vcpus;
    c->req.deadline_ns = clock_ns() + (uint64_t)c->agent_timeout_ms * 1000000ull;
    return NULL;
}

void agent_finish(Control *c, bool ok, const char *text)
{
    AgentRequest *q = &c->req;
    char *line;

    q->active = false;
    line = ok ? ctl_ok(q->has_id, q->id, NULL)
              : ctl_error(q->has_id, q->id, "%s", text);
    if (line && q->who)
        ls_send_line(c->srv, q->who, line);
    free(line);
    q->who = NULL;
}

static void agent_line(Control *c, char *line)
{
    size_t n = strlen(line);

    if (n && line[n - 1] == '\r')
        line[--n] = 0;
    if (!c->req.active)
        return;                   /* unsolicited (or late) answer */
    if (!strcmp(line, "ok")) {
        if (c->req.vcpus)
            c->vcpus_online = c->req.vcpus;
        agent_finish(c, true, NULL);
    } else if (!strncmp(line, "error", 5) && (line[5] == ' ' || !line[5])) {
        char msg[300];
        snprintf(msg, sizeof(msg), "guest agent: %.256s", line[5] ? line + 6 : "failed");
        agent_finish(c, false, msg);
    }
}

void agent_read(Control *c)
{
    char buf[512];
    ssize_t n;

    while ((n = recv(c->agent_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                c->agent_in[c->agent_in_len] = 0;
                agent_line(c, c->agent_in);
                c->agent_in_len = 0;
            } else if (c->agent_in_len < sizeof(c->agent_in) - 1) {
                c->agent_in[c->agent_in_len++] = buf[i] ? buf[i] : '?';
            }   /* an over-long line is truncated */
        }
    }
}

void agent_check_timeout(Control *c)
{
    char junk[512];

    if (!c->req.active || clock_ns() < c->req.deadline_ns)
        return;
    /* Take back what the guest never read, so it cannot act on it later. */
    if (c->agent_dev_fd >= 0)
        while (recv(c->agent_dev_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
            ;
    agent_finish(c, false, "guest agent did not answer");
}

void control_set_agent(Control *c, int host_fd, int dev_fd, unsigned timeout_ms)
{
    c->agent_fd = host_fd;
    c->agent_dev_fd = dev_fd;
    c->agent_timeout_ms = timeout_ms;
}

void agent_use_board_channel(Control *c)
{
    if (agent_pair[0] >= 0)
        control_set_agent(c, agent_pair[0], agent_pair[1], CONTROL_AGENT_TIMEOUT_MS);
}

VirtioDevice *control_agent_create(Machine *m, char *err, size_t errlen)
{
    VirtioDevice *vd;

    if (agent_pair[0] < 0 &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, agent_pair) < 0) {
        snprintf(err, errlen, "guest agent channel: %s", strerror(errno));
        return NULL;
    }
    vd = virtio_console_create(&m->mem, m->loop, agent_pair[1], agent_pair[1], err, errlen);
    return vd;
}
