/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control stream between `plugvm run --image` and plugvm-init (issue
 * 15), after the launch record (launch.h) on the same vsock connection
 * (guest port CONTROL_PORT_CONTROL, to the host). One message per line,
 * ASCII, at most CONTROL_LINE_MAX bytes with the '\n':
 *
 *   init -> host  "EXIT N"        the process exited with status N (0..255)
 *                 "SIGNAL N"      the process was killed by signal N (1..64)
 *                 "ERROR N TEXT"  the process could not be started: plugvm
 *                                 exits N (125 plugvm's/init's own error, 126
 *                                 not executable, 127 not found, as docker)
 *                                 after printing TEXT (printable ASCII)
 *   host -> init  "KILL N"        send signal N (1..64) to the process
 *                 "WINCH R C"     the terminal is now R rows, C columns
 *
 * Stdio are separate connections from the guest to the host's listeners
 * (ports below): bytes only, no framing, so they stay binary-exact. Both
 * sides treat the other as untrusted: a line that is too long, not one of
 * the above, or has a number out of range is refused (the host then ends
 * the VM: a guest speaking nonsense has no process to wait for).
 * Plain C, pure functions; built into both plugvm and plugvm-init.
 */
#ifndef PLUGVM_GUEST_INIT_CONTROL_H
#define PLUGVM_GUEST_INIT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

/* vsock ports the guest connects to (host CID 2): Unix listeners at
 * "<uds_path>_<port>" on the host (docs/CONFIG.md, vsock). */
#define CONTROL_PORT_CONTROL 1024
#define CONTROL_PORT_STDIN 1025
#define CONTROL_PORT_STDOUT 1026
#define CONTROL_PORT_STDERR 1027

#define CONTROL_LINE_MAX 512

enum control_kind {
    CONTROL_EXIT = 1,
    CONTROL_SIGNAL,
    CONTROL_ERROR,
    CONTROL_KILL,
    CONTROL_WINCH,
};

struct control_msg {
    enum control_kind kind;
    unsigned a, b;                 /* status/signal/rows; cols */
    char text[CONTROL_LINE_MAX];   /* ERROR's text, NUL-terminated */
};

/* Formats m as one line with its '\n' into buf[CONTROL_LINE_MAX]; a TEXT
 * is cut to fit and anything not printable in it becomes '?'. Returns the
 * length, or 0 when m is out of range. */
size_t control_format(const struct control_msg *m, char *buf);

/* Parses one line of `len` bytes (without its '\n') into *m: 0, or -1
 * when it is not a well-formed message. */
int control_parse(const char *line, size_t len, struct control_msg *m);

/* Collects lines from a byte stream: feed what was read, then take lines
 * one by one. Fixed memory (CONTROL_LINE_MAX). */
struct control_reader {
    char buf[CONTROL_LINE_MAX];
    size_t len;
};

/* Takes bytes from data[*n] until a line is whole: returns 1 with the line
 * parsed into *m (the bytes used are removed from data: *n and *data move
 * on), 0 when every byte was taken and no line is whole yet, -1 for a line
 * over CONTROL_LINE_MAX or one control_parse refuses. */
int control_feed(struct control_reader *r, const char **data, size_t *n, struct control_msg *m);

#endif
