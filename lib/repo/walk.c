/* SPDX-License-Identifier: MIT */
/*
 * Backup's file-tree walk: which thread visits which directory and file.
 * The walker (the calling thread) reads each directory, sorts its names,
 * stats every entry into a pre-sized dnode and answers unchanged files from
 * the files cache; files to read, and whole subdirectories or halves of big
 * directories when a worker is idle, go as jobs through a bounded queue to
 * the worker threads, which read files (bk_read_file in backup.c) and walk
 * what they are given the same way. The paths given are first laid out as
 * nested virtual directories from "/" (walk_plan).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "repo_int.h"

/* ---- the job queue ---- */

/* Takes up to max jobs (fewer wake-ups and lock round trips); 0 when done. */
static size_t dequeue(struct bk *b, struct wctx *w, struct fjob **out, size_t max)
{
	pthread_mutex_lock(&b->qlock);
	if (w->busy) {
		w->busy = 0;
		if (!--b->busy)
			pthread_cond_broadcast(&b->q_nonempty);
	}
	/* done only when nothing is queued and nobody can queue more, nor
	 * share a big file's chunks (backup_share.c), which go first */
	for (;;) {
		while (!b->qlen && !b->hq && !(b->closing && !b->walking && !b->busy) &&
		       !b->fatal) {
			atomic_store_explicit(&b->idle_hint, ++b->idle, memory_order_relaxed);
			pthread_cond_wait(&b->q_nonempty, &b->qlock);
			atomic_store_explicit(&b->idle_hint, --b->idle, memory_order_relaxed);
		}
		if (!share_run_locked(b, w))
			break;
	}
	size_t k = 0;
	while (b->qlen && k < max) {
		out[k++] = b->q[b->qhead];
		b->qhead = (b->qhead + 1) % BK_QUEUE_CAP;
		b->qlen--;
	}
	if (k) {
		w->busy = 1;
		b->busy++;
		snprintf(b->current, sizeof(b->current), "%s", out[0]->path);
		pthread_cond_signal(&b->q_nonfull);
	}
	pthread_mutex_unlock(&b->qlock);
	return k;
}

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
		int dfd = bk_failed(b) ? -1 : open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
			if (!bk_failed(b))
				bk_warn(b, "%s: %s", j->path, strerror(errno));
			for (size_t i = 0; i < j->nnames; i++)
				d->skip[j->slot + i] = 1;
		}
		names_free_n(j->names, j->nnames);
		bk_child_done(b, w, d);
	} else if (j->is_dir) {
		if (!bk_failed(b)) {
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
			bk_child_done(b, w, d);
		}
	} else {
		if (!bk_failed(b))
			bk_read_file(b, w, j);
		else
			d->skip[j->slot] = 1;
		bk_child_done(b, w, d);
	}
	free(j->path);
	free(j);
}

void *walk_worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct bk *b = wa->b;
	struct fjob *jobs[4];
	size_t k;
	while ((k = dequeue(b, &wa->w, jobs, 4))) {
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
	struct fjob *jobs[BK_BATCH];
	size_t n = w->nbatch, i = 0;
	memcpy(jobs, w->batch, n * sizeof(*jobs));
	w->nbatch = 0; /* run_job below may fill the batch again */
	pthread_mutex_lock(&b->qlock);
	for (;;) {
		while (i < n && b->qlen < BK_QUEUE_CAP) {
			b->q[(b->qhead + b->qlen) % BK_QUEUE_CAP] = jobs[i++];
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
	if (w->nbatch == BK_BATCH || (!j->is_dir && j->st.st_size >= (1 << 20)))
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
void walk_read_xattrs(struct bk *b, int fd, const char *path, struct node *n)
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
			bk_warn(b, "%s: xattr %s: %s", path, xn, strerror(errno));
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
void walk_fill_meta(struct node *n, const struct stat *st)
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

/* A directory's names are kept as the entry's d_type byte, then the name. */
static int name_cmp_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

static char *entry_dup(const char *e)
{
	size_t l = strlen(e + 1) + 2;
	char *c = malloc(l);
	if (c)
		memcpy(c, e, l);
	return c;
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
		bk_fatal(b, ROOST_ENOMEM, NULL);
		d->skip[i] = 1;
		return;
	}
	walk_fill_meta(n, st);
	if (!S_ISREG(st->st_mode))
		walk_read_xattrs(b, -1, path, n);
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
			bk_fatal(b, ROOST_ENOMEM, NULL);
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
			bk_warn(b, "%s: readlink: %s", path, k < 0 ? strerror(errno) : "changed");
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

static int names_push(struct names *nm, unsigned char type, const char *s)
{
	if (nm->n == nm->cap) {
		size_t nc = nm->cap ? nm->cap * 2 : 32;
		char **nv = realloc(nm->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		nm->v = nv;
		nm->cap = nc;
	}
	size_t l = strlen(s);
	if (!(nm->v[nm->n] = malloc(l + 2)))
		return -1;
	nm->v[nm->n][0] = (char)type;
	memcpy(nm->v[nm->n] + 1, s, l + 1);
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
		for (; k < n - from && (v[k] = entry_dup(names[from + k])); k++)
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
		if (!child || bk_failed(b) || dfd < 0) {
			d->skip[i] = 1;
			continue;
		}
		if (k % 256 == 0 && n - k >= 2 * SPLIT_MIN && workers_idle(b)) {
			size_t mid = k + (n - k) / 2;
			if (split_off(b, w, path, d, names, base, mid, n))
				n = mid;
		}
		const char *name = names[k] + 1;
		size_t nl = strlen(name);
		memcpy(child, path, plen);
		size_t o = plen;
		if (o == 0 || child[o - 1] != '/')
			child[o++] = '/';
		memcpy(child + o, name, nl + 1);
		struct stat st;
		if (excluded(b->o, child, name)) {
			d->skip[i] = 1;
			continue;
		}
		if (names[k][0] == DT_REG && b->fc_empty) {
			/* With no files cache to answer it from (a first backup), a
			 * regular file is read whatever its stat says, and the worker
			 * stats it through its fd anyway: one syscall less per file. */
			memset(&st, 0, sizeof(st));
			st.st_mode = S_IFREG;
			backup_entry(b, w, d, i, child, name, &st);
			continue;
		}
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT) /* vanished meanwhile: not an error */
				bk_warn(b, "%s: %s", child, strerror(errno));
			d->skip[i] = 1;
			continue;
		}
		backup_entry(b, w, d, i, child, name, &st);
	}
	if (!child)
		bk_fatal(b, ROOST_ENOMEM, NULL);
	free(child);
}

/* Walks directory `path` whose entry is slot `slot` of parent. */
static void walk_dir(struct bk *b, struct wctx *w, const char *path, struct dnode *parent,
                     size_t slot)
{
	struct names nm = {0};
	DIR *dir = opendir(path);
	if (!dir) {
		bk_warn(b, "%s: %s", path, strerror(errno));
	} else {
		struct dirent *e;
		errno = 0;
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (names_push(&nm, e->d_type, e->d_name)) {
				bk_fatal(b, ROOST_ENOMEM, NULL);
				break;
			}
		}
		if (nm.n > 1)
			qsort(nm.v, nm.n, sizeof(*nm.v), name_cmp_bytes);
	}
	struct dnode *d = dnode_new(parent, slot, nm.n);
	if (!d) {
		bk_fatal(b, ROOST_ENOMEM, NULL);
		if (dir)
			closedir(dir);
		names_free(&nm);
		if (parent)
			bk_child_done(b, w, parent);
		return;
	}
	if (nm.n)
		walk_entries(b, w, path, dir ? dirfd(dir) : -1, d, nm.v, 0, nm.n);
	if (dir)
		closedir(dir);
	names_free(&nm);
	maybe_flush(b, w);
	bk_child_done(b, w, d);
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

/* Backs up the children of virtual directory v (at path) into a new dnode. */
static void walk_virtual(struct bk *b, struct wctx *w, struct vnode *v, const char *path,
                         struct dnode *parent, size_t slot)
{
	if (v->nkids > 1)
		qsort(v->kids, v->nkids, sizeof(*v->kids), vnode_cmp);
	struct dnode *d = dnode_new(parent, slot, v->nkids);
	if (!d) {
		bk_fatal(b, ROOST_ENOMEM, NULL);
		if (parent)
			bk_child_done(b, w, parent);
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		struct vnode *k = v->kids[i];
		size_t cl = strlen(path) + strlen(k->name) + 2;
		char *child = malloc(cl);
		if (!child) {
			bk_fatal(b, ROOST_ENOMEM, NULL);
			d->skip[i] = 1;
			continue;
		}
		snprintf(child, cl, "%s%s%s", path, strcmp(path, "/") ? "/" : "", k->name);
		struct stat st;
		int lst = k->is_target ? lstat(child, &st) : stat(child, &st);
		if (lst != 0) {
			bk_warn(b, "%s: %s", child, strerror(errno));
			d->skip[i] = 1;
		} else if (k->is_target) {
			backup_entry(b, w, d, i, child, k->name, &st);
		} else if (!S_ISDIR(st.st_mode)) {
			bk_warn(b, "%s: not a directory", child);
			d->skip[i] = 1;
		} else {
			struct node *n = &d->t.nodes[i];
			n->name = strdup(k->name);
			n->name_len = (uint16_t)strlen(k->name);
			n->type = NODE_DIR;
			walk_fill_meta(n, &st);
			atomic_fetch_add(&d->pending, 1);
			walk_virtual(b, w, k, child, d, i);
		}
		free(child);
	}
	bk_child_done(b, w, d);
}

struct vnode *walk_plan(char *const *paths, size_t n)
{
	struct vnode *root = calloc(1, sizeof(*root));
	if (!root)
		return NULL;
	for (size_t i = 0; i < n; i++) {
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
			vnode_free(root);
			return NULL;
		}
		v->is_target = 1;
	}
	return root;
}

void walk_plan_free(struct vnode *root)
{
	vnode_free(root);
}

void walk_run(struct bk *b, struct wctx *w, struct vnode *root)
{
	if (root->is_target) /* "/" itself: the root tree is the walked "/" */
		walk_dir(b, w, "/", NULL, 0);
	else
		walk_virtual(b, w, root, "/", NULL, 0);
}

void walk_close(struct bk *b, struct wctx *w)
{
	flush_batch(b, w);
	pthread_mutex_lock(&b->qlock);
	b->closing = 1;
	pthread_cond_broadcast(&b->q_nonempty);
	pthread_mutex_unlock(&b->qlock);
}
