/* SPDX-License-Identifier: Apache-2.0 */
/* The host side of an image's process: control and stdio over vsock
 * (core/run/relay.h). */
#include "run/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <plugvm/vm.h>

#include "control.h"
#include "launch.h"
#include "util/fileio.h"
#include "util/log.h"

enum { P_CTL, P_IN, P_OUT, P_ERR, P_N };
static const unsigned port_of[P_N] = {CONTROL_PORT_CONTROL, CONTROL_PORT_STDIN, CONTROL_PORT_STDOUT,
                                      CONTROL_PORT_STDERR};
static const char *const port_name[P_N] = {"control", "stdin", "stdout", "stderr"};

#define COPY_BUF 65536
/* What the guest has to end its output streams in once it reported the
 * status: more is a guest holding them open, and the VM is stopped. */
#define DRAIN_MS 10000

/* Bytes owed to a non-blocking socket: the launch record, the host's
 * control lines, stdin. Never grown past one read's worth beyond the
 * record, since more is read only once it is empty. */
struct obuf {
    uint8_t *p;
    size_t len, off, cap;
};

struct relay {
    struct relay_opts o;
    struct sockaddr_un addr[P_N];
    int lfd[P_N];     /* listener, -1 once its one connection came */
    int cfd[P_N];     /* the connection, -1 before or after it */
    bool ended[P_N];  /* connected and then closed (out, err: EOF seen) */
    struct obuf ob[2]; /* P_CTL, P_IN */
    bool in_eof;      /* the host's stdin ended (or not -i) */
    int wake[2];      /* main thread -> relay: 's' SIG, 'q' */
    int winch;        /* signalfd for SIGWINCH with -t, or -1 */
    pthread_t thread;
    bool started;
    atomic_bool process_known; /* control connected: signals can be forwarded */
    struct control_reader rd;
    /* The outcome. */
    bool have_status;
    int status;
    char message[CONTROL_LINE_MAX + 64];
    bool done; /* VM stop requested */
    bool stopped_vm; /* by the relay itself (stop_vm), not by a signal */
    uint64_t grace_ms, drain_ms; /* deadlines on CLOCK_MONOTONIC, 0: none */
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void closefd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int obuf_add(struct obuf *b, const void *p, size_t n)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        size_t cap = b->len + n;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void stop_vm(struct relay *r)
{
    r->done = true;
    r->stopped_vm = true;
    plugvm_vm_stop(r->o.vm, NULL);
}

static void outcome(struct relay *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void outcome(struct relay *r, int status, const char *fmt, ...)
{
    if (r->have_status)
        return;
    r->have_status = true;
    r->status = status;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
    }
}

/* A guest that breaks the protocol has no process left to wait for. */
static void guest_broke(struct relay *r, const char *why)
{
    outcome(r, 125, "the guest's plugvm-init broke the control protocol: %s", why);
    stop_vm(r);
}

static void send_ctl(struct relay *r, enum control_kind kind, unsigned a, unsigned b)
{
    struct control_msg m = {.kind = kind, .a = a, .b = b};
    char line[CONTROL_LINE_MAX];
    size_t n = control_format(&m, line);
    if (n && r->cfd[P_CTL] >= 0 && obuf_add(&r->ob[P_CTL], line, n))
        pv_warn("out of memory for a control line");
}

static void send_winch(struct relay *r)
{
    struct winsize ws;
    if (ioctl(r->o.in_fd, TIOCGWINSZ, &ws) == 0)
        send_ctl(r, CONTROL_WINCH, ws.ws_row, ws.ws_col);
}

static void accept_one(struct relay *r, int p)
{
    int fd = accept4(r->lfd[p], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    /* One connection per port: the listener goes, so a second connect
     * from the guest finds no one (ECONNRESET there). */
    r->cfd[p] = fd;
    closefd(&r->lfd[p]);
    unlink(r->addr[p].sun_path);
    if (p == P_CTL && r->o.snapshot_dir) {
        /* libplugvm logs a snapshot written (-v), with the time it took. */
        struct plugvm_error e;
        if (plugvm_vm_snapshot(r->o.vm, r->o.snapshot_dir, &e))
            pv_warn("no snapshot of the image's VM (the next run boots again): %s", e.message);
    }
    if (p == P_CTL) {
        /* The clock as it is now, not when the VM was made: a boot (or a
         * restore) in between would leave the guest behind by its length. */
        struct launch l = *r->o.launch;
        struct timespec now;
        uint8_t *rec;
        size_t len;
        l.entropy_len = sizeof(l.entropy) < 64 ? sizeof(l.entropy) : 64;
        if (getrandom(l.entropy, l.entropy_len, 0) != (ssize_t)l.entropy_len)
            l.entropy_len = 0;
        clock_gettime(CLOCK_REALTIME, &now);
        l.clock_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        if (launch_encode(&l, &rec, &len)) {
            outcome(r, 125, "the process does not fit a launch record (4096 arguments or variables at most, "
                            "1 MiB in all)");
            stop_vm(r);
            return;
        }
        int rc = obuf_add(&r->ob[P_CTL], rec, len);
        free(rec);
        if (rc)
            guest_broke(r, "out of memory for the launch record");
        atomic_store(&r->process_known, true);
    } else if (p == P_IN && r->in_eof) {
        shutdown(fd, SHUT_WR);
    }
}

static void flush(struct relay *r, int p)
{
    struct obuf *b = &r->ob[p];
    while (b->off < b->len && r->cfd[p] >= 0) {
        ssize_t n = send(r->cfd[p], b->p + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* the guest closed it: what it has not read is dropped */
            b->off = b->len;
            break;
        }
        b->off += (size_t)n;
    }
    if (p == P_IN && b->off == b->len && r->in_eof && r->cfd[P_IN] >= 0)
        shutdown(r->cfd[P_IN], SHUT_WR);
}

static void read_stream(struct relay *r, int p, char *buf)
{
    ssize_t n = recv(r->cfd[p], buf, COPY_BUF, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        closefd(&r->cfd[p]);
        r->ended[p] = true;
        return;
    }
    if (p == P_OUT || p == P_ERR) {
        /* A reader that went away (EPIPE) only loses the rest. */
        (void)write_all(p == P_OUT ? r->o.out_fd : r->o.err_fd, buf, (size_t)n);
        return;
    }
    if (p == P_IN)
        return; /* nothing is meant to come back on stdin: dropped */
    const char *d = buf;
    size_t left = (size_t)n;
    struct control_msg m;
    int rc;
    while ((rc = control_feed(&r->rd, &d, &left, &m)) == 1) {
        switch (m.kind) {
        case CONTROL_EXIT: outcome(r, (int)m.a, NULL); break;
        case CONTROL_SIGNAL: outcome(r, 128 + (int)m.a, NULL); break;
        case CONTROL_ERROR: outcome(r, (int)m.a, "%s", m.text); break;
        default: guest_broke(r, "a host-to-guest message from the guest"); return;
        }
        if (!r->drain_ms)
            r->drain_ms = now_ms() + DRAIN_MS;
    }
    if (rc < 0)
        guest_broke(r, "a line that is not a control message");
}

static void read_stdin(struct relay *r, char *buf)
{
    ssize_t n = read(r->o.in_fd, buf, COPY_BUF);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        r->in_eof = true;
    else if (obuf_add(&r->ob[P_IN], buf, (size_t)n))
        r->in_eof = true;
    flush(r, P_IN);
}

/* Both output streams ended (or, for a process that never started, were
 * never connected) and the status is in: nothing more to wait for. */
static bool finished(const struct relay *r)
{
    if (!r->have_status)
        return false;
    for (int p = P_OUT; p <= P_ERR; p++)
        if (r->cfd[p] >= 0)
            return false;
    return true;
}

static void *relay_thread(void *arg)
{
    struct relay *r = arg;
    char *buf = malloc(COPY_BUF);
    while (buf && !r->done) {
        struct pollfd pf[2 * P_N + 3];
        int what[2 * P_N + 3];
        nfds_t n = 0;
        for (int p = 0; p < P_N; p++) {
            if (r->lfd[p] >= 0) {
                pf[n] = (struct pollfd){r->lfd[p], POLLIN, 0};
                what[n++] = p;
            }
            if (r->cfd[p] >= 0) {
                short ev = POLLIN;
                if (p <= P_IN && r->ob[p].off < r->ob[p].len)
                    ev |= POLLOUT;
                pf[n] = (struct pollfd){r->cfd[p], ev, 0};
                what[n++] = P_N + p;
            }
        }
        /* The host's stdin is read only once what was read went out. */
        if (!r->in_eof && r->cfd[P_IN] >= 0 && r->ob[P_IN].off == r->ob[P_IN].len) {
            pf[n] = (struct pollfd){r->o.in_fd, POLLIN, 0};
            what[n++] = 2 * P_N;
        }
        pf[n] = (struct pollfd){r->wake[0], POLLIN, 0};
        what[n++] = 2 * P_N + 1;
        if (r->winch >= 0) {
            pf[n] = (struct pollfd){r->winch, POLLIN, 0};
            what[n++] = 2 * P_N + 2;
        }
        uint64_t t = now_ms();
        int timeout = -1;
        uint64_t deadlines[2] = {r->grace_ms, r->drain_ms};
        for (int i = 0; i < 2; i++)
            if (deadlines[i]) {
                int left = deadlines[i] > t ? (int)(deadlines[i] - t) : 0;
                timeout = timeout < 0 || left < timeout ? left : timeout;
            }
        if (poll(pf, n, timeout) < 0 && errno != EINTR)
            break;
        t = now_ms();
        if (r->grace_ms && t >= r->grace_ms) {
            outcome(r, 137, "the process had not ended %g s after the signal: the VM was stopped",
                    r->o.stop_grace_s);
            stop_vm(r);
            break;
        }
        if (r->drain_ms && t >= r->drain_ms) {
            pv_warn("the guest held the process's output open %d s after it ended: the VM is stopped",
                    DRAIN_MS / 1000);
            stop_vm(r);
            break;
        }
        for (nfds_t i = 0; i < n && !r->done; i++) {
            if (!pf[i].revents)
                continue;
            int w = what[i];
            if (w < P_N) {
                accept_one(r, w);
            } else if (w < 2 * P_N) {
                int p = w - P_N;
                if (r->cfd[p] >= 0 && (pf[i].revents & POLLOUT))
                    flush(r, p);
                if (r->cfd[p] >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    read_stream(r, p, buf);
            } else if (w == 2 * P_N) {
                read_stdin(r, buf);
            } else if (w == 2 * P_N + 1) {
                unsigned char c[2];
                ssize_t got = read(r->wake[0], c, 2);
                if (got >= 1 && c[0] == 'q')
                    r->done = true;
                else if (got == 2 && c[0] == 's') {
                    send_ctl(r, CONTROL_KILL, c[1], 0);
                    flush(r, P_CTL);
                    if (!r->grace_ms)
                        r->grace_ms = now_ms() + (uint64_t)(r->o.stop_grace_s * 1000);
                }
            } else {
                struct signalfd_siginfo si;
                while (read(r->winch, &si, sizeof(si)) > 0)
                    ;
                send_winch(r);
                flush(r, P_CTL);
            }
        }
        if (!r->done && finished(r))
            stop_vm(r);
    }
    free(buf);
    return NULL;
}

static int listen_at(struct relay *r, int p, char *err, size_t errlen)
{
    struct sockaddr_un *a = &r->addr[p];
    a->sun_family = AF_UNIX;
    if (snprintf(a->sun_path, sizeof(a->sun_path), "%s_%u", r->o.uds_path, port_of[p]) >=
        (int)sizeof(a->sun_path)) {
        snprintf(err, errlen, "%s_%u: longer than a Unix socket path may be (107 bytes)", r->o.uds_path,
                 port_of[p]);
        return -1;
    }
    unlink(a->sun_path);
    r->lfd[p] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->lfd[p] < 0 || bind(r->lfd[p], (struct sockaddr *)a, sizeof(*a)) || listen(r->lfd[p], 1)) {
        snprintf(err, errlen, "%s: cannot listen for the process's %s: %s", a->sun_path, port_name[p],
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void relay_free(struct relay *r)
{
    for (int p = 0; p < P_N; p++) {
        if (r->lfd[p] >= 0)
            unlink(r->addr[p].sun_path);
        closefd(&r->lfd[p]);
        closefd(&r->cfd[p]);
    }
    free(r->ob[0].p);
    free(r->ob[1].p);
    closefd(&r->wake[0]);
    closefd(&r->wake[1]);
    closefd(&r->winch);
    free(r);
}

int relay_start(struct relay **out, const struct relay_opts *o, char *err, size_t errlen)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->o = *o;
    r->in_eof = !o->interactive;
    r->wake[0] = r->wake[1] = r->winch = -1;
    for (int p = 0; p < P_N; p++)
        r->lfd[p] = r->cfd[p] = -1;
    for (int p = 0; p < P_N; p++)
        if (listen_at(r, p, err, errlen))
            goto fail;
    if (pipe2(r->wake, O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (o->tty) {
        /* SIGWINCH is blocked in every thread by the caller (run_image.c)
         * before any starts, so only this signalfd takes it. */
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGWINCH);
        r->winch = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
    }
    if (o->interactive)
        fcntl(o->in_fd, F_SETFL, fcntl(o->in_fd, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&r->thread, NULL, relay_thread, r)) {
        snprintf(err, errlen, "cannot start the relay thread");
        goto fail;
    }
    r->started = true;
    *out = r;
    return 0;
fail:
    relay_free(r);
    return -1;
}

bool relay_on_signal(void *relay, int sig)
{
    struct relay *r = relay;
    if (!atomic_load(&r->process_known))
        return false; /* nothing started yet: the VM just stops */
    unsigned char c[2] = {'s', (unsigned char)sig};
    return write(r->wake[1], c, 2) == 2;
}

int relay_finish(struct relay *r, int vm_status, bool *reported, bool *connected)
{
    if (r->started) {
        (void)!write(r->wake[1], "q", 1);
        pthread_join(r->thread, NULL);
    }
    if (r->o.interactive)
        fcntl(r->o.in_fd, F_SETFL, fcntl(r->o.in_fd, F_GETFL) & ~O_NONBLOCK);
    int status;
    *reported = r->have_status;
    *connected = atomic_load(&r->process_known);
    if (r->have_status) {
        status = r->status;
        if (r->message[0])
            fprintf(stderr, "plugvm: %s\n", r->message);
    } else {
        status = 125;
        if ((vm_status == 130 || vm_status == 143) && !r->stopped_vm)
            status = vm_status; /* stopped by a signal before the process ran */
        else
            fprintf(stderr, "plugvm: the VM ended (status %d) before its process %s\n", vm_status,
                    atomic_load(&r->process_known) ? "reported how it ended" : "started");
    }
    relay_free(r);
    return status;
}
