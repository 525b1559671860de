/* SPDX-License-Identifier: Apache-2.0 */
/* COM1's output to a stdout nobody reads: the vCPU writing a byte waits
 * while the pipe is full, and serial_close_output() frees it within
 * SERIAL_OUT_POLL_MS (teardown's join of that vCPU used to hang for good);
 * a pipe whose reader went away drops output without SIGPIPE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "devices/serial.h"

static void no_irq(void *arg)
{
    (void)arg;
}

struct writer {
    struct serial *s;
    atomic_bool done;
};

static void *write_thr(void *arg)
{
    struct writer *w = arg;
    struct io_device d = serial_io_device(w->s);
    uint8_t c = 'x';
    d.write(d.opaque, SERIAL_COM1_BASE, &c, 1); /* THR */
    atomic_store(&w->done, true);
    return NULL;
}

/* A pipe of one page, full: the next byte would block. */
static void full_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) > 0);
    int fl = fcntl(p[1], F_GETFL);
    assert_int_equal(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), 0);
    char buf[512] = {0};
    while (write(p[1], buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(fcntl(p[1], F_SETFL, fl), 0); /* blocking, as stdout is */
}

static void close_output_frees_a_blocked_writer(void **state)
{
    (void)state;
    int p[2];
    full_pipe(p);
    struct serial s;
    serial_init(&s, p[1], no_irq, NULL);
    struct writer w = {.s = &s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_thr, &w), 0);
    struct timespec nap = {0, 300 * 1000000L};
    nanosleep(&nap, NULL);
    assert_false(atomic_load(&w.done)); /* it waits for room, as it should */

    serial_close_output(&s);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    int rc = pthread_timedjoin_np(t, NULL, &deadline);
    assert_int_equal(rc, 0); /* ETIMEDOUT: the writer never let go */
    assert_true(atomic_load(&w.done));
    serial_fini(&s);
    close(p[0]);
    close(p[1]);
}

static void gone_reader_drops_output(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* as on a vCPU thread */
    struct serial s;
    serial_init(&s, p[1], no_irq, NULL);
    struct writer w = {.s = &s};
    write_thr(&w); /* returns: EPIPE is the end of that byte */
    assert_true(atomic_load(&w.done));
    serial_fini(&s);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_output_frees_a_blocked_writer),
        cmocka_unit_test(gone_reader_drops_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
