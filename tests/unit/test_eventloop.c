/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop thread: a stop right after the start (before the thread
 * has entered libevent's loop) must not be lost, which once hung the
 * teardown of a VM that ended within milliseconds; timers fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "vm/eventloop.h"

static void start_stop_at_once(void **state)
{
    (void)state;
    for (int i = 0; i < 2000; i++) {
        struct eventloop l;
        assert_int_equal(eventloop_init(&l), 0);
        assert_int_equal(eventloop_start(&l), 0);
        eventloop_stop(&l); /* hangs here if the stop is lost */
        eventloop_destroy(&l);
    }
}

static void tick(void *arg, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void timer_fires(void **state)
{
    (void)state;
    struct eventloop l;
    atomic_int n = 0;
    void *h;
    assert_int_equal(eventloop_init(&l), 0);
    assert_int_equal(eventloop_start(&l), 0);
    assert_int_equal(eventloop_add_timer(&l, 1000, true, tick, &n, &h), 0);
    for (int i = 0; i < 2000 && atomic_load(&n) < 3; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_true(atomic_load(&n) >= 3);
    eventloop_del(&l, h);
    eventloop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_stop_at_once),
        cmocka_unit_test(timer_fires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
