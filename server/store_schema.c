/* SPDX-License-Identifier: MIT */
/*
 * The schema of roostd's store: the numbered migrations, written in
 * SQLite's dialect (store_pg.c translates them, or gives its own text of
 * one). It follows DESIGN.md: hosts, enrollment tokens, source groups,
 * schedules and their groups, jobs, pending runs (one per host and
 * schedule), seen fires, success per (schedule, group) for catch-up,
 * maintenance runs, health and events, webhooks, the dashboard's users and
 * sessions, and the agent policies' fields. A file of its own so that the
 * engines and store.c all read it without depending on one another.
 */
#include <stddef.h>

#include "store_drv.h"

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
	/* 9: the conditional claims (docs/scale-out.md 2.1-2.3, 2.5, 2.8, 2.12), which hold
	 * whether one roostd or several share the store: a hello's connection epoch and
	 * the epoch whose catch-up ran; one order (roost_order, here a counter row that
	 * a trigger draws from at each job's insert) for the live-job rule of prune;
	 * at most one deferred job per (host, schedule, group); failed logins counted
	 * in the store. hosts.current_job_id is recomputed: automatic dispatch claims
	 * a host by it (NULL exactly when no job is queued or running) */
	"ALTER TABLE hosts ADD COLUMN conn_epoch INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN catchup_epoch INTEGER NOT NULL DEFAULT 0;"
	"UPDATE hosts SET current_job_id = (SELECT id FROM jobs WHERE host_id = hosts.id AND"
	"  status IN ('queued', 'running') ORDER BY (status = 'running') DESC, id LIMIT 1);"
	"CREATE TABLE roost_order (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);"
	"INSERT INTO roost_order VALUES (1, 0);"
	"ALTER TABLE jobs ADD COLUMN order_seq INTEGER NOT NULL DEFAULT 0;"
	"CREATE TRIGGER jobs_order_seq AFTER INSERT ON jobs BEGIN"
	"  UPDATE roost_order SET value = value + 1 WHERE id = 1;"
	"  UPDATE jobs SET order_seq = (SELECT value FROM roost_order WHERE id = 1)"
	"  WHERE id = NEW.id; END;"
	"ALTER TABLE maintenance ADD COLUMN visible_seq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE jobs SET status = 'canceled', error = 'a second deferred job of its (schedule,"
	" group)' WHERE status = 'deferred' AND id NOT IN (SELECT MIN(id) FROM jobs WHERE"
	"  status = 'deferred' GROUP BY host_id, schedule_id, group_id);"
	"CREATE UNIQUE INDEX jobs_one_deferred ON jobs (host_id, schedule_id, group_id)"
	"  WHERE status = 'deferred';"
	"CREATE TABLE login_failures ("
	"  kind TEXT NOT NULL CHECK (kind IN ('name', 'addr')), key TEXT NOT NULL,"
	"  failures INTEGER NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (kind, key));"
	"CREATE INDEX login_failures_last ON login_failures (last_at);",
	/* 10: several roostd over one store (docs/scale-out.md). Each start
	 * of an instance is a row, heart-beaten with the database's clock; a
	 * host's owner is the instance holding its agent's connection, its
	 * conn_epoch bumped by every hello; leases name one holder of a
	 * fleet-wide chore (sweeper, maintenance, webhooks) and carry the
	 * repository's packs generation (row 'repo'); a maintenance run names
	 * its cron slot (one run per slot, whichever instance fires first) and
	 * the lease epoch it runs under (conn_epoch came with 9). */
	"CREATE TABLE instances ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL DEFAULT '',"
	"  started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'dead')));"
	"CREATE INDEX instances_state ON instances (state, heartbeat_at);"
	"CREATE TABLE leases ("
	"  name TEXT PRIMARY KEY, holder INTEGER, epoch INTEGER NOT NULL DEFAULT 0,"
	"  expires_at INTEGER NOT NULL DEFAULT 0, packs_gen INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE hosts ADD COLUMN instance_id INTEGER;"
	"ALTER TABLE hosts ADD COLUMN session_started_at INTEGER;"
	"CREATE INDEX hosts_instance ON hosts (instance_id);"
	"ALTER TABLE maintenance ADD COLUMN cron_slot INTEGER;"
	"ALTER TABLE maintenance ADD COLUMN lease_epoch INTEGER;"
	"CREATE UNIQUE INDEX maintenance_cron_slot ON maintenance (cron_slot);",
};

int store_schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

const char *store_migration_sql(int m)
{
	return m >= 1 && m <= store_schema_latest() ? migrations[m - 1] : NULL;
}
