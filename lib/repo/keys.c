/* SPDX-License-Identifier: MIT */
/*
 * Key files (keys/<hex>): a password wraps either the master secret (a full
 * key) or, in format v2, the put-only material (keys_put_bundle: blob-id key,
 * chunker seed, meta key, data public key), which writes and deduplicates but
 * decrypts no blob and no snapshot. Also adding keys and upgrading a v1
 * repository to v2 (docs/repository-format.md, "Keys" and "Upgrading"), and
 * what a key may do (put-only keys read no blob, snapshot or v1 object).
 */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo_int.h"
#include "roost/jsonutil.h"
#include "roost/timeutil.h"

enum roost_err keyfile_wrap(const char *password, const uint8_t *payload, size_t plen,
                            uint64_t ops, uint64_t mem, char **json_out, struct roost_errbuf *eb)
{
	*json_out = NULL;
	uint8_t salt[crypto_pwhash_SALTBYTES], kek[32], sealed[PUT_BUNDLE_LEN + SEAL_OVERHEAD];
	if (plen > PUT_BUNDLE_LEN)
		return ROOST_EINVAL;
	randombytes_buf(salt, sizeof(salt));
	if (crypto_pwhash(kek, 32, password, strlen(password), salt, ops, (size_t)mem,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return roost_errf(eb, ROOST_ENOMEM, "argon2id: out of memory");
	seal(kek, payload, plen, sealed);
	sodium_memzero(kek, sizeof(kek));
	char b64salt[64], b64data[256], host[256] = "", ts[40];
	sodium_bin2base64(b64salt, sizeof(b64salt), salt, sizeof(salt),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b64data, sizeof(b64data), sealed, plen + SEAL_OVERHEAD,
	                  sodium_base64_VARIANT_ORIGINAL);
	gethostname(host, sizeof(host) - 1);
	roost_time_format(time(NULL), ts, sizeof(ts));
	int put = plen == PUT_BUNDLE_LEN;
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:o}", "version", put ? 2 : 1,
	                      "kdf", "argon2id13", "ops", (json_int_t)ops, "mem", (json_int_t)mem,
	                      "salt", b64salt, "data", b64data, "created", ts, "hostname",
	                      json_bytes_lossy(host, strlen(host)));
	if (j && put)
		json_object_set_new(j, "kind", json_string("put-only"));
	*json_out = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return *json_out ? ROOST_OK : ROOST_ENOMEM;
}

int keyfile_unwrap(const char *password, const uint8_t *buf, size_t len,
                   uint8_t out[PUT_BUNDLE_LEN], size_t *outn)
{
	json_t *j = json_loadb((const char *)buf, len, 0, NULL);
	if (!j)
		return -1;
	int rc = -1;
	json_t *ops = json_object_get(j, "ops"), *mem = json_object_get(j, "mem");
	const char *salt64 = json_get_str(j, "salt"), *data64 = json_get_str(j, "data");
	uint8_t salt[crypto_pwhash_SALTBYTES], sealed[PUT_BUNDLE_LEN + SEAL_OVERHEAD], kek[32];
	size_t sl, dl;
	if (!json_is_integer(ops) || !json_is_integer(mem) || !salt64 || !data64 ||
	    json_integer_value(ops) < 1 || json_integer_value(ops) > 64 ||
	    json_integer_value(mem) < 8192 || json_integer_value(mem) > (4LL << 30) ||
	    sodium_base642bin(salt, sizeof(salt), salt64, strlen(salt64), NULL, &sl, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) ||
	    sl != sizeof(salt) ||
	    sodium_base642bin(sealed, sizeof(sealed), data64, strlen(data64), NULL, &dl, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) ||
	    (dl != 32 + SEAL_OVERHEAD && dl != PUT_BUNDLE_LEN + SEAL_OVERHEAD))
		goto done;
	if (crypto_pwhash(kek, 32, password, strlen(password), salt,
	                  (unsigned long long)json_integer_value(ops),
	                  (size_t)json_integer_value(mem), crypto_pwhash_ALG_ARGON2ID13) != 0)
		goto done;
	rc = unseal(kek, sealed, dl, out) ? -1 : 0;
	*outn = dl - SEAL_OVERHEAD;
	sodium_memzero(kek, sizeof(kek));
done:
	json_decref(j);
	return rc;
}

/* Stores a key file under a random name. */
static enum roost_err put_keyfile(struct roost_backend *be, const char *json,
                                  struct roost_errbuf *eb)
{
	uint8_t kid[32];
	randombytes_buf(kid, sizeof(kid));
	char kname[8 + HEX_LEN] = "keys/";
	hex_encode(kid, 32, kname + 5);
	return be->ops->put(be, kname, (const uint8_t *)json, strlen(json), eb);
}

enum roost_err keyfile_add(struct roost_backend *be, const char *password,
                           const uint8_t *payload, size_t plen, uint64_t ops, uint64_t mem,
                           struct roost_errbuf *eb)
{
	char *kj = NULL;
	enum roost_err err = keyfile_wrap(password, payload, plen, ops, mem, &kj, eb);
	if (!err)
		err = put_keyfile(be, kj, eb);
	free(kj);
	return err;
}

enum roost_err roost_repo_key_add(struct roost_repo *r, const char *password, int put_only,
                                  struct roost_errbuf *eb)
{
	if (!password || !*password)
		return roost_errf(eb, ROOST_EINVAL, "an empty password is not allowed");
	if (!r->keys.has_secret)
		return roost_errf(eb, ROOST_EAUTH, "a put-only key can not add keys");
	if (!r->master_known)
		return roost_errf(eb, ROOST_EAUTH, "this key can not add keys");
	if (put_only && r->version < 2)
		return roost_errf(eb, ROOST_ENOTSUP,
		                  "put-only keys need repository format 2: run `roost repo upgrade` "
		                  "first");
	uint8_t b[PUT_BUNDLE_LEN];
	size_t n = 32;
	if (put_only) {
		keys_put_bundle(&r->keys, b);
		n = PUT_BUNDLE_LEN;
	} else {
		memcpy(b, r->master, 32);
	}
	enum roost_err err = keyfile_add(r->be, password, b, n, 3, 32u << 20, eb);
	sodium_memzero(b, sizeof(b));
	return err;
}

/* ---- what a key can do ---- */

enum roost_err roost_repo_put_material(const struct roost_repo *r, uint8_t *out, size_t n,
                                       struct roost_errbuf *eb)
{
	if (n != PUT_BUNDLE_LEN)
		return roost_errf(eb, ROOST_EINVAL, "put-only key material has %d bytes",
		                  PUT_BUNDLE_LEN);
	if (r->version < 2)
		return roost_errf(eb, ROOST_ENOTSUP, "the repository is format 1: upgrade it first");
	keys_put_bundle(&r->keys, out);
	return ROOST_OK;
}

enum roost_err roost_repo_put_material_host(const struct roost_repo *r, uint32_t host,
                                            uint8_t *out, size_t n, struct roost_errbuf *eb)
{
	if (n != PUT_HOST_LEN || !host)
		return roost_errf(eb, ROOST_EINVAL, "host key material has %d bytes and a host",
		                  PUT_HOST_LEN);
	if (r->version < 2)
		return roost_errf(eb, ROOST_ENOTSUP, "the repository is format 1: upgrade it first");
	if (!r->keys.has_secret)
		return roost_errf(eb, ROOST_EAUTH, "only a full key derives host id keys");
	keys_put_bundle(&r->keys, out);
	keys_id_key(&r->keys, host, out);
	for (int i = 0; i < 4; i++)
		out[PUT_BUNDLE_LEN + i] = (uint8_t)(host >> (8 * i));
	return ROOST_OK;
}

enum roost_err roost_repo_add_host_material(struct roost_repo *r, const uint8_t *m, size_t n,
                                            struct roost_errbuf *eb)
{
	uint32_t idk = 0;
	for (size_t i = PUT_BUNDLE_LEN; i < n && n == PUT_HOST_LEN; i++)
		idk |= (uint32_t)m[i] << (8 * (i - PUT_BUNDLE_LEN));
	if (!idk || sodium_memcmp(m + 64, r->keys.meta, 32))
		return roost_errf(eb, ROOST_EINVAL, "host key material is not for this repository");
	memcpy(r->keys.host_id, m, 32);
	r->keys.host_idk = idk;
	return ROOST_OK;
}

int roost_repo_put_only(const struct roost_repo *r)
{
	return !r->keys.has_secret;
}

int roost_repo_version(const struct roost_repo *r)
{
	return r->version;
}

enum roost_err put_only_refusal(struct roost_errbuf *eb, const char *what)
{
	return roost_errf(eb, ROOST_EAUTH,
	                  "this is a put-only key: it can back up but not %s (that needs the "
	                  "repository password)", what);
}

/*
 * The opening keys of recently read packs, by their ephemeral public key: a
 * key costs an X25519 scalar multiplication (~37 us here), which per blob
 * read was more than reading, opening and verifying a small blob (a restore
 * of 108k files made one per file). Direct-mapped (epks are uniformly
 * random), under one lock for all handles; wiped by roost_repo_close.
 */
#define PKC_SLOTS 256
struct pack_key_cache {
	uint8_t epk[PKC_SLOTS][32];
	uint8_t key[PKC_SLOTS][32];
	uint8_t used[PKC_SLOTS];
};
static pthread_mutex_t pkc_lock = PTHREAD_MUTEX_INITIALIZER;

void repo_pack_keys_free(struct roost_repo *r)
{
	pthread_mutex_lock(&pkc_lock);
	if (r->pkc) {
		sodium_memzero(r->pkc, sizeof(*r->pkc));
		free(r->pkc);
		r->pkc = NULL;
	}
	pthread_mutex_unlock(&pkc_lock);
}

enum roost_err repo_pack_key(struct roost_repo *r, const uint8_t epk[32], uint8_t key[32],
                             struct roost_errbuf *eb)
{
	if (epk_is_v1(epk)) {
		if (!r->keys.has_enc)
			return put_only_refusal(eb, "read data");
		memcpy(key, r->keys.enc, 32);
		return ROOST_OK;
	}
	if (!r->keys.has_secret)
		return put_only_refusal(eb, "read data");
	size_t slot = ((size_t)epk[0] | (size_t)epk[1] << 8) % PKC_SLOTS;
	int hit = 0;
	pthread_mutex_lock(&pkc_lock);
	if (r->pkc && r->pkc->used[slot] && sodium_memcmp(r->pkc->epk[slot], epk, 32) == 0) {
		memcpy(key, r->pkc->key[slot], 32);
		hit = 1;
	}
	pthread_mutex_unlock(&pkc_lock);
	if (hit)
		return ROOST_OK;
	if (kx_opening_key(&r->keys, epk, key))
		return roost_errf(eb, ROOST_ECORRUPT, "a pack's ephemeral key is invalid (damaged)");
	pthread_mutex_lock(&pkc_lock);
	if (!r->pkc)
		r->pkc = calloc(1, sizeof(*r->pkc)); /* none: no caching, still correct */
	if (r->pkc) {
		memcpy(r->pkc->epk[slot], epk, 32);
		memcpy(r->pkc->key[slot], key, 32);
		r->pkc->used[slot] = 1;
	}
	pthread_mutex_unlock(&pkc_lock);
	return ROOST_OK;
}

/* ---- upgrade v1 -> v2 ---- */

struct up_pack {
	struct pack_blobs pb;
	uint32_t cap;
};
struct up_ctx {
	struct up_pack *v;
	size_t n;
	struct repo_index *ix;
	enum roost_err err;
};

static void up_blob(void *ctx, const struct blob_loc *b)
{
	struct up_ctx *u = ctx;
	if (u->err || b->pack >= u->n)
		return;
	struct up_pack *p = &u->v[b->pack];
	if (p->pb.n == p->cap) {
		uint32_t nc = p->cap ? p->cap * 2 : 16;
		struct blob_loc *nb = realloc(p->pb.blobs, nc * sizeof(*nb));
		if (!nb) {
			u->err = ROOST_ENOMEM;
			return;
		}
		p->pb.blobs = nb;
		p->cap = nc;
	}
	p->pb.blobs[p->pb.n++] = *b;
}

enum roost_err roost_repo_upgrade(struct roost_repo *r, int *upgraded, struct roost_errbuf *eb)
{
	*upgraded = 0;
	if (!r->keys.has_secret || !r->keys.has_enc)
		return roost_errf(eb, ROOST_EAUTH, "upgrading needs a full key (the password)");
	if (r->version >= 2)
		return ROOST_OK;
	/* 1. every pack's blobs, from the index objects and unindexed trailers */
	enum roost_err err = repo_load_index(r, eb);
	if (err)
		return err;
	char **inames = NULL;
	size_t ni = 0;
	if ((err = repo_list_objects(r, "index", &inames, NULL, &ni, eb)))
		return err;
	struct up_ctx u = {.n = index_npacks(r->index), .ix = r->index};
	u.v = calloc(u.n ? u.n : 1, sizeof(*u.v));
	if (!u.v) {
		free_names(inames, ni);
		return ROOST_ENOMEM;
	}
	for (size_t i = 0; i < u.n; i++) {
		struct pack_info pi = index_pack(r->index, i);
		memcpy(u.v[i].pb.id, pi.id, ID_LEN);
		memcpy(u.v[i].pb.epk, pi.epk, 32);
	}
	index_each_blob(r->index, up_blob, &u);
	err = u.err;
	/* 2. index objects under the meta key, which put-only keys read; the
	 * old ones under enc stay until the new config is in place */
	r->version = 2;
	/* repo_write_index takes an array of pack_blobs: u.v's elements are
	 * larger (up_pack), so they are gathered first */
	struct pack_blobs *pbv = malloc((u.n ? u.n : 1) * sizeof(*pbv));
	if (!pbv && !err)
		err = ROOST_ENOMEM;
	for (size_t i = 0; pbv && i < u.n; i++)
		pbv[i] = u.v[i].pb;
	for (size_t i = 0; !err && i < u.n; i += 256)
		err = repo_write_index(r, &pbv[i], u.n - i < 256 ? u.n - i : 256, NULL, eb);
	free(pbv);
	for (size_t i = 0; i < u.n; i++)
		free(u.v[i].pb.blobs);
	free(u.v);
	/* 3. the config, version 2, sealed with the meta key */
	if (!err)
		err = repo_write_config(r, 1, eb);
	/* 4. the v1 index objects, now covered by the new ones */
	for (size_t i = 0; !err && i < ni; i++)
		r->be->ops->remove(r->be, inames[i], NULL);
	free_names(inames, ni);
	if (err) {
		r->version = 1;
		return err;
	}
	*upgraded = 1;
	return ROOST_OK;
}
