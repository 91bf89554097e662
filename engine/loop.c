/*
 * loop.c: the daemon's one epoll loop: fds with callbacks, one timerfd for
 * the runner's next alarm, and a signalfd for the signals the daemon handles.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct fdent {
	loop_fd_fn *fn;
	void       *ud;
	int         mask;
	int         used;
};

static int             epfd = -1, tfd = -1, sfd = -1;
static struct fdent   *fds;
static int             nfds;
static loop_signal_fn *sig_fn;
static void           *sig_ud;
static sigset_t        handled;

/* Returns the monotonic clock in seconds. */
double
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Makes room in the fd table for fd. */
static int
grow(int fd)
{
	int n = nfds ? nfds : 64;
	struct fdent *f;

	if (fd < nfds)
		return 0;
	while (n <= fd)
		n *= 2;
	if (!(f = realloc(fds, n * sizeof(*f))))
		return -1;
	memset(f + nfds, 0, (n - nfds) * sizeof(*f));
	fds = f;
	nfds = n;
	return 0;
}

/* Registers or changes fd's interest (mask 0: registered, idle). */
int
loop_watch_fd(int fd, int mask, loop_fd_fn *fn, void *ud)
{
	struct epoll_event ev = { 0 };
	int op;

	if (fd < 0 || grow(fd) < 0)
		return -1;
	op = fds[fd].used ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = (mask & LOOP_READ ? EPOLLIN : 0) | (mask & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (epoll_ctl(epfd, op, fd, &ev) < 0)
		return -1;
	fds[fd] = (struct fdent){ .fn = fn, .ud = ud, .mask = mask, .used = 1 };
	return 0;
}

/* Forgets fd (the caller closes it). */
void
loop_unwatch_fd(int fd)
{
	if (fd < 0 || fd >= nfds || !fds[fd].used)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	fds[fd].used = 0;
}

/* Arms the alarm for monotonic time t; t < 0 disarms it. */
void
loop_set_alarm(double t)
{
	struct itimerspec its = { 0 };

	if (t >= 0) {
		if (t < 1e-6)
			t = 1e-6;              /* 0 would disarm the timer */
		its.it_value.tv_sec = (time_t)t;
		its.it_value.tv_nsec = (long)((t - (double)its.it_value.tv_sec) * 1e9);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Reads every pending signal from the signalfd and hands it on. */
static void
drain_signals(void)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (sig_fn)
			sig_fn((int)si.ssi_signo, sig_ud);
}

/* Creates the epoll set, the timer and the signalfd. */
int
loop_init(loop_signal_fn *on_signal, void *ud)
{
	sig_fn = on_signal;
	sig_ud = ud;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGCHLD);
	sigaddset(&handled, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &handled, NULL) < 0)
		return -1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		return -1;
	if ((sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	if (loop_watch_fd(tfd, LOOP_READ, NULL, NULL) < 0 ||
	    loop_watch_fd(sfd, LOOP_READ, NULL, NULL) < 0)
		return -1;
	return 0;
}

/*
 * Opens the signalfd again after a fork: the epoll wake-up of a signalfd is
 * tied to the process that created it, so the daemonized child needs its own.
 */
int
loop_reopen_signals(void)
{
	loop_unwatch_fd(sfd);
	close(sfd);
	if ((sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	return loop_watch_fd(sfd, LOOP_READ, NULL, NULL);
}

/* Waits once (timeout_ms, -1 forever) and dispatches; 1 if the alarm fired. */
int
loop_once(int timeout_ms)
{
	struct epoll_event evs[64];
	int n, fired = 0;

	n = epoll_wait(epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd, mask = 0;

		if (fd == tfd) {
			uint64_t exp;
			if (read(tfd, &exp, sizeof(exp)) > 0)
				fired = 1;
			continue;
		}
		if (fd == sfd) {
			drain_signals();
			continue;
		}
		/* an earlier callback in this batch may have dropped this fd */
		if (fd >= nfds || !fds[fd].used || !fds[fd].fn)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			mask |= LOOP_READ;
		if (evs[i].events & (EPOLLOUT | EPOLLERR))
			mask |= LOOP_WRITE;
		fds[fd].fn(fd, mask, fds[fd].ud);
	}
	return fired;
}

/* Closes the loop's own fds and forgets every registration. */
void
loop_shutdown(void)
{
	if (epfd >= 0)
		close(epfd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	epfd = tfd = sfd = -1;
	free(fds);
	fds = NULL;
	nfds = 0;
}
