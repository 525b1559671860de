/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-fs FUSE server (plugins/fs) driven with requests built in
 * memory against a temporary source directory: INIT's negotiation, each op
 * and its replies, the nodeid and fh tables (FORGET, forged numbers), the
 * read-only mode, and above all confinement. A hostile guest must never
 * read or change anything outside source: symlinks to "/" and "../../.."
 * inside source are never followed, names with '/', "..", "" or too long
 * are refused, a canary file next to source is never readable, not even
 * while another thread keeps swapping a directory with a symlink to
 * source's parent; and malformed requests (lengths that disagree, every
 * truncation of valid ones) get errno replies, never a crash. Requests and
 * replies are also split across iovecs at awkward places, as a guest may
 * lay its buffers out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ops.h" /* the tables' counts */
#include "server.h"

#define CANARY "CANARY-host-secret"
#define OUTCAP ((size_t)FS_MAX_WRITE + 4096)

struct fx {
    char base[64]; /* mkdtemp: holds src and the canary */
    char src[96];
    struct fs_server *s;
    uint64_t unique;
    int split;        /* 1: requests and replies cut into many iovecs */
    uint32_t uid, gid; /* the header's caller */
    uint8_t *out;     /* OUTCAP bytes */
    size_t plen;      /* the last reply's payload bytes */
};

struct part {
    const void *p;
    size_t n;
};
#define NOPART ((struct part){NULL, 0})
#define P(x) ((struct part){&(x), sizeof(x)})
#define S(str) ((struct part){(str), strlen(str) + 1})

static void path_in(struct fx *fx, char *buf, size_t len, const char *rel)
{
    int n = snprintf(buf, len, "%s/%s", fx->src, rel);
    assert_true(n > 0 && (size_t)n < len);
}

static void put_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void put_src(struct fx *fx, const char *rel, const char *content)
{
    char p[256];
    path_in(fx, p, sizeof(p), rel);
    put_file(p, content);
}

/* Cut buf into iovecs at offsets from cuts (and some empty ones) when
 * splitting; the pieces cover buf exactly. */
static int cut(uint8_t *buf, size_t len, struct iovec *iov, int max, bool split)
{
    static const size_t cuts[] = {1, 5, 16, 17, 39, 41, 47, 64, 100, 131, 200, 333, 4095, 4097};
    if (!split || !len) {
        iov[0] = (struct iovec){buf, len};
        return 1;
    }
    int n = 0;
    size_t at = 0;
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]) && n < max - 3; i++) {
        if (cuts[i] <= at || cuts[i] >= len)
            continue;
        iov[n++] = (struct iovec){buf + at, cuts[i] - at};
        if (i == 3)
            iov[n++] = (struct iovec){buf + cuts[i], 0};
        at = cuts[i];
    }
    iov[n++] = (struct iovec){buf + at, len - at};
    return n;
}

/* Sends raw request bytes with out room `outcap`; checks the reply's
 * framing and returns the used length. */
static size_t send_raw(struct fx *fx, uint8_t *req, size_t len, size_t outcap)
{
    struct iovec in[24], out[24];
    int nin = cut(req, len, in, 24, fx->split);
    int nout = cut(fx->out, outcap, out, 24, fx->split);
    memset(fx->out, 0xa5, outcap < 256 ? outcap : 256);
    return fs_server_handle(fx->s, in, nin, out, nout);
}

/* One request: header + up to three parts. Returns the reply's error (0
 * or -errno); the payload is at fx->out + 16, fx->plen bytes. */
static int call_cap(struct fx *fx, uint32_t op, uint64_t nodeid, struct part a, struct part b,
                    struct part c, size_t outcap)
{
    size_t len = sizeof(struct fuse_in_header) + a.n + b.n + c.n;
    uint8_t *req = malloc(len);
    assert_non_null(req);
    struct fuse_in_header h = {.len = (uint32_t)len, .opcode = op, .unique = ++fx->unique,
                               .nodeid = nodeid, .uid = fx->uid, .gid = fx->gid, .pid = 42};
    memcpy(req, &h, sizeof(h));
    size_t at = sizeof(h);
    struct part ps[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (ps[i].n)
            memcpy(req + at, ps[i].p, ps[i].n);
        at += ps[i].n;
    }
    size_t used = send_raw(fx, req, len, outcap);
    free(req);
    if (op == FUSE_FORGET || op == FUSE_BATCH_FORGET || op == FUSE_INTERRUPT) {
        assert_int_equal(used, 0);
        fx->plen = 0;
        return 0;
    }
    struct fuse_out_header oh;
    assert_true(used >= sizeof(oh));
    assert_true(used <= outcap);
    memcpy(&oh, fx->out, sizeof(oh));
    assert_int_equal(oh.len, used);
    assert_int_equal(oh.unique, fx->unique);
    assert_true(oh.error <= 0);
    if (oh.error)
        assert_int_equal(used, sizeof(oh));
    fx->plen = used - sizeof(oh);
    return oh.error;
}

static int call(struct fx *fx, uint32_t op, uint64_t nodeid, struct part a, struct part b,
                struct part c)
{
    return call_cap(fx, op, nodeid, a, b, c, OUTCAP);
}

static void *payload(struct fx *fx)
{
    return fx->out + sizeof(struct fuse_out_header);
}

static int init_with(struct fx *fx, uint32_t major, uint32_t minor, uint32_t flags,
                     struct fuse_init_out *o)
{
    struct fuse_init_in in = {.major = major, .minor = minor, .max_readahead = 1u << 17,
                              .flags = flags};
    int err = call(fx, FUSE_INIT, 0, P(in), NOPART, NOPART);
    if (o) {
        memset(o, 0, sizeof(*o));
        memcpy(o, payload(fx), fx->plen < sizeof(*o) ? fx->plen : sizeof(*o));
    }
    return err;
}

static int lookup(struct fx *fx, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
    int err = call(fx, FUSE_LOOKUP, parent, S(name), NOPART, NOPART);
    if (!err) {
        assert_int_equal(fx->plen, sizeof(*e));
        memcpy(e, payload(fx), sizeof(*e));
    }
    return err;
}

static int do_mkdir(struct fx *fx, uint64_t parent, const char *name, uint32_t mode,
                    struct fuse_entry_out *e)
{
    struct fuse_mkdir_in in = {.mode = mode};
    int err = call(fx, FUSE_MKDIR, parent, P(in), S(name), NOPART);
    if (!err && e)
        memcpy(e, payload(fx), sizeof(*e));
    return err;
}

static int do_create(struct fx *fx, uint64_t parent, const char *name, uint32_t flags,
                     uint32_t mode, struct fuse_entry_out *e, uint64_t *fh)
{
    struct fuse_create_in in = {.flags = flags, .mode = S_IFREG | mode};
    int err = call(fx, FUSE_CREATE, parent, P(in), S(name), NOPART);
    if (!err) {
        assert_int_equal(fx->plen, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
        struct fuse_open_out o;
        if (e)
            memcpy(e, payload(fx), sizeof(*e));
        memcpy(&o, (uint8_t *)payload(fx) + sizeof(struct fuse_entry_out), sizeof(o));
        if (fh)
            *fh = o.fh;
    }
    return err;
}

static int do_open(struct fx *fx, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
    struct fuse_open_in in = {.flags = flags};
    int err = call(fx, FUSE_OPEN, nodeid, P(in), NOPART, NOPART);
    if (!err) {
        struct fuse_open_out o;
        memcpy(&o, payload(fx), sizeof(o));
        *fh = o.fh;
    }
    return err;
}

static int do_opendir(struct fx *fx, uint64_t nodeid, uint64_t *fh)
{
    struct fuse_open_in in = {.flags = O_RDONLY};
    int err = call(fx, FUSE_OPENDIR, nodeid, P(in), NOPART, NOPART);
    if (!err) {
        struct fuse_open_out o;
        memcpy(&o, payload(fx), sizeof(o));
        *fh = o.fh;
    }
    return err;
}

/* WRITE: the written count, or -errno. */
static int do_write(struct fx *fx, uint64_t nodeid, uint64_t fh, uint64_t off, const void *data,
                    size_t len)
{
    struct fuse_write_in in = {.fh = fh, .offset = off, .size = (uint32_t)len};
    int err = call(fx, FUSE_WRITE, nodeid, P(in), (struct part){data, len}, NOPART);
    if (err)
        return err;
    struct fuse_write_out o;
    assert_int_equal(fx->plen, sizeof(o));
    memcpy(&o, payload(fx), sizeof(o));
    return (int)o.size;
}

/* READ: bytes read into buf, or -errno. */
static int do_read(struct fx *fx, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf,
                   uint32_t size)
{
    struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
    int err = call(fx, FUSE_READ, nodeid, P(in), NOPART, NOPART);
    if (err)
        return err;
    assert_true(fx->plen <= size);
    memcpy(buf, payload(fx), fx->plen);
    return (int)fx->plen;
}

static int do_release(struct fx *fx, uint64_t nodeid, uint64_t fh, bool dir)
{
    struct fuse_release_in in = {.fh = fh};
    return call(fx, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid, P(in), NOPART, NOPART);
}

static void forget(struct fx *fx, uint64_t nodeid, uint64_t n)
{
    struct fuse_forget_in in = {.nlookup = n};
    call(fx, FUSE_FORGET, nodeid, P(in), NOPART, NOPART);
}

static int getattr(struct fx *fx, uint64_t nodeid, struct fuse_attr *a)
{
    struct fuse_getattr_in in = {0};
    int err = call(fx, FUSE_GETATTR, nodeid, P(in), NOPART, NOPART);
    if (!err && a) {
        struct fuse_attr_out o;
        memcpy(&o, payload(fx), sizeof(o));
        *a = o.attr;
    }
    return err;
}

static int rename2(struct fx *fx, uint64_t olddir, const char *o, uint64_t newdir, const char *n,
                   uint32_t flags)
{
    struct fuse_rename2_in in = {.newdir = newdir, .flags = flags};
    return call(fx, FUSE_RENAME2, olddir, P(in), S(o), S(n));
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(p);
    return 0;
}

static int open_fx(void **state, bool read_only, enum fs_cache cache, bool xattr, bool init)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    *state = fx;
    fx->out = malloc(OUTCAP);
    snprintf(fx->base, sizeof(fx->base), "/tmp/plugvm-fs-XXXXXX");
    if (!fx->out || !mkdtemp(fx->base))
        return -1;
    snprintf(fx->src, sizeof(fx->src), "%s/src", fx->base);
    if (mkdir(fx->src, 0755))
        return -1;
    /* Next to source, where only an escape could reach it; "secret" is
     * also the name the rename race asks for. */
    char p[128];
    snprintf(p, sizeof(p), "%s/secret", fx->base);
    put_file(p, CANARY);
    snprintf(p, sizeof(p), "%s/canary", fx->base);
    put_file(p, CANARY);
    put_src(fx, "hello.txt", "hello, guest");
    fx->uid = getuid();
    fx->gid = getgid();
    char err[256];
    struct fs_server_opts o = {.source = fx->src, .read_only = read_only, .cache = cache,
                               .xattr = xattr};
    fx->s = fs_server_new(&o, err, sizeof(err));
    if (!fx->s) {
        fprintf(stderr, "fs_server_new: %s\n", err);
        return -1;
    }
    if (init && init_with(fx, 7, 31, 0xffffffffu, NULL))
        return -1;
    return 0;
}

static int setup(void **state)
{
    return open_fx(state, false, FS_CACHE_AUTO, true, true);
}

static int setup_noinit(void **state)
{
    return open_fx(state, false, FS_CACHE_AUTO, true, false);
}

static int setup_ro(void **state)
{
    return open_fx(state, true, FS_CACHE_AUTO, true, true);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    if (!fx)
        return 0;
    fs_server_free(fx->s);
    if (fx->base[0])
        nftw(fx->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(fx->out);
    free(fx);
    return 0;
}

/* ---- INIT ---- */

static void init_negotiates(void **state)
{
    struct fx *fx = *state;
    /* An op before INIT is refused. */
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), -EIO);
    struct fuse_init_out o;
    uint32_t offer = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_DONT_MASK | FUSE_WRITEBACK_CACHE |
                     FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS | FUSE_SPLICE_READ | FUSE_POSIX_ACL;
    assert_int_equal(init_with(fx, 7, 38, offer, &o), 0);
    assert_int_equal(fx->plen, sizeof(o));
    assert_int_equal(o.major, 7);
    assert_int_equal(o.minor, 31);
    /* Intersection: what the guest offered and we support, nothing else
     * (no DONT_MASK, SPLICE, POSIX_ACL; writeback only with cache=always). */
    assert_int_equal(o.flags, FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_MAX_PAGES |
                                  FUSE_DO_READDIRPLUS);
    assert_int_equal(o.max_write, FS_MAX_WRITE);
    assert_int_equal(o.max_pages, FS_MAX_PAGES);
    assert_int_equal(o.max_readahead, 1u << 17);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
    /* A second INIT is a protocol error and changes nothing. */
    assert_int_equal(init_with(fx, 7, 31, offer, NULL), -EPROTO);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
}

static void init_versions(void **state)
{
    struct fx *fx = *state;
    struct fuse_init_out o;
    /* A newer major: we answer with ours and wait for a second INIT. */
    assert_int_equal(init_with(fx, 8, 0, 0xffffffffu, &o), 0);
    assert_int_equal(o.major, 7);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), -EIO);
    assert_int_equal(init_with(fx, 6, 50, 0, NULL), -EPROTO);
    assert_int_equal(init_with(fx, 7, 30, 0, NULL), -EPROTO);
    /* No MAX_PAGES offered: no max_pages. */
    assert_int_equal(init_with(fx, 7, 31, FUSE_ASYNC_READ, &o), 0);
    assert_int_equal(o.minor, 31);
    assert_int_equal(o.flags, FUSE_ASYNC_READ);
    assert_int_equal(o.max_pages, 0);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
}

/* Cache modes: INIT's flags, entry timeouts and open flags. */
static void cache_modes(void **state)
{
    (void)state;
    static const struct {
        enum fs_cache c;
        uint64_t valid;
        uint32_t fopen;
        bool writeback, plus;
    } m[] = {
        {FS_CACHE_AUTO, 1, 0, false, true},
        {FS_CACHE_ALWAYS, 86400, FOPEN_KEEP_CACHE, true, true},
        {FS_CACHE_NEVER, 0, FOPEN_DIRECT_IO, false, false},
    };
    for (size_t i = 0; i < 3; i++) {
        void *st;
        assert_int_equal(open_fx(&st, false, m[i].c, true, false), 0);
        struct fx *fx = st;
        struct fuse_init_out o;
        assert_int_equal(init_with(fx, 7, 31, 0xffffffffu, &o), 0);
        assert_int_equal(!!(o.flags & FUSE_WRITEBACK_CACHE), m[i].writeback);
        assert_int_equal(!!(o.flags & FUSE_DO_READDIRPLUS), m[i].plus);
        struct fuse_entry_out e;
        assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e), 0);
        assert_int_equal(e.entry_valid, m[i].valid);
        assert_int_equal(e.attr_valid, m[i].valid);
        struct fuse_open_in in = {.flags = O_RDONLY};
        assert_int_equal(call(fx, FUSE_OPEN, e.nodeid, P(in), NOPART, NOPART), 0);
        struct fuse_open_out oo;
        memcpy(&oo, payload(fx), sizeof(oo));
        assert_int_equal(oo.open_flags, m[i].fopen);
        teardown(&st);
    }
}

/* ---- ops ---- */

static void round_trip(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out d, f, f2;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "dir", 0755, &d), 0);
    assert_true(S_ISDIR(d.attr.mode));
    uint64_t fh;
    assert_int_equal(do_create(fx, d.nodeid, "file", O_RDWR, 0640, &f, &fh), 0);
    assert_true(S_ISREG(f.attr.mode));
    assert_int_equal(f.attr.mode & 07777, 0640);
    const char msg[] = "the quick brown fox";
    assert_int_equal(do_write(fx, f.nodeid, fh, 3, msg, sizeof(msg)), (int)sizeof(msg));
    char buf[64] = {0};
    assert_int_equal(do_read(fx, f.nodeid, fh, 3, buf, sizeof(buf)), (int)sizeof(msg));
    assert_string_equal(buf, msg);
    /* A read past the end is short, at the end empty. */
    assert_int_equal(do_read(fx, f.nodeid, fh, 3 + sizeof(msg), buf, 10), 0);
    struct fuse_attr a;
    assert_int_equal(getattr(fx, f.nodeid, &a), 0);
    assert_int_equal(a.size, 3 + sizeof(msg));
    /* The same inode by LOOKUP: the same nodeid. */
    assert_int_equal(lookup(fx, d.nodeid, "file", &f2), 0);
    assert_int_equal(f2.nodeid, f.nodeid);
    assert_int_equal(f2.attr.ino, f.attr.ino);
    struct fuse_fsync_in fs = {.fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC};
    assert_int_equal(call(fx, FUSE_FSYNC, f.nodeid, P(fs), NOPART, NOPART), 0);
    struct fuse_flush_in fl = {.fh = fh};
    assert_int_equal(call(fx, FUSE_FLUSH, f.nodeid, P(fl), NOPART, NOPART), 0);
    assert_int_equal(do_release(fx, f.nodeid, fh, false), 0);
    /* Released: the fh is gone. */
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, buf, 4), -EBADF);
    /* The host file holds the bytes. */
    char p[256];
    path_in(fx, p, sizeof(p), "dir/file");
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, sizeof(buf), 3), (ssize_t)sizeof(msg));
    close(fd);
    assert_string_equal(buf, msg);
    /* An existing file opened read-only reads its bytes. */
    struct fuse_entry_out h;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &h), 0);
    assert_int_equal(do_open(fx, h.nodeid, O_RDONLY, &fh), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(do_read(fx, h.nodeid, fh, 0, buf, sizeof(buf)), 12);
    assert_string_equal(buf, "hello, guest");
    /* Writing through a read-only fh is the host's EBADF. */
    assert_int_equal(do_write(fx, h.nodeid, fh, 0, "x", 1), -EBADF);
    /* CREATE of an existing name without O_EXCL opens it; with, EEXIST. */
    assert_int_equal(do_create(fx, d.nodeid, "file", O_RDWR | O_EXCL, 0600, NULL, NULL), -EEXIST);
    assert_int_equal(do_create(fx, d.nodeid, "file", O_RDWR, 0600, &f2, &fh), 0);
    assert_int_equal(f2.nodeid, f.nodeid);
    assert_int_equal(f2.attr.mode & 07777, 0640);
    /* OPEN of a directory, OPENDIR of a file. */
    assert_int_equal(do_open(fx, d.nodeid, O_RDONLY, &fh), -EISDIR);
    assert_int_equal(do_opendir(fx, f.nodeid, &fh), -ENOTDIR);
    /* UNLINK and RMDIR. */
    assert_int_equal(call(fx, FUSE_RMDIR, FUSE_ROOT_ID, S("dir"), NOPART, NOPART), -ENOTEMPTY);
    assert_int_equal(call(fx, FUSE_UNLINK, d.nodeid, S("file"), NOPART, NOPART), 0);
    assert_int_equal(call(fx, FUSE_RMDIR, FUSE_ROOT_ID, S("dir"), NOPART, NOPART), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "dir", &d), -ENOENT);
}

static void round_trip_split(void **state)
{
    struct fx *fx = *state;
    fx->split = 1;
    round_trip(state);
}

/* A big WRITE and READ (1 MiB, max_write) through split buffers. */
static void big_io(void **state)
{
    struct fx *fx = *state;
    fx->split = 1;
    struct fuse_entry_out f;
    uint64_t fh;
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "big", O_RDWR, 0644, &f, &fh), 0);
    size_t n = FS_MAX_WRITE;
    uint8_t *data = malloc(n), *back = malloc(n);
    assert_non_null(data);
    assert_non_null(back);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    assert_int_equal(do_write(fx, f.nodeid, fh, 0, data, n), (int)n);
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, back, (uint32_t)n), (int)n);
    assert_memory_equal(back, data, n);
    /* More than max_write is capped, never more than asked. */
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, back, 0xffffffffu), (int)n);
    free(data);
    free(back);
}

/* Pages through a directory with READDIR or READDIRPLUS replies of
 * `size` bytes, following offsets; returns the names seen (each once). */
static int list_dir(struct fx *fx, uint64_t dir, bool plus, uint32_t size, char names[][64],
                    int max, uint64_t *nodeids)
{
    uint64_t fh;
    assert_int_equal(do_opendir(fx, dir, &fh), 0);
    uint64_t off = 0;
    int n = 0;
    for (int rounds = 0; rounds < 1000; rounds++) {
        struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
        assert_int_equal(call(fx, plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, P(in), NOPART,
                              NOPART),
                         0);
        assert_true(fx->plen <= size);
        if (!fx->plen)
            break;
        uint8_t *p = payload(fx);
        size_t at = 0;
        while (at < fx->plen) {
            struct fuse_entry_out e = {0};
            size_t head = plus ? sizeof(e) : 0;
            if (plus)
                memcpy(&e, p + at, sizeof(e));
            struct fuse_dirent de;
            memcpy(&de, p + at + head, sizeof(de));
            assert_true(de.namelen > 0 && de.namelen < 64);
            size_t rec = FUSE_DIRENT_ALIGN(head + FUSE_NAME_OFFSET + de.namelen);
            assert_true(at + rec <= fx->plen);
            assert_true(n < max);
            memcpy(names[n], p + at + head + FUSE_NAME_OFFSET, de.namelen);
            names[n][de.namelen] = 0;
            if (nodeids)
                nodeids[n] = e.nodeid;
            n++;
            off = de.off;
            at += rec;
        }
    }
    assert_int_equal(do_release(fx, dir, fh, true), 0);
    return n;
}

static void readdir_pages(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out d;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "many", 0755, &d), 0);
    char p[256];
    for (int i = 0; i < 60; i++) {
        snprintf(p, sizeof(p), "many/entry-with-a-longish-name-%02d", i);
        put_src(fx, p, "x");
    }
    static char names[128][64];
    static uint64_t ids[128];
    for (int plus = 0; plus < 2; plus++) {
        /* 300 bytes: two or three entries a reply (one for plus). */
        int n = list_dir(fx, d.nodeid, plus, plus ? 400 : 300, names, 128, ids);
        assert_int_equal(n, 62);
        int seen[60] = {0}, dots = 0;
        for (int i = 0; i < n; i++) {
            int k;
            if (!strcmp(names[i], ".") || !strcmp(names[i], "..")) {
                dots++;
                if (plus)
                    assert_int_equal(ids[i], 0); /* no reference for dots */
                continue;
            }
            assert_int_equal(sscanf(names[i], "entry-with-a-longish-name-%d", &k), 1);
            assert_true(k >= 0 && k < 60);
            seen[k]++;
            if (plus) {
                /* A real reference: GETATTR works, and after FORGET of it
                 * the nodeid is stale. */
                assert_int_not_equal(ids[i], 0);
                assert_int_equal(getattr(fx, ids[i], NULL), 0);
            }
        }
        assert_int_equal(dots, 2);
        for (int k = 0; k < 60; k++)
            assert_int_equal(seen[k], 1);
        if (plus) {
            for (int i = 0; i < n; i++)
                if (ids[i])
                    forget(fx, ids[i], 1);
            for (int i = 0; i < n; i++)
                if (ids[i])
                    assert_int_equal(getattr(fx, ids[i], NULL), -ESTALE);
        }
    }
    /* A READDIR on a file fh, or a forged one, is EBADF. */
    struct fuse_read_in in = {.fh = 0x77, .size = 4096};
    assert_int_equal(call(fx, FUSE_READDIR, d.nodeid, P(in), NOPART, NOPART), -EBADF);
}

static void readdir_split(void **state)
{
    struct fx *fx = *state;
    fx->split = 1;
    readdir_pages(state);
}

static void renames(void **state)
{
    struct fx *fx = *state;
    put_src(fx, "a", "AAA");
    put_src(fx, "b", "BBB");
    struct fuse_entry_out d;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "d", 0755, &d), 0);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_NOREPLACE), -EEXIST);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_EXCHANGE), 0);
    struct fuse_entry_out e;
    uint64_t fh;
    char buf[8] = {0};
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "a", &e), 0);
    assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh), 0);
    assert_int_equal(do_read(fx, e.nodeid, fh, 0, buf, 3), 3);
    assert_string_equal(buf, "BBB");
    /* Unknown flags, and both at once. */
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c", RENAME_WHITEOUT), -EINVAL);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c", 0x80), -EINVAL);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c",
                             RENAME_EXCHANGE | RENAME_NOREPLACE),
                     -EINVAL);
    /* Across directories, NOREPLACE onto a free name, plain RENAME. */
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a", d.nodeid, "a2", RENAME_NOREPLACE), 0);
    struct fuse_rename_in rin = {.newdir = FUSE_ROOT_ID};
    assert_int_equal(call(fx, FUSE_RENAME, d.nodeid, P(rin), S("a2"), S("a3")), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "a3", &e), 0);
    /* A stale newdir. */
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "a3", 0xdead00000005ull, "x", 0), -ESTALE);
}

static void unlink_open_file(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f;
    uint64_t fh;
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "doomed", O_RDWR, 0644, &f, &fh), 0);
    assert_int_equal(do_write(fx, f.nodeid, fh, 0, "still here", 10), 10);
    assert_int_equal(call(fx, FUSE_UNLINK, FUSE_ROOT_ID, S("doomed"), NOPART, NOPART), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "doomed", &f), -ENOENT);
    char buf[16] = {0};
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, buf, sizeof(buf)), 10);
    assert_string_equal(buf, "still here");
    /* And the nodeid still answers GETATTR (nlink 0) while the guest
     * holds it. */
    struct fuse_attr a;
    assert_int_equal(getattr(fx, f.nodeid, &a), 0);
    assert_int_equal(a.nlink, 0);
    assert_int_equal(do_release(fx, f.nodeid, fh, false), 0);
}

static void setattr_all(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    char p[256];
    path_in(fx, p, sizeof(p), "hello.txt");
    struct fuse_setattr_in in = {.valid = FATTR_SIZE, .size = 5};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), 0);
    struct fuse_attr_out ao;
    memcpy(&ao, payload(fx), sizeof(ao));
    assert_int_equal(ao.attr.size, 5);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 5);
    in = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = S_IFREG | 04711};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04711);
    in = (struct fuse_setattr_in){.valid = FATTR_ATIME | FATTR_MTIME, .atime = 1000000000,
                                  .atimensec = 5, .mtime = 1200000000, .mtimensec = 7};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_atim.tv_sec, 1000000000);
    assert_int_equal(st.st_atim.tv_nsec, 5);
    assert_int_equal(st.st_mtim.tv_sec, 1200000000);
    assert_int_equal(st.st_mtim.tv_nsec, 7);
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_mtim.tv_sec > 1600000000);
    assert_int_equal(st.st_atim.tv_sec, 1000000000); /* untouched */
    /* A nanosecond count of a second or more is no time. */
    in = (struct fuse_setattr_in){.valid = FATTR_ATIME, .atimensec = 1000000000};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), -EINVAL);
    /* Through an fh; a forged fh is EBADF. */
    uint64_t fh;
    assert_int_equal(do_open(fx, f.nodeid, O_RDWR, &fh), 0);
    in = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 2};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 2);
    in.fh = fh + 1;
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART), -EBADF);
    /* Size of a directory. */
    in = (struct fuse_setattr_in){.valid = FATTR_SIZE};
    assert_int_equal(call(fx, FUSE_SETATTR, FUSE_ROOT_ID, P(in), NOPART, NOPART), -EISDIR);
    /* Owners: as root any; otherwise the host's EPERM for another uid. */
    in = (struct fuse_setattr_in){.valid = FATTR_UID | FATTR_GID, .uid = 4321, .gid = 8765};
    int err = call(fx, FUSE_SETATTR, f.nodeid, P(in), NOPART, NOPART);
    if (geteuid() == 0) {
        assert_int_equal(err, 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 4321);
        assert_int_equal(st.st_gid, 8765);
    } else {
        assert_int_equal(err, -EPERM);
    }
}

static void symlinks(void **state)
{
    struct fx *fx = *state;
    const char *target = "some/where/../else";
    assert_int_equal(call(fx, FUSE_SYMLINK, FUSE_ROOT_ID, S("ln"), S(target), NOPART), 0);
    struct fuse_entry_out e;
    memcpy(&e, payload(fx), sizeof(e));
    assert_true(S_ISLNK(e.attr.mode));
    assert_int_equal(call(fx, FUSE_READLINK, e.nodeid, NOPART, NOPART, NOPART), 0);
    assert_int_equal(fx->plen, strlen(target));
    assert_memory_equal(payload(fx), target, strlen(target));
    /* READLINK of something else. */
    assert_int_equal(call(fx, FUSE_READLINK, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -EINVAL);
    /* A target without its NUL inside the request. */
    char noterm[4] = {'a', 'b', 'c', 'd'};
    assert_int_equal(call(fx, FUSE_SYMLINK, FUSE_ROOT_ID, S("ln2"), (struct part){noterm, 4},
                          NOPART),
                     -EINVAL);
    /* A symlink's mode cannot be set. */
    struct fuse_setattr_in in = {.valid = FATTR_MODE, .mode = 0600};
    assert_int_equal(call(fx, FUSE_SETATTR, e.nodeid, P(in), NOPART, NOPART), -EOPNOTSUPP);
}

static void nodes(void **state)
{
    struct fx *fx = *state;
    struct fuse_mknod_in in = {.mode = S_IFIFO | 0640};
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("fifo"), NOPART), 0);
    struct fuse_entry_out e;
    memcpy(&e, payload(fx), sizeof(e));
    assert_true(S_ISFIFO(e.attr.mode));
    /* The guest opens FIFOs itself; an OPEN would block a worker. */
    uint64_t fh;
    assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh), -ENXIO);
    in = (struct fuse_mknod_in){.mode = S_IFREG | 0600};
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("plain"), NOPART), 0);
    memcpy(&e, payload(fx), sizeof(e));
    assert_true(S_ISREG(e.attr.mode));
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("plain"), NOPART), -EEXIST);
    /* Host device nodes: never (/dev/null's numbers, then a block one). */
    in = (struct fuse_mknod_in){.mode = S_IFCHR | 0666, .rdev = (1 << 8) | 3};
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("null"), NOPART), -EPERM);
    in = (struct fuse_mknod_in){.mode = S_IFBLK | 0666, .rdev = (8 << 8)};
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("sda"), NOPART), -EPERM);
    in = (struct fuse_mknod_in){.mode = S_IFDIR | 0755};
    assert_int_equal(call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("dir"), NOPART), -EINVAL);
    /* overlayfs' whiteout (0:0) where the host lets plugvm make one. */
    in = (struct fuse_mknod_in){.mode = S_IFCHR | 0000, .rdev = 0};
    int err = call(fx, FUSE_MKNOD, FUSE_ROOT_ID, P(in), S("wh"), NOPART);
    if (geteuid() == 0)
        assert_int_equal(err, 0);
    else /* unprivileged whiteouts: Linux 5.8 on */
        assert_true(err == 0 || err == -EPERM);
    if (!err) {
        memcpy(&e, payload(fx), sizeof(e));
        assert_true(S_ISCHR(e.attr.mode));
        assert_int_equal(e.attr.rdev, 0);
    }
}

static void links(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f, l, d;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    struct fuse_link_in in = {.oldnodeid = f.nodeid};
    assert_int_equal(call(fx, FUSE_LINK, FUSE_ROOT_ID, P(in), S("hello2"), NOPART), 0);
    memcpy(&l, payload(fx), sizeof(l));
    assert_int_equal(l.nodeid, f.nodeid);
    assert_int_equal(l.attr.nlink, 2);
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "d", 0755, &d), 0);
    in.oldnodeid = d.nodeid;
    assert_int_equal(call(fx, FUSE_LINK, FUSE_ROOT_ID, P(in), S("d2"), NOPART), -EPERM);
    in.oldnodeid = 0x100000009ull;
    assert_int_equal(call(fx, FUSE_LINK, FUSE_ROOT_ID, P(in), S("d3"), NOPART), -ESTALE);
}

static void xattrs(void **state)
{
    struct fx *fx = *state;
    char p[256];
    path_in(fx, p, sizeof(p), "hello.txt");
    if (setxattr(p, "user.probe", "1", 1, 0) && (errno == ENOTSUP || errno == EPERM)) {
        fprintf(stderr, "user xattrs refused by the temp dir's filesystem: skipped\n");
        skip();
    }
    struct fuse_entry_out f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    struct fuse_setxattr_in_compat {
        uint32_t size, flags;
    } si = {.size = 5};
    assert_int_equal(call(fx, FUSE_SETXATTR, f.nodeid, P(si), S("user.color"),
                          (struct part){"green", 5}),
                     0);
    /* The value's size must be what follows the name. */
    si.size = 6;
    assert_int_equal(call(fx, FUSE_SETXATTR, f.nodeid, P(si), S("user.color"),
                          (struct part){"green", 5}),
                     -EINVAL);
    si = (struct fuse_setxattr_in_compat){.size = 1, .flags = XATTR_CREATE};
    assert_int_equal(call(fx, FUSE_SETXATTR, f.nodeid, P(si), S("user.color"),
                          (struct part){"x", 1}),
                     -EEXIST);
    char v[16] = {0};
    assert_int_equal(getxattr(p, "user.color", v, sizeof(v)), 5);
    assert_string_equal(v, "green");
    struct fuse_getxattr_in gi = {.size = 0};
    assert_int_equal(call(fx, FUSE_GETXATTR, f.nodeid, P(gi), S("user.color"), NOPART), 0);
    struct fuse_getxattr_out go;
    memcpy(&go, payload(fx), sizeof(go));
    assert_int_equal(go.size, 5);
    gi.size = 64;
    assert_int_equal(call(fx, FUSE_GETXATTR, f.nodeid, P(gi), S("user.color"), NOPART), 0);
    assert_int_equal(fx->plen, 5);
    assert_memory_equal(payload(fx), "green", 5);
    gi.size = 3;
    assert_int_equal(call(fx, FUSE_GETXATTR, f.nodeid, P(gi), S("user.color"), NOPART), -ERANGE);
    gi.size = 64;
    assert_int_equal(call(fx, FUSE_GETXATTR, f.nodeid, P(gi), S("user.none"), NOPART), -ENODATA);
    gi.size = 0;
    assert_int_equal(call(fx, FUSE_LISTXATTR, f.nodeid, P(gi), NOPART, NOPART), 0);
    memcpy(&go, payload(fx), sizeof(go));
    assert_true(go.size >= sizeof("user.color") + sizeof("user.probe"));
    gi.size = 4096;
    assert_int_equal(call(fx, FUSE_LISTXATTR, f.nodeid, P(gi), NOPART, NOPART), 0);
    assert_int_equal(fx->plen, go.size);
    assert_non_null(memmem(payload(fx), fx->plen, "user.color", 11));
    gi.size = 2;
    assert_int_equal(call(fx, FUSE_LISTXATTR, f.nodeid, P(gi), NOPART, NOPART), -ERANGE);
    assert_int_equal(call(fx, FUSE_REMOVEXATTR, f.nodeid, S("user.color"), NOPART, NOPART), 0);
    assert_int_equal(getxattr(p, "user.color", v, sizeof(v)), -1);
    assert_int_equal(call(fx, FUSE_REMOVEXATTR, f.nodeid, S("user.color"), NOPART, NOPART),
                     -ENODATA);
    /* A symlink inside source to a file with xattrs: its xattrs are the
     * link's, never the target's. */
    char canary[128];
    snprintf(canary, sizeof(canary), "%s/canary", fx->base);
    assert_int_equal(setxattr(canary, "user.secret", "s", 1, 0), 0);
    path_in(fx, p, sizeof(p), "tocanary");
    assert_int_equal(symlink(canary, p), 0);
    struct fuse_entry_out l;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "tocanary", &l), 0);
    gi.size = 64;
    assert_int_not_equal(call(fx, FUSE_GETXATTR, l.nodeid, P(gi), S("user.secret"), NOPART), 0);
    assert_int_equal(call(fx, FUSE_LISTXATTR, l.nodeid, P(gi), NOPART, NOPART), 0);
    assert_null(memmem(payload(fx), fx->plen, "user.secret", 11));
}

/* xattr=off: ENOSYS for all four, so the guest stops asking. */
static void xattrs_off(void **state)
{
    (void)state;
    void *st;
    assert_int_equal(open_fx(&st, false, FS_CACHE_AUTO, false, true), 0);
    struct fx *fx = st;
    struct fuse_getxattr_in gi = {.size = 64};
    uint32_t si[2] = {1, 0};
    assert_int_equal(call(fx, FUSE_GETXATTR, 1, P(gi), S("user.a"), NOPART), -ENOSYS);
    assert_int_equal(call(fx, FUSE_LISTXATTR, 1, P(gi), NOPART, NOPART), -ENOSYS);
    assert_int_equal(call(fx, FUSE_SETXATTR, 1, P(si), S("user.a"), (struct part){"x", 1}), -ENOSYS);
    assert_int_equal(call(fx, FUSE_REMOVEXATTR, 1, S("user.a"), NOPART, NOPART), -ENOSYS);
    teardown(&st);
}

static int lk(struct fx *fx, uint32_t op, uint64_t nodeid, uint64_t fh, uint32_t type,
              uint64_t start, uint64_t end, struct fuse_lk_out *out)
{
    struct fuse_lk_in in = {.fh = fh, .owner = fh * 3,
                            .lk = {.start = start, .end = end, .type = type, .pid = 7}};
    int err = call(fx, op, nodeid, P(in), NOPART, NOPART);
    if (!err && out)
        memcpy(out, payload(fx), sizeof(*out));
    return err;
}

static void posix_locks(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    uint64_t a, b;
    assert_int_equal(do_open(fx, f.nodeid, O_RDWR, &a), 0);
    assert_int_equal(do_open(fx, f.nodeid, O_RDWR, &b), 0);
    struct fuse_lk_out o;
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, a, F_WRLCK, 0, 99, NULL), 0);
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, b, F_WRLCK, 50, 60, &o), 0);
    assert_int_equal(o.lk.type, F_WRLCK);
    assert_int_equal(o.lk.start, 0);
    assert_int_equal(o.lk.end, 99);
    /* Past the lock: free. */
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, b, F_WRLCK, 100, INT64_MAX, &o), 0);
    assert_int_equal(o.lk.type, F_UNLCK);
    /* The other fh cannot take it, and SETLKW does not wait. */
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, b, F_RDLCK, 10, 10, NULL), -EAGAIN);
    assert_int_equal(lk(fx, FUSE_SETLKW, f.nodeid, b, F_WRLCK, 0, INT64_MAX, NULL), -EAGAIN);
    /* The holder's own GETLK sees no conflict. */
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, a, F_WRLCK, 0, 10, &o), 0);
    assert_int_equal(o.lk.type, F_UNLCK);
    /* FLUSH (a guest close) drops the fh's locks. */
    struct fuse_flush_in fl = {.fh = a};
    assert_int_equal(call(fx, FUSE_FLUSH, f.nodeid, P(fl), NOPART, NOPART), 0);
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, b, F_WRLCK, 0, INT64_MAX, NULL), 0);
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, a, F_RDLCK, 5, 5, &o), 0);
    assert_int_equal(o.lk.type, F_WRLCK);
    assert_int_equal(o.lk.end, INT64_MAX);
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, b, F_UNLCK, 0, INT64_MAX, NULL), 0);
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, a, F_WRLCK, 0, 10, &o), 0);
    assert_int_equal(o.lk.type, F_UNLCK);
    /* Bad ranges and types, forged fh. */
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, a, F_WRLCK, 10, 5, NULL), -EINVAL);
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, a, F_WRLCK, 0, UINT64_MAX, NULL), -EINVAL);
    assert_int_equal(lk(fx, FUSE_SETLK, f.nodeid, a, 77, 0, 1, NULL), -EINVAL);
    assert_int_equal(lk(fx, FUSE_GETLK, f.nodeid, a ^ (1ull << 40), F_WRLCK, 0, 1, NULL), -EBADF);
}

static void fallocate_lseek_copy(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f, g;
    uint64_t a, b;
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "sparse", O_RDWR, 0644, &f, &a), 0);
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "copy", O_RDWR, 0644, &g, &b), 0);
    struct fuse_fallocate_in fa = {.fh = a, .offset = 0, .length = 1 << 20};
    assert_int_equal(call(fx, FUSE_FALLOCATE, f.nodeid, P(fa), NOPART, NOPART), 0);
    struct fuse_attr at;
    assert_int_equal(getattr(fx, f.nodeid, &at), 0);
    assert_int_equal(at.size, 1 << 20);
    /* Punch everything but the first 4 KiB: data at 0, a hole after. */
    fa = (struct fuse_fallocate_in){.fh = a, .offset = 4096, .length = (1 << 20) - 4096,
                                    .mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
    int err = call(fx, FUSE_FALLOCATE, f.nodeid, P(fa), NOPART, NOPART);
    assert_true(err == 0 || err == -EOPNOTSUPP);
    assert_int_equal(do_write(fx, f.nodeid, a, 0, "data", 4), 4);
    struct fuse_lseek_in ls = {.fh = a, .offset = 0, .whence = SEEK_DATA};
    assert_int_equal(call(fx, FUSE_LSEEK, f.nodeid, P(ls), NOPART, NOPART), 0);
    struct fuse_lseek_out lo;
    memcpy(&lo, payload(fx), sizeof(lo));
    assert_int_equal(lo.offset, 0);
    ls.whence = SEEK_HOLE;
    assert_int_equal(call(fx, FUSE_LSEEK, f.nodeid, P(ls), NOPART, NOPART), 0);
    memcpy(&lo, payload(fx), sizeof(lo));
    assert_true(lo.offset >= 4 && lo.offset <= (1 << 20));
    if (!err)
        assert_int_equal(lo.offset, 4096);
    ls.whence = SEEK_CUR;
    assert_int_equal(call(fx, FUSE_LSEEK, f.nodeid, P(ls), NOPART, NOPART), -EINVAL);
    /* Bad fallocate values. */
    fa = (struct fuse_fallocate_in){.fh = a, .offset = UINT64_MAX, .length = 1};
    assert_int_equal(call(fx, FUSE_FALLOCATE, f.nodeid, P(fa), NOPART, NOPART), -EFBIG);
    fa = (struct fuse_fallocate_in){.fh = a, .length = 1, .mode = 0x4000};
    assert_int_equal(call(fx, FUSE_FALLOCATE, f.nodeid, P(fa), NOPART, NOPART), -EOPNOTSUPP);
    /* COPY_FILE_RANGE "data" from sparse into copy at 2. */
    struct fuse_copy_file_range_in c = {.fh_in = a, .off_in = 0, .nodeid_out = g.nodeid,
                                        .fh_out = b, .off_out = 2, .len = 4};
    assert_int_equal(call(fx, FUSE_COPY_FILE_RANGE, f.nodeid, P(c), NOPART, NOPART), 0);
    struct fuse_write_out wo;
    memcpy(&wo, payload(fx), sizeof(wo));
    assert_int_equal(wo.size, 4);
    char buf[8] = {0};
    assert_int_equal(do_read(fx, g.nodeid, b, 2, buf, 4), 4);
    assert_string_equal(buf, "data");
    c.flags = 1;
    assert_int_equal(call(fx, FUSE_COPY_FILE_RANGE, f.nodeid, P(c), NOPART, NOPART), -EINVAL);
    c.flags = 0;
    c.fh_out = 12345;
    assert_int_equal(call(fx, FUSE_COPY_FILE_RANGE, f.nodeid, P(c), NOPART, NOPART), -EBADF);
}

static void statfs_access(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(call(fx, FUSE_STATFS, FUSE_ROOT_ID, NOPART, NOPART, NOPART), 0);
    struct fuse_statfs_out so;
    memcpy(&so, payload(fx), sizeof(so));
    assert_true(so.st.blocks > 0);
    assert_true(so.st.bsize > 0);
    assert_int_equal(so.st.namelen, 255);
    struct fuse_access_in ai = {.mask = R_OK | X_OK};
    assert_int_equal(call(fx, FUSE_ACCESS, FUSE_ROOT_ID, P(ai), NOPART, NOPART), 0);
    struct fuse_entry_out f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    ai.mask = X_OK; /* 0644: no one may run it, root included */
    assert_int_equal(call(fx, FUSE_ACCESS, f.nodeid, P(ai), NOPART, NOPART), -EACCES);
    ai.mask = 0x40;
    assert_int_equal(call(fx, FUSE_ACCESS, f.nodeid, P(ai), NOPART, NOPART), -EINVAL);
    struct fuse_interrupt_in ii = {.unique = 1};
    call(fx, FUSE_INTERRUPT, 0, P(ii), NOPART, NOPART);
    uint64_t pad = 0;
    assert_int_equal(call(fx, FUSE_SYNCFS, FUSE_ROOT_ID, P(pad), NOPART, NOPART), 0);
}

static void forgets(void **state)
{
    struct fx *fx = *state;
    uint32_t base = fs_inodes_count(&fx->s->inodes);
    struct fuse_entry_out e, e2;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e2), 0);
    assert_int_equal(e.nodeid, e2.nodeid);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), base + 1);
    forget(fx, e.nodeid, 1);
    assert_int_equal(getattr(fx, e.nodeid, NULL), 0);
    forget(fx, e.nodeid, 1);
    assert_int_equal(getattr(fx, e.nodeid, NULL), -ESTALE);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), base);
    /* The slot comes back with another generation: the old nodeid stays
     * stale. */
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e2), 0);
    assert_int_not_equal(e2.nodeid, e.nodeid);
    assert_int_equal((uint32_t)e2.nodeid, (uint32_t)e.nodeid);
    assert_int_equal(getattr(fx, e.nodeid, NULL), -ESTALE);
    /* A huge count ends it; the root never goes. */
    forget(fx, e2.nodeid, UINT64_MAX);
    assert_int_equal(getattr(fx, e2.nodeid, NULL), -ESTALE);
    forget(fx, FUSE_ROOT_ID, 1000);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
    /* BATCH_FORGET: three entries, one unknown; a count that disagrees
     * with the buffer is ignored whole. */
    struct fuse_entry_out x, y;
    put_src(fx, "x", "");
    put_src(fx, "y", "");
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "x", &x), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "y", &y), 0);
    struct fuse_forget_one ones[3] = {{x.nodeid, 1}, {y.nodeid, 1}, {0xabcdef, 3}};
    struct fuse_batch_forget_in bf = {.count = 4};
    call(fx, FUSE_BATCH_FORGET, 0, P(bf), P(ones), NOPART);
    assert_int_equal(getattr(fx, x.nodeid, NULL), 0);
    bf.count = 3;
    call(fx, FUSE_BATCH_FORGET, 0, P(bf), P(ones), NOPART);
    assert_int_equal(getattr(fx, x.nodeid, NULL), -ESTALE);
    assert_int_equal(getattr(fx, y.nodeid, NULL), -ESTALE);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), base);
}

static void forged_and_unknown(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(call(fx, 99, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -ENOSYS);
    assert_int_equal(call(fx, CUSE_INIT, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -ENOSYS);
    assert_int_equal(call(fx, FUSE_IOCTL, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -ENOSYS);
    assert_int_equal(call(fx, 0xffffffffu, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -ENOSYS);
    struct fuse_entry_out e;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e), 0);
    static const uint64_t forged[] = {0, 2, 0x12345678, 0xffffffffffffffffull, 1ull << 32 | 1,
                                      (uint64_t)0x7 << 32 | 2};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        if (forged[i] == e.nodeid)
            continue;
        assert_int_equal(getattr(fx, forged[i], NULL), -ESTALE);
        assert_int_equal(lookup(fx, forged[i], "hello.txt", &e), -ESTALE);
        forget(fx, forged[i], 1); /* ignored */
    }
    /* Right slot, wrong generation. */
    assert_int_equal(getattr(fx, e.nodeid + (1ull << 32), NULL), -ESTALE);
    uint64_t fh, dfh;
    assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh), 0);
    assert_int_equal(do_opendir(fx, FUSE_ROOT_ID, &dfh), 0);
    char buf[8];
    static const uint64_t bad[] = {0, 1, 0x7fffffff, 0xffffffffffffffffull};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i] == fh || bad[i] == dfh)
            continue;
        assert_int_equal(do_read(fx, e.nodeid, bad[i], 0, buf, 4), -EBADF);
        assert_int_equal(do_write(fx, e.nodeid, bad[i], 0, "x", 1), -EBADF);
        assert_int_equal(do_release(fx, e.nodeid, bad[i], false), -EBADF);
    }
    assert_int_equal(do_read(fx, e.nodeid, fh + (1ull << 32), 0, buf, 4), -EBADF);
    /* A directory fh is not a file fh, nor the other way round. */
    assert_int_equal(do_read(fx, e.nodeid, dfh, 0, buf, 4), -EBADF);
    assert_int_equal(do_release(fx, FUSE_ROOT_ID, fh, true), -EBADF);
    assert_int_equal(do_release(fx, e.nodeid, fh, false), 0);
    assert_int_equal(do_release(fx, e.nodeid, fh, false), -EBADF);
    assert_int_equal(do_release(fx, FUSE_ROOT_ID, dfh, true), 0);
    assert_int_equal(fs_handles_count(&fx->s->handles), 0);
}

/* DESTROY: every nodeid but the root and every fh goes; INIT again. */
static void destroy_resets(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out e;
    uint64_t fh;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &e), 0);
    assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh), 0);
    assert_int_equal(call(fx, FUSE_DESTROY, 0, NOPART, NOPART, NOPART), 0);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), -EIO);
    assert_int_equal(init_with(fx, 7, 31, 0, NULL), 0);
    assert_int_equal(getattr(fx, e.nodeid, NULL), -ESTALE);
    char buf[4];
    assert_int_equal(do_read(fx, e.nodeid, fh, 0, buf, 4), -EBADF);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), 1);
    assert_int_equal(fs_handles_count(&fx->s->handles), 0);
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
}

/* As root, what the guest creates is its caller's, with its mode exactly,
 * whatever plugvm's umask. */
static void ownership_and_mode(void **state)
{
    struct fx *fx = *state;
    mode_t old = umask(077);
    fx->uid = 1234;
    fx->gid = 5678;
    struct fuse_entry_out d, f, l;
    uint64_t fh;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "mine", 0775, &d), 0);
    assert_int_equal(do_create(fx, d.nodeid, "f", O_WRONLY, 0664, &f, &fh), 0);
    assert_int_equal(call(fx, FUSE_SYMLINK, d.nodeid, S("l"), S("f"), NOPART), 0);
    memcpy(&l, payload(fx), sizeof(l));
    umask(old);
    char p[256];
    struct stat st;
    path_in(fx, p, sizeof(p), "mine");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0775);
    assert_int_equal(d.attr.mode & 07777, 0775);
    path_in(fx, p, sizeof(p), "mine/f");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0664);
    if (geteuid() != 0) {
        assert_int_equal(st.st_uid, geteuid());
        return;
    }
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(f.attr.uid, 1234);
    path_in(fx, p, sizeof(p), "mine/l");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(l.attr.uid, 1234);
    /* A set-group-ID directory keeps its group on what is made in it. */
    path_in(fx, p, sizeof(p), "mine");
    assert_int_equal(chmod(p, 02775), 0);
    fx->gid = 999;
    struct fuse_entry_out sub;
    assert_int_equal(do_mkdir(fx, d.nodeid, "sub", 0755, &sub), 0);
    assert_int_equal(sub.attr.gid, 5678);
    assert_true(sub.attr.mode & S_ISGID);
}

static void read_only(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &f), 0);
    uint64_t fh;
    assert_int_equal(do_open(fx, f.nodeid, O_RDONLY, &fh), 0);
    char buf[16] = {0};
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, buf, 5), 5);
    assert_string_equal(buf, "hello");
    struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0600};
    struct fuse_mknod_in mk = {.mode = S_IFREG | 0600};
    struct fuse_mkdir_in md = {.mode = 0755};
    struct fuse_rename_in rn = {.newdir = 1};
    struct fuse_rename2_in rn2 = {.newdir = 1};
    struct fuse_link_in ln = {.oldnodeid = f.nodeid};
    struct fuse_create_in cr = {.flags = O_RDWR, .mode = S_IFREG | 0644};
    struct fuse_write_in wr = {.fh = fh, .size = 1};
    uint32_t sx[2] = {1, 0};
    struct fuse_fallocate_in fa = {.fh = fh, .length = 10};
    struct fuse_copy_file_range_in cf = {.fh_in = fh, .fh_out = fh, .len = 1};
    assert_int_equal(call(fx, FUSE_SETATTR, f.nodeid, P(sa), NOPART, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_SYMLINK, 1, S("l"), S("t"), NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_MKNOD, 1, P(mk), S("n"), NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_MKDIR, 1, P(md), S("d"), NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_UNLINK, 1, S("hello.txt"), NOPART, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_RMDIR, 1, S("x"), NOPART, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_RENAME, 1, P(rn), S("hello.txt"), S("b")), -EROFS);
    assert_int_equal(call(fx, FUSE_RENAME2, 1, P(rn2), S("hello.txt"), S("b")), -EROFS);
    assert_int_equal(call(fx, FUSE_LINK, 1, P(ln), S("l2"), NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_CREATE, 1, P(cr), S("c"), NOPART), -EROFS);
    assert_int_equal(do_open(fx, f.nodeid, O_WRONLY, &fh), -EROFS);
    assert_int_equal(do_open(fx, f.nodeid, O_RDWR, &fh), -EROFS);
    assert_int_equal(do_open(fx, f.nodeid, O_RDONLY | O_TRUNC, &fh), -EROFS);
    assert_int_equal(call(fx, FUSE_WRITE, f.nodeid, P(wr), (struct part){"x", 1}, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_SETXATTR, f.nodeid, P(sx), S("user.a"), (struct part){"x", 1}),
                     -EROFS);
    assert_int_equal(call(fx, FUSE_REMOVEXATTR, f.nodeid, S("user.a"), NOPART, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_FALLOCATE, f.nodeid, P(fa), NOPART, NOPART), -EROFS);
    assert_int_equal(call(fx, FUSE_COPY_FILE_RANGE, f.nodeid, P(cf), NOPART, NOPART), -EROFS);
    struct fuse_access_in ai = {.mask = W_OK};
    assert_int_equal(call(fx, FUSE_ACCESS, f.nodeid, P(ai), NOPART, NOPART), -EROFS);
    /* Nothing changed on the host. */
    char p[256];
    struct stat st;
    path_in(fx, p, sizeof(p), "hello.txt");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 12);
    path_in(fx, p, sizeof(p), "d");
    assert_int_equal(stat(p, &st), -1);
}

/* ---- escapes ---- */

/* Reading CANARY through fh: the escape the tests look for. */
static bool read_is_canary(struct fx *fx, uint64_t nodeid, uint64_t fh)
{
    char buf[64] = {0};
    int n = do_read(fx, nodeid, fh, 0, buf, sizeof(buf) - 1);
    return n > 0 && strstr(buf, "CANARY");
}

static void escape_symlinks(void **state)
{
    struct fx *fx = *state;
    char p[256];
    path_in(fx, p, sizeof(p), "toroot");
    assert_int_equal(symlink("/", p), 0);
    path_in(fx, p, sizeof(p), "up");
    assert_int_equal(symlink("../../..", p), 0);
    path_in(fx, p, sizeof(p), "canary");
    assert_int_equal(symlink("../canary", p), 0);
    path_in(fx, p, sizeof(p), "abscanary");
    char target[128];
    snprintf(target, sizeof(target), "%s/canary", fx->base);
    assert_int_equal(symlink(target, p), 0);
    static const char *const links[] = {"toroot", "up", "canary", "abscanary"};
    for (size_t i = 0; i < 4; i++) {
        struct fuse_entry_out e, c;
        /* LOOKUP gives the link itself... */
        assert_int_equal(lookup(fx, FUSE_ROOT_ID, links[i], &e), 0);
        assert_true(S_ISLNK(e.attr.mode));
        /* ...which cannot be opened, listed, or looked through. */
        uint64_t fh;
        assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh), -ELOOP);
        assert_int_equal(do_opendir(fx, e.nodeid, &fh), -ENOTDIR);
        assert_int_not_equal(lookup(fx, e.nodeid, "etc", &c), 0);
        assert_int_not_equal(lookup(fx, e.nodeid, "canary", &c), 0);
        assert_int_not_equal(lookup(fx, e.nodeid, "..", &c), 0);
        assert_int_not_equal(do_create(fx, e.nodeid, "x", O_RDWR, 0644, NULL, NULL), 0);
        assert_int_not_equal(do_mkdir(fx, e.nodeid, "x", 0755, NULL), 0);
        /* CREATE onto the link's name does not follow it either. */
        assert_int_not_equal(do_create(fx, FUSE_ROOT_ID, links[i], O_RDWR, 0644, NULL, &fh), 0);
        /* SETATTR on the link never reaches the target. */
        struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};
        assert_int_not_equal(call(fx, FUSE_SETATTR, e.nodeid, P(sa), NOPART, NOPART), 0);
    }
    /* The canary is intact. */
    char buf[64] = {0};
    int fd = open(target, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)strlen(CANARY));
    close(fd);
    assert_string_equal(buf, CANARY);
}

static void escape_names(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out e;
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "../canary", &e), -EINVAL);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "a/b", &e), -EINVAL);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "/etc", &e), -EINVAL);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "", &e), -EINVAL);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, longname, &e), -ENAMETOOLONG);
    /* 255 bytes is a name (just not here). */
    longname[255] = 0;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, longname, &e), -ENOENT);
    /* No NUL inside the request. */
    char raw[8] = {'h', 'e', 'l', 'l', 'o', '.', 't', 'x'};
    assert_int_equal(call(fx, FUSE_LOOKUP, FUSE_ROOT_ID, (struct part){raw, 8}, NOPART, NOPART),
                     -EINVAL);
    assert_int_equal(call(fx, FUSE_LOOKUP, FUSE_ROOT_ID, NOPART, NOPART, NOPART), -EINVAL);
    /* ".." of the root is the root; of a subdirectory its parent. */
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "..", &e), 0);
    assert_int_equal(e.nodeid, FUSE_ROOT_ID);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, ".", &e), 0);
    assert_int_equal(e.nodeid, FUSE_ROOT_ID);
    struct fuse_entry_out d, dd;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "d", 0755, &d), 0);
    assert_int_equal(lookup(fx, d.nodeid, "..", &dd), 0);
    assert_int_equal(dd.nodeid, FUSE_ROOT_ID);
    assert_int_equal(lookup(fx, d.nodeid, ".", &dd), 0);
    assert_int_equal(dd.nodeid, d.nodeid);
    /* ".." of a directory the guest never reached from the root is not
     * handed out: here a directory made on the host, whose parent the
     * guest forgot. */
    struct fuse_entry_out sub;
    put_src(fx, "d/file", "");
    assert_int_equal(do_mkdir(fx, d.nodeid, "sub", 0755, &sub), 0);
    forget(fx, d.nodeid, 3);
    assert_int_equal(lookup(fx, sub.nodeid, "..", &dd), -ENOENT);
    /* "." and ".." cannot be made, removed or renamed. */
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "..", 0755, NULL), -EINVAL);
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, ".", 0755, NULL), -EINVAL);
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "../evil", 0755, NULL), -EINVAL);
    assert_int_equal(call(fx, FUSE_UNLINK, FUSE_ROOT_ID, S(".."), NOPART, NOPART), -EINVAL);
    assert_int_equal(call(fx, FUSE_RMDIR, sub.nodeid, S(".."), NOPART, NOPART), -EINVAL);
    assert_int_equal(call(fx, FUSE_UNLINK, FUSE_ROOT_ID, S("../canary"), NOPART, NOPART), -EINVAL);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "hello.txt", FUSE_ROOT_ID, "../moved", 0), -EINVAL);
    assert_int_equal(rename2(fx, FUSE_ROOT_ID, "..", FUSE_ROOT_ID, "x", 0), -EINVAL);
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "../canary", O_RDWR | O_TRUNC, 0644, NULL, NULL),
                     -EINVAL);
    assert_int_equal(call(fx, FUSE_SYMLINK, FUSE_ROOT_ID, S("../x"), S("/"), NOPART), -EINVAL);
    struct fuse_link_in li = {.oldnodeid = FUSE_ROOT_ID};
    assert_int_equal(call(fx, FUSE_LINK, FUSE_ROOT_ID, P(li), S("../x"), NOPART), -EINVAL);
    /* Nothing appeared next to source, and the canary is whole. */
    char p[128];
    snprintf(p, sizeof(p), "%s/moved", fx->base);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/evil", fx->base);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/canary", fx->base);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)strlen(CANARY));
}

struct swapper {
    char a[128], b[128];
    atomic_bool stop;
    atomic_long swaps;
};

static void *swap_loop(void *arg)
{
    struct swapper *sw = arg;
    while (!atomic_load(&sw->stop))
        if (!renameat2(AT_FDCWD, sw->a, AT_FDCWD, sw->b, RENAME_EXCHANGE))
            atomic_fetch_add(&sw->swaps, 1);
    return NULL;
}

/* "d" is a directory holding "secret" (harmless) and "l" a symlink to
 * source's parent, which holds "secret" (the canary); a thread keeps
 * swapping the two names. However LOOKUP + OPEN + READ of d/secret
 * interleave with the swaps, the canary never comes back. */
static void escape_rename_race(void **state)
{
    struct fx *fx = *state;
    struct swapper sw = {0};
    path_in(fx, sw.a, sizeof(sw.a), "d");
    path_in(fx, sw.b, sizeof(sw.b), "l");
    assert_int_equal(mkdir(sw.a, 0755), 0);
    put_src(fx, "d/secret", "inside");
    assert_int_equal(symlink("..", sw.b), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, swap_loop, &sw), 0);
    int inside = 0;
    for (int i = 0; i < 2000; i++) {
        const char *name = (i & 1) ? "d" : "l";
        struct fuse_entry_out d, f;
        if (lookup(fx, FUSE_ROOT_ID, name, &d))
            continue;
        if (!lookup(fx, d.nodeid, "secret", &f)) {
            uint64_t fh;
            if (!do_open(fx, f.nodeid, O_RDONLY, &fh)) {
                assert_false(read_is_canary(fx, f.nodeid, fh));
                inside++;
                do_release(fx, f.nodeid, fh, false);
            }
            forget(fx, f.nodeid, 1);
        }
        /* The directory opened for listing is never the parent either. */
        uint64_t dfh;
        if (!do_opendir(fx, d.nodeid, &dfh)) {
            struct fuse_read_in in = {.fh = dfh, .size = 4096};
            assert_int_equal(call(fx, FUSE_READDIR, d.nodeid, P(in), NOPART, NOPART), 0);
            assert_null(memmem(payload(fx), fx->plen, "canary", 6));
            assert_null(memmem(payload(fx), fx->plen, "src", 3));
            do_release(fx, d.nodeid, dfh, true);
        }
        forget(fx, d.nodeid, 1);
    }
    atomic_store(&sw.stop, true);
    pthread_join(t, NULL);
    /* The race really ran, and the real file was reachable. */
    assert_true(atomic_load(&sw.swaps) > 0);
    assert_true(inside > 0);
}

/* ---- malformed requests ---- */

static void bad_lengths(void **state)
{
    struct fx *fx = *state;
    uint8_t req[256];
    struct fuse_in_header h = {.opcode = FUSE_LOOKUP, .unique = 77, .nodeid = 1};
    memcpy(req + sizeof(h), "hello.txt", 10);
    size_t len = sizeof(h) + 10;
    static const uint32_t lens[] = {0, 1, 39, 40, 49, 51, 0xffffffffu};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        h.len = lens[i];
        memcpy(req, &h, sizeof(h));
        size_t used = send_raw(fx, req, len, 4096);
        assert_int_equal(used, sizeof(struct fuse_out_header));
        struct fuse_out_header oh;
        memcpy(&oh, fx->out, sizeof(oh));
        assert_int_equal(oh.error, -EINVAL);
        assert_int_equal(oh.unique, 77);
    }
    h.len = (uint32_t)len;
    memcpy(req, &h, sizeof(h));
    assert_int_equal(send_raw(fx, req, len, 4096),
                     sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out));
    /* Extensions never agreed. */
    h.total_extlen = 1;
    memcpy(req, &h, sizeof(h));
    send_raw(fx, req, len, 4096);
    struct fuse_out_header oh;
    memcpy(&oh, fx->out, sizeof(oh));
    assert_int_equal(oh.error, -EINVAL);
    /* Less than a header in: EINVAL with unique 0. */
    assert_int_equal(send_raw(fx, req, 10, 4096), sizeof(oh));
    memcpy(&oh, fx->out, sizeof(oh));
    assert_int_equal(oh.error, -EINVAL);
    /* Out too small for a header: no reply, and no effect. */
    struct fuse_mkdir_in md = {.mode = 0755};
    h = (struct fuse_in_header){.opcode = FUSE_MKDIR, .unique = 5, .nodeid = 1};
    len = sizeof(h) + sizeof(md) + 6;
    h.len = (uint32_t)len;
    memcpy(req, &h, sizeof(h));
    memcpy(req + sizeof(h), &md, sizeof(md));
    memcpy(req + sizeof(h) + sizeof(md), "newd1", 6);
    assert_int_equal(send_raw(fx, req, len, 15), 0);
    /* Room for the header but not the entry: EINVAL before acting. */
    assert_int_equal(send_raw(fx, req, len, 100), sizeof(oh));
    memcpy(&oh, fx->out, sizeof(oh));
    assert_int_equal(oh.error, -EINVAL);
    char p[256];
    path_in(fx, p, sizeof(p), "newd1");
    assert_int_equal(access(p, F_OK), -1);
    /* NULL and negative iovec counts. */
    struct iovec out = {fx->out, 4096};
    assert_int_equal(fs_server_handle(fx->s, NULL, 0, &out, 1), sizeof(oh));
    assert_int_equal(fs_server_handle(fx->s, NULL, -1, &out, 1), sizeof(oh));
    struct iovec in = {req, len};
    assert_int_equal(fs_server_handle(fx->s, &in, 1, NULL, -3), 0);
    /* WRITE whose size disagrees with its data. */
    struct fuse_entry_out f;
    uint64_t fh;
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "w", O_RDWR, 0644, &f, &fh), 0);
    struct fuse_write_in wi = {.fh = fh, .size = 10};
    assert_int_equal(call(fx, FUSE_WRITE, f.nodeid, P(wi), (struct part){"12345", 5}, NOPART),
                     -EINVAL);
    wi.size = 3;
    assert_int_equal(call(fx, FUSE_WRITE, f.nodeid, P(wi), (struct part){"12345", 5}, NOPART),
                     -EINVAL);
    wi.size = FS_MAX_WRITE + 1;
    assert_int_equal(call(fx, FUSE_WRITE, f.nodeid, P(wi), NOPART, NOPART), -EINVAL);
    wi = (struct fuse_write_in){.fh = fh, .offset = UINT64_MAX - 1, .size = 5};
    assert_int_equal(call(fx, FUSE_WRITE, f.nodeid, P(wi), (struct part){"12345", 5}, NOPART),
                     -EFBIG);
    struct stat st;
    path_in(fx, p, sizeof(p), "w");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    /* A READ at an offset past off_t. */
    struct fuse_read_in ri = {.fh = fh, .offset = UINT64_MAX, .size = 10};
    assert_int_equal(call(fx, FUSE_READ, f.nodeid, P(ri), NOPART, NOPART), -EINVAL);
    /* Args too short for the op. */
    uint32_t four = 0;
    assert_int_equal(call(fx, FUSE_GETATTR, 1, P(four), NOPART, NOPART), -EINVAL);
    /* More than any op's arguments. */
    size_t huge = FS_MAX_ARGS + 100;
    char *big = calloc(1, huge);
    assert_non_null(big);
    assert_int_equal(call(fx, FUSE_LOOKUP, 1, (struct part){big, huge}, NOPART, NOPART), -EINVAL);
    free(big);
}

/* Every prefix of valid requests, with the header's len kept and with
 * it cut to match, split or not: a well-formed reply each time. */
static void truncations(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out f;
    uint64_t fh;
    assert_int_equal(do_create(fx, FUSE_ROOT_ID, "t", O_RDWR, 0644, &f, &fh), 0);
    struct fuse_write_in wi = {.fh = fh, .size = 8};
    struct fuse_rename2_in rn = {.newdir = 1, .flags = RENAME_NOREPLACE};
    struct fuse_setattr_in sa = {.valid = FATTR_MODE | FATTR_ATIME, .mode = 0644};
    struct fuse_mkdir_in md = {.mode = 0755};
    struct fuse_forget_one one = {f.nodeid, 0};
    struct fuse_batch_forget_in bf = {.count = 1};
    uint32_t sx[2] = {3, 0};
    struct fuse_init_in ii = {.major = 7, .minor = 31};
    struct {
        uint32_t op;
        uint64_t nodeid;
        struct part a, b, c;
    } reqs[] = {
        {FUSE_LOOKUP, 1, S("t"), NOPART, NOPART},
        {FUSE_WRITE, f.nodeid, P(wi), {"abcdefgh", 8}, NOPART},
        {FUSE_RENAME2, 1, P(rn), S("t"), S("t2")},
        {FUSE_SETATTR, f.nodeid, P(sa), NOPART, NOPART},
        {FUSE_MKDIR, 1, P(md), S("dd"), NOPART},
        {FUSE_BATCH_FORGET, 0, P(bf), P(one), NOPART},
        {FUSE_SETXATTR, f.nodeid, P(sx), S("user.t"), {"abc", 3}},
        {FUSE_INIT, 0, P(ii), NOPART, NOPART},
    };
    for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
        uint8_t full[512];
        struct fuse_in_header h = {.opcode = reqs[r].op, .unique = 9, .nodeid = reqs[r].nodeid};
        size_t len = sizeof(h);
        struct part ps[3] = {reqs[r].a, reqs[r].b, reqs[r].c};
        for (int i = 0; i < 3; i++) {
            if (ps[i].n)
                memcpy(full + len, ps[i].p, ps[i].n);
            len += ps[i].n;
        }
        for (size_t cutlen = 0; cutlen < len; cutlen++) {
            for (int mode = 0; mode < 4; mode++) {
                h.len = (uint32_t)((mode & 1) ? cutlen : len);
                uint8_t *req = malloc(cutlen ? cutlen : 1); /* exact, for ASan */
                assert_non_null(req);
                memcpy(full, &h, sizeof(h));
                memcpy(req, full, cutlen);
                fx->split = mode >> 1;
                size_t used = send_raw(fx, req, cutlen, 4096);
                free(req);
                bool noreply = cutlen >= sizeof(h) && reqs[r].op == FUSE_BATCH_FORGET;
                if (noreply) {
                    assert_int_equal(used, 0);
                    continue;
                }
                struct fuse_out_header oh;
                assert_int_equal(used, sizeof(oh));
                memcpy(&oh, fx->out, sizeof(oh));
                assert_int_equal(oh.len, used);
                assert_true(oh.error < 0);
            }
        }
    }
    fx->split = 0;
    /* The file is as it was. */
    struct fuse_attr a;
    assert_int_equal(getattr(fx, f.nodeid, &a), 0);
    assert_int_equal(a.size, 0);
}

/* Several workers at once on the shared tables. */
struct worker {
    struct fx fx; /* a private copy: unique, out buffer */
    int id;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char name[32];
    snprintf(name, sizeof(name), "w%d", w->id);
    for (int i = 0; i < 300; i++) {
        struct fuse_entry_out e = {0}, h;
        uint64_t fh;
        if (lookup(&w->fx, FUSE_ROOT_ID, "hello.txt", &h)) {
            w->failures++;
            continue;
        }
        if (do_create(&w->fx, FUSE_ROOT_ID, name, O_RDWR, 0644, &e, &fh) ||
            do_write(&w->fx, e.nodeid, fh, 0, name, strlen(name)) != (int)strlen(name) ||
            do_release(&w->fx, e.nodeid, fh, false) ||
            call(&w->fx, FUSE_UNLINK, FUSE_ROOT_ID, S(name), NOPART, NOPART))
            w->failures++;
        forget(&w->fx, e.nodeid, 1);
        forget(&w->fx, h.nodeid, 1);
    }
    return NULL;
}

static void concurrent(void **state)
{
    struct fx *fx = *state;
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.fx = *fx, .id = i};
        w[i].fx.out = malloc(OUTCAP);
        assert_non_null(w[i].fx.out);
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        free(w[i].fx.out);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(fs_inodes_count(&fx->s->inodes), 1);
    assert_int_equal(fs_handles_count(&fx->s->handles), 0);
}

/* ---- the session across a snapshot (fs_server_save/restore) ---- */

/* The format's fixed sizes (session.c): where the tests reach in. */
#define SESS_HDR 48u
#define SESS_INO 44u
#define SESS_FH 24u

/* The server freed and made again on the same source, as a restored
 * VM's new process does; no INIT. */
static void renew(struct fx *fx)
{
    fs_server_free(fx->s);
    char err[256];
    struct fs_server_opts o = {.source = fx->src, .cache = FS_CACHE_AUTO, .xattr = true};
    fx->s = fs_server_new(&o, err, sizeof(err));
    assert_non_null(fx->s);
}

static void save(struct fx *fx, uint8_t **buf, size_t *len)
{
    char err[256] = "";
    assert_int_equal(fs_server_save(fx->s, buf, len, err, sizeof(err)), 0);
    assert_non_null(*buf);
    assert_true(*len >= SESS_HDR);
}

/* fs_server_restore(); on failure err must say what, under our prefix. */
static int restore(struct fx *fx, const uint8_t *buf, size_t len, unsigned *lost)
{
    char err[256] = "";
    unsigned l = 12345;
    int rc = fs_server_restore(fx->s, buf, len, &l, err, sizeof(err));
    if (rc) {
        assert_true(rc < 0);
        assert_non_null(strstr(err, "fs session: "));
    } else if (lost) {
        *lost = l;
    }
    return rc;
}

/* Nothing restored: no INIT, only the root, no fh. */
static void assert_fresh(struct fx *fx)
{
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), -EIO);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), 1);
    assert_int_equal(fs_handles_count(&fx->s->handles), 0);
}

/* One READDIR: names appended to names (n of them so far), the last
 * entry's offset in *off. Returns the new count, or -errno. */
static int readdir_once(struct fx *fx, uint64_t dir, uint64_t fh, uint64_t *off, uint32_t size,
                        char names[][64], int n)
{
    struct fuse_read_in in = {.fh = fh, .offset = *off, .size = size};
    int err = call(fx, FUSE_READDIR, dir, P(in), NOPART, NOPART);
    if (err)
        return err;
    uint8_t *p = payload(fx);
    for (size_t at = 0; at < fx->plen;) {
        struct fuse_dirent de;
        memcpy(&de, p + at, sizeof(de));
        assert_true(de.namelen > 0 && de.namelen < 64 && n < 32);
        memcpy(names[n], p + at + FUSE_NAME_OFFSET, de.namelen);
        names[n++][de.namelen] = 0;
        *off = de.off;
        at += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + de.namelen);
    }
    return n;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void set_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the inode entry for nodeid in a saved buffer. */
static size_t ino_at(const uint8_t *buf, size_t len, uint64_t nodeid)
{
    uint32_t n = (uint32_t)le(buf + 40, 4);
    size_t at = SESS_HDR;
    for (uint32_t k = 0; k < n; k++) {
        assert_true(at + SESS_INO <= len);
        if (le(buf + at, 8) == nodeid)
            return at;
        at += SESS_INO + le(buf + at + 40, 2) + le(buf + at + 42, 2);
    }
    fail_msg("nodeid 0x%llx not saved", (unsigned long long)nodeid);
    return 0;
}

/* The descriptors the server holds: none may be the canary or source's
 * parent. */
static void assert_confined(struct fx *fx)
{
    char p[128];
    struct stat canary, base, st;
    snprintf(p, sizeof(p), "%s/canary", fx->base);
    assert_int_equal(stat(p, &canary), 0);
    assert_int_equal(stat(fx->base, &base), 0);
    struct fs_server *s = fx->s;
    for (uint32_t k = 1; k < s->inodes.nslots + s->handles.nslots; k++) {
        int fd = k < s->inodes.nslots ? (s->inodes.slots[k].ino ? s->inodes.slots[k].ino->fd : -1)
                 : s->handles.slots[k - s->inodes.nslots].h
                     ? s->handles.slots[k - s->inodes.nslots].h->fd
                     : -1;
        if (fd < 0)
            continue;
        assert_int_equal(fstat(fd, &st), 0);
        assert_false(st.st_dev == canary.st_dev && st.st_ino == canary.st_ino);
        assert_false(st.st_dev == base.st_dev && st.st_ino == base.st_ino);
    }
}

static void session_round_trip(void **state)
{
    struct fx *fx = *state;
    char p[64];
    assert_int_equal(mkdir(strcat(strcpy(p, fx->src), "/d"), 0755), 0);
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof(p), "d/entry-%d", i);
        put_src(fx, p, "x");
    }
    put_src(fx, "d/file", "restored data");
    struct fuse_entry_out d, f;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "d", &d), 0);
    assert_int_equal(lookup(fx, d.nodeid, "file", &f), 0);
    assert_int_equal(lookup(fx, d.nodeid, "file", &f), 0); /* nlookup 2 */
    uint64_t fh, dfh;
    assert_int_equal(do_open(fx, f.nodeid, O_RDWR, &fh), 0);
    assert_int_equal(do_opendir(fx, d.nodeid, &dfh), 0);
    /* A READDIR that stops partway: the guest resumes from off. */
    static char names[32][64];
    uint64_t off = 0;
    int n = readdir_once(fx, d.nodeid, dfh, &off, 100, names, 0);
    assert_true(n >= 2 && n < 9);
    uint8_t *buf;
    size_t len;
    save(fx, &buf, &len);
    renew(fx);
    assert_fresh(fx);
    unsigned lost = 99;
    assert_int_equal(restore(fx, buf, len, &lost), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(fs_inodes_count(&fx->s->inodes), 3);
    assert_int_equal(fs_handles_count(&fx->s->handles), 2);
    /* No INIT, and the old numbers answer. */
    struct fuse_attr a;
    assert_int_equal(getattr(fx, FUSE_ROOT_ID, NULL), 0);
    assert_int_equal(getattr(fx, d.nodeid, &a), 0);
    assert_int_equal(a.ino, d.attr.ino);
    assert_int_equal(getattr(fx, f.nodeid, &a), 0);
    assert_int_equal(a.ino, f.attr.ino);
    char data[32] = {0};
    assert_int_equal(do_read(fx, f.nodeid, fh, 0, data, sizeof(data)), 13);
    assert_string_equal(data, "restored data");
    assert_int_equal(do_write(fx, f.nodeid, fh, 0, "R", 1), 1); /* still O_RDWR */
    /* The dir fh goes on from the guest's offset: every entry once. */
    int m = readdir_once(fx, d.nodeid, dfh, &off, 4096, names, n);
    assert_int_equal(m, 9);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++)
            assert_string_not_equal(names[i], names[j]);
    off = 0;
    assert_int_equal(readdir_once(fx, d.nodeid, dfh, &off, 4096, names, 0), 9);
    /* Nothing new collides with the restored numbers. */
    struct fuse_entry_out e;
    uint64_t fh2;
    assert_int_equal(lookup(fx, d.nodeid, "entry-0", &e), 0);
    assert_true(e.nodeid != d.nodeid && e.nodeid != f.nodeid && e.nodeid != FUSE_ROOT_ID);
    assert_int_equal(do_open(fx, e.nodeid, O_RDONLY, &fh2), 0);
    assert_true(fh2 != fh && fh2 != dfh);
    /* nlookup came across: two FORGETs of one each end the nodeid. */
    forget(fx, f.nodeid, 1);
    assert_int_equal(getattr(fx, f.nodeid, NULL), 0);
    forget(fx, f.nodeid, 1);
    assert_int_equal(getattr(fx, f.nodeid, NULL), -ESTALE);
    assert_int_equal(do_release(fx, f.nodeid, fh, false), 0);
    assert_int_equal(do_release(fx, d.nodeid, dfh, true), 0);
    /* A server with a session takes no second one. */
    assert_int_equal(restore(fx, buf, len, NULL), -EBUSY);
    free(buf);
}

/* A file and a directory moved by the host between save and restore:
 * found by file handle (as root, which may use them); by path alone
 * (forced), lost. */
static void session_renamed(void **state)
{
    struct fx *fx = *state;
    char a[256], b[256];
    path_in(fx, a, sizeof(a), "sub");
    assert_int_equal(mkdir(a, 0755), 0);
    for (int paths_only = 0; paths_only < 2; paths_only++) {
        char fname[16], dname[16];
        snprintf(fname, sizeof(fname), "r%d", paths_only);
        snprintf(dname, sizeof(dname), "dd%d", paths_only);
        put_src(fx, fname, "moving");
        path_in(fx, a, sizeof(a), dname);
        assert_int_equal(mkdir(a, 0755), 0);
        if (paths_only) {
            renew(fx);
            assert_int_equal(init_with(fx, 7, 31, 0xffffffffu, NULL), 0);
        }
        struct fuse_entry_out f, d;
        uint64_t fh, dfh;
        assert_int_equal(lookup(fx, FUSE_ROOT_ID, fname, &f), 0);
        assert_int_equal(lookup(fx, FUSE_ROOT_ID, dname, &d), 0);
        assert_int_equal(do_open(fx, f.nodeid, O_RDONLY, &fh), 0);
        assert_int_equal(do_opendir(fx, d.nodeid, &dfh), 0);
        uint8_t *buf;
        size_t len;
        save(fx, &buf, &len);
        renew(fx);
        path_in(fx, a, sizeof(a), fname);
        path_in(fx, b, sizeof(b), "sub/renamed-file");
        assert_int_equal(rename(a, b), 0);
        path_in(fx, a, sizeof(a), dname);
        path_in(fx, b, sizeof(b), "sub/renamed-dir");
        assert_int_equal(rename(a, b), 0);
        fx->s->no_handles = paths_only;
        unsigned lost = 99;
        assert_int_equal(restore(fx, buf, len, &lost), 0);
        free(buf);
        char data[16] = {0};
        uint64_t off = 0;
        static char names[32][64];
        if (!paths_only && geteuid() == 0) {
            assert_int_equal(lost, 0);
            assert_int_equal(getattr(fx, f.nodeid, NULL), 0);
            assert_int_equal(do_read(fx, f.nodeid, fh, 0, data, sizeof(data)), 6);
            assert_string_equal(data, "moving");
            assert_int_equal(getattr(fx, d.nodeid, NULL), 0);
            assert_int_equal(readdir_once(fx, d.nodeid, dfh, &off, 4096, names, 0), 2);
        } else if (paths_only) {
            /* Their saved paths now name nothing. */
            assert_int_equal(lost, 4);
            assert_int_equal(getattr(fx, f.nodeid, NULL), -ESTALE);
            assert_int_equal(do_read(fx, f.nodeid, fh, 0, data, sizeof(data)), -EBADF);
            assert_int_equal(getattr(fx, d.nodeid, NULL), -ESTALE);
            assert_int_equal(readdir_once(fx, d.nodeid, dfh, &off, 4096, names, 0), -EBADF);
        }
        path_in(fx, a, sizeof(a), "sub/renamed-file");
        unlink(a);
        path_in(fx, a, sizeof(a), "sub/renamed-dir");
        rmdir(a);
    }
}

/* A file deleted between save and restore is lost, its nodeid ESTALE and
 * never issued again; the rest comes back. */
static void session_deleted(void **state)
{
    struct fx *fx = *state;
    put_src(fx, "gone", "soon");
    struct fuse_entry_out g, h;
    uint64_t gfh, hfh;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "gone", &g), 0);
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &h), 0);
    assert_int_equal(do_open(fx, g.nodeid, O_RDONLY, &gfh), 0);
    assert_int_equal(do_open(fx, h.nodeid, O_RDONLY, &hfh), 0);
    uint8_t *buf;
    size_t len;
    save(fx, &buf, &len);
    renew(fx);
    char p[256];
    path_in(fx, p, sizeof(p), "gone");
    assert_int_equal(unlink(p), 0);
    unsigned lost = 99;
    assert_int_equal(restore(fx, buf, len, &lost), 0);
    free(buf);
    assert_int_equal(lost, 2);
    char data[16];
    assert_int_equal(getattr(fx, g.nodeid, NULL), -ESTALE);
    assert_int_equal(do_read(fx, g.nodeid, gfh, 0, data, sizeof(data)), -EBADF);
    assert_int_equal(do_release(fx, g.nodeid, gfh, false), -EBADF);
    assert_int_equal(getattr(fx, h.nodeid, NULL), 0);
    assert_int_equal(do_read(fx, h.nodeid, hfh, 0, data, sizeof(data)), 12);
    /* New files may take the lost slots, never the lost numbers. */
    for (int i = 0; i < 4; i++) {
        char name[16];
        struct fuse_entry_out e;
        uint64_t fh;
        snprintf(name, sizeof(name), "new%d", i);
        assert_int_equal(do_create(fx, FUSE_ROOT_ID, name, O_RDWR, 0644, &e, &fh), 0);
        assert_true(e.nodeid != g.nodeid && e.nodeid != h.nodeid);
        assert_true(fh != gfh && fh != hfh);
    }
}

/* A session buffer damaged in every way a file may be: refused with a
 * message, the server left fresh; never a crash. */
static void session_damaged(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out d, f;
    uint64_t fh, dfh;
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "d", 0755, &d), 0);
    assert_int_equal(do_create(fx, d.nodeid, "f", O_RDWR, 0644, &f, &fh), 0);
    assert_int_equal(do_opendir(fx, d.nodeid, &dfh), 0);
    uint8_t *buf;
    size_t len;
    save(fx, &buf, &len);
    renew(fx);
    uint8_t *m = malloc(len + 8);
    assert_non_null(m);
    /* Every truncation. */
    for (size_t l = 0; l < len; l++) {
        assert_true(restore(fx, buf, l, NULL) < 0);
        assert_fresh(fx);
    }
    assert_true(restore(fx, NULL, 0, NULL) < 0);
    /* A byte too many. */
    memcpy(m, buf, len);
    m[len] = 0;
    assert_int_equal(restore(fx, m, len + 1, NULL), -EINVAL);
    struct {
        size_t at;
        unsigned n;
        uint64_t v;
    } bad[] = {
        {0, 1, 'Q'},                       /* magic */
        {4, 4, 2},                         /* version */
        {8, 4, 2},                         /* ready flag */
        {12, 4, 30},                       /* minor */
        {16, 4, 0x80000000u},              /* a flag never offered */
        {20, 4, FS_MAX_WRITE + 1},         /* max_write */
        {40, 4, 3},                        /* one inode more */
        {40, 4, 1},                        /* one fewer */
        {40, 4, 0xffffffffu},              /* absurd counts */
        {44, 4, 0xffffffffu},
        {44, 4, 3},
        {SESS_HDR, 4, 1},                  /* slot 1: the root's */
        {SESS_HDR + 4, 4, 0},              /* generation 0 */
        {SESS_HDR + 8, 8, 0},              /* nlookup 0 */
        {SESS_HDR + 32, 4, 0170000},       /* no file type */
        {SESS_HDR + 40, 2, 129},           /* handle past MAX_HANDLE_SZ */
        {SESS_HDR + 42, 2, 0xffff},        /* absurd path length */
        {SESS_HDR + 42, 2, 4000},          /* a path past the buffer */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(m, buf, len);
        set_le(m + bad[i].at, bad[i].v, bad[i].n);
        assert_int_equal(restore(fx, m, len, NULL), -EINVAL);
        assert_fresh(fx);
    }
    /* The fhs: the dir fh (saved second) on the file's nodeid, an fh on
     * a nodeid not saved, flags no fh has, and one slot twice. */
    size_t fhs = len - 2 * SESS_FH;
    uint64_t fn = le(buf + fhs + 8, 8);
    struct {
        size_t at;
        unsigned n;
        uint64_t v;
    } badfh[] = {
        {fhs + SESS_FH + 8, 8, fn},
        {fhs + 8, 8, 0x0000000700000009ull},
        {fhs + 16, 4, O_CREAT},
        {fhs + 20, 4, 7},
        {fhs + SESS_FH, 8, le(buf + fhs, 8)},
        {fhs, 8, 0},
    };
    for (size_t i = 0; i < sizeof(badfh) / sizeof(badfh[0]); i++) {
        memcpy(m, buf, len);
        set_le(m + badfh[i].at, badfh[i].v, badfh[i].n);
        assert_int_equal(restore(fx, m, len, NULL), -EINVAL);
        assert_fresh(fx);
    }
    /* Two nodeids on one inode: d's entry again as slot 9. */
    size_t di = ino_at(buf, len, d.nodeid), fi = ino_at(buf, len, f.nodeid);
    size_t dlen = fi - di, ins = len - 2 * SESS_FH;
    uint8_t *two = malloc(len + dlen);
    assert_non_null(two);
    memcpy(two, buf, ins);
    memcpy(two + ins, buf + di, dlen);
    memcpy(two + ins + dlen, buf + ins, len - ins);
    set_le(two + 40, le(buf + 40, 4) + 1, 4);
    set_le(two + ins, 0x100000009ull, 8);
    assert_int_equal(restore(fx, two, len + dlen, NULL), -EINVAL);
    assert_fresh(fx);
    free(two);
    /* A nodeid on the root's inode, by the root's handle. */
    struct {
        struct file_handle fh;
        unsigned char b[MAX_HANDLE_SZ];
    } rh = {.fh.handle_bytes = MAX_HANDLE_SZ};
    int mnt;
    struct stat rst;
    assert_int_equal(stat(fx->src, &rst), 0);
    if (!name_to_handle_at(AT_FDCWD, fx->src, &rh.fh, &mnt, 0) &&
        rh.fh.handle_bytes == le(buf + di + 40, 2)) {
        memcpy(m, buf, len);
        set_le(m + di + 16, (uint64_t)rst.st_dev, 8);
        set_le(m + di + 24, (uint64_t)rst.st_ino, 8);
        set_le(m + di + 36, (uint32_t)rh.fh.handle_type, 4);
        memcpy(m + di + SESS_INO, rh.fh.f_handle, rh.fh.handle_bytes);
        assert_int_equal(restore(fx, m, len, NULL), -EINVAL);
        assert_fresh(fx);
    }
    /* Every byte flipped: refused or restored, never a crash or an escape. */
    for (size_t i = 0; i < len; i++) {
        memcpy(m, buf, len);
        m[i] ^= 0xff;
        if (restore(fx, m, len, NULL) == 0) {
            assert_confined(fx);
            renew(fx);
        }
        assert_fresh(fx);
    }
    /* And after all that, the real one. */
    unsigned lost = 99;
    assert_int_equal(restore(fx, buf, len, &lost), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(getattr(fx, f.nodeid, NULL), 0);
    free(m);
    free(buf);
}

/* A buffer that names a file outside source, by path ("../canary") or by
 * file handle (the canary's, a directory's above source): left out, and
 * no later request reaches it. */
static void session_outside(void **state)
{
    struct fx *fx = *state;
    struct fuse_entry_out h, d;
    uint64_t fh, dfh;
    assert_int_equal(lookup(fx, FUSE_ROOT_ID, "hello.txt", &h), 0);
    assert_int_equal(do_mkdir(fx, FUSE_ROOT_ID, "d", 0755, &d), 0);
    assert_int_equal(do_open(fx, h.nodeid, O_RDONLY, &fh), 0);
    assert_int_equal(do_opendir(fx, d.nodeid, &dfh), 0);
    uint8_t *buf;
    size_t len;
    save(fx, &buf, &len);
    char canary[128];
    snprintf(canary, sizeof(canary), "%s/canary", fx->base);
    struct stat cst, bst;
    assert_int_equal(stat(canary, &cst), 0);
    assert_int_equal(stat(fx->base, &bst), 0);
    size_t hi = ino_at(buf, len, h.nodeid), di = ino_at(buf, len, d.nodeid);
    assert_int_equal(le(buf + hi + 42, 2), 9);
    assert_memory_equal(buf + hi + SESS_INO + le(buf + hi + 40, 2), "hello.txt", 9);
    for (int variant = 0; variant < 3; variant++) {
        uint8_t *m = malloc(len);
        assert_non_null(m);
        memcpy(m, buf, len);
        /* hello.txt's entry: the canary's inode at "../canary". */
        set_le(m + hi + 16, (uint64_t)cst.st_dev, 8);
        set_le(m + hi + 24, (uint64_t)cst.st_ino, 8);
        memcpy(m + hi + SESS_INO + le(m + hi + 40, 2), "../canary", 9);
        if (variant == 2) {
            /* And real handles of what lies outside: the canary for the
             * file, source's parent for the directory. */
            struct {
                struct file_handle fh;
                unsigned char b[MAX_HANDLE_SZ];
            } ch = {.fh.handle_bytes = MAX_HANDLE_SZ}, bh = {.fh.handle_bytes = MAX_HANDLE_SZ};
            int mnt;
            if (name_to_handle_at(AT_FDCWD, canary, &ch.fh, &mnt, 0) ||
                name_to_handle_at(AT_FDCWD, fx->base, &bh.fh, &mnt, 0)) {
                free(m);
                continue; /* no handles on this file system */
            }
            assert_int_equal(ch.fh.handle_bytes, le(m + hi + 40, 2));
            assert_int_equal(bh.fh.handle_bytes, le(m + di + 40, 2));
            set_le(m + hi + 36, (uint32_t)ch.fh.handle_type, 4);
            memcpy(m + hi + SESS_INO, ch.fh.f_handle, ch.fh.handle_bytes);
            set_le(m + di + 16, (uint64_t)bst.st_dev, 8);
            set_le(m + di + 24, (uint64_t)bst.st_ino, 8);
            set_le(m + di + 36, (uint32_t)bh.fh.handle_type, 4);
            memcpy(m + di + SESS_INO, bh.fh.f_handle, bh.fh.handle_bytes);
        }
        renew(fx);
        fx->s->no_handles = variant == 1;
        unsigned lost = 99;
        assert_int_equal(restore(fx, m, len, &lost), 0);
        assert_int_equal(lost, variant == 2 ? 4 : 2);
        assert_confined(fx);
        char data[64] = {0};
        assert_int_equal(getattr(fx, h.nodeid, NULL), -ESTALE);
        assert_int_equal(do_read(fx, h.nodeid, fh, 0, data, sizeof(data)), -EBADF);
        assert_int_equal(call(fx, FUSE_LOOKUP, h.nodeid, S(".."), NOPART, NOPART), -ESTALE);
        if (variant == 2) {
            assert_int_equal(getattr(fx, d.nodeid, NULL), -ESTALE);
            assert_int_equal(call(fx, FUSE_LOOKUP, d.nodeid, S("canary"), NOPART, NOPART),
                             -ESTALE);
        } else {
            assert_int_equal(getattr(fx, d.nodeid, NULL), 0);
            assert_int_equal(call(fx, FUSE_LOOKUP, d.nodeid, S(".."), NOPART, NOPART), 0);
        }
        free(m);
    }
    free(buf);
}

static void new_refuses(void **state)
{
    (void)state;
    char err[256] = "";
    struct fs_server_opts o = {.source = "/nonexistent/plugvm-fs"};
    assert_null(fs_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/plugvm-fs"));
    o.source = "/etc/hostname";
    assert_null(fs_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "source"));
    o.source = "";
    assert_null(fs_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "source"));
    o = (struct fs_server_opts){.source = "/tmp", .cache = (enum fs_cache)7};
    assert_null(fs_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cache"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_refuses),
        cmocka_unit_test_setup_teardown(init_negotiates, setup_noinit, teardown),
        cmocka_unit_test_setup_teardown(init_versions, setup_noinit, teardown),
        cmocka_unit_test(cache_modes),
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_split, setup, teardown),
        cmocka_unit_test_setup_teardown(big_io, setup, teardown),
        cmocka_unit_test_setup_teardown(readdir_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(readdir_split, setup, teardown),
        cmocka_unit_test_setup_teardown(renames, setup, teardown),
        cmocka_unit_test_setup_teardown(unlink_open_file, setup, teardown),
        cmocka_unit_test_setup_teardown(setattr_all, setup, teardown),
        cmocka_unit_test_setup_teardown(symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(links, setup, teardown),
        cmocka_unit_test_setup_teardown(xattrs, setup, teardown),
        cmocka_unit_test(xattrs_off),
        cmocka_unit_test_setup_teardown(posix_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(fallocate_lseek_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(statfs_access, setup, teardown),
        cmocka_unit_test_setup_teardown(forgets, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(ownership_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(escape_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(escape_names, setup, teardown),
        cmocka_unit_test_setup_teardown(escape_rename_race, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(session_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(session_renamed, setup, teardown),
        cmocka_unit_test_setup_teardown(session_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(session_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(session_outside, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
