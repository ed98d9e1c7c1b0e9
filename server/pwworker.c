/* SPDX-License-Identifier: MIT */
/*
 * The password worker: one thread, a bounded queue of tasks in, finished
 * tasks out, the event loop woken for each (pwworker.h). Passwords are wiped
 * from a task as soon as it is done.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pwworker.h"
#include "roostd.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct pw_task *todo_head, *todo_tail, *done_head;
static size_t inflight; /* submitted and not yet taken back */
static pthread_t th;
static int running, stopping;

/* The hash an unknown name is verified against: made once, on first use. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy[USERS_HASH_MAX];

static void make_dummy(void)
{
	char pw[32];
	randombytes_buf(pw, sizeof(pw));
	if (users_hash(pw, sizeof(pw), dummy))
		dummy[0] = 0; /* out of memory: verify then fails fast; nothing better to do */
	sodium_memzero(pw, sizeof(pw));
}

void pwworker_run(struct pw_task *t)
{
	if (t->op == PW_HASH) {
		t->ok = users_hash(t->password, t->pwlen, t->hash) == 0;
	} else {
		pthread_once(&dummy_once, make_dummy);
		int known = t->hash[0] != 0;
		int ok = users_verify(known ? t->hash : dummy, t->password, t->pwlen);
		t->ok = known && ok;
	}
	sodium_memzero(t->password, sizeof(t->password));
	t->pwlen = 0;
}

static void *worker_main(void *arg)
{
	(void)arg;
	pthread_once(&dummy_once, make_dummy); /* the first unknown name must not be faster */
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!todo_head && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (!todo_head)
			break;
		struct pw_task *t = todo_head;
		todo_head = t->next;
		if (!todo_head)
			todo_tail = NULL;
		pthread_mutex_unlock(&mu);
		pwworker_run(t);
		pthread_mutex_lock(&mu);
		t->next = done_head;
		done_head = t;
		if (g_srv && g_srv->lws)
			lws_cancel_service(g_srv->lws);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int pwworker_start(void)
{
	if (pthread_create(&th, NULL, worker_main, NULL))
		return -1;
	running = 1;
	return 0;
}

void pwworker_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(th, NULL);
	running = 0;
	struct pw_task *t;
	while ((t = pwworker_take_done()))
		free(t);
}

int pwworker_submit(struct pw_task *t)
{
	if (!running)
		return -1;
	pthread_mutex_lock(&mu);
	if (inflight >= PWWORKER_QUEUE_MAX) {
		pthread_mutex_unlock(&mu);
		return -2;
	}
	inflight++;
	t->next = NULL;
	if (todo_tail)
		todo_tail->next = t;
	else
		todo_head = t;
	todo_tail = t;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

struct pw_task *pwworker_take_done(void)
{
	pthread_mutex_lock(&mu);
	struct pw_task *t = done_head;
	if (t) {
		done_head = t->next;
		inflight--;
	}
	pthread_mutex_unlock(&mu);
	return t;
}
