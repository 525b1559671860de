/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 kernel loader: synthetic ELF64 and bzImage images built here, loaded
 * into 16 MiB of guest RAM, and every refusal checked for its message.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "boot/x86/kernel.h"
#include "memory/guest_mem.h"

#define RAM_SIZE (16ull << 20)

/* The synthetic kernel: one PT_LOAD at 1 MiB linked high like vmlinux
 * (vaddr != paddr), 0x100 bytes of code and 0xf00 bytes of bss, plus a
 * PT_NOTE holding Xen's PHYS32_ENTRY. */
#define K_PADDR 0x100000ull
#define K_VADDR 0xffffffff80100000ull
#define K_ENTRY_OFF 0x10
#define K_PVH 0x100040u
#define K_FILESZ 0x100
#define K_MEMSZ 0x1000
#define PH_OFF 0x40
#define NOTE_OFF 0xc0
#define CODE_OFF 0x100
#define ELF_SIZE (CODE_OFF + K_FILESZ)

struct fixture {
    struct guest_mem mem;
    struct x86_kernel_image img;
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || guest_mem_init(&f->mem, RAM_SIZE) != 0)
        return -1;
    /* Non-zero RAM, so the tests can tell bss was zeroed by the loader. */
    memset(f->mem.base, 0xaa, RAM_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    guest_mem_fini(&f->mem);
    free(f);
    return 0;
}

static Elf64_Phdr get_phdr(const uint8_t *elf, unsigned i)
{
    Elf64_Phdr ph;
    memcpy(&ph, elf + PH_OFF + i * sizeof(ph), sizeof(ph));
    return ph;
}

static void put_phdr(uint8_t *elf, unsigned i, const Elf64_Phdr *ph)
{
    memcpy(elf + PH_OFF + i * sizeof(*ph), ph, sizeof(*ph));
}

static void put_ehdr(uint8_t *elf, const Elf64_Ehdr *eh)
{
    memcpy(elf, eh, sizeof(*eh));
}

static Elf64_Ehdr get_ehdr(const uint8_t *elf)
{
    Elf64_Ehdr eh;
    memcpy(&eh, elf, sizeof(eh));
    return eh;
}

/* Writes the synthetic kernel into elf[ELF_SIZE]. */
static void build_elf(uint8_t *elf)
{
    memset(elf, 0, ELF_SIZE);
    Elf64_Ehdr eh = {
        .e_type = ET_EXEC,
        .e_machine = EM_X86_64,
        .e_version = EV_CURRENT,
        .e_entry = K_VADDR + K_ENTRY_OFF,
        .e_phoff = PH_OFF,
        .e_ehsize = sizeof(Elf64_Ehdr),
        .e_phentsize = sizeof(Elf64_Phdr),
        .e_phnum = 2,
    };
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    put_ehdr(elf, &eh);

    Elf64_Phdr load = {
        .p_type = PT_LOAD,
        .p_flags = PF_R | PF_W | PF_X,
        .p_offset = CODE_OFF,
        .p_vaddr = K_VADDR,
        .p_paddr = K_PADDR,
        .p_filesz = K_FILESZ,
        .p_memsz = K_MEMSZ,
        .p_align = 0x1000,
    };
    put_phdr(elf, 0, &load);

    /* "Xen\0", type 18, 4-byte desc: 12 + 4 + 4 bytes. */
    Elf64_Nhdr nh = {.n_namesz = 4, .n_descsz = 4, .n_type = 18};
    memcpy(elf + NOTE_OFF, &nh, sizeof(nh));
    memcpy(elf + NOTE_OFF + 12, "Xen", 4);
    uint32_t pvh = K_PVH;
    memcpy(elf + NOTE_OFF + 16, &pvh, 4);
    Elf64_Phdr note = {
        .p_type = PT_NOTE,
        .p_offset = NOTE_OFF,
        .p_vaddr = K_VADDR + NOTE_OFF,
        .p_paddr = K_PADDR + NOTE_OFF,
        .p_filesz = 20,
        .p_memsz = 20,
        .p_align = 4,
    };
    put_phdr(elf, 1, &note);

    for (unsigned i = 0; i < K_FILESZ; i++)
        elf[CODE_OFF + i] = (uint8_t)(i * 7 + 1);
}

/* Checks that the synthetic kernel landed: code bytes copied, bss zeroed,
 * and the bytes around the segment untouched. */
static void assert_kernel_in_ram(const struct fixture *f, const uint8_t *elf)
{
    const uint8_t *ram = guest_mem_ptr(&f->mem, K_PADDR, K_MEMSZ);
    assert_non_null(ram);
    assert_memory_equal(ram, elf + CODE_OFF, K_FILESZ);
    for (unsigned i = K_FILESZ; i < K_MEMSZ; i++)
        assert_int_equal(ram[i], 0);
    assert_int_equal(ram[-1], 0xaa);
    assert_int_equal(ram[K_MEMSZ], 0xaa);
}

static int load(struct fixture *f, const uint8_t *data, size_t size)
{
    f->err[0] = '\0';
    return x86_kernel_load_buffer("kern", data, size, &f->mem, &f->img, f->err, sizeof(f->err));
}

/* A refusal: -1, a message that names the file and contains `phrase`. */
static void assert_refused(struct fixture *f, const uint8_t *data, size_t size, const char *phrase)
{
    assert_int_equal(load(f, data, size), -1);
    assert_true(strncmp(f->err, "kern: ", 6) == 0);
    if (!strstr(f->err, phrase))
        fail_msg("message \"%s\" lacks \"%s\"", f->err, phrase);
}

/* ---- compressors for the bzImage payloads ---- */

static size_t gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        p[n++] = (uint8_t)(v | 0x80);
    p[n++] = (uint8_t)v;
    return n;
}

static void put_crc32(uint8_t *p, const uint8_t *data, size_t len)
{
    put_le32(p, (uint32_t)crc32(0, data, (uInt)len));
}

/* xz as the kernel build makes it: one stream, then the decompressed
 * size as 4 bytes (size_append). Written out by hand (a block of LZMA2
 * stored chunks, CRC32 check) so the test needs no liblzma. */
static size_t xz_with_size(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    assert_true(cap >= len + len / 0x10000 * 3 + 80);
    static const uint8_t magic[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
    size_t n = 0;
    memcpy(out, magic, 6);
    out[6] = 0;
    out[7] = 1; /* check: CRC32 */
    put_crc32(out + 8, out + 6, 2);
    n = 12;

    /* Block header: size, flags (one filter), LZMA2 with a 4 KiB
     * dictionary, padding, CRC32. */
    size_t bh = n;
    static const uint8_t block_hdr[8] = {12 / 4 - 1, 0, 0x21, 1, 0, 0, 0, 0};
    memcpy(out + n, block_hdr, 8);
    put_crc32(out + n + 8, out + bh, 8);
    n += 12;

    size_t data = n;
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < 0x10000 ? len - off : 0x10000;
        out[n++] = 0x01; /* stored chunk, dictionary reset */
        out[n++] = (uint8_t)((chunk - 1) >> 8);
        out[n++] = (uint8_t)(chunk - 1);
        memcpy(out + n, in + off, chunk);
        n += chunk;
        off += chunk;
    }
    out[n++] = 0x00; /* end of LZMA2 */
    size_t unpadded = 12 + (n - data) + 4;
    while (n % 4)
        out[n++] = 0;
    put_crc32(out + n, in, len);
    n += 4;

    /* Index: one record, padding, CRC32. */
    size_t idx = n;
    out[n++] = 0;
    n += put_varint(out + n, 1);
    n += put_varint(out + n, unpadded);
    n += put_varint(out + n, len);
    while (n % 4)
        out[n++] = 0;
    put_crc32(out + n, out + idx, n - idx);
    n += 4;

    /* Footer: CRC32 of backward size and flags, then "YZ". */
    put_le32(out + n + 4, (uint32_t)((n - idx) / 4 - 1));
    out[n + 8] = 0;
    out[n + 9] = 1;
    put_crc32(out + n, out + n + 4, 6);
    out[n + 10] = 'Y';
    out[n + 11] = 'Z';
    n += 12;

    put_le32(out + n, (uint32_t)len);
    return n + 4;
}

/* The legacy lz4 frame the kernel's "lz4 -l" writes, with one block made
 * of literals only (a valid LZ4 block needs no match), then size_append. */
static size_t lz4_legacy_with_size(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    assert_true(len >= 15 && cap >= len + len / 255 + 16);
    put_le32(out, 0x184C2102);
    uint8_t *blk = out + 8;
    size_t n = 0;
    blk[n++] = 0xf0; /* literal length 15 + the bytes that follow */
    size_t rest = len - 15;
    for (; rest >= 255; rest -= 255)
        blk[n++] = 255;
    blk[n++] = (uint8_t)rest;
    memcpy(blk + n, in, len);
    n += len;
    put_le32(out + 4, (uint32_t)n);
    put_le32(out + 8 + n, (uint32_t)len);
    return 8 + n + 4;
}

/* ---- bzImage ---- */

#define SETUP_SECTS 1
#define PM_OFF ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_OFF 0x20 /* payload_offset: from the start of the 32-bit code */

/* Wraps `payload` in a protocol 2.15 bzImage; returns the file's size. */
static size_t build_bzimage(uint8_t *out, size_t cap, const uint8_t *payload, size_t plen)
{
    size_t size = PM_OFF + PAYLOAD_OFF + plen;
    assert_true(size <= cap);
    memset(out, 0, size);
    struct setup_header h = {
        .setup_sects = SETUP_SECTS,
        .boot_flag = 0xAA55,
        /* jmp short to 0x268, the end of the header */
        .jump = 0xEB | (uint16_t)((0x268 - 0x202) << 8),
        .header = 0x53726448,
        .version = 0x020f,
        .loadflags = LOADED_HIGH,
        .code32_start = 0x100000,
        .kernel_alignment = 0x200000,
        .relocatable_kernel = 1,
        .xloadflags = XLF_KERNEL_64,
        .cmdline_size = 2047,
        .payload_offset = PAYLOAD_OFF,
        .payload_length = (uint32_t)plen,
        .pref_address = 0x1000000,
        .init_size = 0x123000,
    };
    memcpy(out + 0x1f1, &h, sizeof(h));
    memcpy(out + PM_OFF + PAYLOAD_OFF, payload, plen);
    return size;
}

static size_t build_gzip_bzimage(uint8_t *out, size_t cap, uint8_t *elf)
{
    uint8_t z[1024];
    build_elf(elf);
    size_t zlen = gzip(elf, ELF_SIZE, z, sizeof(z));
    return build_bzimage(out, cap, z, zlen);
}

/* ---- ELF ---- */

static void test_elf_loads(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.format, X86_KERNEL_ELF);
    assert_int_equal(f->img.entry64, K_PADDR + K_ENTRY_OFF);
    assert_int_equal(f->img.pvh_entry, K_PVH);
    assert_int_equal(f->img.start, K_PADDR);
    assert_int_equal(f->img.end, K_PADDR + K_MEMSZ);
    assert_false(f->img.has_setup_header);
    assert_string_equal(f->img.compression, "");
    assert_kernel_in_ram(f, elf);
}

/* vmlinux links e_entry at a physical address outside every vaddr range. */
static void test_elf_physical_entry(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Ehdr eh = get_ehdr(elf);
    eh.e_entry = K_PADDR + 0x20;
    put_ehdr(elf, &eh);
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.entry64, K_PADDR + 0x20);
}

/* A freestanding kernel with vaddr == paddr and Linux's 8-byte PVH desc. */
static void test_elf_identity_mapped_8byte_pvh(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Ehdr eh = get_ehdr(elf);
    eh.e_entry = K_PADDR + 0x30;
    put_ehdr(elf, &eh);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_vaddr = ph.p_paddr;
    put_phdr(elf, 0, &ph);
    /* Name "Xen\0" then an 8-byte desc: 12 + 4 + 8 = 24 bytes, which
     * still ends before the code at CODE_OFF. */
    Elf64_Nhdr nh = {.n_namesz = 4, .n_descsz = 8, .n_type = 18};
    memcpy(elf + NOTE_OFF, &nh, sizeof(nh));
    uint64_t pvh = 0x100080;
    memcpy(elf + NOTE_OFF + 16, &pvh, 8);
    Elf64_Phdr note = get_phdr(elf, 1);
    note.p_filesz = note.p_memsz = 24;
    put_phdr(elf, 1, &note);
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.entry64, K_PADDR + 0x30);
    assert_int_equal(f->img.pvh_entry, 0x100080);
}

/* The PVH note is found after other notes; a note named "Xenon" with the
 * same type is not Xen's; a malformed note ends the scan quietly. */
static void test_elf_pvh_note_matching(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    /* Move Xen's note (20 bytes) behind a "Xenon" one (24 bytes). */
    memmove(elf + NOTE_OFF + 24, elf + NOTE_OFF, 20);
    Elf64_Nhdr nh = {.n_namesz = 6, .n_descsz = 4, .n_type = 18};
    memcpy(elf + NOTE_OFF, &nh, sizeof(nh));
    memcpy(elf + NOTE_OFF + 12, "Xenon\0\0", 8);
    memset(elf + NOTE_OFF + 20, 0x11, 4);
    Elf64_Phdr note = get_phdr(elf, 1);
    note.p_filesz = 44;
    put_phdr(elf, 1, &note);
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.pvh_entry, K_PVH);

    note.p_filesz = 24; /* only "Xenon" left */
    put_phdr(elf, 1, &note);
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.pvh_entry, 0);

    build_elf(elf);
    nh = (Elf64_Nhdr){.n_namesz = 4, .n_descsz = 0xfffffff0, .n_type = 18};
    memcpy(elf + NOTE_OFF, &nh, sizeof(nh));
    assert_int_equal(load(f, elf, sizeof(elf)), 0);
    assert_int_equal(f->img.pvh_entry, 0);
}

static void test_refuse_empty_and_unknown(void **state)
{
    struct fixture *f = *state;
    uint8_t junk[0x300] = "MZ not a kernel";
    assert_refused(f, junk, 0, "empty file");
    assert_refused(f, junk, sizeof(junk), "not a bzImage or ELF kernel");
    assert_refused(f, (const uint8_t *)"\x7f" "EL", 3, "not a bzImage or ELF kernel");
}

static void test_refuse_truncated_elf_header(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    assert_refused(f, elf, 40, "truncated: ELF header needs 64 bytes");
    /* Every shorter cut fails too; each is a heap copy of exactly that
     * length, so ASan sees any read past it. */
    for (size_t n = 0; n < ELF_SIZE; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, elf, n);
        assert_int_equal(load(f, cut, n), -1);
        free(cut);
    }
}

static void test_refuse_phdrs_past_end(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Ehdr eh = get_ehdr(elf);
    eh.e_phnum = 60;
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "program headers");

    build_elf(elf);
    eh = get_ehdr(elf);
    eh.e_phoff = UINT64_MAX - 8;
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "extend past the end of the file");

    build_elf(elf);
    eh = get_ehdr(elf);
    eh.e_phentsize = 32;
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "program header size 32");
}

static void test_refuse_load_past_end(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_filesz = K_FILESZ + 1;
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf),
                   "PT_LOAD segment 0 (offset 0x100, 0x101 bytes) extends past");

    /* p_offset + p_filesz wrapping around must not pass as in bounds. */
    build_elf(elf);
    ph = get_phdr(elf, 0);
    ph.p_offset = UINT64_MAX - 0x10;
    ph.p_filesz = 0x20;
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf), "extends past the end of the file");
}

static void test_refuse_filesz_over_memsz(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_memsz = K_FILESZ - 1;
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf), "p_filesz 0x100 larger than p_memsz 0xff");
}

static void test_refuse_paddr_overflow(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_paddr = UINT64_MAX - 10;
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf), "overflows");
}

static void test_refuse_outside_ram(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];
    build_elf(elf);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_paddr = RAM_SIZE - 0x800; /* starts inside, ends 0x800 past the end */
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf),
                   "PT_LOAD segment 0 [0xfff800, 0x1000800) is outside guest RAM (16 MiB)");
    /* Nothing was written: validation comes before the copy. */
    const uint8_t *tail = guest_mem_ptr(&f->mem, RAM_SIZE - 0x800, 0x800);
    assert_int_equal(tail[0], 0xaa);
    assert_int_equal(tail[0x7ff], 0xaa);
}

static void test_refuse_bad_ident_machine_type(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];

    build_elf(elf);
    Elf64_Ehdr eh = get_ehdr(elf);
    eh.e_machine = EM_AARCH64;
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "ELF machine 183 is not x86_64");

    build_elf(elf);
    elf[EI_CLASS] = ELFCLASS32;
    assert_refused(f, elf, sizeof(elf), "not a 64-bit ELF");

    build_elf(elf);
    elf[EI_DATA] = ELFDATA2MSB;
    assert_refused(f, elf, sizeof(elf), "not a little-endian ELF");

    build_elf(elf);
    eh = get_ehdr(elf);
    eh.e_type = ET_DYN;
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "not an executable");
}

static void test_refuse_no_load_and_bad_entry(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE];

    build_elf(elf);
    Elf64_Phdr ph = get_phdr(elf, 0);
    ph.p_type = PT_NULL;
    put_phdr(elf, 0, &ph);
    assert_refused(f, elf, sizeof(elf), "no PT_LOAD segment");

    build_elf(elf);
    Elf64_Ehdr eh = get_ehdr(elf);
    eh.e_entry = K_VADDR + K_MEMSZ; /* one past the end */
    put_ehdr(elf, &eh);
    assert_refused(f, elf, sizeof(elf), "outside every loadable segment");

    build_elf(elf);
    ph = get_phdr(elf, 1);
    ph.p_offset = ELF_SIZE - 4; /* note running past the end */
    put_phdr(elf, 1, &ph);
    assert_refused(f, elf, sizeof(elf), "PT_NOTE segment 1");
}

/* ---- bzImage ---- */

static void test_bzimage_gzip(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    assert_int_equal(load(f, bz, n), 0);
    assert_int_equal(f->img.format, X86_KERNEL_BZIMAGE);
    assert_string_equal(f->img.compression, "gzip");
    assert_true(f->img.has_setup_header);
    assert_int_equal(f->img.hdr.version, 0x020f);
    assert_int_equal(f->img.hdr.setup_sects, SETUP_SECTS);
    assert_int_equal(f->img.hdr.init_size, 0x123000);
    assert_int_equal(f->img.hdr.pref_address, 0x1000000);
    assert_int_equal(f->img.entry64, K_PADDR + K_ENTRY_OFF);
    assert_int_equal(f->img.pvh_entry, K_PVH);
    assert_int_equal(f->img.start, K_PADDR);
    assert_int_equal(f->img.end, K_PADDR + K_MEMSZ);
    assert_kernel_in_ram(f, elf);
}

/* The 4 trailing size bytes after an xz stream are not xz: the loader
 * must still get the whole ELF out. */
static void test_bzimage_xz_with_size(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], z[1024], bz[4096];
    build_elf(elf);
    size_t zlen = xz_with_size(elf, sizeof(elf), z, sizeof(z));
    size_t n = build_bzimage(bz, sizeof(bz), z, zlen);
    assert_int_equal(load(f, bz, n), 0);
    assert_string_equal(f->img.compression, "xz");
    assert_int_equal(f->img.entry64, K_PADDR + K_ENTRY_OFF);
    assert_int_equal(f->img.pvh_entry, K_PVH);
    assert_kernel_in_ram(f, elf);
}

/* Debian's 6.1 kernels use legacy-frame lz4, also followed by the size. */
static void test_bzimage_lz4_legacy_with_size(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], z[1024], bz[4096];
    build_elf(elf);
    size_t zlen = lz4_legacy_with_size(elf, sizeof(elf), z, sizeof(z));
    size_t n = build_bzimage(bz, sizeof(bz), z, zlen);
    assert_int_equal(load(f, bz, n), 0);
    assert_string_equal(f->img.compression, "lz4");
    assert_int_equal(f->img.entry64, K_PADDR + K_ENTRY_OFF);
    assert_kernel_in_ram(f, elf);
}

/* The header ends where the jump at 0x200 lands: bytes past it belong to
 * the setup code and must not show up as 2.10+ fields. */
static void test_bzimage_header_bounded_by_jump(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    bz[0x201] = 0x250 - 0x202;
    assert_int_equal(load(f, bz, n), 0);
    assert_int_equal(f->img.hdr.payload_offset, PAYLOAD_OFF);
    assert_int_equal(f->img.hdr.pref_address, 0);
    assert_int_equal(f->img.hdr.init_size, 0);

    bz[0x201] = 0x240 - 0x202;
    assert_refused(f, bz, n, "before payload_offset");
}

/* setup_sects 0 means 4: the payload then sits 3 sectors further on. */
static void test_bzimage_setup_sects_zero(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], z[1024], bz[8192];
    build_elf(elf);
    size_t zlen = gzip(elf, sizeof(elf), z, sizeof(z));
    size_t n = build_bzimage(bz, sizeof(bz), z, zlen);
    memmove(bz + 5 * 512 + PAYLOAD_OFF, bz + PM_OFF + PAYLOAD_OFF, zlen);
    memset(bz + PM_OFF, 0, 5 * 512 - PM_OFF);
    bz[0x1f1] = 0;
    assert_int_equal(load(f, bz, n + 3 * 512), 0);
    assert_kernel_in_ram(f, elf);
}

static void test_bzimage_truncated(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    /* Cut into a heap copy of exactly the cut length, so ASan sees any
     * read past it. */
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, bz, len);
        assert_int_equal(load(f, cut, len), -1);
        assert_true(strncmp(f->err, "kern: ", 6) == 0);
        free(cut);
    }
    assert_refused(f, bz, 0x240, "truncated: setup header needs 0x250 bytes, file has 576");
    assert_refused(f, bz, n - 1, "extends past the end of the file");
}

static void test_bzimage_payload_past_end(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    uint32_t len;
    memcpy(&len, bz + 0x24c, 4);
    len++;
    memcpy(bz + 0x24c, &len, 4);
    assert_refused(f, bz, n, "payload (offset 0x420, length");
    assert_refused(f, bz, n, "extends past the end of the file");

    /* payload_offset near 4 GiB: the sum must not wrap into range. */
    uint32_t off = UINT32_MAX;
    memcpy(bz + 0x248, &off, 4);
    assert_refused(f, bz, n, "extends past the end of the file");

    len = 0;
    off = PAYLOAD_OFF;
    memcpy(bz + 0x248, &off, 4);
    memcpy(bz + 0x24c, &len, 4);
    assert_refused(f, bz, n, "empty payload");
}

static void test_bzimage_old_protocol(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    bz[0x206] = 0x06;
    assert_refused(f, bz, n, "boot protocol 2.06 is too old");
}

static void test_bzimage_corrupt_payload(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096], copy[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    size_t first = PM_OFF + PAYLOAD_OFF;

    /* Damage past the gzip header: the deflate data no longer decodes. */
    memcpy(copy, bz, n);
    for (size_t i = first + 10; i < n; i++)
        copy[i] ^= 0x5a;
    assert_refused(f, copy, n, "corrupt or unsupported compressed payload");

    /* libarchive ignores gzip's trailer; the loader checks its ISIZE. */
    memcpy(copy, bz, n);
    copy[n - 1] ^= 0x01;
    assert_refused(f, copy, n, "decompressed 512 bytes, the payload's last 4 bytes say");

    /* Flip bits all over the payload: whatever libarchive makes of it,
     * the loader fails with a message, or loads an image that lies in
     * RAM with its entry inside it. */
    unsigned refused = 0;
    for (size_t i = first; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            memcpy(copy, bz, n);
            copy[i] ^= (uint8_t)(1u << bit);
            if (load(f, copy, n) != 0) {
                assert_true(strncmp(f->err, "kern: ", 6) == 0);
                refused++;
                continue;
            }
            assert_true(f->img.start < f->img.end);
            assert_non_null(guest_mem_ptr(&f->mem, f->img.start, f->img.end - f->img.start));
            assert_true(f->img.entry64 >= f->img.start && f->img.entry64 < f->img.end);
        }
    }
    assert_true(refused > 0);
}

static void test_bzimage_payload_not_compressed_or_not_elf(void **state)
{
    struct fixture *f = *state;
    uint8_t bz[4096], z[256];
    static const uint8_t text[] = "this is not a kernel, only some text to compress; it is longer "
                                  "than an ELF header so the magic is what fails";
    size_t n = build_bzimage(bz, sizeof(bz), text, sizeof(text));
    assert_refused(f, bz, n, "not gzip, bzip2, lzma, xz, lz4 or zstd");

    size_t zlen = gzip(text, sizeof(text), z, sizeof(z));
    n = build_bzimage(bz, sizeof(bz), z, zlen);
    assert_refused(f, bz, n, "kern: decompressed gzip payload: not an ELF file");
}

/* 600 MiB of zeros in a few hundred KiB of gzip: refused at 512 MiB. */
static void test_bzimage_decompression_bomb(void **state)
{
    struct fixture *f = *state;
    size_t zcap = 8 << 20, chunk = 1 << 20;
    uint8_t *zeros = calloc(1, chunk), *z = malloc(zcap);
    assert_non_null(zeros);
    assert_non_null(z);
    z_stream s = {0};
    assert_int_equal(deflateInit2(&s, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_out = z;
    s.avail_out = (uInt)zcap;
    for (unsigned i = 0; i < 600; i++) {
        s.next_in = zeros;
        s.avail_in = (uInt)chunk;
        assert_int_equal(deflate(&s, i == 599 ? Z_FINISH : Z_NO_FLUSH),
                         i == 599 ? Z_STREAM_END : Z_OK);
        assert_int_equal(s.avail_in, 0);
    }
    size_t zlen = s.total_out;
    deflateEnd(&s);

    uint8_t *bz = malloc(PM_OFF + PAYLOAD_OFF + zlen);
    assert_non_null(bz);
    size_t n = build_bzimage(bz, PM_OFF + PAYLOAD_OFF + zlen, z, zlen);
    assert_refused(f, bz, n, "payload decompresses to more than 512 MiB");
    free(bz);
    free(z);
    free(zeros);
}

/* ---- files ---- */

static void test_load_from_file(void **state)
{
    struct fixture *f = *state;
    uint8_t elf[ELF_SIZE], bz[4096];
    size_t n = build_gzip_bzimage(bz, sizeof(bz), elf);
    char path[] = "/tmp/plugvm-test-kernel-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bz, n), (ssize_t)n);
    close(fd);
    int rc = x86_kernel_load(path, &f->mem, &f->img, f->err, sizeof(f->err));
    unlink(path);
    assert_int_equal(rc, 0);
    assert_string_equal(f->img.compression, "gzip");
    assert_kernel_in_ram(f, elf);
}

static void test_refuse_missing_file_and_directory(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(x86_kernel_load("/nonexistent/vmlinuz", &f->mem, &f->img, f->err,
                                     sizeof(f->err)),
                     -1);
    assert_string_equal(f->err, "/nonexistent/vmlinuz: cannot open: No such file or directory");
    assert_int_equal(x86_kernel_load("/tmp", &f->mem, &f->img, f->err, sizeof(f->err)), -1);
    assert_string_equal(f->err, "/tmp: not a regular file");
}

/* A short error buffer still gets a terminated, truncated message. */
static void test_short_error_buffer(void **state)
{
    struct fixture *f = *state;
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(x86_kernel_load_buffer("vmlinuz", NULL, 0, &f->mem, &f->img, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "vmlinuz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_elf_loads),
        T(test_elf_physical_entry),
        T(test_elf_identity_mapped_8byte_pvh),
        T(test_elf_pvh_note_matching),
        T(test_refuse_empty_and_unknown),
        T(test_refuse_truncated_elf_header),
        T(test_refuse_phdrs_past_end),
        T(test_refuse_load_past_end),
        T(test_refuse_filesz_over_memsz),
        T(test_refuse_paddr_overflow),
        T(test_refuse_outside_ram),
        T(test_refuse_bad_ident_machine_type),
        T(test_refuse_no_load_and_bad_entry),
        T(test_bzimage_gzip),
        T(test_bzimage_xz_with_size),
        T(test_bzimage_lz4_legacy_with_size),
        T(test_bzimage_header_bounded_by_jump),
        T(test_bzimage_setup_sects_zero),
        T(test_bzimage_truncated),
        T(test_bzimage_payload_past_end),
        T(test_bzimage_old_protocol),
        T(test_bzimage_corrupt_payload),
        T(test_bzimage_payload_not_compressed_or_not_elf),
        T(test_bzimage_decompression_bomb),
        T(test_load_from_file),
        T(test_refuse_missing_file_and_directory),
        T(test_short_error_buffer),
#undef T
    };
    return cmocka_run_group_tests_name("x86 kernel loader", tests, NULL, NULL);
}
