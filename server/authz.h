/* SPDX-License-Identifier: MIT */
/*
 * Who may do what (docs/dashboard.md, "Who may do what"): the roles of
 * users and the one table that decides, for a role, a method and a path,
 * whether the request may go on. Pure functions: no store, no clock; any
 * thread.
 */
#ifndef ROOSTD_AUTHZ_H
#define ROOSTD_AUTHZ_H

/* Ordered: each role may do what the ones before it may. */
enum role { ROLE_NONE = 0, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

/* "admin", "operator", "viewer" -> the role; ROLE_NONE for anything else. */
enum role role_parse(const char *s);
/* The role's name (static), "none" for ROLE_NONE. */
const char *role_name(enum role r);

/* May a session of role r make this request? path is the request's path
 * without its query ("/v1/hosts/3/backup"); segments are split on '/' and
 * empty ones skipped, as the router does. HEAD counts as GET. 1 allowed. */
int authz_role_may(enum role r, const char *method, const char *path);

/* Routes that need no credential at all (health, enrollment, login): a
 * cookie sent with them is neither checked nor required to carry a CSRF
 * token. 1 when public. */
int authz_public(const char *method, const char *path);

/* Does the request change something (a CSRF token is required with a
 * cookie)? Everything but GET and HEAD. */
int authz_is_write(const char *method);

#endif
