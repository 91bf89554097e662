/*
 * watch.h: the inotify watch layer. watch.c is the only file in the engine
 * that touches libinotifytools; everything else sees absolute paths.
 *
 * What it adds to the library:
 *  - its fd is close-on-exec and driven by the engine's epoll loop
 *    (watch_fd() is registered for EPOLLIN, watch_process() drains it);
 *  - the events of one read go to the handler in one batch, in order;
 *  - which directories are watched is the caller's choice, one at a time
 *    (watch_dir: a watch, then the directory's entries), so the runner
 *    walks a tree deciding which subdirectories it wants. A batch ends
 *    after a new or moved directory, so the runner watches it (and reports
 *    what it finds in it as Creates) before the next event is read;
 *  - MOVED_FROM/MOVED_TO pairs become one WATCH_MOVE; a renamed directory
 *    keeps correct paths for everything below it; an unpaired MOVED_FROM is a
 *    WATCH_DELETE, an unpaired MOVED_TO a WATCH_CREATE;
 *  - removed or moved-out directories free their entries;
 *  - queue overflow (IN_Q_OVERFLOW) is one WATCH_OVERFLOW event;
 *  - running out of watches (ENOSPC) is counted (watch_unwatched).
 */
#ifndef LNG_WATCH_H
#define LNG_WATCH_H

#include <stddef.h>

enum watch_etype {
	WATCH_CREATE,
	WATCH_MODIFY,     /* IN_CLOSE_WRITE and/or IN_MODIFY per inotifyMode */
	WATCH_ATTRIB,
	WATCH_DELETE,
	WATCH_MOVE,       /* path -> path2 */
	WATCH_OVERFLOW,   /* events were lost: rescan everything; path is "" */
};

struct watch_event {
	enum watch_etype type;
	int              isdir;
	const char      *path;   /* absolute, no trailing slash */
	const char      *path2;  /* WATCH_MOVE destination, else NULL */
	int              renamed;/* WATCH_MOVE of a dir: 0 it was not watched (a new
	                          * dir to the runner), 1 its watches moved along,
	                          * 2 and some new dir moved on before it could be
	                          * watched: walk the new path for unwatched dirs */
};

/* Called with the events of one read, in order. Pointers are valid during
 * the call only. */
typedef void watch_batch_fn(const struct watch_event *evs, size_t n, void *ud);
/* One entry of a directory listed by watch_dir (fs.h's fs_entry_fn). */
typedef void watch_entry_fn(const char *name, int isdir, void *ud);

enum watch_mode { WATCH_CLOSEWRITE = 0, WATCH_MODIFYONLY = 1, WATCH_BOTH = 2 };

/* Where the batches go (main.c sets it). */
void watch_set_handler(watch_batch_fn *on_batch, void *ud);
/* "Create", "Modify", ...: the runner's name of an event type. */
const char *watch_etype_name(enum watch_etype type);
/* Initializes the library; returns the inotify fd (CLOEXEC, NONBLOCK) or -1. */
int  watch_init(enum watch_mode mode);
int  watch_fd(void);
/* Watches the directory path (not below it), then calls fn for each of
 * its entries (all) or its subdirectories. 1: it was watched already; 0: a
 * new watch; -1 with errno: ENOSPC (the directories below path are added
 * to watch_unwatched()), or it is gone or cannot be watched. */
int  watch_dir(const char *path, int all, watch_entry_fn *fn, void *ud);
/* Watches the directory path alone, as watch_dir without the listing, for
 * a walk that goes on below it itself; ENOSPC counts path alone as
 * unwatched. */
int  watch_add(const char *path);
/* Drops the watches of path and everything below it (no events). */
void watch_remove(const char *path);
/* Reads and dispatches everything queued on the fd; never blocks. */
void watch_process(void);
/* Number of watched directories, and of directories left unwatched by ENOSPC. */
int  watch_count(void);
int  watch_unwatched(void);
/* Calls fn for every watched directory (path without trailing slash). */
void watch_foreach(void (*fn)(int wd, const char *path, void *ud), void *ud);
/* Frees everything, so watch_init can start afresh (the tests do). */
void watch_shutdown(void);

#endif
