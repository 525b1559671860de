/* SPDX-License-Identifier: Apache-2.0 */
/* KVM_RUN and the translation of every KVM exit into a plugvm_exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

/* A kick is a signal that interrupts KVM_RUN (EINTR); its handler does
 * nothing. A real-time signal, so it never collides with the core's
 * SIGINT/SIGTERM handling or a user's SIGUSR1. */
#define KICK_SIGNAL (SIGRTMIN + 3)

static void kick_handler(int sig)
{
    (void)sig;
}

int kvm_install_kick_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    return sigaction(KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

void kvm_vcpu_kick(struct plugvm_vcpu *v)
{
    atomic_store(&v->kicked, true);
    /* immediate_exit covers the window between the check in
     * kvm_vcpu_run and entering KVM_RUN: KVM returns EINTR at once. */
    v->run->immediate_exit = 1;
    if (atomic_load(&v->thread_known))
        pthread_kill(v->thread, KICK_SIGNAL);
}

static int error_exit(struct plugvm_vcpu *v, struct plugvm_exit *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int error_exit(struct plugvm_vcpu *v, struct plugvm_exit *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->error, sizeof(v->error), fmt, ap);
    va_end(ap);
    e->reason = PLUGVM_EXIT_ERROR;
    e->error.what = v->error;
    return 0;
}

static const char *internal_suberror(uint32_t s)
{
    switch (s) {
    case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit";
    }
    return "unknown suberror";
}

int kvm_vcpu_run(struct plugvm_vcpu *v, struct plugvm_exit *e)
{
    struct kvm_run *run = v->run;
    if (!atomic_load(&v->thread_known)) {
        v->thread = pthread_self();
        atomic_store(&v->thread_known, true);
    }
    memset(e, 0, sizeof(*e));
    for (;;) {
        int rc;
        if (atomic_exchange(&v->kicked, false)) {
            if (!v->exit_pending) {
                run->immediate_exit = 0;
                e->reason = PLUGVM_EXIT_INTR;
                return 0;
            }
            /* Complete the pending exit and run nothing more: with
             * immediate_exit set, KVM_RUN returns EINTR once it is done.
             * But completing one iteration of a `rep outs`/`rep ins` can
             * make the next iteration's exit: that one is returned to be
             * handled like any other (dropping it lost a byte of the
             * guest's output), and the kick stays on, so the next call
             * comes back here. */
            atomic_store(&v->kicked, true);
            run->immediate_exit = 1;
            v->exit_pending = false;
            rc = ioctl(v->fd, KVM_RUN, 0);
        } else {
            v->exit_pending = false;
            rc = ioctl(v->fd, KVM_RUN, 0);
        }
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue; /* a kick, or a signal meant for someone else */
            int err = errno;
            error_exit(v, e, "KVM_RUN failed: %s", strerror(err));
            return -err;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            v->exit_pending = true;
            e->reason = PLUGVM_EXIT_IO;
            e->io.port = run->io.port;
            e->io.size = run->io.size;
            e->io.count = run->io.count;
            e->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
            e->io.data = (uint8_t *)run + run->io.data_offset;
            return 0;
        case KVM_EXIT_MMIO:
            v->exit_pending = true;
            e->reason = PLUGVM_EXIT_MMIO;
            e->mmio.gpa = run->mmio.phys_addr;
            e->mmio.len = run->mmio.len;
            e->mmio.is_write = run->mmio.is_write;
            e->mmio.data = run->mmio.data;
            return 0;
        case KVM_EXIT_HLT:
            e->reason = PLUGVM_EXIT_HLT;
            return 0;
        case KVM_EXIT_SHUTDOWN:
            e->reason = PLUGVM_EXIT_SHUTDOWN;
            return 0;
        case KVM_EXIT_INTR:
            continue;
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run->system_event.type) {
            case KVM_SYSTEM_EVENT_RESET:
                e->reason = PLUGVM_EXIT_RESET;
                return 0;
            case KVM_SYSTEM_EVENT_SHUTDOWN:
                e->reason = PLUGVM_EXIT_POWEROFF;
                return 0;
            default:
                return error_exit(v, e, "guest system event %u (crash or unknown)",
                                  run->system_event.type);
            }
        case KVM_EXIT_INTERNAL_ERROR: {
            char data[128] = "";
            size_t n = 0;
            for (uint32_t i = 0; i < run->internal.ndata && i < 4 && n < sizeof(data); i++)
                n += (size_t)snprintf(data + n, sizeof(data) - n, " %llx",
                                      (unsigned long long)run->internal.data[i]);
            return error_exit(v, e, "KVM internal error %u (%s), data:%s", run->internal.suberror,
                              internal_suberror(run->internal.suberror), data);
        }
        case KVM_EXIT_FAIL_ENTRY:
            return error_exit(v, e, "VM entry failed, hardware reason 0x%llx on CPU %u",
                              (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                              run->fail_entry.cpu);
        default:
            return error_exit(v, e, "unexpected KVM exit reason %u", run->exit_reason);
        }
    }
}
