/* SPDX-License-Identifier: MIT */
/*
 * Restore: the walker recreates the snapshot's directories under the target
 * through directory file descriptors it opened itself (O_NOFOLLOW), creates
 * every file (O_EXCL) before a worker fills it, so hard links can be made at
 * once and no name in a snapshot, however hostile, leads outside the target.
 * Directory metadata is applied last, deepest first. Blobs written more
 * than once are read once and kept (restore_cache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "repo_int.h"

#define RQ_CAP 256
#define RBATCH 32
#define CREATE_AHEAD 64 /* queued jobs above which the walker makes files itself */
#define PREALLOC_MIN (64u << 10)

/* A directory being restored, shared by the walker and the jobs of its
 * files; closed when the last of them lets go. */
struct rdir {
	int fd;
	atomic_int refs;
	int fresh; /* made by this restore: empty, and without setgid */
};

struct rjob {
	struct rdir *dir; /* one reference held */
	int fd;           /* the created file, owned */
	char *name;       /* in dir */
	char *path;       /* for messages */
	struct node node;
};

struct dirmeta {
	char *rel; /* relative to target */
	struct node node;
};

struct link_ent {
	uint64_t dev, ino;
	char *rel;
};

struct rs {
	struct roost_repo *r;
	const struct roost_restore_opts *o;
	int rootfd;
	int is_root;
	pthread_mutex_t qlock;
	pthread_cond_t q_nonempty;
	struct rjob *q[RQ_CAP];
	size_t qhead, qlen;
	int closing;
	enum roost_err fatal;
	struct roost_errbuf feb;
	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	struct link_ent *links;
	size_t nlinks, caplinks;
	atomic_uint_fast64_t files, ndirs_done, bytes, errors;
	char current[512];
	uid_t euid;
	gid_t egid;
	mode_t umask;
	struct rjob *batch[RBATCH]; /* the walker's jobs not yet queued */
	size_t nbatch;
	atomic_size_t qdepth;  /* qlen, for the walker to read without the lock */
	uint64_t files_total;  /* counted by the pre-pass, before the threads start */
	int count_failed;      /* out of memory in the pre-pass */
	struct blob_ctx *wbc;  /* the walker's */
	struct uses uses;
};

static struct rdir *rdir_new(int fd, int fresh)
{
	struct rdir *d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	d->fd = fd;
	atomic_init(&d->refs, 1);
	d->fresh = fresh;
	return d;
}

static void rdir_put(struct rdir *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		close(d->fd);
		free(d);
	}
}

/* The process umask, read without changing it (other threads may create files). */
static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned m = 022;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			break;
	if (f)
		fclose(f);
	return (mode_t)m;
}

static void rwarn(struct rs *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rwarn(struct rs *s, const char *fmt, ...)
{
	atomic_fetch_add(&s->errors, 1);
	va_list ap;
	va_start(ap, fmt);
	vreport(s->o->warn, s->o->warn_ctx, fmt, ap);
	va_end(ap);
}

static int canceled(struct rs *s)
{
	return s->fatal || (s->o->cancel && __atomic_load_n(s->o->cancel, __ATOMIC_RELAXED));
}

/* Display form of a snapshot path: bytes that are not printable become '?'. */
static void show(char *dst, size_t cap, const char *p)
{
	size_t i = 0;
	for (; p[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	dst[i] = 0;
}

/* Ownership, permissions, xattrs, times through an fd. `created` says the
 * file was just made by this restore in a fresh directory: it then already
 * has our uid/gid and its mode less the umask, and calls that would change
 * nothing are skipped. */
static void apply_meta_fd(struct rs *s, int fd, const struct node *n, const char *path,
                          int created)
{
	int owned = created && n->uid == s->euid && n->gid == s->egid;
	if (s->is_root && !owned && fchown(fd, n->uid, n->gid) != 0)
		rwarn(s, "%s: chown: %s", path, strerror(errno));
	for (uint16_t i = 0; i < n->nxattrs; i++)
		if (fsetxattr(fd, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) != 0 &&
		    errno != ENOTSUP && errno != EPERM)
			rwarn(s, "%s: xattr %s: %s", path, n->xattrs[i].name, strerror(errno));
	/* chown clears setuid/setgid, so those always need the explicit chmod */
	int mode_ok = created && owned && !(n->mode & 07000) && !(n->mode & s->umask);
	if (!mode_ok && fchmod(fd, n->mode) != 0)
		rwarn(s, "%s: chmod: %s", path, strerror(errno));
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {n->mtime_s, n->mtime_ns}};
	if (futimens(fd, ts) != 0)
		rwarn(s, "%s: set times: %s", path, strerror(errno));
}

static int included(const struct roost_restore_opts *o, const char *path, size_t len);
static int make_room(int dirfd, const char *name);

/* Counts the data blob writes of the tree id (path: its place, for includes). */
static void count_tree(struct rs *s, struct blob_ctx *bc, const uint8_t id[ID_LEN],
                       const char *path)
{
	struct tree t;
	struct roost_errbuf eb;
	if (repo_load_tree(s->r, bc, id, &t, &eb))
		return; /* the restore itself reports it */
	size_t pl = strlen(path);
	char *cp = NULL;
	for (size_t i = 0; i < t.n && !s->count_failed; i++) {
		struct node *n = &t.nodes[i];
		int inc = 2;
		if (s->o->nincludes) {
			char *np = realloc(cp, pl + n->name_len + 2);
			if (!np) {
				s->count_failed = 1; /* no caching, no total */
				break;
			}
			cp = np;
			sprintf(cp, "%s/%s", path, n->name);
			inc = included(s->o, cp, strlen(cp));
		}
		if (n->type == NODE_DIR && inc)
			count_tree(s, bc, n->subtree, cp ? cp : "");
		else if (n->type == NODE_FILE && inc == 2) {
			s->files_total++;
			for (uint32_t k = 0; k < n->nextents; k++)
				if (n->extents[k].kind == 0)
					uses_count(&s->uses, n->extents[k].id);
		}
	}
	free(cp);
	tree_release(&t);
}

/* Whether the blobs of n cover all of it (no holes to keep). */
static int dense(struct rs *s, const struct node *n)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n->nextents; i++) {
		struct blob_loc loc;
		if (n->extents[i].kind != 0 || !index_lookup(s->r->index, n->extents[i].id, &loc))
			return 0;
		sum += loc.raw_len;
	}
	return sum == n->size;
}

/* Creates file name of n in dir (replacing what is in the way when dir was
 * not made by this restore); -1 after reporting why not. */
static int create_file(struct rs *s, struct rdir *dir, const char *name, const struct node *n,
                       const char *shown)
{
	int fd = -1;
	if (!dir->fresh && make_room(dir->fd, name) != 0)
		rwarn(s, "%s: %s", shown, strerror(errno));
	else if ((fd = openat(dir->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                      n->mode & 0777)) < 0)
		rwarn(s, "%s: create: %s", shown, strerror(errno));
	if (fd < 0)
		uses_drop(&s->uses, n, 0);
	return fd;
}

static void restore_file(struct rs *s, struct blob_ctx *bc, struct rjob *j)
{
	const struct node *n = &j->node;
	if (j->fd < 0 && (j->fd = create_file(s, j->dir, j->name, n, j->path)) < 0)
		return;
	uint64_t off = 0;
	struct roost_errbuf eb;
	int bad = 0;
	/* Files of some size get their blocks at once: fewer extents, and no
	 * delayed allocation for ext4 to flush (stalling every writer) when the
	 * file system runs low on free space. A failure here is only a lost
	 * optimization; the writes report real errors. */
	if (n->size >= PREALLOC_MIN && dense(s, n))
		(void)fallocate(j->fd, 0, 0, (off_t)n->size);
	uint32_t i = 0;
	uint64_t end = 0; /* the file's size so far: holes are not written */
	for (; i < n->nextents && !canceled(s); i++) {
		const struct extent *e = &n->extents[i];
		if (e->kind == 1) {
			off += e->len;
			continue;
		}
		uint8_t *p;
		size_t len;
		enum roost_err err = uses_read(&s->uses, s->r, bc, e->id, &p, &len, &eb);
		if (err) {
			rwarn(s, "%s: %s", j->path, eb.msg);
			bad = 1;
			break;
		}
		size_t w = 0;
		while (w < len) {
			ssize_t k = pwrite(j->fd, p + w, len - w, (off_t)(off + w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				rwarn(s, "%s: write: %s", j->path, strerror(errno));
				bad = 1;
				break;
			}
			w += (size_t)k;
		}
		free(p);
		if (bad)
			break;
		off += len;
		end = off;
		atomic_fetch_add(&s->bytes, len);
	}
	if (i < n->nextents)
		bad = 1; /* canceled part way */
	/* extend over a trailing hole (or cut what a shrinking file left) */
	if (!bad && end != n->size && ftruncate(j->fd, (off_t)n->size) != 0) {
		rwarn(s, "%s: truncate: %s", j->path, strerror(errno));
		bad = 1;
	}
	if (i < n->nextents)
		uses_drop(&s->uses, n, i + 1);
	if (bad) {
		/* no half-restored file masquerades as the real one */
		unlinkat(j->dir->fd, j->name, 0);
		return;
	}
	apply_meta_fd(s, j->fd, n, j->path, j->dir->fresh);
	atomic_fetch_add(&s->files, 1);
}

static void rjob_run(struct rs *s, struct blob_ctx *bc, struct rjob *j)
{
	if (bc && !canceled(s)) {
		restore_file(s, bc, j);
	} else {
		if (!bc)
			rwarn(s, "%s: out of memory", j->path);
		if (j->fd >= 0) /* made, never filled: not left behind empty */
			unlinkat(j->dir->fd, j->name, 0);
	}
	if (j->fd >= 0)
		close(j->fd);
	rdir_put(j->dir);
	free(j->name);
	free(j->path);
	node_release(&j->node);
	free(j);
}

/* The oldest queued job; with qlock held and the queue not empty. */
static struct rjob *rpop(struct rs *s)
{
	struct rjob *j = s->q[s->qhead];
	s->qhead = (s->qhead + 1) % RQ_CAP;
	s->qlen--;
	atomic_store_explicit(&s->qdepth, s->qlen, memory_order_relaxed);
	return j;
}

static void *rworker(void *arg)
{
	struct rs *s = arg;
	struct blob_ctx *bc = blob_ctx_new(s->r->zstd_level);
	struct rjob *jobs[4];
	for (;;) {
		pthread_mutex_lock(&s->qlock);
		while (!s->qlen && !s->closing)
			pthread_cond_wait(&s->q_nonempty, &s->qlock);
		size_t k = 0;
		while (s->qlen && k < 4)
			jobs[k++] = rpop(s);
		if (k)
			snprintf(s->current, sizeof(s->current), "%s", jobs[0]->path);
		pthread_mutex_unlock(&s->qlock);
		if (!k)
			break;
		for (size_t i = 0; i < k; i++)
			rjob_run(s, bc, jobs[i]);
	}
	blob_ctx_free(bc);
	return NULL;
}

/* Queues the walker's batch. When the queue is full the walker does not
 * wait: it restores the oldest queued file itself. */
static void rflush(struct rs *s)
{
	size_t i = 0;
	pthread_mutex_lock(&s->qlock);
	while (i < s->nbatch) {
		while (s->qlen == RQ_CAP) {
			struct rjob *j = rpop(s);
			pthread_mutex_unlock(&s->qlock);
			rjob_run(s, s->wbc, j);
			pthread_mutex_lock(&s->qlock);
		}
		while (i < s->nbatch && s->qlen < RQ_CAP) {
			s->q[(s->qhead + s->qlen) % RQ_CAP] = s->batch[i++];
			s->qlen++;
		}
		atomic_store_explicit(&s->qdepth, s->qlen, memory_order_relaxed);
		pthread_cond_broadcast(&s->q_nonempty);
	}
	pthread_mutex_unlock(&s->qlock);
	s->nbatch = 0;
}

static void renqueue(struct rs *s, struct rjob *j)
{
	s->batch[s->nbatch++] = j;
	if (s->nbatch == RBATCH || j->node.size >= (1 << 20))
		rflush(s);
}

/* Is path (with len) to be restored: 2 whole, 1 only as a way to an include, 0 no. */
static int included(const struct roost_restore_opts *o, const char *path, size_t len)
{
	if (!o->nincludes)
		return 2;
	int way = 0;
	for (size_t i = 0; i < o->nincludes; i++) {
		const char *inc = o->includes[i];
		size_t il = strlen(inc);
		while (il > 1 && inc[il - 1] == '/')
			il--;
		if (len >= il && memcmp(path, inc, il) == 0 && (len == il || path[il] == '/' || il == 1))
			return 2;
		if (il > len && memcmp(inc, path, len) == 0 && (inc[len] == '/' || len == 1))
			way = 1;
	}
	return way;
}

static int link_find(struct rs *s, const struct node *n)
{
	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].dev == n->dev && s->links[i].ino == n->ino)
			return (int)i;
	return -1;
}

static void link_add(struct rs *s, const struct node *n, const char *rel)
{
	if (s->nlinks == s->caplinks) {
		size_t nc = s->caplinks ? s->caplinks * 2 : 64;
		struct link_ent *nl = realloc(s->links, nc * sizeof(*nl));
		if (!nl)
			return;
		s->links = nl;
		s->caplinks = nc;
	}
	char *c = strdup(rel);
	if (!c)
		return;
	s->links[s->nlinks++] = (struct link_ent){n->dev, n->ino, c};
}

/* Takes ownership of *n's contents into a copy. */
static void node_move(struct node *dst, struct node *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* Creates a fresh entry: if something is in the way (not a directory), it goes. */
static int make_room(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	return unlinkat(dirfd, name, 0);
}

static void restore_tree(struct rs *s, struct blob_ctx *bc, const uint8_t id[ID_LEN],
                         struct rdir *dir, const char *path, const char *rel);

static void restore_node(struct rs *s, struct blob_ctx *bc, struct node *n, struct rdir *dir,
                         const char *path, const char *rel)
{
	int dirfd = dir->fd;
	char shown[1024];
	show(shown, sizeof(shown), path);
	const char *name = n->name;
	if (n->flags & 1 && n->type != NODE_DIR) {
		int li = link_find(s, n);
		if (li >= 0) {
			if (!dir->fresh)
				make_room(dirfd, name);
			if (linkat(s->rootfd, s->links[li].rel, dirfd, name, 0) != 0)
				rwarn(s, "%s: hard link: %s", shown, strerror(errno));
			else
				atomic_fetch_add(&s->files, n->type == NODE_FILE);
			if (n->type == NODE_FILE)
				uses_drop(&s->uses, n, 0);
			return;
		}
		link_add(s, n, rel);
	}
	switch (n->type) {
	case NODE_DIR: {
		int made = mkdirat(dirfd, name, 0700) == 0;
		if (!made && errno != EEXIST) {
			rwarn(s, "%s: mkdir: %s", shown, strerror(errno));
			return;
		}
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rwarn(s, "%s: %s", shown,
			      errno == ELOOP || errno == ENOTDIR ? "exists and is not a directory"
			                                         : strerror(errno));
			return;
		}
		if (s->ndirs == s->capdirs) {
			size_t nc = s->capdirs ? s->capdirs * 2 : 64;
			struct dirmeta *nd = realloc(s->dirs, nc * sizeof(*nd));
			if (nd) {
				s->dirs = nd;
				s->capdirs = nc;
			}
		}
		uint8_t sub[ID_LEN];
		memcpy(sub, n->subtree, ID_LEN);
		if (s->ndirs < s->capdirs) {
			struct dirmeta *dm = &s->dirs[s->ndirs];
			dm->rel = strdup(rel);
			if (dm->rel) {
				node_move(&dm->node, n);
				s->ndirs++;
			}
		}
		struct rdir *sd = rdir_new(fd, made);
		if (!sd) {
			close(fd);
			rwarn(s, "%s: out of memory", shown);
			return;
		}
		restore_tree(s, bc, sub, sd, path, rel);
		rdir_put(sd);
		atomic_fetch_add(&s->ndirs_done, 1);
		return;
	}
	case NODE_FILE: {
		/* A file others link to is made at once, so the links can follow.
		 * The rest: made here while the workers have plenty queued, else
		 * left to the workers (making files is much of a restore's work). */
		int fd = -1;
		if ((n->flags & 1 ||
		     atomic_load_explicit(&s->qdepth, memory_order_relaxed) >= CREATE_AHEAD) &&
		    (fd = create_file(s, dir, name, n, shown)) < 0)
			return;
		struct rjob *j = calloc(1, sizeof(*j));
		if (!j || !(j->name = strdup(name)) || !(j->path = strdup(shown))) {
			if (j) {
				free(j->name);
				free(j);
			}
			if (fd >= 0)
				close(fd);
			rwarn(s, "%s: out of memory", shown);
			uses_drop(&s->uses, n, 0);
			return;
		}
		j->fd = fd;
		j->dir = dir;
		atomic_fetch_add(&dir->refs, 1);
		node_move(&j->node, n);
		renqueue(s, j);
		return;
	}
	case NODE_SYMLINK:
		if ((!dir->fresh && make_room(dirfd, name) != 0) ||
		    symlinkat(n->target, dirfd, name) != 0) {
			rwarn(s, "%s: symlink: %s", shown, strerror(errno));
			return;
		}
		break;
	case NODE_FIFO:
		if ((!dir->fresh && make_room(dirfd, name) != 0) ||
		    mkfifoat(dirfd, name, n->mode & 0777) != 0) {
			rwarn(s, "%s: mkfifo: %s", shown, strerror(errno));
			return;
		}
		break;
	case NODE_CHR:
	case NODE_BLK:
		if (!s->is_root)
			return; /* only root can make devices; not an error */
		if ((!dir->fresh && make_room(dirfd, name) != 0) ||
		    mknodat(dirfd, name, (n->type == NODE_CHR ? S_IFCHR : S_IFBLK) | (n->mode & 0777),
		            (dev_t)n->rdev) != 0) {
			rwarn(s, "%s: mknod: %s", shown, strerror(errno));
			return;
		}
		break;
	}
	/* symlinks, fifos, devices: metadata by name, never following links */
	if (s->is_root && fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) != 0)
		rwarn(s, "%s: chown: %s", shown, strerror(errno));
	if (n->type != NODE_SYMLINK && fchmodat(dirfd, name, n->mode, 0) != 0)
		rwarn(s, "%s: chmod: %s", shown, strerror(errno));
	if (n->type != NODE_SYMLINK && n->nxattrs) {
		/* no fsetxattr on a fifo without opening it: go through the dir fd */
		char *proc = malloc(strlen(name) + 40);
		if (proc) {
			sprintf(proc, "/proc/self/fd/%d/%s", dirfd, name);
			for (uint16_t i = 0; i < n->nxattrs; i++)
				if (lsetxattr(proc, n->xattrs[i].name, n->xattrs[i].value,
				              n->xattrs[i].len, 0) != 0 &&
				    errno != ENOTSUP && errno != EPERM)
					rwarn(s, "%s: xattr %s: %s", shown, n->xattrs[i].name,
					      strerror(errno));
			free(proc);
		}
	}
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {n->mtime_s, n->mtime_ns}};
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
		rwarn(s, "%s: set times: %s", shown, strerror(errno));
}

static void restore_tree(struct rs *s, struct blob_ctx *bc, const uint8_t id[ID_LEN],
                         struct rdir *dir, const char *path, const char *rel)
{
	struct tree t;
	struct roost_errbuf eb;
	char shown[1024];
	if (repo_load_tree(s->r, bc, id, &t, &eb)) {
		show(shown, sizeof(shown), path[0] ? path : "/");
		rwarn(s, "%s: %s", shown, eb.msg);
		return;
	}
	size_t pl = strlen(path), rl = strlen(rel);
	for (size_t i = 0; i < t.n && !canceled(s); i++) {
		struct node *n = &t.nodes[i];
		char *cp = malloc(pl + n->name_len + 2), *cr = malloc(rl + n->name_len + 2);
		if (!cp || !cr) {
			free(cp);
			free(cr);
			rwarn(s, "out of memory");
			break;
		}
		sprintf(cp, "%s/%s", path, n->name);
		if (rl)
			sprintf(cr, "%s/%s", rel, n->name);
		else
			strcpy(cr, n->name);
		int inc = included(s->o, cp, strlen(cp));
		/* inc == 1: a directory on the way down to an include */
		if (inc == 2 || (inc == 1 && n->type == NODE_DIR))
			restore_node(s, bc, n, dir, cp, cr);
		free(cp);
		free(cr);
	}
	tree_release(&t);
}

static void *rprogress(void *arg)
{
	struct rs *s = arg;
	/* closing is written under qlock; read here without it, atomically. The
	 * first report goes out at once: the total is known from the start. */
	for (int first = 1; !__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE); first = 0) {
		struct timespec ts = {0, 250000000};
		if (!first)
			nanosleep(&ts, NULL);
		if (!first && __atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
			break;
		char cur[512];
		pthread_mutex_lock(&s->qlock);
		memcpy(cur, s->current, sizeof(cur));
		pthread_mutex_unlock(&s->qlock);
		struct roost_progress p = {.files_total = s->files_total,
		                           .files_done = atomic_load(&s->files),
		                           .bytes_done = atomic_load(&s->bytes),
		                           .current = cur[0] ? cur : NULL};
		s->o->progress(s->o->progress_ctx, &p);
	}
	return NULL;
}

enum roost_err roost_repo_restore(struct roost_repo *r, const struct roost_snapshot *snap,
                                  const struct roost_restore_opts *o,
                                  struct roost_restore_result *res, struct roost_errbuf *eb)
{
	memset(res, 0, sizeof(*res));
	if (!r->keys.has_secret && !r->served)
		return put_only_refusal(eb, "restore");
	if (!o->target || !*o->target)
		return roost_errf(eb, ROOST_EINVAL, "no target directory given");
	enum roost_err err = repo_load_index(r, eb);
	if (err)
		return err;
	if (mkdir(o->target, 0700) != 0 && errno != EEXIST)
		return roost_errno(eb, "create target %s", o->target);
	int rootfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return roost_errno(eb, "open target %s", o->target);
	struct rs *s = calloc(1, sizeof(*s));
	struct blob_ctx *bc = blob_ctx_new(r->zstd_level);
	if (!s || !bc) {
		free(s);
		blob_ctx_free(bc);
		close(rootfd);
		return ROOST_ENOMEM;
	}
	s->r = r;
	s->o = o;
	s->rootfd = rootfd;
	s->is_root = geteuid() == 0;
	s->euid = geteuid();
	s->egid = getegid();
	s->umask = current_umask();
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->q_nonempty, NULL);
	uses_init(&s->uses);
	s->wbc = bc;
	count_tree(s, bc, snap->tree, "");
	if (s->count_failed) {
		s->uses.off = 1;
		s->files_total = 0;
	}
	uses_seal(&s->uses);
	int nth = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nth < 1)
		nth = 1;
	if (nth > 64)
		nth = 64;
	pthread_t th[64], pth;
	int started = 0, pstarted = 0;
	for (; started < nth; started++)
		if (pthread_create(&th[started], NULL, rworker, s) != 0)
			break;
	if (o->progress)
		pstarted = pthread_create(&pth, NULL, rprogress, s) == 0;
	if (!started) {
		err = roost_errf(eb, ROOST_EIO, "cannot start worker threads");
	} else {
		/* the target itself may hold anything: never "fresh" */
		struct rdir *root = rdir_new(dup(rootfd), 0);
		if (root && root->fd >= 0) {
			restore_tree(s, bc, snap->tree, root, "", "");
			rflush(s);
		} else {
			err = roost_errf(eb, ROOST_ENOMEM, "out of memory");
		}
		rdir_put(root);
	}
	pthread_mutex_lock(&s->qlock);
	__atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&s->q_nonempty);
	pthread_mutex_unlock(&s->qlock);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (pstarted)
		pthread_join(pth, NULL);
	/* directory metadata, deepest first, so writing children doesn't undo it */
	for (size_t i = s->ndirs; i-- > 0;) {
		struct dirmeta *dm = &s->dirs[i];
		int fd = openat(rootfd, dm->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			char shown[1024];
			show(shown, sizeof(shown), dm->rel);
			apply_meta_fd(s, fd, &dm->node, shown, 0);
			close(fd);
		}
		free(dm->rel);
		node_release(&dm->node);
	}
	free(s->dirs);
	for (size_t i = 0; i < s->nlinks; i++)
		free(s->links[i].rel);
	free(s->links);
	if (!err && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED))
		err = roost_errf(eb, ROOST_ECANCELED, "restore canceled");
	res->files = atomic_load(&s->files);
	res->dirs = atomic_load(&s->ndirs_done);
	res->bytes = atomic_load(&s->bytes);
	res->errors = atomic_load(&s->errors);
	uses_release(&s->uses);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->q_nonempty);
	blob_ctx_free(bc);
	free(s);
	close(rootfd);
	return err;
}
