/* SPDX-License-Identifier: MIT */
/*
 * What `roost backup`, `roost restore` and `roost job wait` show while they
 * wait for a job (cli/jobwait.c): numbers for people (1,234 files, 1.2 GB,
 * 34.5 MB/s, 8.3 s), the progress line, the line that says how a job ended,
 * and the reader of roostd's event stream (Server-Sent Events, the text of
 * GET /v1/events/stream). No I/O here: each function fills a buffer, so the
 * unit tests (tests/unit/test_progress.c) see exactly what a user would.
 */
#ifndef ROOST_CLI_PROGRESS_H
#define ROOST_CLI_PROGRESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* 1234567 -> "1,234,567". */
void fmt_count(uint64_t v, char *buf, size_t cap);
/* Decimal units: "999 B", "1.2 kB", "34.5 MB", "123 GB". */
void fmt_bytes(uint64_t v, char *buf, size_t cap);
/* bytes over seconds as "34.5 MB/s"; "" when seconds <= 0. */
void fmt_rate(uint64_t bytes, double seconds, char *buf, size_t cap);
/* "8.3 s", "2 min 05 s", "3 h 07 min". */
void fmt_duration(double seconds, char *buf, size_t cap);

/* Is a job's status one it leaves (queued, deferred, running)? */
int job_status_pending(const char *status);

/* What the progress line shows of a job that is not over. */
struct progress_view {
	long long id;
	const char *status;   /* queued, deferred, running */
	const char *host;     /* its name; NULL unknown */
	int host_offline;     /* 1: the host is known to be offline */
	const char *reason;   /* deferred: why; NULL none */
	uint64_t files, bytes;
	double rate_seconds;  /* the bytes counted since progress was first seen ... */
	uint64_t rate_bytes;  /* ... over this many seconds; rate shown when > 0 */
	double elapsed;       /* seconds since the wait began (shown while running) */
};
/* "job 42: running, 1,234 files, 1.2 GB, 34.5 MB/s (8 s)", "job 42: waiting
 * for host h1 to come online (12 s)", "job 42: deferred: outside its window". */
void progress_line(const struct progress_view *v, char *buf, size_t cap);

/*
 * The line that says how job (GET /v1/jobs/{id}) ended, and the exit code:
 * 0 succeeded ("job 42 succeeded: snapshot 3f2a8c1d, 1,234 files, 1.2 GB
 * (12 MB new) in 8.3 s"; a restore names its snapshot and target), 1 failed,
 * canceled or interrupted ("job 42 failed: ERROR"). seconds < 0: the time is
 * taken from started_at and finished_at.
 */
int job_outcome(json_t *job, double seconds, char *buf, size_t cap);

/* ---- Server-Sent Events ---- */

#define SSE_LINE_MAX (1u << 20) /* longer lines (and their event) are skipped */

struct sse_parser {
	char *line;        /* the line being read */
	size_t len, cap;
	int skip;          /* the current line is too long: skip to its end */
	int skip_event;    /* ... and its event */
	int cr;            /* the last byte was '\r' */
	char type[64];
	char *data;        /* data lines joined by '\n' */
	size_t dlen, dcap;
	int has_data;
};

void sse_parser_init(struct sse_parser *p);
void sse_parser_release(struct sse_parser *p);
/*
 * Reads n more bytes of a stream; for each complete event calls
 * on_event(ctx, type, data) (type "message" when not named, data NUL-
 * terminated; comments and id/retry lines are skipped). Returns the first
 * nonzero value on_event returned (the rest of s is then not read), -1 out
 * of memory, else 0.
 */
int sse_parser_feed(struct sse_parser *p, const char *s, size_t n,
                    int (*on_event)(void *ctx, const char *type, const char *data), void *ctx);

#endif
