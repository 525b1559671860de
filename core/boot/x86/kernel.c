/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 kernel loader: bzImage (boot protocol >= 2.08) and ELF64.
 *
 * Everything here parses untrusted bytes: every offset and size from the
 * file is checked against the buffer with subtraction, never with an
 * addition that could wrap, and every guest write goes through
 * guest_mem_ptr() for the whole range first.
 */
#include "boot/x86/kernel.h"
#include "util/error.h"

#include "boot/x86/archive_lazy.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory/guest_mem.h"

/* Offsets in the real-mode part of a bzImage (boot.rst, "THE REAL-MODE
 * KERNEL HEADER"). */
#define SETUP_HDR_OFFSET 0x1f1
#define BOOT_FLAG_OFFSET 0x1fe
#define JUMP_OFFSET 0x200
#define HEADER_OFFSET 0x202
#define VERSION_OFFSET 0x206
#define BOOT_FLAG_MAGIC 0xAA55
#define HDRS_MAGIC 0x53726448u /* "HdrS" */
/* payload_offset/payload_length arrived with 2.08 and end the header's
 * 2.08 layout, so that is all a loader of the ELF payload needs. */
#define MIN_PROTOCOL 0x0208
#define PAYLOAD_FIELDS_END (offsetof(struct setup_header, payload_length) + 4 + SETUP_HDR_OFFSET)

/* A kernel decompresses to tens of MiB; anything past this is a bomb. */
#define MAX_DECOMPRESSED (512ull << 20)
#define MAX_FILE_SIZE (1ull << 30)

/* XEN_ELFNOTE_PHYS32_ENTRY from xen/include/public/elfnote.h. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* [off, off + len) inside a buffer of `size` bytes, without wrapping. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static void ram_size_str(const struct guest_mem *mem, char *buf, size_t len)
{
    if (mem->size && mem->size % (1ull << 20) == 0)
        snprintf(buf, len, "%llu MiB", (unsigned long long)(mem->size >> 20));
    else
        snprintf(buf, len, "%llu bytes", (unsigned long long)mem->size);
}

/* Program headers are read by copy: the buffer carries no alignment
 * promise, and a decompressed ELF may start anywhere. */
static void read_phdr(const uint8_t *data, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
    memcpy(ph, data + eh->e_phoff + (uint64_t)i * eh->e_phentsize, sizeof(*ph));
}

/* Validates the ELF header and its program header table; `what` prefixes
 * messages ("vmlinux", or "vmlinuz: decompressed xz payload"). */
static int elf_check_header(const char *what, const uint8_t *data, size_t size, Elf64_Ehdr *eh,
                            char *err, size_t errlen)
{
    if (size < sizeof(*eh))
        return pv_fail(err, errlen, "%s: truncated: ELF header needs %zu bytes, file has %zu", what,
                    sizeof(*eh), size);
    memcpy(eh, data, sizeof(*eh));
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return pv_fail(err, errlen, "%s: not an ELF file", what);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        return pv_fail(err, errlen, "%s: not a 64-bit ELF (class %u)", what, eh->e_ident[EI_CLASS]);
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return pv_fail(err, errlen, "%s: not a little-endian ELF (data %u)", what,
                    eh->e_ident[EI_DATA]);
    if (eh->e_machine != EM_X86_64)
        return pv_fail(err, errlen, "%s: ELF machine %u is not x86_64 (%u)", what, eh->e_machine,
                    EM_X86_64);
    /* A kernel is linked at fixed physical addresses; ET_DYN would need
     * a load base and relocation that nothing here provides. */
    if (eh->e_type != ET_EXEC)
        return pv_fail(err, errlen, "%s: ELF type %u is not an executable (ET_EXEC)", what,
                    eh->e_type);
    if (eh->e_phnum && eh->e_phentsize < sizeof(Elf64_Phdr))
        return pv_fail(err, errlen, "%s: ELF program header size %u is smaller than %zu", what,
                    eh->e_phentsize, sizeof(Elf64_Phdr));
    if (!in_bounds(eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize, size))
        return pv_fail(err, errlen,
                    "%s: truncated: ELF program headers (offset 0x%llx, %u x %u bytes) extend "
                    "past the end of the file (%zu bytes)",
                    what, (unsigned long long)eh->e_phoff, eh->e_phnum, eh->e_phentsize, size);
    return 0;
}

/* Looks for Xen's PHYS32_ENTRY note in one PT_NOTE segment. Returns the
 * entry or 0. Malformed notes end the scan rather than fail the load:
 * the 64-bit entry does not depend on them. */
static uint64_t find_pvh_entry(const uint8_t *p, uint64_t len, uint64_t align)
{
    uint64_t off = 0;
    while (len - off >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p + off, sizeof(nh));
        off += sizeof(nh);
        uint64_t name_len = ((uint64_t)nh.n_namesz + align - 1) & ~(align - 1);
        uint64_t desc_len = ((uint64_t)nh.n_descsz + align - 1) & ~(align - 1);
        if (name_len > len - off || desc_len > len - off - name_len)
            return 0;
        const uint8_t *name = p + off, *desc = p + off + name_len;
        if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
            memcmp(name, "Xen", 4) == 0) {
            /* Linux emits it with _ASM_PTR: 8 bytes on x86_64, 4 on i386. */
            if (nh.n_descsz == 4)
                return le32(desc);
            if (nh.n_descsz == 8)
                return le32(desc) | (uint64_t)le32(desc + 4) << 32;
        }
        off += name_len + desc_len;
    }
    return 0;
}

static int load_elf(const char *what, const uint8_t *data, size_t size,
                    const struct guest_mem *mem, struct x86_kernel_image *out, char *err,
                    size_t errlen)
{
    Elf64_Ehdr eh = {0};
    if (elf_check_header(what, data, size, &eh, err, errlen) != 0)
        return -1;

    char ram[32];
    ram_size_str(mem, ram, sizeof(ram));
    uint64_t start = UINT64_MAX, end = 0, pvh = 0;
    unsigned nload = 0;

    /* Validate every segment before the first write, so a refused image
     * leaves guest RAM as it was. */
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        read_phdr(data, &eh, i, &ph);
        if (ph.p_type == PT_NOTE) {
            if (!in_bounds(ph.p_offset, ph.p_filesz, size))
                return pv_fail(err, errlen,
                            "%s: PT_NOTE segment %u (offset 0x%llx, 0x%llx bytes) extends past "
                            "the end of the file (%zu bytes)",
                            what, i, (unsigned long long)ph.p_offset,
                            (unsigned long long)ph.p_filesz, size);
            if (!pvh)
                pvh = find_pvh_entry(data + ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4);
            continue;
        }
        if (ph.p_type != PT_LOAD)
            continue;
        nload++;
        if (!in_bounds(ph.p_offset, ph.p_filesz, size))
            return pv_fail(err, errlen,
                        "%s: PT_LOAD segment %u (offset 0x%llx, 0x%llx bytes) extends past the "
                        "end of the file (%zu bytes)",
                        what, i, (unsigned long long)ph.p_offset,
                        (unsigned long long)ph.p_filesz, size);
        if (ph.p_filesz > ph.p_memsz)
            return pv_fail(err, errlen,
                        "%s: PT_LOAD segment %u has p_filesz 0x%llx larger than p_memsz 0x%llx",
                        what, i, (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_memsz);
        if (ph.p_memsz > UINT64_MAX - ph.p_paddr)
            return pv_fail(err, errlen,
                        "%s: PT_LOAD segment %u: p_paddr 0x%llx + p_memsz 0x%llx overflows", what,
                        i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
        if (!guest_mem_ptr(mem, ph.p_paddr, ph.p_memsz))
            return pv_fail(err, errlen,
                        "%s: PT_LOAD segment %u [0x%llx, 0x%llx) is outside guest RAM (%s)", what,
                        i, (unsigned long long)ph.p_paddr,
                        (unsigned long long)(ph.p_paddr + ph.p_memsz), ram);
        if (ph.p_paddr < start)
            start = ph.p_paddr;
        if (ph.p_paddr + ph.p_memsz > end)
            end = ph.p_paddr + ph.p_memsz;
    }
    if (!nload)
        return pv_fail(err, errlen, "%s: ELF has no PT_LOAD segment", what);

    /* vmlinux links its entry at a physical address (ENTRY(phys_startup_64)),
     * other kernels at a virtual one: try the virtual ranges first, then
     * the physical ones. */
    bool have_entry = false;
    uint64_t entry = 0;
    for (int pass = 0; pass < 2 && !have_entry; pass++) {
        for (unsigned i = 0; i < eh.e_phnum && !have_entry; i++) {
            Elf64_Phdr ph;
            read_phdr(data, &eh, i, &ph);
            if (ph.p_type != PT_LOAD)
                continue;
            uint64_t base = pass == 0 ? ph.p_vaddr : ph.p_paddr;
            if (eh.e_entry >= base && eh.e_entry - base < ph.p_memsz) {
                entry = eh.e_entry - base + ph.p_paddr;
                have_entry = true;
            }
        }
    }
    if (!have_entry)
        return pv_fail(err, errlen, "%s: entry point 0x%llx is outside every loadable segment",
                    what, (unsigned long long)eh.e_entry);

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        read_phdr(data, &eh, i, &ph);
        if (ph.p_type != PT_LOAD)
            continue;
        uint8_t *dst = guest_mem_ptr(mem, ph.p_paddr, ph.p_memsz);
        if (!dst) /* checked above; kept so no path writes unchecked */
            return pv_fail(err, errlen, "%s: PT_LOAD segment %u is outside guest RAM", what, i);
        memcpy(dst, data + ph.p_offset, ph.p_filesz);
        memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    }

    out->entry64 = entry;
    out->pvh_entry = pvh;
    out->start = start;
    out->end = end;
    return 0;
}

/* The payload's last 4 bytes are the decompressed size (mkpiggy reads
 * them as z_output_len): gzip's own ISIZE, but for every other compression
 * the kernel build appends them after the stream (size_append). libarchive
 * reads those 4 bytes as a damaged next stream, and on that error drops
 * the block it was producing; so for those formats the stream is read
 * without them, and they must then match what came out. */
#define NO_SIZE_TRAILER (-1)

/* One decompression of src into a malloc'd buffer (*outp, *outlen). With
 * `trailer` (the value of 4 bytes cut off after src), only a format that
 * takes one counts, and the output length must match it. Returns 0; -1
 * when the stream does not decode, with the reason in `why`; -2 when
 * reading the payload another way cannot help (unknown compression,
 * bomb, no memory); -3 when the format carries no appended size.
 *
 * Only the kernel's compressions that libarchive decodes in-process are
 * enabled: archive_read_support_filter_all would also bring uu, rpm and
 * the external-program filters (lrzip, grzip, and lzop when libarchive
 * lacks liblzo, as Debian's does) that fork helpers on crafted input. So
 * CONFIG_KERNEL_LZO images are refused. */
static int inflate_payload(const uint8_t *src, size_t srclen, int64_t trailer, uint8_t **outp,
                           size_t *outlen, char *compression, size_t complen, char *why,
                           size_t whylen)
{
    const struct archive_api *ar = archive_api(why, whylen);
    if (!ar)
        return -2;
    struct archive *a = ar->read_new();
    if (!a) {
        pv_fail(why, whylen, "cannot allocate a decompressor");
        return -2;
    }
    ar->read_support_filter_gzip(a);
    ar->read_support_filter_bzip2(a);
    ar->read_support_filter_lzma(a);
    ar->read_support_filter_xz(a);
    ar->read_support_filter_lz4(a);
    ar->read_support_filter_zstd(a);
    ar->read_support_format_raw(a);

    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    struct archive_entry *entry;
    if (ar->read_open_memory(a, src, srclen) != ARCHIVE_OK ||
        ar->read_next_header(a, &entry) != ARCHIVE_OK) {
        pv_fail(why, whylen, "corrupt or unsupported compressed payload: %s",
             ar->error_string(a) ? ar->error_string(a) : "unrecognized data");
        /* Opening decodes a little to look for nested filters, so a
         * short gzip stream fails here: the whole read tells better. */
        if (trailer != NO_SIZE_TRAILER)
            rc = -3;
        goto out;
    }
    snprintf(compression, complen, "%s", ar->filter_name(a, 0));
    int filter = ar->filter_code(a, 0);
    if (trailer != NO_SIZE_TRAILER &&
        (filter == ARCHIVE_FILTER_GZIP || filter == ARCHIVE_FILTER_NONE)) {
        rc = -3;
        goto out;
    }
    /* Unrecognised data passes through the raw reader unchanged; say
     * "compression" rather than blaming the ELF it is not. */
    if (filter == ARCHIVE_FILTER_NONE &&
        (srclen < SELFMAG || memcmp(src, ELFMAG, SELFMAG) != 0)) {
        pv_fail(why, whylen,
             "corrupt or unsupported compressed payload: not gzip, bzip2, lzma, xz, lz4 or zstd");
        rc = -2;
        goto out;
    }

    for (;;) {
        /* Block by block rather than archive_read_data(): on an error the
         * latter drops the bytes it had already copied in that call, and
         * the error's text is all this needs. */
        const void *blk;
        size_t blen;
        la_int64_t boff;
        int r = ar->read_data_block(a, &blk, &blen, &boff);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            pv_fail(why, whylen, "corrupt or unsupported compressed payload: %s",
                 ar->error_string(a) ? ar->error_string(a) : "read error");
            goto out;
        }
        if (blen == 0)
            continue;
        if (blen > MAX_DECOMPRESSED - len) {
            pv_fail(why, whylen, "payload decompresses to more than %llu MiB",
                 MAX_DECOMPRESSED >> 20);
            rc = -2;
            goto out;
        }
        if (blen > cap - len) {
            size_t ncap = cap ? cap : srclen < (64 << 10) ? 256 << 10 : srclen * 4;
            while (ncap < len + blen)
                ncap *= 2;
            if (ncap > MAX_DECOMPRESSED)
                ncap = MAX_DECOMPRESSED;
            uint8_t *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                pv_fail(why, whylen, "out of memory decompressing the payload");
                rc = -2;
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        memcpy(buf + len, blk, blen);
        len += blen;
    }
    /* libarchive checks neither gzip's CRC32 nor its ISIZE; the size at
     * least catches a stream that decoded to the wrong length. */
    if (filter == ARCHIVE_FILTER_GZIP && srclen >= 4)
        trailer = le32(src + srclen - 4);
    if (trailer != NO_SIZE_TRAILER && (uint32_t)len != (uint64_t)trailer) {
        pv_fail(why, whylen,
             "corrupt or unsupported compressed payload: decompressed %zu bytes, the payload's "
             "last 4 bytes say %llu",
             len, (unsigned long long)trailer);
        goto out;
    }
    *outp = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    ar->read_free(a);
    return rc;
}

static int decompress(const char *name, const uint8_t *src, size_t srclen, uint8_t **outp,
                      size_t *outlen, char *compression, size_t complen, char *err, size_t errlen)
{
    char why[256], why_whole[256];
    int rc = -3;
    if (srclen > 4)
        rc = inflate_payload(src, srclen - 4, le32(src + srclen - 4), outp, outlen, compression,
                             complen, why, sizeof(why));
    /* gzip, or a stream not made by the kernel build: read it whole. When
     * the sized read failed too, its reason is the one to give. */
    if (rc == -3 || rc == -1) {
        int whole = inflate_payload(src, srclen, NO_SIZE_TRAILER, outp, outlen, compression,
                                    complen, why_whole, sizeof(why_whole));
        if (whole == 0) {
            rc = 0;
        } else if (rc == -3) {
            rc = whole;
            memcpy(why, why_whole, sizeof(why));
        }
    }
    if (rc != 0)
        return pv_fail(err, errlen, "%s: %s", name, why);
    return 0;
}

static int load_bzimage(const char *name, const uint8_t *data, size_t size,
                        const struct guest_mem *mem, struct x86_kernel_image *out, char *err,
                        size_t errlen)
{
    if (size < PAYLOAD_FIELDS_END)
        return pv_fail(err, errlen, "%s: truncated: setup header needs 0x%zx bytes, file has %zu",
                    name, (size_t)PAYLOAD_FIELDS_END, size);
    uint16_t version = le16(data + VERSION_OFFSET);
    if (version < MIN_PROTOCOL)
        return pv_fail(err, errlen,
                    "%s: boot protocol %u.%02u is too old (payload_offset needs 2.08 or later)",
                    name, version >> 8, version & 0xff);
    /* The header ends where the jump at 0x200 lands; bytes past it are
     * setup code, not fields, and must not be read as such. */
    size_t hdr_end = HEADER_OFFSET + data[JUMP_OFFSET + 1];
    if (hdr_end < PAYLOAD_FIELDS_END)
        return pv_fail(err, errlen,
                    "%s: setup header ends at 0x%zx, before payload_offset/payload_length "
                    "despite protocol %u.%02u",
                    name, hdr_end, version >> 8, version & 0xff);
    size_t n = sizeof(struct setup_header);
    if (hdr_end - SETUP_HDR_OFFSET < n)
        n = hdr_end - SETUP_HDR_OFFSET;
    if (size - SETUP_HDR_OFFSET < n)
        n = size - SETUP_HDR_OFFSET;
    memset(&out->hdr, 0, sizeof(out->hdr));
    memcpy(&out->hdr, data + SETUP_HDR_OFFSET, n);
    out->has_setup_header = true;

    uint64_t setup_sects = out->hdr.setup_sects ? out->hdr.setup_sects : 4;
    uint64_t pm_offset = (setup_sects + 1) * 512;
    uint64_t payload = pm_offset + out->hdr.payload_offset;
    uint64_t plen = out->hdr.payload_length;
    if (!in_bounds(payload, plen, size))
        return pv_fail(err, errlen,
                    "%s: payload (offset 0x%llx, length 0x%llx) extends past the end of the file "
                    "(%zu bytes)",
                    name, (unsigned long long)payload, (unsigned long long)plen, size);
    if (plen == 0)
        return pv_fail(err, errlen, "%s: empty payload (payload_length 0)", name);

    uint8_t *elf = NULL;
    size_t elflen = 0;
    if (decompress(name, data + payload, plen, &elf, &elflen, out->compression,
                   sizeof(out->compression), err, errlen) != 0)
        return -1;
    char what[512];
    snprintf(what, sizeof(what), "%s: decompressed %s payload", name, out->compression);
    int rc = load_elf(what, elf, elflen, mem, out, err, errlen);
    free(elf);
    return rc;
}

int x86_kernel_load_buffer(const char *name, const uint8_t *data, size_t size,
                           const struct guest_mem *mem, struct x86_kernel_image *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (size == 0)
        return pv_fail(err, errlen, "%s: empty file", name);
    if (size >= VERSION_OFFSET && le32(data + HEADER_OFFSET) == HDRS_MAGIC &&
        le16(data + BOOT_FLAG_OFFSET) == BOOT_FLAG_MAGIC) {
        out->format = X86_KERNEL_BZIMAGE;
        return load_bzimage(name, data, size, mem, out, err, errlen);
    }
    if (size >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0) {
        out->format = X86_KERNEL_ELF;
        return load_elf(name, data, size, mem, out, err, errlen);
    }
    return pv_fail(err, errlen, "%s: not a bzImage or ELF kernel", name);
}

int x86_kernel_load(const char *path, const struct guest_mem *mem, struct x86_kernel_image *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pv_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return pv_fail(err, errlen, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pv_fail(err, errlen, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
        close(fd);
        return pv_fail(err, errlen, "%s: too large for a kernel (%lld bytes, limit %llu MiB)", path,
                    (long long)st.st_size, MAX_FILE_SIZE >> 20);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return pv_fail(err, errlen, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            free(buf);
            close(fd);
            if (e)
                return pv_fail(err, errlen, "%s: read error: %s", path, strerror(e));
            return pv_fail(err, errlen, "%s: file shrank while being read (%zu of %zu bytes)", path,
                        got, size);
        }
        got += (size_t)n;
    }
    close(fd);
    int rc = x86_kernel_load_buffer(path, buf, size, mem, out, err, errlen);
    free(buf);
    return rc;
}
