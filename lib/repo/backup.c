/* SPDX-License-Identifier: MIT */
/*
 * Backup: the entry point and what the threads of a backup share. The
 * walk (walk.c) finds the entries and hands files that must be read to
 * worker threads, which here chunk, hash, deduplicate, compress and seal
 * them into their own open pack; the packer (packer.c) commits full packs
 * and indexes them. A directory's tree blob is written by whichever thread
 * completes its last child, then its parent is told. Packs are committed as
 * they fill, index objects after them, the snapshot last.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repo_int.h"
#include "roost/timeutil.h"

void bk_fatal(struct bk *b, enum roost_err err, const struct roost_errbuf *eb)
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
	bk_fatal(ctx, err, eb);
}

void bk_warn(struct bk *b, const char *fmt, ...)
{
	atomic_fetch_add(&b->errors, 1);
	va_list ap;
	va_start(ap, fmt);
	vreport(b->o->warn, b->o->warn_ctx, fmt, ap);
	va_end(ap);
}

/* ---- blobs ---- */

enum roost_err bk_store_blob(struct bk *b, struct wctx *w, uint8_t type, const uint8_t *p,
                             size_t n, uint8_t id[ID_LEN], struct roost_errbuf *eb)
{
	blob_id(&b->r->keys, p, n, id);
	if (!index_claim(b->r->index, id))
		return ROOST_OK;
	const uint8_t *st;
	size_t stn;
	enum roost_err err = blob_encode(w->bc, p, n, &st, &stn);
	if (!err)
		err = packer_add(b->pk, &w->pw, type, b->r->keys.write_idk, id, st, stn, (uint32_t)n, eb);
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
void bk_child_done(struct bk *b, struct wctx *w, struct dnode *d)
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
	if (!err && !bk_failed(b) && w) /* w is NULL only on the failure path */
		err = bk_store_blob(b, w, BLOB_TREE, enc, encn, id, &eb);
	if (!err)
		free(enc);
	if (err) {
		if (err != ROOST_ERANGE)
			free(enc);
		bk_fatal(b, err, &eb);
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
	bk_child_done(b, w, parent);
}

/* ---- reading files (workers) ---- */


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
                            struct ext_list *ex, struct hfile *hf, enum roost_err *fatal,
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
		if (ext_push(ex, &e)) {
			*fatal = ROOST_ENOMEM;
			return -1;
		}
		/* the file's last chunk is stored here: nothing is left to overlap */
		int last = eof && cut == have - start;
		if (last || !share_offer(b, hf, p, cut, ex->n - 1)) {
			enum roost_err err = bk_store_blob(b, w, BLOB_DATA, p, cut, ex->v[ex->n - 1].id, eb);
			if (err) {
				*fatal = err;
				return -1;
			}
		}
		total += cut;
		atomic_fetch_add(&b->bytes_done, cut);
		start += cut;
		if (bk_failed(b)) {
			*fatal = ROOST_ECANCELED;
			return -1;
		}
	}
	return (int64_t)total;
}

void bk_read_file(struct bk *b, struct wctx *w, struct fjob *j)
{
	struct node *nd = &j->dir->t.nodes[j->slot];
	struct ext_list ex = {0};
	struct hfile hf = {0};
	enum roost_err fatal = ROOST_OK;
	struct roost_errbuf eb = {{0}};
	/* O_NONBLOCK: if the file was swapped for a fifo since the walk's stat,
	 * open must not wait for a writer (fstat below then skips it) */
	int fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	/* gone since the walk listed it (the walker skips such a file silently
	 * when its stat finds it gone; with d_type alone it did not stat) */
	if (fd < 0 && errno == ENOENT && j->st.st_nlink == 0)
		goto skip;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		bk_warn(b, "%s: %s", j->path, fd < 0 ? strerror(errno) : "changed type during backup");
		goto skip;
	}
	/* metadata as of the content read here, not the walker's earlier stat */
	walk_fill_meta(nd, &st);
	walk_read_xattrs(b, fd, j->path, nd); /* through the fd: no second path walk */
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
			int64_t got = chunk_region(b, w, fd, pos, hend, &ex, &hf, &fatal, &eb);
			if (got < 0 && !fatal) {
				bk_warn(b, "%s: read: %s", j->path, strerror(errno));
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
		int64_t got = chunk_region(b, w, fd, 0, (uint64_t)st.st_size, &ex, &hf, &fatal, &eb);
		if (got < 0 && !fatal) {
			bk_warn(b, "%s: read: %s", j->path, strerror(errno));
			goto skip;
		}
		covered = got < 0 ? 0 : (uint64_t)got;
	}
	if (share_finish(b, w, &hf, ex.v) && !fatal)
		fatal = ROOST_ECANCELED; /* share_finish told bk_fatal */
	if (fatal) {
		if (fatal != ROOST_ECANCELED)
			bk_fatal(b, fatal, &eb);
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
	share_finish(b, w, &hf, NULL);
	j->dir->skip[j->slot] = 1;
	atomic_fetch_sub(&b->files, 1);
out:
	if (fd >= 0)
		close(fd);
	free(ex.v);
	atomic_fetch_add(&b->files_done, 1);
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

static void prog_stop(struct prog *p, int *started)
{
	if (!*started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->th, NULL);
	*started = 0;
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
	if (r->keys.write_idk) /* ids under a host id key: a cache of their own */
		k += (size_t)snprintf(in + k, sizeof(in) - k, "%cidk %u", 1, r->keys.write_idk);
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
	struct vnode *root = NULL;
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
	if (!b) {
		err = ROOST_ENOMEM;
		goto done;
	}
	b->r = r;
	b->o = o;
	b->start_s = t0.tv_sec;
	pthread_mutex_init(&b->qlock, NULL);
	pthread_cond_init(&b->q_nonempty, NULL);
	pthread_cond_init(&b->q_nonfull, NULL);
	pthread_cond_init(&b->h_done, NULL);
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
	if (!(root = walk_plan(paths, o->npaths))) {
		err = ROOST_ENOMEM;
		goto done;
	}
	cpath = cache_file(r, o, host, paths, o->npaths);
	b->fc = fcache_load(cpath);
	b->fc_empty = fcache_empty(b->fc);
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
		if (!wa[started].w.bc || pthread_create(&th[started], NULL, walk_worker, &wa[started])) {
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

	walk_run(b, &ww, root);

join:
	walk_close(b, &ww);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (err)
		goto done;
	if (b->fatal) {
		err = roost_errf(eb, b->fatal, "%s", b->feb.msg);
		goto done;
	}
	if (o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED)) {
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
	/* progress goes on while the last packs go up: through a limited or
	 * slow link that can be most of a backup */
	prog_stop(&prog, &prog_started);
	/* the snapshot is the commit point: a cancel that came while the last
	 * packs and the index went up still cancels (they are reused next time) */
	if (!err && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED))
		err = roost_errf(eb, ROOST_ECANCELED, "backup canceled");
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
	prog_stop(&prog, &prog_started);
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
		if (prog.b) {
			pthread_mutex_destroy(&prog.lock);
			pthread_cond_destroy(&prog.cond);
		}
		pthread_mutex_destroy(&b->qlock);
		pthread_cond_destroy(&b->q_nonempty);
		pthread_cond_destroy(&b->q_nonfull);
		pthread_cond_destroy(&b->h_done);
		share_free(b);
		pthread_mutex_destroy(&b->plock);
	}
	free(b);
	free(wa);
	free(th);
	free(cpath);
	walk_plan_free(root);
	for (size_t i = 0; i < o->npaths; i++)
		free(paths[i]);
	free(paths);
	return err;
}

