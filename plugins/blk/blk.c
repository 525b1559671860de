/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.2 §5.2) as a plugvm device plugin: disks for root
 * filesystems, image layers and volumes, backed by a raw file or a block
 * device (disk.c). Requests (request.c) are served on worker threads,
 * io_threads of them per queue, never on the vCPU or event-loop thread
 * that rang the doorbell; data moves with preadv/pwritev between the file
 * and guest memory.
 *
 * Durability: with VIRTIO_BLK_F_FLUSH negotiated, writes land in the host's
 * page cache (or, with cache = "none", go O_DIRECT) and a FLUSH completes
 * only after fdatasync; without it the device is write-through, each
 * write done with RWF_DSYNC before it completes.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "disk.h"
#include "queue_workers.h"
#include "request.h"
#include "virtio_blk.h"

#define QUEUE_SIZE 256
#define MAX_QUEUES QW_MAX_QUEUES
/* Workers per queue: requests served at once on one queue. */
#define MAX_WORKERS QW_MAX_WORKERS
#define DEFAULT_WORKERS 4
/* Linux wants seg_max <= queue size - 2 (header and status), and each
 * worker's iovec array (QUEUE_SIZE long) must hold every segment. */
_Static_assert(BLK_SEG_MAX <= QUEUE_SIZE - 2, "seg_max fits the queue");
/* Host I/O errors logged one by one before they are only counted. */
#define ERRORS_LOGGED 16

#define RECORD_TAG_BLK 1
#define RECORD_VERSION_BLK 1

struct blk {
    const struct plugvm_host *host;
    struct blk_disk disk;
    struct virtio_blk_config config;
    uint32_t num_queues;
    uint32_t workers; /* per queue */
    struct blk_req_ctx ctx; /* set by activate, read by workers */
    uint64_t features;      /* negotiated, while active */
    bool active;
    atomic_uint errors;
    struct qw_pool pool;
    struct blk_io io[MAX_QUEUES][MAX_WORKERS]; /* each worker's scratch space */
};

static void host_error(void *arg, const char *op, uint64_t off, int err)
{
    struct blk *b = arg;
    unsigned n = atomic_fetch_add(&b->errors, 1);
    if (n < ERRORS_LOGGED)
        b->host->log(b->host, PLUGVM_LOG_ERROR, "%s: %s at byte %llu failed: %s (the guest gets "
                     "VIRTIO_BLK_S_IOERR)", b->disk.path, op, (unsigned long long)off, strerror(err));
    else if (n == ERRORS_LOGGED)
        b->host->log(b->host, PLUGVM_LOG_ERROR, "%s: more I/O errors; no longer logged one by one",
                     b->disk.path);
}

/* One request, on worker `worker` of `queue` (queue_workers.h). */
static uint32_t serve(void *arg, uint32_t queue, uint32_t worker, const struct plugvm_chain *c)
{
    struct blk *b = arg;
    return blk_request_serve(&b->ctx, &b->io[queue][worker], c, NULL);
}

static const struct plugvm_setting_spec blk_settings[] = {
    PLUGVM_SETTING("path", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED | PLUGVM_SETTING_PATH, 0, -1,
                   "raw disk image file or block device"),
    PLUGVM_SETTING("read_only", PLUGVM_SETTING_BOOL, 0, 0, -1, "offer the disk read-only (default false)"),
    PLUGVM_SETTING("cache", PLUGVM_SETTING_STRING, 0, 0, -1,
                   "\"writeback\" (host page cache, default) or \"none\" (O_DIRECT)"),
    PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, MAX_QUEUES, "request queues"),
    PLUGVM_SETTING("io_threads", PLUGVM_SETTING_INT, 0, 1, MAX_WORKERS,
                   "worker threads per queue: requests of one queue served at once (default 4)"),
    PLUGVM_SETTING("serial", PLUGVM_SETTING_STRING, 0, 0, -1,
                   "GET_ID answer, up to 20 printable ASCII bytes (default: from the file name)"),
    {0},
};

static int setting_error(const struct plugvm_host *host, const struct plugvm_settings *s,
                         const char *name, const char *msg)
{
    char at[256];
    host->log(host, PLUGVM_LOG_ERROR, "%s: %s", s->ops->where(s, name, at, sizeof(at)), msg);
    return -EINVAL;
}

static void fill_config(struct blk *b)
{
    struct virtio_blk_config *c = &b->config;
    memset(c, 0, sizeof(*c));
    c->capacity = b->disk.capacity;
    c->size_max = BLK_SIZE_MAX; /* both enforced by request.c */
    c->seg_max = BLK_SEG_MAX;
    /* Linux takes blk_size as the logical block size, so requests come
     * aligned the way O_DIRECT wants them. */
    c->blk_size = b->disk.dio_align > VIRTIO_BLK_SECTOR_SIZE ? b->disk.dio_align
                                                            : VIRTIO_BLK_SECTOR_SIZE;
    c->num_queues = (uint16_t)b->num_queues;
    c->max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
    c->max_discard_seg = BLK_MAX_DISCARD_SEG;
    c->discard_sector_alignment = 4096 / VIRTIO_BLK_SECTOR_SIZE; /* a filesystem block */
    c->max_write_zeroes_sectors = BLK_MAX_WRITE_ZEROES_SECTORS;
    c->max_write_zeroes_seg = BLK_MAX_WRITE_ZEROES_SEG;
    c->write_zeroes_may_unmap = 1;
}

static uint64_t offered_features(const struct blk *b)
{
    uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
                 1ull << VIRTIO_BLK_F_BLK_SIZE;
    if (b->disk.read_only)
        f |= 1ull << VIRTIO_BLK_F_RO;
    else
        f |= 1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
             1ull << VIRTIO_BLK_F_WRITE_ZEROES;
    if (b->num_queues > 1)
        f |= 1ull << VIRTIO_BLK_F_MQ;
    return f;
}

static void blk_destroy(void *instance);

static int blk_create(const struct plugvm_host *host, const struct plugvm_settings *s,
                      struct plugvm_device_info *info, void **instance)
{
    const struct plugvm_settings_ops *ops = s->ops;
    struct blk_disk_options o = {0};
    char path[4096];
    if (!PLUGVM_HAS(ops, struct plugvm_settings_ops, get_path)) {
        ops->get_string(s, "path", &o.path); /* an older core: as written */
    } else if (ops->get_path(s, "path", path, sizeof(path))) {
        return setting_error(host, s, "path", "path is too long");
    } else {
        o.path = path;
    }
    ops->get_bool(s, "read_only", &o.read_only);
    const char *cache = "writeback";
    ops->get_string(s, "cache", &cache);
    if (strcmp(cache, "none") == 0)
        o.direct = true;
    else if (strcmp(cache, "writeback") != 0)
        return setting_error(host, s, "cache", "cache must be \"writeback\" or \"none\"");
    int64_t queues = 1, workers = DEFAULT_WORKERS;
    ops->get_int(s, "queues", &queues);
    ops->get_int(s, "io_threads", &workers);
    if (ops->get_string(s, "serial", &o.serial) == 0) {
        size_t n = strlen(o.serial);
        bool printable = true;
        for (size_t i = 0; i < n; i++)
            printable &= o.serial[i] >= 0x20 && o.serial[i] < 0x7f;
        if (n > VIRTIO_BLK_ID_BYTES || !printable)
            return setting_error(host, s, "serial",
                                 "serial must be at most 20 printable ASCII bytes (virtio 1.2 "
                                 "§5.2.6: GET_ID answers 20 bytes)");
    }

    struct blk *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->host = host;
    b->disk.fd = -1;
    b->num_queues = (uint32_t)queues;
    b->workers = (uint32_t)workers;
    if (qw_init(&b->pool, host, "blk", b->num_queues, b->workers, serve, b)) {
        blk_destroy(b);
        return -EINVAL;
    }
    char err[512];
    int rc = blk_disk_open(&b->disk, &o, err, sizeof(err));
    if (rc) {
        setting_error(host, s, "path", err);
        blk_destroy(b);
        return rc;
    }
    for (uint32_t i = 0; i < b->num_queues; i++)
        for (uint32_t k = 0; k < b->workers; k++)
            if (blk_io_init(&b->io[i][k], QUEUE_SIZE)) {
                blk_destroy(b);
                return -ENOMEM;
            }
    fill_config(b);
    *info = (struct plugvm_device_info){
        .device_id = VIRTIO_ID_BLOCK,
        .features = offered_features(b),
        .num_queues = b->num_queues,
        .queue_max_size = QUEUE_SIZE,
        .config_size = VIRTIO_BLK_CONFIG_SIZE,
    };
    *instance = b;
    return 0;
}

static int blk_activate(void *instance, uint64_t features)
{
    struct blk *b = instance;
    b->features = features;
    b->ctx = (struct blk_req_ctx){
        .disk = &b->disk,
        .write_through = !(features & 1ull << VIRTIO_BLK_F_FLUSH),
        .discard = features & 1ull << VIRTIO_BLK_F_DISCARD,
        .write_zeroes = features & 1ull << VIRTIO_BLK_F_WRITE_ZEROES,
        .host_error = host_error,
        .host_error_arg = b,
    };
    int rc = qw_start(&b->pool);
    if (rc)
        return rc;
    b->active = true;
    return 0;
}

static void blk_reset(void *instance)
{
    struct blk *b = instance;
    qw_stop(&b->pool);
    b->active = false;
    b->features = 0;
}

static void blk_notify(void *instance, uint32_t queue)
{
    struct blk *b = instance;
    qw_kick(&b->pool, queue);
}

static void blk_config_read(void *instance, uint32_t offset, void *data, uint32_t len)
{
    struct blk *b = instance;
    if (offset <= VIRTIO_BLK_CONFIG_SIZE && len <= VIRTIO_BLK_CONFIG_SIZE - offset)
        memcpy(data, (const uint8_t *)&b->config + offset, len);
}

static int blk_quiesce(void *instance)
{
    struct blk *b = instance;
    qw_pause(&b->pool);
    return 0;
}

static void blk_resume(void *instance)
{
    struct blk *b = instance;
    qw_resume(&b->pool);
}

/* The record: what must match for the restored guest to find its disk as
 * it left it. Nothing is in flight after quiesce, so no request state. */
static int blk_save(void *instance, struct plugvm_record_writer *w)
{
    struct blk *b = instance;
    const struct plugvm_record_writer_ops *o = w->ops;
    /* Absolute, so a restore from elsewhere can tell whether it has the
     * same file. */
    char *abs = realpath(b->disk.path, NULL);
    const char *path = abs ? abs : b->disk.path;
    size_t plen = strlen(path);
    o->begin(w, RECORD_TAG_BLK, RECORD_VERSION_BLK);
    o->put_u64(w, b->disk.capacity);
    o->put_u8(w, b->disk.read_only);
    o->put_u32(w, b->num_queues);
    o->put_u64(w, b->features);
    o->put_bytes(w, b->disk.serial, VIRTIO_BLK_ID_BYTES);
    o->put_u32(w, (uint32_t)plen);
    o->put_bytes(w, path, plen);
    free(abs);
    return o->end(w);
}

static int blk_restore(void *instance, struct plugvm_record_reader *r)
{
    struct blk *b = instance;
    const struct plugvm_record_reader_ops *o = r->ops;
    const struct plugvm_host *h = b->host;
    uint32_t version, queues, plen;
    uint64_t capacity, features;
    uint8_t ro;
    char serial[VIRTIO_BLK_ID_BYTES], path[4096];
    int rc = o->open(r, RECORD_TAG_BLK, &version);
    if (rc) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: no blk record for %s", b->disk.path);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    if (version != RECORD_VERSION_BLK) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: blk record version %u, this plugin reads %u",
               version, RECORD_VERSION_BLK);
        return -EINVAL;
    }
    if (o->get_u64(r, &capacity) || o->get_u8(r, &ro) || o->get_u32(r, &queues) ||
        o->get_u64(r, &features) || o->get_bytes(r, serial, sizeof(serial)) ||
        o->get_u32(r, &plen) || plen >= sizeof(path) || o->get_bytes(r, path, plen) ||
        o->close(r)) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the blk record for %s is truncated or malformed",
               b->disk.path);
        return -EBADMSG;
    }
    path[plen] = '\0';
    if (capacity != b->disk.capacity || (bool)ro != b->disk.read_only || queues != b->num_queues) {
        h->log(h, PLUGVM_LOG_ERROR,
               "snapshot: the blk device was saved with %s (%llu sectors, %s, %u queues) but "
               "%s is %llu sectors, %s, %u queues: the guest would not find its disk as it left it",
               path, (unsigned long long)capacity, ro ? "read-only" : "writable", queues,
               b->disk.path, (unsigned long long)b->disk.capacity,
               b->disk.read_only ? "read-only" : "writable", b->num_queues);
        return -EINVAL;
    }
    char *now = realpath(b->disk.path, NULL);
    if (strcmp(path, now ? now : b->disk.path) != 0)
        h->log(h, PLUGVM_LOG_INFO, "snapshot: disk saved as %s, restored from %s", path,
               b->disk.path);
    free(now);
    /* The transport's record holds the negotiated features and calls
     * activate with them; the serial answers GET_ID as before. */
    memcpy(b->disk.serial, serial, sizeof(serial));
    (void)features;
    return 0;
}

static void blk_destroy(void *instance)
{
    struct blk *b = instance;
    qw_fini(&b->pool);
    for (uint32_t i = 0; i < MAX_QUEUES; i++)
        for (uint32_t k = 0; k < MAX_WORKERS; k++)
            blk_io_fini(&b->io[i][k]);
    blk_disk_close(&b->disk);
    free(b);
}

static const struct plugvm_device_ops blk_ops = {
    .size = sizeof(struct plugvm_device_ops),
    .settings = blk_settings,
    .create = blk_create,
    .destroy = blk_destroy,
    .activate = blk_activate,
    .reset = blk_reset,
    .notify = blk_notify,
    .config_read = blk_config_read,
    .quiesce = blk_quiesce,
    .resume = blk_resume,
    .save = blk_save,
    .restore = blk_restore,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_DEVICE,
    .name = "blk",
    .version = BLK_VERSION,
    .description = "virtio-blk: a raw image file or block device as a guest disk",
    .ops = &blk_ops,
};
