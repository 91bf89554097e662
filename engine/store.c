/*
 * store.c: the state store on LMDB (one file, one unnamed database; see
 * BENCHMARKS.md "State store" for why LMDB). Keys carry a prefix chosen by
 * lua/state.lua and, for paths, the path encoded so that key order is the
 * order of a depth-first walk whose entries are sorted by encoded name:
 * '/' becomes byte 1, byte 1 becomes 2 3 and byte 2 becomes 2 4, so an
 * encoded name holds no byte below 2 and a directory's subtree k\1... sorts
 * right after k and before its next sibling. That lets the start-up walk
 * (store_scan) run one cursor along the index while it reads the tree.
 * Writes happen only inside a transaction (store_begin .. store_commit):
 * LMDB commits are atomic, so a kill -9 leaves every transaction whole or
 * absent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store.h"

struct store {
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	void		*map;           /* LMDB's map of the file (see trim) */
	size_t		 mapsize;
	struct store	*next;
};

/* Every open store: closed at exit (the Lua state that holds them is not
 * closed when the daemon terminates), so LMDB's reader slot and lock are
 * released and nothing is left allocated. */
static struct store *all;

static void
close_all(void)
{
	while (all)
		store_close(all);
}

/*
 * The pages of LMDB's map that the daemon touched count in its RSS (as
 * RssFile) though they are the kernel's page cache: at 1,000,000 paths
 * 160 MiB of them. The map is read-only and shared (no MDB_WRITEMAP:
 * LMDB writes with pwrite), so dropping its pages from the process with
 * madvise(MADV_DONTNEED) loses nothing: a later access, also through a
 * pointer a cursor or an open transaction holds, maps the same page of
 * the file again (from the page cache, or read back from the file). trim()
 * does that once the process's file-backed resident set passes
 * TRIM_ABOVE (its own binary and libraries are ~3 MiB of it).
 */
/* sparse: only what is used takes disk space (1,000,000 paths ~ 80 MiB);
 * a smaller one for valgrind (its address space is smaller) */
#ifndef STORE_MAPSIZE
#define STORE_MAPSIZE ((size_t)64 << 30)
#endif

#ifndef TRIM_ABOVE
#define TRIM_ABOVE ((size_t)24 << 20)
#endif

/* Resident file-backed (and shared) bytes of this process, or 0. */
static size_t
rss_shared(void)
{
	static int fd = -2;
	char buf[128];
	unsigned long size, res, shared;
	ssize_t n;

	if (fd == -2)
		fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%lu %lu %lu", &size, &res, &shared) != 3)
		return 0;
	return (size_t)shared * (size_t)sysconf(_SC_PAGESIZE);
}

/* Finds LMDB's map of the store's file in /proc/self/maps (LMDB tells
 * its address only for a fixed map): the mapping of that file's inode
 * whose length is the map size. */
static void
find_map(struct store *s)
{
	MDB_envinfo info;
	struct stat st;
	mdb_filehandle_t fd;
	FILE *f;
	char line[512];

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_get_fd(s->env, &fd) != 0 ||
	    fstat(fd, &st) != 0 || !(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		unsigned maj, mnr;

		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &mnr, &ino) == 5 &&
		    ino == st.st_ino && maj == major(st.st_dev) && mnr == minor(st.st_dev) &&
		    hi - lo == info.me_mapsize) {
			s->map = (void *)lo;
			s->mapsize = hi - lo;
			break;
		}
	}
	fclose(f);
}

/* Drops the store's mapped pages from the process when they grew past
 * TRIM_ABOVE (a pread of statm: cheap next to a commit's fdatasync). */
static void
trim(struct store *s)
{
	MDB_envinfo info;
	MDB_stat stat;
	size_t used;

	if (!s->map || rss_shared() <= TRIM_ABOVE || mdb_env_info(s->env, &info) != 0 ||
	    mdb_env_stat(s->env, &stat) != 0)
		return;
	used = ((size_t)info.me_last_pgno + 1) * stat.ms_psize;
	if (used > s->mapsize)
		used = s->mapsize;
	madvise(s->map, used, MADV_DONTNEED);
}

/* A growable byte buffer for keys. */
struct kbuf {
	char	*p;
	size_t	 len, cap;
};

/* Index records: type, mode, size, mtime ns, ctime ns, inode, link target. */
#define REC_FIXED 37
#define MAX_KEY STORE_MAX_KEY

static int
kb_reserve(struct kbuf *b, size_t more)
{
	char *n;
	size_t cap;

	if (b->len + more <= b->cap)
		return 0;
	cap = (b->len + more) * 2 + 64;
	if (!(n = realloc(b->p, cap)))
		return -1;
	b->p = n;
	b->cap = cap;
	return 0;
}

size_t
store_key_path(char *buf, const char *rel, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rel[i];

		if (c == '/')
			buf[o++] = 1;
		else if (c == 1 || c == 2) {
			buf[o++] = 2;
			buf[o++] = (char)(c + 2);
		} else
			buf[o++] = (char)c;
	}
	return o;
}

size_t
store_decode_path(char *buf, const char *k, size_t kl)
{
	size_t o = 0;

	for (size_t i = 0; i < kl; i++) {
		unsigned char c = (unsigned char)k[i];

		if (c == 1)
			buf[o++] = '/';
		else if (c == 2 && i + 1 < kl)
			buf[o++] = (char)((unsigned char)k[++i] - 2);
		else
			buf[o++] = (char)c;
	}
	return o;
}

const char *
store_strerror(int rc)
{
	return mdb_strerror(rc);
}

struct store *
store_open(const char *path, int *damaged, char *msg, size_t msglen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	*damaged = 0;
	if (!s) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto fail;
	mdb_env_set_mapsize(s->env, STORE_MAPSIZE);
	/* MDB_NOMETASYNC: one fdatasync per commit; a power loss may lose the
	 * last transactions, never mix them (lua/state.lua relies on order and
	 * atomicity only). MDB_NOTLS: the engine is single-threaded.
	 * MDB_NORDAHEAD: the daemon reads single B-tree pages; read-ahead
	 * would map their neighbours into its RSS too. */
	rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS | MDB_NORDAHEAD,
	    0600);
	if (rc == 0) {
		rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
		if (rc == 0)
			rc = mdb_dbi_open(s->txn, NULL, 0, &s->dbi);
		if (rc == 0)
			rc = mdb_txn_commit(s->txn);
		else
			mdb_txn_abort(s->txn);
		s->txn = NULL;
	}
	if (rc == 0) {
		static int registered;

		if (!registered && atexit(close_all) == 0)
			registered = 1;
		find_map(s);
		s->next = all;
		all = s;
		return s;
	}
	*damaged = rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH ||
	    rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE || rc == MDB_BAD_TXN ||
	    rc == EINVAL;
fail:
	snprintf(msg, msglen, "%s: %s", path, mdb_strerror(rc));
	if (s->env)
		mdb_env_close(s->env);
	free(s);
	return NULL;
}

void
store_close(struct store *s)
{
	struct store **p;

	if (!s)
		return;
	for (p = &all; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (s->txn)
		mdb_txn_abort(s->txn);
	mdb_env_close(s->env);
	free(s);
}

int
store_in_txn(const struct store *s)
{
	return s->txn != NULL;
}

int
store_begin(struct store *s)
{
	if (s->txn)
		return 0;
	return mdb_txn_begin(s->env, NULL, 0, &s->txn);
}

int
store_commit(struct store *s)
{
	int rc;

	if (!s->txn)
		return 0;
	rc = mdb_txn_commit(s->txn);
	s->txn = NULL;
	trim(s);
	return rc;
}

void
store_abort(struct store *s)
{
	if (s->txn)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
	trim(s);
}

int
store_get(struct store *s, const void *k, size_t kl, const void **v, size_t *vl)
{
	MDB_val key = { kl, (void *)k }, val;
	int rc = mdb_get(s->txn, s->dbi, &key, &val);

	if (rc == 0) {
		*v = val.mv_data;
		*vl = val.mv_size;
	}
	return rc;
}

int
store_put(struct store *s, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	if (kl == 0 || kl > MAX_KEY)
		return MDB_BAD_VALSIZE;
	return mdb_put(s->txn, s->dbi, &key, &val, 0);
}

int
store_del(struct store *s, const void *k, size_t kl)
{
	MDB_val key = { kl, (void *)k };
	int rc;

	if (kl == 0 || kl > MAX_KEY)
		return 0;
	rc = mdb_del(s->txn, s->dbi, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The generation a pending value starts with ("123:d"). */
static double
gen_of(const MDB_val *v)
{
	char tmp[32];
	size_t n = v->mv_size < sizeof(tmp) - 1 ? v->mv_size : sizeof(tmp) - 1;

	memcpy(tmp, v->mv_data, n);
	tmp[n] = 0;
	return strtod(tmp, NULL);
}

static int
has_prefix(const MDB_val *k, const void *p, size_t pl)
{
	return k->mv_size >= pl && memcmp(k->mv_data, p, pl) == 0;
}

/* Deletes the pending-style record k if its generation is maxgen or less
 * and, with keepkind, its value does not end in that character; in one
 * descent. 0 also when absent, newer or kept. */
int
store_del_upto(struct store *s, const void *k, size_t kl, double maxgen, int keepkind)
{
	MDB_cursor *c;
	MDB_val key = { kl, (void *)k }, v;
	int rc;

	if (kl == 0 || kl > MAX_KEY)
		return 0;
	if ((rc = mdb_cursor_open(s->txn, s->dbi, &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &key, &v, MDB_SET_KEY);
	if (rc == 0)
		rc = gen_of(&v) <= maxgen && !(keepkind && v.mv_size > 0 &&
		    ((const char *)v.mv_data)[v.mv_size - 1] == keepkind) ? mdb_cursor_del(c, 0) : 0;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

long
store_del_prefix(struct store *s, const void *p, size_t pl, int bounded, double maxgen)
{
	MDB_cursor *c;
	MDB_val k = { pl, (void *)p }, v;
	long n = 0;
	int rc;

	if ((rc = mdb_cursor_open(s->txn, s->dbi, &c)) != 0)
		return -1;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && has_prefix(&k, p, pl)) {
		if (!bounded || gen_of(&v) <= maxgen) {
			if (mdb_cursor_del(c, 0) != 0) {
				n = -1;
				break;
			}
			n++;
			/* a deleted record's cursor stands on the next one in
			 * order (none: not found); no new descent from the root */
			rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
			continue;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return n;
}

long
store_rename_prefix(struct store *s, const void *o, size_t ol, const void *nw, size_t nl)
{
	struct kbuf all = { 0 };
	MDB_cursor *c;
	MDB_val k = { ol, (void *)o }, v;
	long n = 0;
	size_t at;
	int rc;

	if (ol == nl && memcmp(o, nw, ol) == 0)
		return 0;
	if (mdb_cursor_open(s->txn, s->dbi, &c) != 0)
		return -1;
	/* collect suffix and value of each record: [klen][vlen][k][v] ... */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && has_prefix(&k, o, ol);
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		size_t sl = k.mv_size - ol;

		if (kb_reserve(&all, 2 * sizeof(size_t) + sl + v.mv_size) < 0) {
			n = -1;
			break;
		}
		memcpy(all.p + all.len, &sl, sizeof(size_t));
		memcpy(all.p + all.len + sizeof(size_t), &v.mv_size, sizeof(size_t));
		memcpy(all.p + all.len + 2 * sizeof(size_t), (char *)k.mv_data + ol, sl);
		memcpy(all.p + all.len + 2 * sizeof(size_t) + sl, v.mv_data, v.mv_size);
		all.len += 2 * sizeof(size_t) + sl + v.mv_size;
		n++;
	}
	mdb_cursor_close(c);
	if (n > 0 && store_del_prefix(s, o, ol, 0, 0) < 0)
		n = -1;
	for (at = 0; n > 0 && at < all.len;) {
		size_t sl, vl;
		char key[MAX_KEY + 1];

		memcpy(&sl, all.p + at, sizeof(size_t));
		memcpy(&vl, all.p + at + sizeof(size_t), sizeof(size_t));
		at += 2 * sizeof(size_t);
		if (nl + sl <= MAX_KEY) {
			memcpy(key, nw, nl);
			memcpy(key + nl, all.p + at, sl);
			if (store_put(s, key, nl + sl, all.p + at + sl, vl) != 0)
				n = -1;
		}
		at += sl + vl;
	}
	free(all.p);
	return n;
}

int
store_each(struct store *s, const void *p, size_t pl, const void *after, size_t al,
    store_each_cb cb, void *ud)
{
	MDB_cursor *c;
	MDB_val k = { pl, (void *)p }, v;
	int rc;

	if ((rc = mdb_cursor_open(s->txn, s->dbi, &c)) != 0)
		return rc;
	if (after) {
		k.mv_size = al;
		k.mv_data = (void *)after;
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && after && k.mv_size == al && memcmp(k.mv_data, after, al) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	for (; rc == 0 && has_prefix(&k, p, pl); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (cb(ud, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
			break;
	mdb_cursor_close(c);
	return 0;
}

/* ---- index records ---- */

static void
put64(unsigned char *p, uint64_t x)
{
	memcpy(p, &x, 8);
}

/* Packs st (and the link target read through dfd/name) into rec; returns
 * its length. */
static size_t
pack(unsigned char *rec, size_t cap, const struct stat *st, int dfd, const char *name)
{
	uint32_t mode = st->st_mode;
	size_t len = REC_FIXED;

	rec[0] = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' :
	    S_ISLNK(st->st_mode) ? 'l' : 'o';
	memcpy(rec + 1, &mode, 4);
	put64(rec + 5, (uint64_t)st->st_size);
	put64(rec + 13, (uint64_t)(st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec));
	put64(rec + 21, (uint64_t)(st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec));
	put64(rec + 29, (uint64_t)st->st_ino);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(dfd, name, (char *)rec + REC_FIXED, cap - REC_FIXED);

		if (n > 0)
			len += (size_t)n;
	}
	return len;
}

int
store_index_path(struct store *s, const char *k, size_t kl, const char *abs)
{
	unsigned char rec[REC_FIXED + 4096];
	struct stat st;
	char sub[MAX_KEY + 2];

	if (lstat(abs, &st) == 0) {
		size_t n = pack(rec, sizeof(rec), &st, AT_FDCWD, abs);

		/* a path too long for a key is not indexed (see visit) */
		if (kl <= MAX_KEY && store_put(s, k, kl, rec, n) != 0)
			return -1;
		return rec[0];
	}
	if (store_del(s, k, kl) != 0 || kl > MAX_KEY)
		return -1;
	memcpy(sub, k, kl);
	sub[kl] = 1;
	return store_del_prefix(s, sub, kl + 1, 0, 0) < 0 ? -1 : 0;
}

/* ---- the start-up walk ---- */

struct scan {
	struct store	*s;
	MDB_cursor	*cur;
	MDB_val		 ck, cv;
	int		 cvalid;
	struct kbuf	 key;          /* key of the entry being looked at */
	struct kbuf	 gone;         /* the last vanished entry reported */
	struct kbuf	 tmp;
	char		*rel;          /* decoded path for report() */
	size_t		 plen;         /* bytes of the key before the path */
	size_t		 scope;        /* keys in scope start with key[0..scope) */
	store_report_cb	 report;
	void		*ud;
	store_dir_cb	 ondir;        /* may be NULL */
	void		*dud;
	struct kbuf	 abs;          /* absolute path of the directory walked */
	char		*dents;        /* getdents64's buffer (DENTS bytes) */
	struct kbuf	*log;          /* a worker's: writes and reports go here */
	struct pool	*pool;         /* the main walk's, until the root is walked */
	long		 differ;
	unsigned long	 visited;
	int		 failed;
};

/*
 * The parallel walk (hooks->threads > 1): the root's directories (or those
 * of the first directory below it with two or more) are jobs, each walked
 * by whichever thread takes it next (the main thread too, once it has
 * compared that directory's own entries), with a read-only transaction of
 * its own; its writes and reports are logged and replayed by the main
 * thread in the write transaction once every job is done. Everything else,
 * also the job directories' own records, is the main walk's.
 */
struct job {
	char		*name;         /* the directory's name in the root */
	char		*key;          /* its key */
	size_t		 kl;
	struct kbuf	 log;
	int		 failed;
};

struct pool {
	struct scan	*main;
	char		*root;         /* absolute path of the root */
	int		 rootfd;
	struct job	*jobs;
	size_t		 n;
	size_t		 next;         /* the next job to take (atomic) */
	pthread_t	 tid[8];
	int		 want;         /* threads to start besides the main one */
	int		 nthreads;     /* started */
};

/* log records: kind, key length, value length, key, value */
static int
logrec(struct kbuf *log, char kind, const void *k, size_t kl, const void *v, size_t vl)
{
	size_t at = log->len;

	if (kb_reserve(log, 1 + 2 * sizeof(size_t) + kl + vl) < 0)
		return -1;
	log->p[at] = kind;
	memcpy(log->p + at + 1, &kl, sizeof(size_t));
	memcpy(log->p + at + 1 + sizeof(size_t), &vl, sizeof(size_t));
	memcpy(log->p + at + 1 + 2 * sizeof(size_t), k, kl);
	if (vl)
		memcpy(log->p + at + 1 + 2 * sizeof(size_t) + kl, v, vl);
	log->len += 1 + 2 * sizeof(size_t) + kl + vl;
	return 0;
}

static void
seek(struct scan *sc, const char *k, size_t kl, int after)
{
	sc->ck.mv_size = kl;
	sc->ck.mv_data = (void *)k;
	sc->cvalid = mdb_cursor_get(sc->cur, &sc->ck, &sc->cv, MDB_SET_RANGE) == 0;
	if (sc->cvalid && after && sc->ck.mv_size == kl && memcmp(sc->ck.mv_data, k, kl) == 0)
		sc->cvalid = mdb_cursor_get(sc->cur, &sc->ck, &sc->cv, MDB_NEXT) == 0;
	if (sc->cvalid && !has_prefix(&sc->ck, sc->key.p, sc->scope))
		sc->cvalid = 0;
}

/* The cursor on to the next key in scope (none: not valid). */
static void
advance(struct scan *sc)
{
	sc->cvalid = mdb_cursor_get(sc->cur, &sc->ck, &sc->cv, MDB_NEXT) == 0 &&
	    has_prefix(&sc->ck, sc->key.p, sc->scope);
}

static int
keycmp(const MDB_val *a, const char *b, size_t bl)
{
	size_t n = a->mv_size < bl ? a->mv_size : bl;
	int c = memcmp(a->mv_data, b, n);

	if (c)
		return c;
	return a->mv_size < bl ? -1 : a->mv_size > bl;
}

static void
report(struct scan *sc, const char *k, size_t kl, int isdir, int how)
{
	size_t n;

	if (sc->log) {
		char r[2] = { (char)isdir, (char)how };

		if (logrec(sc->log, 'r', k, kl, r, 2) < 0)
			sc->failed = 1;
		return;
	}
	sc->differ++;
	if (!sc->report)
		return;
	if (!(sc->rel = realloc(sc->rel, kl + 2))) {
		sc->failed = 1;
		return;
	}
	n = store_decode_path(sc->rel, k + sc->plen, kl - sc->plen);
	if (sc->report(sc->ud, sc->rel, n, isdir, how) != 0)
		sc->failed = 1;
}

/* Every index entry in scope that sorts before limit vanished: deleted,
 * and reported unless it lies below one reported already. */
static void
drain(struct scan *sc, const char *limit, size_t ll)
{
	while (sc->cvalid && keycmp(&sc->ck, limit, ll) < 0 && !sc->failed) {
		struct kbuf *g = &sc->gone;
		size_t kl = sc->ck.mv_size;
		int isdir = sc->cv.mv_size > 0 && ((char *)sc->cv.mv_data)[0] == 'd';
		int below = g->len && kl > g->len && memcmp(sc->ck.mv_data, g->p, g->len) == 0 &&
		    ((char *)sc->ck.mv_data)[g->len] == 1;

		if (kb_reserve(&sc->tmp, kl) < 0) {
			sc->failed = 1;
			return;
		}
		memcpy(sc->tmp.p, sc->ck.mv_data, kl);
		if (!below) {
			if (kb_reserve(g, kl) < 0) {
				sc->failed = 1;
				return;
			}
			memcpy(g->p, sc->tmp.p, kl);
			g->len = kl;
			report(sc, sc->tmp.p, kl, isdir, STORE_GONE);
		}
		if (sc->log) {
			/* a worker's snapshot: the entry stays there, step over it */
			if (logrec(sc->log, 'd', sc->tmp.p, kl, NULL, 0) < 0)
				sc->failed = 1;
			advance(sc);
			continue;
		}
		if (mdb_cursor_del(sc->cur, 0) != 0) {
			sc->failed = 1;
			return;
		}
		/* a deleted record's cursor stands on the next one */
		sc->cvalid = mdb_cursor_get(sc->cur, &sc->ck, &sc->cv, MDB_GET_CURRENT) == 0 &&
		    has_prefix(&sc->ck, sc->key.p, sc->scope);
	}
}

struct ent {
	char	*name;
	char	*enc;          /* the name's key form, in name's block */
	size_t	 elen;
	int	 dir;          /* readdir says it is a directory */
	int	 job;          /* its subtree is a job of the pool */
};

static int
entcmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	size_t n = x->elen < y->elen ? x->elen : y->elen;
	int c = memcmp(x->enc, y->enc, n);

	return c ? c : (x->elen > y->elen) - (x->elen < y->elen);
}

static void walk(struct scan *sc, int dfd, size_t keylen);

/* Did opening a directory fail because it is no longer one (gone, replaced
 * by a file or a symlink), not because it cannot be read? */
static int
gone_errno(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/* The directory sc->key[0..kl) could not be opened (errno says why): one
 * gone or no longer a directory has nothing below it any more; one that
 * is unreadable (or no descriptor was left) keeps what is indexed below it. */
static void
unopened(struct scan *sc, size_t kl)
{
	if (!gone_errno(errno))
		return;
	sc->key.p[kl] = 2;
	drain(sc, sc->key.p, kl + 1);
}

/* Frees a scan's buffers. */
static void
scan_free(struct scan *sc)
{
	free(sc->key.p);
	free(sc->abs.p);
	free(sc->dents);
	free(sc->gone.p);
	free(sc->tmp.p);
	free(sc->rel);
}

/* Moves the cursor past every key below sc->key[0..kl) (room kl + 1). */
static void
skip_subtree(struct scan *sc, size_t kl)
{
	sc->key.p[kl] = 2;
	seek(sc, sc->key.p, kl + 1, 0);
}

/* One entry of a directory: compare, update, descend. */
static void
visit(struct scan *sc, int dfd, size_t keylen, const struct ent *e)
{
	unsigned char rec[REC_FIXED + 4096];
	struct stat st;
	size_t kl = keylen + 1 + e->elen, n;
	int isdir;

	if (kb_reserve(&sc->key, kl + 2) < 0) {
		sc->failed = 1;
		return;
	}
	sc->key.len = keylen;
	sc->key.p[sc->key.len++] = 1;
	memcpy(sc->key.p + sc->key.len, e->enc, e->elen);
	sc->key.len = kl;
	if ((++sc->visited & 4095) == 0)
		trim(sc->s);            /* a walk of the whole index maps all of it */
	drain(sc, sc->key.p, kl);
	if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* vanished: the next drain takes it, or for a job here its own
		 * entry (keys below it are the job's) */
		if (e->job) {
			sc->key.p[kl] = 1;
			drain(sc, sc->key.p, kl + 1);
			skip_subtree(sc, kl);
		}
		return;
	}
	n = pack(rec, sizeof(rec), &st, dfd, e->name);
	isdir = S_ISDIR(st.st_mode);
	if (kl > MAX_KEY) {
		/* too long for a key: never indexed, so always reported as
		 * changed (sent again at each start, never missed) */
		report(sc, sc->key.p, kl, isdir, STORE_NEW);
	} else if (sc->cvalid && keycmp(&sc->ck, sc->key.p, kl) == 0 &&
	    sc->cv.mv_size == n && memcmp(sc->cv.mv_data, rec, n) == 0) {
		advance(sc);
	} else {
		MDB_val k = { kl, sc->key.p }, v = { n, rec };
		int here = sc->cvalid && keycmp(&sc->ck, sc->key.p, kl) == 0;
		/* the same entry changed in place (same type and inode), or a
		 * new one (an entry renamed here is new: its content too) */
		int same = here && sc->cv.mv_size >= REC_FIXED &&
		    ((char *)sc->cv.mv_data)[0] == (char)rec[0] &&
		    memcmp((char *)sc->cv.mv_data + 29, rec + 29, 8) == 0;

		/* on past the entry: the cursor stands on it (a worker's
		 * snapshot: on it when it was there, else on the next key
		 * already); a put by the cursor leaves it on what it put */
		if (sc->log) {
			if (logrec(sc->log, 'p', sc->key.p, kl, rec, n) < 0) {
				sc->failed = 1;
				return;
			}
			if (here)
				advance(sc);
		} else {
			if (mdb_cursor_put(sc->cur, &k, &v, 0) != 0) {
				sc->failed = 1;
				return;
			}
			advance(sc);
		}
		report(sc, sc->key.p, kl, isdir, same ? STORE_SAME : STORE_NEW);
	}
	if (e->job) {
		skip_subtree(sc, kl);           /* a thread of the pool walks it */
		return;
	}
	if (isdir) {
		int fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		size_t al = sc->abs.len, nl = strlen(e->name);

		if (fd < 0) {
			/* unreadable (or no descriptor left): what is indexed
			 * below it stays as it was; gone or replaced since its
			 * lstat: the next drain takes what was below it */
			if (!gone_errno(errno))
				skip_subtree(sc, kl);
			return;
		}
		if (kb_reserve(&sc->abs, nl + 2) < 0) {
			close(fd);
			sc->failed = 1;
			return;
		}
		sc->abs.p[sc->abs.len++] = '/';
		memcpy(sc->abs.p + sc->abs.len, e->name, nl + 1);
		sc->abs.len += nl;
		walk(sc, fd, kl);               /* closes fd */
		sc->abs.len = al;
		sc->abs.p[al] = 0;
	}
}

/* Walks job j of pool p: the subtree below one directory of the root. */
static void
run_job(struct pool *p, struct job *j)
{
	struct scan *m = p->main, sc = { 0 };
	MDB_txn *t = NULL;
	size_t al = strlen(p->root), nl = strlen(j->name);
	int fd;

	sc.s = m->s;
	sc.plen = m->plen;
	sc.report = m->report;
	sc.ondir = m->ondir;
	sc.dud = m->dud;
	sc.log = &j->log;
	if (kb_reserve(&sc.key, j->kl + 2) < 0 || kb_reserve(&sc.abs, al + nl + 2) < 0 ||
	    mdb_txn_begin(m->s->env, NULL, MDB_RDONLY, &t) != 0 ||
	    mdb_cursor_open(t, m->s->dbi, &sc.cur) != 0) {
		j->failed = 1;
		goto out;
	}
	memcpy(sc.abs.p, p->root, al);
	sc.abs.p[al] = '/';
	memcpy(sc.abs.p + al + 1, j->name, nl + 1);
	sc.abs.len = al + 1 + nl;
	memcpy(sc.key.p, j->key, j->kl);
	sc.key.p[j->kl] = 1;
	sc.scope = sc.key.len = j->kl + 1;
	seek(&sc, sc.key.p, j->kl + 1, 0);
	fd = openat(p->rootfd, j->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		walk(&sc, fd, j->kl);
	} else {
		unopened(&sc, j->kl);
	}
	j->failed = sc.failed;
out:
	if (sc.cur)
		mdb_cursor_close(sc.cur);
	if (t)
		mdb_txn_abort(t);
	scan_free(&sc);
}

static void *
pool_thread(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		run_job(p, &p->jobs[i]);
	return NULL;
}

/* Makes the directories of the directory read (ents, from rootfd) jobs and
 * starts the threads: 1; 0 when it holds fewer than two (the pool is
 * offered to the one below); -1 when out of memory. */
static int
pool_start(struct pool *p, int rootfd, struct ent *ents, size_t n, size_t keylen)
{
	struct scan *m = p->main;
	size_t i, nj = 0;

	p->rootfd = rootfd;
	for (i = 0; i < n; i++)
		nj += ents[i].dir && keylen + 1 + ents[i].elen <= MAX_KEY;
	if (nj < 2)
		return 0;                       /* nothing to share here */
	if (!(p->jobs = calloc(nj, sizeof(*p->jobs))) || !(p->root = strdup(m->abs.p)))
		return -1;
	for (i = 0; i < n; i++) {
		struct job *j = &p->jobs[p->n];

		if (!ents[i].dir || keylen + 1 + ents[i].elen > MAX_KEY)
			continue;
		j->kl = keylen + 1 + ents[i].elen;
		if (!(j->key = malloc(j->kl)) || !(j->name = strdup(ents[i].name))) {
			free(j->key);
			return -1;
		}
		memcpy(j->key, m->key.p, keylen);
		j->key[keylen] = 1;
		memcpy(j->key + keylen + 1, ents[i].enc, ents[i].elen);
		ents[i].job = 1;
		p->n++;
	}
	while (p->nthreads < p->want && p->nthreads < (int)(sizeof(p->tid) / sizeof(p->tid[0])) &&
	    pthread_create(&p->tid[p->nthreads], NULL, pool_thread, p) == 0)
		p->nthreads++;
	return 1;
}

/* The main thread takes jobs too, then waits for the others. */
static void
pool_finish(struct pool *p)
{
	pool_thread(p);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	p->nthreads = 0;
}

/* Applies the jobs' logs in the write transaction and frees the pool. */
static void
pool_replay(struct pool *p, struct scan *sc)
{
	for (size_t i = 0; i < p->n; i++) {
		struct job *j = &p->jobs[i];
		size_t at = 0;

		if (j->failed)
			sc->failed = 1;
		while (!sc->failed && at < j->log.len) {
			char kind = j->log.p[at];
			size_t kl, vl;
			char *k, *v;

			memcpy(&kl, j->log.p + at + 1, sizeof(size_t));
			memcpy(&vl, j->log.p + at + 1 + sizeof(size_t), sizeof(size_t));
			k = j->log.p + at + 1 + 2 * sizeof(size_t);
			v = k + kl;
			at += 1 + 2 * sizeof(size_t) + kl + vl;
			if (kind == 'p') {
				MDB_val mk = { kl, k }, mv = { vl, v };

				if (mdb_put(sc->s->txn, sc->s->dbi, &mk, &mv, 0) != 0)
					sc->failed = 1;
			} else if (kind == 'd') {
				MDB_val mk = { kl, k };
				int rc = mdb_del(sc->s->txn, sc->s->dbi, &mk, NULL);

				if (rc != 0 && rc != MDB_NOTFOUND)
					sc->failed = 1;
			} else {
				report(sc, k, kl, v[0], v[1]);
			}
		}
		free(j->name);
		free(j->key);
		free(j->log.p);
	}
	free(p->jobs);
	free(p->root);
}

/* getdents64's buffer: one call reads a directory of ~1,000 entries */
#define DENTS 32768

/* Adds the entries of one getdents64 read (buf, n bytes) to *ents; -1 when
 * out of memory. */
static int
add_ents(const char *buf, long n, struct ent **ents, size_t *ne, size_t *cap)
{
	for (long off = 0; off < n;) {
		const struct dirent64 *de = (const void *)(buf + off);
		const char *name = de->d_name;
		size_t nl = strlen(name);
		struct ent *e;

		off += de->d_reclen;
		if (name[0] == '.' && (nl == 1 || (nl == 2 && name[1] == '.')))
			continue;
		if (*ne == *cap) {
			struct ent *m = realloc(*ents, (*cap = *cap * 2 + 64) * sizeof(**ents));

			if (!m)
				return -1;
			*ents = m;
		}
		e = &(*ents)[*ne];
		/* the name and its key form in one block (freed as name) */
		if (!(e->name = malloc(nl + 1 + 2 * nl + 1)))
			return -1;
		memcpy(e->name, name, nl + 1);
		e->enc = e->name + nl + 1;
		e->elen = store_key_path(e->enc, name, nl);
		e->dir = de->d_type == DT_DIR;
		e->job = 0;
		(*ne)++;
	}
	return 0;
}

/* Compares the directory open at dfd (key sc->key[0..keylen)) and all below
 * it with the index; closes dfd. The directory is read with getdents64
 * into the scan's buffer (no DIR: opendir's buffer, fstat and fcntl per
 * directory are a tenth of the walk's system calls). */
static void
walk(struct scan *sc, int dfd, size_t keylen)
{
	struct ent *ents = NULL;
	struct pool *pool = sc->pool;   /* the first walk with two directories or
	                                 * more shares their subtrees out */
	size_t n = 0, cap = 0, i;
	long got;
	char *limit;

	sc->pool = NULL;

	/* the directory is watched before it is read: a change made after
	 * an entry's lstat below is an event, one made before is in the lstat */
	if (sc->ondir)
		sc->ondir(sc->dud, sc->abs.p);
	if (!sc->dents && !(sc->dents = malloc(DENTS))) {
		close(dfd);
		sc->failed = 1;
		return;
	}
	if ((got = getdents64(dfd, sc->dents, DENTS)) < 0) {
		close(dfd);
		return;                 /* unreadable: its entries stay as they were */
	}
	/* a read that fails later ends the list (as readdir did); out of
	 * memory fails the walk (a list cut short would count the rest as
	 * vanished) */
	while (got > 0) {
		if (add_ents(sc->dents, got, &ents, &n, &cap) < 0) {
			sc->failed = 1;
			break;
		}
		got = getdents64(dfd, sc->dents, DENTS);
	}
	if (n > 1)
		qsort(ents, n, sizeof(*ents), entcmp);
	if (pool) {
		int rc = pool_start(pool, dfd, ents, n, keylen);

		if (rc < 0)
			sc->failed = 1;
		if (rc == 0) {
			/* one directory here at most (a tree under one top
			 * directory): the walk of that one shares instead */
			sc->pool = pool;
			pool = NULL;
		}
	}
	for (i = 0; i < n && !sc->failed; i++)
		visit(sc, dfd, keylen, &ents[i]);
	sc->pool = NULL;                        /* not taken: nothing to share */
	if (pool)
		pool_finish(pool);              /* takes jobs too, then waits */
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	close(dfd);
	/* what is left below this directory vanished: keys k\1... < k\2 */
	if (!sc->failed && (limit = malloc(keylen + 1)) != NULL) {
		memcpy(limit, sc->key.p, keylen);
		limit[keylen] = 2;
		drain(sc, limit, keylen + 1);
		free(limit);
	}
}

long
store_scan(struct store *s, const char *k, size_t kl, size_t pl, const char *abs,
    const struct store_scan_hooks *h)
{
	struct scan sc = { 0 };
	struct pool pool = { 0 };
	size_t al = strlen(abs);
	int fd;

	if (!s->txn || kl > MAX_KEY)
		return -1;
	sc.s = s;
	sc.plen = pl;
	if (h) {
		sc.report = h->report;
		sc.ud = h->ud;
		sc.ondir = h->ondir;
		sc.dud = h->dud;
		if (h->threads > 1) {
			pool.main = &sc;
			pool.want = h->threads - 1;
			sc.pool = &pool;
		}
	}
	if (kb_reserve(&sc.key, kl + 2) < 0 || kb_reserve(&sc.abs, al + 1) < 0 ||
	    mdb_cursor_open(s->txn, s->dbi, &sc.cur) != 0) {
		scan_free(&sc);
		return -1;
	}
	memcpy(sc.abs.p, abs, al + 1);
	sc.abs.len = al;
	memcpy(sc.key.p, k, kl);
	sc.key.p[kl] = 1;
	sc.scope = kl + 1;
	sc.key.len = kl + 1;
	seek(&sc, sc.key.p, kl + 1, 0);
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		walk(&sc, fd, kl);
	} else {
		unopened(&sc, kl);
	}
	mdb_cursor_close(sc.cur);
	pool_replay(&pool, &sc);
	scan_free(&sc);
	return sc.failed ? -1 : sc.differ;
}
