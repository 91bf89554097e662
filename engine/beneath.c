/*
 * beneath.c: opening a path beneath a root directory with no symlink in any
 * component and no way out of the root: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or, on kernels without openat2, a walk of
 * O_NOFOLLOW opens one component at a time. The root itself is the
 * operator's path and is opened as given. Used by fsops.c (the direct
 * mode's copy, move and remove).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsops.h"
#include "xmalloc.h"

static int no_openat2;          /* ENOSYS seen once: walk from then on */

/* Makes every resolution use the O_NOFOLLOW walk (as without openat2): for tests. */
void
beneath_force_walk(int on)
{
	no_openat2 = on;
}

/* Opens the directory rel beneath dfd component by component, O_NOFOLLOW. */
static int
walk(int dfd, const char *rel)
{
	char *copy = xstrdup(rel), *save = NULL, *c;
	int fd = dup(dfd);

	if (fd < 0) {
		free(copy);
		if (fd >= 0)
			close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next;
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			close(fd);
			free(copy);
			errno = EXDEV;
			return -1;
		}
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			/* O_DIRECTORY says ENOTDIR for a symlink too: say ELOOP, as openat2 */
			struct stat st;
			int e = errno;
			if (e == ENOTDIR && fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				e = ELOOP;
			close(fd);
			free(copy);
			errno = e;
			return -1;      /* ELOOP for a symlink, ENOTDIR for a file */
		}
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
}

/* Opens directory rel beneath the open directory dfd (rel "" is dfd itself). */
int
beneath_opendir(int dfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	while (*rel == '/')
		rel++;
	if (!*rel)
		return dup(dfd);
	if (!no_openat2) {
		fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
	}
	return walk(dfd, rel);
}

/* Opens the parent directory of rel beneath root; *base points at rel's
 * last component. -1 with errno (ELOOP/EXDEV/ENOTDIR: a symlink or a file
 * on the way, EINVAL: no usable last component). */
int
beneath_parent(const char *root, const char *rel, const char **base)
{
	const char *slash;
	char *dir;
	int rfd, fd;

	while (*rel == '/')
		rel++;
	slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, "..")) {
		errno = EINVAL;
		return -1;
	}
	if ((rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (!slash) {
		return rfd;
	}
	if (!(dir = strndup(rel, (size_t)(slash - rel)))) {
		close(rfd);
		errno = ENOMEM;
		return -1;
	}
	fd = beneath_opendir(rfd, dir);
	{
		int e = errno;
		free(dir);
		close(rfd);
		errno = e;
	}
	return fd;
}
