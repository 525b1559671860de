/* SPDX-License-Identifier: Apache-2.0 */
#include "iov.h"

#include <stdint.h>
#include <string.h>

size_t fs_iov_total(const struct iovec *iov, int n)
{
    if (n < 0 || (n > 0 && !iov))
        return SIZE_MAX;
    size_t t = 0;
    for (int i = 0; i < n; i++) {
        /* A sum that wraps would let a request claim fewer bytes than its
         * buffers and the copy loops run past the real end. */
        if (iov[i].iov_len > SIZE_MAX - 1 - t)
            return SIZE_MAX;
        t += iov[i].iov_len;
    }
    return t;
}

void fs_iov_init(struct fs_iov_cur *c, const struct iovec *iov, int n, size_t limit)
{
    size_t t = fs_iov_total(iov, n);
    if (t == SIZE_MAX) {
        *c = (struct fs_iov_cur){0};
        return;
    }
    *c = (struct fs_iov_cur){.iov = iov, .n = n, .off = 0, .left = t < limit ? t : limit};
}

/* The current buffer's unconsumed bytes, stepping over empty and finished
 * buffers. */
static size_t cur_avail(struct fs_iov_cur *c)
{
    while (c->n > 0 && c->off >= c->iov->iov_len) {
        c->iov++;
        c->n--;
        c->off = 0;
    }
    if (c->n <= 0)
        return 0;
    size_t a = c->iov->iov_len - c->off;
    return a < c->left ? a : c->left;
}

static size_t move(struct fs_iov_cur *c, void *dst, const void *src, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t a = cur_avail(c);
        if (!a)
            break;
        size_t k = len - done < a ? len - done : a;
        uint8_t *p = (uint8_t *)c->iov->iov_base + c->off;
        if (dst)
            memcpy((uint8_t *)dst + done, p, k);
        else if (src)
            memcpy(p, (const uint8_t *)src + done, k);
        c->off += k;
        c->left -= k;
        done += k;
    }
    return done;
}

size_t fs_iov_read(struct fs_iov_cur *c, void *dst, size_t len)
{
    return move(c, dst, NULL, len);
}

size_t fs_iov_write(struct fs_iov_cur *c, const void *src, size_t len)
{
    return move(c, NULL, src, len);
}

size_t fs_iov_skip(struct fs_iov_cur *c, size_t len)
{
    return move(c, NULL, NULL, len);
}

int fs_iov_slice(const struct fs_iov_cur *c0, size_t len, struct iovec *v, int max, size_t *got)
{
    struct fs_iov_cur c = *c0;
    int k = 0;
    size_t done = 0;
    while (done < len && k < max) {
        size_t a = cur_avail(&c);
        if (!a)
            break;
        size_t take = len - done < a ? len - done : a;
        v[k].iov_base = (uint8_t *)c.iov->iov_base + c.off;
        v[k].iov_len = take;
        k++;
        c.off += take;
        c.left -= take;
        done += take;
    }
    *got = done;
    return k;
}
