/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm run, plugvm restore, and the control-socket clients pause,
 * resume and snapshot. */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <plugvm/vm.h>

#include "api/client.h"
#include "cli/commands.h"
#include "util/log.h"
#include "vm/run.h"

static void run_usage(FILE *f, bool restore)
{
    if (restore)
        fprintf(f,
                "usage: plugvm restore [--api PATH] [--set devices[N].SETTING=VALUE]...\n"
                "                      [--timeout SECONDS] [-v|--verbose] DIR\n"
                "\n"
                "Restores the VM snapshotted into folder DIR (by `plugvm snapshot`) and runs\n"
                "it on from where it was. DIR is only read: any number of VMs may restore\n"
                "from it at once. --set overrides a device setting of DIR/vm.cfg, such as\n"
                "a disk's path (the disk must have the same size).\n");
    else
        fprintf(f,
                "usage: plugvm run [--api PATH] [--timeout SECONDS] [-v|--verbose] FILE\n"
                "       plugvm run --image IMAGE [OPTIONS] [--] [CMD [ARG...]]   (plugvm run --image x --help)\n"
                "\n"
                "Boots the VM described by the config file FILE and runs it. The guest's serial\n"
                "console (COM1) is this terminal: output to stdout, input from stdin (Ctrl-A x\n"
                "quits when stdin is a terminal).\n");
    fprintf(f,
            "\n"
            "  --api PATH         serve the control socket on PATH (mode 0600): `plugvm pause`,\n"
            "                     `resume` and `snapshot` use it (docs/API.md)\n"
            "  --timeout SECONDS  stop the VM after SECONDS (exit status 124)\n"
            "  -v, --verbose      more messages; at the end, list unclaimed I/O ports\n"
            "                     (twice: debug messages)\n"
            "\n"
            "exit status: 0 when the guest resets or powers off; 1 on a fatal error;\n"
            "124 after --timeout; 130 on SIGINT (or Ctrl-A x); 143 on SIGTERM.\n");
}

/* A VM's host fds grow with its devices' connections: vsock holds up to
 * 1024 per device, each a socket, past the usual soft limit of 1024
 * open files. The soft limit goes up to the hard one (at most 65536),
 * as a process that needs many fds is meant to do; nothing here uses
 * select(), whose FD_SETSIZE is the reason the soft limit is low. */
static void raise_nofile(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r))
        return;
    rlim_t want = r.rlim_max < 65536 ? r.rlim_max : 65536;
    if (r.rlim_cur < want) {
        r.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &r))
            pv_debug("cannot raise the open-file limit to %llu", (unsigned long long)want);
    }
}

/* --set devices[N].SETTING=VALUE: a string setting of device N (a
 * restore's disk path). 0, or -1 with the message printed. */
static int set_device(struct plugvm_vm *vm, const char *spec)
{
    unsigned idx;
    int name_at = 0;
    char name[64];
    const char *eq;
    struct plugvm_error e;
    if (sscanf(spec, "devices[%u].%n", &idx, &name_at) != 1 || name_at == 0 ||
        !(eq = strchr(spec + name_at, '=')) || eq == spec + name_at ||
        (size_t)(eq - spec - name_at) >= sizeof(name)) {
        pv_err("--set %s: expected devices[N].SETTING=VALUE", spec);
        return -1;
    }
    snprintf(name, sizeof(name), "%.*s", (int)(eq - spec - name_at), spec + name_at);
    if (plugvm_vm_device_set_string(vm, idx, name, eq + 1, &e)) {
        pv_err("--set %s: %s", spec, e.message);
        return -1;
    }
    return 0;
}

/* Starts vm with this terminal as its console and the control socket
 * api_path (NULL: none), and runs it to its end (core/vm/run.h). Returns
 * the exit status. */
static int run_vm(struct plugvm_vm *vm, const char *api_path, double timeout_s)
{
    struct plugvm_error e;
    if (plugvm_vm_set_console(vm, STDIN_FILENO, STDOUT_FILENO, PLUGVM_CONSOLE_TERMINAL, &e) ||
        (api_path && plugvm_vm_set_api_socket(vm, api_path, &e))) {
        pv_err("%s", e.message);
        return 1;
    }
    return run_until_stopped(vm, timeout_s, NULL, NULL);
}

static int run_or_restore(int argc, char **argv, bool restore)
{
    raise_nofile();
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
        {"api", required_argument, NULL, 'a'},     {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    double timeout_s = 0;
    bool verbose = false;
    const char *api_path = NULL;
    const char *sets[32];
    size_t nsets = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 't': {
            char *end;
            timeout_s = strtod(optarg, &end);
            if (*end || end == optarg || !(timeout_s > 0) || timeout_s > 1e9) {
                fprintf(stderr, "plugvm %s: --timeout: expected a number of seconds > 0, got '%s'\n",
                        restore ? "restore" : "run", optarg);
                return 2;
            }
            break;
        }
        case 'v':
            verbose = true;
            pv_log_level = pv_log_level < PLUGVM_LOG_INFO ? PLUGVM_LOG_INFO : PLUGVM_LOG_DEBUG;
            break;
        case 'a': api_path = optarg; break;
        case 's':
            if (!restore || nsets == sizeof(sets) / sizeof(sets[0])) {
                run_usage(stderr, restore);
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': run_usage(stdout, restore); return 0;
        default: run_usage(stderr, restore); return 2;
        }
    }
    if (optind != argc - 1) {
        run_usage(stderr, restore);
        return 2;
    }
    char path[PATH_MAX];
    struct plugvm_vm *vm;
    struct plugvm_error e;
    if (restore) {
        if (plugvm_vm_new_from_snapshot(argv[optind], &vm, &e)) {
            pv_err("%s", e.message);
            return 1;
        }
    } else {
        snprintf(path, sizeof(path), "%s", argv[optind]);
        int status;
        if (!api_path && run_image_config(path, timeout_s, verbose, &status))
            return status;
        if (plugvm_vm_new_from_config(path, &vm, &e)) {
            pv_err("%s", e.message);
            return 1;
        }
    }
    for (size_t i = 0; i < nsets; i++)
        if (set_device(vm, sets[i])) {
            plugvm_vm_free(vm);
            return 2;
        }
    int status = run_vm(vm, api_path, timeout_s);
    plugvm_vm_free(vm);
    return status;
}

int cmd_run(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--image") || !strncmp(argv[i], "--image=", 8))
            return cmd_run_image(argc, argv);
    return run_or_restore(argc, argv, false);
}

int cmd_restore(int argc, char **argv)
{
    return run_or_restore(argc, argv, true);
}

/* pause, resume, snapshot: one request each over --api PATH. */
int cmd_control(int argc, char **argv)
{
    const char *what = argv[0];
    bool snap = strcmp(what, "snapshot") == 0;
    static const struct option opts[] = {
        {"api", required_argument, NULL, 'a'},
        {"to", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *api = NULL, *to = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a')
            api = optarg;
        else if (c == 't' && snap)
            to = optarg;
        else {
            bool help = c == 'h';
            fprintf(help ? stdout : stderr,
                    snap ? "usage: plugvm snapshot --api PATH --to DIR\n\nWrites a snapshot of the "
                           "VM serving PATH into folder DIR (made, or replaced\nwhole once the new "
                           "one is complete), pausing it meanwhile unless it is paused.\n"
                         : "usage: plugvm %s --api PATH\n\n%s the VM serving the control socket "
                           "PATH.\n",
                    what, strcmp(what, "pause") == 0 ? "Pauses" : "Resumes");
            return help ? 0 : 2;
        }
    }
    if (!api || optind != argc || (snap && !to)) {
        fprintf(stderr, "plugvm %s: --api PATH%s is required (see --help)\n", what,
                snap ? " and --to DIR" : "");
        return 2;
    }
    char err[1024];
    const char *uri = "/vm";
    json_t *j;
    if (snap) {
        /* The VM resolves the folder from its own working directory. */
        char abs[PATH_MAX + 1], path[2 * PATH_MAX + 2];
        if (to[0] != '/' && realpath(".", abs))
            snprintf(path, sizeof(path), "%s/%s", abs, to);
        else
            snprintf(path, sizeof(path), "%s", to);
        j = json_pack("{s:s}", "snapshot_path", path);
        uri = "/snapshot/create";
    } else {
        j = json_pack("{s:s}", "state", strcmp(what, "pause") == 0 ? "Paused" : "Resumed");
    }
    /* jansson escapes what a path may hold (quotes, backslashes). */
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) {
        pv_err("%s: out of memory", what);
        return 1;
    }
    int code;
    char *reply = NULL;
    int rc = api_request(api, "PUT", uri, body, &code, &reply, err, sizeof(err));
    free(body);
    if (rc) {
        pv_err("%s", err);
        return 1;
    }
    int status = code / 100 == 2 ? 0 : 1;
    if (status)
        pv_err("%s: %d %s", what, code, reply ? reply : "");
    free(reply);
    return status;
}
