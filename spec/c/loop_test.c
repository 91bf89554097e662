/* loop_test.c: alarms at fractional times, fd callbacks, signals. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

static int got_signal, reads;

static void on_sig(int s, void *ud) { if (s == SIGUSR1) got_signal++; }
static void on_read(int fd, int mask, void *ud)
{
	char buf[16];
	if (read(fd, buf, sizeof(buf)) > 0)
		reads++;
	loop_unwatch_fd(*(int *)ud);       /* dropping another fd mid-batch is safe */
}

/* Runs the loop until the alarm fires or limit seconds pass; returns the
 * time it fired (or -1). */
static double
wait_alarm(double limit)
{
	double end = loop_now() + limit;
	while (loop_now() < end)
		if (loop_once(100) == 1)
			return loop_now();
	return -1;
}

int
main(void)
{
	ok(loop_init(on_sig, NULL) == 0, "the loop starts");

	double t0 = loop_now(), at = t0 + 0.25, fired;
	loop_set_alarm(at);
	fired = wait_alarm(2);
	ok(fired >= at && fired - at < 0.2, "an alarm 0.25 s ahead fires on time (late by %.1f ms)",
	    (fired - at) * 1000);

	at = loop_now() + 0.003;
	loop_set_alarm(at);
	fired = wait_alarm(1);
	ok(fired >= at && fired - at < 0.2, "a 3 ms alarm fires (millisecond resolution)");

	loop_set_alarm(loop_now() + 0.1);
	loop_set_alarm(-1);
	ok(wait_alarm(0.3) < 0, "a cleared alarm does not fire");

	loop_set_alarm(loop_now() - 5);
	ok(wait_alarm(0.5) > 0, "an alarm in the past fires at once");

	int p1[2], p2[2];
	if (pipe(p1) < 0 || pipe(p2) < 0)
		return 1;
	loop_watch_fd(p1[0], LOOP_READ, on_read, &p2[0]);
	loop_watch_fd(p2[0], LOOP_READ, on_read, &p1[0]);
	if (write(p1[1], "x", 1) < 0 || write(p2[1], "y", 1) < 0)
		return 1;
	loop_once(100);
	ok(reads == 1, "a callback that unwatches another ready fd stops its dispatch (%d reads)", reads);

	raise(SIGUSR1);
	for (int i = 0; i < 10 && !got_signal; i++)
		loop_once(50);
	ok(got_signal == 1, "a signal arrives through the signalfd");

	loop_shutdown();
	ok(loop_init(on_sig, NULL) == 0, "the loop can start again after shutdown (reload)");
	loop_shutdown();
	return tap_done();
}
