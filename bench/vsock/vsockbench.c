/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsockbench: the host's side of bench/vsock (bench/vsock/README.md).
 * Every transfer writes 64 KiB at a time; every figure is printed as one
 * line "RESULT NAME VALUE UNIT" for run.sh.
 *
 *   pair BYTES            AF_UNIX socketpair, writer -> reader process:
 *                         the ceiling a Unix socket sets (MiB/s)
 *   unix-conns N          N AF_UNIX connects to an acceptor that closes at
 *                         once, each waiting for that close (conn/s)
 *   sink PATH             listen at PATH, take one connection, read it to
 *                         EOF: MiB/s from accept to EOF (guest -> host)
 *   source UDS PORT BYTES Firecracker's CONNECT PORT through UDS, then BYTES
 *                         and shutdown; MiB/s from OK to the guest's close
 *   conns UDS PORT N      N times: connect UDS, CONNECT PORT, read the OK
 *                         line, close (conn/s, host -> guest)
 *   acceptor PATH         listen at PATH, accept and close, forever
 *
 * For QEMU's vhost-vsock-device, whose host side is AF_VSOCK itself: PATH
 * may be vsock:PORT (a listener on this host's CID, VMADDR_CID_ANY), and
 *   vsource CID PORT BYTES   connect to CID:PORT, BYTES and shutdown, MiB/s to its close
 *   vconns CID PORT N        N connects to CID:PORT, each closed at once
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static uint8_t buf[CHUNK];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "vsockbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static struct sockaddr_un addr(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "vsockbench: %s: path too long\n", path);
        exit(2);
    }
    strcpy(a.sun_path, path);
    return a;
}

static int listen_at(const char *path)
{
    if (!strncmp(path, "vsock:", 6)) {
        struct sockaddr_vm v = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                                .svm_port = (unsigned)strtoul(path + 6, NULL, 0)};
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&v, sizeof(v)) || listen(fd, 128))
            die(path);
        return fd;
    }
    struct sockaddr_un a = addr(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128))
        die(path);
    return fd;
}

static int vsock_connect_to(const char *cid, const char *port)
{
    struct sockaddr_vm v = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)strtoul(cid, NULL, 0),
                            .svm_port = (unsigned)strtoul(port, NULL, 0)};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&v, sizeof(v)))
        die("AF_VSOCK connect");
    return fd;
}

static int connect_to(const char *path)
{
    struct sockaddr_un a = addr(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
        die(path);
    return fd;
}

static void write_all(int fd, uint64_t bytes)
{
    while (bytes) {
        size_t n = bytes < CHUNK ? (size_t)bytes : CHUNK;
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write");
        bytes -= (uint64_t)w;
    }
}

static uint64_t read_to_eof(int fd)
{
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read");
        if (r == 0)
            return total;
        total += (uint64_t)r;
    }
}

/* Firecracker's host-initiated connect: "CONNECT PORT\n", then "OK N\n". */
static int fc_connect(const char *uds, const char *port)
{
    int fd = connect_to(uds);
    char line[64];
    int n = snprintf(line, sizeof(line), "CONNECT %s\n", port);
    if (write(fd, line, (size_t)n) != n)
        die("CONNECT");
    size_t got = 0;
    while (got < sizeof(line) - 1) {
        ssize_t r = read(fd, line + got, 1);
        if (r <= 0) {
            fprintf(stderr, "vsockbench: no OK line after CONNECT %s\n", port);
            exit(1);
        }
        if (line[got++] == '\n')
            break;
    }
    if (strncmp(line, "OK ", 3) != 0) {
        fprintf(stderr, "vsockbench: CONNECT %s answered '%.*s'\n", port, (int)got, line);
        exit(1);
    }
    return fd;
}

static void result(const char *name, double value, const char *unit)
{
    printf("RESULT %s %.1f %s\n", name, value, unit);
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(m, "pair") && argc == 3) {
        uint64_t bytes = strtoull(argv[2], NULL, 0);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            die("socketpair");
        double t0 = now_s();
        pid_t p = fork();
        if (p == 0) {
            close(sv[0]);
            _exit(read_to_eof(sv[1]) == bytes ? 0 : 1);
        }
        close(sv[1]);
        write_all(sv[0], bytes);
        shutdown(sv[0], SHUT_WR);
        int st;
        waitpid(p, &st, 0);
        double t = now_s() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
        result("pair", (double)bytes / 1048576 / t, "MiB/s");
    } else if (!strcmp(m, "unix-conns") && argc == 3) {
        long n = strtol(argv[2], NULL, 0);
        char path[] = "/tmp/vsockbench.XXXXXX";
        if (!mkdtemp(path))
            die("mkdtemp");
        char sock[sizeof(path) + 8];
        snprintf(sock, sizeof(sock), "%s/s", path);
        int l = listen_at(sock);
        pid_t p = fork();
        if (p == 0) {
            for (;;) {
                int c = accept(l, NULL, NULL);
                if (c >= 0)
                    close(c);
            }
        }
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
            int fd = connect_to(sock);
            read_to_eof(fd);
            close(fd);
        }
        double t = now_s() - t0;
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        unlink(sock);
        rmdir(path);
        result("unix-conns", (double)n / t, "conn/s");
    } else if (!strcmp(m, "sink") && argc == 3) {
        int l = listen_at(argv[2]);
        int c = accept(l, NULL, NULL);
        if (c < 0)
            die("accept");
        double t0 = now_s();
        uint64_t bytes = read_to_eof(c);
        double t = now_s() - t0;
        close(c);
        result("sink", (double)bytes / 1048576 / t, "MiB/s");
        printf("RESULT sink-bytes %llu bytes\n", (unsigned long long)bytes);
    } else if ((!strcmp(m, "source") || !strcmp(m, "vsource")) && argc == 5) {
        uint64_t bytes = strtoull(argv[4], NULL, 0);
        int fd = m[0] == 'v' ? vsock_connect_to(argv[2], argv[3]) : fc_connect(argv[2], argv[3]);
        double t0 = now_s();
        write_all(fd, bytes);
        shutdown(fd, SHUT_WR);
        read_to_eof(fd); /* the guest closes once it has read everything */
        double t = now_s() - t0;
        close(fd);
        result("source", (double)bytes / 1048576 / t, "MiB/s");
    } else if ((!strcmp(m, "conns") || !strcmp(m, "vconns")) && argc == 5) {
        long n = strtol(argv[4], NULL, 0);
        double t0 = now_s();
        for (long i = 0; i < n; i++)
            close(m[0] == 'v' ? vsock_connect_to(argv[2], argv[3]) : fc_connect(argv[2], argv[3]));
        double t = now_s() - t0;
        result("conns", (double)n / t, "conn/s");
    } else if (!strcmp(m, "acceptor") && argc == 3) {
        int l = listen_at(argv[2]);
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    } else {
        fprintf(stderr, "usage: vsockbench pair BYTES | unix-conns N | sink PATH | "
                        "source UDS PORT BYTES | conns UDS PORT N | acceptor PATH |\n"
                        "       vsource CID PORT BYTES | vconns CID PORT N (PATH may be vsock:PORT)\n");
        return 2;
    }
    return 0;
}
