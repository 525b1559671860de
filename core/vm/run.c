/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm_run: the CLI's way to run a VM to its end (plugvm run, plugvm
 * restore, run --image). SIGINT and SIGTERM are blocked in every thread
 * (so they must be blocked before vm_start makes any) and taken here from
 * a signalfd, beside the VM's stop_fd, so teardown runs in ordinary code,
 * never in a signal handler. libplugvm (core/lib) leaves signals to the
 * program that embeds it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "vm/vm.h"

/* Milliseconds until `deadline` (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double left = (double)(deadline->tv_sec - now.tv_sec) * 1e3 +
                  (double)(deadline->tv_nsec - now.tv_nsec) / 1e6;
    return left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
}

int run_wait(int stop_fd, int sfd, double timeout_s, bool (*on_signal)(void *arg, int sig),
             void (*stop)(void *arg, int why), void *arg)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)timeout_s;
    deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    struct pollfd p[2] = {{.fd = stop_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    for (;;) {
        int timeout = timeout_s > 0 ? ms_left(&deadline) : -1;
        if (timeout == 0) {
            stop(arg, 0);
            return -1;
        }
        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            return 0;
        if (p[0].revents & POLLIN)
            return 0;
        struct signalfd_siginfo si;
        if (!(p[1].revents & POLLIN) || read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        int sig = (int)si.ssi_signo;
        if (on_signal && on_signal(arg, sig))
            continue;
        stop(arg, sig);
        return sig;
    }
}

int run_signals_block(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, old);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

void run_signals_restore(int sfd, const sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* A signal sent after the wait ended is still pending: take it here,
     * or unblocking would deliver it with its default action. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    if (sfd >= 0)
        close(sfd);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

struct run_ctx {
    struct vm *vm;
    const struct vm_options *opt;
};

static bool ctx_on_signal(void *arg, int sig)
{
    struct run_ctx *c = arg;
    return c->opt->on_signal && c->opt->on_signal(c->opt->hook_arg, sig);
}

static void ctx_stop(void *arg, int sig)
{
    struct run_ctx *c = arg;
    vm_request_stop(c->vm, sig == SIGINT ? VM_STOP_SIGINT : sig == SIGTERM ? VM_STOP_SIGTERM : VM_STOP_TIMEOUT);
}

int vm_run(const struct vm_config *cfg, struct plugin_set *plugins, const struct vm_options *opt)
{
    sigset_t old;
    int sfd = run_signals_block(&old);
    char err[2048];
    struct vm *vm;
    int status = 1;
    if (sfd < 0) {
        pv_err("signalfd: %s", strerror(errno));
    } else if (vm_start(cfg, plugins, opt, &vm, err, sizeof(err))) {
        pv_err("%s", err);
    } else {
        struct run_ctx c = {vm, opt};
        run_wait(vm_stop_fd(vm), sfd, opt->timeout_s, ctx_on_signal, ctx_stop, &c);
        enum vm_stop why = vm_stop_state(vm);
        status = vm_finish(vm);
        if (why == VM_STOP_TIMEOUT)
            pv_err("--timeout of %g s elapsed: the VM was stopped", opt->timeout_s);
    }
    run_signals_restore(sfd, &old);
    return status;
}
