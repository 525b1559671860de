/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side's one command, as Firecracker's docs/vsock.md defines it:
 * a host program connects to the device's `uds_path` and writes
 * "CONNECT <port>\n" to reach the guest's listener on <port>; once the
 * guest accepts, it reads "OK <host_port>\n" and the socket is the
 * stream. The line comes from any local program, so it is read into a
 * fixed buffer and judged there: never buffered without bound.
 */
#ifndef PLUGVM_VSOCK_HOSTCMD_H
#define PLUGVM_VSOCK_HOSTCMD_H

#include <stddef.h>
#include <stdint.h>

/* Longest line taken, newline included ("CONNECT 4294967295\n" is 19). */
#define VSOCK_CMD_MAX 32

struct vsock_cmd {
    char buf[VSOCK_CMD_MAX];
    uint32_t len;
};

enum vsock_cmd_result {
    VSOCK_CMD_MORE = 0, /* no newline yet: read more */
    VSOCK_CMD_PORT = 1, /* a command: *port set */
    VSOCK_CMD_BAD = -1, /* malformed, or no newline within VSOCK_CMD_MAX bytes: close */
};

/* Feeds n bytes read from the socket. With VSOCK_CMD_PORT, *used says how
 * many of them the line took (its newline included): bytes after it are
 * the stream's first. A line is "CONNECT", blanks, a decimal port that
 * fits 32 bits, optional blanks, then "\n" or "\r\n"; anything else is
 * BAD. */
enum vsock_cmd_result vsock_cmd_feed(struct vsock_cmd *c, const uint8_t *data, size_t n,
                                     uint32_t *port, size_t *used);

/* The answer once the guest accepted: "OK <host_port>\n" into out (at
 * least 16 bytes). Returns its length. */
size_t vsock_cmd_ok(uint32_t host_port, char *out, size_t len);

#endif
