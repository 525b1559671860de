/*
 * firstline: how long a command takes to print a given string.
 *
 *   firstline [-n RUNS] [-t TIMEOUT_S] [-q|--quiet] -p PATTERN -- CMD [ARGS...]
 *
 * Each run starts the clock (CLOCK_MONOTONIC) just before fork(), reads the
 * child's stdout and stderr through one pipe, and stops the clock when
 * PATTERN has appeared; it then SIGKILLs the child's process group (a VMM
 * that is stopped at its first line need not shut down cleanly) and reaps it.
 * The last line printed is machine readable:
 *   median_ms=.. min_ms=.. max_ms=.. runs=N failed=K rss_max_kib=..
 * Any failed run (timeout, or the child exited without printing PATTERN) makes
 * the exit status 1: a benchmark that half works is not a result.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Output kept to explain a failed run; also bounds the pattern's length. */
enum { TAIL = 512 };

struct run {
    int ok;
    double ms;
    long rss_kib;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: firstline [-n RUNS] [-t TIMEOUT_S] [-q|--quiet] -p PATTERN -- CMD [ARGS...]\n");
    exit(2);
}

/* One run; on failure says why on stderr and shows the output's tail. */
static struct run run_once(char **argv, const char *pat, double timeout_ms)
{
    struct run r = { 0, 0, 0 };
    size_t plen = strlen(pat);
    /* The output's unmatched tail: a pattern may straddle two reads. */
    char buf[TAIL + 4096];
    size_t have = 0;
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("firstline: pipe2");
        return r;
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("firstline: fork");
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (pid == 0) {
        /* Own process group, so one kill reaches anything the command forks. */
        setpgid(0, 0);
        /* stdin from /dev/null: a VMM must not grab (or leave raw) our tty. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execvp(argv[0], argv);
        dprintf(2, "firstline: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: the child may not have run yet */
    close(fds[1]);

    const char *why = NULL;
    for (;;) {
        double left = t0 + timeout_ms - now_ms();
        if (left <= 0) {
            why = "timed out";
            break;
        }
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left + 1);
        if (n < 0 && errno != EINTR) {
            why = "poll failed";
            break;
        }
        if (n <= 0)
            continue;
        ssize_t got = read(fds[0], buf + have, sizeof(buf) - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            why = "output ended without the pattern";
            break;
        }
        have += (size_t)got;
        if (memmem(buf, have, pat, plen)) {
            r.ms = now_ms() - t0;
            r.ok = 1;
            break;
        }
        /* Keep the tail: it holds any match's start, as plen <= TAIL. */
        if (have > TAIL) {
            memmove(buf, buf + have - TAIL, TAIL);
            have = TAIL;
        }
    }

    kill(-pid, SIGKILL);
    close(fds[0]);
    int status;
    struct rusage ru = { 0 };
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    r.rss_kib = ru.ru_maxrss; /* peak RSS of the command itself, in KiB */
    if (!r.ok) {
        fprintf(stderr, "firstline: run failed: %s after %.0f ms; last output:\n%.*s\n",
                why, now_ms() - t0, (int)have, buf);
    }
    return r;
}

int main(int argc, char **argv)
{
    int runs = 5, quiet = 0;
    double timeout_s = 30;
    const char *pat = NULL;
    static const struct option longopts[] = {
        { "quiet", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    char *end;
    int c;

    /* '+': stop at the command's name even without "--". */
    while ((c = getopt_long(argc, argv, "+n:t:p:q", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            runs = (int)strtol(optarg, &end, 10);
            if (*end || runs < 1 || runs > 1000)
                usage();
            break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (*end || !(timeout_s > 0))
                usage();
            break;
        case 'p':
            pat = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        default:
            usage();
        }
    }
    if (!pat || !*pat || strlen(pat) > TAIL || optind >= argc)
        usage();
    /* The child is killed while it may still be writing. */
    signal(SIGPIPE, SIG_IGN);

    double *ms = calloc((size_t)runs, sizeof(*ms));
    if (!ms) {
        perror("firstline");
        return 1;
    }
    int ok = 0;
    long rss_max = 0;
    for (int i = 0; i < runs; i++) {
        struct run r = run_once(argv + optind, pat, timeout_s * 1e3);
        if (r.rss_kib > rss_max)
            rss_max = r.rss_kib;
        if (r.ok)
            ms[ok++] = r.ms;
        if (!quiet) {
            if (r.ok)
                printf("run %d: %.1f ms (peak RSS %ld KiB)\n", i + 1, r.ms, r.rss_kib);
            else
                printf("run %d: FAILED\n", i + 1);
            fflush(stdout);
        }
    }

    int failed = runs - ok;
    if (ok == 0) {
        printf("median_ms=nan min_ms=nan max_ms=nan runs=0 failed=%d rss_max_kib=%ld\n", failed,
               rss_max);
        free(ms);
        return 1;
    }
    qsort(ms, (size_t)ok, sizeof(*ms), cmp_double);
    double median = ok % 2 ? ms[ok / 2] : (ms[ok / 2 - 1] + ms[ok / 2]) / 2;
    if (!quiet)
        printf("min/median/max: %.1f / %.1f / %.1f ms over %d runs\n", ms[0], median,
               ms[ok - 1], ok);
    printf("median_ms=%.1f min_ms=%.1f max_ms=%.1f runs=%d failed=%d rss_max_kib=%ld\n", median,
           ms[0], ms[ok - 1], ok, failed, rss_max);
    free(ms);
    return failed ? 1 : 0;
}
