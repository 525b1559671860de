/* SPDX-License-Identifier: Apache-2.0 */
#include "hostcmd.h"

#include <stdio.h>
#include <string.h>

static enum vsock_cmd_result judge(const char *s, size_t len, uint32_t *port)
{
    static const char verb[] = "CONNECT";
    size_t i = sizeof(verb) - 1;
    if (len <= i || memcmp(s, verb, i) != 0 || (s[i] != ' ' && s[i] != '\t'))
        return VSOCK_CMD_BAD;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    uint64_t v = 0;
    size_t digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return VSOCK_CMD_BAD;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (digits == 0 || i != len)
        return VSOCK_CMD_BAD;
    *port = (uint32_t)v;
    return VSOCK_CMD_PORT;
}

enum vsock_cmd_result vsock_cmd_feed(struct vsock_cmd *c, const uint8_t *data, size_t n,
                                     uint32_t *port, size_t *used)
{
    for (size_t k = 0; k < n; k++) {
        if (data[k] == '\n') {
            *used = k + 1;
            enum vsock_cmd_result r = judge(c->buf, c->len, port);
            c->len = 0;
            return r;
        }
        /* Room for the line but its newline: one more byte is too many. */
        if (c->len == VSOCK_CMD_MAX - 1 || data[k] == '\0')
            return VSOCK_CMD_BAD;
        c->buf[c->len++] = (char)data[k];
    }
    return VSOCK_CMD_MORE;
}

size_t vsock_cmd_ok(uint32_t host_port, char *out, size_t len)
{
    int k = snprintf(out, len, "OK %u\n", host_port);
    return k < 0 ? 0 : (size_t)k < len ? (size_t)k : len - 1;
}
