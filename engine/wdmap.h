/*
 * wdmap.h: the watch layer's table of watch descriptors and the directory
 * path each one watches (wdmap.c). Paths have no trailing slash. Entries
 * are found by wd (a hash) and by path (a search tree ordered by path), so
 * that a renamed or removed tree costs the entries in it, not a scan of all.
 */
#ifndef LNG_WDMAP_H
#define LNG_WDMAP_H

#include <stddef.h>

struct wdent;

struct wdmap {
	int           *key;       /* 0 = empty, -1 = deleted, else wd + 1 */
	struct wdent **ent;
	size_t         cap, used, live;
	struct wdent  *root;      /* the entries ordered by (path, wd) */
};

/* Sets wd's path, taking ownership of path. */
void        wdmap_put(struct wdmap *m, int wd, char *path);
/* wd's path, or NULL. */
const char *wdmap_get(struct wdmap *m, int wd);
void        wdmap_del(struct wdmap *m, int wd);
/* 1 if some wd watches exactly path. */
int         wdmap_has_path(struct wdmap *m, const char *path);
size_t      wdmap_count(struct wdmap *m);
/* Calls fn for every entry whose path is prefix or lies below it ("/a/b"
 * is under "/a", "/ab" is not), or for every entry when prefix is NULL. fn
 * may wdmap_del or wdmap_put any entry; the set visited is the one at the
 * start of the call (less those deleted meanwhile). */
void        wdmap_each_under(struct wdmap *m, const char *prefix,
                void (*fn)(struct wdmap *m, int wd, const char *path, void *ud), void *ud);
void        wdmap_clear(struct wdmap *m);

#endif
