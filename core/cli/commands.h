/* SPDX-License-Identifier: Apache-2.0 */
/* The plugvm command's subcommands: argc/argv start at the command's
 * name; each returns the process exit status. */
#ifndef PLUGVM_CORE_CLI_COMMANDS_H
#define PLUGVM_CORE_CLI_COMMANDS_H

#include <stdbool.h>

int cmd_run(int argc, char **argv);
/* run --image IMAGE ... (cli/run_image.c); cmd_run sends it there. */
int cmd_run_image(int argc, char **argv);
/* `plugvm run FILE` where FILE has vm.image (core/run/image_config.h):
 * runs it with *status the run's; 0 when FILE is not such a config
 * (the ordinary loader then reads it). */
int run_image_config(const char *path, double timeout_s, bool verbose, int *status);
/* plugvm-image's path: beside this program (a build tree) or installed in
 * libexec; malloc'd, or NULL when neither exists. */
char *image_helper_path(void);
int cmd_restore(int argc, char **argv);
/* pause, resume, snapshot (argv[0] says which). */
int cmd_control(int argc, char **argv);
/* balloon --api PATH set MIB | get | stats (cli/balloon_cmd.c). */
int cmd_balloon(int argc, char **argv);
/* check [BACKEND]: the backend's probe (cli/check.c). */
int cmd_check(int argc, char **argv);

#endif
