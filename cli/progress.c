/* SPDX-License-Identifier: MIT */
/*
 * Numbers for people, the progress and outcome lines of a waited-for job,
 * and the Server-Sent Events reader (cli/progress.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "roost/timeutil.h"

void fmt_count(uint64_t v, char *buf, size_t cap)
{
	char d[32];
	int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v);
	char out[48];
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = 0;
	snprintf(buf, cap, "%s", out);
}

void fmt_bytes(uint64_t v, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	if (v < 1000) {
		snprintf(buf, cap, "%llu B", (unsigned long long)v);
		return;
	}
	double x = (double)v;
	int u = 0;
	while (x >= 999.95 && u < 6) {
		x /= 1000;
		u++;
	}
	if (x < 99.95)
		snprintf(buf, cap, "%.1f %s", x, unit[u]);
	else
		snprintf(buf, cap, "%.0f %s", x, unit[u]);
}

void fmt_rate(uint64_t bytes, double seconds, char *buf, size_t cap)
{
	if (seconds <= 0) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	char b[32];
	fmt_bytes((uint64_t)((double)bytes / seconds + 0.5), b, sizeof(b));
	snprintf(buf, cap, "%s/s", b);
}

void fmt_duration(double s, char *buf, size_t cap)
{
	if (s < 0)
		s = 0;
	if (s < 59.95) {
		snprintf(buf, cap, "%.1f s", s);
		return;
	}
	long long t = (long long)(s + 0.5);
	if (t < 3600)
		snprintf(buf, cap, "%lld min %02lld s", t / 60, t % 60);
	else
		snprintf(buf, cap, "%lld h %02lld min", t / 3600, t / 60 % 60);
}

int job_status_pending(const char *status)
{
	return !strcmp(status, "queued") || !strcmp(status, "running") ||
	       !strcmp(status, "deferred");
}

void progress_line(const struct progress_view *v, char *buf, size_t cap)
{
	if (!strcmp(v->status, "deferred")) {
		snprintf(buf, cap, "job %lld: deferred: %s", v->id,
		         v->reason && *v->reason ? v->reason : "waiting for its conditions");
		return;
	}
	if (!strcmp(v->status, "queued")) {
		if (v->host_offline)
			snprintf(buf, cap, "job %lld: waiting for host %s to come online", v->id,
			         v->host ? v->host : "?");
		else if (v->host)
			snprintf(buf, cap, "job %lld: queued for %s", v->id, v->host);
		else
			snprintf(buf, cap, "job %lld: queued", v->id);
		return;
	}
	/* running: redrawn with each progress report, so the time shown moves */
	char el[32] = "";
	if (v->elapsed >= 1)
		snprintf(el, sizeof(el), " (%lld s)", (long long)v->elapsed);
	char files[32], bytes[32], rate[40] = "";
	fmt_count(v->files, files, sizeof(files));
	fmt_bytes(v->bytes, bytes, sizeof(bytes));
	if (v->rate_seconds >= 0.5) {
		char r[32];
		fmt_rate(v->rate_bytes, v->rate_seconds, r, sizeof(r));
		snprintf(rate, sizeof(rate), ", %s", r);
	}
	snprintf(buf, cap, "job %lld: %s, %s files, %s%s%s", v->id, v->status, files, bytes, rate,
	         el);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int job_outcome(json_t *job, double seconds, char *buf, size_t cap)
{
	long long id = num(job, "id");
	const char *status = str(job, "status"), *err = str(job, "error");
	if (strcmp(status, "succeeded")) {
		snprintf(buf, cap, "job %lld %s%s%s", id, *status ? status : "ended", *err ? ": " : "",
		         err);
		return 1;
	}
	if (seconds < 0) {
		int64_t a, b;
		seconds = 0;
		if (!roost_time_parse(str(job, "started_at"), &a, NULL) &&
		    !roost_time_parse(str(job, "finished_at"), &b, NULL) && b >= a)
			seconds = (double)(b - a);
	}
	json_t *st = json_object_get(job, "stats");
	char files[32], bytes[32], dur[32];
	fmt_count((uint64_t)num(st, "files"), files, sizeof(files));
	fmt_bytes((uint64_t)num(st, "bytes"), bytes, sizeof(bytes));
	fmt_duration(seconds, dur, sizeof(dur));
	if (!strcmp(str(job, "kind"), "restore")) {
		json_t *p = json_object_get(job, "params");
		snprintf(buf, cap, "job %lld succeeded: restored snapshot %.8s to %s, %s files, %s in %s",
		         id, str(p, "snapshot_id"), str(p, "target"), files, bytes, dur);
	} else {
		char nb[32];
		fmt_bytes((uint64_t)num(st, "bytes_new"), nb, sizeof(nb));
		snprintf(buf, cap, "job %lld succeeded: snapshot %.8s, %s files, %s (%s new) in %s", id,
		         str(job, "snapshot_id"), files, bytes, nb, dur);
	}
	return 0;
}

/* ---- Server-Sent Events ---- */

void sse_parser_init(struct sse_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void sse_parser_release(struct sse_parser *p)
{
	free(p->line);
	free(p->data);
	memset(p, 0, sizeof(*p));
}

static int grow(char **b, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 256;
	while (nc < need)
		nc *= 2;
	char *nb = realloc(*b, nc);
	if (!nb)
		return -1;
	*b = nb;
	*cap = nc;
	return 0;
}

static void reset_event(struct sse_parser *p)
{
	p->type[0] = 0;
	p->dlen = 0;
	p->has_data = 0;
	p->skip_event = 0;
}

/* One complete line (without its end); may dispatch the event. */
static int line_done(struct sse_parser *p, int (*on_event)(void *, const char *, const char *),
                     void *ctx)
{
	if (p->skip) {
		p->skip = 0;
		p->skip_event = 1;
		p->len = 0;
		return 0;
	}
	if (grow(&p->line, &p->cap, p->len + 1))
		return -1;
	p->line[p->len] = 0;
	size_t len = p->len;
	p->len = 0;
	if (len == 0) { /* blank line: the event ends */
		int rc = 0;
		if (p->has_data && !p->skip_event) {
			if (grow(&p->data, &p->dcap, p->dlen + 1))
				return -1;
			p->data[p->dlen] = 0;
			rc = on_event(ctx, p->type[0] ? p->type : "message", p->data);
		}
		reset_event(p);
		return rc;
	}
	char *l = p->line;
	if (l[0] == ':')
		return 0;
	char *v = strchr(l, ':');
	size_t vl = 0;
	if (v) {
		*v++ = 0;
		if (*v == ' ')
			v++;
		vl = len - (size_t)(v - l);
	} else {
		v = l + len;
	}
	if (!strcmp(l, "event")) {
		snprintf(p->type, sizeof(p->type), "%s", v);
	} else if (!strcmp(l, "data")) {
		if (p->dlen + vl + 2 > SSE_LINE_MAX) {
			p->skip_event = 1;
			return 0;
		}
		if (grow(&p->data, &p->dcap, p->dlen + vl + 2))
			return -1;
		if (p->has_data)
			p->data[p->dlen++] = '\n';
		memcpy(p->data + p->dlen, v, vl);
		p->dlen += vl;
		p->has_data = 1;
	}
	return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *s, size_t n,
                    int (*on_event)(void *ctx, const char *type, const char *data), void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\n' && p->cr) { /* the second half of "\r\n" */
			p->cr = 0;
			continue;
		}
		p->cr = c == '\r';
		if (c == '\r' || c == '\n') {
			int rc = line_done(p, on_event, ctx);
			if (rc)
				return rc;
			continue;
		}
		if (p->skip)
			continue;
		if (p->len + 1 >= SSE_LINE_MAX) {
			p->skip = 1;
			p->len = 0;
			continue;
		}
		if (p->len + 1 >= p->cap && grow(&p->line, &p->cap, p->len + 2))
			return -1;
		p->line[p->len++] = c;
	}
	return 0;
}
