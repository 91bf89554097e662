/* watch_test.c: the watch layer on a real temp tree: event mapping, the
 * new-dir race, directory renames, deletes freeing entries, wanted dirs,
 * queue overflow and running out of watches (sysctls restored). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "watch.h"

#define MAXEV 20000
static struct { int type, isdir; char path[512], path2[512]; } evs[MAXEV];
static int nev, overflows;
static char root[256];

static void
on_event(const struct watch_event *ev, void *ud)
{
	if (ev->type == WATCH_OVERFLOW)
		overflows++;
	if (nev >= MAXEV)
		return;
	evs[nev].type = ev->type;
	evs[nev].isdir = ev->isdir;
	snprintf(evs[nev].path, sizeof(evs[nev].path), "%s", ev->path + (ev->path[0] ? strlen(root) : 0));
	snprintf(evs[nev].path2, sizeof(evs[nev].path2), "%s", ev->path2 ? ev->path2 + strlen(root) : "");
	nev++;
}

static int
want(const char *path, void *ud)
{
	return !strstr(path, "/excluded");
}

/* Drains events until none came for 100 ms. */
static void
drain(void)
{
	struct pollfd p = { watch_fd(), POLLIN, 0 };
	while (poll(&p, 1, 100) > 0)
		watch_process();
}

static int
has(int type, const char *path, const char *path2)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].type == type && !strcmp(evs[i].path, path) &&
		    (!path2 || !strcmp(evs[i].path2, path2)))
			return 1;
	return 0;
}

static void
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fprintf(stderr, "# command failed: %s\n", cmd);
}

static int
read_int(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void
write_int(const char *path, int v)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", v);
		fclose(f);
	}
}

int
main(void)
{
	char tmpl[] = "/tmp/lng-watch.XXXXXX";
	int fd, base;

	snprintf(root, sizeof(root), "%s", mkdtemp(tmpl));
	sh("mkdir -p %s/a/b %s/excluded/x", root, root);
	fd = (watch_set_handlers(on_event, want, NULL), watch_init(WATCH_CLOSEWRITE));
	ok(fd >= 0, "the watch layer starts");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the inotify fd is close-on-exec");
	ok(watch_add(root) == 0, "the tree is watched");
	base = watch_count();
	ok(base == 3, "the root and a, a/b are watched, the unwanted dir is not (%d)", base);

	nev = 0;
	sh("echo x > %s/f; chmod 600 %s/f; rm %s/f", root, root, root);
	drain();
	ok(has(WATCH_CREATE, "/f", NULL) && has(WATCH_MODIFY, "/f", NULL) &&
	    has(WATCH_ATTRIB, "/f", NULL) && has(WATCH_DELETE, "/f", NULL),
	    "create, close-write, attrib and delete map to their events");

	nev = 0;
	sh("echo x > %s/g; mv %s/g %s/a/h", root, root, root);
	drain();
	ok(has(WATCH_MOVE, "/g", "/a/h"), "a file rename is one move event");

	/* the new-dir race, many times over */
	nev = 0;
	sh("cd %s && for i in $(seq 1 200); do mkdir -p r$i/b/c && echo x > r$i/b/c/f; done", root);
	drain();
	int missing = 0;
	for (int i = 1; i <= 200; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/r%d/b/c/f", i);
		if (!has(WATCH_CREATE, p, NULL) && !has(WATCH_MODIFY, p, NULL))
			missing++;
	}
	ok(missing == 0, "files written into just-made dirs are all reported (%d of 200 missing)", missing);
	ok(watch_count() == base + 600, "the new dirs are watched (%d)", watch_count());

	/* a directory rename keeps the paths below it right */
	nev = 0;
	sh("mv %s/a %s/z && echo y > %s/z/b/new", root, root, root);
	drain();
	ok(has(WATCH_MOVE, "/a", "/z"), "a directory rename is a move");
	ok(has(WATCH_MODIFY, "/z/b/new", NULL), "events below a renamed dir carry the new path");

	/* deleting a tree frees its entries */
	sh("rm -rf %s/r*", root);
	drain();
	ok(watch_count() == base, "deleted dirs free their watches (%d, want %d)", watch_count(), base);
	sh("mkdir -p %s/r1/b && echo q > %s/r1/b/q", root, root);
	drain();
	nev = 0;
	sh("echo w > %s/r1/b/w", root);
	drain();
	ok(has(WATCH_MODIFY, "/r1/b/w", NULL), "a dir re-created under an old name is watched again");

	/* moving a dir out of the tree drops its watches */
	char outside[300];
	snprintf(outside, sizeof(outside), "%s-out", root);
	int before = watch_count();
	nev = 0;
	sh("mv %s/r1 %s", root, outside);
	drain();
	ok(has(WATCH_DELETE, "/r1", NULL), "a dir moved out is a delete");
	ok(watch_count() == before - 2, "and its watches are dropped (%d)", watch_count());
	nev = 0;
	sh("echo late > %s/b/late", outside);
	drain();
	ok(nev == 0, "no event comes from a dir that left the tree");
	/* moving it back in is a new dir: watched and scanned */
	nev = 0;
	sh("mv %s %s/back", outside, root);
	drain();
	ok(has(WATCH_CREATE, "/back/b/late", NULL) && watch_count() == before,
	    "a dir moved in is watched and its content reported");

	/* overflow: one event, exactly */
	int oldq = read_int("/proc/sys/fs/inotify/max_queued_events");
	watch_shutdown();
	write_int("/proc/sys/fs/inotify/max_queued_events", 64);
	fd = (watch_set_handlers(on_event, want, NULL), watch_init(WATCH_CLOSEWRITE));
	watch_add(root);
	nev = overflows = 0;
	sh("cd %s && for i in $(seq 1 300); do echo $i > o$i; done", root);
	drain();
	write_int("/proc/sys/fs/inotify/max_queued_events", oldq);
	ok(overflows == 1, "a queue overflow is reported once (%d)", overflows);
	ok(read_int("/proc/sys/fs/inotify/max_queued_events") == oldq, "max_queued_events restored");

	/* out of watches */
	int oldw = read_int("/proc/sys/fs/inotify/max_user_watches");
	watch_shutdown();
	fd = (watch_set_handlers(on_event, want, NULL), watch_init(WATCH_CLOSEWRITE));
	sh("mkdir -p %s/many && cd %s/many && for i in $(seq 1 60); do mkdir d$i; done", root, root);
	/* the limit is per user: allow what others hold now plus 10 */
	int inuse = 0;
	FILE *p = popen("cat /proc/[0-9]*/fdinfo/* 2>/dev/null | grep -c '^inotify wd:'", "r");
	if (p) {
		if (fscanf(p, "%d", &inuse) != 1)
			inuse = 0;
		pclose(p);
	}
	write_int("/proc/sys/fs/inotify/max_user_watches", inuse + 10);
	errno = 0;
	int rc = watch_add(root);
	int e = errno, un = watch_unwatched();
	write_int("/proc/sys/fs/inotify/max_user_watches", oldw);
	ok(rc < 0 && e == ENOSPC, "running out of watches fails with ENOSPC");
	ok(un >= 50, "the unwatched directories are counted (%d)", un);
	ok(read_int("/proc/sys/fs/inotify/max_user_watches") == oldw, "max_user_watches restored");

	watch_shutdown();
	sh("rm -rf %s %s", root, outside);
	return tap_done();
}
