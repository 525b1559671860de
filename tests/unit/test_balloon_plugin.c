/* SPDX-License-Identifier: Apache-2.0 */
/* The balloon plugin (plugins/balloon) driven through its descriptor by a
 * fake host with a fake guest RAM (two regions around a hole, as x86's
 * layout has): settings and features, inflate and deflate releasing only
 * pages inside RAM, every hostile PFN the issue lists, the config space,
 * free page reporting, statistics with the buffer held and handed back,
 * the control requests, reset, and the snapshot record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "fake_host.h"
#include "record/record.h"

extern const struct plugvm_plugin plugvm_plugin;
#define OPS ((const struct plugvm_device_ops *)plugvm_plugin.ops)

/* Guest RAM: 8 MiB at GPA 0 and 8 MiB at GPA 16 MiB; [8, 16) MiB is the
 * hole. One host mapping, as the core's. */
#define MIB (1ull << 20)
#define LOW (8 * MIB)
#define HOLE_END (16 * MIB)
#define RAM (16 * MIB)
static uint8_t *ram;

static struct {
    unsigned calls;
    uint64_t bytes;
    bool outside; /* a call for bytes that are not RAM */
} discards;

static void *t_gpa_to_hva(const struct plugvm_host *h, uint64_t gpa, uint64_t len)
{
    (void)h;
    if (gpa < LOW && len <= LOW - gpa)
        return ram + gpa;
    if (gpa >= HOLE_END && gpa - HOLE_END < RAM - LOW && len <= RAM - LOW - (gpa - HOLE_END))
        return ram + LOW + (gpa - HOLE_END);
    return NULL;
}

static uint64_t t_ram_bytes(const struct plugvm_host *h)
{
    (void)h;
    return RAM;
}

static int t_discard(const struct plugvm_host *h, void *hva, uint64_t len)
{
    (void)h;
    uint8_t *p = hva;
    if (p < ram || len > RAM || (uint64_t)(p - ram) > RAM - len) {
        discards.outside = true;
        return -EINVAL;
    }
    discards.calls++;
    discards.bytes += len;
    return madvise(p, len, MADV_DONTNEED) ? -1 : 0;
}

struct dev {
    struct fake_host fh;
    struct fake_settings s;
    struct plugvm_device_info info;
    void *inst;
};

static void init(struct dev *d)
{
    fake_host_init(&d->fh);
    d->fh.host.gpa_to_hva = t_gpa_to_hva;
    d->fh.host.ram_bytes = t_ram_bytes;
    d->fh.host.discard_ram = t_discard;
    fake_settings_init(&d->s);
    memset(&discards, 0, sizeof(discards));
}

static int create(struct dev *d)
{
    return OPS->create(&d->fh.host, &d->s.handle, &d->info, &d->inst);
}

static void done(struct dev *d)
{
    if (d->inst)
        OPS->destroy(d->inst);
    d->inst = NULL;
    fake_host_fini(&d->fh);
}

static int setup(void **state)
{
    (void)state;
    ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return ram == MAP_FAILED ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    munmap(ram, RAM);
    return 0;
}

/* A chain of one readable buffer holding `n` le32 PFNs. */
struct pfn_chain {
    uint32_t pfn[256];
    struct plugvm_iov iov[2];
    struct plugvm_chain c;
};

static void pfns(struct pfn_chain *p, uint16_t head, const uint32_t *v, unsigned n)
{
    memcpy(p->pfn, v, n * 4);
    p->iov[0] = (struct plugvm_iov){p->pfn, n * 4, false};
    fake_chain(&p->c, p->iov, 1, head);
}

/* Offers the chain on `q`, kicks it, waits for it to complete. */
static void serve(struct dev *d, uint32_t q, struct pfn_chain *p)
{
    unsigned before = fake_host_done(&d->fh, q);
    fake_host_offer(&d->fh, q, &p->c);
    OPS->notify(d->inst, q);
    assert_true(fake_host_wait_done(&d->fh, q, before + 1, 5000));
}

static uint32_t config_u32(struct dev *d, uint32_t off)
{
    uint32_t v = 0;
    OPS->config_read(d->inst, off, &v, 4);
    return v;
}

static int control(struct dev *d, const char *method, const char *path, const char *body,
                   char *reply)
{
    return OPS->control(d->inst, method, path, body, reply, 4096);
}

static void settings_features_and_refusals(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    assert_int_equal(create(&d), 0);
    assert_int_equal(d.info.device_id, VIRTIO_ID_BALLOON);
    assert_int_equal(d.info.num_queues, 2);
    assert_int_equal(d.info.features, 0);
    assert_int_equal(config_u32(&d, 0), 0);
    done(&d);

    init(&d);
    fake_settings_int(&d.s, "amount_mib", 4);
    fake_settings_int(&d.s, "stats_interval_s", 1);
    fake_settings_bool(&d.s, "deflate_on_oom", true);
    fake_settings_bool(&d.s, "free_page_reporting", true);
    assert_int_equal(create(&d), 0);
    assert_int_equal(d.info.num_queues, 4);
    assert_int_equal(d.info.features, 1ull << VIRTIO_BALLOON_F_STATS_VQ |
                                          1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
                                          1ull << VIRTIO_BALLOON_F_REPORTING);
    assert_int_equal(config_u32(&d, 0), 4 * 256); /* num_pages: 4 MiB of 4 KiB pages */
    done(&d);

    /* A target above guest RAM is refused, naming the setting. */
    init(&d);
    fake_settings_int(&d.s, "amount_mib", 17);
    assert_int_equal(create(&d), -EINVAL);
    assert_non_null(strstr(d.fh.last_log, "amount_mib 17 is more than guest RAM (16 MiB)"));
    done(&d);

    /* A core without discard_ram: refused, saying why. */
    init(&d);
    d.fh.host.discard_ram = NULL;
    assert_int_equal(create(&d), -ENOTSUP);
    assert_non_null(strstr(d.fh.last_log, "discard_ram"));
    done(&d);
}

static void inflate_releases_pages_deflate_returns_them(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    memset(ram, 0xab, RAM);
    /* Pages 1..3 and the first page above the hole, 16 MiB. */
    uint32_t v[] = {1, 2, 3, HOLE_END >> 12};
    struct pfn_chain p;
    pfns(&p, 0, v, 4);
    serve(&d, 0, &p);
    assert_int_equal(d.fh.q[0].done[0].used, 0);
    assert_int_equal(discards.calls, 2); /* 1..3 in one call */
    assert_int_equal(discards.bytes, 4 * 4096);
    assert_false(discards.outside);
    /* Really given back: the host's pages read as zero again. */
    assert_int_equal(ram[1 * 4096], 0);
    assert_int_equal(ram[3 * 4096 + 4095], 0);
    assert_int_equal(ram[LOW], 0);
    assert_int_equal(ram[0], 0xab);
    assert_int_equal(ram[4 * 4096], 0xab);
    char reply[4096];
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":4"));

    uint32_t back[] = {2, HOLE_END >> 12};
    pfns(&p, 1, back, 2);
    serve(&d, 1, &p);
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":2"));
    assert_int_equal(discards.calls, 2); /* a deflate releases nothing */
    OPS->reset(d.inst);
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":0")); /* the driver starts again */
    done(&d);
}

/* Every PFN the issue lists as hostile: ignored, with one log line per
 * chain, and nothing outside RAM given to discard_ram. */
static void hostile_pfns(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    uint32_t v[] = {
        (12 * MIB) >> 12,           /* inside the hole */
        (LOW >> 12),                /* the hole's first page */
        (HOLE_END + RAM - LOW) >> 12, /* just past RAM's end */
        0xffffffffu,                /* the largest PFN */
        5, 5,                       /* a duplicate in one chain */
    };
    struct pfn_chain p;
    pfns(&p, 0, v, 6);
    unsigned logs = d.fh.nlog;
    serve(&d, 0, &p);
    assert_int_equal(d.fh.nlog, logs + 1);
    assert_non_null(strstr(d.fh.last_log, "4 PFNs outside guest RAM, 1 already inflated"));
    assert_int_equal(discards.calls, 1);
    assert_int_equal(discards.bytes, 4096);
    assert_false(discards.outside);

    /* Inflated twice across chains; deflated without being inflated. */
    uint32_t again[] = {5};
    pfns(&p, 1, again, 1);
    serve(&d, 0, &p);
    assert_non_null(strstr(d.fh.last_log, "1 already inflated"));
    uint32_t never[] = {6, 7};
    pfns(&p, 2, never, 2);
    serve(&d, 1, &p);
    assert_non_null(strstr(d.fh.last_log, "2 not inflated"));

    /* A length that is not whole PFNs: the partial one is ignored, and a
     * PFN split over two buffers is read whole. */
    uint8_t a[6] = {8, 0, 0, 0, 9, 0}, b[3] = {0, 0, 10};
    struct plugvm_iov iov[2] = {{a, 6, false}, {b, 3, false}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2, 3);
    fake_host_offer(&d.fh, 0, &c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 3, 5000));
    assert_non_null(strstr(d.fh.last_log, "1 bytes of a partial PFN"));
    char reply[4096];
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":3")); /* 5, 8 and 9 */
    assert_false(discards.outside);

    /* A guest that floods: 32 lines, one more saying so, then silence. */
    logs = d.fh.nlog;
    for (unsigned i = 0; i < 40; i++) {
        pfns(&p, (uint16_t)(4 + i), again, 1);
        serve(&d, 0, &p);
    }
    assert_int_equal(d.fh.nlog - logs, 29); /* chains 5..32 logged, then one line more */
    done(&d);
}

static void config_space(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    fake_settings_int(&d.s, "amount_mib", 2);
    assert_int_equal(create(&d), 0);
    uint32_t w = 77;
    OPS->config_write(d.inst, 4, &w, 4); /* actual: the driver's */
    assert_int_equal(config_u32(&d, 4), 77);
    w = 5;
    OPS->config_write(d.inst, 0, &w, 4); /* num_pages: the device's */
    assert_int_equal(config_u32(&d, 0), 512);
    uint16_t half = 0;
    OPS->config_read(d.inst, 6, &half, 2);
    assert_int_equal(half, 0);
    uint8_t past[4] = {1, 1, 1, 1};
    OPS->config_read(d.inst, 8, past, 4); /* past the config: untouched */
    assert_int_equal(past[0], 1);
    done(&d);
}

static void free_page_reporting(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    fake_settings_bool(&d.s, "free_page_reporting", true);
    assert_int_equal(create(&d), 0);
    /* Without the stats queue, reporting is queue 2. */
    assert_int_equal(OPS->activate(d.inst, 1ull << VIRTIO_BALLOON_F_REPORTING), 0);
    memset(ram, 0xcd, RAM);
    struct plugvm_iov iov[2] = {{ram + 2 * MIB, 2 * MIB, true}, {ram + LOW, 4 * MIB, true}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2, 0);
    fake_host_offer(&d.fh, 2, &c);
    OPS->notify(d.inst, 2);
    assert_true(fake_host_wait_done(&d.fh, 2, 1, 5000));
    assert_int_equal(discards.bytes, 6 * MIB);
    assert_int_equal(ram[2 * MIB], 0);
    assert_int_equal(ram[LOW + 4 * MIB - 1], 0);
    assert_int_equal(ram[4 * MIB], 0xcd);
    char reply[4096];
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"reported_mib\":6"));
    assert_non_null(strstr(reply, "\"inflated_pages\":0")); /* not the balloon's */
    done(&d);
}

static void put_stat(uint8_t *e, uint16_t tag, uint64_t val)
{
    e[0] = (uint8_t)tag;
    e[1] = (uint8_t)(tag >> 8);
    for (int i = 0; i < 8; i++)
        e[2 + i] = (uint8_t)(val >> (8 * i));
}

static void statistics(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    fake_settings_int(&d.s, "stats_interval_s", 1);
    assert_int_equal(create(&d), 0);
    char reply[4096];
    assert_int_equal(OPS->activate(d.inst, 1ull << VIRTIO_BALLOON_F_STATS_VQ), 0);
    assert_int_equal(fake_host_nevents(&d.fh), 1); /* the polling timer */
    uint8_t buf[3 * 10 + 3];
    put_stat(buf, VIRTIO_BALLOON_S_MEMFREE, 123456789);
    put_stat(buf + 10, VIRTIO_BALLOON_S_MEMTOT, 1ull << 30);
    put_stat(buf + 20, 99, 1); /* a tag from the future: skipped */
    struct plugvm_iov iov = {buf, sizeof(buf), false};
    struct plugvm_chain c;
    fake_chain(&c, &iov, 1, 0);
    fake_host_offer(&d.fh, 2, &c);
    OPS->notify(d.inst, 2);
    assert_int_equal(fake_host_done(&d.fh, 2), 0); /* held, not completed */
    assert_int_equal(control(&d, "GET", "/statistics", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"free_memory\":123456789"));
    assert_non_null(strstr(reply, "\"total_memory\":1073741824"));
    assert_null(strstr(reply, "swap_in")); /* not reported */

    /* The timer hands the buffer back: a request for fresh figures. */
    fake_host_run_events(&d.fh, 1500);
    assert_int_equal(fake_host_done(&d.fh, 2), 1);

    /* A pause gives a held buffer back to the ring; the next tick after
     * resume takes it again. */
    put_stat(buf, VIRTIO_BALLOON_S_MEMFREE, 42);
    struct plugvm_chain c2;
    fake_chain(&c2, &iov, 1, 1);
    fake_host_offer(&d.fh, 2, &c2);
    OPS->notify(d.inst, 2);
    assert_int_equal(OPS->quiesce(d.inst), 0);
    assert_int_equal(d.fh.q[2].next, 1); /* unpopped */
    OPS->resume(d.inst);
    fake_host_run_events(&d.fh, 1500);
    assert_int_equal(d.fh.q[2].next, 2);
    assert_int_equal(control(&d, "GET", "/statistics", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"free_memory\":42"));
    OPS->reset(d.inst);
    assert_int_equal(fake_host_nevents(&d.fh), 0);
    done(&d);

    /* Off: the request says how to turn them on. */
    init(&d);
    assert_int_equal(create(&d), 0);
    assert_int_equal(control(&d, "GET", "/statistics", NULL, reply), 400);
    assert_non_null(strstr(reply, "stats_interval_s"));
    done(&d);
}

static void control_requests(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    fake_settings_bool(&d.s, "deflate_on_oom", true);
    assert_int_equal(create(&d), 0);
    char reply[4096];
    assert_int_equal(control(&d, "PATCH", "", "{\"amount_mib\": 12}", reply), 204);
    assert_int_equal(config_u32(&d, 0), 12 * 256);
    assert_int_equal(d.fh.config_notified, 1);
    assert_int_equal(control(&d, "PUT", "", "{\"amount_mib\": 12}", reply), 204);
    assert_int_equal(d.fh.config_notified, 1); /* unchanged: no interrupt */
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"amount_mib\":12"));
    assert_non_null(strstr(reply, "\"target_pages\":3072"));
    assert_non_null(strstr(reply, "\"deflate_on_oom\":true"));

    assert_int_equal(control(&d, "PATCH", "", "{\"amount_mib\": 17}", reply), 400);
    assert_non_null(strstr(reply, "amount_mib 17 is more than guest RAM (16 MiB)"));
    assert_int_equal(config_u32(&d, 0), 12 * 256);
    assert_int_equal(control(&d, "PATCH", "", "{\"amount_mib\": -1}", reply), 400);
    assert_int_equal(control(&d, "PATCH", "", "{\"amount_mib\": \"4\"}", reply), 400);
    assert_int_equal(control(&d, "PATCH", "", "not json", reply), 400);
    assert_int_equal(control(&d, "PATCH", "", NULL, reply), 400);
    assert_int_equal(control(&d, "PATCH", "", "{\"amount_mib\": 1, \"deflate_on_oom\": false}",
                             reply), 400);
    assert_non_null(strstr(reply, "deflate_on_oom"));
    assert_int_equal(control(&d, "GET", "/nope", NULL, reply), 404);
    assert_int_equal(control(&d, "PATCH", "/statistics", "{}", reply), 400);
    done(&d);
}

static int save(struct dev *d, struct record_buf_writer *w)
{
    record_writer_init(w);
    return OPS->save(d->inst, &w->handle);
}

static int restore(struct dev *d, const struct record_buf_writer *w)
{
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w->data, w->len), 0);
    return OPS->restore(d->inst, &r.handle);
}

static void snapshot_record(void **state)
{
    (void)state;
    struct dev d;
    init(&d);
    fake_settings_int(&d.s, "amount_mib", 3);
    assert_int_equal(create(&d), 0);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    uint32_t v[] = {10, 11, 12, 40, HOLE_END >> 12};
    struct pfn_chain p;
    pfns(&p, 0, v, 5);
    serve(&d, 0, &p);
    uint32_t actual = 5;
    OPS->config_write(d.inst, 4, &actual, 4);
    assert_int_equal(OPS->quiesce(d.inst), 0);
    struct record_buf_writer w;
    assert_int_equal(save(&d, &w), 0);
    OPS->resume(d.inst);
    done(&d);

    /* A fresh instance goes on from there: target, actual, the pages (a
     * deflate of each is accepted, a second inflate is not). */
    init(&d);
    assert_int_equal(create(&d), 0);
    assert_int_equal(restore(&d, &w), 0);
    assert_int_equal(config_u32(&d, 0), 3 * 256);
    assert_int_equal(config_u32(&d, 4), 5);
    char reply[4096];
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":5"));
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    uint32_t twice[] = {40};
    pfns(&p, 0, twice, 1);
    serve(&d, 0, &p);
    assert_non_null(strstr(d.fh.last_log, "1 already inflated"));
    uint32_t back[] = {10, 11, 12, 40, HOLE_END >> 12};
    pfns(&p, 0, back, 5);
    serve(&d, 1, &p);
    assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
    assert_non_null(strstr(reply, "\"inflated_pages\":0"));
    done(&d);

    /* Other settings than the snapshot's: refused, saying which. */
    init(&d);
    fake_settings_int(&d.s, "stats_interval_s", 5);
    assert_int_equal(create(&d), 0);
    assert_int_equal(restore(&d, &w), -EINVAL);
    assert_non_null(strstr(d.fh.last_log, "statistics off"));
    done(&d);

    /* Every truncation of the record: refused, never read past. */
    for (size_t cut = 0; cut < w.len; cut++) {
        struct record_buf_writer t = w;
        t.len = cut;
        init(&d);
        assert_int_equal(create(&d), 0);
        struct record_buf_reader r;
        if (record_reader_init(&r, t.data, t.len) == 0)
            assert_true(OPS->restore(d.inst, &r.handle) < 0);
        assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
        assert_non_null(strstr(reply, "\"inflated_pages\":0")); /* nothing half-restored */
        done(&d);
    }
    record_writer_fini(&w);

    /* Runs past RAM, overlapping, or miscounted: refused. */
    const uint64_t bad[][5] = {
        {1, 1, 1ull << 40, 1, 0},   /* count, runs, first, n: past the bitmap */
        {3, 2, 10, 2, 11},          /* the second run overlaps the first */
        {5, 1, 10, 2, 0},           /* count says 5, the run holds 2 */
    };
    for (unsigned k = 0; k < 3; k++) {
        init(&d);
        assert_int_equal(create(&d), 0);
        struct record_buf_writer t;
        record_writer_init(&t);
        const struct plugvm_record_writer_ops *o = t.handle.ops;
        o->begin(&t.handle, 1, 1);
        o->put_u32(&t.handle, 0);
        o->put_u32(&t.handle, 0);
        o->put_u8(&t.handle, 0);
        o->put_u8(&t.handle, 0);
        o->put_u8(&t.handle, 0);
        o->put_u64(&t.handle, RAM / 4096 + (4ull << 30) / 4096);
        o->put_u64(&t.handle, bad[k][0]);
        o->put_u32(&t.handle, (uint32_t)bad[k][1]);
        o->put_u64(&t.handle, bad[k][2]);
        o->put_u64(&t.handle, bad[k][3]);
        if (bad[k][1] == 2) {
            o->put_u64(&t.handle, bad[k][4]);
            o->put_u64(&t.handle, 1);
        }
        o->end(&t.handle);
        assert_int_equal(restore(&d, &t), -EBADMSG);
        assert_int_equal(control(&d, "GET", "", NULL, reply), 200);
        assert_non_null(strstr(reply, "\"inflated_pages\":0"));
        record_writer_fini(&t);
        done(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_features_and_refusals),
        cmocka_unit_test(inflate_releases_pages_deflate_returns_them),
        cmocka_unit_test(hostile_pfns),
        cmocka_unit_test(config_space),
        cmocka_unit_test(free_page_reporting),
        cmocka_unit_test(statistics),
        cmocka_unit_test(control_requests),
        cmocka_unit_test(snapshot_record),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
