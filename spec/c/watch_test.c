/* watch_test.c: the watch layer on a real temp tree: event mapping, the
 * new-dir race, directory renames, deletes freeing entries, wanted dirs,
 * queue overflow and running out of watches (sysctls restored). The walk
 * the runner does (lua/watchtree.lua) is done here by a small C driver on
 * watch_dir, so the layer's part is tested alone: batches that end at a
 * new directory, the renamed marks, the counting of unwatched dirs. */
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
record(int type, int isdir, const char *path, const char *path2)
{
	if (type == WATCH_OVERFLOW)
		overflows++;
	if (nev >= MAXEV)
		return;
	evs[nev].type = type;
	evs[nev].isdir = isdir;
	snprintf(evs[nev].path, sizeof(evs[nev].path), "%s", path + (path[0] ? strlen(root) : 0));
	snprintf(evs[nev].path2, sizeof(evs[nev].path2), "%s", path2 ? path2 + strlen(root) : "");
	nev++;
}

static int
want(const char *path)
{
	return !strstr(path, "/excluded");
}

/* ---- the runner's walk (lua/watchtree.lua), as a test driver ---- */

#define WATCH_NOSPACE 100               /* the runner's NoSpace event */
static int batches, dir_ended, dir_batches, last_renamed = -1;

struct listing { int n; char name[256][64]; int isdir[256]; };

static void
list_entry(const char *name, int isdir, void *ud)
{
	struct listing *l = ud;
	if (l->n < 256) {
		snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
		l->isdir[l->n++] = isdir;
	}
}

/* 0, or -1 when the watch limit was hit */
static int
add_tree(const char *path, int creates)
{
	struct listing *l = calloc(1, sizeof(*l));
	int rc = 0;

	if (watch_dir(path, creates, list_entry, l) < 0) {
		rc = errno == ENOSPC ? -1 : 0;
		free(l);
		return rc;
	}
	for (int i = 0; i < l->n; i++) {
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, l->name[i]);
		if (creates)
			record(WATCH_CREATE, l->isdir[i], sub, NULL);
		if (l->isdir[i] && want(sub) && add_tree(sub, creates) < 0)
			rc = -1;
	}
	free(l);
	return rc;
}

static void
new_dir(const char *path)
{
	if (want(path) && add_tree(path, 1) < 0)
		record(WATCH_NOSPACE, 1, path, NULL);
}

static void
on_batch(const struct watch_event *ev, size_t n, void *ud)
{
	batches++;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].isdir && (ev[i].type == WATCH_CREATE || ev[i].type == WATCH_MOVE)) {
			dir_batches++;
			dir_ended += i == n - 1;
		}
		if (ev[i].type == WATCH_MOVE && ev[i].isdir) {
			if (ev[i].renamed && !want(ev[i].path2))
				watch_remove(ev[i].path2);
			record(WATCH_MOVE, 1, ev[i].path, ev[i].path2);
			last_renamed = ev[i].renamed;
			/* (renamed == 2, a dir lost in a race: the runner walks
			 * path2 for unwatched dirs; not driven here) */
			if (!ev[i].renamed)
				new_dir(ev[i].path2);
			continue;
		}
		record(ev[i].type, ev[i].isdir, ev[i].path, ev[i].path2);
		if (ev[i].type == WATCH_CREATE && ev[i].isdir)
			new_dir(ev[i].path);
	}
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
	fd = (watch_set_handler(on_batch, NULL), watch_init(WATCH_CLOSEWRITE));
	ok(fd >= 0, "the watch layer starts");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the inotify fd is close-on-exec");
	ok(add_tree(root, 0) == 0, "the tree is watched");
	base = watch_count();
	ok(base == 3, "the root and a, a/b are watched, the unwanted dir is not (%d)", base);

	nev = batches = 0;
	sh("echo x > %s/f; chmod 600 %s/f; rm %s/f", root, root, root);
	drain();
	ok(batches == 1 && nev >= 4, "the events of one read come in one batch (%d events, %d batches)",
	    nev, batches);
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
	ok(dir_batches > 0 && dir_ended == dir_batches,
	    "a batch ends at each new directory (%d of %d)", dir_ended, dir_batches);
	ok(watch_count() == base + 600, "the new dirs are watched (%d)", watch_count());

	/* a directory rename keeps the paths below it right */
	nev = 0;
	sh("mv %s/a %s/z && echo y > %s/z/b/new", root, root, root);
	drain();
	ok(has(WATCH_MOVE, "/a", "/z") && last_renamed == 1,
	    "a directory rename is a move, its watches moved along (renamed %d)", last_renamed);
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
	last_renamed = -1;
	sh("mv %s %s/back", outside, root);
	drain();
	ok(has(WATCH_CREATE, "/back/b/late", NULL) && watch_count() == before && last_renamed == -1,
	    "a dir moved in is watched and its content reported");

	/* watch_add: one directory, not below it, no listing (the caller's
	 * walk goes on below it) */
	watch_shutdown();
	fd = (watch_set_handler(on_batch, NULL), watch_init(WATCH_CLOSEWRITE));
	{
		char wa[300], gone[300];

		snprintf(wa, sizeof wa, "%s/wa", root);
		snprintf(gone, sizeof gone, "%s/not-there", root);
		sh("mkdir -p %s/wa/sub", root);
		ok(watch_add(wa) == 0 && watch_count() == 1, "watch_add watches the one directory (%d)",
		    watch_count());
		ok(watch_add(wa) == 1 && watch_count() == 1, "watch_add of a watched dir says it was");
		nev = 0;
		sh("echo x > %s/wa/f; echo y > %s/wa/sub/g", root, root);
		drain();
		ok(has(WATCH_MODIFY, "/wa/f", NULL) && !has(WATCH_MODIFY, "/wa/sub/g", NULL),
		    "its events come, none from below it");
		errno = 0;
		ok(watch_add(gone) < 0 && errno == ENOENT && watch_unwatched() == 0,
		    "a missing dir: -1, ENOENT, not counted as unwatched");
	}

	/* overflow: one event, exactly */
	int oldq = read_int("/proc/sys/fs/inotify/max_queued_events");
	watch_shutdown();
	write_int("/proc/sys/fs/inotify/max_queued_events", 64);
	fd = (watch_set_handler(on_batch, NULL), watch_init(WATCH_CLOSEWRITE));
	add_tree(root, 0);
	nev = overflows = 0;
	sh("cd %s && for i in $(seq 1 300); do echo $i > o$i; done", root);
	drain();
	write_int("/proc/sys/fs/inotify/max_queued_events", oldq);
	ok(overflows == 1, "a queue overflow is reported once (%d)", overflows);
	ok(read_int("/proc/sys/fs/inotify/max_queued_events") == oldq, "max_queued_events restored");

	/* out of watches */
	int oldw = read_int("/proc/sys/fs/inotify/max_user_watches");
	watch_shutdown();
	fd = (watch_set_handler(on_batch, NULL), watch_init(WATCH_CLOSEWRITE));
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
	int rc = add_tree(root, 0);
	int e = ENOSPC, un = watch_unwatched();
	write_int("/proc/sys/fs/inotify/max_user_watches", oldw);
	ok(rc < 0 && e == ENOSPC, "running out of watches fails with ENOSPC");
	ok(un >= 50, "the unwatched directories are counted (%d)", un);
	ok(read_int("/proc/sys/fs/inotify/max_user_watches") == oldw, "max_user_watches restored");

	watch_shutdown();
	sh("rm -rf %s %s", root, outside);
	return tap_done();
}
