/* SPDX-License-Identifier: MIT */
/*
 * HTTP responses: headers, then a JSON body or a stream written from the
 * writeable callback (http.c), each timed by the rate window (budgets.c).
 * Every buffer handed to lws_write has LWS_PRE bytes in front (DESIGN.md,
 * pitfalls).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* Sends headers and arranges for the body (p->out or a stream) to follow. */
int start_response(struct lws *wsi, struct pss *p, int status, const char *ctype,
                          uint64_t len, const char *content_range)
{
	static const struct http_hdr no_store = {"cache-control:", "no-store"};
	return start_response_hdrs(wsi, p, status, ctype, len, content_range, &no_store, 1);
}

int start_response_hdrs(struct lws *wsi, struct pss *p, int status, const char *ctype,
                        uint64_t len, const char *content_range, const struct http_hdr *hdrs,
                        size_t nhdrs)
{
	uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *q = start, *end = buf + sizeof(buf) - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)len, &q,
	                                end))
		return -1;
	if (content_range &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-range:",
	                                (const unsigned char *)content_range,
	                                (int)strlen(content_range), &q, end))
		return -1;
	for (size_t i = 0; i < nhdrs; i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)hdrs[i].name,
		                                (const unsigned char *)hdrs[i].value,
		                                (int)strlen(hdrs[i].value), &q, end))
			return -1;
	for (int i = 0; i < p->nxh; i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)p->xh[i].name,
		                                (const unsigned char *)p->xh[i].value,
		                                (int)strlen(p->xh[i].value), &q, end))
			return -1;
	p->nxh = 0;
	if (p->close_after &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
	                                (const unsigned char *)"close", 5, &q, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	if (p->head || len == 0) {
		free(p->out); /* a HEAD answer has no body: nothing to keep */
		p->out = NULL;
		p->outlen = p->outpos = 0;
		p->streaming = 0;
		if (p->close_after || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	rate_arm(wsi, p); /* the reader must keep up, too */
	lws_callback_on_writable(wsi);
	return 0;
}

int respond_done(struct lws *wsi, struct pss *p)
{
	p->active = 0;
	rate_disarm(wsi, p);
	if (p->close_after || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

void respond_header(struct pss *p, const char *name, const char *value)
{
	if (p->nxh == (int)(sizeof(p->xh) / sizeof(p->xh[0])))
		return;
	snprintf(p->xh[p->nxh].name, sizeof(p->xh[p->nxh].name), "%s", name);
	snprintf(p->xh[p->nxh].value, sizeof(p->xh[p->nxh].value), "%s", value);
	p->nxh++;
}

int respond_json(struct lws *wsi, struct pss *p, int status, json_t *j)
{
	char *txt = json_dumps(j ? j : json_null(), JSON_COMPACT);
	json_decref(j);
	if (!txt)
		return -1;
	size_t n = strlen(txt);
	free(p->out);
	p->out = malloc(LWS_PRE + n + 1);
	if (!p->out) {
		free(txt);
		return -1;
	}
	memcpy(p->out + LWS_PRE, txt, n);
	p->out[LWS_PRE + n] = '\n';
	free(txt);
	p->outlen = n + 1;
	p->outpos = 0;
	return start_response(wsi, p, status, "application/json", p->outlen, NULL);
}

int respond_error(struct lws *wsi, struct pss *p, int status, const char *code,
                         const char *msg)
{
	struct resp rs = {0};
	resp_error(&rs, status, code, msg, NULL);
	return respond_json(wsi, p, rs.status, rs.json);
}

int respond_text(struct lws *wsi, struct pss *p, int status, const char *ctype, const char *text,
                 size_t n)
{
	free(p->out);
	p->out = malloc(LWS_PRE + n + 1);
	if (!p->out)
		return -1;
	memcpy(p->out + LWS_PRE, text, n);
	p->outlen = n;
	p->outpos = 0;
	return start_response(wsi, p, status, ctype, p->outlen, NULL);
}
