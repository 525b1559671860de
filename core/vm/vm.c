/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builds and runs a VM: one thread per vCPU running the backend's
 * vcpu_run loop and dispatching port I/O and MMIO exits. A stop (guest
 * reset or power-off, a fatal error, a caller's request) makes stop_fd
 * readable; whoever started the VM waits on it and tears everything down
 * (vm_finish; run.c does it for the CLI, core/lib for libplugvm).
 */
#include "vm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>

#include "boot/x86/boot.h"
#include "boot/x86/layout.h"
#include "config/settings_check.h"
#include "devices/acpi_sleep.h"
#include "devices/exit_port.h"
#include "devices/i8042.h"
#include "devices/iobus.h"
#include "devices/serial.h"
#include "devices/vmgenid.h"
#include "memory/guest_mem.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "virtio/device.h"
#include "vm/console.h"
#include "vm/eventloop.h"
#include "api/server.h"
#include "vm/restore.h"
#include "vm/vm_internal.h"

static void host_log(const struct plugvm_host *h, enum plugvm_log_level level, const char *fmt, ...)
{
    const struct vm *vm = h->ctx;
    va_list ap;
    va_start(ap, fmt);
    pv_vlog(level, vm->log_prefix, fmt, ap);
    va_end(ap);
}

static void *host_gpa_to_hva(const struct plugvm_host *h, uint64_t gpa, uint64_t len)
{
    const struct vm *vm = h->ctx;
    return guest_mem_ptr(&vm->mem, gpa, len);
}

void vm_request_stop(struct vm *vm, enum vm_stop why)
{
    int expected = VM_RUNNING;
    if (atomic_compare_exchange_strong(&vm->stop, &expected, (int)why)) {
        uint64_t one = 1;
        (void)!write(vm->stop_fd, &one, sizeof(one));
    }
}

enum vm_stop vm_stop_state(const struct vm *vm)
{
    return (enum vm_stop)atomic_load(&((struct vm *)vm)->stop);
}

static void serial_irq(void *arg)
{
    struct vm *vm = arg;
    vm->be->irq_line(vm->bvm, SERIAL_COM1_IRQ, 1);
    vm->be->irq_line(vm->bvm, SERIAL_COM1_IRQ, 0);
}

static void i8042_reset(void *arg)
{
    vm_request_stop(arg, VM_STOP_RESET);
}

static void acpi_poweroff(void *arg)
{
    vm_request_stop(arg, VM_STOP_POWEROFF);
}

static void guest_exit(void *arg, uint8_t status)
{
    struct vm *vm = arg;
    atomic_store(&vm->guest_status, status);
    vm_request_stop(vm, VM_STOP_GUEST_EXIT);
}

static void console_quit(void *arg)
{
    vm_request_stop(arg, VM_STOP_SIGINT);
}

static void handle_io(struct vm *vm, struct plugvm_exit *e)
{
    uint8_t *p = e->io.data;
    for (uint32_t i = 0; i < e->io.count; i++, p += e->io.size)
        iobus_access(vm->io, e->io.port, p, e->io.size, e->io.is_write);
}

static void handle_mmio(struct vm *vm, struct plugvm_exit *e)
{
    for (size_t i = 0; i < vm->ndevices; i++)
        if (device_claims(&vm->dev[i], e->mmio.gpa)) {
            device_mmio(&vm->dev[i], e->mmio.gpa, e->mmio.data, e->mmio.len, e->mmio.is_write);
            return;
        }
    /* Nothing there: reads float high, writes are dropped. */
    atomic_fetch_add(&vm->unclaimed_mmio, 1);
    pv_debug("unclaimed MMIO %s at 0x%llx (%u bytes)", e->mmio.is_write ? "write" : "read",
             (unsigned long long)e->mmio.gpa, e->mmio.len);
    if (!e->mmio.is_write)
        memset(e->mmio.data, 0xff, e->mmio.len);
}

struct vcpu_arg {
    struct vm *vm;
    uint32_t index;
};

static void *vcpu_thread(void *arg)
{
    struct vcpu_arg *va = arg;
    struct vm *vm = va->vm;
    uint32_t index = va->index;
    free(va);
    struct plugvm_vcpu *v = vm->vcpu[index];
    char name[16];
    snprintf(name, sizeof(name), "vcpu%u", index);
    pthread_setname_np(pthread_self(), name);
    /* COM1's output is written on this thread: when stdout's reader goes
     * away, write() fails with EPIPE and serial.c drops the output, rather
     * than SIGPIPE killing plugvm with the VM (as QEMU, which ignores it).
     * Blocked here only, not process-wide: an embedding program keeps its
     * own disposition. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

    while (atomic_load(&vm->stop) == VM_RUNNING) {
        struct plugvm_exit e;
        vm->be->vcpu_run(v, &e);
        switch (e.reason) {
        case PLUGVM_EXIT_IO: handle_io(vm, &e); break;
        case PLUGVM_EXIT_MMIO: handle_mmio(vm, &e); break;
        case PLUGVM_EXIT_INTR: break;
        case PLUGVM_EXIT_SHUTDOWN:
            pv_info("vCPU %u: triple fault: the guest reset", index);
            vm_request_stop(vm, VM_STOP_RESET);
            break;
        case PLUGVM_EXIT_RESET: vm_request_stop(vm, VM_STOP_RESET); break;
        case PLUGVM_EXIT_HLT:
        case PLUGVM_EXIT_POWEROFF: vm_request_stop(vm, VM_STOP_POWEROFF); break;
        case PLUGVM_EXIT_ERROR:
        default: {
            char dump[2048];
            vm->be->vcpu_dump(v, dump, sizeof(dump));
            pv_err("vCPU %u stopped the VM: %s\n%s", index,
                   e.reason == PLUGVM_EXIT_ERROR ? e.error.what : "unknown exit", dump);
            vm_request_stop(vm, VM_STOP_ERROR);
            break;
        }
        }
        vm_vcpu_pause_point(vm, index, e.reason);
    }
    return NULL;
}

static void list_unclaimed(uint16_t port, unsigned count, void *arg)
{
    (void)arg;
    pv_info("unclaimed port 0x%04x: %u accesses", port, count);
}

/* Why the VM stopped, for -v: the e2e tests read it to tell a power-off
 * from a reset, both status 0. */
const char *vm_stop_reason(enum vm_stop why)
{
    switch (why) {
    case VM_STOP_RESET: return "the guest reset";
    case VM_STOP_POWEROFF: return "the guest powered off";
    case VM_STOP_GUEST_EXIT: return "the guest wrote its exit status";
    case VM_STOP_SIGINT: return "SIGINT";
    case VM_STOP_SIGTERM: return "SIGTERM";
    case VM_STOP_TIMEOUT: return "--timeout";
    case VM_STOP_REQUESTED: return "its program asked";
    default: return "an error";
    }
}

static int exit_status(const struct vm *vm, enum vm_stop why)
{
    switch (why) {
    case VM_STOP_GUEST_EXIT: return atomic_load(&vm->guest_status);
    case VM_STOP_RESET:
    case VM_STOP_POWEROFF: return 0;
    case VM_STOP_SIGINT: return 130;
    case VM_STOP_SIGTERM:
    case VM_STOP_REQUESTED: return 143;
    case VM_STOP_TIMEOUT: return 124;
    default: return 1;
    }
}

/* Every device's plugin is found and its settings checked against the
 * plugin's own table before anything starts (before the backend is
 * probed or RAM allocated), so a config mistake is named on any host. */
static int check_devices(const struct vm_config *cfg, struct plugin_set *plugins, char *err,
                         size_t errlen)
{
    static const char *const handled_by_core[] = {"plugin", NULL};
    char why[1024], at[512];
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct device_config *d = &cfg->devices[i];
        const struct loaded_plugin *p =
            loader_get(plugins, d->plugin, PLUGVM_KIND_DEVICE, why, sizeof(why));
        if (!p)
            return pv_fail(err, errlen, "%s: %s: %s",
                           settings_where(cfg->path, d->group, at, sizeof(at)), d->where, why);
        const struct plugvm_device_ops *ops = &p->ops.device;
        if (settings_check(cfg->path, d->group, d->where, ops->settings, handled_by_core, err,
                           errlen))
            return -1;
    }
    return 0;
}

/* Makes each device instance (the plugins were loaded by check_devices). */
static int create_devices(struct vm *vm, struct plugin_set *plugins, char *err, size_t errlen)
{
    const struct vm_config *cfg = vm->cfg;
    char why[1024], at[512];
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct device_config *d = &cfg->devices[i];
        const struct loaded_plugin *p =
            loader_get(plugins, d->plugin, PLUGVM_KIND_DEVICE, why, sizeof(why));
        vm->ndevices = i + 1;
        if (!p || device_create(&vm->dev[i], &vm->env, p, cfg->path, d->group, (unsigned)i, why,
                                sizeof(why)))
            return pv_fail(err, errlen, "%s: %s: %s",
                           settings_where(cfg->path, d->group, at, sizeof(at)), d->where, why);
        pv_info("%s: virtio device %u at 0x%llx, IRQ %u", vm->dev[i].name,
                vm->dev[i].info.device_id, (unsigned long long)vm->dev[i].base, vm->dev[i].gsi);
    }
    return 0;
}

/* The configured command line, then one virtio_mmio.device=SIZE@BASE:IRQ
 * per device (Linux's CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES syntax). */
static int build_cmdline(struct vm *vm, char *err, size_t errlen)
{
    size_t n = (size_t)snprintf(vm->cmdline, sizeof(vm->cmdline), "%s", vm->cfg->cmdline);
    /* snprintf returns what it would have written: stop once the buffer
     * is full, or the next call's size (sizeof - n) would wrap. */
    for (size_t i = 0; vm->cfg->virtio_mmio_cmdline && i < vm->ndevices && n < sizeof(vm->cmdline);
         i++)
        n += (size_t)snprintf(vm->cmdline + n, sizeof(vm->cmdline) - n,
                              "%svirtio_mmio.device=4K@0x%llx:%u", n ? " " : "",
                              (unsigned long long)vm->dev[i].base, vm->dev[i].gsi);
    if (n >= X86_CMDLINE_MAX)
        return pv_fail(err, errlen, "%s: the command line with %zu virtio_mmio.device= entries is %zu bytes; at most "
               "%llu fit: shorten vm.cmdline or set vm.virtio_mmio_cmdline = false",
               vm->cfg->path, vm->ndevices, n, X86_CMDLINE_MAX - 1);
    return 0;
}

/* Builds the VM: booted from the config's kernel, or, with rs, restored
 * from a snapshot (restore.c does the steps that differ). */
static int setup(struct vm *vm, const struct loaded_plugin *backend, struct plugin_set *plugins,
                 struct restore_src *rs, const char *opt_api, char *err, size_t errlen)
{
    const struct vm_config *cfg = vm->cfg;
    int rc;
    if (rs) {
        if (restore_memory(vm, rs, err, errlen))
            return -1;
    } else if ((rc = guest_mem_init(&vm->mem, cfg->memory_mib << 20)))
        return pv_fail(err, errlen, "cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)cfg->memory_mib,
               strerror(-rc));
    vm->env = (struct device_env){.mem = &vm->mem, .be = vm->be, .loop = &vm->loop,
                                  .no_eventfds = !cfg->eventfds};
    if (eventloop_init(&vm->loop))
        return pv_fail(err, errlen, "cannot create the event loop");
    if (create_devices(vm, plugins, err, errlen) || build_cmdline(vm, err, errlen))
        return -1;
    struct x86_boot_result boot;
    if (rs) {
        /* The devices' own records before anything is wired to them. */
        if (restore_check(vm, rs, err, errlen))
            return -1;
        for (size_t i = 0; i < vm->ndevices; i++)
            if (restore_device(vm, i, rs, err, errlen))
                return -1;
    } else {
        struct acpi_virtio_mmio windows[VIRTIO_MAX_DEVICES];
        for (size_t i = 0; i < vm->ndevices; i++)
            windows[i] = device_window((unsigned)i);
        struct x86_boot_config bc = {.kernel = cfg->kernel, .initrd = cfg->initrd,
                                     .cmdline = vm->cmdline, .vcpus = cfg->vcpus, .acpi = cfg->acpi,
                                     .devs = windows, .ndevs = vm->ndevices};
        if (x86_boot_setup(&bc, &vm->mem, &boot, err, errlen))
            return -1;
        pv_info("%s: %s entry at 0x%llx", cfg->kernel,
                boot.entry == X86_ENTRY_PVH ? "PVH" : "64-bit Linux",
                (unsigned long long)boot.regs.rip);
    }

    /* Only now the backend: everything the config names (kernel, initrd,
     * snapshot, disk images, plugin settings) was checked above, so a
     * mistake there is reported the same on a host without KVM. */
    char why[1024], note[512];
    if (vm->be->probe(why, sizeof(why), note, sizeof(note)))
    {
        pv_fail(err, errlen, "backend '%s' cannot run here: %s", backend->desc->name, why);
        return -ENODEV; /* libplugvm tells this one apart (plugvm/vm.h) */
    }
    if (note[0])
        pv_warn("%s", note);

    struct plugvm_mem_region regions[GUEST_MEM_MAX_REGIONS];
    for (unsigned i = 0; i < vm->mem.nregions; i++)
        regions[i] = (struct plugvm_mem_region){vm->mem.region[i].gpa, vm->mem.region[i].size,
                                                vm->mem.region[i].hva};
    struct plugvm_vm_params params = {
        .vcpus = cfg->vcpus, .masks = cfg->cpuid_masks, .nmasks = cfg->ncpuid_masks,
        .regions = regions, .nregions = vm->mem.nregions,
    };
    if ((rc = vm->be->vm_create(&vm->host, &params, &vm->bvm)))
        return pv_fail(err, errlen, "backend '%s' could not create the VM: %s", backend->desc->name, strerror(-rc));
    for (uint32_t i = 0; i < cfg->vcpus; i++) {
        if ((rc = vm->be->vcpu_create(vm->bvm, i, &vm->vcpu[i])))
            return pv_fail(err, errlen, "cannot create vCPU %u: %s", i, strerror(-rc));
        vm->nvcpus = i + 1;
        if (rs)
            continue;
        rc = i == 0 ? vm->be->vcpu_set_regs(vm->vcpu[i], &boot.regs)
                    : vm->be->vcpu_set_waiting(vm->vcpu[i]);
        if (rc)
            return pv_fail(err, errlen, "cannot set vCPU %u's boot state: %s", i, strerror(-rc));
    }
    if (rs && restore_machine(vm, rs, err, errlen))
        return -1;

    vm->env.bvm = vm->bvm;
    for (size_t i = 0; i < vm->ndevices; i++)
        if (device_connect(&vm->dev[i], err, errlen) ||
            (rs && restore_transport(vm, i, rs, err, errlen)))
            return -1;
    if (opt_api && !(vm->api = api_server_start(vm, vm->loop.base, opt_api, err, errlen)))
        return -1;
    if (eventloop_start(&vm->loop))
        return pv_fail(err, errlen, "cannot start the event loop thread");

    vm->io = calloc(1, sizeof(*vm->io));
    if (!vm->io)
        return pv_fail(err, errlen, "out of memory");
    serial_init(&vm->serial, vm->console_fd, serial_irq, vm);
    i8042_init(&vm->i8042, i8042_reset, vm);
    struct io_device devs[] = {serial_io_device(&vm->serial), i8042_data_device(&vm->i8042),
                               i8042_cmd_device(&vm->i8042)};
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
        iobus_add(vm->io, &devs[i]);
    /* The sleep registers the FADT names: where the tables are, so is S5. */
    if (cfg->acpi) {
        vm->acpi_sleep = (struct acpi_sleep){acpi_poweroff, vm};
        struct io_device d = acpi_sleep_device(&vm->acpi_sleep);
        iobus_add(vm->io, &d);
    }
    if (cfg->exit_port) {
        vm->exit_port = (struct exit_port){guest_exit, vm};
        struct io_device d = exit_port_device(&vm->exit_port);
        iobus_add(vm->io, &d);
    }
    if (rs && restore_core(vm, rs, err, errlen))
        return -1;
    /* Everything restored and activated, no vCPU yet: what a device must
     * tell its driver about the time that passed (device.h). */
    for (size_t i = 0; rs && i < vm->ndevices; i++)
        if (vm->dev[i].ops->restored)
            vm->dev[i].ops->restored(vm->dev[i].instance);
    /* A restored VM may be one of many clones of this snapshot: a new
     * generation ID, and the GED's interrupt so the guest reads it before
     * it hands out randomness again (devices/vmgenid.h). */
    if (rs && cfg->acpi) {
        if ((rc = vmgenid_renew(&vm->mem, X86_VMGENID_ADDR, NULL)) ||
            (rc = vmgenid_notify(vm->be, vm->bvm, X86_GED_GSI)))
            return pv_fail(err, errlen, "cannot change the VM generation ID: %s", strerror(-rc));
        /* Not the ID itself: the guest mixes it into its entropy pool. */
        pv_info("VM generation ID changed, the guest notified on GSI %u", X86_GED_GSI);
    }
    return 0;
}

static void teardown(struct vm *vm, bool verbose)
{
    /* A vCPU waiting on a stdout nobody reads lets go (serial.h). */
    if (vm->io)
        serial_close_output(&vm->serial);
    vm_pause_release(vm); /* parked vCPUs see the stop */
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        if (vm->vcpu[i])
            vm->be->vcpu_kick(vm->vcpu[i]);
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        if (vm->thread_started[i])
            pthread_join(vm->thread[i], NULL);
    console_stop(&vm->console);
    /* No vCPU runs now; stop doorbells, then the devices and their workers. */
    eventloop_stop(&vm->loop);
    api_server_stop(vm->api);
    for (size_t i = 0; i < vm->ndevices; i++)
        device_destroy(&vm->dev[i]);
    eventloop_destroy(&vm->loop);
    if (vm->io && verbose) {
        iobus_each_unclaimed(vm->io, list_unclaimed, NULL);
        unsigned m = atomic_load(&vm->unclaimed_mmio);
        if (m)
            pv_info("unclaimed MMIO accesses: %u", m);
    }
    for (uint32_t i = 0; i < vm->nvcpus; i++)
        vm->be->vcpu_destroy(vm->vcpu[i]);
    if (vm->bvm)
        vm->be->vm_destroy(vm->bvm);
    guest_mem_fini(&vm->mem);
    if (vm->io) {
        serial_fini(&vm->serial);
        free(vm->io);
    }
}

/* Frees what vm_start made, when no thread of the VM runs. */
static void vm_free(struct vm *vm)
{
    if (vm->restoring)
        restore_close(&vm->rs);
    vm_pause_fini(vm);
    free(vm);
}

int vm_start(const struct vm_config *cfg, struct plugin_set *plugins, const struct vm_options *opt,
             struct vm **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct loaded_plugin *backend =
        loader_get(plugins, cfg->backend, PLUGVM_KIND_BACKEND, err, errlen);
    if (!backend || check_devices(cfg, plugins, err, errlen))
        return -EINVAL;
    struct vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return pv_fail(err, errlen, "out of memory"), -ENOMEM;
    vm_pause_init(vm);
    vm->stop_fd = opt->stop_fd;
    if (opt->restore_dir) {
        if (restore_open(&vm->rs, opt->restore_dir, err, errlen)) {
            vm_free(vm);
            return -EINVAL;
        }
        vm->restoring = true;
    }
    vm->cfg = cfg;
    vm->be = &backend->ops.backend;
    vm->verbose = opt->verbose;
    snprintf(vm->log_prefix, sizeof(vm->log_prefix), "%s: ", backend->desc->name);
    vm->backend_name = backend->desc->name;
    vm->host = (struct plugvm_host){.size = sizeof(struct plugvm_host), .ctx = vm,
                                    .log = host_log, .gpa_to_hva = host_gpa_to_hva};
    vm->console.stop_pipe[0] = vm->console.stop_pipe[1] = -1;
    vm->console_fd = opt->console_out_fd;

    int rc = setup(vm, backend, plugins, vm->restoring ? &vm->rs : NULL, opt->api_path, err, errlen);
    if (!rc && opt->console_in_fd >= 0 &&
        console_start(&vm->console, &vm->serial, opt->console_in_fd, opt->console_terminal,
                      console_quit, vm) != 0)
        rc = pv_fail(err, errlen, "cannot start the console's input thread");
    if (rc) {
        atomic_store(&vm->stop, VM_STOP_ERROR);
        teardown(vm, false);
        vm_free(vm);
        return rc == -ENODEV ? -ENODEV : -EIO;
    }
    for (uint32_t i = 0; i < vm->nvcpus; i++) {
        struct vcpu_arg *va = malloc(sizeof(*va));
        if (va)
            *va = (struct vcpu_arg){vm, i};
        if (!va || pthread_create(&vm->thread[i], NULL, vcpu_thread, va) != 0) {
            free(va);
            pv_fail(err, errlen, "cannot start the thread of vCPU %u", i);
            vm_request_stop(vm, VM_STOP_ERROR);
            teardown(vm, false);
            vm_free(vm);
            return -EAGAIN;
        }
        vm->thread_started[i] = true;
    }
    if (vm->restoring)
        pv_log(opt->verbose ? PLUGVM_LOG_INFO : PLUGVM_LOG_DEBUG,
               "restored from %s: vCPUs running %.2f ms after plugvm started", opt->restore_dir,
               pv_ms_since_start());
    *out = vm;
    return 0;
}

int vm_finish(struct vm *vm)
{
    vm_request_stop(vm, VM_STOP_ERROR); /* no-op when a stop was requested */
    enum vm_stop why = vm_stop_state(vm);
    pv_info("VM stopped: %s", vm_stop_reason(why));
    teardown(vm, vm->verbose);
    int status = exit_status(vm, why);
    vm_free(vm);
    return status;
}
