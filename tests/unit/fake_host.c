/* SPDX-License-Identifier: Apache-2.0 */
#include "fake_host.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct fake_host *F(const struct plugvm_host *h)
{
    return h->ctx;
}

static void f_log(const struct plugvm_host *h, enum plugvm_log_level level, const char *fmt, ...)
{
    (void)level;
    struct fake_host *f = F(h);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&f->lock);
    vsnprintf(f->last_log, sizeof(f->last_log), fmt, ap);
    f->nlog++;
    pthread_mutex_unlock(&f->lock);
    va_end(ap);
    if (getenv("FAKE_HOST_VERBOSE"))
        fprintf(stderr, "log: %s\n", f->last_log);
}

static int f_vq_pop(const struct plugvm_host *h, uint32_t q, struct plugvm_chain *out)
{
    struct fake_host *f = F(h);
    if (q >= FAKE_QUEUES)
        return -EINVAL;
    pthread_mutex_lock(&f->lock);
    struct fake_queue *fq = &f->q[q];
    int rc = 0;
    if (fq->next < fq->npending) {
        *out = fq->pending[fq->next++];
        rc = 1;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_vq_push(const struct plugvm_host *h, uint32_t q, const struct plugvm_chain *c,
                     uint32_t written)
{
    struct fake_host *f = F(h);
    if (q >= FAKE_QUEUES)
        return -EINVAL;
    pthread_mutex_lock(&f->lock);
    struct fake_queue *fq = &f->q[q];
    bool popped = false;
    for (unsigned i = 0; i < fq->next; i++)
        popped |= fq->pending[i].head == c->head;
    for (unsigned i = 0; i < fq->ndone; i++)
        if (fq->done[i].head == c->head)
            popped = false;
    if (!popped || fq->ndone == FAKE_QUEUE_DEPTH) {
        f->bad_push = true;
    } else {
        fq->done[fq->ndone].head = c->head;
        fq->done[fq->ndone].used = written;
        fq->ndone++;
    }
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
    return popped ? 0 : -EINVAL;
}

static uint32_t f_vq_avail(const struct plugvm_host *h, uint32_t q)
{
    struct fake_host *f = F(h);
    if (q >= FAKE_QUEUES)
        return 0;
    pthread_mutex_lock(&f->lock);
    uint32_t n = f->q[q].npending - f->q[q].next;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static int f_notify_used(const struct plugvm_host *h, uint32_t q)
{
    struct fake_host *f = F(h);
    pthread_mutex_lock(&f->lock);
    if (q < FAKE_QUEUES)
        f->q[q].notified++;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int f_notify_config(const struct plugvm_host *h)
{
    struct fake_host *f = F(h);
    pthread_mutex_lock(&f->lock);
    f->config_notified++;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

/* Only the chain popped last goes back, as the core's does. */
static int f_vq_unpop(const struct plugvm_host *h, uint32_t q, const struct plugvm_chain *c)
{
    struct fake_host *f = F(h);
    if (q >= FAKE_QUEUES)
        return -EINVAL;
    pthread_mutex_lock(&f->lock);
    struct fake_queue *fq = &f->q[q];
    int rc = -EINVAL;
    if (fq->next > 0 && fq->pending[fq->next - 1].head == c->head) {
        fq->next--;
        rc = 0;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

struct fake_worker {
    pthread_t t;
    plugvm_worker_fn fn;
    void *arg;
};

static void *worker_main(void *arg)
{
    struct fake_worker *w = arg;
    w->fn(w->arg);
    return NULL;
}

static int f_start_worker(const struct plugvm_host *h, const char *name, plugvm_worker_fn fn,
                          void *arg, void **handle)
{
    (void)h;
    (void)name;
    struct fake_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fn = fn;
    w->arg = arg;
    if (pthread_create(&w->t, NULL, worker_main, w)) {
        free(w);
        return -EAGAIN;
    }
    *handle = w;
    return 0;
}

static void f_join_worker(const struct plugvm_host *h, void *handle)
{
    (void)h;
    struct fake_worker *w = handle;
    pthread_join(w->t, NULL);
    free(w);
}

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static int add_event(struct fake_host *f, int fd, uint32_t events, uint64_t usec, bool periodic,
                     plugvm_event_fn fn, void *arg, void **handle)
{
    for (unsigned i = 0; i < FAKE_EVENTS; i++)
        if (!f->ev[i].used) {
            f->ev[i] = (struct fake_event){.used = true, .fd = fd, .events = events,
                                           .periodic = periodic, .usec = usec,
                                           .due_us = now_us() + usec, .fn = fn, .arg = arg};
            *handle = &f->ev[i];
            return 0;
        }
    return -ENOMEM;
}

static int f_add_fd(const struct plugvm_host *h, int fd, uint32_t events, plugvm_event_fn fn,
                    void *arg, void **handle)
{
    if (fd < 0 || !(events & (PLUGVM_EV_READ | PLUGVM_EV_WRITE)))
        return -EBADF;
    return add_event(F(h), fd, events, 0, false, fn, arg, handle);
}

static int f_add_timer(const struct plugvm_host *h, uint64_t usec, bool periodic,
                       plugvm_event_fn fn, void *arg, void **handle)
{
    if (usec == 0)
        return -EINVAL;
    return add_event(F(h), -1, 0, usec, periodic, fn, arg, handle);
}

static void f_del_event(const struct plugvm_host *h, void *handle)
{
    (void)h;
    struct fake_event *e = handle;
    if (e)
        e->used = false;
}

unsigned fake_host_nevents(struct fake_host *f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < FAKE_EVENTS; i++)
        n += f->ev[i].used;
    return n;
}

unsigned fake_host_run_events(struct fake_host *f, unsigned timeout_ms)
{
    static struct pollfd pfd[FAKE_EVENTS];
    static unsigned idx[FAKE_EVENTS];
    static struct fake_event snap[FAKE_EVENTS];
    unsigned n = 0, ran = 0;
    uint64_t t = now_us(), next = t + (uint64_t)timeout_ms * 1000;
    for (unsigned i = 0; i < FAKE_EVENTS; i++) {
        struct fake_event *e = &f->ev[i];
        if (!e->used)
            continue;
        if (e->fd < 0) {
            next = e->due_us < next ? e->due_us : next; /* UINT64_MAX: fired once */
            continue;
        }
        pfd[n] = (struct pollfd){.fd = e->fd,
                                 .events = (short)(((e->events & PLUGVM_EV_READ) ? POLLIN : 0) |
                                                   ((e->events & PLUGVM_EV_WRITE) ? POLLOUT : 0))};
        idx[n++] = i;
    }
    int wait = next > t ? (int)((next - t + 999) / 1000) : 0;
    if (poll(pfd, n, wait) < 0)
        return 0;
    /* Callbacks may add and delete events: each fires only if it is still
     * the same registration. */
    memcpy(snap, f->ev, sizeof(snap));
    for (unsigned k = 0; k < n; k++) {
        struct fake_event *e = &f->ev[idx[k]];
        if (!pfd[k].revents || !e->used || memcmp(e, &snap[idx[k]], sizeof(*e)) != 0)
            continue;
        uint32_t ev = ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) ? PLUGVM_EV_READ : 0) |
                      ((pfd[k].revents & (POLLOUT | POLLERR)) ? PLUGVM_EV_WRITE : 0);
        ev &= e->events;
        if (ev) {
            e->fn(e->arg, e->fd, ev);
            ran++;
        }
    }
    t = now_us();
    for (unsigned i = 0; i < FAKE_EVENTS; i++) {
        struct fake_event *e = &f->ev[i];
        if (!e->used || e->fd >= 0 || e->due_us > t || memcmp(e, &snap[i], sizeof(*e)) != 0)
            continue;
        /* A one-shot timer stays registered (its handle valid) until
         * del_event, as in the core; it just never fires again. */
        e->due_us = e->periodic ? t + e->usec : UINT64_MAX;
        e->fn(e->arg, -1, 0);
        ran++;
    }
    return ran;
}

void fake_host_init(struct fake_host *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    f->host = (struct plugvm_host){
        .size = sizeof(struct plugvm_host), .ctx = f, .log = f_log, .vq_pop = f_vq_pop,
        .vq_push = f_vq_push, .notify_used = f_notify_used, .notify_config = f_notify_config,
        .start_worker = f_start_worker, .join_worker = f_join_worker, .vq_avail = f_vq_avail,
        .add_fd = f_add_fd, .add_timer = f_add_timer, .del_event = f_del_event,
        .vq_unpop = f_vq_unpop,
    };
    f->ev = calloc(FAKE_EVENTS, sizeof(*f->ev));
}

void fake_host_fini(struct fake_host *f)
{
    free(f->ev);
    f->ev = NULL;
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
}

void fake_host_offer(struct fake_host *f, uint32_t q, const struct plugvm_chain *c)
{
    pthread_mutex_lock(&f->lock);
    struct fake_queue *fq = &f->q[q];
    if (fq->npending < FAKE_QUEUE_DEPTH)
        fq->pending[fq->npending++] = *c;
    pthread_mutex_unlock(&f->lock);
}

unsigned fake_host_done(struct fake_host *f, uint32_t q)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->q[q].ndone;
    pthread_mutex_unlock(&f->lock);
    return n;
}

bool fake_host_wait_done(struct fake_host *f, uint32_t q, unsigned n, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&f->lock);
    int rc = 0;
    while (f->q[q].ndone < n && rc == 0)
        rc = pthread_cond_timedwait(&f->changed, &f->lock, &until);
    bool ok = f->q[q].ndone >= n;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

void fake_chain(struct plugvm_chain *c, struct plugvm_iov *iov, unsigned n, uint16_t head)
{
    memset(c, 0, sizeof(*c));
    c->head = head;
    c->niov = (uint16_t)n;
    c->iov = iov;
    for (unsigned i = 0; i < n; i++) {
        if (iov[i].writable)
            c->writable_bytes += iov[i].len;
        else
            c->readable_bytes += iov[i].len;
    }
}

/* --- settings --- */

static int find(const struct plugvm_settings *h, const char *name, uint32_t type, unsigned *at)
{
    const struct fake_settings *s = h->impl;
    for (unsigned i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0) {
            if (s->v[i].type != type)
                return -EINVAL;
            *at = i;
            return 0;
        }
    }
    return -ENOENT;
}

static int s_get_string(const struct plugvm_settings *h, const char *name, const char **out)
{
    unsigned i;
    int rc = find(h, name, PLUGVM_SETTING_STRING, &i);
    if (!rc)
        *out = ((const struct fake_settings *)h->impl)->v[i].s;
    return rc;
}

static int s_get_int(const struct plugvm_settings *h, const char *name, int64_t *out)
{
    unsigned i;
    int rc = find(h, name, PLUGVM_SETTING_INT, &i);
    if (!rc)
        *out = ((const struct fake_settings *)h->impl)->v[i].i;
    return rc;
}

static int s_get_bool(const struct plugvm_settings *h, const char *name, bool *out)
{
    unsigned i;
    int rc = find(h, name, PLUGVM_SETTING_BOOL, &i);
    if (!rc)
        *out = ((const struct fake_settings *)h->impl)->v[i].b;
    return rc;
}

static int s_list_length(const struct plugvm_settings *h, const char *name, size_t *out)
{
    (void)h;
    (void)name;
    (void)out;
    return -ENOENT;
}

static int s_list_string(const struct plugvm_settings *h, const char *name, size_t index,
                         const char **out)
{
    (void)h;
    (void)name;
    (void)index;
    (void)out;
    return -ENOENT;
}

static const char *s_where(const struct plugvm_settings *h, const char *name, char *buf, size_t len)
{
    (void)h;
    snprintf(buf, len, "test.cfg:1 (%s)", name ? name : "entry");
    return buf;
}

static int s_get_path(const struct plugvm_settings *h, const char *name, char *buf, size_t len)
{
    const char *v;
    int rc = s_get_string(h, name, &v);
    if (rc)
        return rc;
    int n = snprintf(buf, len, "%s", v); /* the test's config is in the current folder */
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const struct plugvm_settings_ops fake_settings_ops = {
    .size = sizeof(struct plugvm_settings_ops),
    .get_string = s_get_string,
    .get_int = s_get_int,
    .get_bool = s_get_bool,
    .list_length = s_list_length,
    .list_string = s_list_string,
    .where = s_where,
    .get_path = s_get_path,
};

void fake_settings_init(struct fake_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->handle.ops = &fake_settings_ops;
    s->handle.impl = s;
}

static unsigned slot(struct fake_settings *s, const char *name, uint32_t type)
{
    unsigned i = 0;
    while (i < s->n && strcmp(s->v[i].name, name) != 0)
        i++;
    if (i == s->n && s->n < FAKE_SETTINGS_MAX)
        s->n++;
    s->v[i].name = name;
    s->v[i].type = type;
    return i;
}

void fake_settings_string(struct fake_settings *s, const char *name, const char *value)
{
    s->v[slot(s, name, PLUGVM_SETTING_STRING)].s = value;
}

void fake_settings_int(struct fake_settings *s, const char *name, int64_t value)
{
    s->v[slot(s, name, PLUGVM_SETTING_INT)].i = value;
}

void fake_settings_bool(struct fake_settings *s, const char *name, bool value)
{
    s->v[slot(s, name, PLUGVM_SETTING_BOOL)].b = value;
}
