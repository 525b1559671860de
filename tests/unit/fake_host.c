/* SPDX-License-Identifier: Apache-2.0 */
#include "fake_host.h"

#include <errno.h>
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
    (void)h;
    return 0;
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

void fake_host_init(struct fake_host *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    f->host = (struct plugvm_host){
        .size = sizeof(struct plugvm_host), .ctx = f, .log = f_log, .vq_pop = f_vq_pop,
        .vq_push = f_vq_push, .notify_used = f_notify_used, .notify_config = f_notify_config,
        .start_worker = f_start_worker, .join_worker = f_join_worker, .vq_avail = f_vq_avail,
    };
}

void fake_host_fini(struct fake_host *f)
{
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
