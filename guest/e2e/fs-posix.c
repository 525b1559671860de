/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs-posix: the POSIX cases of the e2e case `fs` (tests/e2e/README.md),
 * run in the guest on a virtio-fs mount through Linux's own virtiofs and
 * FUSE code, so that what is judged is what a guest program sees. Written
 * for plugvm, one group per call:
 *
 *   fs-posix DIR GROUP     GROUP: chmod chown link mkdir mkfifo open rename
 *                          rmdir symlink truncate unlink utimensat xattr
 *                          locks mmap fsync many race
 *
 * Each group works in DIR/GROUP (made and removed), prints "ok GROUP
 * DETAIL" or "not ok GROUP: what and errno", and exits 0 or 1. `many`
 * creates, lists, stats and removes 10,000 files; `race` swaps a
 * directory and a symlink to "../.." (RENAME_EXCHANGE) in one process while
 * another opens and reads DIR/race/d/canary.txt, and fails if it ever
 * reads the host's canary (a server that followed the symlink on the host
 * would reach it: tests/e2e/host.sh puts it beside the share).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *group;

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    int e = errno;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("not ok %s: %s (errno %d %s)\n", group, msg, e, strerror(e));
    exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

static void put(const char *path, const char *text, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    CHECK(fd >= 0, "open %s", path);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
    CHECK(close(fd) == 0, "close %s", path);
}

static char *get(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s", path);
    ssize_t n = read(fd, buf, len - 1);
    CHECK(n >= 0, "read %s", path);
    buf[n] = '\0';
    close(fd);
    return buf;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    CHECK(lstat(path, &st) == 0, "lstat %s", path);
    return st.st_mode;
}

static void group_chmod(void)
{
    put("f", "x", O_TRUNC);
    CHECK(chmod("f", 0640) == 0 && (mode_of("f") & 07777) == 0640, "chmod 0640: mode %o", mode_of("f"));
    int fd = open("f", O_RDONLY);
    CHECK(fd >= 0 && fchmod(fd, 0604) == 0 && (mode_of("f") & 07777) == 0604, "fchmod 0604");
    close(fd);
    CHECK(chmod("f", 04755) == 0 && (mode_of("f") & 07777) == 04755, "chmod 04755: mode %o", mode_of("f"));
    printf("ok chmod 0640, fchmod 0604, 04755 read back\n");
}

static void group_chown(void)
{
    put("f", "x", O_TRUNC);
    struct stat st;
    CHECK(chown("f", 1234, 5678) == 0, "chown 1234:5678");
    CHECK(stat("f", &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "owner %u:%u", st.st_uid, st.st_gid);
    CHECK(lchown("f", (uid_t)-1, 42) == 0 && stat("f", &st) == 0 && st.st_uid == 1234 && st.st_gid == 42,
          "lchown -1:42 gave %u:%u", st.st_uid, st.st_gid);
    /* A file made by a non-root guest user belongs to it. */
    CHECK(chmod(".", 0777) == 0, "chmod 0777 the group's directory");
    pid_t p = fork();
    if (p == 0) {
        if (setgid(2000) || setuid(1000))
            _exit(2);
        int fd = open("mine", O_WRONLY | O_CREAT, 0600);
        _exit(fd < 0 ? 3 : 0);
    }
    int status;
    CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "uid 1000 creating a file: status %d", status);
    CHECK(stat("mine", &st) == 0 && st.st_uid == 1000 && st.st_gid == 2000, "uid 1000's file is %u:%u",
          st.st_uid, st.st_gid);
    printf("ok chown 1234:5678, lchown -1:42, a file uid 1000 made is 1000:2000\n");
}

static void group_link(void)
{
    put("a", "linked", O_TRUNC);
    CHECK(link("a", "b") == 0, "link a b");
    struct stat sa, sb;
    CHECK(stat("a", &sa) == 0 && stat("b", &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_nlink == 2,
          "a and b: ino %lu/%lu, nlink %lu", (unsigned long)sa.st_ino, (unsigned long)sb.st_ino,
          (unsigned long)sa.st_nlink);
    CHECK(link("a", "b") == -1 && errno == EEXIST, "link over an existing name");
    CHECK(unlink("a") == 0 && stat("b", &sb) == 0 && sb.st_nlink == 1, "after unlink a: nlink %lu",
          (unsigned long)sb.st_nlink);
    char buf[32];
    CHECK(!strcmp(get("b", buf, sizeof(buf)), "linked"), "b reads '%s'", buf);
    printf("ok link: same inode, nlink 2 then 1, EEXIST over a name\n");
}

static void group_mkdir(void)
{
    CHECK(mkdir("d", 0750) == 0 && S_ISDIR(mode_of("d")) && (mode_of("d") & 0777) == 0750, "mkdir 0750");
    CHECK(mkdir("d", 0750) == -1 && errno == EEXIST, "mkdir again: not EEXIST");
    CHECK(mkdir("none/d", 0755) == -1 && errno == ENOENT, "mkdir under a missing parent: not ENOENT");
    CHECK(mkdir("d/e", 0700) == 0 && rmdir("d/e") == 0 && rmdir("d") == 0, "mkdir d/e, rmdir both");
    printf("ok mkdir 0750, EEXIST, ENOENT, nested\n");
}

static void group_mkfifo(void)
{
    CHECK(mkfifo("p", 0600) == 0 && S_ISFIFO(mode_of("p")), "mkfifo");
    pid_t c = fork();
    if (c == 0) {
        int fd = open("p", O_WRONLY);
        _exit(fd >= 0 && write(fd, "through", 7) == 7 ? 0 : 1);
    }
    int fd = open("p", O_RDONLY);
    char buf[16] = {0};
    CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 7 && !strcmp(buf, "through"), "read from the fifo");
    int status;
    waitpid(c, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    printf("ok mkfifo: a fifo between two processes\n");
}

static void group_open(void)
{
    int fd = open("x", O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0, "O_CREAT|O_EXCL");
    close(fd);
    CHECK(open("x", O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST, "O_EXCL again: not EEXIST");
    put("x", "0123456789", O_TRUNC);
    put("x", "ab", O_TRUNC);
    char buf[32];
    CHECK(!strcmp(get("x", buf, sizeof(buf)), "ab"), "after O_TRUNC: '%s'", buf);
    fd = open("x", O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "cd", 2) == 2, "O_APPEND write");
    close(fd);
    CHECK(!strcmp(get("x", buf, sizeof(buf)), "abcd"), "after O_APPEND: '%s'", buf);
    CHECK(open("none", O_RDONLY) == -1 && errno == ENOENT, "opening a missing file: not ENOENT");
    printf("ok open: O_CREAT|O_EXCL, O_TRUNC, O_APPEND after lseek 0, ENOENT\n");
}

static int rename2(const char *a, const char *b, unsigned flags)
{
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void group_rename(void)
{
    char buf[32];
    put("a", "A", O_TRUNC);
    put("b", "B", O_TRUNC);
    CHECK(rename("a", "b") == 0 && access("a", F_OK) == -1 && !strcmp(get("b", buf, sizeof(buf)), "A"),
          "rename a over b");
    CHECK(mkdir("d1", 0755) == 0 && mkdir("d2", 0755) == 0 && rename("d1", "d2") == 0, "a dir over an empty dir");
    put("d2/f", "F", O_TRUNC);
    CHECK(mkdir("d3", 0755) == 0 && rename("d3", "d2") == -1 && (errno == ENOTEMPTY || errno == EEXIST),
          "a dir over a non-empty dir");
    put("c", "C", O_TRUNC);
    CHECK(rename2("c", "b", RENAME_NOREPLACE) == -1 && errno == EEXIST, "RENAME_NOREPLACE over b");
    CHECK(rename2("c", "e", RENAME_NOREPLACE) == 0, "RENAME_NOREPLACE to a new name");
    CHECK(rename2("e", "b", RENAME_EXCHANGE) == 0, "RENAME_EXCHANGE");
    CHECK(!strcmp(get("b", buf, sizeof(buf)), "C") && !strcmp(get("e", buf, sizeof(buf)), "A"),
          "after RENAME_EXCHANGE b and e did not swap");
    CHECK(rename2("e", "d2/f", RENAME_EXCHANGE) == 0 && !strcmp(get("d2/f", buf, sizeof(buf)), "A"),
          "RENAME_EXCHANGE across directories");
    printf("ok rename: over a file, dir over empty dir, ENOTEMPTY, RENAME_NOREPLACE, RENAME_EXCHANGE (also across dirs)\n");
}

static void group_rmdir(void)
{
    CHECK(mkdir("d", 0755) == 0, "mkdir");
    put("d/f", "x", O_TRUNC);
    CHECK(rmdir("d") == -1 && errno == ENOTEMPTY, "rmdir a non-empty dir: not ENOTEMPTY");
    CHECK(rmdir("d/f") == -1 && errno == ENOTDIR, "rmdir a file: not ENOTDIR");
    CHECK(unlink("d/f") == 0 && rmdir("d") == 0 && access("d", F_OK) == -1, "rmdir");
    printf("ok rmdir: ENOTEMPTY, ENOTDIR, removed\n");
}

static void group_symlink(void)
{
    char buf[64];
    put("t", "target", O_TRUNC);
    CHECK(symlink("t", "l") == 0 && S_ISLNK(mode_of("l")), "symlink");
    ssize_t n = readlink("l", buf, sizeof(buf));
    CHECK(n == 1 && buf[0] == 't', "readlink");
    CHECK(!strcmp(get("l", buf, sizeof(buf)), "target"), "read through the link");
    CHECK(symlink("/nowhere/at/all", "abs") == 0 && (n = readlink("abs", buf, sizeof(buf))) == 15,
          "an absolute target");
    CHECK(open("abs", O_RDONLY) == -1 && errno == ENOENT, "a dangling link opens");
    printf("ok symlink: lstat, readlink, followed in the guest, dangling ENOENT\n");
}

static void group_truncate(void)
{
    put("f", "0123456789", O_TRUNC);
    struct stat st;
    CHECK(truncate("f", 4) == 0 && stat("f", &st) == 0 && st.st_size == 4, "truncate to 4");
    CHECK(truncate("f", 8192) == 0 && stat("f", &st) == 0 && st.st_size == 8192, "truncate to 8192");
    char buf[8192];
    int fd = open("f", O_RDWR);
    CHECK(fd >= 0 && pread(fd, buf, sizeof(buf), 0) == 8192, "read back");
    CHECK(!memcmp(buf, "0123", 4), "the first bytes changed");
    for (int i = 4; i < 8192; i++)
        CHECK(buf[i] == 0, "byte %d after growing is %d", i, buf[i]);
    CHECK(ftruncate(fd, 1) == 0 && fstat(fd, &st) == 0 && st.st_size == 1, "ftruncate to 1");
    close(fd);
    printf("ok truncate: shrink, grow with zeros, ftruncate\n");
}

static void group_unlink(void)
{
    put("f", "still here", O_TRUNC);
    int fd = open("f", O_RDWR);
    CHECK(fd >= 0 && unlink("f") == 0 && access("f", F_OK) == -1, "unlink an open file");
    char buf[32] = {0};
    CHECK(pread(fd, buf, sizeof(buf) - 1, 0) == 10 && !strcmp(buf, "still here"), "read after unlink: '%s'", buf);
    CHECK(pwrite(fd, "STILL", 5, 0) == 5 && pread(fd, buf, 10, 0) == 10 && !memcmp(buf, "STILL here", 10),
          "write after unlink");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "fstat after unlink: nlink %lu", (unsigned long)st.st_nlink);
    close(fd);
    CHECK(unlink("f") == -1 && errno == ENOENT, "unlink again: not ENOENT");
    printf("ok unlink: an open file stays readable and writable, nlink 0\n");
}

static void group_utimensat(void)
{
    put("f", "x", O_TRUNC);
    struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    struct stat st;
    CHECK(utimensat(AT_FDCWD, "f", ts, 0) == 0 && stat("f", &st) == 0, "utimensat");
    CHECK(st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1200000000 &&
              st.st_mtim.tv_nsec == 987654321,
          "times read back %ld.%09ld %ld.%09ld", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
          (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    time_t before = time(NULL);
    CHECK(utimensat(AT_FDCWD, "f", omit_now, 0) == 0 && stat("f", &st) == 0, "UTIME_OMIT, UTIME_NOW");
    CHECK(st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec >= before - 2 && st.st_mtim.tv_sec <= before + 2,
          "UTIME_OMIT kept atime (%ld), UTIME_NOW set mtime (%ld, now %ld)", (long)st.st_atim.tv_sec,
          (long)st.st_mtim.tv_sec, (long)before);
    printf("ok utimensat: exact ns times, UTIME_OMIT, UTIME_NOW\n");
}

static void group_xattr(void)
{
    /* trusted.*: guest root's namespace, and one every host file system
     * that plugvm-as-root serves has (tmpfs of Linux 6.1 has no user.*). */
    put("f", "x", O_TRUNC);
    const char *name = "trusted.plugvm";
    CHECK(setxattr("f", name, "value-1", 7, 0) == 0, "setxattr %s", name);
    char buf[256];
    ssize_t n = getxattr("f", name, buf, sizeof(buf));
    CHECK(n == 7 && !memcmp(buf, "value-1", 7), "getxattr gave %zd bytes", n);
    CHECK(getxattr("f", name, NULL, 0) == 7, "the size query");
    CHECK(getxattr("f", name, buf, 3) == -1 && errno == ERANGE, "a short buffer: not ERANGE");
    CHECK(setxattr("f", name, "v", 1, XATTR_CREATE) == -1 && errno == EEXIST, "XATTR_CREATE over one");
    n = listxattr("f", buf, sizeof(buf));
    int found = 0;
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1)
        found |= !strcmp(buf + i, name);
    CHECK(found, "listxattr does not list %s", name);
    CHECK(removexattr("f", name) == 0 && getxattr("f", name, buf, sizeof(buf)) == -1 && errno == ENODATA,
          "removexattr");
    printf("ok xattr: set, get, size query, ERANGE, XATTR_CREATE, list, remove\n");
}

static void group_locks(void)
{
    put("f", "0123456789", O_TRUNC);
    int fd = open("f", O_RDWR);
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    CHECK(fd >= 0 && fcntl(fd, F_SETLK, &l) == 0, "F_SETLK a write lock on 0-4");
    int go[2], done[2];
    CHECK(pipe(go) == 0 && pipe(done) == 0, "pipe");
    pid_t c = fork();
    if (c == 0) {
        int cfd = open("f", O_RDWR);
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
        int r = 0;
        if (cfd < 0 || fcntl(cfd, F_GETLK, &q) || q.l_type != F_WRLCK)
            r = 10; /* the parent's lock not seen */
        q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
        if (!r && (fcntl(cfd, F_SETLK, &q) == 0 || (errno != EAGAIN && errno != EACCES)))
            r = 11; /* a conflicting lock granted */
        q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 6, .l_len = 2};
        if (!r && fcntl(cfd, F_SETLK, &q))
            r = 12; /* a lock on another range refused */
        char b;
        if (write(done[1], "1", 1) != 1 || read(go[0], &b, 1) != 1)
            r = r ? r : 13;
        q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
        if (!r && fcntl(cfd, F_SETLK, &q))
            r = 14; /* still refused after the parent unlocked */
        _exit(r);
    }
    char b;
    CHECK(read(done[0], &b, 1) == 1, "the child's first half");
    l.l_type = F_UNLCK;
    CHECK(fcntl(fd, F_SETLK, &l) == 0, "F_UNLCK");
    CHECK(write(go[1], "1", 1) == 1, "pipe");
    int status;
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status), "waitpid");
    CHECK(WEXITSTATUS(status) == 0, "the other process: step %d failed (10 GETLK, 11 conflict granted, "
                                    "12 other range, 14 after unlock)", WEXITSTATUS(status));
    close(fd);
    printf("ok locks: F_GETLK sees another process's lock, a conflict is EAGAIN, another range and "
           "after F_UNLCK are granted\n");
}

static void group_mmap(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 8192) == 0, "create and size");
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap MAP_SHARED");
    memcpy(m + 4096, "mapped write", 12);
    CHECK(msync(m, 8192, MS_SYNC) == 0 && munmap(m, 8192) == 0, "msync, munmap");
    char buf[16] = {0};
    CHECK(pread(fd, buf, 12, 4096) == 12 && !memcmp(buf, "mapped write", 12), "read back: '%s'", buf);
    CHECK(pwrite(fd, "written", 7, 0) == 7, "pwrite");
    m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED && !memcmp(m, "written", 7), "a new mapping sees the write");
    munmap(m, 8192);
    close(fd);
    printf("ok mmap: a shared mapping's write read back, a write seen by a new mapping\n");
}

static void group_fsync(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "durable", 7) == 7, "write");
    CHECK(fsync(fd) == 0 && fdatasync(fd) == 0, "fsync, fdatasync");
    close(fd);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0 && fsync(dfd) == 0, "fsync of the directory");
    close(dfd);
    printf("ok fsync: fsync, fdatasync, a directory's fsync\n");
}

static void group_many(void)
{
    enum { N = 10000 };
    char name[32];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%05d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        CHECK(fd >= 0, "create %s", name);
        close(fd);
    }
    DIR *d = opendir(".");
    CHECK(d != NULL, "opendir");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] == 'f';
    closedir(d);
    CHECK(n == N, "readdir lists %d files, not %d", n, N);
    struct stat st;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%05d", i);
        CHECK(stat(name, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "stat %s", name);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%05d", i);
        CHECK(unlink(name) == 0, "unlink %s", name);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    d = opendir(".");
    n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    CHECK(n == 0, "%d entries left", n);
    printf("ok many: %d files created, listed, stat'ed, removed in %.1f s\n", N,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void group_race(void)
{
    CHECK(mkdir("d", 0755) == 0, "mkdir d");
    put("d/canary.txt", "inside", O_TRUNC);
    /* From DIR/race, "../.." is the share's parent on the host, where the
     * canary is; in the guest it is the guest's own root. */
    CHECK(symlink("../..", "s") == 0, "symlink s -> ../..");
    pid_t c = fork();
    if (c == 0) {
        for (;;)
            rename2("d", "s", RENAME_EXCHANGE);
    }
    int inside = 0, other = 0;
    char buf[64];
    for (int i = 0; i < 3000; i++) {
        int fd = open("d/canary.txt", O_RDONLY);
        if (fd < 0) {
            other++;
            continue;
        }
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        if (strstr(buf, "canary-8f3e")) {
            kill(c, SIGKILL);
            fail("read the host's canary through d/canary.txt after %d opens", i);
        }
        inside += !strcmp(buf, "inside");
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    printf("ok race: 3000 opens of d/canary.txt while d and s -> ../.. swapped: %d read the share's file, "
           "%d found none, none the host's canary\n", inside, other);
}

static void clean(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            clean(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    if (d)
        closedir(d);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } groups[] = {
        {"chmod", group_chmod},       {"chown", group_chown},   {"link", group_link},
        {"mkdir", group_mkdir},       {"mkfifo", group_mkfifo}, {"open", group_open},
        {"rename", group_rename},     {"rmdir", group_rmdir},   {"symlink", group_symlink},
        {"truncate", group_truncate}, {"unlink", group_unlink}, {"utimensat", group_utimensat},
        {"xattr", group_xattr},       {"locks", group_locks},   {"mmap", group_mmap},
        {"fsync", group_fsync},       {"many", group_many},     {"race", group_race},
    };
    if (argc != 3) {
        fprintf(stderr, "usage: fs-posix DIR GROUP\n");
        return 2;
    }
    group = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strcmp(groups[i].name, group))
            continue;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", argv[1], group);
        CHECK(mkdir(dir, 0755) == 0 && chdir(dir) == 0, "mkdir and chdir %s", dir);
        groups[i].fn();
        CHECK(chdir(argv[1]) == 0, "chdir back");
        clean(dir);
        CHECK(rmdir(dir) == 0, "cleaning up %s", dir);
        return 0;
    }
    fprintf(stderr, "fs-posix: no group %s\n", group);
    return 2;
}
