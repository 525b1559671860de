/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: what an image file and the user's files control in the
 * process an image runs. The input is, at once, an image config
 * (core/image/process.c, with overrides picked by its first byte), a
 * docker --env-file, plugvm-init's launch record (guest/init/launch.c: what
 * decodes must encode and decode again to the same), and, split at its
 * first newline and first NUL, a User spec with the image's /etc/passwd
 * and /etc/group (guest/init/user.c); and the same bytes as a control
 * stream (guest/init/control.c: what parses must format and parse again
 * to the same message).
 * Whatever the input: no crash, no out-of-bounds access, no leak; what is
 * accepted keeps its promises (a non-empty, NULL-terminated argv; every
 * env entry NAME=VALUE with a NAME; an absolute cwd; at most
 * INIT_GROUPS_MAX groups, the primary first). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/process.h"
#include "control.h"
#include "launch.h"
#include "user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char err[512];
    static const char *args[] = {"/bin/sh", "-c", "true"};
    static const char *env[] = {"A=1", "HOME", "PATH=/bin"};
    struct image_process_opts o = {0};
    if (size && (data[0] & 1))
        o.args = args, o.nargs = 3;
    if (size && (data[0] & 2))
        o.entrypoint = data[0] & 4 ? "" : "/init";
    if (size && (data[0] & 8))
        o.env = env, o.nenv = 3;
    if (size && (data[0] & 16))
        o.workdir = "/w";
    struct image_process p;
    if (image_process_make(s, size, &o, &p, err, sizeof(err)) == 0) {
        if (!p.argc || p.argv[p.argc] || p.env[p.nenv] || p.cwd[0] != '/' || !p.user)
            abort();
        for (size_t i = 0; i < p.nenv; i++)
            if (!strchr(p.env[i], '=') || p.env[i][0] == '=')
                abort();
        image_process_free(&p);
    } else if (!err[0]) {
        abort();
    }

    char **e;
    size_t n;
    if (image_env_file_parse(s, size, "fuzz.env", &e, &n, err, sizeof(err)) == 0) {
        if (e && e[n])
            abort();
        image_env_free(e, n);
    }

    struct control_reader rd = {0};
    const char *d = s;
    size_t left = size;
    struct control_msg m, m2;
    int rc;
    while ((rc = control_feed(&rd, &d, &left, &m)) != 0) {
        if (rc < 0) {
            rd.len = 0; /* the host drops such a guest; go on for coverage */
            continue;
        }
        char line[CONTROL_LINE_MAX];
        size_t n = control_format(&m, line);
        if (!n || line[n - 1] != '\n' || control_parse(line, n - 1, &m2) || m2.kind != m.kind || m2.a != m.a ||
            m2.b != m.b || strcmp(m2.text, m.text))
            abort();
    }

    struct launch l, l2;
    if (launch_decode(data, size, &l, err, sizeof(err)) == 0) {
        uint8_t *buf;
        size_t len;
        if (launch_encode(&l, &buf, &len) || launch_decode(buf, len, &l2, err, sizeof(err)))
            abort();
        if (l2.argc != l.argc || l2.nenv != l.nenv || strcmp(l2.cwd, l.cwd) || strcmp(l2.user, l.user) ||
            strcmp(l2.hostname, l.hostname) || l2.entropy_len != l.entropy_len || l2.clock_ns != l.clock_ns)
            abort();
        for (size_t i = 0; i < l.argc; i++)
            if (strcmp(l.argv[i], l2.argv[i]))
                abort();
        launch_free(&l2);
        launch_free(&l);
        free(buf);
    }

    const char *nl = memchr(s, '\n', size);
    size_t speclen = nl ? (size_t)(nl - s) : size;
    char *spec = strndup(s, speclen);
    if (!spec)
        return 0;
    const char *rest = nl ? nl + 1 : s + size;
    size_t restlen = (size_t)(s + size - rest);
    const char *nul = memchr(rest, '\0', restlen);
    size_t plen = nul ? (size_t)(nul - rest) : restlen;
    struct init_user u;
    if (init_user_resolve(spec, rest, plen, nul ? nul + 1 : NULL, nul ? restlen - plen - 1 : 0, &u, err,
                          sizeof(err)) == 0) {
        if (u.ngroups < 1 || u.ngroups > INIT_GROUPS_MAX || u.groups[0] != u.gid ||
            !memchr(u.home, 0, sizeof(u.home)))
            abort();
    }
    free(spec);
    return 0;
}
