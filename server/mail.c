/* SPDX-License-Identifier: MIT */
/*
 * A notification mail: one per host per batch (a digest when many events
 * arrive together), plain text, UTF-8, lines CRLF as SMTP wants them. Header
 * values come from roostd's own data (host names are validated at enrollment,
 * event types are ours); anything else is in the body only, with CR and LF of
 * error messages flattened so nothing can end a header or the message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail.h"

struct text {
	char *s;
	size_t len, cap;
	int oom;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	for (int i = 0; i < n; i++) /* a value never ends a line of its own */
		if (line[i] == '\r' || line[i] == '\n')
			line[i] = ' ';
	if (t->len + (size_t)n + 3 > t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 4096;
		while (nc < t->len + (size_t)n + 3)
			nc *= 2;
		char *s = realloc(t->s, nc);
		if (!s) {
			t->oom = 1;
			return;
		}
		t->s = s;
		t->cap = nc;
	}
	memcpy(t->s + t->len, line, (size_t)n);
	t->len += (size_t)n;
	memcpy(t->s + t->len, "\r\n", 3);
	t->len += 2;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

char *mail_compose(const char *from, const char *to, const json_t *events, int64_t now)
{
	struct text t = {0};
	size_t n = json_array_size(events);
	const json_t *first = json_array_get(events, 0);
	const char *host = json_string_value(json_object_get(json_object_get(first, "host"), "name"));
	if (!host)
		host = "fleet";
	char subject[512], date[64];
	if (n == 1) {
		snprintf(subject, sizeof(subject), "[roost] %s: %s", host, str(first, "type"));
	} else {
		size_t k = (size_t)snprintf(subject, sizeof(subject), "[roost] %s: %zu events (", host, n);
		for (size_t i = 0; i < n && k < sizeof(subject) - 64; i++) {
			const char *ty = str(json_array_get(events, i), "type");
			int seen = 0;
			for (size_t j = 0; j < i; j++)
				seen |= !strcmp(ty, str(json_array_get(events, j), "type"));
			if (!seen)
				k += (size_t)snprintf(subject + k, sizeof(subject) - k, "%s%s",
				                      subject[k - 1] == '(' ? "" : ", ", ty);
		}
		snprintf(subject + k, sizeof(subject) - k, ")");
	}
	time_t tt = (time_t)now;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	add(&t, "Date: %s", date);
	add(&t, "From: %s", from);
	add(&t, "To: %s", to);
	add(&t, "Subject: %s", subject);
	add(&t, "Message-ID: <roost.%lld.%lld@%s>", (long long)now,
	    (long long)json_integer_value(json_object_get(first, "id")), "roostd");
	add(&t, "MIME-Version: 1.0");
	add(&t, "Content-Type: text/plain; charset=utf-8");
	add(&t, "Content-Transfer-Encoding: 8bit");
	add(&t, "%s", "");
	add(&t, "roost: %zu event%s on %s", n, n == 1 ? "" : "s", host);
	add(&t, "%s", "");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(events, i);
		const json_t *job = json_object_get(e, "job"), *data = json_object_get(e, "data");
		add(&t, "%s  %s  (event %lld)", str(e, "at"), str(e, "type"),
		    (long long)json_integer_value(json_object_get(e, "id")));
		if (json_is_object(job))
			add(&t, "    job %lld: %s %s, %s%s%s",
			    (long long)json_integer_value(json_object_get(job, "id")), str(job, "kind"),
			    str(job, "trigger"), str(job, "status"),
			    json_is_string(json_object_get(job, "error")) ? ": " : "",
			    json_is_string(json_object_get(job, "error")) ? str(job, "error") : "");
		if (json_object_size(data)) {
			char *d = json_dumps(data, JSON_COMPACT);
			add(&t, "    %s", d ? d : "");
			free(d);
		}
	}
	/* a line of a lone "." would end the message early: libcurl escapes it (dot-stuffing) */
	if (t.oom) {
		free(t.s);
		return NULL;
	}
	return t.s;
}
