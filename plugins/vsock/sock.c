/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock device's host side, as Firecracker's docs/vsock.md defines it:
 * a guest's connect to CID 2 port P is a connection to the Unix socket
 * `<uds_path>_<P>`; a host program that connects to `uds_path` and writes
 * "CONNECT <P>\n" reaches the guest's listener on P and reads
 * "OK <host_port>\n" once the guest accepted. Every socket is
 * non-blocking on the core's event loop; d->lock is held throughout.
 *
 * Backpressure: a connection reads from its host socket only while the
 * guest has credit for it, and holds at most its advertised buf_alloc of
 * guest bytes the host side has not taken (txbuf): a host peer that stops
 * reading stalls its own connection, nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsock_dev.h"

#define TIMER_USEC 100000 /* housekeeping tick: 100 ms */

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void on_sock(void *arg, int fd, uint32_t events);
static void on_timer(void *arg, int fd, uint32_t events);

static struct vsock_sock *sock_new(struct vsock_dev *d, enum vsock_sock_kind kind, int fd, int slot)
{
    struct vsock_sock *s = calloc(1, sizeof(*s));
    if (s)
        *s = (struct vsock_sock){.d = d, .kind = kind, .fd = fd, .slot = slot};
    return s;
}

/* Loop thread (no wait in del_event there), or with the loop stopped. */
static void sock_free(struct vsock_dev *d, struct vsock_sock *s)
{
    if (!s)
        return;
    if (s->ev)
        d->host->del_event(d->host, s->ev);
    if (s->fd >= 0)
        close(s->fd);
    free(s->txbuf);
    free(s->rxmsg);
    free(s);
}

/* Whether s has bytes it can write now: whole messages for SEQPACKET
 * (a message not ended yet waits for its EOM), any for a stream. */
static bool tx_pending(const struct vsock_sock *s)
{
    return s->seq ? s->nmsg > 0 : s->txlen > 0;
}

static void need_timer(struct vsock_dev *d)
{
    if (!d->timer_ev && d->host->add_timer(d->host, TIMER_USEC, true, on_timer, d, &d->timer_ev))
        d->timer_ev = NULL; /* ENOMEM: the next call tries again */
}

void vsock_sock_arm(struct vsock_dev *d, struct vsock_sock *s)
{
    if (d->resetting)
        return;
    uint32_t want = 0;
    if (!d->paused && s->fd >= 0) {
        if (s->kind == VSOCK_SOCK_CMD) {
            want = PLUGVM_EV_READ;
        } else if (s->kind == VSOCK_SOCK_LINGER) {
            want = PLUGVM_EV_WRITE;
        } else {
            const struct vsock_conn *c = &d->conns.c[s->slot];
            if (tx_pending(s))
                want |= PLUGVM_EV_WRITE;
            if (c->state == VSOCK_CONN_ESTABLISHED && !s->readable && !s->host_eof &&
                !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
                want |= PLUGVM_EV_READ;
        }
    }
    if (want == s->ev_mask)
        return;
    if (s->ev)
        d->host->del_event(d->host, s->ev);
    s->ev = NULL;
    s->ev_mask = 0;
    if (want && d->host->add_fd(d->host, s->fd, want, on_sock, s, &s->ev) == 0)
        s->ev_mask = want;
    else if (want)
        d->host->log(d->host, PLUGVM_LOG_ERROR, "cannot watch a host socket: out of memory");
}

static void arm_list(struct vsock_dev *d, struct vsock_sock **list, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i])
            vsock_sock_arm(d, list[i]);
}

void vsock_arm_all(struct vsock_dev *d)
{
    arm_list(d, d->sock, VSOCK_MAX_CONNS);
    arm_list(d, d->cmds, VSOCK_MAX_CMDS);
    arm_list(d, d->lingers, VSOCK_MAX_CONNS);
}

static unsigned take_list(struct vsock_sock **list, unsigned n, void **h, unsigned k, unsigned max)
{
    for (unsigned i = 0; i < n && k < max; i++)
        if (list[i] && list[i]->ev) {
            h[k++] = list[i]->ev;
            list[i]->ev = NULL;
            list[i]->ev_mask = 0;
        }
    return k;
}

unsigned vsock_take_events(struct vsock_dev *d, void **h, unsigned max)
{
    unsigned k = take_list(d->sock, VSOCK_MAX_CONNS, h, 0, max);
    k = take_list(d->cmds, VSOCK_MAX_CMDS, h, k, max);
    k = take_list(d->lingers, VSOCK_MAX_CONNS, h, k, max);
    if (d->timer_ev && k < max) {
        h[k++] = d->timer_ev;
        d->timer_ev = NULL;
    }
    return k;
}

void vsock_close_all(struct vsock_dev *d)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
        sock_free(d, d->sock[i]);
        d->sock[i] = NULL;
        sock_free(d, d->lingers[i]);
        d->lingers[i] = NULL;
        d->in_ready[i] = false;
    }
    for (unsigned i = 0; i < VSOCK_MAX_CMDS; i++) {
        sock_free(d, d->cmds[i]);
        d->cmds[i] = NULL;
    }
    vsock_conns_init(&d->conns, d->guest_cid);
    d->nctrl = d->ctrl_head = 0;
    d->nready = d->ready_head = 0;
}

/* --- uds_path --- */

static int unix_addr(struct sockaddr_un *a, const char *path)
{
    *a = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a->sun_path))
        return -ENAMETOOLONG;
    strcpy(a->sun_path, path);
    return 0;
}

int vsock_listen(struct vsock_dev *d, const char *at)
{
    const struct plugvm_host *h = d->host;
    struct sockaddr_un a;
    unix_addr(&a, d->uds_path); /* length checked by create */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    if (rc && errno == EADDRINUSE) {
        /* Left by a VM that was killed (a snapshot's source, typically):
         * take it over only if it is a socket nobody listens on, never
         * another file and never a live VM's. */
        struct stat st;
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool stale = lstat(d->uds_path, &st) == 0 && S_ISSOCK(st.st_mode) && probe >= 0 &&
                     connect(probe, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == ECONNREFUSED;
        if (probe >= 0)
            close(probe);
        if (!stale) {
            h->log(h, PLUGVM_LOG_ERROR, "%s: %s exists and is %s", at, d->uds_path,
                   lstat(d->uds_path, &st) == 0 && !S_ISSOCK(st.st_mode)
                       ? "not a socket (not removed)"
                       : "a socket another process listens on");
            close(fd);
            return -EADDRINUSE;
        }
        unlink(d->uds_path);
        rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    }
    struct stat st;
    if (rc || listen(fd, SOMAXCONN) || fstat(fd, &st) || stat(d->uds_path, &st)) {
        rc = -errno;
        h->log(h, PLUGVM_LOG_ERROR, "%s: cannot listen on %s: %s", at, d->uds_path, strerror(-rc));
        close(fd);
        return rc;
    }
    d->listen_dev = st.st_dev;
    d->listen_ino = st.st_ino;
    d->listen_fd = fd;
    rc = h->add_fd(h, fd, PLUGVM_EV_READ, vsock_on_listen, d, &d->listen_ev);
    if (rc) {
        vsock_unlisten(d);
        return rc;
    }
    return 0;
}

void vsock_unlisten(struct vsock_dev *d)
{
    if (d->listen_ev)
        d->host->del_event(d->host, d->listen_ev);
    d->listen_ev = NULL;
    if (d->listen_fd < 0)
        return;
    close(d->listen_fd);
    d->listen_fd = -1;
    /* Only the file this instance made: a restored VM may already have
     * taken the path over. */
    struct stat st;
    if (stat(d->uds_path, &st) == 0 && st.st_dev == d->listen_dev && st.st_ino == d->listen_ino)
        unlink(d->uds_path);
}

void vsock_note_loop_thread(struct vsock_dev *d)
{
    if (!atomic_load(&d->loop_known)) {
        d->loop_thread = pthread_self();
        atomic_store(&d->loop_known, true);
    }
}

void vsock_on_listen(void *arg, int fd, uint32_t events)
{
    (void)events;
    struct vsock_dev *d = arg;
    pthread_mutex_lock(&d->lock);
    vsock_note_loop_thread(d);
    for (int k = 0; k < 64 && !d->resetting; k++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            break;
        unsigned i = 0;
        while (i < VSOCK_MAX_CMDS && d->cmds[i])
            i++;
        struct vsock_sock *s = NULL;
        if (!d->active || i == VSOCK_MAX_CMDS || !(s = sock_new(d, VSOCK_SOCK_CMD, cfd, -1))) {
            /* No driver to connect to yet, or too many half-sent
             * commands: closed, the way a missing guest listener is. */
            close(cfd);
            continue;
        }
        s->deadline_ms = now_ms() + VSOCK_CMD_TIMEOUT_MS;
        d->cmds[i] = s;
        vsock_sock_arm(d, s);
        need_timer(d);
    }
    pthread_mutex_unlock(&d->lock);
}

/* A free host port for a host-initiated connection, counting up from
 * 2^30 as Firecracker does and skipping ports in use; 0 when none. */
static uint32_t alloc_port(struct vsock_dev *d)
{
    for (unsigned tries = 0; tries <= VSOCK_MAX_CONNS; tries++) {
        uint32_t p = d->next_host_port++;
        if (d->next_host_port < VSOCK_FIRST_HOST_PORT || d->next_host_port == UINT32_MAX)
            d->next_host_port = VSOCK_FIRST_HOST_PORT;
        bool used = false;
        for (unsigned i = 0; i < VSOCK_MAX_CONNS && !used; i++)
            used = d->conns.c[i].state != VSOCK_CONN_FREE && d->conns.c[i].host_port == p;
        if (!used)
            return p;
    }
    return 0;
}

static void cmd_close(struct vsock_dev *d, unsigned i)
{
    sock_free(d, d->cmds[i]);
    d->cmds[i] = NULL;
}

static void cmd_read(struct vsock_dev *d, struct vsock_sock *s)
{
    const struct plugvm_host *h = d->host;
    unsigned i = 0;
    while (i < VSOCK_MAX_CMDS && d->cmds[i] != s)
        i++;
    if (i == VSOCK_MAX_CMDS)
        return;
    uint8_t buf[VSOCK_CMD_MAX];
    ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        cmd_close(d, i);
        return;
    }
    uint32_t port;
    size_t used = 0;
    enum vsock_cmd_result res = vsock_cmd_feed(&s->cmd, buf, (size_t)r, &port, &used);
    if (res == VSOCK_CMD_MORE)
        return;
    if (res == VSOCK_CMD_BAD) {
        h->log(h, PLUGVM_LOG_WARN, "%s: a host program sent no \"CONNECT <port>\\n\" line; closed",
               d->uds_path);
        cmd_close(d, i);
        return;
    }
    struct vsock_pkt req;
    uint32_t host_port = alloc_port(d);
    struct vsock_conn *c = host_port ? vsock_conn_open(&d->conns, host_port, port, &req) : NULL;
    if (!c) {
        h->log(h, PLUGVM_LOG_WARN, "%s: CONNECT %u refused: %u connections already", d->uds_path,
               port, VSOCK_MAX_CONNS);
        cmd_close(d, i);
        return;
    }
    d->cmds[i] = NULL;
    int slot = (int)(c - d->conns.c);
    s->kind = VSOCK_SOCK_CONN;
    s->slot = slot;
    s->pre_len = (uint32_t)((size_t)r - used);
    memcpy(s->pre, buf + used, s->pre_len);
    s->deadline_ms = now_ms() + VSOCK_REQUEST_TIMEOUT_MS;
    d->sock[slot] = s;
    vsock_ctrl_push(d, &req);
    vsock_sock_arm(d, s); /* nothing until the guest answers */
    need_timer(d);
}

/* --- connections --- */

static void credit_due(struct vsock_dev *d, int slot)
{
    struct vsock_conn *c = &d->conns.c[slot];
    if (!vsock_credit_update_due(&c->credit))
        return;
    struct vsock_pkt p;
    vsock_conn_packet(&d->conns, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, &p);
    vsock_credit_told(&c->credit);
    vsock_ctrl_push(d, &p);
}

/* The connection in `slot` ends: its RST in *p, its host socket closed. */
static void drop_conn(struct vsock_dev *d, int slot, struct vsock_pkt *p)
{
    vsock_conn_reset(&d->conns, &d->conns.c[slot], p);
    sock_free(d, d->sock[slot]);
    d->sock[slot] = NULL;
}

void vsock_host_reset(struct vsock_dev *d, int slot)
{
    struct vsock_pkt p;
    drop_conn(d, slot, &p);
    vsock_ctrl_push(d, &p);
}

static void refuse(struct vsock_dev *d, int slot)
{
    struct vsock_pkt p;
    vsock_conn_refused(&d->conns, &d->conns.c[slot], &p);
    vsock_ctrl_push(d, &p);
    sock_free(d, d->sock[slot]);
    d->sock[slot] = NULL;
}

/* One connect attempt for a guest's REQUEST (connection CONNECTING). */
static void try_connect(struct vsock_dev *d, int slot)
{
    struct vsock_sock *s = d->sock[slot];
    struct vsock_conn *c = &d->conns.c[slot];
    char path[sizeof(d->uds_path) + 16];
    snprintf(path, sizeof(path), "%s_%u", d->uds_path, c->host_port);
    struct sockaddr_un a;
    /* A SEQPACKET connection reaches a SOCK_SEQPACKET listener; a stream
     * listener refuses it (EPROTOTYPE), and the guest gets RST. */
    s->seq = c->type == VIRTIO_VSOCK_TYPE_SEQPACKET;
    int type = s->seq ? SOCK_SEQPACKET : SOCK_STREAM;
    int fd = unix_addr(&a, path) ? -1 : socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        struct vsock_pkt p;
        s->fd = fd;
        if (s->seq) {
            /* A record goes out in one sendmsg, which AF_UNIX refuses
             * (EMSGSIZE) past sk_sndbuf - 32 bytes; Linux's driver keeps
             * a message within the buf_alloc we advertise, so advertise
             * no more than the socket can send whole. */
            int sb = 0;
            socklen_t sl = sizeof(sb);
            if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, &sl) == 0 && sb > 4096 &&
                (uint32_t)(sb - 4096) < c->credit.buf_alloc)
                c->credit.buf_alloc = (uint32_t)(sb - 4096);
        }
        vsock_conn_connected(&d->conns, c, &p);
        vsock_ctrl_push(d, &p);
        vsock_sock_arm(d, s);
        return;
    }
    int err = fd < 0 ? ENAMETOOLONG : errno;
    if (fd >= 0)
        close(fd);
    /* A listener whose backlog is full: try again on the next tick
     * until the guest's own connect timeout would have passed. */
    if (err == EAGAIN && now_ms() < s->deadline_ms) {
        need_timer(d);
        return;
    }
    d->host->log(d->host, PLUGVM_LOG_DEBUG, "guest connect to port %u: %s: %s", c->host_port, path,
                 strerror(err));
    refuse(d, slot);
}

void vsock_host_connect(struct vsock_dev *d, int slot)
{
    struct vsock_sock *s = sock_new(d, VSOCK_SOCK_CONN, -1, slot);
    d->sock[slot] = s;
    if (!s) {
        refuse(d, slot);
        return;
    }
    s->deadline_ms = now_ms() + VSOCK_CONNECT_RETRY_MS;
    try_connect(d, slot);
}

void vsock_host_accepted(struct vsock_dev *d, int slot)
{
    struct vsock_sock *s = d->sock[slot];
    char ok[16];
    size_t n = vsock_cmd_ok(d->conns.c[slot].host_port, ok, sizeof(ok));
    if (!s || send(s->fd, ok, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n) {
        vsock_host_reset(d, slot);
        return;
    }
    s->readable = true; /* the bytes after the CONNECT line, and whatever came since */
    vsock_ready_push(d, slot);
}

/* Writes out what txbuf holds. False when s is gone (closed on error, or
 * a lingering socket done). */
static bool flush(struct vsock_dev *d, struct vsock_sock *s)
{
    while (tx_pending(s)) {
        /* A stream writes whatever it holds; SEQPACKET one whole message
         * a sendmsg, which AF_UNIX sends entirely or not at all. */
        uint32_t len = s->seq ? s->msg_len[s->msg_head] : s->txlen;
        uint32_t first = VSOCK_CONN_BUF - s->txhead;
        if (first > len)
            first = len;
        struct iovec iov[2] = {{s->txbuf ? s->txbuf + s->txhead : NULL, first},
                               {s->txbuf, len - first}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t w = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w < 0) {
            if (s->kind == VSOCK_SOCK_CONN) {
                vsock_host_reset(d, s->slot);
            } else {
                for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
                    if (d->lingers[i] == s)
                        d->lingers[i] = NULL;
                sock_free(d, s);
            }
            return false;
        }
        if (s->seq) {
            w = len; /* the record went whole */
            s->msg_head = (uint16_t)((s->msg_head + 1) % VSOCK_SEQ_MSGS);
            s->nmsg--;
        }
        s->txhead = (s->txhead + (uint32_t)w) % VSOCK_CONN_BUF;
        s->txlen -= (uint32_t)w;
        if (s->kind == VSOCK_SOCK_CONN)
            vsock_credit_consumed(&d->conns.c[s->slot].credit, (uint32_t)w);
    }
    if (!s->txlen) {
        free(s->txbuf);
        s->txbuf = NULL;
        s->txhead = 0;
        if (s->kind == VSOCK_SOCK_LINGER) {
            for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
                if (d->lingers[i] == s)
                    d->lingers[i] = NULL;
            sock_free(d, s);
            return false;
        }
    }
    if (!tx_pending(s) && s->shut_write_pending) {
        shutdown(s->fd, SHUT_WR);
        s->shut_write_pending = false;
    }
    if (s->kind == VSOCK_SOCK_CONN)
        credit_due(d, s->slot);
    return true;
}

void vsock_host_data(struct vsock_dev *d, int slot, const struct plugvm_chain *c,
                     const struct vsock_pkt *p)
{
    struct vsock_sock *s = d->sock[slot];
    struct vsock_conn *conn = &d->conns.c[slot];
    uint32_t done = 0;
    if (!s || s->fd < 0 || (!p->len && !s->seq))
        return;
    if (!s->txlen && !s->seq) {
        /* Straight from guest memory to the socket; only what the host
         * peer cannot take now is copied. */
        struct iovec iov[16];
        uint32_t bytes;
        unsigned n = vsock_pkt_iov(c, false, p->len, iov, 16, &bytes);
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            vsock_host_reset(d, slot); /* EPIPE, ECONNRESET: the host peer is gone */
            return;
        }
        done = w > 0 ? (uint32_t)w : 0;
        vsock_credit_consumed(&conn->credit, done);
    }
    uint32_t rest = p->len - done;
    if (rest) {
        /* Room is certain: credit.c let the guest send at most buf_alloc
         * (VSOCK_CONN_BUF) bytes the host has not consumed, and txlen is
         * exactly those. */
        if (!s->txbuf && !(s->txbuf = malloc(VSOCK_CONN_BUF))) {
            vsock_host_reset(d, slot);
            return;
        }
        uint32_t tail = (s->txhead + s->txlen) % VSOCK_CONN_BUF;
        uint32_t first = VSOCK_CONN_BUF - tail < rest ? VSOCK_CONN_BUF - tail : rest;
        vsock_pkt_read(c, p, done, s->txbuf + tail, first);
        vsock_pkt_read(c, p, done + first, s->txbuf, rest - first);
        s->txlen += rest;
    }
    if (s->seq) {
        /* §5.10.6.6: a message ends with the packet that carries EOM;
         * until then its bytes wait in txbuf (within the credit). */
        s->msg_open += p->len;
        if (p->flags & VIRTIO_VSOCK_SEQ_EOM) {
            if (s->nmsg == VSOCK_SEQ_MSGS) {
                vsock_guest_error(d, "more SEQPACKET messages than a connection holds: RST");
                vsock_host_reset(d, slot);
                return;
            }
            s->msg_len[(s->msg_head + s->nmsg++) % VSOCK_SEQ_MSGS] = s->msg_open;
            s->msg_open = 0;
            if (!flush(d, s))
                return;
        }
    }
    credit_due(d, slot);
    vsock_sock_arm(d, s);
}

void vsock_host_shut_write(struct vsock_dev *d, int slot)
{
    struct vsock_sock *s = d->sock[slot];
    if (!s || s->fd < 0)
        return;
    if (tx_pending(s))
        s->shut_write_pending = true;
    else
        shutdown(s->fd, SHUT_WR);
}

void vsock_host_close(struct vsock_dev *d, int slot)
{
    struct vsock_sock *s = d->sock[slot];
    d->sock[slot] = NULL;
    if (!s)
        return;
    if (s->seq) {
        /* A message the guest never ended is not sent. */
        s->txlen -= s->msg_open;
        s->msg_open = 0;
    }
    if (s->txlen && s->fd >= 0) {
        /* The guest sent its last bytes and closed: they still go out,
         * for a while, on a socket no longer tied to a connection. */
        for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
            if (!d->lingers[i]) {
                d->lingers[i] = s;
                s->kind = VSOCK_SOCK_LINGER;
                s->slot = -1;
                s->deadline_ms = now_ms() + VSOCK_LINGER_MS;
                vsock_sock_arm(d, s);
                need_timer(d);
                return;
            }
    }
    sock_free(d, s);
}

/* The connection in `slot` ends with an RST in RX chain `chain`. */
static uint32_t reset_in(struct vsock_dev *d, int slot, const struct plugvm_chain *chain,
                         struct vsock_pkt *p)
{
    drop_conn(d, slot, p);
    return vsock_pkt_write(chain, p, NULL);
}

/* A read of the host socket that returned r <= 0: nothing now (EAGAIN:
 * wait for the socket, 0 bytes used), the peer's EOF (SHUTDOWN(SEND) in
 * `chain`: it may still read, a half-close; if it closed entirely, the
 * guest's next write finds EPIPE and gets RST) or an error such as
 * ECONNRESET (RST in `chain`). p: the RW header prepared for the read. */
static uint32_t read_ended(struct vsock_dev *d, int slot, const struct plugvm_chain *chain, ssize_t r,
                           struct vsock_pkt *p)
{
    struct vsock_sock *s = d->sock[slot];
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        s->readable = errno == EINTR;
        vsock_sock_arm(d, s);
        if (s->readable)
            vsock_ready_push(d, slot);
        return 0;
    }
    if (r < 0)
        return reset_in(d, slot, chain, p);
    s->host_eof = true;
    p->op = VIRTIO_VSOCK_OP_SHUTDOWN;
    p->flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
    vsock_sock_arm(d, s);
    return vsock_pkt_write(chain, p, NULL);
}

/* An RW packet p in `chain` with as many of the `avail` bytes at buf as
 * the guest's credit and the buffer take; with `eom`, VIRTIO_VSOCK_SEQ_EOM
 * when that is all of them (a SEQPACKET record's last piece). */
static uint32_t put_bytes(const struct plugvm_chain *chain, struct vsock_pkt *p, const uint8_t *buf,
                          uint32_t avail, uint32_t credit, bool eom)
{
    uint32_t room = chain->writable_bytes - VSOCK_HDR_SIZE;
    p->len = avail < credit ? avail : credit;
    p->len = p->len < room ? p->len : room;
    if (eom && p->len == avail)
        p->flags = VIRTIO_VSOCK_SEQ_EOM;
    return vsock_pkt_write(chain, p, buf);
}

uint32_t vsock_host_read(struct vsock_dev *d, int slot, const struct plugvm_chain *chain)
{
    struct vsock_conn *c = &d->conns.c[slot];
    struct vsock_sock *s = d->sock[slot];
    if (c->state != VSOCK_CONN_ESTABLISHED || !s || s->fd < 0 || (!s->readable && !vsock_rx_record_pending(s)) ||
        s->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
        return 0;
    uint32_t credit = vsock_credit_peer_free(&c->credit);
    if (!credit)
        return 0; /* the guest's next CREDIT_UPDATE puts it back */
    if (credit > VSOCK_MAX_PAYLOAD)
        credit = VSOCK_MAX_PAYLOAD;
    struct vsock_pkt p;
    vsock_conn_packet(&d->conns, c, VIRTIO_VSOCK_OP_RW, &p);
    uint32_t used;
    if (s->seq && !vsock_rx_record_pending(s)) {
        /* SEQPACKET: one whole record off the host socket (a recv into
         * less would cut it), then passed on in as many RW packets as
         * credit and RX buffers take, EOM on its last. */
        if (!s->rxmsg && !(s->rxmsg = malloc(VSOCK_CONN_BUF)))
            return reset_in(d, slot, chain, &p);
        ssize_t r = recv(s->fd, s->rxmsg, VSOCK_CONN_BUF, MSG_DONTWAIT | MSG_TRUNC);
        if (r > 0 && ((size_t)r > VSOCK_CONN_BUF || (uint32_t)r > c->credit.peer_buf_alloc)) {
            /* A record larger than the guest could ever hold whole
             * (Linux delivers a message only complete): RST. */
            d->host->log(d->host, PLUGVM_LOG_WARN,
                         "a %zd-byte host record on guest port %u exceeds the guest's buffer: reset", r,
                         c->guest_port);
            return reset_in(d, slot, chain, &p);
        }
        /* (An empty record reads as 0, and is taken as EOF.) */
        if (r <= 0)
            return read_ended(d, slot, chain, r, &p);
        s->rxmsg_len = (uint32_t)r;
        s->rxmsg_off = 0;
    }
    if (s->seq) {
        used = put_bytes(chain, &p, s->rxmsg + s->rxmsg_off, s->rxmsg_len - s->rxmsg_off, credit, true);
        s->rxmsg_off += p.len;
        if (s->rxmsg_off == s->rxmsg_len) {
            s->rxmsg_len = s->rxmsg_off = 0;
            free(s->rxmsg);
            s->rxmsg = NULL;
        }
    } else if (s->pre_len) {
        used = put_bytes(chain, &p, s->pre, s->pre_len, credit, false);
        memmove(s->pre, s->pre + p.len, s->pre_len - p.len);
        s->pre_len -= p.len;
    } else {
        struct iovec iov[16];
        uint32_t room;
        unsigned n = vsock_pkt_iov(chain, true, credit, iov, 16, &room);
        ssize_t r = readv(s->fd, iov, (int)n);
        if (r <= 0)
            return read_ended(d, slot, chain, r, &p);
        p.len = (uint32_t)r;
        used = vsock_pkt_write_hdr(chain, &p);
    }
    vsock_credit_sent(&c->credit, p.len);
    vsock_credit_told(&c->credit); /* the header carried fwd_cnt */
    vsock_ready_push(d, slot);     /* more may wait: its turn again after the others */
    return used;
}

/* --- events --- */

static void on_sock(void *arg, int fd, uint32_t events)
{
    (void)fd;
    struct vsock_sock *s = arg;
    struct vsock_dev *d = s->d;
    pthread_mutex_lock(&d->lock);
    vsock_note_loop_thread(d);
    if (d->resetting || d->paused) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    switch (s->kind) {
    case VSOCK_SOCK_CMD:
        cmd_read(d, s);
        break;
    case VSOCK_SOCK_LINGER:
        if (flush(d, s))
            vsock_sock_arm(d, s);
        break;
    case VSOCK_SOCK_CONN:
        if ((events & PLUGVM_EV_WRITE) && !flush(d, s))
            break;
        if (events & PLUGVM_EV_READ) {
            s->readable = true;
            vsock_ready_push(d, s->slot);
        }
        vsock_sock_arm(d, s);
        break;
    }
    vsock_kick(d);
    pthread_mutex_unlock(&d->lock);
}

/* Retries, deadlines and lingering; deletes itself when nothing waits. */
static void on_timer(void *arg, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    struct vsock_dev *d = arg;
    pthread_mutex_lock(&d->lock);
    vsock_note_loop_thread(d);
    if (d->resetting || d->paused) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    uint64_t t = now_ms();
    bool waiting = false;
    for (int slot = 0; slot < VSOCK_MAX_CONNS; slot++) {
        struct vsock_sock *s = d->sock[slot];
        if (!s)
            continue;
        enum vsock_conn_state st = d->conns.c[slot].state;
        if (st == VSOCK_CONN_CONNECTING && s->fd < 0) {
            try_connect(d, slot);
            waiting |= d->sock[slot] && d->sock[slot]->fd < 0;
        } else if (st == VSOCK_CONN_REQUESTED && t >= s->deadline_ms) {
            d->host->log(d->host, PLUGVM_LOG_DEBUG,
                         "guest did not answer the REQUEST to its port %u in %u ms",
                         d->conns.c[slot].guest_port, VSOCK_REQUEST_TIMEOUT_MS);
            vsock_host_reset(d, slot);
        } else if (st == VSOCK_CONN_REQUESTED) {
            waiting = true;
        }
    }
    for (unsigned i = 0; i < VSOCK_MAX_CMDS; i++)
        if (d->cmds[i] && t >= d->cmds[i]->deadline_ms)
            cmd_close(d, i);
        else
            waiting |= d->cmds[i] != NULL;
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
        if (d->lingers[i] && t >= d->lingers[i]->deadline_ms) {
            sock_free(d, d->lingers[i]);
            d->lingers[i] = NULL;
        } else {
            waiting |= d->lingers[i] != NULL;
        }
    if (!waiting && d->timer_ev) {
        d->host->del_event(d->host, d->timer_ev); /* its own: host.h allows it */
        d->timer_ev = NULL;
    }
    vsock_kick(d);
    pthread_mutex_unlock(&d->lock);
}
