/* SPDX-License-Identifier: MIT */
/*
 * `roost events` and `roost webhook ...` (DESIGN.md, "Health, events,
 * notifications, metrics"), and how the host commands show health.
 *
 *   roost events [--after ID] [--limit N] [--follow]
 *   roost webhook add URL --event TYPE... [--format F] | list | remove ID | test ID
 *
 * --follow asks for what is new once a second until interrupted (the server's
 * live stream, /v1/events/stream, is the dashboard's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

void health_why(json_t *h, char *buf, size_t cap)
{
	json_t *r = json_object_get(h, "health_reason");
	const char *state = jstr(h, "health");
	if (!json_is_object(r)) {
		snprintf(buf, cap, "%s", state);
		return;
	}
	const char *why = jstr(r, "why");
	if (!strcmp(why, "overdue"))
		snprintf(buf, cap, "overdue: schedule %s, group %s missed %s, since %s", jstr(r, "schedule"),
		         jstr(r, "group"), jstr(r, "missed_at"), jstr(r, "since"));
	else if (!strcmp(why, "unseen"))
		snprintf(buf, cap, "unseen: last seen %s, since %s", jstr(r, "last_seen_at"),
		         jstr(r, "since"));
	else if (!strcmp(why, "failing"))
		snprintf(buf, cap, "failing: %lld backups failed in a row, since %s",
		         jint(r, "failed_in_a_row"), jstr(r, "since"));
	else
		snprintf(buf, cap, "%s (since %s)", why, jstr(r, "since"));
}

void print_backups(json_t *h)
{
	json_t *b = json_object_get(h, "backups");
	if (!json_array_size(b))
		return;
	printf("backups:\n  %-20s %-20s %-21s %-21s %s\n", "SCHEDULE", "GROUP", "LAST_SUCCESS",
	       "NEXT_DUE", "OVERDUE");
	size_t i;
	json_t *p;
	json_array_foreach(b, i, p)
		printf("  %-20s %-20s %-21s %-21s %s\n", jstr(p, "schedule"), jstr(p, "group"),
		       jstr(p, "last_success_at"), jstr(p, "next_due_at"), jstr(p, "overdue"));
}

static void print_event(json_t *e)
{
	json_t *h = json_object_get(e, "host"), *j = json_object_get(e, "job");
	char *data = json_object_size(json_object_get(e, "data"))
	                     ? json_dumps(json_object_get(e, "data"), JSON_COMPACT)
	                     : NULL;
	printf("%-6lld %-21s %-20s %-16s", jint(e, "id"), jstr(e, "at"), jstr(e, "type"),
	       json_is_object(h) ? jstr(h, "name") : "-");
	if (json_is_object(j))
		printf(" job %lld %s%s%s", jint(j, "id"), jstr(j, "status"),
		       json_is_string(json_object_get(j, "error")) ? ": " : "",
		       json_is_string(json_object_get(j, "error")) ? jstr(j, "error") : "");
	if (data)
		printf(" %s", data);
	printf("\n");
	free(data);
}

int events_cmd(struct api *a, struct aopts *o)
{
	if (o->npos)
		return cli_fail(EXIT_USAGE, "usage: roost events [--after ID] [--limit N] [--follow]");
	long long after = 0;
	char *e;
	if (o->after && ((after = strtoll(o->after, &e, 10)) < 0 || *e || !*o->after))
		return cli_fail(EXIT_USAGE, "--after: an event id");
	const char *limit = o->limit ? o->limit : "100";
	int header = 0;
	for (;;) {
		char path[128];
		json_t *r;
		int rc;
		snprintf(path, sizeof(path), "/v1/events?after=%lld&limit=%s", after, limit);
		if ((rc = call(a, "GET", path, NULL, &r)))
			return rc;
		size_t i;
		json_t *ev;
		json_array_foreach(r, i, ev)
		{
			if (a->json) {
				char *s = json_dumps(ev, JSON_COMPACT);
				puts(s ? s : "{}");
				free(s);
			} else {
				if (!header++)
					printf("ID     AT                    TYPE                 HOST\n");
				print_event(ev);
			}
			after = jint(ev, "id");
		}
		size_t n = json_array_size(r);
		json_decref(r);
		fflush(stdout);
		if (!o->follow)
			return 0;
		if (n == 0)
			sleep(1);
	}
}

int webhook_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r;
	int rc;
	if (!strcmp(verb, "add")) {
		if ((rc = need(o, 2, "webhook add URL --event TYPE... [--format F]")))
			return rc;
		if (!o->nevents)
			return cli_fail(EXIT_USAGE, "webhook add: at least one --event TYPE ('*' for all)");
		json_t *b = json_pack("{s:s, s:o}", "url", o->pos[1], "events",
		                      strarr(o->events, o->nevents));
		if (o->format)
			json_object_set_new(b, "format", json_string(o->format));
		if ((rc = call(a, "POST", "/v1/webhooks", b, &r)))
			return rc;
		show(a, r, "webhook %lld: %s\nsecret: %s\n(shown once: keep it to verify signatures)\n",
		     jint(r, "id"), jstr(r, "url"), jstr(r, "secret"));
	} else if (!strcmp(verb, "list")) {
		if ((rc = need(o, 1, "webhook list")) || (rc = call(a, "GET", "/v1/webhooks", NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			printf("ID    FORMAT        DELIVERED_UPTO  URL  EVENTS\n");
			size_t i;
			json_t *w;
			json_array_foreach(r, i, w)
			{
				char *ev = json_dumps(json_object_get(w, "events"), JSON_COMPACT);
				printf("%-5lld %-13s %-15lld %s %s\n", jint(w, "id"), jstr(w, "format"),
				       jint(w, "cursor"), jstr(w, "url"), ev ? ev : "");
				free(ev);
			}
		}
	} else if (!strcmp(verb, "remove") || !strcmp(verb, "test")) {
		int test = !strcmp(verb, "test");
		if ((rc = need(o, 2, test ? "webhook test ID" : "webhook remove ID")))
			return rc;
		char *e;
		long long id = strtoll(o->pos[1], &e, 10);
		if (*e || id <= 0)
			return cli_fail(EXIT_USAGE, "webhook %s: ID is a number", verb);
		char path[96];
		snprintf(path, sizeof(path), "/v1/webhooks/%lld%s", id, test ? "/test" : "");
		if ((rc = call(a, test ? "POST" : "DELETE", path, NULL, &r)))
			return rc;
		if (test)
			show(a, r, "test event %lld queued for webhook %lld\n", jint(r, "event_id"), id);
		else
			show(a, r, "webhook %lld removed\n", id);
	} else {
		return cli_fail(EXIT_USAGE, "usage: roost webhook add URL --event TYPE... | list | "
		                            "remove ID | test ID");
	}
	json_decref(r);
	return 0;
}
