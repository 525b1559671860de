/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes: GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR, on
 * /proc/self/fd/N of the inode's O_PATH descriptor (the f*xattr calls do
 * not take O_PATH descriptors; the magic link reaches the inode itself,
 * symlinks included, without walking a guest name). Every namespace the
 * host allows plugvm passes through: as root that includes trusted.* and
 * security.capability, which is one more reason source should be mounted
 * nosuid (file capabilities are ignored there) when host users may run
 * what the guest writes. With xattr off all four are ENOSYS, which the
 * guest kernel remembers and stops asking. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "ops.h"

/* The xattr name at *p: NUL-terminated within the request, not empty, at
 * most XATTR_NAME_MAX bytes (ERANGE, as the host says for a longer one). */
static int take_xattr_name(const uint8_t **p, size_t *left, const char **name)
{
    const uint8_t *nul = *left ? memchr(*p, 0, *left) : NULL;
    if (!nul || nul == *p)
        return -EINVAL;
    size_t len = (size_t)(nul - *p);
    if (len > 255)
        return -ERANGE;
    *name = (const char *)*p;
    *left -= len + 1;
    *p = nul + 1;
    return 0;
}

/* GETXATTR and LISTXATTR share their shape: size 0 asks for the length,
 * otherwise the bytes, ERANGE when they do not fit the guest's size. */
static int reply_sized(struct fs_req *r, uint32_t size, const char *name)
{
    char path[32];
    fs_proc_path(path, r->ino->fd);
    if (size == 0) {
        ssize_t n = name ? getxattr(path, name, NULL, 0) : listxattr(path, NULL, 0);
        if (n < 0)
            return fs_errno();
        struct fuse_getxattr_out o = {.size = (uint32_t)n};
        return fs_put(r, &o, sizeof(o));
    }
    /* The buffer: what the guest asked for, no more than the reply can
     * carry and never more than the largest xattr Linux has. */
    size_t cap = size;
    if (cap > FS_MAX_XATTR)
        cap = FS_MAX_XATTR;
    if (cap > fs_room(r))
        cap = fs_room(r);
    char *buf = malloc(cap ? cap : 1);
    if (!buf)
        return -ENOMEM;
    ssize_t n = name ? getxattr(path, name, buf, cap) : listxattr(path, buf, cap);
    int err = n < 0 ? fs_errno() : fs_put(r, buf, (size_t)n);
    free(buf);
    return err;
}

int fs_op_getxattr(struct fs_req *r)
{
    if (!r->s->xattr)
        return -ENOSYS;
    struct fuse_getxattr_in in;
    memcpy(&in, r->arg, sizeof(in));
    const uint8_t *p = r->arg + sizeof(in);
    size_t left = r->arglen - sizeof(in);
    const char *name;
    int err = take_xattr_name(&p, &left, &name);
    if (err)
        return err;
    if (in.size == 0 && fs_room(r) < sizeof(struct fuse_getxattr_out))
        return -EINVAL;
    return reply_sized(r, in.size, name);
}

int fs_op_listxattr(struct fs_req *r)
{
    if (!r->s->xattr)
        return -ENOSYS;
    struct fuse_getxattr_in in;
    memcpy(&in, r->arg, sizeof(in));
    if (in.size == 0 && fs_room(r) < sizeof(struct fuse_getxattr_out))
        return -EINVAL;
    return reply_sized(r, in.size, NULL);
}

int fs_op_setxattr(struct fs_req *r)
{
    if (!r->s->xattr)
        return -ENOSYS;
    if (r->s->read_only)
        return -EROFS;
    /* The 8-byte form: SETXATTR_EXT (the 16-byte one) is never agreed. */
    struct {
        uint32_t size, flags;
    } in;
    memcpy(&in, r->arg, sizeof(in));
    const uint8_t *p = r->arg + sizeof(in);
    size_t left = r->arglen - sizeof(in);
    const char *name;
    int err = take_xattr_name(&p, &left, &name);
    if (err)
        return err;
    /* The value is the rest of the request, exactly. */
    if (in.size != left)
        return -EINVAL;
    if (in.size > FS_MAX_XATTR)
        return -E2BIG;
    if (in.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
        return -EINVAL;
    char path[32];
    fs_proc_path(path, r->ino->fd);
    return setxattr(path, name, p, in.size, (int)in.flags) ? fs_errno() : 0;
}

int fs_op_removexattr(struct fs_req *r)
{
    if (!r->s->xattr)
        return -ENOSYS;
    if (r->s->read_only)
        return -EROFS;
    const uint8_t *p = r->arg;
    size_t left = r->arglen;
    const char *name;
    int err = take_xattr_name(&p, &left, &name);
    if (err)
        return err;
    char path[32];
    fs_proc_path(path, r->ino->fd);
    return removexattr(path, name) ? fs_errno() : 0;
}
