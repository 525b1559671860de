/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm-init starts the image's process (issue 15): the user resolved in
 * the image's /etc/passwd and /etc/group (user.h), the working directory
 * (made when missing, as docker makes WorkingDir; a file there is an
 * error), the environment, and argv[0] looked up in the launch's PATH as
 * execvp does. Its stdio are the given fds: the three vsock streams, or a
 * terminal's slave side. The process leads a session of its own (with
 * the terminal as its controlling one under -t) and starts with every
 * signal unblocked and at its default action.
 */
#ifndef PLUGVM_GUEST_INIT_SPAWN_H
#define PLUGVM_GUEST_INIT_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "launch.h"

/* Starts l's process with stdio fds[3] (closed in init on return either
 * way, so the process holds the only copies). Returns its pid, or -1 with
 * *status the exit status docker gives for the failure (125: no such
 * user, a working directory that is not one; 126: not executable; 127:
 * not found) and err the message ("exec: \"x\": executable file not found
 * in $PATH"). */
pid_t spawn_process(const struct launch *l, int fds[3], int tty, int *status, char *err, size_t errlen);

#endif
