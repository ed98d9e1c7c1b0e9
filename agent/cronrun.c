/* SPDX-License-Identifier: MIT */
/*
 * The agent's local cron (DESIGN.md, "Scheduling semantics"): from the
 * schedules in the config and the clock it is handed, decides which slot of
 * which schedule fires, persists cursors (cursor.json) and fires
 * (fires.json) so a restart neither loses nor repeats one, and hands each
 * fire to a sink (the connection). It never reads the clock itself: every
 * decision takes `now`, which is what tests/unit/test_cronrun.c drives.
 * Main thread only; the rules are spelled out in agent.h. fires.json holds
 * the fires as a hello carries them (lib/proto's fire entries).
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
	struct proto_fire fires[FIRES_KEEP]; /* oldest first */
	size_t nfires;
};

static void free_scheds(struct cronrun *cr)
{
	for (size_t i = 0; i < cr->nscheds; i++)
		cron_free(cr->scheds[i].cron);
	free(cr->scheds);
	cr->scheds = NULL;
	cr->nscheds = 0;
}

static int intermittent(const struct proto_config *config)
{
	return !strcmp(config->mode, "intermittent");
}

void cronrun_load(struct cronrun *cr, const struct proto_config *config, int64_t now)
{
	free_scheds(cr);
	cr->intermittent = intermittent(config);
	cr->scheds = calloc(config->nschedules + 1, sizeof(*cr->scheds));
	if (!cr->scheds)
		return;
	for (size_t i = 0; i < config->nschedules; i++) {
		const struct proto_schedule *s = &config->schedules[i];
		struct sched_rt *r = &cr->scheds[cr->nscheds];
		r->id = s->id;
		r->enabled = s->enabled && s->ngroup_ids > 0;
		struct roost_errbuf eb = {{0}};
		if (cron_parse(s->cron, cr->tz[0] ? cr->tz : NULL, &r->cron, &eb)) {
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

/* fires.json; an entry lib/proto refuses is dropped. */
static void load_fires(struct cronrun *cr)
{
	json_t *arr = state_read(cr->state, "fires.json");
	size_t n = json_array_size(arr);
	for (size_t i = n > FIRES_KEEP ? n - FIRES_KEEP : 0; i < n; i++) {
		struct roost_errbuf eb = {{0}};
		if (proto_decode_fire_entry(json_array_get(arr, i), &cr->fires[cr->nfires], &eb))
			log_warn("agent.state", "file=fires.json entry=%zu msg=%s why=dropped", i,
			         roost_lq(eb.msg));
		else
			cr->nfires++;
	}
	json_decref(arr);
}

static void save_fires(struct cronrun *cr)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < cr->nfires; i++) {
		json_t *f;
		struct roost_errbuf eb = {{0}};
		if (proto_encode_fire_entry(&cr->fires[i], &f, &eb)) {
			log_error("agent.encode", "type=fire msg=%s", roost_lq(eb.msg));
			continue;
		}
		json_array_append_new(arr, f);
	}
	if (!arr || state_write(cr->state, "fires.json", arr))
		log_error("agent.state", "file=fires.json msg=\"could not write\"");
	json_decref(arr);
}

struct cronrun *cronrun_open(const char *state, const char *tz,
                             const struct proto_config *config, int64_t now)
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
	if (!cr->cursor) {
		cronrun_free(cr);
		return NULL;
	}
	load_fires(cr);
	if (intermittent(config)) {
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
	free(cr);
}

const struct proto_fire *cronrun_fires(const struct cronrun *cr, size_t *n)
{
	*n = cr->nfires;
	return cr->fires;
}

/* Appends f, then drops the oldest beyond FIRES_KEEP and those older than FIRES_MAX_AGE. */
static void add_fire(struct cronrun *cr, const struct proto_fire *f, int64_t now)
{
	if (cr->nfires >= FIRES_KEEP) {
		memmove(cr->fires, cr->fires + 1, (cr->nfires - 1) * sizeof(cr->fires[0]));
		cr->nfires--;
	}
	cr->fires[cr->nfires++] = *f;
	size_t k = 0;
	for (size_t i = 0; i < cr->nfires; i++)
		if (now - cr->fires[i].slot <= FIRES_MAX_AGE)
			cr->fires[k++] = cr->fires[i];
	cr->nfires = k;
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
		struct proto_fire f = {.schedule_id = r->id, .slot = slot};
		add_fire(cr, &f, now);
		save_fires(cr);
		int sent = fire ? fire(ctx, &f) : 0;
		log_info("fire", "schedule=%lld slot=%s sent=%s", (long long)r->id, sb,
		         sent ? "yes" : "later(persisted)");
	}
	if (changed)
		state_write(cr->state, "cursor.json", cr->cursor);
}
