/* SPDX-License-Identifier: Apache-2.0 */
/* core/image/rootfs.c: entries applied to a fresh ext4 image, which is
 * then judged by e2fsprogs' own tools, not by this code: `e2fsck -fn`
 * must find it clean, and `debugfs` must read back every owner, mode,
 * device number, link target and file content the entries gave. Skips
 * (77) where e2fsprogs is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/entry.h"
#include "image/rootfs.h"

static char img[64];

struct mem {
    const char *p;
    size_t len, off;
};

/* The data in 4000-byte blocks (not block-aligned on purpose). */
static int mem_data(void *ctx, const void **buf, size_t *len, uint64_t *off)
{
    struct mem *m = ctx;
    size_t k = m->len - m->off < 4000 ? m->len - m->off : 4000;
    if (!k)
        return 0;
    *buf = m->p + m->off;
    *len = k;
    *off = m->off;
    m->off += k;
    return 1;
}

static void apply(struct rootfs *fs, const char *path, mode_t mode, uint32_t uid, uint32_t gid, const char *data,
                  const char *link, const char *symlink)
{
    struct layer_entry e;
    char err[1024];
    if (layer_entry_classify(path, mode & S_IFMT, link, &e, err, sizeof(err)))
        fail_msg("classify %s: %s", path, err);
    struct rootfs_meta m = {.mode = mode, .uid = uid, .gid = gid, .mtime = 1700000000, .symlink = symlink};
    if (S_ISCHR(mode))
        m.rdev_major = 1, m.rdev_minor = 3;
    if (S_ISBLK(mode))
        m.rdev_major = 259, m.rdev_minor = 300; /* the "new" encoding */
    struct mem mm = {data, data ? strlen(data) : 0, 0};
    m.size = mm.len;
    if (rootfs_apply(fs, &e, &m, mem_data, &mm, err, sizeof(err)))
        fail_msg("apply %s: %s", path, err);
}

/* debugfs -R CMD IMG's stdout. */
static char *debugfs(const char *cmd)
{
    static char out[16384];
    char line[512];
    snprintf(line, sizeof(line), "PATH=/usr/sbin:/sbin:$PATH debugfs -R '%s' %s 2>/dev/null", cmd, img);
    FILE *p = popen(line, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

static void need(const char *s, const char *what, const char *cmd)
{
    if (!strstr(s, what))
        fail_msg("debugfs '%s' lacks \"%s\":\n%s", cmd, what, s);
}

int sparse_data(void *ctx, const void **buf, size_t *len, uint64_t *off);
int sparse_data(void *ctx, const void **buf, size_t *len, uint64_t *off)
{
    static char blk[4000];
    int *n = ctx;
    if (*n == 2)
        return 0;
    memset(blk, 'x', sizeof(blk));
    *buf = blk;
    *len = sizeof(blk);
    *off = *n ? 1u << 20 : 0;
    ++*n;
    return 1;
}

static void layers_applied(void **state)
{
    (void)state;
    strcpy(img, "/tmp/plugvm-rootfs-XXXXXX");
    int fd = mkstemp(img);
    assert_true(fd >= 0);
    close(fd);
    struct rootfs *fs;
    char err[1024];
    if (rootfs_create(img, 64 << 20, 4096, &fs, err, sizeof(err)))
        fail_msg("%s", err);
    /* Layer 1 */
    apply(fs, "etc/", S_IFDIR | 0755, 0, 0, NULL, NULL, NULL);
    apply(fs, "etc/hello", S_IFREG | 0640, 1000, 100, "hi there\n", NULL, NULL);
    apply(fs, "etc/motd", S_IFREG | 0644, 0, 0, "welcome\n", NULL, NULL);
    apply(fs, "usr/bin/tool", S_IFREG | 04755, 0, 0, "#!/bin/sh\n", NULL, NULL); /* parents made */
    apply(fs, "bin/sh", S_IFLNK | 0777, 0, 0, NULL, NULL, "/usr/bin/tool");
    apply(fs, "usr/bin/tool2", S_IFREG | 0755, 0, 0, NULL, "usr/bin/tool", NULL); /* hardlink */
    apply(fs, "dev/null", S_IFCHR | 0666, 0, 0, NULL, NULL, NULL);
    apply(fs, "dev/nvme", S_IFBLK | 0660, 0, 6, NULL, NULL, NULL);
    apply(fs, "run/fifo", S_IFIFO | 0600, 70000, 70001, NULL, NULL, NULL); /* 32-bit ids */
    apply(fs, "var/cache/a/b", S_IFREG | 0644, 0, 0, "deep\n", NULL, NULL);
    static char big[300000];
    for (size_t i = 0; i + 1 < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    apply(fs, "big", S_IFREG | 0644, 0, 0, big, NULL, NULL);
    /* Layer 2: a whiteout, an opaque folder, a replacement, a folder over a folder */
    apply(fs, "etc/.wh.motd", S_IFREG | 0644, 0, 0, NULL, NULL, NULL);
    apply(fs, "var/cache/.wh..wh..opq", S_IFREG | 0644, 0, 0, NULL, NULL, NULL);
    apply(fs, "var/cache/new", S_IFREG | 0644, 0, 0, "fresh\n", NULL, NULL);
    apply(fs, "etc/hello", S_IFREG | 0600, 0, 0, "replaced\n", NULL, NULL);
    apply(fs, "etc", S_IFDIR | 0700, 5, 5, NULL, NULL, NULL);
    /* xattrs, nanoseconds and a time past 2038 (ext4's epoch bits). */
    static const unsigned char cap[20] = {0, 0, 0, 2, 0, 0x20, 0, 0}; /* VFS_CAP_REVISION_2, CAP_NET_RAW */
    struct rootfs_xattr xa[] = {{"security.capability", cap, sizeof(cap)}, {"user.note", "kept", 4}};
    struct layer_entry e;
    struct rootfs_meta m = {.mode = S_IFREG | 0755, .mtime = 4102444800 /* 2100-01-01 */, .mtime_nsec = 123456789,
                            .xattrs = xa, .nxattrs = 2, .size = 4};
    struct mem mm = {"ping", 4, 0};
    assert_int_equal(layer_entry_classify("bin/ping", S_IFREG, NULL, &e, err, sizeof(err)), 0);
    if (rootfs_apply(fs, &e, &m, mem_data, &mm, err, sizeof(err)))
        fail_msg("%s", err);
    /* A sparse file: 4000 bytes at 0 and at 1 MiB, 2 MiB long. */
    assert_int_equal(layer_entry_classify("sparse", S_IFREG, NULL, &e, err, sizeof(err)), 0);
    m = (struct rootfs_meta){.mode = S_IFREG | 0644, .size = 2 << 20};
    int sp = 0;
    if (rootfs_apply(fs, &e, &m, sparse_data, &sp, err, sizeof(err)))
        fail_msg("%s", err);
    /* Data past the size its header gave is refused. */
    m.size = 10;
    struct mem over = {"0123456789ab", 12, 0};
    assert_int_equal(layer_entry_classify("over", S_IFREG, NULL, &e, err, sizeof(err)), 0);
    assert_int_equal(rootfs_apply(fs, &e, &m, mem_data, &over, err, sizeof(err)), -EINVAL);
    /* Under a symlink: refused, not followed. */
    m = (struct rootfs_meta){.mode = S_IFREG | 0644};
    assert_int_equal(layer_entry_classify("bin/sh/x", S_IFREG, NULL, &e, err, sizeof(err)), 0);
    assert_int_equal(rootfs_apply(fs, &e, &m, NULL, NULL, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, "symbolic link"));
    if (rootfs_close(fs, err, sizeof(err)))
        fail_msg("%s", err);

    /* e2fsck's verdict: no errors, nothing fixed (-n). */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "PATH=/usr/sbin:/sbin:$PATH e2fsck -fn %s >/dev/null 2>&1", img);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(cmd, sizeof(cmd), "PATH=/usr/sbin:/sbin:$PATH e2fsck -fn %s", img);
        system(cmd);
        fail_msg("e2fsck -fn found errors (status %d)", WEXITSTATUS(st));
    }
    /* What debugfs reads back. */
    char *s = debugfs("cat /etc/hello");
    assert_string_equal(s, "replaced\n");
    s = debugfs("stat /etc/hello");
    need(s, "Mode:  0600", "stat /etc/hello");
    s = debugfs("stat /etc");
    need(s, "User:     5   Group:     5", "stat /etc");
    need(s, "Mode:  0700", "stat /etc");
    s = debugfs("ls /etc");
    if (strstr(s, "motd"))
        fail_msg("the whiteout left /etc/motd: %s", s);
    s = debugfs("ls /var/cache");
    if (strstr(s, " a ") || !strstr(s, "new"))
        fail_msg("the opaque folder kept a or lost new: %s", s);
    s = debugfs("stat /usr/bin/tool");
    need(s, "Mode:  04755", "stat /usr/bin/tool");
    need(s, "Links: 2", "stat /usr/bin/tool");
    s = debugfs("stat /bin/sh");
    need(s, "Fast link dest: \"/usr/bin/tool\"", "stat /bin/sh");
    s = debugfs("stat /dev/null");
    need(s, "Device major/minor number: 01:03", "stat /dev/null");
    s = debugfs("stat /dev/nvme");
    need(s, "Device major/minor number: 259:300", "stat /dev/nvme");
    s = debugfs("stat /run/fifo");
    need(s, "User: 70000   Group: 70001", "stat /run/fifo");
    need(s, "Type: FIFO", "stat /run/fifo");
    s = debugfs("stat /bin/ping");
    /* extra = 123456789 ns << 2 | epoch 1 (seconds past 2^32 - 1 signed) */
    need(s, " mtime: 0xf4865700:1d6f3455 -- Fri Jan  1 00:00:00 2100", "stat /bin/ping");
    need(s, "crtime: 0xf4865700:1d6f3455", "stat /bin/ping");
    s = debugfs("ea_list /bin/ping");
    need(s, "user.note (4) = \"kept\"", "ea_list /bin/ping");
    need(s, "security.capability (20)", "ea_list /bin/ping");
    s = debugfs("stat /sparse");
    need(s, "Size: 2097152", "stat /sparse");
    need(s, "Blockcount: 16", "stat /sparse"); /* two 4 KiB blocks, in 512-byte units */
    s = debugfs("stat /big");
    need(s, "Size: 299999", "stat /big");
    /* Compared with cmp against the bytes written, from a file: a pipe
     * feeding both debugfs's reader and cmp would deadlock. */
    char want[64];
    strcpy(want, "/tmp/plugvm-rootfs-want-XXXXXX");
    fd = mkstemp(want);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big, sizeof(big) - 1), (ssize_t)(sizeof(big) - 1));
    close(fd);
    snprintf(cmd, sizeof(cmd), "PATH=/usr/sbin:/sbin:$PATH debugfs -R 'cat /big' %s 2>/dev/null | cmp -s - %s",
             img, want);
    st = system(cmd);
    unlink(want);
    assert_int_equal(st, 0);
    unlink(img);
}

int main(void)
{
    if (system("PATH=/usr/sbin:/sbin:$PATH command -v mke2fs e2fsck debugfs >/dev/null 2>&1")) {
        printf("SKIP: e2fsprogs (mke2fs, e2fsck, debugfs) is not installed\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layers_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
