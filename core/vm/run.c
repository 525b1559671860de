/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's way to run a VM to its end (plugvm run, plugvm restore, run
 * --image), over libplugvm's API (plugvm/vm.h). SIGINT and SIGTERM are
 * blocked in every thread (before plugvm_vm_start makes any, so the VM's
 * threads inherit it) and taken here from a signalfd, beside the VM's
 * event fd, so teardown runs in ordinary code, never in a signal handler.
 * libplugvm itself leaves signals to the program that embeds it.
 */
#include "run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/handle.h"
#include "util/log.h"

/* Milliseconds until `deadline` (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double left = (double)(deadline->tv_sec - now.tv_sec) * 1e3 +
                  (double)(deadline->tv_nsec - now.tv_nsec) / 1e6;
    return left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
}

/* Polls the VM's event fd and the signalfd until the VM stops. A signal
 * goes to on_signal (when it takes it, the VM runs on) or stops the VM;
 * so does the timeout (0: none), each with its own stop reason, so the
 * VM's exit status is 130, 143 or 124 (unless the guest stopped first).
 * Returns the signal, -1 for the timeout, 0 when it stopped by itself. */
static int wait_stop(struct plugvm_vm *vm, int sfd, double timeout_s, bool (*on_signal)(void *arg, int sig),
                     void *arg)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)timeout_s;
    deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    struct pollfd p[2] = {{.fd = plugvm_vm_event_fd(vm), .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    for (;;) {
        int timeout = timeout_s > 0 ? ms_left(&deadline) : -1;
        if (timeout == 0) {
            handle_stop_for(vm, VM_STOP_TIMEOUT, NULL);
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
        handle_stop_for(vm, sig == SIGINT ? VM_STOP_SIGINT : VM_STOP_SIGTERM, NULL);
        return sig;
    }
}

int run_until_stopped(struct plugvm_vm *vm, double timeout_s, bool (*on_signal)(void *arg, int sig),
                      void *arg)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK), status = 1;
    struct plugvm_error e;
    if (sfd < 0) {
        pv_err("signalfd: %s", strerror(errno));
    } else if (plugvm_vm_start(vm, &e)) {
        pv_err("%s", e.message);
    } else {
        int why = wait_stop(vm, sfd, timeout_s, on_signal, arg);
        plugvm_vm_wait(vm, -1, &status, NULL);
        if (why < 0)
            pv_err("--timeout of %g s elapsed: the VM was stopped", timeout_s);
    }
    /* A signal sent after the wait ended is still pending: take it here,
     * or unblocking would deliver it with its default action. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    if (sfd >= 0)
        close(sfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return status;
}
