/* SPDX-License-Identifier: MIT */
/* Content checks of uploaded objects against their names (objcheck.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objcheck.h"

#define ID_LEN 32
#define SEAL_OVERHEAD 40            /* nonce (24) + tag (16), repository-format.md */
#define TRAILER_MIN (SEAL_OVERHEAD + 8) /* "RPK1" and a count */
#define TRAILER_MAX (64u << 20)     /* what readers accept (lib/repo/pack.c) */

enum kind { KIND_NONE, KIND_WHOLE, KIND_PACK };

struct objcheck {
	crypto_generichash_state *st; /* KIND_WHOLE: 64-byte aligned */
	enum kind kind;
	uint8_t want[ID_LEN];
	uint64_t size;
};

static int hex_to_id(const char *hex, uint8_t out[ID_LEN])
{
	size_t bin_len = 0;
	return sodium_hex2bin(out, ID_LEN, hex, strlen(hex), NULL, &bin_len, NULL) == 0 &&
	               bin_len == ID_LEN
	           ? 0
	           : -1;
}

struct objcheck *objcheck_new(const char *name)
{
	struct objcheck *oc = calloc(1, sizeof(*oc));
	if (!oc)
		return NULL;
	const char *slash = strchr(name, '/');
	int whole = !strncmp(name, "index/", 6) || !strncmp(name, "snapshots/", 10) ||
	            !strncmp(name, "marks/", 6);
	int pack = !strncmp(name, "packs/", 6);
	if ((whole || pack) && slash && hex_to_id(slash + 1, oc->want) == 0)
		oc->kind = pack ? KIND_PACK : KIND_WHOLE;
	if (oc->kind == KIND_WHOLE) {
		oc->st = aligned_alloc(64, (sizeof(*oc->st) + 63) / 64 * 64);
		if (!oc->st) {
			free(oc);
			return NULL;
		}
		crypto_generichash_init(oc->st, NULL, 0, ID_LEN);
	}
	return oc;
}

void objcheck_free(struct objcheck *oc)
{
	if (!oc)
		return;
	free(oc->st);
	free(oc);
}

void objcheck_update(struct objcheck *oc, const void *buf, size_t len)
{
	oc->size += len;
	if (oc->kind == KIND_WHOLE)
		crypto_generichash_update(oc->st, buf, len);
}

uint64_t objcheck_size(const struct objcheck *oc)
{
	return oc->size;
}

static int check_pack(struct objcheck *oc, const struct roost_backend_ops *ops,
                      struct roost_bwriter *w, char *msg, size_t cap)
{
	struct roost_errbuf eb = {{0}};
	uint8_t lb[4];
	if (!ops->writer_pread) {
		snprintf(msg, cap, "this repository backend can not check uploads");
		return -1;
	}
	if (oc->size < 4 + TRAILER_MIN) {
		snprintf(msg, cap, "too short to be a pack (%llu bytes)", (unsigned long long)oc->size);
		return -1;
	}
	if (ops->writer_pread(w, oc->size - 4, 4, lb, &eb)) {
		snprintf(msg, cap, "reading the upload back: %s", eb.msg);
		return -1;
	}
	uint32_t tl = (uint32_t)lb[0] | (uint32_t)lb[1] << 8 | (uint32_t)lb[2] << 16 |
	              (uint32_t)lb[3] << 24;
	if (tl < TRAILER_MIN || tl > TRAILER_MAX || tl > oc->size - 4) {
		snprintf(msg, cap, "pack trailer length %u is invalid", tl);
		return -1;
	}
	crypto_generichash_state *st = aligned_alloc(64, (sizeof(*st) + 63) / 64 * 64);
	uint8_t *buf = malloc(64 * 1024);
	int rc = -1;
	if (!st || !buf) {
		snprintf(msg, cap, "out of memory");
		goto out;
	}
	crypto_generichash_init(st, NULL, 0, ID_LEN);
	for (uint64_t off = oc->size - 4 - tl; off < oc->size - 4;) {
		size_t n = oc->size - 4 - off > 65536 ? 65536 : (size_t)(oc->size - 4 - off);
		if (ops->writer_pread(w, off, n, buf, &eb)) {
			snprintf(msg, cap, "reading the upload back: %s", eb.msg);
			goto out;
		}
		crypto_generichash_update(st, buf, n);
		off += n;
	}
	uint8_t got[ID_LEN];
	crypto_generichash_final(st, got, ID_LEN);
	if (sodium_memcmp(got, oc->want, ID_LEN)) {
		snprintf(msg, cap, "the pack's trailer does not hash to its name");
		goto out;
	}
	rc = 0;
out:
	free(st);
	free(buf);
	return rc;
}

int objcheck_finish(struct objcheck *oc, const struct roost_backend_ops *ops,
                    struct roost_bwriter *w, char *msg, size_t cap)
{
	if (oc->kind == KIND_PACK)
		return check_pack(oc, ops, w, msg, cap);
	if (oc->kind != KIND_WHOLE)
		return 0;
	uint8_t got[ID_LEN];
	crypto_generichash_final(oc->st, got, ID_LEN);
	if (sodium_memcmp(got, oc->want, ID_LEN)) {
		snprintf(msg, cap, "the content does not hash to the object's name");
		return -1;
	}
	return 0;
}
