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

struct vm_options {
    double timeout_s; /* 0: none */
    bool verbose;     /* list unclaimed ports at the end */
    const char *restore_dir; /* restore from this snapshot folder instead of booting */
    const char *api_path;    /* serve the control socket here (core/api/server.h) */
};

/* Builds the VM from `cfg`, runs it until it stops and tears it down.
 * Returns the exit status (see enum vm_stop). Messages go to stderr. */
int vm_run(const struct vm_config *cfg, struct plugin_set *plugins, const struct vm_options *opt);

#endif
