/*
 * api_store.c: the state store's `core` functions (store.c does the work;
 * lua/state.lua decides what goes in). A store is a userdata with methods;
 * store errors come back as nil, "message".
 *   core.storeOpen(path)     -> st | nil, err, damaged
 *   core.storeKey(prefix, rel) -> prefix .. rel encoded ('/a/b')
 *   core.storeHash(text)     -> 16 hex digits (FNV-1a, 64 bit)
 *   st:begin() st:commit() -> true | nil, err     st:abort() st:close()
 *   st:get(k) -> v | nil     st:put(k, v) -> true | nil, err    st:del(k)
 *   st:putEach(v, rel, prefixes, n) -> true | nil, err   (v under
 *                            prefixes[i] .. rel encoded, i = 1..n, a key
 *                            too long skipped: an event's entries of every
 *                            slave in one call)
 *   st:indexRel(prefix, rel, root) -> 'f'|'d'|'l'|'o' | false (absent) |
 *                            nil, err: the index entry of root .. rel put
 *                            under prefix .. rel encoded
 *   st:clearPending(prefix, rel, gen [, below [, keepdirs]]) -> deletes
 *                            prefix .. rel encoded if its generation <= gen
 *                            (keepdirs: and its value does not end in 'd';
 *                            below: also every key under it with
 *                            generation <= gen)
 * The last three build their keys here, not as Lua strings: keys that
 * differ only in the middle fall into one chain of LuaJIT's string table,
 * which samples a few bytes of a string for its hash.
 *   st:delPrefix(p [, maxgen]) -> n   (only values whose generation <= maxgen)
 *   st:renamePrefix(old, new) -> n
 *   st:list(p [, after, limit]) -> { rel = value } [, last]
 *                            (keys below p, decoded; after: a key; last:
 *                            the last rel given when more records follow)
 *   st:scan(k, pl, abs, collect [, watch]) -> n, { '+/new[/]', '~/changed/in/place[/]',
 *                            '-/gone[/]' }, nospace, rooterr (changed in place:
 *                            same type and inode; watch: every directory
 *                            walked is watched before it is read; nospace:
 *                            how many could not be, the watch limit
 *                            reached; rooterr: the errno of abs's watch
 *                            when it failed, or abs was not walked; a
 *                            walk with watch and collect runs in threads)
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "store.h"
#include "watch.h"

#define STORE_MT "lsyncd.store"

static struct store *
check(lua_State *L)
{
	struct store **p = luaL_checkudata(L, 1, STORE_MT);

	if (!*p)
		luaL_error(L, "store is closed");
	return *p;
}

static struct store *
in_txn(lua_State *L)
{
	struct store *s = check(L);

	if (!store_in_txn(s))
		luaL_error(L, "store: no transaction (call begin first)");
	return s;
}

#define STORE_FAILED 1      /* not an LMDB code: a write inside a walk failed */

static int
failed(lua_State *L, int rc)
{
	lua_pushnil(L);
	lua_pushstring(L, rc == STORE_FAILED ? "store: a write failed (disk full?)" : store_strerror(rc));
	return 2;
}

/* how many entries n an operation touched, or nil and a message (n < 0) */
static int
counted(lua_State *L, long n)
{
	if (n < 0)
		return failed(L, STORE_FAILED);
	lua_pushnumber(L, (lua_Number)n);
	return 1;
}

/* true, or nil and the store's message for rc */
static int
result(lua_State *L, int rc)
{
	if (rc)
		return failed(L, rc);
	lua_pushboolean(L, 1);
	return 1;
}

static int
l_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char msg[512];
	int damaged;
	struct store *s = store_open(path, &damaged, msg, sizeof(msg));
	struct store **p;

	if (!s) {
		lua_pushnil(L);
		lua_pushstring(L, msg);
		lua_pushboolean(L, damaged);
		return 3;
	}
	p = lua_newuserdata(L, sizeof(*p));     /* st */
	*p = s;
	luaL_getmetatable(L, STORE_MT);         /* st mt */
	lua_setmetatable(L, -2);                /* st */
	return 1;
}

static int
l_key(lua_State *L)
{
	size_t pl, rl;
	const char *p = luaL_checklstring(L, 1, &pl);
	const char *rel = luaL_checklstring(L, 2, &rl);
	luaL_Buffer b;
	char *enc = malloc(2 * rl + 1);
	size_t n;

	if (!enc)
		return luaL_error(L, "out of memory");
	n = store_key_path(enc, rel, rl);
	luaL_buffinit(L, &b);
	luaL_addlstring(&b, p, pl);
	luaL_addlstring(&b, enc, n);
	free(enc);
	luaL_pushresult(&b);
	return 1;
}

/*
 * FNV-1a over 64 bits, but from the offset 1469598103934665603, a digit
 * short of FNV's 14695981039346656037. Stored state names its syncs and
 * definitions by these hashes (lua/state.lua, lua/definition.lua), so the
 * offset stays: the proper one would invalidate every user's state.
 */
static int
l_hash(lua_State *L)
{
	size_t n;
	const unsigned char *t = (const unsigned char *)luaL_checklstring(L, 1, &n);
	uint64_t h = 1469598103934665603ULL;
	char out[17];

	for (size_t i = 0; i < n; i++) {
		h ^= t[i];
		h *= 1099511628211ULL;
	}
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = "0123456789abcdef"[h & 15];
	lua_pushlstring(L, out, 16);
	return 1;
}

static int
l_close(lua_State *L)
{
	struct store **p = luaL_checkudata(L, 1, STORE_MT);

	store_close(*p);
	*p = NULL;
	return 0;
}

static int
l_begin(lua_State *L)
{
	return result(L, store_begin(check(L)));
}

static int
l_commit(lua_State *L)
{
	return result(L, store_commit(check(L)));
}

static int
l_abort(lua_State *L)
{
	store_abort(check(L));
	return 0;
}

static int
l_get(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t kl, vl;
	const char *k = luaL_checklstring(L, 2, &kl);
	const void *v;

	if (store_get(s, k, kl, &v, &vl) != 0)
		return 0;
	lua_pushlstring(L, v, vl);
	return 1;
}

static int
l_put(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t kl, vl;
	const char *k = luaL_checklstring(L, 2, &kl);
	const char *v = luaL_checklstring(L, 3, &vl);

	return result(L, store_put(s, k, kl, v, vl));
}

/* A key no longer than STORE_MAX_KEY: prefix .. rel encoded. */
#define KEYBUF (2 * STORE_MAX_KEY + 2)

/* Writes p .. rel encoded (store_key_path) to buf (KEYBUF bytes): its
 * length, or 0 when that is longer than a key may be. */
static size_t
join_key(char *buf, const char *p, size_t pl, const char *rel, size_t rl)
{
	size_t n;

	if (pl + rl > STORE_MAX_KEY)
		return 0;
	memcpy(buf, p, pl);
	n = pl + store_key_path(buf + pl, rel, rl);
	return n <= STORE_MAX_KEY ? n : 0;
}

static int
l_put_each(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t vl, rl;
	const char *v = luaL_checklstring(L, 2, &vl);
	const char *rel = luaL_checklstring(L, 3, &rl);
	int n = (int)luaL_checkinteger(L, 5);
	char key[KEYBUF];

	luaL_checktype(L, 4, LUA_TTABLE);
	for (int i = 1; i <= n; i++) {
		size_t pl, kl;
		const char *p;
		int rc;

		lua_rawgeti(L, 4, i);                   /* ... prefix */
		p = lua_tolstring(L, -1, &pl);
		if (!p)
			return luaL_error(L, "putEach: prefix %d is not a string", i);
		kl = join_key(key, p, pl, rel, rl);
		lua_pop(L, 1);                          /* ... */
		if (!kl)
			continue;       /* never indexed: the start-up walk reports it */
		if ((rc = store_put(s, key, kl, v, vl)) != 0)
			return failed(L, rc);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int
l_clear_pending(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t pl, rl, kl;
	const char *p = luaL_checklstring(L, 2, &pl);
	const char *rel = luaL_checklstring(L, 3, &rl);
	double maxgen = luaL_checknumber(L, 4);
	int below = lua_toboolean(L, 5), keepdirs = lua_toboolean(L, 6);
	char key[KEYBUF + 1];

	kl = join_key(key, p, pl, rel, rl);
	if (!kl)
		return 0;               /* too long for a key: never pending */
	store_del_upto(s, key, kl, maxgen, keepdirs ? 'd' : 0);
	if (below) {
		key[kl] = 1;
		store_del_prefix(s, key, kl + 1, 1, maxgen);
	}
	return 0;
}

static int
l_del(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t kl;
	const char *k = luaL_checklstring(L, 2, &kl);

	return result(L, store_del(s, k, kl));
}

static int
l_del_prefix(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t pl;
	const char *p = luaL_checklstring(L, 2, &pl);
	int bounded = !lua_isnoneornil(L, 3);

	return counted(L, store_del_prefix(s, p, pl, bounded, bounded ? luaL_checknumber(L, 3) : 0));
}

static int
l_rename_prefix(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t ol, nl;
	const char *o = luaL_checklstring(L, 2, &ol);
	const char *n = luaL_checklstring(L, 3, &nl);

	return counted(L, store_rename_prefix(s, o, ol, n, nl));
}

struct listing {
	lua_State	*L;
	size_t		 pl;
	char		*buf;
	size_t		 cap;
	long		 left;          /* records still wanted (<0: all) */
	size_t		 lastlen;       /* decoded length of the last one */
};

static int
list_one(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
	struct listing *l = ud;
	size_t n;

	if (l->left == 0)
		return 1;                       /* one more exists: a page is full */
	if (l->left > 0)
		l->left--;
	if (kl + 1 > l->cap) {
		char *m = realloc(l->buf, l->cap = kl * 2 + 64);

		if (!m)
			return -1;
		l->buf = m;
	}
	n = store_decode_path(l->buf, k + l->pl, kl - l->pl);
	l->lastlen = n;
	lua_pushlstring(l->L, l->buf, n);       /* t rel */
	lua_pushlstring(l->L, v, vl);           /* t rel v */
	lua_rawset(l->L, -3);                   /* t */
	return 0;
}

/* st:list(p [, afterKey, limit]) -> { rel = value } [, last rel when more
 * records follow] */
static int
l_list(lua_State *L)
{
	struct store *s = in_txn(L);
	struct listing l = { L, 0, NULL, 0, -1, 0 };
	const char *p = luaL_checklstring(L, 2, &l.pl);
	size_t al = 0;
	const char *after = luaL_optlstring(L, 3, NULL, &al);

	if (!lua_isnoneornil(L, 4))
		l.left = luaL_checkinteger(L, 4);
	lua_newtable(L);                                /* t */
	store_each(s, p, l.pl, after, al, list_one, &l);
	if (l.left == 0 && l.buf) {
		lua_pushlstring(L, l.buf, l.lastlen);   /* t last */
		free(l.buf);
		return 2;
	}
	free(l.buf);
	return 1;
}

/* what store_index_path gave: its type char, false (absent), nil and an error */
static int
indexed(lua_State *L, int t)
{
	char c;

	if (t < 0)
		return failed(L, STORE_FAILED);
	if (t == 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	c = (char)t;
	lua_pushlstring(L, &c, 1);
	return 1;
}

static int
l_index_rel(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t pl, rl, ol;
	const char *p = luaL_checklstring(L, 2, &pl);
	const char *rel = luaL_checklstring(L, 3, &rl);
	const char *root = luaL_checklstring(L, 4, &ol);
	char *key = malloc(pl + 2 * rl + 1), *abs = malloc(ol + rl + 1);
	size_t kl;
	int t;

	if (!key || !abs) {
		free(key);
		free(abs);
		return luaL_error(L, "out of memory");
	}
	memcpy(key, p, pl);
	kl = pl + store_key_path(key + pl, rel, rl);
	memcpy(abs, root, ol);
	memcpy(abs + ol, rel, rl);
	abs[ol + rl] = 0;
	t = store_index_path(s, key, kl, abs);
	free(key);
	free(abs);
	return indexed(L, t);
}

struct scanout {
	lua_State	*L;
	int		 n;
	char		*buf;
	size_t		 cap;
};

static int
scan_one(void *ud, const char *rel, size_t len, int isdir, int how)
{
	struct scanout *o = ud;

	if (len + 3 > o->cap) {
		char *m = realloc(o->buf, o->cap = len * 2 + 64);

		if (!m)
			return -1;
		o->buf = m;
	}
	o->buf[0] = how == STORE_GONE ? '-' : how == STORE_SAME ? '~' : '+';
	memcpy(o->buf + 1, rel, len);
	if (isdir)
		o->buf[1 + len++] = '/';
	lua_pushlstring(o->L, o->buf, len + 1);         /* t s */
	lua_rawseti(o->L, -2, ++o->n);                  /* t */
	return 0;
}

struct watching {
	long	nospace;        /* directories left unwatched: ENOSPC */
	int	seen;           /* the root was walked */
	int	rooterr;        /* errno of the root's watch */
};

/* A directory of a walk with watches: watched before it is read. Called
 * from the walk's threads at once, the root first (before they start). */
static void
scan_watch(void *ud, const char *abs)
{
	struct watching *w = ud;
	int rc = watch_add(abs), e = errno;

	if (rc < 0 && e == ENOSPC)
		__atomic_fetch_add(&w->nospace, 1, __ATOMIC_RELAXED);
	if (!w->seen) {
		w->seen = 1;
		w->rooterr = rc < 0 ? e : 0;
	}
}

/* Threads for a start-up walk: one per CPU, at most 4. */
static int
walk_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int
l_scan(lua_State *L)
{
	struct store *s = in_txn(L);
	size_t kl;
	const char *k = luaL_checklstring(L, 2, &kl);
	size_t pl = (size_t)luaL_checkinteger(L, 3);
	const char *abs = luaL_checkstring(L, 4);
	int collect = lua_toboolean(L, 5);
	int watch = lua_toboolean(L, 6);
	struct scanout o = { L, 0, NULL, 0 };
	struct watching w = { 0, 0, 0 };
	struct store_scan_hooks h = { collect ? scan_one : NULL, &o, watch ? scan_watch : NULL, &w,
	    /* a restart's walk (watching, its differences wanted) in threads;
	     * a first one (everything differs, logged until the end) in one */
	    watch && collect ? walk_threads() : 1 };
	long n;

	luaL_argcheck(L, pl <= kl, 3, "prefix longer than the key");
	lua_newtable(L);                                /* t */
	n = store_scan(s, k, kl, pl, abs, &h);
	free(o.buf);
	if (n < 0)
		return failed(L, STORE_FAILED);
	lua_pushnumber(L, (lua_Number)n);               /* t n */
	lua_insert(L, -2);                              /* n t */
	if (!watch)
		return 2;
	lua_pushnumber(L, (lua_Number)w.nospace);       /* n t nospace */
	if (!w.seen)
		w.rooterr = ENOENT;
	if (!w.rooterr)
		return 3;
	lua_pushinteger(L, w.rooterr);                  /* n t nospace rooterr */
	return 4;
}

static const luaL_Reg store_methods[] = {
	{ "abort",        l_abort },
	{ "begin",        l_begin },
	{ "close",        l_close },
	{ "commit",       l_commit },
	{ "del",          l_del },
	{ "clearPending", l_clear_pending },
	{ "delPrefix",    l_del_prefix },
	{ "get",          l_get },
	{ "indexRel",     l_index_rel },
	{ "list",         l_list },
	{ "put",          l_put },
	{ "putEach",      l_put_each },
	{ "renamePrefix", l_rename_prefix },
	{ "scan",         l_scan },
	{ NULL, NULL }
};

/* Adds storeOpen, storeKey and storeHash to the table on top of the stack
 * (the `core` table being built by api_register). */
void
api_store_register(lua_State *L)
{
	luaL_newmetatable(L, STORE_MT);         /* core mt */
	lua_newtable(L);                        /* core mt methods */
	luaL_register(L, NULL, store_methods);
	lua_setfield(L, -2, "__index");         /* core mt */
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);                          /* core */
	lua_pushcfunction(L, l_open);
	lua_setfield(L, -2, "storeOpen");
	lua_pushcfunction(L, l_key);
	lua_setfield(L, -2, "storeKey");
	lua_pushcfunction(L, l_hash);
	lua_setfield(L, -2, "storeHash");
}
