/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM backend (Documentation/virt/kvm/api.rst): a VM with the in-kernel
 * irqchip (PIC, IOAPIC, LAPICs) and PIT, guest RAM as memslots, and one
 * vCPU per core thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <plugvm/plugin.h>

#include "kvm.h"
#include "snapshot.h"

/* KVM needs three pages for the TSS and one for the identity map on Intel
 * (VMX real-mode emulation); they must lie outside RAM. Both sit in the
 * MMIO hole just below the BIOS area, where QEMU and Firecracker put them. */
#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

/* The capabilities vm_create and the vCPU code rely on: a KVM without one
 * fails later with an ioctl's bare errno, so the probe names it instead. */
static const struct {
    int cap;
    const char *name;
} kvm_needed_caps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

/* Why /dev/kvm cannot be opened, and what to do about it. */
static void open_failure(int err, char *why, size_t len)
{
    switch (err) {
    case ENOENT:
        snprintf(why, len,
                 "/dev/kvm does not exist: load the kvm_intel or kvm_amd module (and enable "
                 "VT-x/AMD-V in the firmware); inside a VM, enable nested virtualization on its "
                 "host");
        break;
    case EACCES:
    case EPERM:
        snprintf(why, len,
                 "/dev/kvm: %s: add this user to the group that owns it (usually 'kvm': "
                 "`sudo usermod -aG kvm $USER`, then log in again)",
                 strerror(err));
        break;
    case ENODEV:
    case ENXIO:
        /* The node exists but no driver answers it: a stale node, or a
         * kernel that refuses KVM (a KVM-over-PVM guest kernel says so). */
        snprintf(why, len,
                 "/dev/kvm: %s: the kernel has no usable KVM behind the device node (kvm is not "
                 "loaded, or this kernel refuses it: see its log); load kvm_intel or kvm_amd, or "
                 "inside a VM, enable nested virtualization on its host",
                 strerror(err));
        break;
    default:
        snprintf(why, len, "/dev/kvm: %s", strerror(err));
    }
}

static int kvm_probe(char *why, size_t len, char *note, size_t note_len)
{
    note[0] = 0;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        open_failure(err, why, len);
        return -err;
    }
    int rc = 0;
    int api = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(why, len, "/dev/kvm: KVM API version %d, plugvm needs %d", api, KVM_API_VERSION);
        rc = -ENOTSUP;
        goto out;
    }
    for (size_t i = 0; i < sizeof(kvm_needed_caps) / sizeof(kvm_needed_caps[0]); i++)
        if (ioctl(fd, KVM_CHECK_EXTENSION, kvm_needed_caps[i].cap) <= 0) {
            snprintf(why, len, "/dev/kvm: this KVM lacks %s, which plugvm needs",
                     kvm_needed_caps[i].name);
            rc = -ENOTSUP;
            goto out;
        }
    /* Opening the node is not enough: a KVM whose hardware support is off
     * (or taken by another hypervisor) fails here. */
    int vm = ioctl(fd, KVM_CREATE_VM, 0);
    if (vm < 0) {
        rc = -errno;
        snprintf(why, len,
                 "/dev/kvm: KVM_CREATE_VM: %s: KVM cannot create VMs here (VT-x/AMD-V disabled, "
                 "or in use by another hypervisor?)",
                 strerror(-rc));
        goto out;
    }
    close(vm);
    /* KVM over PVM runs guest kernel code in an instruction emulator: say
     * so once, so a user knows why a Linux guest crawls. */
    if (access("/sys/module/kvm_pvm", F_OK) == 0)
        snprintf(note, note_len,
                 "this host's KVM is KVM over PVM: guest kernel-mode code is emulated (~1 us an "
                 "instruction); a Linux guest boots very slowly and may not finish");
out:
    close(fd);
    return rc;
}

static int set_memslot(struct plugvm_vm *vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
                       uint32_t flags)
{
    if ((gpa | size | (uintptr_t)hva) & 0xfff)
        return -EINVAL;
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = (flags & PLUGVM_MEM_READONLY) ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uintptr_t)hva,
    };
    return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int kvm_map_memory(struct plugvm_vm *vm, uint32_t slot, uint64_t gpa, void *hva,
                          uint64_t size, uint32_t flags)
{
    return set_memslot(vm, slot, gpa, hva, size, flags);
}

static void kvm_vm_destroy(struct plugvm_vm *vm)
{
    if (!vm)
        return;
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    free(vm->cpuid);
    free(vm->masks);
    free(vm->msr_index);
    free(vm);
}

static int fail(struct plugvm_vm *vm, const char *what)
{
    int err = errno;
    kvm_log(vm, PLUGVM_LOG_ERROR, "%s: %s", what, strerror(err));
    return -err;
}

static int get_supported_cpuid(struct plugvm_vm *vm)
{
    vm->cpuid = calloc(1, sizeof(*vm->cpuid) + KVM_MAX_CPUID_ENTRIES * sizeof(vm->cpuid->entries[0]));
    if (!vm->cpuid)
        return -ENOMEM;
    vm->cpuid->nent = KVM_MAX_CPUID_ENTRIES;
    if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0)
        return fail(vm, "KVM_GET_SUPPORTED_CPUID");
    return 0;
}

static int kvm_vm_create(const struct plugvm_host *host, const struct plugvm_vm_params *p,
                         struct plugvm_vm **out)
{
    struct plugvm_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->host = host;
    vm->nvcpus = p->vcpus;
    vm->vm_fd = -1;
    int rc;
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        rc = fail(vm, "/dev/kvm");
        goto bad;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        rc = fail(vm, "KVM_CREATE_VM");
        goto bad;
    }
    /* Memslots first: registered after the irqchip and PIT, the first one
     * costs ~4 ms here instead of ~0.1 ms (restore-floor measurements). */
    for (size_t i = 0; i < p->nregions; i++) {
        rc = set_memslot(vm, (uint32_t)i, p->regions[i].gpa, p->regions[i].hva, p->regions[i].size, 0);
        if (rc) {
            errno = -rc;
            rc = fail(vm, "KVM_SET_USER_MEMORY_REGION");
            goto bad;
        }
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
        rc = fail(vm, "KVM_SET_TSS_ADDR");
        goto bad;
    }
    uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
        rc = fail(vm, "KVM_SET_IDENTITY_MAP_ADDR");
        goto bad;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        rc = fail(vm, "KVM_CREATE_IRQCHIP");
        goto bad;
    }
    /* The speaker port (0x61) is emulated in the kernel as a dummy so that
     * Linux's PIT calibration loop does not exit to us on every read. */
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        rc = fail(vm, "KVM_CREATE_PIT2");
        goto bad;
    }
    int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) {
        rc = fail(vm, "KVM_GET_VCPU_MMAP_SIZE");
        goto bad;
    }
    vm->run_size = (size_t)run_size;
    if ((rc = get_supported_cpuid(vm)))
        goto bad;
    kvm_apply_cpuid_masks(vm->cpuid, p->masks, p->nmasks);
    if (p->nmasks) {
        if (!(vm->masks = calloc(p->nmasks, sizeof(*vm->masks)))) {
            rc = -ENOMEM;
            goto bad;
        }
        memcpy(vm->masks, p->masks, p->nmasks * sizeof(*vm->masks));
        vm->nmasks = p->nmasks;
    }
    if ((rc = kvm_install_kick_signal()))
        goto bad;
    *out = vm;
    return 0;
bad:
    kvm_vm_destroy(vm);
    return rc;
}

static void kvm_vcpu_destroy(struct plugvm_vcpu *v)
{
    if (!v)
        return;
    if (v->run)
        munmap(v->run, v->vm->run_size);
    if (v->fd >= 0)
        close(v->fd);
    free(v);
}

static int kvm_vcpu_create(struct plugvm_vm *vm, uint32_t index, struct plugvm_vcpu **out)
{
    struct plugvm_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->vm = vm;
    v->index = index;
    int rc;
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (v->fd < 0) {
        v->fd = -1;
        rc = fail(vm, "KVM_CREATE_VCPU");
        goto bad;
    }
    v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        rc = fail(vm, "mmap(kvm_run)");
        goto bad;
    }
    if ((rc = kvm_vcpu_set_cpuid(v))) {
        errno = -rc;
        rc = fail(vm, "KVM_SET_CPUID2");
        goto bad;
    }
    if ((rc = kvm_vcpu_set_boot_msrs(v))) {
        errno = -rc;
        rc = fail(vm, "KVM_SET_MSRS");
        goto bad;
    }
    if ((rc = kvm_vcpu_set_lint(v))) {
        errno = -rc;
        rc = fail(vm, "KVM_SET_LAPIC");
        goto bad;
    }
    *out = v;
    return 0;
bad:
    kvm_vcpu_destroy(v);
    return rc;
}

/* With the in-kernel LAPIC, KVM already holds every vCPU but the BSP in
 * wait-for-SIPI (KVM_MP_STATE_UNINITIALIZED); nothing to do. */
static int kvm_vcpu_set_waiting(struct plugvm_vcpu *v)
{
    (void)v;
    return 0;
}

static int kvm_irq_line(struct plugvm_vm *vm, uint32_t gsi, int level)
{
    struct kvm_irq_level l = {.irq = gsi, .level = (uint32_t)level};
    return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

static int kvm_ioeventfd(struct plugvm_vm *vm, uint64_t gpa, uint32_t len, uint64_t datamatch,
                         uint32_t flags, int fd)
{
    struct kvm_ioeventfd io = {
        .datamatch = datamatch,
        .addr = gpa,
        .len = len,
        .fd = fd,
        .flags = ((flags & PLUGVM_IOEVENTFD_DATAMATCH) ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 ((flags & PLUGVM_IOEVENTFD_DEASSIGN) ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
    };
    return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int kvm_irqfd(struct plugvm_vm *vm, uint32_t gsi, int fd, bool deassign)
{
    struct kvm_irqfd irq = {
        .fd = (uint32_t)fd,
        .gsi = gsi,
        .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0,
    };
    return ioctl(vm->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

static const struct plugvm_backend_ops kvm_ops = {
    .size = sizeof(struct plugvm_backend_ops),
    .probe = kvm_probe,
    .vm_create = kvm_vm_create,
    .vm_destroy = kvm_vm_destroy,
    .map_memory = kvm_map_memory,
    .vcpu_create = kvm_vcpu_create,
    .vcpu_destroy = kvm_vcpu_destroy,
    .vcpu_set_regs = kvm_vcpu_set_regs,
    .vcpu_set_waiting = kvm_vcpu_set_waiting,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .vcpu_dump = kvm_vcpu_dump,
    .irq_line = kvm_irq_line,
    .ioeventfd = kvm_ioeventfd,
    .irqfd = kvm_irqfd,
    .vm_save = kvm_vm_save,
    .vm_restore = kvm_vm_restore,
    .vcpu_save = kvm_vcpu_save,
    .vcpu_restore = kvm_vcpu_restore,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_BACKEND,
    .name = "kvm",
    .version = PLUGVM_VERSION,
    .description = "Linux KVM, x86_64: in-kernel irqchip and PIT, ioeventfd and irqfd",
    .ops = &kvm_ops,
};
