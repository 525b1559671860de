/* SPDX-License-Identifier: Apache-2.0 */
/* The blk plugin (plugins/blk/blk.c) driven through its descriptor by a
 * fake host: settings refused at create with the file named, image
 * locking, features and config space, requests served on per-queue
 * workers (each completed exactly once), quiesce/resume at request
 * boundaries, a reset while the guest keeps the avail ring full, and the
 * snapshot record. */
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

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "busy_guest.h"
#include "fake_host.h"
#include "record/record.h"
#include "virtio_blk.h"

extern const struct plugvm_plugin plugvm_plugin;
#define OPS ((const struct plugvm_device_ops *)plugvm_plugin.ops)

static char dir[64];

static char *image(const char *name, size_t bytes)
{
    static char paths[8][128];
    static unsigned n;
    char *p = paths[n++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
    close(fd);
    return p;
}

struct dev {
    struct fake_host fh;
    struct fake_settings s;
    struct plugvm_device_info info;
    void *inst;
};

static int create(struct dev *d)
{
    return OPS->create(&d->fh.host, &d->s.handle, &d->info, &d->inst);
}

static void init(struct dev *d, const char *path)
{
    fake_host_init(&d->fh);
    fake_settings_init(&d->s);
    if (path)
        fake_settings_string(&d->s, "path", path);
}

static void done(struct dev *d)
{
    if (d->inst) {
        OPS->reset(d->inst);
        OPS->destroy(d->inst);
    }
    d->inst = NULL;
    fake_host_fini(&d->fh);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/plugvm-blkp-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* Each refusal names the file and says what was expected. */
static void refusals(void **state)
{
    (void)state;
    struct {
        const char *path;
        const char *cache;
        const char *serial;
        int rc;
        const char *says;
    } cases[] = {
        {"/nonexistent/disk.img", NULL, NULL, -ENOENT, "/nonexistent/disk.img: no such file"},
        {"/tmp", NULL, NULL, -EISDIR, "/tmp: is a directory"},
        {image("odd.img", 1000), NULL, NULL, -EINVAL, "not a multiple of the 512-byte sector"},
        {image("empty.img", 0), NULL, NULL, -EINVAL, "zero"},
        {"/dev/null", NULL, NULL, -EINVAL, "not a disk image"},
        {image("c.img", 4096), "fast", NULL, -EINVAL, "cache must be"},
        {image("s.img", 4096), NULL, "012345678901234567890", -EINVAL, "at most 20 printable"},
        {image("t.img", 4096), NULL, "tab\there", -EINVAL, "at most 20 printable"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dev d;
        init(&d, cases[i].path);
        if (cases[i].cache)
            fake_settings_string(&d.s, "cache", cases[i].cache);
        if (cases[i].serial)
            fake_settings_string(&d.s, "serial", cases[i].serial);
        int rc = create(&d);
        if (rc != cases[i].rc || !strstr(d.fh.last_log, cases[i].says))
            fail_msg("case %u: rc %d, log '%s'", i, rc, d.fh.last_log);
        assert_non_null(strstr(d.fh.last_log, "test.cfg:1"));
        d.inst = NULL;
        done(&d);
    }
}

/* A writable image has one user; read-only users share it. */
static void locking(void **state)
{
    (void)state;
    const char *p = image("lock.img", 1 << 20);
    struct dev a, b, c, r1, r2;
    init(&a, p);
    assert_int_equal(create(&a), 0);
    init(&b, p);
    assert_int_equal(create(&b), -EBUSY);
    assert_non_null(strstr(b.fh.last_log, "in use"));
    assert_non_null(strstr(b.fh.last_log, p));
    b.inst = NULL;
    init(&c, p);
    fake_settings_bool(&c.s, "read_only", true);
    assert_int_equal(create(&c), -EBUSY);
    c.inst = NULL;
    done(&a);
    done(&b);
    done(&c);
    init(&r1, p);
    fake_settings_bool(&r1.s, "read_only", true);
    assert_int_equal(create(&r1), 0);
    init(&r2, p);
    fake_settings_bool(&r2.s, "read_only", true);
    assert_int_equal(create(&r2), 0);
    init(&a, p);
    assert_int_equal(create(&a), -EBUSY);
    a.inst = NULL;
    done(&a);
    done(&r1);
    done(&r2);
}

static uint64_t bit(unsigned b)
{
    return 1ull << b;
}

static void features_and_config(void **state)
{
    (void)state;
    struct dev d;
    init(&d, image("f.img", 3 << 20));
    fake_settings_int(&d.s, "queues", 2);
    assert_int_equal(create(&d), 0);
    assert_int_equal(d.info.device_id, VIRTIO_ID_BLOCK);
    assert_int_equal(d.info.num_queues, 2);
    assert_int_equal(d.info.config_size, 60);
    uint64_t want = bit(VIRTIO_BLK_F_SIZE_MAX) | bit(VIRTIO_BLK_F_SEG_MAX) |
                    bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_MQ) |
                    bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES);
    assert_true(d.info.features == want);
    uint64_t cap;
    OPS->config_read(d.inst, 0, &cap, 8);
    assert_true(cap == (3 << 20) / 512);
    uint32_t seg_max, blk_size;
    uint16_t nq;
    OPS->config_read(d.inst, 12, &seg_max, 4);
    OPS->config_read(d.inst, 20, &blk_size, 4);
    OPS->config_read(d.inst, 34, &nq, 2);
    assert_true(seg_max >= 1 && seg_max <= d.info.queue_max_size - 2);
    assert_int_equal(blk_size, 512);
    assert_int_equal(nq, 2);
    uint8_t last;
    OPS->config_read(d.inst, 56, &last, 1);
    assert_int_equal(last, 1); /* write_zeroes_may_unmap */
    done(&d);

    init(&d, image("ro.img", 1 << 20));
    fake_settings_bool(&d.s, "read_only", true);
    assert_int_equal(create(&d), 0);
    assert_true(d.info.features & bit(VIRTIO_BLK_F_RO));
    assert_false(d.info.features & (bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_MQ) |
                                    bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES)));
    done(&d);
}

struct io_req {
    struct virtio_blk_outhdr h;
    uint8_t data[512];
    uint8_t status;
    struct plugvm_iov iov[3];
    struct plugvm_chain c;
};

static void make_req(struct io_req *r, uint32_t type, uint64_t sector, uint16_t head)
{
    r->h = (struct virtio_blk_outhdr){.type = type, .sector = sector};
    r->status = 0xee;
    r->iov[0] = (struct plugvm_iov){&r->h, sizeof(r->h), false};
    r->iov[1] = (struct plugvm_iov){r->data, type == VIRTIO_BLK_T_FLUSH ? 0 : 512,
                                    type != VIRTIO_BLK_T_OUT};
    r->iov[2] = (struct plugvm_iov){&r->status, 1, true};
    fake_chain(&r->c, r->iov, 3, head);
}

/* Writes on two queues at once, then reads on both: each chain completed
 * exactly once, with its status and used length. */
static void queues_and_workers(void **state)
{
    (void)state;
    struct dev d;
    const char *p = image("q.img", 1 << 20);
    init(&d, p);
    fake_settings_int(&d.s, "queues", 2);
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, bit(VIRTIO_BLK_F_FLUSH)), 0);
    static struct io_req w[2][32], r[2][32];
    for (unsigned q = 0; q < 2; q++)
        for (unsigned i = 0; i < 32; i++) {
            make_req(&w[q][i], VIRTIO_BLK_T_OUT, q * 32 + i, (uint16_t)i);
            memset(w[q][i].data, (int)(q * 32 + i + 1), 512);
            fake_host_offer(&d.fh, q, &w[q][i].c);
        }
    OPS->notify(d.inst, 0);
    OPS->notify(d.inst, 1);
    OPS->notify(d.inst, 7); /* no such queue: ignored */
    assert_true(fake_host_wait_done(&d.fh, 0, 32, 5000));
    assert_true(fake_host_wait_done(&d.fh, 1, 32, 5000));
    for (unsigned q = 0; q < 2; q++)
        for (unsigned i = 0; i < 32; i++)
            assert_int_equal(w[q][i].status, VIRTIO_BLK_S_OK);
    struct io_req fl;
    make_req(&fl, VIRTIO_BLK_T_FLUSH, 0, 40);
    fake_host_offer(&d.fh, 0, &fl.c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 33, 5000));
    assert_int_equal(fl.status, VIRTIO_BLK_S_OK);
    for (unsigned q = 0; q < 2; q++)
        for (unsigned i = 0; i < 16; i++) {
            make_req(&r[q][i], VIRTIO_BLK_T_IN, (1 - q) * 32 + i, (uint16_t)(48 + i));
            fake_host_offer(&d.fh, q, &r[q][i].c);
        }
    OPS->notify(d.inst, 0);
    OPS->notify(d.inst, 1);
    assert_true(fake_host_wait_done(&d.fh, 0, 49, 5000));
    assert_true(fake_host_wait_done(&d.fh, 1, 48, 5000));
    for (unsigned q = 0; q < 2; q++)
        for (unsigned i = 0; i < 16; i++) {
            assert_int_equal(r[q][i].status, VIRTIO_BLK_S_OK);
            assert_int_equal(r[q][i].data[0], (1 - q) * 32 + i + 1);
            assert_int_equal(r[q][i].data[511], (1 - q) * 32 + i + 1);
        }
    assert_int_equal(d.fh.q[1].done[0].used, 1);   /* a write's used length: the status */
    assert_int_equal(d.fh.q[1].done[47].used, 513); /* a read's: data and status */
    assert_false(d.fh.bad_push);
    assert_true(d.fh.q[0].notified >= 1);
    done(&d);
}

/* Paused, the device takes no request; resumed, it serves what waited. */
static void quiesce_resume(void **state)
{
    (void)state;
    struct dev d;
    init(&d, image("p.img", 1 << 20));
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->quiesce(d.inst), 0); /* before activate: nothing to park */
    OPS->resume(d.inst);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    assert_int_equal(OPS->quiesce(d.inst), 0);
    static struct io_req w[8];
    for (unsigned i = 0; i < 8; i++) {
        make_req(&w[i], VIRTIO_BLK_T_OUT, i, (uint16_t)i);
        fake_host_offer(&d.fh, 0, &w[i].c);
    }
    OPS->notify(d.inst, 0);
    assert_false(fake_host_wait_done(&d.fh, 0, 1, 200));
    OPS->resume(d.inst);
    assert_true(fake_host_wait_done(&d.fh, 0, 8, 5000));
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(w[i].status, VIRTIO_BLK_S_OK);
    /* Reset while paused stops the workers; activate starts them again. */
    assert_int_equal(OPS->quiesce(d.inst), 0);
    OPS->reset(d.inst);
    OPS->resume(d.inst);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    done(&d);
}

/* The guest's second vCPU keeps the avail ring full (GET_ID requests, put
 * back as soon as they complete) while the first resets the device: the
 * reset, which the core calls under the transport lock, returns between
 * chains, not when the guest stops refilling (it never need: the join in
 * reset hung, and the event loop and control socket behind that lock).
 * Every chain popped is pushed once. */
static void reset_while_refilled(void **state)
{
    (void)state;
    struct dev d;
    init(&d, image("busy.img", 1 << 20));
    struct busy_guest g;
    struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_GET_ID};
    const struct busy_buf layout[] = {{0, sizeof(h), false}, {16, 20, true}, {36, 1, true}};
    busy_guest_init(&g, &d.fh, 0, layout, 3, &h, sizeof(h));
    assert_int_equal(OPS->create(&g.host, &d.s.handle, &d.info, &d.inst), 0);
    busy_guest_start(&g);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    assert_true(busy_guest_wait_pushed(&g, 2000, 10000)); /* refilled, served, refilled... */
    if (!busy_guest_reset_within(&g, OPS->reset, d.inst, 2000))
        fail_msg("reset did not return within 2 s while the guest refilled the avail ring "
                 "(it returned once the guest stopped)");
    busy_guest_stop(&g);
    assert_true(g.popped == g.pushed);
    assert_false(g.bad_push);
    /* Activated again, it serves the ring again. */
    uint64_t before = g.pushed;
    busy_guest_start(&g);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    assert_true(busy_guest_wait_pushed(&g, before + 100, 10000));
    assert_true(busy_guest_reset_within(&g, OPS->reset, d.inst, 2000));
    busy_guest_fini(&g);
    done(&d);
}

/* The descriptor the plugin holds for `path`, found through /proc. */
static int fd_of(const char *path)
{
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, path) == 0)
                return fd;
        }
    }
    return -1;
}

/* A full disk under the image (its descriptor swapped for /dev/full):
 * the write gets IOERR, completes once, and the log names the file and
 * the errno. */
static void host_enospc(void **state)
{
    (void)state;
    struct dev d;
    const char *p = image("full.img", 1 << 20);
    init(&d, p);
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, bit(VIRTIO_BLK_F_FLUSH)), 0);
    int fd = fd_of(p);
    assert_true(fd >= 0);
    int full = open("/dev/full", O_RDWR);
    assert_true(full >= 0);
    assert_int_equal(dup2(full, fd), fd);
    close(full);
    struct io_req w;
    make_req(&w, VIRTIO_BLK_T_OUT, 4, 1);
    fake_host_offer(&d.fh, 0, &w.c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 1, 5000));
    assert_int_equal(w.status, VIRTIO_BLK_S_IOERR);
    assert_non_null(strstr(d.fh.last_log, p));
    assert_non_null(strstr(d.fh.last_log, strerror(ENOSPC)));
    assert_non_null(strstr(d.fh.last_log, "write at byte 2048"));
    assert_false(d.fh.bad_push);
    done(&d);
}

static void serial_default(void **state)
{
    (void)state;
    struct dev d;
    init(&d, image("short-name.img", 4096));
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    struct io_req r;
    make_req(&r, VIRTIO_BLK_T_GET_ID, 0, 1);
    fake_host_offer(&d.fh, 0, &r.c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 1, 5000));
    assert_int_equal(r.status, VIRTIO_BLK_S_OK);
    assert_memory_equal(r.data, "short-name.img\0\0\0\0\0\0", 20);
    done(&d);

    char a[20], b[20];
    extern void blk_default_serial(const char *path, char out[20]);
    blk_default_serial("/x/ubuntu-rootfs-layer-0001.img", a);
    blk_default_serial("/x/ubuntu-rootfs-layer-0002.img", b);
    assert_memory_not_equal(a, b, 20);
    assert_memory_equal(a, "ubuntu-root-", 12);
}

static void snapshot_record(void **state)
{
    (void)state;
    const char *p = image("snap.img", 1 << 20);
    struct dev d;
    init(&d, p);
    fake_settings_string(&d.s, "serial", "vol-7");
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, bit(VIRTIO_BLK_F_FLUSH)), 0);
    assert_int_equal(OPS->quiesce(d.inst), 0);
    struct record_buf_writer w;
    record_writer_init(&w);
    assert_int_equal(OPS->save(d.inst, &w.handle), 0);
    OPS->resume(d.inst);
    done(&d);

    /* Restored from another path of the same size (an override): fine. */
    const char *moved = image("moved.img", 1 << 20);
    init(&d, moved);
    assert_int_equal(create(&d), 0);
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(OPS->restore(d.inst, &r.handle), 0);
    assert_non_null(strstr(d.fh.last_log, p));
    assert_int_equal(OPS->activate(d.inst, bit(VIRTIO_BLK_F_FLUSH)), 0);
    struct io_req id;
    make_req(&id, VIRTIO_BLK_T_GET_ID, 0, 1);
    fake_host_offer(&d.fh, 0, &id.c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 1, 5000));
    assert_memory_equal(id.data, "vol-7\0", 6); /* the serial the guest saw */
    done(&d);

    /* Another size: refused, naming both. */
    init(&d, image("small.img", 1 << 19));
    assert_int_equal(create(&d), 0);
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(OPS->restore(d.inst, &r.handle), -EINVAL);
    assert_non_null(strstr(d.fh.last_log, "small.img"));
    done(&d);

    /* Truncated body: refused. */
    init(&d, image("t2.img", 1 << 20));
    assert_int_equal(create(&d), 0);
    struct record_buf_writer t;
    record_writer_init(&t);
    t.handle.ops->begin(&t.handle, 1, 1);
    t.handle.ops->put_u64(&t.handle, (1 << 20) / 512);
    t.handle.ops->end(&t.handle);
    assert_int_equal(record_reader_init(&r, t.data, t.len), 0);
    assert_int_equal(OPS->restore(d.inst, &r.handle), -EBADMSG);
    done(&d);
    record_writer_fini(&t);
    record_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refusals),
        cmocka_unit_test(locking),
        cmocka_unit_test(features_and_config),
        cmocka_unit_test(queues_and_workers),
        cmocka_unit_test(quiesce_resume),
        cmocka_unit_test(reset_while_refilled),
        cmocka_unit_test(host_enospc),
        cmocka_unit_test(serial_default),
        cmocka_unit_test(snapshot_record),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
