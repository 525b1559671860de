/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket of a running VM (`plugvm run --api PATH`): HTTP/1.1
 * with JSON bodies over a Unix socket, on the core's event loop, in the
 * shape of Firecracker's API (docs/API.md):
 *   GET /vm                                   -> 200 {"state": "Running"|"Paused"}
 *   PUT /vm  {"state": "Paused"|"Resumed"}    -> 204
 *   PUT /snapshot/create {"snapshot_path": DIR} -> 204 (pauses for the
 *       snapshot and resumes after, unless the VM was paused already)
 * Errors: 400 (bad request) or 500 with {"fault_message": "..."}. The
 * socket is created mode 0600: only its owner may use it.
 */
#ifndef PLUGVM_CORE_API_SERVER_H
#define PLUGVM_CORE_API_SERVER_H

#include <stddef.h>

struct vm;
struct event_base;
struct api_server;

/* Listens on `path` (refused when something already listens there; a
 * stale socket file is replaced). Requests are served on `base`'s thread.
 * NULL with err. */
struct api_server *api_server_start(struct vm *vm, struct event_base *base, const char *path,
                                    char *err, size_t errlen);
/* Stops listening and removes the socket file; the event loop must be
 * stopped first. */
void api_server_stop(struct api_server *s);

#endif
