/* SPDX-License-Identifier: MIT */
/*
 * Notification mail (server/mail.c): the digest message of one host's events,
 * as RFC 5322 text for libcurl's SMTP upload. Pure, thread-safe.
 */
#ifndef ROOSTD_MAIL_H
#define ROOSTD_MAIL_H

#include <jansson.h>
#include <stdint.h>

/* The message (caller frees) for the events (an array of event objects, all of
 * one host, or of none) from `from` to `to`, dated now. Subject:
 * "[roost] HOST: TYPE" for one event, "[roost] HOST: N events (TYPE, ...)" for
 * more. NULL on no memory. */
char *mail_compose(const char *from, const char *to, const json_t *events, int64_t now);

#endif
