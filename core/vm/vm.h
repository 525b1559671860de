/* SPDX-License-Identifier: Apache-2.0 */
/* A running VM: guest memory, the backend's VM and vCPUs, the core's
 * devices, and the threads that run them. */
#ifndef PLUGVM_CORE_VM_H
#define PLUGVM_CORE_VM_H

#include <stdbool.h>

#include "config/config.h"
#include "loader/loader.h"

/* Why a VM stopped; vm_finish returns the process exit status for it. */
enum vm_stop {
    VM_RUNNING = 0,
    VM_STOP_RESET,    /* guest reset (i8042, triple fault): status 0 */
    VM_STOP_POWEROFF, /* guest powered off: status 0 */
    VM_STOP_ERROR,    /* fatal error, logged: status 1 */
    VM_STOP_SIGINT,   /* SIGINT, or Ctrl-A x on the console's terminal: status 130 */
    VM_STOP_SIGTERM,  /* status 143 */
    VM_STOP_TIMEOUT,  /* --timeout elapsed: status 124, like timeout(1) */
    VM_STOP_GUEST_EXIT, /* the guest wrote its status to the exit port: that status */
    VM_STOP_REQUESTED, /* libplugvm's plugvm_vm_stop: status 143 */
};

struct vm;

struct vm_options {
    bool verbose;     /* list unclaimed ports at the end */
    const char *restore_dir; /* restore from this snapshot folder instead of booting */
    const char *api_path;    /* serve the control socket here (core/api/server.h) */
    /* The serial console (COM1): its output is written to console_out_fd
     * (-1: dropped), its input read from console_in_fd on a thread of its
     * own (-1: none). Neither is closed here. console_terminal: the input
     * is the user's terminal, put in raw mode while the VM runs, where
     * Ctrl-A x stops the VM (the CLI's run and restore). */
    int console_in_fd;
    int console_out_fd;
    bool console_terminal;
    /* An eventfd of the caller's (never closed here) that the VM's first
     * stop request writes to, so whoever waits can poll(2) it: libplugvm's
     * own, so that it outlives the VM. */
    int stop_fd;
};

/* Pauses the VM (unless it is paused), writes a snapshot of it to folder
 * `dir` (vm_snapshot, core/vm/snapshot.h: replaced whole), and resumes it
 * if it was running; *ms (may be NULL) gets the time the writing took, in
 * milliseconds. 0, or -1 with err. Not on a vCPU thread; callers on
 * several threads are taken one at a time. */
int vm_snapshot_paused(struct vm *vm, const char *dir, double *ms, char *err, size_t errlen);

/* Pauses the VM: vCPUs parked, devices quiesced (pause.c, which says
 * how). 0, or -1 with err (nothing stays paused). vm_resume undoes it.
 * Not on a vCPU thread; callers on several threads one at a time. */
int vm_pause(struct vm *vm, char *err, size_t errlen);
void vm_resume(struct vm *vm);

/* Asks the VM to stop for `why` (the first request wins); returns at once.
 * Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop why);

/* Builds the VM from `cfg` (booted, or restored from opt->restore_dir)
 * and starts its vCPUs; `cfg`, `plugins` and the strings of `opt` must
 * outlive it. No signal is blocked or handled here but the backend's own
 * kick (backends/kvm: SIGRTMIN+3) and SIGPIPE, blocked on vCPU threads.
 * 0 with *out, or with the message in err (nothing is left running)
 * -EINVAL (a setting, plugin or snapshot refused), -ENODEV (the backend
 * cannot run here), -ENOMEM, -EAGAIN or -EIO. */
int vm_start(const struct vm_config *cfg, struct plugin_set *plugins, const struct vm_options *opt,
             struct vm **out, char *err, size_t errlen);
/* The stop requested so far, VM_RUNNING while none. */
enum vm_stop vm_stop_state(const struct vm *vm);
/* Why it stopped, in words ("the guest powered off"). */
const char *vm_stop_reason(enum vm_stop why);
/* Stops the VM (VM_STOP_ERROR unless a stop was requested), waits for its
 * threads, tears it down and frees it. Returns the exit status for its
 * stop (enum vm_stop). */
int vm_finish(struct vm *vm);

#endif
