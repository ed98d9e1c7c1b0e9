/* SPDX-License-Identifier: MIT */
/*
 * The event log (server/events.c): what happened in the fleet, append-only in
 * the store, numbered in order, read by GET /v1/events, streamed live to the
 * dashboard (server/sse.c) and delivered to webhooks and mail
 * (server/webhooks.c, which reads the log itself on its own thread).
 * Event-loop thread only.
 */
#ifndef ROOSTD_EVENTS_H
#define ROOSTD_EVENTS_H

#include <jansson.h>
#include <stdint.h>

/* The event types of the contract, and the ones roostd adds (webhook.test,
 * webhook.dropped); NULL-terminated. */
extern const char *const events_types[];
/* Is type one of events_types? */
int events_type_known(const char *type);

/* Appends an event {id, type, at, host: {id, name} | null, job: <job> | null,
 * data} to the log and hands it to the live streams. host_id and job_id may be
 * 0; data may be NULL and is taken over (stolen). Never fails the caller: an
 * event the store can not keep is logged and dropped. Event-loop thread only. */
void events_emit(const char *type, int64_t host_id, int64_t job_id, json_t *data);

/* A live-only event (docs/dashboard.md, "Live updates"): job.queued,
 * job.running, job.progress. It goes to the live streams only, as
 * {type, at, host: {id, name} | null, job: <job>} without an `id:` line: it is
 * neither stored, nor numbered (Last-Event-ID stays on stored events), nor
 * delivered to webhooks or mail. Inside events_tx_begin/end it waits for the
 * commit like a stored event. Event-loop thread only. */
void events_live(const char *type, int64_t host_id, int64_t job_id);

/* Events emitted between these two are stored in the caller's transaction
 * (one commit for the change and its events) and published to the live
 * streams only at events_tx_end(1), after the commit; events_tx_end(0) after
 * a rollback drops them. Webhooks read the log, so they see committed events
 * only. */
void events_tx_begin(void);
void events_tx_end(int committed);

/* How events show a job (main.c registers views.c's view_job; without it an
 * event's job is {id}). The function returns a new reference or NULL. */
void events_set_job_view(json_t *(*view)(int64_t job_id));

/* The events after `after`, oldest first, at most limit (new reference). */
json_t *events_list(int64_t after, int limit);
/* The events below `before`, newest first, at most limit (new reference). */
json_t *events_list_before(int64_t before, int limit);
/* The newest event id (0 when the log is empty). */
int64_t events_last_id(void);

/* Several instances over one PostgreSQL store (docs/scale-out.md 2.6): from
 * now on an event's id is taken under a transaction-scoped advisory lock
 * (ids become visible in order), and no event goes to this instance's
 * streams directly: each is announced (NOTIFY roost_events, roost_live for
 * the live-only ones, at commit) and every instance, this one included,
 * feeds its own streams from events_on_notify, in id order, once. */
void events_shared_start(void);
/* notify.c's delivery of roost_events or roost_live (the event loop). */
void events_on_notify(const char *channel, const char *payload);
/* After the LISTEN connection came back: the stored events missed meanwhile. */
void events_catch_up(void);

#endif
