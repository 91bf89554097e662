/*
 * daemon.c: detaching from the terminal, the locked pid file, and the
 * systemd notify protocol (a datagram to $NOTIFY_SOCKET, no libsystemd).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "safefile.h"
#include "xmalloc.h"

static char *pidfile_path;
static int   pidfile_fd = -1;

/* Forks twice and starts a new session so no terminal can come back. */
int
daemon_detach(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);                      /* the starting process is done */
	if (setsid() < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

/* Writes our pid to path and holds a lock on it while we live. */
int
daemon_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	/* not through a symlink, not into a planted FIFO or hard link */
	fd = safefile_open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	if (lockf(fd, F_TLOCK, 0) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, buf, n) != n) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	daemon_remove_pidfile();
	pidfile_fd = fd;
	pidfile_path = xstrdup(path);
	return 0;
}

/* Removes the pid file we wrote, if any. */
void
daemon_remove_pidfile(void)
{
	if (pidfile_path) {
		unlink(pidfile_path);
		free(pidfile_path);
		pidfile_path = NULL;
	}
	if (pidfile_fd >= 0) {
		close(pidfile_fd);
		pidfile_fd = -1;
	}
}

/* Sends text (e.g. "READY=1") to the service manager, if there is one. */
int
daemon_notify(const char *text)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, r;

	if (!sock || !*sock)
		return 1;
	if ((sock[0] != '/' && sock[0] != '@') || strlen(sock) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, sock, strlen(sock));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;            /* abstract namespace */
	len = offsetof(struct sockaddr_un, sun_path) + strlen(sock);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	r = sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
	return r < 0 ? -1 : 0;
}
