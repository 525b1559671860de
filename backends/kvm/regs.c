/* SPDX-License-Identifier: Apache-2.0 */
/* Boot registers, boot MSRs, LAPIC LINT pins and the register dump. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

static void to_kvm_seg(struct kvm_segment *k, const struct plugvm_x86_segment *s)
{
    *k = (struct kvm_segment){
        .base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
        .present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l, .g = s->g,
        .avl = s->avl, .unusable = s->unusable,
    };
}

int kvm_vcpu_set_regs(struct plugvm_vcpu *v, const struct plugvm_x86_regs *r)
{
    struct kvm_sregs sregs;
    /* Start from KVM's values so that what the boot does not name (APIC
     * base, interrupt bitmap) keeps its reset state. */
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    to_kvm_seg(&sregs.cs, &r->cs);
    to_kvm_seg(&sregs.ds, &r->ds);
    to_kvm_seg(&sregs.es, &r->es);
    to_kvm_seg(&sregs.fs, &r->fs);
    to_kvm_seg(&sregs.gs, &r->gs);
    to_kvm_seg(&sregs.ss, &r->ss);
    to_kvm_seg(&sregs.tr, &r->tr);
    to_kvm_seg(&sregs.ldt, &r->ldt);
    sregs.gdt.base = r->gdt.base;
    sregs.gdt.limit = r->gdt.limit;
    sregs.idt.base = r->idt.base;
    sregs.idt.limit = r->idt.limit;
    sregs.cr0 = r->cr0;
    sregs.cr2 = r->cr2;
    sregs.cr3 = r->cr3;
    sregs.cr4 = r->cr4;
    sregs.cr8 = r->cr8;
    sregs.efer = r->efer;
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return -errno;

    struct kvm_regs regs = {
        .rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx, .rsi = r->rsi,
        .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp, .r8 = r->r8, .r9 = r->r9, .r10 = r->r10,
        .r11 = r->r11, .r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
        .rip = r->rip, .rflags = r->rflags | 0x2, /* bit 1 is reserved, always 1 */
    };
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        return -errno;

    /* x87 and SSE control words as after FNINIT / reset (Intel SDM vol. 1
     * §8.1.5, §10.2.3): a kernel that uses the FPU before initialising it
     * sees sane defaults. */
    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
        return -errno;
    return 0;
}

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff

int kvm_vcpu_set_boot_msrs(struct plugvm_vcpu *v)
{
    /* What firmware leaves behind: syscall MSRs cleared, fast strings on
     * (MISC_ENABLE bit 0), MTRRs enabled with write-back as the default
     * type (bit 11 E, type 6), or Linux maps all RAM uncached. The
     * arch-capabilities MSR (0x10a) is not written: some KVMs refuse it. */
    static const struct {
        uint32_t index;
        uint64_t data;
    } boot[] = {
        {MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
        {MSR_STAR, 0}, {MSR_CSTAR, 0}, {MSR_KERNEL_GS_BASE, 0}, {MSR_SYSCALL_MASK, 0},
        {MSR_LSTAR, 0}, {MSR_IA32_TSC, 0}, {MSR_IA32_MISC_ENABLE, 1},
        {MSR_MTRR_DEF_TYPE, (1u << 11) | 6},
    };
    enum { N = sizeof(boot) / sizeof(boot[0]) };
    _Alignas(struct kvm_msrs) uint8_t buf[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
    memset(buf, 0, sizeof(buf));
    struct kvm_msrs *m = (struct kvm_msrs *)buf;
    m->nmsrs = N;
    for (int i = 0; i < N; i++) {
        m->entries[i].index = boot[i].index;
        m->entries[i].data = boot[i].data;
    }
    int set = ioctl(v->fd, KVM_SET_MSRS, m);
    if (set < 0)
        return -errno;
    if (set < N)
        kvm_log(v->vm, PLUGVM_LOG_DEBUG, "vCPU %u: KVM refused boot MSR 0x%x", v->index,
                m->entries[set].index);
    return 0;
}

/* LAPIC register offsets (Intel SDM vol. 3A §10.4.1) and LVT delivery
 * modes. */
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void set_lvt_mode(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
    uint32_t val;
    memcpy(&val, &l->regs[reg], 4);
    val = (val & ~0x700u) | (mode << 8);
    memcpy(&l->regs[reg], &val, 4);
}

int kvm_vcpu_set_lint(struct plugvm_vcpu *v)
{
    /* As a PC's firmware wires them (MP spec §5.1 virtual-wire mode):
     * LINT0 takes the 8259's ExtINT, LINT1 the NMI. Linux expects this
     * before it switches to the IOAPIC. */
    struct kvm_lapic_state l;
    if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
        return -errno;
    set_lvt_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
    set_lvt_mode(&l, APIC_LVT1, APIC_MODE_NMI);
    if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
        return -errno;
    return 0;
}

static int dump_seg(char *b, size_t len, const char *name, const struct kvm_segment *s)
{
    return snprintf(b, len, "%-3s sel=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u "
                    "l=%u db=%u g=%u\n",
                    name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->s,
                    s->dpl, s->present, s->l, s->db, s->g);
}

void kvm_vcpu_dump(struct plugvm_vcpu *v, char *buf, size_t len)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
        snprintf(buf, len, "vCPU %u: registers unavailable: %s\n", v->index, strerror(errno));
        return;
    }
    size_t n = 0;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        int k = snprintf(buf + n, len - n, __VA_ARGS__);                                           \
        if (k < 0 || (size_t)k >= len - n)                                                         \
            return;                                                                                \
        n += (size_t)k;                                                                            \
    } while (0)
    OUT("vCPU %u registers:\n", v->index);
    OUT("rip=%016llx rflags=%016llx\n", r.rip, r.rflags);
    OUT("rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
    OUT("rsi=%016llx rdi=%016llx rsp=%016llx rbp=%016llx\n", r.rsi, r.rdi, r.rsp, r.rbp);
    OUT("r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n", r.r8, r.r9, r.r10, r.r11);
    OUT("r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n", r.r12, r.r13, r.r14, r.r15);
    OUT("cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n", s.cr0, s.cr2, s.cr3,
        s.cr4, s.efer);
    OUT("gdt=%016llx/%04x idt=%016llx/%04x apic_base=%016llx\n", s.gdt.base, s.gdt.limit,
        s.idt.base, s.idt.limit, s.apic_base);
#undef OUT
    const struct {
        const char *name;
        const struct kvm_segment *seg;
    } segs[] = {{"cs", &s.cs}, {"ds", &s.ds}, {"es", &s.es}, {"ss", &s.ss}, {"fs", &s.fs},
                {"gs", &s.gs}, {"tr", &s.tr}};
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]) && n < len; i++) {
        int k = dump_seg(buf + n, len - n, segs[i].name, segs[i].seg);
        if (k < 0)
            return;
        n += (size_t)k;
    }
}
