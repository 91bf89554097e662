/*
 * safefile.c: files the daemon writes where someone else may write too
 * (status, JSON status, metrics, a config from -init): never through a
 * symlink and never into a file planted in advance. The text goes to a
 * fresh temporary made by mkstemp in the same directory, which is then
 * renamed over the path (rename replaces a symlink there, it does not
 * follow it). Bound in api.c as core.writeFile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"
#include "xmalloc.h"

/* Writes all of buf to fd. */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replaces path with text (mode applied to the new file); 0, or -1 errno. */
int
safefile_write(const char *path, const char *text, size_t len, mode_t mode)
{
	size_t plen = strlen(path);
	char *tmp = xmalloc(plen + 16);
	int fd, e;

	snprintf(tmp, plen + 16, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		free(tmp);
		return -1;
	}
	if (write_all(fd, text, len) < 0 || fchmod(fd, mode) < 0 || close(fd) < 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}

/* Opens path for writing without following a symlink at its end, and only
 * if it is a regular file with one link (or new): fd, or -1 errno. */
int
safefile_open(const char *path, int flags, mode_t mode)
{
	struct stat st;
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, mode);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
