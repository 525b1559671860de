/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk requests (plugins/blk/request.c) against a real temporary
 * image: every status virtio 1.2 §5.2.6 asks for, the guest-controlled
 * overflows the seeds record, and the bytes in the file afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "fake_host.h"
#include "request.h"

#define SECTORS 64
#define DISK_BYTES (SECTORS * 512)

struct fx {
    char path[64];
    struct blk_disk disk;
    struct blk_req_ctx ctx;
    struct blk_io io;
    unsigned host_errors;
    int last_errno;
};

static void count_error(void *arg, const char *op, uint64_t off, int err)
{
    (void)op;
    (void)off;
    struct fx *fx = arg;
    fx->host_errors++;
    fx->last_errno = err;
}

/* The byte the file holds at `off` before any test writes. */
static uint8_t initial(uint64_t off)
{
    return (uint8_t)(off * 7 + (off >> 9));
}

/* Sectors of the big fixture: room for requests at the segment limits,
 * all past the first SECTORS a hole. */
#define BIG_SECTORS (8u << 11) /* 8 MiB */

static int open_fx(struct fx *fx, bool read_only, bool direct, bool big)
{
    memset(fx, 0, sizeof(*fx));
    snprintf(fx->path, sizeof(fx->path), "/tmp/plugvm-blk-XXXXXX");
    int fd = mkstemp(fx->path);
    if (fd < 0)
        return -1;
    uint8_t buf[DISK_BYTES];
    for (unsigned i = 0; i < DISK_BYTES; i++)
        buf[i] = initial(i);
    if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
        return -1;
    if (big && ftruncate(fd, (off_t)BIG_SECTORS * 512))
        return -1;
    close(fd);
    char err[256];
    struct blk_disk_options o = {.path = fx->path, .read_only = read_only, .direct = direct,
                                 .serial = "serial-0123456789ab"};
    if (blk_disk_open(&fx->disk, &o, err, sizeof(err)))
        return -1;
    fx->ctx = (struct blk_req_ctx){.disk = &fx->disk, .discard = true, .write_zeroes = true,
                                   .host_error = count_error, .host_error_arg = fx};
    return blk_io_init(&fx->io, 256);
}

static int setup_rw(void **state)
{
    struct fx *fx = malloc(sizeof(*fx));
    *state = fx;
    return open_fx(fx, false, false, false);
}

static int setup_ro(void **state)
{
    struct fx *fx = malloc(sizeof(*fx));
    *state = fx;
    return open_fx(fx, true, false, false);
}

static int setup_direct(void **state)
{
    struct fx *fx = malloc(sizeof(*fx));
    *state = fx;
    return open_fx(fx, false, true, false);
}

static int setup_big(void **state)
{
    struct fx *fx = malloc(sizeof(*fx));
    *state = fx;
    return open_fx(fx, false, false, true);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    blk_io_fini(&fx->io);
    blk_disk_close(&fx->disk);
    unlink(fx->path);
    free(fx);
    return 0;
}

static void file_bytes(struct fx *fx, uint64_t off, void *buf, size_t len)
{
    int fd = open(fx->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static bool file_untouched(struct fx *fx)
{
    uint8_t buf[DISK_BYTES];
    file_bytes(fx, 0, buf, sizeof(buf));
    for (unsigned i = 0; i < DISK_BYTES; i++)
        if (buf[i] != initial(i))
            return false;
    return true;
}

/* Serves header + data (one buffer, `data_writable` as given, left out
 * when len is 0 and `keep_empty` is false) + a status byte. */
static uint8_t req(struct fx *fx, uint32_t type, uint64_t sector, void *data, uint32_t len,
                   bool data_writable, uint32_t *used)
{
    struct virtio_blk_outhdr h = {.type = type, .sector = sector};
    uint8_t status = 0xee;
    struct plugvm_iov iov[3];
    unsigned n = 0;
    iov[n++] = (struct plugvm_iov){&h, sizeof(h), false};
    if (data)
        iov[n++] = (struct plugvm_iov){data, len, data_writable};
    iov[n++] = (struct plugvm_iov){&status, 1, true};
    struct plugvm_chain c;
    fake_chain(&c, iov, n, 0);
    uint8_t reported;
    uint32_t u = blk_request_serve(&fx->ctx, &fx->io, &c, &reported);
    if (used)
        *used = u;
    assert_int_equal(reported, status);
    return status;
}

static void write_then_read(void **state)
{
    struct fx *fx = *state;
    uint8_t out[2048], in[2048];
    for (unsigned i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i ^ 0x5a);
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 3, out, sizeof(out), false, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    uint8_t file[2048];
    file_bytes(fx, 3 * 512, file, sizeof(file));
    assert_memory_equal(file, out, sizeof(out));
    memset(in, 0, sizeof(in));
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 3, in, sizeof(in), true, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, sizeof(in) + 1);
    assert_memory_equal(in, out, sizeof(out));
}

/* Header split 8 + 8, data scattered over odd-sized buffers, status in a
 * buffer of its own after an empty one: framing is the driver's choice
 * (§2.6.4). */
static void any_layout(void **state)
{
    struct fx *fx = *state;
    struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_OUT, .sector = 10};
    uint8_t a[100], b[412], c2[512], status = 0xee;
    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    memset(c2, 3, sizeof(c2));
    struct plugvm_iov iov[] = {
        {&h, 8, false}, {(uint8_t *)&h + 8, 8, false}, {a, sizeof(a), false},
        {b, sizeof(b), false}, {c2, sizeof(c2), false}, {&status, 0, true}, {&status, 1, true},
    };
    struct plugvm_chain c;
    fake_chain(&c, iov, 7, 5);
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, NULL), 1);
    assert_int_equal(status, VIRTIO_BLK_S_OK);
    uint8_t file[1024];
    file_bytes(fx, 10 * 512, file, sizeof(file));
    assert_int_equal(file[0], 1);
    assert_int_equal(file[99], 1);
    assert_int_equal(file[100], 2);
    assert_int_equal(file[511], 2);
    assert_int_equal(file[512], 3);
    assert_int_equal(file[1023], 3);
}

static void sector_overflow(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[512] = {0};
    uint64_t bad[] = {UINT64_MAX, UINT64_MAX / 512 + 1, 1ull << 55, 1ull << 63};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(req(fx, VIRTIO_BLK_T_IN, bad[i], buf, sizeof(buf), true, NULL),
                         VIRTIO_BLK_S_IOERR);
        assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, bad[i], buf, sizeof(buf), false, NULL),
                         VIRTIO_BLK_S_IOERR);
    }
    assert_true(file_untouched(fx));
    assert_int_equal(fx->host_errors, 0); /* the guest's fault, not the host's */
}

static void bounds(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[1024];
    memset(buf, 0xcc, sizeof(buf));
    /* The last sector is in bounds; one past it, or a span running past
     * the end, is not. */
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 512, true, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(buf[0], initial((SECTORS - 1) * 512));
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, SECTORS - 1, buf, 512, false, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, SECTORS, buf, 512, true, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, SECTORS, buf, 512, false, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 1024, true, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, SECTORS - 1, buf, 1024, false, NULL),
                     VIRTIO_BLK_S_IOERR);
    /* Not a whole number of sectors. */
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, buf, 511, true, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 0, buf, 513, false, NULL), VIRTIO_BLK_S_IOERR);
}

static void zero_length_data(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[1];
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, buf, 0, true, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 0, buf, 0, false, &used), VIRTIO_BLK_S_OK);
    /* Even at the end of the disk: an empty span at the capacity is in it. */
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, SECTORS, NULL, 0, true, NULL), VIRTIO_BLK_S_OK);
    assert_true(file_untouched(fx));
}

static void direction_mismatch(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[512];
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), false, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf), true, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_GET_ID, 0, buf, 20, false, NULL), VIRTIO_BLK_S_IOERR);
    assert_true(file_untouched(fx));
}

static void malformed(void **state)
{
    struct fx *fx = *state;
    /* A header of 15 bytes: IOERR in the status byte. */
    uint8_t h[15] = {0}, status = 0xee;
    struct plugvm_iov iov[] = {{h, sizeof(h), false}, {&status, 1, true}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2, 0);
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, NULL), 1);
    assert_int_equal(status, VIRTIO_BLK_S_IOERR);
    /* No writable byte: nowhere to answer; completed with 0 bytes. */
    struct virtio_blk_outhdr hdr = {.type = VIRTIO_BLK_T_IN};
    struct plugvm_iov iov2[] = {{&hdr, sizeof(hdr), false}};
    fake_chain(&c, iov2, 1, 0);
    uint8_t st;
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, &st), 0);
    assert_int_equal(st, 0xff);
    /* A readable buffer after a writable one: not a chain the core hands
     * out, and its last byte is not device-writable: not served. */
    uint8_t data[512];
    struct virtio_blk_outhdr w = {.type = VIRTIO_BLK_T_OUT};
    struct plugvm_iov iov3[] = {{&w, sizeof(w), false}, {&status, 1, true}, {data, 512, false}};
    fake_chain(&c, iov3, 3, 0);
    status = 0xee;
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, NULL), 0);
    assert_int_equal(status, 0xee);
    /* ...and with a writable byte last but a readable one among the
     * writable: IOERR. */
    uint8_t st2 = 0xee;
    struct plugvm_iov iov4[] = {{&w, sizeof(w), false}, {&status, 1, true}, {data, 512, false},
                                {&st2, 1, true}};
    fake_chain(&c, iov4, 4, 0);
    blk_request_serve(&fx->ctx, &fx->io, &c, NULL);
    assert_int_equal(st2, VIRTIO_BLK_S_IOERR);
    assert_true(file_untouched(fx));
}

static void unknown_type(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[512];
    assert_int_equal(req(fx, 99, 0, buf, sizeof(buf), true, NULL), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(req(fx, 0xffffffffu, 0, NULL, 0, true, NULL), VIRTIO_BLK_S_UNSUPP);
    /* Types of features not negotiated are unknown to this driver. */
    fx->ctx.discard = fx->ctx.write_zeroes = false;
    struct virtio_blk_discard_write_zeroes r = {.sector = 0, .num_sectors = 1};
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    assert_true(file_untouched(fx));
}

static void flush_ok(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(req(fx, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, NULL), VIRTIO_BLK_S_OK);
}

static void get_id(void **state)
{
    struct fx *fx = *state;
    char id[32];
    memset(id, 'x', sizeof(id));
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_GET_ID, 0, id, 20, true, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 21);
    assert_memory_equal(id, "serial-0123456789ab\0", 20);
    assert_int_equal(req(fx, VIRTIO_BLK_T_GET_ID, 0, id, 19, true, NULL), VIRTIO_BLK_S_IOERR);
    /* 10 + 10 bytes: the answer spans the buffers. */
    char a[10], b[10];
    uint8_t status = 0xee;
    struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_GET_ID};
    struct plugvm_iov iov[] = {{&h, sizeof(h), false}, {a, 10, true}, {b, 10, true},
                               {&status, 1, true}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 4, 0);
    blk_request_serve(&fx->ctx, &fx->io, &c, NULL);
    assert_int_equal(status, VIRTIO_BLK_S_OK);
    assert_memory_equal(a, "serial-012", 10);
    assert_memory_equal(b, "3456789ab\0", 10);
}

static void read_only(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[512];
    memset(buf, 0x11, sizeof(buf));
    /* §5.2.6.1: a write to a read-only device is IOERR (not UNSUPP). */
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf), false, NULL),
                     VIRTIO_BLK_S_IOERR);
    struct virtio_blk_discard_write_zeroes r = {.sector = 0, .num_sectors = 1};
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), true, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(buf[1], initial(1));
    assert_true(file_untouched(fx));
}

static void discard_and_write_zeroes(void **state)
{
    struct fx *fx = *state;
    struct virtio_blk_discard_write_zeroes r = {.sector = 8, .num_sectors = 16};
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_OK);
    uint8_t buf[16 * 512 + 2];
    file_bytes(fx, 8 * 512 - 1, buf, sizeof(buf));
    assert_int_equal(buf[0], initial(8 * 512 - 1));
    for (unsigned i = 1; i <= 16 * 512; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[16 * 512 + 1], initial(24 * 512));
    /* With unmap the range is punched; it still reads back zero. */
    r = (struct virtio_blk_discard_write_zeroes){.sector = 32, .num_sectors = 8,
                                                 .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP};
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_OK);
    file_bytes(fx, 32 * 512, buf, 8 * 512);
    for (unsigned i = 0; i < 8 * 512; i++)
        assert_int_equal(buf[i], 0);
    /* Unknown flags: UNSUPP; discard with unmap: UNSUPP (§5.2.6.2). */
    r.flags = 2;
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    r.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, &r, sizeof(r), false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    /* Discard: a hint, served. */
    struct virtio_blk_discard_write_zeroes d[2] = {{.sector = 40, .num_sectors = 8},
                                                   {.sector = 56, .num_sectors = 8}};
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, d, sizeof(d), false, NULL), VIRTIO_BLK_S_OK);
    /* Past the end, overflowing, too many ranges, too many sectors, a
     * partial range, the wrong direction: IOERR. */
    struct virtio_blk_discard_write_zeroes bad[] = {
        {.sector = SECTORS - 1, .num_sectors = 2},
        {.sector = UINT64_MAX, .num_sectors = 1},
        {.sector = 0, .num_sectors = BLK_MAX_WRITE_ZEROES_SECTORS + 1},
    };
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, &bad[i], sizeof(bad[i]), false, NULL),
                         VIRTIO_BLK_S_IOERR);
        assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, &bad[i], sizeof(bad[i]), false, NULL),
                         VIRTIO_BLK_S_IOERR);
    }
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, d, sizeof(d), false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, d, 15, false, NULL), VIRTIO_BLK_S_IOERR);
    assert_int_equal(req(fx, VIRTIO_BLK_T_WRITE_ZEROES, 0, d, sizeof(d[0]), true, NULL),
                     VIRTIO_BLK_S_IOERR);
    struct virtio_blk_discard_write_zeroes many[BLK_MAX_DISCARD_SEG + 1] = {{0}};
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, many, sizeof(many), false, NULL),
                     VIRTIO_BLK_S_IOERR);
    /* Nothing outside the ranges served above changed. */
    file_bytes(fx, 0, buf, 8 * 512);
    for (unsigned i = 0; i < 8 * 512; i++)
        assert_int_equal(buf[i], initial(i));
}

/* A host failure (here: the descriptor cannot write) is IOERR, reported
 * once to the host with its errno, and the request still completes. */
static void host_error(void **state)
{
    struct fx *fx = *state;
    int rdonly = open(fx->path, O_RDONLY);
    assert_true(rdonly >= 0);
    int saved = fx->disk.fd;
    fx->disk.fd = rdonly;
    uint8_t buf[512] = {0};
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf), false, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_int_equal(fx->host_errors, 1);
    assert_int_equal(fx->last_errno, EBADF);
    fx->disk.fd = saved;
    close(rdonly);
    assert_true(file_untouched(fx));
}

/* cache = "none": aligned guest buffers go straight to the file, others
 * through the bounce buffer; both land the same bytes. */
static void direct_io(void **state)
{
    struct fx *fx = *state;
    assert_true(fx->disk.dio_align >= 512);
    uint8_t *mem;
    assert_int_equal(posix_memalign((void **)&mem, 4096, 3 * 4096), 0);
    for (unsigned i = 0; i < 4096; i++)
        mem[i] = (uint8_t)(i * 13);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 8, mem, 4096, false, NULL), VIRTIO_BLK_S_OK);
    memcpy(mem + 4096 + 1, mem, 4096); /* misaligned copy of the same */
    memset(mem, 0, 4096);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 8, mem, 4096, true, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(mem, mem + 4097, 4096);
    assert_int_equal(req(fx, VIRTIO_BLK_T_OUT, 16, mem + 4097, 4096, false, NULL), VIRTIO_BLK_S_OK);
    memset(mem + 4097, 0, 4096);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 16, mem + 4097, 4096, true, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(mem, mem + 4097, 4096);
    uint8_t file[4096];
    file_bytes(fx, 16 * 512, file, sizeof(file));
    assert_memory_equal(file, mem, 4096);
    free(mem);
}

/* Serves header + `n` data buffers of `seg` bytes each at mem (writable
 * for IN) + a status byte. */
static uint8_t segmented(struct fx *fx, uint32_t type, uint64_t sector, uint8_t *mem,
                         unsigned n, uint32_t seg, uint32_t *used)
{
    struct virtio_blk_outhdr h = {.type = type, .sector = sector};
    uint8_t status = 0xee;
    struct plugvm_iov *iov = calloc(n + 2, sizeof(*iov));
    assert_non_null(iov);
    iov[0] = (struct plugvm_iov){&h, sizeof(h), false};
    for (unsigned i = 0; i < n; i++)
        iov[1 + i] = (struct plugvm_iov){mem + (size_t)i * seg, seg, type == VIRTIO_BLK_T_IN};
    iov[n + 1] = (struct plugvm_iov){&status, 1, true};
    struct plugvm_chain c;
    fake_chain(&c, iov, n + 2, 0);
    *used = blk_request_serve(&fx->ctx, &fx->io, &c, NULL);
    free(iov);
    return status;
}

/* size_max (§5.2.4): a data buffer longer than the config space offers is
 * IOERR, touching nothing: without the check one buffer could carry 4 GiB
 * into a single preadv/pwritev. At the limit, and the same bytes split,
 * it is served. */
static void oversize_segment(void **state)
{
    struct fx *fx = *state;
    size_t len = BLK_SIZE_MAX + 512;
    uint8_t *mem = malloc(len);
    assert_non_null(mem);
    memset(mem, 0x3c, len);
    uint32_t used;
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_OUT, 0, mem, 1, (uint32_t)len, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_true(file_untouched(fx));
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_IN, 0, mem, 1, (uint32_t)len, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_int_equal(mem[0], 0x3c); /* nothing read into it */
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_IN, 0, mem, 1, BLK_SIZE_MAX, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, BLK_SIZE_MAX + 1);
    assert_int_equal(mem[1], initial(1));
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_IN, 0, mem, 2, (uint32_t)len / 2, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, len + 1);
    /* The header's buffer may carry data too (§2.6.4): its data part is
     * a segment, held to the same limit. */
    uint8_t *big = malloc(16 + len);
    assert_non_null(big);
    struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_OUT, .sector = 0};
    memcpy(big, &h, sizeof(h));
    memset(big + 16, 0x3c, len);
    uint8_t status = 0xee;
    struct plugvm_iov iov[] = {{big, (uint32_t)(16 + len), false}, {&status, 1, true}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2, 0);
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, NULL), 1);
    assert_int_equal(status, VIRTIO_BLK_S_IOERR);
    assert_true(file_untouched(fx));
    free(big);
    free(mem);
}

/* seg_max (§5.2.4): more data buffers than the config space offers is
 * IOERR, touching nothing; at the limit it is served. Empty buffers carry
 * no data and are no segment. */
static void too_many_segments(void **state)
{
    struct fx *fx = *state;
    unsigned n = BLK_SEG_MAX + 1;
    uint8_t *mem = malloc((size_t)n * 512);
    assert_non_null(mem);
    memset(mem, 0x5d, (size_t)n * 512);
    uint32_t used;
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_OUT, 0, mem, n, 512, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_true(file_untouched(fx));
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_IN, 0, mem, n, 512, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_int_equal(mem[0], 0x5d);
    assert_int_equal(segmented(fx, VIRTIO_BLK_T_IN, 0, mem, n - 1, 512, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, (n - 1) * 512 + 1);
    assert_int_equal(mem[1], initial(1));
    /* The limit with empty buffers among the segments. */
    struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_IN, .sector = 0};
    uint8_t status = 0xee;
    struct plugvm_iov *iov = calloc(2 * BLK_SEG_MAX + 2, sizeof(*iov));
    assert_non_null(iov);
    iov[0] = (struct plugvm_iov){&h, sizeof(h), false};
    for (unsigned i = 0; i < BLK_SEG_MAX; i++) {
        iov[1 + 2 * i] = (struct plugvm_iov){mem + (size_t)i * 512, 512, true};
        iov[2 + 2 * i] = (struct plugvm_iov){mem, 0, true};
    }
    iov[2 * BLK_SEG_MAX + 1] = (struct plugvm_iov){&status, 1, true};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2 * BLK_SEG_MAX + 2, 0);
    assert_int_equal(blk_request_serve(&fx->ctx, &fx->io, &c, NULL), BLK_SEG_MAX * 512 + 1);
    assert_int_equal(status, VIRTIO_BLK_S_OK);
    free(iov);
    free(mem);
}

/* The used length is what the device wrote into the writable buffers
 * (§2.7.8.2), not their size: the status byte alone for IOERR, UNSUPP
 * and every type that returns no data; the 20 bytes of the serial and
 * the status for GET_ID however long its buffer; for a read that ends
 * early, what it read and the status. */
static void used_length_status_only(void **state)
{
    struct fx *fx = *state;
    uint8_t buf[512];
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, SECTORS, buf, sizeof(buf), true, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, buf, 511, true, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_int_equal(req(fx, 99, 0, buf, sizeof(buf), true, &used), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(used, 1);
    assert_int_equal(req(fx, VIRTIO_BLK_T_FLUSH, 0, buf, sizeof(buf), true, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    assert_int_equal(req(fx, VIRTIO_BLK_T_GET_ID, 0, buf, 19, true, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    struct virtio_blk_discard_write_zeroes r = {.sector = 8, .num_sectors = 1};
    assert_int_equal(req(fx, VIRTIO_BLK_T_DISCARD, 0, &r, sizeof(r), false, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
}

static void used_length_get_id(void **state)
{
    struct fx *fx = *state;
    uint32_t used;
    char id[64];
    memset(id, 'x', sizeof(id));
    assert_int_equal(req(fx, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), true, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, VIRTIO_BLK_ID_BYTES + 1);
    assert_memory_equal(id, "serial-0123456789ab\0", 20);
    assert_int_equal(id[20], 'x'); /* not written, so not counted */
}

static void used_length_short_read(void **state)
{
    struct fx *fx = *state;
    uint32_t used;
    /* The image shrank under the VM to 4 KiB: a read of sectors 6..9 gets
     * 1024 bytes, then end of file: IOERR, with the bytes read. */
    assert_int_equal(truncate(fx->path, 4096), 0);
    uint8_t two[2048];
    memset(two, 0, sizeof(two));
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 6, two, sizeof(two), true, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1024 + 1);
    assert_int_equal(two[1023], initial(6 * 512 + 1023));
    assert_int_equal(fx->host_errors, 1);
}

/* The same through the bounce buffer (O_DIRECT, guest buffers not aligned
 * for it): a read that ends early counts only what was copied to the
 * guest, and a chunk is copied only once it was read whole. */
static void used_length_bounced(void **state)
{
    struct fx *fx = *state;
    uint8_t *mem;
    assert_int_equal(posix_memalign((void **)&mem, 4096, 3 * 4096), 0);
    uint32_t used;
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 8, mem + 1, 4096, true, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 4096 + 1);
    assert_int_equal(req(fx, 99, 0, mem + 1, 4096, true, &used), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(used, 1);
    assert_int_equal(truncate(fx->path, 4096), 0);
    assert_int_equal(req(fx, VIRTIO_BLK_T_IN, 0, mem + 1, 8192, true, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_then_read, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(any_layout, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(sector_overflow, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(bounds, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(zero_length_data, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(direction_mismatch, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(malformed, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(unknown_type, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(flush_ok, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(get_id, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(read_only, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(discard_and_write_zeroes, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(host_error, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(direct_io, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(oversize_segment, setup_big, teardown),
        cmocka_unit_test_setup_teardown(too_many_segments, setup_big, teardown),
        cmocka_unit_test_setup_teardown(used_length_status_only, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(used_length_get_id, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(used_length_short_read, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(used_length_bounced, setup_direct, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
