/* SPDX-License-Identifier: MIT */
/*
 * Webhook and mail deliveries (server/webhooks.c): one thread reads the event
 * log with its own store connection and delivers each subscription's events
 * in order, at least once, from a cursor kept in the store (the persistent
 * queue: the log after the cursor, filtered by the subscription). libcurl's
 * multi interface runs every subscription's transfer at once, so a receiver
 * that never answers delays only its own queue. Nothing here runs on or waits
 * for the event loop, except the once-a-second hand-back of "webhook.dropped"
 * events.
 */
#ifndef ROOSTD_WEBHOOKS_H
#define ROOSTD_WEBHOOKS_H

#include <stdint.h>

struct notify_config {
	const char *db_url;     /* the store (the thread opens its own connection) */
	const char *smtp_url;   /* smtp://HOST:PORT or smtps://...; NULL: no mail */
	const char *smtp_from;
	const char *smtp_user;  /* NULL: no authentication */
	const char *smtp_password;
	int64_t digest_s;       /* a mail waits this long for more events of its batch */
	int64_t queue_max;      /* undelivered events per subscription before the oldest go */
	int64_t timeout_s;      /* one attempt's limit */
	int64_t retry_for_s;    /* an event is retried this long, then dropped */
	/* set by webhooks_start: several instances (deliveries only under the
	 * lease `webhooks`), and that lease's ttl (0: leases_ttl()) */
	int shared;
	int64_t lease_ttl_s;
};

/* Starts the delivery thread and the event loop's hand-back timer (after the
 * lws context exists). 0, or -1. */
int webhooks_start(const struct notify_config *c);
/* Stops the thread (cursors saved). */
void webhooks_stop(void);
/* A subscription was added or removed: the thread reloads them. Thread-safe. */
void webhooks_changed(void);
/* Is mail configured (--smtp and --smtp-from)? */
int webhooks_mail_configured(void);

#endif
