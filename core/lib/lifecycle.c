/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libplugvm's VM lifecycle (include/plugvm/vm.h) over core/vm's vm_start,
 * its stop eventfd and vm_finish: the same path plugvm run takes, so the CLI and
 * an embedding program boot, restore and stop VMs alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/handle.h"
#include "util/log.h"
#include "util/paths.h"

int handle_fail(struct plugvm_error *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *plugvm_version(void)
{
    return PLUGVM_VERSION;
}

void plugvm_log_set_level(enum plugvm_log_level level)
{
    pv_log_level = (int)level;
}

static struct plugvm_vm *handle_new(void)
{
    struct plugvm_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return NULL;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->stop_lock, NULL);
    vm->console_in = vm->console_out = -1;
    vm->stop_fd = -1;
    return vm;
}

int plugvm_vm_new(struct plugvm_vm **out, struct plugvm_error *err)
{
    if (out)
        *out = NULL;
    else
        return handle_fail(err, -EINVAL, "no place for the VM");
    struct plugvm_vm *vm = handle_new();
    if (!vm || !(vm->dir = strdup(".")))
        return plugvm_vm_free(vm), handle_fail(err, -ENOMEM, "out of memory");
    config_init_empty(&vm->cfg, "plugvm_vm_new");
    vm->has_cfg = true;
    vm->changed = true;
    *out = vm;
    return 0;
}

/* config_load's message names the file, its code the cause. */
static int load(struct plugvm_vm *vm, const char *path, struct plugvm_error *err)
{
    char msg[sizeof(err->message)];
    int rc = config_load(&vm->cfg, path, msg, sizeof(msg));
    if (rc)
        return handle_fail(err, rc, "%s", msg);
    vm->has_cfg = true;
    vm->dir = paths_dirname(path);
    return vm->dir ? 0 : handle_fail(err, -ENOMEM, "out of memory");
}

int plugvm_vm_new_from_config(const char *path, struct plugvm_vm **out, struct plugvm_error *err)
{
    if (out)
        *out = NULL;
    else
        return handle_fail(err, -EINVAL, "no place for the VM");
    if (!path)
        return handle_fail(err, -EINVAL, "plugvm_vm_new_from_config: no path");
    struct plugvm_vm *vm = handle_new();
    if (!vm)
        return handle_fail(err, -ENOMEM, "out of memory");
    int rc = load(vm, path, err);
    if (rc) {
        plugvm_vm_free(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

int plugvm_vm_new_from_snapshot(const char *dir, struct plugvm_vm **out, struct plugvm_error *err)
{
    if (out)
        *out = NULL;
    else
        return handle_fail(err, -EINVAL, "no place for the VM");
    char path[PATH_MAX];
    if (!dir || snprintf(path, sizeof(path), "%s/vm.cfg", dir) >= (int)sizeof(path))
        return handle_fail(err, -EINVAL, "%s: not a snapshot folder's path", dir ? dir : "(null)");
    struct plugvm_vm *vm = handle_new();
    if (!vm)
        return handle_fail(err, -ENOMEM, "out of memory");
    int rc = load(vm, path, err);
    if (!rc && !(vm->restore_dir = strdup(dir)))
        rc = handle_fail(err, -ENOMEM, "out of memory");
    if (rc) {
        plugvm_vm_free(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

int plugvm_vm_start(struct plugvm_vm *vm, struct plugvm_error *err)
{
    if (!vm)
        return handle_fail(err, -EINVAL, "plugvm_vm_start: no VM");
    pthread_mutex_lock(&vm->lock);
    char msg[sizeof(err->message)];
    int rc = 0;
    if (vm->state != HANDLE_NEW)
        rc = handle_fail(err, -EBUSY, "plugvm_vm_start: the VM was started already");
    else if (vm->changed && (rc = config_reload(&vm->cfg, vm->dir, msg, sizeof(msg))))
        rc = handle_fail(err, rc, "%s", msg);
    else if (!(vm->plugins = calloc(1, sizeof(*vm->plugins))))
        rc = handle_fail(err, -ENOMEM, "out of memory");
    else if (vm->stop_fd < 0 && (vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        rc = handle_fail(err, -errno, "eventfd: %s", strerror(errno));
    if (rc) {
        pthread_mutex_unlock(&vm->lock);
        return rc;
    }
    vm->changed = false;
    struct vm_options o = {.restore_dir = vm->restore_dir, .api_path = vm->api_path,
                           .console_in_fd = vm->console_in, .console_out_fd = vm->console_out,
                           .console_terminal = vm->console_terminal, .stop_fd = vm->stop_fd,
                           .verbose = pv_log_level >= PLUGVM_LOG_INFO};
    pthread_mutex_lock(&vm->stop_lock);
    rc = vm_start(&vm->cfg, vm->plugins, &o, &vm->vm, msg, sizeof(msg));
    pthread_mutex_unlock(&vm->stop_lock);
    if (rc) {
        uint64_t n; /* the failed VM's stop request, not this one's */
        (void)!read(vm->stop_fd, &n, sizeof(n));
        handle_fail(err, rc, "%s", msg);
        loader_unload_all(vm->plugins);
        free(vm->plugins);
        vm->plugins = NULL;
        /* Checked once more at a next try: a setter may mend it. */
        vm->changed = true;
    } else {
        vm->state = HANDLE_RUNNING;
    }
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int plugvm_vm_event_fd(const struct plugvm_vm *vm)
{
    return vm && vm->state != HANDLE_NEW ? vm->stop_fd : -1;
}

/* The VM stopped: tears it down. The event fd is the handle's own, and
 * stays readable. Called with vm->lock held. */
static void end(struct plugvm_vm *vm)
{
    vm->why = vm_stop_state(vm->vm);
    pthread_mutex_lock(&vm->stop_lock);
    vm->status = vm_finish(vm->vm);
    vm->vm = NULL;
    pthread_mutex_unlock(&vm->stop_lock);
    loader_unload_all(vm->plugins);
    free(vm->plugins);
    vm->plugins = NULL;
    vm->state = HANDLE_ENDED;
}

int plugvm_vm_wait(struct plugvm_vm *vm, int timeout_ms, int *status, struct plugvm_error *err)
{
    if (!vm)
        return handle_fail(err, -EINVAL, "plugvm_vm_wait: no VM");
    pthread_mutex_lock(&vm->lock);
    enum handle_state state = vm->state;
    int fd = vm->stop_fd;
    pthread_mutex_unlock(&vm->lock);
    if (state == HANDLE_NEW)
        return handle_fail(err, -EBUSY, "plugvm_vm_wait: the VM was not started");
    if (state == HANDLE_RUNNING) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n;
        do
            n = poll(&p, 1, timeout_ms);
        while (n < 0 && errno == EINTR && timeout_ms < 0);
        if (n < 0 && errno != EINTR)
            return handle_fail(err, -errno, "plugvm_vm_wait: poll: %s", strerror(errno));
        pthread_mutex_lock(&vm->lock);
        if (vm->state == HANDLE_RUNNING) {
            if (vm_stop_state(vm->vm) == VM_RUNNING) {
                pthread_mutex_unlock(&vm->lock);
                return handle_fail(err, -ETIMEDOUT, "the VM still runs after %d ms", timeout_ms);
            }
            end(vm);
        }
        pthread_mutex_unlock(&vm->lock);
    }
    if (status)
        *status = vm->status;
    return 0;
}

enum plugvm_stop plugvm_vm_stop_reason(const struct plugvm_vm *vm)
{
    if (!vm || vm->state == HANDLE_NEW)
        return PLUGVM_RUNNING;
    enum vm_stop why = vm->state == HANDLE_ENDED ? vm->why : vm_stop_state(vm->vm);
    switch (why) {
    case VM_RUNNING: return PLUGVM_RUNNING;
    case VM_STOP_RESET: return PLUGVM_STOP_RESET;
    case VM_STOP_POWEROFF: return PLUGVM_STOP_POWEROFF;
    case VM_STOP_GUEST_EXIT: return PLUGVM_STOP_GUEST_EXIT;
    case VM_STOP_REQUESTED:
    case VM_STOP_SIGINT:
    case VM_STOP_SIGTERM:
    case VM_STOP_TIMEOUT: return PLUGVM_STOP_REQUESTED;
    default: return PLUGVM_STOP_ERROR;
    }
}

int handle_stop_for(struct plugvm_vm *vm, enum vm_stop why, struct plugvm_error *err)
{
    /* Not vm->lock: a snapshot or a pause may hold it for seconds, and a
     * stop must get through (vm_request_stop is for any thread). stop_lock
     * keeps end() from freeing the VM meanwhile. */
    pthread_mutex_lock(&vm->stop_lock);
    int rc = 0;
    if (vm->vm)
        vm_request_stop(vm->vm, why);
    else if (vm->state == HANDLE_NEW)
        rc = handle_fail(err, -EBUSY, "plugvm_vm_stop: the VM was not started");
    pthread_mutex_unlock(&vm->stop_lock);
    return rc;
}

int plugvm_vm_stop(struct plugvm_vm *vm, struct plugvm_error *err)
{
    if (!vm)
        return handle_fail(err, -EINVAL, "plugvm_vm_stop: no VM");
    return handle_stop_for(vm, VM_STOP_REQUESTED, err);
}

/* 0 with vm->lock held when the VM runs; -EBUSY (not held) otherwise. */
static int running(struct plugvm_vm *vm, const char *what, struct plugvm_error *err)
{
    if (!vm)
        return handle_fail(err, -EINVAL, "%s: no VM", what);
    pthread_mutex_lock(&vm->lock);
    if (vm->state == HANDLE_RUNNING && vm_stop_state(vm->vm) == VM_RUNNING)
        return 0;
    int rc = handle_fail(err, -EBUSY, "%s: the VM %s", what,
                         vm->state == HANDLE_NEW ? "was not started" : "has stopped");
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int plugvm_vm_pause(struct plugvm_vm *vm, struct plugvm_error *err)
{
    int rc = running(vm, "plugvm_vm_pause", err);
    if (rc)
        return rc;
    char msg[sizeof(err->message)];
    if (vm_pause(vm->vm, msg, sizeof(msg)))
        rc = handle_fail(err, vm_stop_state(vm->vm) == VM_RUNNING ? -ETIMEDOUT : -EBUSY, "%s", msg);
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int plugvm_vm_resume(struct plugvm_vm *vm, struct plugvm_error *err)
{
    int rc = running(vm, "plugvm_vm_resume", err);
    if (rc)
        return rc;
    vm_resume(vm->vm);
    pthread_mutex_unlock(&vm->lock);
    return 0;
}

int plugvm_vm_snapshot(struct plugvm_vm *vm, const char *dir, struct plugvm_error *err)
{
    if (!dir || !dir[0])
        return handle_fail(err, -EINVAL, "plugvm_vm_snapshot: expected a folder");
    int rc = running(vm, "plugvm_vm_snapshot", err);
    if (rc)
        return rc;
    char msg[sizeof(err->message)];
    double ms;
    if (vm_snapshot_paused(vm->vm, dir, &ms, msg, sizeof(msg)))
        rc = handle_fail(err, -EIO, "%s", msg);
    else
        pv_info("snapshot written to %s in %.1f ms", dir, ms);
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

void plugvm_vm_free(struct plugvm_vm *vm)
{
    if (!vm)
        return;
    pthread_mutex_lock(&vm->lock);
    if (vm->state == HANDLE_RUNNING) {
        vm_request_stop(vm->vm, VM_STOP_REQUESTED);
        end(vm);
    }
    pthread_mutex_unlock(&vm->lock);
    if (vm->stop_fd >= 0)
        close(vm->stop_fd);
    if (vm->has_cfg)
        config_free(&vm->cfg);
    free(vm->dir);
    free(vm->restore_dir);
    free(vm->api_path);
    pthread_mutex_destroy(&vm->stop_lock);
    pthread_mutex_destroy(&vm->lock);
    free(vm);
}
