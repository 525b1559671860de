/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A restored VM's RAM maps its memory file MAP_PRIVATE: a page the guest
 * has not written is read from the file when first touched. Truncated
 * under the VM, the file has no page to give, and the kernel sends SIGBUS
 * to whichever thread touched it: a device worker copying a descriptor, the
 * snapshot writer. (A vCPU touching it inside KVM_RUN gets EFAULT instead,
 * and the VM stops with that error.) Without a handler plugvm died with
 * no word on which file; with one it says so and exits with status 1.
 *
 * Several VMs may live in one process (libplugvm): each restored one's
 * RAM is a slot of a fixed table, so the handler, which may only do what
 * is async-signal-safe, finds the right message without a lock or malloc.
 * The message is made before; write(2) and _exit in the handler.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "guest_mem.h"

#define WATCH_SLOTS 64

struct watch {
    /* end != 0: the slot is in use; set last, after the message. */
    _Atomic(uintptr_t) start, end;
    char message[4352];
    size_t message_len;
};

static struct watch slots[WATCH_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER; /* not in the handler */
static unsigned watching;
static struct sigaction previous;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < WATCH_SLOTS; i++) {
        uintptr_t end = atomic_load(&slots[i].end);
        if (end && a >= atomic_load(&slots[i].start) && a < end) {
            ssize_t w = write(STDERR_FILENO, slots[i].message, slots[i].message_len);
            (void)w;
            _exit(1);
        }
    }
    /* Not guest RAM: the fault it always was. Returning runs the faulting
     * access again under the previous disposition. */
    sigaction(sig, &previous, NULL);
}

int guest_mem_watch_sigbus(const struct guest_mem *m, const char *path)
{
    pthread_mutex_lock(&slots_lock);
    struct watch *w = NULL;
    for (size_t i = 0; i < WATCH_SLOTS && !w; i++)
        if (!atomic_load(&slots[i].end))
            w = &slots[i];
    int rc = -1;
    if (w) {
        int n = snprintf(w->message, sizeof(w->message),
                         "plugvm: error: %s, the memory file guest RAM is mapped from, lost a page "
                         "the guest had not written (truncated or replaced under the running VM): "
                         "the VM cannot go on\n",
                         path);
        w->message_len = n < 0 ? 0 : (size_t)n >= sizeof(w->message) ? sizeof(w->message) - 1 : (size_t)n;
        atomic_store(&w->start, (uintptr_t)m->base);
        atomic_store(&w->end, (uintptr_t)m->base + m->size);
        rc = 0;
        if (watching++ == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_sigaction = on_sigbus;
            sa.sa_flags = SA_SIGINFO;
            sigemptyset(&sa.sa_mask);
            if (sigaction(SIGBUS, &sa, &previous))
                rc = -1;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

void guest_mem_unwatch_sigbus(const struct guest_mem *m)
{
    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < WATCH_SLOTS; i++)
        if (atomic_load(&slots[i].end) && atomic_load(&slots[i].start) == (uintptr_t)m->base) {
            atomic_store(&slots[i].end, 0);
            atomic_store(&slots[i].start, 0);
            if (--watching == 0)
                sigaction(SIGBUS, &previous, NULL);
            break;
        }
    pthread_mutex_unlock(&slots_lock);
}
