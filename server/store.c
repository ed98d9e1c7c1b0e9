/* SPDX-License-Identifier: MIT */
/*
 * The store's connection setup and migrations. The schema follows
 * DESIGN.md: hosts, enrollment tokens, source groups, schedules and their
 * groups, jobs, pending runs (one per host and schedule), seen fires,
 * success per (schedule, group) for catch-up, the dashboard's users and
 * sessions, and the agent policies' host fields.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

static const char *const migrations[] = {
	/* 1: the data model of DESIGN.md */
	"CREATE TABLE repos ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, location TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE hosts ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL,"
	"  os TEXT NOT NULL DEFAULT '', tz TEXT,"
	"  mode TEXT NOT NULL CHECK (mode IN ('always-on', 'intermittent')),"
	"  secret_hash BLOB NOT NULL, created_at INTEGER NOT NULL,"
	"  last_seen_at INTEGER, last_backup_at INTEGER, current_job_id INTEGER);"
	"CREATE TABLE enroll_tokens ("
	"  id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE,"
	"  expires_at INTEGER NOT NULL, uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE source_groups ("
	"  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  name TEXT NOT NULL, paths TEXT NOT NULL, excludes TEXT NOT NULL DEFAULT '[]',"
	"  UNIQUE (host_id, name));"
	"CREATE TABLE schedules ("
	"  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  name TEXT NOT NULL, cron TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
	"  UNIQUE (host_id, name));"
	"CREATE TABLE schedule_groups ("
	"  schedule_id INTEGER NOT NULL REFERENCES schedules ON DELETE CASCADE,"
	"  group_id INTEGER NOT NULL REFERENCES source_groups ON DELETE CASCADE,"
	"  PRIMARY KEY (schedule_id, group_id));"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  schedule_id INTEGER REFERENCES schedules ON DELETE SET NULL,"
	"  group_id INTEGER REFERENCES source_groups ON DELETE SET NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('backup', 'restore')),"
	"  trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'pending', 'catchup', 'manual')),"
	"  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed',"
	"                                         'canceled', 'interrupted')),"
	"  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
	"  snapshot_id TEXT, files INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	"  bytes_new INTEGER NOT NULL DEFAULT 0, error TEXT, params TEXT);"
	"CREATE INDEX jobs_host_status ON jobs (host_id, status);"
	"CREATE INDEX jobs_schedule_created ON jobs (schedule_id, created_at);"
	"CREATE TABLE pending_runs ("
	"  host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  schedule_id INTEGER NOT NULL REFERENCES schedules ON DELETE CASCADE,"
	"  first_fire INTEGER NOT NULL, last_fire INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, schedule_id));"
	"CREATE TABLE fires ("
	"  host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  schedule_id INTEGER NOT NULL, slot INTEGER NOT NULL, seen_at INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, schedule_id, slot));"
	"CREATE TABLE group_success ("
	"  schedule_id INTEGER NOT NULL REFERENCES schedules ON DELETE CASCADE,"
	"  group_id INTEGER NOT NULL REFERENCES source_groups ON DELETE CASCADE,"
	"  last_success_at INTEGER NOT NULL,"
	"  PRIMARY KEY (schedule_id, group_id));",
	/* 2: retention per schedule, maintenance runs */
	"ALTER TABLE schedules ADD COLUMN keep_last INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE schedules ADD COLUMN keep_hourly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE schedules ADD COLUMN keep_daily INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE schedules ADD COLUMN keep_weekly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE schedules ADD COLUMN keep_monthly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE schedules ADD COLUMN keep_yearly INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE maintenance ("
	"  id INTEGER PRIMARY KEY,"
	"  trigger TEXT NOT NULL CHECK (trigger IN ('cron', 'manual')),"
	"  dry_run INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed',"
	"                                         'interrupted')),"
	"  started_at INTEGER NOT NULL, finished_at INTEGER,"
	"  snapshots_removed INTEGER NOT NULL DEFAULT 0, packs_removed INTEGER NOT NULL DEFAULT 0,"
	"  bytes_freed INTEGER NOT NULL DEFAULT 0, packs_marked INTEGER NOT NULL DEFAULT 0,"
	"  packs_repacked INTEGER NOT NULL DEFAULT 0, packs_waiting INTEGER NOT NULL DEFAULT 0,"
	"  check_status TEXT CHECK (check_status IN ('ok', 'failed')), check_errors TEXT,"
	"  snapshots INTEGER, packs INTEGER, blobs INTEGER, size_bytes INTEGER,"
	"  raw_bytes INTEGER, logical_bytes INTEGER,"
	"  error TEXT, decisions TEXT);",
	/* 3: health, events and notifications (DESIGN.md, "Health, events, notifications,
	 * metrics"): when each host was connected, its last health and what was said of it,
	 * the append-only event log, webhook (and mail) subscriptions with their delivery
	 * cursor, and when a schedule was made (the first window a new schedule can miss) */
	"CREATE TABLE host_sessions ("
	"  host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL);"
	"CREATE INDEX host_sessions_host ON host_sessions (host_id, ended_at);"
	"CREATE TABLE host_health ("
	"  host_id INTEGER PRIMARY KEY REFERENCES hosts ON DELETE CASCADE,"
	"  state TEXT NOT NULL, since INTEGER NOT NULL,"
	"  said TEXT, said_at INTEGER, held INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, at INTEGER NOT NULL,"
	"  host_id INTEGER, job_id INTEGER, body TEXT NOT NULL);"
	"CREATE TABLE webhooks ("
	"  id INTEGER PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL,"
	"  secret TEXT NOT NULL, format TEXT NOT NULL DEFAULT 'standard',"
	"  created_at INTEGER NOT NULL, cursor INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE schedules ADD COLUMN created_at INTEGER;"
	"CREATE TRIGGER schedules_created_at AFTER INSERT ON schedules"
	"  WHEN NEW.created_at IS NULL BEGIN"
	"  UPDATE schedules SET created_at = CAST(strftime('%s', 'now') AS INTEGER)"
	"  WHERE id = NEW.id; END;",
	/* issue 18: group dedup, the blob-id key of its backups */
	"ALTER TABLE source_groups ADD COLUMN dedup TEXT NOT NULL DEFAULT 'fleet'"
	"  CHECK (dedup IN ('fleet', 'host'));",
	/* 5: dashboard users and their sessions (docs/dashboard.md, "Users and sessions"):
	 * an Argon2id hash (crypto_pwhash_str's encoding) per user, a session's token
	 * kept as its hash */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),"
	"  pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL, last_login_at INTEGER);"
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions (user_id);",
	/* 6: a host's upload limit in KiB/s, 0 = none (issue 15, docs/policies.md) */
	"ALTER TABLE hosts ADD COLUMN upload_limit_kbps INTEGER NOT NULL DEFAULT 0"
	"  CHECK (upload_limit_kbps BETWEEN 0 AND 10000000);",
	/* 7: a group's hooks (issue 15, docs/policies.md): shell commands the agent runs
	 * before and after the group's backups, how long each may take, and the end of
	 * their output as a job reported it */
	"ALTER TABLE source_groups ADD COLUMN pre_hook TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE source_groups ADD COLUMN post_hook TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE source_groups ADD COLUMN hook_timeout_s INTEGER NOT NULL DEFAULT 600"
	"  CHECK (hook_timeout_s BETWEEN 1 AND 86400);"
	"ALTER TABLE jobs ADD COLUMN hook_output TEXT;",
	/* 8: agent policies, deferral (docs/policies.md): a schedule's window, a host's
	 * skip_on_battery/skip_on_metered and its last reported power and network, and
	 * the job status `deferred` (the jobs table rebuilt for its CHECK) */
	"ALTER TABLE schedules ADD COLUMN window TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN skip_on_battery INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN skip_on_metered INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN on_battery INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN metered INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE jobs_new ("
	"  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts ON DELETE CASCADE,"
	"  schedule_id INTEGER REFERENCES schedules ON DELETE SET NULL,"
	"  group_id INTEGER REFERENCES source_groups ON DELETE SET NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('backup', 'restore')),"
	"  trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'pending', 'catchup', 'manual')),"
	"  status TEXT NOT NULL CHECK (status IN ('deferred', 'queued', 'running', 'succeeded',"
	"                                         'failed', 'canceled', 'interrupted')),"
	"  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
	"  snapshot_id TEXT, files INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	"  bytes_new INTEGER NOT NULL DEFAULT 0, error TEXT, params TEXT, hook_output TEXT);"
	"INSERT INTO jobs_new SELECT * FROM jobs;"
	"DROP TABLE jobs;"
	"ALTER TABLE jobs_new RENAME TO jobs;"
	"CREATE INDEX jobs_host_status ON jobs (host_id, status);"
	"CREATE INDEX jobs_schedule_created ON jobs (schedule_id, created_at);",
};

int store_schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

static enum roost_err sql_fail(struct roost_errbuf *eb, sqlite3 *db, const char *what)
{
	return roost_errf(eb, ROOST_EIO, "store: %s: %s", what, sqlite3_errmsg(db));
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

enum roost_err store_open(const char *path, struct store **out, struct roost_errbuf *eb)
{
	*out = NULL;
	sqlite3 *db = NULL;
	enum roost_err err = ROOST_OK;
	/* Private: hashes of credentials live here. SQLite gives the -wal and
	 * -shm files the mode of the database file, so it is made 0600 first;
	 * files of older versions (0644) are narrowed. */
	int on_disk = *path && strcmp(path, ":memory:") != 0;
	int fd = on_disk ? open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -2;
	if (fd == -1)
		return roost_errf(eb, ROOST_EIO, "store: open %s: %s", path, strerror(errno));
	int narrowed = fd >= 0 ? fchmod(fd, 0600) : 0;
	if (fd >= 0)
		close(fd);
	for (const char *const *sfx = (const char *const[]){"-wal", "-shm", NULL};
	     on_disk && *sfx; sfx++) {
		char side[4200];
		snprintf(side, sizeof(side), "%s%s", path, *sfx);
		if (chmod(side, 0600) && errno != ENOENT)
			narrowed = -1;
	}
	if (narrowed)
		return roost_errf(eb, ROOST_EIO, "store: chmod 0600 %s: %s", path, strerror(errno));
	/* no memory statistics: they take a global mutex on every allocation
	 * SQLite makes (a view of the whole fleet makes many); only possible
	 * before SQLite's first use, later calls fail harmlessly */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                                   SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		err = roost_errf(eb, ROOST_EIO, "store: open %s: %s", path,
		                 db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	/* the version first: a store of a newer roostd is refused before
	 * anything (WAL mode included) is written to it */
	int v;
	if (user_version(db, &v)) {
		err = sql_fail(eb, db, "read schema version");
		goto fail;
	}
	if (v > store_schema_latest()) {
		err = roost_errf(eb, ROOST_ENOTSUP,
		                 "store: %s has schema version %d, newer than this roostd knows (%d); "
		                 "refusing to touch it", path, v, store_schema_latest());
		goto fail;
	}
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	                     "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK) {
		err = sql_fail(eb, db, "configure");
		goto fail;
	}
	for (int m = v; m < store_schema_latest(); m++) {
		char setv[64];
		snprintf(setv, sizeof(setv), "PRAGMA user_version=%d;", m + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[m], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, setv, NULL, NULL, NULL) != SQLITE_OK) {
			char what[64];
			snprintf(what, sizeof(what), "migration %d", m + 1);
			err = sql_fail(eb, db, what);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			err = sql_fail(eb, db, "commit migration");
			goto fail;
		}
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		err = ROOST_ENOMEM;
		goto fail;
	}
	s->db = db;
	s->version = store_schema_latest();
	*out = s;
	return ROOST_OK;
fail:
	sqlite3_close(db);
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s);
}
