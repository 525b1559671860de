/* SPDX-License-Identifier: Apache-2.0 */
/* The plugvm command: run a VM from a config file, list plugins. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/x86/acpi.h"
#include "config/config.h"
#include "virtio/device.h"
#include "loader/loader.h"
#include "util/log.h"
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
            "  plugins       list the plugins found, or why each was refused\n"
            "  acpi FILE DIR write the ACPI tables the VM FILE describes into DIR\n"
            "\n"
            "`plugvm COMMAND --help` describes a command. docs/CONFIG.md describes FILE.\n");
}

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: plugvm run [--timeout SECONDS] [-v|--verbose] FILE\n"
            "\n"
            "Boots the VM described by the config file FILE and runs it. The guest's serial\n"
            "console (COM1) is this terminal: output to stdout, input from stdin (Ctrl-A x\n"
            "quits when stdin is a terminal).\n"
            "\n"
            "  --timeout SECONDS  stop the VM after SECONDS (exit status 124)\n"
            "  -v, --verbose      more messages; at the end, list unclaimed I/O ports\n"
            "                     (twice: debug messages)\n"
            "\n"
            "exit status: 0 when the guest resets or powers off; 1 on a fatal error;\n"
            "124 after --timeout; 130 on SIGINT (or Ctrl-A x); 143 on SIGTERM.\n");
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct vm_options o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+t:vh", opts, NULL)) != -1) {
        switch (c) {
        case 't': {
            char *end;
            o.timeout_s = strtod(optarg, &end);
            if (*end || end == optarg || !(o.timeout_s > 0) || o.timeout_s > 1e9) {
                fprintf(stderr, "plugvm run: --timeout: expected a number of seconds > 0, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'v':
            o.verbose = true;
            pv_log_level = pv_log_level < PLUGVM_LOG_INFO ? PLUGVM_LOG_INFO : PLUGVM_LOG_DEBUG;
            break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        run_usage(stderr);
        return 2;
    }
    struct vm_config cfg;
    char err[2048];
    if (config_load(&cfg, argv[optind], err, sizeof(err))) {
        pv_err("%s", err);
        return 1;
    }
    struct plugin_set *plugins = calloc(1, sizeof(*plugins));
    int status = vm_run(&cfg, plugins, &o);
    loader_unload_all(plugins);
    free(plugins);
    config_free(&cfg);
    return status;
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
    if (!strcmp(cmd, "plugins"))
        return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "acpi"))
        return cmd_acpi(argc - 1, argv + 1);
    fprintf(stderr, "plugvm: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
