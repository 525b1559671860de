/* SPDX-License-Identifier: Apache-2.0 */
#include "queue_workers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* More chains wait than this worker takes: wake an idle sibling, so
 * chains on one queue are served side by side (a blocking O_DIRECT read
 * takes tens of microseconds; a 1 MiB copy, a core's worth). */
static void wake_sibling(struct qw_queue *q)
{
    struct qw_pool *p = q->p;
    const struct plugvm_host *h = p->host;
    if (p->workers < 2 || !PLUGVM_HAS(h, struct plugvm_host, vq_avail) || h->vq_avail(h, q->index) == 0)
        return;
    pthread_mutex_lock(&p->lock);
    if (q->busy < p->workers) {
        q->kicked = true;
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Drains the queue until it is empty, paused or stopping. Stopping is
 * checked too because the queue need never be empty: a guest whose other
 * vCPU keeps refilling the avail ring would otherwise keep this loop, and
 * with it the join in reset (on a vCPU thread, under the transport lock),
 * from ever ending. After a reset the rings are gone, so chains left
 * unpopped are not lost. */
static void drain(struct qw_worker *w)
{
    struct qw_queue *q = w->q;
    struct qw_pool *p = q->p;
    const struct plugvm_host *h = p->host;
    struct plugvm_chain c;
    while (!atomic_load(&p->paused) && !atomic_load(&p->stopping)) {
        if (h->vq_pop(h, q->index, &c) != 1)
            return; /* empty, or the guest broke the ring (the core resets it) */
        wake_sibling(q);
        uint32_t used = p->serve(p->arg, q->index, w->index, &c);
        h->vq_push(h, q->index, &c, used);
        /* The core asks the ring whether the driver wants this interrupt
         * (event index), so telling it per chain costs little and
         * completes each request as soon as it is done. */
        h->notify_used(h, q->index);
    }
    pthread_mutex_lock(&p->lock);
    q->kicked = true; /* look again after resume (a stop clears it) */
    pthread_mutex_unlock(&p->lock);
}

static void worker(void *arg)
{
    struct qw_worker *w = arg;
    struct qw_queue *q = w->q;
    struct qw_pool *p = q->p;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && (!q->kicked || atomic_load(&p->paused)))
            pthread_cond_wait(&q->wake, &p->lock);
        if (p->stopping)
            break;
        q->kicked = false;
        q->busy++;
        pthread_mutex_unlock(&p->lock);
        drain(w);
        pthread_mutex_lock(&p->lock);
        q->busy--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
}

int qw_init(struct qw_pool *p, const struct plugvm_host *h, const char *name, uint32_t nqueues,
            uint32_t workers, qw_serve_fn serve, void *arg)
{
    if (nqueues < 1 || nqueues > QW_MAX_QUEUES || workers < 1 || workers > QW_MAX_WORKERS)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    p->host = h;
    p->name = name;
    p->nqueues = nqueues;
    p->workers = workers;
    p->serve = serve;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (uint32_t i = 0; i < nqueues; i++) {
        p->q[i].p = p;
        p->q[i].index = i;
        pthread_cond_init(&p->q[i].wake, NULL);
        for (uint32_t k = 0; k < workers; k++)
            p->q[i].w[k] = (struct qw_worker){&p->q[i], k, NULL};
    }
    return 0;
}

void qw_stop(struct qw_pool *p)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stopping, true);
    for (uint32_t i = 0; i < p->nqueues; i++)
        pthread_cond_broadcast(&p->q[i].wake);
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->nqueues; i++) {
        for (uint32_t k = 0; k < p->workers; k++) {
            if (p->q[i].w[k].handle)
                p->host->join_worker(p->host, p->q[i].w[k].handle);
            p->q[i].w[k].handle = NULL;
        }
        p->q[i].kicked = false;
    }
    atomic_store(&p->stopping, false);
}

int qw_start(struct qw_pool *p)
{
    for (uint32_t i = 0; i < p->nqueues; i++) {
        if (p->own >> i & 1)
            continue;
        p->q[i].kicked = true;
        for (uint32_t k = 0; k < p->workers; k++) {
            char name[32];
            snprintf(name, sizeof(name), "%s-q%u.%u", p->name, i, k);
            int rc = p->host->start_worker(p->host, name, worker, &p->q[i].w[k], &p->q[i].w[k].handle);
            if (rc) {
                qw_stop(p);
                return rc;
            }
        }
    }
    return 0;
}

void qw_kick(struct qw_pool *p, uint32_t queue)
{
    if (queue >= p->nqueues || p->own >> queue & 1)
        return;
    pthread_mutex_lock(&p->lock);
    p->q[queue].kicked = true;
    pthread_cond_signal(&p->q[queue].wake);
    pthread_mutex_unlock(&p->lock);
}

void qw_pause(struct qw_pool *p)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->paused, true);
    for (uint32_t i = 0; i < p->nqueues; i++)
        while (p->q[i].busy)
            pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void qw_resume(struct qw_pool *p)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->paused, false);
    for (uint32_t i = 0; i < p->nqueues; i++)
        pthread_cond_broadcast(&p->q[i].wake);
    pthread_mutex_unlock(&p->lock);
}

void qw_fini(struct qw_pool *p)
{
    if (!p->host)
        return; /* never set up */
    qw_stop(p);
    for (uint32_t i = 0; i < p->nqueues; i++)
        pthread_cond_destroy(&p->q[i].wake);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    p->host = NULL;
}
