/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process an image runs: its argv, environment, working directory and
 * user, from the image config (image-spec config.md: config.Entrypoint,
 * Cmd, Env, WorkingDir, User) and the overrides of `plugvm run --image`,
 * combined the way `docker run` does:
 *   - argv = Entrypoint + Cmd. Arguments given (after `--`) replace Cmd;
 *     --entrypoint replaces Entrypoint and drops the image's Cmd (only the
 *     arguments given follow it); --entrypoint "" leaves no entrypoint.
 *     An empty argv is an error (docker: "no command specified").
 *   - env = the image's Env, then each -e in order: "K=V" sets K, a bare
 *     "K" takes the host's K (and drops it when the host has none). PATH is
 *     added, as docker does, when neither gives one.
 *   - cwd = -w, else WorkingDir, else "/"; it must be absolute.
 *   - user = -u, else User, else "" (root); a name or number, with an
 *     optional ":group", resolved later inside the image (plugvm-init).
 * Every refusal names the setting ("config.Env[2]", "-e", "-w") and what
 * was expected. Pure functions but getenv for a bare -e K; thread-safe.
 */
#ifndef PLUGVM_IMAGE_PROCESS_H
#define PLUGVM_IMAGE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#define IMAGE_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct image_process_opts {
    const char *const *env;       /* -e values, in order; nenv of them */
    size_t nenv;
    const char *workdir;          /* -w, or NULL */
    const char *user;             /* -u, or NULL */
    const char *entrypoint;       /* --entrypoint (one program, as docker takes it), or NULL */
    const char *const *args;      /* after `--`; nargs of them (0: the image's Cmd) */
    size_t nargs;
};

/* Heap strings; free with image_process_free. */
struct image_process {
    char **argv;                  /* argc of them, then NULL */
    size_t argc;
    char **env;                   /* nenv "K=V" strings, then NULL */
    size_t nenv;
    char *cwd;
    char *user;                   /* "" for the image's default, root */
};

/* From `len` bytes of image config JSON and the overrides o (NULL: none).
 * 0 with *out, -EINVAL with err (the setting and what was expected), or
 * -ENOMEM. */
int image_process_make(const char *config_json, size_t len, const struct image_process_opts *o,
                       struct image_process *out, char *err, size_t errlen);
void image_process_free(struct image_process *p);

/* A docker --env-file: `len` bytes read from `file` (named in messages),
 * one NAME=VALUE or NAME per line, '#' lines and blank lines skipped,
 * leading blanks dropped, the value taken verbatim (no quotes removed, as
 * docker does). 0 with *out (n strings, NULL-terminated, to pass as -e
 * values before the command line's; free with image_env_free), or -EINVAL
 * with err "FILE:LINE: ..." (an empty name, a name with blanks, a NUL
 * byte), or -ENOMEM. */
int image_env_file_parse(const char *buf, size_t len, const char *file, char ***out, size_t *n, char *err,
                         size_t errlen);
/* image_env_file_parse on the whole of `file`, read here: 0 with *out and
 * *n as above, or -errno with err "FILE: why" (it cannot be opened or
 * read, -EFBIG above IMAGE_ENV_FILE_MAX bytes) or the parser's message. */
#define IMAGE_ENV_FILE_MAX (16 << 20) /* bytes */
int image_env_file_read(const char *file, char ***out, size_t *n, char *err, size_t errlen);
void image_env_free(char **env, size_t n);

#endif
