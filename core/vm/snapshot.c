/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a snapshot of a paused VM (docs/SNAPSHOT.md): the folder holds
 * `memory` (guest RAM, sparse), `state` (every owner's records) and
 * `vm.cfg` (the config, with every file path made absolute so it restores
 * from anywhere). It is written under a temporary name, fsynced, and put
 * in place with one rename (an exchange when an older snapshot is there),
 * so a crash leaves the previous snapshot whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/devices_state.h"
#include "record/record.h"
#include "snapshot/statefile.h"
#include "util/error.h"
#include "util/log.h"
#include "vm/snapshot.h"
#include "util/clock.h"
#include "vm/vm_internal.h"

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void remove_snapshot(const char *dir)
{
    static const char *const files[] = {"memory", "state", "vm.cfg"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* An absolute form of a path that may be relative to the current folder. */
static char *absolute(const char *p)
{
    char *r = realpath(p, NULL);
    if (r || p[0] == '/')
        return r ? r : strdup(p);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    size_t n = strlen(cwd) + strlen(p) + 2;
    r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", cwd, p);
    return r;
}

static int set_string(config_setting_t *group, const char *name, const char *value)
{
    config_setting_t *s = config_setting_get_member(group, name);
    return s && config_setting_set_string(s, value) == CONFIG_TRUE ? 0 : -1;
}

/* vm.cfg: the running config, re-read from its own text (the live one's
 * strings are the plugins'), with vm.kernel, vm.initrd and every device
 * setting its plugin marks PLUGVM_SETTING_PATH made absolute. */
static int write_config(struct vm *vm, const char *path, char *err, size_t errlen)
{
    const struct vm_config *cfg = vm->cfg;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return pv_fail(err, errlen, "%s: out of memory", path);
    config_write(&cfg->cfg, mem);
    fclose(mem);
    config_t copy;
    config_init(&copy);
    int ok = config_read_string(&copy, text);
    free(text);
    if (!ok) {
        config_destroy(&copy);
        return pv_fail(err, errlen, "%s: the running config does not read back", path);
    }
    int rc = 0;
    config_setting_t *vmg = config_lookup(&copy, "vm");
    char *k = absolute(cfg->kernel), *i = cfg->initrd ? absolute(cfg->initrd) : NULL;
    if (!k || set_string(vmg, "kernel", k) || (cfg->initrd && (!i || set_string(vmg, "initrd", i))))
        rc = -1;
    free(k);
    free(i);
    config_setting_t *devs = config_lookup(&copy, "devices");
    for (size_t d = 0; d < vm->ndevices && !rc; d++) {
        const struct plugvm_setting_spec *sp = vm->dev[d].ops->settings;
        const struct plugvm_settings *h = &vm->dev[d].settings.handle;
        for (; sp && sp->name && !rc; sp++) {
            char p[PATH_MAX];
            if (!(sp->flags & PLUGVM_SETTING_PATH) || h->ops->get_path(h, sp->name, p, sizeof(p)))
                continue;
            char *a = absolute(p);
            rc = !a || set_string(config_setting_get_elem(devs, (unsigned)d), sp->name, a);
            free(a);
        }
    }
    if (!rc) {
        FILE *f = fopen(path, "wxe");
        if (!f) {
            rc = -1;
        } else {
            fprintf(f, "# plugvm snapshot of %s: every file path is absolute.\n", cfg->path);
            config_write(&copy, f);
            rc = fflush(f) || fsync(fileno(f)) ? -1 : 0;
            rc |= fclose(f);
        }
    }
    config_destroy(&copy);
    return rc ? pv_fail(err, errlen, "%s: cannot write the config: %s", path, strerror(errno)) : 0;
}

/* The core's own record of the machine, so a restore can tell whether
 * the config it is given is the one the snapshot was taken with. */
static int core_record(struct vm *vm, struct plugvm_record_writer *w)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    o->begin(w, SNAPSHOT_TAG_VM, SNAPSHOT_VERSION_VM);
    o->put_u64(w, vm->mem.size);
    o->put_u32(w, vm->nvcpus);
    o->put_u32(w, (uint32_t)vm->ndevices);
    for (size_t i = 0; i < vm->ndevices; i++) {
        const char *name = vm->dev[i].plugin->desc->name;
        o->put_u32(w, (uint32_t)strlen(name));
        o->put_bytes(w, name, strlen(name));
        o->put_u32(w, vm->dev[i].info.device_id);
    }
    return o->end(w);
}

enum { W_CORE, W_VM, W_FIRST_VCPU };

int vm_snapshot(struct vm *vm, const char *dir, char *err, size_t errlen)
{
    if (!vm->paused)
        return pv_fail(err, errlen, "the VM must be paused to be snapshotted");
    const struct plugvm_backend_ops *be = vm->be;
    if (!PLUGVM_HAS(be, struct plugvm_backend_ops, vm_save) ||
        !PLUGVM_HAS(be, struct plugvm_backend_ops, vcpu_save))
        return pv_fail(err, errlen, "the backend cannot save a VM's state");
    char tmp[PATH_MAX], path[PATH_MAX + 16];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dir, (int)getpid()) >= (int)sizeof(tmp))
        return pv_fail(err, errlen, "%s: path too long", dir);
    if (mkdir(tmp, 0700))
        return pv_fail(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));

    size_t nw = W_FIRST_VCPU + vm->nvcpus + 2 * vm->ndevices;
    struct record_buf_writer *w = calloc(nw, sizeof(*w));
    struct statefile_section *sec = calloc(nw, sizeof(*sec));
    int rc = -1;
    if (!w || !sec) {
        pv_fail(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nw; i++)
        record_writer_init(&w[i]);

    snprintf(path, sizeof(path), "%s/memory", tmp);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        pv_fail(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    int mrc = guest_mem_save(&vm->mem, fd, path, err, errlen);
    if (!mrc && fsync(fd))
        mrc = pv_fail(err, errlen, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    if (mrc)
        goto out;

    /* Records, one writer per owner. */
    size_t n = 0;
    sec[n].owner = (struct statefile_owner){STATEFILE_OWNER_CORE, 0};
    if (core_record(vm, &w[n].handle) || serial_save(&vm->serial, &w[n].handle) ||
        i8042_save(&vm->i8042, &w[n].handle)) {
        pv_fail(err, errlen, "cannot write the core's records");
        goto out;
    }
    n++;
    sec[n].owner = (struct statefile_owner){STATEFILE_OWNER_BACKEND, 0};
    if ((rc = be->vm_save(vm->bvm, &w[n].handle))) {
        pv_fail(err, errlen, "the backend could not save the VM: %s", strerror(-rc));
        rc = -1;
        goto out;
    }
    n++;
    for (uint32_t i = 0; i < vm->nvcpus; i++, n++) {
        sec[n].owner = (struct statefile_owner){STATEFILE_OWNER_BACKEND, 1 + i};
        if ((rc = be->vcpu_save(vm->vcpu[i], &w[n].handle))) {
            pv_fail(err, errlen, "the backend could not save vCPU %u: %s", i, strerror(-rc));
            rc = -1;
            goto out;
        }
    }
    for (size_t i = 0; i < vm->ndevices; i++) {
        struct vm_device *d = &vm->dev[i];
        if (!d->ops->save) {
            pv_fail(err, errlen, "%s: plugin %s cannot save its state", d->name,
                    d->plugin->desc->name);
            rc = -1;
            goto out;
        }
        sec[n].owner = (struct statefile_owner){STATEFILE_OWNER_DEVICE, (uint32_t)i};
        if ((rc = d->ops->save(d->instance, &w[n].handle))) {
            pv_fail(err, errlen, "%s: the plugin could not save its state: %s", d->name,
                    strerror(-rc));
            rc = -1;
            goto out;
        }
        n++;
        sec[n].owner = (struct statefile_owner){STATEFILE_OWNER_TRANSPORT, (uint32_t)i};
        char why[256];
        if (virtio_mmio_save(&d->transport, &w[n].handle, why, sizeof(why))) {
            pv_fail(err, errlen, "%s: %s", d->name, why);
            rc = -1;
            goto out;
        }
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        sec[i].data = w[i].data;
        sec[i].len = w[i].len;
    }
    struct statefile_header h = {.arch = "x86_64", .memory_bytes = vm->mem.size};
    snprintf(h.backend, sizeof(h.backend), "%s", vm->backend_name);
    snprintf(path, sizeof(path), "%s/state", tmp);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        pv_fail(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
        goto out;
    }
    rc = statefile_write(fd, &h, sec, n, err, errlen);
    if (!rc && fsync(fd))
        rc = pv_fail(err, errlen, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/vm.cfg", tmp);
    if ((rc = write_config(vm, path, err, errlen)))
        goto out;

    /* Into place: the folder's contents are durable first, then the name. */
    if (fsync_path(tmp, O_RDONLY | O_DIRECTORY)) {
        rc = pv_fail(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    struct stat st;
    bool replace = stat(dir, &st) == 0;
    if (replace && renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE)) {
        rc = pv_fail(err, errlen, "%s: cannot replace the snapshot there: %s", dir,
                     strerror(errno));
        goto out;
    }
    if (!replace && rename(tmp, dir)) {
        rc = pv_fail(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    char *parent = strdup(dir), *slash = parent ? strrchr(parent, '/') : NULL;
    if (parent) {
        if (slash)
            *slash = '\0';
        fsync_path(slash ? (parent[0] ? parent : "/") : ".", O_RDONLY | O_DIRECTORY);
        free(parent);
    }
    rc = 0;
    if (!replace)
        goto done;
out:
    /* On failure: the half-written snapshot; after an exchange: the
     * previous one, now under the temporary name. */
    remove_snapshot(tmp);
done:
    if (w)
        for (size_t i = 0; i < nw; i++)
            record_writer_fini(&w[i]);
    free(w);
    free(sec);
    return rc;
}

int vm_snapshot_paused(struct vm *vm, const char *dir, double *ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&vm->control_lock);
    bool was_paused = vm->paused;
    int rc = was_paused ? 0 : vm_pause(vm, err, errlen);
    double t0 = pv_ms_since_start();
    if (!rc)
        rc = vm_snapshot(vm, dir, err, errlen);
    if (ms)
        *ms = pv_ms_since_start() - t0;
    if (!was_paused)
        vm_resume(vm);
    pthread_mutex_unlock(&vm->control_lock);
    return rc;
}
