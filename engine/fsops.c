/*
 * fsops.c: default.direct's file operations (copy, move, remove), run in a
 * child of the daemon (`lsyncd-ng --fsop OP ...`, started like any other
 * child by child.c) so that a slow disk never blocks the event loop.
 * Every path is resolved beneath its root (source or target) with no
 * symlink in any component (beneath.c); the last component is never
 * followed either. What cannot be done that way (a special file, a symlink
 * on the way, a missing parent, a directory in the way) is handed to the
 * fallback command given after "--" (an rsync of the path, which handles
 * all of that itself), or reported with exit status FSOP_REFUSED.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fsops.h"

#define FSOP_FAILED  1          /* an error the fallback would not fix either */
#define FSOP_REFUSED 3          /* not done; no fallback was given */

enum outcome { DONE, FALLBACK, FAILED };

static const char *op_name = "fsop";

/* Prints one line about rel to stderr (the daemon logs it, escaped). */
static void
say(const char *rel, const char *what, int err)
{
	if (err)
		fprintf(stderr, "%s: %s: %s (%s)\n", op_name, rel, what, strerror(err));
	else
		fprintf(stderr, "%s: %s: %s\n", op_name, rel, what);
}

/* True for errors of a path that leaves its root or crosses a symlink. */
static int
unsafe_path_errno(int e)
{
	return e == ELOOP || e == EXDEV || e == ENOTDIR;
}

/* ---------------------------------------------------------- copy */

/* Opens a new, unused temporary name beside name in dfd; fills tmp. */
static int
make_temp(int dfd, char *tmp, size_t len, int symlink_to, const char *ltarget,
    int *fdp)
{
	for (int tries = 0; tries < 100; tries++) {
		snprintf(tmp, len, ".lsyncd-ng.%08lx%04x", (unsigned long)random(),
		    (unsigned)(getpid() & 0xffff));
		if (symlink_to) {
			if (symlinkat(ltarget, dfd, tmp) == 0)
				return 0;
		} else {
			*fdp = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
			if (*fdp >= 0)
				return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Copies the bytes of in to out. */
static int
copy_bytes(int in, int out)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n > 0)
			continue;
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		break;                 /* EXDEV, EINVAL, ENOSYS...: plain read/write */
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (ssize_t off = 0; off < n; ) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			off += w;
		}
	}
	return 0;
}

/* Copies the regular file sdir/base to tdir/base through a temporary. */
static enum outcome
copy_regular(int sdir, int tdir, const char *base, const char *rel)
{
	struct stat st;
	struct timespec ts[2];
	char tmp[64];
	int in, out = -1;

	/* O_NONBLOCK: should it have become a FIFO meanwhile, open does not wait */
	in = openat(sdir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (in < 0) {
		if (errno == ENOENT)
			return DONE;   /* gone: its Delete follows */
		say(rel, "cannot open the source", errno);
		return FALLBACK;
	}
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		say(rel, "not a regular file any more", 0);
		return FALLBACK;
	}
	if (make_temp(tdir, tmp, sizeof tmp, 0, NULL, &out) < 0) {
		say(rel, "cannot make a temporary file in the target", errno);
		close(in);
		return FALLBACK;
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (copy_bytes(in, out) < 0 ||
	    (fchown(out, st.st_uid, st.st_gid) < 0 && errno != EPERM) ||
	    fchmod(out, st.st_mode & 07777) < 0 || futimens(out, ts) < 0) {
		say(rel, "copy failed", errno);
		close(in);
		close(out);
		unlinkat(tdir, tmp, 0);
		return FAILED;
	}
	close(in);
	if (close(out) < 0 || renameat(tdir, tmp, tdir, base) < 0) {
		int e = errno;
		unlinkat(tdir, tmp, 0);
		say(rel, "cannot put the copy in place", e);
		return FALLBACK;
	}
	return DONE;
}

/* Recreates the symlink sdir/base as tdir/base (its target is not read). */
static enum outcome
copy_symlink(int sdir, int tdir, const char *base, const char *rel,
    const struct stat *st)
{
	char target[PATH_MAX + 1], tmp[64];
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	ssize_t n = readlinkat(sdir, base, target, PATH_MAX);

	if (n < 0) {
		if (errno == ENOENT)
			return DONE;
		say(rel, "cannot read the symlink", errno);
		return FALLBACK;
	}
	target[n] = 0;
	if (make_temp(tdir, tmp, sizeof tmp, 1, target, NULL) < 0) {
		say(rel, "cannot make a temporary symlink in the target", errno);
		return FALLBACK;
	}
	if (fchownat(tdir, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM) {
		say(rel, "cannot set the symlink's owner", errno);
	}
	utimensat(tdir, tmp, ts, AT_SYMLINK_NOFOLLOW);
	if (renameat(tdir, tmp, tdir, base) < 0) {
		int e = errno;
		unlinkat(tdir, tmp, 0);
		say(rel, "cannot put the symlink in place", e);
		return FALLBACK;
	}
	return DONE;
}

/* copy SRCROOT TGTROOT REL */
static enum outcome
op_copy(char **av)
{
	const char *rel = av[2];
	struct stat st;
	int sdir, tdir;
	enum outcome r;
	const char *base;

	sdir = beneath_parent(av[0], rel, &base);
	if (sdir < 0) {
		if (errno == ENOENT)
			return DONE;                  /* the source is gone */
		say(rel, unsafe_path_errno(errno) ?
		    "a symlink on the source path" : "source path", errno);
		return FALLBACK;
	}
	if (fstatat(sdir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(sdir);
		if (errno == ENOENT)
			return DONE;
		say(rel, "cannot stat the source", errno);
		return FALLBACK;
	}
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		close(sdir);
		say(rel, "not a regular file or symlink: left to rsync", 0);
		return FALLBACK;
	}
	tdir = beneath_parent(av[1], rel, &base);
	if (tdir < 0) {
		say(rel, unsafe_path_errno(errno) ?
		    "a symlink on the target path" : "target path", errno);
		close(sdir);
		return FALLBACK;
	}
	if (S_ISREG(st.st_mode))
		r = copy_regular(sdir, tdir, base, rel);
	else
		r = copy_symlink(sdir, tdir, base, rel, &st);
	close(sdir);
	close(tdir);
	return r;
}

/* -------------------------------------------------------- remove */

/* Removes name in dfd, and everything below it, never following a symlink. */
static int
remove_tree(int dfd, const char *name, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > 256) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (remove_tree(dirfd(d), de->d_name, depth + 1) < 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* remove TGTROOT REL */
static enum outcome
op_remove(char **av)
{
	const char *rel = av[1], *base;
	int tdir = beneath_parent(av[0], rel, &base);

	if (tdir < 0) {
		if (errno == ENOENT)
			return DONE;            /* its parent is gone already */
		say(rel, unsafe_path_errno(errno) ?
		    "a symlink on the target path" : "target path", errno);
		return FALLBACK;
	}
	if (remove_tree(tdir, base, 0) < 0) {
		say(rel, "cannot remove", errno);
		close(tdir);
		return FALLBACK;
	}
	close(tdir);
	return DONE;
}

/* ---------------------------------------------------------- move */

/* move TGTROOT FROM TO */
static enum outcome
op_move(char **av)
{
	const char *from = av[1], *to = av[2], *fbase, *tbase;
	int fdir, tdir;

	if ((fdir = beneath_parent(av[0], from, &fbase)) < 0) {
		say(from, "move origin", errno);
		return FALLBACK;
	}
	if ((tdir = beneath_parent(av[0], to, &tbase)) < 0) {
		say(to, "move destination", errno);
		close(fdir);
		return FALLBACK;
	}
	/* renameat never follows either name: a symlink at `to` is replaced */
	if (renameat(fdir, fbase, tdir, tbase) < 0) {
		say(to, "cannot move", errno);
		close(fdir);
		close(tdir);
		return FALLBACK;
	}
	close(fdir);
	close(tdir);
	return DONE;
}

/* -------------------------------------------------------- main */

/* lsyncd-ng --fsop OP ARGS... [-- FALLBACK ARGV...]; av starts at OP. */
int
fsop_main(int ac, char **av)
{
	static const struct { const char *name; int nargs; enum outcome (*fn)(char **); } ops[] = {
		{ "copy", 3, op_copy }, { "remove", 2, op_remove }, { "move", 3, op_move },
	};
	char **fallback = NULL;
	int nargs = ac - 1;
	enum outcome r = FAILED;

	for (int i = 1; i < ac; i++)
		if (!strcmp(av[i], "--")) {
			nargs = i - 1;
			if (i + 1 < ac)
				fallback = av + i + 1;
			break;
		}
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	umask(077);
	for (size_t i = 0; ac > 0 && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(av[0], ops[i].name))
			continue;
		if (nargs != ops[i].nargs) {
			fprintf(stderr, "fsop %s: %d arguments expected\n", av[0], ops[i].nargs);
			return 2;
		}
		op_name = ops[i].name;
		r = ops[i].fn(av + 1);
		break;
	}
	if (r == DONE)
		return 0;
	if (r == FALLBACK && fallback) {
		fflush(stderr);
		execvp(fallback[0], fallback);
		fprintf(stderr, "fsop: cannot run %s: %s\n", fallback[0], strerror(errno));
		return 127;
	}
	return r == FALLBACK ? FSOP_REFUSED : FSOP_FAILED;
}
