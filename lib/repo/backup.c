/* SPDX-License-Identifier: MIT */
/*
 * Backup: a walker (the calling thread) reads directories in name order,
 * stats every entry and answers unchanged files from the files cache;
 * files that must be read go through a bounded queue to worker threads,
 * which chunk, hash, deduplicate, compress, seal and append to their own
 * pack. A directory's tree blob is written by whichever thread completes
 * its last child, then its parent is told. Packs are committed as they
 * fill, index objects after them, the snapshot last.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "repo_int.h"
#include "roost/timeutil.h"

#define QUEUE_CAP 256
#define BATCH 32

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

struct wctx {
	struct blob_ctx *bc;
	struct pack_writer *pw;
	uint8_t *buf;
	size_t bufcap;
	int is_worker;             /* workers never wait for room in the queue */
	struct fjob *batch[32];    /* jobs found by this thread, not yet queued */
	size_t nbatch;
};

struct bk {
	struct roost_repo *r;
	const struct roost_backup_opts *o;
	int64_t start_s;

	pthread_mutex_t qlock;
	pthread_cond_t q_nonempty, q_nonfull;
	struct fjob *q[QUEUE_CAP];
	size_t qhead, qlen;
	int closing;
	char current[512];
	int idle;    /* workers waiting for a job */
	int walking; /* workers walking a directory: they may still queue jobs */


	pthread_mutex_t plock; /* fatal error */
	enum roost_err fatal;
	struct roost_errbuf feb;

	atomic_uint_fast64_t files, dirs, bytes, bytes_new, blobs_new, errors, files_done,
		bytes_done;

	struct packer *pk; /* commits packs (fsync + link) off the workers' path */

	struct filescache *fc;
	struct fcache_out *fco;
	uint8_t root_id[ID_LEN];
	int root_done;
};

static int failed(struct bk *b)
{
	return b->fatal != ROOST_OK || (b->o->cancel && *b->o->cancel);
}

static void set_fatal(struct bk *b, enum roost_err err, const struct roost_errbuf *eb)
{
	pthread_mutex_lock(&b->plock);
	if (!b->fatal) {
		b->fatal = err;
		snprintf(b->feb.msg, sizeof(b->feb.msg), "%s",
		         eb && eb->msg[0] ? eb->msg : roost_strerror(err));
	}
	enum roost_err first = b->fatal;
	pthread_mutex_unlock(&b->plock);
	pthread_mutex_lock(&b->qlock);
	pthread_cond_broadcast(&b->q_nonempty);
	pthread_cond_broadcast(&b->q_nonfull);
	pthread_mutex_unlock(&b->qlock);
	if (b->pk)
		packer_fail(b->pk, first);
}

/* A pack failed to commit (on the packer's thread). */
static void commit_failed(void *ctx, enum roost_err err, const struct roost_errbuf *eb)
{
	set_fatal(ctx, err, eb);
}

static void warnf(struct bk *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct bk *b, const char *fmt, ...)
{
	atomic_fetch_add(&b->errors, 1);
	va_list ap;
	va_start(ap, fmt);
	vreport(b->o->warn, b->o->warn_ctx, fmt, ap);
	va_end(ap);
}

/* ---- blobs ---- */

/* Stores one blob unless the repository has (or is getting) it. */
static enum roost_err store_blob(struct bk *b, struct wctx *w, uint8_t type, const uint8_t *p,
                                 size_t n, uint8_t id[ID_LEN], struct roost_errbuf *eb)
{
	blob_id(&b->r->keys, p, n, id);
	if (!index_claim(b->r->index, id))
		return ROOST_OK;
	const uint8_t *st;
	size_t stn;
	enum roost_err err = blob_encode(w->bc, &b->r->keys, p, n, &st, &stn);
	if (!err)
		err = packer_add(b->pk, &w->pw, type, id, st, stn, (uint32_t)n, eb);
	if (err) {
		index_unclaim(b->r->index, id);
		return err;
	}
	if (type == BLOB_DATA)
		atomic_fetch_add(&b->bytes_new, n);
	atomic_fetch_add(&b->blobs_new, 1);
	return packer_roll(b->pk, &w->pw, eb);
}

/* ---- directory completion ---- */

static void dir_done(struct bk *b, struct wctx *w, struct dnode *d);

/* One child of d is complete. */
static void child_done(struct bk *b, struct wctx *w, struct dnode *d)
{
	if (atomic_fetch_sub(&d->pending, 1) == 1)
		dir_done(b, w, d);
}

/* All of d's children are complete: write its tree, tell the parent. */
static void dir_done(struct bk *b, struct wctx *w, struct dnode *d)
{
	size_t k = 0;
	for (size_t i = 0; i < d->t.n; i++) {
		if (d->skip[i]) {
			node_release(&d->t.nodes[i]);
			continue;
		}
		d->t.nodes[k++] = d->t.nodes[i];
	}
	d->t.n = k;
	uint8_t *enc;
	size_t encn;
	struct roost_errbuf eb;
	uint8_t id[ID_LEN];
	enum roost_err err = tree_encode(&d->t, &enc, &encn);
	if (!err && encn > MAX_TREE_BLOB)
		err = roost_errf(&eb, ROOST_ERANGE, "a directory has too many entries");
	if (!err && !failed(b) && w) /* w is NULL only on the failure path */
		err = store_blob(b, w, BLOB_TREE, enc, encn, id, &eb);
	if (!err)
		free(enc);
	if (err) {
		if (err != ROOST_ERANGE)
			free(enc);
		set_fatal(b, err, &eb);
	}
	struct dnode *parent = d->parent;
	size_t slot = d->slot;
	tree_release(&d->t);
	free(d->skip);
	free(d);
	if (!parent) {
		memcpy(b->root_id, id, ID_LEN);
		b->root_done = 1;
		return;
	}
	memcpy(parent->t.nodes[slot].subtree, id, ID_LEN);
	child_done(b, w, parent);
}

/* ---- reading files (workers) ---- */

static void read_xattrs(struct bk *b, int fd, const char *path, struct node *n);
static void fill_meta(struct node *n, const struct stat *st);

static int ensure_buf(struct wctx *w, size_t need)
{
	if (w->bufcap >= need)
		return 0;
	uint8_t *p = realloc(w->buf, need);
	if (!p)
		return -1;
	w->buf = p;
	w->bufcap = need;
	return 0;
}

struct ext_list {
	struct extent *v;
	uint32_t n, cap;
};

static int ext_push(struct ext_list *l, const struct extent *e)
{
	if (l->n == l->cap) {
		uint32_t nc = l->cap ? l->cap * 2 : 8;
		struct extent *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	/* merge adjacent holes */
	if (e->kind == 1 && l->n && l->v[l->n - 1].kind == 1) {
		l->v[l->n - 1].len += e->len;
		return 0;
	}
	l->v[l->n++] = *e;
	return 0;
}

/* Chunks [off, end) of fd (end = UINT64_MAX: to EOF). Returns bytes read or -1. */
static int64_t chunk_region(struct bk *b, struct wctx *w, int fd, uint64_t off, uint64_t end,
                            struct ext_list *ex, enum roost_err *fatal,
                            struct roost_errbuf *eb)
{
	const struct chunker *ch = &b->r->chunker;
	size_t cap = (size_t)ch->max * 2;
	if (ensure_buf(w, cap)) {
		*fatal = ROOST_ENOMEM;
		return -1;
	}
	/* buf[start, have) is read and not yet chunked; the rest is moved to the
	 * front only when a refill needs the room (about once per buffer) */
	size_t start = 0, have = 0;
	int eof = 0;
	uint64_t pos = off, total = 0;
	while (!eof || have > start) {
		while (!eof && have - start < ch->max) {
			if (cap - have < ch->max) {
				memmove(w->buf, w->buf + start, have - start);
				have -= start;
				start = 0;
			}
			size_t want = cap - have;
			if (end != UINT64_MAX && end - pos < want)
				want = (size_t)(end - pos);
			if (!want) {
				eof = 1;
				break;
			}
			ssize_t n = pread(fd, w->buf + have, want, (off_t)pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (n == 0) {
				eof = 1;
				break;
			}
			have += (size_t)n;
			pos += (uint64_t)n;
		}
		if (have == start)
			break;
		const uint8_t *p = w->buf + start;
		size_t cut = chunker_cut(ch, p, have - start);
		struct extent e = {.kind = 0, .len = cut};
		enum roost_err err = store_blob(b, w, BLOB_DATA, p, cut, e.id, eb);
		if (err || ext_push(ex, &e)) {
			*fatal = err ? err : ROOST_ENOMEM;
			return -1;
		}
		total += cut;
		atomic_fetch_add(&b->bytes_done, cut);
		start += cut;
		if (failed(b)) {
			*fatal = ROOST_ECANCELED;
			return -1;
		}
	}
	return (int64_t)total;
}

static void process_file(struct bk *b, struct wctx *w, struct fjob *j)
{
	struct node *nd = &j->dir->t.nodes[j->slot];
	struct ext_list ex = {0};
	enum roost_err fatal = ROOST_OK;
	struct roost_errbuf eb = {{0}};
	/* O_NONBLOCK: if the file was swapped for a fifo since the walk's stat,
	 * open must not wait for a writer (fstat below then skips it) */
	int fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		warnf(b, "%s: %s", j->path, fd < 0 ? strerror(errno) : "changed type during backup");
		goto skip;
	}
	/* metadata as of the content read here, not the walker's earlier stat */
	fill_meta(nd, &st);
	read_xattrs(b, fd, j->path, nd); /* through the fd: no second path walk */
	uint64_t covered = 0;
	int sparse = (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
	if (sparse) {
		uint64_t pos = 0, size = (uint64_t)st.st_size;
		while (pos < size) {
			off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
			if (data < 0) { /* ENXIO: only a hole remains */
				struct extent h = {.kind = 1, .len = size - pos};
				if (ext_push(&ex, &h))
					fatal = ROOST_ENOMEM;
				pos = size;
				break;
			}
			if ((uint64_t)data > pos) {
				struct extent h = {.kind = 1, .len = (uint64_t)data - pos};
				if (ext_push(&ex, &h)) {
					fatal = ROOST_ENOMEM;
					break;
				}
				atomic_fetch_add(&b->bytes_done, h.len);
				pos = (uint64_t)data;
			}
			off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
			uint64_t hend = hole < 0 || (uint64_t)hole > size ? size : (uint64_t)hole;
			int64_t got = chunk_region(b, w, fd, pos, hend, &ex, &fatal, &eb);
			if (got < 0 && !fatal) {
				warnf(b, "%s: read: %s", j->path, strerror(errno));
				goto skip;
			}
			if (got < 0)
				break;
			uint64_t start = pos;
			pos += (uint64_t)got;
			if (pos < hend && (uint64_t)got < hend - start)
				break; /* shrank while reading */
		}
		covered = pos;
	} else {
		/* up to the size stat saw: what is appended later is the next backup's */
		int64_t got = chunk_region(b, w, fd, 0, (uint64_t)st.st_size, &ex, &fatal, &eb);
		if (got < 0 && !fatal) {
			warnf(b, "%s: read: %s", j->path, strerror(errno));
			goto skip;
		}
		covered = got < 0 ? 0 : (uint64_t)got;
	}
	if (fatal) {
		if (fatal != ROOST_ECANCELED)
			set_fatal(b, fatal, &eb);
		goto skip;
	}
	close(fd);
	fd = -1;
	nd->extents = ex.v;
	nd->nextents = ex.n;
	nd->size = covered;
	ex.v = NULL;
	atomic_fetch_add(&b->bytes, covered);
	if (b->fco && st.st_mtime < b->start_s - 1 && st.st_ctime < b->start_s - 1 &&
	    covered == (uint64_t)st.st_size) {
		struct fc_entry fe = {.ino = st.st_ino, .size = covered, .mtime_s = st.st_mtim.tv_sec,
		                      .mtime_ns = (uint32_t)st.st_mtim.tv_nsec,
		                      .ctime_s = st.st_ctim.tv_sec,
		                      .ctime_ns = (uint32_t)st.st_ctim.tv_nsec, .nextents = nd->nextents};
		fcache_out_add(b->fco, j->path, j->path_len, &fe, nd->extents, nd);
	}
	goto out;
skip:
	j->dir->skip[j->slot] = 1;
	atomic_fetch_sub(&b->files, 1);
out:
	if (fd >= 0)
		close(fd);
	free(ex.v);
	atomic_fetch_add(&b->files_done, 1);
}

/* Takes up to max jobs (fewer wake-ups and lock round trips); 0 when done. */
static size_t dequeue(struct bk *b, struct fjob **out, size_t max)
{
	pthread_mutex_lock(&b->qlock);
	/* done only when nothing is queued and nobody can queue more */
	while (!b->qlen && !(b->closing && !b->walking) && !b->fatal) {
		b->idle++;
		pthread_cond_wait(&b->q_nonempty, &b->qlock);
		b->idle--;
	}
	size_t k = 0;
	while (b->qlen && k < max) {
		out[k++] = b->q[b->qhead];
		b->qhead = (b->qhead + 1) % QUEUE_CAP;
		b->qlen--;
	}
	if (k) {
		snprintf(b->current, sizeof(b->current), "%s", out[0]->path);
		pthread_cond_signal(&b->q_nonfull);
	}
	pthread_mutex_unlock(&b->qlock);
	return k;
}

struct worker_arg {
	struct bk *b;
	struct wctx w;
};

static void walk_dir(struct bk *b, struct wctx *w, const char *path, struct dnode *parent,
                     size_t slot);
static void walk_entries(struct bk *b, struct wctx *w, const char *path, int dfd, struct dnode *d,
                         char **names, size_t base, size_t n);
static void flush_batch(struct bk *b, struct wctx *w);

static void names_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Runs one job in this thread: reads a file, or walks a directory. */
static void run_job(struct bk *b, struct wctx *w, struct fjob *j)
{
	struct dnode *d = j->dir;
	if (j->is_dir == 2) {
		int dfd = failed(b) ? -1 : open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			pthread_mutex_lock(&b->qlock);
			b->walking++;
			pthread_mutex_unlock(&b->qlock);
			walk_entries(b, w, j->path, dfd, d, j->names, j->slot, j->nnames);
			close(dfd);
			if (w->nbatch)
				flush_batch(b, w);
			pthread_mutex_lock(&b->qlock);
			b->walking--;
			pthread_cond_broadcast(&b->q_nonempty);
			pthread_mutex_unlock(&b->qlock);
		} else {
			if (!failed(b))
				warnf(b, "%s: %s", j->path, strerror(errno));
			for (size_t i = 0; i < j->nnames; i++)
				d->skip[j->slot + i] = 1;
		}
		names_free_n(j->names, j->nnames);
		child_done(b, w, d);
	} else if (j->is_dir) {
		if (!failed(b)) {
			pthread_mutex_lock(&b->qlock);
			b->walking++;
			pthread_mutex_unlock(&b->qlock);
			walk_dir(b, w, j->path, d, j->slot); /* completes slot j->slot itself */
			if (w->nbatch)
				flush_batch(b, w);
			pthread_mutex_lock(&b->qlock);
			b->walking--;
			pthread_cond_broadcast(&b->q_nonempty); /* others may be done now */
			pthread_mutex_unlock(&b->qlock);
		} else {
			d->skip[j->slot] = 1;
			child_done(b, w, d);
		}
	} else {
		if (!failed(b))
			process_file(b, w, j);
		else
			d->skip[j->slot] = 1;
		child_done(b, w, d);
	}
	free(j->path);
	free(j);
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct bk *b = wa->b;
	struct fjob *jobs[4];
	size_t k;
	while ((k = dequeue(b, jobs, 4))) {
		for (size_t i = 0; i < k; i++) {
			run_job(b, &wa->w, jobs[i]);
			/* what a directory walk found goes out before this thread sleeps */
			if (wa->w.nbatch)
				flush_batch(b, &wa->w);
		}
	}
	return NULL;
}

/*
 * Moves w's batch into the queue (one lock, one wake-up). The main walker
 * waits for room; a worker never does (all threads could be waiting then):
 * what does not fit it runs itself. After a failure nothing waits: jobs run
 * here, and run_job only marks them skipped.
 */
static void flush_batch(struct bk *b, struct wctx *w)
{
	struct fjob *jobs[32];
	size_t n = w->nbatch, i = 0;
	memcpy(jobs, w->batch, n * sizeof(*jobs));
	w->nbatch = 0; /* run_job below may fill the batch again */
	pthread_mutex_lock(&b->qlock);
	for (;;) {
		while (i < n && b->qlen < QUEUE_CAP) {
			b->q[(b->qhead + b->qlen) % QUEUE_CAP] = jobs[i++];
			b->qlen++;
		}
		pthread_cond_broadcast(&b->q_nonempty);
		if (i == n || w->is_worker || b->fatal)
			break;
		pthread_cond_wait(&b->q_nonfull, &b->qlock);
	}
	pthread_mutex_unlock(&b->qlock);
	for (; i < n; i++)
		run_job(b, w, jobs[i]);
}

static void enqueue(struct bk *b, struct wctx *w, struct fjob *j)
{
	w->batch[w->nbatch++] = j;
	/* a big file is work for a core right now; small ones travel in batches */
	if (w->nbatch == BATCH || (!j->is_dir && j->st.st_size >= (1 << 20)))
		flush_batch(b, w);
}

/* At a directory's end: if the workers have run dry, don't make them wait. */
static void maybe_flush(struct bk *b, struct wctx *w)
{
	if (!w->nbatch)
		return;
	pthread_mutex_lock(&b->qlock);
	int dry = b->qlen == 0;
	pthread_mutex_unlock(&b->qlock);
	if (dry)
		flush_batch(b, w);
}

/* A walker hands a subdirectory over when a worker has nothing to do. */
static int workers_idle(struct bk *b)
{
	pthread_mutex_lock(&b->qlock);
	int idle = b->idle > 0 && b->qlen == 0;
	pthread_mutex_unlock(&b->qlock);
	return idle;
}

/* ---- walking ---- */

static int excluded(const struct roost_backup_opts *o, const char *path, const char *base)
{
	for (size_t i = 0; i < o->nexcludes; i++) {
		const char *pat = o->excludes[i];
		if (strchr(pat, '/') ? fnmatch(pat, path, 0) == 0 : fnmatch(pat, base, 0) == 0)
			return 1;
	}
	return 0;
}

/* Reads n's extended attributes through fd (>= 0) or, for fd < 0, by path
 * without following a symlink. */
static void read_xattrs(struct bk *b, int fd, const char *path, struct node *n)
{
	char names[65536];
	ssize_t len = fd >= 0 ? flistxattr(fd, names, sizeof(names))
	                      : llistxattr(path, names, sizeof(names));
	if (len <= 0)
		return;
	size_t count = 0;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1)
		count++;
	n->xattrs = calloc(count, sizeof(*n->xattrs));
	if (!n->xattrs)
		return;
	for (ssize_t i = 0; i < len && n->nxattrs < 65535; i += (ssize_t)strlen(names + i) + 1) {
		const char *xn = names + i;
		ssize_t vl = fd >= 0 ? fgetxattr(fd, xn, NULL, 0) : lgetxattr(path, xn, NULL, 0);
		if (vl < 0)
			continue;
		uint8_t *v = malloc((size_t)vl + 1);
		if (!v)
			break;
		vl = fd >= 0 ? fgetxattr(fd, xn, v, (size_t)vl) : lgetxattr(path, xn, v, (size_t)vl);
		if (vl < 0) {
			free(v);
			warnf(b, "%s: xattr %s: %s", path, xn, strerror(errno));
			continue;
		}
		struct xattr *x = &n->xattrs[n->nxattrs];
		x->name = strdup(xn);
		x->value = v;
		x->len = (uint32_t)vl;
		if (!x->name) {
			free(v);
			break;
		}
		n->nxattrs++;
	}
	if (n->nxattrs)
		n->flags |= 2;
}

/* Fills n's metadata from st. */
static void fill_meta(struct node *n, const struct stat *st)
{
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime_s = st->st_mtim.tv_sec;
	n->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	n->flags &= (uint8_t)~1u; /* called again by the worker: links may have gone */
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		n->flags |= 1;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		n->rdev = st->st_rdev;
}

static struct dnode *dnode_new(struct dnode *parent, size_t slot, size_t n)
{
	struct dnode *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->parent = parent;
	d->slot = slot;
	d->t.nodes = calloc(n ? n : 1, sizeof(*d->t.nodes));
	d->skip = calloc(n ? n : 1, 1);
	d->t.n = n;
	d->t.cap = n;
	atomic_init(&d->pending, 1);
	if (!d->t.nodes || !d->skip) {
		free(d->t.nodes);
		free(d->skip);
		free(d);
		return NULL;
	}
	return d;
}

static int name_cmp_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Backs up the entry `name` at `path` into slot i of d (already sized).
 * Directories recurse; files are answered from the cache or queued.
 */
static void backup_entry(struct bk *b, struct wctx *w, struct dnode *d, size_t i,
                         const char *path, const char *name, const struct stat *st)
{
	struct node *n = &d->t.nodes[i];
	n->name_len = (uint16_t)strlen(name);
	n->name = strdup(name);
	if (!n->name) {
		set_fatal(b, ROOST_ENOMEM, NULL);
		d->skip[i] = 1;
		return;
	}
	fill_meta(n, st);
	if (!S_ISREG(st->st_mode))
		read_xattrs(b, -1, path, n);
	if (S_ISREG(st->st_mode)) {
		n->type = NODE_FILE;
		n->size = (uint64_t)st->st_size;
		atomic_fetch_add(&b->files, 1);
		struct fc_entry fe;
		size_t plen = strlen(path);
		if (b->fc && fcache_get(b->fc, path, plen, &fe) == 0 && fe.ino == st->st_ino &&
		    fe.size == (uint64_t)st->st_size && fe.mtime_s == st->st_mtim.tv_sec &&
		    fe.mtime_ns == (uint32_t)st->st_mtim.tv_nsec && fe.ctime_s == st->st_ctim.tv_sec &&
		    fe.ctime_ns == (uint32_t)st->st_ctim.tv_nsec) {
			struct extent *x = fcache_extents(&fe);
			int all = x != NULL;
			for (uint32_t k = 0; all && k < fe.nextents; k++)
				if (x[k].kind == 0 && !index_lookup(b->r->index, x[k].id, NULL))
					all = 0;
			if (all && fcache_xattrs(&fe, n) == 0) {
				n->extents = x;
				n->nextents = fe.nextents;
				atomic_fetch_add(&b->bytes, fe.size);
				atomic_fetch_add(&b->bytes_done, fe.size);
				atomic_fetch_add(&b->files_done, 1);
				if (b->fco)
					fcache_out_add(b->fco, path, plen, &fe, x, n);
				return;
			}
			free(x);
			/* out of memory halfway through the cached xattrs: read them anew */
			for (uint16_t k = 0; k < n->nxattrs; k++) {
				free(n->xattrs[k].name);
				free(n->xattrs[k].value);
			}
			free(n->xattrs);
			n->xattrs = NULL;
			n->nxattrs = 0;
			n->flags &= (uint8_t)~2u;
		}
		struct fjob *j = calloc(1, sizeof(*j));
		char *p = strdup(path);
		if (!j || !p) {
			free(j);
			free(p);
			set_fatal(b, ROOST_ENOMEM, NULL);
			d->skip[i] = 1;
			return;
		}
		j->dir = d;
		j->slot = i;
		j->path = p;
		j->path_len = plen;
		j->st = *st;
		atomic_fetch_add(&d->pending, 1);
		enqueue(b, w, j);
	} else if (S_ISDIR(st->st_mode)) {
		n->type = NODE_DIR;
		atomic_fetch_add(&b->dirs, 1);
		atomic_fetch_add(&d->pending, 1);
		struct fjob *j = NULL;
		if (workers_idle(b) && (j = calloc(1, sizeof(*j))) &&
		    (j->path = strdup(path))) {
			/* an idle core walks this subtree while the walker goes on */
			j->dir = d;
			j->slot = i;
			j->is_dir = 1;
			enqueue(b, w, j);
			flush_batch(b, w);
		} else {
			if (j && !j->path)
				free(j);
			walk_dir(b, w, path, d, i);
		}
	} else if (S_ISLNK(st->st_mode)) {
		n->type = NODE_SYMLINK;
		size_t cap = (size_t)st->st_size + 1 > 256 ? (size_t)st->st_size + 1 : 256;
		n->target = malloc(cap);
		ssize_t k = n->target ? readlink(path, n->target, cap) : -1;
		if (k < 0 || (size_t)k >= cap) {
			warnf(b, "%s: readlink: %s", path, k < 0 ? strerror(errno) : "changed");
			d->skip[i] = 1;
			return;
		}
		n->target[k] = 0;
		n->target_len = (uint32_t)k;
	} else if (S_ISFIFO(st->st_mode)) {
		n->type = NODE_FIFO;
	} else if (S_ISCHR(st->st_mode)) {
		n->type = NODE_CHR;
	} else if (S_ISBLK(st->st_mode)) {
		n->type = NODE_BLK;
	} else {
		d->skip[i] = 1; /* sockets are not backed up */
	}
}

struct names {
	char **v;
	size_t n, cap;
};

static int names_push(struct names *nm, const char *s)
{
	if (nm->n == nm->cap) {
		size_t nc = nm->cap ? nm->cap * 2 : 32;
		char **nv = realloc(nm->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		nm->v = nv;
		nm->cap = nc;
	}
	if (!(nm->v[nm->n] = strdup(s)))
		return -1;
	nm->n++;
	return 0;
}

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
}

/* Entries of a big directory are shared out in parts of at least this many
 * when a worker has nothing to do (a re-run answers most of them from the
 * files cache, and one thread on 18,000 of them leaves the others idle). */
#define SPLIT_MIN 512

/* Hands names[from..n) (slots base + from ...) of d to an idle worker;
 * 0 if not done (the caller walks them). */
static int split_off(struct bk *b, struct wctx *w, const char *path, struct dnode *d,
                     char **names, size_t base, size_t from, size_t n)
{
	struct fjob *j = calloc(1, sizeof(*j));
	char **v = calloc(n - from, sizeof(*v));
	size_t k = 0;
	if (j && v && (j->path = strdup(path)))
		for (; k < n - from && (v[k] = strdup(names[from + k])); k++)
			;
	if (!j || !v || !j->path || k < n - from) {
		if (v)
			names_free_n(v, k);
		if (j)
			free(j->path);
		free(j);
		return 0;
	}
	j->dir = d;
	j->slot = base + from;
	j->is_dir = 2;
	j->names = v;
	j->nnames = n - from;
	atomic_fetch_add(&d->pending, 1);
	enqueue(b, w, j);
	flush_batch(b, w);
	return 1;
}

/* Stats and backs up entries names[0..n) of d (slots base ...), the
 * directory at path, open as dfd. */
static void walk_entries(struct bk *b, struct wctx *w, const char *path, int dfd, struct dnode *d,
                         char **names, size_t base, size_t n)
{
	size_t plen = strlen(path);
	char *child = malloc(plen + 2 + 256 + 1);
	for (size_t k = 0; k < n; k++) {
		size_t i = base + k;
		if (!child || failed(b) || dfd < 0) {
			d->skip[i] = 1;
			continue;
		}
		if (k % 256 == 0 && n - k >= 2 * SPLIT_MIN && workers_idle(b)) {
			size_t mid = k + (n - k) / 2;
			if (split_off(b, w, path, d, names, base, mid, n))
				n = mid;
		}
		size_t nl = strlen(names[k]);
		memcpy(child, path, plen);
		size_t o = plen;
		if (o == 0 || child[o - 1] != '/')
			child[o++] = '/';
		memcpy(child + o, names[k], nl + 1);
		struct stat st;
		if (excluded(b->o, child, names[k])) {
			d->skip[i] = 1;
			continue;
		}
		if (fstatat(dfd, names[k], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT) /* vanished meanwhile: not an error */
				warnf(b, "%s: %s", child, strerror(errno));
			d->skip[i] = 1;
			continue;
		}
		backup_entry(b, w, d, i, child, names[k], &st);
	}
	if (!child)
		set_fatal(b, ROOST_ENOMEM, NULL);
	free(child);
}

/* Walks directory `path` whose entry is slot `slot` of parent. */
static void walk_dir(struct bk *b, struct wctx *w, const char *path, struct dnode *parent,
                     size_t slot)
{
	struct names nm = {0};
	DIR *dir = opendir(path);
	if (!dir) {
		warnf(b, "%s: %s", path, strerror(errno));
	} else {
		struct dirent *e;
		errno = 0;
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (names_push(&nm, e->d_name)) {
				set_fatal(b, ROOST_ENOMEM, NULL);
				break;
			}
		}
		if (nm.n > 1)
			qsort(nm.v, nm.n, sizeof(*nm.v), name_cmp_bytes);
	}
	struct dnode *d = dnode_new(parent, slot, nm.n);
	if (!d) {
		set_fatal(b, ROOST_ENOMEM, NULL);
		if (dir)
			closedir(dir);
		names_free(&nm);
		if (parent)
			child_done(b, w, parent);
		return;
	}
	if (nm.n)
		walk_entries(b, w, path, dir ? dirfd(dir) : -1, d, nm.v, 0, nm.n);
	if (dir)
		closedir(dir);
	names_free(&nm);
	maybe_flush(b, w);
	child_done(b, w, d);
}

/* ---- the virtual root: the given paths as nested directories from / ---- */

struct vnode {
	char *name;
	int is_target; /* back this path up whole */
	struct vnode **kids;
	size_t nkids;
};

static void vnode_free(struct vnode *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nkids; i++)
		vnode_free(v->kids[i]);
	free(v->kids);
	free(v->name);
	free(v);
}

static struct vnode *vnode_child(struct vnode *v, const char *name, size_t len)
{
	for (size_t i = 0; i < v->nkids; i++)
		if (strlen(v->kids[i]->name) == len && memcmp(v->kids[i]->name, name, len) == 0)
			return v->kids[i];
	struct vnode **nk = realloc(v->kids, (v->nkids + 1) * sizeof(*nk));
	if (!nk)
		return NULL;
	v->kids = nk;
	struct vnode *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strndup(name, len))) {
		free(c);
		return NULL;
	}
	v->kids[v->nkids++] = c;
	return c;
}

static int vnode_cmp(const void *a, const void *b)
{
	return strcmp((*(struct vnode *const *)a)->name, (*(struct vnode *const *)b)->name);
}

/* Makes path absolute and lexically clean ("a/./b/../c" -> "/cwd/a/c"). */
static char *clean_path(const char *in)
{
	char cwd[4096] = "";
	if (in[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return NULL;
	size_t cap = strlen(cwd) + strlen(in) + 3;
	char *all = malloc(cap), *out = malloc(cap);
	if (!all || !out) {
		free(all);
		free(out);
		return NULL;
	}
	snprintf(all, cap, "%s/%s", cwd, in);
	size_t o = 0;
	char *save, *tok;
	for (tok = strtok_r(all, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		size_t l = strlen(tok);
		memcpy(out + o, tok, l);
		o += l;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	free(all);
	return out;
}

/* Backs up the children of virtual directory v (at path) into a new dnode. */
static void walk_virtual(struct bk *b, struct wctx *w, struct vnode *v, const char *path,
                         struct dnode *parent, size_t slot)
{
	if (v->nkids > 1)
		qsort(v->kids, v->nkids, sizeof(*v->kids), vnode_cmp);
	struct dnode *d = dnode_new(parent, slot, v->nkids);
	if (!d) {
		set_fatal(b, ROOST_ENOMEM, NULL);
		if (parent)
			child_done(b, w, parent);
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		struct vnode *k = v->kids[i];
		size_t cl = strlen(path) + strlen(k->name) + 2;
		char *child = malloc(cl);
		if (!child) {
			set_fatal(b, ROOST_ENOMEM, NULL);
			d->skip[i] = 1;
			continue;
		}
		snprintf(child, cl, "%s%s%s", path, strcmp(path, "/") ? "/" : "", k->name);
		struct stat st;
		int lst = k->is_target ? lstat(child, &st) : stat(child, &st);
		if (lst != 0) {
			warnf(b, "%s: %s", child, strerror(errno));
			d->skip[i] = 1;
		} else if (k->is_target) {
			backup_entry(b, w, d, i, child, k->name, &st);
		} else if (!S_ISDIR(st.st_mode)) {
			warnf(b, "%s: not a directory", child);
			d->skip[i] = 1;
		} else {
			struct node *n = &d->t.nodes[i];
			n->name = strdup(k->name);
			n->name_len = (uint16_t)strlen(k->name);
			n->type = NODE_DIR;
			fill_meta(n, &st);
			atomic_fetch_add(&d->pending, 1);
			walk_virtual(b, w, k, child, d, i);
		}
		free(child);
	}
	child_done(b, w, d);
}

/* ---- progress ---- */

struct prog {
	struct bk *b;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
};

static void *progress_thread(void *arg)
{
	struct prog *p = arg;
	struct bk *b = p->b;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		if (p->stop)
			break;
		char cur[512];
		pthread_mutex_lock(&b->qlock);
		memcpy(cur, b->current, sizeof(cur));
		pthread_mutex_unlock(&b->qlock);
		struct roost_progress pr = {
			.files_done = atomic_load(&b->files_done),
			.files_total_seen = atomic_load(&b->files),
			.bytes_done = atomic_load(&b->bytes_done),
			.bytes_new = atomic_load(&b->bytes_new),
			.current = cur[0] ? cur : NULL,
		};
		b->o->progress(b->o->progress_ctx, &pr);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- entry point ---- */

static char *cache_file(const struct roost_repo *r, const struct roost_backup_opts *o,
                        const char *host, char *const *paths, size_t n)
{
	char base[4096];
	const char *env = getenv("ROOST_CACHE_DIR"), *home = getenv("HOME"),
		   *xdg = getenv("XDG_CACHE_HOME");
	if (o->cache_dir)
		snprintf(base, sizeof(base), "%s", o->cache_dir);
	else if (env && *env)
		snprintf(base, sizeof(base), "%s", env);
	else if (xdg && *xdg)
		snprintf(base, sizeof(base), "%s/roost", xdg);
	else if (home && *home)
		snprintf(base, sizeof(base), "%s/.cache/roost", home);
	else
		return NULL;
	/* mkdir -p base/<repo id> */
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s", base, r->id_hex);
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0700);
			*p = '/';
		}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NULL;
	uint8_t h[ID_LEN];
	char in[8192]; /* host, then each path, NUL-separated */
	size_t k = (size_t)snprintf(in, sizeof(in), "%s", host);
	for (size_t i = 0; i < n && k < sizeof(in); i++)
		k += (size_t)snprintf(in + k, sizeof(in) - k, "%c%s", 0, paths[i]);
	hash_plain((const uint8_t *)in, k < sizeof(in) ? k : sizeof(in), h);
	char hex[HEX_LEN + 1];
	hex_encode(h, 16, hex);
	size_t ol = strlen(dir) + HEX_LEN + 16;
	char *out = malloc(ol);
	if (out)
		snprintf(out, ol, "%s/files-%s", dir, hex);
	return out;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


enum roost_err roost_repo_backup(struct roost_repo *r, const struct roost_backup_opts *o,
                                 struct roost_backup_result *res, struct roost_errbuf *eb)
{
	memset(res, 0, sizeof(*res));
	if (!o->npaths)
		return roost_errf(eb, ROOST_EINVAL, "nothing to back up: give at least one path");
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	struct timespec m0;
	clock_gettime(CLOCK_MONOTONIC, &m0);

	char **paths = calloc(o->npaths, sizeof(*paths));
	if (!paths)
		return ROOST_ENOMEM;
	enum roost_err err = ROOST_OK;
	for (size_t i = 0; i < o->npaths && !err; i++) {
		struct stat st;
		if (!(paths[i] = clean_path(o->paths[i])))
			err = ROOST_ENOMEM;
		else if (lstat(paths[i], &st) != 0)
			err = roost_errno(eb, "%s", o->paths[i]);
	}
	if (err) {
		for (size_t i = 0; i < o->npaths; i++)
			free(paths[i]);
		free(paths);
		return err == ROOST_ENOENT ? ROOST_EINVAL : err;
	}
	qsort(paths, o->npaths, sizeof(*paths), str_cmp);

	char host[256] = "";
	if (o->hostname)
		snprintf(host, sizeof(host), "%s", o->hostname);
	else
		gethostname(host, sizeof(host) - 1);

	struct bk *b = calloc(1, sizeof(*b));
	struct vnode *root = calloc(1, sizeof(*root));
	struct worker_arg *wa = NULL;
	pthread_t *th = NULL;
	int nth = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nth < 1)
		nth = 1;
	if (nth > 64)
		nth = 64;
	int started = 0;
	char *cpath = NULL;
	struct prog prog = {0};
	int prog_started = 0;
	struct wctx ww = {0};
	if (!b || !root) {
		err = ROOST_ENOMEM;
		goto done;
	}
	b->r = r;
	b->o = o;
	b->start_s = t0.tv_sec;
	pthread_mutex_init(&b->qlock, NULL);
	pthread_cond_init(&b->q_nonempty, NULL);
	pthread_cond_init(&b->q_nonfull, NULL);
	pthread_mutex_init(&b->plock, NULL);
	if ((err = packer_new(r, PACKER_THREAD | PACKER_INDEX, commit_failed, b, &b->pk, eb)))
		goto done;

	if ((err = repo_load_index(r, eb)))
		goto done;
	{
		/* packs marked by prune may go: never deduplicate against them */
		struct mark *marks;
		size_t nmarks;
		if ((err = marks_load(r, &marks, &nmarks, NULL, NULL, eb)))
			goto done;
		for (size_t i = 0; i < nmarks; i++)
			index_drop_pack(r->index, marks[i].id);
		free(marks);
	}
	for (size_t i = 0; i < o->npaths; i++) {
		struct vnode *v = root;
		const char *p = paths[i] + 1;
		if (!*p) { /* backing up "/" itself */
			root->is_target = 1;
			break;
		}
		while (v && *p) {
			const char *slash = strchr(p, '/');
			size_t len = slash ? (size_t)(slash - p) : strlen(p);
			v = vnode_child(v, p, len);
			p += len + (slash ? 1 : 0);
		}
		if (!v) {
			err = ROOST_ENOMEM;
			goto done;
		}
		v->is_target = 1;
	}
	cpath = cache_file(r, o, host, paths, o->npaths);
	b->fc = fcache_load(cpath);
	b->fco = cpath ? fcache_out_new(cpath) : NULL;

	wa = calloc((size_t)nth, sizeof(*wa));
	th = calloc((size_t)nth, sizeof(*th));
	ww.bc = blob_ctx_new(r->zstd_level);
	if (!wa || !th || !ww.bc) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (; started < nth; started++) {
		wa[started].b = b;
		wa[started].w.is_worker = 1;
		wa[started].w.bc = blob_ctx_new(r->zstd_level);
		if (!wa[started].w.bc || pthread_create(&th[started], NULL, worker, &wa[started])) {
			blob_ctx_free(wa[started].w.bc);
			err = ROOST_ENOMEM;
			goto join;
		}
	}
	if (o->progress) {
		prog.b = b;
		pthread_mutex_init(&prog.lock, NULL);
		pthread_cond_init(&prog.cond, NULL);
		prog_started = pthread_create(&prog.th, NULL, progress_thread, &prog) == 0;
	}

	if (root->is_target) /* "/" itself: the root tree is the walked "/" */
		walk_dir(b, &ww, "/", NULL, 0);
	else
		walk_virtual(b, &ww, root, "/", NULL, 0);

join:
	flush_batch(b, &ww);
	pthread_mutex_lock(&b->qlock);
	b->closing = 1;
	pthread_cond_broadcast(&b->q_nonempty);
	pthread_mutex_unlock(&b->qlock);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (prog_started) {
		pthread_mutex_lock(&prog.lock);
		prog.stop = 1;
		pthread_cond_signal(&prog.cond);
		pthread_mutex_unlock(&prog.lock);
		pthread_join(prog.th, NULL);
	}
	if (err)
		goto done;
	if (b->fatal) {
		err = roost_errf(eb, b->fatal, "%s", b->feb.msg);
		goto done;
	}
	if (o->cancel && *o->cancel) {
		err = roost_errf(eb, ROOST_ECANCELED, "backup canceled");
		goto done;
	}
	if (!b->root_done) {
		err = roost_errf(eb, ROOST_EIO, "internal error: the root tree was not completed");
		goto done;
	}
	/* Remaining packs, then their index, then the snapshot. */
	for (int i = 0; i < started && !err; i++)
		err = packer_seal(b->pk, &wa[i].w.pw, eb);
	if (!err)
		err = packer_seal(b->pk, &ww.pw, eb);
	packer_stop(b->pk);
	if (!err && b->fatal)
		err = roost_errf(eb, b->fatal, "%s", b->feb.msg);
	if (!err)
		err = packer_flush(b->pk, eb);
	if (err)
		goto done;

	struct roost_snapshot s = {0};
	s.time_s = t0.tv_sec;
	s.time_ns = (uint32_t)t0.tv_nsec;
	s.hostname = host;
	struct passwd *pw = getpwuid(getuid());
	s.username = pw ? pw->pw_name : (char *)"";
	s.paths = paths;
	s.npaths = o->npaths;
	s.tags = (char **)o->tags;
	s.ntags = o->ntags;
	s.excludes = (char **)o->excludes;
	s.nexcludes = o->nexcludes;
	memcpy(s.tree, b->root_id, ID_LEN);
	struct timespec m1;
	clock_gettime(CLOCK_MONOTONIC, &m1);
	s.summary.files = atomic_load(&b->files);
	s.summary.dirs = atomic_load(&b->dirs);
	s.summary.bytes = atomic_load(&b->bytes);
	s.summary.bytes_new = atomic_load(&b->bytes_new);
	s.summary.blobs_new = atomic_load(&b->blobs_new);
	s.summary.duration_ms = (uint64_t)((m1.tv_sec - m0.tv_sec) * 1000 +
	                                   (m1.tv_nsec - m0.tv_nsec) / 1000000);
	char *js;
	if ((err = snapshot_encode(&s, &js)))
		goto done;
	err = repo_put_sealed(r, "snapshots", (const uint8_t *)js, strlen(js), res->snapshot_id, eb);
	free(js);
	if (err)
		goto done;
	res->summary = s.summary;
	res->errors = atomic_load(&b->errors);
	if (b->fco && cpath) {
		struct roost_errbuf e2;
		fcache_out_commit(b->fco, cpath, &e2); /* a cache: failure only costs speed */
		b->fco = NULL;
	}
done:
	if (b) {
		/* on failure, abort open packs: what was committed stays usable */
		for (int i = 0; wa && i < started; i++) {
			pack_writer_abort(wa[i].w.pw);
			blob_ctx_free(wa[i].w.bc);
			free(wa[i].w.buf);
		}
		pack_writer_abort(ww.pw);
		blob_ctx_free(ww.bc);
		free(ww.buf);
		packer_free(b->pk); /* indexes the packs committed so far */
		fcache_free(b->fc);
		fcache_out_free(b->fco);
		if (prog_started || prog.b) {
			pthread_mutex_destroy(&prog.lock);
			pthread_cond_destroy(&prog.cond);
		}
		pthread_mutex_destroy(&b->qlock);
		pthread_cond_destroy(&b->q_nonempty);
		pthread_cond_destroy(&b->q_nonfull);
		pthread_mutex_destroy(&b->plock);
	}
	free(b);
	free(wa);
	free(th);
	free(cpath);
	vnode_free(root);
	for (size_t i = 0; i < o->npaths; i++)
		free(paths[i]);
	free(paths);
	return err;
}
