/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm-init: the image's User resolved in its /etc/passwd and /etc/group
 * (guest/init/user.h). */
#include "user.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FIELDS_MAX 8

/* A whole decimal below 2^32 - 1 ((uint32_t)-1 is "no id" to the kernel). */
static bool parse_id(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

struct field {
    const char *p;
    size_t len;
};

/* Splits the line [p, end) at ':' into f[]; the number of fields. */
static size_t split(const char *p, const char *end, struct field *f)
{
    size_t n = 0;
    const char *s = p;
    for (const char *q = p;; q++) {
        if (q == end || *q == ':') {
            if (n < FIELDS_MAX)
                f[n++] = (struct field){s, (size_t)(q - s)};
            if (q == end)
                return n;
            s = q + 1;
        }
    }
}

static bool eq(struct field f, const char *s, size_t len)
{
    return f.len == len && !memcmp(f.p, s, len);
}

/* Calls fn for each line of buf with its fields; fn returns true to stop. */
static void each_line(const char *buf, size_t len, bool (*fn)(struct field *f, size_t n, void *priv), void *priv)
{
    if (!buf) /* no such file in the image (NULL + 0 is undefined in C) */
        return;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct field f[FIELDS_MAX];
        if (le > p && *p != '#') {
            size_t n = split(p, le, f);
            if (fn(f, n, priv))
                return;
        }
        p = le + 1;
    }
}

struct pw_find {
    const char *name; /* or NULL: by uid */
    size_t nlen;
    uint32_t uid;
    bool found;
    uint32_t gid;
    struct field pname, home;
};

/* passwd: name:password:uid:gid:gecos:home:shell */
static bool pw_line(struct field *f, size_t n, void *priv)
{
    struct pw_find *w = priv;
    uint32_t uid, gid;
    if (n < 7 || !parse_id(f[2].p, f[2].len, &uid) || !parse_id(f[3].p, f[3].len, &gid))
        return false;
    if (w->name ? !eq(f[0], w->name, w->nlen) : uid != w->uid)
        return false;
    w->found = true;
    w->uid = uid;
    w->gid = gid;
    w->pname = f[0];
    w->home = f[5];
    return true;
}

struct gr_find {
    const char *name;
    size_t nlen;
    bool found;
    uint32_t gid;
};

/* group: name:password:gid:members */
static bool gr_line(struct field *f, size_t n, void *priv)
{
    struct gr_find *w = priv;
    uint32_t gid;
    if (n < 4 || !parse_id(f[2].p, f[2].len, &gid) || !eq(f[0], w->name, w->nlen))
        return false;
    w->found = true;
    w->gid = gid;
    return true;
}

struct gr_member {
    struct field user;
    struct init_user *out;
};

static void add_group(struct init_user *u, uint32_t gid)
{
    for (size_t i = 0; i < u->ngroups; i++)
        if (u->groups[i] == gid)
            return;
    if (u->ngroups < INIT_GROUPS_MAX)
        u->groups[u->ngroups++] = gid;
}

static bool member_line(struct field *f, size_t n, void *priv)
{
    struct gr_member *m = priv;
    uint32_t gid;
    if (n < 4 || !parse_id(f[2].p, f[2].len, &gid))
        return false;
    const char *p = f[3].p, *end = f[3].p + f[3].len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if ((size_t)(e - p) == m->user.len && !memcmp(p, m->user.p, m->user.len))
            add_group(m->out, gid);
        p = e + 1;
    }
    return false;
}

int init_user_resolve(const char *spec, const char *passwd, size_t plen, const char *group, size_t glen,
                      struct init_user *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    strcpy(out->home, "/");
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *gspec = colon ? colon + 1 : NULL;
    struct pw_find pw = {0};
    if (ulen == 0) {
        pw.uid = 0; /* root: passwd's entry for uid 0 gives home and gid if there */
    } else if (!parse_id(spec, ulen, &pw.uid)) {
        pw.name = spec;
        pw.nlen = ulen;
    }
    each_line(passwd, plen, pw_line, &pw);
    if (pw.name && !pw.found) {
        snprintf(err, errlen, "user \"%.*s\": no such user in the image's /etc/passwd", (int)ulen, spec);
        return -1;
    }
    out->uid = pw.uid;
    out->gid = pw.found ? pw.gid : 0;
    if (pw.found && pw.home.len && pw.home.len < sizeof(out->home)) {
        memcpy(out->home, pw.home.p, pw.home.len);
        out->home[pw.home.len] = '\0';
    }
    if (gspec) {
        if (!gspec[0] || strchr(gspec, ':')) {
            snprintf(err, errlen, "user \"%s\": expected USER[:GROUP]", spec);
            return -1;
        }
        if (!parse_id(gspec, strlen(gspec), &out->gid)) {
            struct gr_find gr = {gspec, strlen(gspec), false, 0};
            each_line(group, glen, gr_line, &gr);
            if (!gr.found) {
                snprintf(err, errlen, "group \"%s\": no such group in the image's /etc/group", gspec);
                return -1;
            }
            out->gid = gr.gid;
        }
    }
    add_group(out, out->gid);
    if (pw.found) {
        struct gr_member m = {pw.pname, out};
        each_line(group, glen, member_line, &m);
    }
    return 0;
}
