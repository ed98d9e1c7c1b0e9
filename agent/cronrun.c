/* SPDX-License-Identifier: MIT */
/*
 * The agent's local cron (DESIGN.md, "Scheduling semantics"): from the
 * schedules in the config and the clock it is handed, decides which slot of
 * which schedule fires, persists cursors (cursor.json) and fires
 * (fires.json) so a restart neither loses nor repeats one, and hands each
 * fire to a sink (the connection). It never reads the clock itself: every
 * decision takes `now`, which is what tests/unit/test_cronrun.c drives.
 * Main thread only; the rules are spelled out in agent.h.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "roost/cron.h"
#include "roost/log.h"
#include "roost/timeutil.h"

#define FIRES_KEEP 200
#define FIRES_MAX_AGE (7 * 86400)

struct sched_rt {
	int64_t id;
	struct cron *cron; /* never NULL for the first nscheds entries */
	int enabled;       /* enabled and with at least one group */
};

struct cronrun {
	const char *state; /* the state directory (borrowed) */
	char tz[64];       /* the host's zone, "" for UTC */
	int intermittent;  /* the config's mode */
	struct sched_rt *scheds;
	size_t nscheds;
	json_t *cursor; /* {"<schedule id>": seconds}, every loaded schedule has one */
	json_t *fires;  /* [{schedule_id, slot}], oldest first */
};

static void free_scheds(struct cronrun *cr)
{
	for (size_t i = 0; i < cr->nscheds; i++)
		cron_free(cr->scheds[i].cron);
	free(cr->scheds);
	cr->scheds = NULL;
	cr->nscheds = 0;
}

void cronrun_load(struct cronrun *cr, const json_t *config, int64_t now)
{
	free_scheds(cr);
	cr->intermittent = msg_config_intermittent(config);
	json_t *arr = msg_config_schedules(config);
	cr->scheds = calloc(json_array_size(arr) + 1, sizeof(*cr->scheds));
	if (!cr->scheds)
		return;
	size_t i;
	json_t *s;
	json_array_foreach(arr, i, s) {
		struct sched_rt *r = &cr->scheds[cr->nscheds];
		const char *expr;
		msg_schedule_read(s, &r->id, &r->enabled, &expr);
		struct roost_errbuf eb = {{0}};
		if (!expr || cron_parse(expr, cr->tz[0] ? cr->tz : NULL, &r->cron, &eb)) {
			log_warn("cron.invalid", "schedule=%lld msg=%s", (long long)r->id, roost_lq(eb.msg));
			continue;
		}
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)r->id);
		if (!json_object_get(cr->cursor, key))
			json_object_set_new(cr->cursor, key, json_integer(now));
		cr->nscheds++;
	}
	state_write(cr->state, "cursor.json", cr->cursor);
}

struct cronrun *cronrun_open(const char *state, const char *tz, const json_t *config,
                             int64_t now)
{
	struct cronrun *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return NULL;
	cr->state = state;
	snprintf(cr->tz, sizeof(cr->tz), "%s", tz ? tz : "");
	cr->cursor = state_read(state, "cursor.json");
	if (!json_is_object(cr->cursor)) {
		json_decref(cr->cursor);
		cr->cursor = json_object();
	}
	cr->fires = state_read(state, "fires.json");
	if (!json_is_array(cr->fires)) {
		json_decref(cr->fires);
		cr->fires = json_array();
	}
	if (!cr->cursor || !cr->fires) {
		cronrun_free(cr);
		return NULL;
	}
	if (msg_config_intermittent(config)) {
		/* a laptop that was off missed its windows: the server catches them up */
		const char *k;
		json_t *v;
		json_object_foreach(cr->cursor, k, v) json_object_set_new(cr->cursor, k,
		                                                          json_integer(now));
	}
	cronrun_load(cr, config, now);
	return cr;
}

void cronrun_free(struct cronrun *cr)
{
	if (!cr)
		return;
	free_scheds(cr);
	json_decref(cr->cursor);
	json_decref(cr->fires);
	free(cr);
}

json_t *cronrun_fires(const struct cronrun *cr)
{
	return cr->fires;
}

static void prune_fires(struct cronrun *cr, int64_t now)
{
	while (json_array_size(cr->fires) > FIRES_KEEP)
		json_array_remove(cr->fires, 0);
	for (size_t i = 0; i < json_array_size(cr->fires);) {
		if (now - msg_hello_fire_slot(json_array_get(cr->fires, i)) > FIRES_MAX_AGE)
			json_array_remove(cr->fires, i);
		else
			i++;
	}
}

void cronrun_tick(struct cronrun *cr, int64_t now, cronrun_fire_fn fire, void *ctx)
{
	int changed = 0;
	for (size_t i = 0; i < cr->nscheds; i++) {
		struct sched_rt *r = &cr->scheds[i];
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)r->id);
		int64_t cur = json_integer_value(json_object_get(cr->cursor, key));
		if (cur >= now)
			continue;
		/* the latest slot in (cur, now]: missed slots coalesce into one fire */
		int64_t slot = 0, t = cur, n;
		int k = 0;
		while (k++ < 100000 && cron_next(r->cron, t, &n) == ROOST_OK && n <= now)
			slot = t = n;
		json_object_set_new(cr->cursor, key, json_integer(now));
		if (!slot || !r->enabled)
			continue;
		changed = 1;
		/* an intermittent host that slept through its window leaves it to catch-up */
		if (cr->intermittent && now - slot > CRONRUN_LATE_S) {
			log_info("fire.skipped", "schedule=%lld why=\"slept through the window; the "
			                         "server catches up\"", (long long)r->id);
			continue;
		}
		char sb[40];
		roost_time_format(slot, sb, sizeof(sb));
		json_array_append_new(cr->fires, msg_hello_fire(r->id, sb));
		prune_fires(cr, now);
		state_write(cr->state, "fires.json", cr->fires);
		int sent = fire ? fire(ctx, r->id, sb) : 0;
		log_info("fire", "schedule=%lld slot=%s sent=%s", (long long)r->id, sb,
		         sent ? "yes" : "later(persisted)");
	}
	if (changed)
		state_write(cr->state, "cursor.json", cr->cursor);
}
