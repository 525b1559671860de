/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of a `plugvm run --image` process (issue 15): plugvm-init
 * connects over vsock to the Unix listeners made here at
 * "<uds_path>_<port>" (guest/init/control.h's ports; the vsock plugin's
 * scheme, docs/CONFIG.md): the control connection gets the launch record
 * and then carries the process's status, the host's signals and window
 * size; stdin, stdout and stderr are three more connections, copied
 * byte for byte to and from this process's fds.
 *
 * One thread of its own (poll), started before the VM. Everything the
 * guest sends is untrusted: one connection per port (a second is closed),
 * control lines parsed by control_feed with its bounds, and a guest that
 * speaks nonsense on control gets its VM stopped. The relay stops the VM
 * itself (plugvm_vm_stop) once it has the status and the end of both
 * output streams, so the guest's power-off is not waited for.
 */
#ifndef PLUGVM_RUN_RELAY_H
#define PLUGVM_RUN_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct launch;
struct plugvm_vm;
struct relay;

struct relay_opts {
    const char *uds_path;   /* the vsock device's uds_path */
    /* The launch record's fields (guest/init/launch.h), encoded when init
     * connects, with the host's clock of that moment and fresh entropy
     * filled in; kept by the caller until relay_finish. */
    const struct launch *launch;
    bool interactive;       /* -i: in_fd feeds the process's stdin; else it reads EOF */
    bool tty;               /* -t: SIGWINCH sends the window size of in_fd's terminal */
    int in_fd, out_fd, err_fd;
    double stop_grace_s;    /* after a forwarded SIGINT/SIGTERM, stop the VM this much later */
    /* When set: once init has connected, and before it gets the launch,
     * the VM is snapshotted into this folder (plugvm_vm_snapshot), so a
     * later run restores a VM at exactly this point and hands it its own
     * launch (init reconnects after the restore's connection reset). */
    const char *snapshot_dir;
    /* The VM (libplugvm's handle, plugvm/vm.h) the relay stops and
     * snapshots; it must outlive relay_finish. */
    struct plugvm_vm *vm;
};

/* Binds the four listeners and starts the thread: 0, or -1 with err. */
int relay_start(struct relay **out, const struct relay_opts *o, char *err, size_t errlen);

/* run_until_stopped's hook (core/vm/run.h): forwards SIGINT/SIGTERM to
 * the process (true) once it runs, and arms the grace timer. */
bool relay_on_signal(void *relay, int sig);

/* After run_until_stopped returned: ends the thread and frees everything. Returns the
 * process's status as docker gives it (its exit status, 128+N for signal
 * N, 125/126/127 for a process that could not start, with the message
 * printed to stderr), or, when the VM ended without reporting one, 125
 * after printing why (vm_status: what run_until_stopped returned); *reported says
 * which, *connected whether init ever connected. */
int relay_finish(struct relay *r, int vm_status, bool *reported, bool *connected);

#endif
