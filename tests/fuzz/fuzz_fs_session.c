/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: fs_server_restore() (plugins/fs/session.c) fed
 * session buffers as a damaged or hostile snapshot file would hold them.
 * One source tree is made once (a file, a directory with a file in it, a
 * symlink to "/") with a canary file next to it, and a real session is
 * saved from it: INIT, LOOKUPs of the four names, an OPEN of the file and
 * an OPENDIR of the directory. Its nodeids are 0x100000002.. and its fhs
 * 0x100000001 (the file) and 0x100000002 (the directory).
 *
 * Input: byte 0 bit 0 clear: the rest is the buffer as it is. Set: the
 * rest is XORed over the saved session (so mutations stay near a buffer
 * whose (st_dev, st_ino) and file handles are real), cut to the input's
 * length when bit 1 is set, else the session's.
 *
 * Each input restores into a fresh server; when that succeeds, GETATTR
 * and READ/READDIR go to the numbers a session could hold. Checks: a
 * refusal leaves the server fresh (a request is EIO: no INIT), the replies
 * are well framed, and no descriptor the server holds is the canary,
 * source's parent or the host's "/". */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "server.h"
#include "fs_fuzz_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *saved;
static size_t saved_len;

/* One request to s; returns the reply's error. */
static int request(struct fs_server *s, uint32_t op, uint64_t nodeid, const void *arg, size_t n)
{
    static uint8_t out[4096];
    uint8_t req[sizeof(struct fuse_in_header) + 64];
    struct fuse_in_header h = {.len = (uint32_t)(sizeof(h) + n), .opcode = op, .unique = 7,
                               .nodeid = nodeid};
    memcpy(req, &h, sizeof(h));
    memcpy(req + sizeof(h), arg, n);
    struct iovec in = {req, sizeof(h) + n}, ov = {out, sizeof(out)};
    size_t used = fs_server_handle(s, &in, 1, &ov, 1);
    struct fuse_out_header oh;
    if (used < sizeof(oh) || used > sizeof(out))
        abort();
    memcpy(&oh, out, sizeof(oh));
    if (oh.len != used || oh.error > 0 || (oh.error && used != sizeof(oh)))
        abort();
    return oh.error;
}

static struct fs_server *new_server(void)
{
    char err[256];
    struct fs_server_opts o = {.source = src, .cache = FS_CACHE_AUTO, .xattr = true};
    struct fs_server *s = fs_server_new(&o, err, sizeof(err));
    if (!s)
        abort();
    return s;
}

static uint64_t lookup(struct fs_server *s, uint64_t parent, const char *name)
{
    static uint8_t out[4096];
    uint8_t req[sizeof(struct fuse_in_header) + 64];
    size_t n = strlen(name) + 1;
    struct fuse_in_header h = {.len = (uint32_t)(sizeof(h) + n), .opcode = FUSE_LOOKUP,
                               .unique = 3, .nodeid = parent};
    memcpy(req, &h, sizeof(h));
    memcpy(req + sizeof(h), name, n);
    struct iovec in = {req, sizeof(h) + n}, ov = {out, sizeof(out)};
    struct fuse_entry_out e;
    if (fs_server_handle(s, &in, 1, &ov, 1) != sizeof(struct fuse_out_header) + sizeof(e))
        abort();
    memcpy(&e, out + sizeof(struct fuse_out_header), sizeof(e));
    return e.nodeid;
}

static void once(void)
{
    make_base("fuzz-fss");
    char p[160];
    if (mkdir(src, 0755))
        abort();
    put_file(src, "hello.txt", "hello, guest");
    snprintf(p, sizeof(p), "%s/dir", src);
    mkdir(p, 0755);
    put_file(src, "dir/inner", "inner");
    snprintf(p, sizeof(p), "%s/link", src);
    symlink("/", p);
    struct fs_server *s = new_server();
    struct fuse_init_in init = {.major = 7, .minor = 31, .max_readahead = 1 << 20,
                                .flags = 0xffffffffu};
    if (request(s, FUSE_INIT, 0, &init, sizeof(init)))
        abort();
    uint64_t file = lookup(s, FUSE_ROOT_ID, "hello.txt");
    uint64_t d = lookup(s, FUSE_ROOT_ID, "dir");
    lookup(s, d, "inner");
    lookup(s, FUSE_ROOT_ID, "link");
    struct fuse_open_in oi = {.flags = O_RDWR};
    if (request(s, FUSE_OPEN, file, &oi, sizeof(oi)))
        abort();
    oi.flags = O_RDONLY;
    if (request(s, FUSE_OPENDIR, d, &oi, sizeof(oi)))
        abort();
    char err[256];
    if (fs_server_save(s, &saved, &saved_len, err, sizeof(err)))
        abort();
    fs_server_free(s);
    /* The unmutated session comes back whole, or the XOR mode would only
     * ever fuzz refusals. */
    s = new_server();
    unsigned lost = 1;
    if (fs_server_restore(s, saved, saved_len, &lost, err, sizeof(err)) || lost ||
        fs_inodes_count(&s->inodes) != 5 || fs_handles_count(&s->handles) != 2)
        abort();
    fs_server_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        once();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    size_t len = size;
    uint8_t *buf = NULL;
    if (mode & 1) {
        len = (mode & 2) ? size : saved_len;
        buf = calloc(len ? len : 1, 1);
        if (!buf)
            abort();
        memcpy(buf, saved, len < saved_len ? len : saved_len);
        for (size_t i = 0; i < size && i < len; i++)
            buf[i] ^= data[i];
    } else {
        /* An exact copy: ASan sees any read past the end. */
        buf = malloc(len ? len : 1);
        if (!buf)
            abort();
        memcpy(buf, data, len);
    }
    struct fs_server *s = new_server();
    char err[256];
    unsigned lost;
    int rc = fs_server_restore(s, buf, len, &lost, err, sizeof(err));
    struct fuse_getattr_in ga = {0};
    if (rc) {
        if (rc > 0 || strncmp(err, "fs session: ", 12))
            abort();
        if (request(s, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga)) != -EIO ||
            fs_inodes_count(&s->inodes) != 1 || fs_handles_count(&s->handles))
            abort(); /* half applied */
    } else {
        check_confined(s);
        static const uint64_t ids[] = {FUSE_ROOT_ID, 0x100000002ull, 0x100000003ull,
                                       0x100000004ull, 0x100000005ull};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
            request(s, FUSE_GETATTR, ids[i], &ga, sizeof(ga));
        static const uint64_t fhs[] = {1, 0x100000001ull, 0x100000002ull};
        for (size_t i = 0; i < sizeof(fhs) / sizeof(fhs[0]); i++) {
            struct fuse_read_in rd = {.fh = fhs[i], .size = 256};
            request(s, FUSE_READ, 0x100000002ull, &rd, sizeof(rd));
            request(s, FUSE_READDIR, 0x100000003ull, &rd, sizeof(rd));
        }
    }
    fs_server_free(s);
    free(buf);
    return 0;
}
