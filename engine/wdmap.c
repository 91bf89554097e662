/*
 * wdmap.c: the wd -> path table of the watch layer. An entry is found by
 * its wd through a hash (open addressing) and by its path through a treap
 * ordered by (path, wd): everything at or below a directory is one range
 * of it, so a rename or a removed tree visits only its own entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wdmap.h"
#include "xmalloc.h"

struct wdent {
	int           wd;
	char         *path;
	uint32_t      prio;       /* treap priority (random) */
	struct wdent *l, *r;
};

/* ---- the treap, ordered by (path, wd) ---- */

static uint32_t
next_prio(void)
{
	static uint32_t x = 2463534242u;        /* xorshift32: balance, not secrecy */

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static int
cmp(const struct wdent *a, const struct wdent *b)
{
	int c = strcmp(a->path, b->path);

	return c ? c : (a->wd > b->wd) - (a->wd < b->wd);
}

static struct wdent *
t_insert(struct wdent *t, struct wdent *n)
{
	struct wdent *c;

	if (!t)
		return n;
	if (cmp(n, t) < 0) {
		t->l = t_insert(t->l, n);
		if (t->l->prio > t->prio) {     /* rotate right */
			c = t->l;
			t->l = c->r;
			c->r = t;
			return c;
		}
	} else {
		t->r = t_insert(t->r, n);
		if (t->r->prio > t->prio) {     /* rotate left */
			c = t->r;
			t->r = c->l;
			c->l = t;
			return c;
		}
	}
	return t;
}

static struct wdent *
t_merge(struct wdent *a, struct wdent *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = t_merge(a->r, b);
		return a;
	}
	b->l = t_merge(a, b->l);
	return b;
}

/* Takes n (which is in t) out of t. */
static struct wdent *
t_delete(struct wdent *t, struct wdent *n)
{
	if (t == n)
		return t_merge(t->l, t->r);
	if (cmp(n, t) < 0)
		t->l = t_delete(t->l, n);
	else
		t->r = t_delete(t->r, n);
	return t;
}

struct range {
	const char *lo, *hi;      /* [lo, hi): prefix and prefix + "0" */
	size_t      plen;
	int        *wds;
	size_t      n, cap;
};

/* 1 if path is prefix or lies below it ("/a/b" is under "/a", "/ab" is not). */
static int
is_under(const char *path, const char *prefix, size_t plen)
{
	return !strncmp(path, prefix, plen) && (path[plen] == 0 || path[plen] == '/');
}

/* Collects, in path order, the wds of t at or below r->lo. */
static void
t_range(const struct wdent *t, struct range *r)
{
	if (!t)
		return;
	if (strcmp(t->path, r->lo) >= 0)
		t_range(t->l, r);
	if (is_under(t->path, r->lo, r->plen)) {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->wds = xreallocarray(r->wds, r->cap, sizeof(*r->wds));
		}
		r->wds[r->n++] = t->wd;
	}
	if (strcmp(t->path, r->hi) < 0)
		t_range(t->r, r);
}

/* ---- the hash by wd ---- */

static size_t
find(struct wdmap *m, int wd, int *found)
{
	size_t i = ((unsigned)wd * 2654435761u) & (m->cap - 1), tomb = (size_t)-1;

	for (;;) {
		int v = m->key[i];
		if (v == 0) {
			*found = 0;
			return tomb != (size_t)-1 ? tomb : i;
		}
		if (v == -1) {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (v == wd + 1) {
			*found = 1;
			return i;
		}
		i = (i + 1) & (m->cap - 1);
	}
}

static struct wdent *
lookup(struct wdmap *m, int wd)
{
	int found = 0;
	size_t i;

	if (!m->cap)
		return NULL;
	i = find(m, wd, &found);
	return found ? m->ent[i] : NULL;
}

static void
grow(struct wdmap *m)
{
	struct wdmap n = { .cap = m->cap ? m->cap : 1024, .root = m->root };
	int found;

	while (m->live * 2 >= n.cap)
		n.cap *= 2;
	n.key = xcalloc(n.cap, sizeof(*n.key));
	n.ent = xcalloc(n.cap, sizeof(*n.ent));
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i] > 0) {
			size_t j = find(&n, m->key[i] - 1, &found);
			n.key[j] = m->key[i];
			n.ent[j] = m->ent[i];
			n.used++;
			n.live++;
		}
	free(m->key);
	free(m->ent);
	*m = n;
}

/* ---- the table ---- */

/* Sets wd's path (taking ownership of path). */
void
wdmap_put(struct wdmap *m, int wd, char *path)
{
	struct wdent *e = lookup(m, wd);
	int found;
	size_t i;

	if (e) {
		m->root = t_delete(m->root, e);
		free(e->path);
		e->path = path;
		e->l = e->r = NULL;
		m->root = t_insert(m->root, e);
		return;
	}
	if ((m->used + 1) * 2 > m->cap)
		grow(m);
	i = find(m, wd, &found);
	e = xcalloc(1, sizeof(*e));
	e->wd = wd;
	e->path = path;
	e->prio = next_prio();
	m->root = t_insert(m->root, e);
	if (m->key[i] == 0)
		m->used++;
	m->key[i] = wd + 1;
	m->ent[i] = e;
	m->live++;
}

/* wd's path, or NULL. */
const char *
wdmap_get(struct wdmap *m, int wd)
{
	struct wdent *e = lookup(m, wd);

	return e ? e->path : NULL;
}

/* Forgets wd. */
void
wdmap_del(struct wdmap *m, int wd)
{
	int found = 0;
	size_t i;

	if (!m->cap)
		return;
	i = find(m, wd, &found);
	if (!found)
		return;
	m->root = t_delete(m->root, m->ent[i]);
	free(m->ent[i]->path);
	free(m->ent[i]);
	m->ent[i] = NULL;
	m->key[i] = -1;
	m->live--;
}

/* Tells whether some wd watches exactly path. */
int
wdmap_has_path(struct wdmap *m, const char *path)
{
	const struct wdent *t = m->root;

	while (t) {
		int c = strcmp(path, t->path);
		if (c == 0)
			return 1;
		t = c < 0 ? t->l : t->r;
	}
	return 0;
}

/* Counts the entries. */
size_t
wdmap_count(struct wdmap *m)
{
	return m->live;
}

/* Calls fn for every entry at or below prefix (all: prefix NULL). */
void
wdmap_each_under(struct wdmap *m, const char *prefix,
    void (*fn)(struct wdmap *m, int wd, const char *path, void *ud), void *ud)
{
	struct range r = { 0 };
	char *hi = NULL;

	if (prefix) {
		/* everything under "/a" sorts from "/a" up to before "/a0" */
		r.plen = strlen(prefix);
		hi = xmalloc(r.plen + 2);
		memcpy(hi, prefix, r.plen);
		hi[r.plen] = '/' + 1;
		hi[r.plen + 1] = 0;
		r.lo = prefix;
		r.hi = hi;
		t_range(m->root, &r);
	} else {
		r.wds = xcalloc(m->live + 1, sizeof(*r.wds));
		for (size_t i = 0; i < m->cap; i++)
			if (m->key[i] > 0)
				r.wds[r.n++] = m->key[i] - 1;
	}
	/* fn may change the table: each wd is looked up again */
	for (size_t i = 0; i < r.n; i++) {
		struct wdent *e = lookup(m, r.wds[i]);
		if (e && (!prefix || is_under(e->path, prefix, r.plen)))
			fn(m, e->wd, e->path, ud);
	}
	free(r.wds);
	free(hi);
}

/* Frees every entry. */
void
wdmap_clear(struct wdmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i] > 0) {
			free(m->ent[i]->path);
			free(m->ent[i]);
		}
	free(m->key);
	free(m->ent);
	memset(m, 0, sizeof(*m));
}
