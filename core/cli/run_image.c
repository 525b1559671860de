/* SPDX-License-Identifier: Apache-2.0 */
/* `plugvm run --image`: its command line (core/run/image_run.h runs it). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "image/process.h"
#include "run/image_config.h"
#include "run/image_run.h"
#include "util/log.h"

#define ENV_MAX 4096

static void usage(FILE *f)
{
    fprintf(f,
            "usage: plugvm run --image IMAGE [OPTIONS] [--] [CMD [ARG...]]\n"
            "\n"
            "Runs IMAGE's process in a VM of its own, as `docker run` runs it in a container.\n"
            "IMAGE is anything `plugvm image import` takes (imported on first use) or a cached\n"
            "image's digest or tag. CMD and ARGs replace the image's Cmd. The process's stdin,\n"
            "stdout and stderr are plugvm's; its exit status is plugvm's (128+N when killed by\n"
            "signal N; 125 for plugvm's own errors, 126 and 127 for a command that cannot run).\n"
            "SIGINT and SIGTERM are sent on to the process; if it has not ended 10 s later, the\n"
            "VM is stopped (status 137).\n"
            "\n"
            "  -e, --env K=V|K      set K in the process's environment (K alone: this one's K)\n"
            "      --env-file FILE  the same from FILE, one a line (docker's format)\n"
            "  -w, --workdir DIR    working directory (absolute; made if missing)\n"
            "  -u, --user USER[:GROUP]  name or number, looked up in the image's /etc/passwd\n"
            "      --entrypoint CMD replace the image's Entrypoint (\"\": none); drops its Cmd\n"
            "  -i, --interactive    stdin goes to the process (else it reads end of file)\n"
            "  -t, --tty            give the process a terminal (this one's window size)\n"
            "  -m, --memory MIB     guest RAM in MiB (default 512)\n"
            "      --vcpus N        vCPUs (default 1)\n"
            "      --volume FILE:PATH[:ro]  an ext4 image file (locked while used) or a host\n"
            "                       directory (shared through virtio-fs) mounted at PATH\n"
            "      --kernel FILE    the guest kernel (default: Debian's cloud kernel, debian-cloud-vmlinuz)\n"
            "      --cache DIR      the image cache (default $XDG_CACHE_HOME/plugvm/images)\n"
            "      --timeout SECONDS  stop the VM after SECONDS (status 124)\n"
            "      --no-snapshot    boot the VM; neither restore nor make the image's snapshot\n"
            "                       (runs without --volume start from it, made by the first)\n"
            "  -v, --verbose        the guest's console on stderr, and plugvm's messages\n"
            "\n"
            "docs/IMAGES.md, \"Running an image\", says what the guest sees.\n");
}

static struct termios saved;
static bool raw_set;

static void restore_terminal(void)
{
    if (raw_set)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    raw_set = false;
}

/* -t -i with a terminal: keys go through to the guest's terminal as typed
 * (Ctrl-C there is the process's SIGINT), as docker's client does. */
static void raw_terminal(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved))
        return;
    struct termios raw = saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) {
        raw_set = true;
        atexit(restore_terminal);
    }
}

static int number(const char *opt, const char *arg, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || end == arg || arg[0] == '-' || v == 0 || v > max) {
        fprintf(stderr, "plugvm run: %s: expected a number from 1 to %llu, got '%s'\n", opt, max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int read_env_file(const char *file, const char **env, size_t *nenv, char ***owned, size_t *nowned)
{
    char err[1024], **vals;
    size_t nvals;
    if (image_env_file_read(file, &vals, &nvals, err, sizeof(err))) {
        fprintf(stderr, "plugvm run: --env-file %s\n", err);
        return -1;
    }
    if (*nenv + nvals > ENV_MAX) {
        fprintf(stderr, "plugvm run: more than %d environment variables\n", ENV_MAX);
        image_env_free(vals, nvals);
        return -1;
    }
    for (size_t i = 0; i < nvals; i++)
        env[(*nenv)++] = vals[i];
    owned[(*nowned)++] = vals;
    return 0;
}

static int start(const struct image_run_opts *o)
{
    /* The process's output may go to a reader that leaves: that is its
     * business (EPIPE on our write), not a reason for plugvm to die. */
    signal(SIGPIPE, SIG_IGN);
    if (o->tty) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGWINCH);
        pthread_sigmask(SIG_BLOCK, &s, NULL);
        if (o->interactive)
            raw_terminal();
    }
    int status = image_run(o);
    restore_terminal();
    return status;
}

int run_image_config(const char *path, double timeout_s, bool verbose, int *status)
{
    struct image_config st;
    struct image_run_opts o = {0};
    char err[2048];
    int rc = image_config_load(path, &st, &o, err, sizeof(err));
    if (rc <= 0) {
        if (rc < 0) {
            fprintf(stderr, "plugvm: error: %s\n", err);
            *status = 125;
        }
        return rc < 0;
    }
    o.timeout_s = timeout_s;
    o.verbose = verbose;
    *status = start(&o);
    image_config_free(&st);
    return 1;
}

int cmd_run_image(int argc, char **argv)
{
    static const struct option opts[] = {
        {"image", required_argument, NULL, 'I'},  {"env", required_argument, NULL, 'e'},
        {"env-file", required_argument, NULL, 'E'}, {"workdir", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'u'},   {"entrypoint", required_argument, NULL, 'P'},
        {"interactive", no_argument, NULL, 'i'},  {"tty", no_argument, NULL, 't'},
        {"memory", required_argument, NULL, 'm'}, {"vcpus", required_argument, NULL, 'c'},
        {"volume", required_argument, NULL, 'V'}, {"kernel", required_argument, NULL, 'k'},
        {"cache", required_argument, NULL, 'C'},  {"timeout", required_argument, NULL, 'T'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"no-snapshot", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    struct image_run_opts o = {0};
    const char **env = calloc(ENV_MAX, sizeof(*env));
    char **owned[64];
    size_t nowned = 0, nenv = 0, nfiles = 0;
    const char *env_files[64];
    int status = 125, c;
    unsigned long long v;
    if (!env)
        return 125;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+e:w:u:itm:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'I': o.image = optarg; break;
        case 'e':
            if (nenv == ENV_MAX) {
                fprintf(stderr, "plugvm run: more than %d environment variables\n", ENV_MAX);
                goto out;
            }
            env[nenv++] = optarg;
            break;
        case 'E':
            if (nfiles == 64)
                goto bad;
            env_files[nfiles++] = optarg;
            break;
        case 'w': o.proc.workdir = optarg; break;
        case 'u': o.proc.user = optarg; break;
        case 'P': o.proc.entrypoint = optarg; break;
        case 'i': o.interactive = true; break;
        case 't': o.tty = true; break;
        case 'm':
            if (number("--memory", optarg, 1024 * 1024, &v))
                goto out;
            o.memory_mib = v;
            break;
        case 'c':
            if (number("--vcpus", optarg, 64, &v))
                goto out;
            o.vcpus = (uint32_t)v;
            break;
        case 'V':
            if (o.nvolumes == IMAGE_RUN_VOLUMES_MAX) {
                fprintf(stderr, "plugvm run: at most %d --volume\n", IMAGE_RUN_VOLUMES_MAX);
                goto out;
            }
            o.volumes[o.nvolumes++] = optarg;
            break;
        case 'k': o.kernel = optarg; break;
        case 'N': o.no_snapshot = true; break;
        case 'C': o.cache = optarg; break;
        case 'T': {
            char *end;
            o.timeout_s = strtod(optarg, &end);
            if (*end || end == optarg || !(o.timeout_s > 0) || o.timeout_s > 1e9) {
                fprintf(stderr, "plugvm run: --timeout: expected a number of seconds > 0, got '%s'\n", optarg);
                goto out;
            }
            break;
        }
        case 'v':
            o.verbose = true;
            pv_log_level = pv_log_level < PLUGVM_LOG_INFO ? PLUGVM_LOG_INFO : PLUGVM_LOG_DEBUG;
            break;
        case 'h': usage(stdout); status = 0; goto out;
        default: goto bad;
        }
    }
    if (!o.image)
        goto bad;
    /* --env-file's variables come before -e's, which win, as in docker. */
    size_t ncli = nenv;
    const char **cli = calloc(ncli + 1, sizeof(*cli));
    if (!cli)
        goto out;
    memcpy(cli, env, ncli * sizeof(*cli));
    nenv = 0;
    for (size_t i = 0; i < nfiles; i++)
        if (read_env_file(env_files[i], env, &nenv, owned, &nowned)) {
            free(cli);
            goto out;
        }
    if (nenv + ncli > ENV_MAX) {
        fprintf(stderr, "plugvm run: more than %d environment variables\n", ENV_MAX);
        free(cli);
        goto out;
    }
    memcpy(env + nenv, cli, ncli * sizeof(*cli));
    nenv += ncli;
    free(cli);
    o.proc.env = env;
    o.proc.nenv = nenv;
    o.proc.args = (const char *const *)argv + optind;
    o.proc.nargs = (size_t)(argc - optind);

    status = start(&o);
    goto out;
bad:
    usage(stderr);
    status = 125;
out:
    for (size_t i = 0; i < nowned; i++) {
        size_t n = 0;
        while (owned[i][n])
            n++;
        image_env_free(owned[i], n);
    }
    free(env);
    return status;
}
