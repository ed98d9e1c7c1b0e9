/* SPDX-License-Identifier: MIT */
/*
 * bench_floor: the cost of the fixed primitives of a backup and a restore
 * alone, on the same bytes with the same number of threads, built from
 * libroost's own primitives (lib/repo: chunker.c, crypto.c, blob.c).
 *
 *   bench_floor [-t THREADS] [-l ZSTD_LEVEL] [--restore-target DIR] DATA
 *
 * Untimed pre-pass: lists DATA's regular files, cuts them with roost's
 * chunker (default sizes), finds the first occurrence of every blob,
 * compresses and seals each unique blob once into a pack file of its own
 * (under the restore target's parent).
 *
 * Backup floor (timed): THREADS threads take files in turn; each opens and
 * reads its file, hashes every chunk (keyed BLAKE2b, blob_id), and
 * compresses (blob_encode, roost's zstd level) and seals (seal, roost's
 * XChaCha20-Poly1305) each chunk that is a blob's first occurrence. No
 * walk, no chunking, no pack writing, no index, no fsync.
 *
 * Restore floor (timed, with --restore-target): makes the directories, then
 * THREADS threads take files in turn; each creates its file and, per chunk,
 * reads the sealed blob from the pack file, opens it, decompresses and
 * hash-verifies it (blob_decode), and writes it. A blob written more than
 * once is read, opened and verified once and its unsealed form kept
 * (decompressed again per write), as restore_cache.c does. No metadata.
 *
 * Prints "backup_floor_s X" and "restore_floor_s Y" and, per primitive, the
 * seconds summed over the threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repo_int.h"

struct chunk {
	uint32_t len;
	uint32_t blob; /* index into blobs */
	uint8_t first; /* the blob's first occurrence */
};

struct file {
	char *rel; /* relative to DATA */
	uint64_t size;
	struct chunk *c;
	uint32_t nc;
};

struct blob {
	uint8_t id[ID_LEN];
	uint64_t off; /* sealed form in the pack file */
	uint32_t slen, raw;
	uint32_t uses;
	pthread_mutex_t lock;
	uint8_t *kept; /* unsealed form, for uses > 1 */
	size_t keptn;
};

static struct file *files;
static size_t nfiles, capfiles;
static char **dirs;
static size_t ndirs, capdirs;
static struct blob *blobs;
static size_t nblobs, capblobs;
static size_t base_len;
static const char *data_dir;
static struct repo_keys keys;
static struct chunker chk;
static uint8_t pack_key[32];
static int level = 2;
static int pack_fd = -1;
static int target_fd = -1;
static atomic_size_t next_file;

enum { T_READ, T_HASH, T_COMPRESS, T_SEAL, T_PREAD, T_OPEN, T_DECOMPRESS, T_VERIFY, T_WRITE,
       T_CREATE, T_N };
static const char *tname[T_N] = {"read",   "hash",       "compress", "seal",  "pack_read",
                                 "open",   "decompress", "verify",   "write", "create+close"};
static _Atomic uint64_t tsum[T_N];

/* per-primitive figures are the thread's CPU time, immune to other load */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("realloc");
	return p;
}

/* ---- the pre-pass ---- */

/* An open-addressed table id -> blob index. */
static uint32_t *tab;
static size_t tabcap;

static uint32_t blob_find_or_add(const uint8_t id[ID_LEN], int *fresh)
{
	if ((nblobs + 1) * 2 > tabcap) {
		size_t nc = tabcap ? tabcap * 2 : 1 << 16;
		uint32_t *nt = malloc(nc * sizeof(*nt));
		if (!nt)
			die("malloc");
		memset(nt, 0xff, nc * sizeof(*nt));
		for (size_t i = 0; i < nblobs; i++) {
			uint64_t h;
			memcpy(&h, blobs[i].id, 8);
			size_t s = h & (nc - 1);
			while (nt[s] != UINT32_MAX)
				s = (s + 1) & (nc - 1);
			nt[s] = (uint32_t)i;
		}
		free(tab);
		tab = nt;
		tabcap = nc;
	}
	uint64_t h;
	memcpy(&h, id, 8);
	size_t s = h & (tabcap - 1);
	while (tab[s] != UINT32_MAX) {
		if (!memcmp(blobs[tab[s]].id, id, ID_LEN)) {
			*fresh = 0;
			return tab[s];
		}
		s = (s + 1) & (tabcap - 1);
	}
	if (nblobs == capblobs) {
		capblobs = capblobs ? capblobs * 2 : 4096;
		blobs = xrealloc(blobs, capblobs * sizeof(*blobs));
	}
	memset(&blobs[nblobs], 0, sizeof(blobs[nblobs]));
	memcpy(blobs[nblobs].id, id, ID_LEN);
	tab[s] = (uint32_t)nblobs;
	*fresh = 1;
	return (uint32_t)nblobs++;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)f;
	const char *rel = path + base_len;
	while (*rel == '/')
		rel++;
	if (type == FTW_D && *rel) {
		if (ndirs == capdirs) {
			capdirs = capdirs ? capdirs * 2 : 1024;
			dirs = xrealloc(dirs, capdirs * sizeof(*dirs));
		}
		dirs[ndirs++] = strdup(rel);
	} else if (type == FTW_F && S_ISREG(st->st_mode)) {
		if (nfiles == capfiles) {
			capfiles = capfiles ? capfiles * 2 : 4096;
			files = xrealloc(files, capfiles * sizeof(*files));
		}
		files[nfiles++] = (struct file){.rel = strdup(rel), .size = (uint64_t)st->st_size};
	}
	return 0;
}

static uint8_t *read_whole(int dirfd, const char *rel, uint64_t size, uint8_t **buf, size_t *cap,
                           size_t *got)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0)
		fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (*cap < size + 1) {
		*cap = size + 1;
		*buf = xrealloc(*buf, *cap);
	}
	size_t h = 0;
	for (;;) {
		ssize_t n = read(fd, *buf + h, *cap - h);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		h += (size_t)n;
		if (h == *cap)
			break;
	}
	close(fd);
	*got = h;
	return *buf;
}

static void prepass(void)
{
	int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die(data_dir);
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct blob_ctx *bc = blob_ctx_new(level);
	uint8_t *sealed = NULL;
	size_t scap = 0;
	uint64_t poff = 0;
	for (size_t i = 0; i < nfiles; i++) {
		struct file *f = &files[i];
		size_t n = 0;
		if (!read_whole(dfd, f->rel, f->size, &buf, &cap, &n)) {
			f->size = 0;
			continue;
		}
		f->size = n;
		size_t at = 0;
		while (at < n) {
			size_t cut = chunker_cut(&chk, buf + at, n - at);
			uint8_t id[ID_LEN];
			blob_id(&keys, buf + at, cut, id);
			int fresh;
			uint32_t bi = blob_find_or_add(id, &fresh);
			if (fresh) {
				const uint8_t *enc;
				size_t encn;
				if (blob_encode(bc, buf + at, cut, &enc, &encn))
					die("blob_encode");
				if (scap < encn + SEAL_OVERHEAD) {
					scap = encn + SEAL_OVERHEAD;
					sealed = xrealloc(sealed, scap);
				}
				seal(pack_key, enc, encn, sealed);
				if (pwrite(pack_fd, sealed, encn + SEAL_OVERHEAD, (off_t)poff) !=
				    (ssize_t)(encn + SEAL_OVERHEAD))
					die("write pack");
				blobs[bi].off = poff;
				blobs[bi].slen = (uint32_t)(encn + SEAL_OVERHEAD);
				blobs[bi].raw = (uint32_t)cut;
				poff += encn + SEAL_OVERHEAD;
			}
			blobs[bi].uses++;
			f->c = xrealloc(f->c, (f->nc + 1) * sizeof(*f->c));
			f->c[f->nc++] = (struct chunk){(uint32_t)cut, bi, (uint8_t)fresh};
			at += cut;
		}
	}
	for (size_t i = 0; i < nblobs; i++)
		pthread_mutex_init(&blobs[i].lock, NULL);
	free(buf);
	free(sealed);
	blob_ctx_free(bc);
	close(dfd);
}

/* ---- the backup floor ---- */

static int data_fd = -1;

/* Reads n bytes of fd into p; the count read. */
static size_t read_n(int fd, uint8_t *p, size_t n)
{
	size_t h = 0;
	while (h < n) {
		ssize_t k = read(fd, p + h, n - h);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		h += (size_t)k;
	}
	return h;
}

/* Chunk by chunk, so each is hashed and compressed while still in cache. */
static void *backup_worker(void *arg)
{
	(void)arg;
	struct blob_ctx *bc = blob_ctx_new(level);
	uint8_t *buf = malloc(4u << 20), *sealed = NULL;
	size_t scap = 0;
	uint64_t t[T_N] = {0};
	if (!buf)
		die("malloc");
	for (;;) {
		size_t i = atomic_fetch_add(&next_file, 1);
		if (i >= nfiles)
			break;
		struct file *f = &files[i];
		uint64_t a = now_ns();
		int fd = openat(data_fd, f->rel, O_RDONLY | O_CLOEXEC | O_NOATIME);
		if (fd < 0)
			fd = openat(data_fd, f->rel, O_RDONLY | O_CLOEXEC);
		t[T_READ] += now_ns() - a;
		if (fd < 0)
			continue;
		for (uint32_t k = 0; k < f->nc; k++) {
			size_t len = f->c[k].len;
			uint8_t id[ID_LEN];
			a = now_ns();
			size_t got = read_n(fd, buf, len);
			uint64_t b = now_ns();
			t[T_READ] += b - a;
			if (got != len)
				break;
			blob_id(&keys, buf, len, id);
			a = now_ns();
			t[T_HASH] += a - b;
			if (f->c[k].first) {
				const uint8_t *enc;
				size_t encn;
				blob_encode(bc, buf, len, &enc, &encn);
				uint64_t c = now_ns();
				if (scap < encn + SEAL_OVERHEAD) {
					scap = encn + SEAL_OVERHEAD;
					sealed = xrealloc(sealed, scap);
				}
				seal(pack_key, enc, encn, sealed);
				uint64_t d = now_ns();
				t[T_COMPRESS] += c - a;
				t[T_SEAL] += d - c;
			}
		}
		a = now_ns();
		close(fd);
		t[T_READ] += now_ns() - a;
	}
	for (int k = 0; k < T_N; k++)
		atomic_fetch_add(&tsum[k], t[k]);
	free(buf);
	free(sealed);
	blob_ctx_free(bc);
	return NULL;
}

/* ---- the restore floor ---- */

static void *restore_worker(void *arg)
{
	(void)arg;
	struct blob_ctx *bc = blob_ctx_new(level);
	uint8_t *st = NULL, *raw = NULL, *plain = NULL;
	size_t stcap = 0, rawcap = 0;
	uint64_t t[T_N] = {0};
	for (;;) {
		size_t i = atomic_fetch_add(&next_file, 1);
		if (i >= nfiles)
			break;
		struct file *f = &files[i];
		uint64_t a = now_ns();
		int fd = openat(target_fd, f->rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die(f->rel);
		t[T_CREATE] += now_ns() - a;
		for (uint32_t k = 0; k < f->nc; k++) {
			struct blob *bl = &blobs[f->c[k].blob];
			if (rawcap < bl->raw + 1) {
				rawcap = bl->raw + 1;
				raw = xrealloc(raw, rawcap);
			}
			int multi = bl->uses > 1;
			if (multi)
				pthread_mutex_lock(&bl->lock);
			if (multi && bl->kept) {
				a = now_ns();
				if (blob_unpack(bc, bl->kept, bl->keptn, raw, bl->raw))
					die("unpack");
				t[T_DECOMPRESS] += now_ns() - a;
			} else {
				/* what blob_decode does, step by step */
				if (stcap < bl->slen) {
					stcap = bl->slen;
					st = xrealloc(st, stcap);
					plain = xrealloc(plain, stcap);
				}
				size_t pn = bl->slen - SEAL_OVERHEAD;
				uint8_t got[ID_LEN];
				a = now_ns();
				if (pread(pack_fd, st, bl->slen, (off_t)bl->off) != (ssize_t)bl->slen)
					die("pack read");
				uint64_t b = now_ns();
				if (unseal(pack_key, st, bl->slen, plain))
					die("unseal");
				uint64_t c = now_ns();
				if (blob_unpack(bc, plain, pn, raw, bl->raw))
					die("unpack");
				uint64_t d = now_ns();
				blob_id(&keys, raw, bl->raw, got);
				if (sodium_memcmp(got, bl->id, ID_LEN) != 0)
					die("verify");
				uint64_t e = now_ns();
				t[T_PREAD] += b - a;
				t[T_OPEN] += c - b;
				t[T_DECOMPRESS] += d - c;
				t[T_VERIFY] += e - d;
				if (multi) {
					bl->kept = malloc(pn);
					if (!bl->kept)
						die("malloc");
					memcpy(bl->kept, plain, pn);
					bl->keptn = pn;
				}
			}
			if (multi)
				pthread_mutex_unlock(&bl->lock);
			a = now_ns();
			size_t w = 0;
			while (w < bl->raw) {
				ssize_t n = write(fd, raw + w, bl->raw - w);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					die("write");
				w += (size_t)n;
			}
			t[T_WRITE] += now_ns() - a;
		}
		a = now_ns();
		close(fd);
		t[T_CREATE] += now_ns() - a;
	}
	for (int k = 0; k < T_N; k++)
		atomic_fetch_add(&tsum[k], t[k]);
	free(st);
	free(raw);
	free(plain);
	blob_ctx_free(bc);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double last_cpu; /* the process CPU seconds of the last run() */

static double run(void *(*fn)(void *), int nth)
{
	double c0 = cpu_s();
	pthread_t th[64];
	for (int k = 0; k < T_N; k++)
		atomic_store(&tsum[k], 0);
	atomic_store(&next_file, 0);
	uint64_t a = wall_ns();
	for (int i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, fn, NULL))
			die("pthread_create");
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	last_cpu = cpu_s() - c0;
	return (double)(wall_ns() - a) / 1e9;
}

static void print_parts(const char *phase, int first, int last)
{
	for (int k = first; k <= last; k++)
		printf("%s_%s_cpu_s %.3f\n", phase, tname[k], (double)atomic_load(&tsum[k]) / 1e9);
}

int main(int argc, char **argv)
{
	int nth = (int)sysconf(_SC_NPROCESSORS_ONLN);
	const char *target = NULL;
	static const struct option lo[] = {{"restore-target", required_argument, NULL, 'r'},
	                                   {"threads", required_argument, NULL, 't'},
	                                   {"level", required_argument, NULL, 'l'},
	                                   {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "t:l:r:", lo, NULL)) != -1) {
		switch (c) {
		case 't': nth = atoi(optarg); break;
		case 'l': level = atoi(optarg); break;
		case 'r': target = optarg; break;
		default:
			fprintf(stderr, "usage: bench_floor [-t THREADS] [-l LEVEL] "
			                "[--restore-target DIR] DATA\n");
			return 2;
		}
	}
	if (optind + 1 != argc || nth < 1 || nth > 64) {
		fprintf(stderr, "usage: bench_floor [-t THREADS] [-l LEVEL] [--restore-target DIR] DATA\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init");
	data_dir = argv[optind];
	base_len = strlen(data_dir);
	uint8_t master[32];
	randombytes_buf(master, sizeof(master));
	keys_derive(master, &keys);
	uint8_t epk[32];
	if (kx_new_sealing_key(keys.data_pk, epk, pack_key))
		die("kx");
	/* roost's default chunk sizes (lib/repo/repo.c) */
	chunker_init(&chk, keys.chunk, 256u << 10, 1u << 20, 4u << 20);

	/* the pack file: next to the restore target, else in /var/tmp */
	char pack_path[4096];
	snprintf(pack_path, sizeof(pack_path), "%s.floor-pack", target ? target : "/var/tmp/bench-floor");
	pack_fd = open(pack_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pack_fd < 0)
		die(pack_path);
	unlink(pack_path);

	uint64_t a = wall_ns();
	if (nftw(data_dir, visit, 64, FTW_PHYS) != 0)
		die("nftw");
	double walk_s = (double)(wall_ns() - a) / 1e9;
	prepass();
	uint64_t bytes = 0;
	size_t nchunks = 0;
	for (size_t i = 0; i < nfiles; i++) {
		bytes += files[i].size;
		nchunks += files[i].nc;
	}
	printf("files %zu dirs %zu bytes %llu chunks %zu unique_blobs %zu threads %d level %d\n",
	       nfiles, ndirs, (unsigned long long)bytes, nchunks, nblobs, nth, level);
	printf("walk_1thread_s %.3f (not in the floor)\n", walk_s);

	data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (data_fd < 0)
		die(data_dir);
	double bs = run(backup_worker, nth);
	printf("backup_floor_s %.3f\n", bs);
	printf("backup_floor_cpu_s %.3f\n", last_cpu);
	print_parts("backup", T_READ, T_SEAL);

	if (target) {
		if (mkdir(target, 0755) != 0 && errno != EEXIST)
			die(target);
		target_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (target_fd < 0)
			die(target);
		a = wall_ns();
		for (size_t i = 0; i < ndirs; i++) /* nftw lists parents first */
			if (mkdirat(target_fd, dirs[i], 0755) != 0 && errno != EEXIST)
				die(dirs[i]);
		double mk = (double)(wall_ns() - a) / 1e9, c0 = cpu_s();
		double rs = run(restore_worker, nth);
		printf("restore_floor_s %.3f\n", mk + rs);
		printf("restore_floor_cpu_s %.3f\n", cpu_s() - c0);
		printf("restore_mkdir_s %.3f\n", mk);
		print_parts("restore", T_PREAD, T_CREATE);
	}
	return 0;
}
