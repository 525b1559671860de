/* SPDX-License-Identifier: Apache-2.0 */
/* A running VM: guest memory, the backend's VM and vCPUs, the core's
 * devices, and the threads that run them. */
#ifndef PLUGVM_CORE_VM_H
#define PLUGVM_CORE_VM_H

#include <stdbool.h>

#include "config/config.h"
#include "loader/loader.h"

/* Why a VM stopped; vm_run returns the process exit status for it. */
enum vm_stop {
    VM_RUNNING = 0,
    VM_STOP_RESET,    /* guest reset (i8042, triple fault): status 0 */
    VM_STOP_POWEROFF, /* guest powered off: status 0 */
    VM_STOP_ERROR,    /* fatal error, logged: status 1 */
    VM_STOP_SIGINT,   /* status 130 */
    VM_STOP_SIGTERM,  /* status 143 */
    VM_STOP_TIMEOUT,  /* --timeout elapsed: status 124, like timeout(1) */
    VM_STOP_GUEST_EXIT, /* the guest wrote its status to the exit port: that status */
};

struct vm;

struct vm_options {
    double timeout_s; /* 0: none */
    bool verbose;     /* list unclaimed ports at the end */
    const char *restore_dir; /* restore from this snapshot folder instead of booting */
    const char *api_path;    /* serve the control socket here (core/api/server.h) */
    /* The serial console is the terminal (stdout, and stdin through the
     * console thread) unless console_detached: then COM1's output goes to
     * console_fd (-1: dropped; not closed here) and stdin is left alone, for
     * a caller that gives them to something else (plugvm run --image). */
    bool console_detached;
    int console_fd;
    /* Hooks for a caller that drives the VM from its own thread (core/run):
     * attached(hook_arg, vm) on the main thread once the VM is built, before
     * any vCPU runs (vm is for vm_request_stop, valid until vm_run returns);
     * on_signal(hook_arg, sig) for SIGINT/SIGTERM, on the main thread: true
     * when the caller took the signal (say, forwarded it to the guest) and
     * the VM is to run on. NULL: not called. */
    void (*attached)(void *hook_arg, struct vm *vm);
    bool (*on_signal)(void *hook_arg, int sig);
    void *hook_arg;
};

/* Pauses the VM (unless it is paused), writes a snapshot of it to folder
 * `dir` (vm_snapshot, core/vm/snapshot.h: replaced whole), and resumes it
 * if it was running; *ms (may be NULL) gets the time the writing took, in
 * milliseconds. 0, or -1 with err. Not on a vCPU thread; one caller at a
 * time (the control socket's thread, or run --image's relay). */
int vm_snapshot_paused(struct vm *vm, const char *dir, double *ms, char *err, size_t errlen);

/* Asks the VM to stop for `why` (the first request wins); returns at once.
 * Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop why);

/* Builds the VM from `cfg`, runs it until it stops and tears it down.
 * Returns the exit status (see enum vm_stop). Messages go to stderr. */
int vm_run(const struct vm_config *cfg, struct plugin_set *plugins, const struct vm_options *opt);

#endif
