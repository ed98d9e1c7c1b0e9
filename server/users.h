/* SPDX-License-Identifier: MIT */
/*
 * Users of the dashboard (docs/dashboard.md, "Users and sessions"): names,
 * roles and Argon2id password hashes (libsodium crypto_pwhash_str,
 * interactive limits). The hash functions are thread-safe and slow (tens of
 * milliseconds, 64 MiB): roostd calls them from the password worker
 * (pwworker.c) only. The store functions are the event loop's.
 */
#ifndef ROOSTD_USERS_H
#define ROOSTD_USERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "authz.h"

#define USERS_NAME_MAX 64
#define USERS_PW_MIN 8
#define USERS_PW_MAX 1024
#define USERS_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */

/* 1-64 characters of [A-Za-z0-9._@-]: 1 valid. */
int users_name_valid(const char *name);
/* 8-1024 bytes: 1 valid. */
int users_password_valid(size_t len);

/* Argon2id of pw[0..n) into out (NUL-terminated encoded string); 0, or -1
 * (out of memory). Thread-safe. */
int users_hash(const char *pw, size_t n, char out[USERS_HASH_MAX]);
/* 1 when pw[0..n) matches the encoded hash, else 0 (also for a malformed
 * hash). Thread-safe; takes the same time whatever the outcome. */
int users_verify(const char *hash, const char *pw, size_t n);

/* ---- the store (event loop) ---- */

/* The user named name: its id, with its hash copied into hash[cap] and its
 * role into *role; 0 if there is none. */
int64_t users_find(const char *name, char *hash, size_t cap, enum role *role);
/* The user's name into name[cap] and role; 0, or -1 if there is no such user. */
int users_get(int64_t id, char *name, size_t cap, enum role *role);
/* A new user; its id into *id. 0, USERS_TAKEN when the name is, -1 when the
 * store failed. */
#define USERS_TAKEN 1
int users_insert(const char *name, enum role role, const char *hash, int64_t now, int64_t *id);
/* Removes the user and its sessions: 1 removed, 0 no such user, -1 store failure. */
int users_remove(int64_t id);
/* Notes a login. */
void users_logged_in(int64_t id, int64_t now);
/* {id, name, role, created_at, last_login_at} (new reference), or NULL. */
json_t *users_view(int64_t id);
/* Every user, by id (new reference). */
json_t *users_list(void);

#endif
