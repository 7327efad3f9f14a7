/* What control.c and agent.c share: the Control object and the JSON
 * response helpers. Private to the control socket. */
#ifndef XENO_VMM_CONTROL_PRIV_H
#define XENO_VMM_CONTROL_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "control.h"
#include "linesrv.h"

#define AGENT_LINE 1024

typedef struct AgentRequest {
    bool active;
    LsClient *who;           /* NULL: the client went away */
    bool has_id;
    json_int_t id;
    uint64_t deadline_ns;
    unsigned vcpus;          /* vcpu-set: the count asked for */
} AgentRequest;

struct Control {
    Machine *m;
    bool lock_held;          /* handlers run with m->dev_lock held */
    char *path;              /* listening socket, NULL in tests */
    char *console_path;
    LineSrv *srv;            /* the clients */
    const char *pending_event;   /* broadcast after the current response */

    /* VM state as the control plane sees it. */
    bool paused, destroyed;
    uint64_t start_ns;
    uint64_t balloon_target_mib;
    unsigned vcpus_online;

    /* A migration in progress (control_state.c). */
    struct Migration *mig;
    bool mig_changed;        /* atomic: the migration thread has news */

    /* Guest agent (agent.c). */
    int agent_fd, agent_dev_fd, agent_idx;
    unsigned agent_timeout_ms;
    char agent_in[AGENT_LINE];
    size_t agent_in_len;
    AgentRequest req;
};

typedef struct Request {
    bool has_id;
    json_int_t id;
    json_t *args;            /* the request object */
    LsClient *who;
} Request;

/* Response lines (malloc'd, no newline; NULL out of memory). */
char *ctl_error(bool has_id, json_int_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *ctl_ok(bool has_id, json_int_t id, json_t *result);

/* Pause the vCPUs from a handler (lets go of the device lock meanwhile). */
void ctl_pause_vcpus(Control *c);
/* Send an event object (taken over) to every client. */
void control_event_json(Control *c, json_t *event);

/* control_state.c: save and migrate. */
char *cmd_save(Control *c, Request *r);
char *cmd_migrate(Control *c, Request *r);
char *cmd_migrate_cancel(Control *c, Request *r);
/* On the loop: turn migration news into events, reap a finished one. */
void control_migration_poll(Control *c);
/* The VM is stopping: cancel and reap. */
void control_migration_stop(Control *c);

/* agent.c: send one line to the guest agent; the response is deferred
 * (NULL) until the agent answers or the timeout passes, else an error. */
char *agent_request(Control *c, Request *r, const char *line, unsigned vcpus);
/* Answer the pending request (ok, or an error with `text`). */
void agent_finish(Control *c, bool ok, const char *text);
void agent_read(Control *c);
void agent_check_timeout(Control *c);
/* Use the channel the board made (control_agent_create), if any. */
void agent_use_board_channel(Control *c);

#endif
