/* SPDX-License-Identifier: MIT */
/*
 * One blob's stored form: seal(flag || body), body zstd-compressed unless
 * that does not save at least 1/32. blob_encode makes flag || body and the
 * pack it goes into seals it with the pack's key (pack.c). Each thread owns a
 * blob_ctx (zstd contexts and scratch), so encoding needs no locks.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "repo_int.h"

struct blob_ctx {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	int level;
	uint8_t *plain; /* flag + body */
	size_t plain_cap;
	size_t last_pn; /* length of plain after the last successful decode */
};

struct blob_ctx *blob_ctx_new(int level)
{
	struct blob_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	c->level = level;
	if (!c->cctx || !c->dctx) {
		blob_ctx_free(c);
		return NULL;
	}
	return c;
}

void blob_ctx_free(struct blob_ctx *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c->plain);
	free(c);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	uint8_t *p = realloc(*buf, need);
	if (!p)
		return -1;
	*buf = p;
	*cap = need;
	return 0;
}

enum roost_err blob_encode(struct blob_ctx *c, const uint8_t *p, size_t n, const uint8_t **out,
                           size_t *outn)
{
	size_t bound = ZSTD_compressBound(n) + 1;
	if (grow(&c->plain, &c->plain_cap, bound > n + 1 ? bound : n + 1))
		return ROOST_ENOMEM;
	size_t body = 0;
	int compressed = 0;
	if (n >= 64) {
		size_t z = ZSTD_compressCCtx(c->cctx, c->plain + 1, bound - 1, p, n, c->level);
		if (!ZSTD_isError(z) && z < n - n / 32) {
			body = z;
			compressed = 1;
		}
	}
	if (!compressed) {
		memcpy(c->plain + 1, p, n);
		body = n;
	}
	c->plain[0] = (uint8_t)compressed;
	c->last_pn = 0;
	*out = c->plain;
	*outn = body + 1;
	return ROOST_OK;
}

enum roost_err blob_unpack(struct blob_ctx *c, const uint8_t *p, size_t pn, uint8_t *out,
                           size_t raw_len)
{
	if (pn < 1)
		return ROOST_ECORRUPT;
	if (p[0] == 0) {
		if (pn - 1 != raw_len)
			return ROOST_ECORRUPT;
		memcpy(out, p + 1, raw_len);
	} else if (p[0] == 1) {
		unsigned long long fs = ZSTD_getFrameContentSize(p + 1, pn - 1);
		if (fs != raw_len)
			return ROOST_ECORRUPT;
		size_t d = ZSTD_decompressDCtx(c->dctx, out, raw_len, p + 1, pn - 1);
		if (ZSTD_isError(d) || d != raw_len)
			return ROOST_ECORRUPT;
	} else {
		return ROOST_ECORRUPT;
	}
	return ROOST_OK;
}

enum roost_err blob_decode(struct blob_ctx *c, const struct repo_keys *k, const uint8_t key[32],
                           const uint8_t *st, size_t stn, uint8_t *out, size_t raw_len,
                           const uint8_t id[ID_LEN], uint32_t idk)
{
	c->last_pn = 0;
	if (stn < SEAL_OVERHEAD + 1)
		return ROOST_ECORRUPT;
	size_t pn = stn - SEAL_OVERHEAD;
	if (grow(&c->plain, &c->plain_cap, pn))
		return ROOST_ENOMEM;
	if (unseal(key, st, stn, c->plain))
		return ROOST_ECRYPTO;
	enum roost_err err = blob_unpack(c, c->plain, pn, out, raw_len);
	if (err)
		return err;
	uint8_t got[ID_LEN];
	if (blob_id_k(k, idk, out, raw_len, got) || sodium_memcmp(got, id, ID_LEN) != 0)
		return ROOST_ECORRUPT;
	c->last_pn = pn;
	return ROOST_OK;
}

void blob_forget_last(struct blob_ctx *c)
{
	c->last_pn = 0;
}

void blob_last_plain(const struct blob_ctx *c, const uint8_t **p, size_t *n)
{
	*p = c->last_pn ? c->plain : NULL;
	*n = c->last_pn;
}
