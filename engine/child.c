/*
 * child.c: children started from argv arrays with posix_spawn (never a
 * shell), fed stdin through a non-blocking pipe, their output collected line
 * by line, their exit noticed through a pidfd, and reported exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "loop.h"

#define LINE_MAX_BYTES 65536

extern char **environ;

struct outbuf {
	int    fd;
	char  *buf;
	size_t len;
	int    after_cr;                /* the last line ended with '\r' */
};

struct child {
	pid_t          pid;
	int            pidfd;
	int            in_fd;           /* our end of its stdin, -1 when done */
	char          *in_text;
	size_t         in_len, in_off;
	struct outbuf  out[2];          /* stdout, stderr */
	int            exited, status, signo;
	double         exit_time;
	struct child  *next;
};

static struct child    *children;
static int              nchildren;
static child_exit_fn   *exit_fn;
static child_output_fn *output_fn;
static void            *cb_ud;
static char            *trampoline;

/* Sets the callbacks for exits and output lines. */
void
child_init(child_exit_fn *on_exit, child_output_fn *on_output, void *ud)
{
	exit_fn = on_exit;
	output_fn = on_output;
	cb_ud = ud;
	children = NULL;
	nchildren = 0;
}

/* Chooses whether children start through the PDEATHSIG trampoline. */
void
child_set_trampoline(const char *self_exe)
{
	free(trampoline);
	trampoline = self_exe ? strdup(self_exe) : NULL;
}

/* The "__lng_exec" entry: die with the parent, then become the program. */
int
child_trampoline(int argc, char **argv)
{
	if (argc < 3)
		return 127;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(255);                    /* the daemon is already gone */
	execv(argv[2], argv + 2);
	fprintf(stderr, "lsyncd-ng: cannot execute %s: %s\n", argv[2], strerror(errno));
	_exit(127);
}

int
child_count(void)
{
	return nchildren;
}

int
child_pending(void)
{
	for (struct child *c = children; c; c = c->next)
		if (c->exited)
			return 1;
	return 0;
}

/* Finds a program through PATH as execvp would; NULL with errno if none. */
static char *
resolve(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return NULL;
		return strdup(name);
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	errno = ENOENT;
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - path),
		    end == path ? "." : path, name);
		if (n > 0 && n < (int)sizeof(buf) && access(buf, X_OK) == 0)
			return strdup(buf);
		path = *end ? end + 1 : end;
	}
	errno = ENOENT;
	return NULL;
}

static void on_output_ready(int fd, int mask, void *ud);
static void on_stdin_ready(int fd, int mask, void *ud);
static void on_pidfd(int fd, int mask, void *ud);

/* Hands complete lines of ob to the callback; flush: the rest as well. */
static void
emit_lines(struct child *c, int stream, int flush)
{
	struct outbuf *ob = &c->out[stream - 1];
	size_t start = 0;

	for (size_t i = 0; i < ob->len; i++) {
		if (ob->buf[i] != '\n' && ob->buf[i] != '\r')
			ob->after_cr = 0;
		/* '\r' too: progress output rewrites one line with carriage returns */
		char ch = ob->buf[i];
		if (ch == '\n' || ch == '\r') {
			int after_cr = ob->after_cr;
			ob->after_cr = ch == '\r';
			if (ch == '\n' && after_cr && i == start) {
				start = i + 1;         /* the \n of a \r\n pair */
				continue;
			}
			ob->buf[i] = 0;
			if (output_fn)
				output_fn(c->pid, stream, ob->buf + start, cb_ud);
			start = i + 1;
		}
	}
	if ((flush || ob->len - start >= LINE_MAX_BYTES) && start < ob->len) {
		ob->buf[ob->len] = 0;
		if (output_fn)
			output_fn(c->pid, stream, ob->buf + start, cb_ud);
		start = ob->len;
	}
	memmove(ob->buf, ob->buf + start, ob->len - start);
	ob->len -= start;
}

/* Closes and forgets one of the child's fds. */
static void
drop_fd(int *fd)
{
	if (*fd >= 0) {
		loop_unwatch_fd(*fd);
		close(*fd);
		*fd = -1;
	}
}

/* Reports the exit once output is drained (or after 1 s of grace). */
static void
maybe_report(struct child *c)
{
	struct child **pp;

	if (!c->exited)
		return;
	if ((c->out[0].fd >= 0 || c->out[1].fd >= 0) && loop_now() - c->exit_time < 1.0)
		return;
	for (int s = 0; s < 2; s++) {
		if (c->out[s].fd >= 0) {
			char tmp[4096];
			ssize_t n;
			while ((n = read(c->out[s].fd, tmp, sizeof(tmp))) > 0)
				;                      /* a grandchild holds it: give up */
		}
		emit_lines(c, s + 1, 1);
		drop_fd(&c->out[s].fd);
		free(c->out[s].buf);
	}
	drop_fd(&c->in_fd);
	drop_fd(&c->pidfd);
	free(c->in_text);
	for (pp = &children; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nchildren--;
	if (exit_fn)
		exit_fn(c->pid, c->status, c->signo, cb_ud);
	free(c);
}

/* Reads what the child wrote on stdout or stderr. */
static void
on_output_ready(int fd, int mask, void *ud)
{
	struct child *c = ud;
	int s = c->out[0].fd == fd ? 0 : 1;
	struct outbuf *ob = &c->out[s];

	for (;;) {
		ssize_t n = read(fd, ob->buf + ob->len, LINE_MAX_BYTES - ob->len);
		if (n > 0) {
			ob->len += n;
			emit_lines(c, s + 1, 0);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		emit_lines(c, s + 1, 1);      /* EOF */
		drop_fd(&ob->fd);
		maybe_report(c);
		return;
	}
}

/* Writes as much of the stdin text as the pipe takes. */
static void
on_stdin_ready(int fd, int mask, void *ud)
{
	struct child *c = ud;

	while (c->in_off < c->in_len) {
		ssize_t n = write(fd, c->in_text + c->in_off, c->in_len - c->in_off);
		if (n > 0) {
			c->in_off += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break;                         /* EPIPE: the child stopped reading */
	}
	drop_fd(&c->in_fd);
}

/* Collects the status of an exited child (its pidfd became readable). */
static void
collect(struct child *c)
{
	siginfo_t si;

	if (c->exited)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	c->exited = 1;
	c->exit_time = loop_now();
	if (si.si_code == CLD_EXITED) {
		c->status = si.si_status;
		c->signo = 0;
	} else {
		c->status = 0;
		c->signo = si.si_status;
	}
	drop_fd(&c->pidfd);
	maybe_report(c);
}

static void
on_pidfd(int fd, int mask, void *ud)
{
	collect(ud);
}

/* Reaps exited children we know of; also finishes late exit reports. */
void
child_reap(void)
{
	struct child *c = children, *next;

	while (c) {
		next = c->next;
		if (!c->exited)
			collect(c);
		else
			maybe_report(c);
		c = next;
	}
}

/* Starts argv[0] (PATH lookup) with optional stdin text; returns the pid. */
pid_t
child_spawn(char *const argv[], const char *stdin_text, size_t stdin_len)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char *prog, **av = NULL;
	struct child *c;
	pid_t pid;
	int rc, n = 0;

	if (!(prog = resolve(argv[0])))
		return -1;
	while (argv[n])
		n++;
	if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    (stdin_text && pipe2(in, O_CLOEXEC) < 0))
		goto fail;
	posix_spawn_file_actions_init(&fa);
	if (stdin_text)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP);
	if (trampoline) {
		av = calloc(n + 3, sizeof(*av));
		av[0] = argv[0];
		av[1] = "__lng_exec";
		av[2] = prog;
		for (int i = 1; i < n; i++)
			av[i + 2] = argv[i];
		rc = posix_spawn(&pid, trampoline, &fa, &attr, av, environ);
	} else {
		rc = posix_spawn(&pid, prog, &fa, &attr, argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(av);
	free(prog);
	prog = NULL;
	if (rc != 0) {
		errno = rc;
		goto fail;
	}
	close(out[1]);
	close(err[1]);
	if (in[0] >= 0)
		close(in[0]);
	c = calloc(1, sizeof(*c));
	c->pid = pid;
	c->out[0] = (struct outbuf){ .fd = out[0], .buf = malloc(LINE_MAX_BYTES + 1) };
	c->out[1] = (struct outbuf){ .fd = err[0], .buf = malloc(LINE_MAX_BYTES + 1) };
	c->in_fd = in[1];
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->next = children;
	children = c;
	nchildren++;
	loop_watch_fd(out[0], LOOP_READ, on_output_ready, c);
	loop_watch_fd(err[0], LOOP_READ, on_output_ready, c);
	if (c->pidfd >= 0) {
		fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
		loop_watch_fd(c->pidfd, LOOP_READ, on_pidfd, c);
	}
	if (in[1] >= 0) {
		c->in_text = malloc(stdin_len ? stdin_len : 1);
		memcpy(c->in_text, stdin_text, stdin_len);
		c->in_len = stdin_len;
		fcntl(in[1], F_SETFL, O_NONBLOCK);
		loop_watch_fd(in[1], LOOP_WRITE, on_stdin_ready, c);
		on_stdin_ready(in[1], LOOP_WRITE, c);
	}
	return pid;
fail:
	rc = errno;
	free(prog);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0) close(in[i]);
		if (out[i] >= 0) close(out[i]);
		if (err[i] >= 0) close(err[i]);
	}
	errno = rc;
	return -1;
}

/* Signals the child's process group (or the child alone). */
int
child_kill(pid_t pid, int signo)
{
	if (kill(-pid, signo) == 0)
		return 0;
	return kill(pid, signo);
}

/* Signals every child that has not exited yet. */
void
child_kill_all(int signo)
{
	for (struct child *c = children; c; c = c->next)
		if (!c->exited)
			child_kill(c->pid, signo);
}
