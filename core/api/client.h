/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's side of the control socket (`plugvm pause|resume|snapshot`). */
#ifndef PLUGVM_CORE_API_CLIENT_H
#define PLUGVM_CORE_API_CLIENT_H

#include <stddef.h>

/* Sends one request (method "GET", "PUT" or "PATCH", `json` body or NULL) over the
 * Unix socket and waits for the answer: *code gets its HTTP status,
 * *reply its body (malloc'd, may be empty). 0, or -1 with err when the
 * socket cannot be reached or answers nothing. */
int api_request(const char *socket_path, const char *method, const char *uri, const char *json,
                int *code, char **reply, char *err, size_t errlen);

#endif
