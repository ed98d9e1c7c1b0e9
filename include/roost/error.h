/* SPDX-License-Identifier: MIT */
/*
 * roost error codes. Every libroost function that can fail returns an
 * enum roost_err and delivers its results through out-parameters, which are
 * set to NULL/0 on entry. ROOST_OK is zero so `if (err)` reads naturally.
 * Functions that can explain a failure in words (parsers, the repository)
 * also take a `struct roost_errbuf *` to fill with a human message.
 */
#ifndef ROOST_ERROR_H
#define ROOST_ERROR_H

#include <stddef.h>

enum roost_err {
	ROOST_OK = 0,
	ROOST_ENOMEM,    /* out of memory */
	ROOST_EINVAL,    /* invalid argument or input (user's fault) */
	ROOST_EIO,       /* an operating system call failed */
	ROOST_ENOENT,    /* no such object / nothing found */
	ROOST_EEXIST,    /* object already exists */
	ROOST_ECORRUPT,  /* stored data failed verification */
	ROOST_ECRYPTO,   /* decryption/authentication failed (wrong key?) */
	ROOST_ERANGE,    /* value out of range / size cap exceeded */
	ROOST_ENOTSUP,   /* not supported (version, feature) */
	ROOST_EAUTH,     /* authentication failed */
	ROOST_EPERM,     /* not allowed */
	ROOST_ECANCELED, /* the operation was canceled */
	ROOST_ERR_MAX
};

/* Short static description of an error code; never NULL, thread-safe. */
const char *roost_strerror(enum roost_err err);

/*
 * A caller-owned buffer for a failure's message. Functions that take one
 * write a complete sentence fragment ("day-of-week: 8 is out of range 0-7")
 * and leave it untouched on success.
 */
struct roost_errbuf {
	char msg[512];
};

/* printf-style: sets eb->msg (if eb is non-NULL) and returns err. */
enum roost_err roost_errf(struct roost_errbuf *eb, enum roost_err err,
                          const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like roost_errf, appending ": strerror(errno)" of the saved errno. */
enum roost_err roost_errno(struct roost_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
