/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs (virtio 1.2 §5.11) as a plugvm device plugin: a host directory
 * shared with the guest as a POSIX file system (`mount -t virtiofs TAG
 * DIR`), served by the FUSE server in this folder (server.h) inside the
 * plugin, with no virtiofsd beside plugvm.
 *
 * Queues: 0 is the hiprio queue (FORGET, BATCH_FORGET, INTERRUPT, which
 * must not wait behind requests), 1..queues the request queues. Every
 * queue is served on worker threads (plugins/common/queue_workers.h),
 * never on the vCPU or event-loop thread that rang the doorbell: a FUSE op
 * is a host syscall that may block. Neither the notification queue
 * (VIRTIO_FS_F_NOTIFICATION) nor a DAX window is offered: the transport's
 * shared-memory registers report no region (§4.2.2: SHMLen reads all
 * ones), so the guest does not try DAX mappings.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "queue_workers.h"
#include "server.h"

#define QUEUE_SIZE 256
#define HIPRIO_QUEUE 0
#define MAX_REQUEST_QUEUES (QW_MAX_QUEUES - 1)
#define DEFAULT_WORKERS 2
#define TAG_MAX 36 /* bytes, §5.11.4 */
/* The saved FUSE session's bound, bytes: a guest holding a million inodes
 * with full paths stays well below it; a record claiming more is damaged. */
#define SESSION_MAX (1u << 30)

#define RECORD_TAG_FS 1
/* 2: the FUSE session (server.h, fs_server_save) follows the share. */
#define RECORD_VERSION_FS 2

struct fs {
    const struct plugvm_host *host;
    struct fs_server *server;
    struct fs_server_opts opts;
    char source[4096];
    struct virtio_fs_config config;
    uint32_t request_queues;
    uint32_t workers; /* per queue */
    struct qw_pool pool;
    /* Each worker's iovec arrays: a chain has at most QUEUE_SIZE buffers. */
    struct iovec (*iov)[QUEUE_SIZE];
};

static uint32_t serve(void *arg, uint32_t queue, uint32_t worker, const struct plugvm_chain *c)
{
    struct fs *f = arg;
    struct iovec *v = f->iov[queue * f->workers + worker];
    /* The core hands readable buffers first (host.h). */
    int nin = 0, n = c->niov < QUEUE_SIZE ? c->niov : QUEUE_SIZE;
    while (nin < n && !c->iov[nin].writable)
        nin++;
    for (int i = 0; i < n; i++)
        v[i] = (struct iovec){c->iov[i].addr, c->iov[i].len};
    size_t used = fs_server_handle(f->server, v, nin, v + nin, n - nin);
    return (uint32_t)used; /* at most writable_bytes, a u32 */
}

static const struct plugvm_setting_spec fs_settings[] = {
    PLUGVM_SETTING("source", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED | PLUGVM_SETTING_PATH, 0, -1,
                   "host directory shared with the guest"),
    PLUGVM_SETTING("tag", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED, 0, -1,
                   "the name the guest mounts (mount -t virtiofs TAG DIR), 1 to 36 bytes"),
    PLUGVM_SETTING("read_only", PLUGVM_SETTING_BOOL, 0, 0, -1, "refuse every write with EROFS (default false)"),
    PLUGVM_SETTING("cache", PLUGVM_SETTING_STRING, 0, 0, -1,
                   "\"auto\" (default: 1 s), \"always\" (source is the guest's alone) or \"never\""),
    PLUGVM_SETTING("xattr", PLUGVM_SETTING_BOOL, 0, 0, -1, "serve extended attributes (default false)"),
    PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, MAX_REQUEST_QUEUES, "request queues (default 1)"),
    PLUGVM_SETTING("io_threads", PLUGVM_SETTING_INT, 0, 1, QW_MAX_WORKERS,
                   "worker threads per queue: requests of one queue served at once (default 2)"),
    {0},
};

static int setting_error(const struct plugvm_host *host, const struct plugvm_settings *s, const char *name,
                         const char *msg)
{
    char at[256];
    host->log(host, PLUGVM_LOG_ERROR, "%s: %s", s->ops->where(s, name, at, sizeof(at)), msg);
    return -EINVAL;
}

/* Every inode the guest holds and every open fh is a host descriptor
 * (server.h), and a guest keeps every inode it has looked up until its
 * own memory runs short: 10,000 files created in a row hold 10,000
 * descriptors. So the limit goes up as far as the host lets: to the
 * kernel's fs.nr_open where plugvm may raise the hard limit (root, as
 * virtiofsd does), else the soft limit to the hard one. */
static void raise_nofile(const struct plugvm_host *host)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r))
        return;
    unsigned long long nr_open = 0;
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    if (f) {
        if (fscanf(f, "%llu", &nr_open) != 1)
            nr_open = 0;
        fclose(f);
    }
    if (nr_open > r.rlim_max) {
        struct rlimit big = {(rlim_t)nr_open, (rlim_t)nr_open};
        if (setrlimit(RLIMIT_NOFILE, &big) == 0)
            return;
    }
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r))
            host->log(host, PLUGVM_LOG_WARN, "cannot raise RLIMIT_NOFILE: %s", strerror(errno));
    }
    if (r.rlim_cur < 65536)
        host->log(host, PLUGVM_LOG_WARN,
                  "RLIMIT_NOFILE is %llu: the guest can hold at most that many files of the share at "
                  "once (EMFILE beyond it); raise the hard limit (ulimit -Hn) for more",
                  (unsigned long long)r.rlim_cur);
}

static void fs_destroy(void *instance);

static int fs_create(const struct plugvm_host *host, const struct plugvm_settings *s,
                     struct plugvm_device_info *info, void **instance)
{
    const struct plugvm_settings_ops *ops = s->ops;
    struct fs *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->host = host;
    int rc = -EINVAL;
    if (!PLUGVM_HAS(ops, struct plugvm_settings_ops, get_path)) {
        const char *src = "";
        ops->get_string(s, "source", &src);
        snprintf(f->source, sizeof(f->source), "%s", src);
    } else if (ops->get_path(s, "source", f->source, sizeof(f->source))) {
        rc = setting_error(host, s, "source", "path is too long");
        goto fail;
    }
    const char *tag = "", *cache = "auto";
    ops->get_string(s, "tag", &tag);
    size_t taglen = strlen(tag);
    if (taglen == 0 || taglen > TAG_MAX) {
        rc = setting_error(host, s, "tag", "tag must be 1 to 36 bytes (virtio 1.2 §5.11.4)");
        goto fail;
    }
    ops->get_string(s, "cache", &cache);
    f->opts = (struct fs_server_opts){.source = f->source};
    if (!strcmp(cache, "auto"))
        f->opts.cache = FS_CACHE_AUTO;
    else if (!strcmp(cache, "always"))
        f->opts.cache = FS_CACHE_ALWAYS;
    else if (!strcmp(cache, "never"))
        f->opts.cache = FS_CACHE_NEVER;
    else {
        rc = setting_error(host, s, "cache", "cache must be \"auto\", \"always\" or \"never\"");
        goto fail;
    }
    ops->get_bool(s, "read_only", &f->opts.read_only);
    ops->get_bool(s, "xattr", &f->opts.xattr);
    int64_t queues = 1, workers = DEFAULT_WORKERS;
    ops->get_int(s, "queues", &queues);
    ops->get_int(s, "io_threads", &workers);
    f->request_queues = (uint32_t)queues;
    f->workers = (uint32_t)workers;

    char err[1024];
    if (!(f->server = fs_server_new(&f->opts, err, sizeof(err)))) {
        rc = setting_error(host, s, "source", err);
        goto fail;
    }
    raise_nofile(host);
    uint32_t nq = 1 + f->request_queues;
    f->iov = calloc((size_t)nq * f->workers, sizeof(*f->iov));
    if (!f->iov || qw_init(&f->pool, host, "fs", nq, f->workers, serve, f)) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(f->config.tag, tag, taglen); /* NUL-padded, not terminated (§5.11.4) */
    f->config.num_request_queues = f->request_queues;
    *info = (struct plugvm_device_info){
        .device_id = VIRTIO_ID_FS,
        .features = 0, /* no VIRTIO_FS_F_NOTIFICATION */
        .num_queues = nq,
        .queue_max_size = QUEUE_SIZE,
        .config_size = sizeof(f->config),
    };
    *instance = f;
    return 0;
fail:
    fs_destroy(f);
    return rc;
}

static int fs_activate(void *instance, uint64_t features)
{
    struct fs *f = instance;
    (void)features;
    return qw_start(&f->pool);
}

/* The driver's reset forgets the FUSE session: its nodeids and fhs, and
 * the next request must be INIT (§5.11.6.1: a reset device is a new
 * session). */
static void fs_reset(void *instance)
{
    struct fs *f = instance;
    qw_stop(&f->pool);
    fs_server_reset(f->server);
}

static void fs_notify(void *instance, uint32_t queue)
{
    struct fs *f = instance;
    qw_kick(&f->pool, queue);
}

static void fs_config_read(void *instance, uint32_t offset, void *data, uint32_t len)
{
    struct fs *f = instance;
    if (offset <= sizeof(f->config) && len <= sizeof(f->config) - offset)
        memcpy(data, (const uint8_t *)&f->config + offset, len);
}

/* The pause gate: no FUSE op half done (none writes guest memory) while
 * the snapshot is taken. */
static int fs_quiesce(void *instance)
{
    struct fs *f = instance;
    qw_pause(&f->pool);
    return 0;
}

static void fs_resume(void *instance)
{
    struct fs *f = instance;
    qw_resume(&f->pool);
}

/* What must match for a restore, the share as the guest mounted it, then
 * the FUSE session: INIT's outcome and every nodeid and fh the guest
 * holds, so that its open files and current directories go on working
 * in the restored VM (server.h says how each is found again). Workers
 * are parked (quiesce), so the tables hold still. */
static int fs_save(void *instance, struct plugvm_record_writer *w)
{
    struct fs *f = instance;
    const struct plugvm_record_writer_ops *o = w->ops;
    uint8_t *session;
    size_t slen;
    char err[512];
    int rc = fs_server_save(f->server, &session, &slen, err, sizeof(err));
    if (rc) {
        f->host->log(f->host, PLUGVM_LOG_ERROR, "snapshot: %s: %s", f->source, err);
        return rc;
    }
    if (slen > SESSION_MAX) {
        f->host->log(f->host, PLUGVM_LOG_ERROR, "snapshot: %s: the FUSE session is %zu bytes, more than %u",
                     f->source, slen, SESSION_MAX);
        free(session);
        return -EFBIG;
    }
    size_t plen = strlen(f->source);
    o->begin(w, RECORD_TAG_FS, RECORD_VERSION_FS);
    o->put_bytes(w, f->config.tag, sizeof(f->config.tag));
    o->put_u32(w, f->request_queues);
    o->put_u8(w, f->opts.read_only);
    o->put_u32(w, (uint32_t)plen);
    o->put_bytes(w, f->source, plen);
    o->put_u32(w, (uint32_t)slen);
    o->put_bytes(w, session, slen);
    free(session);
    return o->end(w);
}

static int fs_restore(void *instance, struct plugvm_record_reader *r)
{
    struct fs *f = instance;
    const struct plugvm_record_reader_ops *o = r->ops;
    const struct plugvm_host *h = f->host;
    uint32_t version, queues, plen;
    uint8_t tag[TAG_MAX], ro;
    char path[4096];
    int rc = o->open(r, RECORD_TAG_FS, &version);
    if (rc) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: no fs record for %s", f->source);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    if (version != RECORD_VERSION_FS) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: fs record version %u, this plugin reads %u", version,
               RECORD_VERSION_FS);
        return -EINVAL;
    }
    uint32_t slen;
    uint8_t *session = NULL;
    if (o->get_bytes(r, tag, sizeof(tag)) || o->get_u32(r, &queues) || o->get_u8(r, &ro) ||
        o->get_u32(r, &plen) || plen >= sizeof(path) || o->get_bytes(r, path, plen) ||
        o->get_u32(r, &slen) || slen > SESSION_MAX || slen > o->remaining(r) ||
        !(session = malloc(slen ? slen : 1)) || o->get_bytes(r, session, slen) || o->close(r)) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the fs record for %s is truncated or malformed", f->source);
        free(session);
        return -EBADMSG;
    }
    path[plen] = '\0';
    if (memcmp(tag, f->config.tag, sizeof(tag)) || queues != f->request_queues ||
        (bool)ro != f->opts.read_only) {
        free(session);
        h->log(h, PLUGVM_LOG_ERROR,
               "snapshot: the fs device was saved as tag '%.36s' (%u request queues, %s) but is "
               "configured as tag '%.36s' (%u, %s): the guest would not find its mount as it left it",
               (const char *)tag, queues, ro ? "read-only" : "writable", (const char *)f->config.tag,
               f->request_queues, f->opts.read_only ? "read-only" : "writable");
        return -EINVAL;
    }
    if (strcmp(path, f->source))
        h->log(h, PLUGVM_LOG_INFO, "snapshot: source saved as %s, restored from %s", path, f->source);
    unsigned lost = 0;
    char err[512];
    rc = fs_server_restore(f->server, session, slen, &lost, err, sizeof(err));
    free(session);
    if (rc) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the fs record for %s: %s", f->source, err);
        return -EINVAL;
    }
    if (lost)
        h->log(h, PLUGVM_LOG_WARN,
               "snapshot: %u of the guest's files and open handles on %s are gone or changed since the "
               "snapshot; the guest gets ESTALE or EBADF for them", lost, f->source);
    return 0;
}

static void fs_destroy(void *instance)
{
    struct fs *f = instance;
    qw_fini(&f->pool);
    fs_server_free(f->server);
    free(f->iov);
    free(f);
}

static const struct plugvm_device_ops fs_ops = {
    .size = sizeof(struct plugvm_device_ops),
    .settings = fs_settings,
    .create = fs_create,
    .destroy = fs_destroy,
    .activate = fs_activate,
    .reset = fs_reset,
    .notify = fs_notify,
    .config_read = fs_config_read,
    .quiesce = fs_quiesce,
    .resume = fs_resume,
    .save = fs_save,
    .restore = fs_restore,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_DEVICE,
    .name = "fs",
    .version = FS_VERSION,
    .description = "virtio-fs: a host directory shared with the guest, served in-process",
    .ops = &fs_ops,
};
