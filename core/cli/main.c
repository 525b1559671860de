/* SPDX-License-Identifier: Apache-2.0 */
/* The plugvm command: dispatch, plugins, acpi (vm_cmds.c: run, restore and
 * the control-socket clients). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/x86/acpi.h"
#include "cli/commands.h"
#include "config/config.h"
#include "image/cache.h"
#include "image/quick.h"
#include "virtio/device.h"
#include "loader/loader.h"
#include "util/log.h"
#include "util/paths.h"
#include "vm/vm.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: plugvm [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "plugvm runs Linux guests in hardware-isolated microVMs, from one config file.\n"
            "\n"
            "commands:\n"
            "  run FILE      boot the VM FILE describes and run it until it resets or powers off\n"
            "  restore DIR   run on the VM snapshotted into DIR\n"
            "  pause, resume, snapshot\n"
            "                control a VM through its control socket (run --api PATH)\n"
            "  balloon       set or read a VM's virtio-balloon through its control socket\n"
            "  plugins       list the plugins found, or why each was refused\n"
            "  acpi FILE DIR write the ACPI tables the VM FILE describes into DIR\n"
            "  check         say whether this host can run VMs (KVM usable), or why not\n"
            "  image         import OCI and Docker images as root disks; list, remove, inspect them\n"
            "\n"
            "`plugvm COMMAND --help` describes a command. docs/CONFIG.md describes FILE.\n");
}

static void print_plugin(const char *path, const struct loaded_plugin *p, const char *why, void *arg)
{
    int *count = arg;
    if (p)
        printf("%-10s %-8s %-8s %s\n           %s\n", p->desc->name, loader_kind_name(p->desc->kind),
               p->desc->version ? p->desc->version : "?", path,
               p->desc->description ? p->desc->description : "");
    else
        printf("%-10s %-8s %-8s %s\n           refused: %s\n", "-", "-", "-", path, why);
    (*count)++;
}

static int cmd_plugins(int argc, char **argv)
{
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        fprintf(help ? stdout : stderr,
                "usage: plugvm plugins\n\nLists every plugvm-*.so in the plugin folders (the "
                "build tree when plugvm runs from it,\n$PLUGVM_PLUGIN_PATH, the install prefix), "
                "in search order: name, kind, version,\npath and description, or why it was "
                "refused.\n");
        return help ? 0 : 2;
    }
    struct plugin_set *set = calloc(1, sizeof(*set));
    int count = 0;
    printf("%-10s %-8s %-8s %s\n", "NAME", "KIND", "VERSION", "PATH");
    loader_scan(set, print_plugin, &count);
    if (!count)
        printf("(no plugins found)\n");
    loader_unload_all(set);
    free(set);
    return 0;
}

/* Writes the ACPI tables a VM would get, one file per table, for checking
 * them with acpica-tools (iasl -d, acpiexec) without running the VM. */
static int cmd_acpi(int argc, char **argv)
{
    if (argc != 3 || argv[1][0] == '-') {
        bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fprintf(help ? stdout : stderr,
                "usage: plugvm acpi FILE DIR\n\nWrites the ACPI tables of the VM that FILE "
                "describes (RSDP, XSDT, FACP, APIC, DSDT)\ninto DIR as rsdp.dat, xsdt.dat, ...: "
                "`iasl -d DIR/{xsdt,facp,apic,dsdt}.dat` decompiles them\n(iasl does not read a "
                "bare RSDP).\n");
        return help ? 0 : 2;
    }
    struct vm_config cfg;
    char err[2048];
    if (config_load(&cfg, argv[1], err, sizeof(err))) {
        pv_err("%s", err);
        return 1;
    }
    if (!cfg.acpi) {
        pv_err("%s: vm.acpi = false: this VM gets no ACPI tables", cfg.path);
        config_free(&cfg);
        return 1;
    }
    struct acpi_virtio_mmio windows[VIRTIO_MAX_DEVICES];
    for (size_t i = 0; i < cfg.ndevices; i++)
        windows[i] = device_window((unsigned)i);
    struct guest_mem m;
    int status = 1;
    if (guest_mem_init(&m, 1u << 20)) {
        pv_err("out of memory");
    } else {
        uint64_t rsdp = x86_acpi_write(&m, cfg.vcpus, windows, cfg.ndevices);
        if (!rsdp)
            pv_err("%s: the ACPI tables for %u vCPUs and %zu devices do not fit", cfg.path,
                   cfg.vcpus, cfg.ndevices);
        else if (x86_acpi_dump(&m, rsdp, argv[2], err, sizeof(err)))
            pv_err("%s", err);
        else
            status = 0;
        guest_mem_fini(&m);
    }
    config_free(&cfg);
    return status;
}

/* `plugvm image [--cache DIR] import [-q] IMAGE` answered here when the
 * cache's record of that import still holds (core/image/quick.h): one
 * process, no image library loaded. -1 when it does not: plugvm-image
 * then does the import. */
static int image_import_hit(int argc, char **argv)
{
    int i = 2;
    const char *cache = NULL;
    if (i + 1 < argc && !strcmp(argv[i], "--cache")) {
        cache = argv[i + 1];
        i += 2;
    }
    if (i >= argc || strcmp(argv[i++], "import"))
        return -1;
    bool quiet = i < argc && (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"));
    i += quiet;
    if (i + 1 != argc || argv[i][0] == '-')
        return -1;
    char root[IMAGE_CACHE_PATH_MAX], err[1024];
    struct image_quick q;
    if (image_cache_root(cache, root, err, sizeof(err)) || image_quick_find(root, argv[i], &q))
        return -1;
    if (q.tag[0] && image_cache_tag(root, q.tag, q.dirname, err, sizeof(err)))
        return -1;
    printf("%s\n", q.digest);
    return 0;
}

char *image_helper_path(void)
{
    char self[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof(path), "%s/plugvm-image", self);
            if (access(path, X_OK) == 0)
                return strdup(path);
        }
    }
    char dir[4096];
    paths_install_dir(PLUGVM_LIBEXEC_RELDIR, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/plugvm-image", dir);
    return access(path, X_OK) == 0 ? strdup(path) : NULL;
}

/* `plugvm image ...` is the program plugvm-image, beside this one (a build
 * tree) or in the installed libexec folder, so that its libraries are
 * never loaded by run and restore. Returns only on failure. */
static int exec_image(char **argv)
{
    char *path = image_helper_path();
    if (path)
        execv(path, argv);
    char dir[4096];
    paths_install_dir(PLUGVM_LIBEXEC_RELDIR, dir, sizeof(dir));
    fprintf(stderr, "plugvm image: cannot run %s%s (nor plugvm-image beside plugvm): %s\n",
            path ? path : dir, path ? "" : "/plugvm-image", path ? strerror(errno) : "not found");
    free(path);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("plugvm %s (plugin ABI %d.%d)\n", PLUGVM_VERSION, PLUGVM_ABI_MAJOR, PLUGVM_ABI_MINOR);
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(argc - 1, argv + 1);
    if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "snapshot"))
        return cmd_control(argc - 1, argv + 1);
    if (!strcmp(cmd, "balloon"))
        return cmd_balloon(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins"))
        return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "acpi"))
        return cmd_acpi(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "image")) {
        int rc = image_import_hit(argc, argv);
        return rc >= 0 ? rc : exec_image(argv);
    }
    fprintf(stderr, "plugvm: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
