/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux's syntax (Documentation/admin-guide/kernel-parameters.txt and
 * drivers/virtio/virtio_mmio.c, vm_cmdline_set):
 *
 *     virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]
 *
 * <size> is memparse()d: a number in C notation (0x hex, 0 octal, else
 * decimal) with an optional K, M, G, T, P or E suffix (either case);
 * <baseaddr> is a number in C notation (sscanf %lli); <irq> is decimal;
 * <id>, the platform device id Linux gives the device, is accepted and
 * ignored. QEMU's microvm writes `512@0xfeb00e00:12`, plugvm `4K@0xd0000000:5`.
 *
 * The blk_*= keys are test=blk's, vsock_*= test=vsock's (cmdline.h); other
 * tokens are ignored.
 */
#include "cmdline.h"

#include <stddef.h>

#include "lib.h"

#define DEVICE_KEY "virtio_mmio.device="
#define TEST_KEY "test="
#define EXPECT_ID_KEY "expect_id="

static bool starts_with(const char *s, size_t n, const char *key)
{
    size_t k = strlen(key);
    return n >= k && memcmp(s, key, k) == 0;
}

/* A number in C notation at [*p, end): 0x/0X hex, leading 0 octal, else
 * decimal. Advances *p. False when there is no digit or it overflows. */
static bool parse_number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    unsigned base = 10;
    if (s < end && *s == '0') {
        base = 8;
        if (s + 1 < end && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
        }
    }
    uint64_t v = 0;
    const char *digits = s;
    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (d >= base)
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    /* "0" alone is octal with its digit taken as the prefix. */
    if (s == digits && !(base == 8 && s > *p))
        return false;
    *p = s;
    *out = v;
    return true;
}

static bool parse_decimal(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* memparse(): a number, then an optional binary-multiple suffix. */
static bool parse_size(const char **p, const char *end, uint64_t *out)
{
    uint64_t v;
    if (!parse_number(p, end, &v))
        return false;
    unsigned shift = 0;
    if (*p < end) {
        switch (**p) {
        case 'E': case 'e': shift = 60; break;
        case 'P': case 'p': shift = 50; break;
        case 'T': case 't': shift = 40; break;
        case 'G': case 'g': shift = 30; break;
        case 'M': case 'm': shift = 20; break;
        case 'K': case 'k': shift = 10; break;
        }
        if (shift)
            (*p)++;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

static bool parse_device(const char *s, const char *end, struct cmdline_device *d)
{
    uint64_t size, base, irq, id;
    if (!parse_size(&s, end, &size) || size == 0)
        return false;
    if (s >= end || *s++ != '@' || !parse_number(&s, end, &base))
        return false;
    if (s >= end || *s++ != ':' || !parse_decimal(&s, end, &irq) || irq > UINT32_MAX)
        return false;
    if (s < end && *s == ':') {
        s++;
        if (!parse_decimal(&s, end, &id))
            return false;
    }
    if (s != end)
        return false;
    d->size = size;
    d->base = base;
    d->irq = (uint32_t)irq;
    return true;
}

static void note_error(struct cmdline *c, const char *tok, size_t n)
{
    if (c->nerror < CMDLINE_MAX_ERRORS) {
        c->error[c->nerror] = tok;
        c->error_len[c->nerror] = (unsigned)n;
        c->nerror++;
    }
}

/* A blk_*= or vsock_*= key with a number: *has and *out set, or the token noted as an
 * error. Returns whether tok was this key. */
static bool number_key(struct cmdline *c, const char *tok, const char *end, const char *key,
                       bool *has, uint64_t *out)
{
    size_t n = (size_t)(end - tok);
    if (!starts_with(tok, n, key))
        return false;
    const char *v = tok + strlen(key);
    uint64_t x;
    if (parse_number(&v, end, &x) && v == end) {
        *has = true;
        *out = x;
    } else {
        note_error(c, tok, n);
    }
    return true;
}

/* A blk_*= key with a word: *out points into the command line. */
static bool word_key(const char *tok, const char *end, const char *key, const char **out,
                     unsigned *len)
{
    size_t n = (size_t)(end - tok);
    if (!starts_with(tok, n, key))
        return false;
    *out = tok + strlen(key);
    *len = (unsigned)(n - strlen(key));
    return true;
}

static bool blk_key(struct cmdline *c, const char *tok, const char *end)
{
    struct cmdline_blk *b = &c->blk;
    uint64_t ro = 0;
    bool has_ro = false;
    if (number_key(c, tok, end, "blk_ro=", &has_ro, &ro)) {
        if (has_ro && ro > 1) {
            note_error(c, tok, (size_t)(end - tok));
        } else if (has_ro) {
            b->has_ro = true;
            b->ro = ro == 1;
        }
        return true;
    }
    return number_key(c, tok, end, "blk_sectors=", &b->has_sectors, &b->sectors) ||
           number_key(c, tok, end, "blk_queues=", &b->has_queues, &b->queues) ||
           number_key(c, tok, end, "blk_host_seed=", &b->has_host_seed, &b->host_seed) ||
           number_key(c, tok, end, "blk_seed=", &b->has_seed, &b->seed) ||
           number_key(c, tok, end, "blk_count=", &b->has_count, &b->count) ||
           word_key(tok, end, "blk_serial=", &b->serial, &b->serial_len) ||
           word_key(tok, end, "blk_phase=", &b->phase, &b->phase_len);
}

static bool vsock_key(struct cmdline *c, const char *tok, const char *end)
{
    struct cmdline_vsock *v = &c->vsock;
    return number_key(c, tok, end, "vsock_cid=", &v->has_cid, &v->cid) ||
           number_key(c, tok, end, "vsock_port=", &v->has_port, &v->port) ||
           number_key(c, tok, end, "vsock_refused=", &v->has_refused, &v->refused);
}

void cmdline_parse(const char *s, struct cmdline *c)
{
    memset(c, 0, sizeof(*c));
    c->line = s;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        const char *tok = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n')
            s++;
        size_t n = (size_t)(s - tok);
        if (n == 0)
            continue;
        if (starts_with(tok, n, DEVICE_KEY)) {
            const char *v = tok + strlen(DEVICE_KEY);
            struct cmdline_device d;
            if (!parse_device(v, s, &d))
                note_error(c, tok, n);
            else if (c->ndev < CMDLINE_MAX_DEVICES)
                c->dev[c->ndev++] = d;
            else
                c->dropped++;
        } else if (starts_with(tok, n, TEST_KEY)) {
            c->test = tok + strlen(TEST_KEY);
            c->test_len = (unsigned)(n - strlen(TEST_KEY));
        } else if (starts_with(tok, n, EXPECT_ID_KEY)) {
            const char *v = tok + strlen(EXPECT_ID_KEY);
            uint64_t id;
            if (parse_number(&v, s, &id) && v == s && id <= UINT32_MAX) {
                c->has_expect_id = true;
                c->expect_id = (uint32_t)id;
            } else {
                note_error(c, tok, n);
            }
        } else if (!blk_key(c, tok, s)) {
            vsock_key(c, tok, s);
        }
    }
}
