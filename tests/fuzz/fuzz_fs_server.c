/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the virtio-fs FUSE server (plugins/fs) fed requests as
 * a hostile guest would send them. Each input gets a fresh server on a
 * fresh source tree (a file, a directory, a symlink to "/" and one to
 * "../..") with a canary file next to it, so nodeids and fhs come out the
 * same for the same input: slot 2 is the first inode looked up,
 * 0x100000002 its nodeid, 0x100000001 the first fh.
 *
 * Input: byte 0 picks the server (bit 0 read-only, bits 1-2 the cache
 * mode, bit 3 xattr, bit 4 no INIT first). Then requests, each a 2-byte
 * little-endian length L, a control byte and L bytes: the control byte's
 * bits 0-1 cut the request into 1-3 iovecs (each an exact heap copy, so
 * ASan sees any overread), bits 2-4 pick the out room, bit 7 writes L into
 * the header's len so requests get past the length check.
 *
 * Checks: the used length fits the out buffers and matches the reply
 * header, errors are header-only, and after each input no descriptor the
 * server holds (inode or fh) is the canary, source's parent, or the
 * host's "/": the escape this server exists to prevent. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "server.h"
#include "fs_fuzz_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 64
/* Clamps that keep the host's disk or tmpfs out of it: the server allows
 * more, within what the guest's own disk would hold. */
#define MAX_ALLOC (1u << 20)

static void put(const char *rel, const char *content)
{
    put_file(src, rel, content);
}

static void once(void)
{
    make_base("fuzz-fs");
    /* A backstop for sizes the clamps below miss; the signal would kill
     * the fuzzer where the server expects EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {64u << 20, 64u << 20};
    setrlimit(RLIMIT_FSIZE, &rl);
}

static void make_tree(void)
{
    char p[160];
    if (mkdir(src, 0755))
        abort();
    put("hello.txt", "hello, guest");
    snprintf(p, sizeof(p), "%s/dir", src);
    mkdir(p, 0755);
    put("dir/inner", "inner");
    snprintf(p, sizeof(p), "%s/link", src);
    symlink("/", p);
    snprintf(p, sizeof(p), "%s/up", src);
    symlink("../..", p);
}

static int chmod_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_D || flag == FTW_DNR)
        chmod(p, 0700);
    return 0;
}

/* Large but valid sizes trimmed so one input cannot fill the host. */
static void clamp(uint8_t *req, size_t len)
{
    struct fuse_in_header h;
    if (len < sizeof(h))
        return;
    memcpy(&h, req, sizeof(h));
    uint8_t *arg = req + sizeof(h);
    if (h.opcode == FUSE_FALLOCATE && len >= sizeof(h) + sizeof(struct fuse_fallocate_in)) {
        struct fuse_fallocate_in in;
        memcpy(&in, arg, sizeof(in));
        if (in.length > MAX_ALLOC && in.offset <= INT64_MAX && in.length <= INT64_MAX - in.offset)
            in.length %= MAX_ALLOC;
        memcpy(arg, &in, sizeof(in));
    } else if (h.opcode == FUSE_COPY_FILE_RANGE &&
               len >= sizeof(h) + sizeof(struct fuse_copy_file_range_in)) {
        struct fuse_copy_file_range_in in;
        memcpy(&in, arg, sizeof(in));
        if (in.len > MAX_ALLOC)
            in.len %= MAX_ALLOC;
        memcpy(arg, &in, sizeof(in));
    }
}

static void one_request(struct fs_server *s, const uint8_t *data, size_t len, uint8_t ctl)
{
    static const size_t rooms[8] = {0, 8, 16, 24, 100, 152, 4096, FS_MAX_WRITE + 4096};
    uint8_t *req = malloc(len ? len : 1);
    if (!req)
        abort();
    memcpy(req, data, len);
    if ((ctl & 0x80) && len >= 4) {
        uint32_t l = (uint32_t)len;
        memcpy(req, &l, 4);
    }
    clamp(req, len);
    /* 1-3 iovecs, cut where the length's bytes say. */
    int nin = 1 + (ctl & 3) % 3;
    size_t cuts[3] = {0, len, len};
    if (nin >= 2)
        cuts[1] = len ? (len * 7 / 13) : 0;
    if (nin == 3)
        cuts[2] = len ? (cuts[1] + (len - cuts[1]) / 2) : 0;
    struct iovec in[3];
    for (int i = 0; i < nin; i++) {
        size_t a = i == 0 ? 0 : cuts[i];
        size_t b = i + 1 < nin ? cuts[i + 1] : len;
        size_t n = b - a;
        uint8_t *piece = malloc(n ? n : 1); /* exact: ASan catches overreads */
        if (!piece)
            abort();
        memcpy(piece, req + a, n);
        in[i] = (struct iovec){piece, n};
    }
    size_t room = rooms[(ctl >> 2) & 7];
    /* The out room in two buffers, split at an odd place. */
    size_t first = room / 3 + (room ? 1 : 0);
    if (first > room)
        first = room;
    uint8_t *o1 = malloc(first ? first : 1), *o2 = malloc(room - first ? room - first : 1);
    if (!o1 || !o2)
        abort();
    struct iovec out[2] = {{o1, first}, {o2, room - first}};
    size_t used = fs_server_handle(s, in, nin, out, 2);
    if (used > room)
        abort();
    if (used) {
        if (used < sizeof(struct fuse_out_header))
            abort();
        uint8_t hb[sizeof(struct fuse_out_header)];
        size_t k = first < sizeof(hb) ? first : sizeof(hb);
        memcpy(hb, o1, k);
        memcpy(hb + k, o2, sizeof(hb) - k);
        struct fuse_out_header oh;
        memcpy(&oh, hb, sizeof(oh));
        if (oh.len != used || oh.error > 0 || oh.error < -4095 || (oh.error && used != sizeof(oh)))
            abort();
    }
    for (int i = 0; i < nin; i++)
        free(in[i].iov_base);
    free(o1);
    free(o2);
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        once();
    if (size < 1)
        return 0;
    uint8_t cfg = data[0];
    data++;
    size--;
    make_tree();
    char err[256];
    struct fs_server_opts o = {.source = src, .read_only = cfg & 1,
                               .cache = (enum fs_cache)(((cfg >> 1) & 3) % 3), .xattr = cfg & 8};
    struct fs_server *s = fs_server_new(&o, err, sizeof(err));
    if (!s)
        abort();
    if (!(cfg & 16)) {
        struct {
            struct fuse_in_header h;
            struct fuse_init_in in;
        } init = {.h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1},
                  .in = {.major = 7, .minor = 31, .max_readahead = 1 << 20, .flags = 0xffffffffu}};
        uint8_t out[256];
        struct iovec i = {&init, sizeof(init)}, ov = {out, sizeof(out)};
        if (fs_server_handle(s, &i, 1, &ov, 1) != sizeof(struct fuse_out_header) +
                                                        sizeof(struct fuse_init_out))
            abort();
    }
    for (int n = 0; n < MAX_REQUESTS && size >= 3; n++) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        uint8_t ctl = data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        one_request(s, data, len, ctl);
        data += len;
        size -= len;
    }
    check_confined(s);
    fs_server_free(s);
    chmod(src, 0700);
    nftw(src, chmod_cb, 16, FTW_PHYS);
    nftw(src, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    char p[160];
    snprintf(p, sizeof(p), "%s/canary", base);
    if (stat(p, &st) || st.st_size != 6 || st.st_ino != forbidden[0].st_ino)
        abort();
    return 0;
}
