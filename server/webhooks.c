/* SPDX-License-Identifier: MIT */
/*
 * Deliveries of the event log to webhooks and mail (DESIGN.md, "Health,
 * events, notifications, metrics").
 *
 * The queue: each subscription (a row of `webhooks`) has a cursor, the id
 * of the newest event it is done with; its queue is every later event of
 * the log that it subscribes to. So the event loop pays one insert per event
 * whatever the number of subscriptions, the queue survives restarts by
 * construction, and an event is delivered until acknowledged (2xx, or the
 * SMTP server's acceptance): at least once, in order. The cursor is saved
 * when the queue empties and at least every SAVE_S while it drains, and on
 * stop; after a crash the few events since are delivered again with the same
 * webhook-id, which is what receivers deduplicate by.
 *
 * Retries: exponential backoff (1 s doubling, at most 1 h, with jitter) for
 * retry_for_s (24 h) after the event, then the event is dropped. Bounds: a
 * failing subscription's queue longer than queue_max loses its oldest; both
 * drops are announced as a "webhook.dropped" event, handed to the event loop.
 *
 * Several instances over one store (docs/scale-out.md 2.7): the thread
 * delivers only while this instance holds the lease `webhooks`; taking it
 * (a new epoch) it loads every subscription afresh from the saved cursors,
 * and its cursor writes carry the epoch, so an instance that lost the lease
 * can not move a cursor. Losing it, it drops its subscriptions (deliveries
 * in flight end as they may: a new holder delivers again from the saved
 * cursor, at least once).
 *
 * Formats: standard (Standard Webhooks: the event JSON, signed), ntfy (a text
 * line, Title and Tags headers), healthchecks (the event JSON POSTed to the
 * URL, or URL/fail for bad news), and mailto:ADDR (mail through --smtp; the
 * events waiting together, up to MAIL_BATCH, become one digest per host).
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "instances.h"
#include "leases.h"
#include "mail.h"
#include "roost/log.h"
#include "roostd.h"
#include "webhooks.h"
#include "whsign.h"

#define PREFETCH 64      /* events of one subscription read ahead */
#define SCAN 512         /* log rows looked at per read */
#define MAIL_BATCH 100   /* events in one round of mail */
#define SAVE_S 1
#define BACKOFF_MAX_S 3600
#define RELOAD_S 5

enum fmt { FMT_STANDARD, FMT_NTFY, FMT_HEALTHCHECKS, FMT_MAIL };

struct ev {
	int64_t id, at, host_id;
	char *type, *body;
};

struct hook {
	int64_t id;
	char *url;
	enum fmt fmt;
	char **types;
	size_t ntypes;
	int all;
	uint8_t key[WHSIGN_KEY_MAX];
	int klen;
	int64_t cursor, saved, saved_at;
	struct ev pre[PREFETCH]; /* matching events after the cursor, in order */
	size_t npre;
	int64_t scanned;         /* the log is read up to here for pre */
	/* the delivery under way: standard/ntfy/healthchecks pre[0]; mail: mails */
	char **mails;
	size_t nmails, mail_i;
	int64_t batch_last, batch_at;
	int attempts;
	int64_t next_at;
	CURL *easy;
	struct curl_slist *hdrs;
	char *payload;
	size_t plen, poff;
	int keep; /* reload: still in the store */
};

static struct notify_config cfg;
static pthread_t th;
static int running;
static atomic_int stopping, reload_wanted = 1; /* set by the event loop, read by the thread */
static CURLM *multi;
static struct store *db; /* the thread's own connection */
static struct hook **hooks;
static size_t nhooks;

/* webhook.dropped notices for the event loop */
struct notice {
	struct notice *next;
	int64_t webhook_id, dropped, first, last;
	char url[256], why[96];
};
/* several instances: the lease this thread delivers under */
static struct lease lease = {.name = "webhooks"};
static int64_t lease_me;        /* the instance id it was taken for */
static int64_t loaded_epoch;    /* subscriptions loaded under this epoch */
static int64_t lease_tried_ms;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct notice *notices;
static lws_sorted_usec_list_t sul_notices;

int webhooks_mail_configured(void)
{
	return cfg.smtp_url && cfg.smtp_from;
}

void webhooks_changed(void)
{
	atomic_store(&reload_wanted, 1);
	if (multi)
		curl_multi_wakeup(multi);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void notice(const struct hook *h, int64_t dropped, int64_t first, int64_t last,
                   const char *why)
{
	struct notice *n = calloc(1, sizeof(*n));
	if (!n)
		return;
	n->webhook_id = h->id;
	n->dropped = dropped;
	n->first = first;
	n->last = last;
	snprintf(n->url, sizeof(n->url), "%s", h->url);
	snprintf(n->why, sizeof(n->why), "%s", why);
	pthread_mutex_lock(&mu);
	n->next = notices;
	notices = n;
	pthread_mutex_unlock(&mu);
	log_warn("webhook.dropped", "webhook=%lld events=%lld first=%lld last=%lld why=%s",
	         (long long)h->id, (long long)dropped, (long long)first, (long long)last,
	         roost_lq(why));
}

/* event loop: the notices become events */
static void notices_cb(lws_sorted_usec_list_t *sul)
{
	pthread_mutex_lock(&mu);
	struct notice *n = notices;
	notices = NULL;
	pthread_mutex_unlock(&mu);
	while (n) {
		struct notice *next = n->next;
		events_emit("webhook.dropped", 0, 0,
		            json_pack("{s:I, s:s, s:I, s:I, s:I, s:s}", "webhook_id",
		                      (json_int_t)n->webhook_id, "url", n->url, "dropped",
		                      (json_int_t)n->dropped, "first_event_id", (json_int_t)n->first,
		                      "last_event_id", (json_int_t)n->last, "why", n->why));
		free(n);
		n = next;
	}
	lws_sul_schedule(g_srv->lws, 0, sul, notices_cb, LWS_US_PER_SEC);
}

/* ---- subscriptions ---- */

static void ev_clear(struct ev *e)
{
	free(e->type);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

static void pre_clear(struct hook *h)
{
	for (size_t i = 0; i < h->npre; i++)
		ev_clear(&h->pre[i]);
	h->npre = 0;
	h->scanned = h->cursor;
}

static void delivery_clear(struct hook *h)
{
	if (h->easy) {
		curl_multi_remove_handle(multi, h->easy);
		curl_easy_cleanup(h->easy);
		h->easy = NULL;
	}
	curl_slist_free_all(h->hdrs);
	h->hdrs = NULL;
	free(h->payload);
	h->payload = NULL;
	h->plen = h->poff = 0;
}

static void mails_clear(struct hook *h)
{
	for (size_t i = 0; i < h->nmails; i++)
		free(h->mails[i]);
	free(h->mails);
	h->mails = NULL;
	h->nmails = h->mail_i = 0;
}

static void hook_free(struct hook *h)
{
	delivery_clear(h);
	mails_clear(h);
	pre_clear(h);
	for (size_t i = 0; i < h->ntypes; i++)
		free(h->types[i]);
	free(h->types);
	free(h->url);
	sodium_memzero(h->key, sizeof(h->key));
	free(h);
}

static void save_cursor(struct hook *h, int force)
{
	if (h->cursor == h->saved || (!force && now_s() - h->saved_at < SAVE_S && h->npre))
		return;
	struct db_stmt *st =
		cfg.shared ? store_prepare(db, "UPDATE webhooks SET cursor=? WHERE id=? AND cursor < ? "
		                             "AND (SELECT epoch FROM leases WHERE name='webhooks' AND "
		                             "holder=?) = ?")
		         : store_prepare(db, "UPDATE webhooks SET cursor=? WHERE id=? AND cursor < ?");
	if (!st)
		return;
	db_bind_int(st, 1, h->cursor);
	db_bind_int(st, 2, h->id);
	db_bind_int(st, 3, h->cursor);
	if (cfg.shared) { /* fenced: only under the lease it delivers under */
		db_bind_int(st, 4, lease_me);
		db_bind_int(st, 5, lease.epoch);
	}
	if (db_step(st) == DB_DONE) {
		h->saved = h->cursor;
		h->saved_at = now_s();
	}
	db_finalize(st);
}

static struct hook *find(int64_t id)
{
	for (size_t i = 0; i < nhooks; i++)
		if (hooks[i]->id == id)
			return hooks[i];
	return NULL;
}

static void reload(void)
{
	struct db_stmt *st = store_prepare(db, "SELECT id, url, events, secret, format, cursor "
	                                       "FROM webhooks ORDER BY id");
	if (!st)
		return;
	for (size_t i = 0; i < nhooks; i++)
		hooks[i]->keep = 0;
	while (db_step(st) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		struct hook *h = find(id);
		if (h) {
			h->keep = 1;
			continue;
		}
		struct hook **nh = realloc(hooks, (nhooks + 1) * sizeof(*nh));
		h = calloc(1, sizeof(*h));
		if (!nh || !h) {
			free(h);
			if (nh)
				hooks = nh;
			break;
		}
		hooks = nh;
		h->id = id;
		h->keep = 1;
		h->url = strdup(db_col_text(st, 1));
		const char *f = db_col_text(st, 4);
		h->fmt = !strncmp(h->url, "mailto:", 7) ? FMT_MAIL
		         : !strcmp(f, "ntfy")           ? FMT_NTFY
		         : !strcmp(f, "healthchecks")   ? FMT_HEALTHCHECKS
		                                        : FMT_STANDARD;
		json_t *types = json_loads(db_col_text(st, 2), 0, NULL);
		size_t i;
		json_t *t;
		h->types = calloc(json_array_size(types) + 1, sizeof(char *));
		json_array_foreach(types, i, t)
		{
			if (!strcmp(json_string_value(t), "*"))
				h->all = 1;
			else if (h->types)
				h->types[h->ntypes++] = strdup(json_string_value(t));
		}
		json_decref(types);
		h->klen = whsign_key(db_col_text(st, 3), h->key);
		h->cursor = h->saved = h->scanned = db_col_int(st, 5);
		hooks[nhooks++] = h;
		log_info("webhook.loaded", "webhook=%lld cursor=%lld", (long long)id,
		         (long long)h->cursor);
	}
	db_finalize(st);
	size_t k = 0;
	for (size_t i = 0; i < nhooks; i++) {
		if (hooks[i]->keep)
			hooks[k++] = hooks[i];
		else
			hook_free(hooks[i]);
	}
	nhooks = k;
}

static int matches(const struct hook *h, const char *type, const char *body)
{
	if (!strcmp(type, "webhook.test")) {
		/* only to the subscription it tests */
		json_t *e = json_loads(body, 0, NULL);
		int64_t id = json_integer_value(json_object_get(json_object_get(e, "data"), "webhook_id"));
		json_decref(e);
		return id == h->id;
	}
	if (h->all)
		return 1;
	for (size_t i = 0; i < h->ntypes; i++)
		if (h->types[i] && !strcmp(h->types[i], type))
			return 1;
	return 0;
}

/* Reads ahead: matching events after h->scanned into pre. */
static void prefetch(struct hook *h)
{
	if (h->npre == PREFETCH)
		return;
	struct db_stmt *st = store_prepare(db, "SELECT id, at, COALESCE(host_id, 0), type, body "
	                                       "FROM events WHERE id > ? ORDER BY id LIMIT ?");
	if (!st)
		return;
	db_bind_int(st, 1, h->scanned);
	db_bind_int(st, 2, SCAN);
	while (h->npre < PREFETCH && db_step(st) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		const char *type = db_col_text(st, 3);
		const char *body = db_col_text(st, 4);
		h->scanned = id;
		if (!matches(h, type, body))
			continue;
		struct ev *e = &h->pre[h->npre++];
		e->id = id;
		e->at = db_col_int(st, 1);
		e->host_id = db_col_int(st, 2);
		e->type = strdup(type);
		e->body = strdup(body);
	}
	db_finalize(st);
	/* nothing of its own in what was read: the cursor moves past it */
	if (!h->npre && h->scanned > h->cursor && !h->nmails)
		h->cursor = h->scanned;
}

/* Done with pre[0..n): the cursor moves past them (and past what was scanned
 * without a match when the prefetch is empty). */
static void consume(struct hook *h, size_t n)
{
	if (!n)
		return;
	h->cursor = h->pre[n - 1].id;
	for (size_t i = 0; i < n; i++)
		ev_clear(&h->pre[i]);
	memmove(h->pre, h->pre + n, (h->npre - n) * sizeof(h->pre[0]));
	memset(h->pre + h->npre - n, 0, n * sizeof(h->pre[0]));
	h->npre -= n;
	if (!h->npre)
		h->cursor = h->scanned;
}

/* A failing subscription's queue beyond queue_max: its oldest go. */
static void enforce_bound(struct hook *h)
{
	struct db_stmt *st =
		store_prepare(db, "SELECT id, type, body FROM events WHERE id > ? ORDER BY id");
	if (!st)
		return;
	db_bind_int(st, 1, h->cursor);
	int64_t n = 0, *ids = NULL, cap = 0;
	while (db_step(st) == DB_ROW) {
		if (!matches(h, db_col_text(st, 1),
		             db_col_text(st, 2)))
			continue;
		if (n == cap) {
			int64_t nc = cap ? cap * 2 : 1024;
			int64_t *ni = realloc(ids, (size_t)nc * sizeof(*ni));
			if (!ni)
				break;
			ids = ni;
			cap = nc;
		}
		ids[n++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (n > cfg.queue_max) {
		int64_t drop = n - cfg.queue_max;
		notice(h, drop, ids[0], ids[drop - 1], "the subscription's queue was full");
		delivery_clear(h);
		mails_clear(h);
		pre_clear(h);
		h->cursor = h->scanned = ids[drop - 1];
		h->attempts = 0;
		h->next_at = 0;
		save_cursor(h, 1);
	}
	free(ids);
}

/* ---- one delivery ---- */

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct hook *h = arg;
	size_t n = size * nitems, left = h->plen - h->poff;
	if (n > left)
		n = left;
	memcpy(buf, h->payload + h->poff, n);
	h->poff += n;
	return n;
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static int bad_news(const char *type)
{
	return !strcmp(type, "job.failed") || !strcmp(type, "job.interrupted") ||
	       !strcmp(type, "host.overdue") || !strcmp(type, "host.unseen") ||
	       !strcmp(type, "host.failing") || !strcmp(type, "maintenance.failed") ||
	       !strcmp(type, "check.failed") || !strcmp(type, "webhook.dropped");
}

static void add_header(struct hook *h, const char *name, const char *value)
{
	char line[512];
	snprintf(line, sizeof(line), "%s: %s", name, value);
	h->hdrs = curl_slist_append(h->hdrs, line);
}

/* Builds the mails of a batch: pre[0..k) grouped by host, one mail each. */
static int compose_mails(struct hook *h, size_t k)
{
	char *taken = calloc(k, 1);
	h->mails = calloc(k, sizeof(char *));
	if (!taken || !h->mails) {
		free(taken);
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		if (taken[i])
			continue;
		json_t *evs = json_array();
		for (size_t j = i; j < k; j++)
			if (!taken[j] && h->pre[j].host_id == h->pre[i].host_id) {
				taken[j] = 1;
				json_array_append_new(evs, json_loads(h->pre[j].body, 0, NULL));
			}
		char *m = mail_compose(cfg.smtp_from, h->url + 7, evs, now_s());
		json_decref(evs);
		if (m)
			h->mails[h->nmails++] = m;
	}
	free(taken);
	h->batch_last = h->pre[k - 1].id;
	h->batch_at = h->pre[0].at;
	return 0;
}

static void start(struct hook *h)
{
	CURL *e = curl_easy_init();
	if (!e)
		return;
	h->easy = e;
	curl_easy_setopt(e, CURLOPT_PRIVATE, h);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)cfg.timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(cfg.timeout_s < 10 ? cfg.timeout_s : 10));
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	if (h->fmt == FMT_MAIL) {
		const char *m = h->mails[h->mail_i];
		h->payload = strdup(m);
		h->plen = h->payload ? strlen(h->payload) : 0;
		h->hdrs = curl_slist_append(NULL, h->url + 7);
		curl_easy_setopt(e, CURLOPT_URL, cfg.smtp_url);
		curl_easy_setopt(e, CURLOPT_MAIL_FROM, cfg.smtp_from);
		curl_easy_setopt(e, CURLOPT_MAIL_RCPT, h->hdrs);
		curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when offered */
		if (cfg.smtp_user) {
			curl_easy_setopt(e, CURLOPT_USERNAME, cfg.smtp_user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, cfg.smtp_password ? cfg.smtp_password : "");
		}
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, h);
		curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)h->plen);
	} else {
		const struct ev *ev = &h->pre[0];
		char id[32], url[2100], sig[WHSIGN_SIG_MAX];
		int64_t ts = now_s();
		snprintf(id, sizeof(id), "%lld", (long long)ev->id);
		snprintf(url, sizeof(url), "%s%s", h->url,
		         h->fmt == FMT_HEALTHCHECKS && bad_news(ev->type) ? "/fail" : "");
		if (h->fmt == FMT_NTFY) {
			json_t *j = json_loads(ev->body, 0, NULL);
			const char *host = json_string_value(json_object_get(json_object_get(j, "host"), "name"));
			const char *err = json_string_value(json_object_get(json_object_get(j, "job"), "error"));
			char text[1200];
			int n = snprintf(text, sizeof(text), "%s%s%s%s%s", ev->type, host ? " on " : "",
			                 host ? host : "", err ? ": " : "", err ? err : "");
			h->payload = strndup(text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
			json_decref(j);
			char title[96];
			snprintf(title, sizeof(title), "roost: %s", ev->type);
			add_header(h, "Title", title);
			add_header(h, "Tags", bad_news(ev->type) ? "warning" : "white_check_mark");
		} else {
			h->payload = strdup(ev->body);
			h->hdrs = curl_slist_append(h->hdrs, "Content-Type: application/json");
		}
		h->plen = h->payload ? strlen(h->payload) : 0;
		whsign_sign(h->key, h->klen > 0 ? (size_t)h->klen : 0, id, ts, h->payload ? h->payload : "",
		            h->plen, sig);
		char tss[24];
		snprintf(tss, sizeof(tss), "%lld", (long long)ts);
		add_header(h, "webhook-id", id);
		add_header(h, "webhook-timestamp", tss);
		add_header(h, "webhook-signature", sig);
		add_header(h, "User-Agent", "roostd/" ROOST_VERSION);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->payload ? h->payload : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)h->plen);
	}
	curl_multi_add_handle(multi, e);
}

static void finished(struct hook *h, CURLcode rc)
{
	long code = 0;
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	int ok = rc == CURLE_OK && (h->fmt == FMT_MAIL || (code >= 200 && code < 300));
	int64_t first = h->fmt == FMT_MAIL ? h->pre[0].id : h->pre[0].id;
	int64_t at = h->fmt == FMT_MAIL ? h->batch_at : h->pre[0].at;
	delivery_clear(h);
	if (ok) {
		log_info("webhook.delivered", "webhook=%lld event=%lld status=%ld attempts=%d",
		         (long long)h->id, (long long)first, code, h->attempts + 1);
		h->attempts = 0;
		h->next_at = 0;
		if (h->fmt != FMT_MAIL) {
			consume(h, 1);
			return;
		}
		if (++h->mail_i < h->nmails)
			return; /* the next host's mail at once */
		size_t k = 0;
		while (k < h->npre && h->pre[k].id <= h->batch_last)
			k++;
		mails_clear(h);
		consume(h, k);
		return;
	}
	h->attempts++;
	int64_t back = h->attempts >= 13 ? BACKOFF_MAX_S : (int64_t)1 << (h->attempts - 1);
	if (back > BACKOFF_MAX_S)
		back = BACKOFF_MAX_S;
	back += (int64_t)randombytes_uniform((uint32_t)(back / 10 + 1));
	h->next_at = now_s() + back;
	log_warn("webhook.failed", "webhook=%lld event=%lld attempt=%d status=%ld msg=%s retry_s=%lld",
	         (long long)h->id, (long long)first, h->attempts, code,
	         roost_lq(curl_easy_strerror(rc)), (long long)back);
	if (now_s() - at > cfg.retry_for_s) {
		size_t k = 1;
		if (h->fmt == FMT_MAIL) {
			k = 0;
			while (k < h->npre && h->pre[k].id <= h->batch_last)
				k++;
			mails_clear(h);
		}
		notice(h, (int64_t)k, first, h->pre[k - 1].id, "undeliverable for the retry period");
		consume(h, k);
		h->attempts = 0;
		h->next_at = 0;
	} else if (h->attempts >= 2) {
		enforce_bound(h);
	}
}

/* Starts what each subscription can start now. */
static void step(void)
{
	int64_t now = now_s();
	for (size_t i = 0; i < nhooks; i++) {
		struct hook *h = hooks[i];
		if (h->easy || now < h->next_at)
			continue;
		if (h->fmt == FMT_MAIL && h->nmails) {
			start(h); /* the rest of a batch */
			continue;
		}
		prefetch(h);
		save_cursor(h, 0);
		if (!h->npre)
			continue;
		if (h->fmt == FMT_MAIL) {
			if (!webhooks_mail_configured())
				continue;
			/* a batch: what arrived together, once the digest wait has passed */
			if (h->npre < PREFETCH && now - h->pre[0].at < cfg.digest_s)
				continue;
			size_t k = h->npre < MAIL_BATCH ? h->npre : MAIL_BATCH;
			if (compose_mails(h, k) || !h->nmails)
				continue;
		}
		start(h);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unload(void)
{
	for (size_t i = 0; i < nhooks; i++)
		hook_free(hooks[i]);
	free(hooks);
	hooks = NULL;
	nhooks = 0;
}

/* May this thread deliver now? Alone: always. Several instances: while it
 * holds the lease (renewed every quarter of its ttl, tried every second
 * while another holds it); a new epoch loads the subscriptions afresh. */
static int may_deliver(void)
{
	int64_t me = instances_me_shared(), now = mono_ms();
	if (!cfg.shared)
		return 1;
	int64_t ttl = cfg.lease_ttl_s > 0 ? cfg.lease_ttl_s : LEASE_TTL_S;
	int64_t every = lease_ok(&lease, now) ? ttl * 1000 / 4 : 1000;
	if (me != lease_me || now - lease_tried_ms >= every) {
		if (me != lease_me)
			lease.epoch = 0; /* a new instance id: the old one's lease is not ours */
		lease_me = me;
		lease_tried_ms = now;
		if (!me || !lease_hold_on(db, &lease, me, ttl, now))
			lease.epoch = 0; /* split (no id), or another holds it */
	}
	if (!lease_ok(&lease, now)) {
		if (loaded_epoch)
			log_info("webhook.lease", "held=no instance=%lld", (long long)me);
		unload();
		loaded_epoch = 0;
		return 0;
	}
	if (lease.epoch != loaded_epoch) {
		log_info("webhook.lease", "held=yes instance=%lld epoch=%lld", (long long)me,
		         (long long)lease.epoch);
		unload();
		atomic_store(&reload_wanted, 1);
		loaded_epoch = lease.epoch;
	}
	return 1;
}

static void *worker(void *arg)
{
	(void)arg;
	int64_t loaded = 0, revived = 0;
	while (!atomic_load(&stopping)) {
		if (now_s() != revived) { /* a connection the server dropped: again, once a second */
			revived = now_s();
			store_revive(db);
		}
		if (!may_deliver()) {
			curl_multi_poll(multi, NULL, 0, 100, NULL);
			continue;
		}
		if (atomic_exchange(&reload_wanted, 0) || now_s() - loaded >= RELOAD_S) {
			reload();
			loaded = now_s();
		}
		step();
		int still;
		curl_multi_perform(multi, &still);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				struct hook *h;
				curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
				finished(h, m->data.result);
			}
		curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	for (size_t i = 0; i < nhooks; i++) {
		save_cursor(hooks[i], 1);
		hook_free(hooks[i]);
	}
	free(hooks);
	hooks = NULL;
	nhooks = 0;
	return NULL;
}

int webhooks_start(const struct notify_config *c)
{
	cfg = *c;
	cfg.shared = instances_shared(); /* started by now (cluster.c) */
	if (cfg.lease_ttl_s <= 0)
		cfg.lease_ttl_s = leases_ttl();
	if (cfg.queue_max <= 0)
		cfg.queue_max = 10000;
	if (cfg.timeout_s <= 0)
		cfg.timeout_s = 10;
	if (cfg.retry_for_s <= 0)
		cfg.retry_for_s = 86400;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -1;
	struct roost_errbuf eb = {{0}};
	if (store_connect(cfg.db_url, &db, &eb)) {
		log_error("webhook.store", "msg=%s", roost_lq(eb.msg));
		return -1;
	}
	multi = curl_multi_init();
	if (!multi || pthread_create(&th, NULL, worker, NULL))
		return -1;
	running = 1;
	lws_sul_schedule(g_srv->lws, 0, &sul_notices, notices_cb, LWS_US_PER_SEC);
	return 0;
}

void webhooks_stop(void)
{
	if (!running)
		return;
	atomic_store(&stopping, 1);
	curl_multi_wakeup(multi);
	pthread_join(th, NULL);
	running = 0;
	curl_multi_cleanup(multi);
	multi = NULL;
	store_close(db);
	db = NULL;
	curl_global_cleanup();
	pthread_mutex_lock(&mu);
	while (notices) {
		struct notice *n = notices;
		notices = n->next;
		free(n);
	}
	pthread_mutex_unlock(&mu);
}
