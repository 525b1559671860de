/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libplugvm's C API (include/plugvm/vm.h), linked as a program that
 * embeds it links: against libplugvm.so.
 *
 *   test_vm_api errors      every refusal, as a value with its message,
 *                           on any host (unit.test_vm_api)
 *   test_vm_api vms BUILD   two VMs of the test guest in one process at
 *                           once: pause (one stands still, the other
 *                           counts on), resume, snapshot, stop from
 *                           another thread while one waits, restore on a
 *                           copy of the disk counting on from where it
 *                           was (kvm.vm_api, where KVM is)
 *
 * The test guest's test=snapshot prints `count N` on its console, which
 * goes to a file here (plugvm_vm_set_console).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plugvm/vm.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define FATAL(...)                                                                                 \
    do {                                                                                           \
        printf("FATAL %s:%d: ", __FILE__, __LINE__);                                               \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        exit(1);                                                                                   \
    } while (0)

/* rc is code, err carries the same code and a message holding `want`. */
static void expect(int rc, const struct plugvm_error *e, int code, const char *want, int line)
{
    if (rc != code || e->code != code || !strstr(e->message, want)) {
        printf("FAIL line %d: got %d (%d) \"%s\", expected %d with \"%s\"\n", line, rc, e->code,
               e->message, code, want);
        failures++;
    }
}
#define EXPECT(call, code, want)                                                                   \
    do {                                                                                           \
        memset(&e, 0, sizeof(e));                                                                  \
        expect((call), &e, (code), (want), __LINE__);                                              \
    } while (0)

static char tmp[] = "/tmp/test_vm_api.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        FATAL("cannot write %s", path);
}

static int errors(void)
{
    struct plugvm_error e;
    struct plugvm_vm *vm = NULL, *other = NULL;
    char path[512];

    EXPECT(plugvm_vm_new_from_config("/nonexistent/vm.cfg", &vm, &e), -ENOENT, "/nonexistent/vm.cfg");
    CHECK(vm == NULL, "no VM after a refusal");
    write_file("syntax.cfg", "vm = { memory_mib = 32\n kernel = ; };\n");
    snprintf(path, sizeof(path), "%s/syntax.cfg", tmp);
    EXPECT(plugvm_vm_new_from_config(path, &vm, &e), -EINVAL, "syntax.cfg:2: syntax error");
    write_file("nokernel.cfg", "vm = { memory_mib = 32; kernel = \"missing.elf\"; };\n");
    snprintf(path, sizeof(path), "%s/nokernel.cfg", tmp);
    EXPECT(plugvm_vm_new_from_config(path, &vm, &e), -ENOENT, "setting 'vm.kernel': file 'missing.elf' not found");
    EXPECT(plugvm_vm_new_from_snapshot("/nonexistent", &vm, &e), -ENOENT, "/nonexistent/vm.cfg");
    EXPECT(plugvm_vm_new(NULL, &e), -EINVAL, "no place");

    /* Field by field: each setter checks what it can at once. */
    if (plugvm_vm_new(&vm, &e) || plugvm_vm_new(&other, &e))
        FATAL("plugvm_vm_new: %s", e.message);
    CHECK(vm != other, "two VMs, two handles");
    EXPECT(plugvm_vm_set_vcpus(vm, 0, &e), -EINVAL, "vm.vcpus: 0; expected 1 to 64");
    EXPECT(plugvm_vm_set_vcpus(vm, 65, &e), -EINVAL, "vm.vcpus: 65");
    EXPECT(plugvm_vm_set_memory_mib(vm, 8, &e), -EINVAL, "vm.memory_mib: 8 MiB; expected 16");
    EXPECT(plugvm_vm_set_kernel(vm, "", &e), -EINVAL, "vm.kernel: expected a non-empty string");
    char long_cmdline[3000];
    memset(long_cmdline, 'x', sizeof(long_cmdline) - 1);
    long_cmdline[sizeof(long_cmdline) - 1] = '\0';
    EXPECT(plugvm_vm_set_cmdline(vm, long_cmdline, &e), -EINVAL, "vm.cmdline: 2999 bytes; expected at most 2047");
    EXPECT(plugvm_vm_device_set_int(vm, 0, "queues", 2, &e), -ENOENT, "devices[0].queues: the VM has 0 devices");
    EXPECT(plugvm_vm_set_console(vm, -1, 1, 0x10, &e), -EINVAL, "unknown flags 0x10");
    /* Nothing runs yet. */
    EXPECT(plugvm_vm_stop(vm, &e), -EBUSY, "not started");
    EXPECT(plugvm_vm_wait(vm, 0, NULL, &e), -EBUSY, "not started");
    EXPECT(plugvm_vm_pause(vm, &e), -EBUSY, "was not started");
    EXPECT(plugvm_vm_snapshot(vm, tmp, &e), -EBUSY, "was not started");
    CHECK(plugvm_vm_event_fd(vm) == -1, "no event fd before start");
    CHECK(plugvm_vm_stop_reason(vm) == PLUGVM_RUNNING, "no stop reason before start");

    /* Start checks the whole VM before the hypervisor: on any host. */
    EXPECT(plugvm_vm_start(vm, &e), -EINVAL, "plugvm_vm_new: missing setting 'vm.memory_mib'");
    if (plugvm_vm_set_memory_mib(vm, 32, &e) || plugvm_vm_set_kernel(vm, "missing.elf", &e))
        FATAL("%s", e.message);
    EXPECT(plugvm_vm_start(vm, &e), -ENOENT, "setting 'vm.kernel': file 'missing.elf' not found");
    unsigned idx = 99;
    if (plugvm_vm_set_kernel(vm, "hello.elf", &e) || plugvm_vm_add_device(vm, "nosuchplugin", &idx, &e))
        FATAL("%s", e.message);
    CHECK(idx == 0, "the first device is index 0, got %u", idx);
    EXPECT(plugvm_vm_start(vm, &e), -EINVAL, "devices[0]");
    EXPECT(plugvm_vm_device_set_string(vm, 0, "a b", "x", &e), -EINVAL, "expected a setting name");
    EXPECT(plugvm_vm_device_set_string(vm, 0, "plugin", "blk", &e), -EINVAL, "plugvm_vm_add_device");
    plugvm_vm_free(vm);

    /* A setting the plugin's own table does not know, named. */
    if (plugvm_vm_new(&vm, &e) || plugvm_vm_set_memory_mib(vm, 32, &e) ||
        plugvm_vm_set_kernel(vm, "hello.elf", &e) || plugvm_vm_add_device(vm, "blk", NULL, &e) ||
        plugvm_vm_device_set_string(vm, 0, "pathh", "/dev/null", &e))
        FATAL("%s", e.message);
    EXPECT(plugvm_vm_start(vm, &e), -EINVAL, "pathh");
    plugvm_vm_free(vm);

    /* A whole VM: started where KVM is, else refused as ENODEV naming the
     * backend, everything before it accepted. */
    if (plugvm_vm_set_memory_mib(other, 32, &e) || plugvm_vm_set_kernel(other, "hello.elf", &e))
        FATAL("%s", e.message);
    memset(&e, 0, sizeof(e));
    int rc = plugvm_vm_start(other, &e);
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        expect(rc, &e, -ENODEV, "backend 'kvm' cannot run here", __LINE__);
    } else if (rc == 0) {
        int status = -1;
        CHECK(plugvm_vm_wait(other, 30000, &status, &e) == 0, "wait: %s", e.message);
        CHECK(status == 0 && plugvm_vm_stop_reason(other) == PLUGVM_STOP_RESET,
              "hello ends with a reset: status %d reason %d", status, plugvm_vm_stop_reason(other));
        EXPECT(plugvm_vm_start(other, &e), -EBUSY, "started already");
        EXPECT(plugvm_vm_set_vcpus(other, 2, &e), -EBUSY, "has been started");
        CHECK(plugvm_vm_stop(other, &e) == 0, "stop after the end: 0");
    } else {
        CHECK(rc == -ENODEV, "start with KVM present: %d %s", rc, e.message);
    }
    plugvm_vm_free(other);
    plugvm_vm_free(NULL);
    return 0;
}

/* The last whole `count N` line of the console file, or -1. */
static long last_count(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256];
    long last = -1, n;
    while (fgets(line, sizeof(line), f))
        if (strchr(line, '\n') && sscanf(line, "count %ld", &n) == 1)
            last = n;
    fclose(f);
    return last;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long wait_count(const char *file, long n)
{
    double until = now_s() + 30;
    long c;
    while ((c = last_count(file)) < n && now_s() < until)
        usleep(20000);
    if (c < n)
        FATAL("%s: no count %ld within 30 s (last %ld)", file, n, c);
    return c;
}

struct counter_vm {
    struct plugvm_vm *vm;
    char out[512], disk[512];
    int out_fd;
};

static void make_vm(struct counter_vm *c, const char *name, const char *snapshot)
{
    struct plugvm_error e;
    snprintf(c->out, sizeof(c->out), "%s/%s.out", tmp, name);
    snprintf(c->disk, sizeof(c->disk), "%s/%s.img", tmp, name);
    c->out_fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (c->out_fd < 0)
        FATAL("%s: %s", c->out, strerror(errno));
    int rc;
    if (snapshot) {
        rc = plugvm_vm_new_from_snapshot(snapshot, &c->vm, &e) ||
             plugvm_vm_device_set_string(c->vm, 0, "path", c->disk, &e);
    } else {
        int fd = open(c->disk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, 4 << 20) || close(fd))
            FATAL("%s: %s", c->disk, strerror(errno));
        unsigned idx;
        rc = plugvm_vm_new(&c->vm, &e) || plugvm_vm_set_memory_mib(c->vm, 64, &e) ||
             plugvm_vm_set_kernel(c->vm, "testguest.elf", &e) ||
             plugvm_vm_set_cmdline(c->vm, "test=snapshot", &e) ||
             plugvm_vm_add_device(c->vm, "blk", &idx, &e) ||
             plugvm_vm_device_set_string(c->vm, idx, "path", c->disk, &e);
    }
    rc = rc || plugvm_vm_set_console(c->vm, -1, c->out_fd, 0, &e) || plugvm_vm_start(c->vm, &e);
    if (rc)
        FATAL("%s: %s", name, e.message);
}

struct stopper {
    struct plugvm_vm *vm;
    int rc;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    usleep(200000);
    s->rc = plugvm_vm_stop(s->vm, NULL);
    return NULL;
}

static int copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
    return system(cmd);
}

static int vms(const char *build)
{
    char images[512];
    snprintf(images, sizeof(images), "%s/images", build);
    setenv("PLUGVM_IMAGE_PATH", images, 1);
    struct plugvm_error e;
    struct counter_vm a, b, a2;
    make_vm(&a, "a", NULL);
    make_vm(&b, "b", NULL);
    wait_count(a.out, 20);
    wait_count(b.out, 20);
    printf("two VMs in one process count\n");

    /* Paused, a stands still while b counts on. */
    CHECK(plugvm_vm_pause(a.vm, &e) == 0, "pause a: %s", e.message);
    CHECK(plugvm_vm_pause(a.vm, &e) == 0, "pause a again: %s", e.message);
    long la = last_count(a.out), lb = last_count(b.out);
    wait_count(b.out, lb + 20);
    CHECK(last_count(a.out) <= la + 1, "a counted on while paused: %ld after %ld", last_count(a.out), la);
    CHECK(plugvm_vm_resume(a.vm, &e) == 0, "resume a: %s", e.message);
    wait_count(a.out, la + 20);
    printf("pause: a stood still at %ld while b counted past %ld; resumed\n", la, lb + 20);

    /* Snapshot while paused (stays paused), the disk copied meanwhile. */
    char snap[600];
    snprintf(snap, sizeof(snap), "%s/snap", tmp);
    CHECK(plugvm_vm_pause(a.vm, &e) == 0, "pause a: %s", e.message);
    long at = last_count(a.out);
    CHECK(plugvm_vm_snapshot(a.vm, snap, &e) == 0, "snapshot a: %s", e.message);
    snprintf(a2.disk, sizeof(a2.disk), "%s/a2.img", tmp);
    if (copy_file(a.disk, a2.disk))
        FATAL("copying the disk");

    /* Stopped from another thread while this one waits. */
    struct stopper s = {a.vm, -1};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &s);
    int status = -1;
    CHECK(plugvm_vm_wait(a.vm, -1, &status, &e) == 0, "wait a: %s", e.message);
    pthread_join(t, NULL);
    CHECK(s.rc == 0, "stop a from another thread: %d", s.rc);
    CHECK(status == 143 && plugvm_vm_stop_reason(a.vm) == PLUGVM_STOP_REQUESTED,
          "a stopped: status %d reason %d", status, plugvm_vm_stop_reason(a.vm));
    struct pollfd p = {.fd = plugvm_vm_event_fd(a.vm), .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 1, "the event fd is readable after the end");
    EXPECT(plugvm_vm_pause(a.vm, &e), -EBUSY, "has stopped");
    plugvm_vm_free(a.vm);
    close(a.out_fd);

    /* b runs on all along. */
    lb = last_count(b.out);
    wait_count(b.out, lb + 10);
    CHECK(plugvm_vm_wait(b.vm, 0, NULL, &e) == -ETIMEDOUT, "b still runs: %d", e.code);

    /* Restored from the snapshot, on the copy: counts on from `at`. */
    make_vm(&a2, "a2", snap);
    EXPECT(plugvm_vm_set_vcpus(a2.vm, 2, &e), -EBUSY, "");
    long first = wait_count(a2.out, 1);
    CHECK(first >= at && first <= at + 40, "a2 went on at %ld after %ld", first, at);
    wait_count(a2.out, at + 30);
    printf("restored from the snapshot: counted on from %ld\n", at);
    struct plugvm_vm *r2;
    if (plugvm_vm_new_from_snapshot(snap, &r2, &e))
        FATAL("%s", e.message);
    EXPECT(plugvm_vm_set_memory_mib(r2, 64, &e), -EBUSY, "keeps the snapshot's vm settings");
    plugvm_vm_free(r2);

    /* Freed while running: stopped and torn down. */
    plugvm_vm_free(a2.vm);
    close(a2.out_fd);
    CHECK(plugvm_vm_stop(b.vm, &e) == 0, "stop b: %s", e.message);
    CHECK(plugvm_vm_wait(b.vm, 10000, &status, &e) == 0 && status == 143, "b: %d %s", status, e.message);
    plugvm_vm_free(b.vm);
    close(b.out_fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (!mkdtemp(tmp))
        FATAL("mkdtemp");
    if (argc == 2 && !strcmp(argv[1], "errors")) {
        errors();
    } else if (argc == 3 && !strcmp(argv[1], "vms")) {
        if (access("/dev/kvm", R_OK | W_OK) != 0) {
            printf("SKIP: /dev/kvm is absent or not readable and writable: VMs need KVM\n");
            return 77;
        }
        vms(argv[2]);
    } else {
        fprintf(stderr, "usage: test_vm_api errors | vms BUILD_DIR\n");
        return 2;
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd))
        printf("warning: %s left\n", tmp);
    printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
