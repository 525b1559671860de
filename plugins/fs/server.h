/* SPDX-License-Identifier: Apache-2.0 */
/* The FUSE server of the virtio-fs plugin: one host directory (`source`)
 * served to the guest, one FUSE request at a time per calling thread. It is
 * a library with no virtio code: the device (plugins/fs/fs.c) pops a
 * descriptor chain, hands its readable and writable buffers here as
 * iovecs, and puts the returned length in the used ring.
 *
 * Protocol: FUSE 7.31 (the version virtio-fs first shipped with, Linux
 * 5.4); INIT answers minor min(guest's, 31) and refuses a guest older than
 * 7.31 (EPROTO) instead of carrying the older, shorter structure layouts
 * no virtio-fs driver sends.
 *
 * Confinement: the guest is hostile and must never reach a host file
 * outside source. Every inode is held as an O_PATH|O_NOFOLLOW descriptor;
 * every name from the guest is one path component (no '/', not empty,
 * NUL-terminated, at most NAME_MAX bytes, "." and ".." only where LOOKUP
 * allows them), resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS) relative to its parent's
 * descriptor (openat(O_NOFOLLOW) on kernels without openat2). No host
 * symlink is ever followed: LOOKUP returns the link itself and OPEN on it
 * is ELOOP. Files are opened for I/O by reopening "/proc/self/fd/N" of the
 * inode's own O_PATH descriptor, which walks no path (see confine.c). A
 * LOOKUP of ".." never climbs above source and returns only inodes already
 * reached from it. Nodeids and fhs are table indexes with generations,
 * never pointers: a forged one is ESTALE or EBADF. Mount points inside
 * source are crossed (they are the host's own choice of what source
 * holds); inode numbers are the host's, so two filesystems under source
 * may show the guest equal st_ino. What stays the host's job: source
 * should be mounted nosuid,nodev when the guest's files may be run or
 * opened by other host users (a guest may chmod u+s files it owns, as on
 * any shared filesystem), and no host process should move a directory the
 * guest is using out of source (its descriptor would follow it).
 *
 * Credentials: the guest kernel checks permissions itself (virtio-fs
 * mounts with default_permissions), from the owners and modes the host
 * shows. The host calls run as plugvm's own user.
 *  - plugvm as root: every file, directory, symlink and node the guest
 *    creates is created by root and then fchownat()ed to the request's
 *    uid/gid (the guest caller's fsuid/fsgid; the group stays the
 *    directory's where it has the set-group-ID bit, as the host would do).
 *    SETATTR can set any owner and mode, as root in the guest can.
 *  - plugvm as another user: created files belong to that user, whatever
 *    the guest's uid; SETATTR of an owner fails with the host's EPERM,
 *    and host permission checks apply to plugvm's user on top of the
 *    guest's.
 * Modes are the guest's (the guest kernel has already applied its umask)
 * even where plugvm's own umask would take bits away: the server sets them
 * again after creating. Device nodes other than overlayfs' 0:0 whiteout
 * are refused (EPERM): the guest opens device nodes in its own kernel
 * anyway, and a host block device node planted in source would be a gift
 * to any host user who can reach it.
 *
 * Descriptors: each inode the guest knows and each open fh is one host
 * descriptor; the plugin should raise RLIMIT_NOFILE. */
#ifndef PLUGVM_FS_SERVER_H
#define PLUGVM_FS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The largest WRITE (and READ) the server accepts and INIT announces,
 * bytes, and the same in pages for FUSE_MAX_PAGES. */
#define FS_MAX_WRITE (1u << 20)
#define FS_MAX_PAGES 256u

/* How long the guest may cache names, attributes and data. */
enum fs_cache {
    FS_CACHE_AUTO,   /* entries and attributes 1 s; data until the mtime moves */
    FS_CACHE_ALWAYS, /* 1 day, FOPEN_KEEP_CACHE, writeback cache: source is the guest's alone */
    FS_CACHE_NEVER,  /* 0 s, FOPEN_DIRECT_IO: source changes under the guest all the time */
};

struct fs_server_opts {
    const char *source; /* host directory to serve; the root of what the guest sees */
    bool read_only;     /* every writing op is EROFS; files are opened O_RDONLY */
    enum fs_cache cache;
    bool xattr;         /* serve extended attributes; off: the four xattr ops are ENOSYS */
};

struct fs_server;

/* Opens o->source (it must be a directory; the path itself may go through
 * host symlinks, which are the host's choice) as the root, nodeid 1
 * (FUSE_ROOT_ID), and checks that /proc/self/fd works (files are opened
 * through it). Returns the server, or NULL with a message in err (at most
 * errlen bytes, NUL-terminated) naming the setting or path and the cause.
 * No request may be served before this returns. */
struct fs_server *fs_server_new(const struct fs_server_opts *o, char *err, size_t errlen);

/* Serves one FUSE request.
 *  in[0..nin):   the chain's driver-readable buffers: fuse_in_header, the
 *                op's arguments, then WRITE's data. The header's len must
 *                equal their total bytes, or the request is EINVAL.
 *  out[0..nout): the chain's device-writable buffers, for fuse_out_header
 *                and the reply.
 * Returns the bytes written into out (the used ring's len): a
 * fuse_out_header whose len is that same count, its error 0 or a negative
 * errno, and unique copied from the request; followed on success by the
 * op's reply. Returns 0 and writes nothing for FORGET, BATCH_FORGET and
 * INTERRUPT (they have no reply) and when out holds less than a
 * fuse_out_header (then a request that would have a reply is not acted
 * on either). A request that out is too small for any other way is
 * answered with EINVAL before it acts. Never reads or writes outside the
 * iovecs, and never more than the request's len from in. Errors are
 * replies, never crashes: a request before INIT is EIO, a second INIT
 * EPROTO, an unknown opcode ENOSYS, an unknown nodeid ESTALE, an unknown
 * fh EBADF; with read_only every op that would write is EROFS.
 * Thread-safe: called concurrently from one worker thread per request
 * queue. A call may block as long as its host syscall does (a READ of a
 * slow file), but no longer: SETLKW does not wait (ops_lock.c). */
size_t fs_server_handle(struct fs_server *s, const struct iovec *in, int nin,
                        const struct iovec *out, int nout);

/* Forgets every nodeid but the root's, closes every fh, and waits for a
 * new INIT: the device's reset, and what FUSE_DESTROY does. Safe while
 * other threads are in fs_server_handle() (their records are freed when
 * they finish), but the device normally calls it with its workers
 * stopped. */
void fs_server_reset(struct fs_server *s);

/* Snapshots: the FUSE session carried into a new process. The guest does
 * not send INIT again and keeps the nodeids and fhs it holds, so a server
 * made for the restored VM (fs_server_new() with the same options on the
 * same source) takes them over with fs_server_restore().
 *
 * Carried: INIT's outcome (whether it happened, the minor, the flags,
 * max_write); every nodeid (slot and generation) with its nlookup, its
 * inode's (st_dev, st_ino) and file type, and how to find it again (a file
 * handle from name_to_handle_at() where source's file system gives one,
 * and its path relative to source); every fh (its exact number, its
 * inode's nodeid, its open flags, file or directory).
 * Not carried: OFD locks taken through an fh (they die with the old
 * process: the guest's locks are gone, as after a host crash); a
 * directory fh's position (each READDIR seeks to the offset the guest
 * passes, a telldir cookie that a new descriptor of the same directory
 * takes as well); the root's nlookup (never forgotten). Inodes that cannot
 * be found again with the same (st_dev, st_ino) and type, inside source,
 * are left out: the guest gets ESTALE for their nodeids and EBADF for fhs
 * on them, as for a file removed under it on a network file system.
 *
 * The buffer is this library's own format (session.c), versioned and
 * little-endian; the plugin stores it as one byte string. */

/* Serializes the session. No fs_server_handle() may run meanwhile (the
 * device's workers parked). Reads each inode's file handle and path from
 * its descriptor: one name_to_handle_at() and one readlink() of
 * /proc/self/fd per nodeid. On success returns 0 with *buf a malloc()ed
 * buffer (the caller frees it) and *len its bytes: 48, plus 44 and a few
 * dozen per nodeid, plus 24 per fh. Errors: -ENOMEM, or the errno of
 * fstat() on source; *buf NULL, *len 0 and a message in err (at most
 * errlen bytes, NUL-terminated). */
int fs_server_save(struct fs_server *s, uint8_t **buf, size_t *len, char *err, size_t errlen);

/* Rebuilds the session saved in buf[0..len) on a fresh server: one just
 * made by fs_server_new(), before any request (or one a failed restore
 * left). No fs_server_handle() may run meanwhile. buf may come from a
 * damaged file: everything in it is checked before anything is applied,
 * and on any error the server is left as it was (only the root, no fh,
 * waiting for INIT).
 * How an inode is found again: by its file handle (open_by_handle_at() on
 * source, which needs CAP_DAC_READ_SEARCH; it follows renames), checked to
 * lie inside source (a directory by walking ".." up to source's root, any
 * other file by walking its current path down from the root again); then,
 * where the handle is refused (EPERM), unsupported or not inside source,
 * by its saved path, one component at a time beneath source without
 * following symlinks, as LOOKUP resolves names. Either way it must have
 * the saved (st_dev, st_ino) and type. A handle the file system calls
 * stale (the inode was deleted) is not retried by path. An unlinked file
 * is never found (its place in source cannot be shown). An fh is opened
 * again through its inode with its saved flags (less O_CREAT, O_EXCL and
 * O_TRUNC); one whose inode was left out, or that cannot be opened, is
 * left out too. If source's root is no longer the saved (st_dev, st_ino),
 * every nodeid and fh is left out. The numbers of those left out are never
 * issued again.
 * On success returns 0 and, when lost is not NULL, *lost is how many
 * nodeids and fhs were left out (for one log line). Errors: -EBUSY the
 * server is not fresh; -EINVAL the buffer is not a session this server
 * takes: bad magic or version, truncated, a count or length past its
 * bound or the buffer, a nodeid or fh this server could not have issued,
 * one twice, INIT flags these options do not offer, an fh on a nodeid not
 * in the buffer, bytes left over; -ENOMEM. The message in err names the
 * part, e.g. "fs session: inode 3 of 12 (nodeid 0x100000004): truncated". */
int fs_server_restore(struct fs_server *s, const uint8_t *buf, size_t len, unsigned *lost,
                      char *err, size_t errlen);

/* Closes everything. No fs_server_handle() may be running. NULL is
 * ignored. */
void fs_server_free(struct fs_server *s);

#endif
