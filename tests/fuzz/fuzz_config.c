/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as a VM config file. Refused with a message
 * or accepted; never a crash, a leak or an unterminated message.
 *
 * Parsed from memory (config_load_string): writing each input to a file
 * left a plugvm-fuzz-config-PID.cfg per process in /tmp. Nothing is kept
 * from one input to the next, so a malloc without its free is a leak. */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRACK_LEXER_LEAKS 1
#endif
#endif

#ifdef TRACK_LEXER_LEAKS
#include <dlfcn.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/asan_interface.h>

/* libconfig 1.5's parser drops the lexer's string or name token it was
 * looking at when it meets a syntax error (no bison %destructor), so about
 * one input in ten leaks a few bytes (lsan.supp lets it pass). libFuzzer
 * counts mallocs against frees per input, and after 1000 inputs with more
 * mallocs, each time without a leak LSan would report, it turned leak
 * detection off for the rest of the run ("accumulates allocated memory in
 * a global state"), after ~22k executions: plugvm's own leaks went
 * unchecked from then on. So the allocations made while one input is
 * parsed are tracked, and those still live after config_free that the
 * lexer allocated (libconfig_yylex, or its string buffer, strbuf_append:
 * libconfig has no frame pointers, so its stacks end there) are freed
 * here; any other leftover is left for LSan to report. The table is empty
 * between inputs. */
#define TRACK_MAX 16384
static struct {
    bool on;
    size_t n;
    const void *live[TRACK_MAX];
} track;

static void on_malloc(const volatile void *p, size_t size)
{
    (void)size;
    if (track.on && track.n < TRACK_MAX)
        track.live[track.n++] = (const void *)p;
}

static void on_free(const volatile void *p)
{
    if (!track.on)
        return;
    for (size_t i = track.n; i-- > 0;)
        if (track.live[i] == (const void *)p) {
            track.live[i] = track.live[--track.n];
            return;
        }
}

static bool from_lexer(const void *p)
{
    void *trace[64];
    int tid;
    size_t n = __asan_get_alloc_stack((void *)p, trace, 64, &tid);
    for (size_t i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr(trace[i], &info) && info.dli_sname &&
            (!strcmp(info.dli_sname, "libconfig_yylex") ||
             !strcmp(info.dli_sname, "strbuf_append")))
            return true;
    }
    return false;
}

static void reclaim_lexer_leaks(void)
{
    track.on = false;
    for (size_t i = 0; i < track.n; i++)
        if (from_lexer(track.live[i]))
            free((void *)track.live[i]);
    track.n = 0;
}
#endif

/* The seeds' kernel (corpus/config/full.cfg names /tmp/vmlinuz; without
 * it no input gets past vm.kernel to the settings after it). Made only
 * when absent and removed at exit by the process that made it, so none
 * is left behind, nor one yanked from another run. */
#define KERNEL "/tmp/vmlinuz"
static void remove_kernel(void)
{
    unlink(KERNEL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int fd = open(KERNEL, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        atexit(remove_kernel);
    }
#ifdef TRACK_LEXER_LEAKS
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct vm_config c;
    char err[2048];
    err[sizeof(err) - 1] = 'x';
#ifdef TRACK_LEXER_LEAKS
    track.n = 0;
    track.on = true;
#endif
    /* Relative names (kernel, initrd, @include) are looked up beside the
     * input as if it lay in /tmp, as the seeds expect. */
    int rc = config_load_string(&c, "fuzz.cfg", text, "/tmp", err, sizeof(err));
    if (rc == 0)
        config_free(&c);
#ifdef TRACK_LEXER_LEAKS
    reclaim_lexer_leaks();
#endif
    free(text);
    if (rc != 0 && !memchr(err, 0, sizeof(err)))
        abort();
    return 0;
}
