/* Domain configuration parser: the xl.cfg / xm syntax.
 *
 * A small hand-written lexer feeds a statement loop; values are applied to a
 * private copy of the caller's VmConfig, which is copied back only when the
 * whole text parsed cleanly ("nothing is applied on error").  Lists are not
 * nested, so there is no recursion; every buffer is bounded.
 *
 * Choices (documented in docs/ by the lead):
 *  - A key given twice: the last value wins, as in xl, with a warning.
 *  - `disk += [ ... ]` / `vif += [ ... ]` append, as in xl.
 *  - Unknown keys: warning "FILE:LINE: unknown key 'foo' ignored".
 *  - Xen keys with no meaning here (display, firmware tweaks) are accepted
 *    silently, see ignored_keys[]; Xen features we lack (bootloader, pci ...)
 *    produce a warning, see unsupported_keys[].
 *  - Bare True/False are read as 1/0, as Python-based xm did.
 *  - The kernel command line is `cmdline` if given, else "root=ROOT EXTRA"
 *    as xl builds it. */
#include "config.h"
#include "limits.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX   8192    /* longest string token */
#define KEY_MAX     64      /* longest key name */
#define LIST_MAX    256     /* most items in one list */
#define FILE_MAX    (1 << 20)
#define MEMORY_MAX  1048576 /* MiB */


enum tok { T_EOF, T_NL, T_SEMI, T_IDENT, T_STR, T_NUM, T_LBRACK, T_RBRACK,
           T_COMMA, T_EQ, T_PLUSEQ };

enum key_id {
    K_NAME, K_UUID, K_MEMORY, K_MAXMEM, K_VCPUS, K_MAXVCPUS, K_KERNEL,
    K_RAMDISK, K_FIRMWARE, K_EXTRA, K_CMDLINE, K_ROOT, K_DISK, K_VIF,
    K_ON_POWEROFF, K_ON_REBOOT, K_ON_CRASH, K_TYPE, K_BUILDER, K_ENGINE,
    K_ARCH, K_RNG, K_BALLOON, K_VCONSOLE, K_NKEYS
};

enum key_kind { KIND_STR, KIND_NUM, KIND_BOOL, KIND_LIST };

static const struct {
    const char *name;
    enum key_kind kind;
} keys[K_NKEYS] = {
    [K_NAME] = { "name", KIND_STR },        [K_UUID] = { "uuid", KIND_STR },
    [K_MEMORY] = { "memory", KIND_NUM },    [K_MAXMEM] = { "maxmem", KIND_NUM },
    [K_VCPUS] = { "vcpus", KIND_NUM },      [K_MAXVCPUS] = { "maxvcpus", KIND_NUM },
    [K_KERNEL] = { "kernel", KIND_STR },    [K_RAMDISK] = { "ramdisk", KIND_STR },
    [K_FIRMWARE] = { "firmware", KIND_STR }, [K_EXTRA] = { "extra", KIND_STR },
    [K_CMDLINE] = { "cmdline", KIND_STR },  [K_ROOT] = { "root", KIND_STR },
    [K_DISK] = { "disk", KIND_LIST },       [K_VIF] = { "vif", KIND_LIST },
    [K_ON_POWEROFF] = { "on_poweroff", KIND_STR },
    [K_ON_REBOOT] = { "on_reboot", KIND_STR },
    [K_ON_CRASH] = { "on_crash", KIND_STR },
    [K_TYPE] = { "type", KIND_STR },        [K_BUILDER] = { "builder", KIND_STR },
    [K_ENGINE] = { "engine", KIND_STR },    [K_ARCH] = { "arch", KIND_STR },
    [K_RNG] = { "rng", KIND_BOOL },         [K_BALLOON] = { "balloon", KIND_BOOL },
    [K_VCONSOLE] = { "vconsole", KIND_BOOL },
};

/* Harmless Xen keys: display, clock and firmware knobs of the Xen device
 * model. Accepted without a word. */
static const char *const ignored_keys[] = {
    "vfb", "sdl", "vnc", "vnclisten", "vncdisplay", "vncunused", "vncpasswd",
    "vncconsole", "keymap", "serial", "localtime", "acpi", "apic", "pae",
    "hap", "boot", "usb", "usbdevice", "stdvga", "nographic", "device_model",
    "opengl", "xauthority", "display", "monitor", "soundhw",
};

/* Xen features a user may rely on but that Xeno does not have: warned. */
static const char *const unsupported_keys[] = {
    "bootloader", "bootloader_args", "bootargs", "pci", "vtpm", "vscsi",
    "cpus", "cpu_weight", "cpu_cap", "shadow_memory", "irq", "iomem",
    "ioports", "nodes", "vusb", "usbctrl", "usbdev", "channel", "vkb",
    "viridian", "nestedhvm", "cpuid", "tsc_mode", "seclabel", "access_control",
    "on_watchdog", "on_soft_reset", "videoram", "sched", "vfb_id",
};

typedef struct Parser {
    const char *p, *end;
    const char *file;
    int line;
    bool no_location;        /* config_set: messages without FILE:LINE */
    VmConfig *c;
    config_warn_fn warn;
    void *opaque;
    char *err;
    size_t errlen;

    enum tok tok;
    int tokline;
    char text[VALUE_MAX + 1];  /* token text (unescaped for strings) */
    size_t textlen;

    int seen[K_NKEYS];         /* line a key was last set, 0 = not yet */
    bool set_root, set_extra, set_cmdline;
    int cmdline_line;
    char root[sizeof(((VmConfig *)0)->cmdline)];
    char extra[sizeof(((VmConfig *)0)->cmdline)];
    char cmdline[sizeof(((VmConfig *)0)->cmdline)];
} Parser;

/* ---- messages ---- */

static int perr_at(Parser *P, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr_at(Parser *P, int line, const char *fmt, ...)
{
    va_list ap;
    size_t n = 0;

    if (!P->err || !P->errlen)
        return -1;
    if (!P->no_location) {
        int k = snprintf(P->err, P->errlen, "%s:%d: ", P->file, line);
        n = k < 0 ? 0 : MIN((size_t)k, P->errlen - 1);
    }
    va_start(ap, fmt);
    vsnprintf(P->err + n, P->errlen - n, fmt, ap);
    va_end(ap);
    return -1;
}

static void pwarn_at(Parser *P, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pwarn_at(Parser *P, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    if (!P->warn)
        return;
    n = snprintf(msg, sizeof(msg), "%s:%d: ", P->file, line);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    P->warn(P->opaque, msg);
}

/* The current token as a user would recognise it, for messages. */
static const char *tok_desc(Parser *P, char *buf, size_t n)
{
    switch (P->tok) {
    case T_EOF: return "end of file";
    case T_NL: return "end of line";
    case T_SEMI: return "';'";
    case T_LBRACK: return "'['";
    case T_RBRACK: return "']'";
    case T_COMMA: return "','";
    case T_EQ: return "'='";
    case T_PLUSEQ: return "'+='";
    case T_STR: snprintf(buf, n, "\"%.40s%s\"", P->text, P->textlen > 40 ? "..." : ""); return buf;
    default: snprintf(buf, n, "'%.40s'", P->text); return buf;
    }
}

/* ---- lexer ---- */

static bool is_ident_start(int ch) { return isalpha(ch) || ch == '_'; }
static bool is_ident(int ch) { return isalnum(ch) || ch == '_'; }

static int lex_string(Parser *P)
{
    char q = *P->p++;
    int start = P->line;

    P->textlen = 0;
    for (;;) {
        char ch;

        if (P->p >= P->end || *P->p == '\n')
            return perr_at(P, start, "unterminated string");
        ch = *P->p++;
        if (ch == q)
            break;
        if (ch == '\0')
            return perr_at(P, P->line, "NUL byte inside a string");
        if (ch == '\\') {
            if (P->p >= P->end)
                return perr_at(P, start, "unterminated string");
            ch = *P->p++;
            switch (ch) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case '\\': case '"': case '\'': break;
            case '\n':              /* backslash-newline inside a string: joined */
                P->line++;
                continue;
            case '\0':
                return perr_at(P, P->line, "NUL byte inside a string");
            default:
                /* Python keeps unknown escapes as written */
                if (P->textlen >= VALUE_MAX)
                    return perr_at(P, start, "value too long (max %d characters)", VALUE_MAX);
                P->text[P->textlen++] = '\\';
                break;
            }
        }
        if (P->textlen >= VALUE_MAX)
            return perr_at(P, start, "value too long (max %d characters)", VALUE_MAX);
        P->text[P->textlen++] = ch;
    }
    P->text[P->textlen] = 0;
    P->tok = T_STR;
    return 0;
}

/* A word: identifier or number-like run. */
static int lex_word(Parser *P, enum tok kind, size_t max)
{
    const char *s = P->p;

    if (*P->p == '-' || *P->p == '+')
        P->p++;
    while (P->p < P->end && (is_ident((unsigned char)*P->p) || *P->p == '.'))
        P->p++;
    P->textlen = (size_t)(P->p - s);
    if (P->textlen > max)
        return perr_at(P, P->line, "%s too long (max %zu characters)",
                       kind == T_IDENT ? "key name" : "value", max);
    memcpy(P->text, s, P->textlen);
    P->text[P->textlen] = 0;
    P->tok = kind;
    return 0;
}

static int next(Parser *P)
{
    for (;;) {
        unsigned char ch;

        if (P->p >= P->end) {
            P->tok = T_EOF;
            P->tokline = P->line;
            return 0;
        }
        ch = (unsigned char)*P->p;
        P->tokline = P->line;
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
            P->p++;
        } else if (ch == '#') {
            while (P->p < P->end && *P->p != '\n')
                P->p++;
        } else if (ch == '\\') {
            /* continuation: backslash, optional spaces/CR, newline */
            const char *q = P->p + 1;

            while (q < P->end && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q >= P->end) {
                P->p = q;
            } else if (*q == '\n') {
                P->p = q + 1;
                P->line++;
            } else {
                return perr_at(P, P->line, "unexpected '\\' (only allowed at the end of a line)");
            }
        } else if (ch == '\n') {
            P->p++;
            P->line++;
            P->tok = T_NL;
            return 0;
        } else if (ch == '"' || ch == '\'') {
            return lex_string(P);
        } else if (is_ident_start(ch)) {
            return lex_word(P, T_IDENT, KEY_MAX);
        } else if (isdigit(ch) || ((ch == '-' || ch == '+') && P->p + 1 < P->end &&
                                   isdigit((unsigned char)P->p[1]))) {
            return lex_word(P, T_NUM, 64);
        } else {
            P->p++;
            switch (ch) {
            case ';': P->tok = T_SEMI; return 0;
            case '[': P->tok = T_LBRACK; return 0;
            case ']': P->tok = T_RBRACK; return 0;
            case ',': P->tok = T_COMMA; return 0;
            case '=': P->tok = T_EQ; return 0;
            case '+':
                if (P->p < P->end && *P->p == '=') {
                    P->p++;
                    P->tok = T_PLUSEQ;
                    return 0;
                }
                break;
            case '\0':
                return perr_at(P, P->line, "unexpected NUL byte");
            default:
                break;
            }
            if (ch >= 0x20 && ch < 0x7f)
                return perr_at(P, P->line, "unexpected character '%c'", ch);
            return perr_at(P, P->line, "unexpected byte 0x%02x", ch);
        }
    }
}

/* ---- values ---- */

/* Strict integer: decimal or 0x hex, optional sign. */
static bool parse_int(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno || end == s || *end)
        return false;
    /* strtoll base 0 reads "010" as octal: Xen configs mean decimal */
    if (s[0] == '0' && s[1] && s[1] != 'x' && s[1] != 'X') {
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
            return false;
    }
    *out = v;
    return true;
}

static int get_num(Parser *P, int k, long long lo, long long hi, long long *out)
{
    long long v;

    if (P->tok == T_IDENT && !strcmp(P->text, "True"))
        v = 1;
    else if (P->tok == T_IDENT && !strcmp(P->text, "False"))
        v = 0;
    else if (!parse_int(P->text, &v))
        return perr_at(P, P->tokline, "%s: expected a number, got \"%.40s\"",
                       keys[k].name, P->text);
    if (v < lo || v > hi) {
        if (lo == 0 && hi == 1)
            return perr_at(P, P->tokline, "%s: must be 0 or 1", keys[k].name);
        return perr_at(P, P->tokline, "%s: must be between %lld and %lld", keys[k].name, lo, hi);
    }
    *out = v;
    return 0;
}

static int put_str(Parser *P, int k, char *dst, size_t cap)
{
    if (P->textlen >= cap)
        return perr_at(P, P->tokline, "%s: value too long (max %zu characters)",
                       keys[k].name, cap - 1);
    memcpy(dst, P->text, P->textlen + 1);
    return 0;
}

/* Domain names end up in file names and `xm` arguments. */
static const char *name_problem(const char *s)
{
    bool digits = true;

    if (!*s)
        return "must not be empty";
    if (!strcmp(s, "Domain-0"))
        return "'Domain-0' is the host's name";
    if (s[0] == '-' || s[0] == '.')
        return "must not start with '-' or '.'";
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("-_.+:@", *p))
            return "may hold only letters, digits and - _ . + : @";
        if (!isdigit((unsigned char)*p))
            digits = false;
    }
    if (digits)
        return "must not be a number (it would look like a domain id)";
    return NULL;
}

/* The standard 8-4-4-4-12 form. */
static int parse_uuid(uint8_t out[16], const char *s)
{
    uint8_t u[16];
    int n = 0;

    if (strlen(s) != 36)
        return -1;
    for (int i = 0; i < 36; ) {
        int hi, lo;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-')
                return -1;
            continue;
        }
        hi = hex_digit(s[i]);
        lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        u[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, u, 16);
    return 0;
}

static const char *const action_names[] = {
    [CFG_ACT_DESTROY] = "destroy", [CFG_ACT_RESTART] = "restart",
    [CFG_ACT_PRESERVE] = "preserve", [CFG_ACT_RENAME_RESTART] = "rename-restart",
    [CFG_ACT_COREDUMP_DESTROY] = "coredump-destroy",
    [CFG_ACT_COREDUMP_RESTART] = "coredump-restart",
};

const char *config_action_name(enum cfg_action a)
{
    if ((unsigned)a < ARRAY_SIZE(action_names))
        return action_names[a];
    return "unknown";
}

const char *config_type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_TYPE_NONE: return "default";
    case CFG_TYPE_PV: return "pv";
    case CFG_TYPE_PVH: return "pvh";
    case CFG_TYPE_HVM: return "hvm";
    }
    return "unknown";
}

const char *config_engine_name(enum cfg_engine e)
{
    switch (e) {
    case CFG_ENGINE_AUTO: return "auto";
    case CFG_ENGINE_EMU: return "emu";
    case CFG_ENGINE_KVM: return "kvm";
    }
    return "unknown";
}

const char *config_arch_name(enum cfg_arch a)
{
    switch (a) {
    case CFG_ARCH_AUTO: return "auto";
    case CFG_ARCH_RISCV64: return "riscv64";
    case CFG_ARCH_X86_64: return "x86_64";
    }
    return "unknown";
}

/* Apply a scalar value (the current token) to key k. */
static int apply_scalar(Parser *P, int k)
{
    VmConfig *c = P->c;
    long long v = 0;
    const char *why;

    if (keys[k].kind == KIND_LIST)
        return perr_at(P, P->tokline, "%s: expected a list [ ... ]", k == K_DISK ?
                       "disk" : "vif");
    if (keys[k].kind == KIND_NUM || keys[k].kind == KIND_BOOL) {
        long long lo = 1, hi = XENO_MAX_VCPUS;

        if (keys[k].kind == KIND_BOOL)
            lo = 0, hi = 1;
        else if (k == K_MEMORY || k == K_MAXMEM)
            hi = MEMORY_MAX;
        if (get_num(P, k, lo, hi, &v) < 0)
            return -1;
        switch (k) {
        case K_MEMORY: c->memory_mib = (uint64_t)v; break;
        case K_MAXMEM: c->maxmem_mib = (uint64_t)v; break;
        case K_VCPUS: c->vcpus = (unsigned)v; break;
        case K_MAXVCPUS: c->maxvcpus = (unsigned)v; break;
        case K_RNG: c->rng = v; break;
        case K_BALLOON: c->balloon = v; break;
        case K_VCONSOLE: c->vconsole = v; break;
        default: break;
        }
        return 0;
    }
    if (P->tok == T_IDENT)  /* a bare word where a string is due */
        return perr_at(P, P->tokline, "%s: expected a quoted string, got %s",
                       keys[k].name, P->text);

    switch (k) {
    case K_NAME:
        if (put_str(P, k, c->name, sizeof(c->name)) < 0)
            return -1;
        if ((why = name_problem(c->name)))
            return perr_at(P, P->tokline, "name: %s", why);
        return 0;
    case K_UUID:
        if (parse_uuid(c->uuid, P->text) < 0)
            return perr_at(P, P->tokline, "uuid: expected 8-4-4-4-12 hex digits, got \"%.40s\"",
                           P->text);
        c->uuid_set = true;
        return 0;
    case K_KERNEL: return put_str(P, k, c->kernel, sizeof(c->kernel));
    case K_RAMDISK: return put_str(P, k, c->ramdisk, sizeof(c->ramdisk));
    case K_FIRMWARE: return put_str(P, k, c->firmware, sizeof(c->firmware));
    case K_EXTRA:
        P->set_extra = true;
        P->cmdline_line = P->tokline;
        return put_str(P, k, P->extra, sizeof(P->extra));
    case K_ROOT:
        P->set_root = true;
        P->cmdline_line = P->tokline;
        return put_str(P, k, P->root, sizeof(P->root));
    case K_CMDLINE:
        P->set_cmdline = true;
        P->cmdline_line = P->tokline;
        return put_str(P, k, P->cmdline, sizeof(P->cmdline));
    case K_ON_POWEROFF: case K_ON_REBOOT: case K_ON_CRASH: {
        enum cfg_action *dst = k == K_ON_POWEROFF ? &c->on_poweroff :
                               k == K_ON_REBOOT ? &c->on_reboot : &c->on_crash;
        for (unsigned i = 0; i < ARRAY_SIZE(action_names); i++) {
            if (!strcmp(P->text, action_names[i])) {
                *dst = (enum cfg_action)i;
                return 0;
            }
        }
        return perr_at(P, P->tokline, "%s: unknown action \"%.40s\" (expected destroy, restart, "
                       "preserve, rename-restart, coredump-destroy or coredump-restart)",
                       keys[k].name, P->text);
    }
    case K_TYPE:
        if (!strcmp(P->text, "pv")) c->type = CFG_TYPE_PV;
        else if (!strcmp(P->text, "pvh")) c->type = CFG_TYPE_PVH;
        else if (!strcmp(P->text, "hvm")) c->type = CFG_TYPE_HVM;
        else
            return perr_at(P, P->tokline, "type: unknown type \"%.40s\" (expected pv, pvh or hvm)",
                           P->text);
        return 0;
    case K_BUILDER:
        if (!strcmp(P->text, "linux") || !strcmp(P->text, "generic")) c->type = CFG_TYPE_PV;
        else if (!strcmp(P->text, "hvm")) c->type = CFG_TYPE_HVM;
        else
            return perr_at(P, P->tokline, "builder: unknown builder \"%.40s\" "
                           "(expected linux, generic or hvm)", P->text);
        return 0;
    case K_ENGINE:
        if (!strcmp(P->text, "emu")) c->engine = CFG_ENGINE_EMU;
        else if (!strcmp(P->text, "kvm")) c->engine = CFG_ENGINE_KVM;
        else if (!strcmp(P->text, "auto")) c->engine = CFG_ENGINE_AUTO;
        else
            return perr_at(P, P->tokline, "engine: unknown engine \"%.40s\" (expected emu or kvm)",
                           P->text);
        return 0;
    case K_ARCH:
        if (!strcmp(P->text, "riscv64")) c->arch = CFG_ARCH_RISCV64;
        else if (!strcmp(P->text, "x86_64")) c->arch = CFG_ARCH_X86_64;
        else if (!strcmp(P->text, "auto")) c->arch = CFG_ARCH_AUTO;
        else
            return perr_at(P, P->tokline, "arch: unknown architecture \"%.40s\" "
                           "(expected riscv64 or x86_64)", P->text);
        return 0;
    default:
        return 0;
    }
}

/* One item of a disk or vif list (the current token). */
static int apply_item(Parser *P, int k)
{
    VmConfig *c = P->c;
    char msg[256];

    if (P->tok == T_IDENT)
        return perr_at(P, P->tokline, "%s: expected a quoted string, got %s",
                       keys[k].name, P->text);
    if (k == K_DISK) {
        if (c->ndisks >= CFG_MAX_DISKS)
            return perr_at(P, P->tokline, "disk: too many disks (max %d)", CFG_MAX_DISKS);
        if (config_parse_disk(&c->disk[c->ndisks], P->text, msg, sizeof(msg)) < 0)
            return perr_at(P, P->tokline, "%s", msg);
        c->ndisks++;
    } else {
        if (c->nnics >= CFG_MAX_NICS)
            return perr_at(P, P->tokline, "vif: too many network interfaces (max %d)",
                           CFG_MAX_NICS);
        if (config_parse_vif(&c->nic[c->nnics], P->text, msg, sizeof(msg)) < 0)
            return perr_at(P, P->tokline, "%s", msg);
        c->nnics++;
    }
    return 0;
}

static void list_reset(Parser *P, int k)
{
    if (k == K_DISK)
        P->c->ndisks = 0;
    else if (k == K_VIF)
        P->c->nnics = 0;
}

static bool is_value(enum tok t)
{
    return t == T_STR || t == T_NUM || t == T_IDENT;
}

/* After '[': items up to the matching ']'. k < 0: key being ignored. */
static int parse_list(Parser *P, int k, bool append)
{
    int open_line = P->tokline;
    int n = 0;
    char d[64];

    if (k >= 0 && keys[k].kind != KIND_LIST)
        return perr_at(P, P->tokline, "%s: expected a %s, got a list", keys[k].name,
                       keys[k].kind == KIND_STR ? "string" : "number");
    if (k >= 0 && !append)
        list_reset(P, k);
    for (;;) {
        do {
            if (next(P) < 0)
                return -1;
        } while (P->tok == T_NL);
        if (P->tok == T_RBRACK)
            return 0;
        if (P->tok == T_EOF)
            return perr_at(P, open_line, "unterminated list (no ']' for this '[')");
        if (P->tok == T_LBRACK)
            return perr_at(P, P->tokline, "nested lists are not supported");
        if (!is_value(P->tok))
            return perr_at(P, P->tokline, "unexpected %s in list", tok_desc(P, d, sizeof(d)));
        if (++n > LIST_MAX)
            return perr_at(P, P->tokline, "too many items in list (max %d)", LIST_MAX);
        if (k >= 0 && apply_item(P, k) < 0)
            return -1;
        do {
            if (next(P) < 0)
                return -1;
        } while (P->tok == T_NL);
        if (P->tok == T_RBRACK)
            return 0;
        if (P->tok == T_EOF)
            return perr_at(P, open_line, "unterminated list (no ']' for this '[')");
        if (P->tok != T_COMMA)
            return perr_at(P, P->tokline, "expected ',' or ']' in list, got %s",
                           tok_desc(P, d, sizeof(d)));
    }
}

static bool in_table(const char *const *t, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i], s))
            return true;
    return false;
}

static int lookup_key(const char *name)
{
    for (int i = 0; i < K_NKEYS; i++)
        if (!strcmp(keys[i].name, name))
            return i;
    return -1;
}

/* xm create's command line: `key=value` with the value unquoted. The rest
 * of the text is the value; a list key gets one more item, as xm did. */
static int apply_bare(Parser *P, int k)
{
    const char *s = P->p, *e = P->end;

    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    if ((size_t)(e - s) > VALUE_MAX)
        return perr_at(P, P->line, "%s: value too long (max %d characters)",
                       keys[k].name, VALUE_MAX);
    if (memchr(s, '\0', (size_t)(e - s)))
        return perr_at(P, P->line, "unexpected NUL byte");
    P->textlen = (size_t)(e - s);
    memcpy(P->text, s, P->textlen);
    P->text[P->textlen] = 0;
    P->tok = T_STR;
    P->tokline = P->line;
    P->p = P->end;
    if (keys[k].kind == KIND_LIST)
        return apply_item(P, k);
    return apply_scalar(P, k);
}

static int parse_statement(Parser *P, bool bare)
{
    char key[KEY_MAX + 1];
    char d[64];
    int keyline, k;
    bool append;

    if (P->tok != T_IDENT)
        return perr_at(P, P->tokline, "expected a key name, got %s", tok_desc(P, d, sizeof(d)));
    memcpy(key, P->text, P->textlen + 1);
    keyline = P->tokline;
    if (next(P) < 0)
        return -1;
    if (P->tok != T_EQ && P->tok != T_PLUSEQ)
        return perr_at(P, P->tokline, "expected '=' after '%s'", key);
    append = P->tok == T_PLUSEQ;
    k = lookup_key(key);

    if (k < 0) {
        if (in_table(ignored_keys, ARRAY_SIZE(ignored_keys), key)) {
            /* accepted silently */
        } else if (in_table(unsupported_keys, ARRAY_SIZE(unsupported_keys), key)) {
            if (bare)
                return perr_at(P, keyline, "'%s' is not supported by Xeno", key);
            pwarn_at(P, keyline, "'%s' is not supported by Xeno; ignored", key);
        } else {
            if (bare)
                return perr_at(P, keyline, "unknown key '%s'", key);
            pwarn_at(P, keyline, "unknown key '%s' ignored", key);
        }
        if (bare) {
            P->p = P->end;
            return 0;
        }
    } else {
        if (append && keys[k].kind != KIND_LIST)
            return perr_at(P, P->tokline, "%s: '+=' works only on lists", key);
        if (P->seen[k] && !append && !bare)
            pwarn_at(P, keyline, "'%s' is set again (first set on line %d); the last value wins",
                     key, P->seen[k]);
        P->seen[k] = keyline;
        if (bare) {
            const char *s = P->p;

            while (s < P->end && (*s == ' ' || *s == '\t'))
                s++;
            if (s >= P->end || (*s != '"' && *s != '\'' && *s != '['))
                return apply_bare(P, k);
        }
    }

    if (next(P) < 0)
        return -1;
    if (P->tok == T_LBRACK) {
        if (parse_list(P, k, append) < 0)
            return -1;
    } else if (is_value(P->tok)) {
        if (P->tok == T_IDENT && k < 0 && strcmp(P->text, "True") && strcmp(P->text, "False"))
            return perr_at(P, P->tokline, "%s: expected a value, got %s (strings need quotes)",
                           key, P->text);
        if (k >= 0 && apply_scalar(P, k) < 0)
            return -1;
    } else {
        return perr_at(P, P->tokline, "expected a value after '%s ='", key);
    }

    if (next(P) < 0)
        return -1;
    if (P->tok != T_NL && P->tok != T_SEMI && P->tok != T_EOF)
        return perr_at(P, P->tokline, "unexpected %s after the value of '%s'",
                       tok_desc(P, d, sizeof(d)), key);
    return 0;
}

static int finish_cmdline(Parser *P)
{
    VmConfig *c = P->c;
    size_t cap = sizeof(c->cmdline);
    int n;

    if (!P->set_root && !P->set_extra && !P->set_cmdline)
        return 0;
    if (P->set_root) {
        if (strlen(P->root) >= sizeof(c->root))
            return perr_at(P, P->cmdline_line, "root: value too long (max %zu characters)",
                           sizeof(c->root) - 1);
        strcpy(c->root, P->root);
    }
    if (P->set_extra)
        memcpy(c->extra, P->extra, sizeof(c->extra));
    if (P->set_cmdline) {
        memcpy(c->cmdline, P->cmdline, cap);
        c->cmdline_given = true;
    }
    if (c->cmdline_given) {
        if (P->set_root || P->set_extra)
            pwarn_at(P, P->cmdline_line, "ignoring root= and extra= because cmdline= is set");
        return 0;
    }
    /* As xl does: "root=ROOT EXTRA". root and extra are kept as given, so
     * `xm create CFG extra=...` keeps a root of several words intact. */
    if (c->root[0] && c->extra[0])
        n = snprintf(c->cmdline, cap, "root=%s %s", c->root, c->extra);
    else if (c->root[0])
        n = snprintf(c->cmdline, cap, "root=%s", c->root);
    else
        n = snprintf(c->cmdline, cap, "%s", c->extra);
    if (n < 0 || (size_t)n >= cap)
        return perr_at(P, P->cmdline_line, "cmdline: value too long (max %zu characters)",
                       cap - 1);
    return 0;
}

static Parser *parser_new(VmConfig *c, const char *file, const char *text, size_t len,
                          char *err, size_t errlen)
{
    Parser *P = calloc(1, sizeof(*P));

    if (!P)
        return NULL;
    P->c = malloc(sizeof(*P->c));
    if (!P->c) {
        free(P);
        return NULL;
    }
    *P->c = *c;
    P->file = file ? file : "config";
    P->p = text ? text : "";
    P->end = P->p + (text ? len : 0);
    P->line = 1;
    P->err = err;
    P->errlen = errlen;
    if (P->err && P->errlen)
        P->err[0] = 0;
    return P;
}

static void parser_free(Parser *P)
{
    free(P->c);
    free(P);
}

static int oom(char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return -1;
}

void config_init(VmConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->memory_mib = 256;
    c->vcpus = 1;
    c->on_poweroff = CFG_ACT_DESTROY;
    c->on_reboot = CFG_ACT_RESTART;
    c->on_crash = CFG_ACT_DESTROY;
    c->rng = c->balloon = c->vconsole = true;
}

int config_parse(VmConfig *c, const char *file, const char *text, size_t len,
                 config_warn_fn warn, void *opaque, char *err, size_t errlen)
{
    Parser *P = parser_new(c, file, text, len, err, errlen);
    int ret = 0;

    if (!P)
        return oom(err, errlen);
    P->warn = warn;
    P->opaque = opaque;
    /* a UTF-8 byte order mark from an editor */
    if (P->end - P->p >= 3 && !memcmp(P->p, "\xef\xbb\xbf", 3))
        P->p += 3;
    for (;;) {
        if (next(P) < 0) {
            ret = -1;
            break;
        }
        if (P->tok == T_EOF)
            break;
        if (P->tok == T_NL || P->tok == T_SEMI)
            continue;
        if (parse_statement(P, false) < 0) {
            ret = -1;
            break;
        }
    }
    if (ret == 0)
        ret = finish_cmdline(P);
    if (ret == 0)
        *c = *P->c;
    parser_free(P);
    return ret;
}

int config_load(VmConfig *c, const char *path, config_warn_fn warn, void *opaque,
                char *err, size_t errlen)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    int ret;

    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (len > FILE_MAX) {
        free(text);
        if (err && errlen)
            snprintf(err, errlen, "%s: file too large for a domain config (max %d bytes)",
                     path, FILE_MAX);
        return -1;
    }
    ret = config_parse(c, path, text, len, warn, opaque, err, errlen);
    free(text);
    return ret;
}

int config_set(VmConfig *c, const char *assignment, char *err, size_t errlen)
{
    Parser *P;
    int ret = 0;

    if (!assignment)
        assignment = "";
    P = parser_new(c, "command line", assignment, strlen(assignment), err, errlen);
    if (!P)
        return oom(err, errlen);
    P->no_location = true;
    if (next(P) < 0)
        ret = -1;
    else if (P->tok == T_EOF || P->tok == T_NL)
        ret = perr_at(P, 1, "expected key=value, got an empty string");
    else
        ret = parse_statement(P, true);
    if (ret == 0 && P->p < P->end) {
        /* bare mode consumed the rest; quoted values must end the text */
        if (next(P) < 0)
            ret = -1;
        while (ret == 0 && (P->tok == T_NL || P->tok == T_SEMI)) {
            if (next(P) < 0)
                ret = -1;
        }
        if (ret == 0 && P->tok != T_EOF)
            ret = perr_at(P, 1, "one key=value at a time");
    }
    if (ret == 0)
        ret = finish_cmdline(P);
    if (ret == 0)
        *c = *P->c;
    parser_free(P);
    return ret;
}

/* ---- validation ---- */

static int verr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int verr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define TERMINATED(field) (memchr((field), 0, sizeof(field)) != NULL)

int config_validate(const VmConfig *c, char *err, size_t errlen)
{
    const char *why;

    if (!TERMINATED(c->name) || !TERMINATED(c->kernel) || !TERMINATED(c->ramdisk) ||
        !TERMINATED(c->firmware) || !TERMINATED(c->cmdline))
        return verr(err, errlen, "config has an unterminated string");
    if (c->name[0] && (why = name_problem(c->name)))
        return verr(err, errlen, "name: %s", why);
    if (c->memory_mib < 1 || c->memory_mib > MEMORY_MAX)
        return verr(err, errlen, "memory: must be between 1 and %d", MEMORY_MAX);
    if (c->maxmem_mib && c->maxmem_mib > MEMORY_MAX)
        return verr(err, errlen, "maxmem: must be between 1 and %d", MEMORY_MAX);
    if (c->maxmem_mib && c->maxmem_mib < c->memory_mib)
        return verr(err, errlen, "maxmem (%llu MiB) is less than memory (%llu MiB)",
                    (unsigned long long)c->maxmem_mib, (unsigned long long)c->memory_mib);
    if (c->vcpus < 1 || c->vcpus > XENO_MAX_VCPUS)
        return verr(err, errlen, "vcpus: must be between 1 and %d", XENO_MAX_VCPUS);
    if (c->maxvcpus > XENO_MAX_VCPUS)
        return verr(err, errlen, "maxvcpus: must be between 1 and %d", XENO_MAX_VCPUS);
    if (c->maxvcpus && c->maxvcpus < c->vcpus)
        return verr(err, errlen, "vcpus (%u) is more than maxvcpus (%u)", c->vcpus, c->maxvcpus);
    if ((unsigned)c->on_poweroff >= ARRAY_SIZE(action_names) ||
        (unsigned)c->on_reboot >= ARRAY_SIZE(action_names) ||
        (unsigned)c->on_crash >= ARRAY_SIZE(action_names))
        return verr(err, errlen, "on_poweroff/on_reboot/on_crash: unknown action");
    if ((unsigned)c->type > CFG_TYPE_HVM || (unsigned)c->engine > CFG_ENGINE_KVM ||
        (unsigned)c->arch > CFG_ARCH_X86_64)
        return verr(err, errlen, "type, engine or arch has an unknown value");
    if (c->engine == CFG_ENGINE_EMU && c->arch == CFG_ARCH_X86_64)
        return verr(err, errlen, "engine 'emu' runs riscv64 guests only (arch is x86_64)");
    if (c->engine == CFG_ENGINE_KVM && c->arch == CFG_ARCH_RISCV64)
        return verr(err, errlen, "engine 'kvm' runs x86_64 guests only (arch is riscv64)");

    if (c->ndisks > CFG_MAX_DISKS)
        return verr(err, errlen, "disk: too many disks (max %d)", CFG_MAX_DISKS);
    for (unsigned i = 0; i < c->ndisks; i++) {
        const CfgDisk *d = &c->disk[i];

        if (!TERMINATED(d->path) || !TERMINATED(d->vdev) || !TERMINATED(d->format) ||
            !TERMINATED(d->serial))
            return verr(err, errlen, "disk %u has an unterminated string", i);
        if (!d->path[0])
            return verr(err, errlen, "disk %u has an empty target path", i);
        if (!d->vdev[0])
            return verr(err, errlen, "disk '%.64s' has no virtual device name (vdev)", d->path);
        if (d->format[0] && strcmp(d->format, "raw"))
            return verr(err, errlen, "disk format '%s' is not supported (only raw)", d->format);
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(c->disk[j].vdev, d->vdev))
                return verr(err, errlen, "disk vdev '%s' is used twice", d->vdev);
    }

    if (c->nnics > CFG_MAX_NICS)
        return verr(err, errlen, "vif: too many network interfaces (max %d)", CFG_MAX_NICS);
    for (unsigned i = 0; i < c->nnics; i++) {
        const CfgNic *n = &c->nic[i];

        if (!TERMINATED(n->bridge) || !TERMINATED(n->ifname) || !TERMINATED(n->model))
            return verr(err, errlen, "vif %u has an unterminated string", i);
        if ((unsigned)n->type > CFG_NET_BRIDGE)
            return verr(err, errlen, "vif %u has an unknown type", i);
        if (n->mac_set && (n->mac[0] & 1))
            return verr(err, errlen, "vif %u: mac is a multicast address", i);
        if (n->nfwd > CFG_MAX_FWDS)
            return verr(err, errlen, "vif %u has too many hostfwd rules (max %d)", i, CFG_MAX_FWDS);
        if (n->nfwd && n->type != CFG_NET_USER)
            return verr(err, errlen, "vif %u: hostfwd= needs user networking", i);
        for (unsigned j = 0; j < i; j++) {
            if (n->mac_set && c->nic[j].mac_set && !memcmp(n->mac, c->nic[j].mac, 6))
                return verr(err, errlen, "vif mac %02x:%02x:%02x:%02x:%02x:%02x is used twice",
                            n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
            if (n->ifname[0] && !strcmp(n->ifname, c->nic[j].ifname))
                return verr(err, errlen, "vif vifname '%s' is used twice", n->ifname);
        }
        /* one host port can be forwarded only once */
        for (unsigned f = 0; f < n->nfwd && f < CFG_MAX_FWDS; f++) {
            for (unsigned j = 0; j <= i; j++) {
                const CfgNic *m = &c->nic[j];
                unsigned lim = j == i ? f : MIN(m->nfwd, (unsigned)CFG_MAX_FWDS);

                for (unsigned g = 0; g < lim; g++) {
                    if (m->fwd[g].udp == n->fwd[f].udp &&
                        m->fwd[g].host_port == n->fwd[f].host_port &&
                        !strncmp(m->fwd[g].host_addr, n->fwd[f].host_addr,
                                 sizeof(n->fwd[f].host_addr)))
                        return verr(err, errlen, "vif hostfwd: host port %s:%u is forwarded twice",
                                    n->fwd[f].udp ? "udp" : "tcp", n->fwd[f].host_port);
                }
            }
        }
    }
    return 0;
}
