/* libFuzzer target for xend's libvirt server: the bytes a client sends,
 * after a CONNECT_OPEN, go through the real reader (framing, header, XDR
 * argument decoding, dispatch, every procedure's handler) over a
 * socketpair, with the fake VMM layer of tests/unit/xend/xend_stubs.c and
 * a throw-away state dir. Whatever comes back is read and dropped; the
 * run ends when every thread of the client is done.
 *
 * Procedures that create or remove files outside the state dir (storage
 * pools defined at any path, volumes of any size) are turned into
 * CONNECT_GET_TYPE before the bytes are sent: the fuzzer must not mkdir or
 * fill the host's disks. Their decoding is the same as their neighbours'. */
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "libvirt.h"
#include "xend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* state.c's state_path (the fake layer has the rest). */
int state_path(char *buf, size_t size, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -1;
    n = snprintf(buf, size, "%s/%s", xconf.state_dir, rel);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static char dir[] = "/tmp/xeno-fuzz-lv.XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? 0 : 0;
}

/* The state dir goes with the fuzzer. */
static void remove_dir(void)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void init_once(void)
{
    static bool done;
    char err[256];

    if (done)
        return;
    done = true;
    log_init("fuzz", LOG_ERR);
    if (!mkdtemp(dir))
        abort();
    atexit(remove_dir);
    snprintf(xconf.state_dir, sizeof(xconf.state_dir), "%s", dir);
    snprintf(xconf.vmm, sizeof(xconf.vmm), "/nonexistent/xeno-vmm");
    if (lv_server_attach(err, sizeof(err)) < 0)
        abort();
}

static bool forbidden(int proc)
{
    return proc == LVP_STORAGE_POOL_CREATE_XML || proc == LVP_STORAGE_POOL_DEFINE_XML ||
           proc == LVP_STORAGE_POOL_BUILD || proc == LVP_STORAGE_POOL_DELETE ||
           proc == LVP_STORAGE_VOL_CREATE_XML;
}

/* Walk the frames of buf and defuse the forbidden procedures. */
static void defuse(uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (len - off >= LV_MESSAGE_MIN) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                     (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        uint8_t *proc = buf + off + 12;
        int p = (int)((uint32_t)proc[0] << 24 | (uint32_t)proc[1] << 16 |
                      (uint32_t)proc[2] << 8 | proc[3]);

        if (forbidden(p)) {
            proc[0] = proc[1] = proc[2] = 0;
            proc[3] = LVP_CONNECT_GET_TYPE;
        }
        if (n < LV_MESSAGE_MIN || n > len - off)
            break;
        off += n;
    }
}

/* The frame of CONNECT_OPEN "xen:///system", as every client starts. */
static XdrBuf open_frame(void)
{
    LvHeader h = { LV_PROGRAM, LV_PROTOCOL_VERSION, LVP_CONNECT_OPEN, LV_CALL, 1, LV_OK };
    XdrBuf b;

    xdr_buf_init(&b, 256);
    xdr_put_u32(&b, 0);
    lv_header_put(&b, &h);
    xdr_put_opt_string(&b, "xen:///system");
    xdr_put_u32(&b, 0);
    b.p[0] = (uint8_t)(b.len >> 24);
    b.p[1] = (uint8_t)(b.len >> 16);
    b.p[2] = (uint8_t)(b.len >> 8);
    b.p[3] = (uint8_t)b.len;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    XdrBuf open = open_frame();
    uint8_t *buf = malloc(open.len + size + 1), sink[4096];
    size_t len = open.len + size;
    int sv[2];

    init_once();
    if (!buf || open.err || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    memcpy(buf, open.p, open.len);
    memcpy(buf + open.len, data, size);
    xdr_buf_free(&open);
    defuse(buf, len);
    if (lv_serve_fd(sv[1], size & 1) < 0)
        abort();
    /* Write and read at once: replies must not fill the socket while we write. */
    for (size_t off = 0;;) {
        struct pollfd p[2] = { { .fd = sv[0], .events = POLLIN },
                               { .fd = sv[0], .events = off < len ? POLLOUT : 0 } };

        if (poll(p, 2, 5000) <= 0)
            break;
        if (p[0].revents & (POLLIN | POLLHUP)) {
            if (read(sv[0], sink, sizeof(sink)) <= 0)
                break;
        }
        if (off < len && (p[1].revents & POLLOUT)) {
            ssize_t w = send(sv[0], buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0)
                break;
            off += (size_t)w;
            if (off == len)
                shutdown(sv[0], SHUT_WR);
        }
    }
    close(sv[0]);
    free(buf);
    while (lv_conns_live())
        usleep(1000);
    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
    return 0;
}
