/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP/1.1 request over a Unix socket, synchronously. libevent 2.1
 * (Debian 12's) has no HTTP client over Unix sockets (that came in 2.2),
 * and a request with "Connection: close" read to the end is all the CLI
 * needs, so this is plain sockets.
 */
#include "api/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/error.h"

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int api_request(const char *socket_path, const char *method, const char *uri, const char *json,
                int *code, char **reply, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(a.sun_path))
        return pv_fail(err, errlen, "%s: too long for a Unix socket path", socket_path);
    memcpy(a.sun_path, socket_path, strlen(socket_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return pv_fail(err, errlen, "%s: cannot connect: %s (is a VM running with --api %s?)",
                       socket_path, strerror(e), socket_path);
    }
    size_t blen = json ? strlen(json) : 0;
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, uri, blen);
    if (n < 0 || (size_t)n >= sizeof(head) || send_all(fd, head, (size_t)n) ||
        (blen && send_all(fd, json, blen))) {
        close(fd);
        return pv_fail(err, errlen, "%s: cannot send the request: %s", socket_path, strerror(errno));
    }
    /* The whole answer, to the server's close. */
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (len + 1 == cap) {
            char *g = cap < (1u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!g)
                break;
            buf = g;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    int status = 0;
    if (!buf || (buf[len] = '\0', sscanf(buf, "HTTP/1.%*d %d", &status) != 1)) {
        free(buf);
        return pv_fail(err, errlen, "%s: no HTTP answer", socket_path);
    }
    char *body = strstr(buf, "\r\n\r\n");
    body = strdup(body ? body + 4 : "");
    free(buf);
    *code = status;
    *reply = body;
    return 0;
}
