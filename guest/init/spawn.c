/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm-init starts the image's process (guest/init/spawn.h). */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "user.h"

#define FILE_MAX (1u << 20) /* /etc/passwd, /etc/group: more is not read */

/* The file's bytes (NUL-terminated, *len without it) or NULL. */
static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(FILE_MAX + 1);
    size_t n = 0;
    while (buf && n < FILE_MAX) {
        ssize_t r = read(fd, buf + n, FILE_MAX - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int mkdirs(const char *path, uid_t uid, gid_t gid)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            /* As docker does for a WorkingDir it makes: the user's. */
            if (chown(p, uid, gid))
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        }
        if (!c)
            return 0;
        *s = c;
    }
}

static const char *getenv_in(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* What docker adds to a container's environment when neither the image
 * nor -e set it: HOSTNAME, HOME (the user's, from /etc/passwd) and, with
 * a terminal, TERM=xterm. Called in the child: the copy is never freed. */
static char **env_with_defaults(const struct launch *l, const struct init_user *u, int tty)
{
    char **env = calloc(l->nenv + 4, sizeof(char *));
    if (!env)
        return l->env;
    size_t n = 0;
    for (size_t i = 0; i < l->nenv; i++)
        env[n++] = l->env[i];
    char *add[3] = {NULL, NULL, NULL};
    if (!getenv_in(l->env, "HOSTNAME") && l->hostname[0] && asprintf(&add[0], "HOSTNAME=%s", l->hostname) < 0)
        add[0] = NULL;
    if (!getenv_in(l->env, "HOME") && asprintf(&add[1], "HOME=%s", u->home) < 0)
        add[1] = NULL;
    if (tty && !getenv_in(l->env, "TERM"))
        add[2] = "TERM=xterm";
    for (int i = 0; i < 3; i++)
        if (add[i])
            env[n++] = add[i];
    env[n] = NULL;
    return env;
}

/* The child's failure, written to init through a close-on-exec pipe. */
struct failure {
    int status;
    int err;
    char what[16];
};

static void child(const struct launch *l, const struct init_user *u, int fds[3], int tty, int pipe_w)
{
    struct failure f = {.status = 125};
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    setsid();
    /* fds[] may sit on 0..2 themselves: lift them above first. */
    int hi[3];
    for (int i = 0; i < 3; i++)
        hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    for (int i = 0; i < 3; i++)
        if (hi[i] < 0 || dup2(hi[i], i) < 0)
            goto fail_errno;
    if (tty && ioctl(0, TIOCSCTTY, 0))
        goto fail_errno;
    gid_t groups[INIT_GROUPS_MAX];
    for (size_t i = 0; i < u->ngroups; i++)
        groups[i] = u->groups[i];
    snprintf(f.what, sizeof(f.what), "user");
    if (setgroups(u->ngroups, groups) || setgid(u->gid) || setuid(u->uid))
        goto fail_errno;
    snprintf(f.what, sizeof(f.what), "cwd");
    if (chdir(l->cwd))
        goto fail_errno;
    snprintf(f.what, sizeof(f.what), "exec");
    /* execvp looks argv[0] up in environ's PATH: the process's. */
    environ = env_with_defaults(l, u, tty);
    execvp(l->argv[0], l->argv);
    f.status = errno == ENOENT || errno == ENOTDIR ? 127 : 126;
fail_errno:
    f.err = errno;
    if (write(pipe_w, &f, sizeof(f)) < 0)
        _exit(f.status);
    _exit(f.status);
}

pid_t spawn_process(const struct launch *l, int fds[3], int tty, int *status, char *err, size_t errlen)
{
    pid_t pid = -1;
    char *passwd = NULL, *group = NULL;
    size_t plen = 0, glen = 0;
    struct init_user u;
    struct stat st;
    int p[2] = {-1, -1};
    *status = 125;
    passwd = slurp("/etc/passwd", &plen);
    group = slurp("/etc/group", &glen);
    if (init_user_resolve(l->user, passwd, plen, group, glen, &u, err, errlen))
        goto out;
    if (stat(l->cwd, &st) == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "working directory %s: not a directory", l->cwd);
        goto out;
    }
    if (mkdirs(l->cwd, u.uid, u.gid)) {
        snprintf(err, errlen, "working directory %s: %s", l->cwd, strerror(errno));
        goto out;
    }
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid == 0)
        child(l, &u, fds, tty, p[1]);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto out;
    }
    close(p[1]);
    p[1] = -1;
    struct failure f;
    ssize_t n;
    do
        n = read(p[0], &f, sizeof(f));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(f)) {
        waitpid(pid, NULL, 0);
        pid = -1;
        *status = f.status;
        f.what[sizeof(f.what) - 1] = '\0';
        if (!strcmp(f.what, "exec") && f.status == 127 && !strchr(l->argv[0], '/'))
            snprintf(err, errlen, "exec: \"%s\": executable file not found in $PATH", l->argv[0]);
        else if (!strcmp(f.what, "exec"))
            snprintf(err, errlen, "exec: \"%s\": %s", l->argv[0], strerror(f.err));
        else if (!strcmp(f.what, "cwd"))
            snprintf(err, errlen, "working directory %s: %s", l->cwd, strerror(f.err));
        else
            snprintf(err, errlen, "%s: %s", f.what[0] ? f.what : "setting up the process", strerror(f.err));
    }
out:
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0 && (i == 0 || fds[i] != fds[i - 1]))
            close(fds[i]);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    free(passwd);
    free(group);
    return pid;
}
