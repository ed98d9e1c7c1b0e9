/* SPDX-License-Identifier: MIT */
/*
 * The repository engine: deduplicating, compressed, encrypted backups into
 * any roost_backend. Format: docs/repository-format.md.
 *
 * A struct roost_repo is opened with a password and is used by one thread
 * at a time; the operations themselves use worker threads internally. Many
 * processes (hosts) may back up into one repository at once.
 */
#ifndef ROOST_REPO_H
#define ROOST_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "roost/backend.h"
#include "roost/error.h"

struct roost_repo;

struct roost_repo_params {
	int zstd_level;     /* 0: default */
	uint32_t chunk_min, chunk_avg, chunk_max; /* 0: defaults 256K/1M/4M */
	uint32_t pack_size; /* 0: default 16 MiB */
	uint64_t kdf_ops, kdf_mem; /* 0: defaults (3, 32 MiB) */
};

/* Creates a repository in an empty backend. params may be NULL. */
enum roost_err roost_repo_init(struct roost_backend *be, const char *password,
                               const struct roost_repo_params *params,
                               struct roost_errbuf *eb);

/* Opens with a password; ROOST_EAUTH if no key accepts it. The repo does not
 * own the backend. Free with roost_repo_close. */
enum roost_err roost_repo_open(struct roost_backend *be, const char *password,
                               struct roost_repo **out, struct roost_errbuf *eb);
/* Another handle on the repository from has open, through backend be (a
 * thread's own, say): the same keys and parameters, no key derivation (no
 * Argon2id run, no 32 MiB), its own index. */
enum roost_err roost_repo_open_same(struct roost_backend *be, const struct roost_repo *from,
                                    struct roost_repo **out, struct roost_errbuf *eb);
void roost_repo_close(struct roost_repo *r);
const char *roost_repo_id(const struct roost_repo *r);

/* ---- format 2: write-only (put-only) access -------------------------------
 * A put-only key writes and deduplicates but decrypts no blob and no
 * snapshot (docs/repository-format.md). Its material, 128 bytes, is what
 * roostd gives its agents instead of the password. */
#define ROOST_PUT_MATERIAL_LEN 128
/* Opens with put-only material (no password); the repo does not own be. */
enum roost_err roost_repo_open_put(struct roost_backend *be, const uint8_t *material, size_t n,
                                   struct roost_repo **out, struct roost_errbuf *eb);
/* Host-dedup material for roostd host number host (> 0): the put-only
 * material with that host's own blob-id key, then host (u32); 132 bytes
 * (ROOST_PUT_HOST_LEN). Full keys only. roost_repo_open_put takes either. */
#define ROOST_PUT_HOST_LEN 132
enum roost_err roost_repo_put_material_host(const struct roost_repo *r, uint32_t host,
                                            uint8_t *out, size_t n, struct roost_errbuf *eb);
/* Lets r (opened with the fleet's material) also verify ids under the host id
 * key in host material m (restores of a host-dedup group's snapshots). */
enum roost_err roost_repo_add_host_material(struct roost_repo *r, const uint8_t *m, size_t n,
                                            struct roost_errbuf *eb);
/* The put-only material of a repository opened with a full key (format 2). */
enum roost_err roost_repo_put_material(const struct roost_repo *r, uint8_t *out, size_t n,
                                       struct roost_errbuf *eb);
int roost_repo_put_only(const struct roost_repo *r);
int roost_repo_version(const struct roost_repo *r);
/* Adds a key file for password: the master secret, or (put_only, format 2)
 * the put-only material. Needs a full key. */
enum roost_err roost_repo_key_add(struct roost_repo *r, const char *password, int put_only,
                                  struct roost_errbuf *eb);
/* Upgrades a format 1 repository to 2 (*upgraded 1), or does nothing (0).
 * Nothing is re-encrypted: v1 packs and snapshots stay readable by full keys;
 * the index is rewritten under the meta key so that put-only keys
 * deduplicate against everything. Needs a full key. */
enum roost_err roost_repo_upgrade(struct roost_repo *r, int *upgraded, struct roost_errbuf *eb);
/* An agent's restore through roostd: roost_repo_find_snapshot and every blob
 * read ask the backend for "plain/snapshots/<id>" and "plain/blobs/<id>",
 * which roostd decrypts for the job; blobs are checked against their ids. */
void roost_repo_set_served(struct roost_repo *r, int on);

/* ---- serving a restore (roostd; lib/repo/serve.c) ----
 * The set of blob ids a restore job may read: the root tree first, then what
 * every tree served through it names. Thread-safe, like the two calls below:
 * several threads may serve through one handle. */
struct roost_reach;
struct roost_reach *roost_reach_new(const uint8_t root[32]);
void roost_reach_free(struct roost_reach *h); /* NULL: no-op */
size_t roost_reach_size(struct roost_reach *h);
/* A snapshot's plaintext JSON (*json malloc'd, *n bytes) and its root tree. */
enum roost_err roost_repo_serve_snapshot(struct roost_repo *r, const char *id_hex, char **json,
                                         size_t *n, uint8_t root[32], struct roost_errbuf *eb);
/* Blob id's unsealed stored form (flag || body: the agent decompresses it and
 * checks it against its id), if h allows it (else ROOST_EPERM); a tree is
 * unpacked and verified here, and adds what it names to h. *out is malloc'd
 * with `headroom` bytes before the form's *n bytes. Thread-safe. */
enum roost_err roost_repo_serve_blob(struct roost_repo *r, struct roost_reach *h,
                                     const uint8_t id[32], size_t headroom, uint8_t **out,
                                     size_t *n, struct roost_errbuf *eb);

/* ---- browsing a snapshot (roostd's dashboard; lib/repo/serve.c) ----
 * Thread-safe like the serving calls above: several threads may browse
 * through one handle. Paths are absolute and normalised ("/", "/a/b"). */
/* Loads the index now (a serving thread at start), so that the first
 * browse or restore does not wait for it. */
enum roost_err roost_repo_serve_warm(struct roost_repo *r, struct roost_errbuf *eb);
/* A snapshot named by its full id or a unique prefix: its id into full and
 * its root tree. ROOST_ENOENT: none; ROOST_EINVAL: malformed or ambiguous. */
enum roost_err roost_repo_serve_resolve(struct roost_repo *r, const char *ref, char full[65],
                                        uint8_t root[32], struct roost_errbuf *eb);
/* One entry of a directory; pointers valid during the callback only. */
struct roost_bentry {
	const char *name; /* any bytes but '/' and NUL, name_len of them */
	size_t name_len;
	int type; /* 1 file 2 dir 3 symlink 4 fifo 5 chr 6 blk */
	uint32_t mode;
	uint64_t size;
	int64_t mtime_s;
	uint32_t mtime_ns;
	const char *target; /* symlink: target_len bytes */
	size_t target_len;
};
/* *type gets the type of the node at path (ROOST_ENOENT when missing); when
 * it is a directory, cb gets each of its entries in name (byte) order. */
enum roost_err roost_repo_serve_list(struct roost_repo *r, const uint8_t root[32],
                                     const char *path, int *type,
                                     void (*cb)(void *, const struct roost_bentry *), void *ctx,
                                     struct roost_errbuf *eb);
/* A file's content, extent by extent: a data blob, or a hole of len zeros. */
struct roost_bextent {
	uint8_t id[32];
	uint64_t len;
	int hole;
};
/* *type and *size of the node at path; for a file, its extents (*ext
 * malloc'd, caller frees; none for an empty file). */
enum roost_err roost_repo_serve_file(struct roost_repo *r, const uint8_t root[32],
                                     const char *path, int *type, uint64_t *size,
                                     struct roost_bextent **ext, size_t *next,
                                     struct roost_errbuf *eb);
/* One data blob's plaintext (*out malloc'd), verified against its id;
 * ROOST_ECORRUPT when damaged. */
enum roost_err roost_repo_serve_data(struct roost_repo *r, const uint8_t id[32], uint8_t **out,
                                     size_t *n, struct roost_errbuf *eb);

/* ---- snapshots ---- */
struct roost_snapshot_summary {
	uint64_t files, dirs, bytes, bytes_new, blobs_new, duration_ms;
};
struct roost_snapshot {
	char id[65];
	int64_t time_s;
	uint32_t time_ns;
	char *hostname, *username, *program;
	char **paths;
	size_t npaths;
	char **tags;
	size_t ntags;
	char **excludes;
	size_t nexcludes;
	uint8_t tree[32];
	struct roost_snapshot_summary summary;
};
void roost_snapshot_release(struct roost_snapshot *s);

/* All readable snapshots, oldest first (*out freed with roost_snapshots_free).
 * Unreadable ones are reported through warn (may be NULL). */
enum roost_err roost_repo_snapshots(struct roost_repo *r, struct roost_snapshot **out,
                                    size_t *n, void (*warn)(void *, const char *), void *ctx,
                                    struct roost_errbuf *eb);
void roost_snapshots_free(struct roost_snapshot *s, size_t n);
/* Resolves "latest", a full id or a unique prefix; fills *out. */
enum roost_err roost_repo_find_snapshot(struct roost_repo *r, const char *ref,
                                        struct roost_snapshot *out, struct roost_errbuf *eb);

/* ---- backup ---- */
struct roost_progress {
	uint64_t files_done, files_total_seen, bytes_done, bytes_new;
	const char *current; /* may be NULL */
	uint64_t files_total; /* known in advance (restore), else 0 */
};
struct roost_backup_opts {
	const char *const *paths;
	size_t npaths;
	const char *const *excludes; /* globs; see docs */
	size_t nexcludes;
	const char *const *tags;
	size_t ntags;
	const char *hostname;  /* NULL: this host's name */
	const char *cache_dir; /* files cache; NULL: $ROOST_CACHE_DIR or ~/.cache/roost */
	int threads;           /* 0: number of CPUs */
	/* Called about 4 times a second from a progress thread (may be NULL). */
	void (*progress)(void *ctx, const struct roost_progress *p);
	void *progress_ctx;
	/* Non-fatal problems (unreadable file...) (may be NULL). */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	/* Set to non-zero from another thread to cancel. */
	volatile int *cancel;
};
struct roost_backup_result {
	char snapshot_id[65];
	struct roost_snapshot_summary summary;
	uint64_t errors; /* files that could not be read */
};
enum roost_err roost_repo_backup(struct roost_repo *r, const struct roost_backup_opts *o,
                                 struct roost_backup_result *res, struct roost_errbuf *eb);

/* ---- restore ---- */
struct roost_restore_opts {
	const char *target;
	const char *const *includes; /* absolute snapshot paths; none = everything */
	size_t nincludes;
	int threads;
	void (*progress)(void *ctx, const struct roost_progress *p);
	void *progress_ctx;
	void (*warn)(void *ctx, const char *msg); /* per-file errors */
	void *warn_ctx;
	volatile int *cancel;
};
struct roost_restore_result {
	uint64_t files, dirs, bytes, errors;
};
enum roost_err roost_repo_restore(struct roost_repo *r, const struct roost_snapshot *s,
                                  const struct roost_restore_opts *o,
                                  struct roost_restore_result *res, struct roost_errbuf *eb);

/* ---- ls / diff ---- */
struct roost_lsent {
	const char *path; /* absolute, inside the snapshot */
	size_t path_len;
	int type;         /* 1 file 2 dir 3 symlink 4 fifo 5 chr 6 blk */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime_s;
	uint32_t mtime_ns;
	const char *target; /* symlink target or NULL */
};
/* Calls cb for every node under prefix (NULL: all), depth-first in name order. */
enum roost_err roost_repo_ls(struct roost_repo *r, const struct roost_snapshot *s,
                             const char *prefix,
                             void (*cb)(void *, const struct roost_lsent *), void *ctx,
                             struct roost_errbuf *eb);
/* change: '+' added, '-' removed, 'M' content or metadata changed, 'T' type changed. */
enum roost_err roost_repo_diff(struct roost_repo *r, const struct roost_snapshot *a,
                               const struct roost_snapshot *b,
                               void (*cb)(void *, char change, const char *path), void *ctx,
                               struct roost_errbuf *eb);

/* ---- check ---- */
struct roost_check_opts {
	int read_data;
	unsigned sample_packs; /* without read_data: read this many packs, chosen at random */
	void (*report)(void *ctx, int is_error, const char *msg);
	void *ctx;
};
struct roost_check_result {
	uint64_t errors, warnings, packs, blobs, snapshots;
	uint64_t duplicates; /* blobs stored in more than one pack */
};
enum roost_err roost_repo_check(struct roost_repo *r, const struct roost_check_opts *o,
                                struct roost_check_result *res, struct roost_errbuf *eb);

/* ---- forget / prune ---- */
struct roost_keep_policy {
	int last, hourly, daily, weekly, monthly, yearly; /* 0: unused */
};
/* retention.c: restic's keep rules over one series of times, newest first */
enum {
	ROOST_KEEP_RULE_LAST,
	ROOST_KEEP_RULE_HOURLY,
	ROOST_KEEP_RULE_DAILY,
	ROOST_KEEP_RULE_WEEKLY,
	ROOST_KEEP_RULE_MONTHLY,
	ROOST_KEEP_RULE_YEARLY,
	ROOST_KEEP_RULES
};
int roost_keep_policy_empty(const struct roost_keep_policy *p);
/* why[i] gets a bit (1 << rule) for every rule that keeps times[i]; 0: not kept. */
void roost_keep_apply(const struct roost_keep_policy *p, const int64_t *times, size_t n,
                      unsigned *why);
/* The calendar bucket of t for a rule (UTC; weeks start on Monday). */
int64_t roost_keep_bucket(int64_t t, int rule);
const char *roost_keep_rule_name(int rule);
/* "last, daily": the rules in why, for messages. */
void roost_keep_reason(unsigned why, char *buf, size_t len);
/* Groups snapshots by (hostname, paths) and removes those the policy does not
 * keep. remove_cb (may be NULL) is told each decision. */
enum roost_err roost_repo_forget(struct roost_repo *r, const struct roost_keep_policy *p,
                                 int dry_run,
                                 void (*cb)(void *, const struct roost_snapshot *, int keep),
                                 void *ctx, struct roost_errbuf *eb);
enum roost_err roost_repo_forget_ids(struct roost_repo *r, const char *const *refs, size_t n,
                                     struct roost_errbuf *eb);
struct roost_prune_opts {
	int64_t grace_s; /* marks younger than this are not acted on */
	int64_t now;     /* wall time (seconds), injected for tests */
	void (*report)(void *ctx, const char *msg);
	void *ctx;
	/* May a pack marked at marked_at be deleted now (its grace has passed)?
	 * NULL: yes. roostd answers no while a job that may still reference it
	 * is live. */
	int (*may_delete)(void *ctx, int64_t marked_at);
};
struct roost_prune_result {
	uint64_t packs_deleted, bytes_deleted, packs_marked, packs_repacked, blobs_repacked;
	uint64_t packs_kept_marked;
	uint64_t packs_waiting; /* grace over, but may_delete said not yet */
};
enum roost_err roost_repo_prune(struct roost_repo *r, const struct roost_prune_opts *o,
                                struct roost_prune_result *res, struct roost_errbuf *eb);
/* Another process pruned this repository (roostd: another instance): every
 * reader of this process reloads its index before its next pack lookup, as
 * after a prune of its own. Thread-safe. */
void roost_repo_packs_changed(void);

/* ---- stats ---- */
struct roost_repo_stats {
	uint64_t snapshots, packs, pack_bytes, blobs, data_blobs, tree_blobs;
	uint64_t raw_bytes;    /* uncompressed size of all stored blobs */
	uint64_t stored_bytes; /* their size as stored */
};
enum roost_err roost_repo_stats(struct roost_repo *r, struct roost_repo_stats *st,
                                struct roost_errbuf *eb);

#endif
