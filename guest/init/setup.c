/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm-init's mounts and modules (guest/init/setup.h). */
#define _GNU_SOURCE
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, const char *where)
{
    snprintf(err, errlen, "%s %s: %s", what, where, strerror(errno));
    return -1;
}

static int mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data,
               char *err, size_t errlen)
{
    if (mkdir(dst, 0755) && errno != EEXIST)
        return fail(err, errlen, "mkdir", dst);
    if (mount(src, dst, type, flags, data))
        return fail(err, errlen, type ? type : "mount --move", dst);
    return 0;
}

int setup_early(char *err, size_t errlen)
{
    if (mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", err, errlen) ||
        mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err, errlen) ||
        mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err, errlen))
        return -1;
    return 0;
}

void setup_modules(const char *list)
{
    FILE *f = fopen(list, "re");
    if (!f)
        return;
    char dir[256], line[512], path[800];
    snprintf(dir, sizeof(dir), "%s", list);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST))
            fprintf(stderr, "plugvm-init: module %s not loaded: %s\n", line, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    fclose(f);
}

/* The disk's node appears when virtio_blk has probed it, which the module
 * load started but need not have finished. */
static int wait_node(const char *dev)
{
    struct timespec t = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 2000; i++) {
        if (access(dev, F_OK) == 0)
            return 0;
        nanosleep(&t, NULL);
    }
    errno = ENOENT;
    return -1;
}

int setup_root(const char *dev, char *err, size_t errlen)
{
    if (wait_node(dev))
        return fail(err, errlen, "root disk", dev);
    /* "noload": the disk is read-only and clean (plugvm image import wrote
     * it whole); ext4 must not try to replay a journal on it. */
    if (mnt(dev, "/lower", "ext4", MS_RDONLY, "noload", err, errlen) ||
        mnt("tmpfs", "/rw", "tmpfs", 0, "mode=0755", err, errlen))
        return -1;
    if ((mkdir("/rw/upper", 0755) && errno != EEXIST) || (mkdir("/rw/work", 0755) && errno != EEXIST))
        return fail(err, errlen, "mkdir", "/rw/upper");
    if (mnt("overlay", "/newroot", "overlay", 0, "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work", err,
            errlen))
        return -1;
    if (mnt("/dev", "/newroot/dev", NULL, MS_MOVE, NULL, err, errlen) ||
        mnt("/proc", "/newroot/proc", NULL, MS_MOVE, NULL, err, errlen) ||
        mnt("/sys", "/newroot/sys", NULL, MS_MOVE, NULL, err, errlen) ||
        mnt("devpts", "/newroot/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
            err, errlen) ||
        mnt("shm", "/newroot/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err, errlen) ||
        mnt("tmpfs", "/newroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err, errlen) ||
        mnt("tmpfs", "/newroot/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err, errlen))
        return -1;
    /* devtmpfs's ptmx is the initial devpts instance's; the process's
     * terminals come from the one just mounted. */
    unlink("/newroot/dev/ptmx");
    if (symlink("pts/ptmx", "/newroot/dev/ptmx") && errno != EEXIST)
        return fail(err, errlen, "symlink", "/dev/ptmx");
    /* What devtmpfs lacks and programs expect; an image's own are kept. */
    static const char *const links[][2] = {{"/proc/self/fd", "/newroot/dev/fd"},
                                           {"/proc/self/fd/0", "/newroot/dev/stdin"},
                                           {"/proc/self/fd/1", "/newroot/dev/stdout"},
                                           {"/proc/self/fd/2", "/newroot/dev/stderr"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][0], links[i][1]) && errno != EEXIST)
            return fail(err, errlen, "symlink", links[i][1]);
    if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/"))
        return fail(err, errlen, "switching the root to", "/newroot");
    return 0;
}

/* mkdir -p inside the new root. */
static int mkdirs(const char *path)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

int setup_volume(const char *dev, const char *path, int fs, int ro, char *err, size_t errlen)
{
    if (!fs && wait_node(dev))
        return fail(err, errlen, "volume disk", dev);
    if (mkdirs(path))
        return fail(err, errlen, "volume: mkdir", path);
    /* A share's tag is known once virtiofs has probed its device, which
     * the module load only started: up to 10 s, as wait_node gives disks
     * (mount says EINVAL, "tag not found", until then). */
    struct timespec t = {0, 5 * 1000 * 1000};
    int rc, tries = 0;
    while ((rc = mount(dev, path, fs ? "virtiofs" : "ext4", ro ? MS_RDONLY : 0, NULL)) && fs && errno == EINVAL &&
           ++tries < 2000)
        nanosleep(&t, NULL);
    if (rc)
        return fail(err, errlen, fs ? "volume: mount virtiofs at" : "volume: mount ext4 at", path);
    return 0;
}
