/* SPDX-License-Identifier: MIT */
/*
 * Repository life cycle: init (keys, config), open (password -> master
 * secret or put-only material, keys.c), sealed objects (v1: under enc; v2:
 * config, index and marks under the meta key, snapshots sealed to the data
 * public key), the index (all index objects plus the trailers of packs no
 * index names), and reading blobs and trees.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo_int.h"
#include "roost/jsonutil.h"
#include "roost/timeutil.h"

#define DEF_LEVEL 2
#define DEF_MIN (256u << 10)
#define DEF_AVG (1u << 20)
#define DEF_MAX (4u << 20)
#define DEF_PACK (16u << 20)
#define DEF_OPS 3
#define DEF_MEM (32u << 20)

enum roost_err repo_put_sealed(struct roost_repo *r, const char *type, const uint8_t *pt,
                               size_t n, char id_hex[HEX_LEN + 1], struct roost_errbuf *eb)
{
	uint8_t *ct;
	size_t cn;
	enum roost_err err;
	if (r->version >= 2 && !strcmp(type, "snapshots"))
		err = pkseal_alloc(r->keys.data_pk, pt, n, &ct, &cn);
	else
		err = seal_alloc(r->version >= 2 ? r->keys.meta : r->keys.enc, pt, n, &ct, &cn);
	if (err)
		return err;
	uint8_t h[ID_LEN];
	hash_plain(ct, cn, h);
	char name[32 + HEX_LEN];
	int k = snprintf(name, sizeof(name), "%s/", type);
	hex_encode(h, ID_LEN, name + k);
	if (id_hex)
		memcpy(id_hex, name + k, HEX_LEN + 1);
	err = r->be->ops->put(r->be, name, ct, cn, eb);
	free(ct);
	return err;
}

enum roost_err repo_get_sealed(struct roost_repo *r, const char *name, uint8_t **out,
                               size_t *n, struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	uint8_t *buf;
	size_t len;
	int snap = !strncmp(name, "snapshots/", 10);
	if (snap && !r->keys.has_secret)
		return put_only_refusal(eb, "read snapshots");
	enum roost_err err = r->be->ops->get(r->be, name, &buf, &len, eb);
	if (err)
		return err;
	/* content-named objects: the name is the hash of the bytes */
	const char *slash = strchr(name, '/');
	if (slash && strncmp(name, "keys/", 5) != 0) {
		uint8_t h[ID_LEN], want[ID_LEN];
		hash_plain(buf, len, h);
		if (hex_decode(slash + 1, want, ID_LEN) || sodium_memcmp(h, want, ID_LEN) != 0) {
			free(buf);
			return roost_errf(eb, ROOST_ECORRUPT,
			                  "%s: content does not match its name (damaged)", name);
		}
	}
	/* v1 objects are under enc; v2 snapshots sealed to the data key, other
	 * v2 objects under meta. An upgraded repository holds both. */
	const uint8_t *first = r->version >= 2 ? r->keys.meta : r->keys.enc;
	const uint8_t *second = r->version >= 2 ? r->keys.enc : r->keys.meta;
	if (snap) {
		err = r->keys.has_enc ? unseal_alloc(r->keys.enc, buf, len, out, n) : ROOST_ECRYPTO;
		if (err == ROOST_ECRYPTO)
			err = pkseal_open(&r->keys, buf, len, out, n);
	} else {
		err = unseal_alloc(first, buf, len, out, n);
		if (err == ROOST_ECRYPTO && (r->keys.has_enc || second != r->keys.enc))
			err = unseal_alloc(second, buf, len, out, n);
	}
	free(buf);
	if (err == ROOST_ECRYPTO)
		return roost_errf(eb, ROOST_ECORRUPT, "%s: fails authentication (damaged)", name);
	return err;
}

enum roost_err roost_repo_init(struct roost_backend *be, const char *password,
                               const struct roost_repo_params *pp, struct roost_errbuf *eb)
{
	if (!password || !*password)
		return roost_errf(eb, ROOST_EINVAL, "an empty password is not allowed");
	uint64_t sz;
	if (be->ops->stat(be, "config", &sz, NULL) == ROOST_OK)
		return roost_errf(eb, ROOST_EEXIST, "%s is already a roost repository",
		                  be->location);
	struct roost_repo_params p = pp ? *pp : (struct roost_repo_params){0};
	if (!p.zstd_level)
		p.zstd_level = DEF_LEVEL;
	if (!p.chunk_min)
		p.chunk_min = DEF_MIN;
	if (!p.chunk_avg)
		p.chunk_avg = DEF_AVG;
	if (!p.chunk_max)
		p.chunk_max = DEF_MAX;
	if (!p.pack_size)
		p.pack_size = DEF_PACK;
	if (!p.kdf_ops)
		p.kdf_ops = DEF_OPS;
	if (!p.kdf_mem)
		p.kdf_mem = DEF_MEM;
	if (p.chunk_min < 64 || p.chunk_min >= p.chunk_avg || p.chunk_avg >= p.chunk_max ||
	    p.chunk_max > (16u << 20) || p.zstd_level < -7 || p.zstd_level > 19)
		return roost_errf(eb, ROOST_EINVAL, "invalid repository parameters");

	struct roost_repo r = {.be = be, .version = 2};
	uint8_t master[32];
	randombytes_buf(master, sizeof(master));
	keys_derive(master, &r.keys);
	enum roost_err err = keyfile_add(be, password, master, 32, p.kdf_ops, p.kdf_mem, eb);
	sodium_memzero(master, sizeof(master));
	if (err)
		return err;
	uint8_t rid[32];
	randombytes_buf(rid, sizeof(rid));
	hex_encode(rid, 32, r.id_hex);
	r.chunk_min = p.chunk_min;
	r.chunk_avg = p.chunk_avg;
	r.chunk_max = p.chunk_max;
	r.zstd_level = p.zstd_level;
	r.pack_size = p.pack_size;
	err = repo_write_config(&r, 0, eb);
	sodium_memzero(&r.keys, sizeof(r.keys));
	return err;
}

struct key_list {
	char **names;
	size_t n;
};

static int collect_name(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	struct key_list *kl = ctx;
	char **nn = realloc(kl->names, (kl->n + 1) * sizeof(*nn));
	if (!nn)
		return 1;
	kl->names = nn;
	if ((kl->names[kl->n] = strdup(name)))
		kl->n++;
	return 0;
}

/* A repository with keys k (moved in): config read, index empty. */
static enum roost_err open_with(struct roost_backend *be, struct repo_keys *k,
                                const uint8_t *master, struct roost_repo **out,
                                struct roost_errbuf *eb)
{
	struct roost_repo *r = calloc(1, sizeof(*r));
	if (!r) {
		sodium_memzero(k, sizeof(*k));
		return ROOST_ENOMEM;
	}
	r->be = be;
	r->keys = *k;
	sodium_memzero(k, sizeof(*k));
	if (master) {
		memcpy(r->master, master, 32);
		r->master_known = 1;
	}
	enum roost_err err = repo_load_config(r, eb);
	if (!err && !(r->index = index_new()))
		err = ROOST_ENOMEM;
	if (err) {
		roost_repo_close(r);
		return err;
	}
	*out = r;
	return ROOST_OK;
}

enum roost_err roost_repo_open(struct roost_backend *be, const char *password,
                               struct roost_repo **out, struct roost_errbuf *eb)
{
	*out = NULL;
	if (sodium_init() < 0)
		return roost_errf(eb, ROOST_EIO, "libsodium failed to initialize");
	struct key_list kl = {0};
	enum roost_err err = be->ops->list(be, "keys", collect_name, &kl, eb);
	uint8_t payload[PUT_BUNDLE_LEN];
	size_t plen = 0;
	int opened = 0;
	for (size_t i = 0; !err && i < kl.n && !opened; i++) {
		uint8_t *buf;
		size_t len;
		if (be->ops->get(be, kl.names[i], &buf, &len, NULL))
			continue;
		opened = len < 65536 && keyfile_unwrap(password, buf, len, payload, &plen) == 0;
		free(buf);
	}
	for (size_t i = 0; i < kl.n; i++)
		free(kl.names[i]);
	free(kl.names);
	if (err)
		return err;
	if (!opened)
		return roost_errf(eb, ROOST_EAUTH,
		                  "wrong password, or no key of the repository at %s accepts it",
		                  be->location);
	struct repo_keys k;
	if (plen == 32)
		keys_derive(payload, &k);
	else
		keys_from_bundle(payload, &k);
	err = open_with(be, &k, plen == 32 ? payload : NULL, out, eb);
	sodium_memzero(payload, sizeof(payload));
	return err;
}

enum roost_err roost_repo_open_put(struct roost_backend *be, const uint8_t *material, size_t n,
                                   struct roost_repo **out, struct roost_errbuf *eb)
{
	*out = NULL;
	if (sodium_init() < 0)
		return roost_errf(eb, ROOST_EIO, "libsodium failed to initialize");
	if (n != PUT_BUNDLE_LEN && n != PUT_HOST_LEN)
		return roost_errf(eb, ROOST_EINVAL, "put-only key material has %zu bytes, not %d", n,
		                  PUT_BUNDLE_LEN);
	struct repo_keys k;
	keys_from_bundle(material, &k);
	for (size_t i = PUT_BUNDLE_LEN; i < n; i++) /* host material: its key number */
		k.write_idk |= (uint32_t)material[i] << (8 * (i - PUT_BUNDLE_LEN));
	if (n == PUT_HOST_LEN && !k.write_idk)
		return roost_errf(eb, ROOST_EINVAL, "host key material names no host");
	return open_with(be, &k, NULL, out, eb);
}

void roost_repo_set_served(struct roost_repo *r, int on)
{
	r->served = on;
}


enum roost_err roost_repo_open_same(struct roost_backend *be, const struct roost_repo *from,
                                    struct roost_repo **out, struct roost_errbuf *eb)
{
	(void)eb;
	*out = NULL;
	struct roost_repo *r = calloc(1, sizeof(*r));
	if (!r)
		return ROOST_ENOMEM;
	*r = *from;
	r->be = be;
	r->index_loaded = 0;
	r->served = 0;
	r->nserve_bc = 0; /* from's own pool */
	if (!(r->index = index_new())) {
		sodium_memzero(&r->keys, sizeof(r->keys));
		free(r);
		return ROOST_ENOMEM;
	}
	*out = r;
	return ROOST_OK;
}

void roost_repo_close(struct roost_repo *r)
{
	if (!r)
		return;
	index_free(r->index);
	repo_pack_keys_free(r);
	for (int i = 0; i < r->nserve_bc; i++)
		blob_ctx_free(r->serve_bc[i]);
	sodium_memzero(&r->keys, sizeof(r->keys));
	sodium_memzero(r->master, sizeof(r->master));
	free(r);
}

const char *roost_repo_id(const struct roost_repo *r)
{
	return r->id_hex;
}

/* ---- index loading ---- */

struct load_ctx {
	struct roost_repo *r;
	char **names;
	uint64_t *sizes;
	size_t n, cap;
};

static int collect_sized(void *ctx, const char *name, uint64_t size)
{
	struct load_ctx *lc = ctx;
	if (lc->n == lc->cap) {
		size_t nc = lc->cap ? lc->cap * 2 : 64;
		char **nn = realloc(lc->names, nc * sizeof(*nn));
		if (!nn)
			return 1;
		lc->names = nn;
		uint64_t *ns = realloc(lc->sizes, nc * sizeof(*ns));
		if (!ns)
			return 1;
		lc->sizes = ns;
		lc->cap = nc;
	}
	if (!(lc->names[lc->n] = strdup(name)))
		return 1;
	lc->sizes[lc->n++] = size;
	return 0;
}

static void free_sized(struct load_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		free(lc->names[i]);
	free(lc->names);
	free(lc->sizes);
	lc->names = NULL;
	lc->sizes = NULL;
	lc->n = lc->cap = 0;
}

/* Like collect_sized, for the packs no index object named: a repository of
 * millions of blobs has hundreds of thousands of packs, whose names need
 * not all be held at once. */
static int collect_unindexed(void *ctx, const char *name, uint64_t size)
{
	struct load_ctx *lc = ctx;
	uint8_t pid[ID_LEN];
	if (strlen(name) > 6 && !hex_decode(name + 6, pid, ID_LEN) &&
	    index_has_pack(lc->r->index, pid))
		return 0;
	return collect_sized(ctx, name, size);
}

static enum roost_err add_indexed(void *ctx, const struct pack_blobs *pb)
{
	struct roost_repo *r = ctx;
	return index_add_pack(r->index, pb->id, 0, pb->epk, pb->blobs, pb->n, 1);
}

enum roost_err repo_list_objects(struct roost_repo *r, const char *type, char ***names,
                                 uint64_t **sizes, size_t *n, struct roost_errbuf *eb)
{
	struct load_ctx lc = {.r = r};
	enum roost_err err = r->be->ops->list(r->be, type, collect_sized, &lc, eb);
	if (err) {
		free_sized(&lc);
		return err;
	}
	*names = lc.names;
	*n = lc.n;
	if (sizes)
		*sizes = lc.sizes;
	else
		free(lc.sizes);
	return ROOST_OK;
}

enum roost_err repo_load_index(struct roost_repo *r, struct roost_errbuf *eb)
{
	if (r->index_loaded)
		return ROOST_OK;
	struct load_ctx lc = {.r = r};
	enum roost_err err = r->be->ops->list(r->be, "index", collect_sized, &lc, eb);
	for (size_t i = 0; !err && i < lc.n; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		enum roost_err e = repo_get_sealed(r, lc.names[i], &pt, &pn, &e2);
		if (e == ROOST_ENOMEM)
			err = e;
		if (e) /* damaged index: its packs are recovered from their trailers below */
			continue;
		e = index_decode(pt, pn, add_indexed, r, &e2);
		free(pt);
		if (e && e != ROOST_ECORRUPT) /* memory, or the index's record file */
			err = e;
	}
	free_sized(&lc);
	if (err)
		return err;
	/* Packs no readable index names: committed by a backup that died before
	 * writing its index. Their trailers say what they hold. */
	err = r->be->ops->list(r->be, "packs", collect_unindexed, &lc, eb);
	for (size_t i = 0; !err && i < lc.n; i++) {
		uint8_t pid[ID_LEN];
		if (hex_decode(lc.names[i] + 6, pid, ID_LEN))
			continue;
		struct blob_loc *bl;
		uint32_t nb;
		uint8_t epk[32];
		if (pack_read_trailer(r->be, &r->keys, lc.names[i], lc.sizes[i], epk, &bl, &nb, NULL))
			continue; /* damaged: check reports it */
		err = index_add_pack(r->index, pid, lc.sizes[i], epk, bl, nb, 0);
		free(bl);
	}
	free_sized(&lc);
	if (!err)
		r->index_loaded = 1;
	return err;
}

enum roost_err repo_write_index(struct roost_repo *r, const struct pack_blobs *p, size_t n,
                                char *name_hex, struct roost_errbuf *eb)
{
	uint8_t *buf;
	size_t len;
	enum roost_err err = index_encode(p, n, &buf, &len);
	if (err)
		return err;
	char id[HEX_LEN + 1];
	err = repo_put_sealed(r, "index", buf, len, id, eb);
	free(buf);
	if (err == ROOST_EEXIST)
		err = ROOST_OK;
	if (name_hex)
		memcpy(name_hex, id, HEX_LEN + 1);
	return err;
}

/*
 * A blob decrypted by roostd for this restore job (roost_repo_set_served):
 * its unsealed stored form (flag || body, still compressed: fewer bytes on
 * the wire, and decompression stays with the agent's restore workers). The
 * agent unpacks it and checks its length and keyed hash, which it can
 * compute (the blob-id key is part of the put-only material).
 */
static enum roost_err served_blob(struct roost_repo *r, struct blob_ctx *bc,
                                  const uint8_t id[ID_LEN], const struct blob_loc *loc,
                                  uint8_t **out, size_t *n, struct roost_errbuf *eb)
{
	char name[16 + HEX_LEN] = "plain/blobs/";
	hex_encode(id, ID_LEN, name + 12);
	uint8_t *p;
	size_t len;
	blob_forget_last(bc);
	enum roost_err err = r->be->ops->get(r->be, name, &p, &len, eb);
	if (err)
		return err;
	uint8_t *raw = malloc(loc->raw_len ? loc->raw_len : 1), got[ID_LEN];
	if (!raw) {
		free(p);
		return ROOST_ENOMEM;
	}
	err = blob_unpack(bc, p, len, raw, loc->raw_len);
	free(p);
	/* an id key this key does not hold (another host's, in a from_host
	 * restore): roostd verified that blob before serving it (serve.c) */
	if (!err && blob_id_k(&r->keys, loc->idk, raw, loc->raw_len, got))
		memcpy(got, id, ID_LEN);
	if (err == ROOST_ENOMEM || (!err && sodium_memcmp(got, id, ID_LEN) != 0))
		err = err ? err : ROOST_ECORRUPT;
	if (err) {
		free(raw);
		return err == ROOST_ENOMEM ? err
		                           : roost_errf(eb, ROOST_ECORRUPT, "blob %.16s served by the "
		                                        "server does not match its id", name + 12);
	}
	*out = raw;
	*n = loc->raw_len;
	return ROOST_OK;
}

enum roost_err repo_read_blob(struct roost_repo *r, struct blob_ctx *bc,
                              const uint8_t id[ID_LEN], uint8_t **out, size_t *n,
                              struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	struct blob_loc loc;
	char idh[HEX_LEN + 1];
	if (!index_lookup(r->index, id, &loc)) {
		hex_encode(id, ID_LEN, idh);
		return roost_errf(eb, ROOST_ENOENT, "blob %.16s is not in the index (missing)", idh);
	}
	if (r->served)
		return served_blob(r, bc, id, &loc, out, n, eb);
	struct pack_info pi = index_pack(r->index, loc.pack);
	char pname[8 + HEX_LEN] = "packs/";
	hex_encode(pi.id, ID_LEN, pname + 6);
	uint8_t key[32];
	enum roost_err err = repo_pack_key(r, pi.epk, key, eb);
	if (err)
		return err;
	uint8_t *st = malloc(loc.length), *raw = malloc(loc.raw_len ? loc.raw_len : 1);
	if (!st || !raw) {
		free(st);
		free(raw);
		return ROOST_ENOMEM;
	}
	err = r->be->ops->get_range(r->be, pname, loc.offset, loc.length, st, eb);
	if (!err) {
		err = blob_decode(bc, &r->keys, key, st, loc.length, raw, loc.raw_len, id, loc.idk);
		if (err == ROOST_ECRYPTO || err == ROOST_ECORRUPT) {
			hex_encode(id, ID_LEN, idh);
			err = roost_errf(eb, ROOST_ECORRUPT, "blob %.16s in %s is damaged", idh, pname);
		}
	}
	free(st);
	if (err) {
		free(raw);
		return err;
	}
	*out = raw;
	*n = loc.raw_len;
	return ROOST_OK;
}

enum roost_err repo_read_form(struct roost_repo *r, const uint8_t id[ID_LEN], size_t headroom,
                              uint8_t **out, size_t *n, struct blob_loc *loc,
                              struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	char idh[HEX_LEN + 1];
	if (!index_lookup(r->index, id, loc)) {
		hex_encode(id, ID_LEN, idh);
		return roost_errf(eb, ROOST_ENOENT, "blob %.16s is not in the index (missing)", idh);
	}
	struct pack_info pi = index_pack(r->index, loc->pack);
	char pname[8 + HEX_LEN] = "packs/";
	hex_encode(pi.id, ID_LEN, pname + 6);
	uint8_t key[32];
	enum roost_err err = repo_pack_key(r, pi.epk, key, eb);
	if (err)
		return err;
	if (loc->length < SEAL_OVERHEAD + 1)
		return roost_errf(eb, ROOST_ECORRUPT, "blob in %s has an invalid length", pname);
	uint8_t *st = malloc(loc->length), *form = malloc(headroom + loc->length);
	if (!st || !form) {
		free(st);
		free(form);
		return ROOST_ENOMEM;
	}
	err = r->be->ops->get_range(r->be, pname, loc->offset, loc->length, st, eb);
	if (!err && unseal(key, st, loc->length, form + headroom)) {
		hex_encode(id, ID_LEN, idh);
		err = roost_errf(eb, ROOST_ECORRUPT, "blob %.16s in %s is damaged", idh, pname);
	}
	free(st);
	if (err) {
		free(form);
		return err;
	}
	*out = form;
	*n = loc->length - SEAL_OVERHEAD;
	return ROOST_OK;
}

enum roost_err repo_load_tree(struct roost_repo *r, struct blob_ctx *bc,
                              const uint8_t id[ID_LEN], struct tree *t,
                              struct roost_errbuf *eb)
{
	uint8_t *p;
	size_t n;
	memset(t, 0, sizeof(*t));
	enum roost_err err = repo_read_blob(r, bc, id, &p, &n, eb);
	if (err)
		return err;
	err = tree_decode(p, n, t, eb);
	free(p);
	return err;
}

/* ---- snapshots ---- */

static int snap_cmp(const void *a, const void *b)
{
	const struct roost_snapshot *x = a, *y = b;
	if (x->time_s != y->time_s)
		return x->time_s < y->time_s ? -1 : 1;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

enum roost_err roost_repo_snapshots(struct roost_repo *r, struct roost_snapshot **out,
                                    size_t *n, void (*warn)(void *, const char *), void *ctx,
                                    struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	if (!r->keys.has_secret)
		return put_only_refusal(eb, "list or read snapshots");
	struct load_ctx lc = {.r = r};
	enum roost_err err = r->be->ops->list(r->be, "snapshots", collect_sized, &lc, eb);
	if (err) {
		free_sized(&lc);
		return err;
	}
	struct roost_snapshot *v = calloc(lc.n ? lc.n : 1, sizeof(*v));
	if (!v) {
		free_sized(&lc);
		return ROOST_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < lc.n; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		enum roost_err e = repo_get_sealed(r, lc.names[i], &pt, &pn, &e2);
		if (!e) {
			e = snapshot_decode((const char *)pt, pn, &v[k], &e2);
			free(pt);
		}
		if (e == ROOST_ENOMEM) {
			err = e;
			break;
		}
		if (e) {
			if (warn) {
				char msg[700];
				snprintf(msg, sizeof(msg), "%s", e2.msg);
				warn(ctx, msg);
			}
			continue;
		}
		snprintf(v[k].id, sizeof(v[k].id), "%s", lc.names[i] + 10);
		k++;
	}
	free_sized(&lc);
	if (err) {
		roost_snapshots_free(v, k);
		return err;
	}
	qsort(v, k, sizeof(*v), snap_cmp);
	*out = v;
	*n = k;
	return ROOST_OK;
}

/* The restore job's snapshot, decrypted by roostd (which checks that it is
 * this host's, or an admin's explicit cross-host restore). */
static enum roost_err served_snapshot(struct roost_repo *r, const char *ref,
                                      struct roost_snapshot *out, struct roost_errbuf *eb)
{
	if (strlen(ref) != HEX_LEN || strspn(ref, "0123456789abcdef") != HEX_LEN)
		return roost_errf(eb, ROOST_EINVAL, "\"%.80s\" is not a full snapshot id", ref);
	char name[20 + HEX_LEN] = "plain/snapshots/";
	strcat(name, ref);
	uint8_t *p;
	size_t len;
	enum roost_err err = r->be->ops->get(r->be, name, &p, &len, eb);
	if (err)
		return err;
	err = snapshot_decode((const char *)p, len, out, eb);
	free(p);
	if (!err)
		snprintf(out->id, sizeof(out->id), "%s", ref);
	return err;
}

enum roost_err roost_repo_find_snapshot(struct roost_repo *r, const char *ref,
                                        struct roost_snapshot *out, struct roost_errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	if (r->served)
		return served_snapshot(r, ref, out, eb);
	struct roost_snapshot *v;
	size_t n;
	enum roost_err err = roost_repo_snapshots(r, &v, &n, NULL, NULL, eb);
	if (err)
		return err;
	ssize_t found = -1;
	int many = 0;
	if (strcmp(ref, "latest") == 0) {
		found = n ? (ssize_t)n - 1 : -1;
	} else if (*ref && strlen(ref) <= HEX_LEN && strspn(ref, "0123456789abcdef") == strlen(ref)) {
		for (size_t i = 0; i < n; i++)
			if (strncmp(v[i].id, ref, strlen(ref)) == 0) {
				if (found >= 0)
					many = 1;
				found = (ssize_t)i;
			}
	} else {
		roost_snapshots_free(v, n);
		return roost_errf(eb, ROOST_EINVAL,
		                  "\"%.80s\" is not a snapshot id, id prefix or \"latest\"", ref);
	}
	if (many)
		err = roost_errf(eb, ROOST_EINVAL, "snapshot prefix \"%s\" is ambiguous", ref);
	else if (found < 0)
		err = roost_errf(eb, ROOST_ENOENT, "no snapshot %s", ref);
	else {
		*out = v[found];
		memset(&v[found], 0, sizeof(v[found]));
	}
	roost_snapshots_free(v, n);
	return err;
}

void vreport(void (*cb)(void *, const char *), void *ctx, const char *fmt, va_list ap)
{
	if (!cb)
		return;
	char msg[4400];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cb(ctx, msg);
}
