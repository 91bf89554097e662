/*
 * loop.c: the daemon's one epoll loop. It keeps an fd-indexed table of
 * {callback, data, interest}, one absolute CLOCK_MONOTONIC timerfd for the
 * runner's next alarm, and a signalfd for the signals the daemon handles
 * (they stay blocked, so they only ever arrive here). child.c and api.c put
 * their fds in it; main.c drives it with loop_once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define LOOP_BATCH 64                   /* events taken per epoll_wait */

struct fdent {
	loop_fd_fn *fn;
	void       *ud;
	uint32_t    gen;                    /* registration id, carried in the event */
	int         mask;                   /* LOOP_READ | LOOP_WRITE */
	int         used;                   /* in the table */
	int         polled;                 /* in the epoll set (mask != 0) */
};

static int             epfd = -1, tfd = -1, sfd = -1;
static struct fdent   *fds;
static int             nfds;
static uint32_t        next_gen = 1;
static int             alarm_fired;
static double          alarm_at = -1;   /* the runner's alarm, -1 = none */
static struct loop_timer *timers;       /* armed ones, unsorted (there are few) */
static loop_signal_fn *sig_fn;
static void           *sig_ud;
static sigset_t        handled;

static void on_timer(int fd, int mask, void *ud);
static void on_signalfd(int fd, int mask, void *ud);

/* ---------------------------------------------------------------- alarm */

/* Arms the timerfd for the earliest of the alarm and the timers. */
static void
arm_tfd(void)
{
	struct itimerspec its;
	double first = alarm_at;

	if (tfd < 0)
		return;
	for (struct loop_timer *t = timers; t; t = t->next)
		if (first < 0 || t->at < first)
			first = t->at;
	memset(&its, 0, sizeof(its));
	if (first >= 0)
		its.it_value = clock_timespec(first);
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Arms the alarm for monotonic time t; t < 0 (or NaN) disarms it. */
void
loop_set_alarm(double t)
{
	alarm_at = t >= 0 ? t : -1;
	arm_tfd();
}

/* Takes t out of the list of armed timers. */
static void
timer_unlink(struct loop_timer *t)
{
	for (struct loop_timer **pp = &timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->armed = 0;
	t->next = NULL;
}

/* Arms (or moves, or with at < 0 disarms) a timer. */
void
loop_timer_set(struct loop_timer *t, double at, loop_timer_fn *fn, void *ud)
{
	if (t->armed)
		timer_unlink(t);
	if (at >= 0) {
		t->at = at;
		t->fn = fn;
		t->ud = ud;
		t->armed = 1;
		t->next = timers;
		timers = t;
	}
	arm_tfd();
}

/* Runs every timer that is due (a callback may set timers again). */
static void
run_timers(double now)
{
	struct loop_timer *t;

again:
	for (t = timers; t; t = t->next)
		if (t->at <= now) {
			timer_unlink(t);
			t->fn(t->ud);
			goto again;
		}
}

/* ------------------------------------------------------------- fd table */

/* Makes room in the fd table for fd; -1 with errno on failure. */
static int
grow(int fd)
{
	struct fdent *f;
	int n;

	if (fd < nfds)
		return 0;
	n = nfds ? nfds : 64;
	while (n <= fd)
		n *= 2;
	if (!(f = realloc(fds, (size_t)n * sizeof(*f))))
		return -1;
	memset(f + nfds, 0, (size_t)(n - nfds) * sizeof(*f));
	fds = f;
	nfds = n;
	return 0;
}

/* Applies one epoll_ctl, healing a table that lost track of the kernel. */
static int
ctl(int op, int fd, struct epoll_event *ev)
{
	if (epoll_ctl(epfd, op, fd, ev) == 0)
		return 0;
	/* A caller that closed an fd without unwatching it leaves a stale
	 * entry here while the kernel already forgot it (ENOENT on MOD), and
	 * the reverse can happen with dup'd descriptions (EEXIST on ADD). */
	if (op == EPOLL_CTL_MOD && errno == ENOENT)
		return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev);
	if (op == EPOLL_CTL_ADD && errno == EEXIST)
		return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, ev);
	return -1;
}

/* Registers fd or changes its interest; mask 0 keeps it idle. */
int
loop_watch_fd(int fd, int mask, loop_fd_fn *fn, void *ud)
{
	struct epoll_event ev;
	struct fdent *e;
	int op;

	if (epfd < 0 || fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (grow(fd) < 0)
		return -1;
	e = &fds[fd];
	memset(&ev, 0, sizeof(ev));
	ev.events = (mask & LOOP_READ ? EPOLLIN : 0) | (mask & LOOP_WRITE ? EPOLLOUT : 0);
	/* A new registration gets a new id; a change of interest keeps it,
	 * so an event already fetched for this fd is still delivered. */
	if (!e->used)
		e->gen = next_gen++;
	ev.data.u64 = (uint64_t)e->gen << 32 | (uint32_t)fd;
	/* mask 0 leaves the epoll set entirely: epoll reports HUP and ERR
	 * even for an empty interest, which would spin the loop. */
	if (mask) {
		op = e->polled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		if (ctl(op, fd, &ev) < 0)
			return -1;
	} else if (e->polled) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	e->fn = fn;
	e->ud = ud;
	e->mask = mask;
	e->polled = mask != 0;
	e->used = 1;
	return 0;
}

/* Forgets fd (the caller closes it); events already fetched are dropped. */
void
loop_unwatch_fd(int fd)
{
	struct fdent *e;

	if (fd < 0 || fd >= nfds || !fds[fd].used)
		return;
	e = &fds[fd];
	if (e->polled && epfd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(e, 0, sizeof(*e));
}

/* ---------------------------------------------------- timer and signals */

/* The timerfd went off: notes a due alarm, runs the due timers. */
static void
on_timer(int fd, int mask, void *ud)
{
	uint64_t expirations;
	double now;

	(void)mask;
	(void)ud;
	/* EAGAIN here means the timer was re-armed after epoll saw it. */
	if (read(fd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
		return;
	/* (1 us of slack: the timerfd took the deadline to the nanosecond) */
	now = clock_now() + 1e-6;
	if (alarm_at >= 0 && alarm_at <= now) {
		alarm_fired = 1;
		alarm_at = -1;                  /* it fires once */
	}
	run_timers(now);
	arm_tfd();
}

/* Hands every queued signal to the signal callback. */
static void
on_signalfd(int fd, int mask, void *ud)
{
	struct signalfd_siginfo si[8];
	ssize_t n;

	(void)mask;
	(void)ud;
	while ((n = read(fd, si, sizeof(si))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++)
			if (sig_fn)
				sig_fn((int)si[i].ssi_signo, sig_ud);
	}
}

/* Opens a signalfd for the handled set and puts it in the loop. */
static int
open_signalfd(void)
{
	if ((sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	return loop_watch_fd(sfd, LOOP_READ, on_signalfd, NULL);
}

/* ------------------------------------------------------------ lifecycle */

/* Creates the epoll set, the alarm timer and the signalfd. */
int
loop_init(loop_signal_fn *on_signal, void *ud)
{
	struct sigaction sa;
	int saved;

	if (epfd >= 0)
		loop_shutdown();
	sig_fn = on_signal;
	sig_ud = ud;
	/* A child that dies while we write its stdin must give us EPIPE, not
	 * kill the daemon. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGCHLD);
	sigaddset(&handled, SIGUSR1);
	/* Blocked, they queue for the signalfd instead of interrupting us;
	 * children get an empty mask back from child.c. */
	if (sigprocmask(SIG_BLOCK, &handled, NULL) < 0)
		return -1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto err;
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		goto err;
	if (loop_watch_fd(tfd, LOOP_READ, on_timer, NULL) < 0)
		goto err;
	if (open_signalfd() < 0)
		goto err;
	return 0;
err:
	saved = errno;
	loop_shutdown();
	errno = saved;
	return -1;
}

/*
 * Opens the signalfd again after a fork: a signalfd reads the queue of the
 * process that reads it, but its epoll wake-up stays tied to the process
 * that created it, so the daemonized child needs one of its own.
 */
int
loop_reopen_signals(void)
{
	if (sfd >= 0) {
		loop_unwatch_fd(sfd);
		close(sfd);
		sfd = -1;
	}
	return open_signalfd();
}

/* Waits once (timeout_ms, -1 forever) and dispatches; 1 if the alarm fired. */
int
loop_once(int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n;

	if (epfd < 0) {
		errno = EBADF;
		return -1;
	}
	n = epoll_wait(epfd, evs, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	alarm_fired = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		uint32_t ev = evs[i].events;
		struct fdent *e;
		int mask = 0;

		/* An earlier callback of this batch may have unwatched this fd,
		 * closed it, and even registered a new fd under the same number:
		 * the registration id tells the two apart. */
		if (fd >= nfds || !fds[fd].used || fds[fd].gen != gen || !fds[fd].fn)
			continue;
		e = &fds[fd];
		if ((e->mask & LOOP_READ) && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			mask |= LOOP_READ;
		if ((e->mask & LOOP_WRITE) && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
			mask |= LOOP_WRITE;
		if (mask)
			e->fn(fd, mask, e->ud);
	}
	return alarm_fired;
}

/*
 * Closes the loop's own fds (epoll set, timer, signalfd) and forgets every
 * registration. Fds other files registered stay open: their owners close
 * them. The signals stay blocked, so a TERM that arrives during a reload
 * waits for the next loop_init's signalfd instead of killing us.
 */
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
	alarm_fired = 0;
	alarm_at = -1;
	while (timers)
		timer_unlink(timers);           /* their owners see them disarmed */
}
