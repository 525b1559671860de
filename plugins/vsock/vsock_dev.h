/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock plugin's device state, shared by its three parts: vsock.c (the
 * device ops the core calls), rxtx.c (the virtqueues: TX packets taken,
 * RX packets given) and sock.c (the host's Unix sockets, Firecracker's
 * scheme: docs/PLUGINS.md, "vsock").
 *
 * Threads. Everything but activate, reset, config_read and the main
 * thread's create/restore/restored/destroy runs on the core's event-loop
 * thread: socket callbacks, the housekeeping timer, the kick eventfd, and
 * notify (which the core calls there through the ioeventfd; a notify on
 * any other thread only writes the kick eventfd). So no socket is ever
 * served from a vCPU, and one thread serves every connection (issue 13:
 * no thread per connection). `lock` guards all of it against the vCPU
 * threads' activate and reset.
 */
#ifndef PLUGVM_VSOCK_DEV_H
#define PLUGVM_VSOCK_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/device.h>

#include "conn.h"
#include "hostcmd.h"

enum { VSOCK_Q_RX = 0, VSOCK_Q_TX = 1, VSOCK_Q_EVENT = 2, VSOCK_NUM_QUEUES = 3 };
#define VSOCK_QUEUE_SIZE 256
/* Host programs connected to uds_path whose CONNECT line is not complete. */
#define VSOCK_MAX_CMDS 64
/* Control packets (RESPONSE, RST, CREDIT_UPDATE, REQUEST) owed to the
 * guest, waiting for its RX buffers. TX is not taken while fewer than
 * VSOCK_CTRL_SPARE slots are free, so the guest cannot fill it with
 * packets that each want an answer: it is backpressure, not loss. */
#define VSOCK_CTRL_RING 2048
#define VSOCK_CTRL_SPARE 1024
/* Firecracker numbers host-initiated connections' host ports from 2^30 up. */
#define VSOCK_FIRST_HOST_PORT (1u << 30)
/* How long a guest has to answer a host-initiated REQUEST (Firecracker:
 * 2 s), a host program to send its CONNECT line, a listener with a full
 * backlog to take a guest's connect (Linux's connect timeout is 2 s), and
 * a closed connection to write out what the guest sent before closing. */
#define VSOCK_REQUEST_TIMEOUT_MS 2000
#define VSOCK_CMD_TIMEOUT_MS 10000
#define VSOCK_CONNECT_RETRY_MS 1500
#define VSOCK_LINGER_MS 5000
/* SOCK_SEQPACKET: complete guest messages a connection may hold for its
 * host socket. Credit bounds their bytes, not their count (a message may
 * be empty), so this does. */
#define VSOCK_SEQ_MSGS 256
/* Guest misbehaviour logged line by line before it is only counted. */
#define VSOCK_ERRORS_LOGGED 16

enum vsock_sock_kind {
    VSOCK_SOCK_CONN,   /* the host side of connection `slot` */
    VSOCK_SOCK_CMD,    /* a host program that has not finished its CONNECT line */
    VSOCK_SOCK_LINGER, /* a closed connection writing out what the guest sent */
};

struct vsock_dev;

/* One host socket. Heap-allocated: its address is the event callback's
 * argument for as long as it is registered. */
struct vsock_sock {
    struct vsock_dev *d;
    enum vsock_sock_kind kind;
    int fd;          /* -1: a guest connect waiting to retry (backlog full) */
    int slot;        /* index into d->conns.c, or -1 */
    void *ev;        /* event handle, NULL when nothing is armed */
    uint32_t ev_mask; /* PLUGVM_EV_* armed */
    uint64_t deadline_ms;
    /* CONN: */
    bool readable;   /* the host side may have data: read interest off, the RX pump reads */
    bool host_eof;   /* the host side sent EOF; the guest was told SHUTDOWN(SEND) */
    bool shut_write_pending; /* the guest shut its side: shutdown(SHUT_WR) once txbuf is out */
    uint8_t *txbuf;  /* guest bytes the host side has not taken yet: a ring of
                        VSOCK_CONN_BUF bytes (the credit the device advertised),
                        allocated only while non-empty */
    uint32_t txhead, txlen;
    bool seq;        /* a SOCK_SEQPACKET connection: records, not a stream */
    /* SEQPACKET: txbuf holds nmsg complete messages (lengths in msg_len,
     * oldest at msg_head) and then msg_open bytes of one not ended yet. */
    uint32_t msg_len[VSOCK_SEQ_MSGS];
    uint16_t msg_head, nmsg;
    uint32_t msg_open;
    /* SEQPACKET: a host record being passed to the guest, rxmsg_off of
     * rxmsg_len bytes sent (both 0 between records). */
    uint8_t *rxmsg;
    uint32_t rxmsg_len, rxmsg_off;
    uint8_t pre[VSOCK_CMD_MAX]; /* host bytes read past the CONNECT line */
    uint32_t pre_len;
    /* CMD: */
    struct vsock_cmd cmd;
};

struct vsock_dev {
    const struct plugvm_host *host;
    const struct plugvm_settings *settings;
    pthread_mutex_t lock;
    uint64_t guest_cid;
    char uds_path[108];    /* sun_path's size */
    int listen_fd;
    void *listen_ev;
    dev_t listen_dev;      /* the socket file this instance made, to unlink only it */
    ino_t listen_ino;
    int kick_fd;           /* eventfd: notify from a thread other than the loop's */
    void *kick_ev;
    void *timer_ev;        /* housekeeping, armed only while something waits on a clock */
    pthread_t loop_thread;
    atomic_bool loop_known; /* loop_thread is set (notify reads it without the lock) */

    bool active;           /* DRIVER_OK, not reset */
    bool resetting;        /* reset is taking events down: callbacks return at once */
    bool paused;           /* quiesce .. resume */
    uint64_t features;

    struct vsock_conns conns;
    struct vsock_sock *sock[VSOCK_MAX_CONNS]; /* per slot of conns.c */
    struct vsock_sock *cmds[VSOCK_MAX_CMDS];
    struct vsock_sock **lingers;  /* VSOCK_MAX_CONNS entries */
    uint32_t next_host_port;

    /* Control packets for the guest, FIFO. */
    struct vsock_pkt ctrl[VSOCK_CTRL_RING];
    uint32_t ctrl_head, nctrl;
    /* Connections with data to read for the guest, FIFO, each slot once. */
    uint16_t ready[VSOCK_MAX_CONNS];
    uint32_t ready_head, nready;
    bool in_ready[VSOCK_MAX_CONNS];

    unsigned guest_errors, host_drops;
    /* reset's scratch: the event handles it deletes outside the lock. */
    void *drop[2 * VSOCK_MAX_CONNS + VSOCK_MAX_CMDS + 1];
};

/* rxtx.c */
void vsock_ctrl_push(struct vsock_dev *d, const struct vsock_pkt *p);
void vsock_ready_push(struct vsock_dev *d, int slot);
/* Takes TX packets and fills RX buffers until neither can go on. */
void vsock_kick(struct vsock_dev *d);
/* Logs a guest's fault (rate-limited). */
void vsock_guest_error(struct vsock_dev *d, const char *what);

/* sock.c */
/* Called first by every event callback: notify serves inline on this thread. */
void vsock_note_loop_thread(struct vsock_dev *d);
int vsock_listen(struct vsock_dev *d, const char *where_setting);
void vsock_unlisten(struct vsock_dev *d);
void vsock_on_listen(void *arg, int fd, uint32_t events);
/* What the host side does for each step of conn.c. */
void vsock_host_connect(struct vsock_dev *d, int slot);
void vsock_host_accepted(struct vsock_dev *d, int slot);
void vsock_host_data(struct vsock_dev *d, int slot, const struct plugvm_chain *c,
                     const struct vsock_pkt *p);
void vsock_host_shut_write(struct vsock_dev *d, int slot);
void vsock_host_close(struct vsock_dev *d, int slot);
/* The connection in `slot` failed on the host side: RST to the guest, closed. */
void vsock_host_reset(struct vsock_dev *d, int slot);
/* Reads host data for connection `slot` into RX chain c; returns the bytes
 * written to the chain (0: nothing to send now). */
uint32_t vsock_host_read(struct vsock_dev *d, int slot, const struct plugvm_chain *c);
/* Whether a SEQPACKET host record is part way to the guest. */
static inline bool vsock_rx_record_pending(const struct vsock_sock *s)
{
    return s->rxmsg_off < s->rxmsg_len;
}
/* Sets the events a socket waits for from its state. */
void vsock_sock_arm(struct vsock_dev *d, struct vsock_sock *s);
void vsock_arm_all(struct vsock_dev *d);
/* Closes every socket but the listener; for reset (two halves: handles
 * taken under the lock, deleted outside it, then the rest under it). */
unsigned vsock_take_events(struct vsock_dev *d, void **handles, unsigned max);
void vsock_close_all(struct vsock_dev *d);

#endif
