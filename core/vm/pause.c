/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pausing a running VM, for snapshots: vCPUs parked on their own threads
 * at instruction boundaries, then each device quiesced (its workers
 * parked between requests, the seeds' pause gate). The event loop keeps
 * running: a doorbell rung just before the pause only marks work for the
 * device to find after resume.
 */
#include <stdio.h>
#include <time.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"
#include "vm/vm_internal.h"

void vm_pause_init(struct vm *vm)
{
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* vm_pause's deadline */
    pthread_cond_init(&vm->pause_cv, &a);
    pthread_condattr_destroy(&a);
    pthread_mutexattr_t m;
    pthread_mutexattr_init(&m);
    pthread_mutexattr_settype(&m, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&vm->control_lock, &m);
    pthread_mutexattr_destroy(&m);
}

void vm_pause_fini(struct vm *vm)
{
    pthread_cond_destroy(&vm->pause_cv);
    pthread_mutex_destroy(&vm->pause_lock);
    pthread_mutex_destroy(&vm->control_lock);
}

static uint32_t threads(const struct vm *vm)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        n += vm->thread_started[i];
    return n;
}

void vm_vcpu_pause_point(struct vm *vm, uint32_t index, uint32_t reason)
{
    if (!atomic_load(&vm->pausing))
        return;
    if (reason != PLUGVM_EXIT_INTR) {
        /* KVM finishes a port or MMIO exit only at the next KVM_RUN: run
         * once more with a kick pending, which completes it and returns
         * at once. */
        vm->be->vcpu_kick(vm->vcpu[index]);
        return;
    }
    pthread_mutex_lock(&vm->pause_lock);
    vm->parked++;
    pthread_cond_broadcast(&vm->pause_cv);
    while (atomic_load(&vm->pausing) && atomic_load(&vm->stop) == VM_RUNNING)
        pthread_cond_wait(&vm->pause_cv, &vm->pause_lock);
    vm->parked--;
    pthread_mutex_unlock(&vm->pause_lock);
}

static int pause_vm(struct vm *vm, char *err, size_t errlen)
{
    if (vm->paused)
        return 0;
    atomic_store(&vm->pausing, true);
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        vm->be->vcpu_kick(vm->vcpu[i]);
    /* Bounded: a vCPU stuck outside KVM (blocked writing the guest's
     * console to a stdout nobody reads) must not hang the control socket. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += VM_PAUSE_TIMEOUT_S;
    int rc = 0;
    pthread_mutex_lock(&vm->pause_lock);
    while (vm->parked < threads(vm) && atomic_load(&vm->stop) == VM_RUNNING && rc == 0)
        rc = pthread_cond_timedwait(&vm->pause_cv, &vm->pause_lock, &until);
    uint32_t parked = vm->parked;
    pthread_mutex_unlock(&vm->pause_lock);
    if (atomic_load(&vm->stop) != VM_RUNNING || parked < threads(vm)) {
        vm_resume(vm);
        if (atomic_load(&vm->stop) != VM_RUNNING)
            return pv_fail(err, errlen, "the VM stopped while pausing");
        return pv_fail(err, errlen, "%u of %u vCPUs stopped within %d s (one is busy outside the "
                       "hypervisor, e.g. writing console output nobody reads): not paused",
                       parked, threads(vm), VM_PAUSE_TIMEOUT_S);
    }
    for (size_t i = 0; i < vm->ndevices; i++) {
        const struct vm_device *d = &vm->dev[i];
        if (d->ops->quiesce && d->ops->quiesce(d->instance)) {
            for (size_t j = 0; j < i; j++)
                if (vm->dev[j].ops->resume)
                    vm->dev[j].ops->resume(vm->dev[j].instance);
            vm_resume(vm);
            return pv_fail(err, errlen, "%s: its device could not be quiesced", d->name);
        }
    }
    vm->paused = true;
    return 0;
}

int vm_pause(struct vm *vm, char *err, size_t errlen)
{
    pthread_mutex_lock(&vm->control_lock);
    int rc = pause_vm(vm, err, errlen);
    pthread_mutex_unlock(&vm->control_lock);
    return rc;
}

void vm_resume(struct vm *vm)
{
    pthread_mutex_lock(&vm->control_lock);
    if (vm->paused)
        for (size_t i = 0; i < vm->ndevices; i++)
            if (vm->dev[i].ops->resume)
                vm->dev[i].ops->resume(vm->dev[i].instance);
    vm->paused = false;
    pthread_mutex_lock(&vm->pause_lock);
    atomic_store(&vm->pausing, false);
    pthread_cond_broadcast(&vm->pause_cv);
    pthread_mutex_unlock(&vm->pause_lock);
    pthread_mutex_unlock(&vm->control_lock);
}

void vm_pause_release(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    pthread_cond_broadcast(&vm->pause_cv);
    pthread_mutex_unlock(&vm->pause_lock);
}
