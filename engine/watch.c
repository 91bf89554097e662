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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

#include "log.h"
#include "watch.h"

/* ---- our wd -> path table, open addressing ---- */

struct wmap {
	int   *key;       /* 0 = empty, -1 = deleted, else wd + 1 */
	char **path;      /* directory path, no trailing slash */
	size_t cap, used, live;
};

static struct wmap wds;

static size_t
wmap_find(struct wmap *m, int wd, int *found)
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

static void wmap_put(struct wmap *m, int wd, char *path);

static void
wmap_grow(struct wmap *m)
{
	struct wmap n = { .cap = m->cap ? m->cap : 1024 };

	while (m->live * 2 >= n.cap)
		n.cap *= 2;
	n.key = calloc(n.cap, sizeof(*n.key));
	n.path = calloc(n.cap, sizeof(*n.path));
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i] > 0)
			wmap_put(&n, m->key[i] - 1, m->path[i]);
	free(m->key);
	free(m->path);
	*m = n;
}

/* Sets wd's path (taking ownership of path). */
static void
wmap_put(struct wmap *m, int wd, char *path)
{
	int found;
	size_t i;

	if ((m->used + 1) * 2 > m->cap)
		wmap_grow(m);
	i = wmap_find(m, wd, &found);
	if (found) {
		free(m->path[i]);
		m->path[i] = path;
		return;
	}
	if (m->key[i] == 0)
		m->used++;
	m->key[i] = wd + 1;
	m->path[i] = path;
	m->live++;
}

static const char *
wmap_get(struct wmap *m, int wd)
{
	int found = 0;
	size_t i;

	if (!m->cap)
		return NULL;
	i = wmap_find(m, wd, &found);
	return found ? m->path[i] : NULL;
}

static void
wmap_del(struct wmap *m, int wd)
{
	int found = 0;
	size_t i;

	if (!m->cap)
		return;
	i = wmap_find(m, wd, &found);
	if (found) {
		free(m->path[i]);
		m->path[i] = NULL;
		m->key[i] = -1;
		m->live--;
	}
}

static void
wmap_clear(struct wmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i] > 0)
			free(m->path[i]);
	free(m->key);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

/* 1 if path is prefix or lies below it ("/a/b" is under "/a", "/ab" is not). */
static int
is_under(const char *path, const char *prefix, size_t plen)
{
	return !strncmp(path, prefix, plen) && (path[plen] == 0 || path[plen] == '/');
}

/* ---- state ---- */

static int             ifd = -1;
static int             mask;
static watch_event_fn *event_fn;
static watch_want_fn  *want_fn;
static void           *cb_ud;
static int             unwatched;
static int             nospace_logged;
/* A new directory could not be watched because it had already moved on
 * (mkdir then rename before we read the Create). Its rename is queued
 * behind, so until the queue is drained every directory move walks its
 * new subtree for directories without a watch (adopt_tree). */
static int             lost;
static void new_dir(const char *path);

/* A MOVED_FROM waiting for its MOVED_TO. */
static struct {
	int      pending;
	uint32_t cookie;
	int      isdir;
	char    *path;
} from;

/* Emits one event to the engine. */
static void
emit(enum watch_etype type, int isdir, const char *path, const char *path2)
{
	struct watch_event ev = { type, isdir, path, path2 };

	static const char *names[] = { "Create", "Modify", "Attrib", "Delete", "Move",
		"Overflow", "NoSpace" };

	if (log_enabled("Inotify"))
		log_msg("Inotify", "%s %s%s%s", names[type], path, path2 ? " -> " : "",
		    path2 ? path2 : "");
	event_fn(&ev, cb_ud);
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

/* Sets where events go and who is asked about directories. */
void
watch_set_handlers(watch_event_fn *on_event, watch_want_fn *want, void *ud)
{
	event_fn = on_event;
	want_fn = want;
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
	nospace_logged = 0;
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
	return (int)wds.live;
}

int
watch_unwatched(void)
{
	return unwatched;
}

/* Logs the out-of-watches error once, with the numbers an operator needs. */
static void
log_nospace(int needed_more)
{
	int max = inotifytools_get_max_user_watches();

	if (nospace_logged)
		return;
	nospace_logged = 1;
	log_msg("Error", "out of inotify watches: fs.inotify.max_user_watches is %d, "
	    "this daemon holds %d and needs at least %d more (%d in all); raise it with "
	    "'sysctl fs.inotify.max_user_watches=%d'", max, (int)wds.live, needed_more,
	    (int)wds.live + needed_more, max + needed_more + 1024);
}

/* The path of entry de of directory path if it is a subdirectory (a
 * malloc'd string), else NULL. */
static char *
subdir_of(const char *path, const struct dirent *de)
{
	char *sub;

	if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
		return NULL;
	if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
		return NULL;
	if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
		return NULL;
	if (de->d_type == DT_UNKNOWN) {
		struct stat st;
		if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(sub);
			return NULL;
		}
	}
	return sub;
}

/* Counts directories below path (path included) that cannot be watched. */
static int
count_dirs(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 1;

	if (!d)
		return n;
	while ((de = readdir(d))) {
		char *sub = subdir_of(path, de);
		if (!sub)
			continue;
		n += count_dirs(sub);
		free(sub);
	}
	closedir(d);
	return n;
}

/*
 * Watches path, then reads it: every entry is reported as a Create when
 * emit is set (the directory is new, so nothing in it has been seen), and
 * every wanted subdirectory is handled the same way. The watch comes before
 * the read, so an entry created meanwhile is seen by one or the other.
 * Returns -1 with errno ENOSPC when the watch limit is hit.
 */
static int
add_tree(const char *path, int emit_creates)
{
	DIR *d;
	struct dirent *de;
	int rc = 0, wd;

	if ((wd = inotify_add_watch(ifd, path, mask)) < 0) {
		if (errno == ENOSPC) {
			unwatched += count_dirs(path);
			errno = ENOSPC;
			return -1;
		}
		if (errno == ENOENT || errno == ENOTDIR)
			lost = 1;                  /* moved on already: see adopt_tree */
		return 0;                      /* vanished or unreadable: skip it */
	}
	wmap_put(&wds, wd, strdup(path));
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char *sub;
		int isdir;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			isdir = lstat(sub, &st) == 0 && S_ISDIR(st.st_mode);
		}
		if (emit_creates)
			emit(WATCH_CREATE, isdir, sub, NULL);
		if (isdir && want_fn(sub, cb_ud)) {
			if (rc < 0)
				unwatched += count_dirs(sub);   /* keep counting, stop watching */
			else if (add_tree(sub, emit_creates) < 0)
				rc = -1;
		}
		free(sub);
	}
	closedir(d);
	if (rc < 0)
		errno = ENOSPC;
	return rc;
}

/* Watches root and every wanted directory below it. */
int
watch_add(const char *root)
{
	int rc = add_tree(root, 0);

	if (rc < 0 && errno == ENOSPC) {
		log_nospace(unwatched);
		errno = ENOSPC;
	}
	return rc;
}

/* Drops the watches of path and everything below it. */
void
watch_remove(const char *path)
{
	size_t plen = strlen(path);

	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	for (size_t i = 0; i < wds.cap; i++) {
		if (wds.key[i] > 0 && is_under(wds.path[i], path, plen)) {
			int wd = wds.key[i] - 1;
			inotify_rm_watch(ifd, wd);
			wmap_del(&wds, wd);
		}
	}
}

/* Rewrites the paths of a renamed directory and everything below it. */
static void
rename_tree(const char *oldp, const char *newp)
{
	size_t olen = strlen(oldp);

	for (size_t i = 0; i < wds.cap; i++) {
		if (wds.key[i] > 0 && is_under(wds.path[i], oldp, olen)) {
			char *p;
			if (asprintf(&p, "%s%s", newp, wds.path[i] + olen) >= 0) {
				free(wds.path[i]);
				wds.path[i] = p;
			}
		}
	}
}

/* 1 if some wd of ours watches exactly path. */
static int
watched(const char *path)
{
	for (size_t i = 0; i < wds.cap; i++)
		if (wds.key[i] > 0 && !strcmp(wds.path[i], path))
			return 1;
	return 0;
}

/*
 * Looks below the watched directory path for directories without a watch
 * (made and moved on before their Create was read) and treats each as new:
 * a Create for it, a watch, Creates for its content. inotify_add_watch on
 * an inode already watched returns its existing wd, so that is the test.
 */
static void
adopt_tree(const char *path)
{
	DIR *d;
	struct dirent *de;

	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		char *sub = subdir_of(path, de);
		int wd;
		if (!sub)
			continue;
		if (!want_fn(sub, cb_ud)) {
			free(sub);
			continue;
		}
		wd = inotify_add_watch(ifd, sub, mask);
		if (wd >= 0 && wmap_get(&wds, wd)) {
			adopt_tree(sub);
		} else if (wd >= 0) {
			wmap_put(&wds, wd, strdup(sub));
			emit(WATCH_CREATE, 1, sub, NULL);
			new_dir(sub);
		} else if (errno == ENOSPC) {
			new_dir(sub);              /* counts and reports it */
		}
		free(sub);
	}
	closedir(d);
}

/* A directory appeared at path: watch it (if wanted) and report its content. */
static void
new_dir(const char *path)
{
	if (!want_fn(path, cb_ud))
		return;
	if (add_tree(path, 1) < 0 && errno == ENOSPC) {
		log_nospace(unwatched);
		emit(WATCH_NOSPACE, 1, path, NULL);
	}
}

/* Turns a MOVED_FROM that found no MOVED_TO into a Delete. */
static void
flush_from(void)
{
	if (!from.pending)
		return;
	from.pending = 0;
	emit(WATCH_DELETE, from.isdir, from.path, NULL);
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
		emit(WATCH_OVERFLOW, 0, "", NULL);
		return;
	}
	if (ev->mask & IN_IGNORED) {
		wmap_del(&wds, ev->wd);        /* the kernel dropped it (dir deleted) */
		return;
	}
	if (!(dir = wmap_get(&wds, ev->wd)))
		return;                        /* a watch we already let go */
	if (ev->len == 0 || !ev->name[0])
		return;                        /* about the dir itself: its parent reports */
	if (asprintf(&path, "%s/%s", dir, ev->name) < 0)
		return;

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
			int was_watched = isdir && watched(old);
			from.pending = 0;
			from.path = NULL;
			if (isdir && was_watched) {
				if (want_fn(path, cb_ud))
					rename_tree(old, path);
				else
					watch_remove(old);
			}
			emit(WATCH_MOVE, isdir, old, path);
			if (isdir && was_watched && lost && want_fn(path, cb_ud))
				adopt_tree(path);
			if (isdir && !was_watched)
				new_dir(path);         /* from an unwatched place */
			free(old);
		} else {
			flush_from();
			emit(WATCH_CREATE, isdir, path, NULL);
			if (isdir)
				new_dir(path);
		}
		free(path);
		return;
	}
	flush_from();
	if (ev->mask & IN_CREATE) {
		emit(WATCH_CREATE, isdir, path, NULL);
		if (isdir)
			new_dir(path);
	} else if (ev->mask & IN_DELETE) {
		emit(WATCH_DELETE, isdir, path, NULL);
	} else if (ev->mask & (IN_CLOSE_WRITE | IN_MODIFY)) {
		emit(WATCH_MODIFY, isdir, path, NULL);
	} else if (ev->mask & IN_ATTRIB) {
		emit(WATCH_ATTRIB, isdir, path, NULL);
	}
	free(path);
}

/* Reads and dispatches everything queued; never blocks. */
void
watch_process(void)
{
	struct inotify_event *ev;

	/* timeout 0 polls; n = 1 (n > 1 busy-waits inside the library) */
	while ((ev = inotifytools_next_events(0, 1)))
		handle(ev);
	flush_from();
	lost = 0;                          /* the queue is drained */
}

/* Calls fn for every watched directory. */
void
watch_foreach(void (*fn)(int wd, const char *path, void *ud), void *ud)
{
	for (size_t i = 0; i < wds.cap; i++)
		if (wds.key[i] > 0)
			fn(wds.key[i] - 1, wds.path[i], ud);
}

/* Frees everything so watch_init can run again. */
void
watch_shutdown(void)
{
	if (ifd < 0)
		return;
	inotifytools_cleanup();            /* closes the fd too */
	wmap_clear(&wds);
	free(from.path);
	memset(&from, 0, sizeof(from));
	ifd = -1;
	unwatched = 0;
}
