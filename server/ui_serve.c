/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's static files (ui_serve.h). They hold no data, so no
 * credential is asked for; every answer carries a Content-Security-Policy
 * that allows only the dashboard's own files (no inline script or style),
 * and the ETag the browser revalidates with (Cache-Control: no-cache: a
 * 304 is one round trip, and a new roostd never serves a stale page).
 *
 * A path reaches a file only through the embedded table (a name compared
 * whole), or, with --ui-dir, through a name checked segment by segment
 * (ui_name_ok) and opened without following a final symbolic link.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"
#include "roost/log.h"
#include "ui_serve.h"

#define UI_FILE_MAX (8u << 20) /* a file of --ui-dir */

static const char *ui_dir;

void ui_set_dir(const char *dir)
{
	ui_dir = dir;
}

const struct ui_file *ui_file_find(const char *path)
{
	size_t lo = 0, hi = ui_files_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, ui_files[mid].path);
		if (!c)
			return &ui_files[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int ui_name_ok(const char *name)
{
	if (!*name || strlen(name) > 200)
		return 0;
	const char *s = name;
	for (;;) {
		size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
		if (n == 0 || s[0] == '.')
			return 0; /* empty segment, ".", ".." or a dot file */
		s += n;
		if (!*s)
			return 1;
		if (*s != '/')
			return 0;
		s++;
	}
}

const char *ui_ctype(const char *name)
{
	static const struct {
		const char *ext, *ctype;
	} t[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
		{".json", "application/json"}, {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');
	if (!dot || strchr(dot, '/'))
		return NULL;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(dot, t[i].ext))
			return t[i].ctype;
	return NULL;
}

/* A file of --ui-dir: its bytes (malloc'd) and a strong ETag from them. */
static unsigned char *dir_read(const char *name, size_t *len, char etag[36])
{
	char path[4200];
	if (!ui_name_ok(name) || !ui_ctype(name) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", ui_dir, name) >= sizeof(path))
		return NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	unsigned char *buf = NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > UI_FILE_MAX)
		goto fail;
	buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	if (!buf)
		goto fail;
	close(fd);
	unsigned char h[16];
	crypto_generichash(h, sizeof(h), buf, got, NULL, 0);
	etag[0] = '"';
	sodium_bin2hex(etag + 1, 33, h, sizeof(h));
	etag[33] = '"';
	etag[34] = 0;
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static const struct http_hdr security[] = {
	{"content-security-policy:",
	 "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
	{"x-content-type-options:", "nosniff"},
	{"referrer-policy:", "no-referrer"},
};
#define NSEC (sizeof(security) / sizeof(security[0]))

/* An answer with the security headers, extra ones, and body[0..n) (copied). */
static int answer(struct lws *wsi, struct pss *p, int status, const char *ctype,
                  const void *body, size_t n, const struct http_hdr *extra, size_t nextra)
{
	struct http_hdr h[NSEC + 4];
	size_t nh = 0;
	for (size_t i = 0; i < NSEC; i++)
		h[nh++] = security[i];
	for (size_t i = 0; i < nextra && nh < sizeof(h) / sizeof(h[0]); i++)
		h[nh++] = extra[i];
	free(p->out);
	p->out = NULL;
	p->outlen = p->outpos = 0;
	if (n && !p->head) {
		p->out = malloc(LWS_PRE + n);
		if (!p->out)
			return -1;
		memcpy(p->out + LWS_PRE, body, n);
		p->outlen = n;
	}
	return start_response_hdrs(wsi, p, status, ctype, n, NULL, h, nh);
}

/* Whether the request's If-None-Match names etag (or is "*"). */
static int not_modified(struct lws *wsi, const char *etag)
{
	char inm[512];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);
	if (n <= 0 || n >= (int)sizeof(inm) ||
	    lws_hdr_copy(wsi, inm, sizeof(inm), WSI_TOKEN_HTTP_IF_NONE_MATCH) <= 0)
		return 0;
	return !strcmp(inm, "*") || strstr(inm, etag) != NULL;
}

static int send_file(struct lws *wsi, struct pss *p, const char *ctype, const char *etag,
                     const void *data, size_t len)
{
	struct http_hdr h[] = {{"etag:", etag}, {"cache-control:", "no-cache"}};
	if (not_modified(wsi, etag))
		return answer(wsi, p, 304, ctype, NULL, 0, h, 2);
	return answer(wsi, p, 200, ctype, data, len, h, 2);
}

int ui_request(struct lws *wsi, struct pss *p, int *rc)
{
	const char *path = p->path;
	int root = !strcmp(path, "/") || !strcmp(path, "/ui");
	if (!root && strncmp(path, "/ui/", 4))
		return 0;
	if (strcmp(p->method, "GET") && strcmp(p->method, "HEAD")) {
		static const char msg[] = "GET or HEAD only\n";
		struct http_hdr h = {"allow:", "GET, HEAD"};
		*rc = answer(wsi, p, 405, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, &h, 1);
		return 1;
	}
	if (root) {
		struct http_hdr h[] = {{"location:", "/ui/"}, {"cache-control:", "no-store"}};
		*rc = answer(wsi, p, 302, "text/plain; charset=utf-8", NULL, 0, h, 2);
		return 1;
	}
	const char *name = path + 4;
	if (ui_dir) {
		size_t len;
		char etag[36];
		const char *served = name;
		unsigned char *data = dir_read(name, &len, etag);
		if (!data)
			data = dir_read(served = "index.html", &len, etag);
		if (!data) {
			static const char msg[] = "no index.html in --ui-dir\n";
			*rc = answer(wsi, p, 404, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, NULL,
			             0);
			return 1;
		}
		*rc = send_file(wsi, p, ui_ctype(served), etag, data, len);
		free(data);
		return 1;
	}
	const struct ui_file *f = ui_name_ok(name) ? ui_file_find(name) : NULL;
	if (!f)
		f = ui_file_find("index.html");
	if (!f) {
		static const char msg[] = "this roostd was built without the dashboard\n";
		*rc = answer(wsi, p, 404, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, NULL, 0);
		return 1;
	}
	log_debug("ui", "path=%s file=%s", roost_lq(path), f->path);
	*rc = send_file(wsi, p, f->ctype, f->etag, f->data, f->len);
	return 1;
}
