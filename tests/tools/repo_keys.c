/* SPDX-License-Identifier: MIT */
/*
 * Test tool (integration tests only): what a repository's secrets are, so a
 * test can show they never reach an agent, and whether put-only material
 * reads anything.
 *
 *   roost-test-keys secrets DIR      (password in ROOST_PASSWORD) prints the
 *                                    master secret, the v1 sealing key and the
 *                                    data secret key, each in hex and base64
 *   roost-test-keys try-put DIR B64  opens with put-only material (base64) and
 *                                    tries to read snapshots and blobs; exit 0
 *                                    if every read was refused, 1 if any worked
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"

static void show(const char *what, const uint8_t *k)
{
	char hex[65], b64[64];
	sodium_bin2hex(hex, sizeof(hex), k, 32);
	sodium_bin2base64(b64, sizeof(b64), k, 32, sodium_base64_VARIANT_ORIGINAL);
	printf("%s-hex %s\n%s-b64 %s\n", what, hex, what, b64);
}

static int try_put(struct roost_backend *be, const char *b64)
{
	uint8_t m[ROOST_PUT_MATERIAL_LEN];
	size_t n = 0;
	struct roost_errbuf eb = {{0}};
	struct roost_repo *r = NULL;
	if (sodium_base642bin(m, sizeof(m), b64, strlen(b64), NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) ||
	    roost_repo_open_put(be, m, n, &r, &eb)) {
		fprintf(stderr, "open: %s\n", eb.msg);
		return 2;
	}
	int read_any = 0;
	struct roost_snapshot *v = NULL;
	size_t ns = 0;
	if (roost_repo_snapshots(r, &v, &ns, NULL, NULL, &eb) == ROOST_OK) {
		read_any = 1;
		roost_snapshots_free(v, ns);
	}
	if (repo_load_index(r, &eb) == ROOST_OK) {
		size_t nb = index_nblobs(r->index);
		printf("index readable: %zu blobs (deduplication)\n", nb);
		for (size_t i = 0; i < index_npacks(r->index) && i < 20; i++) {
			struct pack_info pi = index_pack(r->index, i);
			uint8_t key[32];
			if (repo_pack_key(r, pi.epk, key, &eb) == ROOST_OK)
				read_any = 1;
		}
	}
	printf(read_any ? "READ SOMETHING\n" : "every read refused\n");
	roost_repo_close(r);
	return read_any;
}

int main(int argc, char **argv)
{
	if (argc < 3 || sodium_init() < 0)
		return 2;
	struct roost_backend *be;
	struct roost_errbuf eb = {{0}};
	if (roost_backend_local_open(argv[2], 0, &be, &eb)) {
		fprintf(stderr, "%s\n", eb.msg);
		return 2;
	}
	int rc = 2;
	if (!strcmp(argv[1], "secrets")) {
		struct roost_repo *r;
		const char *pw = getenv("ROOST_PASSWORD");
		if (pw && roost_repo_open(be, pw, &r, &eb) == ROOST_OK) {
			show("master", r->master);
			show("enc", r->keys.enc);
			show("data-sk", r->keys.data_sk);
			roost_repo_close(r);
			rc = 0;
		} else {
			fprintf(stderr, "%s\n", eb.msg);
		}
	} else if (!strcmp(argv[1], "try-put") && argc == 4) {
		rc = try_put(be, argv[3]);
	}
	roost_backend_close(be);
	return rc;
}
