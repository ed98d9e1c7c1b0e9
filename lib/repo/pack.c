/* SPDX-License-Identifier: MIT */
/*
 * Pack files: sealed blobs back to back, then a sealed trailer listing them
 * and the trailer's length. The pack is streamed to the backend as it
 * grows (bounded memory) and named by the hash of its trailer at the end.
 * Format v2: each pack has an ephemeral X25519 key pair; its blobs are
 * sealed with the key it shares with the repository's data public key, and
 * the trailer (sealed with the meta key, which writers hold) carries the
 * ephemeral public key. Format v1: everything under keys.enc.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "repo_int.h"


struct pack_writer {
	struct roost_backend *be;
	const struct repo_keys *k;
	int v2;
	uint8_t key[32]; /* seals the blobs */
	uint8_t epk[32]; /* v2: the ephemeral public key; v1: zero */
	struct roost_bwriter *w;
	uint64_t size;
	struct blob_loc *blobs;
	uint32_t n, cap;
	uint8_t *buf; /* write buffer: many small blobs, few syscalls */
	size_t buffered;
};

#define PW_BUF (1u << 20)

enum roost_err pack_writer_new(struct roost_backend *b, const struct repo_keys *k, int version,
                               struct pack_writer **out, struct roost_errbuf *eb)
{
	*out = NULL;
	struct pack_writer *pw = calloc(1, sizeof(*pw));
	if (!pw)
		return ROOST_ENOMEM;
	pw->k = k;
	pw->v2 = version >= 2;
	if (pw->v2 && kx_new_sealing_key(k->data_pk, pw->epk, pw->key)) {
		free(pw);
		return roost_errf(eb, ROOST_ECRYPTO, "the repository's data public key is invalid");
	}
	if (!pw->v2)
		memcpy(pw->key, k->enc, 32);
	enum roost_err err = b->ops->writer_open(b, &pw->w, eb);
	if (err) {
		free(pw);
		return err;
	}
	pw->be = b;
	pw->buf = malloc(PW_BUF);
	if (!pw->buf) {
		b->ops->writer_abort(pw->w);
		free(pw);
		return ROOST_ENOMEM;
	}
	*out = pw;
	return ROOST_OK;
}

static enum roost_err pw_flush(struct pack_writer *pw, struct roost_errbuf *eb)
{
	enum roost_err err = ROOST_OK;
	if (pw->buffered)
		err = pw->be->ops->writer_write(pw->w, pw->buf, pw->buffered, eb);
	pw->buffered = 0;
	return err;
}

static enum roost_err pw_write(struct pack_writer *pw, const uint8_t *p, size_t n,
                               struct roost_errbuf *eb)
{
	pw->size += n;
	if (pw->buffered + n > PW_BUF) {
		enum roost_err err = pw_flush(pw, eb);
		if (err)
			return err;
	}
	if (n >= PW_BUF)
		return pw->be->ops->writer_write(pw->w, p, n, eb);
	memcpy(pw->buf + pw->buffered, p, n);
	pw->buffered += n;
	return ROOST_OK;
}

enum roost_err pack_writer_add(struct pack_writer *pw, uint8_t type, uint32_t idk,
                               const uint8_t id[ID_LEN],
                               const uint8_t *plain, size_t n, uint32_t raw_len,
                               struct roost_errbuf *eb)
{
	if (pw->n == pw->cap) {
		uint32_t nc = pw->cap ? pw->cap * 2 : 64;
		struct blob_loc *nb = realloc(pw->blobs, nc * sizeof(*nb));
		if (!nb)
			return ROOST_ENOMEM;
		pw->blobs = nb;
		pw->cap = nc;
	}
	struct blob_loc *b = &pw->blobs[pw->n];
	memset(b, 0, sizeof(*b));
	b->type = type;
	b->idk = idk;
	memcpy(b->id, id, ID_LEN);
	b->offset = (uint32_t)pw->size;
	b->length = (uint32_t)(n + SEAL_OVERHEAD);
	b->raw_len = raw_len;
	enum roost_err err = ROOST_OK;
	size_t sn = n + SEAL_OVERHEAD;
	if (pw->buffered + sn > PW_BUF && (err = pw_flush(pw, eb)))
		return err;
	if (sn <= PW_BUF) { /* sealed straight into the write buffer */
		seal(pw->key, plain, n, pw->buf + pw->buffered);
		pw->buffered += sn;
		pw->size += sn;
	} else {
		uint8_t *t = malloc(sn);
		if (!t)
			return ROOST_ENOMEM;
		seal(pw->key, plain, n, t);
		err = pw_write(pw, t, sn, eb);
		free(t);
	}
	if (!err)
		pw->n++;
	return err;
}

uint64_t pack_writer_size(const struct pack_writer *pw)
{
	return pw->size;
}

uint32_t pack_writer_count(const struct pack_writer *pw)
{
	return pw->n;
}

void pack_writer_abort(struct pack_writer *pw)
{
	if (!pw)
		return;
	pw->be->ops->writer_abort(pw->w);
	sodium_memzero(pw->key, sizeof(pw->key));
	free(pw->blobs);
	free(pw->buf);
	free(pw);
}

enum roost_err pack_writer_finish(struct pack_writer *pw, uint8_t pack_id[ID_LEN],
                                  uint8_t epk[32], uint64_t *size, struct blob_loc **blobs,
                                  uint32_t *n, struct roost_errbuf *eb)
{
	*blobs = NULL;
	*n = 0;
	size_t hl = pw->v2 ? 8 + 32 : 8;
	int wide = pw->v2 && blob_entries_wide(pw->blobs, pw->n);
	size_t tlen = hl + (size_t)pw->n * (wide ? ENTRY3_LEN : ENTRY_LEN);
	uint8_t *t = malloc(tlen + SEAL_OVERHEAD + 4);
	uint8_t *sealed = t ? malloc(tlen + SEAL_OVERHEAD + 4) : NULL;
	if (!t || !sealed) {
		free(t);
		pack_writer_abort(pw);
		return ROOST_ENOMEM;
	}
	memcpy(t, wide ? "RPK3" : pw->v2 ? "RPK2" : "RPK1", 4);
	le_put(t + 4, pw->n, 4);
	if (pw->v2)
		memcpy(t + 8, pw->epk, 32);
	blob_entries_encode(pw->blobs, pw->n, t + hl, wide);
	seal(pw->v2 ? pw->k->meta : pw->k->enc, t, tlen, sealed);
	memcpy(epk, pw->epk, 32);
	sodium_memzero(pw->key, sizeof(pw->key));
	uint32_t sl = (uint32_t)(tlen + SEAL_OVERHEAD);
	le_put(sealed + sl, sl, 4);
	enum roost_err err = pw_write(pw, sealed, sl + 4, eb);
	if (!err)
		err = pw_flush(pw, eb);
	uint8_t name_hash[ID_LEN];
	hash_plain(sealed, sl, name_hash);
	free(t);
	free(sealed);
	if (err) {
		pack_writer_abort(pw);
		return err;
	}
	/* named by the hash of its sealed trailer: it lists every blob's id,
	 * offset and length under a fresh nonce, so names are unique and a
	 * pack's name vouches for its table of contents */
	memcpy(pack_id, name_hash, ID_LEN);
	char name[6 + HEX_LEN + 1];
	memcpy(name, "packs/", 6);
	hex_encode(pack_id, ID_LEN, name + 6);
	err = pw->be->ops->writer_commit(pw->w, name, eb);
	if (err == ROOST_EEXIST) /* the same bytes are already there */
		err = ROOST_OK;
	*size = pw->size;
	if (!err) {
		*blobs = pw->blobs;
		*n = pw->n;
	} else {
		free(pw->blobs);
	}
	free(pw->buf);
	free(pw);
	return err;
}

enum roost_err pack_trailer_decode(const uint8_t *p, size_t n, uint64_t limit, uint8_t epk[32],
                                   struct blob_loc **blobs, uint32_t *nb,
                                   struct roost_errbuf *eb)
{
	*blobs = NULL;
	*nb = 0;
	memset(epk, 0, 32);
	int wide = n >= 8 && memcmp(p, "RPK3", 4) == 0;
	int v2 = wide || (n >= 8 && memcmp(p, "RPK2", 4) == 0);
	size_t hl = v2 ? 8 + 32 : 8, el = wide ? ENTRY3_LEN : ENTRY_LEN;
	if (n < hl || (!v2 && memcmp(p, "RPK1", 4) != 0))
		return roost_errf(eb, ROOST_ECORRUPT, "pack trailer has an unknown format");
	uint32_t cnt = (uint32_t)le_get(p + 4, 4);
	if ((n - hl) / el != cnt || (n - hl) % el)
		return roost_errf(eb, ROOST_ECORRUPT, "pack trailer length does not match its count");
	if (v2) {
		memcpy(epk, p + 8, 32);
		if (epk_is_v1(epk))
			return roost_errf(eb, ROOST_ECORRUPT, "pack trailer has no key");
	}
	struct blob_loc *b = malloc((cnt ? cnt : 1) * sizeof(*b));
	if (!b)
		return ROOST_ENOMEM;
	enum roost_err err = blob_entries_decode(p + hl, cnt, limit, b, wide, eb);
	if (err) {
		free(b);
		return err;
	}
	*blobs = b;
	*nb = cnt;
	return ROOST_OK;
}

enum roost_err pack_read_trailer(struct roost_backend *b, const struct repo_keys *k,
                                 const char *name, uint64_t size, uint8_t epk[32],
                                 struct blob_loc **blobs, uint32_t *nb, struct roost_errbuf *eb)
{
	*blobs = NULL;
	*nb = 0;
	uint8_t lb[4];
	if (size < 4 + SEAL_OVERHEAD + 8)
		return roost_errf(eb, ROOST_ECORRUPT, "%s: too short to be a pack", name);
	enum roost_err err = b->ops->get_range(b, name, size - 4, 4, lb, eb);
	if (err)
		return err;
	uint32_t tl = (uint32_t)le_get(lb, 4);
	if (tl < SEAL_OVERHEAD + 8 || tl > size - 4 || tl > (64u << 20))
		return roost_errf(eb, ROOST_ECORRUPT, "%s: trailer length %u is invalid", name, tl);
	uint8_t *sealed = malloc(tl), *plain = malloc(tl);
	if (!sealed || !plain) {
		free(sealed);
		free(plain);
		return ROOST_ENOMEM;
	}
	err = b->ops->get_range(b, name, size - 4 - tl, tl, sealed, eb);
	uint8_t h[ID_LEN], want[ID_LEN];
	if (!err) {
		hash_plain(sealed, tl, h);
		if (hex_decode(name + 6, want, ID_LEN) || sodium_memcmp(h, want, ID_LEN) != 0)
			err = roost_errf(eb, ROOST_ECORRUPT,
			                 "%s: trailer does not match the pack's name (damaged)", name);
	}
	/* v2 trailers are under the meta key, v1 ones under enc (full keys only) */
	if (!err && unseal(k->meta, sealed, tl, plain) && (!k->has_enc || unseal(k->enc, sealed, tl, plain)))
		err = roost_errf(eb, ROOST_ECORRUPT, "%s: trailer fails authentication (damaged%s)",
		                 name, k->has_enc ? "" : ", or a v1 pack this key can not read");
	uint8_t dummy[32];
	if (!err) {
		err = pack_trailer_decode(plain, tl - SEAL_OVERHEAD, size - 4 - tl, epk ? epk : dummy,
		                          blobs, nb, eb);
		if (err == ROOST_ECORRUPT) {
			char msg[sizeof(eb->msg)];
			snprintf(msg, sizeof(msg), "%s", eb ? eb->msg : "");
			roost_errf(eb, ROOST_ECORRUPT, "%s: %s", name, msg);
		}
	}
	free(sealed);
	free(plain);
	return err;
}
