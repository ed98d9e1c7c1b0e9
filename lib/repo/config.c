/* SPDX-License-Identifier: MIT */
/*
 * The repository's config object: its parameters (format version, id,
 * chunker sizes, compression, pack size), written at init, replaced by an
 * upgrade (the one object ever replaced, through config.next), read at
 * every open.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"
#include "roost/jsonutil.h"

enum roost_err repo_write_config(struct roost_repo *r, int replace, struct roost_errbuf *eb)
{
	json_t *cfg = json_pack("{s:i, s:s, s:{s:I, s:I, s:I}, s:{s:s, s:i}, s:I}", "version",
	                        r->version, "id", r->id_hex, "chunker", "min",
	                        (json_int_t)r->chunk_min, "avg", (json_int_t)r->chunk_avg, "max",
	                        (json_int_t)r->chunk_max, "compression", "algo", "zstd", "level",
	                        r->zstd_level, "pack_size", (json_int_t)r->pack_size);
	char *cj = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	json_decref(cfg);
	if (!cj)
		return ROOST_ENOMEM;
	uint8_t *ct;
	size_t cn;
	enum roost_err err = seal_alloc(r->version >= 2 ? r->keys.meta : r->keys.enc,
	                                (const uint8_t *)cj, strlen(cj), &ct, &cn);
	free(cj);
	if (err)
		return err;
	/* The one object that is replaced (an upgrade). Objects are never
	 * overwritten, so: the new config is first made durable as config.next,
	 * then the old one removed and the new one put, then config.next
	 * removed. Opening reads config.next when config is missing, so a stop
	 * between any two steps leaves a repository that opens. */
	if (replace) {
		r->be->ops->remove(r->be, "config.next", NULL); /* a stale one */
		if ((err = r->be->ops->put(r->be, "config.next", ct, cn, eb)) ||
		    (err = r->be->ops->remove(r->be, "config", eb))) {
			free(ct);
			return err;
		}
	}
	err = r->be->ops->put(r->be, "config", ct, cn, eb);
	free(ct);
	if (!err && replace)
		r->be->ops->remove(r->be, "config.next", NULL);
	return err;
}

static enum roost_err parse_config(struct roost_repo *r, const char *js, size_t n,
                                   struct roost_errbuf *eb)
{
	json_t *j = json_loadb(js, n, 0, NULL);
	enum roost_err err = ROOST_OK;
	json_t *ver = json_object_get(j, "version");
	json_t *ch = json_object_get(j, "chunker"), *co = json_object_get(j, "compression");
	const char *id = json_get_str(j, "id");
	if (!json_is_integer(ver) || json_integer_value(ver) < 1 || json_integer_value(ver) > 2) {
		err = roost_errf(eb, ROOST_ENOTSUP,
		                 "repository format version %lld is not supported by this roost",
		                 (long long)json_integer_value(ver));
		goto done;
	}
	r->version = (int)json_integer_value(ver);
	if (r->version < 2 && !r->keys.has_secret) {
		err = roost_errf(eb, ROOST_ECORRUPT, "a put-only key for a version 1 repository");
		goto done;
	}
	json_int_t mn = json_integer_value(json_object_get(ch, "min"));
	json_int_t av = json_integer_value(json_object_get(ch, "avg"));
	json_int_t mx = json_integer_value(json_object_get(ch, "max"));
	json_int_t lv = json_integer_value(json_object_get(co, "level"));
	json_int_t ps = json_integer_value(json_object_get(j, "pack_size"));
	if (!id || strlen(id) != HEX_LEN || mn < 64 || mn >= av || av >= mx || mx > (16 << 20) ||
	    lv < -7 || lv > 19 || ps < 4096 || ps > (256 << 20)) {
		err = roost_errf(eb, ROOST_ECORRUPT, "config has invalid parameters");
		goto done;
	}
	memcpy(r->id_hex, id, HEX_LEN + 1);
	r->chunk_min = (uint32_t)mn;
	r->chunk_avg = (uint32_t)av;
	r->chunk_max = (uint32_t)mx;
	r->zstd_level = (int)lv;
	r->pack_size = (uint32_t)ps;
	chunker_init(&r->chunker, r->keys.chunk, r->chunk_min, r->chunk_avg, r->chunk_max);
done:
	json_decref(j);
	return err;
}

/* Reads the config with r->keys: a v2 one under meta, a v1 one under enc. */
enum roost_err repo_load_config(struct roost_repo *r, struct roost_errbuf *eb)
{
	uint8_t *ct, *pt;
	size_t cn, pn;
	enum roost_err err = r->be->ops->get(r->be, "config", &ct, &cn, eb);
	if (err == ROOST_ENOENT) /* an upgrade stopped between its steps */
		err = r->be->ops->get(r->be, "config.next", &ct, &cn, eb);
	if (err)
		return err;
	err = unseal_alloc(r->keys.meta, ct, cn, &pt, &pn);
	if (err == ROOST_ECRYPTO && r->keys.has_enc)
		err = unseal_alloc(r->keys.enc, ct, cn, &pt, &pn);
	free(ct);
	if (err == ROOST_ECRYPTO)
		return roost_errf(eb, ROOST_ECORRUPT, "config fails authentication (damaged, or "
		                  "the key is not this repository's)");
	if (err)
		return err;
	err = parse_config(r, (const char *)pt, pn, eb);
	free(pt);
	return err;
}
