/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm check: whether this host can run VMs with a backend, and if not,
 * why and what to do (the backend's probe, as `run` calls it before it
 * creates a VM). Test runners ask this rather than guess from /dev/kvm's
 * presence: a node can exist with no usable KVM behind it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugvm/backend.h>

#include "cli/commands.h"
#include "loader/loader.h"

int cmd_check(int argc, char **argv)
{
    bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (help || argc > 2) {
        fprintf(help ? stdout : stderr,
                "usage: plugvm check [BACKEND]\n\nSays whether this host can run VMs with BACKEND "
                "(default kvm): exit status 0 and\n'BACKEND: can run VMs here' (with a warning "
                "line when it runs them slowly),\nor 1 and why not, with what to do.\n");
        return help ? 0 : 2;
    }
    const char *name = argc > 1 ? argv[1] : "kvm";
    struct plugin_set *set = calloc(1, sizeof(*set));
    if (!set)
        return 1;
    char err[1024], why[1024], note[512];
    int status = 1;
    const struct loaded_plugin *p = loader_get(set, name, PLUGVM_KIND_BACKEND, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "plugvm: error: %s\n", err);
    } else {
        const struct plugvm_backend_ops *ops = &p->ops.backend;
        if (ops->probe(why, sizeof(why), note, sizeof(note))) {
            printf("%s: cannot run VMs here: %s\n", p->desc->name, why);
        } else {
            printf("%s: can run VMs here\n", p->desc->name);
            if (note[0])
                printf("warning: %s\n", note);
            status = 0;
        }
    }
    loader_unload_all(set);
    free(set);
    return status;
}
