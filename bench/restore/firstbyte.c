/*
 * firstbyte: how long a command takes to write its first byte on stdout.
 *
 *   firstbyte [-t TIMEOUT_S] [-w STDERR_PATTERN] [-l LINES] [-o OUT] [-e ERR] -- CMD [ARGS...]
 *
 * One run. The clock (CLOCK_MONOTONIC) starts just before fork(); the
 * child's stdout and stderr come through two pipes, so that a VMM's own log
 * lines (stderr) never count as the guest's output (stdout: the serial
 * console). The time of the first stdout byte is what is reported. The run
 * goes on, untimed, until stdout holds LINES newlines (default 2: enough to
 * check a whole line of the guest's output afterwards) and, with -w, until
 * STDERR_PATTERN has appeared on stderr (plugvm's own "vCPUs running"
 * line); then the child's process group is SIGKILLed and reaped.
 * OUT and ERR receive what was read from stdout and stderr (the first
 * 64 KiB of each). Prints one line:
 *   first_byte_ms=.. stderr_pattern_ms=.. rss_kib=..
 * (stderr_pattern_ms=nan without -w). Exit status 1, saying why on stderr,
 * when the timeout expires or the command ends first.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { KEEP = 64 * 1024 };

struct stream {
    int fd;
    char buf[KEEP];
    size_t have;
    double first_ms; /* NAN until the first byte */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: firstbyte [-t TIMEOUT_S] [-w STDERR_PATTERN] [-l LINES] [-o OUT] "
                    "[-e ERR] -- CMD [ARGS...]\n");
    exit(2);
}

static void save(const char *path, const struct stream *s)
{
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    fwrite(s->buf, 1, s->have, f);
    fclose(f);
}

static size_t count_nl(const struct stream *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->have; i++)
        n += s->buf[i] == '\n';
    return n;
}

int main(int argc, char **argv)
{
    double timeout_s = 10;
    const char *pat = NULL, *out_path = NULL, *err_path = NULL;
    long lines = 2;
    char *end;
    int c;

    while ((c = getopt(argc, argv, "+t:w:l:o:e:")) != -1) {
        switch (c) {
        case 't':
            timeout_s = strtod(optarg, &end);
            if (*end || !(timeout_s > 0))
                usage();
            break;
        case 'w':
            pat = optarg;
            break;
        case 'l':
            lines = strtol(optarg, &end, 10);
            if (*end || lines < 0)
                usage();
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'e':
            err_path = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc || (pat && !*pat))
        usage();
    signal(SIGPIPE, SIG_IGN);

    static struct stream so, se;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        perror("firstbyte: pipe2");
        return 1;
    }
    so.first_ms = se.first_ms = NAN;
    double pat_ms = NAN;

    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("firstbyte: fork");
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execvp(argv[optind], argv + optind);
        dprintf(2, "firstbyte: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]);
    close(pe[1]);
    so.fd = po[0];
    se.fd = pe[0];

    const char *why = NULL;
    for (;;) {
        bool done = !isnan(so.first_ms) && count_nl(&so) >= (size_t)lines &&
                    (!pat || !isnan(pat_ms));
        if (done)
            break;
        double left = t0 + timeout_s * 1e3 - now_ms();
        if (left <= 0) {
            why = "timed out";
            break;
        }
        struct pollfd p[2] = { { .fd = so.fd, .events = POLLIN }, { .fd = se.fd, .events = POLLIN } };
        int n = poll(p, 2, left > 1000 ? 1000 : (int)left + 1);
        double t = now_ms();
        if (n < 0 && errno != EINTR) {
            why = "poll failed";
            break;
        }
        if (n <= 0)
            continue;
        bool ended = false;
        for (int i = 0; i < 2; i++) {
            struct stream *s = i ? &se : &so;
            if (s->fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[4096];
            ssize_t got = read(s->fd, tmp, sizeof(tmp));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                /* The stream's end: fatal only if what is awaited on it
                 * has not come (checked below, after both reads). */
                close(s->fd);
                s->fd = -1;
                if (s == &so || (pat && isnan(pat_ms)))
                    ended = true;
                continue;
            }
            if (isnan(s->first_ms))
                s->first_ms = t - t0;
            size_t room = KEEP - s->have;
            size_t k = (size_t)got < room ? (size_t)got : room;
            memcpy(s->buf + s->have, tmp, k);
            s->have += k;
            if (s == &se && pat && isnan(pat_ms) && memmem(se.buf, se.have, pat, strlen(pat)))
                pat_ms = t - t0;
        }
        if (ended && !(!isnan(so.first_ms) && count_nl(&so) >= (size_t)lines &&
                       (!pat || !isnan(pat_ms)))) {
            why = "the command's output ended first";
            break;
        }
    }

    kill(-pid, SIGKILL);
    /* Whatever was still in the pipes, for OUT and ERR. */
    for (int i = 0; i < 2; i++) {
        struct stream *s = i ? &se : &so;
        ssize_t got;
        if (s->fd < 0)
            continue;
        while (s->have < KEEP && (got = read(s->fd, s->buf + s->have, KEEP - s->have)) > 0)
            s->have += (size_t)got;
        close(s->fd);
    }
    int status;
    struct rusage ru = { 0 };
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    save(out_path, &so);
    save(err_path, &se);
    if (why) {
        fprintf(stderr, "firstbyte: %s after %.0f ms (stdout %zu bytes, stderr %zu bytes)\n", why,
                now_ms() - t0, so.have, se.have);
        return 1;
    }
    printf("first_byte_ms=%.2f stderr_pattern_ms=%.2f rss_kib=%ld\n", so.first_ms, pat_ms,
           ru.ru_maxrss);
    return 0;
}
