/* SPDX-License-Identifier: Apache-2.0 */
#include "credit.h"

void vsock_credit_init(struct vsock_credit *c, uint32_t buf_alloc, uint32_t peer_buf_alloc,
                       uint32_t peer_fwd_cnt)
{
    *c = (struct vsock_credit){.peer_buf_alloc = peer_buf_alloc, .peer_fwd_cnt = peer_fwd_cnt,
                               .buf_alloc = buf_alloc};
}

void vsock_credit_update_peer(struct vsock_credit *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
    c->peer_buf_alloc = buf_alloc;
    c->peer_fwd_cnt = fwd_cnt;
}

uint32_t vsock_credit_peer_free(const struct vsock_credit *c)
{
    /* §5.10.6.3: free = buf_alloc - (tx_cnt - fwd_cnt), in u32 arithmetic.
     * A fwd_cnt ahead of tx_cnt (consumed more than sent) wraps the
     * difference huge, and one over buf_alloc means a buffer that shrank:
     * both give 0, never a wrapped, enormous credit. */
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
    return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void vsock_credit_sent(struct vsock_credit *c, uint32_t n)
{
    c->tx_cnt += n;
}

bool vsock_credit_received(struct vsock_credit *c, uint32_t n)
{
    uint32_t buffered = c->rx_cnt - c->fwd_cnt;
    if (buffered > c->buf_alloc || n > c->buf_alloc - buffered)
        return false;
    c->rx_cnt += n;
    return true;
}

void vsock_credit_consumed(struct vsock_credit *c, uint32_t n)
{
    uint32_t buffered = c->rx_cnt - c->fwd_cnt;
    c->fwd_cnt += n < buffered ? n : buffered;
}

bool vsock_credit_update_due(const struct vsock_credit *c)
{
    return c->fwd_cnt - c->fwd_cnt_told >= c->buf_alloc / 2 && c->fwd_cnt != c->fwd_cnt_told;
}

void vsock_credit_told(struct vsock_credit *c)
{
    c->fwd_cnt_told = c->fwd_cnt;
}
