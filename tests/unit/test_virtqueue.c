/* SPDX-License-Identifier: Apache-2.0 */
/* The split-virtqueue walker against what a hostile guest writes into its
 * rings: each case is refused (the queue marked broken, -EIO), never a
 * crash, an out-of-bounds access or a hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "virtio/virtqueue.h"

#define NUM 8
#define DESC 0x1000ull
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define DATA 0x10000ull

struct ctx {
    struct guest_mem mem;
    struct virtq q;
};

static struct ctx C;

static struct virtq_desc *desc(uint64_t table, unsigned i)
{
    return guest_mem_ptr(&C.mem, table + 16ull * i, 16);
}

static uint16_t *avail(void)
{
    return guest_mem_ptr(&C.mem, AVAIL, 6 + 2 * NUM);
}

static uint8_t *used(void)
{
    return guest_mem_ptr(&C.mem, USED, 6 + 8 * NUM);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    *desc(table, i) = (struct virtq_desc){addr, len, flags, next};
}

/* Makes head `head` available as the next avail entry. */
static void offer(uint16_t head)
{
    uint16_t *a = avail();
    a[2 + (a[1] % NUM)] = head;
    a[1]++;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(guest_mem_init(&C.mem, 1 << 20), 0);
    virtq_init(&C.q);
    assert_int_equal(virtq_setup(&C.q, &C.mem, NUM, DESC, AVAIL, USED, false, true), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    virtq_destroy(&C.q);
    guest_mem_fini(&C.mem);
    return 0;
}

static void good_chain_round_trip(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 3);
    set_desc(DESC, 3, DATA + 0x100, 32, VIRTQ_DESC_F_WRITE, 0);
    offer(0);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(c.head, 0);
    assert_int_equal(c.niov, 2);
    assert_int_equal(c.readable_bytes, 16);
    assert_int_equal(c.writable_bytes, 32);
    assert_ptr_equal(c.iov[0].addr, guest_mem_ptr(&C.mem, DATA, 16));
    assert_false(c.iov[0].writable);
    assert_true(c.iov[1].writable);
    struct plugvm_chain none;
    assert_int_equal(virtq_pop(&C.q, &none), 0); /* empty now */
    /* Push: the used ring gets {head, len} and its index moves. */
    struct plugvm_chain again = c;
    assert_int_equal(virtq_push(&C.q, &again, 1000), 0); /* clamped to 32 */
    uint32_t id, len;
    memcpy(&id, used() + 4, 4);
    memcpy(&len, used() + 8, 4);
    assert_int_equal(id, 0);
    assert_int_equal(len, 32);
    assert_int_equal(*(uint16_t *)(used() + 2), 1);
    /* The same chain cannot be pushed twice. */
    assert_int_equal(virtq_push(&C.q, &again, 1), -EINVAL);
}

static void expect_broken(void)
{
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), -EIO);
    assert_true(C.q.broken);
    assert_int_equal(virtq_pop(&C.q, &c), -EIO); /* stays broken until reset */
}

static void descriptor_loop(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc(DESC, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
    offer(0);
    expect_broken();
}

static void self_loop(void **state)
{
    (void)state;
    set_desc(DESC, 2, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
    offer(2);
    expect_broken();
}

static void next_out_of_table(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, NUM);
    offer(0);
    expect_broken();
}

static void head_out_of_table(void **state)
{
    (void)state;
    offer(NUM + 5);
    expect_broken();
}

static void buffer_outside_ram(void **state)
{
    (void)state;
    set_desc(DESC, 0, (1 << 20) - 4, 8, 0, 0); /* straddles the end of RAM */
    offer(0);
    expect_broken();
}

static void buffer_address_overflows(void **state)
{
    (void)state;
    set_desc(DESC, 0, UINT64_MAX - 3, 8, 0, 0);
    offer(0);
    expect_broken();
}

static void length_near_uint32_max(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, UINT32_MAX, 0, 0);
    offer(0);
    expect_broken();
}

static void total_length_overflows(void **state)
{
    (void)state;
    /* Two readable 2 GiB buffers, each inside a 3 GiB RAM: their sum does
     * not fit the 32-bit length a used element can carry. */
    struct guest_mem big;
    assert_int_equal(guest_mem_init(&big, 3ull << 30), 0);
    struct virtq q;
    virtq_init(&q);
    assert_int_equal(virtq_setup(&q, &big, NUM, DESC, AVAIL, USED, false, false), 0);
    struct virtq_desc *d = guest_mem_ptr(&big, DESC, 32);
    d[0] = (struct virtq_desc){DATA, 0x80000000u, VIRTQ_DESC_F_NEXT, 1};
    d[1] = (struct virtq_desc){DATA, 0x80000000u, 0, 0};
    uint16_t *a = guest_mem_ptr(&big, AVAIL, 6 + 2 * NUM);
    a[2] = 0;
    a[1] = 1;
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&q, &c), -EIO);
    virtq_destroy(&q);
    guest_mem_fini(&big);
}

static void writable_before_readable(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    set_desc(DESC, 1, DATA, 8, 0, 0);
    offer(0);
    expect_broken();
}

static void avail_index_jumps(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 8, 0, 0);
    avail()[2] = 0;
    avail()[1] = NUM + 1; /* more entries than the ring holds */
    expect_broken();
}

static void head_already_in_flight(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 8, 0, 0);
    offer(0);
    offer(0);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    expect_broken();
}

static void chain_longer_than_queue(void **state)
{
    (void)state;
    /* An indirect table of NUM entries after a direct one: NUM + 1. */
    uint64_t table = 0x20000;
    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc(DESC, 1, table, NUM * 16, VIRTQ_DESC_F_INDIRECT, 0);
    for (unsigned i = 0; i < NUM; i++)
        set_desc(table, i, DATA, 8, i + 1 < NUM ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    offer(0);
    expect_broken();
}

static void indirect_good(void **state)
{
    (void)state;
    uint64_t table = 0x20008; /* indirect tables need no alignment */
    set_desc(DESC, 4, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(table, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
    set_desc(table, 2, DATA + 8, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc(table, 1, DATA + 16, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(4);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(c.head, 4);
    assert_int_equal(c.niov, 3);
    assert_int_equal(c.readable_bytes, 16);
    assert_int_equal(c.writable_bytes, 64);
    assert_int_equal(virtq_push(&C.q, &c, 64), 0);
}

static void indirect_in_indirect(void **state)
{
    (void)state;
    uint64_t t1 = 0x20000, t2 = 0x21000;
    set_desc(DESC, 0, t1, 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(t1, 0, t2, 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(t2, 0, DATA, 8, 0, 0);
    offer(0);
    expect_broken();
}

static void indirect_with_next(void **state)
{
    (void)state;
    set_desc(DESC, 0, 0x20000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    offer(0);
    expect_broken();
}

static void indirect_bad_length(void **state)
{
    (void)state;
    set_desc(DESC, 0, 0x20000, 17, VIRTQ_DESC_F_INDIRECT, 0);
    offer(0);
    expect_broken();
}

static void indirect_zero_length(void **state)
{
    (void)state;
    set_desc(DESC, 0, 0x20000, 0, VIRTQ_DESC_F_INDIRECT, 0);
    offer(0);
    expect_broken();
}

static void indirect_not_negotiated(void **state)
{
    (void)state;
    assert_int_equal(virtq_setup(&C.q, &C.mem, NUM, DESC, AVAIL, USED, false, false), 0);
    set_desc(DESC, 0, 0x20000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(0x20000, 0, DATA, 8, 0, 0);
    offer(0);
    expect_broken();
}

static void zero_length_buffer_is_fine(void **state)
{
    (void)state;
    set_desc(DESC, 0, DATA, 0, VIRTQ_DESC_F_WRITE, 0);
    offer(0);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(c.writable_bytes, 0);
    assert_int_equal(virtq_push(&C.q, &c, 0), 0);
}

static void bad_setups_refused(void **state)
{
    (void)state;
    struct virtq q;
    virtq_init(&q);
    assert_int_equal(virtq_setup(&q, &C.mem, 0, DESC, AVAIL, USED, false, false), -EINVAL);
    assert_int_equal(virtq_setup(&q, &C.mem, 3, DESC, AVAIL, USED, false, false), -EINVAL);
    assert_int_equal(virtq_setup(&q, &C.mem, NUM, DESC + 8, AVAIL, USED, false, false), -EINVAL);
    assert_int_equal(virtq_setup(&q, &C.mem, NUM, DESC, AVAIL + 1, USED, false, false), -EINVAL);
    assert_int_equal(virtq_setup(&q, &C.mem, NUM, DESC, AVAIL, USED + 2, false, false), -EINVAL);
    assert_int_equal(virtq_setup(&q, &C.mem, 32768, (1 << 20) - 0x1000, AVAIL, USED, false,
                                 false), -EINVAL); /* table past the end of RAM */
    assert_int_equal(virtq_setup(&q, &C.mem, NUM, UINT64_MAX - 15, AVAIL, USED, false, false),
                     -EINVAL);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&q, &c), -ENODEV);
    virtq_destroy(&q);
}

static void reset_clears_broken(void **state)
{
    (void)state;
    offer(NUM + 1);
    expect_broken();
    virtq_reset(&C.q);
    assert_false(C.q.broken);
    assert_false(C.q.ready);
}

static void interrupt_suppression(void **state)
{
    (void)state;
    /* Without EVENT_IDX: the avail ring's NO_INTERRUPT flag. */
    avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
    assert_false(virtq_should_interrupt(&C.q));
    avail()[0] = 0;
    assert_true(virtq_should_interrupt(&C.q));

    /* With EVENT_IDX: used_event says after which used index to interrupt. */
    assert_int_equal(virtq_setup(&C.q, &C.mem, NUM, DESC, AVAIL, USED, true, true), 0);
    memset(avail(), 0, 6 + 2 * NUM);
    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail()[2 + NUM] = 1; /* used_event: interrupt once used idx passes 1 */
    struct plugvm_chain c;
    for (int i = 0; i < 3; i++) {
        offer(0);
        assert_int_equal(virtq_pop(&C.q, &c), 1);
        /* avail_event follows what we took. */
        assert_int_equal(*(uint16_t *)(used() + 4 + 8 * NUM), i + 1);
        assert_int_equal(virtq_push(&C.q, &c, 8), 0);
        bool want = virtq_should_interrupt(&C.q);
        /* First push: never signalled yet. Second: used idx 2 passes
         * used_event 1. Third: already signalled past it. */
        assert_int_equal(want, i == 0 || i == 1);
    }
}

static uint16_t used_idx(void)
{
    uint16_t v;
    memcpy(&v, used() + 2, 2);
    return v;
}

/* vq_unpop: the chain taken last goes back and is taken again; any other
 * (an older one, one already pushed or given back) is refused with the
 * queue unchanged. Several go back newest first. */
static void unpop_gives_back_the_last(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 3; i++) {
        set_desc(DESC, i, DATA + 0x100 * i, 16, VIRTQ_DESC_F_WRITE, 0);
        offer((uint16_t)i);
    }
    struct plugvm_chain a, b;
    assert_int_equal(virtq_pop(&C.q, &a), 1);
    assert_int_equal(virtq_pop(&C.q, &b), 1);
    assert_int_equal(virtq_unpop(&C.q, &a), -EINVAL); /* not the last taken */
    assert_int_equal(virtq_unpop(&C.q, &b), 0);
    assert_int_equal(virtq_unpop(&C.q, &b), -EINVAL); /* already back */
    assert_int_equal(virtq_unpop(&C.q, &a), 0);       /* now it is the last */
    assert_int_equal(virtq_avail_count(&C.q), 3);
    /* The guest rewrote the slot after our pop: our own record decides. */
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(c.head, 0);
    avail()[2] = 2;
    assert_int_equal(virtq_unpop(&C.q, &c), 0);
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(c.head, 2); /* what the slot says now */
    assert_int_equal(virtq_push(&C.q, &c, 16), 0);
    assert_int_equal(virtq_unpop(&C.q, &c), -EINVAL); /* pushed, not in flight */
    assert_false(C.q.broken);
    struct virtq_cursors cur;
    assert_true(virtq_get_cursors(&C.q, &cur)); /* nothing left in flight */
}

/* vq_push_many: one index store for the batch; a bad batch (a chain twice,
 * one never popped) pushes nothing. */
static void push_many_all_or_nothing(void **state)
{
    (void)state;
    struct plugvm_chain c[3];
    for (unsigned i = 0; i < 3; i++) {
        set_desc(DESC, i, DATA + 0x100 * i, 16, VIRTQ_DESC_F_WRITE, 0);
        offer((uint16_t)i);
        assert_int_equal(virtq_pop(&C.q, &c[i]), 1);
    }
    const struct plugvm_chain *dup[] = {&c[0], &c[1], &c[0]};
    const uint32_t w[] = {1, 2, 3};
    assert_int_equal(virtq_push_many(&C.q, dup, w, 3), -EINVAL);
    struct plugvm_chain fake = c[2];
    fake.head = 5;
    const struct plugvm_chain *bad[] = {&c[0], &fake};
    assert_int_equal(virtq_push_many(&C.q, bad, w, 2), -EINVAL);
    assert_int_equal(used_idx(), 0);
    const struct plugvm_chain *all[] = {&c[2], &c[0], &c[1]};
    assert_int_equal(virtq_push_many(&C.q, all, w, 3), 0);
    assert_int_equal(used_idx(), 3);
    uint32_t id, len;
    memcpy(&id, used() + 4 + 8, 4);
    memcpy(&len, used() + 8 + 8, 4);
    assert_int_equal(id, 0);
    assert_int_equal(len, 2);
    assert_int_equal(virtq_push(&C.q, &c[1], 1), -EINVAL); /* already pushed */
}

/* vq_set_notify without EVENT_IDX: the used ring's NO_NOTIFY flag; back on,
 * it says whether chains arrived meanwhile. */
static void notify_suppression(void **state)
{
    (void)state;
    assert_int_equal(virtq_set_notify(&C.q, false), 0);
    assert_int_equal(*(uint16_t *)used() & VIRTQ_USED_F_NO_NOTIFY, VIRTQ_USED_F_NO_NOTIFY);
    set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
    offer(0);
    assert_int_equal(virtq_set_notify(&C.q, true), 1); /* one came: poll it */
    assert_int_equal(*(uint16_t *)used(), 0);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(virtq_set_notify(&C.q, true), 0);
    /* A reset turns them back on; a queue not ready refuses. */
    assert_int_equal(virtq_set_notify(&C.q, false), 0);
    virtq_reset(&C.q);
    assert_false(C.q.no_notify);
    assert_int_equal(virtq_set_notify(&C.q, false), -EINVAL);
}

/* With EVENT_IDX: avail_event stays where it was while off, and pops do not
 * move it; back on, it is brought to the next slot to take. A restore turns
 * them back on. */
static void notify_suppression_event_idx(void **state)
{
    (void)state;
    assert_int_equal(virtq_setup(&C.q, &C.mem, NUM, DESC, AVAIL, USED, true, true), 0);
    memset(avail(), 0, 6 + 2 * NUM);
    uint16_t *avail_event = (uint16_t *)(used() + 4 + 8 * NUM);
    *avail_event = 0;
    set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
    set_desc(DESC, 1, DATA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(virtq_set_notify(&C.q, false), 0);
    offer(0);
    offer(1);
    struct plugvm_chain c;
    assert_int_equal(virtq_pop(&C.q, &c), 1);
    assert_int_equal(*avail_event, 0); /* left behind: no notifies wanted */
    assert_int_equal(virtq_set_notify(&C.q, true), 1); /* chain 1 still waits */
    assert_int_equal(*avail_event, 1);
    assert_int_equal(virtq_set_notify(&C.q, false), 0);
    assert_int_equal(virtq_push(&C.q, &c, 0), 0);
    struct virtq_cursors cur;
    assert_true(virtq_get_cursors(&C.q, &cur));
    virtq_set_cursors(&C.q, &cur);
    assert_false(C.q.no_notify);
    assert_int_equal(*avail_event, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(good_chain_round_trip),   T(descriptor_loop),        T(self_loop),
        T(next_out_of_table),       T(head_out_of_table),      T(buffer_outside_ram),
        T(buffer_address_overflows), T(length_near_uint32_max), T(total_length_overflows), T(writable_before_readable),
        T(avail_index_jumps),       T(head_already_in_flight), T(chain_longer_than_queue),
        T(indirect_good),           T(indirect_in_indirect),   T(indirect_with_next),
        T(indirect_bad_length),     T(indirect_zero_length),   T(indirect_not_negotiated),
        T(zero_length_buffer_is_fine), T(bad_setups_refused),  T(reset_clears_broken),
        T(interrupt_suppression),   T(unpop_gives_back_the_last), T(push_many_all_or_nothing),
        T(notify_suppression),      T(notify_suppression_event_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
