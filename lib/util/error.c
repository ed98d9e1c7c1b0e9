/* SPDX-License-Identifier: MIT */
/* Error codes and messages shared by all of libroost. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "roost/error.h"

static const char *const messages[ROOST_ERR_MAX] = {
	[ROOST_OK] = "success",
	[ROOST_ENOMEM] = "out of memory",
	[ROOST_EINVAL] = "invalid input",
	[ROOST_EIO] = "input/output error",
	[ROOST_ENOENT] = "not found",
	[ROOST_EEXIST] = "already exists",
	[ROOST_ECORRUPT] = "data is corrupted",
	[ROOST_ECRYPTO] = "decryption failed",
	[ROOST_ERANGE] = "out of range",
	[ROOST_ENOTSUP] = "not supported",
	[ROOST_EAUTH] = "authentication failed",
	[ROOST_EPERM] = "permission denied",
	[ROOST_ECANCELED] = "canceled",
};

const char *roost_strerror(enum roost_err err)
{
	if ((unsigned)err >= ROOST_ERR_MAX)
		return "unknown error";
	return messages[err];
}

enum roost_err roost_errf(struct roost_errbuf *eb, enum roost_err err,
                          const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

enum roost_err roost_errno(struct roost_errbuf *eb, const char *fmt, ...)
{
	int saved = errno;
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof(eb->msg))
			snprintf(eb->msg + n, sizeof(eb->msg) - (size_t)n, ": %s",
			         strerror(saved));
	}
	if (saved == ENOMEM)
		return ROOST_ENOMEM;
	if (saved == ENOENT)
		return ROOST_ENOENT;
	if (saved == EEXIST)
		return ROOST_EEXIST;
	if (saved == EACCES || saved == EPERM)
		return ROOST_EPERM;
	return ROOST_EIO;
}
