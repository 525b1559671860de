/* SPDX-License-Identifier: Apache-2.0 */
/* The FUSE session across a snapshot: fs_server_save() and
 * fs_server_restore() (server.h). The guest keeps its nodeids and fhs and
 * sends no second INIT, so a new process must rebuild both tables with the
 * same numbers on the same inodes.
 *
 * The buffer, little-endian throughout:
 *   header  "PVFS", u32 version (1), u32 ready, u32 minor, u32 flags,
 *           u32 max_write, u64 root st_dev, u64 root st_ino, u32 inodes,
 *           u32 fhs                                              (48 bytes)
 *   inode   u64 nodeid, u64 nlookup, u64 st_dev, u64 st_ino, u32 S_IFMT
 *           type, u32 handle_type, u16 handle bytes, u16 path bytes; the
 *           file handle; the path relative to source, no NUL  (44 + those)
 *   fh      u64 fh, u64 nodeid (0: its inode was not held), u32 open
 *           flags, u32 dir                                       (24 bytes)
 *
 * Finding an inode again, most trusted first: its file handle (it survives
 * renames) where the host gives one and plugvm may use it
 * (CAP_DAC_READ_SEARCH), then its path, walked one component at a time
 * beneath source exactly as LOOKUP walks. A handle is confined by nothing
 * (it names an inode anywhere on the file system), so what it finds must
 * be shown to lie inside source: a directory by walking ".." up to
 * source's root; anything else by its current path (readlink of the
 * descriptor) walked again down from the root, which also leaves out an
 * unlinked file, whose place cannot be shown. Either way the inode must
 * have the saved (st_dev, st_ino) and type. ESTALE from the handle means
 * the file system knows the inode is gone; its path is not tried then,
 * since a new file there may have been given the same st_ino. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

#define MAGIC 0x53465650u /* "PVFS" read little-endian */
#define VERSION 1u
#define HDR_BYTES 48u
#define INO_BYTES 44u
#define FH_BYTES 24u
/* Levels of ".." walked up from a directory found by handle: more than a
 * path within PATH_MAX can have (two bytes a level). */
#define MAX_DEPTH (PATH_MAX / 2)
/* What an fh's flags may hold: host_flags()' set (ops_io.c), O_DIRECTORY. */
#define FH_FLAGS (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC | O_NONBLOCK | O_NOATIME | O_DIRECTORY)

/* Field widths, bytes, in the order written. */
static const unsigned hdr_w[] = {4, 4, 4, 4, 4, 4, 8, 8, 4, 4};
static const unsigned ino_w[] = {8, 8, 8, 8, 4, 4, 2, 2};
static const unsigned fh_w[] = {8, 8, 4, 4};
#define NW(a) (sizeof(a) / sizeof((a)[0]))

struct handle_buf {
    struct file_handle fh;
    unsigned char bytes[MAX_HANDLE_SZ];
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A path we would walk: relative, components neither empty nor "." nor
 * ".." nor longer than NAME_MAX, no NUL. Checked on save and again on
 * restore, where it comes from the buffer. */
static bool path_ok(const char *p, size_t len)
{
    if (!len || len >= PATH_MAX || memchr(p, 0, len))
        return false;
    for (size_t at = 0; at <= len;) {
        const char *sl = memchr(p + at, '/', len - at);
        size_t e = sl ? (size_t)(sl - p) : len, c = e - at;
        if (!c || c > NAME_MAX || (c <= 2 && !memcmp(p + at, "..", c)))
            return false;
        at = e + 1;
    }
    return true;
}

/* readlink() of our own descriptor fd; its length, 0 on failure. */
static size_t fd_path(int fd, char out[PATH_MAX])
{
    char p[32];
    fs_proc_path(p, fd);
    ssize_t n = readlink(p, out, PATH_MAX);
    return n > 0 && n < PATH_MAX && out[0] == '/' ? (size_t)n : 0;
}

/* fd's path relative to source's (root, rootlen bytes) into out; its
 * length, or 0 when it has none there: unlinked (the link then reads
 * "... (deleted)"), outside source, or not one path_ok() takes. */
static size_t rel_path(int fd, const char *root, size_t rootlen, char out[PATH_MAX])
{
    struct stat st;
    size_t n = rootlen && !fs_fstat(fd, &st) && st.st_nlink ? fd_path(fd, out) : 0;
    size_t skip = rootlen == 1 ? 1 : rootlen + 1; /* source "/" has no second '/' */
    if (n <= skip || memcmp(out, root, rootlen) || out[skip - 1] != '/')
        return 0;
    memmove(out, out + skip, n - skip);
    return path_ok(out, n - skip) ? n - skip : 0;
}

/* ---- save ---- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct wbuf *b, const void *d, size_t n)
{
    if (b->oom || !n)
        return;
    if (n > b->cap - b->len) {
        size_t nc = b->cap ? b->cap : 512;
        while (nc - b->len < n && nc <= SIZE_MAX / 2)
            nc *= 2;
        uint8_t *p = nc - b->len >= n ? realloc(b->p, nc) : NULL;
        b->oom = !p;
        if (!p)
            return;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_fields(struct wbuf *b, const unsigned *w, const uint64_t *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint8_t t[8];
        for (unsigned i = 0; i < w[k]; i++)
            t[i] = (uint8_t)(v[k] >> (8 * i));
        put(b, t, w[k]);
    }
}

static void save_inode(struct wbuf *b, const struct fs_inode *i, const char *root, size_t rootlen,
                       const int *root_mnt)
{
    struct handle_buf h = {.fh.handle_bytes = MAX_HANDLE_SZ};
    int mnt;
    /* A handle is decoded on source's file system on restore: one from a
     * mount inside source would be read as some other file there. */
    bool have = root_mnt && !name_to_handle_at(i->fd, "", &h.fh, &mnt, AT_EMPTY_PATH) &&
                mnt == *root_mnt && h.fh.handle_bytes <= MAX_HANDLE_SZ;
    char path[PATH_MAX];
    size_t plen = rel_path(i->fd, root, rootlen, path);
    uint64_t v[] = {i->nodeid, i->nlookup, (uint64_t)i->dev, (uint64_t)i->ino, (uint32_t)i->type,
                    have ? (uint32_t)h.fh.handle_type : 0, have ? h.fh.handle_bytes : 0, plen};
    put_fields(b, ino_w, v, NW(ino_w));
    put(b, h.fh.f_handle, have ? h.fh.handle_bytes : 0);
    put(b, path, plen);
}

static void save_fh(struct wbuf *b, struct fs_server *s, const struct fs_handle *h)
{
    struct stat st;
    int fl = h->dir ? O_RDONLY | O_DIRECTORY : fcntl(h->fd, F_GETFL);
    /* Its inode by (st_dev, st_ino): the table holds each inode once. */
    uint64_t nodeid =
        fl >= 0 && !fstat(h->fd, &st) ? fs_inode_find(&s->inodes, st.st_dev, st.st_ino) : 0;
    uint64_t v[] = {h->fh, nodeid, nodeid ? (uint32_t)fl & FH_FLAGS : 0, h->dir};
    put_fields(b, fh_w, v, NW(fh_w));
}

int fs_server_save(struct fs_server *s, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    struct stat rst;
    int rc = fs_fstat(s->root_fd, &rst);
    if (rc)
        return fail(err, errlen, rc, "fs session: source: %s", strerror(-rc));
    pthread_mutex_lock(&s->conn_lock);
    struct fs_conn c = s->conn;
    pthread_mutex_unlock(&s->conn_lock);
    struct wbuf b = {0};
    uint64_t hdr[] = {MAGIC, VERSION, c.ready, c.minor, c.flags, c.ready ? FS_MAX_WRITE : 0,
                      (uint64_t)rst.st_dev, (uint64_t)rst.st_ino, 0, 0 /* counts: below */};
    put_fields(&b, hdr_w, hdr, NW(hdr_w));
    char root[PATH_MAX];
    size_t rootlen = fd_path(s->root_fd, root);
    struct handle_buf rh = {.fh.handle_bytes = MAX_HANDLE_SZ};
    int root_mnt;
    bool handles = !name_to_handle_at(s->root_fd, "", &rh.fh, &root_mnt, AT_EMPTY_PATH);
    uint32_t nin = 0, nfh = 0;
    /* Before INIT, and after DESTROY, both tables are empty. */
    if (c.ready) {
        struct fs_inodes *t = &s->inodes;
        pthread_mutex_lock(&t->lock);
        for (uint32_t k = 2; k < t->nslots; k++)
            if (t->slots[k].ino && ++nin)
                save_inode(&b, t->slots[k].ino, root, rootlen, handles ? &root_mnt : NULL);
        pthread_mutex_unlock(&t->lock);
        struct fs_handles *ht = &s->handles;
        pthread_mutex_lock(&ht->lock);
        for (uint32_t k = 1; k < ht->nslots; k++)
            if (ht->slots[k].h && ++nfh)
                save_fh(&b, s, ht->slots[k].h);
        pthread_mutex_unlock(&ht->lock);
    }
    if (b.oom) {
        free(b.p);
        return fail(err, errlen, -ENOMEM, "fs session: out of memory");
    }
    for (unsigned i = 0; i < 4; i++) {
        b.p[40 + i] = (uint8_t)(nin >> (8 * i));
        b.p[44 + i] = (uint8_t)(nfh >> (8 * i));
    }
    *buf = b.p;
    *len = b.len;
    return 0;
}

/* ---- restore ---- */

struct rbuf {
    const uint8_t *p;
    size_t left;
    bool bad; /* a read went past the end */
};

/* n bytes taken from the buffer, or NULL (and bad) when fewer are left. */
static const uint8_t *take(struct rbuf *r, size_t n)
{
    const uint8_t *p = r->p;
    r->bad |= r->left < n;
    if (r->bad)
        return NULL;
    r->p += n;
    r->left -= n;
    return p;
}

static void get_fields(struct rbuf *r, const unsigned *w, uint64_t *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const uint8_t *p = take(r, w[k]);
        v[k] = 0;
        for (unsigned i = 0; p && i < w[k]; i++)
            v[k] |= (uint64_t)p[i] << (8 * i);
    }
}

/* What finds a saved inode again, beside its fs_inode_seed. */
struct where {
    uint32_t htype, hlen, plen;
    const uint8_t *handle;
    const char *path;
};

/* Source's root as restore needs it. */
struct place {
    struct fs_server *s;
    int mnt; /* source open for reading (open_by_handle_at() refuses O_PATH), or -1 */
    struct stat st;
    size_t rootlen;
    char root[PATH_MAX]; /* its path, as readlink() gives the inodes' */
};

static bool matches(int fd, const struct fs_inode_seed *e)
{
    struct stat st;
    return !fs_fstat(fd, &st) && st.st_dev == e->dev && st.st_ino == e->ino &&
           (st.st_mode & S_IFMT) == e->type;
}

/* A path_ok() path walked from source's root a component at a time, each
 * beneath the last and through no symlink, as LOOKUP resolves; the result
 * must be the saved inode. A descriptor or -errno. */
static int walk(int root_fd, const char *p, size_t len, const struct fs_inode_seed *e)
{
    int cur = root_fd;
    for (size_t at = 0; at < len && cur >= 0;) {
        const char *sl = memchr(p + at, '/', len - at);
        size_t end = sl ? (size_t)(sl - p) : len;
        char comp[NAME_MAX + 1];
        memcpy(comp, p + at, end - at);
        comp[end - at] = '\0';
        int fd = fs_open_beneath(cur, comp, O_PATH | (end < len ? O_DIRECTORY : 0), 0);
        if (cur != root_fd)
            close(cur);
        cur = fd;
        at = end + 1;
    }
    if (cur >= 0 && (cur == root_fd || !matches(cur, e))) {
        if (cur != root_fd)
            close(cur);
        return -ENOENT;
    }
    return cur;
}

/* Whether directory fd has source's root among its ancestors. */
static bool beneath_root(int fd, const struct stat *root)
{
    int cur = fd;
    bool found = false;
    struct stat st, up_st;
    for (int d = 0; d < MAX_DEPTH && !fs_fstat(cur, &st); d++) {
        found = st.st_dev == root->st_dev && st.st_ino == root->st_ino;
        int up = found ? -1 : openat(cur, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != fd)
            close(cur);
        cur = up;
        /* "/" is its own parent: the top, and source not met. */
        if (up < 0 || fs_fstat(up, &up_st) ||
            (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino))
            break;
    }
    if (cur >= 0 && cur != fd)
        close(cur);
    return found;
}

/* By file handle: a descriptor inside source, or -errno (-ESTALE: the
 * inode is gone). */
static int by_handle(const struct place *pl, const struct fs_inode_seed *e, const struct where *w)
{
    struct handle_buf h = {.fh = {.handle_bytes = w->hlen, .handle_type = (int)w->htype}};
    memcpy(h.fh.f_handle, w->handle, w->hlen);
    int fd = open_by_handle_at(pl->mnt, &h.fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    bool ok = matches(fd, e), dir = e->type == S_IFDIR;
    if (ok && dir && beneath_root(fd, &pl->st))
        return fd;
    char path[PATH_MAX];
    size_t plen = ok && !dir ? rel_path(fd, pl->root, pl->rootlen, path) : 0;
    close(fd);
    return plen ? walk(pl->s->root_fd, path, plen, e) : -EXDEV;
}

static int find_inode(const struct place *pl, const struct fs_inode_seed *e, const struct where *w)
{
    if (w->hlen && pl->mnt >= 0) {
        int fd = by_handle(pl, e, w);
        if (fd >= 0 || fd == -ESTALE)
            return fd;
    }
    return path_ok(w->path, w->plen) ? walk(pl->s->root_fd, w->path, w->plen, e) : -ENOENT;
}

static bool known_type(uint64_t t)
{
    return t == S_IFREG || t == S_IFDIR || t == S_IFLNK || t == S_IFIFO || t == S_IFSOCK ||
           t == S_IFCHR || t == S_IFBLK;
}

/* The parsed buffer. */
struct sess {
    struct fs_conn conn;
    dev_t root_dev;
    ino_t root_ino;
    uint32_t n_in, n_fh;
    struct fs_inode_seed *in;
    struct where *w;
    uint32_t *by_slot; /* inode slot -> index in `in` + 1 (calloc's pages come in as touched) */
    struct fs_handle_seed *fh;
    uint32_t *fh_flags, *fh_ino; /* fh_ino: index in `in`, n_in the root, UINT32_MAX none */
};

static int parse_inodes(struct rbuf *r, struct sess *x, char *err, size_t errlen)
{
    for (uint32_t k = 0; k < x->n_in; k++) {
        uint64_t v[NW(ino_w)];
        get_fields(r, ino_w, v, NW(ino_w));
        struct where *w = &x->w[k];
        uint32_t idx = (uint32_t)v[0];
        x->in[k] = (struct fs_inode_seed){.fd = -1, .nodeid = v[0], .nlookup = v[1],
                                          .dev = (dev_t)v[2], .ino = (ino_t)v[3],
                                          .type = (mode_t)v[4]};
        *w = (struct where){.htype = (uint32_t)v[5], .hlen = (uint32_t)v[6],
                            .plen = (uint32_t)v[7]};
        const char *why = NULL;
        if (r->bad)
            why = "truncated";
        else if (idx < 2 || idx >= FS_MAX_INODES || !(v[0] >> 32))
            why = "not a nodeid this server issues";
        else if (!v[1])
            why = "nlookup 0";
        else if (!known_type(v[4]))
            why = "unknown file type";
        else if (w->hlen > MAX_HANDLE_SZ)
            why = "file handle longer than MAX_HANDLE_SZ";
        else if (w->plen >= PATH_MAX)
            why = "path longer than PATH_MAX";
        else if (!(w->handle = take(r, w->hlen)) || !(w->path = (const char *)take(r, w->plen)))
            why = "truncated";
        else if (x->by_slot[idx])
            why = "its slot twice";
        if (why)
            return fail(err, errlen, -EINVAL, "fs session: inode %u of %u (nodeid 0x%llx): %s",
                        k + 1, x->n_in, (unsigned long long)v[0], why);
        x->by_slot[idx] = k + 1;
    }
    return 0;
}

static int parse_fhs(struct rbuf *r, struct sess *x, char *err, size_t errlen)
{
    uint8_t *seen = calloc(FS_MAX_HANDLES, 1);
    int rc = seen ? 0 : fail(err, errlen, -ENOMEM, "fs session: out of memory");
    for (uint32_t k = 0; k < x->n_fh && !rc; k++) {
        uint64_t v[NW(fh_w)];
        get_fields(r, fh_w, v, NW(fh_w));
        uint32_t idx = (uint32_t)v[0], islot = (uint32_t)v[1], fl = (uint32_t)v[2];
        uint32_t acc = fl & O_ACCMODE, *ino = &x->fh_ino[k], b = 0;
        x->fh[k] = (struct fs_handle_seed){.fd = -1, .fh = v[0], .dir = v[3] == 1};
        x->fh_flags[k] = fl;
        *ino = v[1] == FUSE_ROOT_ID ? x->n_in : UINT32_MAX;
        if (v[1] != FUSE_ROOT_ID && islot < FS_MAX_INODES && (b = x->by_slot[islot]) &&
            x->in[b - 1].nodeid == v[1])
            *ino = b - 1;
        mode_t type = *ino == x->n_in ? S_IFDIR : *ino < x->n_in ? x->in[*ino].type : 0;
        const char *why = NULL;
        if (r->bad)
            why = "truncated";
        else if (!idx || idx >= FS_MAX_HANDLES || !(v[0] >> 32))
            why = "not an fh this server issues";
        else if (seen[idx]++)
            why = "its slot twice";
        else if (v[3] > 1 || (fl & ~(uint32_t)FH_FLAGS) || acc == O_ACCMODE ||
                 (v[3] ? acc != O_RDONLY : !!(fl & O_DIRECTORY)))
            why = "open flags this server does not give";
        else if (v[1] && *ino == UINT32_MAX)
            why = "its nodeid is not among the inodes";
        else if (v[1] && type != (v[3] ? S_IFDIR : S_IFREG))
            why = v[3] ? "a directory fh on a non-directory" : "a file fh on a non-file";
        if (why)
            rc = fail(err, errlen, -EINVAL, "fs session: fh %u of %u (fh 0x%llx): %s", k + 1,
                      x->n_fh, (unsigned long long)v[0], why);
    }
    free(seen);
    return rc;
}

/* The header and both tables read and checked; nothing opened yet. */
static int parse(struct sess *x, const uint8_t *buf, size_t len, const struct fs_server *s,
                 char *err, size_t errlen)
{
    struct rbuf r = {buf, buf ? len : 0, false};
    uint64_t h[NW(hdr_w)];
    get_fields(&r, hdr_w, h, NW(hdr_w));
    if (len < 4 || h[0] != MAGIC)
        return fail(err, errlen, -EINVAL, "fs session: not a saved session (no \"PVFS\" magic)");
    if (h[1] != VERSION && len >= 8)
        return fail(err, errlen, -EINVAL, "fs session: version %llu; this server reads %u",
                    (unsigned long long)h[1], VERSION);
    if (r.bad)
        return fail(err, errlen, -EINVAL, "fs session: truncated header (%zu of %u bytes)", len,
                    HDR_BYTES);
    x->conn = (struct fs_conn){.ready = h[2] == 1, .minor = (uint32_t)h[3],
                               .flags = (uint32_t)h[4]};
    x->root_dev = (dev_t)h[6];
    x->root_ino = (ino_t)h[7];
    x->n_in = (uint32_t)h[8];
    x->n_fh = (uint32_t)h[9];
    uint32_t extra = x->conn.flags & ~fs_supported_flags(s);
    if (h[2] > 1 || (!h[2] && (h[3] || h[4] || h[5] || h[8] || h[9])))
        return fail(err, errlen, -EINVAL, "fs session: ready flag %llu with minor %llu, %u inodes",
                    (unsigned long long)h[2], (unsigned long long)h[3], x->n_in);
    if (h[2] && (h[3] < FS_MIN_GUEST_MINOR || h[3] > FS_PROTO_MINOR))
        return fail(err, errlen, -EINVAL,
                    "fs session: protocol minor %llu; this server speaks 7.%u",
                    (unsigned long long)h[3], FS_PROTO_MINOR);
    if (extra)
        return fail(err, errlen, -EINVAL,
                    "fs session: INIT flags 0x%x include 0x%x, which this server (its options) "
                    "does not offer", x->conn.flags, extra);
    if (h[2] && (!h[5] || h[5] > FS_MAX_WRITE))
        return fail(err, errlen, -EINVAL, "fs session: max_write %llu; this server allows 1..%u",
                    (unsigned long long)h[5], FS_MAX_WRITE);
    /* Bounded by the tables and by the bytes there are, before anything is
     * allocated for them. */
    if (x->n_in > FS_MAX_INODES - 2 || x->n_in > r.left / INO_BYTES)
        return fail(err, errlen, -EINVAL, "fs session: %u inodes in %zu bytes", x->n_in, r.left);
    if (x->n_fh >= FS_MAX_HANDLES || x->n_fh > (r.left - (size_t)x->n_in * INO_BYTES) / FH_BYTES)
        return fail(err, errlen, -EINVAL, "fs session: %u fhs in %zu bytes", x->n_fh, r.left);
    x->in = calloc(x->n_in + 1, sizeof(*x->in));
    x->w = calloc(x->n_in + 1, sizeof(*x->w));
    x->fh = calloc(x->n_fh + 1, sizeof(*x->fh));
    x->fh_flags = calloc(x->n_fh + 1, sizeof(*x->fh_flags));
    x->fh_ino = calloc(x->n_fh + 1, sizeof(*x->fh_ino));
    x->by_slot = calloc(FS_MAX_INODES, sizeof(*x->by_slot));
    if (!x->in || !x->w || !x->fh || !x->fh_flags || !x->fh_ino || !x->by_slot)
        return fail(err, errlen, -ENOMEM, "fs session: out of memory");
    int rc = parse_inodes(&r, x, err, errlen);
    if (!rc)
        rc = parse_fhs(&r, x, err, errlen);
    if (!rc && r.left)
        rc = fail(err, errlen, -EINVAL, "fs session: %zu bytes after the last fh", r.left);
    return rc;
}

/* Each inode found and each fh opened again, or -1 in its fd: lost.
 * Returns how many were lost. */
static unsigned resolve(struct sess *x, struct fs_server *s)
{
    struct place pl = {.s = s, .mnt = -1};
    pl.rootlen = fd_path(s->root_fd, pl.root);
    const struct stat *rst = &pl.st;
    /* Source is no longer the directory saved: none of its nodeids can be
     * trusted to name what the guest thinks. */
    bool same = !fs_fstat(s->root_fd, &pl.st) && rst->st_dev == x->root_dev &&
                rst->st_ino == x->root_ino;
    if (same && !s->no_handles)
        pl.mnt = fs_reopen(s->root_fd, O_RDONLY | O_DIRECTORY, rst->st_dev, rst->st_ino);
    unsigned lost = 0;
    for (uint32_t k = 0; k < x->n_in; k++) {
        int fd = same ? find_inode(&pl, &x->in[k], &x->w[k]) : -1;
        x->in[k].fd = fd < 0 ? -1 : fd;
        lost += fd < 0;
    }
    if (pl.mnt >= 0)
        close(pl.mnt);
    for (uint32_t k = 0; k < x->n_fh; k++) {
        uint32_t j = x->fh_ino[k];
        const struct fs_inode_seed *i = j < x->n_in ? &x->in[j] : NULL;
        int opath = j == x->n_in ? s->root_fd : i ? i->fd : -1;
        /* Creating and truncating were done when the guest opened it. */
        int fl = x->fh[k].dir ? O_RDONLY | O_DIRECTORY
                              : (int)x->fh_flags[k] & ~(O_CREAT | O_EXCL | O_TRUNC);
        bool writes = (fl & O_ACCMODE) != O_RDONLY;
        int fd = opath >= 0 && same && !(writes && s->read_only)
                     ? fs_reopen(opath, fl, i ? i->dev : rst->st_dev, i ? i->ino : rst->st_ino)
                     : -1;
        x->fh[k].fd = fd < 0 ? -1 : fd;
        lost += fd < 0;
    }
    return lost;
}

int fs_server_restore(struct fs_server *s, const uint8_t *buf, size_t len, unsigned *lost,
                      char *err, size_t errlen)
{
    if (lost)
        *lost = 0;
    pthread_mutex_lock(&s->conn_lock);
    bool ready = s->conn.ready;
    pthread_mutex_unlock(&s->conn_lock);
    if (ready || fs_inodes_count(&s->inodes) != 1 || fs_handles_count(&s->handles))
        return fail(err, errlen, -EBUSY, "fs session: the server has a session already");
    struct sess x = {0};
    int rc = parse(&x, buf, len, s, err, errlen);
    bool opened = !rc; /* the fds in x are ours to close on failure */
    unsigned nlost = rc ? 0 : resolve(&x, s);
    uint32_t bad = 0;
    if (!rc && (rc = fs_inodes_seed(&s->inodes, x.in, x.n_in, &bad)))
        fail(err, errlen, rc == -ENOMEM ? rc : -EINVAL, "fs session: inode %u of %u: %s", bad + 1,
             x.n_in, rc == -ENOMEM ? "out of memory" : "the same inode as the root or another");
    for (uint32_t k = 0; !rc && k < x.n_in; k++)
        x.in[k].fd = -1; /* the table's now */
    if (!rc && (rc = fs_handles_seed(&s->handles, x.fh, x.n_fh))) {
        fs_inodes_drop_all(&s->inodes); /* back to the root alone */
        fail(err, errlen, rc, "fs session: fhs: %s", strerror(-rc));
    }
    if (!rc) {
        pthread_mutex_lock(&s->conn_lock);
        s->conn = x.conn;
        pthread_mutex_unlock(&s->conn_lock);
        if (lost)
            *lost = nlost;
    }
    for (uint32_t k = 0; rc && opened && k < x.n_in; k++)
        if (x.in[k].fd >= 0)
            close(x.in[k].fd);
    for (uint32_t k = 0; rc && opened && k < x.n_fh; k++)
        if (x.fh[k].fd >= 0)
            close(x.fh[k].fd);
    free(x.in);
    free(x.w);
    free(x.by_slot);
    free(x.fh);
    free(x.fh_flags);
    free(x.fh_ino);
    return rc == -EEXIST ? -EINVAL : rc;
}
