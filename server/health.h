/* SPDX-License-Identifier: MIT */
/*
 * A host's health (server/health.c): ok | never | overdue | unseen | failing,
 * by the scheduler's own rules made availability-aware (DESIGN.md, "Health,
 * events, notifications, metrics"). The rule is pure, time passed in
 * (health_eval); health_of gathers the facts from the store and presence.
 * Event-loop thread only.
 */
#ifndef ROOSTD_HEALTH_H
#define ROOSTD_HEALTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum health {
	HEALTH_OK = 0,
	HEALTH_NEVER,   /* never backed up, and no window missed yet */
	HEALTH_OVERDUE, /* a (schedule, group) window passed without a success, with the chance to run */
	HEALTH_UNSEEN,  /* no connection for unseen_after */
	HEALTH_FAILING, /* its last 3 backups failed */
};

/* One (schedule, group) of an enabled schedule. */
struct health_pair {
	int64_t schedule_id, group_id;
	const char *schedule, *group; /* names (not owned) */
	int64_t last_success;  /* start of its last successful backup; 0: never */
	int64_t missed;        /* the first window after the last success (or after the
	                        * schedule was made) if it has passed; 0: none missed */
	int64_t online_s;      /* intermittent: seconds online since `missed` */
	int overdue;           /* the rule's verdict (health_eval fills it) */
};

struct health_facts {
	int64_t now;
	int intermittent;
	int online;
	int64_t created_at;     /* the host's enrollment */
	int64_t last_seen;      /* last heard from; 0: never */
	int64_t last_backup;    /* last successful backup; 0: never */
	int failed_streak;      /* its newest backups that failed in a row (succeeded ones end it) */
	int64_t failing_since;  /* when the third of them ended */
	struct health_pair *pairs;
	size_t npairs;
	/* its oldest deferred job (docs/policies.md): created at; 0 none */
	int64_t deferred_since;
	int64_t deferred_job;
	const char *deferred_reason; /* its error: why it waits (not owned) */
	int64_t grace_s, unseen_after_s;
};

struct health_verdict {
	enum health state;
	const struct health_pair *pair; /* overdue: the first such pair */
	int64_t since;                  /* when the state began, as far as the rule knows; 0 unknown */
};

#define HEALTH_FAILING_STREAK 3
/* A deferred job this old makes its host overdue. */
#define HEALTH_DEFERRED_MAX_S 86400

/* The rule. Precedence: unseen, failing, overdue, never, ok. A pair is
 * overdue when its missed window is grace_s behind (always-on), or the host
 * has been online grace_s in total since it (intermittent); the host is also
 * overdue when a deferred job has waited HEALTH_DEFERRED_MAX_S. Sets each
 * pair's `overdue`. */
enum health health_eval(struct health_facts *f, struct health_verdict *v);
const char *health_name(enum health h);
/* The name's state, or -1. */
int health_parse(const char *name);

/* The host's health now. With detail, *detail gets (new reference)
 * {health_reason: {...} | null, backups: [{schedule_id, schedule, group_id, group,
 * last_success_at, missed_at, next_due_at, overdue}]}. -1 if there is no such host. */
int health_of(int64_t host_id, int64_t now, struct health_verdict *v, json_t **detail);

#endif
