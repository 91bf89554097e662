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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct store {
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
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
	/* sparse: only what is used takes disk space (1,000,000 paths ~ 80 MiB) */
	mdb_env_set_mapsize(s->env, (size_t)64 << 30);
	/* MDB_NOMETASYNC: one fdatasync per commit; a power loss may lose the
	 * last transactions, never mix them (lua/state.lua relies on order and
	 * atomicity only). MDB_NOTLS: the engine is single-threaded. */
	rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS, 0600);
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
	return rc;
}

void
store_abort(struct store *s)
{
	if (s->txn)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
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

long
store_del_prefix(struct store *s, const void *p, size_t pl, int bounded, double maxgen)
{
	MDB_cursor *c;
	MDB_val k = { pl, (void *)p }, v;
	char at[MAX_KEY + 1];
	long n = 0;
	int rc;

	if ((rc = mdb_cursor_open(s->txn, s->dbi, &c)) != 0)
		return -1;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && has_prefix(&k, p, pl)) {
		if (!bounded || gen_of(&v) <= maxgen) {
			size_t kl = k.mv_size;

			memcpy(at, k.mv_data, kl);
			if (mdb_cursor_del(c, 0) != 0) {
				n = -1;
				break;
			}
			n++;
			/* on from the deleted key: the next record in order */
			k.mv_size = kl;
			k.mv_data = at;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
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
	long		 differ;
	int		 failed;
};

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
report(struct scan *sc, const char *k, size_t kl, int isdir, int gone)
{
	size_t n;

	sc->differ++;
	if (!sc->report)
		return;
	if (!(sc->rel = realloc(sc->rel, kl + 2))) {
		sc->failed = 1;
		return;
	}
	n = store_decode_path(sc->rel, k + sc->plen, kl - sc->plen);
	if (sc->report(sc->ud, sc->rel, n, isdir, gone) != 0)
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
			report(sc, sc->tmp.p, kl, isdir, 1);
		}
		if (mdb_cursor_del(sc->cur, 0) != 0) {
			sc->failed = 1;
			return;
		}
		seek(sc, sc->tmp.p, kl, 0);
	}
}

struct ent {
	char	*name;
	char	*enc;
	size_t	 elen;
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

/* One entry of a directory: compare, update, descend. */
static void
visit(struct scan *sc, int dfd, size_t keylen, const struct ent *e)
{
	unsigned char rec[REC_FIXED + 4096];
	struct stat st;
	size_t kl = keylen + 1 + e->elen, n;
	int isdir;

	if (kb_reserve(&sc->key, kl + 1) < 0) {
		sc->failed = 1;
		return;
	}
	sc->key.len = keylen;
	sc->key.p[sc->key.len++] = 1;
	memcpy(sc->key.p + sc->key.len, e->enc, e->elen);
	sc->key.len = kl;
	drain(sc, sc->key.p, kl);
	if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;                         /* vanished: the next drain takes it */
	n = pack(rec, sizeof(rec), &st, dfd, e->name);
	isdir = S_ISDIR(st.st_mode);
	if (kl > MAX_KEY) {
		/* too long for a key: never indexed, so always reported as
		 * changed (sent again at each start, never missed) */
		report(sc, sc->key.p, kl, isdir, 0);
	} else if (sc->cvalid && keycmp(&sc->ck, sc->key.p, kl) == 0 &&
	    sc->cv.mv_size == n && memcmp(sc->cv.mv_data, rec, n) == 0) {
		sc->cvalid = mdb_cursor_get(sc->cur, &sc->ck, &sc->cv, MDB_NEXT) == 0 &&
		    has_prefix(&sc->ck, sc->key.p, sc->scope);
	} else {
		MDB_val k = { kl, sc->key.p }, v = { n, rec };

		if (mdb_put(sc->s->txn, sc->s->dbi, &k, &v, 0) != 0) {
			sc->failed = 1;
			return;
		}
		report(sc, sc->key.p, kl, isdir, 0);
		seek(sc, sc->key.p, kl, 1);
	}
	if (isdir) {
		int fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0)
			walk(sc, fd, kl);       /* closes fd */
	}
}

/* Compares the directory open at dfd (key sc->key[0..keylen)) and all below
 * it with the index; closes dfd. */
static void
walk(struct scan *sc, int dfd, size_t keylen)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct ent *ents = NULL;
	size_t n = 0, cap = 0, i;
	char *limit;

	if (!d) {
		close(dfd);
		return;                 /* unreadable: its entries stay as they were */
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.' && (nl == 1 || (nl == 2 && de->d_name[1] == '.')))
			continue;
		if (n == cap) {
			struct ent *m = realloc(ents, (cap = cap * 2 + 64) * sizeof(*ents));

			if (!m)
				break;
			ents = m;
		}
		ents[n].name = strdup(de->d_name);
		ents[n].enc = malloc(2 * nl + 1);
		if (!ents[n].name || !ents[n].enc) {
			free(ents[n].name);
			free(ents[n].enc);
			break;
		}
		ents[n].elen = store_key_path(ents[n].enc, de->d_name, nl);
		n++;
	}
	if (n > 1)
		qsort(ents, n, sizeof(*ents), entcmp);
	for (i = 0; i < n && !sc->failed; i++)
		visit(sc, dirfd(d), keylen, &ents[i]);
	for (i = 0; i < n; i++) {
		free(ents[i].name);
		free(ents[i].enc);
	}
	free(ents);
	closedir(d);
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
    store_report_cb cb, void *ud)
{
	struct scan sc = { 0 };
	int fd;

	if (!s->txn || kl > MAX_KEY)
		return -1;
	sc.s = s;
	sc.plen = pl;
	sc.report = cb;
	sc.ud = ud;
	if (kb_reserve(&sc.key, kl + 2) < 0 || mdb_cursor_open(s->txn, s->dbi, &sc.cur) != 0) {
		free(sc.key.p);
		return -1;
	}
	memcpy(sc.key.p, k, kl);
	sc.key.p[kl] = 1;
	sc.scope = kl + 1;
	sc.key.len = kl + 1;
	seek(&sc, sc.key.p, kl + 1, 0);
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		walk(&sc, fd, kl);
	} else {
		char limit[MAX_KEY + 2];

		/* the directory is gone: so is everything below it */
		memcpy(limit, k, kl);
		limit[kl] = 2;
		drain(&sc, limit, kl + 1);
	}
	mdb_cursor_close(sc.cur);
	free(sc.key.p);
	free(sc.gone.p);
	free(sc.tmp.p);
	free(sc.rel);
	return sc.failed ? -1 : sc.differ;
}
