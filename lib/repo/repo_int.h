/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the repository engine (lib/repo), a map of it: one
 * section per file, named after it, lower layers first. The format these
 * implement is docs/repository-format.md. Files with no section here offer
 * only the public API of include/roost/repo.h and backend.h:
 * backend_local.c (the local directory backend), browse.c (ls, diff),
 * check.c and restore.c; backup.c and maintenance.c offer theirs besides
 * what their sections declare.
 */
#ifndef ROOST_REPO_INT_H
#define ROOST_REPO_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "roost/backend.h"
#include "roost/error.h"
#include "roost/repo.h"

#define ID_LEN 32
#define HEX_LEN 64
#define SEAL_OVERHEAD 40 /* 24-byte nonce + 16-byte tag */
#define BLOB_DATA 0
#define BLOB_TREE 1
#define MAX_TREE_BLOB (256u << 20)
#define MAX_OBJECT (1024u << 20)

/* ---- crypto.c: keys, sealing, ids, hex ---------------------------------- */
/*
 * A full key (from the master secret) has every field; a put-only key (format
 * v2, docs/repository-format.md) has id, chunk, meta and data_pk only: it can
 * write and deduplicate, never read blobs or snapshots.
 */
struct repo_keys {
	uint8_t enc[32];     /* v1 sealing (has_enc) */
	uint8_t id[32];      /* keyed BLAKE2b blob ids */
	uint8_t chunk[32];   /* chunker gear seed */
	uint8_t meta[32];    /* v2: config, index, trailers, marks */
	uint8_t data_pk[32]; /* v2: blobs and snapshots are sealed to it */
	uint8_t data_sk[32]; /* v2: opens them (has_secret) */
	uint8_t host_master[32]; /* v2: host id keys derive from it (has_secret) */
	uint32_t write_idk;  /* the key number of id: 0 the fleet's, n host n's */
	uint8_t host_id[32]; /* put-only: a second id key, host host_idk's (0: none) */
	uint32_t host_idk;
	int has_enc, has_secret;
};
void keys_derive(const uint8_t master[32], struct repo_keys *k);
/* The put-only key material: id || chunk || meta || data_pk. */
#define PUT_BUNDLE_LEN 128
void keys_put_bundle(const struct repo_keys *k, uint8_t out[PUT_BUNDLE_LEN]);
void keys_from_bundle(const uint8_t in[PUT_BUNDLE_LEN], struct repo_keys *k);
/* Host-dedup material (docs/repository-format.md, "Host dedup"): the bundle
 * with host n's id key in place of the fleet's, then n (u32). */
#define PUT_HOST_LEN (PUT_BUNDLE_LEN + 4)
/* The blob-id key of key number idk (0: the fleet's); -1 if k can not have it. */
int keys_id_key(const struct repo_keys *k, uint32_t idk, uint8_t out[32]);
/* A fresh ephemeral key pair: its public half into epk, the symmetric key it
 * shares with data_pk into key. -1 on a bad data_pk. Thread-safe. */
int kx_new_sealing_key(const uint8_t data_pk[32], uint8_t epk[32], uint8_t key[32]);
/* The symmetric key of epk's pack or object; -1 without the data secret key. */
int kx_opening_key(const struct repo_keys *k, const uint8_t epk[32], uint8_t key[32]);
/* An all-zero epk marks a v1 pack (sealed with keys.enc). */
int epk_is_v1(const uint8_t epk[32]);
/* Objects sealed to the data public key: epk (32) || seal(key, pt). */
#define PKSEAL_OVERHEAD (32 + SEAL_OVERHEAD)
enum roost_err pkseal_alloc(const uint8_t data_pk[32], const uint8_t *pt, size_t n, uint8_t **out,
                            size_t *outn);
/* Opens one into a new NUL-terminated buffer; ROOST_ECRYPTO if it is not
 * authentic or k has no data secret key. Hostile input (fuzzed). */
enum roost_err pkseal_open(const struct repo_keys *k, const uint8_t *ct, size_t n, uint8_t **out,
                           size_t *outn);
/* out must hold n + SEAL_OVERHEAD bytes. Thread-safe. */
void seal(const uint8_t key[32], const uint8_t *pt, size_t n, uint8_t *out);
/* out must hold n - SEAL_OVERHEAD bytes; ROOST_ECRYPTO if not authentic. */
enum roost_err unseal(const uint8_t key[32], const uint8_t *ct, size_t n, uint8_t *out);
/* Keyed BLAKE2b-256 (libsodium's crypto_generichash with a 32-byte key and
 * output), by OpenSSL when it gives the same answer. Thread-safe. */
void kblake2b(const uint8_t key[32], const uint8_t *p, size_t n, uint8_t out[32]);
enum { KB_SODIUM, KB_OPENSSL };
int kblake2b_impl(void); /* which one computes kblake2b in this process */
void kblake2b_use_sodium(void); /* from now on (tests): while no thread hashes */
void blob_id(const struct repo_keys *k, const uint8_t *p, size_t n, uint8_t id[ID_LEN]);
/* The id of p under key number idk; -1 if k does not hold that key. */
int blob_id_k(const struct repo_keys *k, uint32_t idk, const uint8_t *p, size_t n,
              uint8_t id[ID_LEN]);
void hash_plain(const uint8_t *p, size_t n, uint8_t out[ID_LEN]);
void hex_encode(const uint8_t *p, size_t n, char *out); /* out: 2n+1 */
int hex_decode(const char *s, uint8_t *out, size_t n);  /* exactly 2n hex chars */
/* Seals a whole object (config, index, snapshot, marks) into a new buffer. */
enum roost_err seal_alloc(const uint8_t key[32], const uint8_t *pt, size_t n, uint8_t **out,
                          size_t *outn);
/* Opens a sealed object into a new buffer (NUL-terminated for JSON use). */
enum roost_err unseal_alloc(const uint8_t key[32], const uint8_t *ct, size_t n, uint8_t **out,
                            size_t *outn);

/* ---- blob.c: compression + sealing of one blob -------------------------- */
struct blob_ctx; /* per-thread zstd contexts and scratch buffers */
struct blob_ctx *blob_ctx_new(int level);
void blob_ctx_free(struct blob_ctx *c);
/* Encodes plaintext into c's scratch as flag || body, unsealed (the pack
 * seals it, pack_writer_add): *out valid until the next call on c. */
enum roost_err blob_encode(struct blob_ctx *c, const uint8_t *p, size_t n, const uint8_t **out,
                           size_t *outn);
/*
 * Decodes a stored blob: unseal with key (its pack's, repo_pack_key),
 * decompress into out (raw_len bytes), then check that the keyed hash (k->id)
 * equals id. ROOST_ECORRUPT/ECRYPTO on damage.
 */
enum roost_err blob_decode(struct blob_ctx *c, const struct repo_keys *k, const uint8_t key[32],
                           const uint8_t *st, size_t stn, uint8_t *out, size_t raw_len,
                           const uint8_t id[ID_LEN], uint32_t idk);
/*
 * The unsealed form (flag || body) of the blob the last successful
 * blob_decode on c verified: *p valid until the next call on c, NULL if that
 * call failed. blob_unpack turns such a form back into the raw bytes, so a
 * blob needed again is not decrypted and hashed again.
 */
void blob_last_plain(const struct blob_ctx *c, const uint8_t **p, size_t *n);
/* blob_last_plain answers NULL until the next successful blob_decode. */
void blob_forget_last(struct blob_ctx *c);
enum roost_err blob_unpack(struct blob_ctx *c, const uint8_t *p, size_t pn, uint8_t *out,
                           size_t raw_len);

/* ---- chunker.c: FastCDC ------------------------------------------------- */
struct chunker {
	uint64_t gear[256];
	uint64_t mask_s, mask_l;
	uint32_t min, avg, max;
};
void chunker_init(struct chunker *ch, const uint8_t seed[32], uint32_t min, uint32_t avg,
                  uint32_t max);
/* Length of the next chunk at the start of p[0..n): if !eof and n < max the
 * caller must supply more data first. */
size_t chunker_cut(const struct chunker *ch, const uint8_t *p, size_t n);

/* ---- index.c: blob id -> location, shared by all threads ---------------- */
struct blob_loc {
	uint8_t id[ID_LEN];
	uint32_t pack;   /* index into repo_index.packs */
	uint32_t offset; /* in the pack */
	uint32_t length; /* stored length */
	uint32_t raw_len;
	uint32_t idk; /* key number of its id: 0 the fleet id key, n host n's */
	uint8_t type;
};
struct pack_info {
	uint8_t id[ID_LEN];
	uint8_t epk[32];   /* v2 ephemeral key of its blobs; zero: a v1 pack */
	uint64_t size;     /* bytes, 0 if unknown */
	uint32_t nblobs;
	uint8_t indexed;   /* named by an index object */
	uint8_t dropped;   /* index_drop_pack: its blobs are no longer offered */
};
struct repo_index;
struct repo_index *index_new(void);
void index_free(struct repo_index *ix);
/* Adds a pack and its blobs (ids of packs already known are ignored); epk
 * NULL or zero for a v1 pack. */
enum roost_err index_add_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN],
                              uint64_t size, const uint8_t *epk, const struct blob_loc *blobs,
                              uint32_t n, int indexed);
/* Copies the location of id into *loc (if non-NULL); 1 if found, 0 if not. */
int index_lookup(struct repo_index *ix, const uint8_t id[ID_LEN], struct blob_loc *loc);
/*
 * Claims id for storing: returns 1 if the caller must store it (unknown and
 * not claimed), 0 if it is stored or being stored by another thread.
 */
int index_claim(struct repo_index *ix, const uint8_t id[ID_LEN]);
/* Drops a claim that was not stored (error path). */
void index_unclaim(struct repo_index *ix, const uint8_t id[ID_LEN]);
int index_has_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN]);
size_t index_npacks(struct repo_index *ix);
struct pack_info index_pack(struct repo_index *ix, size_t i);
/* Calls cb for every blob (not thread-safe against writers). */
void index_each_blob(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                     void *ctx);
size_t index_nblobs(struct repo_index *ix);
/* How many blobs were added again from a second pack. */
uint64_t index_duplicates(struct repo_index *ix);
/* Blobs of the pack are no longer offered for deduplication (prune marked it). */
void index_drop_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN]);
/* A pack and its blobs, as in a trailer or an index object. */
struct pack_blobs {
	uint8_t id[ID_LEN];
	uint8_t epk[32]; /* zero: a v1 pack */
	uint64_t size;
	struct blob_loc *blobs;
	uint32_t n;
};
/* The 45-byte blob entries shared by index objects and pack trailers:
 * encode returns bytes written; decode checks each lies within [0, limit). */
#define ENTRY_LEN (1 + ID_LEN + 4 + 4 + 4) /* type, id, offset, length, raw length */
#define ENTRY3_LEN (ENTRY_LEN + 4)        /* RPK3/RIX3: then the id key number */
/* Whether one of b[0..n) has a host id key (written as RPK3/RIX3). */
int blob_entries_wide(const struct blob_loc *b, uint32_t n);
size_t blob_entries_encode(const struct blob_loc *b, uint32_t n, uint8_t *out, int wide);
enum roost_err blob_entries_decode(const uint8_t *p, uint32_t n, uint64_t limit,
                                   struct blob_loc *out, int wide, struct roost_errbuf *eb);
/* Binary index object plaintext for packs p[0..n): "RIX2" (with each pack's
 * epk) when one of them is a v2 pack, else "RIX1". */
enum roost_err index_encode(const struct pack_blobs *p, size_t n, uint8_t **out, size_t *outn);
/* Parses an index plaintext, calling add for each pack (blobs valid during the call). */
enum roost_err index_decode(const uint8_t *p, size_t n,
                            enum roost_err (*add)(void *, const struct pack_blobs *),
                            void *ctx, struct roost_errbuf *eb);

/* ---- pack.c: one pack file being written; trailers ---------------------- */
struct pack_writer;
/* version 2: a fresh ephemeral key pair, blobs sealed to k->data_pk; 1: k->enc.
 * k is borrowed until finish or abort. */
enum roost_err pack_writer_new(struct roost_backend *b, const struct repo_keys *k, int version,
                               struct pack_writer **out, struct roost_errbuf *eb);
/* Seals and appends an encoded blob (flag || body, blob_encode): it takes
 * n + SEAL_OVERHEAD bytes of the pack. */
enum roost_err pack_writer_add(struct pack_writer *pw, uint8_t type, uint32_t idk,
                               const uint8_t id[ID_LEN],
                               const uint8_t *plain, size_t n, uint32_t raw_len,
                               struct roost_errbuf *eb);
uint64_t pack_writer_size(const struct pack_writer *pw);
uint32_t pack_writer_count(const struct pack_writer *pw);
/*
 * Seals the trailer, commits the pack under the hash of its bytes, and hands
 * out its id and blob list (*blobs malloc'd, caller frees; .pack unset).
 * Frees pw whatever the outcome.
 */
enum roost_err pack_writer_finish(struct pack_writer *pw, uint8_t pack_id[ID_LEN],
                                  uint8_t epk[32], uint64_t *size, struct blob_loc **blobs,
                                  uint32_t *n, struct roost_errbuf *eb);
void pack_writer_abort(struct pack_writer *pw);
/* Parses a trailer plaintext (after unseal), "RPK1" or "RPK2"; *blobs
 * malloc'd; epk gets the pack's ephemeral key (zero for v1). */
enum roost_err pack_trailer_decode(const uint8_t *p, size_t n, uint64_t pack_size,
                                   uint8_t epk[32], struct blob_loc **blobs, uint32_t *nb,
                                   struct roost_errbuf *eb);
/* Reads and verifies the trailer of a stored pack; epk may be NULL. */
enum roost_err pack_read_trailer(struct roost_backend *b, const struct repo_keys *k,
                                 const char *name, uint64_t size, uint8_t epk[32],
                                 struct blob_loc **blobs, uint32_t *nb, struct roost_errbuf *eb);

/* ---- tree.c: directory tree blobs --------------------------------------- */
enum node_type {
	NODE_FILE = 1,
	NODE_DIR = 2,
	NODE_SYMLINK = 3,
	NODE_FIFO = 4,
	NODE_CHR = 5,
	NODE_BLK = 6,
};
struct extent {
	uint8_t kind; /* 0 blob, 1 hole */
	uint8_t id[ID_LEN];
	uint64_t len; /* hole length; for blobs the raw length (from index) */
};
struct xattr {
	char *name;
	uint8_t *value;
	uint32_t len;
};
struct node {
	char *name; /* any bytes but '/' and NUL */
	uint16_t name_len;
	uint8_t type;
	uint8_t flags; /* 1 link info, 2 xattrs */
	uint32_t mode, uid, gid;
	int64_t mtime_s;
	uint32_t mtime_ns;
	uint64_t size;
	uint64_t dev, ino; /* hard link identity, when flags & 1 */
	uint64_t rdev;
	char *target; /* symlink */
	uint32_t target_len;
	struct xattr *xattrs;
	uint16_t nxattrs;
	struct extent *extents; /* file content */
	uint32_t nextents;
	uint8_t subtree[ID_LEN]; /* dir */
};
struct tree {
	struct node *nodes;
	size_t n, cap;
};
void node_release(struct node *n);
void tree_release(struct tree *t);
/* Sorts nodes by name; then encodes. */
enum roost_err tree_encode(struct tree *t, uint8_t **out, size_t *outn);
enum roost_err tree_decode(const uint8_t *p, size_t n, struct tree *t, struct roost_errbuf *eb);
int name_valid(const char *name, size_t len);

/* ---- keys.c: key files, adding keys, the v1 -> v2 upgrade ---------------- */
/* A key file's JSON wrapping payload (32 bytes: a master secret; 128: the
 * put-only material) under password; *json_out malloc'd. */
enum roost_err keyfile_wrap(const char *password, const uint8_t *payload, size_t plen,
                            uint64_t ops, uint64_t mem, char **json_out, struct roost_errbuf *eb);
/* 0 and the payload (*outn bytes) if password opens this key file. */
int keyfile_unwrap(const char *password, const uint8_t *buf, size_t len,
                   uint8_t out[PUT_BUNDLE_LEN], size_t *outn);
/* Wraps and stores a key file under a random name. */
enum roost_err keyfile_add(struct roost_backend *be, const char *password,
                           const uint8_t *payload, size_t plen, uint64_t ops, uint64_t mem,
                           struct roost_errbuf *eb);

/* ---- repo.c: an open repository, its objects ---------------------------- */
struct roost_repo {
	struct roost_backend *be;
	struct repo_keys keys;
	int version;        /* of the config: 1 or 2 */
	uint8_t master[32]; /* when master_known (opened by a full key file) */
	int master_known;
	int served;         /* an agent's restore: blobs and the snapshot from roostd */
#define SERVE_BC_MAX 8
	struct blob_ctx *serve_bc[SERVE_BC_MAX]; /* serve.c's pool of idle contexts */
	int nserve_bc;
	struct chunker chunker;
	char id_hex[HEX_LEN + 1];
	int zstd_level;
	uint32_t pack_size;
	struct repo_index *index;
	int index_loaded;
	unsigned long packs_gen; /* repo_packs_gen when the index was last checked (serve.c) */
	uint32_t chunk_min, chunk_avg, chunk_max;
	struct pack_key_cache *pkc; /* keys.c: recently derived pack keys */
};
/* Grows (atomically) each time a prune in this process deleted packs: a
 * long-lived handle that reads beside it (roostd's restore and browse
 * threads, serve.c) drops the deleted packs from its index before its next
 * read instead of naming objects that are gone. */
extern unsigned long repo_packs_gen;
/* config.c: writes the config (version r->version); replace: an upgrade,
 * through config.next. */
enum roost_err repo_write_config(struct roost_repo *r, int replace, struct roost_errbuf *eb);
/* config.c: reads the config with r->keys (a v2 one under meta, a v1 one under
 * enc; config.next when an upgrade stopped between its steps). */
enum roost_err repo_load_config(struct roost_repo *r, struct roost_errbuf *eb);
/* The key that opens the blobs of a pack with this epk; ROOST_EAUTH for a
 * put-only key. Thread-safe; keeps recent ones (one X25519 per pack, not
 * per blob). */
enum roost_err repo_pack_key(struct roost_repo *r, const uint8_t epk[32], uint8_t key[32],
                             struct roost_errbuf *eb);
/* Wipes and frees the pack keys repo_pack_key keeps (roost_repo_close). */
void repo_pack_keys_free(struct roost_repo *r);
/* ROOST_EAUTH with a message: a put-only key can not do `what`. */
enum roost_err put_only_refusal(struct roost_errbuf *eb, const char *what);
/* Reads, unseals and verifies a whole object into *out (caller frees). */
enum roost_err repo_get_sealed(struct roost_repo *r, const char *name, uint8_t **out,
                               size_t *n, struct roost_errbuf *eb);
/* Seals and stores pt under type/<hash of sealed bytes>; id_hex gets the name. */
enum roost_err repo_put_sealed(struct roost_repo *r, const char *type, const uint8_t *pt,
                               size_t n, char id_hex[HEX_LEN + 1], struct roost_errbuf *eb);
/* Loads every index object and the trailers of unindexed packs. */
enum roost_err repo_load_index(struct roost_repo *r, struct roost_errbuf *eb);
/* Reads one blob (located via the index) into a new buffer of raw_len bytes. */
enum roost_err repo_read_blob(struct roost_repo *r, struct blob_ctx *bc,
                              const uint8_t id[ID_LEN], uint8_t **out, size_t *n,
                              struct roost_errbuf *eb);
/* A blob's unsealed stored form (flag || body, authenticated, not yet
 * decompressed nor checked against its id) into a new buffer with headroom
 * bytes before it; *loc gets its index entry. Thread-safe. */
enum roost_err repo_read_form(struct roost_repo *r, const uint8_t id[ID_LEN], size_t headroom,
                              uint8_t **out, size_t *n, struct blob_loc *loc,
                              struct roost_errbuf *eb);
enum roost_err repo_load_tree(struct roost_repo *r, struct blob_ctx *bc,
                              const uint8_t id[ID_LEN], struct tree *t,
                              struct roost_errbuf *eb);
/* Writes one index object for packs p[0..n); *name_hex (may be NULL) gets its name. */
enum roost_err repo_write_index(struct roost_repo *r, const struct pack_blobs *p, size_t n,
                                char *name_hex, struct roost_errbuf *eb);
/* Formats a message and hands it to cb (if non-NULL): the warnings and
 * reports of backup, restore, check and prune. */
void vreport(void (*cb)(void *, const char *), void *ctx, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Names (and sizes, if non-NULL) of all objects of a type; caller frees. */
enum roost_err repo_list_objects(struct roost_repo *r, const char *type, char ***names,
                                 uint64_t **sizes, size_t *n, struct roost_errbuf *eb);

/* ---- snapshot.c: snapshot JSON ------------------------------------------ */
enum roost_err snapshot_encode(const struct roost_snapshot *s, char **json);
enum roost_err snapshot_decode(const char *json, size_t n, struct roost_snapshot *s,
                               struct roost_errbuf *eb);

/* ---- filescache.c: what the last backup read, by path ------------------- */
struct fc_entry {
	uint64_t ino, size;
	int64_t mtime_s, ctime_s;
	uint32_t mtime_ns, ctime_ns;
	uint32_t nextents;
	const uint8_t *extents; /* encoded: kind(1) + id(32) | len(8), per extent */
	uint16_t nxattrs;
	const uint8_t *xattrs;  /* encoded: u16 name len, name, u32 value len, value */
	const uint8_t *key;     /* the path's key, when known (fcache_get sets it) */
};
struct filescache;
/* Loads the cache file at path (missing or malformed: empty cache). */
struct filescache *fcache_load(const char *path);
void fcache_free(struct filescache *fc);
/* Whether fc (or NULL) answers no path: a first backup. */
int fcache_empty(const struct filescache *fc);
/* Finds path; the entry points into fc's memory. 0 if found. */
int fcache_get(struct filescache *fc, const char *path, size_t len, struct fc_entry *out);
/* Decodes an entry's extents into a new array (caller frees). */
struct extent *fcache_extents(const struct fc_entry *e);
/* Copies an entry's xattrs into n (n->xattrs owned by n); -1 out of memory. */
int fcache_xattrs(const struct fc_entry *e, struct node *n);

/* The cache being written by a backup: thread-safe appends. */
struct fcache_out;
/* Streams entries to a temporary file next to path. NULL on failure. */
struct fcache_out *fcache_out_new(const char *path);
/* meta (may be NULL) supplies the xattrs to remember. */
void fcache_out_add(struct fcache_out *o, const char *path, size_t len,
                    const struct fc_entry *e, const struct extent *ext,
                    const struct node *meta);
/* Atomically replaces the file at path; frees o. */
enum roost_err fcache_out_commit(struct fcache_out *o, const char *path, struct roost_errbuf *eb);
void fcache_out_free(struct fcache_out *o);

/* ---- idset.c: a set of blob ids, and the tree walk built on it ---------- */
struct idset;
struct idset *idset_new(void);
void idset_free(struct idset *s);
/* 1 if added, 0 if present, -1 out of memory. */
int idset_add(struct idset *s, const uint8_t id[ID_LEN]);
int idset_has(const struct idset *s, const uint8_t id[ID_LEN]);
size_t idset_size(const struct idset *s);
/* Frees a list of names from repo_list_objects. */
void free_names(char **names, size_t n);

/* Visits every tree reachable from root once (per `seen`), calling cb with each
 * tree and its path. Errors in loading a tree go to err_cb and the walk goes on. */
typedef void (*tree_visit_cb)(void *ctx, const char *path, const struct tree *t);
typedef void (*tree_err_cb)(void *ctx, const char *path, const char *msg);
enum roost_err walk_trees(struct roost_repo *r, struct blob_ctx *bc, const uint8_t root[ID_LEN],
                          struct idset *seen, tree_visit_cb cb, tree_err_cb ecb, void *ctx);

/* ---- packer.c: stored blobs into committed packs (backup, repack) ------- */
/*
 * A packer is shared by the threads that write blobs; each of them keeps its
 * own open pack (a pack_writer, NULL until the first blob) and hands it to
 * the packer when it fills. Thread-safe, except packer_stop, packer_take and
 * packer_free, which the owner calls once the writers are done.
 */
struct packer;
enum packer_flags {
	PACKER_THREAD = 1 << 0, /* commit on a thread of the packer's own */
	PACKER_INDEX = 1 << 1,  /* add committed packs to r->index, and write an
	                           index object every 64 packs and at packer_flush */
};
/* on_error (may be NULL) hears of a failed commit on the packer's thread;
 * the caller then stops with packer_fail. Free with packer_free. */
enum roost_err packer_new(struct roost_repo *r, enum packer_flags flags,
                          void (*on_error)(void *, enum roost_err, const struct roost_errbuf *),
                          void *ctx, struct packer **out, struct roost_errbuf *eb);
/* Appends an encoded blob (blob_encode) to *pw, opening it first if NULL. */
enum roost_err packer_add(struct packer *pk, struct pack_writer **pw, uint8_t type,
                          uint32_t idk, const uint8_t id[ID_LEN], const uint8_t *plain, size_t n,
                          uint32_t raw_len, struct roost_errbuf *eb);
/* Hands *pw over with packer_seal if it has reached the repository's pack size. */
enum roost_err packer_roll(struct packer *pk, struct pack_writer **pw, struct roost_errbuf *eb);
/*
 * Hands *pw (if open) over to be committed and sets it to NULL; waits while
 * the committer has a full queue. After packer_fail returns that error and
 * leaves *pw to the caller (pack_writer_abort).
 */
enum roost_err packer_seal(struct packer *pk, struct pack_writer **pw, struct roost_errbuf *eb);
/* The operation failed (err, the first one counts): packs handed over are
 * dropped, not committed, and nobody waits for room any more. */
void packer_fail(struct packer *pk, enum roost_err err);
/* Waits until every pack handed over is committed or dropped; ends the thread. */
void packer_stop(struct packer *pk);
/* PACKER_INDEX: writes the index object for committed packs not yet in one. */
enum roost_err packer_flush(struct packer *pk, struct roost_errbuf *eb);
/* The committed packs not in an index object; *v malloc'd, caller frees it
 * and each blobs list. */
void packer_take(struct packer *pk, struct pack_blobs **v, size_t *n);
/* Stops, flushes the index (PACKER_INDEX, errors ignored), frees. NULL: no-op. */
void packer_free(struct packer *pk);

/* ---- backup.c: a backup's shared state, reading files, writing trees ---- */
#define BK_QUEUE_CAP 256 /* jobs queued for the workers */
#define BK_BATCH 32      /* jobs a thread collects before queueing them */

/* A directory being backed up: its tree fills while its children complete. */
struct dnode {
	struct dnode *parent;
	size_t slot;       /* this directory's entry in parent->t */
	struct tree t;     /* pre-sized: no realloc while workers write slots */
	uint8_t *skip;     /* entries to drop at finalize */
	/* children not complete, +1 while the walker is in it; the thread that
	 * takes it to zero finalizes, and the atomic's ordering makes every
	 * write other threads made to t and skip before their decrement visible */
	atomic_int pending;
};

/* A file to read, or (is_dir) a directory to walk, for slot `slot` of dir. */
struct fjob {
	struct dnode *dir;
	size_t slot;
	char *path;
	size_t path_len;
	struct stat st;
	int is_dir;   /* 1 a directory to walk, 2 part of one (names) */
	char **names; /* is_dir 2: entries slot .. slot + nnames - 1 of dir */
	size_t nnames;
};

/* What one thread (the walker or a worker) owns. */
struct wctx {
	struct blob_ctx *bc;
	struct pack_writer *pw;    /* this thread's open pack, or NULL */
	uint8_t *buf;
	size_t bufcap;
	int is_worker;             /* workers never wait for room in the queue */
	int busy;                  /* a worker between its dequeues (counted in bk.busy) */
	struct fjob *batch[BK_BATCH]; /* jobs found by this thread, not yet queued */
	size_t nbatch;
};

/* One backup run, shared by all its threads. */
struct bk {
	struct roost_repo *r;
	const struct roost_backup_opts *o;
	int64_t start_s;

	pthread_mutex_t qlock; /* the queue and the fields up to plock */
	pthread_cond_t q_nonempty, q_nonfull;
	struct fjob *q[BK_QUEUE_CAP];
	size_t qhead, qlen;
	int closing;
	char current[512];
	int idle;    /* workers waiting for a job */
	int walking; /* workers walking a directory: they may still queue jobs */
	int busy;    /* workers running jobs: they may still share chunks */
	struct htask *hq, *hq_last; /* chunks shared with idle workers (backup_share.c) */
	int hq_len;
	struct htask *hfree;        /* their buffers, for the next ones */
	pthread_cond_t h_done;      /* a shared chunk is done */
	atomic_int idle_hint;       /* idle, read without the lock */

	pthread_mutex_t plock; /* fatal error */
	enum roost_err fatal;
	struct roost_errbuf feb;

	atomic_uint_fast64_t files, dirs, bytes, bytes_new, blobs_new, errors, files_done,
		bytes_done;

	struct packer *pk; /* commits packs (fsync + link) off the workers' path */

	struct filescache *fc;
	struct fcache_out *fco;
	int fc_empty; /* fcache_empty(fc): the walker need not stat regular files */
	uint8_t root_id[ID_LEN];
	int root_done;
};

/* A worker thread's argument (walk_worker). */
struct worker_arg {
	struct bk *b;
	struct wctx w;
};

/* The backup failed or was canceled: threads stop taking on work. */
static inline int bk_failed(const struct bk *b)
{
	return b->fatal != ROOST_OK ||
	       (b->o->cancel && __atomic_load_n(b->o->cancel, __ATOMIC_RELAXED));
}
/* Records the first fatal error (message from eb, if any) and wakes every
 * thread that waits, so that all of them wind down. Thread-safe. */
void bk_fatal(struct bk *b, enum roost_err err, const struct roost_errbuf *eb);
/* A warning about one path: counted, reported, the backup goes on. */
void bk_warn(struct bk *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One child of d is complete; the last one writes d's tree and tells its parent. */
void bk_child_done(struct bk *b, struct wctx *w, struct dnode *d);
/* Reads, chunks and stores the file of job j into its slot (or marks it skipped). */
void bk_read_file(struct bk *b, struct wctx *w, struct fjob *j);
/* Stores one blob unless the repository has (or is getting) it; id gets its id. */
enum roost_err bk_store_blob(struct bk *b, struct wctx *w, uint8_t type, const uint8_t *p,
                             size_t n, uint8_t id[ID_LEN], struct roost_errbuf *eb);

/* ---- backup_share.c: a big file's chunks for idle workers --------------- */
struct htask;
/* The chunks one file has shared (on its reader's stack; b->qlock guards it). */
struct hres;
struct hfile {
	size_t pending;   /* queued or running (under b->qlock) */
	struct hres *res; /* one per shared chunk, for share_finish */
};
/* Queues a copy of chunk p[0..n) for an idle worker if one waits with
 * nothing queued: 1 if it did (the chunk's extent, slot, is filled in by
 * share_finish), 0 if the caller stores it itself. */
int share_offer(struct bk *b, struct hfile *hf, const uint8_t *p, size_t n, size_t slot);
/* Runs the oldest queued task on this thread; qlock held (dropped while it
 * runs). 0 if none was queued. */
int share_run_locked(struct bk *b, struct wctx *w);
/* Waits for (or runs) every chunk hf shared and writes their ids into
 * ex[slot] (ex may be NULL). A task's error is the backup's (bk_fatal) and
 * is returned. Call it before ex is used or freed, whatever happened. */
enum roost_err share_finish(struct bk *b, struct wctx *w, struct hfile *hf, struct extent *ex);
/* Frees the task buffers (the backup's end: no task in flight). */
void share_free(struct bk *b);
/* Chunks shared in this process so far (tests). */
unsigned long share_count(void);

/* ---- walk.c: the file-tree walk and its job queue ----------------------- */
/* The paths to back up (absolute, clean, sorted) as nested names from "/";
 * NULL out of memory. Free with walk_plan_free. */
struct vnode *walk_plan(char *const *paths, size_t n);
void walk_plan_free(struct vnode *root);
/* Walks the plan on the calling thread (the walker), queueing jobs. */
void walk_run(struct bk *b, struct wctx *w, struct vnode *root);
/* The walker is done (or gave up): queues its last jobs and lets the
 * workers end once the queue is empty. */
void walk_close(struct bk *b, struct wctx *w);
/* A worker thread: runs queued jobs until walk_close and an empty queue. */
void *walk_worker(void *arg);
/* Fills n's metadata (mode, owner, mtime, link identity, rdev) from st. */
void walk_fill_meta(struct node *n, const struct stat *st);
/* Reads n's extended attributes through fd (>= 0) or, for fd < 0, by path
 * without following a symlink. */
void walk_read_xattrs(struct bk *b, int fd, const char *path, struct node *n);

/* ---- restore_cache.c: data blobs a restore writes more than once -------- */
struct use; /* one blob's count and kept copy */
/* The blobs a restore writes, counted by its pre-pass (uses_count, then
 * uses_seal); thread-safe after uses_seal. */
struct uses {
	pthread_mutex_t lock;
	struct use *v;
	size_t cap, n; /* cap: 0 or a power of two */
	size_t bytes;  /* held in bodies */
	int off;       /* out of memory while counting: no caching */
};
void uses_init(struct uses *u);
/* Frees the table and every kept copy. */
void uses_release(struct uses *u);
/* Counts one more write of id (the pre-pass, before any worker runs). */
void uses_count(struct uses *u, const uint8_t id[ID_LEN]);
/* After the pre-pass: which blobs are written more than once. From here on
 * the table's layout, ids and multi flags are read without the lock. */
void uses_seal(struct uses *u);
/* The writes of n's extents from the first-th on will not happen. */
void uses_drop(struct uses *u, const struct node *n, uint32_t first);
/*
 * A data blob's raw bytes into *p (malloc'd): from the kept verified form
 * when an earlier write of the same blob left one, else from the repository
 * (decrypted, verified), keeping its form if more writes of it are to come.
 */
enum roost_err uses_read(struct uses *u, struct roost_repo *r, struct blob_ctx *bc,
                         const uint8_t id[ID_LEN], uint8_t **p, size_t *len,
                         struct roost_errbuf *eb);

/* ---- maintenance.c: prune's marks --------------------------------------- */
/* Packs prune has marked for deletion, with the time of their mark. */
struct mark {
	uint8_t id[ID_LEN];
	int64_t at;
};
/* Reads every marks object (the latest mark of a pack wins); *out malloc'd.
 * names (may be NULL) gets the marks objects' names, for prune to replace. */
enum roost_err marks_load(struct roost_repo *r, struct mark **out, size_t *n, char ***names,
                          size_t *nnames, struct roost_errbuf *eb);

#endif
