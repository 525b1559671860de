/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Saving and restoring what only KVM holds: per vCPU the registers, FPU and
 * XSAVE state, XCRs, debug registers, LAPIC, MSRs, pending events, MP state
 * and TSC; per VM the PICs, the IOAPIC, the PIT and kvmclock
 * (Documentation/virt/kvm/api.rst). One record per item (snapshot.h); KVM's
 * structs go in as they are (as Firecracker stores them), their sizes
 * checked on the way back in.
 *
 * A restore reads and checks every record of its owner before the first
 * KVM_SET_*, so a refused snapshot leaves the vCPU or VM as it was. It does
 * no probing: the MSR list, sizes and TSC rate come from the records; the
 * only queries are KVM_GET_TSC_KHZ and, once per VM, the XSAVE size (a few
 * microseconds each).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"
#include "snapshot.h"

#define MSR_IA32_TSC 0x10
/* MTRRs (Intel SDM vol. 3A §12.11): capability, the variable pairs from
 * 0x200, the fixed ranges, the default type. */
#define MSR_MTRR_CAP 0xfe
#define MSR_MTRR_PHYS_BASE0 0x200
#define MSR_MTRR_DEF_TYPE 0x2ff
static const uint32_t mtrr_fixed[] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                      0x26b, 0x26c, 0x26d, 0x26e, 0x26f};

/* KVM_GET_MSRS and KVM_SET_MSRS take fewer than MAX_IO_MSRS (256) entries
 * a call (arch/x86/kvm/x86.c, msr_io). */
#define MSR_BATCH 255
/* More MSRs than any KVM lists (about 150 with Hyper-V's): a record
 * claiming more is damaged. */
#define MSR_RECORD_MAX 4096
/* Largest XSAVE area accepted from a record: AMX's is about 11 KiB. */
#define XSAVE_RECORD_MAX (1u << 20)

static const char *rec_name(uint32_t tag)
{
    switch (tag) {
    case KVM_REC_PIC_MASTER: return "PIC_MASTER";
    case KVM_REC_PIC_SLAVE: return "PIC_SLAVE";
    case KVM_REC_IOAPIC: return "IOAPIC";
    case KVM_REC_PIT: return "PIT";
    case KVM_REC_CLOCK: return "CLOCK";
    case KVM_REC_TSC: return "TSC";
    case KVM_REC_MP_STATE: return "MP_STATE";
    case KVM_REC_REGS: return "REGS";
    case KVM_REC_SREGS: return "SREGS";
    case KVM_REC_XSAVE: return "XSAVE";
    case KVM_REC_XCRS: return "XCRS";
    case KVM_REC_DEBUGREGS: return "DEBUGREGS";
    case KVM_REC_LAPIC: return "LAPIC";
    case KVM_REC_MSRS: return "MSRS";
    case KVM_REC_EVENTS: return "EVENTS";
    case KVM_REC_CPUID: return "CPUID";
    }
    return "?";
}

/* Who a log line is about: the VM (index < 0) or vCPU `index`. */
struct who {
    struct plugvm_vm *vm;
    int index;
};

static void say(struct who who, enum plugvm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct who who, enum plugvm_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (who.index < 0)
        kvm_log(who.vm, level, "VM snapshot: %s", msg);
    else
        kvm_log(who.vm, level, "vCPU %d snapshot: %s", who.index, msg);
}

/* An ioctl that failed, with the record it was for. Returns -errno. */
static int ioctl_failed(struct who who, const char *call, uint32_t tag)
{
    int err = errno;
    say(who, PLUGVM_LOG_ERROR, "%s (record %s, tag %u): %s", call, rec_name(tag), tag,
        strerror(err));
    return -err;
}

/* --- Writing --- */

/* A record holding `len` bytes of a KVM struct as they are. The writer's
 * errors are sticky and end() reports them (record.h), but each call is
 * still checked so a failure stops at once. */
static int put_raw(struct plugvm_record_writer *w, uint32_t tag, const void *p, size_t len)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    int rc = o->begin(w, tag, KVM_REC_VERSION);
    if (!rc)
        rc = o->put_bytes(w, p, len);
    if (!rc)
        rc = o->end(w);
    return rc;
}

static int write_failed(struct who who, uint32_t tag, int rc)
{
    say(who, PLUGVM_LOG_ERROR, "writing record %s (tag %u): %s", rec_name(tag), tag,
        strerror(-rc));
    return rc;
}

/* --- Reading --- */

/* Opens the record `tag` and checks its version and, when `want` is not 0,
 * that its body is exactly `want` bytes. Logs and returns -ENOENT
 * (missing), -ENOTSUP (another version) or -EBADMSG (another size). */
static int open_rec(struct plugvm_record_reader *r, struct who who, uint32_t tag, size_t want)
{
    uint32_t version;
    int rc = r->ops->open(r, tag, &version);
    if (rc == -ENOENT) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) missing", rec_name(tag), tag);
        return rc;
    }
    if (rc) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u): %s", rec_name(tag), tag, strerror(-rc));
        return rc;
    }
    if (version != KVM_REC_VERSION) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) is version %u; this plugvm reads version %u",
            rec_name(tag), tag, version, KVM_REC_VERSION);
        r->ops->close(r);
        return -ENOTSUP;
    }
    size_t have = r->ops->remaining(r);
    if (want && have != want) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) holds %zu bytes, expected %zu",
            rec_name(tag), tag, have, want);
        r->ops->close(r);
        return -EBADMSG;
    }
    return 0;
}

/* A get or close that failed inside a record already opened. */
static int read_failed(struct plugvm_record_reader *r, struct who who, uint32_t tag, int rc)
{
    say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) is malformed: %s", rec_name(tag), tag,
        strerror(-rc));
    r->ops->close(r);
    return rc;
}

/* Reads a record that is exactly one KVM struct of `len` bytes. */
static int get_raw(struct plugvm_record_reader *r, struct who who, uint32_t tag, void *p,
                   size_t len)
{
    int rc = open_rec(r, who, tag, len);
    if (rc)
        return rc;
    if ((rc = r->ops->get_bytes(r, p, len)) || (rc = r->ops->close(r)))
        return read_failed(r, who, tag, rc);
    return 0;
}

/* ===================================================================== */
/* VM                                                                    */
/* ===================================================================== */

static int get_chip(struct plugvm_vm *vm, uint32_t id, struct kvm_irqchip *c)
{
    memset(c, 0, sizeof(*c));
    c->chip_id = id;
    return ioctl(vm->vm_fd, KVM_GET_IRQCHIP, c);
}

int kvm_vm_save(struct plugvm_vm *vm, struct plugvm_record_writer *w)
{
    struct who who = {vm, -1};
    struct kvm_irqchip pic0, pic1, ioapic;
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;
    memset(&pit, 0, sizeof(pit));
    memset(&clock, 0, sizeof(clock));
    if (get_chip(vm, KVM_IRQCHIP_PIC_MASTER, &pic0) < 0)
        return ioctl_failed(who, "KVM_GET_IRQCHIP", KVM_REC_PIC_MASTER);
    if (get_chip(vm, KVM_IRQCHIP_PIC_SLAVE, &pic1) < 0)
        return ioctl_failed(who, "KVM_GET_IRQCHIP", KVM_REC_PIC_SLAVE);
    if (get_chip(vm, KVM_IRQCHIP_IOAPIC, &ioapic) < 0)
        return ioctl_failed(who, "KVM_GET_IRQCHIP", KVM_REC_IOAPIC);
    if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
        return ioctl_failed(who, "KVM_GET_PIT2", KVM_REC_PIT);
    if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
        return ioctl_failed(who, "KVM_GET_CLOCK", KVM_REC_CLOCK);

    const struct {
        uint32_t tag;
        const void *p;
        size_t len;
    } recs[] = {
        {KVM_REC_PIC_MASTER, &pic0.chip.pic, sizeof(pic0.chip.pic)},
        {KVM_REC_PIC_SLAVE, &pic1.chip.pic, sizeof(pic1.chip.pic)},
        {KVM_REC_IOAPIC, &ioapic.chip.ioapic, sizeof(ioapic.chip.ioapic)},
        {KVM_REC_PIT, &pit, sizeof(pit)},
        {KVM_REC_CLOCK, &clock, sizeof(clock)},
    };
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        int rc = put_raw(w, recs[i].tag, recs[i].p, recs[i].len);
        if (rc)
            return write_failed(who, recs[i].tag, rc);
    }
    return 0;
}

/*
 * Order: the PICs and the IOAPIC, then the PIT, then kvmclock.
 *  - The interrupt controllers before the PIT: KVM_SET_PIT2 reloads the
 *    channels' counts and restarts channel 0's timer from now, so a tick
 *    raised during the restore lands in the restored controllers rather
 *    than in fresh ones about to be overwritten.
 *  - kvmclock last (as QEMU, which sets it when the VM starts running, and
 *    cloud-hypervisor, at resume): KVM_SET_CLOCK sets the offset between
 *    the host's clock now and the guest's, so nothing done after it counts
 *    as guest time; and the vCPUs' TSC writes (vcpu_restore, before this)
 *    have already re-synchronised KVM's master clock that it reads.
 */
int kvm_vm_restore(struct plugvm_vm *vm, struct plugvm_record_reader *r)
{
    struct who who = {vm, -1};
    struct kvm_irqchip pic0 = {.chip_id = KVM_IRQCHIP_PIC_MASTER};
    struct kvm_irqchip pic1 = {.chip_id = KVM_IRQCHIP_PIC_SLAVE};
    struct kvm_irqchip ioapic = {.chip_id = KVM_IRQCHIP_IOAPIC};
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;
    int rc;
    if ((rc = get_raw(r, who, KVM_REC_PIC_MASTER, &pic0.chip.pic, sizeof(pic0.chip.pic))) ||
        (rc = get_raw(r, who, KVM_REC_PIC_SLAVE, &pic1.chip.pic, sizeof(pic1.chip.pic))) ||
        (rc = get_raw(r, who, KVM_REC_IOAPIC, &ioapic.chip.ioapic, sizeof(ioapic.chip.ioapic))) ||
        (rc = get_raw(r, who, KVM_REC_PIT, &pit, sizeof(pit))) ||
        (rc = get_raw(r, who, KVM_REC_CLOCK, &clock, sizeof(clock))))
        return rc;

    if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &pic0) < 0)
        return ioctl_failed(who, "KVM_SET_IRQCHIP", KVM_REC_PIC_MASTER);
    if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &pic1) < 0)
        return ioctl_failed(who, "KVM_SET_IRQCHIP", KVM_REC_PIC_SLAVE);
    if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &ioapic) < 0)
        return ioctl_failed(who, "KVM_SET_IRQCHIP", KVM_REC_IOAPIC);
    if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
        return ioctl_failed(who, "KVM_SET_PIT2", KVM_REC_PIT);
    /* The guest's clock continues from the saved value: no time passes for
     * it while the snapshot sat on disk (Firecracker does the same). The
     * saved flags (TSC_STABLE, REALTIME, HOST_TSC) are dropped: with
     * KVM_CLOCK_REALTIME KVM would instead add the wall-clock time since
     * the save, and kernels before 5.16 refuse any flag. */
    clock.flags = 0;
    if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
        return ioctl_failed(who, "KVM_SET_CLOCK", KVM_REC_CLOCK);
    return 0;
}

/* ===================================================================== */
/* vCPU                                                                  */
/* ===================================================================== */

/* Bytes of the XSAVE area KVM_GET_XSAVE2 writes and KVM_SET_XSAVE reads
 * on this host: KVM_CAP_XSAVE2's answer, or struct kvm_xsave's 4 KiB where
 * the capability is missing (kernels before 5.17). Asked once per VM. */
static size_t xsave_size(struct plugvm_vm *vm)
{
    if (!vm->xsave_size) {
        int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
        vm->xsave_size = n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
    }
    return vm->xsave_size;
}

/* The MSRs to save, fetched at the VM's first vcpu_save: those KVM says a
 * VMM should save (KVM_GET_MSR_INDEX_LIST), plus the MTRRs, which KVM
 * leaves out of that list (QEMU saves them by hand too) although
 * vcpu_create sets them: without them a restored Linux would find its
 * RAM's caching type gone. Control thread only, like save itself. */
static int msr_index_list(struct plugvm_vcpu *v, struct who who)
{
    struct plugvm_vm *vm = v->vm;
    if (vm->msr_index)
        return 0;
    struct kvm_msr_list probe = {.nmsrs = 0};
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return ioctl_failed(who, "KVM_GET_MSR_INDEX_LIST", KVM_REC_MSRS);
    /* Room for the MTRRs: 8 variable pairs at most in KVM (KVM_NR_VAR_MTRR),
     * 255 by MTRRcap's field width. */
    enum { MTRR_ROOM = 1 + 2 * 255 + sizeof(mtrr_fixed) / sizeof(mtrr_fixed[0]) };
    struct kvm_msr_list *l =
        calloc(1, sizeof(*l) + (probe.nmsrs + MTRR_ROOM) * sizeof(l->indices[0]));
    if (!l)
        return -ENOMEM;
    l->nmsrs = probe.nmsrs;
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
        int rc = ioctl_failed(who, "KVM_GET_MSR_INDEX_LIST", KVM_REC_MSRS);
        free(l);
        return rc;
    }
    /* MTRRcap's VCNT (bits 7:0) says how many variable pairs there are;
     * where it cannot be read the vCPU has no MTRRs to save. */
    _Alignas(struct kvm_msrs) uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    memset(buf, 0, sizeof(buf));
    struct kvm_msrs *cap = (struct kvm_msrs *)buf;
    cap->nmsrs = 1;
    cap->entries[0].index = MSR_MTRR_CAP;
    if (ioctl(v->fd, KVM_GET_MSRS, cap) == 1) {
        uint32_t n = l->nmsrs;
        uint32_t vcnt = (uint32_t)(cap->entries[0].data & 0xff);
        l->indices[n++] = MSR_MTRR_DEF_TYPE;
        for (size_t i = 0; i < sizeof(mtrr_fixed) / sizeof(mtrr_fixed[0]); i++)
            l->indices[n++] = mtrr_fixed[i];
        for (uint32_t i = 0; i < 2 * vcnt; i++)
            l->indices[n++] = MSR_MTRR_PHYS_BASE0 + i;
        /* Keep each MSR once, should a KVM list some of them already. */
        uint32_t kept = probe.nmsrs;
        for (uint32_t i = probe.nmsrs; i < n; i++) {
            bool dup = false;
            for (uint32_t j = 0; j < probe.nmsrs && !dup; j++)
                dup = l->indices[j] == l->indices[i];
            if (!dup)
                l->indices[kept++] = l->indices[i];
        }
        l->nmsrs = kept;
    }
    vm->msr_index = l;
    return 0;
}

/* Reads every listed MSR but the TSC (its own record) into *out. KVM lists
 * some MSRs it then refuses to read for this vCPU (features the host or
 * the vCPU's CPUID lacks); KVM_GET_MSRS stops at the first such one and
 * returns how many it read, so the batch resumes after it. The refused
 * ones are left out and named once per VM in an INFO line. */
static int read_msrs(struct plugvm_vcpu *v, struct who who, struct kvm_msr_entry **out,
                     uint32_t *nout)
{
    int rc = msr_index_list(v, who);
    if (rc)
        return rc;
    const struct kvm_msr_list *l = v->vm->msr_index;
    struct kvm_msr_entry *all = calloc(l->nmsrs ? l->nmsrs : 1, sizeof(*all));
    struct kvm_msrs *m = calloc(1, sizeof(*m) + MSR_BATCH * sizeof(m->entries[0]));
    uint32_t *refused = calloc(l->nmsrs ? l->nmsrs : 1, sizeof(*refused));
    if (!all || !m || !refused) {
        rc = -ENOMEM;
        goto out;
    }
    uint32_t nall = 0, nref = 0;
    for (uint32_t i = 0; i < l->nmsrs; i++)
        if (l->indices[i] != MSR_IA32_TSC)
            all[nall++].index = l->indices[i];

    uint32_t nread = 0;
    for (uint32_t at = 0; at < nall;) {
        uint32_t n = nall - at < MSR_BATCH ? nall - at : MSR_BATCH;
        m->nmsrs = n;
        memcpy(m->entries, &all[at], n * sizeof(all[0]));
        int got = ioctl(v->fd, KVM_GET_MSRS, m);
        if (got < 0) {
            rc = ioctl_failed(who, "KVM_GET_MSRS", KVM_REC_MSRS);
            goto out;
        }
        memcpy(&all[nread], m->entries, (size_t)got * sizeof(all[0]));
        nread += (uint32_t)got;
        at += (uint32_t)got;
        if ((uint32_t)got < n)
            refused[nref++] = all[at++].index;
    }
    if (nref && !v->vm->msr_refusals_logged) {
        char list[512];
        size_t k = 0;
        list[0] = 0;
        for (uint32_t i = 0; i < nref && k < sizeof(list); i++)
            k += (size_t)snprintf(list + k, sizeof(list) - k, "%s0x%x", i ? " " : "", refused[i]);
        say(who, PLUGVM_LOG_INFO, "%u of the %u MSRs to save cannot be read here, not saved: %s",
            nref, l->nmsrs, list);
        v->vm->msr_refusals_logged = true;
    }
    *out = all;
    *nout = nread;
    all = NULL;
out:
    free(all);
    free(m);
    free(refused);
    return rc;
}

/* Writes entries[0..n) in batches KVM accepts. KVM_SET_MSRS returns how
 * many it set, stopping at the first it refused: that one is named. */
static int write_msrs(struct plugvm_vcpu *v, struct who who, const struct kvm_msr_entry *e,
                      uint32_t n)
{
    struct kvm_msrs *m = calloc(1, sizeof(*m) + MSR_BATCH * sizeof(m->entries[0]));
    if (!m)
        return -ENOMEM;
    int rc = 0;
    for (uint32_t at = 0; at < n;) {
        uint32_t k = n - at < MSR_BATCH ? n - at : MSR_BATCH;
        m->nmsrs = k;
        memcpy(m->entries, &e[at], k * sizeof(e[0]));
        int set = ioctl(v->fd, KVM_SET_MSRS, m);
        if (set < 0) {
            rc = ioctl_failed(who, "KVM_SET_MSRS", KVM_REC_MSRS);
            break;
        }
        if ((uint32_t)set < k) {
            const struct kvm_msr_entry *bad = &e[at + (uint32_t)set];
            say(who, PLUGVM_LOG_ERROR, "KVM_SET_MSRS (record %s, tag %u) refused MSR 0x%x = 0x%llx",
                rec_name(bad->index == MSR_IA32_TSC ? KVM_REC_TSC : KVM_REC_MSRS),
                bad->index == MSR_IA32_TSC ? KVM_REC_TSC : KVM_REC_MSRS, bad->index,
                (unsigned long long)bad->data);
            rc = -EINVAL;
            break;
        }
        at += k;
    }
    free(m);
    return rc;
}

/* Everything one vCPU's records hold, read and checked before any of it is
 * set. */
struct vcpu_state {
    uint32_t tsc_khz; /* 0: not known when saved */
    struct kvm_mp_state mp;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xsave *xsave; /* xsave_len bytes */
    size_t xsave_len;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs dregs;
    struct kvm_lapic_state lapic;
    struct kvm_msr_entry *msrs; /* msrs[0] is MSR_IA32_TSC, then nmsrs - 1 from MSRS */
    uint32_t nmsrs;
    struct kvm_vcpu_events events;
    struct kvm_cpuid2 *cpuid; /* KVM_MAX_CPUID_ENTRIES of room */
};

static void vcpu_state_free(struct vcpu_state *s)
{
    free(s->cpuid);
    free(s->xsave);
    free(s->msrs);
    free(s);
}

int kvm_vcpu_save(struct plugvm_vcpu *v, struct plugvm_record_writer *w)
{
    struct who who = {v->vm, (int)v->index};
    /* An I/O or MMIO exit not yet completed by a KVM_RUN leaves RIP on the
     * instruction (and an IN's value unwritten): the snapshot would repeat
     * or lose it. vcpu_run completes it when it returns PLUGVM_EXIT_INTR. */
    if (v->exit_pending) {
        say(who, PLUGVM_LOG_ERROR, "the vCPU's last I/O exit is not completed: stop it with "
                                   "vcpu_kick and vcpu_run before saving");
        return -EBUSY;
    }
    struct vcpu_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int rc = 0;
    uint32_t nmsrs = 0;
    struct kvm_msr_entry *msrs = NULL;
    _Alignas(struct kvm_msrs) uint8_t tsc_buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    memset(tsc_buf, 0, sizeof(tsc_buf));
    struct kvm_msrs *tsc = (struct kvm_msrs *)tsc_buf;
    tsc->nmsrs = 1;
    tsc->entries[0].index = MSR_IA32_TSC;

    /* Read in the order the records are written, GET_VCPU_EVENTS last (as
     * Firecracker and cloud-hypervisor do): the other GETs may act on
     * pending events (KVM_GET_MP_STATE accepts a pending INIT/SIPI). */
    s->cpuid = calloc(1, sizeof(*s->cpuid) + KVM_MAX_CPUID_ENTRIES * sizeof(s->cpuid->entries[0]));
    if (!s->cpuid) {
        rc = -ENOMEM;
        goto out;
    }
    s->cpuid->nent = KVM_MAX_CPUID_ENTRIES;
    if (ioctl(v->fd, KVM_GET_CPUID2, s->cpuid) < 0) {
        rc = ioctl_failed(who, "KVM_GET_CPUID2", KVM_REC_CPUID);
        goto out;
    }
    int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
    s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    s->xsave_len = xsave_size(v->vm);
    s->xsave = calloc(1, s->xsave_len);
    if (!s->xsave) {
        rc = -ENOMEM;
        goto out;
    }
#define GET(call, arg, tag)                                                                        \
    if (ioctl(v->fd, call, arg) < 0) {                                                             \
        rc = ioctl_failed(who, #call, tag);                                                        \
        goto out;                                                                                  \
    }
    int got = ioctl(v->fd, KVM_GET_MSRS, tsc);
    if (got < 0) {
        rc = ioctl_failed(who, "KVM_GET_MSRS", KVM_REC_TSC);
        goto out;
    }
    if (got != 1) {
        say(who, PLUGVM_LOG_ERROR, "KVM_GET_MSRS (record TSC, tag %u): MSR_IA32_TSC refused",
            KVM_REC_TSC);
        rc = -EIO;
        goto out;
    }
    GET(KVM_GET_MP_STATE, &s->mp, KVM_REC_MP_STATE);
    GET(KVM_GET_REGS, &s->regs, KVM_REC_REGS);
    GET(KVM_GET_SREGS, &s->sregs, KVM_REC_SREGS);
    if (s->xsave_len > sizeof(struct kvm_xsave)) {
        GET(KVM_GET_XSAVE2, s->xsave, KVM_REC_XSAVE);
    } else {
        GET(KVM_GET_XSAVE, s->xsave, KVM_REC_XSAVE);
    }
    GET(KVM_GET_XCRS, &s->xcrs, KVM_REC_XCRS);
    GET(KVM_GET_DEBUGREGS, &s->dregs, KVM_REC_DEBUGREGS);
    GET(KVM_GET_LAPIC, &s->lapic, KVM_REC_LAPIC);
    if ((rc = read_msrs(v, who, &msrs, &nmsrs)))
        goto out;
    GET(KVM_GET_VCPU_EVENTS, &s->events, KVM_REC_EVENTS);
#undef GET

    const struct plugvm_record_writer_ops *o = w->ops;
    uint32_t tag = KVM_REC_CPUID;
    if ((rc = o->begin(w, tag, KVM_REC_VERSION)) || (rc = o->put_u32(w, s->cpuid->nent)) ||
        (rc = o->put_bytes(w, s->cpuid->entries,
                           (size_t)s->cpuid->nent * sizeof(s->cpuid->entries[0]))) ||
        (rc = o->end(w)))
        goto bad_write;
    tag = KVM_REC_TSC;
    if ((rc = o->begin(w, tag, KVM_REC_VERSION)) || (rc = o->put_u32(w, s->tsc_khz)) ||
        (rc = o->put_u64(w, tsc->entries[0].data)) || (rc = o->end(w)))
        goto bad_write;
    tag = KVM_REC_MP_STATE;
    if ((rc = o->begin(w, tag, KVM_REC_VERSION)) || (rc = o->put_u32(w, s->mp.mp_state)) ||
        (rc = o->end(w)))
        goto bad_write;
    const struct {
        uint32_t tag;
        const void *p;
        size_t len;
    } raw[] = {
        {KVM_REC_REGS, &s->regs, sizeof(s->regs)},
        {KVM_REC_SREGS, &s->sregs, sizeof(s->sregs)},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
        if ((rc = put_raw(w, tag = raw[i].tag, raw[i].p, raw[i].len)))
            goto bad_write;
    tag = KVM_REC_XSAVE;
    if ((rc = o->begin(w, tag, KVM_REC_VERSION)) || (rc = o->put_u32(w, (uint32_t)s->xsave_len)) ||
        (rc = o->put_bytes(w, s->xsave, s->xsave_len)) || (rc = o->end(w)))
        goto bad_write;
    const struct {
        uint32_t tag;
        const void *p;
        size_t len;
    } raw2[] = {
        {KVM_REC_XCRS, &s->xcrs, sizeof(s->xcrs)},
        {KVM_REC_DEBUGREGS, &s->dregs, sizeof(s->dregs)},
        {KVM_REC_LAPIC, &s->lapic, sizeof(s->lapic)},
    };
    for (size_t i = 0; i < sizeof(raw2) / sizeof(raw2[0]); i++)
        if ((rc = put_raw(w, tag = raw2[i].tag, raw2[i].p, raw2[i].len)))
            goto bad_write;
    tag = KVM_REC_MSRS;
    if ((rc = o->begin(w, tag, KVM_REC_VERSION)) || (rc = o->put_u32(w, nmsrs)))
        goto bad_write;
    for (uint32_t i = 0; i < nmsrs; i++)
        if ((rc = o->put_u32(w, msrs[i].index)) || (rc = o->put_u64(w, msrs[i].data)))
            goto bad_write;
    if ((rc = o->end(w)))
        goto bad_write;
    if ((rc = put_raw(w, tag = KVM_REC_EVENTS, &s->events, sizeof(s->events))))
        goto bad_write;
    goto out;
bad_write:
    write_failed(who, tag, rc);
out:
    free(msrs);
    vcpu_state_free(s);
    return rc;
}

/* Reads and checks all of a vCPU's records into *s (sizes, versions,
 * counts), in the order they were written. */
static int read_vcpu_records(struct plugvm_record_reader *r, struct who who, struct vcpu_state *s)
{
    const struct plugvm_record_reader_ops *o = r->ops;
    int rc;
    uint64_t tsc;
    uint32_t nent;
    const size_t entry = sizeof(s->cpuid->entries[0]);
    if ((rc = open_rec(r, who, KVM_REC_CPUID, 0)))
        return rc;
    if ((rc = o->get_u32(r, &nent)))
        return read_failed(r, who, KVM_REC_CPUID, rc);
    if (nent == 0 || nent > KVM_MAX_CPUID_ENTRIES || o->remaining(r) != (size_t)nent * entry) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) says %u CPUID entries and holds %zu bytes "
            "for them (%zu each, at most %u)", rec_name(KVM_REC_CPUID), KVM_REC_CPUID, nent,
            o->remaining(r), entry, KVM_MAX_CPUID_ENTRIES);
        o->close(r);
        return -EBADMSG;
    }
    if (!(s->cpuid = calloc(1, sizeof(*s->cpuid) + (size_t)nent * entry))) {
        o->close(r);
        return -ENOMEM;
    }
    s->cpuid->nent = nent;
    if ((rc = o->get_bytes(r, s->cpuid->entries, (size_t)nent * entry)) || (rc = o->close(r)))
        return read_failed(r, who, KVM_REC_CPUID, rc);

    if ((rc = open_rec(r, who, KVM_REC_TSC, 12)))
        return rc;
    if ((rc = o->get_u32(r, &s->tsc_khz)) || (rc = o->get_u64(r, &tsc)) || (rc = o->close(r)))
        return read_failed(r, who, KVM_REC_TSC, rc);

    if ((rc = open_rec(r, who, KVM_REC_MP_STATE, 4)))
        return rc;
    if ((rc = o->get_u32(r, &s->mp.mp_state)) || (rc = o->close(r)))
        return read_failed(r, who, KVM_REC_MP_STATE, rc);

    if ((rc = get_raw(r, who, KVM_REC_REGS, &s->regs, sizeof(s->regs))) ||
        (rc = get_raw(r, who, KVM_REC_SREGS, &s->sregs, sizeof(s->sregs))))
        return rc;

    /* XSAVE: the saving host's area size, then the area. KVM_SET_XSAVE
     * reads as many bytes as this host's area has, so the buffer is the
     * larger of the two, zero-filled (a component absent from the record
     * is marked absent in its XSTATE_BV, and KVM refuses an area that
     * names components this host lacks). */
    uint32_t len;
    if ((rc = open_rec(r, who, KVM_REC_XSAVE, 0)))
        return rc;
    if ((rc = o->get_u32(r, &len)))
        return read_failed(r, who, KVM_REC_XSAVE, rc);
    if (len < sizeof(struct kvm_xsave) || len > XSAVE_RECORD_MAX || o->remaining(r) != len) {
        say(who, PLUGVM_LOG_ERROR,
            "record %s (tag %u) says %u bytes of XSAVE area and holds %zu; expected %zu to %u",
            rec_name(KVM_REC_XSAVE), KVM_REC_XSAVE, len, o->remaining(r),
            sizeof(struct kvm_xsave), XSAVE_RECORD_MAX);
        o->close(r);
        return -EBADMSG;
    }
    size_t host = xsave_size(who.vm);
    s->xsave_len = len > host ? len : host;
    if (!(s->xsave = calloc(1, s->xsave_len))) {
        o->close(r);
        return -ENOMEM;
    }
    if ((rc = o->get_bytes(r, s->xsave, len)) || (rc = o->close(r)))
        return read_failed(r, who, KVM_REC_XSAVE, rc);

    if ((rc = get_raw(r, who, KVM_REC_XCRS, &s->xcrs, sizeof(s->xcrs))) ||
        (rc = get_raw(r, who, KVM_REC_DEBUGREGS, &s->dregs, sizeof(s->dregs))) ||
        (rc = get_raw(r, who, KVM_REC_LAPIC, &s->lapic, sizeof(s->lapic))))
        return rc;

    uint32_t n;
    if ((rc = open_rec(r, who, KVM_REC_MSRS, 0)))
        return rc;
    if ((rc = o->get_u32(r, &n)))
        return read_failed(r, who, KVM_REC_MSRS, rc);
    if (n > MSR_RECORD_MAX || o->remaining(r) != (size_t)n * 12) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u) says %u MSRs and holds %zu bytes for them",
            rec_name(KVM_REC_MSRS), KVM_REC_MSRS, n, o->remaining(r));
        o->close(r);
        return -EBADMSG;
    }
    if (!(s->msrs = calloc(n + 1, sizeof(s->msrs[0])))) {
        o->close(r);
        return -ENOMEM;
    }
    /* The TSC first: KVM_SET_TSC_KHZ has already set the rate its offset
     * is computed with. */
    s->msrs[0] = (struct kvm_msr_entry){.index = MSR_IA32_TSC, .data = tsc};
    s->nmsrs = n + 1;
    for (uint32_t i = 1; i <= n; i++) {
        uint64_t data;
        if ((rc = o->get_u32(r, &s->msrs[i].index)) || (rc = o->get_u64(r, &data)))
            return read_failed(r, who, KVM_REC_MSRS, rc);
        s->msrs[i].data = data;
    }
    if ((rc = o->close(r)))
        return read_failed(r, who, KVM_REC_MSRS, rc);

    return get_raw(r, who, KVM_REC_EVENTS, &s->events, sizeof(s->events));
}

/*
 * Order (Firecracker's and cloud-hypervisor's, whose comments give most of
 * the reasons; QEMU's kvm_arch_put_registers agrees on each pair below):
 *  0. CPUID (KVM_SET_CPUID2): what the guest ran with, before the state
 *     KVM checks against it.
 *  1. TSC rate (KVM_SET_TSC_KHZ, only when it differs): the TSC written in
 *     step 9 is turned into an offset at the rate then in force.
 *  2. MP state first: KVM refuses INIT_RECEIVED/SIPI_RECEIVED once the
 *     vCPU is in SMM, which step 10 may restore.
 *  3. Registers before special registers: KVM_SET_SREGS's reset-vector
 *     quirk reads RIP; and both before events, since KVM_SET_REGS clears a
 *     pending exception that KVM_SET_VCPU_EVENTS restores.
 *  4-7. XSAVE, XCRs, debug registers; then the LAPIC after the special
 *     registers, which restore the APIC base MSR it depends on.
 *  8-9. MSRs after the LAPIC: MSR_IA32_TSC_DEADLINE only takes when the
 *     LAPIC's timer is in TSC-deadline mode.
 *  10. vCPU events last: pending exceptions, interrupts, NMIs, SMM.
 */
int kvm_vcpu_restore(struct plugvm_vcpu *v, struct plugvm_record_reader *r)
{
    struct who who = {v->vm, (int)v->index};
    struct vcpu_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int rc = read_vcpu_records(r, who, s);
    if (rc)
        goto out;

    /* Judged before anything is applied: KVM_SET_CPUID2 takes almost any
     * bits, so a state file could otherwise give the guest features the
     * config disables or the host lacks. */
    /* Held to what KVM gives this vCPU now, read back after the config's
     * table was set at vcpu_create: under KVM over PVM the guest runs
     * with the host CPU's own features, which KVM_GET_SUPPORTED_CPUID
     * does not list but KVM_GET_CPUID2 does (the state file's CPUID came
     * from KVM_GET_CPUID2 too). Elsewhere the two agree. */
    char why[256];
    const struct kvm_cpuid2 *allowed = v->vm->cpuid;
    struct kvm_cpuid2 *now =
        calloc(1, sizeof(*now) + KVM_MAX_CPUID_ENTRIES * sizeof(now->entries[0]));
    if (now) {
        now->nent = KVM_MAX_CPUID_ENTRIES;
        if (ioctl(v->fd, KVM_GET_CPUID2, now) == 0)
            allowed = now;
    }
    int bad = kvm_cpuid_check_saved(allowed, v->vm->masks, v->vm->nmasks, s->cpuid, why, sizeof(why));
    free(now);
    if (bad) {
        say(who, PLUGVM_LOG_ERROR, "record %s (tag %u): %s", rec_name(KVM_REC_CPUID),
            KVM_REC_CPUID, why);
        rc = -EINVAL;
        goto out;
    }
    /* The CPUID the guest saw, before any other state (MSRs and XSAVE are
     * checked against it); the vCPU has not run, so KVM still takes it. */
    if (ioctl(v->fd, KVM_SET_CPUID2, s->cpuid) < 0) {
        say(who, PLUGVM_LOG_ERROR, "KVM_SET_CPUID2 (record %s, tag %u): this host cannot give "
            "the guest the CPUID it ran with: %s", rec_name(KVM_REC_CPUID), KVM_REC_CPUID,
            strerror(errno));
        rc = -ENOTSUP;
        goto out;
    }
    if (s->tsc_khz) {
        int now = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
        if (now != (int)s->tsc_khz && ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0) {
            /* A guest calibrated its TSC at the saved rate: running it at
             * another would make its clocks drift. Without TSC scaling KVM
             * can only run a faster TSC than the host's (by catching up),
             * never a slower one. */
            say(who, PLUGVM_LOG_ERROR,
                "KVM_SET_TSC_KHZ (record %s, tag %u): the TSC ran at %u kHz, this host runs it at "
                "%d kHz and cannot scale it: %s",
                rec_name(KVM_REC_TSC), KVM_REC_TSC, s->tsc_khz, now, strerror(errno));
            /* KVM has taken the rate before failing (seen on 6.18): put
             * the vCPU's back, so a refused restore changes nothing. */
            if (now > 0)
                (void)ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)now);
            rc = -ENOTSUP;
            goto out;
        }
    }
#define SET(call, arg, tag)                                                                        \
    if (ioctl(v->fd, call, arg) < 0) {                                                             \
        rc = ioctl_failed(who, #call, tag);                                                        \
        goto out;                                                                                  \
    }
    SET(KVM_SET_MP_STATE, &s->mp, KVM_REC_MP_STATE);
    SET(KVM_SET_REGS, &s->regs, KVM_REC_REGS);
    SET(KVM_SET_SREGS, &s->sregs, KVM_REC_SREGS);
    SET(KVM_SET_XSAVE, s->xsave, KVM_REC_XSAVE);
    SET(KVM_SET_XCRS, &s->xcrs, KVM_REC_XCRS);
    SET(KVM_SET_DEBUGREGS, &s->dregs, KVM_REC_DEBUGREGS);
    SET(KVM_SET_LAPIC, &s->lapic, KVM_REC_LAPIC);
    if ((rc = write_msrs(v, who, s->msrs, s->nmsrs)))
        goto out;
    SET(KVM_SET_VCPU_EVENTS, &s->events, KVM_REC_EVENTS);
#undef SET
    v->exit_pending = false;
out:
    vcpu_state_free(s);
    return rc;
}
