/* SPDX-License-Identifier: MIT */
/*
 * Upload commits off the event loop: making an uploaded object durable
 * (fsync, link, fsync of the directory) takes tens of milliseconds for a
 * pack, which on the event loop would delay every agent's messages. One
 * thread does them in order; the event loop is woken with
 * lws_cancel_service() and answers each upload when its commit is done.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "committer.h"
#include "fault.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct commit *todo_head, *todo_tail, *done_head;
static pthread_t th;
static int running, stopping;

void committer_run(struct commit *c)
{
	const struct roost_backend_ops *ops = g_srv->repo_be->ops;
	struct roost_errbuf eb = {{0}};
	char why[256];
	if (fault_hit("commit")) {
		ops->writer_abort(c->w);
		c->err = ROOST_EIO;
		snprintf(c->msg, sizeof(c->msg), "commit of %s failed: injected fault (ROOST_FAULT)",
		         c->name);
	} else if (c->check && objcheck_finish(c->check, ops, c->w, why, sizeof(why))) {
		ops->writer_abort(c->w);
		c->err = ROOST_ECORRUPT;
		snprintf(c->msg, sizeof(c->msg), "%.128s refused: %s", c->name, why);
	} else {
		c->err = ops->writer_commit(c->w, c->name, &eb);
		snprintf(c->msg, sizeof(c->msg), "%s", eb.msg);
	}
	c->w = NULL;
	objcheck_free(c->check);
	c->check = NULL;
}

static void *committer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!todo_head && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (!todo_head)
			break;
		struct commit *c = todo_head;
		todo_head = c->next;
		if (!todo_head)
			todo_tail = NULL;
		pthread_mutex_unlock(&mu);
		committer_run(c);
		pthread_mutex_lock(&mu);
		c->next = done_head;
		done_head = c;
		if (g_srv->lws)
			lws_cancel_service(g_srv->lws);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int committer_start(void)
{
	if (pthread_create(&th, NULL, committer_main, NULL))
		return -1;
	running = 1;
	return 0;
}

void committer_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(th, NULL); /* what was submitted is committed first */
	running = 0;
	struct commit *c;
	while ((c = committer_take_done()))
		free(c);
}

int committer_submit(uint64_t id, struct roost_bwriter *w, struct objcheck *check,
                     const char *name)
{
	if (!running)
		return -1;
	struct commit *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->id = id;
	c->w = w;
	c->check = check;
	snprintf(c->name, sizeof(c->name), "%s", name);
	pthread_mutex_lock(&mu);
	if (todo_tail)
		todo_tail->next = c;
	else
		todo_head = c;
	todo_tail = c;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

struct commit *committer_take_done(void)
{
	pthread_mutex_lock(&mu);
	struct commit *c = done_head;
	if (c)
		done_head = c->next;
	pthread_mutex_unlock(&mu);
	return c;
}
