/* SPDX-License-Identifier: MIT */
/*
 * The local directory backend. Objects are files; packs are fanned out into
 * 256 subdirectories. Writes go to tmp/, are fsynced, then link()ed into
 * place, which fails if the name exists: an object is never overwritten and
 * never seen half-written.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "roost/backend.h"
#include <sodium.h>

/* Open pack files, reused across reads: restore and check read many blobs
 * from each pack. Entries in use (refs > 0) are never closed. */
#define FD_CACHE 32
struct fd_slot {
	char name[8 + 64];
	int fd;
	int refs;
	uint64_t used; /* LRU clock */
};

struct local {
	struct roost_backend base;
	char *dir;
	pthread_mutex_t fdlock;
	struct fd_slot fds[FD_CACHE];
	uint64_t clock;
};

struct roost_bwriter {
	struct local *lb;
	int fd;
	char tmp[4096];
};

static const char *const types[] = {"keys", "packs", "index", "snapshots", "marks", NULL};

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == 0;
}

int roost_backend_name_valid(const char *name)
{
	if (strcmp(name, "config") == 0 || strcmp(name, "config.next") == 0)
		return 1; /* config.next: a config being replaced (repo.c) */
	for (int i = 0; types[i]; i++) {
		size_t tl = strlen(types[i]);
		if (strncmp(name, types[i], tl) == 0 && name[tl] == '/')
			return is_hex(name + tl + 1, 64);
	}
	return 0;
}

/* Maps an object name to its file path. */
static int obj_path(struct local *lb, const char *name, char *out, size_t len)
{
	if (!roost_backend_name_valid(name))
		return -1;
	int n;
	if (strncmp(name, "packs/", 6) == 0)
		n = snprintf(out, len, "%s/packs/%.2s/%s", lb->dir, name + 6, name + 6);
	else
		n = snprintf(out, len, "%s/%s", lb->dir, name);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static enum roost_err bad_name(struct roost_errbuf *eb, const char *name)
{
	return roost_errf(eb, ROOST_EINVAL, "invalid object name \"%.80s\"", name);
}

static enum roost_err read_full(int fd, uint8_t *buf, size_t len, uint64_t off,
                                const char *name, struct roost_errbuf *eb)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return roost_errno(eb, "read %s", name);
		if (n == 0)
			return roost_errf(eb, ROOST_ECORRUPT, "%s: object is shorter than expected",
			                  name);
		got += (size_t)n;
	}
	return ROOST_OK;
}

static enum roost_err local_get(struct roost_backend *b, const char *name, uint8_t **buf,
                                size_t *len, struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	*buf = NULL;
	*len = 0;
	char path[4096];
	if (obj_path(lb, name, path, sizeof(path)))
		return bad_name(eb, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return roost_errf(eb, ROOST_ENOENT, "%s: no such object", name);
		return roost_errno(eb, "open %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		enum roost_err e = roost_errno(eb, "stat %s", path);
		close(fd);
		return e;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *p = malloc(n ? n : 1);
	if (!p) {
		close(fd);
		return ROOST_ENOMEM;
	}
	enum roost_err err = read_full(fd, p, n, 0, name, eb);
	close(fd);
	if (err) {
		free(p);
		return err;
	}
	*buf = p;
	*len = n;
	return ROOST_OK;
}

/* An fd for name from the cache (opening it if needed); -1 with errno set. */
static int fd_acquire(struct local *lb, const char *name, const char *path, struct fd_slot **slot)
{
	*slot = NULL;
	pthread_mutex_lock(&lb->fdlock);
	struct fd_slot *victim = NULL;
	for (int i = 0; i < FD_CACHE; i++) {
		struct fd_slot *f = &lb->fds[i];
		if (f->fd >= 0 && strcmp(f->name, name) == 0) {
			f->refs++;
			f->used = ++lb->clock;
			*slot = f;
			pthread_mutex_unlock(&lb->fdlock);
			return f->fd;
		}
		if (f->refs == 0 && (!victim || f->used < victim->used))
			victim = f;
	}
	pthread_mutex_unlock(&lb->fdlock);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !victim || strlen(name) >= sizeof(victim->name))
		return fd; /* uncached: the caller closes it */
	pthread_mutex_lock(&lb->fdlock);
	if (victim->refs == 0) {
		if (victim->fd >= 0)
			close(victim->fd);
		snprintf(victim->name, sizeof(victim->name), "%s", name);
		victim->fd = fd;
		victim->refs = 1;
		victim->used = ++lb->clock;
		*slot = victim;
	}
	pthread_mutex_unlock(&lb->fdlock);
	return fd;
}

static void fd_release(struct local *lb, struct fd_slot *slot, int fd)
{
	if (!slot) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&lb->fdlock);
	slot->refs--;
	pthread_mutex_unlock(&lb->fdlock);
}

/* Forgets a cached fd (the object is being removed). */
static void fd_forget(struct local *lb, const char *name)
{
	pthread_mutex_lock(&lb->fdlock);
	for (int i = 0; i < FD_CACHE; i++)
		if (lb->fds[i].fd >= 0 && lb->fds[i].refs == 0 && strcmp(lb->fds[i].name, name) == 0) {
			close(lb->fds[i].fd);
			lb->fds[i].fd = -1;
			lb->fds[i].name[0] = 0;
		}
	pthread_mutex_unlock(&lb->fdlock);
}

static enum roost_err local_get_range(struct roost_backend *b, const char *name,
                                      uint64_t off, size_t len, uint8_t *buf,
                                      struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	char path[4096];
	if (obj_path(lb, name, path, sizeof(path)))
		return bad_name(eb, name);
	struct fd_slot *slot;
	int fd = fd_acquire(lb, name, path, &slot);
	if (fd < 0) {
		if (errno == ENOENT)
			return roost_errf(eb, ROOST_ENOENT, "%s: no such object", name);
		return roost_errno(eb, "open %s", path);
	}
	enum roost_err err = read_full(fd, buf, len, off, name, eb);
	fd_release(lb, slot, fd);
	return err;
}

static int fsync_dir_of(const char *path)
{
	char d[4096];
	snprintf(d, sizeof(d), "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash)
		return 0;
	*slash = 0;
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static enum roost_err writer_open(struct roost_backend *b, struct roost_bwriter **out,
                                  struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	*out = NULL;
	struct roost_bwriter *w = calloc(1, sizeof(*w));
	if (!w)
		return ROOST_ENOMEM;
	unsigned char r[8];
	randombytes_buf(r, sizeof(r));
	snprintf(w->tmp, sizeof(w->tmp), "%s/tmp/%ld-%02x%02x%02x%02x%02x%02x%02x%02x", lb->dir,
	         (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		enum roost_err e = roost_errno(eb, "create %s", w->tmp);
		free(w);
		return e;
	}
	w->lb = lb;
	*out = w;
	return ROOST_OK;
}

static enum roost_err writer_write(struct roost_bwriter *w, const uint8_t *buf, size_t len,
                                   struct roost_errbuf *eb)
{
	while (len > 0) {
		ssize_t n = write(w->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return roost_errno(eb, "write %s", w->tmp);
		buf += n;
		len -= (size_t)n;
	}
	return ROOST_OK;
}

static enum roost_err writer_pread(struct roost_bwriter *w, uint64_t off, size_t len,
                                   uint8_t *buf, struct roost_errbuf *eb)
{
	return read_full(w->fd, buf, len, off, w->tmp, eb);
}

static void writer_abort(struct roost_bwriter *w)
{
	if (!w)
		return;
	close(w->fd);
	unlink(w->tmp);
	free(w);
}

static enum roost_err writer_commit(struct roost_bwriter *w, const char *name,
                                    struct roost_errbuf *eb)
{
	char path[4096];
	enum roost_err err = ROOST_OK;
	if (obj_path(w->lb, name, path, sizeof(path))) {
		err = bad_name(eb, name);
		goto done;
	}
	if (fsync(w->fd) != 0) {
		err = roost_errno(eb, "fsync %s", w->tmp);
		goto done;
	}
	if (link(w->tmp, path) != 0) {
		if (errno == ENOENT && strncmp(name, "packs/", 6) == 0) {
			/* first pack of this fan-out directory */
			char d[4096];
			snprintf(d, sizeof(d), "%s/packs/%.2s", w->lb->dir, name + 6);
			if (mkdir(d, 0700) != 0 && errno != EEXIST) {
				err = roost_errno(eb, "mkdir %s", d);
				goto done;
			}
			if (link(w->tmp, path) == 0)
				goto linked;
		}
		if (errno == EEXIST)
			err = roost_errf(eb, ROOST_EEXIST, "%s already exists", name);
		else
			err = roost_errno(eb, "link %s", path);
		goto done;
	}
linked:
	if (fsync_dir_of(path) != 0)
		err = roost_errno(eb, "fsync directory of %s", path);
done:
	close(w->fd);
	unlink(w->tmp);
	free(w);
	return err;
}

static enum roost_err local_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                                size_t len, struct roost_errbuf *eb)
{
	struct roost_bwriter *w;
	enum roost_err err = writer_open(b, &w, eb);
	if (err)
		return err;
	if ((err = writer_write(w, buf, len, eb))) {
		writer_abort(w);
		return err;
	}
	return writer_commit(w, name, eb);
}

static enum roost_err list_dir(const char *dir, const char *prefix, roost_list_cb cb,
                               void *ctx, int *stop, struct roost_errbuf *eb)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return ROOST_OK;
		return roost_errno(eb, "open directory %s", dir);
	}
	struct dirent *e;
	enum roost_err err = ROOST_OK;
	while (!*stop && (e = readdir(d))) {
		if (!is_hex(e->d_name, 64))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
			continue; /* removed meanwhile, or not ours */
		char name[300];
		snprintf(name, sizeof(name), "%s/%.64s", prefix, e->d_name);
		if (cb(ctx, name, (uint64_t)st.st_size))
			*stop = 1;
	}
	closedir(d);
	return err;
}

static enum roost_err local_list(struct roost_backend *b, const char *type, roost_list_cb cb,
                                 void *ctx, struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	int known = 0;
	for (int i = 0; types[i]; i++)
		known |= strcmp(types[i], type) == 0;
	if (!known)
		return roost_errf(eb, ROOST_EINVAL, "unknown object type \"%.32s\"", type);
	char dir[4096];
	int stop = 0;
	if (strcmp(type, "packs") != 0) {
		snprintf(dir, sizeof(dir), "%s/%s", lb->dir, type);
		return list_dir(dir, type, cb, ctx, &stop, eb);
	}
	for (int i = 0; i < 256 && !stop; i++) {
		snprintf(dir, sizeof(dir), "%s/packs/%02x", lb->dir, i);
		enum roost_err err = list_dir(dir, "packs", cb, ctx, &stop, eb);
		if (err)
			return err;
	}
	return ROOST_OK;
}

static enum roost_err local_stat(struct roost_backend *b, const char *name, uint64_t *size,
                                 struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	*size = 0;
	char path[4096];
	if (obj_path(lb, name, path, sizeof(path)))
		return bad_name(eb, name);
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return roost_errf(eb, ROOST_ENOENT, "%s: no such object", name);
		return roost_errno(eb, "stat %s", path);
	}
	*size = (uint64_t)st.st_size;
	return ROOST_OK;
}

static enum roost_err local_remove(struct roost_backend *b, const char *name,
                                   struct roost_errbuf *eb)
{
	struct local *lb = (struct local *)b;
	char path[4096];
	if (obj_path(lb, name, path, sizeof(path)))
		return bad_name(eb, name);
	fd_forget(lb, name);
	if (unlink(path) != 0 && errno != ENOENT)
		return roost_errno(eb, "remove %s", path);
	return ROOST_OK;
}

static void local_close(struct roost_backend *b)
{
	struct local *lb = (struct local *)b;
	for (int i = 0; i < FD_CACHE; i++)
		if (lb->fds[i].fd >= 0)
			close(lb->fds[i].fd);
	pthread_mutex_destroy(&lb->fdlock);
	free(lb->dir);
	free(lb);
}

static const struct roost_backend_ops local_ops = {
	.get = local_get,
	.get_range = local_get_range,
	.put = local_put,
	.writer_open = writer_open,
	.writer_write = writer_write,
	.writer_commit = writer_commit,
	.writer_abort = writer_abort,
	.writer_pread = writer_pread,
	.list = local_list,
	.stat = local_stat,
	.remove = local_remove,
	.close = local_close,
};

/* Removes temporaries left by killed writers of this host (dead pid, > 1 h old). */
static void clean_tmp(const char *dir)
{
	char tdir[4096];
	snprintf(tdir, sizeof(tdir), "%s/tmp", dir);
	DIR *d = opendir(tdir);
	if (!d)
		return;
	struct dirent *e;
	time_t now = time(NULL);
	while ((e = readdir(d))) {
		long pid = strtol(e->d_name, NULL, 10);
		struct stat st;
		if (pid <= 0 || fstatat(dirfd(d), e->d_name, &st, 0) != 0)
			continue;
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/%ld", pid);
		if ((access(proc, F_OK) != 0 && now - st.st_mtime > 60) || now - st.st_mtime > 86400)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

enum roost_err roost_backend_local_open(const char *dir, int create,
                                        struct roost_backend **out, struct roost_errbuf *eb)
{
	*out = NULL;
	if (sodium_init() < 0)
		return roost_errf(eb, ROOST_EIO, "libsodium failed to initialize");
	if (create) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return roost_errno(eb, "create repository directory %s", dir);
		char sub[4096];
		const char *subs[] = {"keys", "packs", "index", "snapshots", "marks", "tmp"};
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
			if (mkdir(sub, 0700) != 0 && errno != EEXIST)
				return roost_errno(eb, "create %s", sub);
		}
	} else {
		char cfg[4096];
		snprintf(cfg, sizeof(cfg), "%s/config", dir);
		struct stat st;
		if (stat(cfg, &st) != 0)
			return roost_errf(eb, ROOST_ENOENT,
			                  "%s is not a roost repository (no config; run 'roost repo init')",
			                  dir);
		clean_tmp(dir);
	}
	struct local *lb = calloc(1, sizeof(*lb));
	if (!lb)
		return ROOST_ENOMEM;
	lb->dir = strdup(dir);
	if (!lb->dir) {
		free(lb);
		return ROOST_ENOMEM;
	}
	pthread_mutex_init(&lb->fdlock, NULL);
	for (int i = 0; i < FD_CACHE; i++)
		lb->fds[i].fd = -1;
	lb->base.ops = &local_ops;
	lb->base.location = lb->dir;
	*out = &lb->base;
	return ROOST_OK;
}

void roost_backend_close(struct roost_backend *b)
{
	if (b)
		b->ops->close(b);
}
