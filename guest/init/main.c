/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm-init: pid 1 of `plugvm run --image` (issue 15; docs/IMAGES.md,
 * "Running an image"). It sets the machine up (setup.h), then connects to
 * the host over vsock (control.h's ports), reads the launch record
 * (launch.h), starts the image's process with the three vsock streams (or
 * a terminal) as its stdio (spawn.h), forwards the host's signals to it,
 * reaps every orphan, and when the process has ended kills what is left,
 * reports the status and powers the VM off.
 *
 * A launch that arrives on a connection the host has dropped (a snapshot
 * was restored: the guest's connections fail with ECONNRESET) is waited
 * for again on a new one, so a VM snapshotted here runs whatever the
 * restoring host hands it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "launch.h"
#include "setup.h"
#include "spawn.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("plugvm-init: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void __attribute__((noreturn)) poweroff(void)
{
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void __attribute__((noreturn)) die(const char *what)
{
    say("%s", what);
    poweroff();
}

/* A stream to the host's port, retried while the transport is coming up
 * or the host's listener is not there yet (ECONNRESET: no listener). */
static int vsock_connect(unsigned port, int tries)
{
    struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
    struct timespec t = {0, 10 * 1000 * 1000};
    for (int i = 0; i < tries; i++) {
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        nanosleep(&t, NULL);
    }
    return -1;
}

static int read_full(int fd, void *buf, size_t n)
{
    for (size_t at = 0; at < n;) {
        ssize_t r = read(fd, (char *)buf + at, n - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        at += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    for (size_t at = 0; at < n;) {
        ssize_t r = write(fd, (const char *)buf + at, n - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        at += (size_t)r;
    }
    return 0;
}

/* Waits for the host and its launch record: 0 with *l and the control
 * connection in *ctl. */
static int get_launch(struct launch *l, int *ctl)
{
    for (;;) {
        int fd = vsock_connect(CONTROL_PORT_CONTROL, 1000000);
        uint8_t head[LAUNCH_HEADER];
        if (fd < 0)
            return -1;
        if (read_full(fd, head, sizeof(head))) {
            close(fd); /* the host went (a restore): wait for the next */
            continue;
        }
        size_t size = launch_size(head, sizeof(head));
        uint8_t *buf = size ? malloc(size) : NULL;
        char err[256];
        if (!buf || (memcpy(buf, head, sizeof(head)), read_full(fd, buf + sizeof(head), size - sizeof(head))) ||
            launch_decode(buf, size, l, err, sizeof(err))) {
            say("%s", buf ? "a launch record cut short or malformed" : "not a launch record");
            free(buf);
            close(fd);
            return -1;
        }
        free(buf);
        *ctl = fd;
        return 0;
    }
}

static void send_msg(int ctl, enum control_kind kind, unsigned a, const char *text)
{
    struct control_msg m = {.kind = kind, .a = a};
    char line[CONTROL_LINE_MAX];
    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    size_t n = control_format(&m, line);
    if (n)
        write_full(ctl, line, n);
}

/* The host's clock and entropy, before the process can read either: a
 * VM restored from a snapshot has the snapshot's. */
static void apply_host_state(const struct launch *l)
{
    if (l->clock_ns) {
        struct timespec ts = {(time_t)(l->clock_ns / 1000000000u), (long)(l->clock_ns % 1000000000u)};
        if (clock_settime(CLOCK_REALTIME, &ts))
            say("cannot set the clock: %s", strerror(errno));
    }
    if (l->entropy_len) {
        struct rand_pool_info *e = malloc(sizeof(*e) + l->entropy_len);
        int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
        if (e) {
            e->entropy_count = (int)(l->entropy_len * 8);
            e->buf_size = (int)l->entropy_len;
            memcpy(e->buf, l->entropy, l->entropy_len);
        }
        /* Added, then a reseed forced: a VM restored from a snapshot would
         * otherwise draw from the snapshot's crng state (Linux reseeds it
         * only every 60 s), and every clone would print the same
         * /proc/sys/kernel/random/uuid. Firecracker's snapshot guidance
         * does the same. */
        if (!e || fd < 0 || ioctl(fd, RNDADDENTROPY, e) || ioctl(fd, RNDRESEEDCRNG))
            say("cannot add the host's entropy: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        free(e);
    }
    if (l->hostname[0] && sethostname(l->hostname, strlen(l->hostname)))
        say("cannot set the hostname: %s", strerror(errno));
}

/* Copies what one side has to the other (-t: terminal <-> vsock). 0 on
 * progress, -1 at end of file or error. */
static int pump(int from, int to)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return -1;
    return write_full(to, buf, (size_t)n);
}

/* Volumes' writes are on their disks before the status goes out: the
 * host ends the VM as soon as it has it. */
static void unmount_volumes(const struct launch *l)
{
    sync();
    for (size_t i = l->nvolumes; i-- > 0;)
        if (umount(LAUNCH_VOLUME_PATH(l->volumes[i])) && errno != EINVAL)
            say("cannot unmount the volume at %s: %s", LAUNCH_VOLUME_PATH(l->volumes[i]), strerror(errno));
    sync();
}

int main(void)
{
    char err[512];
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    if (setup_early(err, sizeof(err)))
        die(err);
    setup_modules("/lib/modules/plugvm.order");
    if (setup_root("/dev/vda", err, sizeof(err)))
        die(err);

    struct launch l;
    int ctl;
    if (get_launch(&l, &ctl))
        die("no launch record from the host");
    apply_host_state(&l);
    bool tty = l.flags & LAUNCH_F_TTY;

    /* Volumes: the disks after the root, in the launch's order, and the
     * virtio-fs shares tagged by their index (launch.h). */
    int status = 0;
    for (size_t i = 0, disks = 0; i < l.nvolumes && !status; i++) {
        char dev[32];
        bool fs = LAUNCH_VOLUME_IS_FS(l.volumes[i]);
        if (fs)
            snprintf(dev, sizeof(dev), "plugvm-vol%zu", i);
        else
            snprintf(dev, sizeof(dev), "/dev/vd%c", (char)('b' + disks++));
        bool ro = !strncmp(l.volumes[i], "ro:", 3);
        if (setup_volume(dev, LAUNCH_VOLUME_PATH(l.volumes[i]), fs, ro, err, sizeof(err)))
            status = 125;
    }

    int in = vsock_connect(CONTROL_PORT_STDIN, 500);
    int out = vsock_connect(CONTROL_PORT_STDOUT, 500);
    int errfd = tty ? -1 : vsock_connect(CONTROL_PORT_STDERR, 500);
    if (!status && (in < 0 || out < 0 || (!tty && errfd < 0))) {
        snprintf(err, sizeof(err), "cannot connect the process's stdio to the host: %s", strerror(errno));
        status = 125;
    }
    int master = -1;
    pid_t pid = -1;
    if (!status) {
        int fds[3] = {in, out, errfd};
        if (tty) {
            int slave;
            struct winsize ws = {.ws_row = l.rows, .ws_col = l.cols};
            if (openpty(&master, &slave, NULL, NULL, &ws)) {
                snprintf(err, sizeof(err), "no terminal: %s", strerror(errno));
                status = 125;
            } else {
                fcntl(master, F_SETFD, FD_CLOEXEC);
                fds[0] = fds[1] = fds[2] = slave;
            }
        }
        if (!status)
            pid = spawn_process(&l, fds, tty, &status, err, sizeof(err));
        if (!tty)
            in = out = errfd = -1; /* the process holds the only copies now */
    }
    if (pid < 0) {
        unmount_volumes(&l);
        send_msg(ctl, CONTROL_ERROR, (unsigned)(status ? status : 125), err);
        goto end;
    }

    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    struct control_reader rd = {0};
    int wstatus = 0;
    bool done = false;
    while (!done) {
        struct pollfd p[4] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}, {master, POLLIN, 0}, {in, POLLIN, 0}};
        if (poll(p, 4, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) > 0)
                ;
            int ws;
            pid_t r;
            while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
                if (r == pid) {
                    wstatus = ws;
                    done = true;
                }
        }
        if (p[1].revents) {
            char buf[256];
            ssize_t n = read(ctl, buf, sizeof(buf));
            if (n <= 0) {
                /* The host is gone: no one waits for this process. */
                kill(pid, SIGKILL);
                ctl = -1;
            }
            const char *d = buf;
            size_t left = n > 0 ? (size_t)n : 0;
            struct control_msg m;
            int r;
            while ((r = control_feed(&rd, &d, &left, &m)) == 1) {
                if (m.kind == CONTROL_KILL)
                    kill(pid, (int)m.a);
                else if (m.kind == CONTROL_WINCH && master >= 0) {
                    struct winsize ws = {.ws_row = (unsigned short)m.a, .ws_col = (unsigned short)m.b};
                    ioctl(master, TIOCSWINSZ, &ws);
                }
            }
        }
        if (p[2].revents && pump(master, out)) {
            /* The terminal's last holder closed it: what it wrote is out. */
            close(master);
            master = -1;
        }
        if (p[3].revents && pump(in, master)) {
            close(in);
            in = -1;
        }
    }
    /* As when a container's pid 1 ends: everything else in it goes. */
    kill(-1, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    if (master >= 0) {
        while (pump(master, out) == 0)
            ;
    }
    unmount_volumes(&l);
    if (WIFSIGNALED(wstatus))
        send_msg(ctl, CONTROL_SIGNAL, (unsigned)WTERMSIG(wstatus), NULL);
    else
        send_msg(ctl, CONTROL_EXIT, (unsigned)WEXITSTATUS(wstatus), NULL);
end:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (errfd >= 0)
        close(errfd);
    shutdown(ctl, SHUT_WR);
    /* The host ends the VM once it has the status and every byte of
     * output; if it does not within 10 s, power off. */
    struct pollfd p = {ctl, POLLIN, 0};
    char c;
    while (poll(&p, 1, 10000) > 0 && read(ctl, &c, 1) > 0)
        ;
    poweroff();
}
