/*
 * store.h: the durable state store (store.c, on LMDB) and its `core`
 * bindings (api_store.c). Keys are byte strings; a path inside a key is
 * encoded so that byte order of keys is the order of a depth-first walk
 * with each directory's entries sorted (store_key_path).
 */
#ifndef LNG_STORE_H
#define LNG_STORE_H

#include <stddef.h>
#include <lua.h>

struct store;

#define STORE_MAX_KEY 511       /* LMDB's default key size limit */

/* store.c */
/* Opens (creates) the store file at path. NULL on failure with *damaged set
 * when the file exists but is not a usable store, and msg filled. */
struct store *store_open(const char *path, int *damaged, char *msg, size_t msglen);
void store_close(struct store *s);
int  store_begin(struct store *s);                        /* 0 | LMDB error */
int  store_commit(struct store *s);
void store_abort(struct store *s);
int  store_in_txn(const struct store *s);
const char *store_strerror(int rc);
int  store_get(struct store *s, const void *k, size_t kl, const void **v, size_t *vl);
int  store_put(struct store *s, const void *k, size_t kl, const void *v, size_t vl);
int  store_del(struct store *s, const void *k, size_t kl);  /* 0, also when absent */
int  store_del_upto(struct store *s, const void *k, size_t kl, double maxgen, int keepkind);
long store_del_prefix(struct store *s, const void *p, size_t pl, int bounded, double maxgen);
long store_rename_prefix(struct store *s, const void *o, size_t ol, const void *n, size_t nl);
typedef int (*store_each_cb)(void *ud, const char *k, size_t kl, const char *v, size_t vl);
/* cb for each record with prefix p (from the first key after `after`, if
 * given) until it returns non-zero. */
int  store_each(struct store *s, const void *p, size_t pl, const void *after, size_t al,
    store_each_cb cb, void *ud);
/* Index entry of the file at abs (lstat, not followed) put under key k;
 * returns its type char ('f' 'd' 'l' 'o'), 0 when abs does not exist (the
 * entry and every key below it are deleted), -1 on a store error. */
int  store_index_path(struct store *s, const char *k, size_t kl, const char *abs);
/* Walks the directory abs below key k (the entries k\1...), compares each
 * entry's lstat with its index entry, and updates the index. report() is
 * called for every entry that is new or differs (how: STORE_NEW, or
 * STORE_SAME when the index held the same type and inode: changed in
 * place) and for the top-most of those that vanished (STORE_GONE), rel
 * decoded relative to the first pl bytes of k. Returns the number of
 * differing entries or -1. */
enum { STORE_NEW = 0, STORE_GONE = 1, STORE_SAME = 2 };
typedef int (*store_report_cb)(void *ud, const char *rel, size_t len, int isdir, int how);
/* Called with the absolute path of each directory the walk enters (abs
 * first), before it is read. */
typedef void (*store_dir_cb)(void *ud, const char *abs);
struct store_scan_hooks {
	store_report_cb	 report;       /* may be NULL */
	void		*ud;
	store_dir_cb	 ondir;        /* may be NULL */
	void		*dud;
	/* > 1: the directories of abs (or of the first directory below it
	 * holding two or more) are walked by that many threads at once
	 * (ondir is then called from them all); each reads the index as
	 * last committed, so the open transaction must not have written
	 * below k yet (the start-up walk). Reports and updates are the same
	 * as a single thread's, except that the content of a directory that
	 * vanishes while it is walked may be reported below it too. */
	int		 threads;
};
long store_scan(struct store *s, const char *k, size_t kl, size_t pl, const char *abs,
    const struct store_scan_hooks *h);
/* Appends path rel ('/a/b', no trailing '/') encoded for a key to buf
 * (room: 2 * strlen(rel) + 1); returns the bytes written. */
size_t store_key_path(char *buf, const char *rel, size_t len);
size_t store_decode_path(char *buf, const char *k, size_t kl);

/* api_store.c */
void api_store_register(lua_State *L);   /* adds core.store* to the table on top */

#endif
