/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's run of one VM to its end, over libplugvm (run.c). */
#ifndef PLUGVM_CORE_RUN_H
#define PLUGVM_CORE_RUN_H

#include <stdbool.h>

#include <plugvm/vm.h>

/* Starts vm (set up, not started) and waits for its end, SIGINT, SIGTERM
 * or timeout_s (0: none), which stop it. For SIGINT and SIGTERM,
 * on_signal(arg, sig) is asked first (NULL: not): true when the caller
 * took the signal (run --image forwards it to the guest's process) and
 * the VM runs on. Returns the exit status (plugvm_vm_wait's): 130, 143,
 * 124 when SIGINT, SIGTERM or the timeout stopped it (and -v's "VM
 * stopped:" line says which); 1 with the message printed when it could
 * not start. Call from the main thread
 * of a process that runs one VM: SIGINT and SIGTERM are blocked meanwhile,
 * in this thread and the VM's; a thread of the caller's own that runs
 * meanwhile must block them too (or their default action ends the
 * process: with a signalfd, unlike sigwait, no thread waits for them). */
int run_until_stopped(struct plugvm_vm *vm, double timeout_s, bool (*on_signal)(void *arg, int sig),
                      void *arg);

#endif
