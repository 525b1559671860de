/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libplugvm: plugvm's VMs run from a program of your own, as crun runs
 * libkrun's. Link with `pkg-config --libs plugvm` or find_package(plugvm)'s
 * plugvm::plugvm; docs/EMBEDDING.md walks through a whole program
 * (examples/embed/hello.c).
 *
 * A VM's life: plugvm_vm_new (field by field), plugvm_vm_new_from_config
 * (a config file, docs/CONFIG.md) or plugvm_vm_new_from_snapshot (a folder
 * `plugvm snapshot` or plugvm_vm_snapshot wrote); settings; plugvm_vm_start;
 * while it runs, pause, resume, snapshot and stop; plugvm_vm_wait for its
 * end and exit status; plugvm_vm_free.
 *
 * Errors: every function that can fail returns 0 or a negative errno and,
 * when `err` is not NULL, fills it: err->code is the same negative errno,
 * err->message one line naming the setting or file and what was expected.
 * Nothing here exits, aborts or prints the error itself.
 *
 * Threads: no global state but the log level (plugvm_log_set_level), so
 * VMs in one process are independent; each VM's functions may be called
 * from any thread, one at a time per VM but for plugvm_vm_stop and
 * plugvm_vm_event_fd, which any thread may call while another waits or
 * snapshots. A running VM has threads of its own (one per vCPU, an event
 * loop, device workers).
 *
 * Signals: libplugvm handles none of the program's. It installs a handler
 * for SIGRTMIN+3 (the KVM backend's vCPU kick, which must stay unblocked
 * on the VM's threads, as they inherit the mask of the thread calling
 * plugvm_vm_start) and, while a restored VM runs, for SIGBUS on its guest
 * RAM only (its memory file truncated under it: one line on stderr, exit
 * status 1); other SIGBUS go to the program's previous handler.
 */
#ifndef PLUGVM_VM_H
#define PLUGVM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include <plugvm/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLUGVM_API __attribute__((visibility("default")))

/* What went wrong: code, a negative errno (-EINVAL a value out of range,
 * -ENOENT a file not found, -EBUSY a call the VM's state does not allow,
 * -ENODEV no usable hypervisor, -EIO anything else); message, one line,
 * NUL-terminated. Fixed size: part of the ABI (docs/ABI.md). */
struct plugvm_error {
    int code;
    char message[1024];
};

/* A VM, from plugvm_vm_new* to plugvm_vm_free. Opaque. */
struct plugvm_vm;

/* Why a VM stopped (plugvm_vm_stop_reason). */
enum plugvm_stop {
    PLUGVM_RUNNING = 0,       /* not started, or running */
    PLUGVM_STOP_RESET = 1,    /* the guest reset (i8042, triple fault): status 0 */
    PLUGVM_STOP_POWEROFF = 2, /* the guest powered off (ACPI S5, HLT with nothing to wake it): status 0 */
    PLUGVM_STOP_ERROR = 3,    /* a fatal error, logged: status 1 */
    PLUGVM_STOP_REQUESTED = 4, /* plugvm_vm_stop: status 143, as a VMM given SIGTERM */
    PLUGVM_STOP_GUEST_EXIT = 5, /* the guest wrote its status to the exit port (vm.exit_port) */
};

/* plugvm's version, "MAJOR.MINOR.PATCH". Static storage. */
PLUGVM_API const char *plugvm_version(void);

/* Process-wide: log lines above `level` are dropped (default
 * PLUGVM_LOG_WARN). Lines go to stderr, prefixed "plugvm: ". Any thread. */
PLUGVM_API void plugvm_log_set_level(enum plugvm_log_level level);

/* An empty VM to describe field by field: one vCPU, no memory, no kernel
 * (both must be set), command line "console=ttyS0", ACPI on, no devices,
 * console dropped. 0 with *vm, or -ENOMEM. */
PLUGVM_API int plugvm_vm_new(struct plugvm_vm **vm, struct plugvm_error *err);

/* A VM as the config file at `path` describes it (docs/CONFIG.md; relative
 * file names resolved beside it), read and checked now: a syntax error or
 * a bad setting is -EINVAL naming FILE:LINE and the setting; a missing
 * kernel or initrd, -ENOENT. The settings below may still change it. */
PLUGVM_API int plugvm_vm_new_from_config(const char *path, struct plugvm_vm **vm,
                                         struct plugvm_error *err);

/* A VM to restore from the snapshot folder `dir` (its vm.cfg, state and
 * memory files; docs/SNAPSHOT.md). Only dir/vm.cfg is read now; the state
 * file is checked by plugvm_vm_start. Device settings may be changed (a
 * disk's path, as `plugvm restore --set`); the vm group may not (-EBUSY).
 * `dir` is only read: any number of VMs may restore from it at once. */
PLUGVM_API int plugvm_vm_new_from_snapshot(const char *dir, struct plugvm_vm **vm,
                                           struct plugvm_error *err);

/* Settings of the vm group (docs/CONFIG.md), before plugvm_vm_start
 * (after: -EBUSY). vcpus: 1..64 (-EINVAL). memory: MiB, 16..1048576
 * (-EINVAL). kernel, initrd: host paths, resolved as a config's are (the
 * current directory first), checked at start. cmdline: at most 2047 bytes
 * (-EINVAL); virtio_mmio.device= entries are appended for the devices. */
PLUGVM_API int plugvm_vm_set_vcpus(struct plugvm_vm *vm, uint32_t vcpus, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_set_memory_mib(struct plugvm_vm *vm, uint64_t mib, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_set_kernel(struct plugvm_vm *vm, const char *path, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_set_initrd(struct plugvm_vm *vm, const char *path, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_set_cmdline(struct plugvm_vm *vm, const char *cmdline,
                                     struct plugvm_error *err);

/* Adds a device of plugin `plugin` (a name such as "blk", or a path to a
 * .so; docs/PLUGINS.md) after the VM's others; *index (may be NULL) gets
 * its place in the list, for the plugvm_vm_device_set_* calls and the
 * control socket. At most 19 devices (-ENOSPC). The plugin is loaded and
 * its settings checked against its table at start. */
PLUGVM_API int plugvm_vm_add_device(struct plugvm_vm *vm, const char *plugin, unsigned *index,
                                    struct plugvm_error *err);

/* Sets setting `name` of device `index` (a string, a 64-bit integer or a
 * boolean, as the plugin's table wants: docs/PLUGINS.md), replacing a
 * value of any type it had. -ENOENT for no such device, -EINVAL for a
 * name that is not a libconfig name ([A-Za-z*][-A-Za-z0-9_*]*); a setting
 * the plugin does not know fails at start. Before plugvm_vm_start. */
PLUGVM_API int plugvm_vm_device_set_string(struct plugvm_vm *vm, unsigned index, const char *name,
                                           const char *value, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_device_set_int(struct plugvm_vm *vm, unsigned index, const char *name,
                                        int64_t value, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_device_set_bool(struct plugvm_vm *vm, unsigned index, const char *name,
                                         bool value, struct plugvm_error *err);

/* The serial console (COM1, the guest's ttyS0): what the guest writes goes
 * to out_fd, what is read from in_fd goes to the guest; -1 for either
 * drops it (the default: no console). The fds stay the caller's: not
 * closed, and they must stay open until the VM is freed. flags:
 * PLUGVM_CONSOLE_TERMINAL when in_fd is the user's terminal: raw mode
 * while the VM runs, and Ctrl-A x stops the VM (PLUGVM_STOP_REQUESTED).
 * Before plugvm_vm_start. */
#define PLUGVM_CONSOLE_TERMINAL 1u
PLUGVM_API int plugvm_vm_set_console(struct plugvm_vm *vm, int in_fd, int out_fd, unsigned flags,
                                     struct plugvm_error *err);

/* Serves the control socket (docs/API.md: pause, resume, snapshot,
 * balloon, devices) on the Unix socket `path` (mode 0600) while the VM
 * runs. NULL: none (the default). Before plugvm_vm_start. */
PLUGVM_API int plugvm_vm_set_api_socket(struct plugvm_vm *vm, const char *path,
                                        struct plugvm_error *err);

/* Builds the VM (guest RAM, devices, the kernel loaded or the snapshot
 * restored) and starts its vCPUs; returns once they run. Every setting is
 * checked first, before the hypervisor is opened: a bad one is -EINVAL or
 * -ENOENT naming it; no usable hypervisor (no /dev/kvm) is -ENODEV. On
 * failure nothing is left running and the VM may be set up and started
 * again. Once: -EBUSY after a successful start. */
PLUGVM_API int plugvm_vm_start(struct plugvm_vm *vm, struct plugvm_error *err);

/* An fd that becomes readable (poll(2): POLLIN) once the VM has stopped
 * or been asked to; then plugvm_vm_wait returns at once. Not to be read
 * or closed; valid from a successful plugvm_vm_start to plugvm_vm_free.
 * -1 before. */
PLUGVM_API int plugvm_vm_event_fd(const struct plugvm_vm *vm);

/* Waits up to timeout_ms milliseconds (-1: without end, 0: not at all)
 * for the VM to stop, then tears it down: its threads joined, its RAM
 * and devices freed. 0 with *status (may be NULL) its exit status: 0
 * after a guest reset or power-off, the byte the guest wrote to the exit
 * port, 1 after an error, 143 after plugvm_vm_stop. -ETIMEDOUT while it
 * still runs; -EBUSY when it was never started. Again after the end: 0
 * with the same status. */
PLUGVM_API int plugvm_vm_wait(struct plugvm_vm *vm, int timeout_ms, int *status,
                              struct plugvm_error *err);

/* Why it stopped (PLUGVM_RUNNING while it has not). */
PLUGVM_API enum plugvm_stop plugvm_vm_stop_reason(const struct plugvm_vm *vm);

/* Asks the running VM to stop (its vCPUs leave the guest at once; the
 * guest is not told) and returns without waiting: plugvm_vm_wait gives
 * the end. 0 when it was asked, or had stopped already; -EBUSY when it
 * was never started. Any thread, also while another waits. */
PLUGVM_API int plugvm_vm_stop(struct plugvm_vm *vm, struct plugvm_error *err);

/* Pauses a running VM: every vCPU parked at an instruction boundary and
 * every device's workers between requests; the guest's clock stands
 * still as far as it can tell. Within 5 s or -ETIMEDOUT (a vCPU busy
 * outside the hypervisor; nothing stays paused). Paused already: 0.
 * Not started or stopped: -EBUSY. plugvm_vm_resume lets it go on. */
PLUGVM_API int plugvm_vm_pause(struct plugvm_vm *vm, struct plugvm_error *err);
PLUGVM_API int plugvm_vm_resume(struct plugvm_vm *vm, struct plugvm_error *err);

/* Writes a snapshot of the running VM into folder `dir` (made, or
 * replaced whole once the new one is complete; docs/SNAPSHOT.md),
 * pausing it meanwhile unless it is paused. -EBUSY when not running;
 * -EIO with the file and reason when writing fails (then `dir` is as it
 * was). plugvm_vm_new_from_snapshot(dir) restores it. */
PLUGVM_API int plugvm_vm_snapshot(struct plugvm_vm *vm, const char *dir, struct plugvm_error *err);

/* Stops the VM if it runs (as plugvm_vm_stop), waits for it, and frees
 * everything. NULL: nothing. The VM must not be used by another thread. */
PLUGVM_API void plugvm_vm_free(struct plugvm_vm *vm);

#ifdef __cplusplus
}
#endif

#endif
