/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus exposition (text format 0.0.4). Labels carry host, schedule
 * and group names, never snapshot ids (a label value per snapshot would grow
 * without bound). Counters live in memory, seeded at start from the jobs the
 * store holds, and move when a job ends (jobs.c) or a catch-up runs
 * (catchup.c). Hosts by health come from the health sweep's last state
 * (host_health), so a scrape costs a few grouped queries, not an evaluation
 * of every host. The repository's size is a walk of its directory, cached
 * for REPO_SIZE_TTL_S.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instances.h"
#include "health.h"
#include "metrics.h"
#include "roostd.h"

#define REPO_SIZE_TTL_S 60
#define MAX_SERIES 64

struct series {
	char kind[16], trigger[16], status[16];
	uint64_t n;
};

static struct series jobs_total[MAX_SERIES];
static size_t njobs_total;
static const double buckets[] = {1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static uint64_t dur_bucket[NBUCKETS], dur_count;
static double dur_sum;
static uint64_t catchups;
static int64_t repo_size, repo_size_at;

static struct series *series_of(const char *kind, const char *trigger, const char *status)
{
	for (size_t i = 0; i < njobs_total; i++)
		if (!strcmp(jobs_total[i].kind, kind) && !strcmp(jobs_total[i].trigger, trigger) &&
		    !strcmp(jobs_total[i].status, status))
			return &jobs_total[i];
	if (njobs_total == MAX_SERIES)
		return NULL;
	struct series *s = &jobs_total[njobs_total++];
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->trigger, sizeof(s->trigger), "%s", trigger);
	snprintf(s->status, sizeof(s->status), "%s", status);
	return s;
}

void metrics_init(void)
{
	struct db_stmt *st = db_q("SELECT kind, trigger, status, COUNT(*) FROM jobs WHERE status IN "
	                        "('succeeded','failed','canceled','interrupted') GROUP BY 1, 2, 3",
	                        NULL);
	while (st && db_step(st) == DB_ROW) {
		struct series *s = series_of(db_col_text(st, 0),
		                             db_col_text(st, 1),
		                             db_col_text(st, 2));
		if (s)
			s->n = (uint64_t)db_col_int(st, 3);
	}
	db_done(st);
}

void metrics_job_ended(const char *kind, const char *trigger, const char *status,
                       int64_t duration_s)
{
	struct series *s = series_of(kind, trigger, status);
	if (s)
		s->n++;
	for (size_t i = 0; i < NBUCKETS; i++)
		if ((double)duration_s <= buckets[i])
			dur_bucket[i]++;
	dur_count++;
	dur_sum += (double)duration_s;
}

void metrics_catchup_run(void)
{
	catchups++;
}

struct out {
	char *buf;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt,
		                  ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if (o->buf && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		size_t nc = o->cap ? o->cap * 2 : 16384;
		while (nc <= o->len + (size_t)n)
			nc *= 2;
		char *b = realloc(o->buf, nc);
		if (!b) {
			o->oom = 1;
			return;
		}
		o->buf = b;
		o->cap = nc;
	}
}

/* A label value: backslash, quote and newline escaped (into buf). */
static const char *lv(const char *s, char *buf, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = (char)*s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = (char)*s;
		}
	}
	buf[n] = 0;
	return buf;
}

static int64_t dir_bytes(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	int64_t total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISREG(sb.st_mode))
			total += sb.st_size;
		else if (S_ISDIR(sb.st_mode) && depth < 4) {
			int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0)
				total += dir_bytes(fd, depth + 1);
		}
	}
	closedir(d);
	return total;
}

static int64_t repository_size(void)
{
	int64_t now = srv_now();
	if (repo_size_at && now - repo_size_at < REPO_SIZE_TTL_S)
		return repo_size;
	char path[4200];
	snprintf(path, sizeof(path), "%s/repo", g_srv->data_dir ? g_srv->data_dir : ".");
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	repo_size = fd >= 0 ? dir_bytes(fd, 0) : 0;
	repo_size_at = now;
	return repo_size;
}

char *metrics_render(size_t *len)
{
	struct out o = {0};
	char a[300], b[300], c[300];
	put(&o, "# HELP roost_agents_connected Agents connected to roostd now.\n"
	        "# TYPE roost_agents_connected gauge\nroost_agents_connected %zu\n",
	    hub_connected());
	if (instances_shared()) /* several instances: this one's clock against the database's */
		put(&o, "# HELP roost_clock_skew_seconds This roostd's clock minus the database's.\n"
		        "# TYPE roost_clock_skew_seconds gauge\nroost_clock_skew_seconds %lld\n",
		    (long long)instances_skew());
	/* hosts by health: the sweep's last verdict; a host it has not reached yet is counted as never */
	int64_t by[5] = {0};
	struct db_stmt *st = db_q("SELECT COALESCE(hh.state, 'never'), COUNT(*) FROM hosts h LEFT JOIN "
	                        "host_health hh ON hh.host_id = h.id GROUP BY 1", NULL);
	while (st && db_step(st) == DB_ROW) {
		int k = health_parse(db_col_text(st, 0));
		if (k >= 0)
			by[k] = db_col_int(st, 1);
	}
	db_done(st);
	put(&o, "# HELP roost_hosts Hosts by health.\n# TYPE roost_hosts gauge\n");
	for (int k = 0; k < 5; k++)
		put(&o, "roost_hosts{health=\"%s\"} %lld\n", health_name((enum health)k), (long long)by[k]);
	put(&o, "# HELP roost_host_overdue 1 when the host is overdue.\n"
	        "# TYPE roost_host_overdue gauge\n");
	st = db_q("SELECT h.name, hh.state = 'overdue' FROM hosts h LEFT JOIN host_health hh ON "
	          "hh.host_id = h.id ORDER BY h.id", NULL);
	while (st && db_step(st) == DB_ROW)
		put(&o, "roost_host_overdue{host=\"%s\"} %d\n", lv(db_col_text(st, 0), a, sizeof(a)),
		    (int)db_col_int(st, 1));
	db_done(st);
	put(&o, "# HELP roost_last_success_timestamp_seconds Start of the last successful backup of "
	        "a (host, schedule, group).\n# TYPE roost_last_success_timestamp_seconds gauge\n");
	st = db_q("SELECT h.name, s.name, g.name, gs.last_success_at FROM group_success gs JOIN "
	          "schedules s ON s.id = gs.schedule_id JOIN source_groups g ON g.id = gs.group_id "
	          "JOIN hosts h ON h.id = s.host_id ORDER BY h.id, s.id, g.id", NULL);
	while (st && db_step(st) == DB_ROW)
		put(&o, "roost_last_success_timestamp_seconds{host=\"%s\",schedule=\"%s\",group=\"%s\"} "
		        "%lld\n", lv(db_col_text(st, 0), a, sizeof(a)),
		    lv(db_col_text(st, 1), b, sizeof(b)),
		    lv(db_col_text(st, 2), c, sizeof(c)), (long long)db_col_int(st, 3));
	db_done(st);
	put(&o, "# HELP roost_jobs_total Jobs ended, by kind, trigger and final status.\n"
	        "# TYPE roost_jobs_total counter\n");
	for (size_t i = 0; i < njobs_total; i++)
		put(&o, "roost_jobs_total{kind=\"%s\",trigger=\"%s\",status=\"%s\"} %llu\n",
		    jobs_total[i].kind, jobs_total[i].trigger, jobs_total[i].status,
		    (unsigned long long)jobs_total[i].n);
	put(&o, "# HELP roost_job_duration_seconds Duration of jobs ended since roostd started.\n"
	        "# TYPE roost_job_duration_seconds histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++)
		put(&o, "roost_job_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
		    (unsigned long long)dur_bucket[i]);
	put(&o, "roost_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	        "roost_job_duration_seconds_sum %g\nroost_job_duration_seconds_count %llu\n",
	    (unsigned long long)dur_count, dur_sum, (unsigned long long)dur_count);
	put(&o, "# HELP roost_catchups_total Catch-ups that dispatched backups since roostd started.\n"
	        "# TYPE roost_catchups_total counter\nroost_catchups_total %llu\n",
	    (unsigned long long)catchups);
	/* deferred jobs now, by the kind of their reason (docs/policies.md) */
	static const char *const kinds[][2] = {{"window", "outside window %"},
	                                       {"battery", "host on battery"},
	                                       {"metered", "host on a metered network"}};
	put(&o, "# HELP roost_jobs_deferred Jobs deferred now, by reason.\n"
	        "# TYPE roost_jobs_deferred gauge\n");
	for (size_t k = 0; k < 3; k++)
		put(&o, "roost_jobs_deferred{reason=\"%s\"} %lld\n", kinds[k][0],
		    (long long)db_int(0, "SELECT COUNT(*) FROM jobs WHERE status='deferred' AND "
		                         "error LIKE ?", "t", kinds[k][1]));
	put(&o, "# HELP roost_repository_size_bytes Bytes of the repository's files.\n"
	        "# TYPE roost_repository_size_bytes gauge\nroost_repository_size_bytes %lld\n",
	    (long long)repository_size());
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
