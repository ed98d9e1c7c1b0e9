/* SPDX-License-Identifier: MIT */
/*
 * The LISTEN connection (notify.h): one thread owns it. It polls the
 * connection's socket (200 ms at most, to see a changed channel or the
 * stop), reads the notifications into a queue under a mutex, and wakes the
 * event loop, which takes the queue whole in notify_poll. A broken
 * connection is closed and made again (backoff 100 ms doubling to 5 s);
 * every LISTEN after the first connection's is announced to the loop as a
 * `relistened`, since pokes sent meanwhile were lost.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "roost/log.h"
#include "roostd.h"

struct note {
	struct note *next;
	int relisten;
	char *channel, *payload;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop, first_done;
	char *url;
	char channel[64];
	unsigned gen;           /* bumped when channel changes */
	struct note *head, *tail;
	const struct notify_handler *h;
} N = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void push(struct note *n)
{
	pthread_mutex_lock(&N.mu);
	if (N.tail)
		N.tail->next = n;
	else
		N.head = n;
	N.tail = n;
	pthread_mutex_unlock(&N.mu);
}

static void on_note(void *arg, const char *channel, const char *payload)
{
	int *got = arg;
	struct note *n = calloc(1, sizeof(*n));
	if (!n)
		return;
	n->channel = strdup(channel);
	n->payload = strdup(payload);
	if (!n->channel || !n->payload) {
		free(n->channel);
		free(n->payload);
		free(n);
		return;
	}
	push(n);
	(*got)++;
}

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *run(void *arg)
{
	(void)arg;
	struct store *s = NULL;
	unsigned listened = 0;
	int backoff = 100, connections = 0, fresh = 0;
	for (;;) {
		pthread_mutex_lock(&N.mu);
		int stop = N.stop;
		unsigned gen = N.gen;
		char channel[64];
		snprintf(channel, sizeof(channel), "%s", N.channel);
		pthread_mutex_unlock(&N.mu);
		if (stop)
			break;
		if (!s) {
			struct roost_errbuf eb = {{0}};
			if (store_connect(N.url, &s, &eb) != ROOST_OK) {
				log_warn("notify.connect_failed", "msg=%s retry_ms=%d", roost_lq(eb.msg),
				         backoff);
				nap_ms(backoff);
				backoff = backoff < 2500 ? backoff * 2 : 5000;
				continue;
			}
			listened = gen - 1; /* listen below */
			connections++;
			fresh = 1;
		}
		if (listened != gen) {
			char sql[160];
			snprintf(sql, sizeof(sql), "UNLISTEN *; LISTEN %s; LISTEN roost_events; "
			         "LISTEN roost_live; LISTEN roost_repo", channel);
			if (store_exec(s, sql)) {
				log_warn("notify.listen_failed", "msg=%s", roost_lq(store_errmsg(s)));
				store_close(s);
				s = NULL;
				continue;
			}
			backoff = 100;
			log_info("notify.listen", "channel=%s reconnected=%s", channel,
			         connections > 1 ? "yes" : "no");
			if (fresh && connections > 1) { /* pokes sent meanwhile were lost */
				struct note *n = calloc(1, sizeof(*n));
				if (n) {
					n->relisten = 1;
					push(n);
					lws_cancel_service(g_srv->lws);
				}
			}
			fresh = 0;
			listened = gen;
			pthread_mutex_lock(&N.mu);
			N.first_done = 1;
			pthread_cond_broadcast(&N.cv);
			pthread_mutex_unlock(&N.mu);
		}
		struct pollfd p = {.fd = store_socket(s), .events = POLLIN};
		int got = 0;
		if (p.fd < 0 || poll(&p, 1, 200) < 0 ||
		    ((p.revents & (POLLIN | POLLERR | POLLHUP)) &&
		     store_notifications(s, on_note, &got))) {
			log_warn("notify.dropped", "msg=%s", roost_lq(store_errmsg(s)));
			store_close(s);
			s = NULL;
			nap_ms(backoff);
			continue;
		}
		if (got)
			lws_cancel_service(g_srv->lws);
	}
	store_close(s);
	return NULL;
}

int notify_start(const char *url, const char *channel, const struct notify_handler *h)
{
	if (!url || !strncmp(url, "sqlite:", 7) || strncmp(url, "postgres", 8))
		return 0; /* one instance: nobody to hear from */
	N.url = strdup(url);
	if (!N.url)
		return -1;
	N.h = h;
	snprintf(N.channel, sizeof(N.channel), "%s", channel);
	N.gen = 1;
	if (pthread_create(&N.th, NULL, run, NULL)) {
		free(N.url);
		N.url = NULL;
		return -1;
	}
	N.running = 1;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&N.mu);
	while (!N.first_done)
		if (pthread_cond_timedwait(&N.cv, &N.mu, &until))
			break;
	int ok = N.first_done;
	pthread_mutex_unlock(&N.mu);
	if (!ok)
		log_warn("notify.slow", "msg=\"no LISTEN within 5 s; pokes may be late\"");
	return 0;
}

void notify_channel(const char *channel)
{
	if (!N.running)
		return;
	pthread_mutex_lock(&N.mu);
	snprintf(N.channel, sizeof(N.channel), "%s", channel);
	N.gen++;
	pthread_mutex_unlock(&N.mu);
}

void notify_poll(void)
{
	if (!N.running)
		return;
	pthread_mutex_lock(&N.mu);
	struct note *n = N.head;
	N.head = N.tail = NULL;
	pthread_mutex_unlock(&N.mu);
	while (n) {
		struct note *next = n->next;
		if (n->relisten) {
			if (N.h && N.h->relistened)
				N.h->relistened();
		} else if (N.h && N.h->notified) {
			N.h->notified(n->channel, n->payload);
		}
		free(n->channel);
		free(n->payload);
		free(n);
		n = next;
	}
}

void notify_stop(void)
{
	if (!N.running)
		return;
	pthread_mutex_lock(&N.mu);
	N.stop = 1;
	pthread_mutex_unlock(&N.mu);
	pthread_join(N.th, NULL);
	N.running = 0;
	free(N.url);
	N.url = NULL;
	struct note *n = N.head;
	while (n) {
		struct note *next = n->next;
		free(n->channel);
		free(n->payload);
		free(n);
		n = next;
	}
	N.head = N.tail = NULL;
}
