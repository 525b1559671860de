/* SPDX-License-Identifier: Apache-2.0 */
#include "image/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

struct rootfs {
    ext2_filsys fs;
    char path[4096];
};

/* err = "WHAT: WHY": what is the entry's path (the caller names the layer
 * and image), or, for the file system itself, a phrase with its file. */
static int fail(char *err, size_t errlen, int rc, const char *what, const char *why)
{
    snprintf(err, errlen, "%s: %s", what, why);
    return rc;
}

/* "FILE: what" for errors of the file system itself. */
static const char *whole(struct rootfs *r, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s: %s", r->path, what);
    return buf;
}

/* libext2fs's errcode_t as -errno and its message. */
static int efail(char *err, size_t errlen, errcode_t e, const char *what)
{
    int rc = e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL || e == EXT2_ET_DIR_NO_SPACE_FOR_CSUM
                 ? -ENOSPC
                 : (e > 0 && e < 256 ? -(int)e : -EIO);
    return fail(err, errlen, rc, what, rc == -ENOSPC ? "the image is full" : error_message(e));
}

static errcode_t lookup(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino);
static int remove_at(struct rootfs *r, ext2_ino_t dir, const char *name, ext2_ino_t ino, int depth, char *err,
                     size_t errlen);

int rootfs_create(const char *path, uint64_t size, uint32_t inodes, struct rootfs **out, char *err,
                  size_t errlen)
{
    struct rootfs *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    snprintf(r->path, sizeof(r->path), "%s", path);
    /* The empty file system from mke2fs itself: its choices (groups,
     * flex_bg, reserved inodes, lost+found) are e2fsprogs' to keep. */
    char blocks[32], nino[32];
    snprintf(blocks, sizeof(blocks), "%llu", (unsigned long long)(size / 4096));
    snprintf(nino, sizeof(nino), "%u", inodes);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 0);
        if (null >= 0)
            dup2(null, 1);
        /* Features named, not taken from the host's mke2fs.conf: the disk
         * is the same whatever host imports the image, and every feature
         * here is older than any kernel a guest runs (Linux 3.x). */
        static const char features[] = "none,ext_attr,dir_index,filetype,extent,flex_bg,sparse_super,large_file,"
                                       "huge_file,dir_nlink,extra_isize,64bit,metadata_csum";
        char *args[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-O", (char *)features, "-m",
                        "0", "-N", nino, "-E", "root_owner=0:0", (char *)path, blocks, NULL};
        execvp("mke2fs", args);
        execv("/usr/sbin/mke2fs", args);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        char w[4200];
        int rc = fail(err, errlen, -EIO, whole(r, "mke2fs", w, sizeof(w)),
                      WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "not found (e2fsprogs)" : "failed");
        free(r);
        return rc;
    }
    free(r);
    return rootfs_open(path, out, err, errlen);
}

int rootfs_open(const char *path, struct rootfs **out, char *err, size_t errlen)
{
    struct rootfs *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    snprintf(r->path, sizeof(r->path), "%s", path);
    errcode_t e = ext2fs_open(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &r->fs);
    if (!e)
        e = ext2fs_read_bitmaps(r->fs);
    if (e) {
        char w[4200];
        int rc = efail(err, errlen, e, whole(r, "cannot open the new file system", w, sizeof(w)));
        if (r->fs)
            ext2fs_close_free(&r->fs);
        free(r);
        return rc;
    }
    /* mke2fs's lost+found is not the image's: the root holds exactly what
     * the layers put there (e2fsck makes one again if it ever needs it). */
    ext2_ino_t lf;
    if (!lookup(r->fs, EXT2_ROOT_INO, "lost+found", &lf)) {
        int rc = remove_at(r, EXT2_ROOT_INO, "lost+found", lf, 0, err, errlen);
        if (rc) {
            ext2fs_close_free(&r->fs);
            free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

/* The directory entry's file type (EXT2_FT_*) for a mode. */
static int ft_of(unsigned mode)
{
    switch (mode & LINUX_S_IFMT) {
    case LINUX_S_IFDIR: return EXT2_FT_DIR;
    case LINUX_S_IFLNK: return EXT2_FT_SYMLINK;
    case LINUX_S_IFCHR: return EXT2_FT_CHRDEV;
    case LINUX_S_IFBLK: return EXT2_FT_BLKDEV;
    case LINUX_S_IFIFO: return EXT2_FT_FIFO;
    case LINUX_S_IFSOCK: return EXT2_FT_SOCK;
    default: return EXT2_FT_REG_FILE;
    }
}

/* ext2fs_link, growing the folder when it is full. */
static errcode_t link_in(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int type)
{
    errcode_t e = ext2fs_link(fs, dir, name, ino, type);
    if (e == EXT2_ET_DIR_NO_SPACE) {
        e = ext2fs_expand_dir(fs, dir);
        if (!e)
            e = ext2fs_link(fs, dir, name, ino, type);
    }
    return e;
}

/* ext4's 34-bit seconds: the low 32 in the inode's field, bits 32-33 and
 * the nanoseconds in its _extra word (fs/ext4/ext4.h, ext4_encode_extra_time). */
static uint32_t time_extra(int64_t sec, uint32_t nsec)
{
    return (uint32_t)(((uint64_t)(sec - (int32_t)sec) >> 32) & 3) | (nsec % 1000000000u) << 2;
}

/* Owner, permission bits (not a symlink's), times and extended attributes
 * of inode ino from m; `fresh` when the inode has no xattrs yet. */
static int finish(struct rootfs *r, ext2_ino_t ino, const struct rootfs_meta *m, bool fresh, const char *path,
                  char *err, size_t errlen)
{
    struct ext2_inode_large in;
    errcode_t e = ext2fs_read_inode_full(r->fs, ino, (struct ext2_inode *)&in, sizeof(in));
    if (e)
        return efail(err, errlen, e, path);
    if (!LINUX_S_ISLNK(in.i_mode))
        in.i_mode = (uint16_t)((in.i_mode & LINUX_S_IFMT) | (m->mode & 07777));
    in.i_uid = (uint16_t)m->uid;
    ext2fs_set_i_uid_high(in, m->uid >> 16);
    in.i_gid = (uint16_t)m->gid;
    ext2fs_set_i_gid_high(in, m->gid >> 16);
    in.i_atime = in.i_ctime = in.i_mtime = (uint32_t)m->mtime;
    if (EXT2_INODE_SIZE(r->fs->super) > EXT2_GOOD_OLD_INODE_SIZE && in.i_extra_isize >= 24) {
        /* crtime too: the image is the same bytes whenever it is made. */
        in.i_crtime = (uint32_t)m->mtime;
        in.i_atime_extra = in.i_ctime_extra = in.i_mtime_extra = in.i_crtime_extra =
            time_extra(m->mtime, m->mtime_nsec);
    }
    e = ext2fs_write_inode_full(r->fs, ino, (struct ext2_inode *)&in, sizeof(in));
    if (e)
        return efail(err, errlen, e, path);
    if (fresh && !m->nxattrs)
        return 0;
    struct ext2_xattr_handle *h;
    if ((e = ext2fs_xattrs_open(r->fs, ino, &h)))
        return efail(err, errlen, e, path);
    if (!(e = ext2fs_xattrs_read(h)) && !fresh) {
        /* A folder over a folder: its attributes are the new entry's. */
        size_t n = 0;
        if (!(e = ext2fs_xattrs_count(h, &n)) && n) {
            ext2fs_xattrs_close(&h);
            ext2fs_xattrs_open(r->fs, ino, &h);
            e = ext2fs_free_ext_attr(r->fs, ino, &in);
            if (!e)
                e = ext2fs_xattrs_read(h);
        }
    }
    for (size_t i = 0; !e && i < m->nxattrs; i++)
        e = ext2fs_xattr_set(h, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].len);
    errcode_t c = ext2fs_xattrs_close(&h);
    if (e || c) {
        char what[LAYER_PATH_MAX + 32];
        snprintf(what, sizeof(what), "%s: extended attributes", path);
        return efail(err, errlen, e ? e : c, what);
    }
    return 0;
}

/* Name `name` in folder `dir`: 0 with *ino, or EXT2_ET_FILE_NOT_FOUND. */
static errcode_t lookup(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
    return ext2fs_lookup(fs, dir, name, (int)strlen(name), NULL, ino);
}

static int remove_at(struct rootfs *r, ext2_ino_t dir, const char *name, ext2_ino_t ino, int depth, char *err,
                     size_t errlen);

struct children {
    char (*names)[256];
    size_t n, cap;
};

static int collect(struct ext2_dir_entry *d, int offset, int blocksize, char *buf, void *priv)
{
    (void)offset;
    (void)blocksize;
    (void)buf;
    struct children *c = priv;
    int len = ext2fs_dirent_name_len(d);
    if ((len == 1 && d->name[0] == '.') || (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        void *p = realloc(c->names, cap * sizeof(*c->names));
        if (!p)
            return DIRENT_ABORT;
        c->names = p;
        c->cap = cap;
    }
    memcpy(c->names[c->n], d->name, (size_t)len);
    c->names[c->n++][len] = '\0';
    return 0;
}

/* Removes what folder `ino` holds. */
static int clear_dir(struct rootfs *r, ext2_ino_t ino, int depth, char *err, size_t errlen)
{
    struct children c = {0};
    errcode_t e = ext2fs_dir_iterate(r->fs, ino, 0, NULL, collect, &c);
    int rc = e ? efail(err, errlen, e, "reading a folder") : 0;
    for (size_t i = 0; !rc && i < c.n; i++) {
        ext2_ino_t child;
        if (!lookup(r->fs, ino, c.names[i], &child))
            rc = remove_at(r, ino, c.names[i], child, depth + 1, err, errlen);
    }
    free(c.names);
    return rc;
}

/* Unlinks `name` (inode ino) from folder dir; frees the inode and its
 * blocks once nothing names it. A folder goes with all it holds. */
static int remove_at(struct rootfs *r, ext2_ino_t dir, const char *name, ext2_ino_t ino, int depth, char *err,
                     size_t errlen)
{
    if (depth > 256)
        return fail(err, errlen, -ELOOP, name, "folders nested too deep to remove");
    struct ext2_inode in;
    errcode_t e = ext2fs_read_inode(r->fs, ino, &in);
    if (e)
        return efail(err, errlen, e, name);
    bool isdir = LINUX_S_ISDIR(in.i_mode);
    if (isdir) {
        int rc = clear_dir(r, ino, depth, err, errlen);
        if (rc)
            return rc;
        e = ext2fs_read_inode(r->fs, ino, &in);
    }
    if (!e)
        e = ext2fs_unlink(r->fs, dir, name, ino, 0);
    if (e)
        return efail(err, errlen, e, name);
    if (isdir) {
        /* Its ".." no longer counts for the parent. */
        struct ext2_inode p;
        if (!ext2fs_read_inode(r->fs, dir, &p) && p.i_links_count > 2) {
            p.i_links_count--;
            ext2fs_write_inode(r->fs, dir, &p);
        }
        in.i_links_count = 0;
    } else if (in.i_links_count) {
        in.i_links_count--;
    }
    if (in.i_links_count == 0) {
        if (ext2fs_inode_has_valid_blocks2(r->fs, &in)) {
            e = ext2fs_punch(r->fs, ino, &in, NULL, 0, ~0ULL);
            if (e)
                return efail(err, errlen, e, name);
        }
        in.i_dtime = in.i_mtime ? in.i_mtime : 1;
        ext2fs_inode_alloc_stats2(r->fs, ino, -1, isdir);
    }
    e = ext2fs_write_inode(r->fs, ino, &in);
    return e ? efail(err, errlen, e, name) : 0;
}

/* Walks to the folder that holds `path`, making missing folders when
 * `make` (else -ENOENT, err untouched): *dir and a pointer to the last
 * component in *base (inside path). */
static int walk_parent(struct rootfs *r, char *path, bool make, ext2_ino_t *dir, char **base, char *err,
                       size_t errlen)
{
    ext2_ino_t at = EXT2_ROOT_INO;
    char *p = path, *slash;
    while ((slash = strchr(p, '/'))) {
        *slash = '\0';
        ext2_ino_t next;
        errcode_t e = lookup(r->fs, at, p, &next);
        if (e == EXT2_ET_FILE_NOT_FOUND && !make) {
            *slash = '/';
            return -ENOENT;
        }
        if (e == EXT2_ET_FILE_NOT_FOUND) {
            e = ext2fs_mkdir(r->fs, at, 0, p);
            if (e == EXT2_ET_DIR_NO_SPACE && !(e = ext2fs_expand_dir(r->fs, at)))
                e = ext2fs_mkdir(r->fs, at, 0, p);
            if (!e)
                e = lookup(r->fs, at, p, &next);
        }
        if (e) {
            *slash = '/';
            return efail(err, errlen, e, path);
        }
        struct ext2_inode in;
        if ((e = ext2fs_read_inode(r->fs, next, &in))) {
            *slash = '/';
            return efail(err, errlen, e, path);
        }
        if (!LINUX_S_ISDIR(in.i_mode)) {
            *slash = '/';
            return fail(err, errlen, -ENOTDIR, path,
                        LINUX_S_ISLNK(in.i_mode) ? "a path through a symbolic link (refused: it is not followed)"
                                                 : "a path through something that is not a folder");
        }
        *slash = '/';
        at = next;
        p = slash + 1;
    }
    *dir = at;
    *base = p;
    return 0;
}

/* A new inode of `mode`, linked as dir/name. */
static int new_inode(struct rootfs *r, ext2_ino_t dir, const char *name, const struct rootfs_meta *m,
                     ext2_ino_t *out, struct ext2_inode *in, char *err, size_t errlen)
{
    ext2_ino_t ino;
    errcode_t e = ext2fs_new_inode(r->fs, dir, (int)(m->mode & LINUX_S_IFMT), NULL, &ino);
    if (!e)
        e = link_in(r->fs, dir, name, ino, ft_of(m->mode));
    if (e)
        return efail(err, errlen, e, name);
    ext2fs_inode_alloc_stats2(r->fs, ino, +1, 0);
    memset(in, 0, sizeof(*in));
    in->i_mode = (uint16_t)(m->mode & (LINUX_S_IFMT | 07777));
    in->i_links_count = 1;
    *out = ino;
    return 0;
}

static int write_data(struct rootfs *r, ext2_ino_t ino, const struct rootfs_meta *m, rootfs_data_fn data,
                      void *ctx, const char *path, char *err, size_t errlen);

static int add(struct rootfs *r, char *path, const struct layer_entry *le, const struct rootfs_meta *m,
               rootfs_data_fn data, void *ctx, char *err, size_t errlen)
{
    ext2_ino_t dir, old = 0, ino;
    char *name;
    int rc = walk_parent(r, path, true, &dir, &name, err, errlen);
    if (rc)
        return rc;
    struct ext2_inode in;
    errcode_t e = lookup(r->fs, dir, name, &old);
    if (e && e != EXT2_ET_FILE_NOT_FOUND)
        return efail(err, errlen, e, path);
    bool exists = !e;
    if (exists && LINUX_S_ISDIR(m->mode) && !le->link[0]) {
        /* A folder over a folder keeps what it holds (layer.md). */
        if ((e = ext2fs_read_inode(r->fs, old, &in)))
            return efail(err, errlen, e, path);
        if (LINUX_S_ISDIR(in.i_mode))
            return finish(r, old, m, false, path, err, errlen);
    }
    if (le->link[0]) {
        /* A hardlink to what an earlier entry (or layer) made. */
        char target[LAYER_PATH_MAX];
        memcpy(target, le->link, sizeof(target));
        ext2_ino_t tdir;
        char *tname;
        if ((rc = walk_parent(r, target, false, &tdir, &tname, err, errlen)) == -ENOENT)
            return fail(err, errlen, -ENOENT, path, "a hardlink to a path no layer made");
        if (rc)
            return rc;
        if (lookup(r->fs, tdir, tname, &ino))
            return fail(err, errlen, -ENOENT, path, "a hardlink to a path no layer made");
        if ((e = ext2fs_read_inode(r->fs, ino, &in)))
            return efail(err, errlen, e, path);
        if (LINUX_S_ISDIR(in.i_mode))
            return fail(err, errlen, -EPERM, path, "a hardlink to a folder");
        if (in.i_links_count >= EXT2_LINK_MAX)
            return fail(err, errlen, -EMLINK, path, "more hardlinks than ext4 holds (65000)");
        if (exists && old == ino)
            return 0;
        if (exists && (rc = remove_at(r, dir, name, old, 0, err, errlen)))
            return rc;
        if ((e = ext2fs_read_inode(r->fs, ino, &in)))
            return efail(err, errlen, e, path);
        if ((e = link_in(r->fs, dir, name, ino, ft_of(in.i_mode))))
            return efail(err, errlen, e, path);
        in.i_links_count++;
        e = ext2fs_write_inode(r->fs, ino, &in);
        return e ? efail(err, errlen, e, path) : 0;
    }
    if (exists && (rc = remove_at(r, dir, name, old, 0, err, errlen)))
        return rc;
    switch (m->mode & S_IFMT) {
    case S_IFLNK:
        if (!m->symlink || !m->symlink[0] || strlen(m->symlink) >= 4096)
            return fail(err, errlen, -EINVAL, path, "a symbolic link without a target of 1 to 4095 bytes");
        /* fall through */
    case S_IFDIR:
        /* libext2fs's own makers (".." and link counts, fast symlinks),
         * the folder grown when it is full. */
        for (int grown = 0;; grown = 1) {
            e = S_ISDIR(m->mode) ? ext2fs_mkdir(r->fs, dir, 0, name) : ext2fs_symlink(r->fs, dir, 0, name, m->symlink);
            if (e != EXT2_ET_DIR_NO_SPACE || grown || (e = ext2fs_expand_dir(r->fs, dir)))
                break;
        }
        if (!e)
            e = lookup(r->fs, dir, name, &ino);
        if (e)
            return efail(err, errlen, e, path);
        return finish(r, ino, m, true, path, err, errlen);
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
        if ((rc = new_inode(r, dir, name, m, &ino, &in, err, errlen)))
            return rc;
        if (!S_ISFIFO(m->mode)) {
            /* Linux's encoding (fs/ext4/inode.c): old in i_block[0] when
             * both fit a byte, else new in i_block[1]. */
            uint32_t ma = m->rdev_major, mi = m->rdev_minor;
            if (ma < 256 && mi < 256)
                in.i_block[0] = ma << 8 | mi;
            else
                in.i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
        }
        if ((e = ext2fs_write_new_inode(r->fs, ino, &in)))
            return efail(err, errlen, e, path);
        return finish(r, ino, m, true, path, err, errlen);
    case S_IFREG:
        break;
    default:
        return fail(err, errlen, -EINVAL, path, "a file type an image cannot hold");
    }
    if ((rc = new_inode(r, dir, name, m, &ino, &in, err, errlen)))
        return rc;
    if (ext2fs_has_feature_extents(r->fs->super)) {
        ext2_extent_handle_t h;
        in.i_flags &= ~EXT4_EXTENTS_FL;
        if ((e = ext2fs_extent_open2(r->fs, ino, &in, &h)))
            return efail(err, errlen, e, path);
        ext2fs_extent_free(h);
    }
    if ((e = ext2fs_write_new_inode(r->fs, ino, &in)))
        return efail(err, errlen, e, path);
    if ((rc = write_data(r, ino, m, data, ctx, path, err, errlen)))
        return rc;
    return finish(r, ino, m, true, path, err, errlen);
}

/* The file's blocks where the layer puts them, holes left unallocated,
 * and its size as the header says (a sparse file may end in a hole). */
static int write_data(struct rootfs *r, ext2_ino_t ino, const struct rootfs_meta *m, rootfs_data_fn data,
                      void *ctx, const char *path, char *err, size_t errlen)
{
    ext2_file_t f;
    errcode_t e = ext2fs_file_open(r->fs, ino, EXT2_FILE_WRITE, &f);
    if (e)
        return efail(err, errlen, e, path);
    int rc = 0;
    uint64_t end = 0;
    for (;;) {
        const void *buf;
        size_t len;
        uint64_t off;
        int k = data ? data(ctx, &buf, &len, &off) : 0;
        if (k < 0) {
            rc = fail(err, errlen, k, path, "its data could not be read from the layer");
            break;
        }
        if (k == 0)
            break;
        if (off < end || len > UINT32_MAX || off + len > m->size) {
            rc = fail(err, errlen, -EINVAL, path, "data blocks out of order or past the size in its header");
            break;
        }
        unsigned int w;
        if ((e = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL)) ||
            (e = ext2fs_file_write(f, buf, (unsigned int)len, &w)) || w != (unsigned int)len) {
            rc = efail(err, errlen, e ? e : EXT2_ET_SHORT_WRITE, path);
            break;
        }
        end = off + len;
    }
    if (!rc && (e = ext2fs_file_set_size2(f, m->size)))
        rc = efail(err, errlen, e, path);
    e = ext2fs_file_close(f);
    if (!rc && e)
        rc = efail(err, errlen, e, path);
    return rc;
}

int rootfs_apply(struct rootfs *r, const struct layer_entry *e, const struct rootfs_meta *m,
                 rootfs_data_fn data, void *ctx, char *err, size_t errlen)
{
    char path[LAYER_PATH_MAX];
    memcpy(path, e->path, sizeof(path));
    if (e->op == LAYER_SKIP)
        return 0;
    if (e->op == LAYER_OPAQUE) {
        ext2_ino_t ino = EXT2_ROOT_INO;
        if (path[0]) {
            ext2_ino_t dir;
            char *name;
            /* No such folder (or a path through a non-folder): nothing of
             * a lower layer to hide. */
            if (walk_parent(r, path, false, &dir, &name, err, errlen) || lookup(r->fs, dir, name, &ino))
                return 0;
        }
        struct ext2_inode in;
        if (ext2fs_read_inode(r->fs, ino, &in) || !LINUX_S_ISDIR(in.i_mode))
            return 0;
        return clear_dir(r, ino, 0, err, errlen);
    }
    if (!path[0]) /* "./": the root folder's own owner, mode and times */
        return e->op == LAYER_ADD && S_ISDIR(m->mode) && !e->link[0] ? finish(r, EXT2_ROOT_INO, m, false, "/", err, errlen)
                                                                    : 0;
    if (e->op == LAYER_WHITEOUT) {
        ext2_ino_t dir, ino;
        char *name;
        if (walk_parent(r, path, false, &dir, &name, err, errlen) || lookup(r->fs, dir, name, &ino))
            return 0; /* nothing there: nothing to remove */
        return remove_at(r, dir, name, ino, 0, err, errlen);
    }
    return add(r, path, e, m, data, ctx, err, errlen);
}

int rootfs_close(struct rootfs *r, char *err, size_t errlen)
{
    errcode_t e = ext2fs_close_free(&r->fs);
    char w[4200];
    int rc = e ? efail(err, errlen, e, whole(r, "writing the file system out", w, sizeof(w))) : 0;
    free(r);
    return rc;
}
