/*
 * child.c: children started from argv arrays with posix_spawn (never a
 * shell), fed stdin through a non-blocking pipe, their stdout and stderr
 * read by the loop and handed on line by line, their exit noticed through a
 * pidfd (SIGCHLD as the fallback) and reported exactly once, after their
 * output. How a child is started (posix_spawn attributes, the PDEATHSIG
 * trampoline) is child-exec.c's part.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "linebuf.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define READS_PER_CB  16      /* reads per wake-up (<= 1 MiB), so a chatty child cannot starve the loop */
#define GRACE         1.0     /* s after exit to wait for the output pipes to close */
#define PROGRESS_PIPE (1 << 20)  /* pipe size asked for a progress stream */

enum state { RUNNING, EXITED };

struct stream {
	int            fd;      /* our read end, -1 once closed */
	struct linebuf lines;   /* lines.saw_cr: a progress display (see rest) */
	double         resume;  /* > 0: left unread until this time (see on_output) */
};

struct child {
	pid_t          pid;
	enum state     state;
	int            status, signo;
	double         deadline;        /* exit time + GRACE */
	double         rest;            /* > 0: a progress display rests this long (see rest) */
	int            busy;            /* output callback running: do not free */
	int            pidfd;
	int            in_fd;           /* our end of its stdin, -1 when done */
	char          *in_text;
	size_t         in_len, in_off;
	struct stream  out[2];          /* stdout, stderr */
	struct child  *next;
};

static struct child    *children;
static child_exit_fn   *exit_fn;
static child_output_fn *output_fn;
static void            *cb_ud;
static struct loop_timer timer;         /* the earliest grace deadline or resume */

static void report_ready(void);
static void on_output(int fd, int mask, void *ud);

/* -------------------------------------------------------------- helpers */

/* Unwatches and closes *fd, then marks it closed. */
static void
drop_fd(int *fd)
{
	if (*fd >= 0) {
		loop_unwatch_fd(*fd);
		close(*fd);
		*fd = -1;
	}
}

/* Opens /dev/null on any of fds 0-2 that is closed. */
static void
ensure_stdio(void)
{
	/* Otherwise pipe2 could hand out fd 0, 1 or 2 and a spawn's dup2
	 * would shuffle the child's stdio into the wrong places. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			if (open("/dev/null", O_RDWR) < 0)
				break;
}

/* Finds a child of the current runner by pid. */
static struct child *
find(pid_t pid)
{
	for (struct child *c = children; c; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

/* Unlinks c from the list (it stays allocated). */
static void
unlink_child(struct child *c)
{
	for (struct child **pp = &children; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* Closes every fd of c and frees its buffers (c itself stays). */
static void
release(struct child *c)
{
	for (int s = 0; s < 2; s++) {
		drop_fd(&c->out[s].fd);
		linebuf_free(&c->out[s].lines);
	}
	drop_fd(&c->in_fd);
	drop_fd(&c->pidfd);
	free(c->in_text);
	c->in_text = NULL;
}

/* ------------------------------------------------------------- settings */

/* Sets the callbacks (once, before the first spawn). */
void
child_init(child_exit_fn *on_exit, child_output_fn *on_output, void *ud)
{
	exit_fn = on_exit;
	output_fn = on_output;
	cb_ud = ud;
	ensure_stdio();
}

/* ----------------------------------------------------------- the output */

struct line_to { struct child *c; int s; };

/* Hands one line of a stream to the output callback (a linebuf_fn). */
static void
emit(const char *line, void *ud)
{
	struct line_to *to = ud;

	if (output_fn)
		output_fn(to->c->pid, to->s + 1, line, cb_ud);
}

/* Reads stream s of c (a bounded number of reads); returns 1 at EOF. */
static int
read_stream(struct child *c, int s)
{
	struct line_to to = { c, s };

	return linebuf_read(&c->out[s].lines, c->out[s].fd, READS_PER_CB, emit, &to);
}

/* Hands on the unfinished last line of stream s of c. */
static void
flush_stream(struct child *c, int s)
{
	struct line_to to = { c, s };

	linebuf_flush(&c->out[s].lines, emit, &to);
}

/* Reads the resting streams of c again (all of them when now < 0). */
static void
wake_streams(struct child *c, double now)
{
	for (int s = 0; s < 2; s++) {
		struct stream *st = &c->out[s];

		if (st->fd < 0 || st->resume <= 0 || (now >= 0 && st->resume > now))
			continue;
		st->resume = -1;        /* < 0: rested before (the pipe is large) */
		loop_watch_fd(st->fd, LOOP_READ, on_output, c);
	}
}

/*
 * Leaves progress stream s of c unread for c->rest seconds (the spawn's
 * choice: the runner asks it for rsync, see child.h). rsync's
 * --info=progress2 writes one line per file: read as it comes, that is a
 * wake-up (and a line for the runner) per file per slave, 200,000 of them
 * for a 50,000-file startup to four slaves. Left alone for a moment the
 * lines gather in the pipe (made larger so rsync never waits on it) and
 * one read takes them all; only the newest reaches the runner.
 */
static void
rest(struct child *c, int s)
{
	struct stream *st = &c->out[s];

	if (st->resume == 0) {
		/* Best effort: a pipe that stays small only fills sooner. */
		fcntl(st->fd, F_SETPIPE_SZ, PROGRESS_PIPE);
	}
	if (loop_watch_fd(st->fd, 0, on_output, c) < 0)
		return;
	st->resume = clock_now() + c->rest;     /* on_output's report_ready arms the timer */
}

/* Loop callback: c wrote on stdout or stderr (or closed it). */
static void
on_output(int fd, int mask, void *ud)
{
	struct child *c = ud;
	int s = c->out[0].fd == fd ? 0 : 1;

	(void)mask;
	c->busy++;
	if (read_stream(c, s)) {
		flush_stream(c, s);
		drop_fd(&c->out[s].fd);
	} else if (c->out[s].lines.saw_cr && c->rest > 0 && c->state == RUNNING) {
		rest(c, s);
	}
	c->busy--;
	report_ready();
}

/* Loop callback: c's stdin pipe has room; writes what it takes. */
static void
on_stdin(int fd, int mask, void *ud)
{
	struct child *c = ud;

	(void)mask;
	while (c->in_off < c->in_len) {
		ssize_t n = write(fd, c->in_text + c->in_off, c->in_len - c->in_off);

		if (n > 0) {
			c->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;                 /* the loop calls again when there is room */
		break;                          /* EPIPE: the child stopped reading */
	}
	/* All written (or no one listens): closing gives the child its EOF. */
	drop_fd(&c->in_fd);
	free(c->in_text);
	c->in_text = NULL;
}

/* ------------------------------------------------------ exit and report */

/* Timer callback: a grace deadline or a resume time passed. */
static void
on_timer(void *ud)
{
	double now = clock_now();

	(void)ud;
	for (struct child *c = children; c; c = c->next)
		if (c->state == RUNNING)
			wake_streams(c, now);
	report_ready();
}

/* Sets the timer for the earliest grace deadline of an exited child still
 * awaiting EOF, or resume time of a resting stream. */
static void
arm_timer(void)
{
	double first = -1;

	for (struct child *c = children; c; c = c->next) {
		if (c->state == EXITED && (first < 0 || c->deadline < first))
			first = c->deadline;
		for (int s = 0; s < 2 && c->state == RUNNING; s++)
			if (c->out[s].fd >= 0 && c->out[s].resume > 0 &&
			    (first < 0 || c->out[s].resume < first))
				first = c->out[s].resume;
	}
	loop_timer_set(&timer, first, on_timer, NULL);
}

/* Takes c's exit status from si (filled by waitid). */
static void
set_exited(struct child *c, const siginfo_t *si)
{
	c->status = si->si_status;      /* the exit code, or the signal */
	c->signo = si->si_code == CLD_EXITED ? 0 : si->si_status;
	c->state = EXITED;
	c->deadline = clock_now() + GRACE;
	drop_fd(&c->pidfd);
	wake_streams(c, -1);            /* its output ends now: read it all */
}

/*
 * Reaps c if it has exited. Only this one pid is
 * waited for: waitpid(-1) would also steal the status of children other
 * code waits for (io.popen or os.execute in a user config).
 */
static void
collect(struct child *c)
{
	siginfo_t si;
	int rc;

	if (c->state == EXITED)
		return;
	memset(&si, 0, sizeof(si));
	rc = -1;
	errno = EINVAL;
	if (c->pidfd >= 0)
		rc = waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG);
	if (rc < 0 && errno == EINVAL)  /* no pidfd, or a kernel before 5.4 */
		rc = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG);
	if ((rc < 0 && errno == EINTR) || (rc == 0 && si.si_pid == 0))
		return;                         /* still running */
	if (rc < 0) {
		/* Someone else reaped it: the status is lost, but the runner
		 * must still hear of the exit or it waits for it forever. */
		log_msg("Error", "child %d was reaped elsewhere: %s", (int)c->pid,
		    strerror(errno));
		si.si_code = CLD_EXITED;
		si.si_status = 255;
	}
	set_exited(c, &si);
}

/* Loop callback: c's pidfd became readable, it has exited. */
static void
on_pidfd(int fd, int mask, void *ud)
{
	(void)fd;
	(void)mask;
	collect(ud);
	report_ready();
}

/* Ends the output of an exited child whose grace ran out. */
static void
finish_output(struct child *c)
{
	/* A grandchild (ssh's ControlPersist master, a backgrounded job)
	 * can hold the pipe open for ever: take what is already there,
	 * then close our end. */
	for (int s = 0; s < 2; s++) {
		if (c->out[s].fd < 0)
			continue;
		read_stream(c, s);
		flush_stream(c, s);
		drop_fd(&c->out[s].fd);
	}
}

/*
 * Reports every exited child whose output has ended (or whose grace ran
 * out), one at a time: c leaves the list before its exit callback runs, so
 * the callback may spawn, kill or reap without seeing it again.
 */
static void
report_ready(void)
{
	struct child *c;
	double now = clock_now();
	pid_t pid;
	int status, signo;

again:
	for (c = children; c; c = c->next) {
		if (c->state != EXITED || c->busy)
			continue;
		if (c->out[0].fd < 0 && c->out[1].fd < 0)
			break;
		if (now >= c->deadline)
			break;
	}
	if (c) {
		c->busy++;
		finish_output(c);
		c->busy--;
		unlink_child(c);
		pid = c->pid;
		status = c->status;
		signo = c->signo;
		release(c);
		free(c);
		if (exit_fn)
			exit_fn(pid, status, signo, cb_ud);
		now = clock_now();
		goto again;
	}
	arm_timer();
}

/* Reaps whatever has exited (SIGCHLD fallback) and reports what is due. */
void
child_reap(void)
{
	struct child *c = children, *next;

	while (c) {
		next = c->next;
		if (c->state != EXITED)
			collect(c);             /* may free c; next is still good */
		c = next;
	}
	report_ready();
}

/* Counts the children spawned and not yet reported. */
int
child_count(void)
{
	int n = 0;

	for (struct child *c = children; c; c = c->next)
		n++;
	return n;
}

/* Tells whether an exited child still awaits its report. */
int
child_pending(void)
{
	for (struct child *c = children; c; c = c->next)
		if (c->state == EXITED)
			return 1;
	return 0;
}

/* --------------------------------------------------------------- spawn */

/* Puts a new child's fds in the loop and starts feeding its stdin. */
static void
track(struct child *c)
{
	c->next = children;
	children = c;
	for (int s = 0; s < 2; s++)
		if (loop_watch_fd(c->out[s].fd, LOOP_READ, on_output, c) < 0)
			log_msg("Error", "child %d: cannot watch its output: %s",
			    (int)c->pid, strerror(errno));
	/* Without a pidfd (or its watch) the SIGCHLD fallback reaps it. */
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd >= 0 && loop_watch_fd(c->pidfd, LOOP_READ, on_pidfd, c) < 0)
		drop_fd(&c->pidfd);
	if (c->in_fd >= 0) {
		on_stdin(c->in_fd, LOOP_WRITE, c);      /* small texts fit the pipe */
		if (c->in_fd >= 0 && loop_watch_fd(c->in_fd, LOOP_WRITE, on_stdin, c) < 0)
			drop_fd(&c->in_fd);
	}
}

/* Starts argv[0] (PATH lookup) with optional stdin text; returns the pid. */
pid_t
child_spawn(char *const argv[], const char *stdin_text, size_t stdin_len, double rest)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct child *c = NULL;
	pid_t pid;
	int saved;

	if (!argv || !argv[0]) {
		errno = EINVAL;
		return -1;
	}
	/* The child's ends must stay blocking (a program that gets EAGAIN
	 * on stdout would fail), so O_NONBLOCK goes on our ends only. */
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    (stdin_text && pipe2(in, O_CLOEXEC) < 0))
		goto fail;
	c = xcalloc(1, sizeof(*c));
	if (stdin_text && stdin_len)
		c->in_text = xmalloc(stdin_len);
	if ((pid = child_exec(argv, in[0], out[1], err[1])) < 0)
		goto fail;
	close(out[1]);
	close(err[1]);
	if (in[0] >= 0)
		close(in[0]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	if (in[1] >= 0)
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->state = RUNNING;
	c->rest = rest;
	c->pidfd = -1;
	c->out[0].fd = out[0];
	c->out[1].fd = err[0];
	c->in_fd = in[1];
	if (stdin_text && stdin_len)
		memcpy(c->in_text, stdin_text, stdin_len);
	c->in_len = stdin_text ? stdin_len : 0;
	track(c);
	return pid;
fail:
	saved = errno;
	if (c)
		free(c->in_text);
	free(c);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	errno = saved;
	return -1;
}

/* ----------------------------------------------------------------- kill */

/* Signals c's process group, or c alone if the group is gone. */
static int
signal_child(struct child *c, int signo)
{
	if (kill(-c->pid, signo) == 0)
		return 0;
	/* Once reaped, c's pid may belong to someone else: group only. */
	if (c->state != EXITED)
		return kill(c->pid, signo);
	errno = ESRCH;
	return -1;
}

/* Signals the child's process group (or the child alone). */
int
child_kill(pid_t pid, int signo)
{
	struct child *c;

	/* kill(0) and kill(-1) would hit the daemon's group or everyone. */
	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	if ((c = find(pid)))
		return signal_child(c, signo);
	/* Not one of ours (or already reported): a plain kill, as lsyncd's
	 * lsyncd.kill does; never the group of a pid we no longer own. */
	return kill(pid, signo);
}

/* Signals every child we track. */
void
child_kill_all(int signo)
{
	for (struct child *c = children; c; c = c->next)
		signal_child(c, signo);
}
