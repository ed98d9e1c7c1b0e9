/* SPDX-License-Identifier: MIT */
/*
 * The data directory's files (datadir.h): certificate, key, fingerprint,
 * secrets. Moved out of main.c, which keeps the arguments and the wiring.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roost/http.h"
#include "datadir.h"

char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Writes data to path atomically with mode; fails if it exists. */
int write_new_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok || link(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	unlink(tmp);
	return 0;
}

char *read_small(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char buf[512];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return strdup(buf);
}

/* ---- TLS ---- */

int make_self_signed(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int rc = -1;
	if (!key || !x)
		goto out;
	X509_set_version(x, 2);
	unsigned char serial[16];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"roostd", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"roost", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	char san[400];
	snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (ext) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	/* the key first, private from birth */
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	char *kd, *cd;
	if (kb && cb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) &&
	    PEM_write_bio_X509(cb, x)) {
		long kn = BIO_get_mem_data(kb, &kd), cn = BIO_get_mem_data(cb, &cd);
		if (write_new_file(key_path, kd, (size_t)kn, 0600) == 0 &&
		    write_new_file(cert_path, cd, (size_t)cn, 0644) == 0)
			rc = 0;
	}
	BIO_free(kb);
	BIO_free(cb);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int cert_fingerprint(const char *cert_path, char out[65])
{
	FILE *f = fopen(cert_path, "re");
	if (!f)
		return -1;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	int rc = roost_cert_sha256_hex(x, out);
	X509_free(x);
	return rc;
}

/* ---- secrets in the data directory ---- */

int load_or_make_secret(const char *path, char text[AUTH_TEXT_LEN + 1], int *created)
{
	*created = 0;
	char *s = read_small(path);
	if (!s) {
		if (errno != ENOENT)
			return -1;
		uint8_t hash[AUTH_HASH_LEN];
		auth_new_secret(text, hash);
		char line[AUTH_TEXT_LEN + 2];
		snprintf(line, sizeof(line), "%s\n", text);
		if (write_new_file(path, line, strlen(line), 0600))
			return -1;
		*created = 1;
		return 0;
	}
	int ok = strlen(s) == AUTH_TEXT_LEN;
	if (ok)
		memcpy(text, s, AUTH_TEXT_LEN + 1);
	free(s);
	return ok ? 0 : -1;
}

