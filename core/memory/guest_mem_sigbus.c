/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A restored VM's RAM maps its memory file MAP_PRIVATE: a page the guest
 * has not written is read from the file when first touched. Truncated
 * under the VM, the file has no page to give, and the kernel sends SIGBUS
 * to whichever thread touched it: a device worker copying a descriptor, the
 * snapshot writer. (A vCPU touching it inside KVM_RUN gets EFAULT instead,
 * and the VM stops with that error.) Without a handler plugvm died with
 * no word on which file; with one it says so and exits with status 1.
 * Async-signal-safe only: the message is made before, write(2) and _exit.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest_mem.h"

static _Atomic(uintptr_t) watch_start, watch_end;
static char message[4352];
static size_t message_len;
static struct sigaction previous;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (a >= atomic_load(&watch_start) && a < atomic_load(&watch_end)) {
        ssize_t w = write(STDERR_FILENO, message, message_len);
        (void)w;
        _exit(1);
    }
    /* Not guest RAM: the fault it always was. Returning runs the faulting
     * access again under the previous disposition. */
    sigaction(sig, &previous, NULL);
}

int guest_mem_watch_sigbus(const struct guest_mem *m, const char *path)
{
    int n = snprintf(message, sizeof(message),
                     "plugvm: error: %s, the memory file guest RAM is mapped from, lost a page "
                     "the guest had not written (truncated or replaced under the running VM): "
                     "the VM cannot go on\n",
                     path);
    message_len = n < 0 ? 0 : (size_t)n >= sizeof(message) ? sizeof(message) - 1 : (size_t)n;
    atomic_store(&watch_start, (uintptr_t)m->base);
    atomic_store(&watch_end, (uintptr_t)m->base + m->size);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &previous) ? -1 : 0;
}

void guest_mem_unwatch_sigbus(void)
{
    if (!atomic_exchange(&watch_end, 0))
        return;
    atomic_store(&watch_start, 0);
    sigaction(SIGBUS, &previous, NULL);
}
