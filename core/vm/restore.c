/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restoring a VM from a snapshot folder (docs/SNAPSHOT.md). vm.c builds
 * the VM as for a boot, calling in here where a restore differs: guest
 * RAM is the memory file mapped copy-on-write, vCPU and VM state come
 * from the backend's records instead of the boot protocol, each device's
 * plugin and transport take theirs, then COM1 and the i8042. Everything
 * in the state file is checked before the first record is applied, and
 * every record must be read by its owner: any failure stops the restore
 * before a vCPU runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/devices_state.h"
#include "record/record.h"
#include "snapshot/statefile.h"
#include "util/error.h"
#include "util/log.h"
#include "vm/restore.h"
#include "vm/snapshot.h"
#include "vm/vm_internal.h"

/* What a path that should be a regular file turned out to be. */
static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
           : S_ISDIR(m) ? "a folder" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* Opens DIR/NAME, which must be a regular file, into path (for messages)
 * and st. A plain open() of a FIFO waits for a writer, so a snapshot
 * folder whose state or memory was a FIFO hung `plugvm restore` forever
 * (issue 12), and a device such as /dev/zero would have been read or
 * mapped as a snapshot. O_NONBLOCK makes the open return at once, and
 * fstat judges what was opened rather than what the path named a moment
 * earlier. The fd, or -1 with err. */
static int open_snapshot_file(const char *dir, const char *name, char *path, size_t pathlen,
                              struct stat *st, char *err, size_t errlen)
{
    if ((size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen)
        return pv_fail(err, errlen, "%s: path too long", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return pv_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (fstat(fd, st)) {
        int e = errno;
        close(fd);
        return pv_fail(err, errlen, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return pv_fail(err, errlen, "%s: %s; a snapshot's %s must be a regular file", path,
                       file_kind(st->st_mode), name);
    }
    /* Only the open needed it; later reads of the file must not depend on
     * how a filesystem treats O_NONBLOCK on a regular file. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
        int e = errno;
        close(fd);
        return pv_fail(err, errlen, "%s: %s", path, strerror(e));
    }
    return fd;
}

int restore_open(struct restore_src *src, const char *dir, char *err, size_t errlen)
{
    memset(src, 0, sizeof(*src));
    src->dir = dir;
    src->mem_fd = -1;
    char path[4096];
    struct stat st;
    int fd = open_snapshot_file(dir, "state", path, sizeof(path), &st, err, errlen);
    if (fd < 0)
        return -1;
    if (st.st_size < STATEFILE_HEADER_SIZE) {
        close(fd);
        return pv_fail(err, errlen, "%s: %lld bytes, shorter than the %u-byte header: truncated",
                       path, (long long)st.st_size, STATEFILE_HEADER_SIZE);
    }
    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED)
        return pv_fail(err, errlen, "%s: %s", path, strerror(errno));
    int rc = statefile_parse(&src->sf, path, data, (size_t)st.st_size, err, errlen);
    munmap(data, (size_t)st.st_size);
    if (rc)
        return -1;
    /* The memory file is judged here, before the backend is probed, so a
     * wrong one is named as such on any host rather than hidden behind
     * "backend cannot run here" (issue 12). */
    uint64_t ram = src->sf.header.memory_bytes;
    if (ram == 0 || (ram & 4095)) {
        statefile_free(&src->sf);
        return pv_fail(err, errlen, "%s: guest RAM of %llu bytes in its header; expected a "
                       "non-zero multiple of 4096", path, (unsigned long long)ram);
    }
    src->mem_fd = open_snapshot_file(dir, "memory", path, sizeof(path), &st, err, errlen);
    if (src->mem_fd < 0) {
        statefile_free(&src->sf);
        return -1;
    }
    if ((uint64_t)st.st_size != ram) {
        pv_fail(err, errlen, "%s: %llu bytes; expected %llu, the guest RAM %s/state says it "
                "holds", path, (unsigned long long)st.st_size, (unsigned long long)ram, dir);
        restore_close(src);
        return -1;
    }
    return 0;
}

void restore_close(struct restore_src *src)
{
    if (src->mem_fd >= 0)
        close(src->mem_fd);
    src->mem_fd = -1;
    statefile_free(&src->sf);
}

/* A reader over one owner's records; an owner the file lacks reads as
 * empty, so each record's own open() names what is missing. */
static void reader(const struct restore_src *src, struct statefile_owner o,
                   struct record_buf_reader *r)
{
    const struct statefile_section *s = statefile_find(&src->sf, o);
    record_reader_init(r, s ? s->data : NULL, s ? s->len : 0);
}

static int all_read(const struct record_buf_reader *r, struct statefile_owner o, const char *dir,
                    char *err, size_t errlen)
{
    uint32_t tag;
    char on[40];
    if (record_reader_unread(r, &tag))
        return pv_fail(err, errlen, "%s/state: %s has a record with tag %u that this plugvm "
                       "does not know", dir, statefile_owner_name(o, on, sizeof(on)), tag);
    return 0;
}

int restore_check(struct vm *vm, struct restore_src *src, char *err, size_t errlen)
{
    /* Every owner in the file must exist in this VM. */
    for (size_t i = 0; i < src->sf.nsections; i++) {
        struct statefile_owner o = src->sf.sections[i].owner;
        bool ok = o.kind == STATEFILE_OWNER_CORE ? o.index == 0
                  : o.kind == STATEFILE_OWNER_BACKEND ? o.index <= vm->cfg->vcpus
                                                      : o.index < vm->cfg->ndevices;
        char on[40];
        if (!ok)
            return pv_fail(err, errlen, "%s/state: records of %s, which the config (%u vCPUs, "
                           "%zu devices) does not have", src->dir,
                           statefile_owner_name(o, on, sizeof(on)), vm->cfg->vcpus,
                           vm->cfg->ndevices);
    }
    /* The core's record: the same machine. Its reader goes on to COM1's
     * and the i8042's records in restore_core. */
    struct record_buf_reader *core = &src->core;
    reader(src, (struct statefile_owner){STATEFILE_OWNER_CORE, 0}, core);
    const struct plugvm_record_reader_ops *o = core->handle.ops;
    uint32_t version, vcpus, ndev;
    uint64_t mem;
    if (o->open(&core->handle, SNAPSHOT_TAG_VM, &version) || version != SNAPSHOT_VERSION_VM ||
        o->get_u64(&core->handle, &mem) || o->get_u32(&core->handle, &vcpus) ||
        o->get_u32(&core->handle, &ndev))
        return pv_fail(err, errlen, "%s/state: the core's machine record (tag %u) is missing, "
                       "of another version or truncated", src->dir, SNAPSHOT_TAG_VM);
    if (vcpus != vm->cfg->vcpus || ndev != vm->cfg->ndevices)
        return pv_fail(err, errlen, "%s/state: %u vCPUs and %u devices; the config has %u and %zu",
                       src->dir, vcpus, ndev, vm->cfg->vcpus, vm->cfg->ndevices);
    for (uint32_t i = 0; i < ndev; i++) {
        uint32_t len, id;
        char name[64];
        if (o->get_u32(&core->handle, &len) || len >= sizeof(name) ||
            o->get_bytes(&core->handle, name, len) || o->get_u32(&core->handle, &id))
            return pv_fail(err, errlen, "%s/state: the core's machine record is truncated",
                           src->dir);
        name[len] = '\0';
        const struct vm_device *d = &vm->dev[i];
        if (strcmp(name, d->plugin->desc->name) || id != d->info.device_id)
            return pv_fail(err, errlen, "%s/state: devices[%u] was plugin %s (virtio device %u); "
                           "the config gives plugin %s (device %u)", src->dir, i, name, id,
                           d->plugin->desc->name, d->info.device_id);
    }
    if (o->close(&core->handle))
        return pv_fail(err, errlen, "%s/state: the core's machine record is longer than this "
                       "plugvm reads", src->dir);
    return 0;
}

int restore_memory(struct vm *vm, const struct restore_src *src, char *err, size_t errlen)
{
    /* The header first: nothing is mapped for a snapshot of another kind. */
    const struct statefile_header *h = &src->sf.header;
    if (strcmp(h->arch, "x86_64") || strcmp(h->backend, vm->backend_name))
        return pv_fail(err, errlen, "%s/state: taken on %s with backend %s; this is x86_64 with "
                       "backend %s", src->dir, h->arch, h->backend, vm->backend_name);
    if (h->memory_bytes != vm->cfg->memory_mib << 20)
        return pv_fail(err, errlen, "%s/state: guest RAM of %llu bytes; the config says %llu MiB",
                       src->dir, (unsigned long long)h->memory_bytes,
                       (unsigned long long)vm->cfg->memory_mib);
    char path[4096];
    snprintf(path, sizeof(path), "%s/memory", src->dir);
    return guest_mem_init_file(&vm->mem, src->sf.header.memory_bytes, src->mem_fd, path, err,
                               errlen);
}

int restore_machine(struct vm *vm, const struct restore_src *src, char *err, size_t errlen)
{
    const struct plugvm_backend_ops *be = vm->be;
    if (!PLUGVM_HAS(be, struct plugvm_backend_ops, vm_restore) ||
        !PLUGVM_HAS(be, struct plugvm_backend_ops, vcpu_restore))
        return pv_fail(err, errlen, "backend %s cannot restore a VM's state", vm->backend_name);
    struct record_buf_reader r;
    int rc;
    for (uint32_t i = 0; i < vm->nvcpus; i++) {
        struct statefile_owner o = {STATEFILE_OWNER_BACKEND, 1 + i};
        reader(src, o, &r);
        if ((rc = be->vcpu_restore(vm->vcpu[i], &r.handle)))
            return pv_fail(err, errlen, "%s/state: vCPU %u's records were refused by the backend "
                           "(%s)", src->dir, i, strerror(-rc));
        if (all_read(&r, o, src->dir, err, errlen))
            return -1;
    }
    struct statefile_owner o = {STATEFILE_OWNER_BACKEND, 0};
    reader(src, o, &r);
    if ((rc = be->vm_restore(vm->bvm, &r.handle)))
        return pv_fail(err, errlen, "%s/state: the VM's records were refused by the backend (%s)",
                       src->dir, strerror(-rc));
    return all_read(&r, o, src->dir, err, errlen);
}

int restore_device(struct vm *vm, size_t i, const struct restore_src *src, char *err,
                   size_t errlen)
{
    struct vm_device *d = &vm->dev[i];
    struct statefile_owner o = {STATEFILE_OWNER_DEVICE, (uint32_t)i};
    struct record_buf_reader r;
    reader(src, o, &r);
    int rc;
    if (!d->ops->restore)
        return pv_fail(err, errlen, "%s: plugin %s cannot restore its state", d->name,
                       d->plugin->desc->name);
    if ((rc = d->ops->restore(d->instance, &r.handle)))
        return pv_fail(err, errlen, "%s/state: %s: its plugin refused its records (%s)", src->dir,
                       d->name, strerror(-rc));
    return all_read(&r, o, src->dir, err, errlen);
}

int restore_transport(struct vm *vm, size_t i, const struct restore_src *src, char *err,
                      size_t errlen)
{
    struct vm_device *d = &vm->dev[i];
    struct statefile_owner o = {STATEFILE_OWNER_TRANSPORT, (uint32_t)i};
    struct record_buf_reader r;
    reader(src, o, &r);
    char why[512];
    if (virtio_mmio_restore(&d->transport, &r.handle, why, sizeof(why)))
        return pv_fail(err, errlen, "%s/state: %s: %s", src->dir, d->name, why);
    return all_read(&r, o, src->dir, err, errlen);
}

int restore_core(struct vm *vm, struct restore_src *src, char *err, size_t errlen)
{
    struct statefile_owner o = {STATEFILE_OWNER_CORE, 0};
    struct record_buf_reader *r = &src->core; /* past the machine record (restore_check) */
    int rc = serial_restore(&vm->serial, &r->handle);
    if (rc)
        return pv_fail(err, errlen, "%s/state: COM1's record (core, tag %u): %s", src->dir,
                       DEVICES_TAG_SERIAL, rc == -ENOENT ? "missing" : "malformed");
    if ((rc = i8042_restore(&vm->i8042, &r->handle)))
        return pv_fail(err, errlen, "%s/state: the i8042's record (core, tag %u): %s", src->dir,
                       DEVICES_TAG_I8042, rc == -ENOENT ? "missing" : "malformed");
    return all_read(r, o, src->dir, err, errlen);
}
