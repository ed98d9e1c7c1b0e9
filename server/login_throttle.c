/* SPDX-License-Identifier: MIT */
/*
 * Login throttling: two bounded tables (names, addresses) of failure counts.
 * Times are milliseconds. A table is a plain array searched linearly: it holds at most `cap` entries
 * (4096 in roostd), a lookup costs microseconds, and every attempt that
 * reaches the password costs an Argon2id verification anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "login_throttle.h"

struct entry {
	char key[LOGIN_THROTTLE_KEY + 1];
	uint32_t failures;
	int64_t last_failure;
};

struct table {
	struct entry *e;
	size_t n, cap;
};

struct login_throttle {
	struct table names, addrs;
};

struct login_throttle *login_throttle_new(size_t cap)
{
	if (!cap)
		return NULL;
	struct login_throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->names.e = calloc(cap, sizeof(struct entry));
	t->addrs.e = calloc(cap, sizeof(struct entry));
	if (!t->names.e || !t->addrs.e) {
		login_throttle_free(t);
		return NULL;
	}
	t->names.cap = t->addrs.cap = cap;
	return t;
}

void login_throttle_free(struct login_throttle *t)
{
	if (!t)
		return;
	free(t->names.e);
	free(t->addrs.e);
	free(t);
}

static int stale(const struct entry *e, int64_t now)
{
	return now - e->last_failure >= LOGIN_THROTTLE_FORGET_S * 1000;
}

static void drop(struct table *tb, size_t i)
{
	tb->e[i] = tb->e[--tb->n];
}

/* The entry of key, or NULL; a stale one is dropped on the way. */
static struct entry *find(struct table *tb, const char *key, int64_t now)
{
	for (size_t i = 0; i < tb->n; i++) {
		if (strncmp(tb->e[i].key, key, LOGIN_THROTTLE_KEY))
			continue;
		if (stale(&tb->e[i], now)) {
			drop(tb, i);
			return NULL;
		}
		return &tb->e[i];
	}
	return NULL;
}

static int64_t wait_of(const struct entry *e, int64_t now)
{
	if (!e || e->failures < LOGIN_THROTTLE_FREE)
		return 0;
	uint32_t extra = e->failures - LOGIN_THROTTLE_FREE;
	int64_t delay = extra >= 10 ? LOGIN_THROTTLE_MAX_S : (int64_t)1 << extra;
	if (delay > LOGIN_THROTTLE_MAX_S)
		delay = LOGIN_THROTTLE_MAX_S;
	int64_t left = e->last_failure + delay * 1000 - now;
	return left > 0 ? left : 0;
}

int64_t login_throttle_wait(struct login_throttle *t, const char *name, const char *addr,
                            int64_t now)
{
	int64_t a = name ? wait_of(find(&t->names, name, now), now) : 0;
	int64_t b = addr ? wait_of(find(&t->addrs, addr, now), now) : 0;
	return a > b ? a : b;
}

/* Room for one more: a stale entry, else the one with the fewest failures
 * (the oldest among them). */
static struct entry *make_room(struct table *tb, int64_t now)
{
	if (tb->n < tb->cap)
		return &tb->e[tb->n++];
	size_t victim = 0;
	for (size_t i = 0; i < tb->n; i++) {
		const struct entry *e = &tb->e[i], *v = &tb->e[victim];
		if (stale(e, now)) {
			victim = i;
			break;
		}
		if (e->failures < v->failures ||
		    (e->failures == v->failures && e->last_failure < v->last_failure))
			victim = i;
	}
	return &tb->e[victim];
}

static void count(struct table *tb, const char *key, int64_t now)
{
	struct entry *e = find(tb, key, now);
	if (!e) {
		e = make_room(tb, now);
		memset(e, 0, sizeof(*e));
		strncpy(e->key, key, LOGIN_THROTTLE_KEY);
	}
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_failure = now;
}

void login_throttle_failed(struct login_throttle *t, const char *name, const char *addr,
                           int64_t now)
{
	if (name)
		count(&t->names, name, now);
	if (addr)
		count(&t->addrs, addr, now);
}

void login_throttle_succeeded(struct login_throttle *t, const char *name)
{
	if (!name)
		return;
	for (size_t i = 0; i < t->names.n; i++)
		if (!strncmp(t->names.e[i].key, name, LOGIN_THROTTLE_KEY)) {
			drop(&t->names, i);
			return;
		}
}

size_t login_throttle_size(const struct login_throttle *t)
{
	return t->names.n + t->addrs.n;
}
