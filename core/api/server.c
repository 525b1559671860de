/* SPDX-License-Identifier: Apache-2.0 */
#include "api/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/error.h"
#include "util/clock.h"
#include "util/log.h"
#include "vm/snapshot.h"
#include "vm/vm_internal.h"

struct api_server {
    struct vm *vm;
    struct evhttp *http;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void reply_json(struct evhttp_request *req, int code, const char *reason, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (text) {
            evbuffer_add_printf(b, "%s\n", text);
            free(text);
        }
        json_decref(body);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
    }
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static void fault(struct evhttp_request *req, int code, const char *msg)
{
    reply_json(req, code, code == 400 ? "Bad Request" : "Internal Server Error",
               json_pack("{s:s}", "fault_message", msg));
}

/* The request's JSON object body, or NULL after replying 400. */
static json_t *body(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *text = malloc(n + 1);
    if (!text) {
        fault(req, 500, "out of memory");
        return NULL;
    }
    evbuffer_copyout(in, text, n);
    text[n] = '\0';
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    free(text);
    if (!j || !json_is_object(j)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the body must be a JSON object: %s", j ? "not an object" : e.text);
        json_decref(j);
        fault(req, 400, msg);
        return NULL;
    }
    return j;
}

static void on_vm(struct evhttp_request *req, void *arg)
{
    struct api_server *s = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_GET) {
        reply_json(req, 200, "OK", json_pack("{s:s}", "state", s->vm->paused ? "Paused" : "Running"));
        return;
    }
    if (cmd != EVHTTP_REQ_PUT && cmd != EVHTTP_REQ_PATCH) {
        fault(req, 400, "/vm takes GET, or PUT with {\"state\": \"Paused\" or \"Resumed\"}");
        return;
    }
    json_t *j = body(req);
    if (!j)
        return;
    const char *state = json_string_value(json_object_get(j, "state"));
    char err[512];
    if (state && strcmp(state, "Paused") == 0) {
        if (vm_pause(s->vm, err, sizeof(err)))
            fault(req, 500, err);
        else
            reply_json(req, 204, "No Content", NULL);
    } else if (state && strcmp(state, "Resumed") == 0) {
        vm_resume(s->vm);
        reply_json(req, 204, "No Content", NULL);
    } else {
        fault(req, 400, "\"state\" must be \"Paused\" or \"Resumed\"");
    }
    json_decref(j);
}

static void on_snapshot(struct evhttp_request *req, void *arg)
{
    struct api_server *s = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_PUT) {
        fault(req, 400, "/snapshot/create takes PUT with {\"snapshot_path\": DIR}");
        return;
    }
    json_t *j = body(req);
    if (!j)
        return;
    const char *dir = json_string_value(json_object_get(j, "snapshot_path"));
    if (!dir || !dir[0]) {
        json_decref(j);
        fault(req, 400, "\"snapshot_path\" (the snapshot's folder) is required");
        return;
    }
    char err[1024];
    double ms;
    int rc = vm_snapshot_paused(s->vm, dir, &ms, err, sizeof(err));
    if (rc) {
        fault(req, 500, err);
    } else {
        pv_info("snapshot written to %s in %.1f ms", dir, ms);
        reply_json(req, 204, "No Content", NULL);
    }
    json_decref(j);
}

/* A device's own resource: the plugin's control op answers it. */
static void device_request(struct evhttp_request *req, struct vm_device *d, const char *rest)
{
    const char *method;
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: method = "GET"; break;
    case EVHTTP_REQ_PUT: method = "PUT"; break;
    default: method = "PATCH"; break; /* the only other one allowed */
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *text = NULL;
    if (n) {
        text = malloc(n + 1);
        if (!text) {
            fault(req, 500, "out of memory");
            return;
        }
        evbuffer_copyout(in, text, n);
        text[n] = '\0';
    }
    char reply[16384];
    reply[0] = '\0';
    int code = d->ops->control(d->instance, method, rest, text, reply, sizeof(reply));
    free(text);
    reply[sizeof(reply) - 1] = '\0';
    struct evbuffer *b = evbuffer_new();
    if (reply[0]) {
        evbuffer_add_printf(b, "%s\n", reply);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
    }
    const char *reason = code == 200 ? "OK" : code == 204 ? "No Content" : code == 400 ? "Bad Request"
                         : code == 404 ? "Not Found" : "Error";
    evhttp_send_reply(req, code >= 100 && code < 600 ? code : 500, reason, b);
    evbuffer_free(b);
}

/* /devices/NAME[/REST] for any device with a control op, and Firecracker's
 * names for the first device of their kind: /balloon[/REST]. */
static bool route_device(struct api_server *s, struct evhttp_request *req, const char *path)
{
    static const struct {
        const char *prefix;
        uint32_t device_id;
    } kinds[] = {{"/balloon", 5 /* VIRTIO_ID_BALLOON */}};
    struct vm *vm = s->vm;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t n = strlen(kinds[k].prefix);
        if (strncmp(path, kinds[k].prefix, n) || (path[n] && path[n] != '/'))
            continue;
        for (size_t i = 0; i < vm->ndevices; i++) {
            struct vm_device *d = &vm->dev[i];
            if (d->info.device_id == kinds[k].device_id &&
                PLUGVM_HAS(d->ops, struct plugvm_device_ops, control)) {
                device_request(req, d, path + n);
                return true;
            }
        }
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: this VM has no such device (add { plugin = \"%s\"; } to "
                 "its devices)", kinds[k].prefix, kinds[k].prefix + 1);
        reply_json(req, 404, "Not Found", json_pack("{s:s}", "fault_message", msg));
        return true;
    }
    const char *dev = "/devices/";
    if (strncmp(path, dev, strlen(dev)))
        return false;
    const char *name = path + strlen(dev), *slash = strchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : strlen(name);
    for (size_t i = 0; i < vm->ndevices; i++) {
        struct vm_device *d = &vm->dev[i];
        if (strlen(d->name) == len && !strncmp(d->name, name, len) &&
            PLUGVM_HAS(d->ops, struct plugvm_device_ops, control)) {
            device_request(req, d, name + len);
            return true;
        }
    }
    return false;
}

static void on_other(struct evhttp_request *req, void *arg)
{
    struct api_server *s = arg;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (path && route_device(s, req, path))
        return;
    char msg[512];
    snprintf(msg, sizeof(msg), "no such resource: %s (there are /vm, /snapshot/create, and "
             "/balloon or /devices/NAME for devices that serve requests)",
             evhttp_request_get_uri(req));
    reply_json(req, 404, "Not Found", json_pack("{s:s}", "fault_message", msg));
}

struct api_server *api_server_start(struct vm *vm, struct event_base *base, const char *path,
                                    char *err, size_t errlen)
{
    struct api_server *s = calloc(1, sizeof(*s));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!s) {
        pv_fail(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(path) >= sizeof(a.sun_path)) {
        pv_fail(err, errlen, "--api %s: longer than a Unix socket path may be (%zu bytes)", path,
                sizeof(a.sun_path) - 1);
        free(s);
        return NULL;
    }
    memcpy(a.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pv_fail(err, errlen, "--api %s: socket: %s", path, strerror(errno));
        free(s);
        return NULL;
    }
    /* Something listening there already is another VM's: refuse. A file
     * nobody answers on is left over from a killed plugvm: replace it. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = S_ISSOCK(st.st_mode) && probe >= 0 &&
                    connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (probe >= 0)
            close(probe);
        if (live || !S_ISSOCK(st.st_mode)) {
            pv_fail(err, errlen, "--api %s: %s", path,
                    live ? "another VM's control socket is there" : "a file that is not a socket is there");
            close(fd);
            free(s);
            return NULL;
        }
        unlink(path);
    }
    /* 0600 from its creation: no moment when others could connect. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc || listen(fd, 16)) {
        pv_fail(err, errlen, "--api %s: %s", path, strerror(errno));
        close(fd);
        free(s);
        return NULL;
    }
    s->vm = vm;
    memcpy(s->path, path, strlen(path) + 1);
    s->http = evhttp_new(base);
    if (!s->http || !evhttp_accept_socket_with_handle(s->http, fd)) {
        pv_fail(err, errlen, "--api %s: cannot serve HTTP on it", path);
        if (s->http)
            evhttp_free(s->http);
        close(fd);
        unlink(path);
        free(s);
        return NULL;
    }
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH);
    evhttp_set_cb(s->http, "/vm", on_vm, s);
    evhttp_set_cb(s->http, "/snapshot/create", on_snapshot, s);
    evhttp_set_gencb(s->http, on_other, s);
    return s;
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    evhttp_free(s->http); /* closes the listening socket */
    unlink(s->path);
    free(s);
}
