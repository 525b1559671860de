/* SPDX-License-Identifier: Apache-2.0 */
/* An image's process from its config and the run's overrides (core/image/process.h). */
#include "image/process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct strv {
    char **v;
    size_t n, cap;
};

static int push(struct strv *s, const char *str, size_t len)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strndup(str, len)))
        return -ENOMEM;
    s->v[++s->n] = NULL;
    return 0;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int bad(char *err, size_t errlen, const char *what, const char *why)
{
    snprintf(err, errlen, "%s: %s", what, why);
    return -EINVAL;
}

/* config.KEY as an array of strings appended to s; absent or null adds
 * nothing. */
static int str_array(json_t *cfg, const char *key, struct strv *s, char *err, size_t errlen)
{
    json_t *a = json_object_get(cfg, key);
    char what[64];
    snprintf(what, sizeof(what), "config.%s", key);
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(err, errlen, what, "expected an array of strings or null");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            snprintf(what, sizeof(what), "config.%s[%zu]", key, i);
            return bad(err, errlen, what, "expected a string");
        }
        int rc = push(s, json_string_value(v), json_string_length(v));
        if (rc)
            return rc;
    }
    return 0;
}

/* The index of NAME (klen bytes) in env, or env->n when it has none. */
static size_t env_find(const struct strv *env, const char *name, size_t klen)
{
    size_t i = 0;
    while (i < env->n && !(!strncmp(env->v[i], name, klen) && env->v[i][klen] == '='))
        i++;
    return i;
}

/* Sets "K=V" in env, replacing K's earlier value. */
static int env_set(struct strv *env, const char *kv, size_t len)
{
    size_t i = env_find(env, kv, (size_t)(strchr(kv, '=') - kv));
    if (i == env->n)
        return push(env, kv, len);
    char *s = strndup(kv, len);
    if (!s)
        return -ENOMEM;
    free(env->v[i]);
    env->v[i] = s;
    return 0;
}

static void env_unset(struct strv *env, const char *k)
{
    size_t i = env_find(env, k, strlen(k));
    if (i == env->n)
        return;
    free(env->v[i]);
    memmove(&env->v[i], &env->v[i + 1], (env->n - i) * sizeof(*env->v)); /* the NULL too */
    env->n--;
}

/* "K=V" with a non-empty K: the form config.md gives Env entries. */
static bool env_entry_ok(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq && eq > kv;
}

static int make(json_t *cfg, const struct image_process_opts *o, struct image_process *out, char *err,
                size_t errlen)
{
    struct strv argv = {0}, env = {0};
    int rc = 0;
    /* argv */
    if (o->entrypoint) {
        if (o->entrypoint[0])
            rc = push(&argv, o->entrypoint, strlen(o->entrypoint));
    } else {
        rc = str_array(cfg, "Entrypoint", &argv, err, errlen);
    }
    if (!rc && o->nargs) {
        for (size_t i = 0; !rc && i < o->nargs; i++)
            rc = push(&argv, o->args[i], strlen(o->args[i]));
    } else if (!rc && !o->entrypoint) {
        rc = str_array(cfg, "Cmd", &argv, err, errlen);
    }
    if (!rc && argv.n == 0)
        rc = bad(err, errlen, "the image", "gives no command (no Entrypoint or Cmd): give one after --");
    /* env */
    struct strv ienv = {0};
    if (!rc)
        rc = str_array(cfg, "Env", &ienv, err, errlen);
    for (size_t i = 0; !rc && i < ienv.n; i++) {
        if (!env_entry_ok(ienv.v[i])) {
            char what[48];
            snprintf(what, sizeof(what), "config.Env[%zu]", i);
            rc = bad(err, errlen, what, "expected \"NAME=VALUE\" with a NAME");
        } else {
            rc = env_set(&env, ienv.v[i], strlen(ienv.v[i]));
        }
    }
    strv_free(&ienv);
    for (size_t i = 0; !rc && i < o->nenv; i++) {
        const char *e = o->env[i];
        if (!e[0] || e[0] == '=') {
            rc = bad(err, errlen, "-e", "expected NAME=VALUE or NAME (the host's value)");
        } else if (strchr(e, '=')) {
            rc = env_set(&env, e, strlen(e));
        } else {
            const char *host = getenv(e);
            if (!host) {
                env_unset(&env, e);
                continue;
            }
            size_t n = strlen(e) + 1 + strlen(host) + 1;
            char *kv = malloc(n);
            if (!kv) {
                rc = -ENOMEM;
                break;
            }
            snprintf(kv, n, "%s=%s", e, host);
            rc = env_set(&env, kv, n - 1);
            free(kv);
        }
    }
    if (!rc && env_find(&env, "PATH", 4) == env.n)
        rc = push(&env, IMAGE_DEFAULT_PATH, strlen(IMAGE_DEFAULT_PATH));
    /* cwd and user */
    const char *cwd = o->workdir, *user = o->user, *cwd_what = "-w";
    json_t *w = json_object_get(cfg, "WorkingDir"), *u = json_object_get(cfg, "User");
    if (!rc && w && !json_is_null(w) && !json_is_string(w))
        rc = bad(err, errlen, "config.WorkingDir", "expected a string");
    if (!rc && u && !json_is_null(u) && !json_is_string(u))
        rc = bad(err, errlen, "config.User", "expected a string");
    if (!rc && !cwd && json_string_value(w) && json_string_value(w)[0]) {
        cwd = json_string_value(w);
        cwd_what = "config.WorkingDir";
    }
    if (!cwd)
        cwd = "/";
    if (!rc && cwd[0] != '/')
        rc = bad(err, errlen, cwd_what, "expected an absolute path (one that starts with /)");
    if (!user)
        user = json_string_value(u) ? json_string_value(u) : "";
    if (!rc) {
        out->cwd = strdup(cwd);
        out->user = strdup(user);
        if (!out->cwd || !out->user)
            rc = -ENOMEM;
    }
    if (rc) {
        strv_free(&argv);
        strv_free(&env);
        free(out->cwd);
        free(out->user);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->argv = argv.v;
    out->argc = argv.n;
    out->env = env.v;
    out->nenv = env.n;
    return 0;
}

int image_process_make(const char *config_json, size_t len, const struct image_process_opts *o,
                       struct image_process *out, char *err, size_t errlen)
{
    static const struct image_process_opts none;
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *root = json_loadb(config_json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "the image config is not a JSON object%s%s", root ? "" : ": ", root ? "" : je.text);
        json_decref(root);
        return -EINVAL;
    }
    /* A scratch image may have no "config" at all: every default then. */
    json_t *cfg = json_object_get(root, "config");
    int rc;
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
        rc = bad(err, errlen, "config", "expected an object or null");
    else
        rc = make(cfg && json_is_object(cfg) ? cfg : NULL, o ? o : &none, out, err, errlen);
    json_decref(root);
    return rc;
}

void image_process_free(struct image_process *p)
{
    struct strv a = {p->argv, p->argc, 0}, e = {p->env, p->nenv, 0};
    strv_free(&a);
    strv_free(&e);
    free(p->cwd);
    free(p->user);
    memset(p, 0, sizeof(*p));
}

int image_env_file_parse(const char *buf, size_t len, const char *file, char ***out, size_t *n, char *err,
                         size_t errlen)
{
    struct strv v = {0};
    const char *p = buf, *end = buf ? buf + len : buf;
    int rc = 0;
    for (unsigned line = 1; !rc && p && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        const char *cr = le > p && le[-1] == '\r' ? le - 1 : le; /* a file saved on Windows */
        if (p < cr && *p != '#') {
            const char *eq = memchr(p, '=', (size_t)(cr - p));
            const char *name_end = eq ? eq : cr;
            const char *why = NULL;
            if (memchr(p, '\0', (size_t)(cr - p)))
                why = "a NUL byte";
            else if (name_end == p)
                why = "expected NAME=VALUE or NAME, got an empty NAME";
            else if (memchr(p, ' ', (size_t)(name_end - p)) || memchr(p, '\t', (size_t)(name_end - p)))
                why = "the NAME holds blanks";
            if (why) {
                snprintf(err, errlen, "%s:%u: %s", file, line, why);
                rc = -EINVAL;
            } else {
                rc = push(&v, p, (size_t)(cr - p));
            }
        }
        p = le + 1;
    }
    if (rc) {
        strv_free(&v);
        return rc;
    }
    *out = v.v;
    *n = v.n;
    return 0;
}

int image_env_file_read(const char *file, char ***out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(file, "rbe");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", file, strerror(e));
        return -e;
    }
    char *buf = NULL;
    size_t len = 0, got;
    FILE *m = open_memstream(&buf, &len);
    char chunk[8192];
    int rc = m ? 0 : -ENOMEM;
    while (!rc && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        fwrite(chunk, 1, got, m);
        if (ftell(m) > IMAGE_ENV_FILE_MAX)
            rc = -EFBIG;
    }
    if (!rc && ferror(f))
        rc = -EIO;
    fclose(f);
    if (m && fclose(m) && !rc)
        rc = -ENOMEM;
    if (!rc)
        rc = image_env_file_parse(buf, len, file, out, n, err, errlen);
    else if (rc == -EFBIG)
        snprintf(err, errlen, "%s: larger than %d MiB: not an env file", file, IMAGE_ENV_FILE_MAX >> 20);
    else
        snprintf(err, errlen, "%s: %s", file, strerror(-rc));
    free(buf);
    return rc;
}

void image_env_free(char **env, size_t n)
{
    struct strv v = {env, n, 0};
    strv_free(&v);
}
