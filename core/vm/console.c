/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void restore_terminal(struct console *c)
{
    if (c->termios_saved) {
        tcsetattr(c->in_fd, TCSANOW, &c->saved_termios);
        c->termios_saved = false;
    }
}

static void *input_thread(void *arg)
{
    struct console *c = arg;
    bool ctrl_a = false;
    uint8_t buf[64];
    struct pollfd p[2] = {{.fd = c->in_fd, .events = POLLIN}, {.fd = c->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        ssize_t n = read(c->in_fd, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            p[0].fd = -1; /* EOF: keep waiting for the stop signal only */
            continue;
        }
        size_t len = (size_t)n, off = 0;
        if (c->terminal) {
            /* Escape sequence on a terminal: Ctrl-A (0x01) then 'x'. */
            for (size_t i = 0; i < len; i++) {
                if (ctrl_a && buf[i] == 'x') {
                    c->quit(c->quit_arg);
                    return NULL;
                }
                ctrl_a = buf[i] == 0x01;
            }
        }
        /* The FIFO holds 64 bytes; wait for the guest to drain it rather
         * than drop typed input. */
        while (off < len) {
            off += serial_input(c->serial, buf + off, len - off);
            if (off < len) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                struct pollfd s = {.fd = c->stop_pipe[0], .events = POLLIN};
                if (poll(&s, 1, 0) > 0)
                    return NULL;
            }
        }
    }
}

int console_start(struct console *c, struct serial *s, int in_fd, bool terminal,
                  void (*quit)(void *), void *arg)
{
    memset(c, 0, sizeof(*c));
    c->serial = s;
    c->in_fd = in_fd;
    c->stop_pipe[0] = c->stop_pipe[1] = -1;
    c->quit = quit;
    c->quit_arg = arg;
    if (pipe2(c->stop_pipe, O_CLOEXEC) < 0)
        return -errno;
    if (terminal && isatty(in_fd) && tcgetattr(in_fd, &c->saved_termios) == 0) {
        struct termios raw = c->saved_termios;
        cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR; /* our own messages keep their line breaks */
        c->termios_saved = true;
        c->terminal = true;
        tcsetattr(in_fd, TCSANOW, &raw);
    }
    if (pthread_create(&c->thread, NULL, input_thread, c) != 0) {
        restore_terminal(c);
        return -EAGAIN;
    }
    c->started = true;
    return 0;
}

void console_stop(struct console *c)
{
    if (c->started) {
        (void)!write(c->stop_pipe[1], "x", 1);
        pthread_join(c->thread, NULL);
        c->started = false;
    }
    if (c->stop_pipe[0] >= 0)
        close(c->stop_pipe[0]);
    if (c->stop_pipe[1] >= 0)
        close(c->stop_pipe[1]);
    c->stop_pipe[0] = c->stop_pipe[1] = -1;
    restore_terminal(c);
}
