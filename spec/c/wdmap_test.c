/* wdmap_test.c: the wd -> path table against a plain array doing the same
 * by full scans (what watch.c did before the path index), over thousands
 * of random puts, deletes, subtree renames and removals: every lookup by
 * wd, by path and by subtree must agree. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "wdmap.h"
#include "xmalloc.h"

#define NWD 400
static char *model[NWD];                /* wd -> path, NULL = none */
static struct wdmap m;

static const char *names[] = { "a", "b", "a-x", "a0", "ab", "c" };

static int
under(const char *p, const char *pre)
{
	size_t n = strlen(pre);
	return !strncmp(p, pre, n) && (p[n] == 0 || p[n] == '/');
}

/* a random path of depth 1..4 below /r (names chosen to sort around '/') */
static void
rand_path(char *buf, size_t len)
{
	int depth = 1 + rand() % 4;
	size_t o = (size_t)snprintf(buf, len, "/r");
	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(buf + o, len - o, "/%s", names[rand() % 6]);
}

static int seen[NWD], nseen;

static void
mark(struct wdmap *mm, int wd, const char *path, void *ud)
{
	(void)mm;
	(void)ud;
	if (wd >= 0 && wd < NWD && model[wd] && !strcmp(model[wd], path))
		seen[wd]++;
	nseen++;
}

struct ren { const char *oldp, *newp; };

static void
rename_cb(struct wdmap *mm, int wd, const char *path, void *ud)
{
	struct ren *r = ud;
	char *p;
	xasprintf(&p, "%s%s", r->newp, path + strlen(r->oldp));
	wdmap_put(mm, wd, p);
}

static void
del_cb(struct wdmap *mm, int wd, const char *path, void *ud)
{
	(void)path;
	(void)ud;
	wdmap_del(mm, wd);
}

int
main(void)
{
	char p[256], q[256];
	int bad_get = 0, bad_under = 0, bad_has = 0, ops = 0;

	srand(14);
	for (int step = 0; step < 20000; step++) {
		int wd = rand() % NWD, op = rand() % 10;
		rand_path(p, sizeof(p));
		ops++;
		if (op < 5) {                                   /* put */
			wdmap_put(&m, wd, xstrdup(p));
			free(model[wd]);
			model[wd] = xstrdup(p);
		} else if (op < 7) {                            /* delete */
			wdmap_del(&m, wd);
			free(model[wd]);
			model[wd] = NULL;
		} else if (op < 9) {                            /* rename a subtree */
			struct ren r = { p, q };
			rand_path(q, sizeof(q));
			if (under(q, p))
				continue;
			wdmap_each_under(&m, p, rename_cb, &r);
			for (int i = 0; i < NWD; i++)
				if (model[i] && under(model[i], p)) {
					char *n;
					xasprintf(&n, "%s%s", q, model[i] + strlen(p));
					free(model[i]);
					model[i] = n;
				}
		} else {                                        /* remove a subtree */
			wdmap_each_under(&m, p, del_cb, NULL);
			for (int i = 0; i < NWD; i++)
				if (model[i] && under(model[i], p)) {
					free(model[i]);
					model[i] = NULL;
				}
		}
		/* check: by wd, by path, by subtree */
		for (int i = 0; i < NWD; i += 7) {
			const char *g = wdmap_get(&m, i);
			if (!!g != !!model[i] || (g && strcmp(g, model[i])))
				bad_get++;
		}
		rand_path(p, sizeof(p));
		int has = 0, want = 0;
		for (int i = 0; i < NWD; i++)
			has |= model[i] && !strcmp(model[i], p);
		if (wdmap_has_path(&m, p) != has)
			bad_has++;
		memset(seen, 0, sizeof(seen));
		nseen = 0;
		wdmap_each_under(&m, p, mark, NULL);
		for (int i = 0; i < NWD; i++) {
			int in = model[i] && under(model[i], p);
			want += in;
			if (seen[i] != in)
				bad_under++;
		}
		if (nseen != want)
			bad_under++;
	}
	size_t live = 0;
	for (int i = 0; i < NWD; i++)
		live += model[i] != NULL;
	ok(bad_get == 0, "lookups by wd agree over %d random operations (%d differ)", ops, bad_get);
	ok(bad_has == 0, "lookups by path agree (%d differ)", bad_has);
	ok(bad_under == 0, "every subtree holds the same entries, with \"/a-x\", \"/a0\" and \"/ab\" "
	    "next to \"/a\" (%d differ)", bad_under);
	ok(wdmap_count(&m) == live, "the counts agree (%zu, %zu)", wdmap_count(&m), live);
	nseen = 0;
	wdmap_each_under(&m, NULL, mark, NULL);
	ok((size_t)nseen == live, "a walk over all visits every entry once (%d)", nseen);
	wdmap_clear(&m);
	for (int i = 0; i < NWD; i++)
		free(model[i]);
	ok(wdmap_count(&m) == 0 && !wdmap_get(&m, 1), "clear empties it");
	return tap_done();
}
