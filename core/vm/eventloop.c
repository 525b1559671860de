/* SPDX-License-Identifier: Apache-2.0 */
#include "eventloop.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdlib.h>

struct handler {
    struct event *ev;
    plugvm_event_fn fn;
    void *arg;
};

static void dispatch(evutil_socket_t fd, short what, void *arg)
{
    struct handler *h = arg;
    uint32_t ev = ((what & EV_READ) ? PLUGVM_EV_READ : 0) | ((what & EV_WRITE) ? PLUGVM_EV_WRITE : 0);
    h->fn(h->arg, (int)fd, ev);
}

/* Runs on the loop thread. event_base_loopbreak() called from another
 * thread is lost when it comes before the thread enters
 * event_base_loop(), which clears the break flag on entry (a VM that ends
 * within milliseconds did hang at teardown that way); an activated event
 * stays active until the loop runs it. */
static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct eventloop *l = arg;
    event_base_loopbreak(l->base);
}

int eventloop_init(struct eventloop *l)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    /* Events are added from vCPU and worker threads: libevent's locking
     * must be on before the base exists. */
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    l->running = false;
    l->base = event_base_new();
    if (!l->base)
        return -ENOMEM;
    l->stop_ev = event_new(l->base, -1, 0, stop_loop, l);
    return l->stop_ev ? 0 : -ENOMEM;
}

static void *loop_thread(void *arg)
{
    struct eventloop *l = arg;
    pthread_setname_np(pthread_self(), "events");
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int eventloop_start(struct eventloop *l)
{
    if (pthread_create(&l->thread, NULL, loop_thread, l) != 0)
        return -EAGAIN;
    l->running = true;
    return 0;
}

void eventloop_stop(struct eventloop *l)
{
    if (!l->running)
        return;
    event_active(l->stop_ev, EV_READ, 0);
    pthread_join(l->thread, NULL);
    l->running = false;
}

void eventloop_destroy(struct eventloop *l)
{
    eventloop_stop(l);
    if (l->stop_ev)
        event_free(l->stop_ev);
    l->stop_ev = NULL;
    if (l->base)
        event_base_free(l->base);
    l->base = NULL;
}

static int add(struct eventloop *l, int fd, short what, const struct timeval *tv, plugvm_event_fn fn,
               void *arg, void **handle)
{
    struct handler *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->ev = event_new(l->base, fd, what, dispatch, h);
    if (!h->ev || event_add(h->ev, tv) != 0) {
        if (h->ev)
            event_free(h->ev);
        free(h);
        return fd >= 0 ? -EBADF : -ENOMEM;
    }
    *handle = h;
    return 0;
}

int eventloop_add_fd(struct eventloop *l, int fd, uint32_t events, plugvm_event_fn fn, void *arg,
                     void **handle)
{
    short what = EV_PERSIST | ((events & PLUGVM_EV_READ) ? EV_READ : 0) |
                 ((events & PLUGVM_EV_WRITE) ? EV_WRITE : 0);
    if (fd < 0 || !(what & (EV_READ | EV_WRITE)))
        return -EBADF;
    return add(l, fd, what, NULL, fn, arg, handle);
}

int eventloop_add_timer(struct eventloop *l, uint64_t usec, bool periodic, plugvm_event_fn fn,
                        void *arg, void **handle)
{
    if (usec == 0)
        return -EINVAL;
    struct timeval tv = {.tv_sec = (time_t)(usec / 1000000), .tv_usec = (suseconds_t)(usec % 1000000)};
    return add(l, -1, periodic ? EV_PERSIST : 0, &tv, fn, arg, handle);
}

void eventloop_del(struct eventloop *l, void *handle)
{
    (void)l;
    struct handler *h = handle;
    if (!h)
        return;
    /* event_del waits for a running callback on another thread to finish
     * (libevent with threading enabled). */
    event_del(h->ev);
    event_free(h->ev);
    free(h);
}
