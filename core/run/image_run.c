/* SPDX-License-Identifier: Apache-2.0 */
/* `plugvm run --image` (core/run/image_run.h). */
#include "run/image_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <plugvm/vm.h>

#include "cli/commands.h"
#include "image/cache.h"
#include "image/quick.h"
#include "launch.h"
#include "run/relay.h"
#include "util/log.h"
#include "util/paths.h"
#include "vm/run.h"

#define DEFAULT_KERNEL "debian-cloud-vmlinuz"
#define INIT_INITRD "plugvm-init.cpio.gz"
#define DEFAULT_MEMORY_MIB 512
#define STOP_GRACE_S 10.0

/* plugvm's own errors: a line on stderr; the run's status is 125. */
static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("plugvm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* `plugvm-image --cache ROOT import -q IMAGE`: its stdout is the digest,
 * its stderr (progress, errors) this process's. 0 with digest[], or -1
 * (it said why). */
static int import_image(const char *root, const char *image, char *digest, size_t len)
{
    char *helper = image_helper_path();
    int p[2];
    if (!helper || pipe2(p, O_CLOEXEC)) {
        free(helper);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        char *argv[] = {"plugvm image", "image", "--cache", (char *)root, "import", "-q", (char *)image, NULL};
        execv(helper, argv);
        fprintf(stderr, "plugvm: cannot run %s: %s\n", helper, strerror(errno));
        _exit(125);
    }
    free(helper);
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < len - 1 && ((r = read(p[0], digest + n, len - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    close(p[0]);
    digest[n] = '\0';
    digest[strcspn(digest, "\n")] = '\0';
    int status;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && digest[0] ? 0 : -1;
}

/* The image's folder in the cache: a cached name, a recorded import of
 * the same source, or a fresh import. */
static int find_image(const char *root, const char *image, char *dir, size_t dirlen)
{
    char name[IMAGE_DIGEST_TEXT_MAX], err[1024];
    struct image_quick q;
    bool cached = image_cache_find(root, image, name, err, sizeof(err)) == 0;
    if (!cached && image_quick_find(root, image, &q) == 0) {
        snprintf(name, sizeof(name), "%s", q.dirname);
    } else if (!cached) {
        char path[PATH_MAX], ref[512], digest[256];
        struct stat st;
        if (image_ref_split(image, path, sizeof(path), ref, sizeof(ref)) || stat(path, &st)) {
            complain("image %s: not in the image cache (%s) and no such file or folder to import", image, root);
            return -1;
        }
        if (import_image(root, image, digest, sizeof(digest)))
            return complain("image %s: could not be imported (see above)", image);
        if (image_cache_find(root, digest, name, err, sizeof(err))) {
            complain("image %s: imported as %s but not found in the cache: %s", image, digest, err);
            return -1;
        }
    }
    if (snprintf(dir, dirlen, "%s/%s", root, name) >= (int)dirlen) {
        complain("%s/%s: path too long", root, name);
        return -1;
    }
    return 0;
}

int image_run_parse_volume(const char *spec, char *file, size_t filelen, char *path, size_t pathlen, bool *ro,
                           char *err, size_t errlen)
{
    const char *c = strchr(spec, ':');
    *ro = false;
    if (!c || c == spec) {
        snprintf(err, errlen, "--volume %s: expected FILE:PATH[:ro]", spec);
        return -1;
    }
    const char *p = c + 1, *end = p + strlen(p);
    if (end - p > 3 && !strcmp(end - 3, ":ro")) {
        *ro = true;
        end -= 3;
    } else if (end - p > 3 && !strcmp(end - 3, ":rw")) {
        end -= 3;
    }
    if (p == end || *p != '/' || (end - p == 1) || memchr(p, ':', (size_t)(end - p))) {
        snprintf(err, errlen, "--volume %s: the guest path must be absolute, not \"/\", with no ':'", spec);
        return -1;
    }
    if ((size_t)(c - spec) >= filelen || (size_t)(end - p) >= pathlen) {
        snprintf(err, errlen, "--volume %s: too long", spec);
        return -1;
    }
    memcpy(file, spec, (size_t)(c - spec));
    file[c - spec] = '\0';
    memcpy(path, p, (size_t)(end - p));
    path[end - p] = '\0';
    return 0;
}

/* A volume is an ext4 image (a file or a block device) through blk,
 * which locks it (shared for :ro, exclusive otherwise: an OFD lock,
 * plugins/blk/disk.c) so two VMs never write one ext4 at once; or a
 * directory shared through virtio-fs (plugins/fs). `file` becomes an
 * absolute path: the VM's config is read from the run's own folder, where
 * a relative one would point elsewhere. 0 for an image, 1 for a
 * directory, -1 after a message. */
static int check_volume(char *file, size_t len)
{
    struct stat st;
    char abs[PATH_MAX];
    if (stat(file, &st) || !realpath(file, abs))
        return complain("--volume %s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISDIR(st.st_mode))
        return complain("--volume %s: neither a file holding an ext4 image nor a directory", file);
    if (strlen(abs) >= len)
        return complain("--volume %s: path too long", file);
    strcpy(file, abs);
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

struct run_state {
    char rundir[PATH_MAX - 64];
    char uds[PATH_MAX];
    char console_log[PATH_MAX];
};

static int make_rundir(struct run_state *s)
{
    const char *base = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (!base || stat(base, &st) || !S_ISDIR(st.st_mode) || access(base, W_OK))
        base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    /* Unix socket paths hold 107 bytes: "<dir>/v.sock_1027" must fit. */
    if (snprintf(s->rundir, sizeof(s->rundir), "%s/plugvm-run-XXXXXX", base) > 80 || !mkdtemp(s->rundir))
        if (snprintf(s->rundir, sizeof(s->rundir), "/tmp/plugvm-run-XXXXXX") < 0 || !mkdtemp(s->rundir))
            return complain("cannot make a folder for the VM's sockets in %s: %s", base, strerror(errno));
    snprintf(s->uds, sizeof(s->uds), "%s/v.sock", s->rundir);
    snprintf(s->console_log, sizeof(s->console_log), "%s/console.log", s->rundir);
    return 0;
}

static void remove_rundir(struct run_state *s)
{
    static const char *const names[] = {"v.sock", "v.sock_1024", "v.sock_1025", "v.sock_1026",
                                        "v.sock_1027", "console.log"};
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", s->rundir, names[i]);
        unlink(p);
    }
    rmdir(s->rundir);
}

/* The end of the console's log, for a VM that failed before its process
 * said anything: the kernel's or init's last words. */
static void show_console_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[2049];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > 2048 ? size - 2048 : 0;
    ssize_t n = pread(fd, buf, 2048, from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    fprintf(stderr, "plugvm: the end of the guest's console (-v shows all of it):\n%s%s", buf,
            buf[n - 1] == '\n' ? "" : "\n");
}

/* The image's VM, field by field through libplugvm (plugvm/vm.h): the
 * root disk, the vsock device init talks over, and one device a volume.
 * Checked whole at plugvm_vm_start, as a config file would be. */
static int build_vm(const struct image_run_opts *o, const char *imgdir, const struct run_state *s,
                    char *const *volfile, const bool *volro, const bool *voldir, struct plugvm_vm **out)
{
    char *kernel = paths_find_image(NULL, o->kernel ? o->kernel : DEFAULT_KERNEL);
    char *initrd = paths_find_image(NULL, INIT_INITRD);
    if (!kernel || !initrd) {
        complain("no %s (%s): %s", kernel ? "initramfs for plugvm-init" : "guest kernel",
               kernel ? INIT_INITRD : o->kernel ? o->kernel : DEFAULT_KERNEL,
               o->kernel && !kernel ? "no such file"
                                    : "not in $PLUGVM_IMAGE_PATH, the build tree's images/ or the installed "
                                      "share/plugvm/images (scripts/images.sh BUILD makes them)");
        free(kernel);
        free(initrd);
        return -1;
    }
    char rootfs[PATH_MAX + 32], cmdline[256];
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs.ext4", imgdir);
    /* quiet: the console is a log nobody reads unless -v; every line of
     * it costs a UART exit per byte. */
    snprintf(cmdline, sizeof(cmdline), "console=ttyS0 %s reboot=k panic=-1 rdinit=/init",
             o->verbose ? "loglevel=6" : "quiet loglevel=1");
    struct plugvm_vm *vm = NULL;
    struct plugvm_error e;
    unsigned d;
    int rc = plugvm_vm_new(&vm, &e) || plugvm_vm_set_vcpus(vm, o->vcpus ? o->vcpus : 1, &e) ||
             plugvm_vm_set_memory_mib(vm, o->memory_mib ? o->memory_mib : DEFAULT_MEMORY_MIB, &e) ||
             plugvm_vm_set_kernel(vm, kernel, &e) || plugvm_vm_set_initrd(vm, initrd, &e) ||
             plugvm_vm_set_cmdline(vm, cmdline, &e) ||
             plugvm_vm_add_device(vm, "blk", &d, &e) || plugvm_vm_device_set_bool(vm, d, "read_only", true, &e) ||
             plugvm_vm_device_set_string(vm, d, "serial", "plugvm-root", &e) ||
             plugvm_vm_device_set_string(vm, d, "path", rootfs, &e) ||
             plugvm_vm_add_device(vm, "vsock", &d, &e) || plugvm_vm_device_set_int(vm, d, "guest_cid", 3, &e) ||
             plugvm_vm_device_set_string(vm, d, "uds_path", s->uds, &e);
    for (size_t i = 0; i < o->nvolumes && !rc; i++) {
        /* A share's tag is its volume's index (guest/init/launch.h). */
        char tag[32];
        snprintf(tag, sizeof(tag), "plugvm-vol%zu", i);
        rc = plugvm_vm_add_device(vm, voldir[i] ? "fs" : "blk", &d, &e) ||
             (voldir[i] && plugvm_vm_device_set_string(vm, d, "tag", tag, &e)) ||
             plugvm_vm_device_set_bool(vm, d, "read_only", volro[i], &e) ||
             plugvm_vm_device_set_string(vm, d, voldir[i] ? "source" : "path", volfile[i], &e);
    }
    free(kernel);
    free(initrd);
    if (rc) {
        complain("%s", e.message);
        plugvm_vm_free(vm);
        return -1;
    }
    *out = vm;
    return 0;
}

/* Runs one VM (set up, not started: booted, or restored from a snapshot)
 * for the process, and frees it; snapshot_to: the folder the booted VM is
 * snapshotted into as init asks for its launch. Returns the run's status. */
static int run_vm(const struct image_run_opts *o, struct run_state *s, struct plugvm_vm *vm,
                  const struct launch *launch, const char *snapshot_to, bool *reported, bool *connected)
{
    char err[2048];
    int console_fd = o->verbose ? STDERR_FILENO : open(s->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct relay_opts ro = {.uds_path = s->uds, .launch = launch, .interactive = o->interactive, .tty = o->tty,
                            .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO,
                            .stop_grace_s = STOP_GRACE_S, .snapshot_dir = snapshot_to, .vm = vm};
    struct relay *relay;
    struct plugvm_error e;
    *reported = *connected = false;
    /* The relay's thread must not take SIGINT or SIGTERM either, or their
     * default action would end plugvm: blocked before it starts, as
     * run_until_stopped blocks them for the VM's threads. */
    sigset_t stop_sigs, old;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, &old);
    int status = 125;
    if (plugvm_vm_set_console(vm, -1, console_fd, 0, &e)) {
        complain("%s", e.message);
    } else if (relay_start(&relay, &ro, err, sizeof(err))) {
        complain("%s", err);
    } else {
        int vm_status = run_until_stopped(vm, o->timeout_s, relay_on_signal, relay);
        /* The relay may use the VM until it ends. */
        status = relay_finish(relay, vm_status, reported, connected);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    plugvm_vm_free(vm);
    if (!o->verbose && console_fd >= 0)
        close(console_fd);
    if (!*reported && status == 125 && !o->verbose)
        show_console_tail(s->console_log);
    return status;
}

/* FNV-1a, 64 bits, from `h`: two of them with different bases name a
 * snapshot by its key (no cryptographic strength needed: the key is ours). */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static void identity(char *buf, size_t len, const char *what, const char *path)
{
    struct stat st;
    size_t at = strlen(buf);
    if (stat(path, &st))
        snprintf(buf + at, len - at, " %s=%s:none", what, path);
    else
        snprintf(buf + at, len - at, " %s=%s:%llu:%llu:%lld:%lld.%09ld", what, path, (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
}

/* The image's snapshot folder for this run: IMAGE_DIR/snapshots/KEY, KEY
 * from everything the snapshotted VM depends on: this plugvm, the
 * kernel, the initramfs (plugvm-init), vCPUs, RAM and the console's
 * verbosity. Any of them changed: another KEY, so the old snapshot is
 * never used and a new one is made. 0, or -1 (no snapshot this run). */
static int snapshot_dir(const struct image_run_opts *o, const char *imgdir, char *out, size_t len)
{
    char key[4 * PATH_MAX + 512];
    char *kernel = paths_find_image(NULL, o->kernel ? o->kernel : DEFAULT_KERNEL);
    char *initrd = paths_find_image(NULL, INIT_INITRD);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (!kernel || !initrd || n <= 0) {
        free(kernel);
        free(initrd);
        return -1;
    }
    self[n] = '\0';
    snprintf(key, sizeof(key), "v1 %s vcpus=%u mib=%llu verbose=%d", PLUGVM_VERSION, o->vcpus ? o->vcpus : 1,
             (unsigned long long)(o->memory_mib ? o->memory_mib : DEFAULT_MEMORY_MIB), o->verbose);
    identity(key, sizeof(key), "plugvm", self);
    identity(key, sizeof(key), "kernel", kernel);
    identity(key, sizeof(key), "initrd", initrd);
    free(kernel);
    free(initrd);
    char base[PATH_MAX + 16];
    snprintf(base, sizeof(base), "%s/snapshots", imgdir);
    if (mkdir(base, 0700) && errno != EEXIST)
        return -1;
    int w = snprintf(out, len, "%s/%016llx%016llx", base, (unsigned long long)fnv(0xcbf29ce484222325ull, key),
                     (unsigned long long)fnv(0x84222325cbf29ce4ull, key));
    return w > 0 && (size_t)w < len ? 0 : -1;
}

static bool snapshot_usable(const char *dir)
{
    static const char *const files[] = {"vm.cfg", "state", "memory"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        if (access(p, R_OK))
            return false;
    }
    return true;
}

/* The launch record's fields but the clock and entropy, which the relay
 * fills in as it sends it (core/run/relay.h). */
static void make_launch(const struct image_process *p, const struct image_run_opts *o, char **volumes,
                        char *hostname, struct launch *l)
{
    *l = (struct launch){.argv = p->argv, .argc = p->argc, .env = p->env, .nenv = p->nenv, .cwd = p->cwd,
                         .user = p->user, .volumes = volumes, .nvolumes = o->nvolumes, .hostname = hostname};
    uint8_t id[6];
    /* A fresh name per run, as docker names a container by its id. */
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
        memset(id, 0, sizeof(id));
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(hostname + 2 * i, 3, "%02x", id[i]);
    if (o->tty) {
        l->flags |= LAUNCH_F_TTY;
        struct winsize ws = {.ws_row = 24, .ws_col = 80};
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) || !ws.ws_row)
            ws = (struct winsize){.ws_row = 24, .ws_col = 80};
        l->rows = ws.ws_row;
        l->cols = ws.ws_col;
    }
}

int image_run(const struct image_run_opts *o)
{
    char root[IMAGE_CACHE_PATH_MAX], imgdir[PATH_MAX], err[2048];
    struct run_state s = {0};
    int status = 125;
    struct image_process proc = {0};
    char *config_json = NULL;
    struct launch launch;
    char hostname[16];
    size_t cfg_len;
    char volfile_buf[IMAGE_RUN_VOLUMES_MAX][PATH_MAX], volpath_buf[IMAGE_RUN_VOLUMES_MAX][PATH_MAX + 8];
    char *volfile[IMAGE_RUN_VOLUMES_MAX], *volspec[IMAGE_RUN_VOLUMES_MAX + 1];
    bool volro[IMAGE_RUN_VOLUMES_MAX], voldir[IMAGE_RUN_VOLUMES_MAX];
    bool have_dir = false;
    struct plugvm_vm *vm = NULL;

    /* The command line's own mistakes first, before any image is read. */
    for (size_t i = 0; i < o->nvolumes; i++) {
        char gpath[PATH_MAX];
        if (image_run_parse_volume(o->volumes[i], volfile_buf[i], PATH_MAX, gpath, sizeof(gpath), &volro[i], err,
                                   sizeof(err))) {
            complain("%s", err);
            return 125;
        }
        int kind = check_volume(volfile_buf[i], PATH_MAX);
        if (kind < 0)
            return 125;
        voldir[i] = kind == 1;
        /* guest/init/launch.h: "ro:fs:/p" is a share, "ro:/p" a disk. */
        snprintf(volpath_buf[i], sizeof(volpath_buf[i]), "%s:%s%s", volro[i] ? "ro" : "rw",
                 voldir[i] ? "fs:" : "", gpath);
        volfile[i] = volfile_buf[i];
        volspec[i] = volpath_buf[i];
    }
    volspec[o->nvolumes] = NULL;
    if (image_cache_root(o->cache, root, err, sizeof(err))) {
        complain("%s", err);
        return 125;
    }
    if (find_image(root, o->image, imgdir, sizeof(imgdir)))
        return 125;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/config.json", imgdir);
    if (!(config_json = slurp(path, 16u << 20, &cfg_len))) {
        complain("%s: %s", path, strerror(errno));
        goto out;
    }
    if (image_process_make(config_json, cfg_len, &o->proc, &proc, err, sizeof(err))) {
        complain("image %s: %s", o->image, err);
        goto out;
    }
    if (make_rundir(&s))
        goto out;
    have_dir = true;
    if (build_vm(o, imgdir, &s, volfile, volro, voldir, &vm))
        goto out;
    make_launch(&proc, o, volspec, hostname, &launch);
    uint8_t *rec;
    size_t rec_len;
    /* Refused now rather than when the guest is up. */
    if (launch_encode(&launch, &rec, &rec_len)) {
        complain("the process does not fit a launch record (4096 arguments or variables at most, 1 MiB in all)");
        goto out;
    }
    free(rec);

    char snapdir[PATH_MAX];
    bool snap = !o->no_snapshot && !o->nvolumes && snapshot_dir(o, imgdir, snapdir, sizeof(snapdir)) == 0;
    bool connected = false, reported = false;
    if (snap && snapshot_usable(snapdir)) {
        struct plugvm_vm *rvm;
        struct plugvm_error e;
        /* The snapshot's vsock device listens where this run's relay does. */
        if (plugvm_vm_new_from_snapshot(snapdir, &rvm, &e) == 0) {
            if (plugvm_vm_device_set_string(rvm, 1, "uds_path", s.uds, &e) == 0) {
                status = run_vm(o, &s, rvm, &launch, NULL, &reported, &connected);
                snprintf(e.message, sizeof(e.message), "the messages above say why");
            } else {
                plugvm_vm_free(rvm);
            }
        }
        if (connected || reported)
            goto out;
        /* A snapshot that does not restore is remade, never tried again. */
        fprintf(stderr, "plugvm: the image's snapshot %s did not restore%s%s: removed, booting instead\n",
                snapdir, connected ? "" : ": ", connected ? "" : e.message);
        image_cache_rmdir(snapdir);
    }
    status = run_vm(o, &s, vm, &launch, snap ? snapdir : NULL, &reported, &connected);
    vm = NULL;
out:
    plugvm_vm_free(vm);
    if (have_dir)
        remove_rundir(&s);
    free(config_json);
    image_process_free(&proc);
    return status;
}
