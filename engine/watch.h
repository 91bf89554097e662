/*
 * watch.h: the inotify watch layer. watch.c is the only file in the engine
 * that touches libinotifytools; everything else sees absolute paths.
 *
 * What it adds to the library:
 *  - its fd is close-on-exec and driven by the engine's epoll loop
 *    (watch_fd() is registered for EPOLLIN, watch_process() drains it);
 *  - a directory that appears at runtime (created, or moved in from outside
 *    or from an unwatched place) is watched and then scanned, and every entry
 *    found by the scan is reported as a WATCH_CREATE (parents before
 *    children), so nothing created before the watch existed is missed;
 *  - MOVED_FROM/MOVED_TO pairs become one WATCH_MOVE; a renamed directory
 *    keeps correct paths for everything below it; an unpaired MOVED_FROM is a
 *    WATCH_DELETE, an unpaired MOVED_TO a WATCH_CREATE;
 *  - removed or moved-out directories free their entries;
 *  - queue overflow (IN_Q_OVERFLOW) is one WATCH_OVERFLOW event;
 *  - running out of watches (ENOSPC) is reported with the numbers an
 *    operator needs (see watch_add / WATCH_NOSPACE).
 */
#ifndef LNG_WATCH_H
#define LNG_WATCH_H

enum watch_etype {
	WATCH_CREATE,
	WATCH_MODIFY,     /* IN_CLOSE_WRITE and/or IN_MODIFY per inotifyMode */
	WATCH_ATTRIB,
	WATCH_DELETE,
	WATCH_MOVE,       /* path -> path2 */
	WATCH_OVERFLOW,   /* events were lost: rescan everything; path is "" */
	WATCH_NOSPACE,    /* a dir at path could not be watched (ENOSPC) */
};

struct watch_event {
	enum watch_etype type;
	int              isdir;
	const char      *path;   /* absolute, no trailing slash */
	const char      *path2;  /* WATCH_MOVE destination, else NULL */
};

/* Called for every event, in order. Pointers are valid during the call only. */
typedef void watch_event_fn(const struct watch_event *ev, void *ud);
/* Asked before a directory is watched (at watch_add and at runtime):
 * return 0 to leave dirpath (and everything below it) unwatched. */
typedef int  watch_want_fn(const char *dirpath, void *ud);

enum watch_mode { WATCH_CLOSEWRITE = 0, WATCH_MODIFYONLY = 1, WATCH_BOTH = 2 };

/* Where events go and who decides about directories (main.c sets them). */
void watch_set_handlers(watch_event_fn *on_event, watch_want_fn *want, void *ud);
/* Initializes the library; returns the inotify fd (CLOEXEC, NONBLOCK) or -1. */
int  watch_init(enum watch_mode mode);
int  watch_fd(void);
/* Watches root and every wanted directory below it. 0 on success; -1 with
 * errno set. ENOSPC: one Error line is logged naming
 * fs.inotify.max_user_watches, its current value and the number needed;
 * watch_unwatched() then tells how many directories have no watch. */
int  watch_add(const char *root);
/* Drops the watches of path and everything below it (no events). */
void watch_remove(const char *path);
/* Reads and dispatches everything queued on the fd; never blocks. */
void watch_process(void);
/* Number of watched directories, and of directories left unwatched by ENOSPC. */
int  watch_count(void);
int  watch_unwatched(void);
/* Calls fn for every watched directory (path without trailing slash). */
void watch_foreach(void (*fn)(int wd, const char *path, void *ud), void *ud);
/* Frees everything (before re-initializing on HUP, or at exit). */
void watch_shutdown(void);

#endif
