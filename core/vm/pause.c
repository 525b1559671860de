/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pausing a running VM, for snapshots: vCPUs parked on their own threads
 * at instruction boundaries, then each device quiesced (its workers
 * parked between requests, the seeds' pause gate). The event loop keeps
 * running: a doorbell rung just before the pause only marks work for the
 * device to find after resume.
 */
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"
#include "vm/vm_internal.h"

void vm_pause_init(struct vm *vm)
{
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cv, NULL);
}

void vm_pause_fini(struct vm *vm)
{
    pthread_cond_destroy(&vm->pause_cv);
    pthread_mutex_destroy(&vm->pause_lock);
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

int vm_pause(struct vm *vm, char *err, size_t errlen)
{
    if (vm->paused)
        return 0;
    atomic_store(&vm->pausing, true);
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        vm->be->vcpu_kick(vm->vcpu[i]);
    pthread_mutex_lock(&vm->pause_lock);
    while (vm->parked < threads(vm) && atomic_load(&vm->stop) == VM_RUNNING)
        pthread_cond_wait(&vm->pause_cv, &vm->pause_lock);
    pthread_mutex_unlock(&vm->pause_lock);
    if (atomic_load(&vm->stop) != VM_RUNNING) {
        atomic_store(&vm->pausing, false);
        return pv_fail(err, errlen, "the VM stopped while pausing");
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

void vm_resume(struct vm *vm)
{
    if (vm->paused)
        for (size_t i = 0; i < vm->ndevices; i++)
            if (vm->dev[i].ops->resume)
                vm->dev[i].ops->resume(vm->dev[i].instance);
    vm->paused = false;
    pthread_mutex_lock(&vm->pause_lock);
    atomic_store(&vm->pausing, false);
    pthread_cond_broadcast(&vm->pause_cv);
    pthread_mutex_unlock(&vm->pause_lock);
}

void vm_pause_release(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    pthread_cond_broadcast(&vm->pause_cv);
    pthread_mutex_unlock(&vm->pause_lock);
}
