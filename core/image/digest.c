/* SPDX-License-Identifier: Apache-2.0 */
#include "image/digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

size_t image_digest_len(enum image_digest_alg alg)
{
    return alg == IMAGE_DIGEST_SHA512 ? 64 : 32;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void to_text(struct image_digest *d)
{
    static const char hex[] = "0123456789abcdef";
    const char *name = d->alg == IMAGE_DIGEST_SHA512 ? "sha512:" : "sha256:";
    size_t n = image_digest_len(d->alg);
    memcpy(d->text, name, 7);
    for (size_t i = 0; i < n; i++) {
        d->text[7 + 2 * i] = hex[d->bytes[i] >> 4];
        d->text[8 + 2 * i] = hex[d->bytes[i] & 15];
    }
    d->text[7 + 2 * n] = '\0';
}

int image_digest_parse(const char *s, struct image_digest *out)
{
    struct image_digest d = {0};
    if (!strncmp(s, "sha256:", 7))
        d.alg = IMAGE_DIGEST_SHA256;
    else if (!strncmp(s, "sha512:", 7))
        d.alg = IMAGE_DIGEST_SHA512;
    else
        return -EINVAL;
    size_t n = image_digest_len(d.alg);
    const char *h = s + 7;
    if (strlen(h) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        d.bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    to_text(&d);
    *out = d;
    return 0;
}

bool image_digest_equal(const struct image_digest *a, const struct image_digest *b)
{
    return a->alg == b->alg && !memcmp(a->bytes, b->bytes, image_digest_len(a->alg));
}

int image_hasher_init(struct image_hasher *h, enum image_digest_alg alg)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, alg == IMAGE_DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    h->alg = alg;
    h->ctx = ctx;
    return 0;
}

void image_hasher_update(struct image_hasher *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void image_hasher_final(struct image_hasher *h, struct image_digest *out)
{
    unsigned n = 0;
    memset(out, 0, sizeof(*out));
    out->alg = h->alg;
    EVP_DigestFinal_ex(h->ctx, out->bytes, &n);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    to_text(out);
}

void image_hasher_abort(struct image_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}
