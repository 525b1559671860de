/* SPDX-License-Identifier: Apache-2.0 */
/* plugvm balloon --api PATH set MIB | get | stats: the balloon's
 * control-socket resource (docs/API.md), one request each. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client.h"
#include "cli/commands.h"
#include "util/log.h"

static int usage(FILE *f, int status)
{
    fprintf(f,
            "usage: plugvm balloon --api PATH set MIB | get | stats\n"
            "\n"
            "The virtio-balloon of the VM serving the control socket PATH (a device\n"
            "{ plugin = \"balloon\"; } in its config, docs/CONFIG.md):\n"
            "  set MIB   the balloon's target size: MIB MiB of guest RAM given back to the\n"
            "            host (0 returns them all; more than guest RAM is refused)\n"
            "  get       target and actual size, in MiB and 4 KiB pages, and the settings\n"
            "  stats     the guest's last memory statistics (stats_interval_s > 0)\n"
            "Answers are JSON, one object on one line.\n");
    return status;
}

int cmd_balloon(int argc, char **argv)
{
    static const struct option opts[] = {
        {"api", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *api = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a')
            api = optarg;
        else
            return usage(c == 'h' ? stdout : stderr, c == 'h' ? 0 : 2);
    }
    if (!api || optind >= argc)
        return usage(stderr, 2);
    const char *what = argv[optind];
    const char *method = "GET", *uri = "/balloon";
    char body[64];
    const char *json = NULL;
    if (!strcmp(what, "set") && optind + 2 == argc) {
        char *end;
        unsigned long long mib = strtoull(argv[optind + 1], &end, 10);
        if (*end || end == argv[optind + 1] || argv[optind + 1][0] == '-' || mib > (1ull << 40)) {
            fprintf(stderr, "plugvm balloon set: expected a whole number of MiB, got '%s'\n",
                    argv[optind + 1]);
            return 2;
        }
        snprintf(body, sizeof(body), "{\"amount_mib\":%llu}", mib);
        method = "PATCH";
        json = body;
    } else if (!strcmp(what, "stats") && optind + 1 == argc) {
        uri = "/balloon/statistics";
    } else if (strcmp(what, "get") || optind + 1 != argc) {
        return usage(stderr, 2);
    }
    char err[1024];
    int code;
    char *reply = NULL;
    if (api_request(api, method, uri, json, &code, &reply, err, sizeof(err))) {
        pv_err("%s", err);
        return 1;
    }
    int status = code / 100 == 2 ? 0 : 1;
    if (status) {
        /* The fault message alone: it names what was wrong. */
        json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(j, "fault_message"));
        pv_err("balloon %s: %s", what, msg ? msg : reply ? reply : "no answer");
        json_decref(j);
    } else if (reply && reply[0]) {
        fputs(reply, stdout);
        if (reply[strlen(reply) - 1] != '\n')
            putchar('\n');
    }
    free(reply);
    return status;
}
