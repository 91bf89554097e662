/* loop_test.c: the epoll loop: alarms at fractional times (on time, never
 * early, re-armed, cleared), fd callbacks and interest changes, unwatching
 * during a dispatch (even with the fd number reused at once), signals
 * through the signalfd, and a shutdown that allows a clean re-init. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "tap.h"

#define LATE_OK 0.050           /* an alarm may be this late, never early */

static int    sigs[65];
static int    calls[4], masks[4];
static int    pa[2], pb[2];
static int    reused_fd = -1, stale_calls;

/* Counts each signal the loop hands on. */
static void
on_sig(int s, void *ud)
{
	(void)ud;
	if (s > 0 && s < 65)
		sigs[s]++;
}

/* Records a call of fd callback number *(int *)ud and drains a byte. */
static void
on_fd(int fd, int mask, void *ud)
{
	int i = *(int *)ud;
	char b;

	calls[i]++;
	masks[i] = mask;
	if (mask & LOOP_READ)
		if (read(fd, &b, 1) < 0)
			b = 0;
}

/* A callback that must never be reached with the event of another fd. */
static void
on_stale(int fd, int mask, void *ud)
{
	(void)fd;
	(void)mask;
	(void)ud;
	stale_calls++;
}

/* Whichever of pa/pb is dispatched first drops the other, closes it and
 * takes its number for a new, empty pipe with another callback. */
static void
on_swap(int fd, int mask, void *ud)
{
	int *other = fd == pa[0] ? &pb[0] : &pa[0], np[2];
	int old = *other;

	on_fd(fd, mask, ud);
	if (reused_fd >= 0)
		return;
	loop_unwatch_fd(old);
	close(old);
	if (pipe(np) < 0)
		return;
	reused_fd = np[0];
	*other = -1;
	loop_watch_fd(np[0], LOOP_READ, on_stale, NULL);
	if (np[0] != old)
		reused_fd = -2;         /* the kernel picked another number */
	close(np[1]);           /* hang-up later, but only after this batch */
}

/* Runs the loop until the alarm fires or limit s pass; when, or -1. */
static double
wait_alarm(double limit)
{
	double end = clock_now() + limit;

	while (clock_now() < end)
		if (loop_once(20) == 1)
			return clock_now();
	return -1;
}

/* Checks that an alarm armed delta s ahead fires on time. */
static void
alarm_at(double delta)
{
	double at = clock_now() + delta, fired;

	loop_set_alarm(at);
	fired = wait_alarm(delta + 1);
	ok(fired >= at && fired - at < LATE_OK,
	    "an alarm %.4f s ahead fires on time (late by %.2f ms)", delta, (fired - at) * 1000);
}

/* Counts this process's open fds. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int nfired;
static double timer_at[8];
static char order[16];

static void
on_timer_cb(void *ud)
{
	if (nfired < 8) {
		timer_at[nfired] = clock_now();
		order[nfired] = *(const char *)ud;
		order[nfired + 1] = 0;
	}
	nfired++;
}

int
main(void)
{
	int id[4] = { 0, 1, 2, 3 }, p[2], q[2], fds0, r;
	double t0, at, fired;
	sigset_t cur;
	struct sigaction sa;
	pid_t kid;

	fds0 = count_fds();
	ok(loop_init(on_sig, NULL) == 0, "the loop starts");

	/* ---- alarms */
	alarm_at(0.25);
	alarm_at(0.003);
	alarm_at(0.0505);
	alarm_at(0.1234);
	ok(wait_alarm(0.1) < 0, "an alarm fires once, not again until re-armed");

	at = clock_now() + 0.05;
	loop_set_alarm(at);
	loop_set_alarm(at + 0.1);
	fired = wait_alarm(1);
	ok(fired >= at + 0.1 && fired - (at + 0.1) < LATE_OK,
	    "re-armed later, it fires at the new time only (%.1f ms after the old one)",
	    (fired - at) * 1000);

	at = clock_now() + 0.5;
	loop_set_alarm(at);
	loop_set_alarm(at - 0.45);
	fired = wait_alarm(1);
	ok(fired >= at - 0.45 && fired - (at - 0.45) < LATE_OK, "re-armed earlier, it fires early");

	loop_set_alarm(clock_now() + 0.1);
	loop_set_alarm(-1);
	ok(wait_alarm(0.3) < 0, "a cleared alarm does not fire");

	t0 = clock_now();
	loop_set_alarm(t0 - 5);
	fired = wait_alarm(0.5);
	ok(fired > 0 && fired - t0 < LATE_OK, "an alarm in the past fires at once");
	loop_set_alarm(0);
	ok(wait_alarm(0.5) > 0, "an alarm at time 0 fires (0 does not mean disarmed)");

	/* ---- timers of other files, next to the alarm */
	{
		struct loop_timer ta = { 0 }, tb = { 0 }, tc = { 0 };
		double at0 = clock_now();

		nfired = 0;
		loop_timer_set(&ta, at0 + 0.06, on_timer_cb, "a");
		loop_timer_set(&tb, at0 + 0.02, on_timer_cb, "b");
		loop_timer_set(&tc, at0 + 0.04, on_timer_cb, "c");
		loop_timer_set(&tc, -1, NULL, NULL);             /* disarmed */
		loop_set_alarm(at0 + 0.04);
		r = 0;
		while (clock_now() < at0 + 0.3 && nfired < 2)
			r |= loop_once(100) > 0;
		ok(nfired == 2 && !strcmp(order, "ba") && timer_at[0] >= at0 + 0.02 &&
		    timer_at[1] >= at0 + 0.06 && timer_at[1] - (at0 + 0.06) < LATE_OK && !tb.armed,
		    "timers fire once each, in time order, a disarmed one not (%s)", order);
		ok(r, "the runner's alarm among them still fires");
		loop_timer_set(&ta, clock_now() + 0.05, on_timer_cb, "a");
		loop_timer_set(&ta, clock_now() + 0.01, on_timer_cb, "a");   /* moved earlier */
		nfired = 0;
		t0 = clock_now();
		while (clock_now() - t0 < 0.3 && nfired < 1)
			loop_once(100);
		ok(nfired == 1 && timer_at[0] - t0 < 0.01 + LATE_OK, "a timer set again moves");
	}

	t0 = clock_now();
	r = loop_once(100);
	ok(r == 0 && clock_now() - t0 >= 0.095 && clock_now() - t0 < 0.3,
	    "with nothing to do loop_once returns 0 after its timeout (%.1f ms)",
	    (clock_now() - t0) * 1000);

	/* ---- fd callbacks */
	if (pipe(p) < 0 || pipe(q) < 0)
		return 1;
	ok(loop_watch_fd(p[0], LOOP_READ, on_fd, &id[0]) == 0, "an fd is watched");
	if (write(p[1], "x", 1) < 0)
		return 1;
	loop_once(100);
	ok(calls[0] == 1 && masks[0] == LOOP_READ, "a readable fd gets LOOP_READ with its data");
	loop_once(20);
	ok(calls[0] == 1, "level-triggered, but nothing more once it is drained");

	loop_watch_fd(q[1], LOOP_WRITE, on_fd, &id[1]);
	loop_once(100);
	ok(calls[1] == 1 && masks[1] == LOOP_WRITE, "a writable fd gets LOOP_WRITE");
	loop_watch_fd(q[1], 0, on_fd, &id[1]);
	loop_once(20);
	ok(calls[1] == 1, "mask 0 keeps it registered but quiet");
	loop_watch_fd(q[1], LOOP_WRITE, on_fd, &id[1]);
	loop_once(100);
	ok(calls[1] == 2, "and a new mask wakes it again");
	loop_unwatch_fd(q[1]);

	loop_watch_fd(q[0], 0, on_fd, &id[2]);
	close(q[1]);
	t0 = clock_now();
	loop_once(50);
	ok(calls[2] == 0 && clock_now() - t0 >= 0.045,
	    "a hung-up fd with mask 0 neither calls back nor spins the loop");
	loop_watch_fd(q[0], LOOP_READ, on_fd, &id[2]);
	loop_once(100);
	ok(calls[2] == 1 && masks[2] == LOOP_READ, "a hang-up is reported as LOOP_READ");
	loop_unwatch_fd(q[0]);
	close(q[0]);

	loop_unwatch_fd(p[0]);
	if (write(p[1], "y", 1) < 0)
		return 1;
	loop_once(20);
	ok(calls[0] == 1, "an unwatched fd gets no callback");
	close(p[0]);
	close(p[1]);
	ok(loop_watch_fd(-1, LOOP_READ, on_fd, &id[0]) < 0, "a negative fd is refused");

	/* ---- unwatching during a dispatch */
	calls[3] = 0;
	if (pipe(pa) < 0 || pipe(pb) < 0)
		return 1;
	loop_watch_fd(pa[0], LOOP_READ, on_swap, &id[3]);
	loop_watch_fd(pb[0], LOOP_READ, on_swap, &id[3]);
	if (write(pa[1], "x", 1) < 0 || write(pb[1], "y", 1) < 0)
		return 1;
	loop_once(100);
	ok(calls[3] == 1, "a callback that unwatches another ready fd stops its dispatch");
	ok(reused_fd >= 0 && stale_calls == 0,
	    "an fd number reused within the batch does not get the old fd's event (fd %d)",
	    reused_fd);
	loop_once(50);
	ok(stale_calls == 1, "the new registration does get its own events afterwards");
	if (reused_fd >= 0) {
		loop_unwatch_fd(reused_fd);
		close(reused_fd);
	}
	for (int i = 0; i < 2; i++) {
		if (pa[i] >= 0) {
			loop_unwatch_fd(pa[i]);
			close(pa[i]);
		}
		if (pb[i] >= 0) {
			loop_unwatch_fd(pb[i]);
			close(pb[i]);
		}
	}

	/* ---- signals */
	sigprocmask(SIG_BLOCK, NULL, &cur);
	ok(sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT) && sigismember(&cur, SIGHUP) &&
	    sigismember(&cur, SIGCHLD) && sigismember(&cur, SIGUSR1),
	    "TERM, INT, HUP, CHLD and USR1 are blocked");
	sigaction(SIGPIPE, NULL, &sa);
	ok(sa.sa_handler == SIG_IGN, "SIGPIPE is ignored");

	raise(SIGUSR1);
	raise(SIGHUP);
	for (int i = 0; i < 10 && !(sigs[SIGUSR1] && sigs[SIGHUP]); i++)
		loop_once(50);
	ok(sigs[SIGUSR1] == 1 && sigs[SIGHUP] == 1, "USR1 and HUP arrive through the signalfd");

	if ((kid = fork()) == 0)
		_exit(0);
	for (int i = 0; i < 40 && !sigs[SIGCHLD]; i++)
		loop_once(50);
	ok(sigs[SIGCHLD] == 1, "SIGCHLD is handed on too");
	waitpid(kid, NULL, 0);

	/* ---- shutdown and re-init */
	loop_shutdown();
	ok(loop_once(0) < 0, "loop_once after shutdown fails instead of waiting");
	loop_set_alarm(clock_now());             /* harmless without a loop */
	loop_unwatch_fd(0);
	raise(SIGTERM);                         /* arrives between two loops */
	ok(loop_init(on_sig, NULL) == 0, "the loop starts again after shutdown (reload)");
	for (int i = 0; i < 10 && !sigs[SIGTERM]; i++)
		loop_once(50);
	ok(sigs[SIGTERM] == 1, "a TERM sent during the reload waits for the new loop");
	ok(loop_reopen_signals() == 0, "the signalfd can be reopened (after daemonizing)");
	raise(SIGUSR1);
	for (int i = 0; i < 10 && sigs[SIGUSR1] < 2; i++)
		loop_once(50);
	ok(sigs[SIGUSR1] == 2, "signals still arrive through the reopened signalfd");
	alarm_at(0.02);
	ok(loop_init(on_sig, NULL) == 0, "loop_init over a running loop replaces it");
	loop_shutdown();
	ok(count_fds() == fds0, "after shutdown no fd of the loop stays open (%d, was %d)",
	    count_fds(), fds0);
	return tap_done();
}
