/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock-tool: the e2e case `vsock`'s peer (tests/e2e/README.md), a small
 * static program for the guest (AF_VSOCK, through Linux's own virtio
 * vsock driver) that also runs on the host (AF_UNIX, Firecracker's
 * CONNECT scheme). Data is a seeded xorshift stream, so each side can
 * check what it got without the other sending a digest.
 *
 *   cid                            the guest's own CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID)
 *   gen BYTES SEED                 the stream to stdout (the host's sha256sum of it)
 *   echo CID PORT BYTES [SEED]     connect; send the stream while reading it back;
 *                                  exit 0 when every byte came back as sent
 *   many N CID PORT BYTES          N echo clients at once (seeds 1..N); exit 0 when all pass
 *   send CID PORT BYTES SEED       connect, send the stream, shut down writing, wait for EOF
 *   recv PORT                      accept one connection, copy it to stdout until EOF
 *   echo-server PORT               accept forever, one child per connection echoing to EOF
 *   connect CID PORT               connect and close: prints "connected" or the errno name
 *   hold CID PORT                  connect, echo one byte, print "E2E-VSOCK-HOLD up", then read
 *                                  until the connection fails: prints "E2E-VSOCK-HOLD ERRNO"
 *   uconnect UDS PORT BYTES [N]    host side: N (default 1) connections through UDS with
 *                                  "CONNECT PORT\n", each checking "OK <n>\n" and then an
 *                                  echo of BYTES; prints the first OK line
 *   uconnect-refused UDS PORT      host side: CONNECT to a port nobody listens on:
 *                                  exit 0 when the socket closes with no OK
 *   seq CID PORT                   SOCK_SEQPACKET: 7 messages (1 B to 100000 B), each echoed
 *                                  whole; connect failure prints the errno name, status 3
 *   useq-echo PATH                 host side: a SOCK_SEQPACKET listener echoing records
 * For bench/vsock:
 *   blast CID PORT BYTES           connect, write BYTES in 64 KiB writes, shut down, wait for EOF
 *   sink PORT                      accept forever; read each connection to EOF, close it
 *   acceptor PORT                  accept forever; close each connection at once
 *   conns CID PORT N               N connects, each closed at once: prints "N MILLISECONDS"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct gen {
    uint64_t s, word;
    unsigned left; /* bytes of word not yet used */
};

static void gen_init(struct gen *g, uint64_t seed)
{
    g->s = seed * 0x9e3779b97f4a7c15ull + 1;
    g->left = 0;
}

static void gen_fill(struct gen *g, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!g->left) {
            g->s ^= g->s << 13;
            g->s ^= g->s >> 7;
            g->s ^= g->s << 17;
            g->word = g->s;
            g->left = 8;
        }
        p[i] = (uint8_t)g->word;
        g->word >>= 8;
        g->left--;
    }
}

static int vsock_connect(unsigned cid, unsigned port)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
    /* Linux gives a vsock connect 2 s by default; 64 at once in a guest
     * under nested TCG take longer than that to be scheduled and have
     * their RESPONSE processed (seen: a third timed out). A refusal still
     * comes at once, as an RST. */
    struct timeval tv = {.tv_sec = 30};
    if (fd >= 0)
        setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int vsock_listen(unsigned port)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
        perror("vsock listen");
        exit(2);
    }
    return fd;
}

/* Sends `bytes` of stream `seed` on fd while reading them back; 0 when all
 * came back equal. */
static int echo_check(int fd, uint64_t bytes, uint64_t seed)
{
    static __thread uint8_t out[65536], in[65536], want[65536];
    struct gen gs, gr;
    gen_init(&gs, seed);
    gen_init(&gr, seed);
    uint64_t sent = 0, got = 0;
    size_t pend = 0, off = 0; /* out[off..pend) not yet written */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (got < bytes) {
        if (off == pend && sent < bytes) {
            pend = bytes - sent < sizeof(out) ? (size_t)(bytes - sent) : sizeof(out);
            gen_fill(&gs, out, pend);
            off = 0;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (off < pend ? POLLOUT : 0)};
        if (poll(&p, 1, 30000) != 1) {
            fprintf(stderr, "echo: stalled at %llu sent, %llu back\n", (unsigned long long)sent,
                    (unsigned long long)got);
            return 1;
        }
        if (off < pend && (p.revents & POLLOUT)) {
            ssize_t w = write(fd, out + off, pend - off);
            if (w < 0 && errno != EAGAIN) {
                perror("echo: write");
                return 1;
            }
            if (w > 0) {
                off += (size_t)w;
                sent += (uint64_t)w;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, in, sizeof(in));
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0) {
                fprintf(stderr, "echo: %s after %llu bytes back\n", r ? strerror(errno) : "EOF",
                        (unsigned long long)got);
                return 1;
            }
            gen_fill(&gr, want, (size_t)r);
            if (memcmp(in, want, (size_t)r) != 0) {
                fprintf(stderr, "echo: bytes differ near %llu\n", (unsigned long long)got);
                return 1;
            }
            got += (uint64_t)r;
        }
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_stream(int fd, uint64_t bytes, uint64_t seed)
{
    static uint8_t buf[65536];
    struct gen g;
    gen_init(&g, seed);
    while (bytes) {
        size_t n = bytes < sizeof(buf) ? (size_t)bytes : sizeof(buf);
        gen_fill(&g, buf, n);
        if (write_all(fd, buf, n))
            return -1;
        bytes -= n;
    }
    return 0;
}

static int copy_out(int fd)
{
    static uint8_t buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (write_all(1, buf, (size_t)r))
            return -1;
    }
}

static int unix_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        perror(path);
        exit(2);
    }
    return fd;
}

/* Reads the answer line to CONNECT byte by byte (nothing past its newline). */
static int read_line(int fd, char *line, size_t n)
{
    size_t k = 0;
    while (k + 1 < n) {
        ssize_t r = read(fd, line + k, 1);
        if (r <= 0)
            break;
        if (line[k++] == '\n')
            break;
    }
    line[k] = '\0';
    return (int)k;
}

static int uconnect_one(const char *uds, unsigned port, uint64_t bytes, uint64_t seed, bool print)
{
    int fd = unix_connect(uds);
    char cmd[32], line[64];
    snprintf(cmd, sizeof(cmd), "CONNECT %u\n", port);
    if (write_all(fd, (const uint8_t *)cmd, strlen(cmd)))
        return 1;
    if (read_line(fd, line, sizeof(line)) < 4 || strncmp(line, "OK ", 3) != 0) {
        fprintf(stderr, "uconnect: no OK line (got '%s')\n", line);
        return 1;
    }
    if (print)
        printf("%s", line);
    int rc = echo_check(fd, bytes, seed);
    close(fd);
    return rc;
}

/* Runs fn's children N at once; 0 when all exited 0. */
static int fan_out(unsigned n, int (*fn)(unsigned i, void *arg), void *arg)
{
    unsigned failed = 0;
    for (unsigned i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(fn(i, arg));
        if (p < 0)
            failed++;
    }
    int st;
    while (wait(&st) > 0)
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    if (failed)
        fprintf(stderr, "%u of %u failed\n", failed, n);
    return failed ? 1 : 0;
}

struct many_args {
    unsigned cid, port;
    uint64_t bytes;
    const char *uds;
};

static int many_vsock(unsigned i, void *arg)
{
    struct many_args *m = arg;
    int fd = vsock_connect(m->cid, m->port);
    if (fd < 0) {
        perror("connect");
        return 1;
    }
    return echo_check(fd, m->bytes, i + 1);
}

static int many_unix(unsigned i, void *arg)
{
    struct many_args *m = arg;
    return uconnect_one(m->uds, m->port, m->bytes, i + 1, false);
}

static uint64_t num(const char *s)
{
    return strtoull(s, NULL, 0);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "cid") && argc == 2) {
        unsigned cid = 0;
        int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid)) {
            perror("/dev/vsock");
            return 1;
        }
        printf("%u\n", cid);
        return 0;
    } else if (!strcmp(m, "gen") && argc == 4) {
        return send_stream(1, num(argv[2]), num(argv[3])) ? 1 : 0;
    } else if (!strcmp(m, "echo") && (argc == 5 || argc == 6)) {
        int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
        if (fd < 0) {
            perror("connect");
            return 2;
        }
        return echo_check(fd, num(argv[4]), argc == 6 ? num(argv[5]) : 1);
    } else if (!strcmp(m, "many") && argc == 6) {
        struct many_args a = {(unsigned)num(argv[3]), (unsigned)num(argv[4]), num(argv[5]), NULL};
        return fan_out((unsigned)num(argv[2]), many_vsock, &a);
    } else if (!strcmp(m, "send") && argc == 6) {
        int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
        if (fd < 0) {
            perror("connect");
            return 2;
        }
        if (send_stream(fd, num(argv[4]), num(argv[5])) || shutdown(fd, SHUT_WR))
            return 1;
        char c;
        while (read(fd, &c, 1) > 0) /* the host closes once it has it all */
            ;
        return 0;
    } else if (!strcmp(m, "recv") && argc == 3) {
        int l = vsock_listen((unsigned)num(argv[2]));
        int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        return fd < 0 || copy_out(fd) ? 1 : 0;
    } else if (!strcmp(m, "echo-server") && argc == 3) {
        int l = vsock_listen((unsigned)num(argv[2]));
        signal(SIGCHLD, SIG_IGN);
        for (;;) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            if (fork() == 0) {
                static uint8_t buf[65536];
                ssize_t r;
                while ((r = read(fd, buf, sizeof(buf))) > 0)
                    if (write_all(fd, buf, (size_t)r))
                        break;
                _exit(0);
            }
            close(fd);
        }
    } else if (!strcmp(m, "connect") && argc == 4) {
        int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
        printf("%s\n", fd >= 0 ? "connected" : strerrorname_np(errno));
        return fd >= 0 ? 0 : 3;
    } else if (!strcmp(m, "hold") && argc == 4) {
        int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
        char c = 'h';
        if (fd < 0 || write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
            printf("E2E-VSOCK-HOLD failed %s\n", strerrorname_np(errno));
            return 1;
        }
        printf("E2E-VSOCK-HOLD up\n");
        fflush(stdout);
        ssize_t r;
        while ((r = read(fd, &c, 1)) > 0)
            ;
        printf("E2E-VSOCK-HOLD %s\n", r == 0 ? "EOF" : strerrorname_np(errno));
        return 0;
    } else if (!strcmp(m, "uconnect") && (argc == 5 || argc == 6)) {
        unsigned n = argc == 6 ? (unsigned)num(argv[5]) : 1;
        if (n == 1)
            return uconnect_one(argv[2], (unsigned)num(argv[3]), num(argv[4]), 1, true);
        struct many_args a = {0, (unsigned)num(argv[3]), num(argv[4]), argv[2]};
        return fan_out(n, many_unix, &a);
    } else if (!strcmp(m, "uconnect-refused") && argc == 4) {
        int fd = unix_connect(argv[2]);
        char cmd[32], line[64];
        snprintf(cmd, sizeof(cmd), "CONNECT %u\n", (unsigned)num(argv[3]));
        if (write_all(fd, (const uint8_t *)cmd, strlen(cmd)))
            return 1;
        int k = read_line(fd, line, sizeof(line));
        if (k > 0) {
            fprintf(stderr, "uconnect-refused: got '%s'\n", line);
            return 1;
        }
        return 0;
    } else if (!strcmp(m, "seq") && argc == 4) {
        /* SOCK_SEQPACKET: messages of several sizes, each echoed whole. */
        static const uint32_t sizes[] = {1, 1000, 4096, 5000, 65536, 100000, 7};
        static uint8_t out[100000], in[200000];
        int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)num(argv[2]),
                                .svm_port = (unsigned)num(argv[3])};
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
            printf("%s\n", strerrorname_np(errno));
            return 3;
        }
        for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            for (uint32_t i = 0; i < sizes[k]; i++)
                out[i] = (uint8_t)(i * 7 + k);
            if (send(fd, out, sizes[k], 0) != (ssize_t)sizes[k]) {
                printf("send %u: %s\n", sizes[k], strerrorname_np(errno));
                return 1;
            }
            ssize_t r = recv(fd, in, sizeof(in), 0);
            if (r != (ssize_t)sizes[k] || memcmp(in, out, sizes[k])) {
                printf("message %u of %u bytes came back as %zd bytes%s\n", k, sizes[k], r,
                       r == (ssize_t)sizes[k] ? ", different" : "");
                return 1;
            }
        }
        printf("%zu messages echoed whole\n", sizeof(sizes) / sizeof(sizes[0]));
        return 0;
    } else if (!strcmp(m, "useq-echo") && argc == 3) {
        /* host side: a SOCK_SEQPACKET listener echoing each record whole */
        static uint8_t buf[262144];
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
        int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 16)) {
            perror(argv[2]);
            return 1;
        }
        for (;;) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            ssize_t r;
            while (fd >= 0 && (r = recv(fd, buf, sizeof(buf), 0)) > 0)
                if (send(fd, buf, (size_t)r, MSG_NOSIGNAL) != r)
                    break;
            if (fd >= 0)
                close(fd);
        }
    } else if (!strcmp(m, "blast") && argc == 5) {
        /* bench/vsock: BYTES of one 64 KiB buffer, no generator in the way. */
        static uint8_t buf[65536];
        int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
        if (fd < 0) {
            perror("connect");
            return 2;
        }
        for (uint64_t left = num(argv[4]); left;) {
            size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
            if (write_all(fd, buf, n))
                return 1;
            left -= n;
        }
        char c;
        shutdown(fd, SHUT_WR);
        while (read(fd, &c, 1) > 0) /* the host closes once it has it all */
            ;
        return 0;
    } else if (!strcmp(m, "sink") && argc == 3) {
        /* bench/vsock: each connection read to EOF and closed, forever. */
        static uint8_t buf[65536];
        int l = vsock_listen((unsigned)num(argv[2]));
        for (;;) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
            close(fd);
        }
    } else if (!strcmp(m, "acceptor") && argc == 3) {
        int l = vsock_listen((unsigned)num(argv[2]));
        for (;;) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
        }
    } else if (!strcmp(m, "conns") && argc == 5) {
        /* bench/vsock: N connects, each closed at once; prints "N MS". */
        unsigned n = (unsigned)num(argv[4]);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (unsigned i = 0; i < n; i++) {
            int fd = vsock_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]));
            if (fd < 0) {
                perror("connect");
                return 2;
            }
            close(fd);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%u %ld\n", n, (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000));
        return 0;
    }
    fprintf(stderr, "usage: see guest/e2e/vsock-tool.c\n");
    return 2;
}
