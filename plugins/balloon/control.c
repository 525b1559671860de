/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The balloon's control-socket resource (docs/API.md), shaped like
 * Firecracker's balloon API:
 *   GET   /balloon             target and actual size, the settings
 *   PATCH /balloon             {"amount_mib": N}: a new target
 *   PUT   /balloon             the same
 *   GET   /balloon/statistics  the guest's last memory statistics
 * Runs on the event-loop thread; the JSON is jansson's.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balloon_dev.h"

#define PAGES_PER_MIB 256u /* 4 KiB pages */

static int answer(json_t *j, char *reply, size_t len, int code)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text || strlen(text) >= len) {
        free(text);
        snprintf(reply, len, "{\"fault_message\":\"out of memory\"}");
        return 500;
    }
    memcpy(reply, text, strlen(text) + 1);
    free(text);
    return code;
}

static int fault(char *reply, size_t len, const char *msg)
{
    return answer(json_pack("{s:s}", "fault_message", msg), reply, len, 400);
}

static json_t *sizes(struct balloon *b)
{
    uint32_t target = atomic_load(&b->num_pages), actual = atomic_load(&b->actual);
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "target_pages", (json_int_t)target, "actual_pages",
                     (json_int_t)actual, "target_mib", (json_int_t)(target / PAGES_PER_MIB),
                     "actual_mib", (json_int_t)(actual / PAGES_PER_MIB), "inflated_pages",
                     (json_int_t)balloon_pages_count(&b->pages));
}

static int get_balloon(struct balloon *b, char *reply, size_t len)
{
    json_t *j = sizes(b);
    if (j) {
        json_object_set_new(j, "amount_mib", json_integer(atomic_load(&b->num_pages) / PAGES_PER_MIB));
        json_object_set_new(j, "deflate_on_oom", json_boolean(b->deflate_on_oom));
        json_object_set_new(j, "stats_polling_interval_s", json_integer(b->stats_interval_s));
        json_object_set_new(j, "free_page_reporting", json_boolean(b->free_page_reporting));
        json_object_set_new(j, "reported_mib",
                            json_integer((json_int_t)(atomic_load(&b->reported_bytes) >> 20)));
    }
    return answer(j, reply, len, 200);
}

static int set_balloon(struct balloon *b, const char *body, char *reply, size_t len)
{
    json_error_t e;
    json_t *j = body ? json_loads(body, 0, &e) : NULL;
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return fault(reply, len, "the body must be a JSON object: {\"amount_mib\": MIB}");
    }
    json_t *v = json_object_get(j, "amount_mib");
    const char *key;
    json_t *other;
    json_object_foreach(j, key, other) {
        if (strcmp(key, "amount_mib")) {
            char msg[256];
            snprintf(msg, sizeof(msg), "\"%.64s\" cannot change while the VM runs: only "
                     "amount_mib can (deflate_on_oom, stats_interval_s and free_page_reporting "
                     "are the device's settings in the config file)", key);
            json_decref(j);
            return fault(reply, len, msg);
        }
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        json_decref(j);
        return fault(reply, len, "\"amount_mib\" must be a whole number of MiB, 0 or more");
    }
    json_int_t mib = json_integer_value(v);
    json_decref(j);
    uint64_t ram_mib = b->ram_bytes >> 20;
    if ((uint64_t)mib > ram_mib) {
        char msg[160];
        snprintf(msg, sizeof(msg), "amount_mib %lld is more than guest RAM (%llu MiB)",
                 (long long)mib, (unsigned long long)ram_mib);
        return fault(reply, len, msg);
    }
    balloon_set_target(b, (uint32_t)((uint64_t)mib * PAGES_PER_MIB));
    reply[0] = '\0';
    return 204;
}

static int get_statistics(struct balloon *b, char *reply, size_t len)
{
    if (!b->stats_interval_s)
        return fault(reply, len, "statistics are off: set stats_interval_s in the balloon's "
                                 "settings");
    json_t *j = sizes(b);
    if (!j)
        return answer(NULL, reply, len, 500);
    pthread_mutex_lock(&b->stats_lock);
    struct balloon_stats s = b->stats;
    uint64_t when = b->stats_ms;
    pthread_mutex_unlock(&b->stats_lock);
    for (unsigned t = 0; t < BALLOON_STATS_TAGS; t++)
        if (s.have >> t & 1)
            json_object_set_new(j, balloon_stats_name(t), json_integer((json_int_t)s.value[t]));
    json_object_set_new(j, "updates", json_integer((json_int_t)s.updates));
    if (when) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t now = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
        json_object_set_new(j, "age_ms", json_integer((json_int_t)(now - when)));
    }
    return answer(j, reply, len, 200);
}

int balloon_control(void *instance, const char *method, const char *path, const char *body,
                    char *reply, size_t reply_len)
{
    struct balloon *b = instance;
    if (path[0] == '\0') {
        if (!strcmp(method, "GET"))
            return get_balloon(b, reply, reply_len);
        return set_balloon(b, body, reply, reply_len);
    }
    if (!strcmp(path, "/statistics")) {
        if (!strcmp(method, "GET"))
            return get_statistics(b, reply, reply_len);
        return fault(reply, reply_len, "/balloon/statistics takes GET; the polling interval is "
                                       "the stats_interval_s setting");
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "no such resource: /balloon%.64s (there are /balloon and "
             "/balloon/statistics)", path);
    answer(json_pack("{s:s}", "fault_message", msg), reply, reply_len, 404);
    return 404;
}
