/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests as the OCI image spec writes them (image-spec
 * descriptor.md, "Digests"): "algorithm:encoded", with sha256 (64
 * lowercase hex digits) and sha512 (128) the registered algorithms.
 * Hashing goes through OpenSSL's libcrypto (EVP), streamed: a blob is
 * checked while it is read, never held whole.
 */
#ifndef PLUGVM_IMAGE_DIGEST_H
#define PLUGVM_IMAGE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum image_digest_alg {
    IMAGE_DIGEST_SHA256,
    IMAGE_DIGEST_SHA512,
};

/* "sha512:" and 128 hex digits, and the NUL. */
#define IMAGE_DIGEST_TEXT_MAX (7 + 128 + 1)

struct image_digest {
    enum image_digest_alg alg;
    uint8_t bytes[64];                /* 32 used for sha256 */
    char text[IMAGE_DIGEST_TEXT_MAX]; /* canonical "alg:hex", lowercase */
};

/* Parses `s` (NUL-terminated). 0, or -EINVAL for anything but
 * "sha256:" + 64 or "sha512:" + 128 lowercase hex digits (the spec allows
 * other algorithms; none can be checked, so none is accepted, and
 * uppercase hex is not the canonical form the spec requires). */
int image_digest_parse(const char *s, struct image_digest *out);

bool image_digest_equal(const struct image_digest *a, const struct image_digest *b);

/* Bytes of the digest: 32 or 64. */
size_t image_digest_len(enum image_digest_alg alg);

/* A streaming hash. Not thread-safe; one per stream. */
struct image_hasher {
    enum image_digest_alg alg;
    void *ctx; /* EVP_MD_CTX */
};

/* 0, or -ENOMEM. */
int image_hasher_init(struct image_hasher *h, enum image_digest_alg alg);
void image_hasher_update(struct image_hasher *h, const void *data, size_t len);
/* Ends the stream: *out holds its digest; h is freed (init again to reuse). */
void image_hasher_final(struct image_hasher *h, struct image_digest *out);
/* Frees h without a result (an error path). */
void image_hasher_abort(struct image_hasher *h);

#endif
