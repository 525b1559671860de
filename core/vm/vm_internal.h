/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's insides, shared by the files of core/vm: vm.c builds, runs and
 * tears it down; pause.c parks its vCPUs and devices; snapshot.c saves
 * and restores it.
 */
#ifndef PLUGVM_CORE_VM_INTERNAL_H
#define PLUGVM_CORE_VM_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>

#include "boot/x86/layout.h"
#include "devices/acpi_sleep.h"
#include "devices/exit_port.h"
#include "devices/i8042.h"
#include "devices/iobus.h"
#include "devices/serial.h"
#include "memory/guest_mem.h"
#include "virtio/device.h"
#include "vm/console.h"
#include "vm/eventloop.h"
#include "vm/restore.h"
#include "vm/vm.h"

struct vm {
    const struct vm_config *cfg;
    const struct plugvm_backend_ops *be;
    struct plugvm_host host;
    struct plugvm_vm *bvm;
    struct guest_mem mem;
    uint32_t nvcpus;
    struct plugvm_vcpu *vcpu[VM_MAX_VCPUS];
    pthread_t thread[VM_MAX_VCPUS];
    bool thread_started[VM_MAX_VCPUS];
    /* The first stop request (enum vm_stop) wins; stop_fd, the caller's
     * eventfd (vm_options), becomes readable then. Not a signal
     * to a main thread: a program embedding plugvm has no such thread,
     * and two VMs in one process each need their own. */
    atomic_int stop;
    int stop_fd;
    struct iobus *io;
    struct serial serial;
    struct i8042 i8042;
    struct exit_port exit_port;
    struct acpi_sleep acpi_sleep;
    atomic_int guest_status; /* the byte written to the exit port */
    struct console console;
    int console_fd; /* where COM1's output goes (vm_options) */
    atomic_uint unclaimed_mmio;
    char log_prefix[40]; /* "NAME: " of the backend, for its log lines */
    const char *backend_name;
    struct eventloop loop;
    struct device_env env;
    size_t ndevices;
    struct vm_device dev[VIRTIO_MAX_DEVICES];
    char cmdline[X86_CMDLINE_MAX + 256]; /* the configured one, plus device entries */

    /* Pausing (pause.c): vm_pause sets `pausing` and kicks every vCPU;
     * each vCPU thread parks once its last exit is complete, counted in
     * `parked`; vm_resume clears `pausing` and wakes them. */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cv;
    atomic_bool pausing;
    uint32_t parked;
    bool paused; /* vCPUs parked and devices quiesced */
    /* pause, resume and snapshot from more than one thread (the control
     * socket's, an embedding program's): one at a time. Recursive, as a
     * snapshot pauses and resumes. */
    pthread_mutex_t control_lock;
    struct api_server *api;

    /* vm_start's inputs, kept for vm_finish. */
    bool verbose;
    bool restoring;
    struct restore_src rs;
};

/* pause.c. vm_pause: parks every vCPU at an instruction boundary (its
 * last port or MMIO exit completed), then quiesces every device (its
 * workers parked between requests). Returns 0, or -1 with err when the VM
 * stopped meanwhile or a vCPU did not park within VM_PAUSE_TIMEOUT_S
 * (then nothing stays paused). Not on a vCPU thread. vm_resume undoes it. */
#define VM_PAUSE_TIMEOUT_S 5
void vm_pause_init(struct vm *vm);
void vm_pause_fini(struct vm *vm);
/* On a vCPU thread, after vcpu_run returned: parks the thread while a
 * pause is on, if the exit was a kick (so nothing is left half done in
 * the backend); after any other exit asks the backend to complete it and
 * come back. */
void vm_vcpu_pause_point(struct vm *vm, uint32_t index, uint32_t reason);
/* Lets parked vCPUs go for teardown. */
void vm_pause_release(struct vm *vm);

#endif
