/*
 * watch.c: the inotify watch layer, the only file that touches
 * libinotifytools. See watch.h for what it adds to the library.
 *
 * What the library does here: it opens the inotify instance, reads and
 * splits the kernel's event stream (inotifytools_next_events), and tells
 * the limits. What it does not do: keep the wd -> path table. Its table
 * cannot forget a watch the kernel already dropped (a deleted directory:
 * the remove call fails, and the entry, about 150 bytes, stays for the life
 * of the process; a directory re-created under the same name then has no
 * name in its filename tree, so a later rename would not reach it). A daemon
 * that sees directories come and go for months cannot afford that, so the
 * watches are added with inotify_add_watch on the library's own fd and kept
 * in our table, which frees an entry the moment the kernel says IN_IGNORED.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

#include "fs.h"
#include "log.h"
#include "watch.h"
#include "wdmap.h"
#include "xmalloc.h"

static struct wdmap wds;             /* our wd -> path table */
/* watch_add is called from the threads of a start-up walk at once (the
 * loop does not run meanwhile): the table and counters it changes */
static pthread_mutex_t adding = PTHREAD_MUTEX_INITIALIZER;

/* ---- state ---- */

static int             ifd = -1;
static int             mask;
static watch_batch_fn *batch_fn;
static void           *cb_ud;
static int             unwatched;
/* A new directory could not be watched because it had already moved on
 * (mkdir then rename before we read the Create). Its rename is queued
 * behind, so until the queue is drained every directory move is marked
 * for a walk of its new subtree (WATCH_MOVE's renamed == 2). */
static int             lost;

/* A MOVED_FROM waiting for its MOVED_TO. */
static struct {
	int      pending;
	uint32_t cookie;
	int      isdir;
	char    *path;
} from;

/* The events of the batch being gathered (paths owned). */
static struct {
	struct watch_event *ev;
	size_t              n, cap;
	int                 full;     /* ends with a new or moved dir: hand it over */
} batch;

static const char *etype_names[] = {
	[WATCH_CREATE] = "Create", [WATCH_MODIFY] = "Modify",
	[WATCH_ATTRIB] = "Attrib", [WATCH_DELETE] = "Delete",
	[WATCH_MOVE] = "Move", [WATCH_OVERFLOW] = "Overflow",
};

/* The name the runner knows an event type by ("Create", ...). */
const char *
watch_etype_name(enum watch_etype type)
{
	return etype_names[type];
}

/* Adds one event to the batch. A directory that appeared or moved ends the
 * batch: the runner decides about its watches before the next event is
 * read, as if it had been told at once. */
static void
emit(enum watch_etype type, int isdir, const char *path, const char *path2, int renamed)
{
	struct watch_event *ev;

	if (batch.n == batch.cap) {
		batch.cap = batch.cap ? batch.cap * 2 : 64;
		batch.ev = xreallocarray(batch.ev, batch.cap, sizeof(*batch.ev));
	}
	ev = &batch.ev[batch.n++];
	ev->type = type;
	ev->isdir = isdir;
	ev->path = xstrdup(path);
	ev->path2 = path2 ? xstrdup(path2) : NULL;
	ev->renamed = renamed;
	if (isdir && (type == WATCH_CREATE || type == WATCH_MOVE))
		batch.full = 1;
}

/* Hands the gathered events over and empties the batch. */
static void
deliver(void)
{
	if (batch.n && batch_fn)
		batch_fn(batch.ev, batch.n, cb_ud);
	for (size_t i = 0; i < batch.n; i++) {
		free((char *)batch.ev[i].path);
		free((char *)batch.ev[i].path2);
	}
	batch.n = 0;
	batch.full = 0;
}

/* Finds the fd libinotifytools opened (it has no getter). */
static int
find_inotify_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char link[300], target[64];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (!strcmp(target, "anon_inode:inotify"))
				found = atoi(de->d_name);   /* the newest is the library's */
		}
	}
	closedir(d);
	return found;
}

/* Sets where the batches of events go. */
void
watch_set_handler(watch_batch_fn *on_batch, void *ud)
{
	batch_fn = on_batch;
	cb_ud = ud;
}

/* Initializes the library and makes its fd close-on-exec and non-blocking. */
int
watch_init(enum watch_mode mode)
{
	int probe;

	mask = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM |
	    IN_MOVED_TO | IN_DONT_FOLLOW | IN_ONLYDIR;
	mask |= mode == WATCH_MODIFYONLY ? IN_MODIFY :
	    mode == WATCH_BOTH ? (IN_MODIFY | IN_CLOSE_WRITE) : IN_CLOSE_WRITE;
	/* the library takes the lowest free fd: note it before init */
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe >= 0)
		close(probe);
	if (!inotifytools_initialize())
		return -1;
	ifd = probe;
	if (ifd < 0 || fcntl(ifd, F_GETFD) < 0)
		ifd = find_inotify_fd();
	else {
		char link[64], target[64];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", ifd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0 || (target[n] = 0, strcmp(target, "anon_inode:inotify")))
			ifd = find_inotify_fd();
	}
	if (ifd < 0) {
		errno = EBADF;
		return -1;
	}
	fcntl(ifd, F_SETFD, FD_CLOEXEC);
	fcntl(ifd, F_SETFL, fcntl(ifd, F_GETFL) | O_NONBLOCK);
	unwatched = 0;
	return ifd;
}

int
watch_fd(void)
{
	return ifd;
}

int
watch_count(void)
{
	return (int)wdmap_count(&wds);
}

int
watch_unwatched(void)
{
	return unwatched;
}

static int count_dirs(const char *path);

struct counting { const char *path; int n; };

static void
count_one(const char *name, int isdir, void *ud)
{
	struct counting *c = ud;
	char *sub;

	xasprintf(&sub, "%s/%s", c->path, name);
	c->n += count_dirs(sub);
	free(sub);
}

/* Counts directories below path (path included) that cannot be watched. */
static int
count_dirs(const char *path)
{
	struct counting c = { path, 1 };

	fs_list(path, 0, count_one, &c);
	return c.n;
}

/* Adds the watch of the directory path to the kernel and our table: 1 it
 * was watched already, 0 a new watch, -1 with errno (ENOENT or ENOTDIR: it
 * moved on already, so the next directory moves are marked for a walk). */
static int
add(const char *path)
{
	int wd, known;

	if ((wd = inotify_add_watch(ifd, path, mask)) < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			__atomic_store_n(&lost, 1, __ATOMIC_RELAXED);
		errno = e;
		return -1;
	}
	pthread_mutex_lock(&adding);
	known = wdmap_get(&wds, wd) != NULL;
	wdmap_put(&wds, wd, xstrdup(path));
	pthread_mutex_unlock(&adding);
	return known;
}

/*
 * Watches the directory path (one watch, nothing below it) and then lists
 * it: fn gets every entry (all) or every subdirectory. The watch comes
 * before the read, so an entry created meanwhile is seen by one or the
 * other. Returns 1 if path was watched already, 0 if the watch is new, -1
 * with errno: ENOSPC (the watch limit; the directories below path are
 * counted as unwatched), ENOENT or ENOTDIR (it moved on already: the next
 * directory moves are marked for a walk), or another reason to skip it.
 */
int
watch_dir(const char *path, int all, watch_entry_fn *fn, void *ud)
{
	int known = add(path);

	if (known < 0) {
		int e = errno;
		if (e == ENOSPC)
			unwatched += count_dirs(path);
		errno = e;
		return -1;
	}
	fs_list(path, all, fn, ud);            /* unreadable: no entries */
	return known;
}

/* Watches the directory path alone, for a walk of the caller's that goes
 * on below it (store_scan): as watch_dir without the listing; ENOSPC
 * counts path alone as unwatched (the walk meets the ones below). Safe to
 * call from several threads at once while nothing else of this layer
 * runs. */
int
watch_add(const char *path)
{
	int known = add(path), e = errno;

	if (known < 0 && e == ENOSPC)
		__atomic_fetch_add(&unwatched, 1, __ATOMIC_RELAXED);
	errno = e;
	return known;
}

static void
drop_one(struct wdmap *m, int wd, const char *path, void *ud)
{
	inotify_rm_watch(ifd, wd);
	wdmap_del(m, wd);
}

/* Drops the watches of path and everything below it. */
void
watch_remove(const char *path)
{
	char *p = xstrdup(path);
	size_t plen = strlen(p);

	while (plen > 1 && p[plen - 1] == '/')
		p[--plen] = 0;
	wdmap_each_under(&wds, p, drop_one, NULL);
	free(p);
}

struct renaming { size_t olen; const char *newp; };

static void
rename_one(struct wdmap *m, int wd, const char *path, void *ud)
{
	struct renaming *r = ud;
	char *p;

	xasprintf(&p, "%s%s", r->newp, path + r->olen);
	wdmap_put(m, wd, p);
}

/* Rewrites the paths of a renamed directory and everything below it. */
static void
rename_tree(const char *oldp, const char *newp)
{
	struct renaming r = { strlen(oldp), newp };

	wdmap_each_under(&wds, oldp, rename_one, &r);
}

/* Turns a MOVED_FROM that found no MOVED_TO into a Delete. */
static void
flush_from(void)
{
	if (!from.pending)
		return;
	from.pending = 0;
	emit(WATCH_DELETE, from.isdir, from.path, NULL, 0);
	if (from.isdir)
		watch_remove(from.path);       /* moved out: its watches would lie */
	free(from.path);
	from.path = NULL;
}

/* Handles one event from the library. */
static void
handle(struct inotify_event *ev)
{
	const char *dir;
	char *path;
	int isdir = !!(ev->mask & IN_ISDIR);

	if (ev->wd < 0 || (ev->mask & IN_Q_OVERFLOW)) {
		flush_from();
		emit(WATCH_OVERFLOW, 0, "", NULL, 0);
		return;
	}
	if (ev->mask & IN_IGNORED) {
		wdmap_del(&wds, ev->wd);       /* the kernel dropped it (dir deleted) */
		return;
	}
	if (!(dir = wdmap_get(&wds, ev->wd)))
		return;                        /* a watch we already let go */
	if (ev->len == 0 || !ev->name[0])
		return;                        /* about the dir itself: its parent reports */
	xasprintf(&path, "%s/%s", dir, ev->name);

	if (ev->mask & IN_MOVED_FROM) {
		flush_from();
		from.pending = 1;
		from.cookie = ev->cookie;
		from.isdir = isdir;
		from.path = path;
		return;
	}
	if (ev->mask & IN_MOVED_TO) {
		if (from.pending && from.cookie == ev->cookie) {
			char *old = from.path;
			int was_watched = isdir && wdmap_has_path(&wds, old);
			from.pending = 0;
			from.path = NULL;
			if (was_watched)
				rename_tree(old, path);    /* the runner may drop them */
			emit(WATCH_MOVE, isdir, old, path, was_watched ? 1 + lost : 0);
			free(old);
		} else {
			flush_from();
			emit(WATCH_CREATE, isdir, path, NULL, 0);
		}
		free(path);
		return;
	}
	flush_from();
	if (ev->mask & IN_CREATE)
		emit(WATCH_CREATE, isdir, path, NULL, 0);
	else if (ev->mask & IN_DELETE)
		emit(WATCH_DELETE, isdir, path, NULL, 0);
	else if (ev->mask & (IN_CLOSE_WRITE | IN_MODIFY))
		emit(WATCH_MODIFY, isdir, path, NULL, 0);
	else if (ev->mask & IN_ATTRIB)
		emit(WATCH_ATTRIB, isdir, path, NULL, 0);
	free(path);
}

/*
 * Reads everything queued and hands it over in batches; never blocks. A
 * batch ends at a new or moved directory (see emit) or when the queue is
 * drained; the library keeps what it read, so the next batch follows
 * without waiting for the fd.
 */
void
watch_process(void)
{
	struct inotify_event *ev;
	int drained = 0;

	while (!drained) {
		/* timeout 0 polls; n = 1 (n > 1 busy-waits inside the library) */
		while (!batch.full && !(drained = !(ev = inotifytools_next_events(0, 1))))
			handle(ev);
		if (drained)
			flush_from();
		deliver();
	}
	lost = 0;                          /* the queue is drained */
}

struct listing { void (*fn)(int, const char *, void *); void *ud; };

static void
list_one(struct wdmap *m, int wd, const char *path, void *ud)
{
	struct listing *l = ud;

	l->fn(wd, path, l->ud);
}

/* Calls fn for every watched directory. */
void
watch_foreach(void (*fn)(int wd, const char *path, void *ud), void *ud)
{
	struct listing l = { fn, ud };

	wdmap_each_under(&wds, NULL, list_one, &l);
}

/* Frees everything so watch_init can run again. */
void
watch_shutdown(void)
{
	if (ifd < 0)
		return;
	inotifytools_cleanup();            /* closes the fd too */
	wdmap_clear(&wds);
	free(from.path);
	memset(&from, 0, sizeof(from));
	free(batch.ev);
	memset(&batch, 0, sizeof(batch));
	ifd = -1;
	unwatched = 0;
}
