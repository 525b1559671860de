/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tiny device plugins for the loader's tests, one object per variant: the
 * build compiles this file several times with a different TEST_VARIANT.
 */
#include <stddef.h>
#include <stdlib.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#define GOOD 1
#define BAD_MAJOR 2
#define NEWER_MINOR 3
#define BAD_KIND 4
#define DUP_NAME 5
#define NO_SYMBOL 6
#define MISSING_OP 7
#define BAD_NAME 8
#define SHORT_TABLE 9  /* size covers create..notify; config_read.. follow anyway */
#define SHORT_NOTIFY 10 /* size stops before notify, which follows anyway */

static int create(const struct plugvm_host *host, const struct plugvm_settings *s,
                  struct plugvm_device_info *info, void **instance)
{
    (void)host;
    (void)s;
    *info = (struct plugvm_device_info){.device_id = 4, .num_queues = 1, .queue_max_size = 16};
    *instance = NULL;
    return 0;
}
static void destroy(void *i) { (void)i; }
__attribute__((unused)) static int activate(void *i, uint64_t f) { (void)i; (void)f; return 0; }
static void reset(void *i) { (void)i; }
static void notify(void *i, uint32_t q) { (void)i; (void)q; }

static const struct plugvm_setting_spec settings[] = {
    PLUGVM_SETTING("path", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED, 0, -1, "a file"),
    PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, 8, "a queue count"),
    PLUGVM_SETTINGS_END,
};

/* Set past a short table's size: the core must never call them. */
__attribute__((unused)) static void poison_read(void *i, uint32_t o, void *d, uint32_t l)
{
    (void)i, (void)o, (void)d, (void)l;
    abort();
}
__attribute__((unused)) static int poison_int(void *i) { (void)i; abort(); }

/* NEWER_MINOR: a table as a later minor would have it, members appended
 * that this core does not know. */
static const struct {
    struct plugvm_device_ops ops;
    void (*future[4])(void);
} table = {.ops = {
#if TEST_VARIANT == SHORT_TABLE
    .size = offsetof(struct plugvm_device_ops, config_read),
    .config_read = poison_read,
    .quiesce = poison_int,
#elif TEST_VARIANT == SHORT_NOTIFY
    .size = offsetof(struct plugvm_device_ops, notify),
#elif TEST_VARIANT == NEWER_MINOR
    .size = sizeof(table),
#else
    .size = sizeof(struct plugvm_device_ops),
#endif
    .settings = settings,
    .create = create,
    .destroy = destroy,
#if TEST_VARIANT != MISSING_OP
    .activate = activate,
#endif
    .reset = reset,
    .notify = notify,
#if TEST_VARIANT == NEWER_MINOR
}, .future = {(void (*)(void))abort}};
#else
}};
#endif

#if TEST_VARIANT != NO_SYMBOL
PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
#if TEST_VARIANT == BAD_MAJOR
    .abi_major = PLUGVM_ABI_MAJOR + 1,
    .abi_minor = 0,
#elif TEST_VARIANT == NEWER_MINOR
    .abi_major = PLUGVM_ABI_MAJOR,
    .abi_minor = PLUGVM_ABI_MINOR + 1,
#else
    PLUGVM_PLUGIN_INIT,
#endif
#if TEST_VARIANT == BAD_KIND
    .kind = 99,
#else
    .kind = PLUGVM_KIND_DEVICE,
#endif
#if TEST_VARIANT == BAD_NAME
    .name = "Bad Name!",
#else
    .name = "testdev",
#endif
    .version = "1.0",
    .description = "loader test plugin",
    .ops = &table.ops,
};
#else
/* Exports its ops, just not the descriptor. */
PLUGVM_EXPORT const void *not_a_plugin = &table.ops;
#endif
