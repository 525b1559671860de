/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"

#include <time.h>

static struct timespec process_start;

/* Runs before main(): "since plugvm started" for restore timings. */
__attribute__((constructor)) static void note_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &process_start);
}

double pv_ms_since_start(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - process_start.tv_sec) * 1e3 +
           (double)(now.tv_nsec - process_start.tv_nsec) / 1e6;
}
