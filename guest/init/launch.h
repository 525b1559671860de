/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch record: what `plugvm run --image` hands plugvm-init over vsock
 * when a (restored) VM is to run the image's process (issue 15). Written by
 * the host (launch_encode), read by init (launch_decode); plain C, built
 * into both. Little-endian:
 *
 *   header  magic "PVML" (4 bytes), version u16 = 1, flags u16
 *           (LAUNCH_F_TTY), length u32 (bytes of fields that follow)
 *   fields  tag u16, len u32, len bytes; in any order:
 *     LAUNCH_ARG       one argv string (repeated, in order; at least one)
 *     LAUNCH_ENV       one "NAME=VALUE" (repeated)
 *     LAUNCH_CWD       absolute path (once, required)
 *     LAUNCH_USER      the User spec, "" for root (once, required)
 *     LAUNCH_HOSTNAME  (once, at most 64 bytes)
 *     LAUNCH_WINSIZE   rows u16, cols u16 (with LAUNCH_F_TTY)
 *     LAUNCH_ENTROPY   1 to 256 random bytes for the guest's pool
 *     LAUNCH_CLOCK     u64: the host's CLOCK_REALTIME in ns when sent
 *     LAUNCH_VOLUME    "ro:PATH" or "rw:PATH", PATH absolute: the next disk
 *                      after the root (/dev/vdb, then vdc, ...) mounted there;
 *                      "ro:fs:PATH" or "rw:fs:PATH": the virtio-fs share
 *                      tagged "plugvm-volN" (N: this volume's index among
 *                      all of them, from 0) mounted there
 *                      (repeated, at most LAUNCH_VOLUMES_MAX)
 *   Strings carry no NUL. Unknown tags are skipped (a newer host may add
 *   fields an older init ignores); a known tag with a wrong length, a
 *   field past the end, a repeated once-only field or too many strings is
 *   refused with a message.
 */
#ifndef PLUGVM_GUEST_INIT_LAUNCH_H
#define PLUGVM_GUEST_INIT_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAUNCH_MAGIC "PVML"
#define LAUNCH_VERSION 1
#define LAUNCH_F_TTY 1u
#define LAUNCH_HEADER 12
#define LAUNCH_MAX (1u << 20)    /* bytes of fields at most */
#define LAUNCH_STRINGS_MAX 4096  /* argv and env entries, each */
#define LAUNCH_ENTROPY_MAX 256
/* A volume's guest path: "ro:/p" and "ro:fs:/p" both give "/p". */
#define LAUNCH_VOLUME_PATH(spec) ((spec) + ((spec)[3] == 'f' ? 6 : 3))
#define LAUNCH_VOLUME_IS_FS(spec) ((spec)[3] == 'f')
#define LAUNCH_VOLUMES_MAX 16     /* the VM's other disks: devices left after root and vsock */

enum launch_tag {
    LAUNCH_ARG = 1,
    LAUNCH_ENV = 2,
    LAUNCH_CWD = 3,
    LAUNCH_USER = 4,
    LAUNCH_HOSTNAME = 5,
    LAUNCH_WINSIZE = 6,
    LAUNCH_ENTROPY = 7,
    LAUNCH_CLOCK = 8,
    LAUNCH_VOLUME = 9,
};

struct launch {
    uint16_t flags;
    char **argv;                 /* argc, then NULL */
    size_t argc;
    char **env;                  /* nenv, then NULL */
    size_t nenv;
    char **volumes;              /* nvolumes "ro:PATH"/"rw:PATH", then NULL */
    size_t nvolumes;
    char *cwd, *user, *hostname; /* hostname "" when not given */
    uint16_t rows, cols;
    uint8_t entropy[LAUNCH_ENTROPY_MAX];
    size_t entropy_len;
    uint64_t clock_ns;           /* 0 when not given */
    void *arena;                 /* where all of the above points; launch_free frees it */
};

/* The record for l into a heap buffer of *len bytes (free() it): 0, or -1
 * (no memory, or l outside the limits above). */
int launch_encode(const struct launch *l, uint8_t **buf, size_t *len);

/* Bytes needed in all before buf (which holds n >= LAUNCH_HEADER bytes) is
 * whole: LAUNCH_HEADER + its length field; 0 for a header that is not a
 * launch record of this version or is over LAUNCH_MAX. */
size_t launch_size(const uint8_t *buf, size_t n);

/* Decodes the whole record buf[len] into *out: 0, or -1 with err. */
int launch_decode(const uint8_t *buf, size_t len, struct launch *out, char *err, size_t errlen);
void launch_free(struct launch *l);

#endif
